"""A machine set up as README's operations say, for tests that run the product as a city's IT would.

A real `prefect server start` on loopback, the environment file's values, drop and data directories.
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

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, seconds: float) -> None:
    """Wait until `url` answers."""
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
    port = free_port()
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
        wait_for(f"http://127.0.0.1:{port}/api/health", 180)
        yield env
    finally:
        server.terminate()
        server.wait(30)
        log.close()
