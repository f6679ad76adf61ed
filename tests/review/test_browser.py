"""Headless Chromium (Debian's package) drives the app: log in, work a pair with
the keyboard, check the decision persisted and survives a nightly rerun; take a
door-visit worksheet out and back and see the police export grow."""

from __future__ import annotations

import json
import socket
import threading
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from review.app import create_app
from schemas.codes import DecisionKind, ItemState, Status, VisitResult
from services import worksheet
from services.decisions import active_decisions
from tests.review.conftest import PASSWORD, World

if TYPE_CHECKING:
    from collections.abc import Iterator

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def server(world: World) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(create_app(world.data), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium package (apt-get install chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def test_operator_works_a_pair_with_the_keyboard(server: str, browser: Browser, world: World, tmp_path: Path) -> None:
    page = browser.new_page()
    page.goto(f"{server}/login")
    page.fill("input[name=username]", "op")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/queue")
    page.goto(f"{server}/queue?community={world.community}&kind=pair")
    page.locator("table.queue a").first.click()
    page.wait_for_selector("svg.waterfall")
    assert "s" in page.locator(".help").inner_text()
    item_url = page.url
    page.screenshot(path=str(tmp_path / "pair.png"), full_page=True)
    page.keyboard.press("s")
    page.wait_for_url(lambda url: url != item_url)
    decisions = active_decisions(world.state)
    assert decisions.select("kind", "username").rows() == [("same_person", "op")]

    # The item shows as decided when reopened, in the catalogue's words.
    page.goto(item_url)
    state = page.locator("#state")
    assert f"{ItemState.DECIDED.label}: {DecisionKind.SAME_PERSON.label}" in state.inner_text()
    assert "state-decided" in (state.get_attribute("class") or "")

    # The nightly run applies it: the pair is linked by the operator and leaves the queue.
    (register_key, roll_key) = decisions.select("register_key", "roll_key").row(0)
    world.rerun()
    linked = world.sql(
        """SELECT l.decided_by FROM links l
           JOIN run.register_records r ON r.source_file = l.register_file AND r.source_row = l.register_row
           JOIN run.roll_records o ON o.source_file = l.roll_file AND o.source_row = l.roll_row
           WHERE r.record_key = ? AND o.record_key = ?""",
        [register_key, roll_key],
    )
    assert linked == [("operator",)]
    page.goto(f"{server}/queue?community={world.community}&kind=pair&state=all")
    assert page.locator("table.queue tbody tr").count() >= 1
    still_queued = world.sql(
        "SELECT count(*) FROM queue WHERE register_key = ? AND roll_key = ?", [register_key, roll_key]
    )
    assert still_queued == [(0,)]
    page.close()


def _log_in(browser: Browser, server: str, username: str) -> Page:
    page = browser.new_page(accept_downloads=True)
    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/queue")
    return page


def _exported_absent(browser: Browser, server: str, world: World, tmp_path: Path, name: str) -> int:
    """The police liaison downloads the station's verified lists; how many 户在人不在 rows they hold."""
    page = _log_in(browser, server, "police")
    page.goto(f"{server}/export")
    page.select_option("select[name=station]", world.station)
    with page.expect_download() as download:
        page.click("form[action='/export'] button[type=submit]")
    archive = tmp_path / f"{name}.zip"
    download.value.save_as(archive)
    page.close()
    with zipfile.ZipFile(archive) as zf:
        (book,) = [n for n in zf.namelist() if n.endswith(".xlsx")]
        (tmp_path / name).mkdir()
        zf.extract(book, tmp_path / name)
    sheet = openpyxl.load_workbook(tmp_path / name / book, read_only=True)[Status.ABSENT.label]
    return sum(1 for _ in sheet.iter_rows(min_row=2)) if sheet.max_row else 0


def test_a_worksheet_goes_out_and_comes_back(server: str, browser: Browser, world: World, tmp_path: Path) -> None:
    """Download a grid's worksheet, fill it as a grid worker would, upload it: records settled, the export grows."""
    exported_before = _exported_absent(browser, server, world, tmp_path, "before")
    page = _log_in(browser, server, "op")
    page.goto(f"{server}/worksheets")
    with page.expect_download() as download:
        page.click("form[action='/worksheets/export'] button[type=submit]")
    sheet_path = tmp_path / "sheet.xlsx"
    download.value.save_as(sheet_path)

    book = openpyxl.load_workbook(sheet_path)
    households: list[list[list[str]]] = []
    for tab in book.worksheets:
        if tab.title == worksheet.GUIDE_TITLE:
            continue
        for row in range(worksheet.FIRST_ROW + 1, tab.max_row + 1):
            if tab.cell(row, 2).value == worksheet.HOUSEHOLD and len(households) < 3:
                tab.cell(row, worksheet.RESULT_COL + 1).value = VisitResult.NOT_PRESENT.label
                households.append(json.loads(str(tab.cell(row, worksheet.TOKEN_COL + 1).value))["m"])
    assert households, "the small city has registered households to visit"
    book.save(sheet_path)
    keys = [key for members in households for _, key, _ in members]

    page.goto(f"{server}/worksheets")
    page.set_input_files("input[type=file][name=file]", str(sheet_path))
    page.click("form[action='/worksheets/import'] button[type=submit]")
    page.wait_for_load_state()
    report = page.locator("main").inner_text()
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert str(len(keys)) in report
    assert "拒绝" in report  # the report names what it refused (nothing, here) beside what it applied
    decided = active_decisions(world.state)
    assert sorted(decided["register_key"].to_list()) == sorted(keys)
    assert set(decided["kind"]) == {DecisionKind.CONFIRM_ABSENT.value}

    world.rerun()
    verified = world.sql(
        """SELECT count(*) FROM run.register_records r JOIN run.record_status s ON s.side = 'register' AND s.idx = r.idx
           WHERE r.record_key IN (SELECT unnest(?)) AND s.verified_by = 'operator' AND NOT s.pending""",
        [keys],
    )
    assert verified == [(len(keys),)]
    page.goto(f"{server}/worksheets")
    came_back = page.locator("table.sheets tbody tr").first.locator("td").nth(4).inner_text()
    assert came_back.strip() not in ("", "—")
    page.close()
    assert _exported_absent(browser, server, world, tmp_path, "after") == exported_before + len(keys)


def test_login_failure_is_shown(server: str, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{server}/login")
    page.fill("input[name=username]", "op")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator(".error").is_visible()
    page.close()
