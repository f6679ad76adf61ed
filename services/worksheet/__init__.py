"""Door-visit worksheets (入户核查表): built from the published run, filled in by hand, applied as decisions.

A worksheet lists, per grid, every registered household with open 户在人不在 members and every flat with open
人在户不在 occupants; a grid worker writes the result of each visit and the operator imports it as decisions.
Only the operators of the sheet's community export and import its worksheets.

The public API, re-exported here from the modules that hold it:

- `access`: who may work a community's worksheets (`may_work`, `check_access`).
- `to_visit`: which households and flats to visit (`visits`, `grid_counts`).
- `layout`: the sheet's titles, categories, columns and rows.
- `tokens`: the hidden tokens and MACs, written and checked.
- `write`: the workbook (`write_workbook`); `build`: a worksheet built and handed out (`build_worksheet`).
- `read`: a returned workbook read back (`read_book`); `apply`: its rows checked and applied (`import_worksheet`).
- `report`: what an import says, row by row.
- times are printed and shown in the offices' zone (`services.clock`).
"""

from services.clock import LOCAL_ZONE, local_time
from services.worksheet.access import WorksheetRefused, check_access, may_work
from services.worksheet.apply import import_worksheet
from services.worksheet.build import NothingToVisit, WorksheetSummary, build_worksheet, sheets
from services.worksheet.layout import (
    FIRST_ROW,
    FLAT,
    GUIDE_TITLE,
    GUIDE_WIDTH,
    HEADER_ROW,
    HEADERS,
    HIDDEN_HEADERS,
    HOUSEHOLD,
    MEMBERS_COL,
    NOTE_COL,
    PRINTED,
    RESULT_COL,
    ROW_MAC_COL,
    SHEET_TITLE,
    TITLE_ROW,
    TOKEN_COL,
    TOKEN_MAC_COL,
    UNKNOWN_GRID,
    WIDTHS,
)
from services.worksheet.read import MAX_BYTES, MAX_ROWS, MAX_UNPACKED, Book, WorksheetError, read_book
from services.worksheet.report import REASONS, ImportReport, RowCode, RowOutcome, RowReport
from services.worksheet.to_visit import Member, Visit, grid_counts, visits
from services.worksheet.tokens import TOKEN_VERSION
from services.worksheet.write import GUIDE, SheetMeta, results_for, write_workbook

__all__ = [
    "FIRST_ROW",
    "FLAT",
    "GUIDE",
    "GUIDE_TITLE",
    "GUIDE_WIDTH",
    "HEADERS",
    "HEADER_ROW",
    "HIDDEN_HEADERS",
    "HOUSEHOLD",
    "LOCAL_ZONE",
    "MAX_BYTES",
    "MAX_ROWS",
    "MAX_UNPACKED",
    "MEMBERS_COL",
    "NOTE_COL",
    "PRINTED",
    "REASONS",
    "RESULT_COL",
    "ROW_MAC_COL",
    "SHEET_TITLE",
    "TITLE_ROW",
    "TOKEN_COL",
    "TOKEN_MAC_COL",
    "TOKEN_VERSION",
    "UNKNOWN_GRID",
    "WIDTHS",
    "Book",
    "ImportReport",
    "Member",
    "NothingToVisit",
    "RowCode",
    "RowOutcome",
    "RowReport",
    "SheetMeta",
    "Visit",
    "WorksheetError",
    "WorksheetRefused",
    "WorksheetSummary",
    "build_worksheet",
    "check_access",
    "grid_counts",
    "import_worksheet",
    "local_time",
    "may_work",
    "read_book",
    "results_for",
    "sheets",
    "visits",
    "write_workbook",
]
