"""Turn raw input rows (all strings) into normalised person records.

Pure functions over polars frames: the flows read files, these decide what the
values mean. Every row comes out with an `issues` list naming the fields that
could not be trusted; whether a row can go on at all is the contract's call
(`schemas.records`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import polars as pl

from reconcile import address, idnumber, names
from reconcile.dates import parse_date_column
from reconcile.dwelling import PARTS, locate
from reconcile.evidence import is_vacancy
from reconcile.keys import register_keys, roll_keys
from reconcile.most_common import most_common
from schemas.codes import Issue, Quarantine, Side
from schemas.inputs import COMMUNITY_CODE, LINEAGE, REGISTER, ROLL
from schemas.records import RegisterRecord, RollRecord, lineage_text, quarantine_rows, split_valid

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_SEX_CODES = {"男": "男", "女": "女", "1": "男", "2": "女", "男性": "男", "女性": "女", "M": "男", "F": "女"}


def _map_unique(series: pl.Series, fn: Callable[[str], object], dtype: pl.DataType) -> pl.Series:
    """Apply `fn` once per distinct non-null value (names and addresses repeat a lot)."""
    uniques = series.drop_nulls().unique()
    table = pl.DataFrame({"key": uniques, "value": pl.Series([fn(v) for v in uniques.to_list()], dtype=dtype)})
    return series.to_frame("key").join(table, on="key", how="left", maintain_order="left")["value"]


def _map_unique_many(series: pl.Series, fns: Mapping[str, Callable[[str], object]]) -> pl.DataFrame:
    """Several string functions of one column, each applied once per distinct non-null value, one join."""
    uniques = series.drop_nulls().unique()
    values = uniques.to_list()
    table = pl.DataFrame(
        {"key": uniques} | {out: pl.Series([fn(v) for v in values], dtype=pl.String) for out, fn in fns.items()}
    )
    return series.to_frame("key").join(table, on="key", how="left", maintain_order="left").drop("key")


def _names(frame: pl.DataFrame, raw: str, out: str) -> pl.DataFrame:
    def norm(text: str) -> str | None:
        folded = names.fold(text)
        return names.simplified(folded) if folded else None

    name = _map_unique(frame[raw], norm, pl.String()).alias(out)
    return frame.with_columns(name)


def _pinyin(frame: pl.DataFrame) -> pl.DataFrame:
    keys: dict[str, Callable[[str], object]] = {
        "name_py": names.pinyin_key,
        "surname": names.surname_of,
        "name_shape": names.shape_key,
        "surname_py": lambda n: names.pinyin_key(names.surname_of(n)),
    }
    return pl.concat([frame, _map_unique_many(frame["name"], keys)], how="horizontal")


def _ids(frame: pl.DataFrame) -> pl.DataFrame:
    parsed = idnumber.parse_column(frame["id_raw"])
    return pl.concat([frame, parsed], how="horizontal")


def _dates(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(parsed dates, True where text was present but unparsable)."""
    return parse_date_column(series)


def _addresses(frame: pl.DataFrame, prefixes: list[str]) -> pl.DataFrame:
    uniques = frame["address_raw"].drop_nulls().unique()
    table = address.parse_column(uniques, prefixes).with_columns(uniques.alias("address_raw"))
    # Joined on the address column alone and put beside the rows: joining the rows would copy every column.
    parsed = frame.select("address_raw").join(table, on="address_raw", how="left", maintain_order="left")
    return frame.with_columns(parsed.drop("address_raw"))


def _issue(cond: pl.Expr, issue: Issue) -> pl.Expr:
    return pl.when(cond).then(pl.lit(issue.value)).otherwise(None)


