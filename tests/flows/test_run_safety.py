"""Run safety: one run at a time, sanity gates before publishing, inputs still being copied, sanitised errors."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

from flows import normalise, stages
from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from services.paths import DataPaths, sha256_file
from services.state import runs

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
ID_NUMBER = "110101199003078515"
"""A (made-up) ID number that a failing stage quotes in its error message."""


@pytest.fixture(autouse=True)
def no_quiet_period(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated city was written moments ago: read it anyway (tests of the quiet period set their own)."""
    monkeypatch.setenv("HUKOU_QUIET_SECONDS", "0")


def _published_run(data: Path) -> str:
    with duckdb.connect(str(DataPaths(data).published), read_only=True) as con:
        row = con.execute("SELECT run_id FROM published").fetchone()
    assert row is not None
    return str(row[0])


def _outcomes(data: Path) -> dict[str, str]:
    return {r["run_id"]: r["outcome"] for r in runs(DataPaths(data).state)}


@pytest.fixture
def child() -> Iterator[list[subprocess.Popen[Any]]]:
    """Child processes started by a test, killed at its end whatever happens."""
    started: list[subprocess.Popen[Any]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


# --- one run at a time ---------------------------------------------------------------------------------------------

HOLD_LOCK = """
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, json.dumps({"pid": os.getpid(), "run_id": "20260101T020000Z-beef"}).encode())
print("locked", flush=True)
time.sleep(600)
"""


def test_a_second_run_is_refused_at_once_naming_the_holder(
    small_city: dict[str, Path], tmp_path: Path, child: list[subprocess.Popen[Any]]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(data / "run.lock")], stdout=subprocess.PIPE, text=True
    )
    child.append(holder)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"

    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=rf"pid {holder.pid}.*20260101T020000Z-beef"):
        run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=data), LOCAL)
    assert time.monotonic() - t0 < 5
    assert not DataPaths(data).published.exists()
    assert _outcomes(data) == {}, "a refused run is not a run"


KILLED_RUN = """
import dataclasses, sys, time
from pathlib import Path
from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings

register, rolls, data, marker = map(Path, sys.argv[1:5])

def hang(*args, **kwargs):
    marker.write_text("linking")
    time.sleep(600)

run_pipeline(register, rolls, Settings(data_dir=data), dataclasses.replace(LOCAL, link=hang))
"""


def test_a_killed_run_is_aborted_and_the_next_run_takes_over(
    small_city: dict[str, Path], tmp_path: Path, child: list[subprocess.Popen[Any]]
) -> None:
    data, marker = tmp_path / "data", tmp_path / "linking"
    first = run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=data), LOCAL)
    before = sha256_file(DataPaths(data).published)

    killed = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_RUN,
            str(small_city["register"]),
            str(small_city["rolls"]),
            str(data),
            str(marker),
        ],
        cwd=REPO,
        env={**os.environ, "HUKOU_QUIET_SECONDS": "0"},
    )
    child.append(killed)
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert killed.poll() is None, "the child run ended before linking"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)

    (dead,) = [r for r, outcome in _outcomes(data).items() if outcome == "running"]
    assert sha256_file(DataPaths(data).published) == before, "the killed run never reached publishing"
    assert _published_run(data) == first.run_id

    second = run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=data), LOCAL)
    outcomes = _outcomes(data)
    assert outcomes == {first.run_id: "published", dead: "aborted", second.run_id: "published"}
    (aborted,) = [r for r in runs(DataPaths(data).state) if r["run_id"] == dead]
    assert aborted["finished_at"]
    assert str(killed.pid) in aborted["error"]
    assert _published_run(data) == second.run_id
    with duckdb.connect(str(DataPaths(data).published), read_only=True) as con:
        published = dict(con.execute("SELECT run_id, outcome FROM runs").fetchall())
    assert published[dead] == "aborted"


# --- sanity gates --------------------------------------------------------------------------------------------------


