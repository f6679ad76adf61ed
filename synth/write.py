"""Write a synthetic city as a delivery, one community at a time.

A GB18030 police extract, one xlsx roll per community, and the ground truth as
Parquet. Two passes, neither of which holds the city:

1. Worker processes draw the communities' people (`synth.city.draw_community`),
   a few communities ahead; in community order, this process settles their
   city-wide numbers (`synth.city.Registry`), appends their register rows and
   register truth, and sets each resident aside for the roll of the community
   they live in (`synth.spill.Spill`).
2. Worker processes read the residents set aside for a community, house those
   who moved in from another community, and write its roll workbook
   (`synth.xlsx`); this process appends the roll truth in community order.

Every draw comes from a random stream of the community's own and everything
city-wide is settled in community order, so the files are the same byte for
byte for a given seed, whatever the number of workers. Memory holds a few
communities and the batches of `SPILL_BATCH` residents and `TRUTH_BATCH` truth
rows, whatever the city's size.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import shutil
import tempfile
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.codes import Status
from synth import pools
from synth.city import Drawn, Registry, draw_community, dwellings, free_dwelling, stream
from synth.noise import birth_as_written, id_noise, name_noise, register_address, roll_address
from synth.spill import Resident, Spill
from synth.xlsx import write_sheet

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Iterable, Iterator

    from synth.city import City, Community, Person

REGISTER_COLUMNS = (
    "公民身份号码",
    "姓名",
    "曾用名",
    "性别",
    "民族",
    "出生日期",
    "户号",
    "与户主关系",
    "户籍地址",
    "所属派出所",
    "街道",
    "社区",
    "社区代码",
    "人员状态",
    "迁入日期",
)
ROLL_COLUMNS = (
    "序号",
    "网格",
    "姓名",
    "性别",
    "身份证号",
    "出生日期",
    "联系电话",
    "现住地址",
    "房屋性质",
    "登记日期",
    "备注",
)
REGISTER_TRUTH = pa.schema(
    [
        ("register_file", pa.string()),
        ("register_row", pa.int64()),
        ("pid", pa.int64()),
        ("status", pa.string()),
        ("other_community_code", pa.string()),
        ("community_code", pa.string()),
    ]
)
"""register_truth.parquet: one row per register row, with its true status."""
ROLL_TRUTH = pa.schema(
    [
        ("roll_file", pa.string()),
        ("roll_row", pa.int64()),
        ("pid", pa.int64()),
        ("community_code", pa.string()),
        ("register_row", pa.int64()),
        ("status", pa.string()),
        ("other_community_code", pa.string()),
    ]
)
"""roll_truth.parquet: one row per roll row, with its register row (null for migrants) and true status."""
STAGES = ("户籍 register", "实有人口 rolls")
"""What `write_city` reports progress on, one step per community each: the register pass and the rolls pass."""
SPILL_BATCH = 200_000
"""Residents held in memory before they are appended to their communities' files."""
TRUTH_BATCH = 250_000
"""Truth rows held in memory before they are written as a Parquet row group."""
_GRID = {head: f"第{i % 6 + 1}网格" for i, head in enumerate(pools.PLACE_HEADS)}

Columns = dict[str, list[Any]]
T = TypeVar("T")
R = TypeVar("R")


def _columns(schema: pa.Schema) -> Columns:
    return {name: [] for name in schema.names}


class _TruthFile:
    """A truth table appended to in batches: Parquet row groups in the order rows are added."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        self.batch = TRUTH_BATCH
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")
        self.held = _columns(schema)
        self.rows = 0

    def add(self, columns: Columns) -> None:
        for name, values in columns.items():
            self.held[name] += values
        if len(self.held[self.schema.names[0]]) >= self.batch:
            self.flush()

    def flush(self) -> None:
        held = len(self.held[self.schema.names[0]])
        if held:
            self.writer.write_table(pa.Table.from_pydict(self.held, schema=self.schema))
            self.rows += held
            self.held = _columns(self.schema)

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _register_row(rng: random.Random, p: Person) -> tuple[list[str], bool]:
    """The person's register row, with the extract's rare defects; whether it is broken beyond use."""
    c = p.community
    name, id18, birth = p.name, p.id18, p.birth.strftime("%Y%m%d")
    quarantine = False
    if p.lives_in is None and rng.random() < 0.002:
        name, id18 = "", ""
        quarantine = True
    elif rng.random() < 0.001:
        birth = f"{p.birth.year}-13-{p.birth.day:02d}"
    elif rng.random() < 0.0005:
        id18 = id18[:17] + ("0" if id18[17] != "0" else "1")
    moved_in = p.moved_in.strftime("%Y-%m-%d") if p.moved_in else ""
    row = [
        id18,
        name,
        p.former_name,
        p.sex,
        p.ethnicity,
        birth,
        p.household,
        p.relation,
        register_address(c.street, c.name, p.dwelling),
        c.station,
        c.street,
        c.name,
        c.code,
        p.status,
        moved_in,
    ]
    return row, quarantine


def _true_register_status(p: Person) -> tuple[str, str | None]:
    if p.status != "正常":
        return Status.INACTIVE.value, None
    if p.lives_in is None:
        return Status.ABSENT.value, None
    if p.lives_in.index == p.community.index:
        return (Status.CONSISTENT.value if p.lives_at == p.dwelling else Status.MOVED_WITHIN.value), None
    return Status.ABSENT.value, p.lives_in.code


def _true_roll_status(p: Person) -> tuple[str, str | None]:
    """The status of a registered person's roll record, in the community they live in."""
    if p.lives_in is not None and p.lives_in.index == p.community.index:
        return (Status.CONSISTENT.value if p.lives_at == p.dwelling else Status.MOVED_WITHIN.value), None
    return Status.UNREGISTERED.value, p.community.code


