"""The linkage pipeline: deduplicate, block, compare, estimate, score, assign, band.

`link` is the public entry point. It runs three passes over one model: the
blocked candidates; then household evidence (relatives found together); then
the records nothing explains yet, where namesakes found elsewhere no longer
compete. Blocking goes by rule and key partition and comparison by chunk of pairs: units that
may run anywhere, in any order (`reconcile.units`; on a cluster's workers: `flows.link_units`).
Scoring is pairwise and goes by chunk in this process (on a cluster, sending the chunks away
would cost as much as scoring them: benchmarks/RESULTS.md); only estimation and the one-to-one
assignment see all pairs, and they need just the small comparison patterns and (rid, lid, weight).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from reconcile.assign import Bands, assign_one_to_one, choose_bands
from reconcile.block import (
    DEFAULT_RULES,
    UNEXPLAINED_RULES,
    BlockingRule,
    blocked,
    candidate_pairs,
    merge_sources,
    pair_key,
    rule_bits,
)
from reconcile.compare import COMPARISONS, HOUSEHOLD, compared
from reconcile.dedupe import SAME_FLAT_COLUMNS, find_duplicates
from reconcile.household import household_candidates, household_levels, household_parameters
from reconcile.model import (
    WEIGHT_COLUMNS,
    Model,
    add_patterns,
    estimate_patterns,
    estimate_u,
    name_frequencies,
    pattern_counts,
    random_pairs,
    register_name_tf,
    score,
)
from reconcile.units import IN_TURN, Sides, Units
from schemas.codes import DecidedBy, Side
from schemas.inputs import LINEAGE

if TYPE_CHECKING:
    from collections.abc import Callable


RECORD_ID = pl.UInt32
"""Record ids inside linking: every candidate pair holds two, and half the bytes of Int64 is ~1 GiB at scale 50.
The strict cast refuses ids of 2**32 or more (`reconcile.block.pair_key` packs two ids in 64 bits); `link`
gives Int64 back."""

_FEW_VALUES = ("community_code", "sex", "surname_py", "dw_class", "dw_place", "dw_building", "dw_unit", "dw_room")
"""Columns linking only tests for equality and nulls or hashes as blocking keys, with few distinct values: held
as categories (one global set, so equal across the two sides), 4 bytes a row instead of a 16-byte string view
(by count, 1.6 GiB less at scale 50's 18.6 M records)."""


STEPS: dict[str, str] = {
    "dedupe": "whole side: duplicates found and set aside",
    "block": "by blocking-key partition (hash of the key)",
    "compare": "by chunk of candidate pairs",
    "estimate": "whole city: u from random pairs, pattern counts summed by chunk, then EM on the counts",
    "score": "by chunk of compared pairs (twice: before and after household evidence)",
    "assign": "whole city: the one-to-one assignment and the bands (twice)",
    "household": "relatives found together: new pairs compared and every pair's household level, by chunk",
    "unexplained": "records nothing explains yet: blocked, compared and assigned again among themselves",
    "weights": "by chunk of kept pairs: per-field weights",
}
"""The steps of `link` (as `on_step` names them), and what each works on: a partition or chunk, or the whole."""


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Targets from which the bands are derived, and a few safety valves."""

    target_precision: float = 0.999
    """Estimated precision the auto-linked set must reach."""
    target_recall: float = 0.999
    """Share of estimated true matches that must be auto-linked or offered for review."""
    auto_floor: float = 0.95
    """No pair below this probability is auto-linked, whatever the estimate says."""
    review_capacity: float = 0.01
    """Operators can look at about this share of roll rows: the review band is
    widened, most probable pairs first, until it holds that many (see `choose_bands`);
    pairs among records nothing else explains fill what is left (`_unexplained_pass`)."""
    review_floor: float = 0.02
    """Pairs below this probability are never shown for review."""
    min_probability: float = 0.001
    u_sample: int = 100_000
    seed: int = 0
    rules: tuple[BlockingRule, ...] = DEFAULT_RULES
    partitions: int = 1
    """Blocking joins each rule's keys in this many parts by key hash (`reconcile.block.candidate_pairs`)."""
    chunk_rows: int = 500_000
    """Pairs compared, checked for household evidence, counted and scored at a time. Neither this nor
    `partitions` changes a result (tests/reconcile/test_partitioned_link.py): they bound what one step holds."""


@dataclass(slots=True)
class Decisions:
    """Operators' pair decisions, by record index of this run."""

    accepted: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"rid": pl.Int64, "lid": pl.Int64}))
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema={"rid": pl.Int64, "lid": pl.Int64}))


