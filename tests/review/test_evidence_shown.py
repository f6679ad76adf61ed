"""A lone record's page says what the night's data knows about it; the queue shows and filters by it."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from fastapi.testclient import TestClient

from review import data
from review.app import create_app
from review.present import UNRECORDED_NOTE, evidence_view, mask_name
from schemas.codes import Evidence, Role
from schemas.labels import RECORDED, UNKNOWN_GRID, UNVISITED
from services.accounts import add_user
from tests.review.conftest import PASSWORD, World, login

if TYPE_CHECKING:
    import pytest


def _item_with(world: World, evidence: Evidence) -> tuple[int, str]:
    """An item whose record has this evidence (the operator's community first), and its community."""
    rows = world.sql(
        """SELECT item_id, community_code FROM queue WHERE evidence = ?
           ORDER BY community_code <> ?, item_id LIMIT 1""",
        [evidence.value, world.community],
    )
    assert rows, f"the small city has {evidence.value} records"
    item, community = rows[0]
    return int(str(item)), str(community)


def _operator(world: World, community: str) -> TestClient:
    """A client logged in as an operator of this community (created unless it is the world's `op`)."""
    client = TestClient(create_app(world.data))
    if community == world.community:
        login(client, "op")
    else:
        add_user(world.state, "op_evidence", PASSWORD, Role.OPERATOR, community)
        login(client, "op_evidence")
    return client


def _status(world: World, item: int) -> dict[str, Any]:
    rows = world.sql(
        """SELECT s.flat, s.others_at_flat, s.others_since, s.community_code, s.building FROM queue q
           JOIN run.record_status s ON s.side = 'register' AND s.idx = q.register_idx WHERE q.item_id = ?""",
        [item],
    )
    flat, others, since, community, building = rows[0]
    return {"flat": flat, "others": others, "since": since, "community": community, "building": building}


def test_others_at_the_flat_are_counted_dated_and_named_masked_per_role(world: World) -> None:
    item, community = _item_with(world, Evidence.OTHERS_AT_FLAT)
    status = _status(world, item)
    names = [str(r[0]) for r in world.sql("SELECT name FROM run.roll_records WHERE flat = ?", [status["flat"]])]
    assert names
    page = _operator(world, community).get(f"/items/{item}").text
    block = page[page.index('id="evidence"') : page.index("</section>", page.index('id="evidence"'))]
    assert Evidence.OTHERS_AT_FLAT.label in block
    assert f"<b>{status['others']}</b> 名其他人员" in block
    if isinstance(status["since"], dt.date):
        assert str(status["since"]) in block
    for name in names:  # an operator sees the roll's names in full, as on the rest of the page
        assert name in block
    root = TestClient(create_app(world.data))
    login(root, "root")
    masked = root.get(f"/items/{item}").text
    block = masked[masked.index('id="evidence"') : masked.index("</section>", masked.index('id="evidence"'))]
    for name in names:
        assert mask_name(name) in block
        if len(name) > 1:
            assert name not in block


def test_an_unvisited_building_shows_its_coverage_and_asks_for_a_visit_first(world: World) -> None:
    item, community = _item_with(world, Evidence.BUILDING_UNVISITED)
    status = _status(world, item)
    building = status["building"]
    assert building
    ((registered, recorded),) = world.sql(
        "SELECT flats_registered, flats_recorded FROM coverage WHERE community_code = ? AND building = ?",
        [community, building],
    )
    assert recorded == 0
    page = _operator(world, community).get(f"/items/{item}").text
    coverage = re.search(r'<p id="building-coverage">(.*?)</p>', page, re.S)
    assert coverage, page
    assert building in coverage.group(1)
    assert f"<b>0</b> / {registered} 套" in coverage.group(1)
    assert UNVISITED in coverage.group(1)
    assert f"{RECORDED} <b>0</b>" in coverage.group(1)
    assert "整幢未登记" not in page
    assert 'id="visit-first"' in page
    assert "请勿确认" in page


def test_a_visited_building_with_none_of_its_flats_recorded_is_no_unvisited_one(world: World) -> None:
    rows = world.sql(
        """SELECT q.item_id, q.community_code, s.building FROM queue q
           JOIN run.record_status s ON s.side = 'register' AND s.idx = q.register_idx
           JOIN coverage c ON c.community_code = s.community_code AND c.building = s.building
           WHERE c.visited AND c.flats_recorded = 0 ORDER BY q.community_code <> ?, q.item_id LIMIT 1""",
        [world.community],
    )
    assert rows, "the small city has absent records in buildings the roll names but records no registered flat of"
    item, community, building = rows[0]
    page = _operator(world, str(community)).get(f"/items/{item}").text
    coverage = re.search(r'<p id="building-coverage">(.*?)</p>', page, re.S)
    assert coverage, page
    assert str(building) in coverage.group(1)
    assert UNRECORDED_NOTE in coverage.group(1)
    assert UNVISITED not in coverage.group(1)
    assert 'id="visit-first"' in page  # still a visit before absence is confirmed


def test_occupants_registered_elsewhere_in_the_city_say_where(world: World) -> None:
    rows = world.sql(
        """SELECT q.item_id, q.community_code, o.name, s.other_community_code FROM queue q
           JOIN run.record_status r ON r.side = 'register' AND r.idx = q.register_idx
           JOIN run.roll_records o ON o.flat = r.flat
           JOIN run.record_status s ON s.side = 'roll' AND s.idx = o.idx
           WHERE r.evidence = 'others_at_flat' AND s.status = 'unregistered' AND s.verified_by IS NOT NULL
             AND s.other_community_code <> o.community_code
           ORDER BY q.community_code <> ?, q.item_id LIMIT 1""",
        [world.community],
    )
    assert rows, "the small city has people living at others' registered flats and registered elsewhere"
    item, community, name, other = rows[0]
    ((other_name,),) = world.sql("SELECT community_name FROM community_summary WHERE community_code = ?", [other])
    page = _operator(world, str(community)).get(f"/items/{item}").text
    listed = re.search(r'<ul id="at-flat">(.*?)</ul>', page, re.S)
    assert listed, page
    line = next(li for li in re.findall(r"<li>(.*?)</li>", listed.group(1), re.S) if str(name) in li)
    assert f"户籍在 {other_name}" in line


def test_the_queue_names_an_unknown_grid_and_filters_by_it(world: World) -> None:
    ((community,),) = world.sql(
        "SELECT community_code FROM queue WHERE grid IS NULL GROUP BY 1 ORDER BY community_code <> ?, 1 LIMIT 1",
        [world.community],
    )
    wanted = {
        int(str(r[0]))
        for r in world.sql(
            "SELECT item_id FROM queue WHERE community_code = ? AND grid IS NULL ORDER BY item_id LIMIT 50",
            [community],
        )
    }
    assert wanted
    client = _operator(world, str(community))
    page = client.get(f"/queue?community={community}&state=all&grid={UNKNOWN_GRID}").text
    assert {int(i) for i in re.findall(r'<td><a href="/items/(\d+)">', page)} == wanted
    assert f'<option value="{UNKNOWN_GRID}" selected>{UNKNOWN_GRID}</option>' in page
    assert "网格不详" not in page


def test_the_queue_shows_the_evidence_and_filters_by_it(world: World) -> None:
    client = TestClient(create_app(world.data))
    login(client, "op")
    present = [
        str(r[0])
        for r in world.sql(
            "SELECT DISTINCT evidence FROM queue WHERE community_code = ? AND evidence IS NOT NULL ORDER BY 1",
            [world.community],
        )
    ]
    assert present
    for evidence in present:
        wanted = {
            int(str(r[0]))
            for r in world.sql(
                "SELECT item_id FROM queue WHERE community_code = ? AND evidence = ? ORDER BY item_id LIMIT 50",
                [world.community, evidence],
            )
        }
        page = client.get(f"/queue?community={world.community}&state=all&evidence={evidence}").text
        shown = {int(i) for i in re.findall(r'<td><a href="/items/(\d+)">', page)}
        assert shown == wanted, evidence
        assert page.count(f'class="evidence-{evidence}"') == len(wanted)
        assert f'<option value="{evidence}" selected>{Evidence(evidence).label}</option>' in page
    everything = client.get(f"/queue?community={world.community}&state=all").text
    assert re.search(r"<th>证据 evidence</th>", everything)
    for evidence in present:
        assert Evidence(evidence).label in everything


def _with_evidence(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    """Publish (as far as item pages read it) other evidence on every record."""
    real = data.record_status

    def patched(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
        found = real(*args, **kwargs)
        return {**found, **values} if found else found

    monkeypatch.setattr(data, "record_status", patched)


def test_a_namesake_elsewhere_is_a_search_hint_never_a_link(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    item = int(
        str(
            world.sql(
                "SELECT min(item_id) FROM queue WHERE community_code = ? AND kind = 'unregistered'", [world.community]
            )[0][0]
        )
    )
    ((name,),) = world.sql(
        "SELECT o.name FROM queue q JOIN run.roll_records o ON o.idx = q.roll_idx WHERE item_id = ?", [item]
    )
    ((other_name,),) = world.sql(
        "SELECT community_name FROM community_summary WHERE community_code = ?", [world.other_community]
    )
    _with_evidence(monkeypatch, evidence=Evidence.NAMESAKE_ELSEWHERE.value, hint_community=world.other_community)
    client = TestClient(create_app(world.data))
    login(client, "op")
    page = client.get(f"/items/{item}").text
    hint = re.search(r'<p id="namesake">(.*?)</p>', page, re.S)
    assert hint, page
    assert str(other_name) in hint.group(1)
    assert f'href="/items/{item}?find=1#search"' in hint.group(1)
    assert "<form" not in hint.group(1)
    assert f'value="{name}"' not in page  # the search is not prefilled until asked
    found = client.get(f"/items/{item}?find=1").text
    search = re.search(r'<input type="search"[^>]*>', found, re.S)
    assert search
    assert f'value="{name}"' in search.group(0)
    assert 'hx-trigger="load,' in search.group(0)
    # A role that sees names masked gets no name in the search box.
    sup = TestClient(create_app(world.data))
    login(sup, "sup")
    masked = sup.get(f"/items/{item}?find=1").text
    assert f'value="{name}"' not in masked


def test_a_record_registered_in_another_community_names_it(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    item = int(
        str(
            world.sql(
                "SELECT min(item_id) FROM queue WHERE community_code = ? AND kind = 'unregistered'", [world.community]
            )[0][0]
        )
    )
    ((other_name,),) = world.sql(
        "SELECT community_name FROM community_summary WHERE community_code = ?", [world.other_community]
    )
    _with_evidence(
        monkeypatch, evidence=Evidence.REGISTERED_ELSEWHERE.value, other_community_code=world.other_community
    )
    client = TestClient(create_app(world.data))
    login(client, "op")
    page = client.get(f"/items/{item}").text
    other = re.search(r'<p id="other-community">(.*?)</p>', page, re.S)
    assert other, page
    assert f"<b>{other_name}</b> ({world.other_community})" in other.group(1)


def test_evidence_view_reads_the_status_row() -> None:
    names = {"330282001002": "古塘社区"}
    lives = evidence_view(
        {"evidence": "lives_elsewhere", "other_community_code": "330282001002", "flat": None}, names=names
    )
    assert lives
    assert (lives.community, lives.community_code, lives.visit_first) == ("古塘社区", "330282001002", False)
    missed = evidence_view(
        {"evidence": "flat_missed", "flat": "330282001017|F|华府名都一期|1|1|1801", "others_at_flat": 0},
        names=names,
        coverage={"building": "华府名都一期1幢", "flats_registered": 8, "flats_recorded": 6},
    )
    assert missed
    assert (missed.building, missed.share, missed.visit_first) == ("华府名都一期1幢", 75, True)
    assert evidence_view({"evidence": None}, names=names) is None