def _common(frame: pl.DataFrame, prefixes: list[str]) -> pl.DataFrame:
    """Lineage, names, ID numbers, birth dates, sex and addresses; shared by both sides."""
    if "source_sheet" not in frame.columns:  # frames built by hand; the readers always name the sheet (null for CSV)
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("source_sheet"))
    frame = _names(frame, "name_raw", "name")
    frame = _pinyin(frame)
    frame = _ids(frame)
    birth, birth_bad = _dates(frame["birth_raw"])
    frame = frame.with_columns(birth.alias("birth_written"), birth_bad.alias("_birth_bad"))
    frame = frame.with_columns(
        pl.coalesce("id_birth", "birth_written").alias("birth"),
        pl.col("sex_raw").str.strip_chars().replace_strict(_SEX_CODES, default=None).alias("sex_written"),
    ).with_columns(pl.coalesce("id_sex", "sex_written").alias("sex"))
    frame = _addresses(frame, prefixes)
    id_issue = {
        "missing": Issue.ID_MISSING,
        "bad_format": Issue.ID_BAD_FORMAT,
        "bad_check": Issue.ID_BAD_CHECK,
        "bad_birth_date": Issue.ID_BAD_BIRTH_DATE,
    }
    issues = [
        pl.col("id_problem").replace_strict({k: v.value for k, v in id_issue.items()}, default=None),
        _issue(pl.col("name").is_null(), Issue.NAME_MISSING),
        _issue(pl.col("_birth_bad"), Issue.BIRTH_DATE_UNPARSABLE),
        _issue(
            pl.col("id_birth").is_not_null()
            & pl.col("birth_written").is_not_null()
            & (pl.col("id_birth") != pl.col("birth_written")),
            Issue.BIRTH_DATE_CONFLICTS_ID,
        ),
        _issue(pl.col("sex_raw").is_not_null() & pl.col("sex_written").is_null(), Issue.SEX_UNKNOWN),
        _issue(
            pl.col("id_sex").is_not_null()
            & pl.col("sex_written").is_not_null()
            & (pl.col("id_sex") != pl.col("sex_written")),
            Issue.SEX_CONFLICTS_ID,
        ),
        _issue(pl.col("address_raw").is_not_null() & (pl.col("addr_kind") == "other"), Issue.ADDRESS_UNPARSED),
    ]
    return frame.with_columns(pl.concat_list(issues).list.drop_nulls().alias("issues")).drop("_birth_bad")


def community_names(raw: pl.DataFrame) -> dict[str, str]:
    """Community name → code, from register rows that carry both."""
    if "community_name" not in raw.columns or "community_code_raw" not in raw.columns:
        return {}
    named = (
        raw.select(pl.col("community_name").str.replace_all(r"\s", ""), "community_code_raw")
        .drop_nulls()
        .filter(pl.col("community_code_raw").str.contains(COMMUNITY_CODE))
    )
    pairs = most_common(named, "community_name", "community_code_raw")  # a name given two codes: the commoner
    return dict(zip(pairs["community_name"].to_list(), pairs["community_code_raw"].to_list(), strict=True))


