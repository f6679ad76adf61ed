"""The city's plan and the community-by-community draw."""

from __future__ import annotations

import re

import pytest

from reconcile.idnumber import check_char
from synth.city import City, Community, Drawn, Registry, build_city, draw_community, dwellings, stream


@pytest.mark.parametrize("scale", [1, 5, 50])
def test_scale_multiplies_communities_and_households(scale: int) -> None:
    city = build_city(scale=scale, seed=3)
    assert len(city.communities) == 48 * scale
    total = sum(c.households for c in city.communities)
    assert abs(total - 73_000 * scale) <= len(city.communities)  # rounding per community
    assert [c.index for c in city.communities] == list(range(len(city.communities)))


def test_codes_stay_twelve_digits_and_names_unique_at_scale_50() -> None:
    city = build_city(scale=50, seed=0)
    codes = [c.code for c in city.communities]
    assert all(re.fullmatch(r"330282\d{6}", code) for code in codes)
    assert len(set(codes)) == len(codes)
    assert len({c.name for c in city.communities}) == len(codes)


def test_the_plan_at_scale_1_is_the_proposal_s() -> None:
    city = build_city(scale=1, seed=0)
    assert city.communities[0].code == "330282001001"
    assert city.communities[0].name == "青少年宫路社区"
    assert sum(c.rural for c in city.communities) > 0


def test_households_override_the_total() -> None:
    city = build_city(households=800, seed=7)
    assert len(city.communities) == 48
    assert abs(sum(c.households for c in city.communities) - 800) <= 48


def test_streams_depend_on_their_parts_only() -> None:
    assert stream(1, "people", "x").random() == stream(1, "people", "x").random()
    assert stream(1, "people", "x").random() != stream(2, "people", "x").random()
    assert stream(1, "people", "x").random() != stream(1, "roll", "x").random()


def test_dwellings_are_the_same_whenever_drawn_and_distinct() -> None:
    city = build_city(households=2000, seed=5)
    for community in city.communities[:5]:
        homes = dwellings(city.seed, community)
        assert homes == dwellings(city.seed, community)
        assert len(set(homes)) == len(homes) == community.dwelling_count > community.households


def _settled(city: City, communities: list[Community] | None = None) -> list[Drawn]:
    registry = Registry()
    out = []
    for community in communities if communities is not None else city.communities:
        drawn = draw_community(city, community)
        registry.settle(city.seed, community, drawn)
        out.append(drawn)
    return out


def test_a_community_draws_the_same_people_whatever_came_before() -> None:
    """Only person ids, 户号 and, on a clash, an ID number's sequence depend on the communities before."""
    city = build_city(households=1500, seed=11)
    in_turn = _settled(city, city.communities[:6])
    alone = draw_community(city, city.communities[5])

    def people(drawn: Drawn) -> list[tuple[object, ...]]:
        return [
            (p.name, p.sex, p.birth, p.relation, p.dwelling, p.status, getattr(p.lives_in, "code", None), p.lives_at)
            for p in drawn.registered + drawn.migrants
        ]

    assert people(alone) == people(in_turn[5])
    assert [p.id18[:14] for p in alone.registered] == [p.id18[:14] for p in in_turn[5].registered]


def test_settling_numbers_people_and_households_after_those_before() -> None:
    city = build_city(households=500, seed=8)
    first, second = _settled(city, city.communities[:2])
    assert [p.pid for p in first.registered + first.migrants] == list(
        range(1, len(first.registered + first.migrants) + 1)
    )
    assert second.registered[0].pid == len(first.registered + first.migrants) + 1
    assert first.registered[0].household == "330282001"
    assert second.registered[0].household == f"{330282000 + city.communities[0].households + 1:09d}"


def test_id_numbers_person_ids_and_households_are_unique_over_the_city() -> None:
    city = build_city(households=3000, seed=2)
    drawn = _settled(city)
    people = [p for d in drawn for p in d.registered + d.migrants]
    assert len({p.id18 for p in people}) == len(people)
    assert [p.pid for p in people] == sorted({p.pid for p in people})
    heads = [p.household for d in drawn for p in d.registered if p.relation == "户主"]
    assert len(set(heads)) == len(heads) == sum(c.households for c in city.communities)


def test_registered_people_live_home_elsewhere_or_nowhere_in_the_city() -> None:
    city = build_city(households=3000, seed=4)
    people = [p for d in _settled(city) for p in d.registered]
    elsewhere = [p for p in people if p.lives_in is not None and p.lives_in is not p.community]
    at_home = [p for p in people if p.lives_in is p.community]
    assert all(p.lives_at is None for p in elsewhere)  # the destination's roll houses them
    assert all(p.lives_at is not None for p in at_home)
    assert 0.08 < len(elsewhere) / len(people) < 0.18
    assert 0.5 < len(at_home) / len(people) < 0.7


def test_a_clashing_id_number_keeps_its_area_birth_and_sex() -> None:
    city = build_city(households=500, seed=9)
    community = city.communities[0]
    registry = Registry()
    once, twice = draw_community(city, community), draw_community(city, community)
    registry.settle(city.seed, community, once)
    registry.settle(city.seed, community, twice)
    for a, b in zip(once.registered + once.migrants, twice.registered + twice.migrants, strict=True):
        assert a.id18 != b.id18
        assert a.id18[:14] == b.id18[:14]
        assert int(a.id18[16]) % 2 == int(b.id18[16]) % 2
        assert b.id18[17] == check_char(b.id18[:17])
