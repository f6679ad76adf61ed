"""Verified lists for the police bureau, per police station (or one community).

Only what is verified goes out: statuses resting on an auto link or an
operator's decision, and lone mismatches an operator confirmed. Everything
still waiting is counted as pending in the manifest, never exported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl
import xlsxwriter

from reconcile.verification import REVIEW_BAND, pending_sql, verified_sql
from schemas.codes import Side, Status
from schemas.labels import EXPORT_COLUMNS, EXPORT_LABELS
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
    # (column, kind) — kind: text / id / date / int; headers from `schemas.labels.EXPORT_COLUMNS`
    ("community_code", "text"),
    ("community_name", "text"),
    ("name", "text"),
    ("id_number", "id"),
    ("sex", "text"),
    ("birth", "date"),
    ("household_no", "text"),
    ("address", "text"),
    ("other_community_code", "text"),
    ("other_community_name", "text"),
    ("verified_by", "text"),
    ("source_file", "text"),
    ("source_sheet", "text"),
    ("source_row", "int"),
]
_HOUSEHOLD_COLUMNS: list[tuple[str, str]] = [
    ("community_code", "text"),
    ("community_name", "text"),
    ("household_no", "text"),
    ("household_address", "text"),
    ("members", "int"),
    ("absent_members", "int"),
    ("whole_household_absent", "text"),
]
VERIFIED = verified_sql("s.verified_by")


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


def _people(
    con: duckdb.DuckDBPyConnection, codes: list[str], *, side: Side, status: Status, household: str, order: str
) -> pl.DataFrame:
    """Verified records of one side and status, with community names on both ends.

    `household` and `order` are column expressions of this module, never user input.
    """
    return _frame(
        con,
        f"""SELECT s.community_code, c.community_name, x.name, coalesce(x.id18, x.id_clean) AS id_number, x.sex, x.birth,
                   {household} AS household_no, x.address_raw AS address, s.other_community_code,
                   oc.community_name AS other_community_name, s.verified_by, s.source_file, s.source_sheet, s.source_row
            FROM record_status s
            JOIN {reader.record_table(side)} x ON x.source_file = s.source_file AND x.source_row = s.source_row
                 AND x.source_sheet IS NOT DISTINCT FROM s.source_sheet
            LEFT JOIN community_summary c ON c.community_code = s.community_code
            LEFT JOIN community_summary oc ON oc.community_code = s.other_community_code
            WHERE s.side = ? AND s.status = ? AND {VERIFIED} AND s.community_code IN (SELECT unnest(?))
            ORDER BY s.community_code, {order}, s.source_row""",  # noqa: S608  table from services.reader, fragments fixed here
        [side.value, status.value, codes],
    )


def category_frames(con: duckdb.DuckDBPyConnection, codes: list[str]) -> dict[str, pl.DataFrame]:
    """The three verified lists for these communities."""
    unregistered = _people(
        con, codes, side=Side.ROLL, status=Status.UNREGISTERED, household="NULL::VARCHAR", order="x.dwelling"
    )
    absent = _people(
        con, codes, side=Side.REGISTER, status=Status.ABSENT, household="x.household_key", order="x.household_key"
    )
    households = _frame(
        con,
        f"""SELECT r.community_code, any_value(c.community_name) AS community_name, r.household_key AS household_no,
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
            WHERE community_code IN (SELECT unnest(?)) AND {pending_sql("status", "verified_by")}
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


def write_xlsx(frames: dict[str, pl.DataFrame], path: Path) -> None:
    """One sheet per category: Chinese headers, frozen header, filters, IDs as text, dates as dates."""
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = book.add_format({"num_format": "@"})
    date = book.add_format({"num_format": "yyyy-mm-dd"})
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
                else:
                    sheet.write_string(i, j, str(value), text)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(frame.height, 1), len(cols) - 1)
    book.close()


def write_csv(frame: pl.DataFrame, category: str, path: Path) -> None:
    """GB18030 CSV for older systems; IDs stay text because CSV has no types."""
    cols = _columns(category)
    with path.open("w", encoding="gb18030", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([EXPORT_COLUMNS[c] for c, _ in cols])
        for row in frame.select([c for c, _ in cols]).iter_rows():
            writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, dt.date) else v) for v in row])


def export(data_dir: Path, scope: ExportScope, out: Path, *, username: str, fmt: str = "xlsx") -> Path:
    """Write the verified lists and their manifest under `out`; returns the manifest path.

    The caller has checked the user's right to export this scope (`services.access.export_scope_for`).
    """
    paths = DataPaths(data_dir)
    with reader.published(data_dir) as con:
        run_id = reader.run_id(con)
        codes = scope.communities(con)
        if not codes:
            raise ValueError(f"no communities for {scope.label!r} in the published results")
        frames = category_frames(con, codes)
        pending = pending_counts(con, codes)
    stamp = dt.datetime.now(dt.UTC)
    base = f"核查名单_{scope.label}_{run_id}"
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    if fmt == "xlsx":
        files.append(out / f"{base}.xlsx")
        write_xlsx(frames, files[0])
    elif fmt == "csv":
        for category, frame in frames.items():
            path = out / f"{base}_{category}.csv"
            write_csv(frame, category, path)
            files.append(path)
    else:
        raise ValueError(f"unknown format {fmt!r} (xlsx or csv)")
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
        "files": file_entries,
    }
    manifest_path = out / f"{base}_manifest.json"
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
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


def zip_bytes(paths: list[Path]) -> bytes:
    """The files as one zip archive in memory (the web download)."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in paths:
            zf.write(path, arcname=path.name)
    return buffer.getvalue()
