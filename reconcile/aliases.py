"""Place names the register does not know, learnt from the people linked across them.

A roll may call an estate by a name no spelling rule reaches: its old name (电厂宿舍 for 东风府), a nickname, a
worker's own shorthand (马候青 for 候青小区). The people linked to their registrations tell what it means. Where
at least `LEAST` people linked within the community, written at the unknown name, live at the very building, unit
and room of a registered flat, and at least `SHARE` of those linked there do so in one registered place, the
name is that place: two estates' flats meet at one building, unit and room by chance about once in a thousand
pairs, not five times over. The records written there are then located again as if they had written that place
(`reconcile.dwelling.resolve_flats`), before any status is decided.
"""

from __future__ import annotations

import polars as pl

from reconcile.dwelling import PARTS, resolve_flats
from reconcile.frames import Frame, collect
from schemas.codes import DecidedBy, Issue

LEAST = 5
"""People at their registered flat an unknown name needs before it is taken for a registered place."""
SHARE = 0.5
"""Of the people linked within the community at an unknown name, the share that must live at their registered
flat in that one place (the others moved within the community, or are namesakes)."""
LOCATED = ("dw_place", "flat", "flat_fits", "flat_candidates")
"""The roll columns a learnt name changes."""


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
        & (pl.col("dw_room") == pl.col("r_dw_room"))
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


def with_learnt_places(register: Frame, roll: Frame, links: Frame) -> pl.LazyFrame:
    """`roll` with the records written at a learnt name (`learnt_places`) located at the place it means.

    Their `dw_place` is the registered place, `flat`, `flat_fits` and `flat_candidates` are found again among
    that community's registered flats, and their `issues` name `Issue.PLACE_LEARNT`; every other record is as it
    was, in its order.
    """
    aliases = learnt_places(register, roll, links)
    if aliases.height == 0:
        return roll.lazy()
    codes = aliases["community_code"].unique().to_list()
    flats = collect(
        register.lazy()
        .filter(pl.col("community_code").is_in(codes) & pl.col("flat").is_not_null() & pl.col("dw_class").is_not_null())
        .select("community_code", "flat", *PARTS)
        .unique("flat", keep="first", maintain_order=True)
    )
    moved = collect(
        roll.lazy()
        .join(aliases.lazy(), on=["community_code", "dw_place"])
        .select("idx", "community_code", *[p for p in PARTS if p != "dw_place"], pl.col("alias").alias("dw_place"))
    )
    located = resolve_flats(moved, flats).select("idx", *LOCATED, pl.lit(True).alias("_learnt"))
    learnt = pl.col("_learnt").fill_null(False)
    return (
        roll.lazy()
        .join(located.lazy(), on="idx", how="left", suffix="_learnt", maintain_order="left")
        .with_columns(
            *(pl.when(learnt).then(pl.col(f"{c}_learnt")).otherwise(pl.col(c)).alias(c) for c in LOCATED),
            pl.when(learnt)
            .then(pl.concat_list("issues", pl.lit(Issue.PLACE_LEARNT.value)))
            .otherwise(pl.col("issues"))
            .alias("issues"),
        )
        .drop(*(f"{c}_learnt" for c in LOCATED), "_learnt")
    )
