"""Build prepared frames from a written city, the way the nightly run does, for tests."""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, TypeVar

import polars as pl

from flows.io.sources import read_table
from reconcile.idnumber import check_char
from reconcile.prepare import prepare
from schemas.inputs import REGISTER, ROLL

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from reconcile.units import Sides, Step

W = TypeVar("W")

SECRET = bytes(range(32))
"""The digest secret of test runs (a run's lives in its data directory: `services.digest_key`)."""


def prepared(city: dict[str, Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    register_path = next(city["register"].parent.glob("*.csv")) if city["register"].is_file() else city["register"]
    raw_register = read_table(register_path, REGISTER).frame
    rolls = [
        read_table(path, ROLL).frame.with_columns(pl.lit(path.name[:12]).alias("file_community"))
        for path in sorted(city["rolls"].glob("*.xlsx"))
    ]
    both = prepare(raw_register, pl.concat(rolls, how="diagonal_relaxed"), secret=SECRET)
    return both.register, both.roll


def raw_frame(columns: list[str], rows: Sequence[Mapping[str, str | None]], file: str) -> pl.DataFrame:
    """Raw input rows as a reader would hand them over: all strings, with file and row lineage."""
    frame = pl.DataFrame([{c: r.get(c) for c in columns} for r in rows], schema=dict.fromkeys(columns, pl.String))
    return frame.with_columns(
        pl.lit(file).alias("source_file"), (pl.int_range(pl.len()) + 2).cast(pl.Int64).alias("source_row")
    )


def valid_id(body: str) -> str:
    """An 18-character ID number: the 17-digit body and its check character."""
    return body + check_char(body)


class Shuffled:
    """A `reconcile.units.Units` running every unit from a pickled copy of its step and work, last first (as a
    cluster may); keeps the pickled steps and counts the units of each kind."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.kinds: dict[str, int] = {}

    def map(self, step: Step[W], works: Sequence[W], sides: Sides) -> list[pl.DataFrame]:
        """Each unit from a pickled copy, last first; the results in the order of `works`."""
        name = type(step).__name__
        self.kinds[name] = self.kinds.get(name, 0) + len(works)
        results: dict[int, pl.DataFrame] = {}
        for at in reversed(range(len(works))):
            sent = pickle.dumps((step, works[at]))
            self.sent.append(pickle.dumps(step))
            copy, work = pickle.loads(sent)  # noqa: S301 - what this runner pickled itself
            results[at] = copy(work, sides)
        return [results[at] for at in range(len(works))]