@dataclass(slots=True)
class LinkResult:
    """What `link` found: the pairs, the model and bands behind them, and what was compared."""

    assigned: pl.DataFrame
    """Every one-to-one pair with its probabilities, whatever its band."""
    links: pl.DataFrame
    """rid, lid, levels, per-field weights, match_weight, pair_probability, match_probability, decided_by,
    unexplained (offered by the pass over records nothing else explains)."""
    model: Model
    bands: Bands
    candidate_count: int
    register_duplicates: pl.DataFrame
    roll_duplicates: pl.DataFrame
    candidates: pl.DataFrame
    """rid, lid, rules: every compared pair and a bit mask of what found it (`reconcile.block.rule_bits`)."""

    def duplicates(self) -> pl.DataFrame:
        """Both sides' duplicate records in one frame: side, idx, primary."""
        return pl.concat(
            [
                self.register_duplicates.with_columns(pl.lit(Side.REGISTER.value).alias("side")),
                self.roll_duplicates.with_columns(pl.lit(Side.ROLL.value).alias("side")),
            ]
        )

    def record(self) -> dict[str, Any]:
        """What a run keeps of the model: prior, EM iterations, bands and every level's m, u and weight."""
        return {
            "prior": self.model.prior,
            "candidate_prior": self.model.candidate_prior,
            "em_iterations": self.model.em_iterations,
            "bands": {"auto": self.bands.auto, "review": self.bands.review},
            "parameters": self.model.as_table().to_dicts(),
        }


