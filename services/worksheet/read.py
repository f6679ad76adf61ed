"""Reading a returned worksheet: the tabs of ours (their first row's token holds) and their data rows as text.

A file is checked before it is opened (size, what it unpacks to) and read streaming, never whole in memory.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.worksheet.layout import FIRST_ROW, ROW_MAC_COL
from services.worksheet.tokens import tab_token

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MAX_BYTES = 20 * 1024 * 1024
"""A filled worksheet larger than this is not read (a community's sheet is well under 1 MB)."""
MAX_UNPACKED = 200 * 1024 * 1024
"""Nor one that unpacks to more than this (a zip bomb)."""
MAX_ROWS = 50_000
"""Nor one with more rows than this on a tab."""


class WorksheetError(ValueError):
    """A file that is not a worksheet of this data directory, or cannot be read as one."""


@dataclass(frozen=True, slots=True)
class Row:
    """One data row as read back: where it is and its cells A..L as text."""

    tab: str
    row: int
    cells: tuple[str, ...]

    @property
    def number(self) -> str:
        """The row's 序号 (column A)."""
        return self.cells[0]

    @property
    def blank(self) -> bool:
        """Whether every cell is empty."""
        return not any(self.cells)


@dataclass(frozen=True, slots=True)
class Book:
    """A worksheet read back (`read_book`): its sheet id and community (from a tab's token) and its data rows."""

    sheet_id: str
    community: str
    rows: list[Row]


def _text(value: Any) -> str:
    """A cell as text, whatever Excel or WPS made of it: 3.0 is "3", None is ""."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).replace("\r\n", "\n")


def _check_file(path: Path) -> None:
    """Refuse what is not an xlsx of a sane size before it is opened (size, zip directory)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise WorksheetError(f"{path.name}: cannot be read ({type(exc).__name__})") from exc
    if size > MAX_BYTES:
        raise WorksheetError(f"{path.name}: {size} bytes, more than a worksheet may be ({MAX_BYTES})")
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WorksheetError(f"{path.name}: not an xlsx workbook (save it as .xlsx)") from exc
    if unpacked > MAX_UNPACKED:
        raise WorksheetError(f"{path.name}: unpacks to {unpacked} bytes, more than a worksheet may ({MAX_UNPACKED})")


def _tab_rows(ws: Any) -> Iterator[tuple[int, tuple[str, ...]]]:
    """(row number, cells A..L as text) of a tab, streamed; at most `MAX_ROWS` rows."""
    for number, values in enumerate(ws.iter_rows(min_row=1, max_col=ROW_MAC_COL + 1, values_only=True), start=1):
        if number > MAX_ROWS + FIRST_ROW:
            raise WorksheetError(f"more than {MAX_ROWS} rows on tab {ws.title!r}")
        cells = tuple(_text(v) for v in values)
        yield number, cells + ("",) * (ROW_MAC_COL + 1 - len(cells))


def read_book(path: Path, key: bytes) -> Book:
    """The worksheet tabs of a workbook: those whose first row holds a sheet token with a good MAC.

    Raises:
        WorksheetError: not an xlsx, too large, or no tab of ours (or tabs of two different sheets).
    """
    _check_file(path)
    from openpyxl import load_workbook  # read-only, streaming: never the whole sheet in memory

    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds, also for zip and XML errors
        raise WorksheetError(f"{path.name}: not a readable xlsx workbook ({type(exc).__name__})") from exc
    tokens: list[dict[str, Any]] = []
    rows: list[Row] = []
    try:
        for ws in book.worksheets:
            numbered = _tab_rows(ws)
            first = next(numbered, None)
            token = tab_token(first[1], key) if first else None
            if token is None:
                continue
            tokens.append(token)
            rows.extend(Row(ws.title, n, cells) for n, cells in numbered if n > FIRST_ROW)
    except WorksheetError as exc:
        raise WorksheetError(f"{path.name}: {exc}") from exc
    except Exception as exc:
        raise WorksheetError(f"{path.name}: not a readable xlsx workbook ({type(exc).__name__})") from exc
    finally:
        book.close()
    if not tokens:
        raise WorksheetError(f"{path.name}: not a door-visit worksheet of this system (no worksheet tab in it)")
    if len({(t["sheet"], t["c"]) for t in tokens}) > 1:
        raise WorksheetError(f"{path.name}: holds tabs of several worksheets; import each worksheet on its own")
    return Book(str(tokens[0]["sheet"]), str(tokens[0]["c"]), rows)
