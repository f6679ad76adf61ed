"""The webhook post: a robot text message, accepted only when the robot says so; its key never in a message."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from services.notify import NotifyError, post, webhook

if TYPE_CHECKING:
    from pathlib import Path

    from tests.http_stub import Stub

ROBOT = "/cgi-bin/webhook/send?key=SECRETKEY"


def test_an_accepted_message(http_stub: Stub) -> None:
    post(http_stub.url + ROBOT, "hukou-recon 夜间核查失败")
    assert http_stub.posted == [{"msgtype": "text", "text": {"content": "hukou-recon 夜间核查失败"}}]


def test_a_refused_message_is_an_error_that_does_not_quote_the_key(http_stub: Stub) -> None:
    http_stub.reply = {"errcode": 93000, "errmsg": "invalid webhook url"}
    with pytest.raises(NotifyError, match="errcode 93000") as refused:
        post(http_stub.url + ROBOT, "hukou")
    assert "SECRETKEY" not in str(refused.value)
    with pytest.raises(NotifyError) as silent:
        post("http://127.0.0.1:9/robot/SECRETKEY", "hukou")  # nothing listens on the discard port
    assert "SECRETKEY" not in str(silent.value)
    with pytest.raises(NotifyError, match="http"):
        post("file:///etc/passwd", "hukou")


def test_the_webhook_is_read_even_when_other_settings_are_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUKOU_NOTIFY_WEBHOOK", raising=False)
    conf = tmp_path / "hukou.toml"
    conf.write_text('notify_webhook = "https://robot.example/send?key=k"\nkeep_runs = "many"\n', encoding="utf-8")
    monkeypatch.setenv("HUKOU_CONFIG", str(conf))
    assert webhook() == "https://robot.example/send?key=k"
    monkeypatch.setenv("HUKOU_NOTIFY_WEBHOOK", "https://other.example/hook")
    assert webhook() == "https://other.example/hook"
