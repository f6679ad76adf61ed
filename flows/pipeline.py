"""One nightly run, stage by stage, with its run record.

The same orchestration serves the Prefect flow (stages wrapped as tasks) and a
plain local run (stages called directly): see `Steps`. One run at a time per data
directory (`flows.run_lock`); sanity gates before publishing (`sanity_problems`);
failures are logged and recorded with safe messages only (`safe_error`), the full
traceback kept in the run directory's error.log (mode 0600).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import secrets
import time
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from flows import memory, stages
from flows.classify import classify_stage
from flows.normalise import normalise
from flows.publish import publish
from flows.run_lock import RunLock, RunLocked
from services.paths import DataPaths
from services.state import record_run_end, record_run_start, runs

if TYPE_CHECKING:
    from collections.abc import Callable

    from flows.settings import Settings


P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Steps:
    """The callables that run each stage (plain functions or Prefect tasks)."""

    ingest: Callable[..., dict[str, Any]]
    normalise: Callable[..., dict[str, Any]]
    link: Callable[..., dict[str, Any]]
    classify: Callable[..., dict[str, Any]]
    publish: Callable[..., Any]


LOCAL = Steps(stages.ingest, normalise, stages.link_stage, classify_stage, publish)


@dataclass(slots=True)
class RunOutcome:
    """What a finished run left: its id, directory, published database, counts and stage timings."""

    run_id: str
    run_dir: Path
    database: Path
    counts: dict[str, Any]
    timings: dict[str, float]
    peaks: dict[str, float]
    """Each stage's peak resident memory in MiB (`flows.memory`; empty where it cannot be measured), of this
    process: a stage run on a cluster's worker is not in it."""


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


class StageFailed(RuntimeError):
    """A stage failed; the message is `safe_error` of what it raised (see `guarded`)."""

    def __init__(self, message: str, *, may_pass: bool = False) -> None:
        super().__init__(message)
        self.may_pass = may_pass
        """Whether trying again later may succeed (a register still being copied), not a certain failure."""


class RunRefused(RuntimeError):
    """A sanity gate failed: the delivery looks incomplete, so the run is not published."""


class RunFailed(RuntimeError):
    """A run failed and published nothing; the message names the stage, files and counts only."""

    debug_log: Path | None = None
    """The run's error.log holding the full traceback (mode 0600), when there is one."""


_SAFE_MESSAGES = (StageFailed, RunRefused, RunLocked)
"""Errors whose messages name files, counts, pids and run ids only, never record values."""

_DEBUG_LOG: ContextVar[Path | None] = ContextVar("hukou_debug_log", default=None)
"""Where the running run keeps full tracebacks (its run directory's error.log), if anywhere."""


def safe_error(exc: BaseException) -> str:
    """An error message fit for logs and the run table.

    File problems say which file and what; anything else only its type, since
    messages of data libraries may quote record values.
    """
    if isinstance(exc, stages.RegisterNotReady):
        return f"register not ready: {exc}"
    if isinstance(exc, stages.RegisterUnreadable):
        return f"register unreadable: {exc}"
    if isinstance(exc, _SAFE_MESSAGES):
        return str(exc)
    return f"{type(exc).__name__} (details withheld: they may quote record values)"


