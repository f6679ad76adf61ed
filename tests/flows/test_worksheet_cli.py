"""`hukou worksheet export` and `import`: credentials as `hukou export` checks them, exit 1 when a row is refused."""

from __future__ import annotations

import json
import stat
from typing import TYPE_CHECKING

import openpyxl
import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from services import worksheet as ws
from services.decisions import active_decisions

# The published city and its users (tests/review/conftest.py); fast_test_setup makes their passwords cheap.
from tests.review.conftest import PASSWORD, fast_test_setup, published_city, world  # noqa: F401

if TYPE_CHECKING:
    from pathlib import Path

    from tests.review.conftest import World

runner = CliRunner()


@pytest.fixture
def town(world: World) -> World:  # noqa: F811  the fixture imported above, under a name of this module
    return world


def _fill(path: Path, out: Path, result: str) -> int:
    """Every 户籍户 row's result set; returns how many rows."""
    book = openpyxl.load_workbook(path)
    rows = 0
    for sheet in book.worksheets:
        for row in range(ws.FIRST_ROW + 1, sheet.max_row + 1):
            token = sheet.cell(row, ws.TOKEN_COL + 1).value
            if token and json.loads(token)["m"][0][0] == "register":
                sheet.cell(row, ws.RESULT_COL + 1).value = result
                rows += 1
    book.save(out)
    return rows


def _run(args: list[str], password: str = PASSWORD) -> tuple[int, str]:
    result = runner.invoke(cli, [*args, "--password-stdin"], input=password + "\n")
    return result.exit_code, result.output


def test_export_and_import_from_the_command_line(town: World, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.xlsx"
    export = ["worksheet", "export", "--community", town.community, "--out", str(sheet), "--data", str(town.data)]
    assert _run([*export, "--user", "op"], password="wrong")[0] == 1
    code, output = _run([*export, "--user", "op_other"])
    assert code == 2
    assert "only its operators" in output
    code, output = _run([*export, "--user", "op"])
    assert code == 0, output
    assert stat.S_IMODE(sheet.stat().st_mode) == 0o600
    (recorded,) = ws.sheets(town.state, town.community)
    assert recorded["sheet_id"] in output

    filled = tmp_path / "filled.xlsx"
    rows = _fill(sheet, filled, "不在住")
    code, output = _run(["worksheet", "import", str(filled), "--user", "op", "--data", str(town.data)])
    assert code == 0, output
    assert output.count("已导入") >= rows
    assert active_decisions(town.state).height >= rows

    _fill(sheet, filled, "搬走了")
    code, output = _run(["worksheet", "import", str(filled), "--user", "op", "--data", str(town.data)])
    assert code == 1
    assert "unknown_result" in output
    assert f"拒绝 {rows}" in output

    junk = tmp_path / "名单.xlsx"
    junk.write_bytes(b"not a workbook")
    code, output = _run(["worksheet", "import", str(junk), "--user", "op", "--data", str(town.data)])
    assert code == 1
    assert "名单.xlsx" in output
    code, _ = _run(["worksheet", "import", str(filled), "--user", "op_other", "--data", str(town.data)])
    assert code == 2
