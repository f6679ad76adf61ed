"""The audit trail is append-only and tamper-evident: a hash chain over its rows."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from cli.audit import audit_app
from schemas.codes import DecisionKind
from services.audit import audit_log, verify_chain
from services.decisions import ItemKeys, decide, undo_last
from services.state import connect

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state database with a few audited decisions and an undo."""
    path = tmp_path / "state.sqlite"
    for n in range(4):
        decide(path, username="op", kind=DecisionKind.DOOR_VISIT, keys=ItemKeys("c1", f"r{n}"), note=f"note {n}")
    undo_last(path, username="op")
    return path


def _as_attacker(state: Path, *statements: str) -> None:
    """Change the file as someone with write access to it would: drop the triggers first."""
    conn = sqlite3.connect(state)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'"):
        conn.execute(f'DROP TRIGGER "{name}"')
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_an_untouched_chain_verifies(state: Path) -> None:
    log = audit_log(state)
    assert len(log) == 5
    assert verify_chain(state) is None
    assert all(e["hash"] and e["prev_hash"] is not None for e in log)
    assert [e["prev_hash"] for e in log[1:]] == [e["hash"] for e in log[:-1]]


def test_an_edited_row_is_reported(state: Path) -> None:
    _as_attacker(state, "UPDATE audit SET note = 'nothing to see' WHERE id = 3")
    assert verify_chain(state) == 3


def test_a_deleted_row_is_reported_at_the_next(state: Path) -> None:
    _as_attacker(state, "DELETE FROM audit WHERE id = 2")
    assert verify_chain(state) == 3


def test_a_replaced_row_is_reported(state: Path) -> None:
    _as_attacker(
        state,
        "INSERT OR REPLACE INTO audit (id, at, username, action, item, before, after, note, prev_hash, hash)"
        " SELECT id, at, 'someone else', action, item, before, after, note, prev_hash, hash FROM audit WHERE id = 4",
    )
    assert verify_chain(state) == 4


def test_insert_or_replace_on_an_existing_row_is_refused(state: Path) -> None:
    with connect(state) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(
            "INSERT OR REPLACE INTO audit (id, at, username, action) VALUES (2, 'then', 'someone else', 'login')"
        )
    with connect(state) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("REPLACE INTO audit (id, at, username, action) VALUES (2, 'then', 'someone else', 'login')")
    assert audit_log(state)[1]["username"] == "op"
    assert verify_chain(state) is None


def test_an_old_audit_log_is_sealed_into_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    old = sqlite3.connect(path)
    old.execute(
        """CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, username TEXT NOT NULL,
           action TEXT NOT NULL, item TEXT, before TEXT, after TEXT, note TEXT)"""
    )
    old.executemany(
        "INSERT INTO audit (at, username, action) VALUES (?, ?, ?)", [("t1", "root", "login"), ("t2", "op", "login")]
    )
    old.commit()
    old.close()
    decide(path, username="op", kind=DecisionKind.CONFIRM_ABSENT, keys=ItemKeys("c1", "r1"))
    assert [e["action"] for e in audit_log(path)] == ["login", "login", "decide"]
    assert verify_chain(path) is None


def test_the_cli_verifies_the_chain(state: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(audit_app, ["verify", "--data", str(state.parent)])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    _as_attacker(state, "UPDATE audit SET after = '\"same_person\"' WHERE id = 2")
    broken = runner.invoke(audit_app, ["verify", "--data", str(state.parent)])
    assert broken.exit_code == 1
    assert "2" in broken.output


def test_a_row_stripped_of_its_hash_is_not_sealed_again(state: Path) -> None:
    _as_attacker(
        state,
        "UPDATE audit SET note = 'nothing to see', prev_hash = NULL, hash = NULL WHERE id = 5",
        "PRAGMA user_version = 0",
    )
    assert verify_chain(state) == 5
