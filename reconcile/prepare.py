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
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, NamedTuple

import polars as pl

from reconcile import address, idnumber, names
from reconcile.dates import parse_date_column
from reconcile.ditto import FROM_ABOVE
from reconcile.dwelling import PARTS, gazetteer, locate_register, locate_roll, registered_flats
from reconcile.evidence import is_vacancy
from reconcile.keys import record_keys, with_keys
from reconcile.lookups import Lookups, mapped_once
from reconcile.most_common import most_common
from schemas.codes import Issue, Quarantine, Side
from schemas.inputs import COMMUNITY_CODE, LINEAGE, REGISTER, ROLL
from schemas.records import RegisterRecord, RollRecord, lineage_text, quarantine_rows, split_valid

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

_SEX_CODES = {"男": "男", "女": "女", "1": "男", "2": "女", "男性": "男", "女性": "女", "M": "男", "F": "女"}


def _names(frame: pl.DataFrame, raw: str, out: str, lookups: Lookups) -> pl.DataFrame:
    def norm(values: pl.Series) -> pl.DataFrame:
        folded = (names.fold(v) for v in values.to_list())
        return pl.DataFrame({"name": pl.Series([names.simplified(f) if f else None for f in folded], dtype=pl.String)})

    # Once per distinct name a night (`Lookups`): names repeat across batches and between the sides.
    return frame.with_columns(lookups.mapped("name", frame[raw], norm)["name"].alias(out))


def _pinyin(frame: pl.DataFrame, lookups: Lookups) -> pl.DataFrame:
    def keys(values: pl.Series) -> pl.DataFrame:
        surname = names.surnames(values)
        return pl.DataFrame(
            {
                "name_py": names.pinyin_keys(values),
                "surname": surname,
                "name_shape": names.shape_keys(values),
                "surname_py": names.pinyin_keys(surname),
            }
        )

    return pl.concat([frame, lookups.mapped("pinyin", frame["name"], keys)], how="horizontal")


def _ids(frame: pl.DataFrame) -> pl.DataFrame:
    parsed = idnumber.parse_column(frame["id_raw"])
    return pl.concat([frame, parsed], how="horizontal")


