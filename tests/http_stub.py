"""A stand-in HTTP endpoint on loopback for tests of what talks to the web: a group robot, the Prefect API."""

from __future__ import annotations

import http.server
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Stub:
    """What the endpoint answers and what it was sent."""

    url: str = ""
    """Its base URL, http://127.0.0.1:PORT."""
    answers: dict[str, Any] = field(default_factory=dict)
    """GET path → JSON body (a path not here, or mapped to None: 404)."""
    reply: Any = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    """The JSON body of every POST's answer (HTTP 200)."""
    posted: list[Any] = field(default_factory=list)
    """The JSON bodies POSTed to it, in order."""


@pytest.fixture
def http_stub() -> Iterator[Stub]:
    """A running `Stub`, shut down after the test."""
    stub = Stub()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if stub.answers.get(self.path) is None:
                self.send_error(404)
            else:
                self._send(stub.answers[self.path])

        def do_POST(self) -> None:
            stub.posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self._send(stub.reply)

        def log_message(self, *args: object) -> None:
            del args

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stub.url = f"http://127.0.0.1:{server.server_port}"
    yield stub
    server.shutdown()
