"""Contract rules (data-contract §1–2) on bad inputs: every row ends up valid or quarantined."""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING

import polars as pl
import pytest
import xlsxwriter

from flows.io.sources import FileError, read_table, table_to_parquet
from reconcile.prepare import prepare_register, prepare_roll
from schemas.codes import FileProblem, Issue, Quarantine
from schemas.inputs import REGISTER, ROLL
from schemas.records import RegisterRecord, RollRecord, split_valid

if TYPE_CHECKING:
    from pathlib import Path

HEADER = [
    "公民身份号码",
    "姓名",
    "性别",
    "出生日期",
    "户号",
    "与户主关系",
    "户籍地址",
    "所属派出所",
    "街道",
    "社区",
    "社区代码",
    "人员状态",
]
GOOD = [
    "11010519491231002X",
    "张伟",
    "女",
    "19491231",
    "000000001",
    "户主",
    "浒山街道某社区金山花园1幢1单元101室",
    "浒山派出所",
    "浒山街道",
    "某社区",
    "330282001001",
    "正常",
]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "gb18030") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def validate_register(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    table = read_table(path, REGISTER)
    return split_valid(prepare_register(table.frame, prefixes=[]), RegisterRecord, REGISTER)


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8", "utf-8-sig"])
def test_supported_encodings(tmp_path: Path, encoding: str) -> None:
    table = read_table(write_csv(tmp_path / "r.csv", [HEADER, GOOD], encoding), REGISTER)
    assert table.frame["name_raw"].to_list() == ["张伟"]
    assert table.frame["source_row"].to_list() == [2]


def test_undecodable_file_is_rejected_whole(tmp_path: Path) -> None:
    path = tmp_path / "garbled.csv"
    path.write_bytes(",".join(HEADER).encode("utf-8") + b"\n\xff\xfe\x81\x20broken\n")
    with pytest.raises(FileError) as info:
        read_table(path, REGISTER)
    assert info.value.problem is FileProblem.ENCODING
    assert "garbled.csv" in str(info.value)


def test_missing_required_column_names_it(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "户号"]
    row = [v for h, v in zip(HEADER, GOOD, strict=True) if h != "户号"]
    with pytest.raises(FileError) as info:
        read_table(write_csv(tmp_path / "r.csv", [header, row]), REGISTER)
    assert info.value.problem is FileProblem.MISSING_COLUMNS
    assert "户号" in str(info.value)
    assert "r.csv" in str(info.value)


def test_aliases_and_extra_columns(tmp_path: Path) -> None:
    header = ["身份证号码" if h == "公民身份号码" else h for h in HEADER] + ["备注X"]
    table = read_table(write_csv(tmp_path / "r.csv", [header, [*GOOD, "kept"]]), REGISTER)
    assert table.frame["id_raw"].to_list() == [GOOD[0]]
    assert table.frame["extra:备注X"].to_list() == ["kept"]


@pytest.mark.parametrize("content", [b"", "公民身份号码,姓名\n".encode("gb18030")])
def test_empty_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(FileError) as info:
        read_table(path, REGISTER)
    assert info.value.problem in (FileProblem.EMPTY, FileProblem.MISSING_COLUMNS)


def test_corrupt_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "330282001001_某社区.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not a workbook")
    with pytest.raises(FileError) as info:
        read_table(path, ROLL)
    assert info.value.problem is FileProblem.CORRUPT
    assert path.name in str(info.value)


def test_bad_values_go_on_flagged(tmp_path: Path) -> None:
    bad_check = GOOD.copy()
    bad_check[0] = "11010519491231003X"
    bad_date = GOOD.copy()
    bad_date[0], bad_date[3] = "", "1949-13-45"
    valid, quarantine = validate_register(write_csv(tmp_path / "r.csv", [HEADER, GOOD, bad_check, bad_date]))
    assert quarantine.height == 0
    issues = dict(zip(valid["source_row"].to_list(), valid["issues"].to_list(), strict=True))
    assert issues[2] == []
    assert Issue.ID_BAD_CHECK.value in issues[3]
    assert valid.filter(pl.col("source_row") == 3)["id18"][0] is None
    assert Issue.BIRTH_DATE_UNPARSABLE.value in issues[4]