def _dates(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(parsed dates, True where text was present but unparsable)."""
    return parse_date_column(series)


def _addresses(frame: pl.DataFrame, prefixes: address.Prefixes | Sequence[str]) -> pl.DataFrame:
    # Mapped on the address column alone and put beside the rows: joining the rows would copy every column.
    # Not kept for later batches (`Lookups`): an address seldom repeats outside its batch (a household's rows are
    # together), and searching a prefecture's addresses costs each batch more than parsing its own again.
    parsed = mapped_once(frame["address_raw"], lambda values: address.parse_column(values, prefixes))
    return frame.with_columns(parsed)


def _issue(cond: pl.Expr, issue: Issue) -> pl.Expr:
    return pl.when(cond).then(pl.lit(issue.value)).otherwise(None)


def _common(frame: pl.DataFrame, prefixes: address.Prefixes | Sequence[str], lookups: Lookups) -> pl.DataFrame:
    """Lineage, names, ID numbers, birth dates, sex and addresses; shared by both sides."""
    if "source_sheet" not in frame.columns:  # frames built by hand; the readers always name the sheet (null for CSV)
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("source_sheet"))
    frame = _names(frame, "name_raw", "name", lookups)
    frame = _pinyin(frame, lookups)
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
        "rounded": Issue.ID_ROUNDED,
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
    if FROM_ABOVE in frame.columns:
        issues.append(_issue(pl.col(FROM_ABOVE).fill_null(False), Issue.ADDRESS_FROM_ABOVE))
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


_COMMITTEE = re.compile(r"(?:居民委员会|居委会|(村)民委员会|(村)委会)$")


def community_of(committee: str) -> str:
    """A community's name from its committee's (河洪社区居委会 → 河洪社区, 红礁村委会 → 红礁村), as addresses write it.

    >>> community_of("河洪社区居委会"), community_of("红礁村民委员会"), community_of("金山社区")
    ('河洪社区', '红礁村', '金山社区')
    """
    return _COMMITTEE.sub(lambda m: m[1] or m[2] or "", committee)


def prefixes_of(raw_register: pl.DataFrame, *, sample: int = 20_000) -> address.Prefixes:
    """The administrative prefixes addresses start with (city, street, community), learnt from the register.

    `sample` distinct addresses are enough to learn them and keep this fast on a prefecture. They are spread
    evenly over the sorted distinct addresses, so every street and community is sampled, and the same
    register gives the same prefixes whatever its row order.
    """
    anchors = set(raw_register["street"].drop_nulls().unique().to_list())
    anchors |= {community_of(name) for name in raw_register["community_name"].drop_nulls().unique().to_list()}
    distinct = raw_register["address_raw"].drop_nulls().unique().sort()
    spread = distinct.gather_every(max(1, -(-distinct.len() // sample))) if sample > 0 else distinct.clear()
    return address.admin_prefixes(spread.to_list(), anchors)


def _community_code(frame: pl.DataFrame, by_name: Mapping[str, str], fallback: str | None) -> pl.Expr:
    from_code = pl.when(pl.col("community_code_raw").str.contains(COMMUNITY_CODE)).then(pl.col("community_code_raw"))
    from_name = pl.col("community_name").str.replace_all(r"\s", "").replace_strict(dict(by_name), default=None)
    return pl.coalesce(from_code, from_name, pl.lit(fallback, dtype=pl.String))


def _household_key(multi_sheet: Collection[str] | None = None) -> pl.Expr:
    # A row without a household number is a household of its own.
    return pl.coalesce(pl.col("household_no"), pl.format("~{}", lineage_text(multi_sheet))).alias("household_key")


def prepare_register(
    raw: pl.DataFrame,
    *,
    prefixes: address.Prefixes | Sequence[str],
    by_name: Mapping[str, str] | None = None,
    lookups: Lookups | None = None,
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
    lookups = lookups or Lookups()
    frame = _common(frame, prefixes, lookups)
    frame = _names(frame, "former_name_raw", "former_name", lookups)
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


def prepare_roll(
    raw: pl.DataFrame,
    *,
    by_name: Mapping[str, str],
    prefixes: address.Prefixes | Sequence[str],
    lookups: Lookups | None = None,
) -> pl.DataFrame:
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
    return _common(frame, prefixes, lookups or Lookups())


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


def numbered(frame: pl.DataFrame, *, start: int = 0) -> pl.DataFrame:
    """Records with `idx`, their number in the side from `start` (a part of a side starts where the last ended)."""
    return frame.with_row_index("idx", offset=start).with_columns(pl.col("idx").cast(pl.Int64))


@dataclass(frozen=True, slots=True)
class Context:
    """What row normalisation depends on besides the row itself: the same context, the same output row.

    Learnt from the whole register (`context_of`); the current year bounds birth years in ID numbers.
    """

    prefixes: address.Prefixes
    by_name: Mapping[str, str]
    year: int

    def digest(self) -> str:
        """A digest of the context: normalised rows cached under it (by the same code) stay valid."""
        text = json.dumps([asdict(self.prefixes), sorted(self.by_name.items()), self.year], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def context_of(raw_register: pl.DataFrame, *, today: dt.date | None = None) -> Context:
    """The context rows of both sides are normalised in, from the raw register."""
    return Context(
        prefixes=prefixes_of(raw_register),
        by_name=community_names(raw_register),
        year=(today or dt.date.today()).year,
    )


def normalise_register(raw: pl.DataFrame, context: Context, *, lookups: Lookups | None = None) -> pl.DataFrame:
    """`prepare_register` in `context`: row-local apart from `household_key` (see `with_household_key`).

    `lookups`: values mapped by earlier calls in the same context (`reconcile.lookups`), shared to map each once.
    """
    return prepare_register(raw, prefixes=context.prefixes, by_name=context.by_name, lookups=lookups)


def normalise_roll(raw: pl.DataFrame, context: Context, *, lookups: Lookups | None = None) -> pl.DataFrame:
    """`prepare_roll` in `context`: row-local (`lookups` as in `normalise_register`)."""
    return prepare_roll(raw, by_name=context.by_name, prefixes=context.prefixes, lookups=lookups)


def with_household_key(register: pl.DataFrame, *, multi_sheet: Collection[str] | None = None) -> pl.DataFrame:
    """(Re)compute `household_key`, the one normalised column that depends on a row's lineage.

    `multi_sheet`: the register's files with rows from several sheets (`schemas.records.multi_sheet_files`
    of all its rows), when `register` holds only some of them.
    """
    return register.with_columns(_household_key(multi_sheet))


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


class Settled(NamedTuple):
    """One side's normalised rows sorted by the row contracts (`settle`)."""

    valid: pl.DataFrame
    vacant: pl.DataFrame
    """Roll rows recording a flat as empty, not yet located (none on the register)."""
    quarantine: pl.DataFrame
    """Rows failing a row contract, with the reason (`schemas.records.split_valid`)."""


