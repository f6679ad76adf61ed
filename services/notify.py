"""Telling someone: a JSON POST of a text message to the configured webhook (`Settings.notify_webhook`).

The body is the text message of WeCom (企业微信) and DingTalk group robots, `{"msgtype": "text", "text":
{"content": ...}}`. Callers send stage names, file names and counts only, never a record's values.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from services.config import setting_if_readable


class NotifyError(RuntimeError):
    """The webhook could not be told (no answer, an HTTP error, or the robot's own error code)."""


def webhook() -> str | None:
    """The configured webhook: HUKOU_NOTIFY_WEBHOOK, else `notify_webhook` in the configuration file.

    Read without validating the other settings: a broken configuration is itself worth telling someone about.
    """
    return setting_if_readable("notify_webhook")


def where(url: str) -> str:
    """The webhook's scheme and host, for messages: its path and query may hold its key.

    >>> where("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret")
    'https://qyapi.weixin.qq.com'
    """
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


def post(url: str, text: str, *, timeout: float = 10.0) -> None:
    """POST `text` as a robot text message to `url`; `NotifyError` unless the robot accepted it.

    WeCom and DingTalk answer HTTP 200 with a non-zero `errcode` for a wrong key or a message their security
    settings refuse (a DingTalk robot needs a keyword rule: "hukou" appears in every message).
    """
    if not url.startswith(("http://", "https://")):
        raise NotifyError(f"the webhook must be an http(s) URL, not {url.split(':', 1)[0]}:")
    body = json.dumps({"msgtype": "text", "text": {"content": text}}, ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310  an http(s) URL, checked above
        url, data=body, headers={"Content-Type": "application/json; charset=utf-8"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  http(s), checked above
            answer = response.read()
    except OSError as exc:  # URLError and HTTPError among them
        raise NotifyError(f"{where(url)}: {type(exc).__name__}") from exc
    try:
        code = json.loads(answer or b"{}").get("errcode", 0)
    except (ValueError, AttributeError):
        code = 0  # not a robot's JSON answer: a plain endpoint that took the POST
    if code:
        raise NotifyError(f"{where(url)} refused the message: errcode {code}")
