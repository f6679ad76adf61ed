"""What counts as verified: the only statuses that may go to the police as a list.

A status resting on a link is verified by whoever decided the link (automatically above the auto threshold, or an
operator); a lone 人在户不在 / 户在人不在 once an operator confirms it, on the record as it is tonight, or — only where
the verification policy says so — by its evidence alone (`reconcile.evidence`). Inactive and duplicate registrations
are the register's own statements. Review-band pairs are never verified.

A door visit may also overturn a lone status (`OVERTURNS`: the registered person lives there after all) or settle
it without verifying it (`SETTLES`: the roll named someone who does not live there): either way the record no
longer waits for anyone, and it never goes to the police as a verified 人在户不在 / 户在人不在.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from collections.abc import Collection

    from reconcile.frames import Frame

from schemas.codes import DecidedBy, DecisionKind, Evidence, Outcome, Side, Status

VERIFIERS: tuple[DecidedBy, ...] = (DecidedBy.AUTO, DecidedBy.OPERATOR, DecidedBy.POLICY)
"""The values `verified_by` takes; null means not verified."""

CONFIRMS: dict[Status, tuple[DecisionKind, ...]] = {
    Status.ABSENT: (DecisionKind.CONFIRM_ABSENT, DecisionKind.MOVED_OUT, DecisionKind.DECEASED),
    Status.UNREGISTERED: (DecisionKind.CONFIRM_UNREGISTERED,),
}
"""The operator's decisions that verify a lone record's status."""

OVERTURNS: dict[Status, tuple[DecisionKind, Status]] = {
    Status.ABSENT: (DecisionKind.FOUND_PRESENT, Status.CONSISTENT),
}
"""Lone status → (the decision that overturns it, the status it becomes, verified by the operator)."""

SETTLES: dict[Status, tuple[DecisionKind, ...]] = {
    Status.UNREGISTERED: (DecisionKind.NOT_LIVING_HERE, DecisionKind.REGISTERED_SINCE),
}
"""Lone status → decisions that settle it without verifying it: no longer pending, never exported as verified."""

REVIEW_BAND: tuple[Status, ...] = (Status.REVIEW,)
"""Statuses of a review-band pair: never verified, they wait for an operator to say whether it is one person."""

AWAITING_CONFIRMATION: tuple[Status, ...] = tuple(CONFIRMS)
"""Lone statuses that wait (null `verified_by`) until an operator confirms them."""


def _decided(pairs: dict[Status, tuple[DecisionKind, ...]]) -> pl.Expr:
    """True where a standing decision of the kinds given for the record's status applies tonight."""
    applied = (pl.col("decision_outcome") == Outcome.APPLIED.value) & pl.any_horizontal(
        (pl.col("status") == status.value) & pl.col("decision").is_in([k.value for k in kinds])
        for status, kinds in pairs.items()
    )
    return applied.fill_null(False)


def verify(
    statuses: Frame,
    links: Frame,
    record_outcomes: Frame,
    *,
    policy: Collection[Evidence] = (),
) -> pl.LazyFrame:
    """Add `verified_by`, `decision`, `decision_outcome` and `pending` to the statuses.

    `verified_by` is auto / operator / policy, or null (not verified). `record_outcomes` is
    `reconcile.decisions.record_outcomes`: tonight's outcome of each operator's decision on a lone record.
    `policy` lists the evidence that verifies a lone record without a visit (default: none); the statuses
    must then carry `evidence` (`reconcile.evidence`). A record is `pending` while it waits for an
    operator: every review-band record, and a lone one neither verified nor settled. A query: `findings` joins
    more onto it before it runs.
    """
    links = links.lazy()
    by_link = pl.concat(
        [
            links.select(pl.lit(Side.REGISTER.value).alias("side"), pl.col("rid").alias("idx"), "decided_by"),
            links.select(pl.lit(Side.ROLL.value).alias("side"), pl.col("lid").alias("idx"), "decided_by"),
        ]
    )
    joined = (
        statuses.lazy()
        .join(by_link, on=["side", "idx"], how="left", maintain_order="left")
        .join(
            record_outcomes.lazy().select(
                "side", "idx", pl.col("kind").alias("decision"), pl.col("outcome").alias("decision_outcome")
            ),
            on=["side", "idx"],
            how="left",
            maintain_order="left",
        )
    )
    confirmed = _decided(CONFIRMS)
    overturned = _decided({status: (kind,) for status, (kind, _) in OVERTURNS.items()})
    by_policy = (
        pl.col("status").is_in([s.value for s in AWAITING_CONFIRMATION])
        & pl.col("evidence").is_in([e.value for e in policy])
        if policy
        else pl.lit(False)
    )
    verified = (
        pl.when(pl.col("status").is_in([s.value for s in REVIEW_BAND]))
        .then(None)
        .when(pl.col("decided_by").is_in([v.value for v in VERIFIERS]))
        .then(pl.col("decided_by"))
        .when(confirmed | overturned)
        .then(pl.lit(DecidedBy.OPERATOR.value))
        .when(by_policy)
        .then(pl.lit(DecidedBy.POLICY.value))
        .when(pl.col("status").is_in([Status.INACTIVE.value, Status.DUPLICATE.value]))
        .then(pl.lit(DecidedBy.AUTO.value))
    )
    status = pl.col("status")
    for before, (kind, after) in OVERTURNS.items():
        status = (
            pl.when(overturned & (pl.col("status") == before.value) & (pl.col("decision") == kind.value))
            .then(pl.lit(after.value))
            .otherwise(status)
        )
    out = joined.with_columns(verified.alias("verified_by"), status.alias("status")).drop("decided_by")
    settled = _decided(SETTLES)
    waiting = pl.col("status").is_in([s.value for s in REVIEW_BAND]) | (
        pl.col("status").is_in([s.value for s in AWAITING_CONFIRMATION]) & pl.col("verified_by").is_null() & ~settled
    )
    return out.with_columns(waiting.alias("pending"))


def verified_sql(column: str = "s.verified_by") -> str:
    """The same rule as a SQL condition on a published `verified_by` column.

    >>> verified_sql()
    "s.verified_by IN ('auto', 'operator', 'policy')"
    """
    return f"{column} IN ({', '.join(repr(v.value) for v in VERIFIERS)})"


def pending_sql(pending: str = "s.pending") -> str:
    """The "still waiting" rule as a SQL condition on the published `pending` column (`verify` computes it).

    >>> pending_sql()
    's.pending'
    """
    return pending