def test_unidentifiable_row_is_quarantined_with_its_values(tmp_path: Path) -> None:
    nobody = GOOD.copy()
    nobody[0], nobody[1] = "", ""
    valid, quarantine = validate_register(write_csv(tmp_path / "r.csv", [HEADER, GOOD, nobody]))
    assert valid.height == 1
    row = quarantine.row(0, named=True)
    assert (row["source_file"], row["source_row"], row["reason"]) == ("r.csv", 3, Quarantine.UNIDENTIFIABLE.value)
    assert json.loads(row["original"])["户籍地址"] == GOOD[6]


def test_malformed_csv_line_is_kept_aside(tmp_path: Path) -> None:
    table = read_table(write_csv(tmp_path / "r.csv", [HEADER, GOOD, [*GOOD, "one", "too many"]]), REGISTER)
    assert table.frame.height == 1
    assert [r for r, _ in table.malformed] == [3]


def test_xlsx_lineage_with_title_row_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "330282001001_某社区.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["某社区实有人口登记表"])
    sheet.write_row(1, 0, ["序号", "姓名", "现住地址"])
    sheet.write_row(2, 0, [1, "张伟", "金山花园1-1-101"])
    sheet.write_row(4, 0, [2, "李强", "金山花园1-1-102"])
    book.close()
    table = read_table(path, ROLL)
    assert table.frame["name_raw"].to_list() == ["张伟", "李强"]
    assert table.frame["source_row"].to_list() == [3, 5]


def test_roll_community_column_wins_over_file_name(tmp_path: Path) -> None:
    path = tmp_path / "330282001001_某社区.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["姓名", "现住地址", "社区"])
    sheet.write_row(1, 0, ["张伟", "金山花园1-1-101", "另一社区"])
    sheet.write_row(2, 0, ["李强", "", "另一社区"])
    book.close()
    raw = read_table(path, ROLL).frame.with_columns(pl.lit("330282001001").alias("file_community"))
    valid, quarantine = split_valid(
        prepare_roll(raw, by_name={"另一社区": "330282001002"}, prefixes=[]), RollRecord, ROLL
    )
    assert valid["community_code"].to_list() == ["330282001002"]
    assert quarantine["reason"].to_list() == [Quarantine.NO_ADDRESS.value]


def test_register_without_community_codes_uses_the_names(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "社区代码"]
    row = [v for h, v in zip(HEADER, GOOD, strict=True) if h != "社区代码"]
    valid, quarantine = validate_register(write_csv(tmp_path / "r.csv", [header, row]))
    assert quarantine.height == 0
    assert valid["community_code"].to_list() == ["某社区"]


def test_a_large_csv_streams_in_batches_with_the_same_rows_and_lineage(tmp_path: Path) -> None:
    rows: list[list[str]] = [HEADER]
    for i in range(23):
        if i % 7 == 3:
            rows.append([])  # a blank line
        elif i % 5 == 4:
            rows.append([*GOOD, "one", "too many"])
        else:
            rows.append([*GOOD[:1], f"张{i}", *GOOD[2:]])
    path = write_csv(tmp_path / "r.csv", rows)
    whole = read_table(path, REGISTER)
    copied = table_to_parquet(path, REGISTER, tmp_path / "r.parquet", batch_rows=4)
    streamed = pl.read_parquet(tmp_path / "r.parquet")
    assert streamed.equals(whole.frame)
    assert copied.rows == whole.frame.height == 16
    assert copied.malformed == whole.malformed
    assert [r for r, _ in copied.malformed] == [6, 11, 16, 21]
    assert copied.blank_rows == whole.blank_rows == 3
    # Lineage is the file's row: 张0 is on row 2, 张22 on the last row.
    names = dict(zip(streamed["name_raw"], streamed["source_row"], strict=True))
    assert (names["张0"], names["张22"]) == (2, 24)


def test_a_csv_with_only_blank_records_is_empty(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [HEADER, [""] * len(HEADER), []])
    with pytest.raises(FileError) as err:
        table_to_parquet(path, REGISTER, tmp_path / "r.parquet", batch_rows=1)
    assert err.value.problem == FileProblem.EMPTY
