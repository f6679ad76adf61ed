"""Fellegi–Sunter match weights, estimated without labels.

u (how often a level occurs between two random people) comes from comparing
random register × roll pairs; m (how often it occurs for one person) and the
share of matches among candidate pairs come from EM over the candidate pairs'
comparison patterns, u held fixed (as Splink does). Exact name agreement is
term-frequency adjusted: 张伟 is weak evidence, a rare name strong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from reconcile.compare import FIELDS, compare

INITIAL_M: dict[str, dict[int, float]] = {
    "id": {3: 0.85, 2: 0.10, 0: 0.05},
    "name": {4: 0.85, 3: 0.07, 2: 0.04, 1: 0.02, 0: 0.02},
    "birth": {2: 0.90, 1: 0.05, 0: 0.05},
    "sex": {1: 0.98, 0: 0.02},
    "address": {4: 0.55, 3: 0.05, 2: 0.05, 1: 0.10, 0: 0.25},
    "household": {1: 0.70, 0: 0.30},
}


M_FLOOR = 1e-4

DEFAULT_U: dict[str, dict[int, float]] = {
    # Rough shares among random pairs of a city of 200k, used only to steady tiny inputs.
    "id": {3: 1e-6, 2: 1e-5, 0: 1 - 1.1e-5},
    "name": {4: 4e-5, 3: 2e-5, 2: 1e-3, 1: 5e-3, 0: 1 - 6.06e-3},
    "birth": {2: 5e-5, 1: 2e-3, 0: 1 - 2.05e-3},
    "sex": {1: 0.5, 0: 0.5},
    "address": {4: 1e-5, 3: 2e-5, 2: 3e-4, 1: 0.02, 0: 1 - 0.02033},
    "household": {1: 5e-5, 0: 1 - 5e-5},
}


@dataclass(slots=True)
class Model:
    """Parameters of the match-weight model."""

    m: dict[str, dict[int, float]]
    u: dict[str, dict[int, float]]
    prior: float
    """Probability that two random records (one per side) are one person."""
    candidate_prior: float = 0.5
    """Share of matches among candidate pairs (what EM estimates)."""
    name_tf: pl.DataFrame = field(default_factory=lambda: _no_frequencies())
    """name, tf: relative frequency of each name among all records (for term-frequency adjustment)."""
    em_iterations: int = 0

    def bayes_factor_log2(self, field_name: str, level: int) -> float:
        """log2(m/u) for one field's level; 0 for a missing value."""
        if level < 0:
            return 0.0
        return math.log2(self.m[field_name][level] / self.u[field_name][level])

    def as_table(self) -> pl.DataFrame:
        """One row per field and level: m, u and the weight."""
        rows = [
            {
                "field": f,
                "level": lvl,
                "m": self.m[f][lvl],
                "u": self.u[f][lvl],
                "weight": self.bayes_factor_log2(f, lvl),
            }
            for f, levels in FIELDS.items()
            for lvl in levels
        ]
        return pl.DataFrame(rows)


def _level_shares(
    levels: pl.DataFrame,
    weights: pl.Series | None,
    prior: dict[str, dict[int, float]],
    strength: float,
    fields: list[str] | None = None,
) -> dict[str, dict[int, float]]:
    """Weighted share of each level per field, pulled towards `prior` by
    `strength` pseudo-observations: large inputs speak for themselves, a handful
    of records cannot overturn what is known of ID numbers and names."""
    out: dict[str, dict[int, float]] = {}
    w = weights if weights is not None else pl.Series([1.0] * levels.height, dtype=pl.Float64)
    frame = levels.with_columns(w.alias("_w"))
    for f in fields or list(FIELDS):
        lvls = FIELDS[f]
        present = frame.filter(pl.col(f"{f}_lvl") >= 0)
        total = float(present["_w"].sum() or 0.0) + strength
        sums = dict(present.group_by(f"{f}_lvl").agg(pl.col("_w").sum()).iter_rows())
        out[f] = {lvl: (float(sums.get(lvl, 0.0)) + strength * prior[f][lvl]) / total for lvl in lvls}
    return out


def random_pairs(register: pl.DataFrame, roll: pl.DataFrame, *, size: int, seed: int = 0) -> pl.DataFrame:
    """`size` (rid, lid) pairs drawn uniformly with replacement: almost all non-matches."""
    n = min(size, register.height * roll.height)
    return pl.DataFrame(
        {
            "rid": register["idx"].sample(n, with_replacement=True, seed=seed),
            "lid": roll["idx"].sample(n, with_replacement=True, seed=seed + 1),
        }
    )


