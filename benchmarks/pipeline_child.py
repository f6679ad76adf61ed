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
                "peak_rss_mib": peak_kib / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