def test_no_roll_files_fails_the_run_unless_accepted(small_city: dict[str, Path], tmp_path: Path) -> None:
    data, empty = tmp_path / "data", tmp_path / "rolls"
    empty.mkdir()
    with pytest.raises(RuntimeError, match="no roll") as refused:
        run_pipeline(small_city["register"], empty, Settings(data_dir=data), LOCAL)
    assert "--accept-shrink" in str(refused.value)
    assert not DataPaths(data).published.exists()
    (failed,) = runs(DataPaths(data).state)
    assert failed["outcome"] == "failed"
    assert "no roll" in failed["error"]

    accepted = run_pipeline(small_city["register"], empty, Settings(data_dir=data), LOCAL, accept_shrink=True)
    assert _published_run(data) == accepted.run_id


def _fewer_rolls(rolls: Path, out: Path, keep: int) -> Path:
    out.mkdir()
    for path in sorted(rolls.iterdir())[:keep]:
        shutil.copy2(path, out / path.name)
    return out


def _fewer_register_rows(register: Path, out: Path, share: float) -> Path:
    lines = register.read_bytes().decode("gb18030").splitlines(keepends=True)
    kept = lines[: 1 + int((len(lines) - 1) * share)]
    out.write_bytes("".join(kept).encode("gb18030"))
    return out


def test_a_shrunken_delivery_fails_the_run_unless_accepted(small_city: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=data), LOCAL)
    before = sha256_file(DataPaths(data).published)
    n_rolls = len(list(small_city["rolls"].iterdir()))
    half_rolls = _fewer_rolls(small_city["rolls"], tmp_path / "half_rolls", n_rolls // 2)
    half_register = _fewer_register_rows(small_city["register"], tmp_path / "register.csv", 0.5)

    with pytest.raises(RuntimeError, match=r"roll records.*shrank") as refused:
        run_pipeline(small_city["register"], half_rolls, Settings(data_dir=data), LOCAL)
    assert "--accept-shrink" in str(refused.value)
    with pytest.raises(RuntimeError, match=r"register records.*shrank"):
        run_pipeline(half_register, small_city["rolls"], Settings(data_dir=data), LOCAL)
    assert sha256_file(DataPaths(data).published) == before
    assert _published_run(data) == first.run_id

    # The share is a setting: a 90% allowance lets a halved delivery through.
    lenient = run_pipeline(half_register, half_rolls, Settings(data_dir=data, max_shrink=0.9), LOCAL)
    assert _published_run(data) == lenient.run_id
    # Compared with the last published run (now the halved one), the full delivery grew: it passes.
    grown = run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=data), LOCAL)
    # And the operator can accept a shrink explicitly.
    accepted = run_pipeline(half_register, half_rolls, Settings(data_dir=data), LOCAL, accept_shrink=True)
    outcomes = _outcomes(data)
    assert [outcomes[r] for r in (lenient.run_id, grown.run_id, accepted.run_id)] == ["published"] * 3
    assert _published_run(data) == accepted.run_id