def link(
    register: pl.DataFrame,
    roll: pl.DataFrame,
    *,
    settings: LinkSettings | None = None,
    decisions: Decisions | None = None,
    consume_inputs: bool = False,
    on_step: Callable[[str], None] | None = None,
    units: Units = IN_TURN,
) -> LinkResult:
    """Link prepared register records to prepared roll records, city-wide.

    Both frames carry `idx` (unique per side) and the prepared columns
    (`reconcile.prepare`, `reconcile.dwelling.with_dwelling`, and `flat` from
    `reconcile.dwelling.resolve_flats` / `with_flat`). With `consume_inputs`,
    `link` takes the columns out of `register` and `roll` as it copies the rows
    it links, leaving both frames empty (partly, if it fails on the way): the
    records are never held twice. `on_step` is told the name of each step (`STEPS`) as it begins.
    `units` runs the first pass's blocking partitions and every pass's comparison chunks (`reconcile.units`):
    in turn here unless told otherwise. Who runs them changes no result.
    """
    step = on_step or (lambda name: None)
    step("dedupe")
    settings = settings or LinkSettings()
    decisions = decisions or Decisions()
    reg_dups = find_duplicates(_for_dedupe(register, []).filter(register["active"]), within_file_keys=[])
    roll_keys = [["name", "birth"], ["name", "flat"]]
    roll_dups = find_duplicates(
        _for_dedupe(roll, [*roll_keys, list(SAME_FLAT_COLUMNS)]), within_file_keys=roll_keys, same_flat=True
    )
    reg = _rows(register, pl.col("active") & ~pl.col("idx").is_in(reg_dups["idx"].implode()), consume=consume_inputs)
    rol = _rows(roll, ~pl.col("idx").is_in(roll_dups["idx"].implode()), consume=consume_inputs)
    del register, roll
    decisions = Decisions(*(_as_linking_ids(pairs) for pairs in (decisions.accepted, decisions.rejected)))
    work = _Work(units, Sides(reg, rol), settings.chunk_rows)

    step("block")
    candidates = blocked(work.sides, settings.rules, partitions=settings.partitions, units=units)
    forced = decisions.accepted.join(reg.select(pl.col("idx").alias("rid")), on="rid", how="semi").join(
        rol.select(pl.col("idx").alias("lid")), on="lid", how="semi"
    )
    bits = rule_bits(settings.rules)
    forced = _not_among(forced, candidates, settings.chunk_rows).with_columns(
        pl.lit(bits["operator"], dtype=pl.UInt32).alias("rules")
    )
    candidates = pl.concat([candidates, forced])
    step("compare")
    levels = work.compare(candidates)
    step("estimate")
    randoms = random_pairs(reg, rol, size=settings.u_sample, seed=settings.seed)
    u = estimate_u(reg, rol, randoms)
    patterns = add_patterns(
        *(
            pattern_counts(chunk, chunk["rules"])
            for chunk in levels.with_columns(candidates["rules"]).iter_slices(settings.chunk_rows)
        )
    )
    model = estimate_patterns(
        patterns, u, rule_bits=bits, name_tf=name_frequencies(reg, rol), comparisons=reg.height * rol.height
    )
    tf = register_name_tf(reg, model)
    step("score")
    scored = _apply_decisions(_score(levels, model, tf, settings), decisions)
    step("assign")
    assigned, bands = _assign_and_band(scored, rol.height, settings)
    step("household")
    # Pass 2: relatives who moved together vouch for each other.
    confident = assigned.filter(pl.col("_accepted") | (pl.col("match_probability") >= bands.auto))
    del scored, assigned  # pass 2 scores every pair again
    m_hh, u_hh = household_parameters(confident, reg, rol, randoms)
    model.m[HOUSEHOLD.name], model.u[HOUSEHOLD.name] = m_hh, u_hh
    extra = _not_among(household_candidates(confident, reg, rol), levels, settings.chunk_rows)
    levels = pl.concat([levels, work.compare(extra)])
    candidates = pl.concat([candidates, extra.with_columns(pl.lit(bits["household"], dtype=pl.UInt32).alias("rules"))])
    together = household_levels(levels, confident, reg, rol, chunk_size=settings.chunk_rows)
    levels = levels.with_columns(together.alias(HOUSEHOLD.column))
    step("score")
    scored = _apply_decisions(_score(levels, model, tf, settings), decisions)
    step("assign")
    assigned, bands = _assign_and_band(scored, rol.height, settings)
    step("unexplained")
    # Pass 3: among the records nothing explains yet, the namesakes already
    # explained elsewhere stop competing; what is left is offered for review.
    settled = assigned.filter(pl.col("_accepted") | (pl.col("match_probability") >= bands.review))
    unexplained, considered = _unexplained_pass(
        settled, bands, scored, work, confident, model, tf, decisions, settings=settings
    )
    candidates = merge_sources(
        pl.concat([candidates, considered.with_columns(pl.lit(bits["unexplained"], dtype=pl.UInt32).alias("rules"))])
    )
    assigned = pl.concat(
        [settled.with_columns(pl.lit(False).alias("_unexplained"), pl.lit(False).alias("_offered")), unexplained],
        how="diagonal_relaxed",
    )
    step("weights")
    assigned = _with_weights(assigned, model, tf, settings)
    p = pl.col("match_probability")
    links = (
        assigned.with_columns(
            pl.when(pl.col("_accepted"))
            .then(pl.lit(DecidedBy.OPERATOR.value))
            .when(pl.col("_unexplained"))
            .then(pl.when(pl.col("_offered")).then(pl.lit(DecidedBy.REVIEW.value)))
            .when(p >= bands.auto)
            .then(pl.lit(DecidedBy.AUTO.value))
            .when(p >= bands.review)
            .then(pl.lit(DecidedBy.REVIEW.value))
            .otherwise(None)
            .alias("decided_by")
        )
        .filter(pl.col("decided_by").is_not_null())
        .rename({"_unexplained": "unexplained"})
        .drop("_accepted", "_offered")
    )
    return LinkResult(
        assigned=_as_record_ids(assigned.drop("_accepted", "_unexplained", "_offered")),
        links=_as_record_ids(links),
        model=model,
        bands=bands,
        candidate_count=candidates.height,
        register_duplicates=reg_dups,
        roll_duplicates=roll_dups,
        candidates=_as_record_ids(candidates),
    )


