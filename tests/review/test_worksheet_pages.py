"""The worksheets page: operators of the community only, download with a safe file name, upload with a report.

The download is CSRF-checked and recorded as handed out; an upload is size-limited before its body is read,
a file that is not ours gets a clear error naming it, and a filled worksheet becomes decisions.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import openpyxl

from review.routers import worksheet as router
from services import fieldwork
from services import worksheet as ws
from services.decisions import active_decisions
from tests.review.conftest import login

if TYPE_CHECKING:
    import pytest
    from fastapi.testclient import TestClient

    from tests.review.conftest import World

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(client: TestClient, csrf: str, grid: str = "") -> bytes:
    response = client.post("/worksheets/export", data={"csrf_token": csrf, "grid": grid})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(
        r'attachment; filename="worksheet_\d{12}_[0-9a-f-]+\.xlsx"; filename\*=UTF-8\'\'[^ "]+', disposition
    )
    assert "%E5%85%A5%E6%88%B7%E6%A0%B8%E6%9F%A5%E8%A1%A8" in disposition  # 入户核查表, percent-encoded
    return response.content


def _filled(content: bytes, result: str = "不在住") -> tuple[bytes, int]:
    """The workbook with every data row's result set; and how many rows."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    rows = 0
    for sheet in book.worksheets:
        if not sheet.cell(1, ws.TOKEN_COL + 1).value:
            continue
        for row in range(ws.FIRST_ROW + 1, sheet.max_row + 1):
            token = sheet.cell(row, ws.TOKEN_COL + 1).value
            if token and json.loads(token)["m"][0][0] == "register":
                sheet.cell(row, ws.RESULT_COL + 1).value = result
                rows += 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), rows


def test_only_operators_see_the_page(client: TestClient, world: World) -> None:
    for user in ("sup", "police", "root"):
        login(client, user)
        assert client.get("/worksheets").status_code == 403
        client.cookies.clear()
    login(client, "op")
    page = client.get("/worksheets")
    assert page.status_code == 200
    assert 'action="/worksheets/export"' in page.text
    assert 'enctype="multipart/form-data"' in page.text
    assert ws.UNKNOWN_GRID in page.text
    assert '<label for="worksheet-file">' in page.text  # the file input has a label of its own
    assert re.search(r'<input type="file" id="worksheet-file" name="file"', page.text)


def test_download_is_csrf_checked_and_recorded(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    assert client.post("/worksheets/export", data={"grid": ""}).status_code == 403
    content = _download(client, csrf)
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert ws.GUIDE_TITLE in book.sheetnames
    (sheet,) = ws.sheets(world.state, world.community)
    assert sheet["username"] == "op"
    assert sheet["returned_at"] is None
    page = client.get("/worksheets").text
    assert sheet["sheet_id"] in page
    grid = client.post("/worksheets/export", data={"csrf_token": csrf, "grid": "第99网格"})
    assert grid.status_code == 422
    assert "nothing to visit" in grid.text


def test_upload_applies_and_reports(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    filled, rows = _filled(_download(client, csrf))
    files = {"file": ("核查表 第2网格.xlsx", filled, XLSX)}
    assert client.post("/worksheets/import", files=files).status_code == 403  # no CSRF token
    response = client.post("/worksheets/import", data={"csrf_token": csrf}, files=files)
    assert response.status_code == 200, response.text
    assert "导入报告" in response.text
    assert re.search(r"已导入 applied: <b>(\d+)</b>", response.text).group(1) == str(rows)  # type: ignore[union-attr]
    decisions = active_decisions(world.state)
    assert decisions.height >= rows
    assert set(decisions["source"].to_list()) == {f"worksheet:{ws.sheets(world.state, world.community)[0]['sheet_id']}"}
    (sheet,) = ws.sheets(world.state, world.community)
    assert sheet["returned_by"] == "op"
    assert fieldwork.sheet_counts(world.state)[world.community] == {"out": 1, "back": 1}
    page = client.get("/worksheets").text
    for stored in (sheet["created_at"], sheet["returned_at"]):  # stored in UTC, shown in the office's zone
        shown = dt.datetime.fromisoformat(stored).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
        assert f">{shown}</time>" in page
        assert f">{stored}<" not in page
    assert re.search(r"\d 不在住：已记录为核查决定", response.text)  # what was recorded, by member number
    again = client.post("/worksheets/import", data={"csrf_token": csrf}, files=files)
    assert re.search(r"无变化 unchanged: <b>(\d+)</b>", again.text).group(1) == str(rows)  # type: ignore[union-attr]
    assert active_decisions(world.state).height == decisions.height


def test_refused_uploads(client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    csrf = login(client, "op")
    content = _download(client, csrf)
    junk = client.post(
        "/worksheets/import", data={"csrf_token": csrf}, files={"file": ("名单.xlsx", b"not a workbook", XLSX)}
    )
    assert junk.status_code == 422
    assert "名单.xlsx: not an xlsx workbook" in junk.text
    unknown, rows = _filled(content, "搬走了")
    refused = client.post("/worksheets/import", data={"csrf_token": csrf}, files={"file": ("a.xlsx", unknown, XLSX)})
    assert refused.status_code == 200
    assert refused.text.count("unknown_result") == rows
    assert re.search(r"拒绝 refused: <b>(\d+)</b>", refused.text).group(1) == str(rows)  # type: ignore[union-attr]
    monkeypatch.setattr(router, "MAX_UPLOAD", 1000)
    big = client.post("/worksheets/import", data={"csrf_token": csrf}, files={"file": ("a.xlsx", content, XLSX)})
    assert big.status_code == 413
    monkeypatch.setattr(router, "MAX_UPLOAD", ws.MAX_BYTES)
    client.cookies.clear()
    other = login(client, "op_other")
    foreign = client.post("/worksheets/import", data={"csrf_token": other}, files={"file": ("a.xlsx", content, XLSX)})
    assert foreign.status_code == 403
    assert active_decisions(world.state).height == 0
