"""Read input files (CSV in GB18030 / UTF-8 / UTF-8-BOM, or xlsx) into
all-string frames with internal column names and contract lineage
(`source_file`, `source_row`: the row a spreadsheet program shows)."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import fastexcel
import polars as pl
import pyarrow.parquet as pq

from schemas.codes import FileProblem
from schemas.inputs import InputContract

ENCODINGS = ("utf-8-sig", "gb18030")
_CHUNK = 1 << 20


class FileError(Exception):
    """A file that cannot be read at all; names the file and the problem."""

    def __init__(self, path: Path, problem: FileProblem, detail: str) -> None:
        super().__init__(f"{path.name}: {detail}")
        self.file = path.name
        self.problem = problem
        self.detail = detail


@dataclass(slots=True)
class RawTable:
    """One file's rows as strings, plus the rows that could not be split into fields."""

    file: str
    frame: pl.DataFrame
    encoding: str | None = None
    malformed: list[tuple[int, str]] = field(default_factory=list)
    """(source_row, the raw line) of CSV rows with the wrong number of fields."""
    blank_rows: int = 0


@dataclass(frozen=True, slots=True)
class ParquetCopy:
    """What `table_to_parquet` read; the rows themselves are in the Parquet file."""

    file: str
    rows: int
    encoding: str | None
    malformed: list[tuple[int, str]]
    blank_rows: int


def detect_encoding(path: Path) -> str:
    """'utf-8-sig' or 'gb18030', whichever decodes the whole file strictly.

    UTF-8 is tried first: its byte patterns rarely occur by chance in GB18030 text,
    while almost any byte string is some GB18030 text.
    """
    failures = []
    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        offset = 0
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    decoder.decode(chunk)
                    offset += len(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as exc:
            failures.append(f"{encoding} fails at byte {offset + exc.start}")
    raise FileError(path, FileProblem.ENCODING, "not UTF-8 or GB18030 text (" + "; ".join(failures) + ")")


def _resolve_header(path: Path, header: list[str], contract: InputContract) -> dict[str, str]:
    mapping = contract.header_map(header)
    missing = contract.missing(set(mapping.values()))
    if missing:
        raise FileError(path, FileProblem.MISSING_COLUMNS, "missing required column(s): " + ", ".join(missing))
    return mapping


def _finish(frame: pl.DataFrame, contract: InputContract, path: Path, first_row: int) -> tuple[pl.DataFrame, int]:
    """Add lineage and absent optional columns; drop rows with no value at all."""
    frame = frame.with_columns(
        pl.lit(path.name).alias("source_file"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).alias("source_row"),
    )
    value_cols = [c for c in frame.columns if c not in ("source_file", "source_row")]
    stripped = [pl.col(c).str.strip_chars() for c in value_cols]
    frame = frame.with_columns([s.alias(c) for s, c in zip(stripped, value_cols, strict=True)])
    frame = frame.with_columns([pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in value_cols])
    blank = pl.all_horizontal([pl.col(c).is_null() for c in value_cols]) if value_cols else pl.lit(True)
    blank_count = int(frame.select(blank.sum()).item() or 0)
    frame = frame.filter(~blank)
    absent = [c for c in contract.internal_names if c not in frame.columns]
    frame = frame.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in absent])
    return frame, blank_count


def iter_csv(path: Path, contract: InputContract, *, batch_rows: int = 200_000) -> Iterator[RawTable]:
    """Read a CSV file of any supported encoding, `batch_rows` records at a time.

    Memory stays bounded by the batch, whatever the file's size: the police
    extract of a prefecture has millions of rows. Each batch carries its own
    malformed lines and blank-row count; lineage is the file's row number.
    """
    encoding = detect_encoding(path)
    with path.open("r", encoding=encoding, newline="") as text_stream:
        reader = csv.reader(text_stream)
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise FileError(path, FileProblem.EMPTY, "the file is empty (no header row)")
        header = [h.strip() for h in header]
        mapping = _resolve_header(path, header, contract)
        batch = _CsvBatch(len(header))
        kept = 0
        for row_no, row in enumerate(reader, start=2):
            batch.add(row_no, row)
            if len(batch.rows) >= batch_rows:
                table = batch.table(path, header, mapping, contract, encoding)
                kept += table.frame.height + len(table.malformed)
                yield table
                batch = _CsvBatch(len(header))
        table = batch.table(path, header, mapping, contract, encoding)
        if kept + table.frame.height + len(table.malformed) == 0:
            raise FileError(path, FileProblem.EMPTY, "the file has a header but no data rows")
        yield table


class _CsvBatch:
    """Columns of the records read so far, their row numbers, and what was set aside."""

    def __init__(self, width: int) -> None:
        self.columns: list[list[str]] = [[] for _ in range(width)]
        self.rows: list[int] = []
        self.malformed: list[tuple[int, str]] = []
        self.blank = 0

    def add(self, row_no: int, row: list[str]) -> None:
        width = len(self.columns)
        if len(row) != width:
            if not any(v.strip() for v in row):
                self.blank += 1
                return
            if len(row) > width or not row:
                buf = io.StringIO()
                csv.writer(buf).writerow(row)
                self.malformed.append((row_no, buf.getvalue().rstrip("\r\n")))
                return
            row = row + [""] * (width - len(row))
        self.rows.append(row_no)
        for i, value in enumerate(row):
            self.columns[i].append(value)

    def table(
        self, path: Path, header: list[str], mapping: dict[str, str], contract: InputContract, encoding: str
    ) -> RawTable:
        frame = pl.DataFrame(
            {mapping[h]: pl.Series(values, dtype=pl.String) for h, values in zip(header, self.columns, strict=True)}
        )
        frame, blank = _finish(frame, contract, path, 0)
        # `_finish` numbers rows by position (from 0) before dropping blank ones: map positions to file rows.
        frame = frame.with_columns(pl.Series("source_row", self.rows, dtype=pl.Int64).gather(frame["source_row"]))
        return RawTable(path.name, frame, encoding=encoding, malformed=self.malformed, blank_rows=self.blank + blank)


