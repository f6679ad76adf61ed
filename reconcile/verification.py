"""What counts as verified: the only statuses that may go to the police as a list.

A status resting on a link is verified by whoever decided the link (automatically above the auto threshold, or an
operator); a lone 人在户不在 / 户在人不在 only once an operator confirms it, on the record as it is tonight. Inactive
and duplicate registrations are the register's own statements. Review-band pairs are never verified.
"""

from __future__ import annotations

import polars as pl

from schemas.codes import DecidedBy, DecisionKind, Outcome, Side, Status

VERIFIERS: tuple[DecidedBy, ...] = (DecidedBy.AUTO, DecidedBy.OPERATOR)
"""The values `verified_by` takes; null means pending."""

CONFIRMS: dict[Status, DecisionKind] = {
    Status.ABSENT: DecisionKind.CONFIRM_ABSENT,
    Status.UNREGISTERED: DecisionKind.CONFIRM_UNREGISTERED,
}
"""The operator's decision that verifies a lone record's status."""

REVIEW_BAND: tuple[Status, ...] = (Status.REVIEW,)
"""Statuses of a review-band pair: never verified, they wait for an operator to say whether it is one person."""

AWAITING_CONFIRMATION: tuple[Status, ...] = tuple(CONFIRMS)
"""Lone statuses that wait (null `verified_by`) until an operator confirms them."""


def verify(statuses: pl.DataFrame, links: pl.DataFrame, record_outcomes: pl.DataFrame) -> pl.DataFrame:
    """Add `verified_by` (auto / operator / null = pending), `decision` and `decision_outcome` to the statuses.

    `record_outcomes` is `reconcile.decisions.record_outcomes`: tonight's outcome of each operator's decision on a
    lone record.
    """
    by_link = pl.concat(
        [
            links.select(pl.lit(Side.REGISTER.value).alias("side"), pl.col("rid").alias("idx"), "decided_by"),
            links.select(pl.lit(Side.ROLL.value).alias("side"), pl.col("lid").alias("idx"), "decided_by"),
        ]
    )
    statuses = statuses.join(by_link, on=["side", "idx"], how="left").join(
        record_outcomes.select(
            "side", "idx", pl.col("kind").alias("decision"), pl.col("outcome").alias("decision_outcome")
        ),
        on=["side", "idx"],
        how="left",
    )
    confirmed = (pl.col("decision_outcome") == Outcome.APPLIED.value) & pl.any_horizontal(
        (pl.col("status") == status.value) & (pl.col("decision") == kind.value) for status, kind in CONFIRMS.items()
    )
    verified = (
        pl.when(pl.col("status").is_in([s.value for s in REVIEW_BAND]))
        .then(None)
        .when(pl.col("decided_by").is_in([v.value for v in VERIFIERS]))
        .then(pl.col("decided_by"))
        .when(confirmed)
        .then(pl.lit(DecidedBy.OPERATOR.value))
        .when(pl.col("status").is_in([Status.INACTIVE.value, Status.DUPLICATE.value]))
        .then(pl.lit(DecidedBy.AUTO.value))
    )
    return statuses.with_columns(verified.alias("verified_by")).drop("decided_by")


def verified_sql(column: str = "s.verified_by") -> str:
    """The same rule as a SQL condition on a published `verified_by` column.

    >>> verified_sql()
    "s.verified_by IN ('auto', 'operator')"
    """
    return f"{column} IN ({', '.join(repr(v.value) for v in VERIFIERS)})"


def _values(statuses: tuple[Status, ...]) -> str:
    return ", ".join(repr(s.value) for s in statuses)


def pending_sql(status: str = "s.status", verified_by: str = "s.verified_by") -> str:
    """The "still waiting" rule as a SQL condition on published `status` and `verified_by` columns.

    What waits for an operator: every review-band record, and a lone 人在户不在 / 户在人不在 no one has confirmed.

    >>> pending_sql()
    "(s.status IN ('review') OR (s.status IN ('absent', 'unregistered') AND s.verified_by IS NULL))"

    Args:
        status: The status column, as the query names it.
        verified_by: The `verified_by` column, as the query names it.

    Returns:
        The condition, in parentheses.
    """
    return (
        f"({status} IN ({_values(REVIEW_BAND)})"
        f" OR ({status} IN ({_values(AWAITING_CONFIRMATION)}) AND {verified_by} IS NULL))"
    )
