"""Linking in parts equals linking the whole city: the same pairs, the same probabilities.

Blocking joins each rule's keys in parts by key hash; comparison, household evidence, pattern
counts and scoring go chunk by chunk; estimation sums the chunks' pattern counts. None of it may
change a result, or a prefecture split into parts would be linked differently from a city.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from reconcile.linker import STEPS, LinkResult, LinkSettings, link
from tests.reconcile.helpers import prepared

if TYPE_CHECKING:
    from pathlib import Path

WHOLE = LinkSettings(partitions=1, chunk_rows=10**9)
IN_PARTS = replace(WHOLE, partitions=7, chunk_rows=997)


@pytest.fixture(scope="module")
def both(small_city: dict[str, Path]) -> tuple[LinkResult, LinkResult]:
    register, roll = prepared(small_city)
    return link(register, roll, settings=WHOLE), link(register, roll, settings=IN_PARTS)


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("rid", "lid").select(sorted(frame.columns))


def test_the_same_candidate_pairs(both: tuple[LinkResult, LinkResult]) -> None:
    whole, parts = both
    assert whole.candidate_count == parts.candidate_count
    assert_frame_equal(_sorted(whole.candidates), _sorted(parts.candidates))


def test_the_same_model_and_bands(both: tuple[LinkResult, LinkResult]) -> None:
    whole, parts = both
    assert whole.model.em_iterations == parts.model.em_iterations
    assert whole.model.prior == pytest.approx(parts.model.prior, rel=1e-9)
    for name, levels in whole.model.m.items():
        for level, m in levels.items():
            assert m == pytest.approx(parts.model.m[name][level], abs=1e-9)
    assert whole.bands.auto == pytest.approx(parts.bands.auto, abs=1e-9)
    assert whole.bands.review == pytest.approx(parts.bands.review, abs=1e-9)


def test_the_same_links_and_probabilities(both: tuple[LinkResult, LinkResult]) -> None:
    whole, parts = both
    assert whole.links.height > 1000
    assert_frame_equal(_sorted(whole.links), _sorted(parts.links), check_exact=False, rel_tol=0, abs_tol=1e-9)
    assert_frame_equal(_sorted(whole.assigned), _sorted(parts.assigned), check_exact=False, rel_tol=0, abs_tol=1e-9)


def test_nothing_to_compare_links_nothing_in_parts_or_whole(small_city: dict[str, Path]) -> None:
    register, roll = prepared(small_city)
    for settings in (WHOLE, IN_PARTS):
        result = link(register, roll.clear(), settings=settings)
        assert result.links.is_empty()
        assert result.candidate_count == 0


def test_a_link_that_consumes_its_inputs_finds_the_same_and_empties_them(
    small_city: dict[str, Path], both: tuple[LinkResult, LinkResult]
) -> None:
    register, roll = prepared(small_city)
    consumed = link(register, roll, settings=WHOLE, consume_inputs=True)
    assert register.width == roll.width == 0
    assert_frame_equal(_sorted(consumed.links), _sorted(both[0].links))
    assert_frame_equal(_sorted(consumed.candidates), _sorted(both[0].candidates))
    assert consumed.links.schema["rid"] == consumed.candidates.schema["lid"] == pl.Int64


def test_watching_the_steps_names_each_in_order_and_changes_nothing(
    small_city: dict[str, Path], both: tuple[LinkResult, LinkResult]
) -> None:
    register, roll = prepared(small_city)
    seen: list[str] = []
    watched = link(register, roll, settings=WHOLE, on_step=seen.append)
    assert list(dict.fromkeys(seen)) == list(STEPS)
    assert seen.count("score") == seen.count("assign") == 2  # before and after household evidence
    assert_frame_equal(_sorted(watched.links), _sorted(both[0].links))
