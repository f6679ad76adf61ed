"""The normalise stage a batch of rows at a time, so that its memory is a batch's and not a city's.

Normalising a row needs its context (`reconcile.prepare.Context`) and three facts about its whole side,
each learnt from a few narrow columns of every row:

- which files hold rows of several sheets (lineage: household keys, person keys);
- the register's places and flats (`reconcile.dwelling`: where a roll address lies);
- which records share a record key's base (`reconcile.keys.record_keys`: keys never collide).

Everything else is row by row. So the stage is a plan of independent work units (`plan`): each batch of
raw rows is normalised and settled (`reconcile.prepare.settle`) into Parquet parts (`settle_batch`); then
`finish` learns the whole-side facts from those parts' narrow columns, locates, keys and numbers each part
and writes each side's file. `normalise` runs the units one after another in this process; on a cluster
(`flows.nightly`) the batches are mapped over the workers. Either way the output equals
`reconcile.prepare.prepare` of all rows at once (tests/flows/test_normalise_batches.py).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from flows import normalised_cache, progress
from flows.io.appender import Appender
from flows.spill import WORK_COMPRESSION
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
from services.digest_key import load as digest_key_of_night
from services.digest_key import load_or_create

if TYPE_CHECKING:
    from reconcile.prepare import Context

BATCH_ROWS = 250_000
"""Raw rows normalised at a time: a batch's wide frames are what the stage holds (besides narrow columns)."""
CONTEXT_COLUMNS = ("street", "community_name", "address_raw", "community_code_raw")
"""What `reconcile.prepare.context_of` reads of the raw register."""
_STAGE = "规范化 normalise"


@dataclass(frozen=True, slots=True)
class Batch:
    """One work unit of the stage: `rows` raw rows of one side from row `start`."""

    side: Side
    index: int
    start: int
    rows: int


@dataclass(frozen=True, slots=True)
class Plan:
    """The stage's work units and what every unit needs to know of the whole: small, sent to each worker."""

    run: Path
    context: Context
    multi_sheet: tuple[str, ...]
    """The raw register's files holding rows of several sheets (household keys depend on it); a settled side's,
    for person keys, are `SideFacts.multi_sheet`."""
    batches: tuple[Batch, ...]
    cache: Path | None

    @property
    def folder(self) -> Path:
        """Where the units write their parts."""
        return _work(self.run)

    def raw(self, side: Side) -> Path:
        """The side's raw rows (written by ingest)."""
        return self.run / _RAW[side]


@dataclass(frozen=True, slots=True)
class BatchParts:
    """What one batch wrote, in files named for the attempt.

    A batch run twice (a worker lost, a task retried) writes beside the first attempt; only the attempt
    returned is read.
    """

    batch: Batch
    valid: Path
    vacant: Path | None
    quarantine: Path
    cache: Path | None
    """Tonight's cache rows of the batch, when the batch did not hand them to a `normalised_cache.Keeper`."""
    reused: int


_RAW = {Side.REGISTER: "raw_register.parquet", Side.ROLL: "raw_rolls.parquet"}
"""Each side's raw rows in a run directory, as ingest writes them."""


def _work(run: Path) -> Path:
    return run / "normalise.work"


def plan(run: Path, cache: Path | None = None, *, batch_rows: int = BATCH_ROWS) -> Plan:
    """The stage's work units over `run`'s raw rows, with the context they share; empties the work folder."""
    raw_register = run / _RAW[Side.REGISTER]
    available = set(pl.read_parquet_schema(raw_register))
    context = context_of(pl.read_parquet(raw_register, columns=[c for c in CONTEXT_COLUMNS if c in available]))
    shutil.rmtree(_work(run), ignore_errors=True)
    _work(run).mkdir()
    batches = [
        Batch(side, i, start, rows)
        for side in Side
        for i, (start, rows) in enumerate(_batches(run / _RAW[side], batch_rows))
    ]
    multi_sheet = multi_sheet_files(pl.scan_parquet(raw_register))
    return Plan(run, context, tuple(multi_sheet), tuple(batches), cache)


def _batches(path: Path, rows: int) -> list[tuple[int, int]]:
    """(first row, row count) of each batch of a Parquet file; one empty batch for an empty file."""
    total = pl.scan_parquet(path).select(pl.len()).collect().item()
    return [(start, min(rows, total - start)) for start in range(0, total, rows)] or [(0, 0)]


