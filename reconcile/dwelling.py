"""Dwellings: how two addresses of one community relate, and the registered flat a roll address names.

Community workers write the flat they stand in front of, rarely the register's
full form (contract §1.4). An address is reduced to five parts — its class
(urban flat or door, rural group), place, building, unit and room — and two
addresses are graded part by part:

- `Grade.SAME_FLAT`: every part agrees, and what one leaves out the other does too;
- `Grade.COMPATIBLE`: nothing both state differs, one simply leaves out the
  单元 or the compound (prefixes, the 室 suffix and a shortened compound name
  are folded before grading);
- `Grade.SAME_BUILDING`: place and building agree, the unit or room differs;
- `Grade.OTHER_BUILDING`: the class, place or building differs;
- `Grade.UNKNOWN`: one of them names no flat: no address, no building or no
  door where the other states one, or text the parser cannot read.

Prefixes, numerals, full-width digits, markers (幢/栋/号楼/座/#, 室/号/房) are
folded by `reconcile.address.parse`; shortened compound names are mapped to the
register's spelling within the community (the register is the gazetteer), so
城东东区 and 城东新村东区 meet as one place. This grade is the one definition
of "the same dwelling": the comparison levels, household evidence, dwelling
grouping, statuses and the summary all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import polars as pl

from reconcile.address import COMPOUND_SUFFIXES, place_matches
from reconcile.names import pinyin_key


class Grade(IntEnum):
    """How two addresses of one community relate, best first."""

    SAME_FLAT = 4
    COMPATIBLE = 3
    SAME_BUILDING = 2
    OTHER_BUILDING = 1
    UNKNOWN = -1

    @property
    def lives_there(self) -> bool:
        """True where one address may name the other's flat."""
        return self >= Grade.COMPATIBLE


GRADE_LABELS: dict[Grade, str] = {
    Grade.SAME_FLAT: "同一住房",
    Grade.COMPATIBLE: "地址相容(有省略)",
    Grade.SAME_BUILDING: "同楼另一套",
    Grade.OTHER_BUILDING: "另一楼幢",
    Grade.UNKNOWN: "住址不明",
}

PARTS = ("dw_class", "dw_place", "dw_building", "dw_unit", "dw_room")
"""The part columns `with_dwelling` adds, in grading order."""


@dataclass(frozen=True, slots=True)
class Parts:
    """The five parts of one address (what `with_dwelling` puts in the `PARTS` columns).

    None where the address leaves a part out.
    """

    cls: str | None
    """'U' (urban flat or door), 'R' (rural 村 + 组 + 号), None (unparsed: a place alone)."""
    place: str | None
    building: str | None
    unit: str | None = None
    room: str | None = None

    @property
    def empty(self) -> bool:
        """True when the address has no place, building, unit or room."""
        return self.place is None and self.building is None and self.unit is None and self.room is None


def grade(a: Parts | None, b: Parts | None) -> Grade:
    """How two addresses of one community relate (the reference for `grade_expr`).

    >>> full = Parts("U", "文化广场", "8", "4", "902")
    >>> grade(full, Parts("U", "文化广场", "8", None, "902")).name
    'COMPATIBLE'
    >>> grade(full, Parts("U", "文化广场", "8", "3", "902")).name
    'SAME_BUILDING'
    """
    if a is None or b is None or a.empty or b.empty:
        return Grade.UNKNOWN
    if _house(a, b) or _house(b, a):
        return Grade.COMPATIBLE
    if a.cls is not None and b.cls is not None and a.cls != b.cls:
        return Grade.OTHER_BUILDING
    for part, decisive in (("place", True), ("building", True), ("unit", False), ("room", False)):
        x, y = getattr(a, part), getattr(b, part)
        if x is not None and y is not None and x != y:
            return Grade.OTHER_BUILDING if decisive else Grade.SAME_BUILDING

    def one_sided(part: str) -> bool:
        return (getattr(a, part) is None) != (getattr(b, part) is None)

    # Only the 单元 and the compound may be left out (contract §1.4): an address that does not
    # say which building, which door or what kind of place it is names no flat.
    if one_sided("cls") or one_sided("building") or one_sided("room"):
        return Grade.UNKNOWN
    return Grade.COMPATIBLE if one_sided("unit") or one_sided("place") else Grade.SAME_FLAT


