"""The normalise stage a batch of rows at a time, so that its memory is a batch's and not a city's.

Normalising a row needs its context (`reconcile.prepare.Context`) and three facts about its whole side,
each learnt from a few narrow columns of every row:

- which files hold rows of several sheets (lineage: household keys, person keys);
- the register's places and flats (`reconcile.dwelling`: where a roll address lies);
- which records share a record key's base (`reconcile.keys.record_keys`: keys never collide).

Everything else is row by row. So the stage reads each side in batches of raw rows, normalises and settles
them (`reconcile.prepare.settle`) into Parquet parts, learns the whole-side facts from those parts' narrow
columns, then locates, keys and numbers each part and writes the side's file from the parts. The output
equals `reconcile.prepare.prepare` of all rows at once (tests/flows/test_normalise_batches.py).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from flows import normalised_cache, progress
from flows.io.appender import Appender
from reconcile.dwelling import PARTS, gazetteer, locate_register, locate_roll, registered_flats
from reconcile.keys import RECORD_KEY_COLUMNS, record_keys, with_keys
from reconcile.lookups import Lookups
from reconcile.prepare import (
    context_of,
    normalise_register,
    normalise_roll,
    numbered,
    settle,
    vacancies,
    with_household_key,
)
from reconcile.row_cache import reuse, row_digest
from schemas.codes import Side
from schemas.records import multi_sheet_files
from services.digest_key import load_or_create

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from reconcile.prepare import Context

BATCH_ROWS = 250_000
"""Raw rows normalised at a time: a batch's wide frames are what the stage holds (besides narrow columns)."""
CONTEXT_COLUMNS = ("street", "community_name", "address_raw", "community_code_raw")
"""What `reconcile.prepare.context_of` reads of the raw register."""
_STAGE = "规范化 normalise"
_WORK_COMPRESSION: Final = "lz4"
"""Parts read back once within the stage: quicker to write than the outputs' zstd, a little larger."""


@dataclass(slots=True)
class _Side:
    """One side's parts in the work folder, and what was set aside."""

    side: Side
    settled: list[Path] = field(default_factory=list)
    vacant: list[Path] = field(default_factory=list)
    quarantine: list[pl.DataFrame] = field(default_factory=list)
    reused: int = 0


def _batches(path: Path, rows: int) -> list[tuple[int, int]]:
    """(first row, row count) of each batch of a Parquet file; one empty batch for an empty file."""
    total = pl.scan_parquet(path).select(pl.len()).collect().item()
    return [(start, min(rows, total - start)) for start in range(0, total, rows)] or [(0, 0)]


def _settle(
    raw_path: Path,
    side: Side,
    batches: list[tuple[int, int]],
    *,
    context: Context,
    lookups: Lookups,
    cache: Path | None,
    work: Path,
) -> _Side:
    """Normalise (taking what last night's cache knows) and settle one side's raw rows batch by batch."""
    normaliser = normalise_register if side is Side.REGISTER else normalise_roll
    rows_of = functools.partial(normaliser, context=context, lookups=lookups)
    known = normalised_cache.open_rows(cache, side, context.digest()) if cache is not None else None
    multi_sheet = multi_sheet_files(pl.scan_parquet(raw_path)) if side is Side.REGISTER else None
    out = _Side(side)
    keeping = normalised_cache.Keeper(cache, side, context.digest()) if cache is not None else contextlib.nullcontext()
    with keeping as keeper:
        for i, (start, n) in enumerate(batches):
            raw = pl.scan_parquet(raw_path).slice(start, n).collect()
            done = reuse(raw, known.rows_for(raw.select(*row_digest(raw))) if known else None, rows_of)
            del raw
            out.reused += done.reused
            if keeper is not None:
                keeper.append(done.cache)
            rows = done.frame if multi_sheet is None else with_household_key(done.frame, multi_sheet=multi_sheet)
            del done
            settled = settle(rows, side)
            del rows
            out.settled.append(work / f"{side.value}-settled-{i}.parquet")
            settled.valid.write_parquet(out.settled[-1], compression=_WORK_COMPRESSION)
            if settled.vacant.height:
                out.vacant.append(work / f"{side.value}-vacant-{i}.parquet")
                settled.vacant.write_parquet(out.vacant[-1], compression=_WORK_COMPRESSION)
            out.quarantine.append(settled.quarantine)
    return out


def _narrow(parts: list[Path], columns: tuple[str, ...] | list[str]) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p, columns=list(columns)) for p in parts], how="vertical_relaxed")


