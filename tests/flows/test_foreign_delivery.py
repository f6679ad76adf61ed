"""A hand-made delivery in formats the generator never writes: the register as
xlsx with a title row, code columns and a legacy 15-digit number; one roll as
GB18030 CSV with header aliases, full-width digits, a lowercase x, traditional
characters and address shorthand; one roll as xlsx with real Excel dates and
no grid column. Run locally (no Prefect) and check every record's status."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import duckdb
import pytest
import xlsxwriter

from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from reconcile.idnumber import check_char, upgrade15

if TYPE_CHECKING:
    from pathlib import Path

JINSHAN, HAIGUAN = "330282001001", "330282002001"


def _valid(first17: str) -> str:
    return first17 + check_char(first17)


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def _register(path: Path) -> None:
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["慈溪市户籍人口导出 2026-11-26"])
    sheet.write_row(
        1,
        0,
        [
            "身份证号码", "姓名", "曾用名", "性别", "民族", "出生日期", "户号", "与户主关系代码", "住址",
            "派出所", "乡镇街道", "居委会", "居委会代码", "人员状态", "迁入日期", "备用字段",
        ],
    )  # fmt: skip
    jinshan = ["浒山派出所", "浒山街道", "金山社区", JINSHAN]
    haiguan = ["古塘派出所", "古塘街道", "海关社区", HAIGUAN]
    flat = "浙江省慈溪市浒山街道金山社区金山花园12幢3单元301室"
    rows = [
        [_valid("33028219850101123"), "张伟", "", "1", "01", "19850101", "H1", "02", flat, *jinshan, "正常", "", "x"],
        [_valid("33028219870203122"), "王芳", "王小芳", "2", "01", "1987-02-03", "H1", "10", flat, *jinshan, "正常"],
        ["330222750615123", "李建国", "", "1", "01", "19750615", "H2", "02",
         "浙江省慈溪市浒山街道金山社区金山花园5幢1单元102室", *jinshan, "正常"],
        [_valid("33028219991231001"), "欧阳娜娜", "", "2", "01", "19991231", "H3", "02",
         "浙江省慈溪市古塘街道海关社区海关新村8号", *haiguan, "正常"],
        [_valid("33028220000101111"), "陈明", "", "1", "01", "20000101", "H3", "20",
         "浙江省慈溪市古塘街道海关社区海关新村8号", *haiguan, "死亡"],
    ]  # fmt: skip
    for i, row in enumerate(rows, start=2):
        sheet.write_row(i, 0, row)
    book.close()


def _rolls(folder: Path) -> None:
    folder.mkdir()
    lines = [
        "序号,网格,姓名,性别,公民身份号码,出生日期,手机号码,实际居住地址,房屋性质,登记日期,备注",
        f"1,一网格,張偉,男,{_full_width(_valid('33028219850101123'))},,13800000000,金山花园12-3-301,自有,2026/11/01,",
        f"2,一网格,王芳,女,{_valid('33028219870203122').lower()},1987/02/03,,金山花园十二幢三单元301,自有,2026/11/01,",
        "3,二网格,赵新来,男,,,,金山花园7幢2单元201室,租赁,2026/11/02,外来",
        "4,二网格,欧阳娜娜,女,,,,金山花园7幢2单元202室,租赁,2026/11/02,",
    ]
    (folder / f"{JINSHAN}_金山社区.csv").write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    book = xlsxwriter.Workbook(str(folder / f"{HAIGUAN}_海关社区.xlsx"))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["序号", "姓名", "性别", "身份证号", "出生日期", "联系电话", "现住地址"])
    sheet.write_row(1, 0, [1, "李建国", "男", upgrade15("330222750615123")])
    sheet.write_datetime(1, 4, dt.datetime(1975, 6, 15), book.add_format({"num_format": "yyyy-mm-dd"}))
    sheet.write_row(1, 5, ["", "海关新村8号"])
    book.close()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("foreign")
    _register(root / "户籍人口_2026.xlsx")
    _rolls(root / "rolls")
    outcome = run_pipeline(root / "户籍人口_2026.xlsx", root / "rolls", Settings(data_dir=root / "data"), LOCAL)
    return duckdb.connect(str(outcome.database), read_only=True)


def test_every_record_gets_the_status_a_person_would_give(published: duckdb.DuckDBPyConnection) -> None:
    rows = published.execute(
        "SELECT side, source_file, source_row, status, other_community_code FROM record_status"
    ).fetchall()
    got = {(side, file[:12] if side == "roll" else "register", row): (st, other) for side, file, row, st, other in rows}
    assert got == {
        # 张伟 / 王芳 at home, written 張偉 with a full-width number and 王芳 with a lowercase x.
        ("register", "register", 3): ("consistent", None),
        ("register", "register", 4): ("consistent", None),
        ("roll", JINSHAN, 2): ("consistent", None),
        ("roll", JINSHAN, 3): ("consistent", None),
        # 李建国: a legacy 15-digit number in the register, the 18-digit one in 海关's roll.
        ("register", "register", 5): ("absent", HAIGUAN),
        ("roll", HAIGUAN, 2): ("unregistered", JINSHAN),
        # 欧阳娜娜: only her (rare) name in 金山's roll; an operator must decide.
        ("register", "register", 6): ("review", None),
        ("roll", JINSHAN, 5): ("review", None),
        ("roll", JINSHAN, 4): ("unregistered", None),
        ("register", "register", 7): ("inactive", None),
    }


def test_nothing_quarantined_and_every_file_read(published: duckdb.DuckDBPyConnection) -> None:
    assert published.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
    files = published.execute("SELECT file, status, encoding FROM input_files ORDER BY file").fetchall()
    assert [(f, s) for f, s, _ in files] == [
        (f"{JINSHAN}_金山社区.csv", "ok"),
        (f"{HAIGUAN}_海关社区.xlsx", "ok"),
        ("户籍人口_2026.xlsx", "ok"),
    ]
    assert [e for f, _, e in files if f.endswith(".csv")] == ["gb18030"]
