"""Statuses a registrar would give when the roll writes a flat less completely than the register."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from reconcile.classify import classify
from reconcile.linker import link
from reconcile.prepare import prepare
from reconcile.summary import community_summary
from schemas.inputs import REGISTER, ROLL
from tests.reconcile.helpers import SECRET, raw_frame, valid_id

if TYPE_CHECKING:
    from collections.abc import Sequence

CODE = "330282001001"
BASE = {"street": "浒山街道", "community_name": "华联社区", "community_code_raw": CODE, "station": "浒山派出所"}


def _id(serial: int) -> str:
    return valid_id(f"33028219800101{serial:03d}")


# name, household, registered flat, roll address (None: not on the roll)
PEOPLE = [
    ("甲", "1", "金山花园8幢4单元902室", "华联社区金山花园8号楼902室"),  # 单元 left out, the only 902 of building 8
    ("乙", "2", "金山花园9幢1单元501室", "金山9幢501"),  # fits 9-1-501 and 9-2-501, whose family was not found
    ("丙", "3", "金山花园9幢2单元501室", None),
    ("丁", "4", "金山花园10幢1单元301室", "浒山街道金山花园十幢３０１"),  # fits 10-1-301 and 10-2-301 …
    ("戊", "5", "金山花园10幢2单元301室", "金山花园3幢1单元101室"),  # … whose family lives elsewhere here
    ("己", "6", "金山花园11幢1单元201室", "金山花园11幢3单元201室"),  # another flat of the same building
]


def _run(people: Sequence[tuple[str, str, str, str | None]] = PEOPLE) -> tuple[pl.DataFrame, pl.DataFrame]:
    register = raw_frame(
        REGISTER.internal_names,
        [
            {
                **BASE,
                "id_raw": _id(i),
                "name_raw": name,
                "household_no": hh,
                "address_raw": f"浙江省慈溪市浒山街道华联社区{flat}",
            }
            for i, (name, hh, flat, _) in enumerate(people)
        ],
        "register.csv",
    )
    roll = raw_frame(
        ROLL.internal_names,
        [
            {"id_raw": _id(i), "name_raw": name, "address_raw": written}
            for i, (name, _, _, written) in enumerate(people)
            if written
        ],
        f"{CODE}_华联社区.xlsx",
    ).with_columns(pl.lit(CODE).alias("file_community"))
    both = prepare(register, roll, secret=SECRET)
    reg, rol = both.register, both.roll
    result = link(reg, rol)
    statuses = classify(reg, rol, result.links, result.register_duplicates, result.roll_duplicates)
    communities = pl.DataFrame(
        {"community_code": [CODE], "community_name": ["华联社区"], "street": ["浒山街道"], "police_station": ["x"]}
    )
    no_review = pl.DataFrame(schema={"register_community": pl.String, "roll_community": pl.String})
    return statuses, community_summary(statuses, reg, rol, communities, no_review)


def test_an_incomplete_address_of_the_registered_flat_is_consistent() -> None:
    statuses, summary = _run()
    register = statuses.filter(pl.col("side") == "register").sort("source_row")
    got = dict(zip([p[0] for p in PEOPLE], register.select("status", "address_incomplete").rows(), strict=True))
    assert got == {
        "甲": ("consistent", False),
        "乙": ("consistent", True),  # 9-2-501 may be the flat meant, and its family was not found elsewhere
        "丙": ("absent", False),
        "丁": ("consistent", False),  # 10-2-301's family was found at another flat
        "戊": ("moved_within", False),
        "己": ("moved_within", False),
    }
    row = summary.row(0, named=True)
    assert (row["consistent_persons"], row["consistent_address_incomplete_persons"]) == (3, 1)
    roll = statuses.filter((pl.col("side") == "roll") & pl.col("address_incomplete"))
    assert roll.height == 1


def test_an_estate_written_with_its_suffix_swapped_is_read_as_the_registered_one_by_its_own_link() -> None:
    """中塘小区 and 中塘新村 are two estates of one community; a worker writes 中塘小区 for 中塘新村. The person's own
    link says which: the registered flat's building, unit and room."""
    people = [
        ("甲", "1", "中塘新村17幢1单元101室", "中塘小区17幢1单元101室"),  # the registered flat, its suffix swapped
        ("乙", "2", "中塘新村17幢1单元102室", "中塘小区17幢1单元301室"),  # another flat of that building
        ("丙", "3", "中塘小区5幢1单元101室", "中塘小区5幢1单元101室"),
        ("丁", "4", "金山花园8幢1单元101室", "金山新村8幢1单元101室"),  # 金山新村 is no estate here: one stem
        ("戊", "5", "中塘新村9幢1单元101室", "望湖公寓9幢1单元101室"),  # another stem is another estate
    ]
    statuses, _ = _run(people)
    register = statuses.filter(pl.col("side") == "register").sort("source_row")
    assert dict(zip([p[0] for p in people], register["status"], strict=True)) == {
        "甲": "consistent",
        "乙": "moved_within",
        "丙": "consistent",
        "丁": "consistent",
        "戊": "moved_within",
    }
