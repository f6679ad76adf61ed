"""Evidence on lone records, and how well the roll covers each building: what a worker should know before a visit.

A 户在人不在 record says only that nobody in the roll was linked to the person. Whether that means the family has
gone or the community never knocked on the door is in the data already: does the roll record someone else at the
registered flat, or the flat as empty, or other flats of the building but not this one, or nothing of the
building at all? A 人在户不在 record is either registered elsewhere in the city (a link found it), has a namesake
registered elsewhere (a hint to search, never a link), or is from outside the extract.

Every lone record (status absent or unregistered) gets exactly one `Evidence`, the first that holds in
`Evidence`'s order of strength below (`REGISTER_ORDER`, `ROLL_ORDER`).
"""

from __future__ import annotations

import polars as pl

from reconcile.dates import parse_date_column
from reconcile.frames import Frame, collect
from reconcile.most_common import most_common
from schemas.codes import DecidedBy, Evidence, Side, Status

EVIDENCE_SCHEMA: dict[str, pl.DataType] = {
    "side": pl.String(),
    "idx": pl.Int64(),
    "evidence": pl.String(),
    "others_at_flat": pl.Int32(),
    "others_since": pl.Date(),
    "hint_community": pl.String(),
}
"""One row per lone record: its evidence, how many others the roll records at its flat and since when, and the
community of a namesake (for `Evidence.NAMESAKE_ELSEWHERE`)."""

COVERAGE_SCHEMA: dict[str, pl.DataType] = {
    "community_code": pl.String(),
    "grid": pl.String(),
    "building": pl.String(),
    "flats_registered": pl.Int32(),
    "flats_recorded": pl.Int32(),
    "persons_registered": pl.Int32(),
    "persons_recorded": pl.Int32(),
    "visited": pl.Boolean(),
}

COVERAGE_ORDER = tuple(COVERAGE_SCHEMA)
"""The order of `coverage`'s rows (nulls last): by community first, so communities' coverage concatenates in order;
by every column, so two buildings whose labels read alike (`building_label`) keep one order from night to night."""

VACANCY_WORDS = ("空置", "空房", "空关", "空户", "闲置", "无人居住", "无人住", "未住人")
"""What community workers write for a flat where nobody lives, in the name or the remark column (a name may also
be a bare 空, a remark may not: 空军 is no vacancy)."""

MAX_NAMESAKES = 3
"""More namesakes than this are no hint (王伟 is registered in every community)."""


def is_vacancy(name_raw: pl.Expr, note: pl.Expr, id_raw: pl.Expr) -> pl.Expr:
    """True for a roll row that records an empty flat: no ID, and a vacancy word as its name or remark.

    >>> frame = pl.DataFrame({"name_raw": ["（空置）", "张伟", None, "空", None, "空"],
    ...                       "note": [None, "空置", "无人居住", None, "空军退休", None],
    ...                       "id_raw": [None, None, None, "330282199001011234", None, None]})
    >>> frame.select(is_vacancy(pl.col("name_raw"), pl.col("note"), pl.col("id_raw"))).to_series().to_list()
    [True, False, True, False, False, True]
    """
    words = "|".join(VACANCY_WORDS)
    bare = name_raw.str.replace_all(r"[\s()（）\[\]【】]", "")
    vacant_name = bare.str.contains(f"^(?:{words}|空)$")
    vacant_note = note.str.contains(words)
    no_id = id_raw.is_null() | (id_raw.str.strip_chars() == "")
    return (no_id & (vacant_name.fill_null(False) | (name_raw.is_null() & vacant_note.fill_null(False)))).fill_null(
        False
    )


def building_key(prefix: str = "") -> pl.Expr:
    """The building a located address is in: community, class, place and building (null without a building)."""
    parts = [pl.col(f"{prefix}{c}") for c in ("community_code", "dw_class", "dw_place", "dw_building")]
    return pl.when(pl.col(f"{prefix}dw_building").is_not_null()).then(
        pl.concat_str(parts, separator="|", ignore_nulls=True)
    )


def building_label() -> pl.Expr:
    """A building as a worker names it: 紫荆公寓32幢, or 西三村10组 for a rural group."""
    marker = pl.when(pl.col("dw_class") == "R").then(pl.lit("组")).otherwise(pl.lit("幢"))
    return pl.concat_str([pl.col("dw_place").fill_null(""), pl.col("dw_building"), marker])