def _house(village: Parts, number: Parts) -> bool:
    """`number` is a number alone that may be the village house `village`, its 组 left out (万兴村63号, 63号).

    Village houses are often numbered across the village, and a worker writes the village and the number; read
    alone, that number is a building without a door (U). It may be the house only if it states no other place.
    """
    return (
        village.cls == "R"
        and number.cls == "U"
        and number.building is not None
        and number.unit is None
        and number.room is None
        and village.room == number.building
        and number.place in (None, village.place)
    )


def grade_expr(left: str, right: str) -> pl.Expr:
    """`grade` over columns: the part columns (`PARTS`) prefixed `left` and `right`.

    >>> frame = pl.DataFrame({
    ...     "r_dw_class": ["U", "U"], "r_dw_place": ["文化广场"] * 2, "r_dw_building": ["8", "8"],
    ...     "r_dw_unit": ["4", "4"], "r_dw_room": ["902", "902"],
    ...     "l_dw_class": ["U", "U"], "l_dw_place": ["文化广场"] * 2, "l_dw_building": ["8", "8"],
    ...     "l_dw_unit": [None, "4"], "l_dw_room": ["902", "902"]})
    >>> frame.select(grade_expr("r_", "l_"))["grade"].to_list()
    [3, 4]
    """

    def col(side: str, part: str) -> pl.Expr:
        return pl.col(f"{side}dw_{part}")

    def differs(part: str) -> pl.Expr:
        return (col(left, part) != col(right, part)).fill_null(False)

    def one_sided(part: str) -> pl.Expr:
        return col(left, part).is_null() != col(right, part).is_null()

    def empty(side: str) -> pl.Expr:
        return pl.all_horizontal(col(side, p).is_null() for p in ("place", "building", "unit", "room"))

    def house(village: str, number: str) -> pl.Expr:  # `_house`
        return (
            (col(village, "class") == "R")
            & (col(number, "class") == "U")
            & col(number, "building").is_not_null()
            & col(number, "unit").is_null()
            & col(number, "room").is_null()
            & (col(village, "room") == col(number, "building"))
            & (col(number, "place").is_null() | col(number, "place").eq_missing(col(village, "place")))
        ).fill_null(False)

    return (
        pl.when(empty(left) | empty(right))
        .then(pl.lit(int(Grade.UNKNOWN)))
        .when(house(left, right) | house(right, left))
        .then(pl.lit(int(Grade.COMPATIBLE)))
        .when(differs("class") | differs("place") | differs("building"))
        .then(pl.lit(int(Grade.OTHER_BUILDING)))
        .when(differs("unit") | differs("room"))
        .then(pl.lit(int(Grade.SAME_BUILDING)))
        .when(one_sided("class") | one_sided("building") | one_sided("room"))
        .then(pl.lit(int(Grade.UNKNOWN)))
        .when(one_sided("unit") | one_sided("place"))
        .then(pl.lit(int(Grade.COMPATIBLE)))
        .otherwise(pl.lit(int(Grade.SAME_FLAT)))
        .cast(pl.Int8)
        .alias("grade")
    )


_SUFFIX_AT_END = "(?:" + "|".join(sorted(COMPOUND_SUFFIXES, key=lambda x: (-len(x), x))) + ")$"


def stem_expr(place: pl.Expr) -> pl.Expr:
    """A place name without its compound suffix (中塘小区 → 中塘), null where it has none or is nothing else.

    >>> pl.select(stem_expr(pl.Series(["中塘小区", "中塘新村", "金山", "小区"]))).to_series().to_list()
    ['中塘', '中塘', None, None]
    """
    stem = place.str.replace(_SUFFIX_AT_END, "")
    return pl.when((stem != place) & (stem.str.len_chars() >= 2)).then(stem)


