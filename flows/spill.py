"""A stage's intermediate results on disk: the `reconcile.frames.Keep` the nightly stages pass to the domain."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

import polars as pl

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from reconcile.frames import Keep


WORK_COMPRESSION: Final = "lz4"
"""For a stage's work files, read back once within the stage: quicker to write than the outputs' zstd, a little
larger."""


@contextmanager
def parquet_keep(scratch: Path, outputs: Mapping[str, Path] | None = None) -> Iterator[Keep]:
    """A `Keep` that streams each result to a Parquet file and returns a scan of it.

    A result named in `outputs` goes to that path and stays (a stage's output); any other to `scratch`, which is
    removed when the block ends, so read every scan of a scratch result inside the block.
    """
    named = dict(outputs or {})
    scratch.mkdir(parents=True, exist_ok=True)

    def keep(name: str, query: pl.LazyFrame, /) -> pl.LazyFrame:
        path = named.get(name, scratch / f"{name}.parquet")
        query.sink_parquet(path, engine="streaming")
        return pl.scan_parquet(path)

    try:
        yield keep
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
