"""Read the published database: READ_ONLY, one connection per use."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import duckdb

from services.paths import DataPaths

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@contextmanager
def published(data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the published database, closed afterwards."""
    path = DataPaths(data_dir).published
    if not path.exists():
        raise FileNotFoundError(f"nothing published in {data_dir}")
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()
