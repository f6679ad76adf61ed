"""The work-unit benchmark: it times the units a cluster runs, and projects a province from two scales."""

from __future__ import annotations

import doctest
import math
from typing import TYPE_CHECKING, Any

from benchmarks import units
from reconcile.linker import STEPS

if TYPE_CHECKING:
    from pathlib import Path


def test_its_examples_hold() -> None:
    tried = doctest.testmod(units)
    assert tried.attempted > 0
    assert tried.failed == 0


def test_measuring_times_every_unit_of_a_night(small_city: dict[str, Path], tmp_path: Path) -> None:
    measured = units.measure(small_city["register"], small_city["rolls"], tmp_path / "data")
    ran = [(u["stage"], u["unit"]) for u in measured["units"]]
    assert ran[:2] == [("ingest", "ingest"), ("normalise", "plan")]
    assert ran.count(("normalise", "batch")) == ran.count(("normalise", "part")) == 2  # the small city: one a side
    assert ran.count(("normalise", "join")) == 2
    assert ("normalise", "whole side") in ran
    assert {("link", step) for step in STEPS} <= set(ran)
    classify = ran[ran.index(units.CLASSIFY_WHOLE) : -1]
    split = [("classify", "plan"), ("classify", "unit"), ("classify", "unit"), ("classify", "finish")]
    assert classify == [units.CLASSIFY_WHOLE, *split]  # the small city: whole, then in two units of communities
    assert ran[-1] == ("publish", "publish")
    assert measured["classify_units_equal"] is True
    assert all(u["seconds"] > 0 for u in measured["units"])
    assert sum(u["seconds"] for u in measured["units"]) <= measured["wall_seconds"]
    assert (tmp_path / "data" / "hukou.duckdb").exists()


def _scale(rows: int, *, batch: float, batches: int, assign: float, peak: float) -> dict[str, Any]:
    return {
        "register_rows": rows,
        "candidate_pairs": 4 * rows,
        "chunk_rows": 1_000,
        "units": [
            *(
                {"stage": "normalise", "unit": "batch", "seconds": batch, "peak_mib": peak, "grew_mib": 300.0}
                for _ in range(batches)
            ),
            {"stage": "link", "unit": "compare", "seconds": 0.5 * batches, "peak_mib": peak, "grew_mib": 10.0},
            {"stage": "link", "unit": "assign", "seconds": assign, "peak_mib": peak, "grew_mib": 10.0},
        ],
    }


def test_a_province_divides_the_mapped_work_and_keeps_the_critical_path() -> None:
    small = _scale(1_000, batch=2.0, batches=1, assign=1.0, peak=500.0)
    large = _scale(10_000, batch=2.0, batches=10, assign=20.0, peak=1_400.0)
    p = units.project(small, large, people=100_000, workers=(1, 10, 1_000))
    by = {u["unit"]: u for u in p["units"]}
    assign, batch, compare = by["link/assign"], by["normalise/batch"], by["link/compare"]
    assert p["units"][0]["unit"] == "link/assign"  # the critical path first
    assert math.isclose(assign["k"], math.log(20) / math.log(10))  # grew faster than the rows: so projected
    assert math.isclose(assign["seconds"], 20.0 * 10 ** assign["k"])
    assert math.isclose(assign["peak_mib"], 1_400 + 0.1 * 90_000)  # a base and a slope
    assert math.isclose(batch["seconds"], 200.0)  # ten times the batches
    assert batch["longest"] == 2.0  # a batch keeps its size
    assert batch["peak_mib"] == 300.0  # its own growth, not the process's peak
    assert math.isnan(compare["peak_mib"])  # the whole link's peak, not a chunk's
    assert math.isclose(compare["seconds"], 50.0)
    assert math.isclose(compare["longest"], 50.0 / 400)  # the province's 400 chunks of pairs
    built, whole = p["as_built"], p["link_whole"]
    assert math.isclose(built[1], p["one_machine"])
    assert built[1] > built[10] > built[1_000]
    assert math.isclose(whole[1_000], assign["seconds"] + compare["seconds"] + 2.0)  # the path, the link, a batch
    assert math.isclose(built[10], assign["seconds"] + 20.0 + 5.0)  # each wave divided: batches, then chunks
    assert math.isclose(built[1_000], assign["seconds"] + 2.0 + 50.0 / 400)  # each wave at least its longest unit


def test_each_mapped_task_adds_its_cost_to_the_wall() -> None:
    small = _scale(1_000, batch=2.0, batches=1, assign=1.0, peak=500.0)
    large = _scale(10_000, batch=2.0, batches=10, assign=20.0, peak=1_400.0)
    free = units.project(small, large, people=100_000, workers=(10,))
    paid = units.project(small, large, people=100_000, workers=(10,), task_seconds=0.5)
    assert math.isclose(paid["link_whole"][10] - free["link_whole"][10], 0.5 * 100)  # the province's 100 batches
    assert math.isclose(paid["as_built"][10] - free["as_built"][10], 0.5 * (100 + 400))  # and 400 chunks
    assert paid["one_machine"] == free["one_machine"]


def test_classify_in_units_divides_among_the_workers_and_whole_does_not() -> None:
    small = _scale(1_000, batch=2.0, batches=1, assign=1.0, peak=500.0)
    large = _scale(10_000, batch=2.0, batches=10, assign=20.0, peak=1_400.0)
    for scale, n in ((small, 1), (large, 10)):
        scale["units"] += [
            {"stage": "classify", "unit": "whole", "seconds": 3.0 * n, "peak_mib": 900.0, "grew_mib": 400.0},
            {"stage": "classify", "unit": "plan", "seconds": 0.5 * n, "peak_mib": 900.0, "grew_mib": 100.0},
            *({"stage": "classify", "unit": "unit", "seconds": 1.0, "peak_mib": 600.0, "grew_mib": 50.0},) * (2 * n),
            {"stage": "classify", "unit": "finish", "seconds": 0.5 * n, "peak_mib": 900.0, "grew_mib": 100.0},
        ]
    p = units.project(small, large, people=100_000, workers=(10,))
    base = units.project(
        _scale(1_000, batch=2.0, batches=1, assign=1.0, peak=500.0),
        _scale(10_000, batch=2.0, batches=10, assign=20.0, peak=1_400.0),
        people=100_000,
        workers=(10,),
    )
    assert math.isclose(p["one_machine"] - base["one_machine"], 50 + 200 + 50)  # the split, not the whole step
    assert math.isclose(p["as_built"][10] - base["as_built"][10], 50 + 200 / 10 + 50)  # its units divided
    assert math.isclose(p["classify_whole"][10] - base["as_built"][10], 300)  # the whole step on one worker
    assert math.isclose(p["link_whole"][10] - base["link_whole"][10], 300)
