"""Place names the register does not know, learnt from the people linked across them.

A roll may call an estate by a name no spelling rule reaches: its old name (电厂宿舍 for 东风府), a nickname, a
worker's own shorthand (马候青 for 候青小区). The people linked to their registrations tell what it means. Where
at least `LEAST` people linked within the community, written at the unknown name, live at the very building, unit
and room of a registered flat, and at least `SHARE` of those linked there do so in one registered place, the
name is that place: two estates' flats meet at one building, unit and room by chance about once in a thousand
pairs, not five times over. The records written there are then located again as if they had written that place
(`reconcile.dwelling.resolve_flats`), before any status is decided.

So too a village's groups: which natural village (自然村) a group (组) is part of is learnt from the people written
at a group's house on one side and at a natural village's house of the same number on the other
(`learnt_groups`), and such houses are located as the register writes them.
"""

from __future__ import annotations

import polars as pl

from reconcile.dwelling import PARTS, resolve_flats
from reconcile.frames import Frame, collect
from schemas.codes import DecidedBy, Issue

LEAST = 5
"""People at their registered flat an unknown name needs before it is taken for a registered place."""
GROUP_LEAST = 3
"""People written at a group's house on one side and at a natural village's house of the same number on the other
that a group needs before it is taken for part of that village: house numbers run to a hundred or so, so two
unrelated houses share their number about once in a hundred pairs, and three pairs that all do are no chance."""
SHARE = 0.5
"""Of the people linked within the community at an unknown name, the share that must live at their registered
flat in that one place (the others moved within the community, or are namesakes)."""
LOCATED = (*PARTS, "flat", "flat_fits", "flat_candidates")
"""The roll columns a learnt name or group changes."""


def learnt_places(register: Frame, roll: Frame, links: Frame) -> pl.DataFrame:
    """(community_code, dw_place, alias): each unknown roll place name and the registered place it means.

    >>> register = pl.DataFrame({"idx": range(6), "community_code": "c", "dw_class": "U", "dw_place": "东风府",
    ...     "dw_building": "14", "dw_unit": "1", "dw_room": [str(101 + i) for i in range(6)]})
    >>> roll = register.with_columns(pl.col("idx") + 10, pl.lit("电厂宿舍").alias("dw_place"),
    ...     pl.lit("~…").alias("flat"))
    >>> links = pl.DataFrame({"rid": range(6), "lid": range(10, 16), "decided_by": "auto"})
    >>> learnt_places(register, roll, links).rows()
    [('c', '电厂宿舍', '东风府')]
    """
    known = register.lazy().select("community_code", "dw_place").drop_nulls().unique()
    unknown = (
        roll.lazy()
        .filter(pl.col("flat").str.starts_with("~") & pl.col("dw_place").is_not_null())
        .join(known, on=["community_code", "dw_place"], how="anti")
        .select(pl.col("idx").alias("lid"), "community_code", *PARTS)
    )
    registered = register.lazy().select(
        pl.col("idx").alias("rid"), *[pl.col(c).alias(f"r_{c}") for c in ("community_code", *PARTS)]
    )
    confident = pl.col("decided_by").is_in([DecidedBy.AUTO.value, DecidedBy.OPERATOR.value])
    pairs = (
        links.lazy()
        .filter(confident)
        .select("rid", "lid")
        .join(unknown, on="lid")
        .join(registered, on="rid")
        .filter(pl.col("community_code") == pl.col("r_community_code"))
    )
    at_home = (
        (pl.col("dw_class") == pl.col("r_dw_class"))
        & (pl.col("dw_building") == pl.col("r_dw_building"))
        & pl.col("dw_room").eq_missing(pl.col("r_dw_room"))  # a house has no room on either side (红港沙塘88号)
        & (pl.col("dw_unit").is_null() | pl.col("r_dw_unit").is_null() | (pl.col("dw_unit") == pl.col("r_dw_unit")))
        & pl.col("r_dw_place").is_not_null()
    ).fill_null(False)
    name = ["community_code", "dw_place"]
    linked = pairs.group_by(name).agg(pl.len().alias("linked"))
    at_place = (
        pairs.filter(at_home)
        .group_by([*name, "r_dw_place"])
        .agg(pl.len().alias("home"))
        .with_columns(pl.col("home").rank("min", descending=True).over(name).alias("_rank"))
        .filter(pl.col("_rank") == 1)
        .with_columns(pl.len().over(name).alias("_tied"))
        .filter(pl.col("_tied") == 1)  # two places as likely: neither
    )
    found = at_place.join(linked, on=name).filter(
        (pl.col("home") >= LEAST) & (pl.col("home") >= SHARE * pl.col("linked"))
    )
    return collect(found.select(*name, pl.col("r_dw_place").alias("alias")).sort(name))


