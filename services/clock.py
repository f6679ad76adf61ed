"""Local time: stored in UTC (`services.audit.now`), shown and printed in the offices' time zone.

The project has no time-zone setting (the nightly schedule in prefect.yaml runs in Asia/Shanghai), so the zone is
named here once: a worksheet's print date and id, and every time the app and the reports show.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
"""The offices' zone: worksheets are printed and times shown in it."""


def local_today() -> dt.date:
    """Today's date in `LOCAL_ZONE` (the date a sheet is printed on)."""
    return dt.datetime.now(LOCAL_ZONE).date()


def when(stored: str | None) -> dt.datetime | None:
    """A stored UTC ISO time (`2026-11-27T17:57:11+00:00`) as an aware datetime; None for none or unreadable.

    A time stored without an offset is taken as UTC, as the state database stores every time.
    """
    if not stored:
        return None
    try:
        parsed = dt.datetime.fromisoformat(stored)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def local_time(stored: str | None) -> str:
    """A stored UTC ISO time shown in `LOCAL_ZONE` to the minute: `2026-11-28 01:57` ("" for none)."""
    parsed = when(stored)
    if parsed is None:
        return stored or ""
    return parsed.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")
