import datetime as dt

import pytest

from reconcile.dates import parse_date, try_parse_date


@pytest.mark.parametrize(
    "written",
    [
        "1990-03-07",
        "1990/3/7",
        "19900307",
        "1990.03.07",
        "1990年3月7日",
        "32939",
        32939,
        "1990-03-07 00:00:00",
        "1990-03-07T00:00:00",
        "1990-03-07T00:00:00.000",
        "1990/3/7 8:30",
        dt.date(1990, 3, 7),
        dt.datetime(1990, 3, 7, 0, 0),
    ],
)
def test_formats(written: object) -> None:
    assert parse_date(written) == dt.date(1990, 3, 7)


def test_blank_is_none() -> None:
    assert parse_date("  ") is None
    assert parse_date(None) is None


@pytest.mark.parametrize("written", ["1990-13-07", "yesterday", "1990-02-30"])
def test_unparsable_is_flagged_not_guessed(written: str) -> None:
    assert try_parse_date(written) == (None, False)


def test_vectorised_dates_agree_with_the_scalar_parser() -> None:
    import polars as pl

    from reconcile.dates import parse_date_column

    samples = [
        "1990-03-07",
        "1990/3/7",
        "19900307",
        "1990.03.07",
        "1990年3月7日",
        "32939",
        "32939.0",
        "1990-03-07 00:00:00",
        "1990-03-07T00:00:00",
        "1990-03-07T08:30:00.5",
        "1990-13-07",
        "1990-02-30",
        "yesterday",
        "",
        " ",
        None,
        "２０００－０１－０２",
        "1850-01-01",
        "99999",
        "2024/2/29",
    ]
    dates, bad = parse_date_column(pl.Series(samples, dtype=pl.String))
    for raw, got, flagged in zip(samples, dates.to_list(), bad.to_list(), strict=True):
        expected, ok = try_parse_date(raw)
        if expected is not None and not (1880 <= expected.year <= 2100):
            expected, ok = None, False
        assert (got, flagged) == (expected, not ok), raw