def _unexplained_pass(
    settled: pl.DataFrame,
    bands: Bands,
    scored: pl.DataFrame,
    work: _Work,
    confident: pl.DataFrame,
    model: Model,
    tf: pl.Series,
    decisions: Decisions,
    *,
    settings: LinkSettings,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pairs among the records no `settled` pair (auto, review or operator) explains.

    Returns (those one-to-one pairs, flagged `_unexplained` and, if shown for
    review, `_offered`; every (rid, lid) pair considered among them). `scored`
    holds the pairs already compared and scored, decisions applied.

    A person registered in one community and recorded without ID number or
    birth date in another is found by name alone. City-wide, namesakes who
    were found at home compete with that pair and push it below the review
    floor; once they are explained they no longer do. The pairwise evidence
    and the model are unchanged, only the competitors are fewer.

    Such pairs are never linked without an operator. They fill what is left
    of the review capacity, most probable first, down to `min_probability`
    rather than the review floor: one look settles two open records (a
    户在人不在 and a 人在户不在), and for pairs resting on a name alone the
    model's probability is a poor guide (on the benchmark city, a quarter of
    the pairs it put between 0.001 and 0.02 were true).
    """
    reg, rol = work.sides.register, work.sides.roll
    read = ["idx", *{c for rule in UNEXPLAINED_RULES for pair in rule.on for c in pair}]
    free_reg = reg.select(read).join(settled.select(pl.col("rid").alias("idx")), on="idx", how="anti")
    free_rol = rol.select(read).join(settled.select(pl.col("lid").alias("idx")), on="idx", how="anti")
    found = _not_among(
        candidate_pairs(free_reg, free_rol, UNEXPLAINED_RULES).select("rid", "lid"), scored, settings.chunk_rows
    )
    fresh = work.compare(found)
    together = household_levels(fresh, confident, reg, rol, chunk_size=settings.chunk_rows)
    fresh = fresh.with_columns(together.alias(HOUSEHOLD.column))
    known = scored.join(free_reg.select(pl.col("idx").alias("rid")), on="rid", how="semi").join(
        free_rol.select(pl.col("idx").alias("lid")), on="lid", how="semi"
    )
    considered = pl.concat([known, _apply_decisions(_score(fresh, model, tf, settings), decisions)])
    pairs = assign_one_to_one(considered, min_probability=settings.min_probability)
    in_review = settled.filter(~pl.col("_accepted") & (pl.col("match_probability") < bands.auto)).height
    room = max(0, int(settings.review_capacity * rol.height) - in_review)
    offered = pairs.top_k(room, by="match_probability")
    # Pairs not offered stay in `assigned`, as every scored pair does, without a band.
    pairs = pairs.join(offered.select("rid", "lid", pl.lit(True).alias("_offered")), on=["rid", "lid"], how="left")
    flagged = pairs.with_columns(pl.lit(True).alias("_unexplained"), pl.col("_offered").fill_null(False))
    return flagged, considered.select("rid", "lid")


def _for_dedupe(records: pl.DataFrame, within_file_keys: list[list[str]]) -> pl.DataFrame:
    """The columns `find_duplicates` reads with these keys (shared with `records`, not copied)."""
    wanted = dict.fromkeys(["idx", *LINEAGE, "id18", *(c for keys in within_file_keys for c in keys)])
    return records.select(c for c in wanted if c in records.columns)


def _rows(records: pl.DataFrame, keep: pl.Expr, *, consume: bool) -> pl.DataFrame:
    """The rows of `records` where `keep` holds, as linking holds them.

    Without lineage (linking never reads it), ids as `RECORD_ID`, the `_FEW_VALUES` columns as categories.
    With `consume`, each column is taken out of `records` as it is copied, so that
    the frame and its copy never both exist whole (at scale 50 each is ~4 GiB), provided
    nobody else holds the frame's columns.
    """
    mask = records.select(keep).to_series()

    def held(column: pl.Series) -> pl.Series:
        if column.name == "idx":
            return column.cast(RECORD_ID, strict=True)
        return column.cast(pl.Categorical) if column.name in _FEW_VALUES else column

    names = [c for c in records.columns if c not in LINEAGE]
    if not consume:
        return pl.DataFrame([held(records[name].filter(mask)) for name in names])
    kept = pl.DataFrame([held(records.drop_in_place(name).filter(mask)) for name in names])
    for name in records.columns:
        records.drop_in_place(name)
    return kept


def _as_linking_ids(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.with_columns(pl.col("rid", "lid").cast(RECORD_ID))


def _as_record_ids(pairs: pl.DataFrame) -> pl.DataFrame:
    return pairs.with_columns(pl.col("rid", "lid").cast(pl.Int64))


def _not_among(pairs: pl.DataFrame, known: pl.DataFrame, chunk_rows: int) -> pl.DataFrame:
    """The rows of `pairs` whose (rid, lid) is no pair of `known`.

    For a few pairs against the many compared: the many are probed, a chunk at a time, against the
    few. An anti join would build its hash table on the many (+2 GiB for 20 M pairs, measured).
    """
    if pairs.is_empty():
        return pairs
    few = pairs.select(pair_key().alias("_pair"))["_pair"].implode()
    seen = [
        chunk.select(pair_key().alias("_pair")).filter(pl.col("_pair").is_in(few))["_pair"]
        for chunk in known.select("rid", "lid").iter_slices(chunk_rows)
    ]
    if not seen:
        return pairs
    return pairs.filter(~pair_key().is_in(pl.concat(seen).implode()))


@dataclass(frozen=True, slots=True)
class _Work:
    """Who runs `link`'s units, the sides they read, and the pairs a unit takes."""

    units: Units
    sides: Sides
    rows: int

    def compare(self, pairs: pl.DataFrame) -> pl.DataFrame:
        """The pairs' levels (`reconcile.compare.compared`), by units."""
        return compared(pairs, self.sides, chunk_size=self.rows, units=self.units)


