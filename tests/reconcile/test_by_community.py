"""Findings made a few communities at a time are the whole city's findings, row for row and in the same order.

The small city links almost everyone within their own community, so hypothesis adds what reaches across
communities the way offices' data does: links between communities (auto and review), duplicates whose primary is
registered or recorded elsewhere (and linked elsewhere again), lone roll records with namesakes unplaced in other
communities, and operators' decisions, applied, changed or gone, on pairs and lone records.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile.by_community import UNIT, community_units, findings_by_community, unit_inputs
from reconcile.classify import classify
from reconcile.decisions import pair_decisions
from reconcile.evidence import NAMESAKE_COLUMNS, namesakes
from reconcile.findings import REGISTER_COLUMNS, ROLL_COLUMNS, findings
from reconcile.linker import LinkSettings, link
from schemas.codes import DecidedBy, DecisionKind, Evidence, Side, Status
from services.decisions import active_decisions
from tests.reconcile.helpers import prepared

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from reconcile.findings import Findings

Night = dict[str, Any]


@pytest.fixture(scope="module")
def night(small_city: dict[str, Path]) -> Night:
    register, roll = prepared(small_city)
    # Addresses that leave their 单元 out fit several registered flats of their community: the generated city
    # writes too few of them. Every fourth roll record gets two of its community's flats.
    flats = register.drop_nulls("flat").group_by("community_code").agg(pl.col("flat").unique().sort().head(2))
    fits = roll.select("idx", "community_code").join(flats, on="community_code", how="left", maintain_order="left")
    fits = fits.select(pl.when(pl.col("idx") % 4 == 0).then(pl.col("flat")).alias("flat_candidates"))
    roll = roll.with_columns(fits.to_series().cast(roll.schema["flat_candidates"]))
    result = link(register, roll, settings=LinkSettings())
    return {
        "register": register.select(REGISTER_COLUMNS),
        "roll": roll.select(ROLL_COLUMNS),
        "links": result.links.select("rid", "lid", "match_probability", "match_weight", "decided_by"),
        "duplicates": result.duplicates().select("side", "idx", "primary"),
        "roll_files": roll.select("community_code", "community_name").unique().sort("community_code"),
    }


def _whole_and_split(night: Night, *, units: int, **options: Any) -> tuple[Findings, Findings]:
    args = (night["register"], night["roll"], night["links"], night["duplicates"])
    whole = findings(*args, roll_files=night["roll_files"], **options)
    split = findings_by_community(*args, roll_files=night["roll_files"], units=units, **options)
    return whole, split


def _assert_same(whole: Findings, split: Findings) -> None:
    assert split.statuses.collect().equals(whole.statuses.collect())  # in the same order too
    assert split.queue.equals(whole.queue)  # numbered alike
    assert split.summary.equals(whole.summary)
    assert split.coverage.equals(whole.coverage)


def _decisions(night: Night, rows: list[dict[str, Any]]) -> pl.DataFrame:
    empty = active_decisions(None)
    return pl.concat([empty, pl.DataFrame(rows, schema=empty.schema)]) if rows else empty


@st.composite
def _crossings(draw: st.DrawFn, night: Night) -> Night:
    """The night with links, duplicates, namesakes and decisions that cross communities, drawn at random."""
    register, roll, links, duplicates = night["register"], night["roll"], night["links"], night["duplicates"]
    reg_free = register.join(links.select(pl.col("rid").alias("idx")), on="idx", how="anti")
    rol_free = roll.join(links.select(pl.col("lid").alias("idx")), on="idx", how="anti")
    reg_free = reg_free.join(duplicates.filter(side="register").select("idx"), on="idx", how="anti")
    rol_free = rol_free.join(duplicates.filter(side="roll").select("idx"), on="idx", how="anti")
    seed = draw(st.integers(0, 2**32 - 1))
    reg_pool = reg_free.sample(fraction=1.0, shuffle=True, seed=seed)
    rol_pool = rol_free.sample(fraction=1.0, shuffle=True, seed=seed + 1)
    n_links = draw(st.integers(0, 25))
    new_links = pl.DataFrame(
        {
            "rid": reg_pool["idx"].head(n_links),
            "lid": rol_pool["idx"].head(n_links),
            "match_probability": draw(st.lists(st.floats(0.5, 1.0), min_size=n_links, max_size=n_links)),
            "match_weight": [3.0] * n_links,
            "decided_by": draw(
                st.lists(
                    st.sampled_from([DecidedBy.AUTO.value, DecidedBy.REVIEW.value]), min_size=n_links, max_size=n_links
                )
            ),
        },
        schema=links.schema,
    )
    links = pl.concat([links, new_links])
    # Duplicates whose primary is elsewhere: a register record of one community a duplicate of one of another; a
    # roll record a duplicate of a roll record that is linked (its key comes through the link).
    n_dups = draw(st.integers(0, 10))
    spare_reg = reg_pool["idx"].slice(n_links)
    spare_rol = rol_pool["idx"].slice(n_links)
    linked_rolls = (
        links["lid"].sample(n_dups, seed=seed, with_replacement=True) if n_dups else pl.Series([], dtype=pl.Int64)
    )
    new_dups = pl.DataFrame(
        {
            "side": [Side.REGISTER.value] * n_dups + [Side.ROLL.value] * n_dups,
            "idx": [*spare_reg.head(n_dups), *spare_rol.head(n_dups)],
            "primary": [*spare_reg.slice(n_dups, n_dups), *linked_rolls],
        },
        schema=duplicates.schema,
    )
    if new_dups.height:
        new_dups = new_dups.filter(pl.col("primary").is_not_null())
    duplicates = pl.concat([duplicates, new_dups])
    # Namesakes: lone roll records given the name (and sex, birth) of an unplaced register record elsewhere.
    n_names = draw(st.integers(0, 30))
    givers = spare_reg.slice(3 * n_dups, n_names)
    takers = spare_rol.slice(2 * n_dups, n_names)
    given_names = register.join(pl.DataFrame({"idx": givers}), on="idx", how="semi").select(
        "idx", "name", "sex", "birth"
    )
    swap = pl.DataFrame({"idx": takers.head(given_names.height), "giver": given_names["idx"]})
    borrowed = swap.join(given_names.rename({"idx": "giver"}), on="giver").drop("giver")
    roll = roll.update(borrowed, on="idx")
    # Decisions: on lone records and on pairs, their records as decided (applied) or since changed, or gone.
    kinds = [k for k in DecisionKind if not k.is_pair]
    picks = draw(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(kinds), st.booleans()), max_size=25))
    rows: list[dict[str, Any]] = []
    for n, (at, kind, changed) in enumerate(picks):
        side, records = (Side.REGISTER, register) if at % 2 else (Side.ROLL, roll)
        record = records.row(at % records.height, named=True)
        rows.append(
            {
                "id": n + 1,
                "kind": kind.value,
                f"{side}_key": record["record_key"],
                f"{side}_fingerprint": "changed" if changed else record["fingerprint"],
            }
        )
    pair_picks = draw(st.lists(st.tuples(st.integers(0, 10**6), st.booleans(), st.booleans()), max_size=10))
    for n, (at, same, changed) in enumerate(pair_picks):
        rid, lid = links.row(at % links.height)[:2]
        reg, rol = (
            register.row(by_predicate=pl.col("idx") == rid, named=True),
            roll.row(by_predicate=pl.col("idx") == lid, named=True),
        )
        rows.append(
            {
                "id": 1000 + n,
                "kind": (DecisionKind.SAME_PERSON if same else DecisionKind.DIFFERENT_PERSON).value,
                "register_key": reg["record_key"],
                "roll_key": rol["record_key"],
                "register_fingerprint": reg["fingerprint"],
                "roll_fingerprint": "changed" if changed else rol["fingerprint"],
            }
        )
    decisions = _decisions(night, rows)
    _, outcomes = pair_decisions(decisions, register, roll)
    return night | {
        "roll": roll,
        "links": links,
        "duplicates": duplicates,
        "decisions": decisions,
        "pair_outcomes": outcomes,
    }


def test_the_small_city_split_into_communities_finds_what_the_whole_city_finds(night: Night) -> None:
    none = active_decisions(None)
    _, outcomes = pair_decisions(none, night["register"], night["roll"])
    for units in (1, 2, 7, 48, 100):
        whole, split = _whole_and_split(night, units=units, decisions=none, pair_outcomes=outcomes)
        _assert_same(whole, split)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), units=st.integers(1, 12), policy=st.sampled_from([(), (Evidence.OTHERS_AT_FLAT,)]))
def test_findings_that_cross_communities_are_the_same_split_or_whole(
    night: Night, data: st.DataObject, units: int, policy: tuple[Evidence, ...]
) -> None:
    crossed = data.draw(_crossings(night))
    options = {"decisions": crossed["decisions"], "pair_outcomes": crossed["pair_outcomes"], "policy": policy}
    whole, split = _whole_and_split(crossed, units=units, **options)
    _assert_same(whole, split)


def test_a_unit_reads_its_communities_and_only_the_records_they_reach(night: Night) -> None:
    """A unit holds few records of other communities: its records' partners and primaries, not the city."""
    assignment = community_units(night["register"], night["roll"], night["roll_files"], units=6)
    assert assignment[UNIT].unique().sort().to_list() == list(range(6))
    inputs = unit_inputs(night["register"], night["roll"], night["links"], night["duplicates"], assignment)
    register = inputs.register.collect()
    own = register.join(assignment, on=["community_code", UNIT], how="semi")
    assert own.height == night["register"].height  # each record is its own community's unit's once
    assert 0 < register.height - own.height < 0.2 * own.height  # the city's moves between communities
    for frame in (register, inputs.roll.collect()):
        for _, part in frame.group_by(UNIT):
            assert part["idx"].is_sorted()
            assert part["idx"].is_unique().all()


