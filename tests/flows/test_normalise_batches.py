"""Normalising in batches equals normalising every row at once (`reconcile.prepare.prepare`).

The stage holds a batch of rows and a few narrow whole-side columns (`flows.normalise`); lineage, places,
flats and record keys are learnt from all rows. Wherever the batches are cut, nothing may change.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from flows import stages
from flows.normalise import SideFacts, finish, join_side, locate_part_apart, normalise, plan, settle_batch
from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from reconcile.prepare import prepare
from schemas.inputs import REGISTER, ROLL
from schemas.records import QUARANTINE_SCHEMA
from services.digest_key import load_or_create
from tests.reconcile.helpers import valid_id

if TYPE_CHECKING:
    from collections.abc import Mapping

CODE = "330282001001"
OUTPUTS = ("register", "roll", "vacant", "quarantine")


def _run(raw_register: pl.DataFrame, raw_rolls: pl.DataFrame, run: Path, key: Path, batch_rows: int) -> dict[str, int]:
    run.mkdir(parents=True)
    raw_register.write_parquet(run / "raw_register.parquet")
    raw_rolls.write_parquet(run / "raw_rolls.parquet")
    pl.DataFrame(schema=QUARANTINE_SCHEMA).write_parquet(run / "malformed.parquet")
    counts: dict[str, int] = normalise(run, key, batch_rows=batch_rows)
    return counts


def _outputs(run: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(run / f"{name}.parquet") for name in OUTPUTS}


def _assert_as_prepared(raw_register: pl.DataFrame, raw_rolls: pl.DataFrame, run: Path, key: Path) -> None:
    """The stage's files hold what `prepare` gives for all rows at once."""
    whole = prepare(raw_register, raw_rolls, secret=load_or_create(key))
    out = _outputs(run)
    assert_frame_equal(out["register"], whole.register)
    assert_frame_equal(out["roll"], whole.roll)
    assert_frame_equal(out["vacant"], whole.vacant)
    assert_frame_equal(out["quarantine"], whole.quarantine)


# Hand-made rows: sheets, households without numbers, empty flats, rows that fail the contracts.

_NAME = st.sampled_from([None, "张伟", "张 伟", "王芳", "李强", "空置", "（空）"])
_ID = st.sampled_from([None, "", valid_id("33028219900101123"), valid_id("33028219800101002"), "330282"])
_ADDRESS = st.sampled_from(
    [None, "金山花园1幢2单元301室", "金山花园1幢301室", "金山花园2-1-101", "东村2组44号", "某处"]
)
_SHEET = st.sampled_from([None, "一组", "二组"])
_FILE = st.sampled_from(["a.xlsx", "b.xlsx"])


_REGISTER = {
    "household_no": st.sampled_from([None, "h1", "h2"]),
    "community_code_raw": st.sampled_from([CODE, None]),
    "community_name": st.just("青少年宫路社区"),
    "street": st.just("浒山街道"),
    "person_state": st.sampled_from([None, "正常", "迁出"]),
}
_ROLL = {"note": st.sampled_from([None, "无人居住"]), "source_file": _FILE}


@st.composite
def _rows(
    draw: st.DrawFn, side: Mapping[str, st.SearchStrategy[str | None]], *, min_size: int
) -> list[dict[str, str | None]]:
    """People as either side writes them: name, ID number, address and sheet, and the side's own columns."""
    return [
        {"name_raw": draw(_NAME), "id_raw": draw(_ID), "address_raw": draw(_ADDRESS), "source_sheet": draw(_SHEET)}
        | {column: draw(values) for column, values in side.items()}
        for _ in range(draw(st.integers(min_value=min_size, max_value=9)))
    ]


