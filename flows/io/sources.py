"""Read input files (CSV in GB18030 / UTF-8 / UTF-8-BOM, or xlsx) into
all-string frames with internal column names and contract lineage
(`source_file`, `source_row`: the row a spreadsheet program shows)."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import fastexcel
import polars as pl

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


def read_csv(path: Path, contract: InputContract) -> RawTable:
    """Read a CSV file of any supported encoding."""
    encoding = detect_encoding(path)
    text_stream = path.open("r", encoding=encoding, newline="")
    with text_stream:
        reader = csv.reader(text_stream)
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise FileError(path, FileProblem.EMPTY, "the file is empty (no header row)")
        header = [h.strip() for h in header]
        mapping = _resolve_header(path, header, contract)
        columns: list[list[str | None]] = [[] for _ in header]
        malformed: list[tuple[int, str]] = []
        good_rows: list[int] = []
        for row_no, row in enumerate(reader, start=2):
            if len(row) != len(header):
                if not any(v.strip() for v in row):
                    continue
                if len(row) < len(header) and row:
                    row = row + [""] * (len(header) - len(row))
                else:
                    buf = io.StringIO()
                    csv.writer(buf).writerow(row)
                    malformed.append((row_no, buf.getvalue().rstrip("\r\n")))
                    continue
            good_rows.append(row_no)
            for i, value in enumerate(row):
                columns[i].append(value)
    frame = pl.DataFrame(
        {mapping[h]: pl.Series(values, dtype=pl.String) for h, values in zip(header, columns, strict=True)}
    )
    frame, blank = _finish(frame, contract, path, 2)
    frame = frame.with_columns(pl.Series("source_row", good_rows, dtype=pl.Int64).gather(frame["source_row"] - 2))
    if frame.height == 0 and not malformed:
        raise FileError(path, FileProblem.EMPTY, "the file has a header but no data rows")
    return RawTable(path.name, frame, encoding=encoding, malformed=malformed, blank_rows=blank)


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


def read_table(path: Path, contract: InputContract) -> RawTable:
    """Read one input file by its extension."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise FileError(path, FileProblem.CORRUPT, "file not found")
    if path.stat().st_size == 0:
        raise FileError(path, FileProblem.EMPTY, "the file is empty (0 bytes)")
    if suffix == ".csv":
        return read_csv(path, contract)
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path, contract)
    raise FileError(path, FileProblem.UNSUPPORTED, f"unsupported file type {suffix!r} (expected .csv or .xlsx)")