def prefixes_of(raw_register: pl.DataFrame, *, sample: int = 20_000) -> list[str]:
    """The administrative prefixes addresses start with (city, street, community), learnt from the register.

    `sample` distinct addresses are enough to learn them and keep this fast on a prefecture. They are spread
    evenly over the sorted distinct addresses, so every street and community is sampled, and the same
    register gives the same prefixes whatever its row order.
    """
    anchors = set(raw_register["street"].drop_nulls().unique().to_list())
    anchors |= set(raw_register["community_name"].drop_nulls().unique().to_list())
    distinct = raw_register["address_raw"].drop_nulls().unique().sort()
    spread = distinct.gather_every(max(1, -(-distinct.len() // sample))) if sample > 0 else distinct.clear()
    return address.admin_prefixes(spread.to_list(), anchors)


def _community_code(frame: pl.DataFrame, by_name: Mapping[str, str], fallback: str | None) -> pl.Expr:
    from_code = pl.when(pl.col("community_code_raw").str.contains(COMMUNITY_CODE)).then(pl.col("community_code_raw"))
    from_name = pl.col("community_name").str.replace_all(r"\s", "").replace_strict(dict(by_name), default=None)
    return pl.coalesce(from_code, from_name, pl.lit(fallback, dtype=pl.String))


def _household_key() -> pl.Expr:
    # A row without a household number is a household of its own.
    return pl.coalesce(pl.col("household_no"), pl.format("~{}", lineage_text())).alias("household_key")


def prepare_register(
    raw: pl.DataFrame, *, prefixes: list[str], by_name: Mapping[str, str] | None = None
) -> pl.DataFrame:
    """Normalise police-extract rows.

    Adds: community_code, household_key, name, name_py, surname, surname_py,
    former_name, id18/id_clean/id_problem, birth, sex, active, address elements
    and `issues`. A row without a community code takes the code its community's name has elsewhere
    in the register (`by_name`, learnt from `raw` when not given).
    """
    frame = raw.with_columns(pl.lit(Side.REGISTER.value).alias("side"))
    by_name = community_names(raw) if by_name is None else by_name
    # An extract without community codes still names its communities: the name then stands in for the code.
    by_name_or_self = pl.col("community_name").str.replace_all(r"\s", "")
    frame = frame.with_columns(
        pl.coalesce(_community_code(frame, by_name, None), by_name_or_self).alias("community_code")
    )
    frame = _common(frame, prefixes)
    frame = _names(frame, "former_name_raw", "former_name")
    moved_in, moved_bad = _dates(frame["moved_in_raw"])
    return (
        frame.with_columns(moved_bad.alias("_moved_bad"))
        .with_columns(
            moved_in.alias("moved_in"),
            pl.concat_list(
                "issues",
                _issue(pl.col("_moved_bad"), Issue.MOVED_IN_UNPARSABLE),
                _issue(pl.col("household_no").is_null(), Issue.HOUSEHOLD_MISSING),
            )
            .list.drop_nulls()
            .alias("issues"),
            _household_key(),
            (pl.col("person_state").is_null() | (pl.col("person_state").str.strip_chars() == "正常")).alias("active"),
        )
        .drop("_moved_bad")
    )


def prepare_roll(raw: pl.DataFrame, *, by_name: Mapping[str, str], prefixes: list[str]) -> pl.DataFrame:
    """Normalise community-roll rows.

    The community comes from a 社区代码 column,
    else a 社区 name known to the register, else the code the file name starts
    with (column `file_community`).
    """
    frame = raw.with_columns(pl.lit(Side.ROLL.value).alias("side"))
    if "file_community" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("file_community"))
    frame = frame.with_columns(
        pl.coalesce(_community_code(frame, by_name, None), pl.col("file_community")).alias("community_code")
    )
    return _common(frame, prefixes)


@dataclass(frozen=True, slots=True)
class Prepared:
    """Both sides ready to link: valid rows, located, keyed and numbered (`idx`), and what was set aside.

    Each record carries `record_key`, `fingerprint` and `person_key` (`reconcile.keys`).
    """

    register: pl.DataFrame
    roll: pl.DataFrame
    quarantine: pl.DataFrame
    """Rows of either side that could not go on, with the contract's reason (`schemas.records`)."""
    vacant: pl.DataFrame
    """Roll rows recording a flat as empty (also in `quarantine`): lineage, community, grid, flat and parts."""


def _indexed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_row_index("idx").with_columns(pl.col("idx").cast(pl.Int64))


@dataclass(frozen=True, slots=True)
class Context:
    """What row normalisation depends on besides the row itself: the same context, the same output row.

    Learnt from the whole register (`context_of`); the current year bounds birth years in ID numbers.
    """

    prefixes: tuple[str, ...]
    by_name: Mapping[str, str]
    year: int

    def digest(self) -> str:
        """A digest of the context and the normaliser's version: normalised rows cached under it stay valid."""
        text = json.dumps(
            [NORMALISER_VERSION, pl.__version__, list(self.prefixes), sorted(self.by_name.items()), self.year],
            ensure_ascii=False,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


NORMALISER_VERSION = 1
"""Raise when row normalisation changes what it writes: rows cached by an earlier version are then ignored."""


def context_of(raw_register: pl.DataFrame, *, today: dt.date | None = None) -> Context:
    """The context rows of both sides are normalised in, from the raw register."""
    return Context(
        prefixes=tuple(prefixes_of(raw_register)),
        by_name=community_names(raw_register),
        year=(today or dt.date.today()).year,
    )


def normalise_register(raw: pl.DataFrame, context: Context) -> pl.DataFrame:
    """`prepare_register` in `context`: row-local apart from `household_key` (see `with_household_key`)."""
    return prepare_register(raw, prefixes=list(context.prefixes), by_name=context.by_name)


def normalise_roll(raw: pl.DataFrame, context: Context) -> pl.DataFrame:
    """`prepare_roll` in `context`: row-local."""
    return prepare_roll(raw, by_name=context.by_name, prefixes=list(context.prefixes))


def with_household_key(register: pl.DataFrame) -> pl.DataFrame:
    """(Re)compute `household_key`, the one normalised column that depends on a row's lineage."""
    return register.with_columns(_household_key())


def prepare(
    raw_register: pl.DataFrame,
    raw_rolls: pl.DataFrame,
    *,
    secret: bytes,
    today: dt.date | None = None,
    step: Callable[[], None] = lambda: None,
) -> Prepared:
    """Raw rows of both sides (all strings, with lineage) to prepared records: the one way in, for runs and tests.

    Normalises each row (`normalise_register`, `normalise_roll` in the `context_of` the register), then
    `finish`es. `step` is called after each of four steps (progress reporting).
    """
    context = context_of(raw_register, today=today)
    step()
    register = normalise_register(raw_register, context)
    step()
    roll = normalise_roll(raw_rolls, context)
    return finish(register, roll, secret=secret, step=step)


class Placed(NamedTuple):
    """Both sides validated and located, not yet keyed (`place`); what was set aside."""

    register: pl.DataFrame
    roll: pl.DataFrame
    quarantine: pl.DataFrame
    vacant: pl.DataFrame


def place(register_rows: pl.DataFrame, roll_rows: pl.DataFrame) -> Placed:
    """Validate, set aside empty flats, place roll addresses in the register's dwellings.

    Rows failing the row contracts are quarantined; roll rows recording an empty flat are located, then set
    aside; each roll address is placed in the register's dwellings (`reconcile.dwelling.locate`).
    """
    register, register_q = split_valid(register_rows, RegisterRecord, REGISTER)
    del register_rows  # the rows as given are let go once the valid ones are chosen (when the caller keeps none)
    note = pl.col("note") if "note" in roll_rows.columns else pl.lit(None, dtype=pl.String)
    vacancy = is_vacancy(pl.col("name_raw"), note, pl.col("id_raw")) & pl.col("address_raw").is_not_null()
    vacant_rows = roll_rows.filter(vacancy)
    roll, roll_q = split_valid(roll_rows.filter(~vacancy) if vacant_rows.height else roll_rows, RollRecord, ROLL)
    del roll_rows
    if vacant_rows.height:  # rows recording an empty flat are located with the people, then set aside
        register, located = locate(register, pl.concat([roll, vacant_rows], how="diagonal_relaxed"))
        roll, vacant = located.head(roll.height), located.tail(vacant_rows.height)
    else:
        register, roll = locate(register, roll)
        vacant = roll.clear()
    vacancy_q = quarantine_rows(
        vacant_rows,
        ROLL,
        reasons=[Quarantine.VACANT_FLAT.value] * vacant_rows.height,
        details=["flat recorded as empty"] * vacant_rows.height,
    )
    return Placed(
        register,
        roll,
        pl.concat([register_q, roll_q, vacancy_q]),
        vacant.select(*LINEAGE, "community_code", "grid", "flat", "flat_candidates", *PARTS),
    )


def keyed(frame: pl.DataFrame, side: Side, *, secret: bytes) -> pl.DataFrame:
    """Placed records of one side, keyed and numbered (`idx`); sides are keyed independently.

    Record keys, fingerprints and person keys (`reconcile.keys`), digests keyed with `secret` (`services.digest_key`).
    """
    add_keys = register_keys if side is Side.REGISTER else roll_keys
    return _indexed(add_keys(frame, secret=secret))


def finish(
    register_rows: pl.DataFrame,
    roll_rows: pl.DataFrame,
    *,
    secret: bytes,
    step: Callable[[], None] = lambda: None,
) -> Prepared:
    """Normalised rows of both sides to prepared records: what needs all rows at once (`place`, then `keyed`).

    `step` is called once placed (progress reporting).
    """
    placed = place(register_rows, roll_rows)
    step()
    return Prepared(
        register=keyed(placed.register, Side.REGISTER, secret=secret),
        roll=keyed(placed.roll, Side.ROLL, secret=secret),
        quarantine=placed.quarantine,
        vacant=placed.vacant,
    )
