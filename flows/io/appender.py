"""Tables appended in order to one Parquet file by a thread of its own.

pyarrow encodes and compresses without holding the GIL, so the caller makes its next table meanwhile: a
stage that writes a side batch by batch pays for the writing only where it outruns the work.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Self

import pyarrow.parquet as pq

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

    import pyarrow as pa


class Appender:
    """Appends tables to `path` in order, one in flight at a time; the file has the first table's schema.

    Use as a context manager: leaving it normally closes the file; leaving it by an exception, or a write that
    failed, removes it.

    >>> import pyarrow as pa, pyarrow.parquet as pq, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> with Appender(path, row_group_size=2) as out:
    ...     out.append(pa.table({"a": [1, 2, 3]}))
    ...     out.append(pa.table({"a": [4]}))
    >>> pq.read_table(path)["a"].to_pylist(), pq.ParquetFile(path).num_row_groups
    ([1, 2, 3, 4], 3)
    """

    def __init__(
        self,
        path: Path,
        *,
        compression: str = "zstd",
        compression_level: int | None = 1,
        row_group_size: int | None = None,
    ) -> None:
        self.path = path
        self._options = {"compression": compression, "compression_level": compression_level}
        self._row_group_size = row_group_size
        self._writer: pq.ParquetWriter | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="parquet-append")
        self._pending: Future[None] | None = None

    def append(self, table: pa.Table) -> None:
        """Queue `table` after those appended before; waits only for the one still being written."""
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, **self._options)
        self._wait()
        self._pending = self._pool.submit(self._writer.write_table, table, self._row_group_size)

    def close(self) -> None:
        """Write what is queued and close the file (an empty file if nothing was appended is not made)."""
        try:
            self._wait()
        finally:
            self._pool.shutdown()
            if self._writer is not None:
                self._writer.close()

    def abort(self) -> None:
        """Stop and remove the file."""
        with contextlib.suppress(Exception):  # the file goes, whatever failed in writing it
            self.close()
        self.path.unlink(missing_ok=True)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            self.abort()
            return
        try:
            self.close()
        except BaseException:
            self.abort()
            raise
