"""The deployment as shipped, on a real Prefect server and process worker on loopback, as README's operations say.

`prefect server start`, `work-pool create`, `prefect deploy --all` from the checkout, `prefect worker start`,
`prefect deployment run --watch`: the run completes and publishes into the configured data directory
(HUKOU_DATA_DIR), reading the deliveries from the configured drop directory (HUKOU_DROP_DIR).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb

from tests.flows.machine import PREFECT, ROOT


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