def _house(prefix: str = "") -> pl.Expr:
    """A house by its natural village's name and number (蟹钳浦17号): U, a place and a number alone."""
    return (
        (pl.col(f"{prefix}dw_class") == "U")
        & pl.col(f"{prefix}dw_place").is_not_null()
        & pl.col(f"{prefix}dw_building").is_not_null()
        & pl.col(f"{prefix}dw_unit").is_null()
        & pl.col(f"{prefix}dw_room").is_null()
    ).fill_null(False)


def _group_house(prefix: str = "") -> pl.Expr:
    """A house by its village group and number, the village left out as the community's own (十四组17号)."""
    return (
        (pl.col(f"{prefix}dw_class") == "R")
        & pl.col(f"{prefix}dw_place").is_null()
        & pl.col(f"{prefix}dw_building").is_not_null()
        & pl.col(f"{prefix}dw_room").is_not_null()
    ).fill_null(False)


def learnt_groups(register: Frame, roll: Frame, links: Frame) -> pl.DataFrame:
    """(community_code, group, natural): the natural village (自然村) each village group (组) is part of.

    A village's houses are numbered within their natural village, and one side may write a house by its group
    (石屿村十四组17号) where the other writes its natural village (石屿村蟹钳浦17号); neither address says which
    group a natural village holds. Where at least `GROUP_LEAST` people linked within the community are written at a
    group's house on one side and at a natural village's house of the same number on the other, and at least
    `SHARE` of those linked between that group and any natural village's house are, the group is that village's.

    >>> register = pl.DataFrame({"idx": range(6), "community_code": "c", "dw_class": "U", "dw_place": "蟹钳浦",
    ...     "dw_building": [str(i + 1) for i in range(6)], "dw_unit": None, "dw_room": None},
    ...     schema_overrides={"dw_unit": pl.String, "dw_room": pl.String})
    >>> roll = register.with_columns(pl.col("idx") + 10, pl.lit("R").alias("dw_class"),
    ...     pl.lit(None, pl.String).alias("dw_place"),
    ...     pl.lit("14").alias("dw_building"), pl.col("dw_building").alias("dw_room"))
    >>> links = pl.DataFrame({"rid": range(6), "lid": range(10, 16), "decided_by": "auto"})
    >>> learnt_groups(register, roll, links).rows()
    [('c', '14', '蟹钳浦')]
    """
    parts = ("community_code", *PARTS)
    confident = pl.col("decided_by").is_in([DecidedBy.AUTO.value, DecidedBy.OPERATOR.value])
    pairs = (
        links.lazy()
        .filter(confident)
        .select("rid", "lid")
        .join(roll.lazy().select(pl.col("idx").alias("lid"), *parts), on="lid")
        .join(register.lazy().select(pl.col("idx").alias("rid"), *[pl.col(c).alias(f"r_{c}") for c in parts]), on="rid")
        .filter(pl.col("community_code") == pl.col("r_community_code"))
    )

    def seen(group: str, house: str) -> pl.LazyFrame:  # a group's house on side `group`, a village's on `house`
        return pairs.filter(_group_house(group) & _house(house)).select(
            "community_code",
            pl.col(f"{group}dw_building").alias("group"),
            pl.col(f"{house}dw_place").alias("natural"),
            (pl.col(f"{group}dw_room") == pl.col(f"{house}dw_building")).alias("same_number"),
        )

    both = pl.concat([seen("r_", ""), seen("", "r_")])
    key = ["community_code", "group"]
    linked = both.group_by(key).agg(pl.len().alias("linked"))
    best = (
        both.filter(pl.col("same_number"))
        .group_by([*key, "natural"])
        .agg(pl.len().alias("home"))
        .with_columns(pl.col("home").rank("min", descending=True).over(key).alias("_rank"))
        .filter(pl.col("_rank") == 1)
        .with_columns(pl.len().over(key).alias("_tied"))
        .filter(pl.col("_tied") == 1)
    )
    found = best.join(linked, on=key).filter(
        (pl.col("home") >= GROUP_LEAST) & (pl.col("home") >= SHARE * pl.col("linked"))
    )
    return collect(found.select(*key, "natural").sort(key))


def _registered(register: Frame, codes: list[str]) -> pl.DataFrame:
    return collect(
        register.lazy()
        .filter(pl.col("community_code").is_in(codes) & pl.col("flat").is_not_null() & pl.col("dw_class").is_not_null())
        .select("community_code", "flat", *PARTS)
        .unique("flat", keep="first", maintain_order=True)
    )


