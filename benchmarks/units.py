"""`make bench-units`: each work unit's time and memory, and what a province would take on a cluster.

A cluster's speed-up cannot be shown on two cores, so it is projected from what one process measures. For each
city given, a child process runs the night as the cluster runs it, unit by unit: ingest; normalisation's plan,
every batch and every part of a side (`flows.normalise.settle_batch`, `locate_part_apart`: the units mapped over
the workers), and what needs a whole side (keys, places, joining the parts); every step of the link
(`reconcile.linker.STEPS`); classify whole, then in units (`flows.classify`: the plan, every unit, the
finish); publish. Each unit's wall time and peak resident memory is recorded (the
process's high-water mark, reset as the unit begins). The parent prints the units per scale, then projects a
province (`--people`, 65 M) on 8, 32 and 128 workers (`project`): the mapped units divided among the workers, the
whole-city work (the critical path) grown as it grew between the two scales, each mapped task costing what
`benchmarks.task_overhead` measures on a local cluster. Writes work/units.json.

    python -m benchmarks.units --scales 5 50 --city 5=/tmp/city5 --city 50=/tmp/city-s50
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.table import Table

from benchmarks.run import WORK, child, city, console
from benchmarks.scaling import cities_given
from flows import classify as classifying
from flows import memory, stages
from flows.normalise import BATCH_ROWS, SideFacts, finish, join_side, locate_part_apart, plan, settle_batch
from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

MAPPED = {
    ("normalise", "batch"): "one task per batch of raw rows",
    ("normalise", "part"): "one task per settled part of a side: located, keyed, numbered",
    ("classify", "unit"): "one task per unit of whole communities (`UNIT_ROWS` registered each)",
}
"""Normalisation's and classify's units, mapped over a cluster's workers (`flows.nightly`), measured one by one."""
UNIT_ROWS = 50_000
"""Registered people per unit of classify measured (about a dozen of the generated communities): the number of
units grows with the city, as a province's would (`Settings.classify_units`)."""
CLASSIFY_WHOLE = ("classify", "whole")
"""Classify in one step, as it ran on a worker before it was split: measured too, for the walls it would give."""
FOUND = ("record_status", "queue", "community_summary", "coverage", "progress")
"""What classify writes, compared between the whole step and the units."""
CLASSIFY_SPLIT = {("classify", "plan"), ("classify", "unit"), ("classify", "finish")}
CHUNKED = {
    ("link", "block"): "per blocking-key partition",
    ("link", "compare"): "per chunk of candidate pairs",
}
"""The link's steps whose units (`reconcile.units`: a blocking partition, a chunk of pairs) a cluster's workers run
(`flows.link_units`). Here they are measured as steps (all their units in one process, `link`'s `on_step`), each
unit a step's time over its chunks."""
WORKERS = (8, 32, 128)


@dataclass(slots=True)
class Clock:
    """Each unit's wall time and peak resident memory, in the order they ran."""

    units: list[dict[str, Any]] = field(default_factory=list)
    _open: tuple[str, str, float, float | None] | None = None

    @contextlib.contextmanager
    def unit(self, stage: str, unit: str) -> Iterator[None]:
        """Time what runs inside as one unit of `stage`."""
        self.begin(stage, unit)
        yield
        self.end()

    def begin(self, stage: str, unit: str) -> None:
        """A unit begins (ending the one open)."""
        self.end()
        memory.reset_peak()
        self._open = (stage, unit, time.perf_counter(), memory.resident_mib())

    def end(self) -> None:
        """The open unit ends."""
        if self._open is not None:
            stage, unit, t0, start = self._open
            seconds, peak = time.perf_counter() - t0, memory.peak_mib()
            grew = None if peak is None or start is None else max(0.0, peak - start)
            self.units.append({"stage": stage, "unit": unit, "seconds": seconds, "peak_mib": peak, "grew_mib": grew})
            self._open = None


