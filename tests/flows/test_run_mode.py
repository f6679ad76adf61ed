"""How `hukou run` chooses between a Prefect flow and running the stages directly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from flows.settings import prefect_api_configured

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
