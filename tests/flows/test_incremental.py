"""An incremental night equals a full one: rows reused from the cache give what normalising them again gives."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flows import normalised_cache, stages
from flows.normalise import normalise
from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from services.paths import DataPaths

if TYPE_CHECKING:
    from pathlib import Path

OUTPUTS = ("register.parquet", "roll.parquet", "vacant.parquet", "quarantine.parquet")


def _next_night(raw: pl.DataFrame, *, seed: int) -> pl.DataFrame:
    """Tonight's delivery: a few rows edited, a few gone, a few new (copies with a new name), rows renumbered."""
    n = raw.height
    edited = pl.Series(range(n)).sample(fraction=0.02, seed=seed)
    gone = pl.Series(range(n)).sample(fraction=0.01, seed=seed + 1)
    frame = raw.with_row_index("_i").with_columns(
        pl.when(pl.col("_i").is_in(edited.implode()))
        .then(pl.col("name_raw") + "新")
        .otherwise(pl.col("name_raw"))
        .alias("name_raw")
    )
    frame = frame.filter(~pl.col("_i").is_in(gone.implode()))
    added = frame.head(max(1, n // 100)).with_columns(pl.col("name_raw").str.reverse())
    frame = pl.concat([added, frame]).drop("_i")
    # Rows moved down their sheet: lineage changes, content does not.
    renumbered = pl.int_range(2, pl.len() + 2).over("source_file").cast(frame["source_row"].dtype)
    return frame.with_columns(renumbered.alias("source_row"))


def _night(
    first: Path, run: Path, raw: tuple[pl.DataFrame, pl.DataFrame], key: Path, cache: Path | None, batch_rows: int
) -> dict[str, int]:
    run.mkdir(parents=True)
    shutil.copy(first / "malformed.parquet", run / "malformed.parquet")
    raw_register, raw_rolls = raw
    raw_register.write_parquet(run / "raw_register.parquet")
    raw_rolls.write_parquet(run / "raw_rolls.parquet")
    counts: dict[str, int] = normalise(run, key, cache, batch_rows=batch_rows)
    return counts


@pytest.mark.parametrize(("batch_rows", "group_rows"), [(10**9, normalised_cache.GROUP_ROWS), (113, 50)])
def test_an_incremental_night_equals_a_full_one(
    small_city: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int, group_rows: int
) -> None:
    """Also with the rows cut into batches, and the cache into row groups, other than last night's."""
    monkeypatch.setattr(normalised_cache, "GROUP_ROWS", group_rows)
    first = tmp_path / "first"
    stages.ingest(small_city["register"], small_city["rolls"], first)
    # Rows without a household number are households of their own, keyed by lineage: not cacheable as written.
    raw = pl.read_parquet(first / "raw_register.parquet")
    no_household = pl.int_range(pl.len()) % 29 == 0
    raw.with_columns(
        pl.when(no_household).then(None).otherwise(pl.col("household_no")).alias("household_no")
    ).write_parquet(first / "raw_register.parquet")
    key, cache = tmp_path / "digest.key", tmp_path / "cache"
    cold = normalise(first, key, cache, batch_rows=batch_rows + 7)
    assert cold["register_rows_reused"] == cold["roll_rows_reused"] == 0
    register = _next_night(pl.read_parquet(first / "raw_register.parquet"), seed=1)
    rolls = _next_night(pl.read_parquet(first / "raw_rolls.parquet"), seed=2)
    warm = _night(first, tmp_path / "warm", (register, rolls), key, cache, batch_rows)
    full = _night(first, tmp_path / "full", (register, rolls), key, None, 10**9)
    assert warm["register_rows_reused"] > 0.95 * register.height
    assert warm["roll_rows_reused"] > 0.95 * rolls.height
    assert {k: v for k, v in warm.items() if "reused" not in k} == {k: v for k, v in full.items() if "reused" not in k}
    for name in OUTPUTS:
        assert_frame_equal(pl.read_parquet(tmp_path / "warm" / name), pl.read_parquet(tmp_path / "full" / name))


def _edited_register(register: Path, out: Path) -> Path:
    """The register a night later: every 37th person's name edited, every 53rd gone, the rest unchanged."""
    header, *rows = register.read_bytes().decode("gb18030").splitlines(keepends=True)
    kept = []
    for i, row in enumerate(rows):
        if i % 53 == 52:
            continue
        if i % 37 == 0:
            cells = row.split(",")
            cells[1] = cells[1] + "明"
            row = ",".join(cells)
        kept.append(row)
    out.write_bytes("".join([header, *kept]).encode("gb18030"))
    return out


def test_a_night_after_a_night_publishes_what_a_first_night_would(small_city: dict[str, Path], tmp_path: Path) -> None:
    warm, fresh = tmp_path / "warm", tmp_path / "fresh"
    run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=warm, quiet_seconds=0), LOCAL)
    register = _edited_register(small_city["register"], tmp_path / small_city["register"].name)
    rolls = tmp_path / "rolls"
    shutil.copytree(small_city["rolls"], rolls)
    next(iter(sorted(rolls.iterdir()))).unlink()  # one community's roll not delivered tonight
    second = run_pipeline(register, rolls, Settings(data_dir=warm, quiet_seconds=0), LOCAL)
    assert second.counts["register_rows_reused"] > 0.9 * second.counts["register_rows"]
    assert second.counts["roll_rows_reused"] == second.counts["roll_rows"]
    assert second.counts["roll_files_reused"] == second.counts["roll_files"]  # none handed in anew
    fresh.mkdir()
    shutil.copy(DataPaths(warm).digest_key, DataPaths(fresh).digest_key)  # the same secret: the same record keys
    first = run_pipeline(register, rolls, Settings(data_dir=fresh, quiet_seconds=0), LOCAL)
    assert first.counts["register_rows_reused"] == first.counts["roll_rows_reused"] == 0
    assert first.counts["roll_files_reused"] == 0
    for name in ("links", "record_status", "queue", "community_summary", "coverage"):
        assert_frame_equal(
            pl.read_parquet(second.run_dir / f"{name}.parquet"), pl.read_parquet(first.run_dir / f"{name}.parquet")
        )