def measure(register: Path, rolls: Path, data: Path) -> dict[str, Any]:
    """Run the night on one machine, unit by unit as a cluster runs it; every unit's time and peak."""
    clock = Clock()

    def ingest(*args: Any, **kwargs: Any) -> dict[str, Any]:
        with clock.unit("ingest", "ingest"):
            return stages.ingest(*args, **kwargs)

    def normalise(run: Path, digest_key: Path, cache: Path | None = None, *, batch_rows: int = BATCH_ROWS) -> Any:
        with clock.unit("normalise", "plan"):
            work = plan(run, cache, batch_rows=batch_rows)
        settled = []
        for batch in work.batches:
            with clock.unit("normalise", "batch"):
                settled.append(settle_batch(work, batch))

        def write(facts: SideFacts, out: Path) -> tuple[int, int]:
            located = []
            for index in range(len(facts.parts)):
                with clock.unit("normalise", "part"):
                    located.append(locate_part_apart(facts, index, digest_key))
            with clock.unit("normalise", "join"):
                written = join_side(located, out)
            clock.begin("normalise", "whole side")
            return written

        clock.begin("normalise", "whole side")  # keys, places, flats, vacancies, quarantine, cache
        counts = finish(work, settled, digest_key, write=write)
        clock.end()
        return counts

    def link(run: Path, settings: Any) -> dict[str, Any]:
        clock.begin("link", "read")
        counts = stages.link_stage(run, settings, on_step=lambda step: clock.begin("link", step))
        clock.end()  # the last step, with writing the results
        return counts

    def classify(run: Path, policy: Any = (), previous: Path | None = None, **_: Any) -> dict[str, Any]:
        with clock.unit(*CLASSIFY_WHOLE):
            LOCAL.classify(run, policy, previous)
        for name in FOUND:  # set aside, to compare with what the units write
            (run / f"{name}.parquet").rename(run / f"whole-{name}.parquet")
        rows = pl.scan_parquet(run / "register.parquet").select(pl.len()).collect().item()
        with clock.unit("classify", "plan"):
            work = classifying.plan(run, max(2, round(rows / UNIT_ROWS)))
        found = []
        for unit in range(len(work.codes)):
            with clock.unit("classify", "unit"):
                found.append(classifying.run_unit(run, work, unit, policy))
        with clock.unit("classify", "finish"):
            counts = classifying.finish(run, work, found, previous)
        same.extend(name for name in FOUND if _same(run / f"whole-{name}.parquet", run / f"{name}.parquet"))
        return counts

    def publish(*args: Any, **kwargs: Any) -> Any:
        with clock.unit("publish", "publish"):
            return LOCAL.publish(*args, **kwargs)

    same: list[str] = []
    steps = replace(LOCAL, ingest=ingest, normalise=normalise, link=link, classify=classify, publish=publish)
    t0 = time.perf_counter()
    outcome = run_pipeline(register, rolls, Settings(data_dir=data, keep_runs=1, quiet_seconds=0), steps)
    return {
        "wall_seconds": time.perf_counter() - t0,
        "register_rows": outcome.counts["register_rows"],
        "roll_rows": outcome.counts["roll_rows"],
        "candidate_pairs": outcome.counts["candidate_pairs"],
        "chunk_rows": Settings().link_chunk_rows,
        "block_units": len(Settings().link_settings().rules) * Settings().link_partitions,
        "units": clock.units,
        "classify_units_equal": same == list(FOUND),
    }


def _same(one: Path, other: Path) -> bool:
    """Whether two Parquet files hold the same rows in the same order."""
    return pl.read_parquet(one).equals(pl.read_parquet(other))


