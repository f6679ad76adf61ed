"""Apply operators' decisions to a new run, by record key and fingerprint.

A decision holds while the records it was made on still exist with the same
compared values (fingerprint); otherwise it is set aside and its item comes
back to the queue marked as changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from reconcile.frames import Frame, collect
from reconcile.keys import LEGACY_PREFIXES, key_migration
from reconcile.linker import Decisions
from schemas.codes import DecisionKind, ItemState, Outcome, Side

if TYPE_CHECKING:
    from collections.abc import Mapping

OUTCOME_SCHEMA = {"decision_id": pl.Int64, "outcome": pl.String}


def _match(decisions: pl.DataFrame, records: Frame, key: str, fingerprint: str, idx_name: str) -> pl.DataFrame:
    """`decisions` with the record each one's `key` names tonight (its `idx_name` and `_<fingerprint>`), if any."""
    current = (
        records.lazy()
        .select(
            pl.col("record_key").alias(key),
            pl.col("fingerprint").alias(f"_{fingerprint}"),
            pl.col("idx").alias(idx_name),
        )
        .join(decisions.lazy().select(key).unique(), on=key, how="semi", maintain_order="left")  # few: what they name
        .unique(key, keep="first")
    )
    return decisions.join(collect(current), on=key, how="left")


def _outcome(*, gone: pl.Expr, changed: pl.Expr) -> pl.Expr:
    """The `outcome` column: gone (a record is no longer delivered), changed (a compared value changed) or applied."""
    return (
        pl.when(gone)
        .then(pl.lit(Outcome.GONE.value))
        .when(changed)
        .then(pl.lit(Outcome.CHANGED.value))
        .otherwise(pl.lit(Outcome.APPLIED.value))
        .alias("outcome")
    )


def _kinds(*, pair: bool) -> list[str]:
    """The values of the decision kinds made on pairs (`pair=True`) or on lone records."""
    return [k.value for k in DecisionKind if k.is_pair is pair]


def pair_decisions(decisions: pl.DataFrame, register: Frame, roll: Frame) -> tuple[Decisions, pl.DataFrame]:
    """(Decisions for the linker, outcome per pair decision: applied / changed / gone)."""
    pairs = decisions.filter(pl.col("kind").is_in(_kinds(pair=True)))
    pairs = _match(pairs, register, "register_key", "register_fingerprint", "rid")
    pairs = _match(pairs, roll, "roll_key", "roll_fingerprint", "lid")
    pairs = pairs.with_columns(
        _outcome(
            gone=pl.col("rid").is_null() | pl.col("lid").is_null(),
            changed=(pl.col("_register_fingerprint") != pl.col("register_fingerprint"))
            | (pl.col("_roll_fingerprint") != pl.col("roll_fingerprint")),
        )
    )
    applied = pairs.filter(pl.col("outcome") == Outcome.APPLIED.value)
    result = Decisions(
        accepted=applied.filter(pl.col("kind") == DecisionKind.SAME_PERSON.value).select("rid", "lid"),
        rejected=applied.filter(pl.col("kind") == DecisionKind.DIFFERENT_PERSON.value).select("rid", "lid"),
    )
    return result, pairs.select(pl.col("id").alias("decision_id"), "outcome")


def record_decisions(decisions: pl.DataFrame, records: Frame, *, side: Side) -> pl.DataFrame:
    """Mismatch decisions on one side's records: idx, decision_id, kind, outcome."""
    key, fingerprint, other = f"{side}_key", f"{side}_fingerprint", f"{side.other}_key"
    lone = decisions.filter(
        pl.col("kind").is_in(_kinds(pair=False)) & pl.col(key).is_not_null() & pl.col(other).is_null()
    )
    matched = _match(lone, records, key, fingerprint, "idx")
    return matched.select(
        "idx",
        pl.col("id").alias("decision_id"),
        "kind",
        _outcome(gone=pl.col("idx").is_null(), changed=pl.col(f"_{fingerprint}") != pl.col(fingerprint)),
    )


def record_outcomes(decisions: pl.DataFrame, register: Frame, roll: Frame) -> pl.DataFrame:
    """Mismatch decisions on the records of both sides that are still delivered: side, idx, decision_id, kind, outcome."""
    return pl.concat(
        [
            record_decisions(decisions, register, side=Side.REGISTER).with_columns(
                pl.lit(Side.REGISTER.value).alias("side")
            ),
            record_decisions(decisions, roll, side=Side.ROLL).with_columns(pl.lit(Side.ROLL.value).alias("side")),
        ]
    ).drop_nulls("idx")


