"""Telling someone that the nightly run failed (`services.notify`), from a Prefect flow hook.

The message carries the run's name, its state and the flow's failure message, which names stages, files and
counts only (`flows.pipeline.safe_error`): never a name or an ID number.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from services.notify import NotifyError, post, webhook

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun, State

logger = logging.getLogger(__name__)


def failure_message(run_name: str, state_name: str, message: str | None) -> str:
    """The text sent when a run fails.

    >>> failure_message("quiet-fox", "Failed", "ingest failed: register unreadable: drop/register: no file")
    'hukou-recon 夜间核查失败 (nightly run failed): quiet-fox Failed — ingest failed: register unreadable: drop/register: no file'
    """
    return f"hukou-recon 夜间核查失败 (nightly run failed): {run_name} {state_name} — {message or 'no message'}"


def on_failure(flow: Flow[..., object], flow_run: FlowRun, state: State[object]) -> None:
    """A Prefect flow hook: tell the configured webhook (`services.notify.webhook`) that the run failed.

    A notification that cannot be sent is logged (the webhook's host only), never raised: the run's own failure is
    what matters.
    """
    del flow
    url = webhook()
    if not url:
        return
    try:
        post(url, failure_message(flow_run.name, state.name or state.type.value, state.message))
    except NotifyError as exc:
        logger.warning("could not tell the webhook of the failed run: %s", exc)
