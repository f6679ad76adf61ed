"""Searching for a lone item's person and linking by hand: specific queries, scoped results, claims."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient

from reconcile.idnumber import mask, upgrade15
from review import data
from review.app import create_app
from schemas.codes import Side
from services import claims
from services.audit import audit_log
from services.decisions import active_decisions
from services.reader import published, record_table
from tests.review.conftest import login

if TYPE_CHECKING:
    from tests.review.conftest import World

FULL_ID = re.compile(r"\d{17}[\dX]")
MASKED_ID = re.compile(r"\d{6}\*+[\dX]{4}")


def _absent_item(world: World, community: str) -> int:
    """A lone register record of a community (its person is looked for among the roll's records)."""
    rows = world.sql(
        "SELECT item_id FROM queue WHERE kind = 'absent' AND community_code = ? ORDER BY item_id LIMIT 1", [community]
    )
    assert rows
    return int(str(rows[0][0]))


def _roll_record(world: World, community: str, status: str, *, queued: bool = False) -> dict[str, str]:
    """A roll record of a community in a given status, with a name no other roll record has and a full ID number."""
    rows = world.sql(
        """SELECT o.name, o.id_clean, o.birth, o.record_key, o.fingerprint FROM run.roll_records o
           JOIN run.record_status s ON s.side = 'roll' AND s.idx = o.idx
           WHERE o.community_code = ? AND s.status = ? AND length(o.id_clean) = 18 AND length(o.name) >= 2
             AND (NOT ? OR EXISTS (SELECT 1 FROM queue q WHERE q.roll_idx = o.idx AND q.kind = 'unregistered'))
             AND (SELECT count(*) FROM run.roll_records x WHERE x.name = o.name) = 1
             AND (SELECT count(*) FROM run.roll_records x WHERE x.id_clean = o.id_clean) = 1
           ORDER BY o.idx LIMIT 1""",
        [community, status, queued],
    )
    assert rows, (community, status)
    name, id_clean, birth, key, fingerprint = rows[0]
    return {"name": str(name), "id": str(id_clean), "birth": str(birth), "key": str(key), "fp": str(fingerprint)}


def _link_forms(html: str) -> list[dict[str, str]]:
    """The hidden fields of every hand-linking form in a search fragment."""
    forms = re.findall(r'<form method="post" action="/items/\d+/link"[^>]*>(.*?)</form>', html, re.S)
    return [dict(re.findall(r'name="([^"]+)" value="([^"]*)"', f)) for f in forms]


def test_search_refuses_wildcards_and_fragments(client: TestClient, world: World) -> None:
    login(client, "op")
    item = _absent_item(world, world.community)
    for q in ("%%", "%", "_", "3302", "330282", "33028219", "%1%", "__"):
        page = client.get(f"/items/{item}/search", params={"q": q})
        assert page.status_code == 200, q
        assert not FULL_ID.search(page.text), q
        assert not MASKED_ID.search(page.text), q
        assert not _link_forms(page.text), q


def test_search_masks_records_outside_the_users_communities(client: TestClient, world: World) -> None:
    login(client, "op")
    item = _absent_item(world, world.community)
    foreign = _roll_record(world, world.other_community, "consistent")
    for q in (foreign["name"], foreign["id"]):
        page = client.get(f"/items/{item}/search", params={"q": q}).text
        assert mask(foreign["id"]) in page, q
        assert foreign["id"] not in page, q
        assert foreign["name"] not in page, q
        # The masked ID and the birth date in clear would give the number back.
        assert foreign["birth"] not in page, q
        assert foreign["birth"].replace("-", "") not in page, q


def test_search_shows_own_records_in_full_by_name_or_id_number(client: TestClient, world: World) -> None:
    login(client, "op")
    item = _absent_item(world, world.community)
    own = _roll_record(world, world.community, "unregistered")
    for q in (own["name"], f" {own['id'].lower()} ", own["id"][:15] + "%"):
        page = client.get(f"/items/{item}/search", params={"q": q}).text
        if q.endswith("%"):
            assert own["id"] not in page  # a wildcard is a character like any other
            continue
        assert own["id"] in page, q
        assert own["name"] in page, q
        assert len(_link_forms(page)) == 1, q
    assert own["id"] not in client.get(f"/items/{item}/search", params={"q": own["id"][:14]}).text


def test_every_search_is_audited_without_the_query(client: TestClient, world: World) -> None:
    login(client, "op")
    item = _absent_item(world, world.community)
    own = _roll_record(world, world.community, "unregistered")
    for q in (own["name"], own["id"], "%%"):
        client.get(f"/items/{item}/search", params={"q": q})
    searches = [e for e in audit_log(world.state) if e["action"] == "search"]
    assert len(searches) == 3
    trail = json.dumps(audit_log(world.state), ensure_ascii=False)
    assert own["name"] not in trail
    assert own["id"] not in trail
    assert [json.loads(e["after"])["kind"] for e in searches] == ["name", "id", "refused"]


def test_linking_takes_the_found_records_key_not_a_row_position(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item = _absent_item(world, world.community)
    refused = client.post(f"/items/{item}/link", data={"other_idx": 1, "csrf_token": csrf}, follow_redirects=False)
    assert refused.status_code == 422
    assert active_decisions(world.state).is_empty()

    # A lone roll record (queued): one linked to a register record elsewhere would file a claim instead.
    own = _roll_record(world, world.community, "unregistered", queued=True)
    (form,) = _link_forms(client.get(f"/items/{item}/search", params={"q": own["name"]}).text)
    assert "other_idx" not in form
    assert (form["record_key"], form["fingerprint"]) == (own["key"], own["fp"])
    for stale in ({**form, "fingerprint": "0" * 20}, {**form, "record_key": "L:0"}):
        assert client.post(f"/items/{item}/link", data=stale, follow_redirects=False).status_code == 409
    assert active_decisions(world.state).is_empty()
    linked = client.post(f"/items/{item}/link", data=form, follow_redirects=False)
    assert linked.status_code == 303
    (decision,) = active_decisions(world.state).iter_rows(named=True)
    assert decision["kind"] == "same_person"
    assert (decision["roll_key"], decision["roll_fingerprint"]) == (own["key"], own["fp"])
    assert decision["community_code"] == world.community


def test_linking_a_person_linked_elsewhere_files_a_claim(world: World) -> None:
    client = TestClient(create_app(world.data))
    login(client, "op")
    item = _absent_item(world, world.community)
    foreign = _roll_record(world, world.other_community, "consistent")
    (form,) = _link_forms(client.get(f"/items/{item}/search", params={"q": foreign["id"]}).text)
    answer = client.post(f"/items/{item}/link", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert active_decisions(world.state).is_empty()  # the other community's link stands
    (claim,) = claims.open_claims(world.state, world.other_community)
    assert claim["roll_key"] == foreign["key"]
    assert claim["community_code"] == world.community
    assert [e for e in audit_log(world.state) if e["action"] == "claim"]
    assert client.get("/claims", params={"community": world.other_community}).status_code == 404

    other = TestClient(create_app(world.data))
    login(other, "op_other")
    queue = other.get("/queue", params={"community": world.other_community}).text
    assert f'hx-get="/claims?community={world.other_community}"' in queue
    block = other.get("/claims", params={"community": world.other_community})
    assert block.status_code == 200
    assert foreign["name"] in block.text  # their own record, in full
    assert world.community in block.text
    assert "claim" in block.text
    assert not claims.open_claims(world.state, world.community)


def test_a_record_another_community_decided_on_is_claimed_not_taken(world: World) -> None:
    foreign = _roll_record(world, world.other_community, "unregistered", queued=True)
    (their_item,) = world.sql(
        "SELECT q.item_id FROM queue q JOIN run.roll_records o ON o.idx = q.roll_idx WHERE o.record_key = ?",
        [foreign["key"]],
    )[0]
    other = TestClient(create_app(world.data))
    other_csrf = login(other, "op_other")
    page = other.get(f"/items/{their_item}").text
    shown = dict(re.findall(r'name="((?:register|roll)_(?:key|fingerprint))" value="([^"]*)"', page))
    confirmed = other.post(
        f"/items/{their_item}/decide",
        data={"kind": "confirm_unregistered", "csrf_token": other_csrf, **shown},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303

    client = TestClient(create_app(world.data))
    login(client, "op")
    item = _absent_item(world, world.community)
    (form,) = _link_forms(client.get(f"/items/{item}/search", params={"q": foreign["name"]}).text)
    assert client.post(f"/items/{item}/link", data=form, follow_redirects=False).status_code == 303
    (decision,) = active_decisions(world.state).iter_rows(named=True)
    assert decision["kind"] == "confirm_unregistered"  # theirs stands
    (claim,) = claims.open_claims(world.state, world.other_community)
    assert claim["roll_key"] == foreign["key"]


def test_search_and_record_lookups_find_what_one_query_over_the_records_finds(world: World) -> None:
    """One equality a query, statuses by index: the same records, order and statuses as one join over the side."""
    with published(world.data) as con:
        for side in Side:
            table = record_table(side)
            sample = con.execute(
                f"SELECT name, id_clean, record_key FROM {table} USING SAMPLE 40 ROWS (reservoir, 7)"  # noqa: S608
            ).fetchall()
            for name, id_clean, record_key in sample:
                for text in (name, id_clean, (id_clean or "")[:6] + (id_clean or "")[8:17]):
                    query = data.search_query(text or "")
                    where = "x.name = ?" if query.kind == "name" else "(x.id_clean = ? OR x.id18 = ?)"
                    legacy = query.kind == "id" and len(query.text) == data.MIN_ID_LENGTH
                    params = (
                        [query.text]
                        if query.kind == "name"
                        else [query.text, upgrade15(query.text) if legacy else query.text]
                    )
                    expected = (
                        []
                        if query.kind == "refused"
                        else con.execute(
                            f"""SELECT x.idx, s.status FROM {table} x
                            LEFT JOIN run.record_status s ON s.side = ? AND s.idx = x.idx WHERE {where}
                            ORDER BY x.community_code, x.source_file, x.source_sheet, x.source_row LIMIT ?""",  # noqa: S608
                            [str(side), *params, data.SEARCH_LIMIT],
                        ).fetchall()
                    )
                    assert [(r["idx"], r["status"]) for r in data.search(con, side, query)] == expected, (side, query)
                found = data.record_by_key(con, side, record_key)
                assert found is not None
                assert found["record_key"] == record_key
                status = data.record_status(con, side, found["idx"])
                assert found["status"] == (status or {}).get("status")