def one_stem_expr(left: str, right: str) -> pl.Expr:
    """Whether two addresses' places are one name with two compound suffixes (中塘小区 and 中塘新村).

    Never one place by `grade`: a community may hold both estates. Only a person's own link may read the one as
    the other (`reconcile.classify`): a worker wrote the estate with the suffix swapped, and the building, unit
    and room of the registered flat say which it was.
    """
    a, b = pl.col(f"{left}dw_place"), pl.col(f"{right}dw_place")
    return ((a != b) & (stem_expr(a) == stem_expr(b))).fill_null(False)


def gazetteer(register: pl.DataFrame) -> dict[str, list[str]]:
    """Place names per community code, as the register spells them."""
    rows = register.select("community_code", "place").drop_nulls().unique()
    out: dict[str, list[str]] = {}
    for code, place in rows.iter_rows():
        out.setdefault(code, []).append(place)
    return {k: sorted(v) for k, v in out.items()}


def register_spellings(known: list[str]) -> dict[str, str]:
    """Register place names that are another spelling of a registered name of the same community.

    They are mapped to one spelling: names that read the same (教场山欣村,
    教场山新村) become one, then a name that is exactly one longer name without its
    compound suffix (教场山 for 教场山新村) becomes that name. Two names that differ
    otherwise (城东新村, 城东新村东区) are two compounds.

    >>> register_spellings(["教场山", "教场山新村", "教场山欣村", "城东新村", "城东新村东区", "金山"])
    {'教场山欣村': '教场山新村', '教场山': '教场山新村'}
    """
    by_reading: dict[str, list[str]] = {}
    for name in known:
        by_reading.setdefault(pinyin_key(name), []).append(name)
    out = {name: min(group) for group in by_reading.values() for name in group if name != min(group)}
    spellings = sorted({min(group) for group in by_reading.values()})
    for short in spellings:
        longer = [n for n in spellings if n.startswith(short) and n[len(short) :] in COMPOUND_SUFFIXES]
        if len(longer) == 1:
            out[short] = longer[0]
    return {name: out.get(target, target) for name, target in out.items()}


def canonical_place(frame: pl.DataFrame, places: dict[str, list[str]]) -> pl.DataFrame:
    """Per row: `place_canon`, its place in the register spelling of its community, and `place_ambiguous`.

    `place_ambiguous` is true where the written name fits several registered
    places equally well (the first of them is then `place_canon`). The register's
    own other spellings count as the name they spell (`register_spellings`).
    """
    pairs = frame.select("community_code", "place").drop_nulls().unique()
    rows: list[tuple[str, str, str, bool]] = []
    for code, group in pairs.group_by("community_code"):
        known = places.get(str(code[0]), [])
        full = register_spellings(known)
        for name, found in place_matches(group["place"].to_list(), known).items():
            canon = sorted({full.get(f, f) for f in found})
            rows.append((str(code[0]), name, canon[0] if canon else name, len(canon) > 1))
    table = pl.DataFrame(
        rows,
        schema={
            "community_code": pl.String,
            "place": pl.String,
            "place_canon": pl.String,
            "place_ambiguous": pl.Boolean,
        },
        orient="row",
    )
    joined = frame.select("community_code", "place").join(
        table, on=["community_code", "place"], how="left", maintain_order="left", nulls_equal=False
    )
    return joined.select(pl.col("place_canon").fill_null(pl.col("place")), pl.col("place_ambiguous").fill_null(False))


