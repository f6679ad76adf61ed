"""The nightly flow with its stages on a Dask cluster publishes what a run on one machine publishes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flows import link_units
from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from services.digest_key import load_or_create
from services.paths import DataPaths
from services.state import runs
from tests.flows.machine import ROOT

if TYPE_CHECKING:
    from distributed import Client

STAGES_ON_WORKERS = {
    *("ingest", "normalise_plan", "normalise_batch", "normalise_part", "link_unit"),
    *("classify_plan", "classify_unit", "classify_finish"),
}
"""The functions the scheduler ran (Dask names a task by its function); publishing stays in the flow's process."""
BATCH_ROWS = "700"
"""Raw rows a normalisation unit takes: the small city's sides in several batches, mapped over the workers."""
LINK_CHUNK_ROWS = "2000"
"""Candidate pairs a unit of linking takes: the small city's pairs in several chunks (the run here takes them
whole, which changes no result)."""
COMPARED = ("links", "candidates", "record_status", "community_summary", "queue", "coverage", "progress")


def _same_key(*data_dirs: Path) -> None:
    """One digest secret for every data directory: record and person keys are keyed by it."""
    first = DataPaths(data_dirs[0]).digest_key
    load_or_create(first)
    for other in data_dirs[1:]:
        DataPaths(other).root.mkdir(parents=True, exist_ok=True)
        shutil.copy(first, DataPaths(other).digest_key)


def _published(data_dir: Path, run_id: str, name: str) -> pl.DataFrame:
    return pl.read_parquet(DataPaths(data_dir).run(run_id) / f"{name}.parquet")


@pytest.mark.usefixtures("prefect_harness")
def test_a_run_on_a_local_cluster_publishes_what_a_run_here_publishes(
    small_city: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import Client, LocalCluster

    from flows.nightly import nightly

    monkeypatch.setenv("HUKOU_QUIET_SECONDS", "0")
    here, there = tmp_path / "here", tmp_path / "cluster"
    _same_key(here, there)
    local = run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=here), LOCAL)
    monkeypatch.setenv("HUKOU_NORMALISE_BATCH_ROWS", BATCH_ROWS)
    monkeypatch.setenv("HUKOU_LINK_CHUNK_ROWS", LINK_CHUNK_ROWS)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        run_id = nightly(
            register_file=str(small_city["register"]),
            rolls_dir=str(small_city["rolls"]),
            data_dir=str(there),
            dask_address=cluster.scheduler_address,
        )
        ran = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
        batches, link_tasks, classify_units = (
            client.run_on_scheduler(
                lambda dask_scheduler, name=name: sum(dask_scheduler.task_prefixes[name].state_counts.values())
            )
            for name in ("normalise_batch", "link_unit", "classify_unit")
        )
        still_held = client.run(link_units.forget)  # what the workers still held of linking's records
    assert set(STAGES_ON_WORKERS) <= set(ran), ran
    assert batches > 2, batches
    assert link_tasks > 12, link_tasks  # blocking's ten rules, and comparing several chunks
    assert classify_units >= 16, classify_units  # units of communities (of the 48)
    assert not (there / "runs" / run_id / "link.work").exists()
    assert not (there / "runs" / run_id / "classify.units").exists()
    assert set(still_held.values()) == {0}, still_held
    assert not any(prefix.startswith("publish") for prefix in ran)
    assert (there / "hukou.duckdb").exists()
    for name in COMPARED:
        assert_frame_equal(
            _published(there, run_id, name), _published(here, local.run_id, name), rel_tol=0, abs_tol=1e-9
        )


