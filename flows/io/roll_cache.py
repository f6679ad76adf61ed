"""Roll files read on an earlier night, kept by content: most offices hand in the same workbook again.

Reading the workbooks is most of ingest's work (every cell through fastexcel, then checked row by row), and a
night's rolls are mostly last night's files unchanged. A file is known by its name (its rows' lineage), its
SHA-256 and the reader's version (`READER_VERSION`: the reading code, the libraries it reads with and Python's
own codecs); a file known so is taken as it was read then, with its report. Anything else is read again. One
Parquet file per roll file, the `RawTable`'s report in the file's metadata. `RollCache.keep_only` drops the files
no longer handed in.

The cache only ever spares work: a file it cannot read or write is read from the roll itself, and the night goes
on. It holds raw personal data, like the run directories: same data directory, same care.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import uuid
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq

import schemas.inputs
from flows.code_version import code_version
from flows.io import sources
from flows.io.sources import RawTable, SheetReport

if TYPE_CHECKING:
    from pathlib import Path

_METADATA = b"hukou_raw_table"
_READERS = ("polars", "pyarrow", "fastexcel", "defusedxml")
"""The libraries `flows.io.sources` reads with."""


READER_VERSION = code_version(modules=(sources, schemas.inputs), libraries=_READERS)
"""Changes whenever the reading code, a reading library or Python does: a cache of another version is never read."""

_REPORT_FIELDS = tuple(f.name for f in dataclasses.fields(RawTable) if f.name != "frame")


class RollCache:
    """Roll files as read before, in `folder`, by file name, content and `READER_VERSION`.

    >>> import tempfile
    >>> from pathlib import Path
    >>> cache = RollCache(Path(tempfile.mkdtemp()))
    >>> cache.put("a.csv", "ab12", RawTable("a.csv", pl.DataFrame({"姓名": ["甲"]}), encoding="utf-8-sig"))
    >>> cache.get("a.csv", "ab12").frame["姓名"].to_list(), cache.get("a.csv", "ffff")
    (['甲'], None)
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def within(cls, cache: Path) -> RollCache:
        """The roll files kept in a data directory's cache folder (`services.paths.DataPaths.cache`)."""
        return cls(cache / "rolls")

    def _path(self, name: str, sha256: str) -> Path:
        key = hashlib.sha256(f"{READER_VERSION}\0{name}\0{sha256}".encode()).hexdigest()[:32]
        return self.folder / f"{key}.parquet"

    def get(self, name: str, sha256: str) -> RawTable | None:
        """The file `name` of content `sha256` as read on an earlier night, or None (never read, or unreadable)."""
        path = self._path(name, sha256)
        try:
            report = json.loads((pq.read_schema(path).metadata or {})[_METADATA])
            return RawTable(
                frame=pl.read_parquet(path),  # polars' reader: arrow's would keep its own memory pool besides
                **{k: v for k, v in report.items() if k != "sheets"},
                sheets=[SheetReport(**sheet) for sheet in report["sheets"]],
            )
        except (OSError, KeyError, TypeError, ValueError, pl.exceptions.PolarsError):
            return None

    def put(self, name: str, sha256: str, table: RawTable) -> None:
        """Keep `table`, read from the file `name` of content `sha256`, written whole or not at all.

        A table with malformed lines is not kept (those lines would sit in the file's metadata, which has a size
        limit): such a file is read again every night. Nor is one that cannot be written (a full disk): ingest
        goes on.
        """
        if table.malformed:
            return
        report = {k: getattr(table, k) for k in _REPORT_FIELDS}
        report["sheets"] = [dataclasses.asdict(sheet) for sheet in table.sheets]
        arrow = table.frame.to_arrow().replace_schema_metadata({_METADATA: json.dumps(report, ensure_ascii=False)})
        target = self._path(name, sha256)
        partial = target.with_name(f"{target.stem}.{uuid.uuid4().hex[:8]}.partial")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(arrow, partial, compression="lz4")
            os.replace(partial, target)
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)

    def keep_only(self, files: list[tuple[str, str]]) -> None:
        """Drop every kept file but those of `files` ((name, sha256) handed in tonight), and partials left.

        What cannot be dropped (not a file, no permission) stays; the next night tries again.
        """
        kept = {self._path(name, sha256) for name, sha256 in files}
        try:
            listed = list(self.folder.iterdir())
        except OSError:
            return
        for path in listed:
            if path not in kept:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