def _framed(rows: list[dict[str, str | None]], columns: list[str], file: str | None) -> pl.DataFrame:
    names = [*columns, "source_file", "source_sheet"]
    frame = pl.DataFrame([{c: r.get(c) for c in names} for r in rows], schema=dict.fromkeys(names, pl.String))
    if file is not None:
        frame = frame.with_columns(pl.lit(file).alias("source_file"))
    return frame.with_columns((pl.int_range(pl.len()) + 2).cast(pl.Int64).alias("source_row"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    register_rows=_rows(_REGISTER, min_size=1),
    roll_rows=_rows(_ROLL, min_size=0),
    batch_rows=st.integers(min_value=1, max_value=4),
)
def test_batches_equal_all_rows_at_once(
    register_rows: list[dict[str, str | None]], roll_rows: list[dict[str, str | None]], batch_rows: int
) -> None:
    register = _framed(register_rows, REGISTER.internal_names, "户籍.xlsx")
    rolls = _framed(roll_rows, ROLL.internal_names, None).with_columns(pl.lit(CODE).alias("file_community"))
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "digest.key"
        _run(register, rolls, Path(tmp) / "run", key, batch_rows)
        _assert_as_prepared(register, rolls, Path(tmp) / "run", key)


# A generated city, cut into batches of several sizes.


@pytest.fixture(scope="module")
def ingested(small_city: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("ingested")
    stages.ingest(small_city["register"], small_city["rolls"], run)
    return run


@pytest.mark.parametrize("batch_rows", [97, 1_000])
def test_a_city_in_batches_equals_it_at_once(ingested: Path, tmp_path: Path, batch_rows: int) -> None:
    key = tmp_path / "digest.key"
    runs = {}
    for rows in (batch_rows, 10**9):
        runs[rows] = tmp_path / f"run-{rows}"
        runs[rows].mkdir()
        for name in ("raw_register.parquet", "raw_rolls.parquet", "malformed.parquet"):
            shutil.copy(ingested / name, runs[rows] / name)
        normalise(runs[rows], key, batch_rows=rows)
    assert pl.read_parquet(ingested / "raw_register.parquet").height > 2 * batch_rows  # several batches
    batched, whole = _outputs(runs[batch_rows]), _outputs(runs[10**9])
    for name in OUTPUTS:
        assert_frame_equal(batched[name], whole[name])
    assert not (runs[batch_rows] / "normalise.work").exists()
    raw_register = pl.read_parquet(ingested / "raw_register.parquet")
    raw_rolls = pl.read_parquet(ingested / "raw_rolls.parquet")
    prepared = prepare(raw_register, raw_rolls, secret=load_or_create(key))
    assert_frame_equal(whole["register"], prepared.register)
    assert_frame_equal(whole["roll"], prepared.roll)


# The units as a cluster's workers run them (`flows.nightly`): apart, in any order, a batch perhaps twice.


def _copy_raw(ingested: Path, run: Path) -> Path:
    run.mkdir()
    for name in ("raw_register.parquet", "raw_rolls.parquet", "malformed.parquet"):
        shutil.copy(ingested / name, run / name)
    return run


def test_units_run_apart_in_any_order_equal_the_stage(ingested: Path, tmp_path: Path) -> None:
    """Batches and parts as workers run them: each writes files of its own attempt, and a stale one is never read.

    A batch opens the cache itself and writes tonight's cache rows as a part of its own.
    """
    key = tmp_path / "digest.key"
    here, apart = _copy_raw(ingested, tmp_path / "here"), _copy_raw(ingested, tmp_path / "apart")
    normalise(here, key, tmp_path / "cache-here", batch_rows=300)
    work = plan(apart, tmp_path / "cache-apart", batch_rows=300)
    units = list(reversed(work.batches))
    cut_off = settle_batch(work, units[0])  # a worker lost after writing: the batch runs again
    settled = [settle_batch(work, unit) for unit in units]
    shutil.copy(settled[1].valid, cut_off.valid)  # what a reader of the wrong attempt would take: another's rows
    assert len(units) > 4
    assert settled[0].valid != cut_off.valid
    with pytest.raises(ValueError, match="1 batches were not settled"):
        finish(work, settled[1:], key)

    def parts_apart(facts: SideFacts, out: Path) -> tuple[int, int]:
        """Each part located on its own, last first; part 0 twice, its first attempt cut off and left wrong."""
        stale = locate_part_apart(facts, 0, key)
        located = [locate_part_apart(facts, i, key) for i in reversed(range(len(facts.parts)))][::-1]
        shutil.copy(located[1].path, stale.path)
        assert len(located) > 2
        assert located[0].path != stale.path
        return join_side(located, out)

    counts = finish(work, settled, key, write=parts_apart)
    assert counts == normalise(_copy_raw(ingested, tmp_path / "again"), key, batch_rows=10**9) | {
        "register_rows_reused": 0,
        "roll_rows_reused": 0,
    }
    for name, frame in _outputs(here).items():
        assert_frame_equal(_outputs(apart)[name], frame)
    assert not work.folder.exists()
    for side in ("register", "roll"):
        kept = [
            sorted((tmp_path / cache).glob(f"normalised-{side}-*.parquet")) for cache in ("cache-here", "cache-apart")
        ]
        assert [p.name for p in kept[0]] == [p.name for p in kept[1]] != []
        assert_frame_equal(pl.read_parquet(kept[1][0]), pl.read_parquet(kept[0][0]))
    # The next night's units take every row from the cache the units kept.
    night = plan(_copy_raw(ingested, tmp_path / "next"), tmp_path / "cache-apart", batch_rows=300)
    reused = finish(night, [settle_batch(night, unit) for unit in night.batches], key)
    assert reused["register_rows_reused"] == pl.read_parquet(ingested / "raw_register.parquet").height
    assert reused["roll_rows_reused"] == pl.read_parquet(ingested / "raw_rolls.parquet").height


# The batch size is a setting.


def test_the_batch_size_comes_from_the_settings(
    small_city: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUKOU_NORMALISE_BATCH_ROWS", "500")
    asked: list[int] = []

    def recorded(*args: Any, batch_rows: int, **kwargs: Any) -> dict[str, Any]:
        asked.append(batch_rows)
        return normalise(*args, batch_rows=batch_rows, **kwargs)

    steps = dataclasses.replace(LOCAL, normalise=recorded)
    run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=tmp_path, quiet_seconds=0), steps)
    assert asked == [500]


def test_a_batch_holds_at_least_one_row() -> None:
    with pytest.raises(pydantic.ValidationError, match="normalise_batch_rows"):
        Settings(normalise_batch_rows=0)
