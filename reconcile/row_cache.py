"""Reuse last night's normalised rows: most raw rows do not change from one night to the next.

A raw row is known by a 128-bit digest of its content (every column but its lineage: a row that
moved down a sheet is the same row). Rows whose digest was normalised before take last night's
derived columns; only the others are normalised again. Correct only for row-local normalisation
under the same context (`reconcile.prepare.Context`): the caller keys the cache by that context,
and recomputes whatever depends on lineage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from schemas.inputs import LINEAGE

if TYPE_CHECKING:
    from collections.abc import Callable

DIGEST = ("_row_h1", "_row_h2")
"""Two 64-bit hashes with different seeds: a collision would need both to collide."""
_AT = "_row_at"


@dataclass(frozen=True, slots=True)
class Reused:
    """Normalised rows in the raw order, the cache to keep for the next night and how many rows it spared."""

    frame: pl.DataFrame
    cache: pl.DataFrame
    reused: int


def row_digest(raw: pl.DataFrame) -> list[pl.Expr]:
    """The digest columns of `raw`'s rows: their content without lineage, columns taken by name."""
    content = sorted(c for c in raw.columns if c not in LINEAGE)
    row = pl.struct([pl.col(c).cast(pl.String).alias(c) for c in content])
    return [row.hash(seed=11).alias(DIGEST[0]), row.hash(seed=29).alias(DIGEST[1])]


def reuse(raw: pl.DataFrame, cached: pl.DataFrame | None, normalise: Callable[[pl.DataFrame], pl.DataFrame]) -> Reused:
    """`normalise(raw)`, taking rows whose content `cached` knows from it instead of normalising them again.

    `normalise` must be row-local (each output row depends on its input row only) and keep row order.
    `cached` is a previous `Reused.cache` made under the same context, or None.

    >>> raw = pl.DataFrame({"name_raw": ["a", "b"], "source_file": ["f", "f"], "source_sheet": [None, None],
    ...                     "source_row": [2, 3]})
    >>> up = lambda f: f.with_columns(pl.col("name_raw").str.to_uppercase().alias("name"))
    >>> first = reuse(raw, None, up)
    >>> again = reuse(raw.with_columns(pl.col("source_row") + 1), first.cache, up)
    >>> again.reused, again.frame["name"].to_list(), again.frame["source_row"].to_list()
    (2, ['A', 'B'], [3, 4])
    """
    digest = raw.select(*row_digest(raw))
    if cached is None or cached.is_empty():
        fresh = _normalised(raw, normalise)
        derived = [c for c in fresh.columns if c not in raw.columns]
        return Reused(fresh, pl.concat([digest, fresh.select(derived)], how="horizontal"), 0)
    # Narrow work only: which cache row (if any) each raw row takes; wide frames are never joined or sorted.
    known = cached.select(*DIGEST).with_row_index(_AT).unique(list(DIGEST), keep="first")
    at = digest.join(known, on=list(DIGEST), how="left", maintain_order="left").get_column(_AT)
    miss = at.is_null()
    fresh = _normalised(raw.filter(miss), normalise)
    derived = [c for c in fresh.columns if c not in raw.columns]
    if not set(derived) <= set(cached.columns):  # a cache of another shape: normalise every row
        return reuse(raw, None, normalise)
    # Cache rows and fresh rows stacked (no copy), then each raw row's derived values gathered from them once.
    stacked = pl.concat(
        [cached.select([pl.col(c).cast(fresh.schema[c]) for c in derived]), fresh.select(derived)], rechunk=False
    )
    position = pl.select(
        pl.when(miss).then(cached.height + miss.cast(pl.Int64).cum_sum() - 1).otherwise(at.cast(pl.Int64))
    ).to_series()
    values = stacked[position]
    frame = pl.concat([raw.select([c for c in fresh.columns if c in raw.columns]), values], how="horizontal")
    return Reused(frame.select(fresh.columns), pl.concat([digest, values], how="horizontal"), raw.height - fresh.height)


def _normalised(raw: pl.DataFrame, normalise: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
    fresh = normalise(raw)
    if fresh.height != raw.height:
        raise ValueError(f"normalise must keep every row: {raw.height} in, {fresh.height} out")
    return fresh