def settle_batch(
    work: Plan,
    batch: Batch,
    *,
    known: normalised_cache.CachedRows | None = None,
    keep: Callable[[pl.DataFrame], None] | None = None,
    lookups: Lookups | None = None,
) -> BatchParts:
    """Normalise (taking what last night's cache knows) and settle one batch of raw rows into Parquet parts.

    As a worker runs it, with only `work` and `batch`: it opens the cache itself (once per process: the
    digests of a whole side) and writes tonight's cache rows as a part of their own. `normalise` passes the cache it opened once (`known`), the side's
    `normalised_cache.Keeper.append` (`keep`) and the night's `Lookups`.
    """
    side = batch.side
    if known is None and keep is None and work.cache is not None:
        known = normalised_cache.open_rows_once(work.cache, side, work.context.digest())
    normaliser = normalise_register if side is Side.REGISTER else normalise_roll
    rows_of = functools.partial(normaliser, context=work.context, lookups=lookups or Lookups())
    attempt = f"{side.value}-{batch.index}-{uuid.uuid4().hex[:8]}"

    def part(kind: str) -> Path:
        return work.folder / f"{attempt}-{kind}.parquet"

    raw = pl.scan_parquet(work.raw(side)).slice(batch.start, batch.rows).collect()
    done = reuse(raw, known.rows_for(raw.select(*row_digest(raw))) if known else None, rows_of)
    del raw
    cache_part = None
    if keep is not None:
        keep(done.cache)
    elif work.cache is not None:
        cache_part = part("cache")
        done.cache.write_parquet(cache_part, compression=WORK_COMPRESSION)
    reused = done.reused
    rows = done.frame if side is Side.ROLL else with_household_key(done.frame, multi_sheet=list(work.multi_sheet))
    del done
    settled = settle(rows, side)
    del rows
    written = {}
    for kind, frame in (("valid", settled.valid), ("vacant", settled.vacant), ("quarantine", settled.quarantine)):
        if kind != "vacant" or frame.height:
            written[kind] = part(kind)
            frame.write_parquet(written[kind], compression=WORK_COMPRESSION)
    return BatchParts(batch, written["valid"], written.get("vacant"), written["quarantine"], cache_part, reused)


def _narrow(parts: list[Path], columns: tuple[str, ...] | list[str]) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p, columns=list(columns)) for p in parts], how="vertical_relaxed")


@dataclass(frozen=True, slots=True)
class SideFacts:
    """What locating, keying and numbering a part of one side needs of the whole side (`side_facts`): small."""

    side: Side
    parts: tuple[Path, ...]
    """The side's settled parts, in row order."""
    starts: tuple[int, ...]
    """Each part's first record number."""
    keys: Path
    """The side's record keys in row order (`reconcile.keys.record_keys`: a key depends on the others)."""
    multi_sheet: tuple[str, ...]
    """The side's files whose records come from several sheets (person keys depend on it)."""
    schema: pl.Schema
    """What every part is read as: a part whose rows leave a column all empty may type it otherwise."""
    places: dict[str, list[str]]
    """The register's place names per community (`reconcile.dwelling.gazetteer`)."""
    flats: Path | None
    """The register's flats (`reconcile.dwelling.registered_flats`), which a roll address may name."""


@dataclass(frozen=True, slots=True)
class Located:
    """A part located, keyed and numbered, written for `join_side`."""

    path: Path
    records: int
    with_issues: int


def side_facts(
    work: Plan, side: Side, parts: list[Path], *, secret: bytes, places: dict[str, list[str]], flats: Path | None
) -> SideFacts:
    """Learn from the narrow columns of every part of `side` what its parts need; writes the side's keys."""
    narrow = _narrow(parts, RECORD_KEY_COLUMNS[side])  # lineage among them
    keys = work.folder / f"{side.value}-keys-{uuid.uuid4().hex[:8]}.parquet"
    record_keys(narrow, side, secret=secret).to_frame().write_parquet(keys, compression=WORK_COMPRESSION)
    multi_sheet = multi_sheet_files(narrow)
    del narrow
    sizes = [pl.scan_parquet(p).select(pl.len()).collect().item() for p in parts]
    schema = pl.concat([pl.scan_parquet(p) for p in parts], how="vertical_relaxed").collect_schema()
    starts = itertools.accumulate(sizes[:-1], initial=0)
    return SideFacts(side, tuple(parts), tuple(starts), keys, tuple(multi_sheet), schema, places, flats)


