"""Fellegi–Sunter match weights, estimated without labels.

u (how often a level occurs between two random people) comes from comparing
random register × roll pairs, drawn within and across communities (`random_pairs`);
m (how often it occurs for one person) and the
share of matches among candidate pairs come from EM over the candidate pairs'
comparison patterns, u held fixed (as Splink does). Exact name agreement is
term-frequency adjusted: 张伟 is weak evidence, a rare name strong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from reconcile.compare import ADDRESS, BIRTH, COMPARISONS, ID, NAME, SEX, compare
from reconcile.comparison import MISSING

M_FLOOR = 1e-4


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
        """The log2(m/u) for one field's level; 0 for a missing value."""
        if level < 0:
            return 0.0
        return math.log2(self.m[field_name][level] / self.u[field_name][level])

    def as_table(self) -> pl.DataFrame:
        """One row per field and level: m, u and the weight."""
        rows = [
            {
                "field": c.name,
                "level": lvl,
                "m": self.m[c.name][lvl],
                "u": self.u[c.name][lvl],
                "weight": self.bayes_factor_log2(c.name, lvl),
            }
            for c in COMPARISONS
            for lvl in c.values
        ]
        return pl.DataFrame(rows)


def _level_shares(
    levels: pl.DataFrame,
    weights: pl.Series | None,
    prior: dict[str, dict[int, float]],
    strength: float,
    fields: list[str] | None = None,
) -> dict[str, dict[int, float]]:
    """Weighted share of each level per field, pulled towards `prior` by `strength` pseudo-observations.

    Large inputs speak for themselves, a handful of records cannot overturn
    what is known of ID numbers and names.
    """
    out: dict[str, dict[int, float]] = {}
    w = weights if weights is not None else pl.Series([1.0] * levels.height, dtype=pl.Float64)
    frame = levels.with_columns(w.alias("_w"))
    for f in fields or list(COMPARISONS.names):
        comparison = COMPARISONS[f]
        present = frame.filter(pl.col(comparison.column) >= 0)
        total = float(present["_w"].sum() or 0.0) + strength
        sums = dict(present.group_by(comparison.column).agg(pl.col("_w").sum()).iter_rows())
        out[f] = {lvl: (float(sums.get(lvl, 0.0)) + strength * prior[f][lvl]) / total for lvl in comparison.values}
    return out


STRATUM, SHARE = "stratum", "share"
"""`random_pairs`' columns: the stratum a pair was drawn in (0 across communities, 1 within one), and that
stratum's true share of all register × roll pairs."""


def random_pairs(register: pl.DataFrame, roll: pl.DataFrame, *, size: int, seed: int = 0) -> pl.DataFrame:
    """Random (rid, lid) pairs, almost all non-matches, in two strata with their true shares of all pairs.

    Up to `size` pairs of two people of different communities (stratum 0), and `size` of two people of one
    community (stratum 1). Uniform pairs alone would almost never put two people at one flat or in one household
    (about once in 70,000 pairs in a city of 48 communities), and how often a sample happened to do so swung an
    address's weight by seven bits from one run to the next. Within one community it happens hundreds of times
    in a sample. A share is estimated in each stratum and weighted by the stratum's `share` (`strata`).
    """
    rng = np.random.default_rng(seed)
    reg = register.select("idx", "community_code").sort("community_code", "idx", nulls_last=True)
    per = (
        reg.with_row_index("_at")
        .group_by("community_code")
        .agg(pl.col("_at").min().alias("_first"), pl.len().alias("_n"))
        .drop_nulls("community_code")
    )
    rol = roll.select("idx", "community_code").join(per, on="community_code", how="left", maintain_order="left")
    together = rol["_n"].fill_null(0).to_numpy().astype(np.float64)
    share_together = float(together.sum()) / max(1, register.height * roll.height)
    # Across communities: uniform pairs, those that fell in one community dropped.
    if reg.height and rol.height:
        rid, lid = rng.integers(0, reg.height, size), rng.integers(0, rol.height, size)
    else:
        rid = lid = np.zeros(0, dtype=np.int64)
    reg_code, rol_code = reg["community_code"].to_numpy(), rol["community_code"].to_numpy()
    apart = reg_code[rid] != rol_code[lid]
    rid, lid = rid[apart], lid[apart]
    # Within: a roll record drawn in proportion to its community's register records, then one of those.
    if share_together > 0 and size > 0:
        lid_in = rng.choice(rol.height, size, p=together / together.sum())
        first = rol["_first"].fill_null(0).cast(pl.Int64).to_numpy()[lid_in]
        rid_in = first + np.floor(rng.random(size) * together[lid_in]).astype(np.int64)
    else:
        lid_in = rid_in = np.zeros(0, dtype=np.int64)
    return pl.DataFrame(
        {
            "rid": reg["idx"].to_numpy()[np.concatenate([rid, rid_in])],
            "lid": rol["idx"].to_numpy()[np.concatenate([lid, lid_in])],
            STRATUM: np.concatenate([np.zeros(rid.size, dtype=np.int8), np.ones(rid_in.size, dtype=np.int8)]),
            SHARE: np.concatenate([np.full(rid.size, 1 - share_together), np.full(rid_in.size, share_together)]),
        },
        schema={"rid": pl.Int64, "lid": pl.Int64, STRATUM: pl.Int8, SHARE: pl.Float64},
    )