def building_grids(roll: pl.LazyFrame) -> pl.LazyFrame:
    """(building, grid): the grid most of a building's roll records name; buildings the roll never names are absent.

    A register record has no grid; its building's grid says which grid worker would visit it.
    """
    located = roll.select(building_key().alias("building"), pl.col("grid").cast(pl.String)).drop_nulls("building")
    return most_common(located, "building", "grid")


def named_flats(frame: pl.LazyFrame) -> pl.LazyFrame:
    """One row per flat each roll row may name: its flat, or every registered flat an incomplete address fits.

    An address written without its 单元 (or compound) that fits several registered flats (`flat_candidates`,
    `reconcile.dwelling.resolve_flats`) may name any of them: none of them is "not in the roll".
    """
    if "flat_candidates" not in frame.collect_schema():
        return frame
    may_name = (
        pl.when(pl.col("flat_candidates").list.len() > 0)
        .then(pl.col("flat_candidates"))
        .otherwise(pl.concat_list(pl.col("flat")))
    )
    return frame.with_columns(may_name.alias("flat")).drop("flat_candidates").explode("flat")


def _recorded_at(roll: pl.LazyFrame, vacant: pl.DataFrame) -> pl.LazyFrame:
    """Every roll row placed in a building, once per flat it may name (`named_flats`).

    Flat, building and 登记日期 as written, for persons and vacancy rows.
    """
    columns = roll.collect_schema()
    written = pl.col("recorded_raw").cast(pl.String) if "recorded_raw" in columns else pl.lit(None, pl.String)
    candidates = [c for c in ("flat_candidates",) if c in columns]
    people = roll.select("idx", "flat", *candidates, building_key().alias("building"), written.alias("recorded_raw"))
    empty = vacant.lazy().select(
        pl.lit(None, dtype=pl.Int64).alias("idx"),
        "flat",
        *[c for c in candidates if c in vacant.columns],
        building_key().alias("building"),
        pl.lit(None, dtype=pl.String).alias("recorded_raw"),
    )
    return pl.concat(
        [
            named_flats(people).with_columns(pl.lit(False).alias("vacant")),
            named_flats(empty).with_columns(pl.lit(True).alias("vacant")),
        ],
        how="diagonal_relaxed",
    )


def _register_evidence(
    statuses: pl.LazyFrame, register: pl.LazyFrame, roll: pl.LazyFrame, vacant: pl.DataFrame
) -> pl.LazyFrame:
    """Evidence for the lone register records (户在人不在)."""
    recorded = _recorded_at(roll, vacant)
    family_at = (  # roll records linked to someone of a household: that family lives there
        statuses.filter(pl.col("side") == Side.ROLL.value).select("idx", "linked_household").drop_nulls()
    )
    lone = statuses.filter((pl.col("side") == Side.REGISTER.value) & (pl.col("status") == Status.ABSENT.value)).select(
        "idx", "other_community_code"
    )
    reg = lone.join(
        register.select("idx", "flat", "household_key", building_key().alias("building"), "dw_room", "dw_class"),
        on="idx",
    )
    people = recorded.filter(~pl.col("vacant")).join(family_at, on="idx", how="left")
    at_flat = collect(
        reg.select("idx", "flat", "household_key").join(
            people.select(pl.col("idx").alias("lid"), "flat", "recorded_raw", "linked_household"), on="flat"
        )
    )
    at_flat_since = (  # dates parsed only for the people at these flats, not the whole roll
        at_flat.lazy()
        .with_columns(parse_date_column(at_flat["recorded_raw"])[0].alias("recorded"))
        .group_by("idx")
        .agg(
            (pl.col("linked_household") != pl.col("household_key")).fill_null(True).sum().alias("others"),
            (pl.col("linked_household") == pl.col("household_key")).fill_null(False).sum().alias("family"),
            pl.col("recorded")
            .filter((pl.col("linked_household") != pl.col("household_key")).fill_null(True))
            .min()
            .alias("others_since"),
        )
    )
    empty_flats = recorded.filter("vacant").select("flat").unique()
    buildings = recorded.drop_nulls("building").select("building").unique()
    out = (
        reg.join(at_flat_since, on="idx", how="left")
        .join(empty_flats.with_columns(pl.lit(True).alias("empty")), on="flat", how="left")
        .join(buildings.with_columns(pl.lit(True).alias("visited")), on="building", how="left")
    )
    evidence = (
        pl.when(pl.col("other_community_code").is_not_null())
        .then(pl.lit(Evidence.LIVES_ELSEWHERE.value))
        .when(pl.col("building").is_null() | pl.col("flat").is_null())
        .then(pl.lit(Evidence.ADDRESS_UNKNOWN.value))
        .when(pl.col("others").fill_null(0) > 0)
        .then(pl.lit(Evidence.OTHERS_AT_FLAT.value))
        .when(pl.col("family").fill_null(0) > 0)
        .then(pl.lit(Evidence.FAMILY_AT_FLAT.value))
        .when(pl.col("empty").fill_null(False))
        .then(pl.lit(Evidence.FLAT_EMPTY.value))
        .when(pl.col("visited").fill_null(False))
        .then(pl.lit(Evidence.FLAT_MISSED.value))
        .otherwise(pl.lit(Evidence.BUILDING_UNVISITED.value))
    )
    return out.select(
        pl.lit(Side.REGISTER.value).alias("side"),
        "idx",
        evidence.alias("evidence"),
        pl.col("others").fill_null(0).cast(pl.Int32).alias("others_at_flat"),
        "others_since",
        pl.lit(None, dtype=pl.String).alias("hint_community"),
    )