def _relocated(roll: pl.LazyFrame, moved: pl.DataFrame, flats: pl.DataFrame) -> pl.LazyFrame:
    """`roll` with the records of `moved` (idx, community_code and new parts) located again among `flats`."""
    if moved.height == 0:
        return roll
    located = resolve_flats(moved, flats).select("idx", *LOCATED, pl.lit(True).alias("_learnt"))
    learnt = pl.col("_learnt").fill_null(False)
    return (
        roll.join(located.lazy(), on="idx", how="left", suffix="_learnt", maintain_order="left")
        .with_columns(
            *(pl.when(learnt).then(pl.col(f"{c}_learnt")).otherwise(pl.col(c)).alias(c) for c in LOCATED),
            pl.when(learnt & ~pl.col("issues").list.contains(Issue.PLACE_LEARNT.value))
            .then(pl.concat_list("issues", pl.lit(Issue.PLACE_LEARNT.value)))
            .otherwise(pl.col("issues"))
            .alias("issues"),
        )
        .drop(*(f"{c}_learnt" for c in LOCATED), "_learnt")
    )


def _names_natural(written: pl.Expr, natural: pl.Expr) -> pl.Expr:
    """Whether a written place names a natural village: the same, or one ends the other, a 村 after it dropped.

    李家塘, 李家塘村 and 西头李家塘 are one: the village's own name is often written before it.
    """
    stem = written.str.replace("村$", "")
    return (written == natural) | (
        (stem.str.len_chars() >= 2) & (natural.str.ends_with(stem) | stem.str.ends_with(natural))
    )


def _at_learnt_groups(roll: pl.LazyFrame, groups: pl.DataFrame, flats: pl.DataFrame) -> pl.DataFrame:
    """(idx, community_code, *PARTS): unplaced roll houses by group or natural village, as the register writes them.

    A house written by its group where the register writes its natural village takes the registered house's parts,
    and the reverse where the number is in one group of that village only.
    """
    unplaced = roll.filter(pl.col("flat").str.starts_with("~"))
    houses = (
        flats.lazy()
        .filter(_house())
        .select("community_code", pl.col("dw_place").alias("natural"), pl.col("dw_building").alias("number"), *PARTS)
    )
    group_houses = (
        flats.lazy()
        .filter(_group_house())
        .select("community_code", pl.col("dw_building").alias("group"), pl.col("dw_room").alias("number"), *PARTS)
    )
    by_group = (
        unplaced.filter(_group_house())
        .select("idx", "community_code", pl.col("dw_building").alias("group"), pl.col("dw_room").alias("number"))
        .join(groups.lazy(), on=["community_code", "group"])
        .join(houses, on=["community_code", "natural", "number"])
    )
    by_village = (
        unplaced.filter(_house())
        .select("idx", "community_code", pl.col("dw_place").alias("written"), pl.col("dw_building").alias("number"))
        .join(groups.lazy(), on="community_code")
        .filter(_names_natural(pl.col("written"), pl.col("natural")))
        .join(group_houses, on=["community_code", "group", "number"])
        .filter(pl.len().over("idx") == 1)  # the number in one group of those villages only
    )
    columns = ("idx", "community_code", *PARTS)
    return collect(pl.concat([by_group.select(columns), by_village.select(columns)]).sort("idx"))


def with_learnt_places(register: Frame, roll: Frame, links: Frame) -> pl.LazyFrame:
    """`roll` with records at a learnt name or a learnt group's house located at the registered place or house.

    The names are `learnt_places`'; a house written by its group or its natural village (`learnt_groups`) is
    located at the registered house, written the other way. Their parts are the registered place's or house's, `flat`, `flat_fits` and `flat_candidates` are found again
    among that community's registered flats, and their `issues` name `Issue.PLACE_LEARNT`; every other record is
    as it was, in its order.
    """
    aliases = learnt_places(register, roll, links)
    located = roll.lazy()
    if aliases.height:
        moved = collect(
            located.join(aliases.lazy(), on=["community_code", "dw_place"]).select(
                "idx", "community_code", *[p for p in PARTS if p != "dw_place"], pl.col("alias").alias("dw_place")
            )
        )
        located = _relocated(located, moved, _registered(register, aliases["community_code"].unique().to_list()))
    groups = learnt_groups(register, located, links)
    if groups.height:
        flats = _registered(register, groups["community_code"].unique().to_list())
        located = _relocated(located, _at_learnt_groups(located, groups, flats), flats)
    return located