def _kill_the_worker_running(stage: str, client: Client, done: threading.Event) -> str | None:
    """Kill (SIGKILL) the worker process running `stage`'s task as soon as one does; the worker's address."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not done.is_set():
        for worker, keys in client.processing().items():
            if any(str(key).startswith(stage) for key in keys):
                pid = client.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)
                return str(worker)
        time.sleep(0.02)
    return None


@pytest.mark.usefixtures("prefect_harness")
def test_a_worker_killed_mid_stage_finishes_the_night_or_fails_it_cleanly(
    small_city: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Completed: it publishes what the night before published (same inputs). Failed: the published database is
    untouched. Either way the run record says which."""
    from distributed import Client, LocalCluster

    from flows.nightly import nightly

    monkeypatch.setenv("HUKOU_QUIET_SECONDS", "0")
    data = tmp_path / "data"
    before = run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=data), LOCAL)
    published = hashlib.sha256((data / "hukou.duckdb").read_bytes()).hexdigest()
    monkeypatch.setenv("HUKOU_NORMALISE_BATCH_ROWS", BATCH_ROWS)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        done, killed = threading.Event(), []
        killer = threading.Thread(
            target=lambda: killed.append(_kill_the_worker_running("normalise_batch", client, done))
        )
        killer.start()
        try:
            state = nightly(
                register_file=str(small_city["register"]),
                rolls_dir=str(small_city["rolls"]),
                data_dir=str(data),
                dask_address=cluster.scheduler_address,
                return_state=True,
            )
        finally:
            done.set()
            killer.join()
    assert killed[0] is not None, "no worker ran a batch of the normalise stage"
    night = runs(DataPaths(data).state)[-1]
    assert night["run_id"] != before.run_id
    if state.is_completed():
        assert night["outcome"] == "published"
        for name in set(COMPARED) - {"progress"}:  # progress counts since the night before: the first had none
            assert_frame_equal(
                _published(data, night["run_id"], name), _published(data, before.run_id, name), rel_tol=0, abs_tol=1e-9
            )
    else:
        assert night["outcome"] == "failed"
        assert night["error"]
        assert hashlib.sha256((data / "hukou.duckdb").read_bytes()).hexdigest() == published


def _started(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)


def test_hukou_run_on_a_scheduler_and_workers_started_from_the_command_line(
    city_machine: dict[str, str], tmp_path: Path
) -> None:
    """`dask scheduler` and `dask worker` as README says; `hukou run --dask-address` against them and a Prefect server."""
    from distributed import Client

    env = city_machine
    dask = str(Path(sys.executable).with_name("dask"))
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = _started(
        [
            dask,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
        ],
        tmp_path / "scheduler.log",
    )
    workers = None
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        workers = _started(
            [dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"], tmp_path / "workers.log"
        )
        with Client(address) as client:
            client.wait_for_workers(2, timeout=120)
            drop = Path(env["HUKOU_DROP_DIR"])
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cli.main",
                    "run",
                    "--register",
                    str(drop / "register"),
                    "--rolls",
                    str(drop / "rolls"),
                    "--dask-address",
                    address,
                ],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            ran = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    finally:
        for process in (workers, scheduler):
            if process is not None:
                process.terminate()
                process.wait(30)
    assert set(STAGES_ON_WORKERS) <= set(ran), ran
    assert not any(prefix.startswith("publish") for prefix in ran)
    con = duckdb.connect(str(Path(env["HUKOU_DATA_DIR"]) / "hukou.duckdb"), read_only=True)
    try:
        (records,) = con.execute("SELECT count(*) FROM record_status").fetchone() or (0,)
    finally:
        con.close()
    assert records > 0


@pytest.mark.usefixtures("prefect_harness")
def test_a_stage_that_fails_on_a_worker_keeps_its_traceback_in_the_run_directory(
    small_city: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run record and Prefect get the safe message; the worker writes the full traceback to the run's error.log."""
    from distributed import LocalCluster

    from flows.nightly import nightly

    monkeypatch.setenv("HUKOU_QUIET_SECONDS", "0")
    register = tmp_path / "户籍人口.csv"
    register.write_text("姓名,公民身份号码\n", encoding="utf-8")  # a header and no rows: unreadable
    data = tmp_path / "data"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        state = nightly(
            register_file=str(register),
            rolls_dir=str(small_city["rolls"]),
            data_dir=str(data),
            dask_address=cluster.scheduler_address,
            return_state=True,
        )
    assert state.is_failed()
    night = runs(DataPaths(data).state)[-1]
    assert night["outcome"] == "failed"
    assert "register unreadable" in night["error"]
    log = DataPaths(data).run(night["run_id"]) / "error.log"
    assert "RegisterUnreadable" in log.read_text()
    assert not (data / "hukou.duckdb").exists()
