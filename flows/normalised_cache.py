"""Last night's normalised rows, kept in the data directory (`reconcile.row_cache`), read a batch at a time.

One file per side, named by the normalisation context's digest: a new context (other
administrative prefixes, community names, year, normaliser or polars version) finds no
file and normalises every row. Files are replaced atomically; stale ones are removed.
The cache holds normalised personal data, like the run directories: same directory, same care.

A night reads the cache in batches (`flows.normalise`): the row digests are held whole (two integers
a row), and a batch reads only the row groups holding the rows it knows.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from reconcile.row_cache import DIGEST

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from schemas.codes import Side

GROUP_ROWS = 65_536
"""Rows per row group of a cache file: what a batch reads to take one cached row."""
_AT = "_cache_at"


def _path(cache: Path, side: Side, context: str) -> Path:
    return cache / f"normalised-{side.value}-{context}.parquet"


class CachedRows:
    """One side's cached rows: those a batch of raw rows knows, read from the row groups that hold them."""

    def __init__(self, path: Path) -> None:
        self._file = pq.ParquetFile(path)
        self._sizes = np.array(
            [self._file.metadata.row_group(i).num_rows for i in range(self._file.num_row_groups)], dtype=np.int64
        )
        self._starts = np.cumsum(self._sizes) - self._sizes
        self._digests = (
            pl.read_parquet(path, columns=list(DIGEST)).with_row_index(_AT).unique(list(DIGEST), keep="first")
        )

    def rows_for(self, digests: pl.DataFrame) -> pl.DataFrame:
        """The cached rows (digest and derived columns) whose digest is among `digests` (a batch's `DIGEST`)."""
        at = digests.join(self._digests, on=list(DIGEST), how="inner")[_AT].unique().sort().to_numpy()
        group_of = np.searchsorted(self._starts, at, side="right") - 1
        groups = np.unique(group_of)
        if groups.size == 0:
            return pl.DataFrame(schema=pl.Schema(self._file.schema_arrow))
        read = pl.DataFrame(pl.from_arrow(self._file.read_row_groups(groups.tolist())))
        sizes = self._sizes[groups]
        read_start = np.zeros(self._starts.size, dtype=np.int64)  # where each group read begins in `read`
        read_start[groups] = np.cumsum(sizes) - sizes
        return read[pl.Series(read_start[group_of] + at - self._starts[group_of])]


def open_rows(cache: Path, side: Side, context: str) -> CachedRows | None:
    """The cached rows of `side` under `context`, or None (none kept, or unreadable: then normalise all)."""
    path = _path(cache, side, context)
    if not path.exists():
        return None
    try:
        return CachedRows(path)
    except (OSError, ValueError, pl.exceptions.PolarsError):
        return None


def save(cache: Path, side: Side, context: str, parts: Sequence[Path]) -> None:
    """Keep the rows of `parts` (Parquet files, in order) for the next night and drop files of other contexts.

    The file is replaced atomically; `parts` are left where they are.
    """
    cache.mkdir(parents=True, exist_ok=True)
    path = _path(cache, side, context)
    partial = path.with_suffix(".partial")
    pl.concat([pl.scan_parquet(p) for p in parts], how="vertical_relaxed").sink_parquet(
        partial, row_group_size=GROUP_ROWS
    )
    os.replace(partial, path)
    for stale in cache.glob(f"normalised-{side.value}-*.parquet"):
        if stale != path:
            stale.unlink(missing_ok=True)
