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
