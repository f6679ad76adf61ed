"""Work units: the steps of linking that take a partition or a chunk at a time, and who runs them.

A step (`Step`) is a small picklable object called with one piece of work (a chunk of pairs, a partition
number) and both sides' records (`Sides`), returning a frame. The steps of one kind are independent of each
other, so whoever runs them (`Units`) may run them one after another (`IN_TURN`, the default) or map them over
a cluster's workers (`flows.link_units`): `reconcile.block.blocked` and `reconcile.compare.compared` concatenate
what they return in the order of the work, so the result is the same either way
(tests/reconcile/test_link_units.py).

A step holds nothing that names a person: a cluster's scheduler and Prefect keep what a task is called with.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import polars as pl

W = TypeVar("W")
W_contra = TypeVar("W_contra", contravariant=True)


class Sides:
    """Both sides' records as linking holds them (`idx` and the prepared columns), shared by every unit.

    What every unit of a kind derives from them alike (the comparison index, ID corrections) is derived once
    (`derived`), also when several threads run units at once, and kept until the step that needs it is done
    (`forget`).
    """

    __slots__ = ("__weakref__", "_derived", "_deriving", "register", "roll")

    def __init__(self, register: pl.DataFrame, roll: pl.DataFrame) -> None:
        self.register = register
        self.roll = roll
        self._derived: dict[str, Any] = {}
        self._deriving = threading.Lock()

    def derived(self, name: str, derive: Callable[[Sides], Any]) -> Any:
        """`derive(self)`, computed the first time `name` is asked for and kept with the sides."""
        with self._deriving:
            if name not in self._derived:
                self._derived[name] = derive(self)
            return self._derived[name]

    @property
    def holding(self) -> tuple[str, ...]:
        """The names of what is derived and kept now."""
        with self._deriving:
            return tuple(self._derived)

    def forget(self, prefix: str) -> None:
        """Let go of what was derived under names starting with `prefix`."""
        with self._deriving:
            for name in [n for n in self._derived if n.startswith(prefix)]:
                del self._derived[name]


class Step(Protocol[W_contra]):
    """One kind of unit: `work` (a chunk or a partition) with both sides, to a frame."""

    def __call__(self, work: W_contra, sides: Sides, /) -> pl.DataFrame:
        """The unit's result, which depends on `work` and `sides` only."""
        ...


class Units(Protocol):
    """Who runs the units of a step: every piece of `works`, results in the order of `works`."""

    def map(self, step: Step[W], works: Sequence[W], sides: Sides) -> list[pl.DataFrame]:
        """`step` of each of `works` with `sides`."""
        ...


class InTurn:
    """The units one after another, in this process."""

    def map(self, step: Step[W], works: Sequence[W], sides: Sides) -> list[pl.DataFrame]:
        """`step` of each of `works` with `sides`, in turn."""
        return [step(work, sides) for work in works]


IN_TURN = InTurn()
"""Units run one after another, here: how `reconcile.linker.link` runs them unless told otherwise."""
