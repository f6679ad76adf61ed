"""prefect.yaml declares the nightly deployment the flow can actually run."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_nightly_deployment() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (nightly,) = [d for d in config["deployments"] if d["name"] == "nightly"]
    assert nightly["schedules"][0]["cron"] == "0 2 * * *"
    assert nightly["schedules"][0]["timezone"] == "Asia/Shanghai"
    assert nightly["work_pool"]["name"]
    module_path, func_name = nightly["entrypoint"].split(":")
    module = importlib.import_module(module_path.removesuffix(".py").replace("/", "."))
    flow = getattr(module, func_name)
    params = set(inspect.signature(flow.fn).parameters)
    assert set(nightly["parameters"]) <= params
