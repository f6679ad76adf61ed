"""One-to-one assignment and the three bands (auto-link, review, no link)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True, slots=True)
class Bands:
    """Probability thresholds, derived from the model's own estimates."""

    auto: float
    review: float


def assign_one_to_one(scored: pl.DataFrame, *, min_probability: float) -> pl.DataFrame:
    """Greedy best-first matching: each register and roll record in at most one pair.

    Renames the pairwise probability to `pair_probability` and sets
    `match_probability` to the probability that the chosen pair is the match
    given its competitors (every other candidate pair sharing either record):
    odds / (1 + odds + Σ competitor odds). Two equally good register records
    for one roll record thus each get at most one half.
    """
    # Ranked on the few columns the ranking needs; only the chosen rows are copied whole.
    ranked = (
        scored.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), "rid", "lid", "match_weight")
        .filter(scored["match_probability"] >= min_probability)
        .sort(["match_weight", "rid", "lid"], descending=[True, False, False])
        .with_row_index("_order")
    )
    rows = ranked.filter(greedy_matching(ranked.select("_order", "rid", "lid")))["_row"]
    chosen = scored.select(pl.all().gather(rows))
    odds = 2.0 ** pl.col("match_weight").clip(-60, 60)
    all_odds = scored.select("rid", "lid", odds.alias("_odds"))
    by_r = all_odds.group_by("rid").agg(pl.col("_odds").sum().alias("_sum_r"))
    by_l = all_odds.group_by("lid").agg(pl.col("_odds").sum().alias("_sum_l"))
    return (
        chosen.join(by_r, on="rid", how="left")
        .join(by_l, on="lid", how="left")
        .with_columns(odds.alias("_odds"))
        .with_columns(
            pl.col("match_probability").alias("pair_probability"),
            (pl.col("_odds") / (1 + pl.col("_sum_r") + pl.col("_sum_l") - pl.col("_odds"))).alias("match_probability"),
        )
        .drop("_sum_r", "_sum_l", "_odds")
    )


def greedy_matching(ranked: pl.DataFrame) -> pl.Series:
    """Which pairs best-first greedy matching keeps, given pairs ranked by `_order` (0 = best).

    Vectorised: every pair that is the best remaining one for both its records
    is one greedy would take; take them all, drop their records, repeat.

    >>> ranked = pl.DataFrame({"_order": [0, 1, 2, 3], "rid": [1, 1, 2, 2], "lid": [10, 11, 10, 12]})
    >>> greedy_matching(ranked).to_list()
    [True, False, False, True]
    """
    remaining = ranked.select("_order", "rid", "lid")
    kept: list[pl.Series] = []
    while remaining.height:
        best = remaining.with_columns(
            pl.col("_order").min().over("rid").alias("_best_r"), pl.col("_order").min().over("lid").alias("_best_l")
        ).filter((pl.col("_order") == pl.col("_best_r")) & (pl.col("_order") == pl.col("_best_l")))
        kept.append(best["_order"])
        remaining = remaining.join(best.select("rid"), on="rid", how="anti").join(
            best.select("lid"), on="lid", how="anti"
        )
    taken = pl.concat(kept) if kept else pl.Series("_order", [], dtype=ranked["_order"].dtype)
    return ranked["_order"].is_in(taken.implode())


def choose_bands(
    probabilities: pl.Series,
    *,
    target_precision: float,
    target_recall: float,
    floor: float = 0.5,
    review_capacity: int = 0,
    review_floor: float = 0.02,
) -> Bands:
    """Thresholds from the model's posterior probabilities, no labels needed.

    `auto` is the lowest threshold whose auto-linked set has an estimated
    precision (mean probability) of at least `target_precision`, and never below
    `floor`. `review` is the highest threshold that leaves out at most
    (1 - `target_recall`) of the estimated true matches; where that band holds
    fewer than `review_capacity` pairs it is widened, most probable first, to
    that many, but never below `review_floor`: probabilities from a model
    that assumes independent fields are conservative for pairs with little
    evidence, and a person who looks is cheaper than a person missed.
    """
    p = probabilities.sort(descending=True).cast(pl.Float64).to_numpy()
    if not len(p):
        return Bands(auto=1.0, review=1.0)
    precision = 1 - np.cumsum(1 - p) / np.arange(1, len(p) + 1)
    failing = np.flatnonzero((p < floor) | (precision < target_precision))
    last_ok = (failing[0] if len(failing) else len(p)) - 1
    auto = float(p[last_ok]) if last_ok >= 0 else 1.0
    allowed_missed = (1 - target_recall) * float(p.sum())
    from_lowest = p[::-1]
    over = np.flatnonzero(np.cumsum(from_lowest) > allowed_missed)
    review = float(from_lowest[over[0]]) if len(over) else float(p[-1])
    below_auto = p[p < auto]
    if review_capacity and int(np.count_nonzero(below_auto >= review)) < review_capacity:
        by_capacity = float(below_auto[min(review_capacity, len(below_auto)) - 1]) if len(below_auto) else review
        review = min(review, max(by_capacity, review_floor))
    return Bands(auto=auto, review=min(review, auto))
