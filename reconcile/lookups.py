"""Values already normalised tonight, kept while the rows are normalised a batch at a time.

Names repeat: across the batches of one side and between the sides (a person's name is on the register
and on the roll). Mapping each distinct value once per night rather than once per
batch keeps batches as cheap as normalising all rows at once. Only pure mappings of one value belong
here; a table stops growing at `limit` values, so its memory stays bounded on a province.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from collections.abc import Callable

KEY = "key"


class Lookups:
    """Per mapping, a table of the distinct values mapped so far (`KEY`) and what they mapped to.

    >>> calls = []
    >>> def upper(values: pl.Series) -> pl.DataFrame:
    ...     calls.append(values.len())
    ...     return pl.DataFrame({"up": values.str.to_uppercase()})
    >>> lookups = Lookups()
    >>> lookups.mapped("upper", pl.Series(["a", "b", "a", None]), upper)["up"].to_list()
    ['A', 'B', 'A', None]
    >>> lookups.mapped("upper", pl.Series(["b", "c"]), upper)["up"].to_list(), calls
    (['B', 'C'], [2, 1])
    """

    def __init__(self, *, limit: int = 3_000_000) -> None:
        self.limit = limit
        self._tables: dict[str, pl.DataFrame] = {}

    def mapped(self, name: str, values: pl.Series, compute: Callable[[pl.Series], pl.DataFrame]) -> pl.DataFrame:
        """What `compute` gives for each of `values`, row for row (nulls give nulls), mapping only values new to `name`.

        `compute` maps distinct non-null values to a frame of as many rows; it must depend on the value alone.
        """
        distinct = values.drop_nulls().unique()
        known = self._tables.get(name)
        new = distinct if known is None else distinct.filter(~distinct.is_in(known[KEY].implode()))
        fresh = _table(new, compute)
        table = fresh if known is None else pl.concat([known, fresh], how="vertical_relaxed")
        if table.height <= self.limit:
            self._tables[name] = table
        return _looked_up(values, table)


def mapped_once(values: pl.Series, compute: Callable[[pl.Series], pl.DataFrame]) -> pl.DataFrame:
    """What `compute` gives for each of `values`, computing each distinct value once, remembering nothing.

    For values that seldom repeat from one batch to the next, where a night-long table would cost more than it saves.

    >>> mapped_once(pl.Series(["a", "b", "a", None]), lambda v: pl.DataFrame({"up": v.str.to_uppercase()}))["up"].to_list()
    ['A', 'B', 'A', None]
    """
    return _looked_up(values, _table(values.drop_nulls().unique(), compute))


def _table(distinct: pl.Series, compute: Callable[[pl.Series], pl.DataFrame]) -> pl.DataFrame:
    return pl.concat([distinct.alias(KEY).to_frame(), compute(distinct)], how="horizontal")


def _looked_up(values: pl.Series, table: pl.DataFrame) -> pl.DataFrame:
    return values.alias(KEY).to_frame().join(table, on=KEY, how="left", maintain_order="left").drop(KEY)
