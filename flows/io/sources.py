"""Read input files (CSV in GB18030 / UTF-8 / UTF-8-BOM, or xlsx) into all-string frames.

The frames have internal column names and contract lineage (`source_file`,
`source_row`: the row a spreadsheet program shows).
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

import fastexcel
import polars as pl
import pyarrow.parquet as pq
from defusedxml import ElementTree

from schemas.codes import FileProblem
from schemas.inputs import ROLL

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from schemas.inputs import InputContract

ENCODINGS = ("utf-8-sig", "gb18030")
_CHUNK = 1 << 20
MAX_CELL_CHARS = 128 * 1024
"""A CSV cell longer than this (csv's default field limit) makes its row malformed."""
MAX_LINE_CHARS = 1 << 20
"""A CSV line longer than this is a malformed row; the reader skips the rest of it without holding it."""
MAX_RECORD_LINES = 20
"""Lines one CSV record may span through quoted line breaks; more is a quote left open (a malformed row per line)."""
MAX_ORIGINAL_CHARS = 64 * 1024
"""What a malformed row keeps of its line."""
MAX_XLSX_BYTES = 200 * 1024 * 1024
"""An xlsx file larger than this is not loaded (`FileProblem.TOO_LARGE`)."""
MAX_XLSX_UNPACKED = 1024 * 1024 * 1024
"""An xlsx whose zip members add up to more than this unpacked is not loaded (a zip bomb)."""
MAX_SHEET_CELLS = 50_000_000
"""A sheet whose used range (rows x columns) is larger than this is not loaded; it is named in the report."""


class FileError(Exception):
    """A file that cannot be read at all; names the file and the problem."""

    def __init__(self, path: Path, problem: FileProblem, detail: str) -> None:
        super().__init__(f"{path.name}: {detail}")
        self.file = path.name
        self.problem = problem
        self.detail = detail


def footer_count(sheets: list[SheetReport], footers: list[int]) -> int:
    """Footer rows of a file: those under each sheet's data, and a CSV roll's (`RawTable.footers`)."""
    return sum(len(sheet.footer_rows) for sheet in sheets) + len(footers)


@dataclass(slots=True)
class RawTable:
    """One file's rows as strings, plus the rows that could not be split into fields."""

    file: str
    frame: pl.DataFrame
    encoding: str | None = None
    malformed: list[tuple[int, str]] = field(default_factory=list)
    """(source_row, the raw line) of CSV rows that cannot be split into the header's fields."""
    blank_rows: int = 0
    sheets: list[SheetReport] = field(default_factory=list)
    """A workbook's sheets, read or not, and why (empty for CSV)."""
    rows_in: int = 0
    """Rows taken in under the header: records + malformed + blank + footer (+ rows of sheets set aside)."""
    duplicate_headers: list[str] = field(default_factory=list)
    """Headers of a CSV that repeat an earlier one: the first column is read, the later ones as extra columns."""
    footers: list[int] = field(default_factory=list)
    """Rows of a CSV roll recognised as footers or notes (合计, 以下为出租户 …), as a sheet's `footer_rows`."""

    @property
    def footer_rows(self) -> int:
        """Footer rows (合计, 填表说明 …) counted under the data of all sheets, or of a CSV roll."""
        return footer_count(self.sheets, self.footers)


@dataclass(frozen=True, slots=True)
class ParquetCopy:
    """What `table_to_parquet` read; the rows themselves are in the Parquet file."""

    file: str
    rows: int
    encoding: str | None
    malformed: list[tuple[int, str]]
    blank_rows: int
    sheets: list[SheetReport]
    rows_in: int = 0
    duplicate_headers: list[str] = field(default_factory=list)
    footers: list[int] = field(default_factory=list)

    @property
    def footer_rows(self) -> int:
        """Footer rows of all sheets, or of a CSV roll (`RawTable.footer_rows`)."""
        return footer_count(self.sheets, self.footers)


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


def column_names(header: list[str], contract: InputContract) -> tuple[list[str], list[str]]:
    """(internal name per header cell, the non-empty headers that repeat an earlier one).

    The first of repeated headers keeps the column's name; later ones become extra
    columns numbered by position (`extra:备注#5`), so no column hides another.
    """
    seen: set[str] = set()
    unique = []
    repeated = []
    for position, head in enumerate(header, start=1):
        if head in seen:
            if head:
                repeated.append(head)
            head = f"{head}#{position}"
        seen.add(head)
        unique.append(head)
    mapping = contract.header_map(unique)
    names: list[str] = []
    for position, head in enumerate(unique, start=1):
        name = mapping[head]
        names.append(f"extra:#{position}" if name in names else name)
    return names, repeated


def _resolve_header(path: Path, header: list[str], contract: InputContract) -> tuple[list[str], list[str]]:
    names, repeated = column_names(header, contract)
    missing = contract.missing(set(names))
    if missing:
        raise FileError(path, FileProblem.MISSING_COLUMNS, "missing required column(s): " + ", ".join(missing))
    return names, repeated


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
    # A workbook's reader names the sheet; a CSV has none.
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias("source_sheet")), blank_count