NAMESAKE_COLUMNS = ("community_code", "name", "sex", "birth")
"""What the namesake hint reads of an unplaced register record (`namesakes`)."""


def namesakes(register: Frame, links: Frame, duplicates: Frame) -> pl.LazyFrame:
    """The register records a lone roll record's namesake is looked for among (`NAMESAKE_COLUMNS`), city-wide.

    Those 户在人不在 with no link at all: active, no duplicate and in no link. The statuses say the same (absent,
    no other community: `reconcile.classify`) for records as the pipeline makes them (`active` and
    `community_code` never null: `schemas.records`; links only between records that exist); this reads no
    statuses, so findings made a few communities at a time (`reconcile.by_community`) look among the whole
    city's. `duplicates` are both sides' (side, idx, primary).
    """
    register = register.lazy()
    register_duplicates = duplicates.lazy().filter(pl.col("side") == Side.REGISTER.value)
    return (
        register.filter(pl.col("active"))
        .join(register_duplicates.select("idx"), on="idx", how="anti")
        .join(links.lazy().select(pl.col("rid").alias("idx")), on="idx", how="anti")
        .select(NAMESAKE_COLUMNS)
    )


def _roll_evidence(statuses: pl.LazyFrame, roll: pl.LazyFrame, unplaced: pl.LazyFrame) -> pl.LazyFrame:
    """Evidence for the lone roll records (人在户不在): linked elsewhere, a namesake elsewhere, or from outside."""
    lone = statuses.filter((pl.col("side") == Side.ROLL.value) & (pl.col("status") == Status.UNREGISTERED.value))
    rol = lone.select("idx", "other_community_code").join(
        roll.select("idx", "community_code", "name", "sex", "birth"), on="idx"
    )
    candidates = unplaced.select(
        pl.col("community_code").alias("r_comm"), "name", pl.col("sex").alias("r_sex"), pl.col("birth").alias("r_birth")
    )
    agrees = (
        (pl.col("r_comm") != pl.col("community_code"))
        & (pl.col("sex").is_null() | pl.col("r_sex").is_null() | (pl.col("sex") == pl.col("r_sex")))
        & (
            pl.col("birth").is_null()
            | pl.col("r_birth").is_null()
            | (pl.col("birth").dt.year() == pl.col("r_birth").dt.year())
        )
    )
    namesakes = (
        rol.filter(pl.col("other_community_code").is_null() & pl.col("name").is_not_null())
        .join(candidates, on="name")
        .filter(agrees)
        .group_by("idx")
        .agg(pl.len().alias("n"), pl.col("r_comm").mode().sort().first().alias("hint_community"))
        .filter(pl.col("n") <= MAX_NAMESAKES)
    )
    out = rol.join(namesakes.select("idx", "hint_community"), on="idx", how="left")
    evidence = (
        pl.when(pl.col("other_community_code").is_not_null())
        .then(pl.lit(Evidence.REGISTERED_ELSEWHERE.value))
        .when(pl.col("hint_community").is_not_null())
        .then(pl.lit(Evidence.NAMESAKE_ELSEWHERE.value))
        .otherwise(pl.lit(Evidence.NOT_IN_EXTRACT.value))
    )
    return out.select(
        pl.lit(Side.ROLL.value).alias("side"),
        "idx",
        evidence.alias("evidence"),
        pl.lit(None, dtype=pl.Int32).alias("others_at_flat"),
        pl.lit(None, dtype=pl.Date).alias("others_since"),
        "hint_community",
    )


