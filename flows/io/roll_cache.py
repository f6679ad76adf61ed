"""Roll files read on an earlier night, kept by content: most offices hand in the same workbook again.

Reading a workbook is most of ingest (openpyxl parses every cell in Python), and a night's rolls are mostly
last night's files unchanged. A file is known by its name (its rows' lineage), its SHA-256 and the reader's
version (`READER_VERSION`: the reading code and the libraries it uses); a file known so is taken as it was read
then, with its report. Anything else is read again. One Parquet file per roll file, the `RawTable`'s report in
the file's metadata. `RollCache.keep_only` drops the files no longer handed in.

The cache holds raw personal data, like the run directories: same data directory, same care.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

import schemas.inputs
from flows.io import sources
from flows.io.sources import RawTable, SheetReport

_METADATA = b"hukou_raw_table"
_READERS = ("polars", "pyarrow", "openpyxl", "fastexcel")


def _reader_version() -> str:
    """The reading code and the versions of the libraries it reads with: what else decides a file's rows."""
    digest = hashlib.sha256()
    for module in (sources, schemas.inputs):
        digest.update(Path(module.__file__ or "").read_bytes())
    for name in _READERS:
        try:
            digest.update(f"{name}={metadata.version(name)};".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=none;".encode())
    return digest.hexdigest()[:16]


READER_VERSION = _reader_version()
"""Changes whenever the reading code or a reading library does: a cache of another version is never read."""


class RollCache:
    """Roll files as read before, in `folder`, by file name, content and `READER_VERSION`.

    >>> import tempfile
    >>> cache = RollCache(Path(tempfile.mkdtemp()))
    >>> cache.put("a.csv", "ab12", RawTable("a.csv", pl.DataFrame({"姓名": ["甲"]}), encoding="utf-8-sig"))
    >>> cache.get("a.csv", "ab12").frame["姓名"].to_list(), cache.get("a.csv", "ffff")
    (['甲'], None)
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: list[str] = []
        """The names of the files taken from the cache so far (appended from reading threads: list.append is atomic)."""

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
            table = pq.read_table(path)
            report = json.loads((table.schema.metadata or {})[_METADATA])
            frame = pl.DataFrame(pl.from_arrow(table.replace_schema_metadata(None)))
        except (OSError, KeyError, ValueError, pl.exceptions.PolarsError):
            return None
        table = RawTable(
            report["file"],
            frame,
            encoding=report["encoding"],
            malformed=[(int(row), str(line)) for row, line in report["malformed"]],
            blank_rows=report["blank_rows"],
            sheets=[SheetReport(**sheet) for sheet in report["sheets"]],
            rows_in=report["rows_in"],
            duplicate_headers=list(report["duplicate_headers"]),
        )
        self.taken.append(name)
        return table

    def put(self, name: str, sha256: str, table: RawTable) -> None:
        """Keep `table`, read from the file `name` of content `sha256`; written whole or not at all."""
        self.folder.mkdir(parents=True, exist_ok=True)
        report = {k: v for k, v in asdict(table).items() if k != "frame"}
        arrow = table.frame.to_arrow()
        arrow = arrow.replace_schema_metadata({_METADATA: json.dumps(report, ensure_ascii=False)})
        target = self._path(name, sha256)
        partial = target.with_name(f"{target.stem}.{uuid.uuid4().hex[:8]}.partial")
        try:
            pq.write_table(arrow, partial, compression="lz4")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    def keep_only(self, files: list[tuple[str, str]]) -> None:
        """Drop every kept file but those of `files` ((name, sha256) handed in tonight), and partials left."""
        if not self.folder.exists():
            return
        kept = {self._path(name, sha256) for name, sha256 in files}
        for path in self.folder.iterdir():
            if path not in kept:
                path.unlink(missing_ok=True)
