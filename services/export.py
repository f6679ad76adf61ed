r"""Verified lists for the police bureau, per police station (or one community).

Only what is verified goes out: statuses resting on an auto link or an
operator's decision, and lone mismatches an operator confirmed. Everything
still waiting is counted as pending in the manifest, never exported.

The files are opened in Excel or WPS, so every cell is written to stay data
(the manifest's `cell_rules` says the same):

- Formulas: a text cell beginning with `= + - @`, a tab or a carriage return
  (OWASP's CSV-injection list, also after leading spaces, and the full-width
  `＝＋－＠`) gets a leading `'` in CSV; xlsx keeps the value and writes it as
  a string with the quote-prefix style, so it is never a formula, not even
  after editing. The manifest counts these cells (`formula_cells`).
- Identifiers: in CSV, the digit-only columns (ID number, community codes,
  household number) are written after a tab (`\t330282…`), which Excel and WPS
  read as text, so 18-digit IDs neither turn into `3.30282E+17` nor lose
  leading zeros. A tab followed by digits cannot be a formula; any other value
  in those columns goes through the formula rule. xlsx writes them as text cells.
- Files: created 0600 (the manifest too), named from the scope with path
  separators, `..` and control characters replaced (`safe_file_name`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import polars as pl
import xlsxwriter

from reconcile import idnumber
from reconcile.verification import REVIEW_BAND, pending_sql, verified_sql
from schemas.codes import Evidence, Outcome, Side, Status
from schemas.labels import (
    DECISION_LABELS,
    EVIDENCE_LABELS,
    EXPORT_COLUMNS,
    EXPORT_LABELS,
    ID_CHECK_LABELS,
    SOURCE_LABELS,
)
from services import reader
from services.audit import audit
from services.paths import DataPaths, sha256_file
from services.state import connect

if TYPE_CHECKING:
    from pathlib import Path

    import duckdb

UNREGISTERED, ABSENT, HOUSEHOLDS = Status.UNREGISTERED.label, Status.ABSENT.label, EXPORT_LABELS["households"]
CATEGORIES = (UNREGISTERED, ABSENT, HOUSEHOLDS)

_PERSON_COLUMNS: list[tuple[str, str]] = [
    # (column, kind) — kind: text / id (identifiers, kept text) / date / int; headers from `schemas.labels.EXPORT_COLUMNS`
    ("community_code", "id"),
    ("community_name", "text"),
    ("name", "text"),
    ("id_number", "id"),
    ("id_source", "text"),
    ("id_check", "text"),
    ("sex", "text"),
    ("birth", "date"),
    ("household_no", "id"),
    ("household_no_source", "text"),
    ("address", "text"),
    ("other_community_code", "id"),
    ("other_community_name", "text"),
    ("verified_by", "text"),
    ("decision", "text"),
    ("evidence", "text"),
    ("source_file", "text"),
    ("source_sheet", "text"),
    ("source_row", "int"),
]
_HOUSEHOLD_COLUMNS: list[tuple[str, str]] = [
    ("community_code", "id"),
    ("community_name", "text"),
    ("household_no", "id"),
    ("household_address", "text"),
    ("members", "int"),
    ("absent_members", "int"),
    ("whole_household_absent", "text"),
]
VERIFIED = verified_sql("s.verified_by")

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
"""What a cell may not begin with, or Excel/WPS may run it as a formula (OWASP CSV injection, and full-width forms)."""
_DIGITS = re.compile(r"[0-9]+[0-9Xx]?")
_UNSAFE_IN_NAMES = frozenset('/\\:*?"<>|')
CELL_RULES = {
    "formula": "text cells beginning with = + - @ tab or CR (also after spaces, and full-width ＝＋－＠): "
    "CSV prefixes a single quote ', xlsx writes the unchanged value as a quote-prefixed string, never a formula",
    "ids_as_text": "CSV: digit-only ID numbers, community codes and household numbers follow a tab (\\t) so "
    "Excel/WPS keep them as text (strip the leading tab when reading by program); xlsx: text cells",
}
"""How cells are written, as the manifest states it."""


VERIFICATION_RULE = (
    "links: verified above the auto threshold or by an operator; a lone 人在户不在 / 户在人不在: verified only by "
    "an operator's decision (at the desk or from a door-visit worksheet), or by its evidence alone where "
    "verified_without_visit lists that evidence (核实方式 policy)"
)
"""The verification rule every manifest states (`reconcile.verification`)."""


class ExportRefused(PermissionError):
    """This user may not export this scope."""


@dataclass(slots=True)
class ExportScope:
    """What to export: one police station's communities, or one community."""

    station: str | None = None
    community: str | None = None

    @property
    def label(self) -> str:
        """The station or community, as file names and the manifest name it."""
        return self.station or self.community or ""

    def communities(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """Codes of the published communities in this scope."""
        if self.station:
            rows = reader.community_rows(con, station=self.station)
        elif self.community:
            rows = reader.community_rows(con, community=self.community)
        else:
            rows = []
        return [r["community_code"] for r in rows]


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(con.sql(sql, params=params).to_arrow_table())


_NO_HOUSEHOLD_NUMBER = "~"
"""How `reconcile.prepare` keys a register row written without a household number (a household of its own): such
a key is no 户号 and is never exported as one."""


def household_number(column: str) -> str:
    """SQL for a register record's 户号 from its household key: null where the row had no household number.

    >>> household_number("x.household_key")
    "CASE WHEN starts_with(x.household_key, '~') THEN NULL ELSE x.household_key END"
    """
    return f"CASE WHEN starts_with({column}, '{_NO_HOUSEHOLD_NUMBER}') THEN NULL ELSE {column} END"


def _people(con: duckdb.DuckDBPyConnection, codes: list[str], *, side: Side, status: Status) -> pl.DataFrame:
    """Verified records of one side and status, with community names on both ends.

    A record's ID number is its own as written (a valid 18-digit one in its standard form). A roll record without
    one takes the one of the register record it is linked to (a 人在户不在 person is registered in another
    community), as it takes its 户号, which a roll does not hold; `id_source` and `household_no_source` say which
    side each came from. `id_check` marks an ID number that fails validation, or has 15 digits (a legacy number,
    or one cut short: never completed here).
    """
    if side is Side.ROLL:  # the linked register record, if any: where the person is registered
        linked = f"""LEFT JOIN {reader.record_table(Side.REGISTER)} r ON r.source_file = s.linked_file
                 AND r.source_row = s.linked_row AND r.source_sheet IS NOT DISTINCT FROM s.linked_sheet"""
        household, order = household_number("r.household_key"), "x.dwelling"
    else:
        linked = "LEFT JOIN (SELECT NULL::VARCHAR AS id18, NULL::VARCHAR AS id_clean) r ON false"  # no other side
        household, order = household_number("x.household_key"), "x.household_key"
    own, register = side.value, Side.REGISTER.value
    people = _frame(
        con,
        f"""SELECT s.community_code, c.community_name, x.name,
                   coalesce({_as_written("x")}, {_as_written("r")}) AS id_number,
                   CASE WHEN x.id_clean IS NOT NULL THEN '{own}' WHEN r.id_clean IS NOT NULL THEN '{register}'
                   END AS id_source,
                   x.sex, x.birth, {household} AS household_no, x.address_raw AS address, s.other_community_code,
                   oc.community_name AS other_community_name, s.verified_by,
                   CASE WHEN s.decision_outcome = $applied THEN s.decision END AS decision, s.evidence,
                   s.source_file, s.source_sheet, s.source_row
            FROM record_status s
            JOIN {reader.record_table(side)} x ON x.source_file = s.source_file AND x.source_row = s.source_row
                 AND x.source_sheet IS NOT DISTINCT FROM s.source_sheet
            {linked}
            LEFT JOIN community_summary c ON c.community_code = s.community_code
            LEFT JOIN community_summary oc ON oc.community_code = s.other_community_code
            WHERE s.side = $side AND s.status = $status AND {VERIFIED} AND s.community_code IN (SELECT unnest($codes))
            ORDER BY s.community_code, {order}, s.source_row""",  # noqa: S608  tables from services.reader, fragments fixed here
        {"side": side.value, "status": status.value, "codes": codes, "applied": Outcome.APPLIED.value},
    )
    return people.with_columns(
        pl.col("decision").replace_strict(DECISION_LABELS, default=None, return_dtype=pl.String),
        pl.col("evidence").replace_strict(EVIDENCE_LABELS, default=None, return_dtype=pl.String),
        pl.col("id_source").replace_strict(SOURCE_LABELS, default=None, return_dtype=pl.String),
        pl.when(pl.col("household_no").is_not_null())
        .then(pl.lit(SOURCE_LABELS[Side.REGISTER.value]))  # 户号 is the register's, whichever side the row is
        .alias("household_no_source"),
        id_check(people["id_number"]).alias("id_check"),
    ).select(name for name, _ in _PERSON_COLUMNS)


def _as_written(side: str) -> str:
    """SQL for a record's ID number as exported: its valid 18-digit form, else as written (15 digits stay 15)."""
    return (
        f"CASE WHEN length({side}.id_clean) = 18 THEN coalesce({side}.id18, {side}.id_clean) ELSE {side}.id_clean END"
    )


def id_check(ids: pl.Series) -> pl.Series:
    """What is wrong with each ID number as written (`ID_CHECK_LABELS`), null where it is valid or missing.

    >>> id_check(pl.Series(["11010519491231002X", "110105194912310021", "1101051949", "110105491231002", None])).to_list()
    [None, '校验位不符', '格式不符', '15位号码', None]
    """
    problem = idnumber.parse_column(ids)["id_problem"]
    fifteen = ids.str.contains(r"^\d{15}$").fill_null(False) & problem.is_null()
    return (
        pl.DataFrame({"problem": problem, "fifteen": fifteen})
        .select(
            pl.when(pl.col("fifteen"))
            .then(pl.lit("fifteen"))
            .otherwise(pl.col("problem"))
            .replace_strict(ID_CHECK_LABELS, default=None, return_dtype=pl.String)
        )
        .to_series()
    )


def category_frames(con: duckdb.DuckDBPyConnection, codes: list[str]) -> dict[str, pl.DataFrame]:
    """The three verified lists for these communities."""
    unregistered = _people(con, codes, side=Side.ROLL, status=Status.UNREGISTERED)
    absent = _people(con, codes, side=Side.REGISTER, status=Status.ABSENT)
    households = _frame(
        con,
        f"""SELECT r.community_code, any_value(c.community_name) AS community_name,
                  {household_number("r.household_key")} AS household_no,
                  any_value(r.address_raw) AS household_address, count(*) AS members,
                  count(*) FILTER (WHERE s.status = $absent AND {VERIFIED}) AS absent_members,
                  CASE WHEN count(*) FILTER (WHERE s.status = $absent AND {VERIFIED}) = count(*)
                       THEN $yes ELSE $no END AS whole_household_absent
           FROM {reader.record_table(Side.REGISTER)} r
           JOIN record_status s ON s.side = $side AND s.source_file = r.source_file AND s.source_row = r.source_row
                AND s.source_sheet IS NOT DISTINCT FROM r.source_sheet
           LEFT JOIN community_summary c ON c.community_code = r.community_code
           WHERE r.active AND s.status <> $duplicate AND r.community_code IN (SELECT unnest($codes))
           GROUP BY r.community_code, r.household_key
           HAVING absent_members > 0
           ORDER BY r.community_code, r.household_key""",  # noqa: S608  VERIFIED is built from an enum, the table from services.reader
        {
            "absent": Status.ABSENT.value,
            "duplicate": Status.DUPLICATE.value,
            "side": Side.REGISTER.value,
            "yes": EXPORT_LABELS["yes"],
            "no": EXPORT_LABELS["no"],
            "codes": codes,
        },
    )
    return {UNREGISTERED: unregistered, ABSENT: absent, HOUSEHOLDS: households}


def _pending_label(status: Status) -> str:
    """What `pending_counts` calls the records of one status: they are records, not pairs."""
    if status in REVIEW_BAND:
        return f"{Status.REVIEW.label}{EXPORT_LABELS['records']}"
    return f"{status.label}{EXPORT_LABELS['unverified']}"


def pending_counts(con: duckdb.DuckDBPyConnection, codes: list[str]) -> dict[str, int]:
    """What is not exported because it still waits for the engine or an operator.

    Args:
        con: A connection to the published database.
        codes: The communities exported.

    Returns:
        Records still waiting, counted by what they wait for (records of both sides, not pairs).
    """
    rows = con.execute(
        f"""SELECT status, count(*) FROM record_status
            WHERE community_code IN (SELECT unnest(?)) AND {pending_sql("pending")}
            GROUP BY status ORDER BY status""",  # noqa: S608  the rule from reconcile.verification, built from enums
        [codes],
    ).fetchall()
    counts: dict[str, int] = {}
    for status, n in rows:
        label = _pending_label(Status(status))
        counts[label] = counts.get(label, 0) + int(n)
    return counts


def _columns(category: str) -> list[tuple[str, str]]:
    return _HOUSEHOLD_COLUMNS if category == HOUSEHOLDS else _PERSON_COLUMNS


def looks_like_formula(value: str) -> bool:
    """Whether Excel/WPS could take this text for a formula.

    >>> looks_like_formula("=1+1"), looks_like_formula("  @SUM(A1)"), looks_like_formula("张三")
    (True, True, False)
    """
    return value.lstrip(" \u3000").startswith(FORMULA_START)


def csv_cell(value: str, kind: str) -> tuple[str, bool]:
    r"""A text or identifier cell as CSV writes it, and whether the formula rule changed it.

    >>> csv_cell("=1+1", "text"), csv_cell("330282001", "id"), csv_cell("-1", "id")
    (("'=1+1", True), ('\t330282001', False), ("'-1", True))
    """
    if kind == "id" and _DIGITS.fullmatch(value):
        return "\t" + value, False
    if looks_like_formula(value):
        return "'" + value, True
    return value, False


def safe_file_name(text: str, limit: int = 60) -> str:
    """A file-name part from a station or run name: Chinese kept, separators, `..` and controls replaced by `_`.

    >>> safe_file_name("浒山派出所"), safe_file_name("a/b"), safe_file_name("../x")
    ('浒山派出所', 'a_b', '__x')
    """
    kept = "".join(
        "_" if ch in _UNSAFE_IN_NAMES or unicodedata.category(ch)[0] == "C" or (ch != " " and ch.isspace()) else ch
        for ch in text
    )
    kept = re.sub(r"\.{2,}", "_", kept).strip(" .")
    return kept[:limit] or "_"


def private_file(path: Path, mode: str, **kwargs: Any) -> IO[Any]:
    """Open `path` for writing, created (or narrowed) to 0600 whatever the umask; never through a symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_xlsx(frames: dict[str, pl.DataFrame], path: Path) -> int:
    """One sheet per category: Chinese headers, frozen header, filters, IDs as text, dates as dates.

    Returns:
        How many text cells looked like formulas (written as quote-prefixed strings, unchanged).
    """
    with private_file(path, "wb") as fh:
        return _write_book(frames, fh)


def _write_book(frames: dict[str, pl.DataFrame], fh: IO[bytes]) -> int:
    book = xlsxwriter.Workbook(fh, {"constant_memory": True, "strings_to_numbers": False})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = book.add_format({"num_format": "@"})
    quoted = book.add_format({"num_format": "@", "quote_prefix": True})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
    neutralised = 0
    for category, frame in frames.items():
        sheet = book.add_worksheet(category)
        cols = _columns(category)
        for j, (column, kind) in enumerate(cols):
            sheet.write_string(0, j, EXPORT_COLUMNS[column], header)
            sheet.set_column(j, j, 20 if kind == "id" else 14, text if kind in ("id", "text") else None)
        for i, row in enumerate(frame.select([c for c, _ in cols]).iter_rows(), start=1):
            for j, ((_, kind), value) in enumerate(zip(cols, row, strict=True)):
                if value is None:
                    continue
                if kind == "date":
                    sheet.write_datetime(i, j, dt.datetime.combine(value, dt.time()), date)
                elif kind == "int":
                    sheet.write_number(i, j, value)
                elif looks_like_formula(cell := str(value)):
                    neutralised += 1
                    sheet.write_string(i, j, cell, quoted)
                else:
                    sheet.write_string(i, j, cell, text)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(frame.height, 1), len(cols) - 1)
    book.close()
    return neutralised


def write_csv(frame: pl.DataFrame, category: str, path: Path) -> int:
    """GB18030 CSV for older systems: identifiers after a tab, formula-like cells after a `'` (module docstring).

    Returns:
        How many cells got the `'` prefix.
    """
    cols = _columns(category)
    neutralised = 0
    with private_file(path, "w", encoding="gb18030", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([EXPORT_COLUMNS[c] for c, _ in cols])
        for row in frame.select([c for c, _ in cols]).iter_rows():
            cells: list[object] = []
            for (_, kind), value in zip(cols, row, strict=True):
                if value is None:
                    cells.append("")
                elif kind == "date":
                    cells.append(value.isoformat())
                elif kind == "int":
                    cells.append(value)
                else:
                    cell, changed = csv_cell(str(value), kind)
                    neutralised += changed
                    cells.append(cell)
            writer.writerow(cells)
    return neutralised


def export(data_dir: Path, scope: ExportScope, out: Path, *, username: str, fmt: str = "xlsx") -> Path:
    """Write the verified lists and their manifest under `out` (created 0700 if new), every file 0600.

    The caller has checked the user's right to export this scope (`services.access.export_scope_for`).

    Returns:
        The manifest's path.
    """
    paths = DataPaths(data_dir)
    with reader.published(data_dir) as con:
        run_id = reader.run_id(con)
        codes = scope.communities(con)
        if not codes:
            raise ValueError(f"no communities for {scope.label!r} in the published results")
        frames = category_frames(con, codes)
        pending = pending_counts(con, codes)
        policy = reader.verification_policy(con)
    stamp = dt.datetime.now(dt.UTC)
    base = f"核查名单_{safe_file_name(scope.label)}_{safe_file_name(run_id)}"
    if fmt not in ("xlsx", "csv"):
        raise ValueError(f"unknown format {fmt!r} (xlsx or csv)")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    files: list[Path] = []
    if fmt == "xlsx":
        files.append(out / f"{base}.xlsx")
        neutralised = write_xlsx(frames, files[0])
    else:
        neutralised = 0
        for category, frame in frames.items():
            path = out / f"{base}_{safe_file_name(category)}.csv"
            neutralised += write_csv(frame, category, path)
            files.append(path)
    file_entries = [{"name": f.name, "sha256": sha256_file(f), "bytes": f.stat().st_size} for f in files]
    rows = {category: frame.height for category, frame in frames.items()}
    manifest: dict[str, Any] = {
        "run_id": run_id,
        "exported_at": stamp.isoformat(timespec="seconds"),
        "exporter": username,
        "scope": {"station": scope.station, "community": scope.community, "communities": codes},
        "format": fmt,
        "rows": rows,
        "pending_not_exported": pending,
        "verification_policy": policy_statement(policy),
        "formula_neutralised": True,
        "formula_cells": neutralised,
        "cell_rules": CELL_RULES,
        "files": file_entries,
    }
    manifest_path = out / f"{base}_manifest.json"
    with private_file(manifest_path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest, ensure_ascii=False, indent=1))
    with connect(paths.state) as conn:
        conn.execute(
            "INSERT INTO exports (at, username, run_id, scope, manifest) VALUES (?, ?, ?, ?, ?)",
            (manifest["exported_at"], username, run_id, scope.label, json.dumps(manifest, ensure_ascii=False)),
        )
        audit(
            conn,
            username,
            "export",
            scope.label,
            None,
            {"run_id": run_id, "rows": rows, "files": [f["name"] for f in file_entries]},
            None,
        )
    return manifest_path


def policy_statement(policy: list[str]) -> dict[str, Any]:
    """The verification policy as a manifest states it: what verified the exported lone records.

    >>> policy_statement([])["verified_without_visit"]
    []
    >>> policy_statement(["others_at_flat"])["verified_without_visit_labels"]
    ['户籍房屋有他人居住']
    """
    return {
        "rule": VERIFICATION_RULE,
        "verified_without_visit": policy,
        "verified_without_visit_labels": [Evidence(code).label for code in policy],
    }


def zip_bytes(paths: list[Path]) -> bytes:
    """The files as one zip archive in memory (the web download)."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in paths:
            zf.write(path, arcname=path.name)
    return buffer.getvalue()
