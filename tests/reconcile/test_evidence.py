"""Evidence on lone records and roll coverage: what the data says before anybody is called absent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.classify import classify
from reconcile.evidence import VACANCY_WORDS, coverage, evidence, is_vacancy, namesakes
from reconcile.prepare import prepare
from schemas.codes import Evidence, Quarantine, Side, Status
from schemas.inputs import REGISTER, ROLL
from tests.reconcile.helpers import SECRET, raw_frame, valid_id

CODE, OTHER = "330282001001", "330282001002"
BASE = {"street": "浒山街道", "station": "浒山派出所"}


def _id(serial: int) -> str:
    return valid_id(f"33028219800101{serial:03d}")


# name, household, community, registered flat
REGISTERED = [
    ("甲一", "A", CODE, "金山花园1幢1单元101室"),  # someone else lives there
    ("甲二", "A", CODE, "金山花园1幢1单元101室"),
    ("乙一", "B", CODE, "金山花园1幢1单元102室"),  # found there
    ("乙二", "B", CODE, "金山花园1幢1单元102室"),  # … but not this one: the family lives there
    ("丙一", "C", CODE, "金山花园1幢1单元201室"),  # the roll records the flat as empty
    ("丁一", "D", CODE, "金山花园1幢2单元301室"),  # other flats of building 1 are recorded: missed?
    ("戊一", "E", CODE, "金山花园2幢1单元101室"),  # nothing of building 2 is recorded: not visited
    ("钱七", "F", OTHER, "银河小区5幢1单元101室"),  # a namesake of a roll record in another community
]
# name, ID serial (None: no ID), roll address, note, recorded on
ROLLED = [
    ("陌生人", None, "金山花园1-1-101", None, "2024-05-03"),
    ("乙一", 2, "金山花园1幢1单元102室", None, "2023-01-01"),
    ("（空置）", None, "金山花园1幢1单元201室", None, None),
    ("赵六", None, "金山花园3幢1单元301室", None, None),
    ("钱七", None, "金山花园3幢1单元302室", None, None),
]


def _city() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    register = raw_frame(
        REGISTER.internal_names,
        [
            {
                **BASE,
                "community_code_raw": code,
                "community_name": "华联社区" if code == CODE else "银河社区",
                "id_raw": _id(i),
                "name_raw": name,
                "household_no": hh,
                "address_raw": flat,
            }
            for i, (name, hh, code, flat) in enumerate(REGISTERED)
        ],
        "register.csv",
    )
    roll = raw_frame(
        ROLL.internal_names,
        [
            {
                "name_raw": name,
                "id_raw": _id(serial) if serial is not None else None,
                "address_raw": written,
                "note": note,
                "recorded_raw": on,
                "grid": "第1网格",
            }
            for name, serial, written, note, on in ROLLED
        ],
        f"{CODE}_华联社区.xlsx",
    ).with_columns(pl.lit(CODE).alias("file_community"))
    both = prepare(register, roll, secret=SECRET)
    reg, rol = both.register, both.roll
    rid = reg.filter(pl.col("name") == "乙一")["idx"].item()
    lid = rol.filter(pl.col("name") == "乙一")["idx"].item()
    links = pl.DataFrame({"rid": [rid], "lid": [lid], "decided_by": ["auto"]})
    no_duplicates = pl.DataFrame(schema={"idx": pl.Int64, "primary": pl.Int64})
    statuses = classify(reg, rol, links, no_duplicates, no_duplicates)
    return statuses, reg, rol, links, both.vacant.join(both.quarantine, on=["source_file", "source_row"], how="left")


def _evidence(
    statuses: pl.DataFrame,
    reg: pl.DataFrame,
    rol: pl.DataFrame,
    links: pl.DataFrame,
    vacant: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """`evidence` with the namesakes looked for among the register records these links leave unplaced."""
    no_duplicates = pl.DataFrame(schema={"side": pl.String, "idx": pl.Int64, "primary": pl.Int64})
    return evidence(statuses, reg, rol, links, vacant, unplaced=namesakes(reg, links, no_duplicates))


def _by_name(found: pl.DataFrame, reg: pl.DataFrame, rol: pl.DataFrame) -> dict[tuple[str, str], dict]:
    names = pl.concat(
        [
            reg.select(pl.lit(Side.REGISTER.value).alias("side"), "idx", "name"),
            rol.select(pl.lit(Side.ROLL.value).alias("side"), "idx", "name"),
        ]
    )
    return {(r["side"], r["name"]): r for r in found.join(names, on=["side", "idx"]).iter_rows(named=True)}


def test_each_lone_record_gets_the_evidence_the_roll_gives() -> None:
    statuses, reg, rol, links, vacant = _city()
    found = _by_name(_evidence(statuses, reg, rol, links, vacant), reg, rol)
    reg_side, roll_side = Side.REGISTER.value, Side.ROLL.value
    assert {key: row["evidence"] for key, row in found.items()} == {
        (reg_side, "甲一"): Evidence.OTHERS_AT_FLAT,
        (reg_side, "甲二"): Evidence.OTHERS_AT_FLAT,
        (reg_side, "乙二"): Evidence.FAMILY_AT_FLAT,
        (reg_side, "丙一"): Evidence.FLAT_EMPTY,
        (reg_side, "丁一"): Evidence.FLAT_MISSED,
        (reg_side, "戊一"): Evidence.BUILDING_UNVISITED,
        (reg_side, "钱七"): Evidence.BUILDING_UNVISITED,  # the other community's roll records nothing
        (roll_side, "陌生人"): Evidence.NOT_IN_EXTRACT,
        (roll_side, "赵六"): Evidence.NOT_IN_EXTRACT,
        (roll_side, "钱七"): Evidence.NAMESAKE_ELSEWHERE,  # registered in the other community: a hint
    }
    assert found[reg_side, "甲一"]["others_at_flat"] == 1
    assert found[reg_side, "甲一"]["others_since"] == dt.date(2024, 5, 3)
    assert found[reg_side, "乙二"]["others_at_flat"] == 0


def test_a_namesake_is_a_hint_never_a_link() -> None:
    statuses, reg, rol, links, vacant = _city()
    found = _evidence(statuses, reg, rol, links, vacant)
    hint = found.filter(pl.col("evidence") == Evidence.NAMESAKE_ELSEWHERE.value)
    assert hint["hint_community"].to_list() == [OTHER]
    roll_qian = rol.filter(pl.col("name") == "钱七")["idx"].item()
    status = statuses.filter((pl.col("side") == Side.ROLL.value) & (pl.col("idx") == roll_qian))
    assert status["status"].item() == Status.UNREGISTERED
    assert status["other_community_code"].item() is None


def test_a_vacancy_row_is_evidence_not_a_person() -> None:
    statuses, _, rol, _, vacant = _city()
    assert "空置" not in "".join(n for n in rol["name_raw"].to_list() if n)
    assert vacant.height == 1
    assert vacant["reason"].to_list() == [Quarantine.VACANT_FLAT.value]
    assert statuses.filter(pl.col("side") == Side.ROLL.value).height == len(ROLLED) - 1


def test_a_linked_record_in_another_community_says_so() -> None:
    statuses, reg, rol, _, vacant = _city()
    rid = reg.filter(pl.col("name") == "钱七")["idx"].item()
    lid = rol.filter(pl.col("name") == "钱七")["idx"].item()
    links = pl.DataFrame({"rid": [rid], "lid": [lid], "decided_by": ["auto"]})
    no_duplicates = pl.DataFrame(schema={"idx": pl.Int64, "primary": pl.Int64})
    statuses = classify(reg, rol, links, no_duplicates, no_duplicates)
    found = _evidence(statuses, reg, rol, links, vacant)
    assert set(found.filter(pl.col("evidence").is_in(["lives_elsewhere", "registered_elsewhere"]))["side"]) == {
        Side.REGISTER.value,
        Side.ROLL.value,
    }


def test_coverage_counts_registered_and_recorded_flats_per_building() -> None:
    _, reg, rol, _, vacant = _city()
    table = {row["building"]: row for row in coverage(reg, rol, vacant).iter_rows(named=True)}
    assert table["金山花园1幢"]["flats_registered"] == 4
    assert table["金山花园1幢"]["flats_recorded"] == 3  # 101 (a stranger), 102, 201 (empty); not 2-301
    assert table["金山花园1幢"]["persons_recorded"] == 2  # the vacancy row is no person
    assert table["金山花园1幢"]["grid"] == "第1网格"
    assert table["金山花园2幢"]["flats_recorded"] == 0
    assert table["金山花园2幢"]["grid"] is None


# --- properties over small generated communities, built from the parts evidence() reads ------------------------

_PART_COLUMNS = {"dw_class": pl.String, "dw_place": pl.String, "dw_building": pl.String, "dw_room": pl.String}


def _flat(building: int, room: int) -> str:
    return f"{CODE}|F|金山|{building}|1|{room}"


@st.composite
def _communities(draw: st.DrawFn) -> tuple[pl.DataFrame, ...]:
    households = draw(
        st.lists(st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3)), min_size=1, max_size=8)
    )
    register_rows: list[dict[str, Any]] = []
    for h, (building, room, size) in enumerate(households):
        register_rows += [
            {"idx": len(register_rows) + m, "household_key": f"h{h}", "building": building, "room": room}
            for m in range(size)
        ]
    roll_places = draw(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 5)), max_size=10))
    linked = draw(st.sets(st.integers(0, len(register_rows) - 1), max_size=len(roll_places)))
    reg = pl.DataFrame(
        [
            {
                "idx": r["idx"],
                "community_code": CODE,
                "household_key": r["household_key"],
                "flat": _flat(r["building"], r["room"]),
                "dw_class": "U",
                "dw_place": "金山",
                "dw_building": str(r["building"]),
                "dw_room": str(r["room"]),
                "name": f"人{r['idx']}",
                "sex": None,
                "birth": None,
                "active": True,
            }
            for r in register_rows
        ],
        schema_overrides={"sex": pl.String, "birth": pl.Date},
    )
    roll_rows = [
        {
            "idx": i,
            "community_code": CODE,
            "flat": _flat(b, r),
            "dw_class": "U",
            "dw_place": "金山",
            "dw_building": str(b),
            "dw_room": str(r),
            "grid": "第1网格",
            "recorded_raw": None,
            "name": f"住{i}",
            "sex": None,
            "birth": None,
        }
        for i, (b, r) in enumerate(roll_places)
    ]
    rol = pl.DataFrame(
        roll_rows,
        schema={
            "idx": pl.Int64,
            "community_code": pl.String,
            "flat": pl.String,
            **_PART_COLUMNS,
            "grid": pl.String,
            "recorded_raw": pl.String,
            "name": pl.String,
            "sex": pl.String,
            "birth": pl.Date,
        },
    )
    pairs = list(zip(sorted(linked), range(rol.height), strict=False))
    links = pl.DataFrame(
        {"rid": [p[0] for p in pairs], "lid": [p[1] for p in pairs], "decided_by": ["auto"] * len(pairs)},
        schema={"rid": pl.Int64, "lid": pl.Int64, "decided_by": pl.String},
    )
    linked_rids = {p[0] for p in pairs}
    linked_lids = {p[1] for p in pairs}
    statuses = pl.DataFrame(
        [
            {"side": "register", "idx": i, "status": "consistent" if i in linked_rids else "absent"}
            for i in reg["idx"].to_list()
        ]
        + [
            {"side": "roll", "idx": i, "status": "consistent" if i in linked_lids else "unregistered"}
            for i in rol["idx"].to_list()
        ]
    ).with_columns(pl.lit(None, dtype=pl.String).alias("other_community_code"))
    return statuses, reg, rol, links


@settings(max_examples=60, deadline=None)
@given(_communities())
def test_every_lone_record_gets_exactly_one_evidence_of_its_side(city: tuple[pl.DataFrame, ...]) -> None:
    statuses, reg, rol, links = city
    found = _evidence(statuses, reg, rol, links)
    lone = statuses.filter(pl.col("status").is_in(["absent", "unregistered"]))
    assert (
        found.select("side", "idx").sort("side", "idx").rows() == lone.select("side", "idx").sort("side", "idx").rows()
    )
    for row in found.iter_rows(named=True):
        assert Evidence(row["evidence"]).side == Side(row["side"])


@settings(max_examples=60, deadline=None)
@given(_communities())
def test_evidence_follows_what_the_roll_records_at_the_flat_and_building(city: tuple[pl.DataFrame, ...]) -> None:
    statuses, reg, rol, links = city
    found = (
        _evidence(statuses, reg, rol, links)
        .filter(pl.col("side") == "register")
        .join(reg.select("idx", "flat", "dw_building"), on="idx")
    )
    recorded_flats = set(rol["flat"])
    recorded_buildings = set(rol["dw_building"])
    for row in found.iter_rows(named=True):
        at_flat = row["flat"] in recorded_flats
        assert (row["evidence"] == Evidence.BUILDING_UNVISITED) == (row["dw_building"] not in recorded_buildings)
        assert (row["evidence"] == Evidence.FLAT_MISSED) == (row["dw_building"] in recorded_buildings and not at_flat)
        assert (row["evidence"] in (Evidence.OTHERS_AT_FLAT, Evidence.FAMILY_AT_FLAT)) == at_flat
        assert (row["others_at_flat"] > 0) == (row["evidence"] == Evidence.OTHERS_AT_FLAT)


@settings(max_examples=40, deadline=None)
@given(_communities())
def test_coverage_never_records_more_flats_than_are_registered(city: tuple[pl.DataFrame, ...]) -> None:
    _, reg, rol, _ = city
    table = coverage(reg, rol)
    assert (table["flats_recorded"] <= table["flats_registered"]).all()
    assert table["flats_registered"].sum() == reg["flat"].n_unique()


_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


@settings(max_examples=200, deadline=None)
@given(name=st.text(_CJK, min_size=2, max_size=4), note=st.one_of(st.none(), st.text(_CJK, max_size=8)))
def test_a_person_with_a_name_is_never_a_vacancy(name: str, note: str | None) -> None:
    frame = pl.DataFrame({"name_raw": [name], "note": [note], "id_raw": [None]}, schema=dict.fromkeys(_RAW, pl.String))
    vacant = frame.select(is_vacancy(pl.col("name_raw"), pl.col("note"), pl.col("id_raw"))).item()
    assert vacant is (name in VACANCY_WORDS)


@settings(max_examples=100, deadline=None)
@given(word=st.sampled_from([*VACANCY_WORDS, "空"]), noise=st.sampled_from(["", " ", "（", "【"]))
def test_a_vacancy_word_as_the_name_without_an_id_is_a_vacancy(word: str, noise: str) -> None:
    frame = pl.DataFrame(
        {"name_raw": [f"{noise}{word}"], "note": [None], "id_raw": [None]}, schema=dict.fromkeys(_RAW, pl.String)
    )
    assert frame.select(is_vacancy(pl.col("name_raw"), pl.col("note"), pl.col("id_raw"))).item() is True
    with_id = frame.with_columns(pl.lit("330282199001011234").alias("id_raw"))
    assert with_id.select(is_vacancy(pl.col("name_raw"), pl.col("note"), pl.col("id_raw"))).item() is False


_RAW = ("name_raw", "note", "id_raw")


# --- the registered flat written as community workers write it ---------------------------------------------------

_WRITINGS = st.fixed_dictionaries(
    {
        "prefix": st.sampled_from(["", "华联社区", "浒山街道华联社区", "慈溪市浒山街道"]),
        "place": st.sampled_from(["金山花园", "金山"]),
        "building": st.sampled_from(["8幢", "8号楼", "8栋", "八幢", "８幢"]),
        "unit": st.sampled_from(["1单元", ""]),
        "room": st.sampled_from(["902室", "902", "902号", "九〇二室"]),
    }
)


@settings(max_examples=25, deadline=None)
@given(writing=_WRITINGS, vacant=st.booleans())
def test_a_flat_the_roll_records_however_written_is_never_called_missed(writing: dict[str, str], vacant: bool) -> None:
    """Someone (or a vacancy) recorded at the registered flat, written with or without its prefix, 单元, 室 or
    the compound's full name: the absent family's evidence says the flat is recorded, never that it was missed."""
    register = raw_frame(
        REGISTER.internal_names,
        [
            {
                **BASE,
                "community_code_raw": CODE,
                "community_name": "华联社区",
                "id_raw": _id(i),
                "name_raw": name,
                "household_no": hh,
                "address_raw": f"浙江省慈溪市浒山街道华联社区金山花园8幢{unit}单元902室",
            }
            for i, (name, hh, unit) in enumerate([("甲一", "A", 1), ("甲二", "A", 1), ("乙一", "B", 2)])
        ],
        "register.csv",
    )
    written = "".join(writing[part] for part in ("prefix", "place", "building", "unit", "room"))
    roll = raw_frame(
        ROLL.internal_names,
        [{"name_raw": "（空置）" if vacant else "陌生人", "address_raw": written, "grid": "第1网格"}],
        f"{CODE}_华联社区.xlsx",
    ).with_columns(pl.lit(CODE).alias("file_community"))
    both = prepare(register, roll, secret=SECRET)
    no_links = pl.DataFrame(schema={"rid": pl.Int64, "lid": pl.Int64, "decided_by": pl.String})
    no_duplicates = pl.DataFrame(schema={"idx": pl.Int64, "primary": pl.Int64})
    statuses = classify(both.register, both.roll, no_links, no_duplicates, no_duplicates)
    found = _evidence(statuses, both.register, both.roll, no_links, both.vacant)
    family_a = found.filter(pl.col("side") == Side.REGISTER.value).join(
        both.register.filter(pl.col("household_no") == "A").select("idx"), on="idx"
    )
    assert family_a.height == 2
    expected = Evidence.FLAT_EMPTY if vacant else Evidence.OTHERS_AT_FLAT
    assert set(family_a["evidence"]) == {expected.value}, written
    table = coverage(both.register, both.roll, both.vacant)
    assert table["flats_recorded"].sum() >= 1, written
