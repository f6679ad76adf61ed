"""Write a synthetic city as a delivery.

A GB18030 police extract, one xlsx roll per community, and the ground truth as Parquet.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from typing import TYPE_CHECKING

import polars as pl
import xlsxwriter

from schemas.codes import Status
from synth import pools
from synth.noise import birth_as_written, id_noise, name_noise, register_address, roll_address

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

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


def _register_row(rng: random.Random, p: Person, truth: dict[str, object]) -> list[str]:
    c = p.community
    name, id18, birth = p.name, p.id18, p.birth.strftime("%Y%m%d")
    if p.lives_in is None and rng.random() < 0.002:
        name, id18 = "", ""
        truth["status"] = "quarantine"
    elif rng.random() < 0.001:
        birth = f"{p.birth.year}-13-{p.birth.day:02d}"
    elif rng.random() < 0.0005:
        id18 = id18[:17] + ("0" if id18[17] != "0" else "1")
    moved_in = p.moved_in.strftime("%Y-%m-%d") if p.moved_in else ""
    return [
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


def write_register(city: City, path: Path, rng: random.Random) -> list[dict[str, object]]:
    """The police extract as GB18030 CSV; returns its ground truth rows."""
    truth: list[dict[str, object]] = []
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="gb18030", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(REGISTER_COLUMNS)
        for row_no, person in enumerate(city.registered, start=2):
            status, other = _true_register_status(person)
            entry: dict[str, object] = {
                "register_file": path.name,
                "register_row": row_no,
                "pid": person.pid,
                "status": status,
                "other_community_code": other,
                "community_code": person.community.code,
            }
            writer.writerow(_register_row(rng, person, entry))
            truth.append(entry)
    return truth


def _true_register_status(p: Person) -> tuple[str, str | None]:
    if p.status != "正常":
        return Status.INACTIVE.value, None
    if p.lives_in is None:
        return Status.ABSENT.value, None
    if p.lives_in is p.community:
        return (Status.CONSISTENT.value if p.lives_at == p.dwelling else Status.MOVED_WITHIN.value), None
    return Status.ABSENT.value, p.lives_in.code


def _true_roll_status(p: Person, community: Community, migrant: bool) -> tuple[str, str | None]:
    if migrant:
        return Status.UNREGISTERED.value, None
    if p.community is community:
        return (Status.CONSISTENT.value if p.lives_at == p.dwelling else Status.MOVED_WITHIN.value), None
    return Status.UNREGISTERED.value, p.community.code


def write_roll(
    community: Community,
    residents: list[tuple[Person, bool]],
    path: Path,
    rng: random.Random,
    register_row: Callable[[int], int | None],
) -> list[dict[str, object]]:
    """One community's roll as xlsx; returns its ground truth rows."""
    entries: list[tuple[Person, bool, bool]] = [(p, m, False) for p, m in residents]
    entries += [(p, m, True) for p, m in residents if rng.random() < 0.01]
    rng.shuffle(entries)
    truth: list[dict[str, object]] = []
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("实有人口")
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ROLL_COLUMNS)
    seen: set[int] = set()
    for i, (person, migrant, _) in enumerate(entries, start=1):
        if person.lives_at is None:
            raise ValueError(f"resident {person.pid} has no dwelling")
        duplicate = person.pid in seen
        seen.add(person.pid)
        birth = birth_as_written(rng, person.birth)
        values: list[object] = [
            i,
            f"第{pools.PLACE_HEADS.index(person.lives_at[0][:2]) % 6 + 1 if person.lives_at[0][:2] in pools.PLACE_HEADS else 1}网格",
            name_noise(rng, person.name),
            "" if rng.random() < 0.1 else person.sex,
            id_noise(rng, person.id18),
            None,
            f"1{rng.randint(3000000000, 9999999999)}",
            roll_address(rng, community.street, community.name, person.lives_at),
            rng.choice(pools.HOUSE_KINDS) if not migrant else "租赁",
            f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}",
            "",
        ]
        sheet.write_row(i, 0, values)
        if isinstance(birth, dt.date):
            sheet.write_datetime(i, 5, dt.datetime.combine(birth, dt.time()), date_format)
        elif birth:
            sheet.write_string(i, 5, str(birth))
        status, other = ("duplicate", None) if duplicate else _true_roll_status(person, community, migrant)
        truth.append(
            {
                "roll_file": path.name,
                "roll_row": i + 1,
                "pid": person.pid,
                "community_code": community.code,
                "register_row": None if migrant else register_row(person.pid),
                "status": status,
                "other_community_code": other,
            }
        )
    book.close()
    return truth


def write_city(city: City, out: Path, *, progress: Callable[[int, int], None] | None = None) -> dict[str, Path]:
    """Write the delivery under `out`: register/, rolls/ and truth/."""
    rng = random.Random(city.seed + 1)
    register_path = out / "register" / f"户籍人口_{pools.COUNTY_CODE}.csv"
    register_truth = write_register(city, register_path, rng)
    row_of = {t["pid"]: t["register_row"] for t in register_truth if t["status"] != "quarantine"}
    rolls_dir = out / "rolls"
    rolls_dir.mkdir(parents=True, exist_ok=True)
    by_community: dict[str, list[tuple[Person, bool]]] = {c.code: [] for c in city.communities}
    for person in city.registered:
        if person.lives_in is not None:
            by_community[person.lives_in.code].append((person, False))
    for person in city.migrants:
        by_community[person.community.code].append((person, True))
    roll_truth: list[dict[str, object]] = []
    for done, community in enumerate(city.communities, start=1):
        path = rolls_dir / f"{community.code}_{community.name}.xlsx"
        roll_truth += write_roll(community, by_community[community.code], path, rng, lambda pid: row_of.get(pid))  # type: ignore[arg-type,return-value]
        if progress:
            progress(done, len(city.communities))
    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(register_truth, infer_schema_length=None).write_parquet(truth_dir / "register_truth.parquet")
    pl.DataFrame(roll_truth, infer_schema_length=None).write_parquet(truth_dir / "roll_truth.parquet")
    return {"register": register_path, "rolls": rolls_dir, "truth": truth_dir}
