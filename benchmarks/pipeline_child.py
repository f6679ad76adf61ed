"""Run the nightly stages in this process and print timings, counts and peak memory as JSON.

Run as a child of `benchmarks.run` so that its peak resident memory is its own.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings


def whole_run_peak(stage_peaks: dict[str, float], maxrss_mib: float) -> float:
    """The run's peak resident memory: the largest stage peak, or the process's high-water mark if larger.

    Each stage starts a new high-water mark (`flows.memory.reset_peak`), and getrusage's
    maxrss reads the same mark: alone it would be the last stage's peak.

    >>> whole_run_peak({"link": 5135.0, "publish": 2825.0}, 2908.0)
    5135.0
    """
    return max([maxrss_mib, *stage_peaks.values()])


def main() -> None:
    """Run the pipeline on the register, rolls and data directory given as arguments; print the JSON line."""
    register, rolls, data = (Path(a) for a in sys.argv[1:4])
    t0 = time.perf_counter()
    outcome = run_pipeline(register, rolls, Settings(data_dir=data, keep_runs=2, quiet_seconds=0), LOCAL)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "run_dir": str(outcome.run_dir),
                "wall_seconds": wall,
                "timings": outcome.timings,
                "stage_peaks_mib": outcome.peaks,
                "counts": {k: v for k, v in outcome.counts.items() if isinstance(v, int | float)},
                "peak_rss_mib": whole_run_peak(outcome.peaks, peak_kib / 1024),
            }
        )
    )


if __name__ == "__main__":
    main()
