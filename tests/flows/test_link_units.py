"""Linking's units run through files (as a cluster's workers run them) write what the link stage writes here."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flows import link_units, stages
from reconcile.linker import LinkSettings
from reconcile.units import Sides
from tests.flows import run_dirs
from tests.flows.run_dirs import copied

if TYPE_CHECKING:
    from pathlib import Path

    from reconcile.units import Step

SETTINGS = replace(LinkSettings(), partitions=2, chunk_rows=2_000)
WRITTEN = ("links", "candidates", "duplicates", "pair_decisions")


@pytest.fixture(scope="module")
def normalised(small_city: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_dirs.normalised(small_city, tmp_path_factory.mktemp("normalised"))


def test_units_through_files_write_what_the_stage_writes_in_turn(normalised: Path, tmp_path: Path) -> None:
    here, apart = copied(normalised, tmp_path / "here"), copied(normalised, tmp_path / "apart")
    calls: list[tuple[str, int]] = []

    def run_all(step: Step[Any], works: list[Any], sides: link_units.SharedSides, folder: Path) -> list[Path]:
        calls.append((type(step).__name__, len(works)))
        assert all(isinstance(w, int | link_units.Sent) for w in works)  # partition numbers or files, no frames
        return link_units.in_this_process(step, works, sides, folder)

    counts_here = stages.link_stage(here, SETTINGS)
    with link_units.through_files(apart / "link.work", run_all) as units:
        counts_apart = stages.link_stage(apart, SETTINGS, units=units)
    assert counts_apart == counts_here
    assert counts_here["links_auto"] > 1000
    for name in WRITTEN:
        assert_frame_equal(
            pl.read_parquet(apart / f"{name}.parquet"),
            pl.read_parquet(here / f"{name}.parquet"),
            abs_tol=1e-9,
            rel_tol=0,
        )
    assert json.loads((apart / "model.json").read_text()) == json.loads((here / "model.json").read_text())
    assert {kind for kind, _ in calls} == {"RulePartition", "ComparePairs"}
    assert sum(n for kind, n in calls if kind == "ComparePairs") > 2
    assert not (apart / "link.work").exists()


def test_a_unit_run_again_writes_a_file_of_its_own_and_the_work_folder_goes_even_on_failure(tmp_path: Path) -> None:
    sides = Sides(pl.DataFrame({"idx": [0, 1], "name": ["a", "b"]}), pl.DataFrame({"idx": [0], "name": ["a"]}))

    def first_rows(work: pl.DataFrame, sides: Sides) -> pl.DataFrame:
        return work.join(sides.register, left_on="rid", right_on="idx", maintain_order="left")

    def run_twice(step: Step[Any], works: list[Any], shared: link_units.SharedSides, folder: Path) -> list[Path]:
        first = link_units.in_this_process(step, works, shared, folder)
        again = link_units.in_this_process(step, works, shared, folder)  # a worker lost: the units run again
        assert not set(first) & set(again)
        return again

    folder = tmp_path / "link.work"
    with link_units.through_files(folder, run_twice) as units:
        (out,) = units.map(first_rows, [pl.DataFrame({"rid": [1, 0]})], sides)
        assert out.rows() == [(1, "b"), (0, "a")]
    assert not folder.exists()

    def broken(step: Step[Any], works: list[Any], shared: link_units.SharedSides, folder: Path) -> list[Path]:
        raise RuntimeError("a worker fell over")

    with pytest.raises(RuntimeError), link_units.through_files(folder, broken) as units:
        units.map(first_rows, [pl.DataFrame({"rid": [0]})], sides)
    assert not folder.exists()
