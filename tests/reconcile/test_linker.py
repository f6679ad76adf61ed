"""The linker against a generated city's ground truth."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl
import pytest

from reconcile.block import rule_bits
from reconcile.classify import classify
from reconcile.compare import COMPARISONS, HOUSEHOLD
from reconcile.comparison import MISSING
from reconcile.linker import Decisions, LinkResult, LinkSettings, link
from tests.reconcile.helpers import prepared

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def linked(small_city: dict[str, Path]) -> tuple[pl.DataFrame, pl.DataFrame, LinkResult]:
    register, roll = prepared(small_city)
    return register, roll, link(register, roll)


def _pairs(result: LinkResult, register: pl.DataFrame, roll: pl.DataFrame, band: str) -> pl.DataFrame:
    return (
        result.links.filter(pl.col("decided_by") == band)
        .join(register.select(pl.col("idx").alias("rid"), pl.col("source_row").alias("register_row")), on="rid")
        .join(
            roll.select(
                pl.col("idx").alias("lid"),
                pl.col("source_file").alias("roll_file"),
                pl.col("source_row").alias("roll_row"),
            ),
            on="lid",
        )
        .select("roll_file", "roll_row", "register_row")
    )


def test_auto_links_are_precise_and_find_most_people(linked, small_city) -> None:
    register, roll, result = linked
    truth = pl.read_parquet(small_city["truth"] / "roll_truth.parquet")
    true_pairs = truth.filter(pl.col("register_row").is_not_null() & (pl.col("status") != "duplicate")).select(
        "roll_file", "roll_row", "register_row"
    )
    auto = _pairs(result, register, roll, "auto")
    correct = auto.join(true_pairs, on=["roll_file", "roll_row", "register_row"], how="semi").height
    assert correct / auto.height >= 0.995
    assert correct / true_pairs.height >= 0.95


def test_one_to_one(linked) -> None:
    _, _, result = linked
    assert result.links["rid"].is_unique().all()
    assert result.links["lid"].is_unique().all()


def test_every_explained_pair_has_all_field_weights(linked) -> None:
    _, _, result = linked
    weights = [c for c in result.links.columns if c.startswith("w_")]
    assert weights == ["w_id", "w_name", "w_birth", "w_sex", "w_address", "w_household"] == COMPARISONS.weight_columns
    assert result.links.select(weights).null_count().sum_horizontal().item() == 0


def test_links_hold_only_declared_levels_and_the_model_every_parameter(linked) -> None:
    _, _, result = linked
    for c in COMPARISONS:
        assert set(result.links[c.column].unique().to_list()) <= {*c.values, MISSING}, c.name
        assert set(result.model.m[c.name]) == set(result.model.u[c.name]) == set(c.values)
        assert all(0 < p < 1 for p in [*result.model.m[c.name].values(), *result.model.u[c.name].values()])
    # Pass 2 fills household levels in and estimates the household field's own m and u.
    assert set(result.links[HOUSEHOLD.column].to_list()) - {MISSING}
    assert result.model.m[HOUSEHOLD.name] != HOUSEHOLD.initial_m
    assert result.model.as_table().height == sum(len(c.values) for c in COMPARISONS)


def test_statuses_match_truth(linked, small_city) -> None:
    register, roll, result = linked
    statuses = classify(register, roll, result.links, result.register_duplicates, result.roll_duplicates)
    truth = pl.read_parquet(small_city["truth"] / "register_truth.parquet").select(
        pl.col("register_row").alias("source_row"), pl.col("status").alias("truth")
    )
    decided = statuses.filter((pl.col("side") == "register") & (pl.col("status") != "review")).join(
        truth, on="source_row"
    )
    assert (decided["status"] == decided["truth"]).sum() >= 0.99 * decided.height
    assert statuses.height == register.height + roll.height


def test_operator_decisions_override_the_model(linked) -> None:
    register, roll, result = linked
    some = result.links.filter(pl.col("decided_by") == "auto").head(2)
    rejected = some.head(1).select("rid", "lid")
    # Accept a pair the model would never make: the first auto pair's register record with the second's roll record.
    accepted = pl.DataFrame({"rid": [some["rid"][1]], "lid": [some["lid"][0]]})
    again = link(register, roll, decisions=Decisions(accepted=accepted, rejected=rejected))
    pairs = set(again.links.select("rid", "lid").iter_rows())
    assert tuple(rejected.row(0)) not in pairs
    assert tuple(accepted.row(0)) in pairs
    decided = again.links.filter((pl.col("rid") == accepted["rid"][0]) & (pl.col("lid") == accepted["lid"][0]))
    assert decided["decided_by"].to_list() == ["operator"]


def _found_late(result: LinkResult) -> pl.DataFrame:
    bit = rule_bits()["unexplained"]
    late = result.candidates.filter((pl.col("rules") & bit) != 0).select("rid", "lid")
    return result.links.join(late, on=["rid", "lid"], how="semi")


def test_unexplained_namesakes_are_offered_for_review_never_linked(linked, small_city) -> None:
    register, roll, result = linked
    late = _found_late(result)
    assert late.height > 0
    assert late["decided_by"].unique().to_list() == ["review"]
    truth = pl.read_parquet(small_city["truth"] / "roll_truth.parquet")
    true_pairs = truth.filter(pl.col("register_row").is_not_null() & (pl.col("status") != "duplicate"))
    keyed = _pairs(replace(result, links=late), register, roll, "review")
    assert keyed.join(true_pairs, on=["roll_file", "roll_row", "register_row"], how="semi").height > 0


def test_unexplained_pairs_only_fill_what_is_left_of_the_review_capacity(linked) -> None:
    register, roll, result = linked
    late = _found_late(result).height
    earlier = result.links.filter(pl.col("decided_by") == "review").height - late
    assert late >= 2
    none_left = link(register, roll, settings=LinkSettings(review_capacity=earlier / roll.height))
    assert _found_late(none_left).height == 0
    two_left = link(register, roll, settings=LinkSettings(review_capacity=(earlier + 2.5) / roll.height))
    assert _found_late(two_left).height == 2