class _RecordTooLong(Exception):
    """Raised into `csv.reader` when one record spans more than `MAX_RECORD_LINES` lines."""


class _Lines:
    """The lines of a text stream for `csv.reader`, each at most `MAX_LINE_CHARS`; keeps those of the current record."""

    def __init__(self, stream: _Text) -> None:
        self._stream = stream
        self.record: list[str] = []
        self.cut = False
        """A line of the current record was longer than `MAX_LINE_CHARS`."""
        self.pushed = ""
        """A line read from the stream by the caller, to be the next line (`iter_csv`'s plain lines)."""

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if len(self.record) >= MAX_RECORD_LINES:
            raise _RecordTooLong
        line, self.pushed = self.pushed or self._stream.readline(MAX_LINE_CHARS), ""
        if not line:
            raise StopIteration
        if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            while (rest := self._stream.readline(MAX_LINE_CHARS)) and not rest.endswith(("\n", "\r")):
                pass
            self.cut = True
            self.record.append(line[:MAX_ORIGINAL_CHARS])
            return "\n"  # the reader sees an empty line; the record is malformed anyway
        self.record.append(line)
        return line

    def take(self) -> tuple[list[str], bool]:
        """The lines of the record just read, and whether one was cut; starts the next record."""
        lines, cut = self.record, self.cut
        self.record, self.cut = [], False
        return lines, cut


def _next_record(reader: Iterator[list[str]], lines: _Lines) -> tuple[list[str] | None, list[str], str | None]:
    """(fields or None, the record's lines, why it is malformed or None); raises StopIteration at the end."""
    problem = None
    try:
        row: list[str] | None = next(reader)
    except csv.Error:
        row, problem = None, "cell longer than the CSV field limit"
    except _RecordTooLong:
        row, problem = None, f"a quote left open runs over {MAX_RECORD_LINES} lines"
    physical, cut = lines.take()
    if cut:
        problem = f"line longer than {MAX_LINE_CHARS} characters"
    if not physical and row is None:
        raise StopIteration
    return row, physical, problem


def iter_csv(path: Path, contract: InputContract, *, batch_rows: int = 200_000) -> Iterator[RawTable]:
    """Read a CSV file of any supported encoding, `batch_rows` records at a time.

    Memory stays bounded by the batch, whatever the file's size: the police
    extract of a prefecture has millions of rows. Each batch carries its own
    malformed lines and blank-row count; lineage is the file's row number.
    A record is one row however many lines its quoted cells span; a record that
    cannot be trusted (a quote left open, a line or cell over the limits) is a
    malformed row for each of its lines, so every line stays accounted for.
    Lines without a quote are split all at once (`_split_plain`), the others by `csv.reader`.
    """
    encoding, checked = _csv_encoding(path)
    with path.open("rb") as raw:
        text = _Text(raw, encoding, None if checked else path)
        lines = _Lines(text)
        reader = csv.reader(lines)
        names, repeated, header_row = _csv_header(path, contract, reader, lines, checked=checked)
        batch = _CsvBatch(names)
        kept = 0
        row_no = header_row + 1
        while True:
            if plain := text.plain_lines(batch_rows - batch.size):
                row_no = batch.add_plain(row_no, plain)
            elif line := text.readline(MAX_LINE_CHARS):
                if _is_plain(line):
                    row_no = batch.add_plain(row_no, [line])
                else:  # the csv reader takes the record from this line on
                    lines.pushed = line
                    row, physical, problem = _next_record(reader, lines)
                    row_no = batch.add(row_no, row, physical, problem)
            else:
                break
            if batch.size >= batch_rows:
                table = batch.table(path, contract, encoding)
                table.duplicate_headers = repeated
                kept += table.frame.height + len(table.malformed)
                yield table
                batch = _CsvBatch(names)
        table = batch.table(path, contract, encoding)
        table.duplicate_headers = repeated
        if kept + table.frame.height + len(table.malformed) == 0:
            raise FileError(path, FileProblem.EMPTY, "the file has a header but no data rows")
        yield table


