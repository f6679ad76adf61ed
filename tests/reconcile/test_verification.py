"""What counts as verified, what a visit overturns or settles, and the verification policy."""

from __future__ import annotations

import polars as pl
import pytest

from reconcile.verification import verify
from schemas.codes import DecidedBy, DecisionKind, Evidence, Outcome, Side, Status

NO_LINKS = pl.DataFrame(schema={"rid": pl.Int64, "lid": pl.Int64, "decided_by": pl.String})


def _statuses(status: Status, evidence: Evidence | None, side: Side = Side.REGISTER) -> pl.DataFrame:
    return pl.DataFrame(
        {"side": [side.value], "idx": [0], "status": [status.value], "evidence": [evidence.value if evidence else None]}
    )


def _outcomes(
    kind: DecisionKind | None, side: Side = Side.REGISTER, outcome: Outcome = Outcome.APPLIED
) -> pl.DataFrame:
    schema = {"side": pl.String, "idx": pl.Int64, "kind": pl.String, "outcome": pl.String}
    if kind is None:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(
        {"side": [side.value], "idx": [0], "kind": [kind.value], "outcome": [outcome.value]}, schema=schema
    )


def _one(frame: pl.DataFrame) -> dict[str, object]:
    return frame.select("status", "verified_by", "pending").row(0, named=True)


def test_a_lone_record_waits_without_a_decision() -> None:
    out = verify(_statuses(Status.ABSENT, Evidence.OTHERS_AT_FLAT), NO_LINKS, _outcomes(None)).collect()
    assert _one(out) == {"status": "absent", "verified_by": None, "pending": True}


@pytest.mark.parametrize("kind", [DecisionKind.CONFIRM_ABSENT, DecisionKind.MOVED_OUT, DecisionKind.DECEASED])
def test_confirming_decisions_verify_an_absence(kind: DecisionKind) -> None:
    out = verify(_statuses(Status.ABSENT, None), NO_LINKS, _outcomes(kind)).collect()
    assert _one(out) == {"status": "absent", "verified_by": DecidedBy.OPERATOR.value, "pending": False}


def test_a_visit_finding_the_person_at_home_makes_them_consistent() -> None:
    out = verify(
        _statuses(Status.ABSENT, Evidence.FLAT_MISSED), NO_LINKS, _outcomes(DecisionKind.FOUND_PRESENT)
    ).collect()
    assert _one(out) == {"status": "consistent", "verified_by": DecidedBy.OPERATOR.value, "pending": False}


@pytest.mark.parametrize("kind", [DecisionKind.NOT_LIVING_HERE, DecisionKind.REGISTERED_SINCE])
def test_settling_a_roll_record_verifies_nothing(kind: DecisionKind) -> None:
    statuses = _statuses(Status.UNREGISTERED, Evidence.NOT_IN_EXTRACT, Side.ROLL)
    out = verify(statuses, NO_LINKS, _outcomes(kind, Side.ROLL)).collect()
    assert _one(out) == {"status": "unregistered", "verified_by": None, "pending": False}


def test_a_decision_on_changed_records_verifies_nothing() -> None:
    out = verify(
        _statuses(Status.ABSENT, None), NO_LINKS, _outcomes(DecisionKind.CONFIRM_ABSENT, outcome=Outcome.CHANGED)
    ).collect()
    assert _one(out) == {"status": "absent", "verified_by": None, "pending": True}


def test_a_decision_for_the_other_side_does_not_apply() -> None:
    statuses = _statuses(Status.UNREGISTERED, None, Side.ROLL)
    out = verify(statuses, NO_LINKS, _outcomes(DecisionKind.FOUND_PRESENT, Side.ROLL)).collect()
    assert _one(out) == {"status": "unregistered", "verified_by": None, "pending": True}


def test_the_policy_verifies_only_the_evidence_it_names() -> None:
    policy = [Evidence.OTHERS_AT_FLAT]
    named = verify(
        _statuses(Status.ABSENT, Evidence.OTHERS_AT_FLAT), NO_LINKS, _outcomes(None), policy=policy
    ).collect()
    other = verify(
        _statuses(Status.ABSENT, Evidence.BUILDING_UNVISITED), NO_LINKS, _outcomes(None), policy=policy
    ).collect()
    assert _one(named) == {"status": "absent", "verified_by": DecidedBy.POLICY.value, "pending": False}
    assert _one(other) == {"status": "absent", "verified_by": None, "pending": True}


def test_by_default_no_evidence_verifies_anything() -> None:
    for evidence in Evidence:
        side = evidence.side
        status = Status.ABSENT if side is Side.REGISTER else Status.UNREGISTERED
        out = verify(_statuses(status, evidence, side), NO_LINKS, _outcomes(None, side)).collect()
        assert _one(out)["pending"] is True, evidence