def _resident(p: Person, register_row: int | None) -> Resident:
    migrant = register_row is None
    status, other = (Status.UNREGISTERED.value, None) if migrant else _true_roll_status(p)
    return Resident(
        order=p.pid if migrant else register_row,  # type: ignore[arg-type]
        pid=p.pid,
        name=p.name,
        sex=p.sex,
        birth=p.birth,
        id18=p.id18,
        lives_at=p.lives_at,
        register_row=register_row,
        status=status,
        other_community_code=other,
        migrant=migrant,
        household=p.household,
    )


def write_register(
    city: City,
    drawn_communities: Iterable[Drawn],
    path: Path,
    truth: _TruthFile,
    spill: Spill,
    *,
    progress: Callable[[], None] | None = None,
) -> dict[str, int]:
    """The police extract as GB18030 CSV, community by community; returns counts.

    `drawn_communities` are the city's communities' draws, in order; their
    people are settled here (`Registry.settle`). Appends each row's truth to
    `truth`, and sets every resident (registered people who live in the city,
    and migrants) aside in `spill` for the roll of the community they live in.
    """
    registry = Registry()
    totals = {"registered": 0, "migrants": 0}
    row_no = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="gb18030", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(REGISTER_COLUMNS)
        for community, drawn in zip(city.communities, drawn_communities, strict=True):
            registry.settle(city.seed, community, drawn)
            rng = stream(city.seed, "register", community.code)
            columns = _columns(REGISTER_TRUTH)
            for person in drawn.registered:
                row_no += 1
                row, quarantine = _register_row(rng, person)
                writer.writerow(row)
                status, other = ("quarantine", None) if quarantine else _true_register_status(person)
                columns["register_file"].append(path.name)
                columns["register_row"].append(row_no)
                columns["pid"].append(person.pid)
                columns["status"].append(status)
                columns["other_community_code"].append(other)
                columns["community_code"].append(community.code)
                if person.lives_in is not None:
                    spill.add(person.lives_in.index, _resident(person, row_no))
            for person in drawn.migrants:
                spill.add(community.index, _resident(person, None))
            truth.add(columns)
            totals["registered"] += len(drawn.registered)
            totals["migrants"] += len(drawn.migrants)
            if progress:
                progress()
    spill.flush()
    totals["register_rows"] = row_no - 1
    return totals


def _housed(seed: int, community: Community, residents: list[Resident]) -> list[Resident]:
    """`residents` with a dwelling each: one free dwelling per household that moved in from elsewhere."""
    rng = stream(seed, "movers", community.code)
    homes: list[tuple[str, ...]] | None = None
    chosen: dict[str, tuple[str, ...]] = {}
    out = []
    for r in residents:
        if r.lives_at is None:
            if r.household not in chosen:
                homes = homes or dwellings(seed, community)
                chosen[r.household] = free_dwelling(rng, homes)
            r = r._replace(lives_at=chosen[r.household])
        out.append(r)
    return out


