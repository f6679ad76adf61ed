"""The webhook post: a robot text message, accepted only when the robot says so; its key never in a message."""

from __future__ import annotations

import http.server
import json
import threading
from typing import TYPE_CHECKING, Any

import pytest

from services.notify import NotifyError, post, webhook

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def robot() -> Iterator[tuple[str, dict[str, Any]]]:
    """A stand-in group robot on loopback answering `state["answer"]` (HTTP 200) to every POST."""
    state: dict[str, Any] = {"answer": {"errcode": 0, "errmsg": "ok"}, "got": []}

    class Robot(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state["got"].append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps(state["answer"]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            del args

    server = http.server.HTTPServer(("127.0.0.1", 0), Robot)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/cgi-bin/webhook/send?key=SECRETKEY", state
    server.shutdown()


def test_an_accepted_message(robot: tuple[str, dict[str, Any]]) -> None:
    url, state = robot
    post(url, "hukou-recon 夜间核查失败")
    assert state["got"] == [{"msgtype": "text", "text": {"content": "hukou-recon 夜间核查失败"}}]


def test_a_refused_message_is_an_error_that_does_not_quote_the_key(robot: tuple[str, dict[str, Any]]) -> None:
    url, state = robot
    state["answer"] = {"errcode": 93000, "errmsg": "invalid webhook url"}
    with pytest.raises(NotifyError, match="errcode 93000") as refused:
        post(url, "hukou")
    assert "SECRETKEY" not in str(refused.value)
    with pytest.raises(NotifyError) as silent:
        post("http://127.0.0.1:9/robot/SECRETKEY", "hukou")  # nothing listens on the discard port
    assert "SECRETKEY" not in str(silent.value)
    with pytest.raises(NotifyError, match="http"):
        post("file:///etc/passwd", "hukou")


def test_the_webhook_is_read_even_when_other_settings_are_broken(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUKOU_NOTIFY_WEBHOOK", raising=False)
    conf = tmp_path / "hukou.toml"
    conf.write_text('notify_webhook = "https://robot.example/send?key=k"\nkeep_runs = "many"\n', encoding="utf-8")
    monkeypatch.setenv("HUKOU_CONFIG", str(conf))
    assert webhook() == "https://robot.example/send?key=k"
    monkeypatch.setenv("HUKOU_NOTIFY_WEBHOOK", "https://other.example/hook")
    assert webhook() == "https://other.example/hook"
