"""Every command finds the data directory and the settings in one order: --data, environment, file, default."""

from __future__ import annotations

import os
from pathlib import Path

import pydantic
import pytest

from flows.settings import Settings
from services import config
from services.config import ConfigError, config_file, data_dir


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No HUKOU_ variable, no configuration file but what a test writes (not even a machine's /etc one)."""
    for name in [n for n in os.environ if n.startswith("HUKOU_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(config, "CONFIG_PLACES", (Path("hukou.toml"),))
    monkeypatch.chdir(tmp_path)  # no ./hukou.toml unless a test writes one
    return tmp_path


def _config(path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("HUKOU_CONFIG", str(path))
    return path


def test_default_is_data_in_the_working_directory() -> None:
    assert data_dir() == data_dir(None)
    assert data_dir().path == Path("data")
    assert data_dir().source == "default"
    assert Settings().data_dir == Path("data")


def test_the_file_then_the_environment_then_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = _config(tmp_path / "etc" / "hukou.toml", 'data_dir = "/srv/hukou/data"\nkeep_runs = 30\n', monkeypatch)
    assert data_dir().path == Path("/srv/hukou/data")
    assert data_dir().source == str(conf)
    assert Settings().data_dir == Path("/srv/hukou/data")
    assert Settings().keep_runs == 30
    monkeypatch.setenv("HUKOU_DATA_DIR", "/mnt/night")
    monkeypatch.setenv("HUKOU_KEEP_RUNS", "7")
    assert data_dir().path == Path("/mnt/night")
    assert (Settings().data_dir, Settings().keep_runs) == (Path("/mnt/night"), 7)
    assert data_dir(Path("here")).path == Path("here")
    assert Settings(data_dir=Path("here")).data_dir == Path("here")


def test_a_relative_data_dir_in_the_file_is_read_from_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path / "city" / "hukou.toml", 'data_dir = "night"\n', monkeypatch)
    assert data_dir().path == tmp_path / "city" / "night"
    assert Settings().data_dir == tmp_path / "city" / "night"


def test_a_hukou_toml_in_the_working_directory_is_found(clean: Path) -> None:
    (clean / "hukou.toml").write_text('data_dir = "d"\n', encoding="utf-8")
    assert config_file() == Path("hukou.toml")
    assert data_dir().path == Path("d")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("data_dir = [unclosed", "hukou.toml"),
        ("data_dir = 3\n", "data_dir must be a path"),
    ],
)
def test_a_broken_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, match: str) -> None:
    _config(tmp_path / "hukou.toml", text, monkeypatch)
    with pytest.raises(ConfigError, match=match):
        data_dir()


def test_a_missing_named_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUKOU_CONFIG", str(tmp_path / "nowhere.toml"))
    with pytest.raises(ConfigError, match="no such file"):
        data_dir()


def test_a_misspelt_setting_in_the_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _config(tmp_path / "hukou.toml", "keep_run = 3\n", monkeypatch)
    with pytest.raises(pydantic.ValidationError, match="keep_run"):
        Settings()


def test_the_review_apps_settings_come_from_the_same_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxies the login throttle trusts, and the webhook, read as the run's settings are (environment, file)."""
    from review.deps import trusted_proxies
    from services.notify import webhook

    _config(
        tmp_path / "hukou.toml",
        'trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\nnotify_webhook = "https://robot.example/k"\n',
        monkeypatch,
    )
    assert [str(n) for n in trusted_proxies()] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert webhook() == "https://robot.example/k"
    assert Settings().trusted_proxies == ["127.0.0.1", "10.0.0.0/8"]  # a setting the run's settings accept too
    monkeypatch.setenv("HUKOU_TRUSTED_PROXIES", "192.168.1.1")
    assert [str(n) for n in trusted_proxies()] == ["192.168.1.1/32"]
    monkeypatch.setenv("HUKOU_TRUSTED_PROXIES", "")  # empty: unset, the file's again
    assert len(trusted_proxies()) == 2