def write_roll(community: Community, residents: list[Resident], path: Path, rng: random.Random) -> Columns:
    """One community's roll as xlsx, in the order the worker went round; returns its truth columns.

    About one in a hundred residents is entered twice; the second entry's truth is `duplicate`.
    """
    entries = residents + [r for r in residents if rng.random() < 0.01]
    rng.shuffle(entries)
    truth = _columns(ROLL_TRUTH)
    rows: list[list[object]] = []
    seen: set[int] = set()
    for i, person in enumerate(entries, start=1):
        if person.lives_at is None:
            raise ValueError(f"resident {person.pid} has no dwelling")
        duplicate = person.pid in seen
        seen.add(person.pid)
        birth = birth_as_written(rng, person.birth)
        values: list[object] = [
            i,
            _GRID.get(person.lives_at[0][:2], "第1网格"),
            name_noise(rng, person.name),
            "" if rng.random() < 0.1 else person.sex,
            id_noise(rng, person.id18),
            birth,
            f"1{rng.randint(3000000000, 9999999999)}",
            roll_address(rng, community.street, community.name, person.lives_at),
            rng.choice(pools.HOUSE_KINDS) if not person.migrant else "租赁",
            f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}",
            "",
        ]
        rows.append(values)
        truth["roll_file"].append(path.name)
        truth["roll_row"].append(i + 1)
        truth["pid"].append(person.pid)
        truth["community_code"].append(community.code)
        truth["register_row"].append(person.register_row)
        truth["status"].append("duplicate" if duplicate else person.status)
        truth["other_community_code"].append(None if duplicate else person.other_community_code)
    write_sheet(path, "实有人口", ROLL_COLUMNS, rows)
    return truth


@dataclass(frozen=True, slots=True)
class _RollJob:
    """What a worker needs to write one community's roll."""

    seed: int
    community: Community
    spill: Path
    rolls: Path


def _write_roll_job(job: _RollJob) -> Columns:
    """Read the community's residents, house the newcomers, write the roll; returns its truth columns."""
    community = job.community
    residents = Spill(job.spill).take(community.index)
    residents = _housed(job.seed, community, residents)
    # Registered people in register order, then migrants, whatever order the spill kept.
    residents.sort(key=lambda r: (r.migrant, r.order))
    path = job.rolls / f"{community.code}_{community.name}.xlsx"
    return write_roll(community, residents, path, stream(job.seed, "roll", community.code))


_city: City | None = None
"""The city a worker process draws from (`_draw_job`), set once when the worker starts."""


def _set_city(city: City) -> None:
    global _city
    _city = city


def _draw_job(index: int) -> Drawn:
    if _city is None:
        raise RuntimeError("worker started without a city")
    return draw_community(_city, _city.communities[index])


def _in_order(pool: Executor | None, fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """`fn` of each item, in the items' order; in `pool` with at most `ahead` results pending when there is one."""
    if pool is None:
        yield from map(fn, items)
        return
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def default_workers(city: City) -> int:
    """Processes that draw communities and write rolls: none for small cities, else one per core (at most 4)."""
    if sum(c.households for c in city.communities) < 20_000:
        return 1
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def write_city(
    city: City,
    out: Path,
    *,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> dict[str, Path]:
    """Write the delivery under `out`: register/, rolls/ and truth/; fills in `city.totals`.

    `progress` is called with a name from `STAGES` after each community of
    that pass. `workers` processes draw the communities and write the rolls
    (`default_workers` when None); the files are the same whatever their number.
    """
    register_path = out / "register" / f"户籍人口_{pools.COUNTY_CODE}.csv"
    rolls_dir = out / "rolls"
    truth_dir = out / "truth"
    for folder in (register_path.parent, rolls_dir, truth_dir):
        folder.mkdir(parents=True, exist_ok=True)
    spill_dir = Path(tempfile.mkdtemp(prefix=".spill-", dir=out))

    def register_step() -> None:
        if progress:
            progress(STAGES[0])

    n = workers if workers is not None else default_workers(city)
    # Spawned, not forked: the parent may hold threads (Arrow's) that a fork would copy mid-flight.
    pool = (
        ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"), initializer=_set_city, initargs=(city,))
        if n > 1
        else None
    )
    ahead = 2 * n + 2
    try:
        spill = Spill(spill_dir, batch=SPILL_BATCH)
        register_truth = _TruthFile(truth_dir / "register_truth.parquet", REGISTER_TRUTH)
        draws = (
            _in_order(pool, _draw_job, range(len(city.communities)), ahead)
            if pool
            else (draw_community(city, c) for c in city.communities)
        )
        totals = write_register(city, draws, register_path, register_truth, spill, progress=register_step)
        register_truth.close()
        roll_truth = _TruthFile(truth_dir / "roll_truth.parquet", ROLL_TRUTH)
        jobs = [_RollJob(city.seed, c, spill.folder, rolls_dir) for c in city.communities]
        for columns in _in_order(pool, _write_roll_job, jobs, ahead):
            roll_truth.add(columns)
            if progress:
                progress(STAGES[1])
        roll_truth.close()
        totals["roll_rows"] = roll_truth.rows
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        shutil.rmtree(spill_dir, ignore_errors=True)
    city.totals = totals
    return {"register": register_path, "rolls": rolls_dir, "truth": truth_dir}