def with_dwelling(frame: pl.DataFrame, places: dict[str, list[str]]) -> pl.DataFrame:
    """Add `place_canon`, `place_ambiguous`, the part columns (`PARTS`) and `dwelling`.

    `dwelling` is community|kind|place|building|unit|room, or the rural/door
    equivalent: the address as written, the record's own.
    """
    frame = frame.with_columns(canonical_place(frame, places))
    p = pl.col("place_canon").fill_null("")
    c = pl.col("community_code")
    kind = pl.col("addr_kind")
    flat = pl.format(
        "{}|F|{}|{}|{}|{}", c, p, pl.col("building"), pl.col("unit").fill_null(""), pl.col("room").fill_null("")
    )
    rural = pl.format("{}|R|{}|{}|{}", c, p, pl.col("group"), pl.col("number").fill_null(""))
    door = pl.format("{}|D|{}|{}|{}", c, p, pl.col("number"), pl.col("room").fill_null(""))
    dwelling = (
        pl.when(kind == "flat")
        .then(flat)
        .when(kind == "rural")
        .then(rural)
        .when(kind == "door")
        .then(door)
        .when(pl.col("place_canon").is_not_null())
        .then(pl.format("{}|O|{}", c, p))
    )
    parts = (
        pl.when(kind.is_in(["flat", "door"])).then(pl.lit("U")).when(kind == "rural").then(pl.lit("R")).alias(PARTS[0]),
        # A name that fits several registered places states none of them: the place is left out.
        pl.when(~pl.col("place_ambiguous")).then(pl.col("place_canon")).alias(PARTS[1]),
        pl.when(kind == "flat")
        .then(pl.col("building"))
        .when(kind == "rural")
        .then(pl.col("group"))
        .when(kind == "door")
        .then(pl.col("number"))
        .alias(PARTS[2]),
        pl.when(kind == "flat").then(pl.col("unit")).alias(PARTS[3]),
        pl.when(kind.is_in(["flat", "door"]))
        .then(pl.col("room"))
        .when(kind == "rural")
        .then(pl.col("number"))
        .alias(PARTS[4]),
    )
    return frame.with_columns(dwelling.alias("dwelling"), *parts)


def registered_flats(register: pl.DataFrame) -> pl.DataFrame:
    """Every registered flat once, where it first occurs: community_code, `flat` (its dwelling key) and its parts.

    Of located register records (`locate_register`); only community_code, dwelling and the parts are read.
    """
    return (
        register.filter(pl.col("dwelling").is_not_null() & pl.col("dw_class").is_not_null())
        .select("community_code", pl.col("dwelling").alias("flat"), *PARTS)
        .unique("flat", keep="first", maintain_order=True)
    )


def parts_key(prefix: str = "") -> pl.Expr:
    """One string per distinct address: community and the part columns (`prefix` names them)."""
    cols = [pl.col(f"{prefix}community_code"), *[pl.col(f"{prefix}{p}") for p in PARTS]]
    return pl.concat_str([c.fill_null("") for c in cols], separator="|")


def fitting_flats(records: pl.DataFrame, flats: pl.DataFrame) -> pl.DataFrame:
    """(address, flat, grade) for each distinct address of `records` (`parts_key`).

    Every registered flat of its community (of `flats`, `registered_flats`) that it may name (grade SAME_FLAT or
    COMPATIBLE).

    An address names a flat only with its building and door (`grade`), so
    candidates are joined on community, building and room: an address without
    its 单元 meets every unit's flat of that number and no other building's, and
    a number alone (万兴村63号) every village house of that number (`_house`).
    """
    addresses = (
        records.filter(pl.col("dw_building").is_not_null())
        .select(parts_key().alias("address"), "community_code", *PARTS)
        .unique("address")
        .rename({p: f"a_{p}" for p in PARTS})
    )
    with_room = pl.col("a_dw_room").is_not_null()

    def alone(prefix: str) -> pl.Expr:  # a number alone: a building without unit or door (`_house`)
        return (
            (pl.col(f"{prefix}dw_class") == "U")
            & pl.col(f"{prefix}dw_unit").is_null()
            & pl.col(f"{prefix}dw_room").is_null()
        )

    village = pl.col("dw_class") == "R"
    houses = [  # a number alone and a village house of that number, whichever side writes which
        addresses.filter(alone("a_"))
        .join(
            flats.filter(village), left_on=["community_code", "a_dw_building"], right_on=["community_code", "dw_room"]
        )
        .with_columns(pl.col("a_dw_building").alias("dw_room")),
        addresses.filter(pl.col("a_dw_class") == "R")
        .join(
            flats.filter(alone("")), left_on=["community_code", "a_dw_room"], right_on=["community_code", "dw_building"]
        )
        .with_columns(pl.col("a_dw_room").alias("dw_building")),
    ]
    joined = [
        addresses.filter(with_room).join(
            flats.filter(pl.col("dw_room").is_not_null()),
            left_on=["community_code", "a_dw_building", "a_dw_room"],
            right_on=["community_code", "dw_building", "dw_room"],
        ),
        # Houses and doors without a room meet the registered ones without a room.
        addresses.filter(~with_room).join(
            flats.filter(pl.col("dw_room").is_null()),
            left_on=["community_code", "a_dw_building"],
            right_on=["community_code", "dw_building"],
        ),
    ]
    candidates = pl.concat(
        [
            j.with_columns(pl.col("a_dw_building").alias("dw_building"), pl.col("a_dw_room").alias("dw_room")).select(
                "address", "flat", *[f"a_{p}" for p in PARTS], *PARTS
            )
            for j in joined
        ]
        + [h.select("address", "flat", *[f"a_{p}" for p in PARTS], *PARTS) for h in houses]
    )
    return (
        candidates.with_columns(grade_expr("a_", ""))
        .filter(pl.col("grade") >= int(Grade.COMPATIBLE))
        .select("address", "flat", "grade")
    )


