"""One configuration for every command: where the data lives and the run settings, from one place.

Each setting is taken from, first to last: the command line (`--data`), the environment (`HUKOU_DATA_DIR`, and
`HUKOU_<SETTING>` for the others, see `flows.settings.Settings`), the configuration file, the default (`./data`).
The configuration file is `HUKOU_CONFIG` if set, else `./hukou.toml`, else `/etc/hukou-recon/hukou.toml`, and holds
the settings by name at its top level (`deploy/hukou.toml` is an example).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_ENV = "HUKOU_CONFIG"
DATA_ENV = "HUKOU_DATA_DIR"
CONFIG_PLACES = (Path("hukou.toml"), Path("/etc/hukou-recon/hukou.toml"))
"""Where a configuration file is looked for when `HUKOU_CONFIG` names none."""
DEFAULT_DATA = Path("data")


class ConfigError(ValueError):
    """The configuration file cannot be read or says something it may not."""


def config_file() -> Path | None:
    """The configuration file in force, if any (`HUKOU_CONFIG` must name one that exists)."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={named}: no such file")
        return path
    return next((p for p in CONFIG_PLACES if p.is_file()), None)


def config_values(path: Path | None = None) -> dict[str, Any]:
    """The settings the configuration file holds (none without a file)."""
    path = path if path is not None else config_file()
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


PATH_SETTINGS = ("drop_dir",)
"""Settings besides `data_dir` that are paths: a relative one in the file is read from the file's folder."""


def file_settings() -> dict[str, Any]:
    """The configuration file's settings but `data_dir` (found by `data_dir`), relative paths made the file's.

    What `flows.settings.Settings` reads from the file, below the environment.
    """
    path = config_file()
    values = {k: v for k, v in config_values(path).items() if k != "data_dir"}
    if path is not None:
        for name in PATH_SETTINGS:
            if isinstance(values.get(name), str) and values[name]:
                values[name] = str(path.parent / values[name])
    return values


def setting(name: str) -> str | None:
    """One setting as text, for readers that do not validate the others: HUKOU_<NAME>, else the file, else None.

    A list in the file reads as its items joined by commas.
    """
    value: Any = os.environ.get(f"HUKOU_{name.upper()}") or config_values().get(name)
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return str(value) if value not in (None, "") else None


def setting_if_readable(name: str) -> str | None:
    """`setting`, or None when the configuration file cannot be read (for a caller that reports that elsewhere).

    The environment is read first, so HUKOU_<NAME> still counts beside a broken file.
    """
    try:
        return setting(name)
    except ConfigError:
        return None


@dataclass(frozen=True, slots=True)
class DataDir:
    """The data directory and where that choice came from (for `hukou doctor`)."""

    path: Path
    source: str


def data_dir(explicit: Path | None = None) -> DataDir:
    """The data directory: `explicit` (`--data`), else `HUKOU_DATA_DIR`, else the file's `data_dir`, else ./data.

    >>> data_dir(Path("/srv/hukou/data")).path
    PosixPath('/srv/hukou/data')
    """
    if explicit is not None:
        return DataDir(explicit, "--data")
    if os.environ.get(DATA_ENV):  # set and not empty, as `flows.settings.Settings` reads it
        return DataDir(Path(os.environ[DATA_ENV]), DATA_ENV)
    path = config_file()
    value = config_values(path).get("data_dir")
    if value is not None:
        if not isinstance(value, str) or not value or path is None:
            raise ConfigError(f"{path}: data_dir must be a path written as a string")
        return DataDir(path.parent / value, str(path))  # a relative path is read from the file's folder
    return DataDir(DEFAULT_DATA, "default")


def prefect_api_url() -> str | None:
    """The Prefect server's API URL: PREFECT_API_URL in the environment, else in Prefect's active profile.

    Read without importing Prefect (seconds of imports for one setting).
    """
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect")
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml")
    try:
        config = tomllib.loads(profiles.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or config.get("active", "ephemeral")
    url = config.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(url) if url else None
