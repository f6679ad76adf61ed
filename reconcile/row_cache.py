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
_POS = "_row_pos"


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
    keyed = raw.with_columns(*row_digest(raw)).with_row_index(_POS)
    known = cached.unique(list(DIGEST), keep="first") if cached is not None else None
    misses = keyed if known is None else keyed.join(known.select(DIGEST), on=list(DIGEST), how="anti")
    fresh = normalise(misses.drop(_POS, *DIGEST))
    if fresh.height != misses.height:
        raise ValueError(f"normalise must keep every row: {misses.height} in, {fresh.height} out")
    derived = [c for c in fresh.columns if c not in raw.columns]
    fresh = fresh.with_columns(misses[_POS], misses[DIGEST[0]], misses[DIGEST[1]])
    if known is None or known.is_empty():
        frame = fresh
    else:
        hits = keyed.join(known.select(*DIGEST, *derived), on=list(DIGEST), how="inner")
        hits = hits.select([pl.col(c).cast(fresh.schema[c]) for c in fresh.columns])
        frame = pl.concat([hits, fresh]).sort(_POS)
    # A selection shares the frame's buffers: no copy. Rows repeated within a delivery repeat here too;
    # `reuse` takes the first of each digest.
    cache = frame.select(*DIGEST, *derived)
    return Reused(frame.drop(_POS, *DIGEST), cache, frame.height - fresh.height)
