"""Decisions persist, are audited, can be undone, and survive nightly reruns."""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
from typing import TYPE_CHECKING

import polars as pl
import pytest
import xlsxwriter
from fastapi.testclient import TestClient

from review import items
from schemas.codes import DecisionKind, ItemState, QueueKind, Side
from services.audit import audit_log, now
from services.decisions import ItemKeys, active_decisions, decide, undo_last
from services.state import connect
from tests.review.conftest import World, login

if TYPE_CHECKING:
    from pathlib import Path


def _first(world: World, kind: str) -> int:
    rows = world.sql(
        "SELECT item_id FROM queue WHERE community_code = ? AND kind = ? ORDER BY item_id LIMIT 1",
        [world.community, kind],
    )
    assert rows, kind
    return int(rows[0][0])  # type: ignore[call-overload]


SHOWN = ("register_key", "roll_key", "register_fingerprint", "roll_fingerprint")
"""The hidden fields of the decide form: the records the page showed."""


def _shown(client: TestClient, item: int) -> dict[str, str]:
    """The record keys and fingerprints an item page's decide form carries."""
    page = client.get(f"/items/{item}").text
    form = page[page.index('id="decide-form"') :]
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form[: form.index("</form>")]))
    return {name: fields[name] for name in SHOWN}


def _post(client: TestClient, csrf: str, item: int, kind: str, shown: dict[str, str], note: str = "") -> int:
    response = client.post(
        f"/items/{item}/decide",
        data={"kind": kind, "note": note, "csrf_token": csrf, **shown},
        follow_redirects=False,
    )
    return response.status_code


def _decide(client: TestClient, csrf: str, item: int, kind: str, note: str = "") -> None:
    assert _post(client, csrf, item, kind, _shown(client, item), note) == 303


