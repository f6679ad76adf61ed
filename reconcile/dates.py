"""Dates as written in registers and rolls."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import polars as pl

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_YMD = re.compile(r"^(\d{4})\D{1,2}(\d{1,2})\D{1,2}(\d{1,2})\D?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{4,5}(\.0+)?$")


def parse_date(raw: object) -> dt.date | None:
    """Parse a date; None when blank.

    Accepts `YYYYMMDD`, `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY年M月D日`, an Excel
    serial number or a date/datetime value.

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
    if ":" in text:  # a datetime as text (1975-06-15 00:00:00, 1975-06-15T00:00:00.000): the date part
        text = re.split(r"[ T]", text, maxsplit=1)[0]
    text = text.replace(" ", "")
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


def parse_date_column(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """`parse_date` over a column, vectorised: (dates, True where text was present but is no date).

    Dates outside 1880–2100 count as no date.

    >>> dates, bad = parse_date_column(pl.Series(["1990/3/7", "19900307", "32939", "", "soon"]))
    >>> dates.to_list()[:3], bad.to_list()
    ([datetime.date(1990, 3, 7), datetime.date(1990, 3, 7), datetime.date(1990, 3, 7)], [False, False, False, False, True])
    """
    if values.dtype == pl.Date:
        return values, pl.Series([False] * values.len())
    text = values.cast(pl.String).str.normalize("NFKC").str.strip_chars()
    frame = text.to_frame("t").with_columns(pl.when(pl.col("t") != "").then(pl.col("t")).alias("t"))
    t = pl.col("t")
    ymd = t.str.extract_groups(
        r"^(\d{4})\D{1,2}(\d{1,2})\D{1,2}(\d{1,2})(?:\D?|(?:\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$"
    )
    frame = frame.with_columns(ymd.alias("g"))
    as_ymd = pl.format(
        "{}-{}-{}",
        pl.col("g").struct.field("1"),
        pl.col("g").struct.field("2").str.zfill(2),
        pl.col("g").struct.field("3").str.zfill(2),
    ).str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    compact = pl.when(t.str.contains(r"^\d{8}$")).then(t.str.strptime(pl.Date, "%Y%m%d", strict=False))
    serial_days = pl.when(t.str.contains(r"^\d{4,5}(\.0+)?$")).then(
        t.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)
    )
    serial = pl.when(serial_days.is_between(1, 80000)).then(pl.lit(_EXCEL_EPOCH) + pl.duration(days=serial_days))
    parsed = pl.coalesce(compact, as_ymd, serial.cast(pl.Date))
    parsed = pl.when(parsed.dt.year().is_between(1880, 2100)).then(parsed)
    out = frame.select(parsed.alias("date"), (t.is_not_null() & parsed.is_null()).alias("bad"))
    return out["date"], out["bad"]
