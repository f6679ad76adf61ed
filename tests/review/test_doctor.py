"""`hukou doctor` on a good set-up and on broken ones: each problem named, with what to do."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import sqlite3
import threading
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from services.doctor import Level, data_directory, diagnose, prefect, published_database, state_database
from services.paths import DataPaths

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.review.conftest import World

runner = CliRunner()
SCHEDULED = {
    "paused": False,
    "schedules": [{"active": True, "schedule": {"cron": "0 2 * * *", "timezone": "Asia/Shanghai"}}],
}


@pytest.fixture
def prefect_api() -> Iterator[tuple[str, dict[str, Any]]]:
    """A stand-in Prefect API on loopback: /health, and the deployment as `answers["deployment"]` says."""
    answers: dict[str, Any] = {"deployment": SCHEDULED, "posted": []}

    class Api(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/api/health":
                body: Any = True
            elif self.path == "/api/deployments/name/hukou-nightly/nightly" and answers["deployment"] is not None:
                body = answers["deployment"]
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            answers["posted"].append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            del args

    server = http.server.HTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api", answers
    server.shutdown()


def _drop(tmp_path: Path) -> Path:
    for sub in ("register", "rolls"):
        (tmp_path / "drop" / sub).mkdir(parents=True)
    return tmp_path / "drop"


def test_a_good_set_up_passes_every_check(
    world: World, tmp_path: Path, prefect_api: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUKOU_CONFIG", raising=False)
    checks = diagnose(world.data, drop=_drop(tmp_path), api=prefect_api[0])
    assert {c.name: c.level for c in checks if c.level is not Level.OK} == {}
    assert "0 2 * * * Asia/Shanghai" in checks[-1].found
    monkeypatch.setenv("HUKOU_DATA_DIR", str(world.data))
    monkeypatch.setenv("HUKOU_DROP_DIR", str(tmp_path / "drop"))
    monkeypatch.setenv("PREFECT_API_URL", prefect_api[0])
    done = runner.invoke(cli, ["doctor"])
    assert done.exit_code == 0, done.output
    assert "HUKOU_DATA_DIR" in done.output  # where the data directory came from


def test_a_broken_set_up_names_each_problem(
    world: World, tmp_path: Path, prefect_api: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = DataPaths(world.data)
    paths.digest_key.chmod(0o644)
    with sqlite3.connect(paths.state) as con:
        con.execute("UPDATE runs SET outcome = 'failed', error = 'ingest failed: register unreadable: x'")
    api, answers = prefect_api
    answers["deployment"] = None
    levels = {c.name: (c.level, c.fix) for c in diagnose(world.data, drop=tmp_path / "nowhere", api=api)}
    assert levels["digest key"][0] is Level.FAIL
    assert "chmod 600" in levels["digest key"][1]
    assert levels["last run"][0] is Level.FAIL
    assert levels["drop directory"][0] is Level.FAIL
    assert levels["schedule"] == (Level.FAIL, "prefect deploy --all")
    answers["deployment"] = {**SCHEDULED, "paused": True}
    assert prefect(api)[-1].level is Level.FAIL
    monkeypatch.setenv("HUKOU_DATA_DIR", str(world.data))
    monkeypatch.setenv("PREFECT_API_URL", api)
    done = runner.invoke(cli, ["doctor"])
    assert done.exit_code == 1
    assert "failed" in done.output
    assert not answers["posted"]  # told only when asked to (--notify: the morning timer)
    monkeypatch.setenv("HUKOU_NOTIFY_WEBHOOK", api.removesuffix("/api") + "/robot")
    assert runner.invoke(cli, ["doctor", "--notify"]).exit_code == 1
    (message,) = answers["posted"]
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