def _is_plain(line: str) -> bool:
    """Whether `csv.reader` reads the line as a record of its own, split at every comma: no quote, no cell over the limit."""
    return '"' not in line and len(line) <= MAX_CELL_CHARS


def _csv_encoding(path: Path) -> tuple[str, bool]:
    """(the file's encoding, whether all of the file was checked to decode).

    A file whose first chunk is not UTF-8 can only be GB18030 (`detect_encoding`):
    it is checked as it is read, so it is decoded once. Any other is checked whole first.
    """
    with path.open("rb") as fh:
        head = fh.read(_CHUNK)
    try:
        codecs.getincrementaldecoder(ENCODINGS[0])(errors="strict").decode(head)
    except UnicodeDecodeError:
        return ENCODINGS[1], False
    return detect_encoding(path), True


HEADER_ROWS = 20
"""How far down a sheet or CSV file its header is looked for, past title rows (余姚市实有人口登记表（三凤社区）)."""


def _csv_header(
    path: Path, contract: InputContract, reader: Iterator[list[str]], lines: _Lines, *, checked: bool
) -> tuple[list[str], list[str], int]:
    """(internal column names, repeated headers, row number) of the header record.

    The header is the first of the first `HEADER_ROWS` records that carries the contract's columns, past title
    rows. A `FileError` when none does, saying what is wrong with the first.
    """
    first: FileError | None = None
    try:
        for row_no in range(1, HEADER_ROWS + 1):
            try:
                header, _, problem = _next_record(reader, lines)
            except StopIteration:
                break
            try:
                if problem is not None:
                    raise FileError(path, FileProblem.CORRUPT, f"the header line cannot be read ({problem})")
                if not header or not any(h.strip() for h in header):
                    raise FileError(path, FileProblem.EMPTY, "the file is empty (no header row)")
                return (*_resolve_header(path, [h.strip() for h in header], contract), row_no)
            except FileError as error:
                first = first or error
                if error.problem is FileProblem.CORRUPT:
                    raise
        raise first or FileError(path, FileProblem.EMPTY, "the file is empty (no header row)")
    except FileError:
        if not checked:  # a file that is not text at all says so, as when it was checked before its header was read
            detect_encoding(path)
        raise


_EOL = re.compile("\r\n?|\n")
_BARE_CR = re.compile("\r(?!\n)")