def _by_chunks(frame: pl.DataFrame, rows: int, step: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
    """`step` over `frame`, `rows` rows at a time (for a step whose rows come out independently of each other)."""
    if frame.height <= rows:
        return step(frame)
    # Not rechunked: one contiguous copy would hold every pair twice for a moment.
    return pl.concat([step(chunk) for chunk in frame.iter_slices(rows)], rechunk=False)


def _score(levels: pl.DataFrame, model: Model, tf: pl.Series, settings: LinkSettings) -> pl.DataFrame:
    """`score` by chunks, without the per-field weights: every candidate pair is scored, few are kept.

    `tf`: the register's name frequencies by record id (`register_name_tf`). `_with_weights` gives
    the weights back to the pairs kept.
    """
    return _by_chunks(
        levels,
        settings.chunk_rows,
        lambda chunk: score(chunk, model, name_tf=tf.gather(chunk["rid"])).drop(WEIGHT_COLUMNS),
    )


def _with_weights(pairs: pl.DataFrame, model: Model, tf: pl.Series, settings: LinkSettings) -> pl.DataFrame:
    """Scored pairs (`_score`) with their per-field weights `w_<field>` again, before `match_weight`.

    From the same levels and model, so the same weights `score` gave them; `match_weight` and the
    probabilities are kept as they are (decisions and the one-to-one assignment changed them).
    """
    weights = _by_chunks(
        pairs.select("rid", *COMPARISONS.columns),
        settings.chunk_rows,
        lambda chunk: score(chunk, model, name_tf=tf.gather(chunk["rid"])).select(WEIGHT_COLUMNS),
    )
    at = pairs.columns.index("match_weight")
    return pairs.with_columns(weights).select(*pairs.columns[:at], *WEIGHT_COLUMNS, *pairs.columns[at:])


def _apply_decisions(scored: pl.DataFrame, decisions: Decisions) -> pl.DataFrame:
    """Drop rejected pairs; make accepted pairs outrank any score."""
    if decisions.accepted.is_empty() and decisions.rejected.is_empty():
        return scored.with_columns(pl.lit(False).alias("_accepted"))
    # Membership tests on packed keys rather than joins: the scored frame is large, the decisions few.
    keys = scored.select(pair_key().alias("_pair"))["_pair"]
    rejected = keys.is_in(decisions.rejected.select(pair_key())["rid"].implode())
    if rejected.any():  # else no copy of every pair
        scored, keys = scored.filter(~rejected), keys.filter(~rejected)
    accepted = pl.lit(keys.is_in(decisions.accepted.select(pair_key())["rid"].implode()))
    return scored.with_columns(
        accepted.alias("_accepted"),
        pl.when(accepted).then(pl.lit(1e6)).otherwise(pl.col("match_weight")).alias("match_weight"),
        pl.when(accepted).then(pl.lit(1.0)).otherwise(pl.col("match_probability")).alias("match_probability"),
    )


def _assign_and_band(scored: pl.DataFrame, roll_rows: int, settings: LinkSettings) -> tuple[pl.DataFrame, Bands]:
    assigned = assign_one_to_one(scored, min_probability=settings.min_probability)
    bands = choose_bands(
        assigned.filter(~pl.col("_accepted"))["match_probability"],
        target_precision=settings.target_precision,
        target_recall=settings.target_recall,
        floor=settings.auto_floor,
        review_capacity=int(settings.review_capacity * roll_rows),
        review_floor=settings.review_floor,
    )
    return assigned, bands
