"""Linking's units (`reconcile.units`) run through files: how the flow maps them over a cluster's workers.

`ThroughFiles` is a `reconcile.units.Units` for `reconcile.linker.link`: it writes both sides once, and each
chunk of work, as Parquet in the run's work folder (storage every worker sees), has the units run wherever
its `run_all` runs them (`flows.nightly` maps a Prefect task over the workers), and reads back what they wrote.
A unit (`run_unit`) reads the sides once per worker process and writes its result to a file of its own, so
a unit run twice (its worker lost) leaves the first attempt's file unread; when linking ends the folder goes
and the workers let go of the sides (`forget`).
Tasks are sent steps, partition numbers and paths: never records.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from flows.spill import WORK_COMPRESSION
from reconcile.units import Sides, Step

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

W = TypeVar("W")


@dataclass(frozen=True, slots=True)
class SharedSides:
    """Both sides as linking holds them, written where every worker reads them."""

    register: Path
    roll: Path


@dataclass(frozen=True, slots=True)
class Sent:
    """A piece of work (a chunk of pairs) sent as a file."""

    path: Path


if TYPE_CHECKING:
    RunAll = Callable[[Step[Any], list[Any], SharedSides, Path], list[Path]]
    """Runs `run_unit` for each piece of work (partition numbers, or `Sent` chunks); the files written, in order."""


def run_unit(step: Step[Any], work: Any, sides: SharedSides, folder: Path) -> Path:
    """One unit where it runs: `step` of `work` (read, if `Sent`) with the sides; the file it wrote its result to."""
    piece = pl.read_parquet(work.path) if isinstance(work, Sent) else work
    result = step(piece, _read_once(sides))
    out = folder / f"out-{uuid.uuid4().hex}.parquet"
    result.write_parquet(out, compression=WORK_COMPRESSION)
    return out


_HELD: dict[SharedSides, Sides] = {}
_HOLDING = threading.Lock()


def _read_once(shared: SharedSides) -> Sides:
    """The sides in `shared`, read once per process (a worker runs many units of one night), the last ones only.

    The files are named once each (`ThroughFiles`): the same names are the same sides.
    """
    with _HOLDING:
        if shared not in _HELD:
            _HELD.clear()  # a night's sides are large: never two nights' at once
            _HELD[shared] = Sides(pl.read_parquet(shared.register), pl.read_parquet(shared.roll))
        return _HELD[shared]


def forget() -> int:
    """Let go of the sides this process holds for units (`run_unit`); how many nights' it held (0 or 1).

    Run on every worker when linking ends (`flows.nightly`): else a worker would hold a night's sides all day.
    """
    with _HOLDING:
        held = len(_HELD)
        _HELD.clear()
    return held


class ThroughFiles:
    """Units that take and return Parquet files in `folder`, run by `run_all` (`reconcile.units.Units`)."""

    def __init__(self, folder: Path, run_all: RunAll) -> None:
        self.folder = folder
        self._run_all = run_all
        self._written: tuple[weakref.ref[Sides], SharedSides] | None = None
        """The sides last written, known without keeping them: linking lets go of them when it is done."""

    def map(self, step: Step[W], works: Sequence[W], sides: Sides) -> list[pl.DataFrame]:
        """`step` of each of `works` with `sides`, run through files (`run_unit`), results in order."""
        shared = self._shared(sides)
        sent: list[Any] = [self._sent(w) if isinstance(w, pl.DataFrame) else w for w in works]
        outs = self._run_all(step, sent, shared, self.folder)
        frames = [pl.read_parquet(out) for out in outs]
        for path in [*outs, *(w.path for w in sent if isinstance(w, Sent))]:
            path.unlink(missing_ok=True)
        return frames

    def _shared(self, sides: Sides) -> SharedSides:
        if self._written is not None and self._written[0]() is sides:
            return self._written[1]
        tag = uuid.uuid4().hex
        shared = SharedSides(self.folder / f"register-{tag}.parquet", self.folder / f"roll-{tag}.parquet")
        sides.register.write_parquet(shared.register, compression=WORK_COMPRESSION)
        sides.roll.write_parquet(shared.roll, compression=WORK_COMPRESSION)
        if self._written is not None:
            for path in (self._written[1].register, self._written[1].roll):
                path.unlink(missing_ok=True)
        self._written = weakref.ref(sides), shared
        return shared

    def _sent(self, work: pl.DataFrame) -> Sent:
        path = self.folder / f"in-{uuid.uuid4().hex}.parquet"
        work.write_parquet(path, compression=WORK_COMPRESSION)
        return Sent(path)


@contextlib.contextmanager
def through_files(folder: Path, run_all: RunAll) -> Iterator[ThroughFiles]:
    """`ThroughFiles` in `folder` (made empty), removed with whatever is left in it when linking ends."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        yield ThroughFiles(folder, run_all)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def in_this_process(step: Step[Any], works: list[Any], sides: SharedSides, folder: Path) -> list[Path]:
    """A `run_all` running each unit here, in turn (tests and measurements: the files without a cluster)."""
    return [run_unit(step, work, sides, folder) for work in works]
