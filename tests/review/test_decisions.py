"""Decisions persist, are audited, can be undone, and survive nightly reruns."""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING

import polars as pl
import xlsxwriter
from fastapi.testclient import TestClient

from schemas.codes import DecisionKind, ItemState, QueueKind, Side
from services.audit import audit_log
from services.decisions import active_decisions
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


def _decide(client: TestClient, csrf: str, item: int, kind: str, note: str = "") -> None:
    response = client.post(
        f"/items/{item}/decide", data={"kind": kind, "note": note, "csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


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


def test_operator_finds_and_links_a_missed_person_by_hand(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item = _first(world, "unregistered")
    (name,) = world.sql(
        "SELECT o.name FROM queue q JOIN run.roll_records o ON o.idx = q.roll_idx WHERE item_id = ?", [item]
    )[0]
    found = client.get(f"/items/{item}/search", params={"q": str(name)}, headers={"HX-Request": "true"})
    assert found.status_code == 200
    # Link to any register record offered (the search is city-wide); pick the first.
    other = [int(v) for v in re.findall(r'name="other_idx" value="(\d+)"', found.text)]
    if not other:  # nobody of that name registered: the operator knows the person by another name
        (registered,) = world.sql("SELECT name FROM run.register_records WHERE length(name) >= 2 LIMIT 1")[0]
        found = client.get(f"/items/{item}/search", params={"q": str(registered)}, headers={"HX-Request": "true"})
        other = [int(v) for v in re.findall(r'name="other_idx" value="(\d+)"', found.text)]
    assert other
    response = client.post(
        f"/items/{item}/link", data={"other_idx": other[0], "csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
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
        (Side.ROLL, ["confirm_unregistered", "door_visit"]),
        (Side.REGISTER, ["confirm_absent", "door_visit"]),
    ]
    assert [d for d in DecisionKind if d.is_pair] == [DecisionKind.SAME_PERSON, DecisionKind.DIFFERENT_PERSON]
