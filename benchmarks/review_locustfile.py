"""Operators working the review app, for locust (`benchmarks.review_load` runs it headless).

Each simulated operator logs in as one of the accounts in the JSON file `HUKOU_LOAD_ACCOUNTS` names, opens its
community's queue and works items the way the pages lead: item → decide → the next item the app offers → …,
back to the queue when the app says the community is done. Every decision posted is written as a JSON line to
`HUKOU_LOAD_DECISIONS` before it is sent (status null) and again with the answer (303 stored, 409 stale): the
item, the records its page showed and the kind.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from html import unescape
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

_ACCOUNTS: list[dict[str, str]] = json.loads(Path(os.environ["HUKOU_LOAD_ACCOUNTS"]).read_text(encoding="utf-8"))
_NEXT_ACCOUNT = itertools.count()
_LOG = os.environ["HUKOU_LOAD_DECISIONS"]
_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
_KIND = re.compile(r'<button type="submit" name="kind" value="([a-z_]+)"')
_ITEM = re.compile(r'href="/items/(\d+)"')
_LOGIN_CSRF = re.compile(r'name="login_csrf" value="([^"]+)"')
SHOWN = ("register_key", "roll_key", "register_fingerprint", "roll_fingerprint")
"""What a decide form carries back of the records its page showed (as `review.routers.queue.SHOWN`)."""


def decide_form(page: str) -> tuple[dict[str, str], list[str]] | None:
    """The decide form of an item page: its hidden fields and the decisions offered, or None without one."""
    start = page.find('id="decide-form"')
    if start < 0:
        return None
    form = page[start : page.find("</form>", start)]
    fields = {name: unescape(value) for name, value in _HIDDEN.findall(form)}
    kinds = _KIND.findall(form)
    return (fields, kinds) if kinds and "csrf_token" in fields else None


class Operator(HttpUser):
    """One operator of one community, deciding item after item."""

    wait_time = between(0.5, 1.5)  # reading a page and pressing a key
    back_to_queue = 10
    """Decisions after which an operator goes back to the queue (to see what is left), as operators do."""

    def on_start(self) -> None:
        """Log in as the next account."""
        self.account = _ACCOUNTS[next(_NEXT_ACCOUNT) % len(_ACCOUNTS)]
        page = self.client.get("/login", name="login").text
        token = _LOGIN_CSRF.search(page)
        self.client.post(
            "/login",
            data={
                "username": self.account["username"],
                "password": self.account["password"],
                "login_csrf": token.group(1) if token else "",
            },
            name="login",
            allow_redirects=False,
        )
        self.item: int | None = None
        self.posts = itertools.count()
        self.decided = itertools.count(1)

    @task
    def work(self) -> None:
        """Decide the item in hand, or take the first of the queue."""
        if self.item is None:
            queue = self.client.get(f"/queue?community={self.account['community']}", name="queue").text
            first = _ITEM.search(queue)
            if not first:
                return
            self.item = int(first.group(1))
        page = self.client.get(f"/items/{self.item}", name="item")
        if page.status_code != 200:
            self.item = None
            return
        self._decide(self.item, page.text)

    def _decide(self, item: int, page: str) -> None:
        form = decide_form(page)
        if form is None:
            self.item = None
            return
        fields, kinds = form
        kind = kinds[item % len(kinds)]
        entry = {
            "post": f"{self.account['username']}-{next(self.posts)}",
            "user": self.account["username"],
            "item_id": item,
            "kind": kind,
            "status": None,  # sent, no answer yet: a run's end may cut it off after the app stored it
            "at": time.time(),
            "shown": {name: fields.get(name, "") for name in SHOWN},
        }
        _log(entry)
        with self.client.post(
            f"/items/{item}/decide",
            data={**fields, "kind": kind},
            name="decide",
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            if answer.status_code == 409:  # a stale form refused: the right answer, not an error
                answer.success()
            _log({**entry, "status": answer.status_code, "at": time.time()})
            where = answer.headers.get("location", "")
        found = re.fullmatch(r"/items/(\d+)", where)
        self.item = int(found.group(1)) if found and next(self.decided) % self.back_to_queue else None


def _log(entry: dict[str, Any]) -> None:
    with Path(_LOG).open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
