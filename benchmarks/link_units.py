"""What running linking's units through files costs: the link stage in turn, and through files in this process.

On a cluster every unit of linking (`flows.link_units`) reads its work from a file and writes its result to
one, and both sides are written once for the workers to read. This measures that traffic without a cluster:
the link stage of a run directory, alternately in turn (`reconcile.units.IN_TURN`) and through files with each
unit run here (`flows.link_units.in_this_process`), each in a child process of its own (wall and peak
resident memory), `--rounds` times. The results must be equal (checked). Network storage is not measured.

    python -m benchmarks.link_units /tmp/data10/runs/20261128T204439Z-58cd --rounds 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl
from polars.testing import assert_frame_equal
from rich.table import Table

from benchmarks.run import child, console
from flows import link_units, memory, stages
from flows.settings import Settings
from reconcile.units import IN_TURN, Sides, Step, Units

if TYPE_CHECKING:
    from collections.abc import Sequence

W = TypeVar("W")

READ = ("register.parquet", "roll.parquet", "decisions.parquet")
"""What the link stage reads of a run directory."""
WRITTEN = ("links", "candidates", "duplicates", "pair_decisions")
MODES = ("in turn", "through files")


def measure(run: Path, mode: str) -> dict[str, Any]:
    """The link stage of `run` (its inputs copied to a folder of its own) in `mode`: wall s, peak MiB, units."""
    work = Path(tempfile.mkdtemp(prefix="hukou-link-units-"))
    for name in READ:
        shutil.copy(run / name, work / name)
    settings = Settings(data_dir=work).link_settings()
    memory.reset_peak()
    started = time.perf_counter()
    try:
        if mode == "in turn":
            timed = Timed(IN_TURN)
            counts = stages.link_stage(work, settings, units=timed)
        else:
            with link_units.through_files(work / "link.work", link_units.in_this_process) as units:
                timed = Timed(units)
                counts = stages.link_stage(work, settings, units=timed)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # the parent removes it only after a result
        raise
    wall = time.perf_counter() - started
    return {
        "mode": mode,
        "wall": wall,
        "peak_mib": memory.peak_mib(),
        "units": sum(timed.count.values()),
        "by_kind": timed.seconds,
        "links": counts["links_auto"] + counts["links_review"] + counts["links_operator"],
        "out": str(work),
    }


class Timed:
    """`units`, timing each kind of step (all its units, with their files when through files)."""

    def __init__(self, units: Units) -> None:
        self.units = units
        self.seconds: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def map(self, step: Step[W], works: Sequence[W], sides: Sides) -> list[pl.DataFrame]:
        """`units.map`, timed."""
        kind = type(step).__name__
        started = time.perf_counter()
        out = self.units.map(step, works, sides)
        self.seconds[kind] = self.seconds.get(kind, 0.0) + time.perf_counter() - started
        self.count[kind] = self.count.get(kind, 0) + len(works)
        return out


def _same(a: Path, b: Path) -> bool:
    """Whether two link stages wrote the same, probabilities within 1e-9 (the assignment's sums may round apart)."""
    try:
        for name in WRITTEN:
            assert_frame_equal(
                pl.read_parquet(a / f"{name}.parquet"), pl.read_parquet(b / f"{name}.parquet"), abs_tol=1e-9, rel_tol=0
            )
    except AssertionError:
        return False
    return True


def main() -> None:
    """Alternate the two modes in child processes; print each run and the ratio of the medians."""
    if len(sys.argv) > 1 and sys.argv[1] == "measure":
        print(json.dumps(measure(Path(sys.argv[2]), sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run directory holding register, roll and decisions Parquet")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for mode in MODES:
            results.append(child("benchmarks.link_units", "measure", str(args.run), mode))
            console.print(f"{mode}: {results[-1]['wall']:.1f} s, peak {results[-1]['peak_mib']:,.0f} MiB")
    first = {r["mode"]: Path(r["out"]) for r in results[:2]}
    equal = _same(first["in turn"], first["through files"])
    table = Table(title=f"the link stage of {args.run.name}: in turn and through files (each unit here)")
    for column in ("mode", "wall s (each round)", "median s", "peak MiB", "units"):
        table.add_column(column, justify="left" if column == "mode" else "right")
    medians = {}
    for mode in MODES:
        mine = [r for r in results if r["mode"] == mode]
        medians[mode] = statistics.median(r["wall"] for r in mine)
        table.add_row(
            mode,
            " / ".join(f"{r['wall']:.1f}" for r in mine),
            f"{medians[mode]:.1f}",
            f"{max(r['peak_mib'] for r in mine):,.0f}",
            str(mine[0]["units"]),
        )
    console.print(table)
    kinds = Table(title="each kind of unit: median s in turn → through files")
    for column in ("unit", *MODES):
        kinds.add_column(column, justify="left" if column == "unit" else "right")
    for kind in results[0]["by_kind"]:
        kinds.add_row(
            kind, *(f"{statistics.median(r['by_kind'][kind] for r in results if r['mode'] == m):.1f}" for m in MODES)
        )
    console.print(kinds)
    console.print(
        f"through files / in turn: {medians['through files'] / medians['in turn']:.3f}; "
        f"results equal (probabilities within 1e-9): {equal}; links: {results[0]['links']:,}"
    )
    for r in results:
        shutil.rmtree(r["out"], ignore_errors=True)


if __name__ == "__main__":
    main()
