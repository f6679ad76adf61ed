"""Last night's normalised rows, kept in the data directory (`reconcile.row_cache`).

One file per side, named by the normalisation context's digest: a new context (other
administrative prefixes, community names, year, normaliser or polars version) finds no
file and normalises every row. Files are replaced atomically; stale ones are removed.
The cache holds normalised personal data, like the run directories: same directory, same care.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from pathlib import Path

    from schemas.codes import Side


def _path(cache: Path, side: Side, context: str) -> Path:
    return cache / f"normalised-{side.value}-{context}.parquet"


def load(cache: Path, side: Side, context: str) -> pl.DataFrame | None:
    """The cached rows of `side` under `context`, or None (none kept, or unreadable: then normalise all)."""
    path = _path(cache, side, context)
    if not path.exists():
        return None
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError):
        return None


def save(cache: Path, side: Side, context: str, rows: pl.DataFrame) -> None:
    """Keep `rows` for the next night (replacing the file atomically) and drop files of other contexts."""
    cache.mkdir(parents=True, exist_ok=True)
    path = _path(cache, side, context)
    partial = path.with_suffix(".partial")
    rows.write_parquet(partial)
    os.replace(partial, path)
    for stale in cache.glob(f"normalised-{side.value}-*.parquet"):
        if stale != path:
            stale.unlink(missing_ok=True)
