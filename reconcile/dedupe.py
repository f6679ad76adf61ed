"""Duplicates within one side: the same person recorded twice.

Roll workers enter some people twice; a register may carry one ID twice. A
duplicate is never linked: it points at its primary record instead.
"""

from __future__ import annotations

import polars as pl


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


def find_duplicates(frame: pl.DataFrame, *, within_file_keys: list[list[str]]) -> pl.DataFrame:
    """Map each duplicate record to its primary: columns idx, primary.

    Records sharing a valid ID number are one person city-wide; records in one
    file sharing every column of one of `within_file_keys` (e.g. name + birth)
    are one person unless their valid ID numbers differ. The primary is the
    earliest record (file, then row): the others are its second records.

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
    all_edges = pl.concat(edges).unique()
    if all_edges.height == 0:
        return pl.DataFrame(schema={"idx": pl.Int64, "primary": pl.Int64})
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for a, b in all_edges.iter_rows():
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    order = dict(zip(ordered["idx"].to_list(), ordered["_order"].to_list(), strict=True))
    members: dict[int, list[int]] = {}
    for node in {n for e in all_edges.iter_rows() for n in e}:
        members.setdefault(root(node), []).append(node)
    rows: list[tuple[int, int]] = []
    for group in members.values():
        primary = min(group, key=order.__getitem__)
        rows.extend((m, primary) for m in group if m != primary)
    return pl.DataFrame(rows, schema={"idx": pl.Int64, "primary": pl.Int64}, orient="row").sort("idx")