def test_decision_is_stored_and_audited(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item = _first(world, "pair")
    _decide(client, csrf, item, "different_person", "不同出生日期")
    decisions = active_decisions(world.state)
    assert decisions.select("kind", "username").rows() == [("different_person", "op")]
    entry = [e for e in audit_log(world.state) if e["action"] == "decide"][-1]
    assert (entry["username"], entry["after"], entry["note"]) == ("op", '"different_person"', "不同出生日期")


def test_undo_restores_the_previous_decision(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item = _first(world, "pair")
    _decide(client, csrf, item, "door_visit")
    _decide(client, csrf, item, "same_person")
    client.post("/undo", data={"csrf_token": csrf})
    assert active_decisions(world.state)["kind"].to_list() == ["door_visit"]
    assert [e["action"] for e in audit_log(world.state)][-1] == "undo"


def test_undo_never_resurrects_an_older_decision(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item = _first(world, "absent")
    (absent_file, absent_row) = world.sql(
        "SELECT r.source_file, r.source_row FROM queue q JOIN run.register_records r ON r.idx = q.register_idx WHERE item_id = ?",
        [item],
    )[0]
    _decide(client, csrf, item, "confirm_absent")
    client.post("/undo", data={"csrf_token": csrf})
    _decide(client, csrf, item, "door_visit")
    client.post("/undo", data={"csrf_token": csrf})
    assert active_decisions(world.state).is_empty()
    changes = [e["action"] for e in audit_log(world.state) if e["action"] not in ("view", "search")]
    assert changes[-4:] == ["decide", "undo", "decide", "undo"]
    world.rerun()
    status = world.sql(
        "SELECT verified_by, decision FROM record_status WHERE side = 'register' AND source_file = ? AND source_row = ?",
        [absent_file, absent_row],
    )
    assert status == [(None, None)]


def test_undo_walks_back_the_supersedes_chain(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    keys = ItemKeys("c1", "r1", "l1", "rf", "lf")
    first = decide(state, username="op", kind=DecisionKind.DOOR_VISIT, keys=keys)
    decide(state, username="op", kind=DecisionKind.DIFFERENT_PERSON, keys=keys)
    decide(state, username="op", kind=DecisionKind.SAME_PERSON, keys=keys)
    undo_last(state, username="op")
    assert active_decisions(state)["kind"].to_list() == ["different_person"]
    undo_last(state, username="op")
    assert active_decisions(state)["id"].to_list() == [first]
    undo_last(state, username="op")
    assert active_decisions(state).is_empty()
    assert undo_last(state, username="op") is None


def test_a_form_rendered_before_a_republish_is_refused(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    first = _first(world, "pair")
    later = first + 1
    assert world.sql("SELECT community_code FROM queue WHERE item_id = ?", [later]) == [(world.community,)]
    stale = _shown(client, later)
    # Deciding the first pair takes it out of the queue at the next publish: the items after it move up.
    _decide(client, csrf, first, "same_person")
    before = active_decisions(world.state).height
    world.rerun()
    current = world.sql("SELECT register_key, roll_key FROM queue WHERE item_id = ?", [later])
    assert current != [(stale["register_key"] or None, stale["roll_key"] or None)]
    assert _post(client, csrf, later, "door_visit", stale) == 409
    assert active_decisions(world.state).height == before
    assert [e["action"] for e in audit_log(world.state)].count("decide") == 1
    # The page as it is now posts fine.
    assert _post(client, csrf, later, "door_visit", _shown(client, later)) == 303


def test_a_form_must_carry_the_records_it_showed(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    pair = _first(world, "pair")
    absent = _first(world, "absent")
    assert _post(client, csrf, absent, "door_visit", _shown(client, pair)) == 409
    assert _post(client, csrf, pair, "same_person", {}) == 409
    changed = {**_shown(client, pair), "roll_fingerprint": "0" * 16}
    assert _post(client, csrf, pair, "same_person", changed) == 409
    assert active_decisions(world.state).is_empty()


def test_two_decisions_at_once_leave_one_active(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state.sqlite"
    keys = ItemKeys("c1", None, "l1", None, "lf")
    decide(state, username="op", kind=DecisionKind.DOOR_VISIT, keys=ItemKeys("c1", "r9", None, "rf", None))
    arrived = threading.Condition()
    count = [0]

    def rendezvous() -> str:
        # Each writer waits (a second at most) for the other here, after reading the item's active decision.
        with arrived:
            count[0] += 1
            arrived.notify_all()
            arrived.wait_for(lambda: count[0] >= 2, timeout=1)
        return now()

    monkeypatch.setattr("services.decisions.now", rendezvous)
    errors: list[BaseException] = []

    def one(kind: DecisionKind) -> None:
        try:
            decide(state, username="op", kind=kind, keys=keys)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [
        threading.Thread(target=one, args=(k,)) for k in (DecisionKind.CONFIRM_UNREGISTERED, DecisionKind.DOOR_VISIT)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    active = active_decisions(state)
    assert active.filter(pl.col("roll_key") == "l1").height == 1
    assert active.height == 2


def test_one_active_decision_per_item_is_enforced(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    decide(state, username="op", kind=DecisionKind.CONFIRM_ABSENT, keys=ItemKeys("c1", "r1"))
    with connect(state) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO decisions (kind, register_key, community_code, username, decided_at)"
            " VALUES ('door_visit', 'r1', 'c1', 'op', 'now')"
        )


OLD_DECISIONS = """CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, register_key TEXT, roll_key TEXT,
    register_fingerprint TEXT, roll_fingerprint TEXT, community_code TEXT NOT NULL, note TEXT,
    username TEXT NOT NULL, decided_at TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1)"""


def test_an_old_state_database_is_migrated(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    old = sqlite3.connect(state)
    old.execute(OLD_DECISIONS)
    old.executemany(
        "INSERT INTO decisions (kind, register_key, roll_key, community_code, username, decided_at, active)"
        " VALUES (?, ?, ?, 'c1', 'op', 't', ?)",
        [
            ("confirm_absent", "r1", None, 1),
            ("door_visit", "r1", None, 1),
            ("same_person", "r2", "l2", 0),
            ("same_person", "r2", "l2", 1),
        ],
    )
    old.commit()
    old.close()
    assert active_decisions(state).sort("id")["id"].to_list() == [2, 4]
    with connect(state) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(decisions)")}
    assert "supersedes" in columns
    decide(state, username="op", kind=DecisionKind.CONFIRM_ABSENT, keys=ItemKeys("c1", "r1"))
    undo_last(state, username="op")
    assert active_decisions(state).sort("id")["id"].to_list() == [2, 4]


def test_decisions_survive_a_rerun_with_the_same_inputs(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    pair = _first(world, "pair")
    (reg_file, reg_row, roll_file, roll_row) = world.sql(
        """SELECT r.source_file, r.source_row, o.source_file, o.source_row FROM queue q
           JOIN run.register_records r ON r.idx = q.register_idx JOIN run.roll_records o ON o.idx = q.roll_idx
           WHERE item_id = ?""",
        [pair],
    )[0]
    absent = _first(world, "absent")
    (absent_file, absent_row) = world.sql(
        "SELECT r.source_file, r.source_row FROM queue q JOIN run.register_records r ON r.idx = q.register_idx WHERE item_id = ?",
        [absent],
    )[0]
    _decide(client, csrf, pair, "same_person")
    _decide(client, csrf, absent, "confirm_absent")
    world.rerun()
    link = world.sql(
        "SELECT decided_by FROM links WHERE register_file = ? AND register_row = ? AND roll_file = ? AND roll_row = ?",
        [reg_file, reg_row, roll_file, roll_row],
    )
    assert link == [("operator",)]
    assert not world.sql(
        """SELECT 1 FROM queue q JOIN run.register_records r ON r.idx = q.register_idx
           WHERE q.kind = 'pair' AND r.source_file = ? AND r.source_row = ?""",
        [reg_file, reg_row],
    )
    status = world.sql(
        "SELECT status, verified_by, decision FROM record_status WHERE side = 'register' AND source_file = ? AND source_row = ?",
        [absent_file, absent_row],
    )
    assert status == [("absent", "operator", "confirm_absent")]
    # The confirmed item is decided, not pending, in the new queue.
    fresh = TestClient(client.app)
    login(fresh, "op")
    pending = fresh.get(f"/queue?community={world.community}&kind=absent&state=pending").text
    new_id = world.sql(
        """SELECT q.item_id FROM queue q JOIN run.register_records r ON r.idx = q.register_idx
           WHERE r.source_file = ? AND r.source_row = ?""",
        [absent_file, absent_row],
    )[0][0]
    assert f'href="/items/{new_id}"' not in pending
    decided = fresh.get(f"/queue?community={world.community}&kind=absent&state=decided").text
    assert f'href="/items/{new_id}"' in decided


def _rewrite_roll(src: Path, dst: Path, row: int, column: str, value: str) -> None:
    frame = pl.read_excel(src, engine="calamine", infer_schema_length=0)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == row - 2).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    book = xlsxwriter.Workbook(str(dst))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, frame.columns)
    for i, values in enumerate(frame.iter_rows(), start=1):
        sheet.write_row(i, 0, ["" if v is None else v for v in values])
    book.close()


def test_changed_records_bring_the_item_back_marked(client: TestClient, world: World, tmp_path: Path) -> None:
    csrf = login(client, "op")
    item = _first(world, "unregistered")
    (roll_file, roll_row) = world.sql(
        "SELECT o.source_file, o.source_row FROM queue q JOIN run.roll_records o ON o.idx = q.roll_idx WHERE item_id = ?",
        [item],
    )[0]
    _decide(client, csrf, item, "confirm_unregistered")
    rolls = tmp_path / "rolls"
    shutil.copytree(world.city["rolls"], rolls)
    # Same name at the same dwelling, but the worker now wrote an ID number: compared values changed.
    row_number = int(str(roll_row))
    _rewrite_roll(
        world.city["rolls"] / str(roll_file), rolls / str(roll_file), row_number, "身份证号", "11010519491231002X"
    )
    world.rerun(rolls)
    changed = world.sql(
        """SELECT q.changed FROM queue q JOIN run.roll_records o ON o.idx = q.roll_idx
           WHERE o.source_file = ? AND o.source_row = ?""",
        [roll_file, roll_row],
    )
    assert changed == [(True,)]
    status = world.sql(
        "SELECT verified_by, decision_outcome FROM record_status WHERE side = 'roll' AND source_file = ? AND source_row = ?",
        [roll_file, roll_row],
    )
    assert status == [(None, "changed")]
    ((again,),) = world.sql(
        """SELECT q.item_id FROM queue q JOIN run.roll_records o ON o.idx = q.roll_idx
           WHERE o.source_file = ? AND o.source_row = ?""",
        [roll_file, roll_row],
    )
    page = client.get(f"/items/{again}").text
    assert f'id="state">{ItemState.CHANGED.label}: {DecisionKind.CONFIRM_UNREGISTERED.label} (op)' in page
    assert '<p class="changed">' in page


def _offered(html: str) -> list[tuple[str, str]]:
    """(record key, fingerprint) of each record a search fragment offers to link."""
    return re.findall(
        r'name="record_key" value="([^"]+)"><input type="hidden" name="fingerprint" value="([^"]*)"', html
    )


def test_operator_finds_and_links_a_missed_person_by_hand(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item = _first(world, "unregistered")
    (name,) = world.sql(
        "SELECT o.name FROM queue q JOIN run.roll_records o ON o.idx = q.roll_idx WHERE item_id = ?", [item]
    )[0]
    found = client.get(f"/items/{item}/search", params={"q": str(name)}, headers={"HX-Request": "true"})
    assert found.status_code == 200

    def link_first_free(offered: list[tuple[str, str]]) -> None:
        """Link to the first record offered that nobody else holds (a held one files a claim instead)."""
        for key, fingerprint in offered:
            response = client.post(
                f"/items/{item}/link",
                data={"record_key": key, "fingerprint": fingerprint, "csrf_token": csrf},
                follow_redirects=False,
            )
            assert response.status_code == 303
            if not active_decisions(world.state).is_empty():
                return

    link_first_free(_offered(found.text))  # the search is city-wide
    if active_decisions(world.state).is_empty():
        # Everyone of that name is linked elsewhere: the operator knows the person as a lone register record.
        (registered, key) = world.sql(
            """SELECT r.name, r.record_key FROM queue q JOIN run.register_records r ON r.idx = q.register_idx
               WHERE q.kind = 'absent' AND length(r.name) >= 2 ORDER BY q.item_id LIMIT 1"""
        )[0]
        found = client.get(f"/items/{item}/search", params={"q": str(registered)}, headers={"HX-Request": "true"})
        link_first_free([o for o in _offered(found.text) if o[0] == key])
    decisions = active_decisions(world.state)
    assert decisions.select("kind").to_series().to_list() == ["same_person"]
    assert decisions["register_key"][0]
    assert decisions["roll_key"][0]
    world.rerun()
    (register_key, roll_key) = decisions.select("register_key", "roll_key").row(0)
    linked = world.sql(
        """SELECT l.decided_by FROM links l
           JOIN run.register_records r ON r.source_file = l.register_file AND r.source_row = l.register_row
           JOIN run.roll_records o ON o.source_file = l.roll_file AND o.source_row = l.roll_row
           WHERE r.record_key = ? AND o.record_key = ?""",
        [register_key, roll_key],
    )
    assert linked == [("operator",)]


def test_audit_log_carries_no_id_number_or_name(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item = _first(world, "pair")
    (id18, name) = world.sql(
        "SELECT r.id18, r.name FROM queue q JOIN run.register_records r ON r.idx = q.register_idx WHERE item_id = ?",
        [item],
    )[0]
    _decide(client, csrf, item, "same_person")
    text = " ".join(str(v) for entry in audit_log(world.state) for v in entry.values())
    assert id18
    assert str(id18) not in text
    assert str(name) not in text


def test_pairs_nothing_else_explains_say_so(client: TestClient, world: World) -> None:
    login(client, "root")
    flagged = world.sql(
        """SELECT q.item_id, l.unexplained FROM queue q
           JOIN run.links l ON l.rid = q.register_idx AND l.lid = q.roll_idx
           WHERE q.kind = 'pair' ORDER BY l.unexplained DESC, q.item_id"""
    )
    hinted = {bool(u): int(str(i)) for i, u in reversed(flagged)}
    assert set(hinted) == {True, False}
    assert 'id="unexplained-hint"' in client.get(f"/items/{hinted[True]}").text
    assert 'id="unexplained-hint"' not in client.get(f"/items/{hinted[False]}").text


def test_each_kind_names_its_side_and_its_decisions() -> None:
    assert [(k.side, [d.value for d in k.decisions]) for k in QueueKind] == [
        (None, ["same_person", "different_person", "door_visit"]),
        (Side.ROLL, ["confirm_unregistered", "not_living_here", "registered_since", "door_visit"]),
        (Side.REGISTER, ["confirm_absent", "moved_out", "deceased", "found_present", "door_visit"]),
    ]
    assert [d for d in DecisionKind if d.is_pair] == [DecisionKind.SAME_PERSON, DecisionKind.DIFFERENT_PERSON]


def test_next_finds_the_open_item_past_many_decided_ones(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The item page's "next" skips every decided item after it, however many (decisions are read a few at a time)."""
    monkeypatch.setattr(items, "_FIRST_LOOK", 2)  # looks of 2, 4, 8, 16 items in this small city
    login(client, "op")
    rows = world.sql(
        """SELECT item_id, kind, register_key, roll_key, register_fingerprint, roll_fingerprint
           FROM queue WHERE community_code = ? ORDER BY item_id""",
        [world.community],
    )
    decided, beyond = 20, 2
    assert len(rows) >= decided + beyond

    def settle(row: tuple[object, ...]) -> None:
        keys = (None if v is None else str(v) for v in row[2:])
        kind = QueueKind(str(row[1])).decisions[0]
        decide(world.state, username="op", kind=kind, keys=ItemKeys(world.community, *keys))

    for row in rows[1 : 1 + decided]:
        settle(row)
    first, expected = rows[0][0], rows[1 + decided][0]
    assert f'href="/items/{expected}" data-key="n"' in client.get(f"/items/{first}").text
    settle(rows[1 + decided])
    assert f'href="/items/{rows[2 + decided][0]}" data-key="n"' in client.get(f"/items/{first}").text
