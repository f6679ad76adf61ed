"""Household, flat and worksheet decisions: one action, recorded and audited per person, undone as a unit.

Undoing a worksheet's import also takes the sheet back out (it no longer counts as returned).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from schemas.codes import DecisionKind
from services import fieldwork
from services.audit import audit_log, verify_chain
from services.decisions import (
    SOURCE_FLAT,
    SOURCE_HOUSEHOLD,
    ItemKeys,
    active_decisions,
    decide,
    decide_batch,
    source_label,
    undo_last,
)
from services.state import SCHEMA_VERSION, connect

if TYPE_CHECKING:
    from pathlib import Path

ABSENT = DecisionKind.CONFIRM_ABSENT
HOUSEHOLD = [ItemKeys("c1", f"r{i}", None, f"f{i}") for i in range(3)]


def test_a_household_decision_is_one_batch_of_per_person_decisions(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    result = decide_batch(state, username="op", decisions=[(ABSENT, k) for k in HOUSEHOLD], source="household")
    assert (result.made, result.unchanged) == (3, 0)
    active = active_decisions(state)
    assert sorted(active["register_key"].to_list()) == ["r0", "r1", "r2"]
    assert set(active["batch"]) == {result.batch_id}
    assert set(active["source"]) == {"household"}
    log = audit_log(state)
    assert [e["item"] for e in log if e["action"] == "decide"] == ["r0~-", "r1~-", "r2~-"]
    assert [e["action"] for e in log][-1] == "batch"
    assert verify_chain(state) is None


def test_doing_the_same_again_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    decide_batch(state, username="op", decisions=[(ABSENT, k) for k in HOUSEHOLD], source="worksheet:s1")
    entries = len(audit_log(state))
    again = decide_batch(state, username="op", decisions=[(ABSENT, k) for k in HOUSEHOLD], source="worksheet:s1")
    assert (again.batch_id, again.made, again.unchanged) == (None, 0, 3)
    assert len(audit_log(state)) == entries
    with connect(state) as conn:
        assert conn.execute("SELECT count(*) FROM decisions").fetchone()[0] == 3


def test_a_different_result_or_changed_record_is_a_new_decision(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    decide_batch(state, username="op", decisions=[(ABSENT, k) for k in HOUSEHOLD], source="household")
    moved = ItemKeys("c1", "r0", None, "f0")
    refreshed = ItemKeys("c1", "r1", None, "f1-new")
    result = decide_batch(
        state,
        username="op",
        decisions=[(DecisionKind.MOVED_OUT, moved), (ABSENT, refreshed), (ABSENT, HOUSEHOLD[2])],
        source="household",
    )
    assert (result.made, result.unchanged) == (2, 1)


def test_undo_withdraws_the_whole_batch_and_brings_back_what_it_replaced(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    first = decide(state, username="op", kind=DecisionKind.DOOR_VISIT, keys=HOUSEHOLD[0])
    decide_batch(state, username="op", decisions=[(ABSENT, k) for k in HOUSEHOLD], source="household")
    undone = undo_last(state, username="op")
    assert undone is not None
    assert undone["withdrawn"] == 3
    active = active_decisions(state)
    assert active["id"].to_list() == [first]
    assert active["kind"].to_list() == [DecisionKind.DOOR_VISIT.value]
    assert [e["action"] for e in audit_log(state)][-4:] == ["undo", "undo", "undo", "undo_batch"]
    undo_last(state, username="op")
    assert active_decisions(state).is_empty()


def test_a_single_decision_after_a_batch_is_undone_alone(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    decide_batch(state, username="op", decisions=[(ABSENT, k) for k in HOUSEHOLD], source="household")
    decide(state, username="op", kind=DecisionKind.DECEASED, keys=HOUSEHOLD[1])
    undone = undo_last(state, username="op")
    assert undone is not None
    assert undone["withdrawn"] == 1
    assert sorted(active_decisions(state)["kind"].to_list()) == [ABSENT.value] * 3


VERSION_1_DECISIONS = """CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, register_key TEXT, roll_key TEXT,
    register_fingerprint TEXT, roll_fingerprint TEXT, community_code TEXT NOT NULL, note TEXT,
    username TEXT NOT NULL, decided_at TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1,
    supersedes INTEGER REFERENCES decisions(id))"""


def test_a_version_1_state_database_gains_batch_and_source(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    old = sqlite3.connect(state)
    old.execute(VERSION_1_DECISIONS)
    old.execute(
        "INSERT INTO decisions (kind, register_key, community_code, username, decided_at) VALUES (?, ?, ?, ?, ?)",
        (ABSENT.value, "r0", "c1", "op", "t"),
    )
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    with connect(state) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        columns = {row[1] for row in conn.execute("PRAGMA table_info(decisions)")}
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert version == SCHEMA_VERSION
    assert {"batch", "source"} <= columns
    assert "worksheets" in tables
    assert active_decisions(state)["register_key"].to_list() == ["r0"]


def test_each_decision_may_carry_its_own_note(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    decide_batch(
        state,
        username="op",
        decisions=[(ABSENT, k) for k in HOUSEHOLD],
        source="worksheet:s1",
        notes=["搬去宁波", None, "邻居说去年搬走"],
    )
    with connect(state) as conn:
        notes = [row[0] for row in conn.execute("SELECT note FROM decisions ORDER BY id")]
    assert notes == ["搬去宁波", None, "邻居说去年搬走"]


def _sheet(state: Path, sheet_id: str = "s1") -> dict[str, object]:
    return fieldwork.sheet(state, sheet_id) or {}


def test_undoing_a_worksheet_import_takes_the_sheet_back_out(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    fieldwork.sheet_out(state, sheet_id="s1", community_code="c1", grid=None, run_id="r", rows=3, username="op")
    decide_batch(state, username="op", decisions=[(ABSENT, k) for k in HOUSEHOLD], source="worksheet:s1")
    fieldwork.sheet_back(state, sheet_id="s1", username="op", applied=3, refused=0)
    assert fieldwork.sheet_counts(state) == {"c1": {"out": 1, "back": 1}}
    decide_batch(state, username="op", decisions=[(DecisionKind.DECEASED, HOUSEHOLD[0])], source="household")
    undo_last(state, username="op")  # a household action: the sheet stays back
    assert _sheet(state)["returned_by"] == "op"
    undone = undo_last(state, username="op")
    assert undone is not None
    assert undone["withdrawn"] == 3
    sheet = _sheet(state)
    assert (sheet["returned_at"], sheet["returned_by"], sheet["applied"], sheet["refused"]) == (None,) * 4
    assert fieldwork.sheet_counts(state) == {"c1": {"out": 1, "back": 0}}
    log = audit_log(state)
    assert [e["action"] for e in log][-2:] == ["undo_batch", "worksheet_withdrawn"]
    assert log[-1]["item"] == "s1"
    assert verify_chain(state) is None


def test_an_earlier_import_of_the_sheet_still_standing_keeps_it_back(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    fieldwork.sheet_out(state, sheet_id="s1", community_code="c1", grid=None, run_id="r", rows=3, username="op")
    decide_batch(state, username="op", decisions=[(ABSENT, k) for k in HOUSEHOLD], source="worksheet:s1")
    decide_batch(state, username="op", decisions=[(DecisionKind.MOVED_OUT, HOUSEHOLD[0])], source="worksheet:s1")
    fieldwork.sheet_back(state, sheet_id="s1", username="op", applied=3, refused=0)
    undo_last(state, username="op")  # the corrected re-import withdrawn: the first import stands
    assert sorted(active_decisions(state)["kind"].to_list()) == [ABSENT.value] * 3
    assert fieldwork.sheet_counts(state) == {"c1": {"out": 1, "back": 1}}
    undo_last(state, username="op")
    assert fieldwork.sheet_counts(state) == {"c1": {"out": 1, "back": 0}}


def test_where_a_decision_was_made_is_named(tmp_path: Path) -> None:
    assert fieldwork.worksheet_source("20261127-ab") == "worksheet:20261127-ab"
    assert fieldwork.sheet_of_source("worksheet:20261127-ab") == "20261127-ab"
    assert fieldwork.sheet_of_source("household") is None
    assert source_label("worksheet:20261127-ab") == "核查表 20261127-ab"
    assert source_label(SOURCE_HOUSEHOLD) == "户籍户整户操作"
    assert source_label(SOURCE_FLAT) == "居住房屋整处操作"
    assert source_label("app") == source_label(None) == "记录页面"


def test_a_page_reads_the_decisions_on_its_items_records_only(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    for community, key in (("c1", "r1"), ("c2", "r2"), ("c3", "r3")):
        decide(state, username="op", kind=ABSENT, keys=ItemKeys(community, key, None, "f"), note=None)
    decide(
        state, username="op", kind=DecisionKind.CONFIRM_UNREGISTERED, keys=ItemKeys("c1", None, "l1", None), note=None
    )
    # By the records' keys, whatever community the item was in when it was decided.
    found = active_decisions(state, keys=[("r1", None), ("r3", "l9"), (None, "l1")])
    assert sorted(zip(found["register_key"], found["roll_key"], strict=True), key=str) == sorted(
        [("r1", None), ("r3", None), (None, "l1")], key=str
    )
    assert active_decisions(state, keys=[]).is_empty()
    assert active_decisions(state).height == 4