def estimate_u(register: pl.DataFrame, roll: pl.DataFrame, randoms: pl.DataFrame) -> dict[str, dict[int, float]]:
    """u probabilities from random register × roll pairs (`random_pairs`)."""
    u = _level_shares(compare(randoms, register, roll), None, DEFAULT_U, strength=2_000.0)
    # One ID number is one person: two random records share it about once in a
    # population's worth of pairs, however few records this run holds.
    u["id"][3] = min(u["id"][3], 1.0 / max(1_000_000, register.height))
    # An address that leaves parts out fits at least as many flats as one that states them all: two random
    # people are at least as often compatible as at the same flat (both are rare; a sample may see neither).
    u["address"][3] = max(u["address"][3], u["address"][4])
    return u


def _no_frequencies() -> pl.DataFrame:
    return pl.DataFrame(schema={"name": pl.String, "tf": pl.Float64})


def name_frequencies(*frames: pl.DataFrame) -> pl.DataFrame:
    """name, tf: relative frequency of each simplified name across the given records.

    >>> name_frequencies(pl.DataFrame({"name": ["张伟", "张伟", "李强", None]})).sort("name").rows()
    [('张伟', 0.6666666666666666), ('李强', 0.3333333333333333)]
    """
    names = pl.concat([f.select("name") for f in frames]).drop_nulls()
    total = max(1, names.height)
    return names.group_by("name").len().select("name", (pl.col("len") / total).alias("tf"))


def _log2_ratio(m: dict[str, dict[int, float]], u: dict[str, dict[int, float]], fields: list[str]) -> pl.Expr:
    terms = []
    for f in fields:
        mapping = {lvl: math.log2(m[f][lvl] / u[f][lvl]) for lvl in FIELDS[f]}
        mapping[-1] = 0.0
        terms.append(pl.col(f"{f}_lvl").replace_strict(mapping, return_dtype=pl.Float64))
    return pl.sum_horizontal(terms)


def _posterior(log_ratio: pl.Series, prior: float) -> pl.Series:
    odds = (2.0 ** log_ratio.clip(-60, 60)) * (prior / (1 - prior))
    return odds / (1 + odds)


@dataclass(frozen=True, slots=True)
class TrainingSession:
    """EM over the pairs found by one blocking rule, estimating m only for the
    fields that rule did not block on (those are biased towards agreement there)."""

    rule: str
    fields: tuple[str, ...]


DEFAULT_SESSIONS: tuple[TrainingSession, ...] = (
    TrainingSession("id", ("name", "birth", "sex", "address")),
    TrainingSession("pinyin_birth", ("id", "sex", "address")),
)


def _em(
    patterns: pl.DataFrame,
    fields: list[str],
    m: dict[str, dict[int, float]],
    u: dict[str, dict[int, float]],
    *,
    prior: float,
    max_iterations: int,
    tolerance: float,
) -> tuple[dict[str, dict[int, float]], float, int]:
    cols = [f"{f}_lvl" for f in fields]
    iterations = 0
    for _ in range(max_iterations):
        iterations += 1
        posterior = _posterior(patterns.select(_log2_ratio(m, u, fields).alias("lr"))["lr"], prior)
        weights = posterior * patterns["n"]
        new_prior = min(max(float(weights.sum()) / float(patterns["n"].sum()), 1e-6), 1 - 1e-6)
        shares = _level_shares(patterns.select(cols), weights, INITIAL_M, strength=5.0, fields=fields)
        # No level is ever impossible for a true match: unseen data has slips this data lacked.
        shares = {f: {lvl: max(p, M_FLOOR) for lvl, p in levels_.items()} for f, levels_ in shares.items()}
        change = max([abs(shares[f][lvl] - m[f][lvl]) for f in fields for lvl in FIELDS[f]] + [abs(new_prior - prior)])
        m = {**m, **shares}
        prior = new_prior
        if change < tolerance:
            break
    return m, prior, iterations