def settle(rows: pl.DataFrame, side: Side) -> Settled:
    """Which normalised rows of a side go on: the row contracts, and the roll's empty flats set aside.

    Row by row, so a side may be settled in parts.
    """
    if side is Side.REGISTER:
        valid, failed = split_valid(rows, RegisterRecord, REGISTER)
        return Settled(valid, rows.clear(), failed)
    note = pl.col("note") if "note" in rows.columns else pl.lit(None, dtype=pl.String)
    vacancy = is_vacancy(pl.col("name_raw"), note, pl.col("id_raw")) & pl.col("address_raw").is_not_null()
    vacant = rows.filter(vacancy)
    valid, failed = split_valid(rows.filter(~vacancy) if vacant.height else rows, RollRecord, ROLL)
    return Settled(valid, vacant, failed)


VACANT_COLUMNS = (*LINEAGE, "community_code", "grid", "flat", "flat_candidates", *PARTS)
"""What is kept of a roll row recording an empty flat, once located (`Placed.vacant`)."""


def vacancies(
    vacant: pl.DataFrame, places: dict[str, list[str]], flats: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(roll rows recording an empty flat, located: `VACANT_COLUMNS`; their quarantine rows)."""
    located = locate_roll(vacant, places, flats).select(VACANT_COLUMNS)
    quarantine = quarantine_rows(
        vacant,
        ROLL,
        reasons=[Quarantine.VACANT_FLAT.value] * vacant.height,
        details=["flat recorded as empty"] * vacant.height,
    )
    return located, quarantine


def place(register_rows: pl.DataFrame, roll_rows: pl.DataFrame) -> Placed:
    """Validate, set aside empty flats, place roll addresses in the register's dwellings.

    Rows failing the row contracts are quarantined (`settle`); roll rows recording an empty flat are located,
    then set aside; each roll address is placed in the register's dwellings (`reconcile.dwelling.locate_roll`).
    """
    register = settle(register_rows, Side.REGISTER)
    roll = settle(roll_rows, Side.ROLL)
    # The rows as given are let go once the valid ones are chosen (when the caller keeps none).
    del register_rows, roll_rows
    places = gazetteer(register.valid)
    located = locate_register(register.valid, places)
    flats = registered_flats(located)
    vacant, vacancy_q = vacancies(roll.vacant, places, flats)
    return Placed(
        located,
        locate_roll(roll.valid, places, flats),
        pl.concat([register.quarantine, roll.quarantine, vacancy_q]),
        vacant,
    )


def keyed(frame: pl.DataFrame, side: Side, *, secret: bytes) -> pl.DataFrame:
    """Placed records of one side, keyed and numbered (`idx`); sides are keyed independently.

    Record keys, fingerprints and person keys (`reconcile.keys`), digests keyed with `secret` (`services.digest_key`).
    """
    return numbered(with_keys(frame, record_keys(frame, side, secret=secret), secret=secret))


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
