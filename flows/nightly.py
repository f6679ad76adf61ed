"""The Prefect flow: the nightly run, its stages as tasks, in this process or on a Dask cluster.

Parameters are paths only; logs and the run artifact carry counts only, never
names or ID numbers.

On a cluster (`dask_address`) the stages that read and write the run's files run on the workers: ingest
as one task, normalisation, linking and classify as units mapped over them (a batch of rows, a part of a
side: `flows.normalise`; a blocking partition, a chunk of pairs: `flows.link_units`; a few whole communities:
`flows.classify`, whose plan and finish are a task each). What needs a whole side in normalisation (record
keys, places and flats, joining the parts), what needs every pair in linking (estimation, the one-to-one
assignment), the operators' standing decisions (the state database) and publishing stay in the flow's
process. Tasks take and return paths, counts, small plans and steps, never records.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect_dask.task_runners import DaskTaskRunner
from prefect_dask.utils import get_dask_client

from flows import classify as classifying
from flows import link_units, stages
from flows import normalise as normalising
from flows.notify import on_failure
from flows.pipeline import (
    CarryingDebugLog,
    RunOutcome,
    StageFailed,
    Steps,
    current_debug_log,
    guarded,
    run_pipeline,
)
from flows.publish import publish
from flows.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from prefect.client.schemas.objects import State

    from reconcile.linker import LinkSettings
    from reconcile.units import Step
    from schemas.codes import Evidence


def may_pass(task: object, task_run: object, state: State[Any]) -> bool:
    """Whether a failed stage is worth retrying: only when waiting may help (`StageFailed.may_pass`).

    A register still being copied may be ready 30 s later; a missing or unreadable one will not be.
    """
    del task, task_run
    return isinstance(state.data, StageFailed) and state.data.may_pass


PREFECT_STEPS = Steps(
    ingest=task(name="ingest", retries=2, retry_delay_seconds=30, retry_condition_fn=may_pass)(guarded(stages.ingest)),
    normalise=task(name="normalise")(guarded(normalising.normalise)),
    link=task(name="link")(guarded(stages.link_stage)),
    classify=task(name="classify")(guarded(classifying.classify_stage)),
    publish=task(name="publish")(guarded(publish)),
)
"""The stages as tasks, `guarded`: Prefect logs and stores a failed task's exception, so it only ever sees safe ones."""


def _on_workers(stage: Callable[..., dict[str, Any]], **options: Any) -> Callable[..., dict[str, Any]]:
    """`stage` as a task submitted to the flow's task runner (a cluster's workers) and waited for.

    The run's debug log goes with each call (`CarryingDebugLog`): a worker keeps a failed stage's traceback there.
    """
    on_worker = task(**options)(CarryingDebugLog(guarded(stage)))

    def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = on_worker.submit(current_debug_log(), *args, **kwargs).result()
        return result

    return run


@task(name="normalise-plan")
def normalise_plan(debug_log: Path | None, run: Path, cache: Path | None, batch_rows: int) -> normalising.Plan:
    """`flows.normalise.plan` on a worker."""
    return CarryingDebugLog(guarded(normalising.plan))(debug_log, run, cache, batch_rows=batch_rows)


@task(name="normalise-batch")
def normalise_batch(debug_log: Path | None, work: normalising.Plan, batch: normalising.Batch) -> normalising.BatchParts:
    """`flows.normalise.settle_batch` on a worker: one unit, writing parts of its own, returning their paths."""
    return CarryingDebugLog(guarded(normalising.settle_batch))(debug_log, work, batch)


@task(name="normalise-part")
def normalise_part(
    debug_log: Path | None, facts: normalising.SideFacts, index: int, digest_key: Path
) -> normalising.Located:
    """`flows.normalise.locate_part_apart` on a worker: one settled part located, keyed and numbered."""
    return CarryingDebugLog(guarded(normalising.locate_part_apart))(debug_log, facts, index, digest_key)


