"""Headless Chromium (Debian's package) drives the app: log in, work a pair with
the keyboard, check the decision persisted and survives a nightly rerun."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from review.app import create_app
from schemas.codes import DecisionKind, ItemState
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


def test_login_failure_is_shown(server: str, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{server}/login")
    page.fill("input[name=username]", "op")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator(".error").is_visible()
    page.close()
