"""The value most rows of a group give: a community's name, a building's grid, a name's community code."""

from __future__ import annotations

from typing import TypeVar

import polars as pl

F = TypeVar("F", pl.DataFrame, pl.LazyFrame)


def most_common(frame: F, by: str, column: str) -> F:
    """Per value of `by`, the non-null value of `column` most of its rows give (groups without one are left out).

    Of equally common values the first in sort order, so the answer follows from the rows, not from their order.
    Counted per (group, value) pair: several times less memory than `mode()` over each group's rows.

    >>> import polars as pl
    >>> rows = pl.DataFrame({"code": ["1", "1", "1", "2", "2", "3"], "name": ["华联", "华联社区", "华联", "b", "a", None]})
    >>> most_common(rows, "code", "name").sort("code").rows()
    [('1', '华联'), ('2', 'a')]
    """
    return (
        frame.group_by(by, column)
        .len("_rows")
        .drop_nulls(column)
        .sort(["_rows", column], descending=[True, False])
        .unique(by, keep="first")
        .select(by, column)
    )