@given(
    codes=st.lists(st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=3)), min_size=1, max_size=40),
    units=st.integers(1, 50),
)
def test_communities_fall_into_runs_of_consecutive_codes(codes: list[str | None], units: int) -> None:
    register = pl.DataFrame({"community_code": codes}, schema={"community_code": pl.String})
    empty = register.clear()
    assignment = community_units(register, empty, empty, units=units)
    seen = sorted(set(codes), key=lambda c: (c is None, c or ""))
    assert assignment["community_code"].to_list() == seen  # each community once, in code order, nulls last
    numbers = assignment[UNIT].to_list()
    assert numbers[0] == 0
    assert all(b - a in (0, 1) for a, b in itertools.pairwise(numbers))  # runs, numbered densely
    assert max(numbers) < units
    if len(seen) <= units:
        assert numbers == list(range(len(seen)))


def _codes(night: Night) -> set[str]:
    return set().union(*(night[name]["community_code"] for name in ("register", "roll", "roll_files")))


def _relabelled(night: Night, codes: Sequence[str | None]) -> Night:
    """The night with its communities' codes written another way (any text, in another sort order)."""
    mapping = dict(zip(sorted(_codes(night)), codes, strict=True))
    relabel = pl.col("community_code").replace_strict(mapping, return_dtype=pl.String)
    return night | {name: night[name].with_columns(relabel) for name in ("register", "roll", "roll_files")}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), units=st.integers(2, 12))