def summarise(units: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    """Per (stage, unit): how many ran, their total and longest time, their largest peak and growth.

    `grew_mib`: how far the resident set rose above where the unit found it (what the unit itself needed;
    `peak_mib` also counts what the process held before). NaN when not measured.

    >>> summarise([{"stage": "s", "unit": "u", "seconds": 1.0, "peak_mib": 5.0, "grew_mib": 2.0},
    ...            {"stage": "s", "unit": "u", "seconds": 3.0, "peak_mib": 4.0, "grew_mib": 3.0}])
    {('s', 'u'): {'count': 2, 'total': 4.0, 'longest': 3.0, 'peak_mib': 5.0, 'grew_mib': 3.0}}
    """
    out: dict[tuple[str, str], dict[str, float]] = {}
    for u in units:
        s = out.setdefault(
            (u["stage"], u["unit"]), {"count": 0, "total": 0.0, "longest": 0.0, "peak_mib": 0.0, "grew_mib": 0.0}
        )
        s["count"] += 1
        s["total"] += u["seconds"]
        s["longest"] = max(s["longest"], u["seconds"])
        s["peak_mib"] = max(s["peak_mib"], u["peak_mib"] or 0.0)
        grew = u.get("grew_mib")
        s["grew_mib"] = math.nan if grew is None or math.isnan(s["grew_mib"]) else max(s["grew_mib"], grew)
    return out


def growth(small: float, large: float, small_rows: int, large_rows: int) -> float:
    """The exponent k of time ∝ rowsᵏ between two measurements (1 for linear; never below 1: a conservative bound).

    >>> round(growth(10.0, 100.0, 1_000, 10_000), 3), growth(10.0, 50.0, 1_000, 10_000)
    (1.0, 1.0)
    """
    if small <= 0 or large <= 0:
        return 1.0
    return max(1.0, math.log(large / small) / math.log(large_rows / small_rows))


def linear(small: float, large: float, small_rows: int, large_rows: int, rows: float) -> float:
    """`large` carried on to `rows` along the line through the two measurements (memory: a base plus a slope).

    >>> linear(600.0, 1_500.0, 1_000, 10_000, 100_000)
    10500.0
    """
    return large + (large - small) / (large_rows - small_rows) * (rows - large_rows)


def project(
    small: dict[str, Any],
    large: dict[str, Any],
    *,
    people: float,
    workers: tuple[int, ...] = WORKERS,
    task_seconds: float = 0.0,
) -> dict[str, Any]:
    """A province of `people` registered, from two scales: the critical path and the wall on each worker count.

    Time: every unit's total grows by its measured exponent between the scales (at least linearly). The
    `MAPPED` units divide among the workers, perfectly (a lower bound on their share), but
    each kind is a wave of its own lasting at least its longest unit: a unit's own time and memory (how far it
    raised the resident set), carried on along the line through the two scales, never below the larger scale's
    (a batch keeps its rows; what it reads of the whole side grows). Everything else is the critical path, run
    where the whole city is, its process's peak carried on the same way.
    Three walls: as built (the link's `CHUNKED` steps mapped too, a chunk lasting its step's time over the
    province's chunks of pairs; classify in units); with classify whole on one worker (`CLASSIFY_WHOLE`, when
    measured), as it ran before it was split; and with the link whole on one worker too. Each mapped task
    adds `task_seconds` (`benchmarks.task_overhead`), counted as if the flow's process paid them one by one.
    """
    rows_s, rows_l = small["register_rows"], large["register_rows"]
    factor = people / rows_l
    by_s, by_l = summarise(small["units"]), summarise(large["units"])
    chunks = max(1, math.ceil(large["candidate_pairs"] * factor / large["chunk_rows"]))
    # Blocking's units are its rules' partitions, however many pairs (a unit then lasts at least their mean).
    count = {key: float(large.get("block_units", chunks) if key == ("link", "block") else chunks) for key in CHUNKED}
    along = (rows_s, rows_l, people)
    rows: list[dict[str, Any]] = []
    for key, measured in by_l.items():
        before = by_s.get(key, measured)
        k = growth(before["total"], measured["total"], rows_s, rows_l)
        seconds = measured["total"] * factor**k
        row = {"unit": "/".join(key), "key": key, "measured": measured["total"], "k": k, "seconds": seconds}
        if key in MAPPED:  # what a worker needs for one: the unit's own growth, not what the process held
            row["longest"] = max(measured["longest"], linear(before["longest"], measured["longest"], *along))
            row["peak_mib"] = max(measured["grew_mib"], linear(before["grew_mib"], measured["grew_mib"], *along))
        elif key in CHUNKED:  # its peak is the whole city's link, not a chunk's: left out
            row["longest"], row["peak_mib"] = seconds / count[key], math.nan
        else:
            row["peak_mib"] = max(measured["peak_mib"], linear(before["peak_mib"], measured["peak_mib"], *along))
        rows.append(row)

    def tasks(row: dict[str, Any]) -> float:
        return float(by_l[row["key"]]["count"] * factor if row["key"] in MAPPED else count[row["key"]])

    whole = CLASSIFY_WHOLE in by_l

    def wall(w: int, split: set[tuple[str, str]], *, classify_whole: bool = False) -> float:
        left_out = CLASSIFY_SPLIT if classify_whole and whole else {CLASSIFY_WHOLE}
        counted = [r for r in rows if r["key"] not in left_out]
        work = sum(max(r["seconds"] / w, r["longest"]) if r["key"] in split else r["seconds"] for r in counted)
        return float(work + task_seconds * sum(tasks(r) for r in counted if r["key"] in split))

    return {
        "people": people,
        "factor": factor,
        "units": sorted(rows, key=lambda r: (r["key"] in MAPPED or r["key"] in CHUNKED, -r["seconds"])),
        "one_machine": sum(r["seconds"] for r in rows if r["key"] != CLASSIFY_WHOLE),
        "task_seconds": task_seconds,
        "as_built": {w: wall(w, set(MAPPED) | set(CHUNKED)) for w in workers},
        "classify_whole": {w: wall(w, set(MAPPED) | set(CHUNKED), classify_whole=True) for w in workers}
        if whole
        else {},
        "link_whole": {w: wall(w, set(MAPPED) - {("classify", "unit")}, classify_whole=True) for w in workers},
    }


def _scale_table(scales: dict[int, dict[str, Any]]) -> Table:
    table = Table(title="work units: count × longest = total seconds · largest peak MiB (+ its own growth)")
    table.add_column("unit")
    for scale in scales:
        table.add_column(f"scale {scale}", justify="right")
    summaries = {scale: summarise(run["units"]) for scale, run in scales.items()}
    keys = list(dict.fromkeys(k for s in summaries.values() for k in s))
    for key in keys:
        cells = []
        for s in summaries.values():
            m = s.get(key)
            own = "" if not m or math.isnan(m["grew_mib"]) else f" (+{m['grew_mib']:,.0f})"
            cells.append(
                f"{int(m['count'])} × {m['longest']:.1f} s = {m['total']:.1f} s · {m['peak_mib']:,.0f}{own}"
                if m
                else "—"
            )
        mark = " *" if key in MAPPED else " ~" if key in CHUNKED else ""
        table.add_row("/".join(key) + mark, *cells)
    return table


def report(scales: dict[int, dict[str, Any]], people: float, task_seconds: float = 0.0) -> None:
    """Print the units per scale and the province's projection from the smallest and largest scale."""
    console.print(_scale_table(scales))
    for scale, run in scales.items():
        if "classify_units_equal" in run:
            same = "the same files" if run["classify_units_equal"] else "DIFFERENT files"
            console.print(f"scale {scale}: classify in units wrote {same} as classify whole")
    console.print("* mapped over a cluster's workers: " + "; ".join(f"{'/'.join(k)}: {v}" for k, v in MAPPED.items()))
    console.print(
        "~ mapped too, measured here as steps (their units in one process): "
        + "; ".join(f"{'/'.join(k)}: {v}" for k, v in CHUNKED.items())
    )
    ordered = sorted(scales)
    if len(ordered) < 2:
        return
    p = project(scales[ordered[0]], scales[ordered[-1]], people=people, task_seconds=task_seconds)
    table = Table(title=f"{people / 1e6:.0f} M registered = {p['factor']:.2f} × scale {ordered[-1]}")
    for column in ("unit", f"scale {ordered[-1]} s", "growth k", "projected s", "a unit's s", "GiB"):
        table.add_column(column, justify="left" if column == "unit" else "right")
    for r in p["units"]:
        mark = " *" if r["key"] in MAPPED else " ~" if r["key"] in CHUNKED else ""
        longest = f"{r['longest']:.1f}" if "longest" in r else "—"
        peak = "—" if math.isnan(r["peak_mib"]) else f"{r['peak_mib'] / 1024:.1f}"
        table.add_row(r["unit"] + mark, f"{r['measured']:.1f}", f"{r['k']:.2f}", f"{r['seconds']:.0f}", longest, peak)
    console.print(table)
    console.print(
        "GiB: the process's peak for the critical path; for a mapped unit, its own growth (* a worker's need)"
    )
    console.print(f"one machine: {p['one_machine'] / 60:.1f} min; a mapped task costs {task_seconds * 1000:.0f} ms")
    for w in p["as_built"]:
        before = f"{p['classify_whole'][w] / 60:.1f} min with classify whole; " if p["classify_whole"] else ""
        console.print(
            f"{w:>4} workers: {p['as_built'][w] / 60:.1f} min as built; {before}"
            f"{p['link_whole'][w] / 60:.1f} min with the link whole too"
        )


def main() -> None:
    """Measure each scale (in a child process each) and print the units and the projection."""
    if len(sys.argv) > 1 and sys.argv[1] == "measure":
        print(json.dumps(measure(*(Path(a) for a in sys.argv[2:5]))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 5], help="two or more, for the projection")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--city", action="append", default=[], metavar="SCALE=DIR", help="a city already generated")
    parser.add_argument("--people", type=float, default=65e6, help="the province projected (registered people)")
    parser.add_argument("--measured", type=Path, help="only report what an earlier run saved (work/units.json)")
    args = parser.parse_args()
    if args.measured:
        saved = json.loads(args.measured.read_text())
        measured = saved.get("scales", saved)  # an earlier file held only the scales
        report({int(k): v for k, v in measured.items()}, args.people, saved.get("task_seconds", 0.0))
        return
    given = cities_given(parser, args.city)
    scales: dict[int, dict[str, Any]] = {}
    for scale in sorted(set(args.scales) | set(given)):
        source = given.get(scale) or city(scale, args.seed)[0]
        data = WORK / f"data-units-s{scale}"
        shutil.rmtree(data, ignore_errors=True)
        console.print(f"scale {scale}: measuring units …")
        register = next((source / "register").iterdir())
        scales[scale] = child("benchmarks.units", "measure", str(register), str(source / "rolls"), str(data))
        shutil.rmtree(data, ignore_errors=True)
    console.print("what a mapped task costs on a local cluster …")
    task_seconds = child("benchmarks.task_overhead")["seconds_per_task"]
    saved = {"scales": {str(k): v for k, v in scales.items()}, "task_seconds": task_seconds}
    (WORK / "units.json").write_text(json.dumps(saved, indent=1))
    report(scales, args.people, task_seconds)


if __name__ == "__main__":
    main()
