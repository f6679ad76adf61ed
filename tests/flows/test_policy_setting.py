"""The verification policy is a setting: none by default, from the environment, and never an absence of evidence."""

from __future__ import annotations

import pydantic
import pytest

from flows.settings import Settings
from schemas.codes import Evidence


def test_by_default_nothing_is_verified_without_a_visit() -> None:
    assert Settings().verify_without_visit == []


def test_the_policy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUKOU_VERIFY_WITHOUT_VISIT", '["others_at_flat", "flat_empty"]')
    assert Settings().verify_without_visit == [Evidence.OTHERS_AT_FLAT, Evidence.FLAT_EMPTY]


@pytest.mark.parametrize("evidence", [e for e in Evidence if not e.may_verify])
def test_a_missing_finding_cannot_verify(evidence: Evidence) -> None:
    with pytest.raises(pydantic.ValidationError, match=evidence.value):
        Settings(verify_without_visit=[evidence])
