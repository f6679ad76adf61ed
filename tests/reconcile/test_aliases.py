"""An estate's name the register does not know is learnt from the people linked across it, and only then."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.aliases import GROUP_LEAST, LEAST, SHARE, learnt_groups, learnt_places, with_learnt_places

CODE = "330281004001"


def _flat(place: str, building: int, room: int, *, house: bool = False) -> dict[str, object]:
    """A flat of `place`, or with `house` the house numbered `room` (a natural village's, a lane's: no room)."""
    if house:
        return {"community_code": CODE, "dw_class": "U", "dw_place": place, "dw_building": str(room),
                "dw_unit": None, "dw_room": None}  # fmt: skip
    return {"community_code": CODE, "dw_class": "U", "dw_place": place, "dw_building": str(building),
            "dw_unit": "1", "dw_room": str(room)}  # fmt: skip


_PARTS = {"community_code": pl.String, "dw_class": pl.String, "dw_place": pl.String, "dw_building": pl.String,
          "dw_unit": pl.String, "dw_room": pl.String}  # fmt: skip


_LOCATED: dict[str, pl.DataType | type[pl.DataType]] = {"idx": pl.Int64, **_PARTS, "flat": pl.String}


def _frames(
    register: list[dict[str, object]], roll: list[dict[str, object]], links: list[dict[str, object]]
) -> tuple[pl.DataFrame, ...]:
    """Located register and roll records and their links, as `findings` has them."""
    found: dict[str, pl.DataType | type[pl.DataType]] = {
        "flat_fits": pl.Int32,
        "flat_candidates": pl.List(pl.String),
        "issues": pl.List(pl.String),
    }
    return (
        pl.DataFrame(register, schema=_LOCATED),
        pl.DataFrame(roll, schema={**_LOCATED, **found}),
        pl.DataFrame(links, schema={"rid": pl.Int64, "lid": pl.Int64, "decided_by": pl.String}),
    )


def _city(
    home: dict[str, int], away: int, *, decided_by: str = "auto", house: bool = False
) -> tuple[pl.DataFrame, ...]:
    """People registered at flats of 东风府 and 朝阳小区 and written at 电厂宿舍: `home[place]` of them at their very
    registered flat, `away` at a flat of 电厂宿舍 that is no registered one's (moved within the community)."""
    register: list[dict[str, object]] = []
    roll: list[dict[str, object]] = []
    links: list[dict[str, object]] = []
    groups = [(place, n, True) for place, n in home.items()] + [("东风府", away, False)]
    i = 0
    for place, n, at_home in groups:
        for _ in range(n):
            register.append(
                {"idx": i, **_flat(place, 14, 101 + i, house=house), "flat": f"{CODE}|{place}|14|{101 + i}"}
            )
            written = _flat("电厂宿舍", 14, 101 + i if at_home else 901 + i, house=house)
            roll.append(
                {"idx": 1000 + i, **written, "flat": "~", "flat_fits": 0, "flat_candidates": None, "issues": ["x"]}
            )
            links.append({"rid": i, "lid": 1000 + i, "decided_by": decided_by})
            i += 1
    return _frames(register, roll, links)


@settings(max_examples=120, deadline=None)
@given(
    dongfeng=st.integers(0, 9),
    chaoyang=st.integers(0, 9),
    away=st.integers(0, 12),
    decided_by=st.sampled_from(["auto", "operator", "review"]),
    house=st.booleans(),
)
def test_an_unknown_name_is_the_place_most_of_its_people_live_at_home_in(
    dongfeng: int, chaoyang: int, away: int, decided_by: str, house: bool
) -> None:
    home = {"东风府": dongfeng, "朝阳小区": chaoyang}
    register, roll, links = _city(home, away, decided_by=decided_by, house=house)
    found = learnt_places(register, roll, links)
    linked = dongfeng + chaoyang + away
    best = max(home, key=lambda p: home[p])
    expected = decided_by != "review" and dongfeng != chaoyang and home[best] >= LEAST and home[best] >= SHARE * linked
    assert found.rows() == ([(CODE, "电厂宿舍", best)] if expected else [])
    located = with_learnt_places(register, roll, links).collect()
    assert located["idx"].to_list() == roll["idx"].to_list()
    registered = dict(zip(register["idx"] + 1000, register["flat"], strict=True))
    if expected:  # those written at their registered flat of the place learnt now name it; no one else does
        for idx, flat in located.select("idx", "flat").iter_rows():
            mine = registered[idx]
            home_here = f"|{best}|" in mine and idx - 1000 < dongfeng + chaoyang
            assert flat == mine if home_here else flat.startswith("~"), idx
        assert (located["dw_place"] == best).all()
        assert located["issues"].to_list() == [["x", "place_learnt"]] * roll.height  # an operator sees it was learnt
    else:
        assert located.equals(roll)


def _village(home: int, away: int, *, by_group_on_roll: bool, decided_by: str = "auto") -> tuple[pl.DataFrame, ...]:
    """Group 14 of a village is its natural village 蟹钳浦. `home` people live at their registered house, written
    the other way on the roll (by group on one side, by 蟹钳浦 on the other); `away` at another number of it."""
    register: list[dict[str, object]] = []
    roll: list[dict[str, object]] = []
    links: list[dict[str, object]] = []
    for i in range(home + away):
        house = str(101 + i)
        lived = house if i < home else str(901 + i)
        grouped = {"community_code": CODE, "dw_class": "R", "dw_place": None, "dw_building": "14", "dw_unit": None}
        natural = {"community_code": CODE, "dw_class": "U", "dw_place": "蟹钳浦", "dw_unit": None, "dw_room": None}
        if by_group_on_roll:  # the register writes the natural village
            registered, written = {**natural, "dw_building": house}, {**grouped, "dw_room": lived}
        else:
            registered, written = {**grouped, "dw_room": house}, {**natural, "dw_building": lived}
        flat = "|".join(str(v) for v in registered.values())
        register.append({"idx": i, **registered, "flat": flat})
        roll.append({"idx": 1000 + i, **written, "flat": "~", "flat_fits": 0, "flat_candidates": None, "issues": []})
        links.append({"rid": i, "lid": 1000 + i, "decided_by": decided_by})
    return _frames(register, roll, links)


@settings(max_examples=120, deadline=None)
@given(
    home=st.integers(0, 8),
    away=st.integers(0, 10),
    by_group_on_roll=st.booleans(),
    decided_by=st.sampled_from(["auto", "operator", "review"]),
)
def test_a_group_is_the_natural_village_its_people_live_at_home_in(
    home: int, away: int, by_group_on_roll: bool, decided_by: str
) -> None:
    register, roll, links = _village(home, away, by_group_on_roll=by_group_on_roll, decided_by=decided_by)
    learnt = learnt_groups(register, roll, links)
    expected = decided_by != "review" and home >= GROUP_LEAST and home >= SHARE * (home + away)
    assert learnt.rows() == ([(CODE, "14", "蟹钳浦")] if expected else [])
    located = with_learnt_places(register, roll, links).collect()
    assert located["idx"].to_list() == roll["idx"].to_list()
    at_home = located["flat"].head(home).to_list()
    if expected:  # those at home are at their registered house, written as the register writes it
        assert at_home == register["flat"].head(home).to_list()
        assert all("place_learnt" in issues for issues in located["issues"].head(home).to_list())
    else:
        assert located.equals(roll)
    assert all(flat.startswith("~") for flat in located["flat"].tail(away).to_list())  # no house of that number
