"""A handful of records: estimates lean on what is known of IDs and names instead of falling over."""

from __future__ import annotations

import polars as pl

from reconcile.classify import classify
from reconcile.linker import link
from reconcile.prepare import prepare
from schemas.inputs import REGISTER, ROLL
from tests.reconcile.helpers import SECRET, raw_frame


def test_three_people() -> None:
    base = {
        "street": "浒山街道",
        "community_name": "某社区",
        "community_code_raw": "330282001001",
        "station": "浒山派出所",
    }
    register = raw_frame(
        REGISTER.internal_names,
        [
            {
                **base,
                "id_raw": "11010519491231002X",
                "name_raw": "张伟",
                "household_no": "1",
                "address_raw": "某社区金山花园1幢1单元101室",
            },
            {
                **base,
                "id_raw": "330282198703314419",
                "name_raw": "李强",
                "household_no": "2",
                "address_raw": "某社区金山花园2幢1单元201室",
            },
            {
                **base,
                "id_raw": "330282199001011237",
                "name_raw": "王芳",
                "household_no": "2",
                "address_raw": "某社区金山花园2幢1单元201室",
                "person_state": "迁出",
            },
        ],
        "register.csv",
    )
    roll = raw_frame(
        ROLL.internal_names,
        [
            {"name_raw": "張偉", "id_raw": "110105 19491231 002x", "address_raw": "金山花园1-1-101"},
            {"name_raw": "赵六", "address_raw": "金山花园3-1-301"},
        ],
        "330282001001_某社区.xlsx",
    ).with_columns(pl.lit("330282001001").alias("file_community"))
    both = prepare(register, roll, secret=SECRET)
    reg, rol = both.register, both.roll
    result = link(reg, rol)
    assert result.links.select("rid", "lid", "decided_by").rows() == [(0, 0, "auto")]
    statuses = classify(reg, rol, result.links, result.register_duplicates, result.roll_duplicates)
    by_row = {(s, r): st for s, r, st in statuses.select("side", "source_row", "status").iter_rows()}
    assert by_row == {
        ("register", 2): "consistent",
        ("register", 3): "absent",
        ("register", 4): "inactive",
        ("roll", 2): "consistent",
        ("roll", 3): "unregistered",
    }