def _normalise_mapped(
    run: Path, digest_key: Path, cache: Path | None = None, *, batch_rows: int = normalising.BATCH_ROWS
) -> dict[str, Any]:
    """`flows.normalise.normalise` with its units mapped over the workers: every batch, then every part of a side.

    The plan runs on a worker; what needs a whole side (its record keys, places and flats, the joined file)
    runs here, in `flows.normalise.finish`. A unit run again (its worker lost) writes files of its own; only
    those of the attempt returned are read. Explicit task signatures: Prefect maps over a task's parameters
    by name, and would take `*args` for one.
    """
    log = current_debug_log()
    work = normalise_plan.submit(log, run, cache, batch_rows).result()
    settled = [b.result() for b in normalise_batch.map(unmapped(log), unmapped(work), list(work.batches))]

    def write(facts: normalising.SideFacts, out: Path) -> tuple[int, int]:
        indices = list(range(len(facts.parts)))
        parts = normalise_part.map(unmapped(log), unmapped(facts), indices, unmapped(digest_key))
        return normalising.join_side([p.result() for p in parts], out)

    return normalising.finish(work, settled, digest_key, write=write)


@task(name="link-unit")
def link_unit(debug_log: Path | None, step: Step[Any], work: Any, sides: link_units.SharedSides, folder: Path) -> Path:
    """`flows.link_units.run_unit` on a worker: one unit of linking (a partition, a chunk), its result's file."""
    return CarryingDebugLog(guarded(link_units.run_unit))(debug_log, step, work, sides, folder)


def _link_mapped(run: Path, settings: LinkSettings) -> dict[str, Any]:
    """`flows.stages.link_stage` here, its units (`reconcile.units`) mapped over the workers.

    Blocking by rule and partition and comparison by chunk run on the workers (`link_unit`); the rest runs
    here, between them: what needs every pair (estimation, the one-to-one assignment, the household and
    unexplained passes' choices) and scoring, which costs less than sending its chunks away.
    """
    log = current_debug_log()

    def run_all(step: Step[Any], works: list[Any], sides: link_units.SharedSides, out: Path) -> list[Path]:
        futures = link_unit.map(unmapped(log), unmapped(step), works, unmapped(sides), unmapped(out))
        return [future.result() for future in futures]

    try:
        with link_units.through_files(run / "link.work", run_all) as units:
            return stages.link_stage(run, settings, units=units)
    finally:
        _forget_sides()


def _forget_sides() -> None:
    """Every worker lets go of the sides it read for linking's units (`flows.link_units.forget`)."""
    try:
        with get_dask_client() as client:
            client.run(link_units.forget)
    except Exception as exc:  # the night's results stand; a worker keeps the sides until the next night's
        get_run_logger().warning("workers not asked to let go of linking's records: %s", type(exc).__name__)


CLASSIFY_UNITS = 32
"""Units of communities classify is made in on a cluster, unless `Settings.classify_units` says: enough to keep a
few dozen workers busy. A province (some 16,000 communities of 4,000 people) wants more, and smaller, units."""


@task(name="classify-plan")
def classify_plan(debug_log: Path | None, run: Path, units: int) -> classifying.Plan:
    """`flows.classify.plan` on a worker: the units of classify and their inputs."""
    return CarryingDebugLog(guarded(classifying.plan))(debug_log, run, units)


@task(name="classify-unit")
def classify_unit(
    debug_log: Path | None, run: Path, work: classifying.Plan, unit: int, policy: Collection[Evidence]
) -> Path:
    """`flows.classify.run_unit` on a worker: one unit's findings, the folder they are in."""
    return CarryingDebugLog(guarded(classifying.run_unit))(debug_log, run, work, unit, policy)


@task(name="classify-finish")
def classify_finish(
    debug_log: Path | None, run: Path, work: classifying.Plan, found: list[Path], previous: Path | None
) -> dict[str, Any]:
    """`flows.classify.finish` on a worker: the units' findings joined into the stage's files."""
    return CarryingDebugLog(guarded(classifying.finish))(debug_log, run, work, found, previous)