def changed_pairs(pair_outcomes: pl.DataFrame, decisions: pl.DataFrame, register: Frame, roll: Frame) -> pl.DataFrame:
    """(rid, lid) of the pairs whose decision was set aside tonight because a record changed."""
    keyed = pair_outcomes.join(
        decisions.select(pl.col("id").alias("decision_id"), "register_key", "roll_key"), on="decision_id"
    )
    return collect(
        keyed.lazy()
        .filter(pl.col("outcome") == Outcome.CHANGED.value)
        .join(
            register.lazy().select(pl.col("record_key").alias("register_key"), pl.col("idx").alias("rid")),
            on="register_key",
        )
        .join(roll.lazy().select(pl.col("record_key").alias("roll_key"), pl.col("idx").alias("lid")), on="roll_key")
        .select("rid", "lid")
    )


def rekeyed(decisions: pl.DataFrame, register: Frame, roll: Frame) -> pl.DataFrame:
    """Decisions stored under the earlier scheme's keys, moved to tonight's (`reconcile.keys.key_migration`).

    Returns id, register_key, roll_key, register_fingerprint and roll_fingerprint of the decisions that
    move. A fingerprint moves only where it still matched its record, so a decision made on since-changed
    values still comes back as changed. Decisions already under this scheme's keys never move: running
    it every night is harmless, and a record that is away tonight moves when it comes back.
    """
    columns = ["register_key", "roll_key", "register_fingerprint", "roll_fingerprint"]
    out = decisions.select("id", *columns).with_columns(pl.lit(False).alias("_moved"))
    for side, records in ((Side.REGISTER, register), (Side.ROLL, roll)):
        key, fingerprint = f"{side}_key", f"{side}_fingerprint"
        if not decisions[key].str.starts_with(LEGACY_PREFIXES[side]).any():
            continue  # nothing stored under the earlier scheme: no need to compute its keys for every record
        moves = collect(key_migration(records.lazy(), side=side)).rename({"old_key": key})
        out = (
            out.join(moves, on=key, how="left")
            .with_columns(
                pl.coalesce("new_key", key).alias(key),
                pl.when(pl.col(fingerprint) == pl.col("old_fingerprint"))
                .then(pl.col("new_fingerprint"))
                .otherwise(pl.col(fingerprint))
                .alias(fingerprint),
                (pl.col("_moved") | pl.col("new_key").is_not_null()).alias("_moved"),
            )
            .drop("new_key", "old_fingerprint", "new_fingerprint")
        )
    return out.filter("_moved").select("id", *columns)


def is_fresh(decision: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Whether a decision still speaks for an item: both records' compared values are as they were.

    The scalar form of the `changed` outcome above, for one item on a page.

    >>> is_fresh({"register_fingerprint": "a", "roll_fingerprint": None},
    ...          {"register_fingerprint": "a", "roll_fingerprint": None})
    True
    >>> is_fresh({"register_fingerprint": "a", "roll_fingerprint": None},
    ...          {"register_fingerprint": "b", "roll_fingerprint": None})
    False
    """
    return bool(
        decision["register_fingerprint"] == item["register_fingerprint"]
        and decision["roll_fingerprint"] == item["roll_fingerprint"]
    )


def item_state(item: Mapping[str, Any], decision: Mapping[str, Any] | None) -> ItemState:
    """Where a queue item stands, given the operator's active decision on its records (if any).

    >>> item = {"changed": False, "register_fingerprint": "a", "roll_fingerprint": "b"}
    >>> item_state(item, None)
    <ItemState.PENDING: 'pending'>
    >>> item_state(item, {"kind": "door_visit", "register_fingerprint": "a", "roll_fingerprint": "b"})
    <ItemState.VISIT: 'visit'>
    >>> item_state(item, {"kind": "same_person", "register_fingerprint": "x", "roll_fingerprint": "b"})
    <ItemState.CHANGED: 'changed'>
    """
    if decision is None:
        return ItemState.CHANGED if item["changed"] else ItemState.PENDING
    if not is_fresh(decision, item):
        return ItemState.CHANGED
    return ItemState.VISIT if decision["kind"] == DecisionKind.DOOR_VISIT.value else ItemState.DECIDED