class _Text:
    """A file's text, decoded a chunk at a time.

    `readline` gives the lines `open(path, newline="").readline` gives; `plain_lines`
    takes many plain lines at once.
    """

    def __init__(self, raw: IO[bytes], encoding: str, unchecked: Path | None) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._unchecked = unchecked
        """The file, when it was not checked to decode before: a decoding error is then its `FileError`."""
        self._buf = ""
        self._pos = 0
        self._eof = False

    def _fill(self) -> bool:
        """Decode more of the file onto what is left of the buffer; False at the end of the file."""
        while not self._eof:
            data = self._raw.read(max(_CHUNK, len(self._buf) - self._pos))  # a long line: twice as much each time
            try:
                text = self._decoder.decode(data, final=not data)
            except UnicodeDecodeError:
                if self._unchecked is not None:
                    detect_encoding(self._unchecked)  # raises the FileError naming where each encoding fails
                raise
            self._eof = not data
            if text:
                self._buf = self._buf[self._pos :] + text
                self._pos = 0
                return True
        return False

    def readline(self, limit: int) -> str:
        r"""The next line with its line break (\n, \r\n or \r), at most `limit` characters of it; "" at the end."""
        seen = 0  # characters from the line's start known to hold no line break
        while True:
            buf, pos = self._buf, self._pos
            stop = min(len(buf), pos + limit)
            found = _EOL.search(buf, pos + seen, stop)
            # A carriage return last in the buffer may start a CR LF: decode more first.
            if found and (found.group() != "\r" or found.end() < len(buf) or found.end() == pos + limit or self._eof):
                stop = found.end()
            elif stop < pos + limit and self._fill():
                seen = max(stop - pos - 1, 0)
                continue
            self._pos = stop
            return buf[pos:stop]

    def plain_lines(self, most: int) -> list[str]:
        r"""Up to `most` whole lines from here, without their "\n", that `csv.reader` would split at every comma.

        Plain lines hold no quote, no "\r" but before their "\n", and at most
        `MAX_CELL_CHARS` characters. Empty when the next line is not plain or not
        whole in what is decoded so far: `readline` then takes it.
        """
        buf, pos = self._buf, self._pos
        end = buf.rfind("\n", pos) + 1
        quote = buf.find('"', pos, end)
        if quote >= 0:
            end = buf.rfind("\n", pos, quote) + 1
        if bare := _BARE_CR.search(buf, pos, end):
            end = buf.rfind("\n", pos, bare.start()) + 1
        if end <= pos:
            return []
        lines = buf[pos : end - 1].split("\n", most)[:most]
        if max(map(len, lines)) > MAX_CELL_CHARS:
            lines = lines[: next(i for i, line in enumerate(lines) if len(line) > MAX_CELL_CHARS)]
        self._pos = pos + sum(map(len, lines)) + len(lines)
        return lines


def _original(line: str) -> str:
    return line.rstrip("\r\n")[:MAX_ORIGINAL_CHARS]


class _CsvBatch:
    """Columns of the records read so far, their row numbers, and what was set aside."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.columns: list[list[str]] = [[] for _ in names]
        self.rows: list[int] = []
        self.malformed: list[tuple[int, str]] = []
        self.blank = 0
        self.rows_in = 0
        self.plain: list[str] = []
        """Lines without a quote or an overlong cell (`iter_csv`): each one record, split by `_split_plain`."""
        self.plain_rows: list[int] = []

    @property
    def size(self) -> int:
        """Rows held: records read by `csv.reader` and plain lines."""
        return len(self.rows) + len(self.plain)

    def add_plain(self, row_no: int, lines: list[str]) -> int:
        """Take in plain lines (`_Text.plain_lines`), the first at `row_no`; the row number of the next one."""
        self.plain.extend(lines)
        self.plain_rows.extend(range(row_no, row_no + len(lines)))
        return row_no + len(lines)

    def add(self, row_no: int, row: list[str] | None, physical: list[str], problem: str | None) -> int:
        """Take in one record read at `row_no`; the row number of the next one."""
        width = len(self.columns)
        if problem is None and row is not None:
            if not any(v.strip() for v in row):
                self.blank += 1
                self.rows_in += 1
                return row_no + 1
            if len(row) == width and not _swallowed(physical, width) and max(map(len, row)) <= MAX_CELL_CHARS:
                self.rows.append(row_no)
                for column, value in zip(self.columns, row, strict=True):
                    column.append(value)
                self.rows_in += 1
                return row_no + 1
        # Not a record: each of its lines is a malformed row (one stray quote must not hide the lines after it).
        spans = physical or [""]
        self.malformed.extend((row_no + i, _original(line)) for i, line in enumerate(spans))
        self.rows_in += len(spans)
        return row_no + len(spans)

    def table(self, path: Path, contract: InputContract, encoding: str) -> RawTable:
        frame = pl.DataFrame(
            {name: pl.Series(values, dtype=pl.String) for name, values in zip(self.names, self.columns, strict=True)}
        ).with_columns(pl.Series(_ROW, self.rows, dtype=pl.Int64))
        malformed, blank_plain = self.malformed, 0
        if self.plain:
            records, plain_malformed, blank_plain = _split_plain(self.plain, self.plain_rows, self.names)
            frame = pl.concat([frame, records]).sort(_ROW) if self.rows else records
            # Both lists are in file order; rows are distinct.
            malformed = sorted(malformed + plain_malformed, key=lambda m: m[0]) if malformed else plain_malformed
        rows = frame.get_column(_ROW)
        frame, blank = _finish(frame.drop(_ROW), contract, path, 0)
        # `_finish` numbers rows by position (from 0) before dropping blank ones: map positions to file rows.
        frame = frame.with_columns(rows.gather(frame["source_row"]).alias("source_row"))
        footers: list[int] = []
        if contract.kind == ROLL.kind:  # a community's sheet saved as CSV keeps its 合计 and notes; an extract has none
            footer = _footer_mask(frame, [n for n in self.names if n in frame.columns])
            footers = frame.filter(footer)["source_row"].to_list()
            frame = frame.filter(~footer)
        return RawTable(
            path.name,
            frame,
            encoding=encoding,
            malformed=malformed,
            blank_rows=self.blank + blank_plain + blank,
            rows_in=self.rows_in + len(self.plain),
            footers=footers,
        )


_ROW = "\x00row"
"""A batch's column of file row numbers while its records are put in order (no header maps to it)."""
_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
"""The characters `str.strip()` removes (those whose `str.isspace()` holds)."""


