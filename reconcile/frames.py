"""Frames as the night's steps take them: lazy or eager, queried with polars' streaming engine.

A nightly step that reads whole sides (`reconcile.findings`) gets `pl.scan_parquet` frames from the stage, so each
query reads only the columns it uses and the streaming engine holds batches of rows rather than every
intermediate frame of a chain of joins (the classify step at scale 10 peaked at 4,170 MiB with its inputs read
whole, at 2,923 MiB from scans).
Tests and callers that hold frames pass them eagerly: the queries are the same.
"""

from __future__ import annotations

from typing import TypeAlias

import polars as pl

Frame: TypeAlias = pl.DataFrame | pl.LazyFrame
"""A frame a step reads: a `pl.DataFrame`, or a `pl.LazyFrame` such as a Parquet scan."""


def collect(query: pl.LazyFrame) -> pl.DataFrame:
    """Run `query` with the streaming engine (operations it does not stream fall back to the in-memory one).

    >>> collect(pl.LazyFrame({"a": [1, 2]}).select(pl.col("a") * 2))["a"].to_list()
    [2, 4]
    """
    return query.collect(engine="streaming")