def resolve_flats(roll: pl.DataFrame, flats: pl.DataFrame) -> pl.DataFrame:
    """Add `flat`, `flat_fits` and `flat_candidates` to roll records, given the registered flats (`registered_flats`).

    `flat` is the registered flat the address names — the one registered flat it
    is the same as, else the only one it is compatible with — and otherwise `~`
    and the address's parts (never a registered flat's key); `flat_fits` counts
    the registered flats it may name (0 when it names none, 2 or more when it
    leaves too much out to tell), `flat_candidates` lists them where there are several.
    """
    fits = fitting_flats(roll, flats)
    best = (
        fits.group_by("address")
        .agg(
            pl.len().cast(pl.Int32).alias("flat_fits"),
            pl.col("flat").filter(pl.col("grade") == int(Grade.SAME_FLAT)).first().alias("_same"),
            pl.col("flat").sort().alias("_fits"),
        )
        .select(
            "address",
            "flat_fits",
            pl.coalesce("_same", pl.when(pl.col("flat_fits") == 1).then(pl.col("_fits").list.first())).alias(
                "_resolved"
            ),
            pl.when(pl.col("flat_fits") > 1).then(pl.col("_fits")).alias("flat_candidates"),
        )
    )
    # Joined on the address alone, then put beside the records: joining the records would copy every column.
    placed = (
        roll.select(parts_key().alias("address"))
        .join(best, on="address", how="left", maintain_order="left")
        .select(
            pl.col("flat_fits").fill_null(0),
            "flat_candidates",
            pl.coalesce("_resolved", pl.format("~{}", "address")).alias("flat"),
        )
    )
    return roll.with_columns(placed)


def locate_register(register: pl.DataFrame, places: dict[str, list[str]]) -> pl.DataFrame:
    """Register records with their dwelling (`with_dwelling` in `places`, the register's `gazetteer`) as their flat.

    Row by row given `places`: a register may be located in parts.
    """
    return with_dwelling(register, places).with_columns(
        pl.col("dwelling").alias("flat"), pl.lit(1, dtype=pl.Int32).alias("flat_fits")
    )


def locate_roll(roll: pl.DataFrame, places: dict[str, list[str]], flats: pl.DataFrame) -> pl.DataFrame:
    """Roll records with their dwelling and the registered flat they name (`resolve_flats` among `flats`).

    Row by row given the register's `places` and `flats`: a roll may be located in parts.
    """
    return resolve_flats(with_dwelling(roll, places), flats)


def locate(register: pl.DataFrame, roll: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Dwelling columns for both sides of one run.

    `with_dwelling` with the register as gazetteer, then `flat` and `flat_fits`
    (`resolve_flats`; a register record's flat is its own registered address).
    """
    places = gazetteer(register)
    register = locate_register(register, places)
    return register, locate_roll(roll, places, registered_flats(register))
