"""Telling someone: a JSON POST of a text message to the configured webhook (`Settings.notify_webhook`).

The body is the text message of WeCom (企业微信) and DingTalk group robots, `{"msgtype": "text", "text":
{"content": ...}}`. Callers send stage names, file names and counts only, never a record's values.
"""

from __future__ import annotations

import json
import urllib.request


def post(url: str, text: str, *, timeout: float = 10.0) -> None:
    """POST `text` as a robot text message to `url`."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"notify_webhook must be an http(s) URL, not {url.split(':', 1)[0]}:")
    body = json.dumps({"msgtype": "text", "text": {"content": text}}, ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310  an http(s) URL, checked above
        url, data=body, headers={"Content-Type": "application/json; charset=utf-8"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  an http(s) URL, checked above
        response.read()
