"""What a comparison is: a field, its agreement levels, their labels and starting parameters.

As in Splink (`Comparison` / `ComparisonLevel`), one object holds everything
about one field: how its level is computed for a pair, what each level means
(the pair page's labels), and the m and u the model starts from. The model,
the comparison vectors and the review app all read the project's set
(`reconcile.compare.COMPARISONS`) instead of keeping their own copies.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import polars as pl

MISSING = -1
"""The level of a pair where a value is missing on one side: it says nothing either way."""

LevelFunction = Callable[[pl.DataFrame], pl.Series | pl.Expr]
"""Computes a comparison's level per pair, given the pairs joined with both records' columns
(register columns prefixed `r_`, roll columns `l_`); the result is cast to Int8."""


@dataclass(frozen=True, slots=True)
class ComparisonLevel:
    """One agreement level of a comparison.

    `value` is what the level column holds, `key` the name code uses for it
    (`NAME.level("exact")`), `label` what the pair page shows. `initial_m` is
    where EM starts (and the pseudo-observations it is pulled towards);
    `default_u` steadies u on inputs too small to say.
    """

    value: int
    key: str
    label: str
    initial_m: float
    default_u: float


def _is_distribution(probabilities: list[float]) -> bool:
    return all(0.0 < p < 1.0 for p in probabilities) and math.isclose(sum(probabilities), 1.0, abs_tol=1e-9)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One field compared between a register record and a roll record.

    `levels` are best first, each value at least 0 (`MISSING` is implied and
    labelled `missing_label`); their initial m and default u each form a
    probability distribution. `compute` gives the level per pair.
    """

    name: str
    label_zh: str
    levels: tuple[ComparisonLevel, ...]
    compute: LevelFunction = field(repr=False, compare=False)
    missing_label: str = "缺失"

    def __post_init__(self) -> None:
        values = [lvl.value for lvl in self.levels]
        keys = [lvl.key for lvl in self.levels]
        if not values or values != sorted(set(values), reverse=True) or min(values) < 0:
            raise ValueError(f"{self.name}: levels must be distinct, at least 0 and best first, not {values}")
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.name}: level keys must be distinct, not {keys}")
        if not all(lvl.label for lvl in self.levels) or not self.label_zh or not self.missing_label:
            raise ValueError(f"{self.name}: every level and the field need a label")
        if not _is_distribution([lvl.initial_m for lvl in self.levels]):
            raise ValueError(f"{self.name}: initial m must be probabilities summing to 1")
        if not _is_distribution([lvl.default_u for lvl in self.levels]):
            raise ValueError(f"{self.name}: default u must be probabilities summing to 1")

    @property
    def column(self) -> str:
        """The level column of a comparison vector: `<name>_lvl`."""
        return f"{self.name}_lvl"

    @property
    def weight_column(self) -> str:
        """The scored weight column: `w_<name>`."""
        return f"w_{self.name}"

    @property
    def values(self) -> tuple[int, ...]:
        """The level values, best first (without `MISSING`)."""
        return tuple(lvl.value for lvl in self.levels)

    @property
    def labels(self) -> dict[int, str]:
        """Label per level value, `MISSING` included."""
        return {lvl.value: lvl.label for lvl in self.levels} | {MISSING: self.missing_label}

    @property
    def initial_m(self) -> dict[int, float]:
        """The m per level value where EM starts."""
        return {lvl.value: lvl.initial_m for lvl in self.levels}

    @property
    def default_u(self) -> dict[int, float]:
        """The u per level value among random pairs, before the data speaks."""
        return {lvl.value: lvl.default_u for lvl in self.levels}

    def value(self, key: str) -> int:
        """The value the level column holds for the level named `key` (what a computation returns)."""
        return self.level(key).value

    def level(self, key: str) -> ComparisonLevel:
        """The level named `key`; KeyError if there is none."""
        for lvl in self.levels:
            if lvl.key == key:
                return lvl
        raise KeyError(f"{self.name} has no level {key!r} (it has {[lvl.key for lvl in self.levels]})")


@dataclass(frozen=True, slots=True)
class ComparisonSet:
    """The comparisons a linker makes, in order (the order of level and weight columns).

    Iterates in order; `set["name"]` looks one up by name.
    """

    comparisons: tuple[Comparison, ...]

    def __post_init__(self) -> None:
        names = [c.name for c in self.comparisons]
        if len(set(names)) != len(names):
            raise ValueError(f"comparison names must be distinct, not {names}")

    def __iter__(self) -> Iterator[Comparison]:
        return iter(self.comparisons)

    def __len__(self) -> int:
        return len(self.comparisons)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.comparisons)

    def __getitem__(self, name: str) -> Comparison:
        for c in self.comparisons:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        """The comparisons' names, in order."""
        return tuple(c.name for c in self.comparisons)

    @property
    def columns(self) -> list[str]:
        """The level columns, in order."""
        return [c.column for c in self.comparisons]

    @property
    def weight_columns(self) -> list[str]:
        """The weight columns, in order."""
        return [c.weight_column for c in self.comparisons]

    def initial_m(self) -> dict[str, dict[int, float]]:
        """The m where EM starts, per comparison and level (a fresh dict each call)."""
        return {c.name: c.initial_m for c in self.comparisons}

    def default_u(self) -> dict[str, dict[int, float]]:
        """The u before the data speaks, per comparison and level (a fresh dict each call)."""
        return {c.name: c.default_u for c in self.comparisons}
