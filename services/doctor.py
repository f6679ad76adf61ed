"""`hukou doctor`: is this machine set up to run the nightly reconciliation, and if not, what to fix.

Each check returns a `Check`: what was looked at, ok / warn / fail, what was found and, unless ok, what to do.
A check reads only: files, the state and published databases (read-only), the Prefect API over HTTP, and a
configured Dask scheduler (how many workers it has).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from services import reader
from services.config import ConfigError, DataDir, config_file, data_dir, prefect_api_url, setting_if_readable
from services.paths import DataPaths

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

DEPLOYMENT = "hukou-nightly/nightly"
"""The scheduled deployment `prefect.yaml` registers (flow name / deployment name)."""
STALE_AFTER = dt.timedelta(hours=26)
"""A published result older than this means last night's run did not publish."""


class Level(StrEnum):
    """How a check came out."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Check:
    """One thing looked at."""

    name: str
    level: Level
    found: str
    fix: str = ""


def _ok(name: str, found: str) -> Check:
    return Check(name, Level.OK, found)


def configuration(explicit: Path | None) -> tuple[Check, DataDir | None]:
    """The configuration file and the data directory it leads to (`services.config`)."""
    try:
        where = data_dir(explicit)
        path = config_file()
    except ConfigError as exc:
        return Check("configuration", Level.FAIL, str(exc), "fix or remove the file (HUKOU_CONFIG)"), None
    named = f"file {path}" if path else "no configuration file"
    return _ok("configuration", f"{named}; data directory {where.path} (from {where.source})"), where


def data_directory(root: Path) -> list[Check]:
    """The data directory is there and writable; the digest key private."""
    if not root.exists():
        return [Check("data directory", Level.FAIL, f"{root} does not exist", f"create it: install -d -m 0750 {root}")]
    if not os.access(root, os.W_OK | os.X_OK):
        return [
            Check("data directory", Level.FAIL, f"{root} is not writable by this user", "chown it to the run's user")
        ]
    checks = [_ok("data directory", f"{root} is writable")]
    key = DataPaths(root).digest_key
    if not key.exists():
        checks.append(Check("digest key", Level.WARN, f"{key} not yet made", "the first run makes it; back it up"))
    elif stat.S_IMODE(key.stat().st_mode) & 0o077:
        checks.append(Check("digest key", Level.FAIL, f"{key} is readable by others", f"chmod 600 {key}"))
    else:
        checks.append(_ok("digest key", f"{key} (0600)"))
    return checks


def state_database(root: Path) -> list[Check]:
    """The operators' state: present, sound, with an admin; the last run's outcome."""
    path = DataPaths(root).state
    if not path.exists():
        return [
            Check("state database", Level.WARN, f"{path} not yet made", "the first run or `hukou users add` makes it")
        ]
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            (sound,) = con.execute("PRAGMA quick_check").fetchone()
            admins = con.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active").fetchone()[0]
            last = con.execute(
                "SELECT run_id, started_at, finished_at, outcome, error FROM runs ORDER BY started_at DESC LIMIT 1"
            ).fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return [Check("state database", Level.FAIL, f"{path}: {exc}", "restore it from the last backup")]
    checks = [
        _ok("state database", f"{path}")
        if sound == "ok"
        else Check("state database", Level.FAIL, f"{path}: {sound}", "restore it from the last backup")
    ]
    if not admins:
        checks.append(Check("admin", Level.WARN, "no active admin", "hukou users add admin --role admin"))
    if last is None:
        checks.append(Check("last run", Level.WARN, "no run yet", "run one: prefect deployment run " + DEPLOYMENT))
    elif last[3] == "failed":
        checks.append(Check("last run", Level.FAIL, f"{last[0]} failed: {last[4]}", "fix the cause, run it again"))
    elif last[2] is None:
        checks.append(Check("last run", Level.WARN, f"{last[0]} started {last[1]}, not finished", "running, or killed"))
    else:
        checks.append(_ok("last run", f"{last[0]} {last[3]} at {last[2]}"))
    return checks


def published_database(root: Path, *, now: dt.datetime | None = None) -> Check:
    """The published results: present, readable, and from last night."""
    try:
        with reader.published(root) as con:
            row = con.execute("SELECT run_id, published_at FROM published").fetchone()
    except FileNotFoundError:
        return Check("published results", Level.WARN, f"nothing published in {root}", "wait for a run, or run one")
    except Exception as exc:
        return Check("published results", Level.FAIL, f"{type(exc).__name__}", "the next run republishes it")
    if row is None:
        return Check("published results", Level.FAIL, "no published run recorded", "the next run republishes it")
    run_id, published_at = row
    age = (now or dt.datetime.now(dt.UTC)) - published_at
    found = f"run {run_id}, published {published_at:%Y-%m-%d %H:%M %Z} ({age.total_seconds() / 3600:.1f} h ago)"
    if age > STALE_AFTER:
        return Check("published results", Level.FAIL, found, "last night's run did not publish: see `last run`")
    return _ok("published results", found)


def drop_directory(drop: Path | None) -> Check:
    """Where the scheduled run reads its deliveries (HUKOU_DROP_DIR)."""
    if drop is None:
        return Check(
            "drop directory", Level.WARN, "not configured", "set HUKOU_DROP_DIR for scheduled runs (register/, rolls/)"
        )
    missing = [str(drop / d) for d in ("register", "rolls") if not os.access(drop / d, os.R_OK | os.X_OK)]
    if missing:
        return Check("drop directory", Level.FAIL, f"cannot read {', '.join(missing)}", "create them, readable")
    return _ok("drop directory", f"{drop}/register and {drop}/rolls readable")


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  the configured Prefect API (http/https)
        return json.loads(response.read() or b"null")


def prefect(api: str | None, *, get: Callable[[str], Any] = _get_json) -> list[Check]:
    """The Prefect API answers, and the nightly deployment is there with an active schedule."""
    if api is None:
        return [
            Check(
                "Prefect server",
                Level.WARN,
                "none configured (PREFECT_API_URL): ad-hoc runs only, nothing scheduled",
                "start hukou-prefect-server and set PREFECT_API_URL (deploy/hukou.env)",
            )
        ]
    if not api.startswith(("http://", "https://")):
        return [Check("Prefect server", Level.FAIL, f"PREFECT_API_URL={api} is not an http(s) URL", "fix it")]
    base = api.rstrip("/")
    try:
        get(f"{base}/health")
    except (OSError, ValueError) as exc:
        return [Check("Prefect server", Level.FAIL, f"{base} does not answer ({type(exc).__name__})", "start it")]
    checks = [_ok("Prefect server", f"{base} answers")]
    name = urllib.parse.quote(DEPLOYMENT)
    try:
        deployment = get(f"{base}/deployments/name/{name}")
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            return [*checks, Check("schedule", Level.FAIL, f"the API said {exc.code}", "see the server's log")]
        return [*checks, Check("schedule", Level.FAIL, f"no deployment {DEPLOYMENT}", "prefect deploy --all")]
    except (OSError, ValueError) as exc:
        return [*checks, Check("schedule", Level.FAIL, f"{type(exc).__name__}", "see the server's log")]
    active = [s for s in deployment.get("schedules") or [] if s.get("active")]
    if deployment.get("paused") or not active:
        return [
            *checks,
            Check("schedule", Level.FAIL, f"{DEPLOYMENT} is paused or has no active schedule", "resume it"),
        ]
    crons = ", ".join(f"{s['schedule'].get('cron')} {s['schedule'].get('timezone') or ''}".strip() for s in active)
    return [*checks, _ok("schedule", f"{DEPLOYMENT}: {crons}")]


def _dask_workers(address: str) -> int:
    from distributed import Client  # only when a cluster is configured: it takes a second to import

    # distributed is partly typed
    with Client(address, timeout="5s") as client:  # type: ignore[no-untyped-call]
        return len(client.scheduler_info()["workers"])


def dask_cluster(address: str | None, *, workers: Callable[[str], int] = _dask_workers) -> list[Check]:
    """The Dask scheduler the stages run on (HUKOU_DASK_ADDRESS), if one is configured, answers and has workers."""
    if address is None:
        return []
    try:
        found = workers(address)
    except (OSError, ValueError) as exc:  # distributed raises OSError (and its subclass TimeoutError) when unreachable
        return [Check("Dask cluster", Level.FAIL, f"{address} does not answer ({type(exc).__name__})", "start it")]
    if found == 0:
        return [Check("Dask cluster", Level.FAIL, f"{address} has no workers", "start dask worker on each machine")]
    return [_ok("Dask cluster", f"{address}: {found} worker(s)")]


def diagnose(explicit: Path | None, *, drop: Path | None, api: str | None = None) -> list[Check]:
    """Every check, in the order one would fix them."""
    first, where = configuration(explicit)
    checks = [first]
    if where is not None:
        checks += data_directory(where.path)
        checks += state_database(where.path)
        checks.append(published_database(where.path))
    checks.append(drop_directory(drop))
    checks += prefect(api if api is not None else prefect_api_url())
    checks += dask_cluster(setting_if_readable("dask_address"))  # a broken file is reported by `configuration`
    return checks


def report(checks: list[Check]) -> str | None:
    """The failed checks as one message for `services.notify`, or None when nothing failed.

    >>> report([Check("last run", Level.FAIL, "r1 failed: ingest failed", "fix it"), Check("admin", Level.OK, "1")])
    'hukou doctor: 1 check(s) failed — last run: r1 failed: ingest failed (fix it)'
    """
    failed = [c for c in checks if c.level is Level.FAIL]
    if not failed:
        return None
    listed = "; ".join(f"{c.name}: {c.found} ({c.fix})" for c in failed)
    return f"hukou doctor: {len(failed)} check(s) failed — {listed}"
