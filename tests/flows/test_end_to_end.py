"""Generate a small city, run `hukou run` (Prefect under the test harness), check
the published views and that no input row is lost."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from cli.main import app
from services.state import runs

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("prefect_harness")

runner = CliRunner()


def _input_rows(city: dict[str, Path]) -> dict[str, int]:
    with city["register"].open(encoding="gb18030", newline="") as fh:
        register_rows = sum(1 for _ in csv.reader(fh)) - 1
    truth = pl.read_parquet(city["truth"] / "roll_truth.parquet")
    return {"register": register_rows, "roll": truth.height}


@pytest.fixture(scope="module")
def published(small_city: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("data")
    args = ["--register", str(small_city["register"]), "--rolls", str(small_city["rolls"]), "--data", str(data)]
    result = runner.invoke(app, ["run", *args, "--prefect"])
    assert result.exit_code == 0, result.output
    assert "community summary" in result.output
    return data


def test_views_follow_the_contract(published: Path) -> None:
    con = duckdb.connect(str(published / "hukou.duckdb"), read_only=True)
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    assert {"links", "record_status", "community_summary", "quarantine", "runs"} <= views
    link_cols = [r[0] for r in con.execute("DESCRIBE links").fetchall()]
    assert link_cols[:9] == [
        "register_file",
        "register_row",
        "roll_file",
        "roll_row",
        "register_community",
        "roll_community",
        "match_weight",
        "match_probability",
        "decided_by",
    ]
    status_cols = [r[0] for r in con.execute("DESCRIBE record_status").fetchall()]
    assert status_cols[:7] == [
        "side",
        "source_file",
        "source_row",
        "community_code",
        "status",
        "other_community_code",
        "person_key",
    ]
    statuses = {r[0] for r in con.execute("SELECT DISTINCT status FROM record_status").fetchall()}
    assert statuses <= {"consistent", "moved_within", "absent", "unregistered", "review", "duplicate", "inactive"}
    assert {"consistent", "absent", "unregistered", "inactive"} <= statuses
    decided = {r[0] for r in con.execute("SELECT DISTINCT decided_by FROM links").fetchall()}
    assert decided <= {"auto", "review", "operator"}
    summary = con.execute(
        "SELECT count(*), sum(registered_persons), sum(consistent_households) FROM community_summary"
    ).fetchone()
    assert summary is not None
    assert summary[0] == 48
    assert summary[1] > 0
    assert summary[2] > 0
    con.close()


def test_no_input_row_is_lost(published: Path, small_city: dict[str, Path]) -> None:
    expected = _input_rows(small_city)
    con = duckdb.connect(str(published / "hukou.duckdb"), read_only=True)
    for side, n in expected.items():
        got = con.execute(
            """SELECT (SELECT count(*) FROM record_status WHERE side = ?) + (SELECT count(*) FROM quarantine WHERE side = ?)""",
            [side, side],
        ).fetchone()
        assert got is not None, side
        assert got[0] == n, side
    dupes = con.execute(
        "SELECT count(*) FROM (SELECT side, source_file, source_row FROM record_status GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()
    assert dupes == (0,)
    con.close()


def test_runs_are_recorded(published: Path) -> None:
    history = runs(published / "state.sqlite")
    assert history[-1]["outcome"] == "published"
    assert '"sha256"' in history[-1]["inputs"]
    con = duckdb.connect(str(published / "hukou.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (len(history),)
    # The published history is complete: the run just published has ended too (it ends as it publishes).
    unfinished = con.execute("SELECT count(*) FROM runs WHERE finished_at IS NULL").fetchone()
    published_at, finished_at = con.execute(
        "SELECT p.published_at, r.finished_at FROM published p JOIN runs r USING (run_id)"
    ).fetchone() or (None, None)
    con.close()
    assert unfinished == (0,)
    assert isinstance(published_at, dt.datetime)
    assert abs(dt.datetime.fromisoformat(str(finished_at)) - published_at) < dt.timedelta(minutes=1)
    assert abs(dt.datetime.fromisoformat(history[-1]["finished_at"]) - published_at) < dt.timedelta(minutes=1)


def test_failed_run_leaves_published_results(published: Path, small_city: dict[str, Path], tmp_path: Path) -> None:
    con = duckdb.connect(str(published / "hukou.duckdb"), read_only=True)
    before = con.execute("SELECT run_id FROM published").fetchone()
    con.close()
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\xff\xfe\x81\x20 not a register")
    result = runner.invoke(
        app, ["run", "--register", str(broken), "--rolls", str(small_city["rolls"]), "--data", str(published)]
    )
    assert result.exit_code == 1
    assert "broken.csv" in result.output
    con = duckdb.connect(str(published / "hukou.duckdb"), read_only=True)
    assert con.execute("SELECT run_id FROM published").fetchone() == before
    con.close()
    assert runs(published / "state.sqlite")[-1]["outcome"] == "failed"


def test_unreadable_roll_is_reported_and_the_rest_processed(small_city: dict[str, Path], tmp_path: Path) -> None:
    rolls = tmp_path / "rolls"
    shutil.copytree(small_city["rolls"], rolls)
    victim = sorted(rolls.glob("*.xlsx"))[0]
    victim.write_bytes(b"PK\x03\x04 corrupt")
    (rolls / "notes.txt").write_text("not a roll")
    data = tmp_path / "data"
    result = runner.invoke(
        app, ["run", "--register", str(small_city["register"]), "--rolls", str(rolls), "--data", str(data), "--local"]
    )
    assert result.exit_code == 0, result.output
    assert victim.name in result.output
    con = duckdb.connect(str(data / "hukou.duckdb"), read_only=True)
    problems = dict(con.execute("SELECT file, problem FROM input_files WHERE status <> 'ok'").fetchall())
    assert problems == {victim.name: "corrupt", "notes.txt": "unsupported"}
    assert con.execute("SELECT count(DISTINCT source_file) FROM record_status WHERE side = 'roll'").fetchone() == (47,)
    con.close()
