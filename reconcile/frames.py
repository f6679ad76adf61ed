"""Frames as the night's steps take them: lazy or eager, queried with polars' streaming engine.

A nightly step that reads whole sides (`reconcile.findings`) gets `pl.scan_parquet` frames from the stage, so each
query reads only the columns it uses and the streaming engine holds batches of rows rather than every
intermediate frame of a chain of joins (the classify step at scale 10 peaked at 4,170 MiB with its inputs read
whole, at 2,923 MiB from scans).
Tests and callers that hold frames pass them eagerly: the queries are the same.
"""

from __future__ import annotations

from typing import Protocol, TypeAlias

import polars as pl

Frame: TypeAlias = pl.DataFrame | pl.LazyFrame
"""A frame a step reads: a `pl.DataFrame`, or a `pl.LazyFrame` such as a Parquet scan."""


class Keep(Protocol):
    """Where a step keeps a result that later queries read more than once: `name` names it, the query computes it.

    It returns a frame to read the result from. `in_memory` collects it; the nightly stage writes it to a Parquet
    file and returns a scan of that file (`flows.spill`), so a whole city's statuses are never held at once.
    """

    def __call__(self, name: str, query: pl.LazyFrame, /) -> pl.LazyFrame:
        """Run `query` once and return a frame of its result."""
        ...


def in_memory(name: str, query: pl.LazyFrame, /) -> pl.LazyFrame:
    """Keep `query`'s result in memory (tests, small cities).

    >>> in_memory("doubled", pl.LazyFrame({"a": [1, 2]}).select(pl.col("a") * 2)).collect()["a"].to_list()
    [2, 4]
    """
    del name
    return collect(query).lazy()


def collect(query: pl.LazyFrame) -> pl.DataFrame:
    """Run `query` with the streaming engine (operations it does not stream fall back to the in-memory one).

    >>> collect(pl.LazyFrame({"a": [1, 2]}).select(pl.col("a") * 2))["a"].to_list()
    [2, 4]
    """
    return query.collect(engine="streaming")
