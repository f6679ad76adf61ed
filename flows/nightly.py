"""The Prefect flow: the nightly run with one task per stage.

Parameters are paths only; logs and the run artifact carry counts only, never
names or ID numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows import stages
from flows.normalise import normalise
from flows.notify import on_failure
from flows.pipeline import StageFailed, Steps, guarded, run_pipeline
from flows.publish import publish
from flows.settings import Settings

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State


def may_pass(task: object, task_run: object, state: State[Any]) -> bool:
    """Whether a failed stage is worth retrying: only when waiting may help (`StageFailed.may_pass`).

    A register still being copied may be ready 30 s later; a missing or unreadable one will not be.
    """
    del task, task_run
    return isinstance(state.data, StageFailed) and state.data.may_pass


PREFECT_STEPS = Steps(
    ingest=task(name="ingest", retries=2, retry_delay_seconds=30, retry_condition_fn=may_pass)(guarded(stages.ingest)),
    normalise=task(name="normalise")(guarded(normalise)),
    link=task(name="link")(guarded(stages.link_stage)),
    classify=task(name="classify")(guarded(stages.classify_stage)),
    publish=task(name="publish")(guarded(publish)),
)
"""The stages as tasks, `guarded`: Prefect logs and stores a failed task's exception, so it only ever sees safe ones."""


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
) -> str:
    """Reconcile the police extract `register_file` with the rolls in `rolls_dir`; returns the run id.

    What is not given is configured where the flow runs, as every `hukou` command finds it (`services.config`:
    HUKOU_<SETTING> or the configuration file): the deliveries under the drop directory (`register/`, `rolls/`),
    the data directory it publishes into. `accept_shrink` publishes a delivery that fails the sanity gates
    (`flows.pipeline.sanity_problems`).
    """
    logger = get_run_logger()
    settings = Settings(data_dir=Path(data_dir)) if data_dir else Settings()
    register, rolls = settings.deliveries(register_file, rolls_dir)
    outcome = run_pipeline(register, rolls, settings, PREFECT_STEPS, accept_shrink=accept_shrink)
    logger.info("run %s published: %s", outcome.run_id, {k: v for k, v in outcome.counts.items() if isinstance(v, int)})
    create_markdown_artifact(
        key="hukou-run-summary",
        markdown=summary_markdown(outcome.run_id, outcome.counts, outcome.timings),
        description="Counts of one nightly run (no personal data)",
    )
    return outcome.run_id