def locate_part(
    facts: SideFacts, index: int, secret: bytes, *, flats: pl.DataFrame | None = None, keys: pl.Series | None = None
) -> pl.DataFrame:
    """Part `index` of a side located, keyed and numbered, row by row given `facts`.

    `flats` and `keys` (the side's): what `facts` names, when the caller holds them already.
    """
    records = pl.read_parquet(facts.parts[index]).cast(facts.schema)
    if facts.side is Side.REGISTER:
        records = locate_register(records, facts.places)
    else:
        if flats is None:
            if facts.flats is None:
                raise ValueError("a roll part is located among the register's flats: none given")
            flats = pl.read_parquet(facts.flats)
        records = locate_roll(records, facts.places, flats)
    start = facts.starts[index]
    if keys is None:
        keys = pl.scan_parquet(facts.keys).slice(start, records.height).collect().to_series()
    else:
        keys = keys.slice(start, records.height)
    return numbered(with_keys(records, keys, secret=secret, multi_sheet=facts.multi_sheet), start=start)


def locate_part_apart(facts: SideFacts, index: int, digest_key: Path) -> Located:
    """`locate_part` as a worker runs it: written to a file of its own attempt, for `join_side`."""
    records = locate_part(facts, index, digest_key_of_night(digest_key))
    out = facts.keys.with_name(f"{facts.side.value}-located-{index}-{uuid.uuid4().hex[:8]}.parquet")
    records.write_parquet(out, compression=WORK_COMPRESSION)
    return Located(out, records.height, _with_issues(records))


def _with_issues(records: pl.DataFrame) -> int:
    return int(records["issues"].list.len().gt(0).sum())


@contextlib.contextmanager
def _side_file(out: Path) -> Iterator[Appender]:
    """An appender whose file becomes `out` once every table is written (none, if writing fails)."""
    partial = out.with_suffix(".partial")
    with Appender(partial) as written:  # a table is written while the next is made
        yield written
    os.replace(partial, out)


def write_side(facts: SideFacts, secret: bytes, out: Path, *, flats: pl.DataFrame | None = None) -> tuple[int, int]:
    """Every part of a side through `locate_part`, written in order into one Parquet file, in this process.

    Returns (records, records with issues). `flats`: the register's, for the roll (else read from `facts`).
    """
    records, with_issues = 0, 0
    keys = pl.read_parquet(facts.keys).to_series()
    with _side_file(out) as written:
        for index in range(len(facts.parts)):
            part = locate_part(facts, index, secret, flats=flats, keys=keys)
            records += part.height
            with_issues += _with_issues(part)
            written.append(part.to_arrow())
            del part
            progress.advance(_STAGE)
    return records, with_issues


def join_side(located: list[Located], out: Path) -> tuple[int, int]:
    """The parts located apart (`locate_part_apart`, in order) as the side's one file; (records, with issues)."""
    with _side_file(out) as written:
        for part in located:
            written.append(pl.read_parquet(part.path).to_arrow())
    return sum(p.records for p in located), sum(p.with_issues for p in located)


def _keep_cache(work: Plan, settled: list[BatchParts]) -> None:
    """Make the batches' cache parts the next night's cache, in row order (units that kept their own)."""
    if work.cache is None:
        return
    for side in Side:
        parts = [s.cache for s in settled if s.batch.side is side and s.cache is not None]
        if parts:
            with normalised_cache.Keeper(work.cache, side, work.context.digest()) as keeper:
                for part in parts:
                    keeper.append(pl.read_parquet(part))


SideWriter = Callable[[SideFacts, Path], tuple[int, int]]
"""Writes a side's file from its facts (its parts mapped over a cluster, say): (records, records with issues)."""


