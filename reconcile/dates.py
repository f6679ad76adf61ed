"""Dates as written in registers and rolls."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_YMD = re.compile(r"^(\d{4})\D{1,2}(\d{1,2})\D{1,2}(\d{1,2})\D?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{4,5}(\.0+)?$")


def parse_date(raw: object) -> dt.date | None:
    """A date from `YYYYMMDD`, `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY年M月D日`, an Excel
    serial number or a date/datetime value; None when blank.

    Raises ValueError for text that is not blank and not a date.

    >>> parse_date("1990/3/7"), parse_date("19900307"), parse_date("32939")
    (datetime.date(1990, 3, 7), datetime.date(1990, 3, 7), datetime.date(1990, 3, 7))
    >>> parse_date(" ") is None
    True
    """
    if raw is None:
        return None
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    if not text:
        return None
    text = text.split(" ")[0] if " " in text and ":" in text else text.replace(" ", "")
    match = _COMPACT.match(text) or _YMD.match(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
        return dt.date(year, month, day)
    if _SERIAL.match(text):
        serial = int(float(text))
        if 1 <= serial <= 80000:
            return _EXCEL_EPOCH + dt.timedelta(days=serial)
    raise ValueError(f"not a date: {text!r}")


def try_parse_date(raw: object) -> tuple[dt.date | None, bool]:
    """(date, ok): ok is False when there was text that is not a date."""
    try:
        return parse_date(raw), True
    except ValueError:
        return None, False
