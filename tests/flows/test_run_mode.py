"""How `hukou run` chooses between a Prefect flow and running the stages directly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from flows.settings import RunMode, prefect_api_configured, run_mode

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_PROFILES_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    return tmp_path


def test_no_server_configured(home: Path) -> None:
    assert not prefect_api_configured()


def test_server_in_the_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert prefect_api_configured()


def test_server_in_the_active_profile(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "profiles.toml").write_text(
        'active = "city"\n[profiles.city]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n[profiles.ephemeral]\n'
    )
    assert prefect_api_configured()
    monkeypatch.setenv("PREFECT_PROFILE", "ephemeral")
    assert not prefect_api_configured()


def test_a_broken_profiles_file_means_none(home: Path) -> None:
    (home / "profiles.toml").write_text("active = [unclosed")
    assert not prefect_api_configured()


@pytest.mark.parametrize(
    ("prefect", "given", "configured", "server", "expected"),
    [
        (None, None, None, False, RunMode(local=True)),
        (None, None, None, True, RunMode(local=False)),
        (True, None, None, False, RunMode(local=False)),
        (None, "tcp://a:8786", None, False, RunMode(local=False, dask_address="tcp://a:8786")),
        (None, "tcp://a:8786", "tcp://b:8786", True, RunMode(local=False, dask_address="tcp://a:8786")),
        (None, None, "tcp://b:8786", False, RunMode(local=False, dask_address="tcp://b:8786")),
        (False, None, "tcp://b:8786", True, RunMode(local=True)),  # --local: the cluster may be down
    ],
)
def test_how_a_run_is_run(
    prefect: bool | None, given: str | None, configured: str | None, server: bool, expected: RunMode
) -> None:
    assert run_mode(prefect=prefect, dask_address=given, configured_dask=configured, server=lambda: server) == expected


def test_local_and_a_cluster_named_on_the_command_line_conflict() -> None:
    with pytest.raises(ValueError, match="drop --local"):
        run_mode(prefect=False, dask_address="tcp://a:8786", configured_dask=None, server=lambda: True)
