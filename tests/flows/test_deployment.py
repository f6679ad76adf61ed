"""prefect.yaml declares a nightly deployment that works as shipped: no machine's paths, the flow it names."""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path

import pytest
import yaml

from flows.settings import Settings
from services import config

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
    params = inspect.signature(flow.fn).parameters
    assert set(nightly["parameters"]) <= set(params)
    # Nothing machine-specific: no pull step pointing at a directory, every parameter configurable on the worker.
    assert "pull" not in config
    assert "/" not in yaml.safe_dump(nightly["parameters"])
    assert all(p.default is not inspect.Parameter.empty for p in params.values())


@pytest.fixture(autouse=True)
def unconfigured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """This machine's own configuration (HUKOU_ variables, /etc/hukou-recon) plays no part."""
    for name in [n for n in os.environ if n.startswith("HUKOU_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(config, "CONFIG_PLACES", (Path("hukou.toml"),))
    monkeypatch.chdir(tmp_path)


def test_deliveries_come_from_the_drop_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="HUKOU_DROP_DIR"):
        Settings().deliveries(None, None)
    assert Settings().deliveries("a.csv", "rolls") == (Path("a.csv"), Path("rolls"))
    monkeypatch.setenv("HUKOU_DROP_DIR", "/srv/hukou/drop")
    assert Settings().deliveries(None, None) == (Path("/srv/hukou/drop/register"), Path("/srv/hukou/drop/rolls"))
    assert Settings().deliveries("x.csv", None) == (Path("x.csv"), Path("/srv/hukou/drop/rolls"))


def test_the_shipped_configuration_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/hukou.toml and deploy/hukou.env name settings that exist, with values they accept."""
    monkeypatch.setenv("HUKOU_CONFIG", str(ROOT / "deploy" / "hukou.toml"))
    assert Settings().data_dir == Path("/srv/hukou/data")
    assert Settings().drop_dir == Path("/srv/hukou/drop")
    fields = set(Settings.model_fields)
    for line in (ROOT / "deploy" / "hukou.env").read_text().splitlines():
        name = line.split("=", 1)[0]
        if name.startswith("HUKOU_") and name != "HUKOU_CONFIG":
            assert name.removeprefix("HUKOU_").lower() in fields, name
    assert (ROOT / "deploy" / "hukou-doctor.timer").exists()
    for unit in (ROOT / "deploy").glob("*.service"):
        text = unit.read_text()
        assert "EnvironmentFile=/etc/hukou-recon/hukou.env" in text, unit.name
        assert "Restart=on-failure" in text or "Type=oneshot" in text, unit.name  # services restart, checks do not
        assert "User=hukou" in text, unit.name
