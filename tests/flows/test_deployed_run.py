"""The deployment as shipped, on a real Prefect server and process worker on loopback, as README's operations say.

`prefect server start`, `work-pool create`, `prefect deploy --all` from the checkout, `prefect worker start`,
`prefect deployment run --watch`: the run completes and publishes into the configured data directory
(HUKOU_DATA_DIR), reading the deliveries from the configured drop directory (HUKOU_DROP_DIR).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310  loopback, a URL this test built
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


@pytest.fixture
def city_machine(small_city: dict[str, Path], tmp_path: Path) -> Iterator[dict[str, str]]:
    """A machine set up as README says: environment file values, drop and data directories, a running server."""
    drop = tmp_path / "drop"
    (drop / "register").mkdir(parents=True)
    shutil.copy(small_city["register"], drop / "register")
    shutil.copytree(small_city["rolls"], drop / "rolls")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HUKOU_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "HUKOU_DATA_DIR": str(tmp_path / "data"),
        "HUKOU_DROP_DIR": str(drop),
        "HUKOU_QUIET_SECONDS": "0",  # the city was written moments ago
    }
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/health", 180)
        yield env
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def test_the_shipped_deployment_runs_and_publishes_where_configured(
    city_machine: dict[str, str], tmp_path: Path
) -> None:
    env = city_machine

    def prefect(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    prefect("work-pool", "create", "hukou-process", "--type", "process")
    prefect("--no-prompt", "deploy", "--all")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [*PREFECT, "worker", "start", "--pool", "hukou-process", "--type", "process"],
        env=env,
        cwd=tmp_path,  # the deployment, not the worker's directory, says where the code is
        stdout=log,
        stderr=log,
    )
    try:
        run = prefect("deployment", "run", "hukou-nightly/nightly", "--watch", "--watch-timeout", "600", timeout=660)
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
    assert "Completed" in run.stdout, run.stdout + (tmp_path / "worker.log").read_text()
    published = Path(env["HUKOU_DATA_DIR"]) / "hukou.duckdb"
    con = duckdb.connect(str(published), read_only=True)
    try:
        (records,) = con.execute("SELECT count(*) FROM record_status").fetchone() or (0,)
    finally:
        con.close()
    assert records > 0  # published where HUKOU_DATA_DIR says, from the drop directory HUKOU_DROP_DIR names
