"""Row-level contracts for normalised records (dataframely).

A row that fails any rule here cannot go on and is quarantined with the
rule's reason code (`schemas.codes.Quarantine`); rows that pass may still carry
`issues` for fields that could not be trusted and were dropped.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import dataframely as dy
import polars as pl

from schemas.codes import Quarantine
from schemas.inputs import LINEAGE, InputContract

if TYPE_CHECKING:
    from collections.abc import Collection

_ID18 = r"^\d{17}[\dX]$"


class PersonRecord(dy.Schema):
    """What both sides share once normalised."""

    source_file = dy.String(nullable=False)
    source_sheet = dy.String(nullable=True)
    """The workbook sheet the row was read from (contract §1.3); null for CSV."""
    source_row = dy.Int64(nullable=False, min=1)
    side = dy.String(nullable=False, regex=r"^(register|roll)$")
    community_code = dy.String(nullable=True, min_length=1)
    """The 12-digit code; where an extract has names only, the name stands in."""
    name = dy.String(nullable=True, min_length=1)
    name_py = dy.String(nullable=True)
    surname = dy.String(nullable=True)
    surname_py = dy.String(nullable=True)
    name_shape = dy.String(nullable=True)
    id18 = dy.String(nullable=True, regex=_ID18)
    id_clean = dy.String(nullable=True)
    id_problem = dy.String(nullable=True)
    birth = dy.Date(nullable=True)
    sex = dy.String(nullable=True, regex=r"^[男女]$")
    addr_kind = dy.String(nullable=True)
    place = dy.String(nullable=True)
    building = dy.String(nullable=True)
    unit = dy.String(nullable=True)
    room = dy.String(nullable=True)
    group = dy.String(nullable=True)
    number = dy.String(nullable=True)
    issues = dy.List(dy.String(), nullable=False)

    @dy.rule()
    def unidentifiable(cls) -> pl.Expr:
        """A person needs a name or a valid ID number to be found at all."""
        return pl.col("name").is_not_null() | pl.col("id18").is_not_null()

    @dy.rule()
    def unknown_community(cls) -> pl.Expr:
        """A record must belong to a known community."""
        return pl.col("community_code").is_not_null()


class RegisterRecord(PersonRecord):
    """A police-extract row that can go on."""

    household_key = dy.String(nullable=False)
    former_name = dy.String(nullable=True)
    active = dy.Bool(nullable=False)
    moved_in = dy.Date(nullable=True)
    station = dy.String(nullable=True)
    street = dy.String(nullable=True)
    community_name = dy.String(nullable=True)
    relation_raw = dy.String(nullable=True)


class RollRecord(PersonRecord):
    """A community-roll row that can go on."""

    grid = dy.String(nullable=True)
    house_kind = dy.String(nullable=True)

    @dy.rule()
    def no_address(cls) -> pl.Expr:
        """A roll row places a person at a dwelling; without an address it places nobody."""
        parts = ("place", "building", "group", "number")  # 2组44号 in a village named like its community: no place
        return pl.col("addr_kind").is_not_null() & pl.any_horizontal(pl.col(c).is_not_null() for c in parts)


# The failing rule's name is the quarantine reason; the first in this order wins.
_RULE_REASONS: tuple[tuple[str, Quarantine], ...] = (
    ("unidentifiable", Quarantine.UNIDENTIFIABLE),
    ("unknown_community", Quarantine.UNKNOWN_COMMUNITY),
    ("no_address", Quarantine.NO_ADDRESS),
)

QUARANTINE_SCHEMA = {
    "side": pl.String,
    "source_file": pl.String,
    "source_sheet": pl.String,
    "source_row": pl.Int64,
    "reason": pl.String,
    "detail": pl.String,
    "original": pl.String,
}


def lineage_text(multi_sheet: Collection[str] | None = None) -> pl.Expr:
    """A record's lineage as one string: `file:row`, or `file:sheet:row`.

    The sheet is named only where the file's records come from several sheets,
    so the keys of records from CSV files and single-sheet workbooks stay as
    they were before sheets were read. Which files those are is learnt from the
    frame's own rows, or given as `multi_sheet` (`multi_sheet_files` of all rows)
    for a frame that holds only some of them.
    """
    several = (
        pl.col("source_sheet").n_unique().over("source_file") > 1
        if multi_sheet is None
        else pl.col("source_file").is_in(sorted(multi_sheet))
    )
    return (
        pl.when(several)
        .then(pl.format("{}:{}:{}", "source_file", "source_sheet", "source_row"))
        .otherwise(pl.format("{}:{}", "source_file", "source_row"))
    )


def multi_sheet_files(frame: pl.DataFrame | pl.LazyFrame) -> list[str]:
    """The files whose rows in `frame` come from several sheets (no sheet counts as one): `lineage_text`'s choice.

    >>> multi_sheet_files(pl.DataFrame({"source_file": ["a", "a", "b"], "source_sheet": ["x", "y", None]}))
    ['a']
    """
    files = frame.lazy().group_by("source_file").agg(pl.col("source_sheet").n_unique().alias("_sheets"))
    return sorted(files.filter(pl.col("_sheets") > 1).collect()["source_file"].to_list())


def split_valid(
    frame: pl.DataFrame, schema: type[PersonRecord], contract: InputContract
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows that can go on, quarantine rows with a reason and their original values).

    Extra columns of `frame` not in the schema are kept on the valid rows.
    """
    key = list(LINEAGE)
    good, failure = schema.filter(frame.select(schema.column_names()), cast=True)
    details = failure.details()
    if details.height == 0:  # the frame itself, not a copy of it
        return frame, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    valid = frame.join(good.select(key), on=key, how="semi", maintain_order="left", nulls_equal=True)
    checks = [c for c in details.columns if c not in schema.column_names()]
    failed = details.select(
        *key,
        pl.concat_list([pl.when(pl.col(c) == "invalid").then(pl.lit(c)).otherwise(None) for c in checks])
        .list.drop_nulls()
        .alias("_failed"),
    )
    bad = frame.join(failed, on=key, how="inner", maintain_order="left", nulls_equal=True)
    reasons = []
    for failed_checks in bad["_failed"].to_list():
        reason = next((q.value for rule, q in _RULE_REASONS if rule in failed_checks), "contract_violation")
        reasons.append(reason)
    quarantine = quarantine_rows(
        bad, contract, reasons=reasons, details=[", ".join(f) for f in bad["_failed"].to_list()]
    )
    return valid, quarantine