def strata(randoms: pl.DataFrame) -> list[tuple[pl.Series, float]]:
    """(which of `randoms` are in it, its weight) for each stratum of `random_pairs` drawn, weights summing to one.

    An estimate is made in each stratum, counting whole pairs (so it does not depend on the order they were
    compared in), and the estimates are added with these weights. A stratum a tiny input drew no pair of is left
    out, and the others' weights made to sum to one.
    """
    drawn = randoms.select(STRATUM, SHARE).unique(STRATUM).sort(STRATUM).rows()
    if not drawn:  # no pair at all: one empty stratum, for what is known before the data speaks
        return [(pl.Series([], dtype=pl.Boolean), 1.0)]
    total = sum(share for _, share in drawn) or 1.0
    return [(randoms[STRATUM] == stratum, share / total) for stratum, share in drawn]


def estimate_u(register: pl.DataFrame, roll: pl.DataFrame, randoms: pl.DataFrame) -> dict[str, dict[int, float]]:
    """The u probabilities from random register × roll pairs (`random_pairs`)."""
    levels, prior = compare(randoms, register, roll), COMPARISONS.default_u()
    parts = [
        (weight, _level_shares(levels.filter(among), None, prior, strength=2_000.0))
        for among, weight in strata(randoms)
    ]
    u = {f: {lvl: sum(w * part[f][lvl] for w, part in parts) for lvl in levels_u} for f, levels_u in prior.items()}
    # One ID number is one person: two random records share it about once in a
    # population's worth of pairs, however few records this run holds.
    same_id, u_id = ID.level("same").value, u[ID.name]
    u_id[same_id] = min(u_id[same_id], 1.0 / max(1_000_000, register.height))
    # An address that leaves parts out fits at least as many flats as one that states them all: two random
    # people are at least as often compatible as at the same flat (both are rare; a sample may see neither).
    compatible, same_flat, u_address = (
        ADDRESS.level("compatible").value,
        ADDRESS.level("same_flat").value,
        u[ADDRESS.name],
    )
    u_address[compatible] = max(u_address[compatible], u_address[same_flat])
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


def register_name_tf(register: pl.DataFrame, model: Model) -> pl.Series:
    """Each register record's name frequency, at position `idx` (null: no name or not counted).

    Pairs then take their tf by a gather on `rid` (`score(..., name_tf=...)`) instead of carrying the name.

    >>> reg = pl.DataFrame({"idx": [0, 2], "name": ["张伟", None]})
    >>> register_name_tf(reg, Model(m={}, u={}, prior=0.1, name_tf=name_frequencies(reg))).to_list()
    [1.0, None, None]
    """
    size = int(register["idx"].max() or 0) + 1 if register.height else 0  # type: ignore[arg-type]
    tf = register.select("name").join(model.name_tf, on="name", how="left", maintain_order="left")["tf"]
    return pl.repeat(None, size, dtype=pl.Float64, eager=True).scatter(register["idx"], tf)


def _log2_ratio(m: dict[str, dict[int, float]], u: dict[str, dict[int, float]], fields: list[str]) -> pl.Expr:
    terms = []
    for f in fields:
        comparison = COMPARISONS[f]
        mapping = {lvl: math.log2(m[f][lvl] / u[f][lvl]) for lvl in comparison.values}
        mapping[MISSING] = 0.0
        terms.append(pl.col(comparison.column).replace_strict(mapping, return_dtype=pl.Float64))
    return pl.sum_horizontal(terms)