def estimate(
    levels: pl.DataFrame,
    u: dict[str, dict[int, float]],
    *,
    rules: pl.Series | None = None,
    rule_bits: dict[str, int] | None = None,
    sessions: tuple[TrainingSession, ...] = DEFAULT_SESSIONS,
    name_tf: pl.DataFrame | None = None,
    comparisons: int | None = None,
    max_iterations: int = 50,
    tolerance: float = 1e-5,
) -> Model:
    """Estimate m per training session (EM, u fixed), then the share of matches
    among all candidate pairs (EM on the prior alone).

    `rules` holds, per row of `levels`, a bit mask of the blocking rules that
    found the pair (`rule_bits` names the bits); without them every session
    trains on all pairs. `comparisons` is the number of
    all possible pairs (register × roll), which turns the share of matches among
    candidates into the prior for two random records.
    """
    m = {f: dict(v) for f, v in INITIAL_M.items()}
    all_cols = [f"{f}_lvl" for f in FIELDS]
    total_iterations = 0
    for session in sessions:
        if rules is None or rule_bits is None:
            subset = levels
        else:
            subset = levels.filter((rules & rule_bits.get(session.rule, 0)) != 0)
        if subset.height == 0:
            continue
        patterns = subset.group_by(all_cols).len("n").with_columns(pl.col("n").cast(pl.Float64))
        m, _, its = _em(
            patterns, list(session.fields), m, u, prior=0.5, max_iterations=max_iterations, tolerance=tolerance
        )
        total_iterations += its
    random_prior, candidate_prior = estimate_prior(
        levels, m, u, comparisons=comparisons, max_iterations=max_iterations, tolerance=tolerance
    )
    return Model(
        m=m,
        u=u,
        prior=random_prior,
        candidate_prior=candidate_prior,
        name_tf=name_tf if name_tf is not None else _no_frequencies(),
        em_iterations=total_iterations,
    )


def estimate_prior(
    levels: pl.DataFrame,
    m: dict[str, dict[int, float]],
    u: dict[str, dict[int, float]],
    *,
    comparisons: int | None,
    max_iterations: int = 50,
    tolerance: float = 1e-5,
) -> tuple[float, float]:
    """(prior for two random records, share of matches among these candidates),
    by EM on the prior alone with m and u fixed.

    Matches live almost only among candidates, so the expected number of
    matches among them, spread over all `comparisons` possible pairs, is the
    probability that two random records are one person.
    """
    cols = [f"{f}_lvl" for f in FIELDS]
    patterns = levels.group_by(cols).len("n").with_columns(pl.col("n").cast(pl.Float64))
    if patterns.height == 0:
        return 1e-12, 1e-6
    log_ratio = patterns.select(_log2_ratio(m, u, list(FIELDS)).alias("lr"))["lr"]
    prior = 0.5
    for _ in range(max_iterations):
        new_prior = float((_posterior(log_ratio, prior) * patterns["n"]).sum()) / float(patterns["n"].sum())
        new_prior = min(max(new_prior, 1e-6), 1 - 1e-6)
        done = abs(new_prior - prior) < tolerance
        prior = new_prior
        if done:
            break
    total = float(patterns["n"].sum())
    all_pairs = float(comparisons) if comparisons else total
    return min(max(prior * total / all_pairs, 1e-12), 1 - 1e-6), prior


WEIGHT_COLUMNS = [f"w_{f}" for f in FIELDS]


def score(levels: pl.DataFrame, model: Model, *, prior: float | None = None) -> pl.DataFrame:
    """Add per-field weights `w_<field>`, `match_weight` and `match_probability`.

    match_weight = log2(prior odds of two random records) + Σ log2(m/u); exact
    names use u = the name's frequency. `prior` overrides the model's prior
    (e.g. one re-estimated among records still unlinked).
    """
    exprs = []
    for f, lvls in FIELDS.items():
        mapping = {lvl: model.bayes_factor_log2(f, lvl) for lvl in lvls}
        mapping[-1] = 0.0
        exprs.append(pl.col(f"{f}_lvl").replace_strict(mapping, return_dtype=pl.Float64).alias(f"w_{f}"))
    scored = levels.with_columns(exprs)
    if model.name_tf.height:
        floor = float(model.name_tf["tf"].min())  # type: ignore[arg-type]
        scored = scored.join(
            model.name_tf.rename({"name": "reg_name", "tf": "_tf"}), on="reg_name", how="left", maintain_order="left"
        )
        tf = pl.col("_tf").fill_null(floor)
        # Never let a very common name count for more than average agreement, nor a rare one for unbounded weight.
        tf_weight = (pl.lit(model.m["name"][4]) / tf.clip(lower_bound=1e-7)).log(2).clip(upper_bound=30.0)
        scored = scored.with_columns(
            pl.when(pl.col("name_lvl") == 4)
            .then(pl.min_horizontal(tf_weight, pl.lit(30.0)))
            .otherwise(pl.col("w_name"))
            .alias("w_name")
        ).drop("_tf")
    p0 = model.prior if prior is None else prior
    prior_weight = math.log2(p0 / (1 - p0))
    scored = scored.with_columns((pl.sum_horizontal(WEIGHT_COLUMNS) + prior_weight).alias("match_weight"))
    return scored.with_columns(
        (1.0 / (1.0 + (2.0 ** (-pl.col("match_weight").clip(-60, 60))))).alias("match_probability")
    )
