"""Roll files handed in again unchanged are taken from the cache, and ingest writes what reading them writes."""

from __future__ import annotations

import json
import os
import shutil
from typing import TYPE_CHECKING

import openpyxl
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from flows import stages
from flows.io import roll_cache
from flows.io.roll_cache import RollCache
from flows.io.sources import RawTable, SheetReport

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

INGESTED = ("raw_rolls.parquet", "raw_register.parquet", "malformed.parquet")

_text = st.text(max_size=12)
_frames = st.integers(min_value=0, max_value=6).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "姓名": st.lists(st.none() | _text, min_size=n, max_size=n),
            "source_file": st.lists(_text, min_size=n, max_size=n),
            "source_sheet": st.lists(st.none() | _text, min_size=n, max_size=n),
            "source_row": st.lists(st.integers(min_value=1, max_value=10**6), min_size=n, max_size=n),
        }
    )
)
_sheets = st.builds(
    SheetReport,
    sheet=_text,
    read=st.booleans(),
    reason=st.none() | _text,
    records=st.integers(min_value=0, max_value=10**6),
    blank_rows=st.integers(min_value=0, max_value=100),
    footer_rows=st.lists(st.integers(min_value=1, max_value=10**6), max_size=3),
    hidden=st.booleans(),
    repeated_rows=st.integers(min_value=0, max_value=100),
    rows_in=st.integers(min_value=0, max_value=10**6),
)
_ROWS = {"姓名": pl.String, "source_file": pl.String, "source_sheet": pl.String, "source_row": pl.Int64}
_tables = st.builds(
    RawTable,
    file=_text,
    frame=_frames.map(lambda columns: pl.DataFrame(columns, schema=_ROWS)),
    encoding=st.none() | st.sampled_from(["utf-8-sig", "gb18030"]),
    malformed=st.lists(st.tuples(st.integers(min_value=1, max_value=10**6), _text), max_size=3),
    blank_rows=st.integers(min_value=0, max_value=100),
    sheets=st.lists(_sheets, max_size=3),
    rows_in=st.integers(min_value=0, max_value=10**6),
    duplicate_headers=st.lists(_text, max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(table=_tables, name=_text, sha256=st.text(alphabet="0123456789abcdef", min_size=1, max_size=64))
def test_a_kept_table_comes_back_as_it_was_read(
    tmp_path_factory: pytest.TempPathFactory, table: RawTable, name: str, sha256: str
) -> None:
    """Any rows (nulls, any text), sheets and headers: the report and the rows, exactly; malformed lines: not kept."""
    cache = RollCache(tmp_path_factory.mktemp("rolls"))
    cache.put(name, sha256, table)
    back = cache.get(name, sha256)
    if table.malformed:
        assert back is None
        return
    assert back is not None
    assert_frame_equal(back.frame, table.frame)
    assert {k: v for k, v in vars_of(back).items() if k != "frame"} == {
        k: v for k, v in vars_of(table).items() if k != "frame"
    }
    assert cache.get(name + "x", sha256) is None
    assert cache.get(name, sha256 + "0") is None


def vars_of(table: RawTable) -> dict[str, object]:
    return {f: getattr(table, f) for f in table.__dataclass_fields__}


def _edit_one_name(workbook: Path) -> None:
    book = openpyxl.load_workbook(workbook)
    for sheet in book.worksheets:
        header = [c.value for c in next(sheet.iter_rows(min_row=1, max_row=1))]
        if "姓名" in header:
            cell = sheet.cell(row=2, column=header.index("姓名") + 1)
            cell.value = f"{cell.value}明"
            break
    book.save(workbook)


def _ingested(run: Path) -> dict[str, object]:
    """What ingest wrote, but the files' modification times."""
    return {
        **{name: pl.read_parquet(run / name) for name in INGESTED},
        "files": json.loads((run / "files.json").read_text()),
    }


def _same(one: dict[str, object], other: dict[str, object]) -> None:
    assert one["files"] == other["files"]
    for name in INGESTED:
        assert_frame_equal(one[name], other[name])  # type: ignore[arg-type]


def test_a_night_reads_only_the_roll_files_handed_in_anew(small_city: dict[str, Path], tmp_path: Path) -> None:
    rolls, cache = tmp_path / "rolls", tmp_path / "cache"
    shutil.copytree(small_city["rolls"], rolls)
    first = stages.ingest(small_city["register"], rolls, tmp_path / "first", cache=cache)
    assert first["roll_files_reused"] == 0
    workbooks = sorted(rolls.glob("*.xlsx"))
    _edit_one_name(workbooks[0])
    workbooks[1].unlink()  # not handed in tonight
    second = stages.ingest(small_city["register"], rolls, tmp_path / "second", cache=cache)
    cold = stages.ingest(small_city["register"], rolls, tmp_path / "cold")
    assert second["roll_files_reused"] == second["roll_files"] - second["roll_files_unreadable"] - 1  # not the edited
    assert {k: v for k, v in second.items() if k != "roll_files_reused"} == {
        k: v for k, v in cold.items() if k != "roll_files_reused"
    }
    _same(_ingested(tmp_path / "second"), _ingested(tmp_path / "cold"))
    kept = second["roll_files"] - second["roll_files_unreadable"]
    assert len(list(RollCache.within(cache).folder.iterdir())) == kept  # the one gone is dropped
    for workbook in workbooks[2:]:
        os.utime(workbook)  # saved again unchanged: a new modification time, the same content
    third = stages.ingest(small_city["register"], rolls, tmp_path / "third", cache=cache)
    assert third["roll_files_reused"] == kept
    _same(_ingested(tmp_path / "third"), _ingested(tmp_path / "cold"))


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda folder, _: [p.write_bytes(b"not parquet") for p in folder.iterdir()], id="unreadable"),
        pytest.param(
            lambda _, monkeypatch: monkeypatch.setattr(roll_cache, "READER_VERSION", "another"), id="another reader"
        ),
    ],
)
def test_a_cache_it_cannot_trust_is_read_again(
    small_city: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spoil: Callable[[Path, pytest.MonkeyPatch], object],
) -> None:
    cache = tmp_path / "cache"
    stages.ingest(small_city["register"], small_city["rolls"], tmp_path / "first", cache=cache)
    spoil(RollCache.within(cache).folder, monkeypatch)
    again = stages.ingest(small_city["register"], small_city["rolls"], tmp_path / "again", cache=cache)
    assert again["roll_files_reused"] == 0
    _same(_ingested(tmp_path / "again"), _ingested(tmp_path / "first"))


@pytest.mark.parametrize("broken", ["a full disk", "the folder is a file"])
def test_a_cache_that_cannot_be_written_never_fails_the_night(
    small_city: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    cache = tmp_path / "cache"
    if broken == "a full disk":

        def full(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("pyarrow.parquet.write_table", full)  # ingest itself writes with ParquetWriter
    else:
        cache.mkdir()
        RollCache.within(cache).folder.write_bytes(b"")
    for night in ("first", "second"):
        counts = stages.ingest(small_city["register"], small_city["rolls"], tmp_path / night, cache=cache)
        assert counts["roll_files_reused"] == 0
    cold = stages.ingest(small_city["register"], small_city["rolls"], tmp_path / "cold")
    _same(_ingested(tmp_path / "second"), _ingested(tmp_path / "cold"))
    assert cold["roll_files"] > 0