def _posterior(log_ratio: pl.Series, prior: float) -> pl.Series:
    odds = (2.0 ** log_ratio.clip(-60, 60)) * (prior / (1 - prior))
    return odds / (1 + odds)


@dataclass(frozen=True, slots=True)
class TrainingSession:
    """EM over the pairs found by one blocking rule.

    It estimates m only for the fields that rule did not block on (those are
    biased towards agreement there).
    """

    rule: str
    fields: tuple[str, ...]


DEFAULT_SESSIONS: tuple[TrainingSession, ...] = (
    TrainingSession("id", (NAME.name, BIRTH.name, SEX.name, ADDRESS.name)),
    TrainingSession("pinyin_birth", (ID.name, SEX.name, ADDRESS.name)),
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
    cols = [COMPARISONS[f].column for f in fields]
    initial_m = COMPARISONS.initial_m()
    iterations = 0
    for _ in range(max_iterations):
        iterations += 1
        posterior = _posterior(patterns.select(_log2_ratio(m, u, fields).alias("lr"))["lr"], prior)
        weights = posterior * patterns["n"]
        new_prior = min(max(float(weights.sum()) / float(patterns["n"].sum()), 1e-6), 1 - 1e-6)
        shares = _level_shares(patterns.select(cols), weights, initial_m, strength=5.0, fields=fields)
        # No level is ever impossible for a true match: unseen data has slips this data lacked.
        shares = {f: {lvl: max(p, M_FLOOR) for lvl, p in levels_.items()} for f, levels_ in shares.items()}
        change = max(
            [abs(shares[f][lvl] - m[f][lvl]) for f in fields for lvl in COMPARISONS[f].values]
            + [abs(new_prior - prior)]
        )
        m = {**m, **shares}
        prior = new_prior
        if change < tolerance:
            break
    return m, prior, iterations


def pattern_counts(levels: pl.DataFrame, rules: pl.Series | None = None) -> pl.DataFrame:
    """How many pairs show each comparison pattern (per `rules` mask, if given): all that estimation needs.

    Counts of chunks of pairs add up (`add_patterns`), so pairs can be compared chunk by chunk and
    never held together.
    """
    mask = rules.alias("rules") if rules is not None else pl.lit(0, dtype=pl.UInt32).alias("rules")
    return (
        levels.select(*COMPARISONS.columns, mask)
        .group_by([*COMPARISONS.columns, "rules"])
        .len("n")
        .with_columns(pl.col("n").cast(pl.Int64))
    )


def add_patterns(*counts: pl.DataFrame) -> pl.DataFrame:
    """The pattern counts of several chunks of pairs, as one (`pattern_counts`); none: no pairs.

    >>> add_patterns().height
    0
    """
    keys = [*COMPARISONS.columns, "rules"]
    if not counts:
        return pattern_counts(pl.DataFrame(schema=dict.fromkeys(COMPARISONS.columns, pl.Int8)))
    return pl.concat(counts).group_by(keys).agg(pl.col("n").sum())


def _by_pattern(patterns: pl.DataFrame) -> pl.DataFrame:
    return patterns.group_by(COMPARISONS.columns).agg(pl.col("n").sum().cast(pl.Float64)).sort(COMPARISONS.columns)


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
    """Estimate m per training session (EM, u fixed), then the share of matches among candidates.

    `levels` are compared pairs; `rules` holds, per row, a bit mask of the blocking rules that found
    the pair (`rule_bits` names the bits); without them every session trains on all pairs. The same
    as `estimate_patterns` on their `pattern_counts`.
    """
    return estimate_patterns(
        pattern_counts(levels, rules if rule_bits is not None else None),
        u,
        rule_bits=rule_bits,
        sessions=sessions,
        name_tf=name_tf,
        comparisons=comparisons,
        max_iterations=max_iterations,
        tolerance=tolerance,
    )


def estimate_patterns(
    patterns: pl.DataFrame,
    u: dict[str, dict[int, float]],
    *,
    rule_bits: dict[str, int] | None = None,
    sessions: tuple[TrainingSession, ...] = DEFAULT_SESSIONS,
    name_tf: pl.DataFrame | None = None,
    comparisons: int | None = None,
    max_iterations: int = 50,
    tolerance: float = 1e-5,
) -> Model:
    """Estimate m per training session (EM, u fixed), then the share of matches among candidates.

    `patterns` are `pattern_counts` of the candidate pairs. A session trains on the pairs its rule
    found (`rule_bits` names each rule's bit; without them, on all pairs). `comparisons` is the number of
    all possible pairs (register × roll), which turns the share of matches among
    candidates into the prior for two random records. Patterns are taken in a fixed order, so
    the estimate does not depend on how the pairs were chunked.
    """
    m = COMPARISONS.initial_m()
    total_iterations = 0
    for session in sessions:
        if rule_bits is None:
            subset = patterns
        else:
            subset = patterns.filter((pl.col("rules") & rule_bits.get(session.rule, 0)) != 0)
        if subset.height == 0:
            continue
        m, _, its = _em(
            _by_pattern(subset),
            list(session.fields),
            m,
            u,
            prior=0.5,
            max_iterations=max_iterations,
            tolerance=tolerance,
        )
        total_iterations += its
    random_prior, candidate_prior = _prior(
        _by_pattern(patterns), m, u, comparisons=comparisons, max_iterations=max_iterations, tolerance=tolerance
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
    """(prior for two random records, share of matches among these candidates).

    Both by EM on the prior alone with m and u fixed. Matches live almost only among candidates, so the expected number of
    matches among them, spread over all `comparisons` possible pairs, is the
    probability that two random records are one person.
    """
    patterns = _by_pattern(pattern_counts(levels))
    return _prior(patterns, m, u, comparisons=comparisons, max_iterations=max_iterations, tolerance=tolerance)


def _prior(
    patterns: pl.DataFrame,
    m: dict[str, dict[int, float]],
    u: dict[str, dict[int, float]],
    *,
    comparisons: int | None,
    max_iterations: int,
    tolerance: float,
) -> tuple[float, float]:
    if patterns.height == 0:
        return 1e-12, 1e-6
    log_ratio = patterns.select(_log2_ratio(m, u, list(COMPARISONS.names)).alias("lr"))["lr"]
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


WEIGHT_COLUMNS = COMPARISONS.weight_columns


def score(
    levels: pl.DataFrame, model: Model, *, prior: float | None = None, name_tf: pl.Series | None = None
) -> pl.DataFrame:
    """Add per-field weights `w_<field>`, `match_weight` and `match_probability`.

    match_weight = log2(prior odds of two random records) + Σ log2(m/u); exact
    names use u = the name's frequency: `name_tf` per pair if given (`register_name_tf`),
    else looked up by `levels["reg_name"]`. `prior` overrides the model's prior
    (e.g. one re-estimated among records still unlinked).
    """
    exprs = []
    for c in COMPARISONS:
        mapping = {lvl: model.bayes_factor_log2(c.name, lvl) for lvl in c.values}
        mapping[MISSING] = 0.0
        exprs.append(pl.col(c.column).replace_strict(mapping, return_dtype=pl.Float64).alias(c.weight_column))
    scored = levels.with_columns(exprs)
    if model.name_tf.height:
        floor = float(model.name_tf["tf"].min())  # type: ignore[arg-type]
        if name_tf is not None:
            scored = scored.with_columns(name_tf.alias("_tf"))
        else:
            scored = scored.join(
                model.name_tf.rename({"name": "reg_name", "tf": "_tf"}),
                on="reg_name",
                how="left",
                maintain_order="left",
            )
        tf = pl.col("_tf").fill_null(floor)
        # Never let a very common name count for more than average agreement, nor a rare one for unbounded weight.
        exact = NAME.level("exact").value
        tf_weight = (pl.lit(model.m[NAME.name][exact]) / tf.clip(lower_bound=1e-7)).log(2).clip(upper_bound=30.0)
        scored = scored.with_columns(
            pl.when(pl.col(NAME.column) == exact)
            .then(pl.min_horizontal(tf_weight, pl.lit(30.0)))
            .otherwise(pl.col(NAME.weight_column))
            .alias(NAME.weight_column)
        ).drop("_tf")
    p0 = model.prior if prior is None else prior
    prior_weight = math.log2(p0 / (1 - p0))
    scored = scored.with_columns((pl.sum_horizontal(WEIGHT_COLUMNS) + prior_weight).alias("match_weight"))
    return scored.with_columns(
        (1.0 / (1.0 + (2.0 ** (-pl.col("match_weight").clip(-60, 60))))).alias("match_probability")
    )