def evidence(
    statuses: Frame,
    register: Frame,
    roll: Frame,
    links: Frame,
    vacant: pl.DataFrame | None = None,
    *,
    unplaced: Frame,
) -> pl.DataFrame:
    """Evidence for every lone record (`EVIDENCE_SCHEMA`), from tonight's statuses and both sides' located records.

    `statuses` is `reconcile.classify.classify`'s output, `links` tonight's links (rid, lid, decided_by); `vacant`
    holds the roll's rows recording a flat as empty (community_code, flat and the `reconcile.dwelling.PARTS`);
    `unplaced` the register records namesakes are looked for among: the whole city's `namesakes`.
    """
    register, roll = register.lazy(), roll.lazy()
    if vacant is None:
        vacant = collect(roll.clear().select("community_code", "flat", "dw_class", "dw_place", "dw_building"))
    linked_household = (
        links.lazy()
        .filter(pl.col("decided_by") != DecidedBy.REVIEW.value)
        .join(register.select(pl.col("idx").alias("rid"), pl.col("household_key").alias("linked_household")), on="rid")
        .select(pl.lit(Side.ROLL.value).alias("side"), pl.col("lid").alias("idx"), "linked_household")
    )
    with_household = statuses.lazy().join(linked_household, on=["side", "idx"], how="left")
    found = pl.concat(
        [
            _register_evidence(with_household, register, roll, vacant),
            _roll_evidence(with_household, roll, unplaced.lazy()),
        ]
    )
    return collect(found.cast(EVIDENCE_SCHEMA).sort("side", "idx"))  # type: ignore[arg-type]


def coverage(register: Frame, roll: Frame, vacant: pl.DataFrame | None = None) -> pl.DataFrame:
    """Roll coverage per building (`COVERAGE_SCHEMA`): flats and persons registered against those recorded.

    A registered flat is recorded when a roll row may name it (a person or a vacancy; `named_flats`); a building is
    `visited` when
    any roll row names it, a registered flat or not (the rule of `Evidence.BUILDING_UNVISITED`). Its grid is the
    grid most of its roll rows name (null when the roll records nothing there).
    """
    register, roll = register.lazy(), roll.lazy()
    active = pl.col("active") if "active" in register.collect_schema() else pl.lit(True)
    reg = register.filter(active).select(
        "community_code", "flat", building_key().alias("building"), building_label().alias("label")
    )
    candidates = [c for c in ("flat_candidates",) if c in roll.collect_schema()]
    people = roll.select("flat", *candidates, "grid", building_key().alias("building"), pl.lit(True).alias("person"))
    if vacant is not None and vacant.height:
        empty = vacant.lazy().select(
            "flat",
            *[c for c in candidates if c in vacant.columns],
            pl.lit(None, dtype=pl.String).alias("grid"),
            building_key().alias("building"),
            pl.lit(False).alias("person"),
        )
        people = pl.concat([people, empty], how="diagonal_relaxed")
    registered = (
        reg.drop_nulls("building")
        .group_by("building")
        .agg(
            pl.col("community_code").first(),
            pl.col("label").first().alias("label"),
            pl.col("flat").n_unique().alias("flats_registered"),
            pl.len().alias("persons_registered"),
        )
    )
    registered_flats = reg.select("flat").unique().with_columns(pl.lit(True).alias("registered_flat"))
    flats_recorded = (
        named_flats(people.drop_nulls("building"))
        .join(registered_flats, on="flat")
        .group_by("building")
        .agg(pl.col("flat").n_unique().alias("flats_recorded"))
    )
    recorded = (
        people.drop_nulls("building")
        .group_by("building")
        .agg(
            pl.col("grid").drop_nulls().mode().sort().first().alias("grid"),
            pl.col("person").sum().alias("persons_recorded"),
            pl.lit(True).alias("visited"),
        )
        .join(flats_recorded, on="building", how="left")
    )
    return collect(
        registered.join(recorded, on="building", how="left")
        .select(
            "community_code",
            "grid",
            pl.col("label").alias("building"),
            "flats_registered",
            pl.col("flats_recorded").fill_null(0),
            "persons_registered",
            pl.col("persons_recorded").fill_null(0),
            pl.col("visited").fill_null(False),
        )
        .sort(COVERAGE_ORDER, nulls_last=True)
        .cast(COVERAGE_SCHEMA)  # type: ignore[arg-type]
    )