def test_community_codes_written_any_way_split_as_they_sort(night: Night, data: st.DataObject, units: int) -> None:
    """Codes are the offices' text, not the generator's digits: the units follow their sort order, whatever it is."""
    crossed = data.draw(_crossings(night))
    communities = len(_codes(night))
    codes = data.draw(
        st.lists(st.text(min_size=1, max_size=6), min_size=communities, max_size=communities, unique=True)
    )
    relabelled = _relabelled(crossed, codes)
    options = {"decisions": crossed["decisions"], "pair_outcomes": crossed["pair_outcomes"]}
    whole, split = _whole_and_split(relabelled, units=units, **options)
    _assert_same(whole, split)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), units=st.integers(2, 12))
def test_communities_sharing_a_code_split_as_the_whole_city(night: Night, data: st.DataObject, units: int) -> None:
    """Offices may write another office's code: their communities are then one, in the units as in the whole city.

    (A code left blank is quarantined (`schemas.records.PersonRecord.unknown_community`): it never gets here.)
    """
    crossed = data.draw(_crossings(night))
    communities = len(_codes(night))
    codes = data.draw(st.lists(st.sampled_from(["1", "2", "10", "甲"]), min_size=communities, max_size=communities))
    relabelled = _relabelled(crossed, codes)
    options = {"decisions": crossed["decisions"], "pair_outcomes": crossed["pair_outcomes"]}
    whole, split = _whole_and_split(relabelled, units=units, **options)
    _assert_same(whole, split)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_namesakes_are_the_records_the_statuses_place_nowhere(night: Night, data: st.DataObject) -> None:
    """`namesakes` reads no statuses, yet finds exactly the register records classify calls absent, no other community."""
    crossed = data.draw(_crossings(night))
    register, links, duplicates = crossed["register"], crossed["links"], crossed["duplicates"]
    on_side = {side: duplicates.filter(side=side.value).drop("side") for side in Side}
    statuses = classify(register, crossed["roll"], links, on_side[Side.REGISTER], on_side[Side.ROLL])
    placed_nowhere = statuses.filter(
        pl.col("other_community_code").is_null(), side=Side.REGISTER.value, status=Status.ABSENT.value
    ).select("idx")
    found = namesakes(register, links, duplicates).collect()
    expected = register.join(placed_nowhere, on="idx", how="semi").select(NAMESAKE_COLUMNS)
    assert found.height > 0
    assert found.equals(expected)