def _debug_log(exc: BaseException) -> None:
    """Append the full traceback to the running run's debug log (mode 0600), the one place that keeps it."""
    target = _DEBUG_LOG.get()
    if target is None:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write("".join(traceback.format_exception(exc)) + "\n")


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn`, raising `StageFailed` with a safe message instead of whatever it raised.

    For stages run as Prefect tasks: Prefect logs and stores a failed task's exception
    (message and traceback), so it must never see one that may quote record values.
    The original traceback goes to the run's debug log only.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # every error is sanitised, then raised again
            _debug_log(exc)
            message, may_pass = safe_error(exc), isinstance(exc, stages.RegisterNotReady)
        raise StageFailed(message, may_pass=may_pass)  # outside the handler: no chained context to log

    return wrapper


def current_debug_log() -> Path | None:
    """The running run's debug log (`guarded` writes tracebacks there), if a run is running here."""
    return _DEBUG_LOG.get()


class CarryingDebugLog(Generic[R]):
    """A stage taking the run's debug log as a first argument, set where it runs (for `guarded` inside it).

    A stage run on a cluster's worker has none of the flow process's context: the log's path travels with the
    call. A class, not a closure: pickled by reference to it, it never tries to carry the context variable.
    """

    def __init__(self, stage: Callable[..., R]) -> None:
        self.stage = stage
        self.__name__ = stage.__name__  # Dask names its tasks after their function
        self.__doc__ = stage.__doc__

    def __call__(self, debug_log: Path | None, *args: Any, **kwargs: Any) -> R:
        """Run the stage with `debug_log` as the run's debug log."""
        token = _DEBUG_LOG.set(debug_log)
        try:
            return self.stage(*args, **kwargs)
        finally:
            _DEBUG_LOG.reset(token)


def _last_published(state: Path) -> dict[str, Any] | None:
    published = [r for r in runs(state) if r["outcome"] == "published"]
    return published[-1] if published else None


def sanity_problems(counts: dict[str, Any], last: dict[str, Any] | None, max_shrink: float) -> list[str]:
    """Why an ingested delivery looks incomplete: no records on a side, or a side shrunk by more than `max_shrink`.

    `last` is the last published run's row (its counts compared); counts only, no record values.
    """
    problems: list[str] = []
    if not counts.get("roll_rows"):
        problems.append(
            f"no roll records read ({counts.get('roll_files', 0)} roll file(s) read, "
            f"{counts.get('roll_files_unreadable', 0)} unreadable, {counts.get('roll_files_skipped', 0)} skipped): "
            "publishing would show everyone registered as 户在人不在"
        )
    if not counts.get("register_rows"):
        problems.append("no register records read")
    before = json.loads(last["counts"] or "{}") if last else {}
    for key, label in (("register_rows", "register records"), ("roll_rows", "roll records")):
        was, now = before.get(key) or 0, counts.get(key) or 0
        if was and now and now < was * (1 - max_shrink):
            problems.append(
                f"{label} shrank from {was:,} to {now:,} (-{1 - now / was:.0%}) since published run "
                f"{last['run_id'] if last else '?'}, more than the {max_shrink:.0%} allowed"
            )
    return problems


def _abort_leftovers(paths: DataPaths, lock: RunLock, run_id: str) -> list[str]:
    """Mark runs still `running` as aborted: we hold the lock, so their processes are gone."""
    aborted: list[str] = []
    for row in runs(paths.state):
        if row["outcome"] != "running" or row["run_id"] == run_id:
            continue
        pid = lock.previous.get("pid") if lock.previous.get("run_id") == row["run_id"] else None
        process = f"its process (pid {pid})" if pid else "its process"
        record_run_end(
            paths.state,
            row["run_id"],
            finished_at=_now(),
            outcome="aborted",
            inputs=json.loads(row["inputs"] or "[]"),
            counts=json.loads(row["counts"] or "{}"),
            timings=json.loads(row["timings"] or "{}"),
            error=f"aborted: {process} ended without finishing the run; found by run {run_id}",
        )
        aborted.append(row["run_id"])
    return aborted


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run_pipeline(
    register: Path, rolls: Path, settings: Settings, steps: Steps = LOCAL, *, accept_shrink: bool = False
) -> RunOutcome:
    """Run every stage and publish; record the run whatever happens.

    One run at a time per data directory (`RunLock`: a second run raises `RunLocked`
    at once). A delivery failing `sanity_problems` is not published unless
    `accept_shrink`. Any failure raises `RunFailed` with a safe message (`safe_error`).
    """
    paths = DataPaths(settings.data_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id()
    with RunLock(paths.root / "run.lock", run_id) as lock:
        _abort_leftovers(paths, lock, run_id)
        return _locked_run(register, rolls, settings, steps, paths, run_id, accept_shrink=accept_shrink)


def _locked_run(
    register: Path,
    rolls: Path,
    settings: Settings,
    steps: Steps,
    paths: DataPaths,
    run_id: str,
    *,
    accept_shrink: bool,
) -> RunOutcome:
    run_dir = paths.run(run_id)
    started = _now()
    record_run_start(paths.state, run_id, started)
    counts: dict[str, Any] = {}
    timings: dict[str, float] = {}
    peaks: dict[str, float] = {}
    stage = {"name": "start"}
    debug_log = _DEBUG_LOG.set(run_dir / "error.log")

    def timed(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        stage["name"] = name
        t0 = time.perf_counter()
        memory.reset_peak()
        result = fn(*args, **kwargs)
        timings[name] = round(time.perf_counter() - t0, 3)
        if (peak := memory.peak_mib()) is not None:
            peaks[name] = round(peak, 1)
        return result

    try:
        counts |= timed(
            "ingest", steps.ingest, register, rolls, run_dir, quiet_seconds=settings.quiet_seconds, cache=paths.cache
        )
        stage["name"] = "sanity checks"
        last = _last_published(paths.state)
        problems = sanity_problems(counts, last, settings.max_shrink)
        if problems and not accept_shrink:
            raise RunRefused(
                "; ".join(problems)
                + ". Nothing was published; if the delivery is right, run again with --accept-shrink"
            )
        if problems:
            counts["sanity_checks_overridden"] = len(problems)
        counts |= timed(
            "normalise",
            steps.normalise,
            run_dir,
            paths.digest_key,
            paths.cache,
            batch_rows=settings.normalise_batch_rows,
        )

        def link() -> dict[str, Any]:
            stages.standing_decisions(run_dir, paths.state)  # here, where the state database is; not on a worker
            return steps.link(run_dir, settings.link_settings())

        counts |= timed("link", link)
        previous = paths.run(last["run_id"]) if last else None
        counts |= timed(
            "classify",
            steps.classify,
            run_dir,
            policy=settings.verify_without_visit,
            previous=previous,
            units=settings.classify_units,
        )
        counts["verification_policy"] = [e.value for e in settings.verify_without_visit]
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
            "publish",
            steps.publish,
            run_dir,
            paths,
            run_id=run_id,
            runs=history,
            keep_runs=settings.keep_runs,
            memory=settings.publish_memory,
        )
    except Exception as exc:  # recorded, then raised again sanitised
        if not isinstance(exc, RunRefused | StageFailed):
            _debug_log(exc)
        message = f"{stage['name']} failed: {safe_error(exc)}"
        _finish(paths, run_id, run_dir, counts, timings, error=message)
        failed = True
    except BaseException as exc:
        _finish(paths, run_id, run_dir, counts, timings, error=f"interrupted: {type(exc).__name__}")
        raise
    else:
        failed = False
    finally:
        _DEBUG_LOG.reset(debug_log)
    if failed:
        failure = RunFailed(message)
        failure.debug_log = run_dir / "error.log"
        raise failure  # outside the handler: no chained exception quoting record values
    _finish(paths, run_id, run_dir, counts, timings, error=None)
    return RunOutcome(run_id, run_dir, Path(database), counts, timings, peaks)


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
        finished_at=_now(),
        outcome="failed" if error else "published",
        inputs=_inputs(run_dir),
        counts=counts,
        timings=timings,
        error=error,
    )


def _as_row(run: dict[str, Any]) -> dict[str, Any]:
    return {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v) for k, v in run.items()}
