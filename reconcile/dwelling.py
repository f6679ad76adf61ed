"""Dwelling keys: equal for two spellings of one flat in one community.

Compound names are matched to the register's own spelling within the same
community (the register is the gazetteer), so 城东东区 and 城东新村东区 meet.
"""

from __future__ import annotations

import polars as pl

from reconcile.address import canonical_places


def gazetteer(register: pl.DataFrame) -> dict[str, list[str]]:
    """Place names per community code, as the register spells them."""
    rows = register.select("community_code", "place").drop_nulls().unique()
    out: dict[str, list[str]] = {}
    for code, place in rows.iter_rows():
        out.setdefault(code, []).append(place)
    return {k: sorted(v) for k, v in out.items()}


def canonical_place(frame: pl.DataFrame, places: dict[str, list[str]]) -> pl.Series:
    """Each row's place mapped to the register spelling of its community."""
    pairs = frame.select("community_code", "place").drop_nulls().unique()
    mapping: dict[tuple[str, str], str] = {}
    for code, group in pairs.group_by("community_code"):
        known = places.get(str(code[0]), [])
        observed = group["place"].to_list()
        for name, canon in canonical_places(observed, known).items():
            mapping[(str(code[0]), name)] = canon
    table = pl.DataFrame(
        {
            "community_code": [k[0] for k in mapping],
            "place": [k[1] for k in mapping],
            "place_canon": list(mapping.values()),
        },
        schema={"community_code": pl.String, "place": pl.String, "place_canon": pl.String},
    )
    joined = frame.select("community_code", "place").join(
        table, on=["community_code", "place"], how="left", maintain_order="left", nulls_equal=False
    )
    return joined["place_canon"].fill_null(joined["place"])


def with_dwelling(frame: pl.DataFrame, places: dict[str, list[str]]) -> pl.DataFrame:
    """Add `place_canon`, `building_key` (community|place|building) and `dwelling`
    (community|kind|place|building|unit|room, or the rural/door equivalent)."""
    frame = frame.with_columns(canonical_place(frame, places).alias("place_canon"))
    p = pl.col("place_canon").fill_null("")
    c = pl.col("community_code")
    flat = pl.format(
        "{}|F|{}|{}|{}|{}", c, p, pl.col("building"), pl.col("unit").fill_null(""), pl.col("room").fill_null("")
    )
    rural = pl.format("{}|R|{}|{}|{}", c, p, pl.col("group"), pl.col("number").fill_null(""))
    door = pl.format("{}|D|{}|{}|{}", c, p, pl.col("number"), pl.col("room").fill_null(""))
    kind = pl.col("addr_kind")
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
    building = (
        pl.when(kind == "flat")
        .then(pl.format("{}|{}|{}", c, p, pl.col("building")))
        .when(kind == "rural")
        .then(pl.format("{}|{}|{}", c, p, pl.col("group")))
        .otherwise(pl.format("{}|{}", c, p))
    )
    return frame.with_columns(dwelling.alias("dwelling"), building.alias("building_key"))