def test_the_command_refuses_an_empty_rolls_directory_unless_told(small_city: dict[str, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    data, empty = tmp_path / "data", tmp_path / "rolls"
    empty.mkdir()
    args = ["run", "--register", str(small_city["register"]), "--rolls", str(empty), "--data", str(data), "--local"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1
    assert "no roll records read" in refused.output
    assert "--accept-shrink" in refused.output
    assert "Traceback" not in refused.output
    assert not DataPaths(data).published.exists()
    accepted = CliRunner().invoke(app, [*args, "--accept-shrink"])
    assert accepted.exit_code == 0, accepted.output
    assert DataPaths(data).published.exists()


# --- inputs still being copied -------------------------------------------------------------------------------------


def test_lock_hidden_and_fresh_files_are_skipped_and_reported(small_city: dict[str, Path], tmp_path: Path) -> None:
    rolls = tmp_path / "rolls"
    shutil.copytree(small_city["rolls"], rolls)
    names = sorted(p.name for p in rolls.iterdir())
    shutil.copy2(rolls / names[0], rolls / f"~${names[0]}")
    shutil.copy2(rolls / names[1], rolls / f".{names[1]}")
    hour_ago = time.time() - 3600
    for path in rolls.iterdir():
        os.utime(path, (hour_ago, hour_ago))
    (rolls / names[2]).touch()  # still being copied

    drop = tmp_path / "register"
    drop.mkdir()
    shutil.copy2(small_city["register"], drop / "户籍_旧.csv")
    os.utime(drop / "户籍_旧.csv", (hour_ago, hour_ago))
    (drop / "户籍_新.csv").write_bytes(small_city["register"].read_bytes()[:100])  # newest, half-copied
    (drop / "~$户籍.xlsx").write_bytes(b"owner")

    counts = stages.ingest(drop, rolls, tmp_path / "run", quiet_seconds=60)

    reports = json.loads((tmp_path / "run" / "files.json").read_text())
    read = {r["file"]: r for r in reports if r["status"] == "ok"}
    skipped = {r["file"]: (r["side"], r["problem"]) for r in reports if r["status"] == "skipped"}
    assert skipped == {
        f"~${names[0]}": ("roll", "lock_file"),
        f".{names[1]}": ("roll", "hidden"),
        names[2]: ("roll", "still_copying"),
        "户籍_新.csv": ("register", "still_copying"),
        "~$户籍.xlsx": ("register", "lock_file"),
    }
    assert all(r["message"] for r in reports if r["status"] == "skipped")
    assert "户籍_旧.csv" in read
    assert set(names) - {names[2]} <= set(read)
    assert counts["roll_files"] == len(names) - 1
    assert counts["roll_files_skipped"] == 3

    # With no quiet period nothing is still being copied (lock and hidden files are skipped all the same).
    counts = stages.ingest(small_city["register"], rolls, tmp_path / "run0", quiet_seconds=0)
    assert counts["roll_files"] == len(names)
    assert counts["roll_files_skipped"] == 2


def test_a_register_still_being_copied_is_not_read(tmp_path: Path) -> None:
    register = tmp_path / "户籍.csv"
    register.write_text("姓名\n")
    with pytest.raises(stages.RegisterUnreadable, match="still being copied"):
        stages.ingest(register, tmp_path, tmp_path / "run", quiet_seconds=60)


# --- sanitised errors ----------------------------------------------------------------------------------------------


def _leaks(texts: list[str]) -> list[str]:
    return [t for t in texts if ID_NUMBER in t]


def test_a_failed_local_run_names_no_record_value(
    small_city: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"

    def failing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"could not parse {ID_NUMBER}")

    caplog.set_level(logging.DEBUG)
    with pytest.raises(RuntimeError) as failed:
        run_pipeline(
            small_city["register"],
            small_city["rolls"],
            Settings(data_dir=data),
            dataclasses.replace(LOCAL, link=failing),
        )
    assert ID_NUMBER not in str(failed.value)
    assert failed.value.__cause__ is None
    assert failed.value.__context__ is None or failed.value.__suppress_context__
    (row,) = runs(DataPaths(data).state)
    assert row["outcome"] == "failed"
    assert "ValueError" in row["error"]
    assert not _leaks([json.dumps(row, ensure_ascii=False), caplog.text])
    # The full traceback goes to the run directory's debug log, which only the service account can read.
    debug = DataPaths(data).run(row["run_id"]) / "error.log"
    assert debug.stat().st_mode & 0o077 == 0
    assert ID_NUMBER in debug.read_text()


@pytest.mark.usefixtures("prefect_harness")
def test_a_failed_prefect_run_names_no_record_value(
    small_city: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler
    from prefect.utilities.asyncutils import run_coro_as_sync

    from flows.nightly import nightly

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise ValueError(f"could not parse {ID_NUMBER}")

    monkeypatch.setattr(normalise, "settle", failing)
    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    state = nightly(
        register_file=str(small_city["register"]),
        rolls_dir=str(small_city["rolls"]),
        data_dir=str(data),
        return_state=True,
    )
    assert state.is_failed()
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None

    APILogHandler().flush()

    async def server_side() -> list[str]:
        async with get_client() as client:
            flow_run = await client.read_flow_run(flow_run_id)
            tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
            states = [flow_run.state, *(t.state for t in tasks)]
            return [str(s.message) for s in states if s is not None] + [log.message for log in logs]

    server = run_coro_as_sync(server_side())
    assert server is not None
    assert any("ValueError" in text for text in server), "the error type is still told"
    assert any("StageFailed" in text for text in server[2:]), "the task's failure reached the server's log"
    (row,) = runs(DataPaths(data).state)
    assert row["outcome"] == "failed"
    assert not _leaks([*server, json.dumps(row, ensure_ascii=False), caplog.text])
    assert not _leaks([str(r.exc_info[1]) for r in caplog.records if r.exc_info])
