"""Classify made in units of communities, through the files a cluster's workers read, writes what one step writes."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flows import classify, stages
from reconcile.linker import LinkSettings
from tests.flows import run_dirs
from tests.flows.run_dirs import copied

if TYPE_CHECKING:
    from pathlib import Path

WRITTEN = ("record_status", "queue", "community_summary", "coverage", "progress")


@pytest.fixture(scope="module")
def linked(small_city: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = run_dirs.normalised(small_city, tmp_path_factory.mktemp("linked"))
    stages.link_stage(run, LinkSettings())
    return run


def _assert_same_files(one: Path, other: Path) -> None:
    for name in WRITTEN:
        assert_frame_equal(pl.read_parquet(one / f"{name}.parquet"), pl.read_parquet(other / f"{name}.parquet"))
    assert (one / "community_summary.svg").exists()  # drawn from the summary, the same but for its title


@pytest.mark.parametrize("units", [2, 9, 60])
def test_classify_in_units_writes_what_one_step_writes(linked: Path, tmp_path: Path, units: int) -> None:
    before = copied(linked, tmp_path / "before")
    classify.classify_stage(before)  # a previous night's queue: the progress since then is written too
    here, apart = copied(linked, tmp_path / "here"), copied(linked, tmp_path / "apart")
    counts_here = classify.classify_stage(here, previous=before)
    counts_apart = classify.classify_stage(apart, previous=before, units=units)
    assert counts_apart.pop("classify_units") == min(units, counts_here["communities"])
    assert counts_apart == counts_here
    _assert_same_files(apart, here)
    assert not (apart / classify.WORK).exists()


def test_a_unit_run_twice_leaves_the_first_attempt_unread(linked: Path, tmp_path: Path) -> None:
    """A worker lost after a unit finished: Prefect runs it again, and only the attempt it returns is read."""
    here, apart = copied(linked, tmp_path / "here"), copied(linked, tmp_path / "apart")
    classify.classify_stage(here)
    work = classify.plan(apart, 4)
    found = [classify.run_unit(apart, work, unit) for unit in range(len(work.codes))]
    again = classify.run_unit(apart, work, 1)
    assert again != found[1]
    (found[1] / "statuses.parquet").write_bytes(b"not parquet")  # were it read, the finish would fail
    classify.finish(apart, work, [found[0], again, *found[2:]])
    _assert_same_files(apart, here)
    assert not work.folder.exists()


def test_a_failing_unit_fails_the_stage_and_leaves_no_work_behind(
    linked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apart = copied(linked, tmp_path / "apart")
    real = classify.run_unit

    def fails_third(run: Path, work: classify.Plan, unit: int, policy: object = ()) -> Path:
        if unit == 2:
            raise OSError("the shared disk went away")
        return real(run, work, unit)

    monkeypatch.setattr(classify, "run_unit", fails_third)
    with pytest.raises(OSError, match="shared disk"):
        classify.classify_stage(apart, units=5)
    assert not (apart / classify.WORK).exists()
    assert not (apart / "record_status.parquet").exists()


def test_a_unit_reads_only_its_part(linked: Path, tmp_path: Path) -> None:
    """Each unit's inputs are its communities' records and the few they reach: together little more than the city."""
    apart = copied(linked, tmp_path / "apart")
    work = classify.plan(apart, 8)
    whole = pl.scan_parquet(apart / "register.parquet").select(pl.len()).collect().item()
    parts = pl.scan_parquet(work.folder / "register" / "*" / "*.parquet", hive_partitioning=False)
    assert whole <= parts.select(pl.len()).collect().item() < 1.2 * whole
    assert len(work.codes) == 8
    seen = pl.concat(
        [pl.read_parquet(apart / f"{side}.parquet", columns=["community_code"]) for side in ("register", "roll")]
        + [classify.roll_files(apart).select("community_code")]
    )
    every = [c for codes in work.codes for c in codes]
    assert len(every) == len(set(every)) == seen["community_code"].n_unique()  # each community in one unit
    assert set(every) == set(seen["community_code"])


def test_a_unit_that_finds_its_part_gone_fails_rather_than_drop_its_communities(linked: Path, tmp_path: Path) -> None:
    """A work folder a worker does not see whole (a stale shared disk): no night published without a community."""
    apart = copied(linked, tmp_path / "apart")
    work = classify.plan(apart, 3)
    shutil.rmtree(work.folder / "roll" / "unit=1")
    classify.run_unit(apart, work, 0)
    with pytest.raises(RuntimeError, match=r"classify unit 1: none roll rows in .*planned"):
        classify.run_unit(apart, work, 1)
