"""Duplicates within one side: the same person recorded twice.

Roll workers enter some people twice; a register may carry one ID twice. A
duplicate is never linked: it points at its primary record instead.
"""

from __future__ import annotations

import polars as pl

from reconcile.dwelling import PARTS, Grade, grade_expr

SAME_FLAT_COLUMNS = ("name", "birth", "sex", *PARTS)
"""What `find_duplicates` reads of a record to tell one person written at one flat two ways (`same_flat`)."""


def _edges(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """(idx, other) for records sharing every key, each tied to its group's first record."""
    # Only the records whose keys another record shares: a sort and a grouping of every record would each copy them.
    shared = pl.all_horizontal(pl.col(keys).is_not_null()) & pl.struct(keys).is_duplicated()
    sub = frame.select(list(dict.fromkeys(["idx", "id18", "_order", *keys]))).filter(shared)
    grouped = (
        sub.sort("_order")
        .group_by(keys, maintain_order=True)
        .agg(pl.col("idx"), pl.col("id18").alias("_ids"))
        .filter(pl.col("idx").list.len() > 1)
    )
    if grouped.height == 0:
        return pl.DataFrame(schema={"idx": pl.Int64, "other": pl.Int64})
    exploded = grouped.with_columns(
        pl.col("idx").list.first().alias("other"), pl.col("_ids").list.first().alias("other_id")
    ).explode("idx", "_ids")
    compatible = pl.col("_ids").is_null() | pl.col("other_id").is_null() | (pl.col("_ids") == pl.col("other_id"))
    return exploded.filter((pl.col("idx") != pl.col("other")) & compatible).select(
        pl.col("idx").cast(pl.Int64), pl.col("other").cast(pl.Int64)
    )


def _agree(column: str) -> pl.Expr:
    """Neither record of a joined pair states `column` differently (`column` and `column_o`)."""
    return pl.col(column).is_null() | pl.col(f"{column}_o").is_null() | (pl.col(column) == pl.col(f"{column}_o"))


def _same_flat_edges(frame: pl.DataFrame) -> pl.DataFrame:
    """(idx, other): records of one file with one name whose addresses may name one flat, one leaving a part out.

    A worker who enters a person twice writes the address twice, and the second time may leave the 单元 or the
    estate's name out (`reconcile.dwelling.Grade.COMPATIBLE`): one address holds every part the other states.
    Equal flats are `within_file_keys`' business. Births, sexes and valid ID numbers must not disagree. Records
    these edges tie so that two of them state different units, places, births, sexes or ID numbers (6幢401
    between 6幢1单元401 and 6幢2单元401) are tied by none of them: they would make two people one.
    """
    sub = (
        frame.select("idx", "id18", "source_file", *SAME_FLAT_COLUMNS)
        .filter(pl.all_horizontal(pl.col("name", "dw_building", "dw_room").is_not_null()))
        .filter(pl.struct("source_file", "name").is_duplicated())
    )
    pairs = sub.join(sub, on=["source_file", "name", "dw_building", "dw_room"], suffix="_o").filter(
        pl.col("idx") > pl.col("idx_o")
    )
    joined_on = ("dw_building", "dw_room")
    graded = pairs.with_columns(
        *(pl.col(p).alias(f"a_{p}") for p in PARTS),
        *(pl.col(p if p in joined_on else f"{p}_o").alias(f"b_{p}") for p in PARTS),
    ).with_columns(grade_expr("a_", "b_"))

    def only(side: str, part: str) -> pl.Expr:  # `side`'s address states `part`, the other's does not
        other = "b_" if side == "a_" else "a_"
        return pl.col(f"{side}{part}").is_not_null() & pl.col(f"{other}{part}").is_null()

    # One address holds every part the other states: not the estate on one side and the unit on the other.
    crossed = (only("a_", "dw_place") & only("b_", "dw_unit")) | (only("b_", "dw_place") & only("a_", "dw_unit"))
    edges = graded.filter(
        (pl.col("grade") >= int(Grade.COMPATIBLE)) & ~crossed & _agree("birth") & _agree("sex") & _agree("id18")
    ).select(pl.col("idx").cast(pl.Int64), pl.col("idx_o").cast(pl.Int64).alias("other"))
    return _unless_torn(edges, sub, ("dw_unit", "dw_place", *_PERSONAL))


_PERSONAL = ("birth", "sex", "id18")
"""What two records of one person never state two ways, whichever rule ties them."""


def _unless_torn(
    edges: pl.DataFrame, records: pl.DataFrame, columns: tuple[str, ...], *, by: pl.DataFrame | None = None
) -> pl.DataFrame:
    """`edges` less those in a group (of `edges`, with `by`'s edges too) whose records state two values of a column."""
    every = edges if by is None else pl.concat([by, edges])
    groups = pl.DataFrame(
        [(m, g) for g, members in _components(every).items() for m in members],
        schema={"idx": pl.Int64, "_group": pl.Int64},
        orient="row",
    )
    stated = groups.join(records.select(pl.col("idx").cast(pl.Int64), *columns), on="idx")
    most = stated.group_by("_group").agg(
        pl.max_horizontal(pl.col(c).drop_nulls().n_unique() for c in columns).alias("_most")
    )
    whole = groups.join(most.filter(pl.col("_most") <= 1), on="_group", how="semi")
    return edges.join(whole.select("idx"), on="idx", how="semi")


def _components(edges: pl.DataFrame) -> dict[int, list[int]]:
    """The records `edges` (two record ids a row) tie together, directly or not, by their least record id."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for a, b in edges.iter_rows():
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[int]] = {}
    for node in {n for e in edges.iter_rows() for n in e}:
        members.setdefault(root(node), []).append(node)
    return members


def find_duplicates(frame: pl.DataFrame, *, within_file_keys: list[list[str]], same_flat: bool = False) -> pl.DataFrame:
    """Map each duplicate record to its primary: columns idx, primary.

    Records sharing a valid ID number are one person city-wide; records in one
    file sharing every column of one of `within_file_keys` (e.g. name + birth)
    are one person unless their valid ID numbers differ; with `same_flat`, so are
    records of one file and one name whose addresses may name one flat though
    one leaves the 单元 or the estate's name out (`_same_flat_edges`, reading
    `SAME_FLAT_COLUMNS`). The primary is the earliest record (file, then row):
    the others are its second records.

    >>> f = pl.DataFrame({"idx": [0, 1, 2], "source_file": ["a"] * 3, "source_row": [2, 3, 4],
    ...     "id18": [None, "11010519491231002X", None], "name": ["张伟", "张伟", "李强"]})
    >>> find_duplicates(f, within_file_keys=[["name"]]).rows()
    [(1, 0)]
    """
    lineage = [c for c in ("source_file", "source_sheet", "source_row") if c in frame.columns]
    ordered = frame.with_columns(pl.struct(lineage).rank("ordinal").alias("_order"))
    edges = [_edges(ordered, ["id18"])]
    for keys in within_file_keys:
        edges.append(_edges(ordered, ["source_file", *keys]))
    if same_flat:  # never where the other rules tie these records to one who states another birth, sex or ID
        by_keys = pl.concat(edges).unique()
        edges.append(_unless_torn(_same_flat_edges(ordered), ordered, _PERSONAL, by=by_keys))
    all_edges = pl.concat(edges).unique()
    if all_edges.height == 0:
        return pl.DataFrame(schema={"idx": pl.Int64, "primary": pl.Int64})
    order = dict(zip(ordered["idx"].to_list(), ordered["_order"].to_list(), strict=True))
    members = _components(all_edges)
    rows: list[tuple[int, int]] = []
    for group in members.values():
        primary = min(group, key=order.__getitem__)
        rows.extend((m, primary) for m in group if m != primary)
    return pl.DataFrame(rows, schema={"idx": pl.Int64, "primary": pl.Int64}, orient="row").sort("idx")
