"""Benchmarks: accuracy and speed on generated cities, beside Splink."""
