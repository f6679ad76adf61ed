"""`hukou doctor` on a good set-up and on broken ones: each problem named, with what to do."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from services.doctor import (
    Level,
    dask_cluster,
    data_directory,
    diagnose,
    prefect,
    published_database,
    state_database,
)
from services.paths import DataPaths

if TYPE_CHECKING:
    from pathlib import Path

    from tests.http_stub import Stub
    from tests.review.conftest import World

runner = CliRunner()
SCHEDULED = {
    "paused": False,
    "schedules": [{"active": True, "schedule": {"cron": "0 2 * * *", "timezone": "Asia/Shanghai"}}],
}


DEPLOYMENT = "/api/deployments/name/hukou-nightly/nightly"


@pytest.fixture
def prefect_api(http_stub: Stub) -> Stub:
    """A stand-in Prefect API: healthy, the nightly deployment scheduled."""
    http_stub.answers |= {"/api/health": True, DEPLOYMENT: SCHEDULED}
    return http_stub


def _drop(tmp_path: Path) -> Path:
    for sub in ("register", "rolls"):
        (tmp_path / "drop" / sub).mkdir(parents=True)
    return tmp_path / "drop"


def test_a_good_set_up_passes_every_check(
    world: World, tmp_path: Path, prefect_api: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUKOU_CONFIG", raising=False)
    checks = diagnose(world.data, drop=_drop(tmp_path), api=prefect_api.url + "/api")
    assert {c.name: c.level for c in checks if c.level is not Level.OK} == {}
    assert "0 2 * * * Asia/Shanghai" in checks[-1].found
    monkeypatch.setenv("HUKOU_DATA_DIR", str(world.data))
    monkeypatch.setenv("HUKOU_DROP_DIR", str(tmp_path / "drop"))
    monkeypatch.setenv("PREFECT_API_URL", prefect_api.url + "/api")
    done = runner.invoke(cli, ["doctor"])
    assert done.exit_code == 0, done.output
    assert "HUKOU_DATA_DIR" in done.output  # where the data directory came from


def test_a_broken_set_up_names_each_problem(
    world: World, tmp_path: Path, prefect_api: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = DataPaths(world.data)
    paths.digest_key.chmod(0o644)
    with sqlite3.connect(paths.state) as con:
        con.execute("UPDATE runs SET outcome = 'failed', error = 'ingest failed: register unreadable: x'")
    api = prefect_api.url + "/api"
    prefect_api.answers[DEPLOYMENT] = None
    levels = {c.name: (c.level, c.fix) for c in diagnose(world.data, drop=tmp_path / "nowhere", api=api)}
    assert levels["digest key"][0] is Level.FAIL
    assert "chmod 600" in levels["digest key"][1]
    assert levels["last run"][0] is Level.FAIL
    assert levels["drop directory"][0] is Level.FAIL
    assert levels["schedule"] == (Level.FAIL, "prefect deploy --all")
    prefect_api.answers[DEPLOYMENT] = {**SCHEDULED, "paused": True}
    assert prefect(api)[-1].level is Level.FAIL
    monkeypatch.setenv("HUKOU_DATA_DIR", str(world.data))
    monkeypatch.setenv("PREFECT_API_URL", api)
    done = runner.invoke(cli, ["doctor"])
    assert done.exit_code == 1
    assert "failed" in done.output
    assert not prefect_api.posted  # told only when asked to (--notify: the morning timer)
    monkeypatch.setenv("HUKOU_NOTIFY_WEBHOOK", prefect_api.url + "/robot")
    assert runner.invoke(cli, ["doctor", "--notify"]).exit_code == 1
    (message,) = prefect_api.posted
    assert "digest key" in message["text"]["content"]
    assert "last run" in message["text"]["content"]


def test_nothing_there_yet(tmp_path: Path) -> None:
    (check,) = data_directory(tmp_path / "data")
    assert check.level is Level.FAIL
    assert "install -d" in check.fix
    assert state_database(tmp_path)[0].level is Level.WARN
    assert published_database(tmp_path).level is Level.WARN
    (unconfigured,) = prefect(None)
    assert unconfigured.level is Level.WARN
    (silent,) = prefect("http://127.0.0.1:9/api")  # nothing listens on the discard port
    assert silent.level is Level.FAIL


def test_results_from_before_last_night_are_stale(world: World) -> None:
    assert published_database(world.data).level is Level.OK
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    stale = published_database(world.data, now=later)
    assert stale.level is Level.FAIL
    assert "did not publish" in stale.fix


def test_a_configured_dask_cluster_must_answer_and_have_workers() -> None:
    def unreachable(address: str) -> int:
        raise TimeoutError(address)

    assert dask_cluster(None) == []
    (down,) = dask_cluster("tcp://10.0.0.5:8786", workers=unreachable)
    (idle,) = dask_cluster("tcp://10.0.0.5:8786", workers=lambda _: 0)
    (up,) = dask_cluster("tcp://10.0.0.5:8786", workers=lambda _: 3)
    assert (down.level, idle.level, up.level) == (Level.FAIL, Level.FAIL, Level.OK)
    assert "does not answer" in down.found
    assert "no workers" in idle.found
    assert "3 worker(s)" in up.found


def test_the_doctor_asks_a_real_scheduler_for_its_workers() -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        (check,) = dask_cluster(cluster.scheduler_address)
    assert check.level is Level.OK, check
    assert "1 worker(s)" in check.found