def _split_plain(
    lines: list[str], rows: list[int], names: list[str]
) -> tuple[pl.DataFrame, list[tuple[int, str]], int]:
    """(records with their file row in `_ROW`, malformed rows, blank rows) of plain CSV lines, all at once.

    A line without a quote is what the csv reader makes of it: its text split at every
    comma (an empty line: no fields). As in `_CsvBatch.add`, a line whose fields are all
    whitespace is blank, one with as many fields as the header a record, any other malformed.
    """
    width = len(names)
    lazy = (
        pl.LazyFrame({_ROW: pl.Series(rows, dtype=pl.Int64), "line": pl.Series(lines, dtype=pl.String)})
        .select(_ROW, pl.col("line").str.strip_chars_end("\r\n"))
        .with_columns(
            pl.col("line").str.split(",").alias("fields"),
            (pl.col("line").str.strip_chars("," + _SPACE) != "").alias("counted"),  # not blank
        )
    )
    fits = pl.col("fields").list.len() == width
    records, malformed = pl.collect_all(
        [
            lazy.filter(pl.col("counted") & fits).select(pl.col("fields").list.to_struct(fields=names), _ROW),
            lazy.filter(pl.col("counted") & ~fits).select(_ROW, pl.col("line").str.slice(0, MAX_ORIGINAL_CHARS)),
        ]
    )
    blank = len(lines) - records.height - malformed.height
    return records.unnest("fields"), list(malformed.iter_rows()), blank


def _swallowed(physical: list[str], width: int) -> bool:
    """A record whose inner lines each look like a row of their own: an opening quote that took in the rows after it."""
    for line in physical[1:-1]:
        try:
            fields = next(csv.reader([line]), [])
        except csv.Error:
            return True
        if len(fields) >= width:
            return True
    return False


_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "p": "http://schemas.openxmlformats.org/package/2006/relationships",
}


@dataclass(frozen=True, slots=True)
class _SheetExtent:
    """What the sheet's XML says before the sheet is loaded."""

    first_row: int = 1
    """The spreadsheet row of its first row holding a value."""
    cells: int = 0
    """Rows x columns of its declared used range (`<dimension>`): what the xlsx reader would hold of it."""


def _check_xlsx_size(path: Path) -> None:
    """Refuse a workbook too large to load, from its size and its zip directory, before it is opened."""
    size = path.stat().st_size
    if size > MAX_XLSX_BYTES:
        raise FileError(
            path, FileProblem.TOO_LARGE, f"the workbook is {size} bytes, more than the limit of {MAX_XLSX_BYTES}"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FileError(path, FileProblem.CORRUPT, f"not a readable xlsx workbook ({type(exc).__name__})") from exc
    if unpacked > MAX_XLSX_UNPACKED:
        raise FileError(
            path,
            FileProblem.TOO_LARGE,
            f"the workbook unpacks to {unpacked} bytes, more than the limit of {MAX_XLSX_UNPACKED}",
        )


def _sheet_extents(path: Path) -> dict[str, _SheetExtent]:
    """Per sheet name, its first row holding a value and the size of its used range.

    The xlsx reader drops leading empty rows (also rows that only carry a height
    or a border); lineage must not shift with them. It also holds a sheet's whole
    used range in memory: a sheet with one cell at XFD1048576 would take it all.
    """
    out: dict[str, _SheetExtent] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
            targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("p:Relationship", _NS)}
            for sheet in book.findall("m:sheets/m:sheet", _NS):
                target = targets.get(sheet.get(f"{{{_NS['r']}}}id"), "").lstrip("/")
                name = target if target.startswith("xl/") else f"xl/{target}"
                with zf.open(name) as fh:
                    out[sheet.get("name", "")] = _sheet_extent(_Trickle(fh))
    except Exception:  # any fault here is the xlsx reader's to report; lineage then starts at row 1
        return {}
    return out


