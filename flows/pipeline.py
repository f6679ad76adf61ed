"""One nightly run, stage by stage, with its run record.

The same orchestration serves the Prefect flow (stages wrapped as tasks) and a
plain local run (stages called directly): see `Steps`.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows import stages
from flows.publish import publish
from services.paths import DataPaths
from services.state import record_run_end, record_run_start, runs

if TYPE_CHECKING:
    from collections.abc import Callable

    from flows.settings import Settings


@dataclass(frozen=True, slots=True)
class Steps:
    """The callables that run each stage (plain functions or Prefect tasks)."""

    ingest: Callable[..., dict[str, Any]]
    normalise: Callable[..., dict[str, Any]]
    link: Callable[..., dict[str, Any]]
    classify: Callable[..., dict[str, Any]]
    publish: Callable[..., Any]


LOCAL = Steps(stages.ingest, stages.normalise, stages.link_stage, stages.classify_stage, publish)


@dataclass(slots=True)
class RunOutcome:
    """What a finished run left: its id, directory, published database, counts and stage timings."""

    run_id: str
    run_dir: Path
    database: Path
    counts: dict[str, Any]
    timings: dict[str, float]


def new_run_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: 20261127T020000Z-3f9a."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def _inputs(run_dir: Path) -> list[dict[str, Any]]:
    files = run_dir / "files.json"
    if not files.exists():
        return []
    return [
        {k: r[k] for k in ("side", "file", "size", "sha256", "status", "problem", "rows")}
        for r in json.loads(files.read_text())
    ]


def safe_error(exc: BaseException) -> str:
    """An error message fit for logs and the run table.

    File problems say which file and what; anything else only its type, since
    messages of data libraries may quote record values.
    """
    if isinstance(exc, stages.RegisterUnreadable):
        return f"register unreadable: {exc}"
    return f"{type(exc).__name__} (details withheld: they may quote record values)"


def run_pipeline(register: Path, rolls: Path, settings: Settings, steps: Steps = LOCAL) -> RunOutcome:
    """Run every stage and publish; record the run whatever happens."""
    paths = DataPaths(settings.data_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id()
    run_dir = paths.run(run_id)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record_run_start(paths.state, run_id, started)
    counts: dict[str, Any] = {}
    timings: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        timings[name] = round(time.perf_counter() - t0, 3)
        return result

    try:
        counts |= timed("ingest", steps.ingest, register, rolls, run_dir)
        counts |= timed("normalise", steps.normalise, run_dir)
        counts |= timed("link", steps.link, run_dir, settings.link_settings(), paths.state)
        counts |= timed("classify", steps.classify, run_dir)
        this_run = {
            "run_id": run_id,
            "started_at": started,
            "finished_at": None,
            "outcome": "published",
            "inputs": _inputs(run_dir),
            "counts": counts,
            "timings": timings,
            "error": None,
        }
        history = [r for r in runs(paths.state) if r["run_id"] != run_id] + [_as_row(this_run)]
        database = timed(
            "publish", steps.publish, run_dir, paths, run_id=run_id, runs=history, keep_runs=settings.keep_runs
        )
    except BaseException as exc:
        _finish(paths, run_id, run_dir, counts, timings, error=safe_error(exc))
        raise
    _finish(paths, run_id, run_dir, counts, timings, error=None)
    return RunOutcome(run_id, run_dir, Path(database), counts, timings)


def _finish(
    paths: DataPaths,
    run_id: str,
    run_dir: Path,
    counts: dict[str, Any],
    timings: dict[str, float],
    *,
    error: str | None,
) -> None:
    """Record the run's end, failed or published."""
    record_run_end(
        paths.state,
        run_id,
        finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        outcome="failed" if error else "published",
        inputs=_inputs(run_dir),
        counts=counts,
        timings=timings,
        error=error,
    )


def _as_row(run: dict[str, Any]) -> dict[str, Any]:
    return {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v) for k, v in run.items()}