def _finish(
    parts: _Side, locate: Callable[[pl.DataFrame], pl.DataFrame], *, secret: bytes, out: Path
) -> tuple[int, int]:
    """Locate, key and number a side's settled parts, writing them in order into one Parquet file.

    Returns (records, records with issues).
    """
    side = parts.side
    narrow = _narrow(parts.settled, RECORD_KEY_COLUMNS[side])  # lineage among them
    keys, multi_sheet = record_keys(narrow, side, secret=secret), multi_sheet_files(narrow)
    del narrow
    # A part whose rows leave a column all empty may type it otherwise: every part is read as all of them are.
    schema = pl.concat([pl.scan_parquet(p) for p in parts.settled], how="vertical_relaxed").collect_schema()
    start, with_issues = 0, 0
    partial = out.with_suffix(".partial")
    with Appender(partial) as written:  # a part is written while the next is made
        for part in parts.settled:
            records = locate(pl.read_parquet(part).cast(schema))
            records = numbered(
                with_keys(records, keys.slice(start, records.height), secret=secret, multi_sheet=multi_sheet),
                start=start,
            )
            start += records.height
            with_issues += int(records["issues"].list.len().gt(0).sum())
            written.append(records.to_arrow())
            del records
            progress.advance(_STAGE)
    os.replace(partial, out)
    return start, with_issues


def normalise(
    run: Path, digest_key: Path, cache: Path | None = None, *, batch_rows: int = BATCH_ROWS
) -> dict[str, Any]:
    """Normalise and validate both sides (`reconcile.prepare`), `batch_rows` raw rows at a time.

    Rows normalised on an earlier night under the same context are taken from `cache`
    (`reconcile.row_cache`); the cache is then refreshed with tonight's rows.
    Writes register.parquet, roll.parquet, vacant.parquet and quarantine.parquet (malformed rows included).
    """
    raw = {Side.REGISTER: run / "raw_register.parquet", Side.ROLL: run / "raw_rolls.parquet"}
    work = run / "normalise.work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    batches = {side: _batches(path, batch_rows) for side, path in raw.items()}
    with progress.stage(_STAGE, 2 * sum(len(b) for b in batches.values())):
        available = set(pl.read_parquet_schema(raw[Side.REGISTER]))
        context = context_of(
            pl.read_parquet(raw[Side.REGISTER], columns=[c for c in CONTEXT_COLUMNS if c in available])
        )
        sides, lookups = {}, Lookups()  # names mapped once for both sides
        for side, path in raw.items():
            sides[side] = _settle(path, side, batches[side], context=context, lookups=lookups, cache=cache, work=work)
            progress.advance(_STAGE, len(batches[side]))
        register, roll = sides[Side.REGISTER], sides[Side.ROLL]
        places = gazetteer(_narrow(register.settled, ["community_code", "place"]))
        secret = load_or_create(digest_key)
        counts: dict[str, Any] = {f"{s.value}_rows_reused": parts.reused for s, parts in sides.items()}
        valid, with_issues = _finish(
            register,
            functools.partial(locate_register, places=places),
            secret=secret,
            out=run / "register.parquet",
        )
        counts |= {"register_valid": valid, "register_rows_with_issues": with_issues}
        flats = registered_flats(
            pl.read_parquet(run / "register.parquet", columns=["community_code", "dwelling", *PARTS])
        )
        valid, with_issues = _finish(
            roll,
            functools.partial(locate_roll, places=places, flats=flats),
            secret=secret,
            out=run / "roll.parquet",
        )
        counts |= {"roll_valid": valid, "roll_rows_with_issues": with_issues}
        # Rows recording an empty flat are few: located all at once.
        vacant_rows = (
            pl.concat([pl.read_parquet(p) for p in roll.vacant], how="vertical_relaxed")
            if roll.vacant
            else pl.DataFrame(schema=pl.read_parquet_schema(roll.settled[0]))
        )
        vacant, vacancy_q = vacancies(vacant_rows, places, flats)
        vacant.write_parquet(run / "vacant.parquet")
        quarantine = pl.concat(
            [pl.read_parquet(run / "malformed.parquet"), *register.quarantine, *roll.quarantine, vacancy_q],
            how="vertical_relaxed",
        )
        quarantine.write_parquet(run / "quarantine.parquet")
        counts["quarantined"] = quarantine.height
    shutil.rmtree(work, ignore_errors=True)
    return counts