class _Trickle:
    """A byte stream read a few KiB at a time.

    `iterparse` reads 16 KiB per step and parses all of it before the caller sees an
    event: `_sheet_extent`, which stops at the sheet's first value, then parses less.
    """

    def __init__(self, stream: IO[bytes], size: int = 2048) -> None:
        self._stream = stream
        self._size = size

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(self._size if n < 0 else min(n, self._size))


_CELL_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")


def _cell(ref: str) -> tuple[int, int] | None:
    """(row, column) of a cell reference such as `XFD1048576`."""
    match = _CELL_REF.match(ref.strip().replace("$", ""))
    if not match:
        return None
    column = 0
    for letter in match.group(1):
        column = column * 26 + ord(letter) - 64
    return int(match.group(2)), column


def _range_cells(ref: str) -> int:
    """Cells of a range such as `A1:K200` (0 when it cannot be read)."""
    corners = [_cell(part) for part in ref.split(":")]
    if not corners or None in corners:
        return 0
    rows = [c[0] for c in corners if c]
    columns = [c[1] for c in corners if c]
    return (max(rows) - min(rows) + 1) * (max(columns) - min(columns) + 1)


def _sheet_extent(stream: IO[bytes] | _Trickle) -> _SheetExtent:
    """The sheet's declared used range (`<dimension>`, before the data) and its first row holding a value.

    Stops at the first value: parsing a whole sheet here would take ten times as long as loading it.
    """
    value_tags = {f"{{{_NS['m']}}}v", f"{{{_NS['m']}}}is"}
    row_tag, dimension_tag = f"{{{_NS['m']}}}row", f"{{{_NS['m']}}}dimension"
    row, cells = 1, 0
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        if event == "start" and element.tag == dimension_tag:
            cells = _range_cells(element.get("ref", ""))
        elif event == "start" and element.tag == row_tag:
            row = int(element.get("r", row + 1))
        elif event == "end" and element.tag in value_tags and (element.text or len(element)):
            return _SheetExtent(row, cells)
        elif event == "end" and element.tag == row_tag:
            element.clear()
    return _SheetExtent(1, cells)


FOOTER_WORDS = (
    "合计",
    "小计",
    "总计",
    "共计",
    "说明",
    "填表说明",
    "注:",
    "备注:",
    "填表人",
    "填报人",
    "审核人",
    "制表",
    "负责人",
    "统计人",
    "联系人",
    "填表日期",
    "填报日期",
    "报送日期",
    "填报单位",
    "以上",
    "以下为",
    "以下是",
    "签字",
    "签名",
)
"""What a row under the roll starts with when it is a footer, not a person (after NFKC, 注：→ 注:, and
without spaces, 合  计 → 合计)."""
_FOOTER = re.compile("^(?:" + "|".join(re.escape(w) for w in FOOTER_WORDS) + ")")
_GRID_SHEET = re.compile(r"^(?:第?[0-9一二三四五六七八九十百]+网格|网格[(（]?[0-9一二三四五六七八九十百]+[)）]?)$")


@dataclass(slots=True)
class SheetReport:
    """What happened to one sheet of a workbook (no record values)."""

    sheet: str
    read: bool
    reason: str | None = None
    """Why a sheet holds no records: hidden, empty, or which roll columns it lacks."""
    records: int = 0
    blank_rows: int = 0
    footer_rows: list[int] = field(default_factory=list)
    """Spreadsheet rows under the data recognised as footers (合计, 填表说明, 填表人 …)."""
    hidden: bool = False
    """A hidden sheet is read like any other when it carries the columns (contract §1.2), and says so here."""
    repeated_rows: int = 0
    """Rows of a sheet set aside because its people are those of the other sheets (`_set_aside_repeats`)."""
    rows_in: int = 0
    """Rows under the header up to the last holding a value: records + blank + footer (+ repeated) rows."""
    duplicate_headers: list[str] = field(default_factory=list)
    """Headers that repeat an earlier one: the first column is read, the later ones as extra columns."""


