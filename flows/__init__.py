"""The nightly run: reading the delivery, the reconciliation stages and publishing, under Prefect or locally."""