def _first_sheet_first_row(path: Path) -> int:
    """Spreadsheet row number of the first non-empty row of the first sheet.

    The xlsx reader drops leading empty rows; lineage must not shift with them.
    """
    ns = {
        "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        "p": "http://schemas.openxmlformats.org/package/2006/relationships",
    }
    try:
        with zipfile.ZipFile(path) as zf:
            book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
            sheet = book.find("m:sheets/m:sheet", ns)
            rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
            if sheet is None:
                return 1
            rid = sheet.get(f"{{{ns['r']}}}id")
            target = next((r.get("Target", "") for r in rels.findall("p:Relationship", ns) if r.get("Id") == rid), "")
            target = target.lstrip("/")
            name = target if target.startswith("xl/") else f"xl/{target}"
            with zf.open(name) as fh:
                head = fh.read(1 << 16).decode("utf-8", errors="ignore")
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, OSError):
        return 1
    match = re.search(r"<(?:\w+:)?row[^>]*\sr=\"(\d+)\"", head)
    return int(match.group(1)) if match else 1


def read_xlsx(path: Path, contract: InputContract) -> RawTable:
    """Read the first sheet of an xlsx file; the header is the first row naming
    a required column (title rows above it are skipped)."""
    try:
        sheet = fastexcel.read_excel(str(path)).load_sheet(0, header_row=None, dtypes="string")
        grid = sheet.to_polars()
    except Exception as exc:  # fastexcel raises its own hierarchy, also for zip errors
        raise FileError(path, FileProblem.CORRUPT, f"not a readable xlsx workbook ({type(exc).__name__})") from exc
    if grid.height == 0:
        raise FileError(path, FileProblem.EMPTY, "the first sheet is empty")
    header_idx = None
    for idx in range(min(grid.height, 20)):
        values = [str(v).strip() for v in grid.row(idx) if v is not None]
        mapping = contract.header_map(values)
        if not contract.missing(set(mapping.values())):
            header_idx = idx
            break
    if header_idx is None:
        first = [str(v).strip() for v in grid.row(0) if v is not None]
        _resolve_header(path, first, contract)
        raise FileError(path, FileProblem.MISSING_COLUMNS, "no header row found")  # pragma: no cover
    header = [str(v).strip() if v is not None else "" for v in grid.row(header_idx)]
    keep = [i for i, h in enumerate(header) if h]
    mapping = contract.header_map([header[i] for i in keep])
    body = grid.slice(header_idx + 1).select([grid.columns[i] for i in keep])
    body.columns = [mapping[header[i]] for i in keep]
    first_row = _first_sheet_first_row(path) + header_idx + 1
    frame, blank = _finish(body, contract, path, first_row)
    if frame.height == 0:
        raise FileError(path, FileProblem.EMPTY, "the sheet has a header but no data rows")
    return RawTable(path.name, frame, blank_rows=blank)


def iter_table(path: Path, contract: InputContract, *, batch_rows: int = 200_000) -> Iterator[RawTable]:
    """Read one input file by its extension: a CSV in batches, an xlsx sheet whole."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise FileError(path, FileProblem.CORRUPT, "file not found")
    if path.stat().st_size == 0:
        raise FileError(path, FileProblem.EMPTY, "the file is empty (0 bytes)")
    if suffix == ".csv":
        yield from iter_csv(path, contract, batch_rows=batch_rows)
    elif suffix in (".xlsx", ".xlsm"):
        yield read_xlsx(path, contract)
    else:
        raise FileError(path, FileProblem.UNSUPPORTED, f"unsupported file type {suffix!r} (expected .csv or .xlsx)")


def read_table(path: Path, contract: InputContract) -> RawTable:
    """Read one whole input file by its extension."""
    batches = list(iter_table(path, contract))
    return RawTable(
        path.name,
        pl.concat([b.frame for b in batches]),
        encoding=batches[0].encoding,
        malformed=[m for b in batches for m in b.malformed],
        blank_rows=sum(b.blank_rows for b in batches),
    )


def table_to_parquet(path: Path, contract: InputContract, out: Path, *, batch_rows: int = 200_000) -> ParquetCopy:
    """Read one input file into the Parquet file `out`, a batch at a time, so
    that a file the size of a prefecture's register never sits whole in memory."""
    writer: pq.ParquetWriter | None = None
    rows, blank, encoding = 0, 0, None
    malformed: list[tuple[int, str]] = []
    try:
        for batch in iter_table(path, contract, batch_rows=batch_rows):
            arrow = batch.frame.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(out, arrow.schema)
            writer.write_table(arrow)
            rows += batch.frame.height
            blank += batch.blank_rows
            malformed.extend(batch.malformed)
            encoding = batch.encoding
    finally:
        if writer is not None:
            writer.close()
    return ParquetCopy(path.name, rows, encoding, malformed, blank)