def _footer_mask(body: pl.DataFrame, cols: list[str]) -> pl.Series:
    """Rows that start like a footer (合计, 填表说明：…, 填表人：…).

    Looked at: the first value (in the sheet's column order `cols`), 序号 and 姓名. `body`'s values are
    those of `_finish`: stripped, and null where nothing is left.
    """
    first = pl.coalesce([pl.col(c) for c in cols]) if cols else pl.lit(None)
    checks = [first] + [pl.col(c) for c in ("seq", "name_raw") if c in cols]
    texts = [
        e.str.normalize("NFKC").str.replace_all(r"\s", "").str.contains(_FOOTER.pattern).fill_null(False)
        for e in checks
    ]
    return body.select(pl.any_horizontal(texts).alias("footer"))["footer"]


def _read_sheet(
    path: Path, reader: fastexcel.ExcelReader, index: int, name: str, contract: InputContract, first_row: int
) -> tuple[pl.DataFrame | None, SheetReport]:
    sheet = reader.load_sheet(index, header_row=None, dtypes="string")
    hidden = sheet.visible != "visible"
    grid = sheet.to_polars()
    if grid.height == 0:
        return None, SheetReport(name, False, "empty sheet", hidden=hidden)
    header_idx = None
    for idx in range(min(grid.height, HEADER_ROWS)):
        values = [str(v).strip() for v in grid.row(idx) if v is not None]
        if not contract.missing(set(column_names(values, contract)[0])):
            header_idx = idx
            break
    if header_idx is None:
        first = [str(v).strip() for v in grid.row(0) if v is not None]
        missing = contract.missing(set(column_names(first, contract)[0]))
        return None, SheetReport(
            name, False, f"no {contract.kind} header: missing " + ", ".join(missing), hidden=hidden
        )
    header = [str(v).strip() if v is not None else "" for v in grid.row(header_idx)]
    keep = [i for i, h in enumerate(header) if h]
    names, repeated = column_names([header[i] for i in keep], contract)
    body = grid.slice(header_idx + 1).select([grid.columns[i] for i in keep])
    body.columns = names
    frame, blank = _finish(body, contract, path, first_row + header_idx + 1)
    footer = _footer_mask(frame, body.columns)
    report = SheetReport(name, True, records=int((~footer).sum()), blank_rows=blank, hidden=hidden)
    report.rows_in, report.duplicate_headers = body.height, repeated
    report.footer_rows = frame.filter(footer)["source_row"].to_list()
    frame = frame.filter(~footer).with_columns(pl.lit(name, dtype=pl.String).alias("source_sheet"))
    if _GRID_SHEET.match(name.strip()) and "grid" in frame.columns:
        frame = frame.with_columns(pl.col("grid").fill_null(pl.lit(name.strip())))
    return frame, report


REPEATED_SHARE = 0.9
"""A sheet whose records are at least this share of records on the workbook's other sheets repeats them."""


def _set_aside_repeats(read: dict[str, pl.DataFrame], reports: dict[str, SheetReport]) -> None:
    """Drop from `read` a sheet that repeats the others' people (a 汇总 over the per-grid sheets, a copy of the roll).

    Largest first, one sheet at a time, so of two copies one stays. Its report
    says so and counts the rows (`repeated_rows`): the people are read from the other sheets.
    """
    if len(read) < 2:  # one sheet repeats no other
        return
    keys = {
        name: set(frame.select(pl.concat_str(["name_raw", "address_raw"], separator="\x1f")).to_series().drop_nulls())
        for name, frame in read.items()
    }
    order = list(read)
    # Largest first; of equals, a hidden sheet, then the later one, is the copy.
    for name in sorted(read, key=lambda n: (read[n].height, reports[n].hidden, order.index(n)), reverse=True):
        others = set().union(*(k for other, k in keys.items() if other != name and other in read))
        mine = keys[name]
        if len(read) > 1 and len(mine) >= 5 and len(mine & others) >= REPEATED_SHARE * len(mine):
            report = reports[name]
            report.read, report.reason = False, "repeats the people of the other sheets (a summary or a copy)"
            report.repeated_rows, report.records = read[name].height, 0
            del read[name]


