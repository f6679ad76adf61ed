"""Writing the city community by community: same bytes for a seed, truth that matches the files, bounded memory."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import tracemalloc
from typing import TYPE_CHECKING

import polars as pl
import pytest
from typer.testing import CliRunner

from cli.main import app
from flows.io.sources import read_table
from schemas.inputs import ROLL
from synth import build_city, write_city
from synth import write as synth_write
from synth.city import dwellings
from synth.spill import Resident, Spill

if TYPE_CHECKING:
    from pathlib import Path


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_city(build_city(households=600, seed=21), tmp_path_factory.mktemp("city"), workers=1)


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path, city: dict[str, Path]) -> None:
    again = write_city(build_city(households=600, seed=21), tmp_path / "again", workers=1)
    first = _files(city["truth"].parent)
    assert first == _files(again["truth"].parent)
    assert len([f for f in first if f.startswith("rolls/")]) == 48
    other = write_city(build_city(households=600, seed=22), tmp_path / "other", workers=1)
    assert _files(other["truth"].parent) != first


@pytest.mark.slow
def test_the_same_bytes_whatever_the_number_of_workers(tmp_path: Path, city: dict[str, Path]) -> None:
    parallel = write_city(build_city(households=600, seed=21), tmp_path / "parallel", workers=2)
    assert _files(parallel["truth"].parent) == _files(city["truth"].parent)


def test_nothing_is_left_behind_but_the_delivery(city: dict[str, Path]) -> None:
    root = city["truth"].parent
    assert sorted(p.name for p in root.iterdir()) == ["register", "rolls", "truth"]


def test_register_truth_has_one_row_per_register_row(city: dict[str, Path]) -> None:
    with city["register"].open(encoding="gb18030", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    truth = pl.read_parquet(city["truth"] / "register_truth.parquet")
    assert truth["register_row"].to_list() == list(range(2, len(rows) + 2))
    assert truth["community_code"].to_list() == [r[12] for r in rows]
    assert truth["pid"].is_unique().all()


def test_each_roll_reads_back_as_its_truth_rows(city: dict[str, Path]) -> None:
    truth = pl.read_parquet(city["truth"] / "roll_truth.parquet")
    for path in sorted(city["rolls"].iterdir()):
        table = read_table(path, ROLL)
        expected = truth.filter(pl.col("roll_file") == path.name)
        assert table.frame["source_row"].to_list() == expected["roll_row"].to_list(), path.name
        assert set(expected["community_code"]) == {path.name[:12]}


def test_everyone_living_elsewhere_is_on_that_community_s_roll(city: dict[str, Path]) -> None:
    register = pl.read_parquet(city["truth"] / "register_truth.parquet")
    roll = pl.read_parquet(city["truth"] / "roll_truth.parquet").filter(pl.col("status") != "duplicate")
    linked = roll.filter(pl.col("register_row").is_not_null())
    assert linked["register_row"].is_unique().all()  # one first record per registered resident
    joined = register.join(linked, on="register_row", how="left", suffix="_roll")
    elsewhere = joined.filter(pl.col("other_community_code").is_not_null())
    assert elsewhere.height > 0
    # Registered here, absent: on the roll of the community they live in, as unregistered there.
    assert (elsewhere["status"] == "absent").all()
    assert (elsewhere["community_code_roll"] == elsewhere["other_community_code"]).all()
    assert (elsewhere["status_roll"] == "unregistered").all()
    assert (elsewhere["other_community_code_roll"] == elsewhere["community_code"]).all()
    # Living at home: on their own community's roll.
    home = joined.filter(pl.col("status").is_in(["consistent", "moved_within"]))
    assert (home["community_code_roll"] == home["community_code"]).all()
    assert (home["status_roll"] == home["status"]).all()
    # Nobody else registered is on any roll.
    gone = joined.filter(pl.col("status").is_in(["inactive", "quarantine"]) | (pl.col("status") == "absent"))
    assert (
        gone.filter(pl.col("other_community_code").is_null())["roll_file"].null_count()
        == gone.filter(pl.col("other_community_code").is_null()).height
    )
    migrants = roll.filter(pl.col("register_row").is_null())
    assert migrants.height > 0
    assert (migrants["status"] == "unregistered").all()
    assert migrants["other_community_code"].null_count() == migrants.height


def test_about_one_roll_record_in_a_hundred_is_a_duplicate(city: dict[str, Path]) -> None:
    roll = pl.read_parquet(city["truth"] / "roll_truth.parquet")
    duplicates = roll.filter(pl.col("status") == "duplicate")
    assert 0 < duplicates.height < 0.03 * roll.height
    assert duplicates["pid"].is_in(roll.filter(pl.col("status") != "duplicate")["pid"].implode()).all()


def test_members_who_moved_together_share_a_free_dwelling() -> None:
    city = build_city(households=800, seed=3)
    community = city.communities[2]
    homes = dwellings(city.seed, community)

    def mover(pid: int, household: str) -> Resident:
        return Resident(
            pid, pid, "王伟", "男", dt.date(1980, 1, 1), "x", None, pid, "unregistered", "c", False, household
        )

    movers = [mover(1, "a"), mover(2, "b"), mover(3, "a"), mover(4, "c")]
    housed = synth_write._housed(city.seed, community, movers)
    assert housed[0].lives_at == housed[2].lives_at
    assert all(r.lives_at in homes[int(len(homes) / 1.6) :] for r in housed)
    assert housed == synth_write._housed(city.seed, community, movers)


def test_the_spill_gives_back_what_was_set_aside_in_order(tmp_path: Path) -> None:
    spill = Spill(tmp_path, batch=3)
    people = [Resident(i, i, "n", "女", dt.date(1990, 1, 1), "x", ("p",), i, "s", None, False, "h") for i in range(10)]
    for person in people:
        spill.add(person.pid % 2, person)
    spill.flush()
    assert spill.take(0) == people[0::2]
    assert spill.take(1) == people[1::2]
    assert spill.take(0) == []
    assert list(tmp_path.iterdir()) == []


def _peak(out: Path, **plan: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        write_city(build_city(seed=1, **plan), out, workers=1)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_does_not_grow_with_the_number_of_communities(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three times the communities of the same size: the same peak, once the batches are small."""
    monkeypatch.setattr(synth_write, "SPILL_BATCH", 500)
    monkeypatch.setattr(synth_write, "TRUTH_BATCH", 500)
    _peak(tmp_path / "warm", scale=1, households=300)  # caches, imports
    small = _peak(tmp_path / "small", scale=1, households=1000)
    large = _peak(tmp_path / "large", scale=3, households=3000)
    assert large < small * 1.1 + 1_000_000, (small, large)


def test_the_command_generates_a_city(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", str(tmp_path / "c"), "--households", "200", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "48 communities" in result.output
    assert len(list((tmp_path / "c" / "rolls").iterdir())) == 48