def _classify_mapped(
    run: Path, policy: Collection[Evidence] = (), previous: Path | None = None, *, units: int | None = None
) -> dict[str, Any]:
    """`flows.classify.classify_stage` in units of communities mapped over the workers, with the same result.

    The plan and the finish read or write the whole city's files, so they run on a worker too, as a task each.
    """
    log = current_debug_log()
    try:
        work = classify_plan.submit(log, run, units or CLASSIFY_UNITS).result()
        futures = classify_unit.map(
            unmapped(log), unmapped(run), unmapped(work), list(range(len(work.codes))), unmapped(policy)
        )
        found = [future.result() for future in futures]
        return classify_finish.submit(log, run, work, found, previous).result()
    finally:
        shutil.rmtree(run / classifying.WORK, ignore_errors=True)  # records' copies, whatever failed


CLUSTER_STEPS = Steps(
    ingest=_on_workers(stages.ingest, name="ingest", retries=2, retry_delay_seconds=30, retry_condition_fn=may_pass),
    normalise=_normalise_mapped,
    link=_link_mapped,
    classify=_classify_mapped,
    publish=PREFECT_STEPS.publish,  # here: it swaps the database the review app reads
)
"""The stages on a cluster's workers (`on_cluster`), publishing in the flow's process."""


@flow(name="hukou-nightly-on-cluster", log_prints=False)
def on_cluster(register_file: str, rolls_dir: str, data_dir: str, accept_shrink: bool = False) -> RunOutcome:
    """The run with its stages on the workers of the flow's task runner (given by `nightly`: a `DaskTaskRunner`)."""
    settings = Settings(data_dir=Path(data_dir))
    return run_pipeline(Path(register_file), Path(rolls_dir), settings, CLUSTER_STEPS, accept_shrink=accept_shrink)


def summary_markdown(run_id: str, counts: dict[str, Any], timings: dict[str, float]) -> str:
    """The run artifact: counts and timings only."""
    lines = [f"# hukou-recon run {run_id}", "", "| count | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(counts.items())]
    lines += ["", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in timings.items()]
    return "\n".join(lines)


@flow(name="hukou-nightly", log_prints=False, on_failure=[on_failure], on_crashed=[on_failure])
def nightly(
    register_file: str | None = None,
    rolls_dir: str | None = None,
    data_dir: str | None = None,
    accept_shrink: bool = False,
    dask_address: str | None = None,
) -> str:
    """Reconcile the police extract `register_file` with the rolls in `rolls_dir`; returns the run id.

    What is not given is configured where the flow runs, as every `hukou` command finds it (`services.config`:
    HUKOU_<SETTING> or the configuration file): the deliveries under the drop directory (`register/`, `rolls/`),
    the data directory it publishes into. `accept_shrink` publishes a delivery that fails the sanity gates
    (`flows.pipeline.sanity_problems`). `dask_address` (else the `dask_address` setting) runs the stages on
    that Dask scheduler's workers (`on_cluster`).
    """
    logger = get_run_logger()
    settings = Settings(data_dir=Path(data_dir)) if data_dir else Settings()
    register, rolls = settings.deliveries(register_file, rolls_dir)
    if address := dask_address or settings.dask_address:
        # DaskTaskRunner is a TaskRunner of its own futures; Prefect's annotation expects the base future type.
        runner = on_cluster.with_options(task_runner=DaskTaskRunner(address=address))  # type: ignore[arg-type]
        # Absolute: a worker's working directory is its own.
        outcome = runner(str(register.resolve()), str(rolls.resolve()), str(settings.data_dir.resolve()), accept_shrink)
    else:
        outcome = run_pipeline(register, rolls, settings, PREFECT_STEPS, accept_shrink=accept_shrink)
    logger.info("run %s published: %s", outcome.run_id, {k: v for k, v in outcome.counts.items() if isinstance(v, int)})
    create_markdown_artifact(
        key="hukou-run-summary",
        markdown=summary_markdown(outcome.run_id, outcome.counts, outcome.timings),
        description="Counts of one nightly run (no personal data)",
    )
    return outcome.run_id