def finish(
    work: Plan, settled: list[BatchParts], digest_key: Path, *, write: SideWriter | None = None
) -> dict[str, Any]:
    """From every batch's parts: register.parquet, roll.parquet, vacant.parquet, quarantine.parquet and the cache.

    `settled` holds one `BatchParts` per batch of `work` (in any order); parts of other attempts are ignored.
    Each side's file is written by `write` (default: its parts one after another in this process), the register's
    first: the roll's addresses are resolved among its flats. Removes the work folder.
    """
    by_batch = {s.batch: s for s in settled}
    missing = [b for b in work.batches if b not in by_batch]
    if missing:
        raise ValueError(f"normalise: {len(missing)} batches were not settled (first: {missing[0]})")
    ordered = [by_batch[b] for b in work.batches]
    _keep_cache(work, ordered)
    valid = {side: [s.valid for s in ordered if s.batch.side is side] for side in Side}
    places = gazetteer(_narrow(valid[Side.REGISTER], ["community_code", "place"]))
    secret = load_or_create(digest_key)
    counts: dict[str, Any] = {
        f"{side.value}_rows_reused": sum(s.reused for s in ordered if s.batch.side is side) for side in Side
    }

    def side_file(side: Side, flats: pl.DataFrame | None) -> Path:
        flats_path = None
        if flats is not None and write is not None:  # for units run elsewhere; `write_side` takes them as they are
            flats_path = work.folder / "flats.parquet"
            flats.write_parquet(flats_path, compression=WORK_COMPRESSION)
        facts = side_facts(work, side, valid[side], secret=secret, places=places, flats=flats_path)
        out = work.run / f"{side.value}.parquet"
        records, with_issues = write(facts, out) if write else write_side(facts, secret, out, flats=flats)
        counts.update({f"{side.value}_valid": records, f"{side.value}_rows_with_issues": with_issues})
        return out

    register = side_file(Side.REGISTER, None)
    flats = registered_flats(pl.read_parquet(register, columns=["community_code", "dwelling", *PARTS]))
    side_file(Side.ROLL, flats)  # its addresses are resolved among the register's flats
    counts["quarantined"] = _set_aside(work, ordered, places, flats)
    shutil.rmtree(work.folder, ignore_errors=True)
    return counts


def _set_aside(work: Plan, ordered: list[BatchParts], places: dict[str, list[str]], flats: pl.DataFrame) -> int:
    """Write vacant.parquet (rows recording an empty flat, located) and quarantine.parquet; rows quarantined."""
    vacant_parts = [s.vacant for s in ordered if s.vacant is not None]
    vacant_rows = (  # few: located all at once
        pl.concat([pl.read_parquet(p) for p in vacant_parts], how="vertical_relaxed")
        if vacant_parts
        else pl.DataFrame(schema=pl.read_parquet_schema(next(s.valid for s in ordered if s.batch.side is Side.ROLL)))
    )
    vacant, vacancy_q = vacancies(vacant_rows, places, flats)
    vacant.write_parquet(work.run / "vacant.parquet")
    quarantine = pl.concat(
        [pl.read_parquet(work.run / "malformed.parquet"), *(pl.read_parquet(s.quarantine) for s in ordered), vacancy_q],
        how="vertical_relaxed",
    )
    quarantine.write_parquet(work.run / "quarantine.parquet")
    return quarantine.height


def normalise(
    run: Path, digest_key: Path, cache: Path | None = None, *, batch_rows: int = BATCH_ROWS
) -> dict[str, Any]:
    """Normalise and validate both sides (`reconcile.prepare`), `batch_rows` raw rows at a time, in this process.

    Rows normalised on an earlier night under the same context are taken from `cache`
    (`reconcile.row_cache`); the cache is then refreshed with tonight's rows.
    Writes register.parquet, roll.parquet, vacant.parquet and quarantine.parquet (malformed rows included).
    """
    work = plan(run, cache, batch_rows=batch_rows)
    lookups = Lookups()  # names mapped once for both sides
    settled: list[BatchParts] = []
    with progress.stage(_STAGE, 2 * len(work.batches)):
        for side in Side:
            batches = [b for b in work.batches if b.side is side]
            if work.cache is None:
                settled += [settle_batch(work, b, lookups=lookups) for b in batches]
            else:
                known = normalised_cache.open_rows(work.cache, side, work.context.digest())
                with normalised_cache.Keeper(work.cache, side, work.context.digest()) as keeper:
                    settled += [
                        settle_batch(work, b, known=known, keep=keeper.append, lookups=lookups) for b in batches
                    ]
            progress.advance(_STAGE, len(batches))
        return finish(work, settled, digest_key)
