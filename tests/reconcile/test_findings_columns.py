"""The nightly run reads only `REGISTER_COLUMNS` and `ROLL_COLUMNS` of the prepared records for its findings.

A column `findings` needs but the lists leave out would fail the run (or silently change it); a column the lists
name but nothing reads costs memory on every night (at scale 10, each string column is ~100 MiB). The stage passes
the records as Parquet scans: what they find is what the frames find, row for row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.spill import parquet_keep
from reconcile.decisions import pair_decisions
from reconcile.findings import REGISTER_COLUMNS, ROLL_COLUMNS, Findings, findings
from reconcile.frames import Frame, Keep, in_memory
from reconcile.linker import LinkSettings, link
from services.decisions import active_decisions
from tests.reconcile.helpers import prepared

if TYPE_CHECKING:
    from pathlib import Path


class Run(Protocol):
    def __call__(self, reg: Frame, rol: Frame, *, keep: Keep = ...) -> list[pl.DataFrame]: ...


@pytest.fixture(scope="module")
def night(small_city: dict[str, Path]) -> tuple[pl.DataFrame, pl.DataFrame, Run]:
    register, roll = prepared(small_city)
    # Addresses that leave their 单元 out fit several registered flats: the generated city writes too few of them.
    flats = register["flat"].drop_nulls().unique().sort().head(40).to_list()
    fits = pl.Series([flats[2 * i : 2 * i + 2] for i in range(20)] + [None] * (roll.height - 20))
    roll = roll.with_columns(fits.cast(roll.schema["flat_candidates"]).alias("flat_candidates"))
    standing = active_decisions(None)
    _, outcomes = pair_decisions(standing, register, roll)
    result = link(register, roll, settings=LinkSettings())
    roll_files = roll.select("community_code", "community_name").unique()

    def run(reg: Frame, rol: Frame, *, keep: Keep = in_memory) -> list[pl.DataFrame]:
        found: Findings = findings(
            reg,
            rol,
            result.links.lazy() if isinstance(reg, pl.LazyFrame) else result.links,
            result.duplicates(),
            decisions=standing,
            pair_outcomes=outcomes,
            roll_files=roll_files,
            keep=keep,
        )
        return [found.statuses.collect(), found.queue, found.summary, found.coverage]

    return register, roll, run


def test_findings_need_no_column_outside_the_lists(night: tuple[pl.DataFrame, pl.DataFrame, Run]) -> None:
    register, roll, run = night
    whole = run(register, roll)
    listed = run(register.select(REGISTER_COLUMNS), roll.select(ROLL_COLUMNS))
    assert all(a.equals(b) for a, b in zip(whole, listed, strict=True))


def test_findings_from_parquet_scans_equal_findings_from_frames(
    night: tuple[pl.DataFrame, pl.DataFrame, Run], tmp_path: Path
) -> None:
    register, roll, run = night
    register.write_parquet(tmp_path / "register.parquet", row_group_size=500)  # several row groups, as at scale
    roll.write_parquet(tmp_path / "roll.parquet", row_group_size=500)
    scanned = run(
        pl.scan_parquet(tmp_path / "register.parquet").select(REGISTER_COLUMNS),
        pl.scan_parquet(tmp_path / "roll.parquet").select(ROLL_COLUMNS),
    )
    framed = run(register.select(REGISTER_COLUMNS), roll.select(ROLL_COLUMNS))
    assert all(a.equals(b) for a, b in zip(scanned, framed, strict=True))  # in the same row order too
    statuses = scanned[0]
    assert statuses.height == register.height + roll.height
    assert statuses.select("side", "idx").equals(statuses.select("side", "idx").sort("side", "idx"))


def test_findings_kept_on_disk_equal_findings_kept_in_memory(
    night: tuple[pl.DataFrame, pl.DataFrame, Run], tmp_path: Path
) -> None:
    """The stage keeps the statuses and their intermediates in Parquet files: the same rows, in the same order."""
    register, roll, run = night
    reg, rol = register.select(REGISTER_COLUMNS), roll.select(ROLL_COLUMNS)
    statuses = tmp_path / "record_status.parquet"
    with parquet_keep(tmp_path / "work", {"record_status": statuses}) as keep:
        on_disk = run(reg.lazy(), rol.lazy(), keep=keep)
        assert {p.name for p in (tmp_path / "work").iterdir()} == {"classified.parquet", "graded_links.parquet"}
    assert not (tmp_path / "work").exists()  # scratch results go with the block; the named output stays
    assert pl.read_parquet(statuses).equals(on_disk[0])
    assert all(a.equals(b) for a, b in zip(on_disk, run(reg, rol), strict=True))


@pytest.mark.parametrize("column", sorted(set(REGISTER_COLUMNS) | set(ROLL_COLUMNS)))
def test_every_listed_column_is_read(night: tuple[pl.DataFrame, pl.DataFrame, Run], column: str) -> None:
    register, roll, run = night
    reg, rol = register.select(REGISTER_COLUMNS), roll.select(ROLL_COLUMNS)
    try:
        without = run(reg.drop(column, strict=False), rol.drop(column, strict=False))
    except pl.exceptions.ColumnNotFoundError:
        return
    assert not all(a.sort(a.columns).equals(b.sort(b.columns)) for a, b in zip(run(reg, rol), without, strict=True)), (
        column
    )


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), lazy=st.booleans())
def test_findings_do_not_depend_on_the_order_rows_come_in(
    night: tuple[pl.DataFrame, pl.DataFrame, Run], seed: int, lazy: bool
) -> None:
    """Offices hand rows in in any order: each record's status, the queue, summary and coverage stay the same."""
    register, roll, run = night
    reg, rol = register.select(REGISTER_COLUMNS), roll.select(ROLL_COLUMNS)
    shuffled = [
        reg.sample(fraction=1.0, shuffle=True, seed=seed),
        rol.sample(fraction=1.0, shuffle=True, seed=seed + 1),
    ]
    framed = run(reg, rol)
    found = run(*(f.lazy() for f in shuffled)) if lazy else run(*shuffled)
    assert found[0].sort("side", "idx").equals(framed[0])  # statuses: one row per record, whatever the order
    assert all(a.equals(b) for a, b in zip(found[1:], framed[1:], strict=True))  # sorted outputs: the same rows


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    share=st.floats(0.3, 1.0),
    row_group=st.sampled_from([1, 7, 500, 100_000]),
)
def test_findings_on_disk_equal_in_memory_for_any_city_in_any_order(
    night: tuple[pl.DataFrame, pl.DataFrame, Run],
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    share: float,
    row_group: int,
) -> None:
    """Another city (a sample of this one's records, rows in any order, files cut in any row groups): what the stage
    keeps on disk and reads back is what memory would hold, row for row (a round trip changes no value or type)."""
    register, roll, run = night
    reg = register.select(REGISTER_COLUMNS).sample(fraction=share, shuffle=True, seed=seed)
    rol = roll.select(ROLL_COLUMNS).sample(fraction=share, shuffle=True, seed=seed + 1)
    folder = tmp_path_factory.mktemp("kept")
    reg.write_parquet(folder / "register.parquet", row_group_size=row_group)
    rol.write_parquet(folder / "roll.parquet", row_group_size=row_group)
    scans = pl.scan_parquet(folder / "register.parquet"), pl.scan_parquet(folder / "roll.parquet")
    with parquet_keep(folder / "work", {"record_status": folder / "record_status.parquet"}) as keep:
        on_disk = run(*scans, keep=keep)
    in_memory = run(*scans)
    assert all(a.equals(b) for a, b in zip(on_disk, in_memory, strict=True))
    assert on_disk[0].schema == in_memory[0].schema
