"""What one mapped Prefect task costs on a Dask cluster beyond its work, as the nightly flow maps its units.

A flow on a `DaskTaskRunner` over a `LocalCluster` of two worker processes maps a task that does nothing, once
over `FEW` items and once over `MANY`; the difference in wall time over the difference in tasks is the cost of a
task: submitting it from the flow's process, scheduling, recording its state in Prefect. Run as a child
(`benchmarks.units`), against a temporary Prefect server; prints one JSON line.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

from prefect import flow, task

FEW, MANY = 20, 220


@task
def nothing(item: int) -> int:
    """A unit of no work."""
    return item


@flow
def mapped(items: int) -> int:
    """Map `nothing` over `items` items and wait for them all."""
    return sum(f.result() for f in nothing.map(list(range(items))))


def main() -> None:
    """Time the two maps on a fresh local cluster and print the cost of a task."""
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="hukou-prefect-home-"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from distributed import LocalCluster
    from prefect.testing.utilities import prefect_test_harness
    from prefect_dask.task_runners import DaskTaskRunner

    walls = {}
    with (
        prefect_test_harness(server_startup_timeout=120),
        LocalCluster(  # type: ignore[no-untyped-call]  # distributed's constructor is untyped
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
    ):
        # DaskTaskRunner is a TaskRunner of its own futures; Prefect's annotation expects the base future type.
        on_cluster = mapped.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))  # type: ignore[arg-type]
        on_cluster(2)  # warm: imports on the workers, the runner's client
        for items in (FEW, MANY):
            t0 = time.perf_counter()
            on_cluster(items)
            walls[items] = time.perf_counter() - t0
    print(json.dumps({"tasks": MANY - FEW, "seconds_per_task": (walls[MANY] - walls[FEW]) / (MANY - FEW)}))


if __name__ == "__main__":
    main()