def quarantine_rows(
    rows: pl.DataFrame, contract: InputContract, *, reasons: list[str], details: list[str]
) -> pl.DataFrame:
    """Quarantine rows (`QUARANTINE_SCHEMA`) for input rows set aside: lineage, reason, detail and original values."""
    canonical = {c.internal: c.canonical for c in contract.columns}
    raw_columns = [c for c in rows.columns if c in canonical or c.startswith("extra:")]
    originals = [
        json.dumps(
            {canonical.get(k, k.removeprefix("extra:")): v for k, v in row.items() if v is not None},
            ensure_ascii=False,
        )
        for row in rows.select(raw_columns).iter_rows(named=True)
    ]
    return pl.DataFrame(
        {
            "side": rows["side"],
            "source_file": rows["source_file"],
            "source_sheet": rows["source_sheet"],
            "source_row": rows["source_row"],
            "reason": reasons,
            "detail": details,
            "original": originals,
        },
        schema=QUARANTINE_SCHEMA,
    )


def malformed_quarantine(side: str, file: str, rows: list[tuple[int, str]]) -> pl.DataFrame:
    """Quarantine rows for CSV lines that could not be split into the header's fields."""
    return pl.DataFrame(
        {
            "side": [side] * len(rows),
            "source_file": [file] * len(rows),
            "source_sheet": [None] * len(rows),
            "source_row": [r for r, _ in rows],
            "reason": [Quarantine.MALFORMED_ROW.value] * len(rows),
            "detail": ["field count differs from the header"] * len(rows),
            "original": [line for _, line in rows],
        },
        schema=QUARANTINE_SCHEMA,
    )
