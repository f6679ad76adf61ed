"""The Prefect flow under the session harness: tasks, artifact, no personal data."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from tests.http_stub import Stub

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_flow_publishes_and_its_artifact_carries_counts_only(
    small_city: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    from flows.nightly import nightly

    monkeypatch.setenv("HUKOU_QUIET_SECONDS", "0")  # the city was written moments ago
    state = nightly(
        register_file=str(small_city["register"]),
        rolls_dir=str(small_city["rolls"]),
        data_dir=str(tmp_path),
        return_state=True,
    )
    assert state.is_completed()
    run_id = state.result()
    assert (tmp_path / "hukou.duckdb").exists()
    assert (tmp_path / "runs" / run_id / "links.parquet").exists()

    async def artifacts_and_tasks() -> tuple[list[str], list[str]]:
        async with get_client() as client:
            arts = await client.read_artifacts()
            assert state.state_details.flow_run_id is not None
            flow_run = await client.read_flow_run(state.state_details.flow_run_id)
            tasks = await client.read_task_runs()
            params = [str(v) for v in flow_run.parameters.values()]
            mine = [str(a.data) for a in arts if a.key == "hukou-run-summary" and a.flow_run_id == flow_run.id]
            return mine, params + [t.name for t in tasks]

    found = run_coro_as_sync(artifacts_and_tasks())
    assert found is not None
    markdown, other = found
    assert markdown
    assert run_id in markdown[-1]
    truth = pl.read_parquet(small_city["truth"] / "register_truth.parquet")
    register = pl.read_csv(small_city["register"], encoding="gb18030", infer_schema=False)
    secrets = set(register["公民身份号码"].drop_nulls()) | set(register["姓名"].drop_nulls())
    assert truth.height > 0
    assert secrets
    for text in [*markdown, *other]:
        assert not any(s in text for s in secrets if len(s) >= 2)
    assert {"ingest", "normalise", "link", "classify", "publish"} <= {n.split("-")[0] for n in other}


def test_a_missing_register_fails_at_once_without_retries_and_someone_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_stub: Stub
) -> None:
    """Retries are for what waiting can mend (a register still being copied), not for a file that is not there;
    the configured webhook hears of the failure, naming the file."""
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    from flows.nightly import nightly

    monkeypatch.setenv("HUKOU_NOTIFY_WEBHOOK", f"{http_stub.url}/robot/send?key=k")
    rolls = tmp_path / "rolls"
    rolls.mkdir()
    state = nightly(
        register_file=str(tmp_path / "drop" / "户籍人口.csv"),
        rolls_dir=str(rolls),
        data_dir=str(tmp_path / "data"),
        return_state=True,
    )
    assert state.is_failed()
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None

    async def ingest_runs() -> list[int]:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        async with get_client() as client:
            flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            tasks = await client.read_task_runs(flow_run_filter=flow_runs)
            return [t.run_count for t in tasks if t.name.startswith("ingest")]

    assert run_coro_as_sync(ingest_runs()) == [1]
    (message,) = http_stub.posted
    assert message["msgtype"] == "text"
    assert "ingest failed: register unreadable" in message["text"]["content"]
    assert "户籍人口.csv" in message["text"]["content"]  # the file named, so someone knows what to fix
