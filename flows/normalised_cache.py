"""Last night's normalised rows, kept in the data directory (`reconcile.row_cache`), read a batch at a time.

One file per side, named by the normalisation context's digest and the normaliser's code
(`NORMALISER_CODE`): a new context (other administrative prefixes, community names, year) or
other code (any change to `reconcile` or `schemas`, or to a library they compute with) finds
no file and normalises every row. Files are replaced atomically; stale ones are removed.
The cache holds normalised personal data, like the run directories: same directory, same care.

A night reads the cache in batches (`flows.normalise`): the row digests are held whole (two integers
a row), and a batch reads only the row groups holding the rows it knows. It writes tonight's cache as it
goes (`Keeper`), a batch at a time, beside the file it reads.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Self

import numpy as np
import polars as pl
import pyarrow.parquet as pq

import reconcile
import schemas
from flows.code_version import code_version
from flows.io.appender import Appender
from reconcile.row_cache import DIGEST

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

    from schemas.codes import Side

GROUP_ROWS = 65_536
"""Rows per row group of a cache file: what a batch reads to take one cached row."""
_AT = "_cache_at"
NORMALISER_CODE = code_version(
    packages=(reconcile, schemas), libraries=("polars", "rapidfuzz", "pypinyin", "opencc", "numpy", "dataframely")
)
"""The code normalised rows were made by: the whole engine, so that no change to it is ever forgotten."""


def _path(cache: Path, side: Side, context: str) -> Path:
    return cache / f"normalised-{side.value}-{context}-{NORMALISER_CODE}.parquet"


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


_OPENED: dict[Side, tuple[tuple[int, int, int], CachedRows | None]] = {}


def open_rows_once(cache: Path, side: Side, context: str) -> CachedRows | None:
    """`open_rows`, kept by this process while the file stays the same.

    A cluster's worker running many of a night's batches reads the side's digests (two integers a row of the
    whole side) once, not once a batch.
    """
    path = _path(cache, side, context)
    try:
        seen = path.stat()
    except OSError:
        return None
    version = (seen.st_ino, seen.st_mtime_ns, seen.st_size)
    kept = _OPENED.get(side)
    if kept is None or kept[0] != version:
        _OPENED[side] = kept = (version, open_rows(cache, side, context))
    return kept[1]


class Keeper:
    """Tonight's rows of one side, appended a batch at a time to the next night's cache file.

    The file is written beside the cache and swapped in by `commit` (atomically), dropping the files of other
    contexts. A batch whose columns differ from the first one's (other than a column left all empty) abandons the
    file: the next night then normalises every row, slower but never wrong. As a context manager it commits on a
    normal exit and discards on an exception.
    """

    def __init__(self, cache: Path, side: Side, context: str) -> None:
        cache.mkdir(parents=True, exist_ok=True)
        self._cache, self._side = cache, side
        self._path = _path(cache, side, context)
        # lz4: read a row group at a time every night, written once; quicker both ways than zstd, a little larger.
        self._out = Appender(
            self._path.with_suffix(".partial"), compression="lz4", compression_level=None, row_group_size=GROUP_ROWS
        )
        self._schema: pl.Schema | None = None
        self._abandoned = False

    def append(self, rows: pl.DataFrame) -> None:
        """Keep `rows` (`reconcile.row_cache.Reused.cache` of a batch), after the rows kept before."""
        if self._abandoned:
            return
        if self._schema is None:
            self._schema = rows.schema
        elif rows.schema != self._schema:
            # Only a column left all empty (typed Null) may differ, and it takes the first batch's type.
            if rows.columns != self._schema.names() or any(
                kind != self._schema[name] and kind != pl.Null for name, kind in rows.schema.items()
            ):
                self.discard()
                return
            rows = rows.cast(self._schema)
        self._out.append(rows.to_arrow())

    def commit(self) -> None:
        """Make the rows kept the side's cache (nothing, if abandoned), dropping files of other contexts."""
        if self._schema is None or self._abandoned:
            self.discard()
            return
        try:
            self._out.close()
        except BaseException:
            self.discard()
            raise
        os.replace(self._out.path, self._path)
        for stale in self._cache.glob(f"normalised-{self._side.value}-*"):  # other contexts', and partials left
            if stale != self._path:
                stale.unlink(missing_ok=True)

    def discard(self) -> None:
        """Give up tonight's file; last night's cache stays as it was."""
        self._abandoned = True
        self._out.abort()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()