def read_xlsx(path: Path, contract: InputContract) -> RawTable:
    """Read every sheet of an xlsx workbook whose header carries the contract's columns.

    Headers are found past title rows and group headers; hidden sheets are read
    too (contract §1.2; the report says they were hidden); the others are named in
    `RawTable.sheets` with the reason. Rows under the data that are footers
    (合计, 填表说明, 填表人 …) are counted, not read as people.
    """
    _check_xlsx_size(path)
    try:
        reader = fastexcel.read_excel(str(path))
        names = reader.sheet_names
    except Exception as exc:  # fastexcel raises its own hierarchy, also for zip errors
        raise FileError(path, FileProblem.CORRUPT, f"not a readable xlsx workbook ({type(exc).__name__})") from exc
    extents = _sheet_extents(path)
    read: dict[str, pl.DataFrame] = {}
    reports: list[SheetReport] = []
    for index, name in enumerate(names):
        extent = extents.get(name, _SheetExtent())
        if extent.cells > MAX_SHEET_CELLS:
            reports.append(SheetReport(name, False, f"used range of {extent.cells} cells, over {MAX_SHEET_CELLS}"))
            continue
        try:
            frame, report = _read_sheet(path, reader, index, name, contract, extent.first_row)
        except Exception as exc:  # a sheet fastexcel cannot load is reported, the others still read
            frame, report = None, SheetReport(name, False, f"unreadable sheet ({type(exc).__name__})")
        reports.append(report)
        if frame is not None:
            read[name] = frame
    _set_aside_repeats(read, {r.sheet: r for r in reports})
    frames = list(read.values())
    if not frames:
        reasons = "; ".join(f"{r.sheet}: {r.reason}" for r in reports)
        if all(r.reason == "empty sheet" for r in reports):
            raise FileError(path, FileProblem.EMPTY, f"no sheet holds data ({reasons})")
        raise FileError(
            path, FileProblem.MISSING_COLUMNS, f"no sheet carries the {contract.kind}'s columns ({reasons})"
        )
    frame = pl.concat(frames, how="diagonal_relaxed")
    if frame.height == 0 and not any(r.footer_rows for r in reports):
        raise FileError(path, FileProblem.EMPTY, "the sheet has a header but no data rows")
    return RawTable(
        path.name,
        frame,
        blank_rows=sum(r.blank_rows for r in reports),
        sheets=reports,
        rows_in=sum(r.rows_in for r in reports),
    )


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
        sheets=[s for b in batches for s in b.sheets],
        rows_in=sum(b.rows_in for b in batches),
        duplicate_headers=batches[0].duplicate_headers,
        footers=[f for b in batches for f in b.footers],
    )


def table_to_parquet(path: Path, contract: InputContract, out: Path, *, batch_rows: int = 50_000) -> ParquetCopy:
    """Read one input file into the Parquet file `out`, a batch at a time.

    So a file the size of a prefecture's register never sits whole in memory. A CSV
    batch's text passes through a few working copies while it is split: smaller
    batches keep the peak low (50,000 rows: about a fifth of the memory of 200,000), at no cost in time.
    """
    writer: pq.ParquetWriter | None = None
    rows, blank, rows_in, encoding = 0, 0, 0, None
    malformed: list[tuple[int, str]] = []
    sheets: list[SheetReport] = []
    repeated: list[str] = []
    footers: list[int] = []
    try:
        for batch in iter_table(path, contract, batch_rows=batch_rows):
            arrow = batch.frame.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(out, arrow.schema)
            writer.write_table(arrow)
            rows += batch.frame.height
            blank += batch.blank_rows
            malformed.extend(batch.malformed)
            sheets.extend(batch.sheets)
            encoding = batch.encoding
            rows_in += batch.rows_in
            repeated = batch.duplicate_headers
            footers.extend(batch.footers)
    except BaseException:
        if writer is not None:  # refused part way (a GB18030 file is checked as it is read): no rows are left behind
            writer.close()
            out.unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.close()
    return ParquetCopy(path.name, rows, encoding, malformed, blank, sheets, rows_in, repeated, footers)
