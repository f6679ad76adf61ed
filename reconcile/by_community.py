"""Findings a few communities at a time: what a unit of communities reads, and how the units' findings join.

A record's findings read other communities' records in three ways only:
- its link partner: a status, a person key, the linked file and row, a review pair's queue item;
- a duplicate's primary (its person key), and a roll primary's link partner (the key it takes through its link);
- the namesake hint, among the whole city's unplaced register records (`reconcile.evidence.namesakes`).

Flats and buildings belong to one community (their keys carry its code: `reconcile.dwelling`), so
everything else (who the roll records at a flat, coverage, the doubt over an incomplete address) reads only the
community's own records. A unit therefore holds its communities' records and those few others (`unit_inputs`);
what it finds is kept for its communities only (`unit_findings`); and the units' findings, in community order,
are the whole city's (`joined`), row for row. `findings_by_community` does it all in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from reconcile.evidence import namesakes
from reconcile.findings import Findings, findings
from reconcile.frames import Frame, collect
from reconcile.work_queue import numbered
from schemas.codes import Side

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

UNIT = "unit"
"""The column numbering a record's unit (0, 1, …, in community order) in `community_units` and `unit_inputs`."""


@dataclass(frozen=True, slots=True)
class UnitInputs:
    """What the units read, each row marked with its `UNIT`: a record or link a unit reads is in it once.

    Queries over the whole city's frames: the nightly stage writes each in parts by unit (`flows.classify.plan`).
    """

    register: pl.LazyFrame
    roll: pl.LazyFrame
    links: pl.LazyFrame
    duplicates: pl.LazyFrame


def community_units(register: Frame, roll: Frame, roll_files: Frame, *, units: int) -> pl.DataFrame:
    """(community_code, unit): each community seen on either side or named by a roll file, in one of `units`.

    A unit takes a run of consecutive codes (nulls last, as the queue and coverage sort them) holding about as
    many records as the others; a community is never split, so a large one may leave fewer units than asked.
    With no more communities than `units`, each community is a unit.

    >>> register = pl.DataFrame({"community_code": ["b", "a", "a", "c", "a", "b"]})
    >>> roll = pl.DataFrame({"community_code": ["c", "c"]})
    >>> files = pl.DataFrame({"community_code": ["d"]})
    >>> community_units(register, roll, files, units=2).rows()
    [('a', 0), ('b', 0), ('c', 1), ('d', 1)]
    """
    if units < 1:
        raise ValueError(f"units must be at least 1, not {units}")
    seen = pl.concat([frame.lazy().select("community_code") for frame in (register, roll, roll_files)])
    sizes = collect(seen.group_by("community_code").len("n")).sort("community_code", nulls_last=True)
    if sizes.height <= units:
        return sizes.select("community_code", pl.int_range(pl.len(), dtype=pl.Int64).alias(UNIT))
    before = pl.col("n").cum_sum() - pl.col("n")
    share = (before * units // pl.col("n").sum()).cast(pl.Int64)
    return sizes.select("community_code", (share.rank("dense") - 1).cast(pl.Int64).alias(UNIT))


def unit_codes(units: pl.DataFrame) -> list[tuple[str | None, ...]]:
    """Each unit's community codes, unit by unit (`units`: `community_units`).

    >>> unit_codes(pl.DataFrame({"community_code": ["a", "b", "c"], "unit": [0, 0, 1]}))
    [('a', 'b'), ('c',)]
    """
    grouped = units.group_by(UNIT).agg(pl.col("community_code").sort(nulls_last=True)).sort(UNIT)
    return [tuple(codes) for codes in grouped["community_code"].to_list()]


def unit_inputs(register: Frame, roll: Frame, links: Frame, duplicates: Frame, units: Frame) -> UnitInputs:
    """Each unit's records, links and duplicates: its communities' (`units`: `community_units`) and what they read.

    Its register records: its communities', the register partners of its roll records, the primaries of its
    register duplicates, and the register partners of its roll duplicates' primaries. Its roll records: its
    communities', the roll partners of its register records and the primaries of its roll duplicates. Its
    links and duplicates: those between and of its records. Each side keeps its order.
    """
    register, roll, links, duplicates = register.lazy(), roll.lazy(), links.lazy(), duplicates.lazy()
    owned = units.lazy()
    reg_own = register.select("idx", "community_code").join(owned, on="community_code", nulls_equal=True)
    rol_own = roll.select("idx", "community_code").join(owned, on="community_code", nulls_equal=True)
    reg_own, rol_own = reg_own.select("idx", UNIT), rol_own.select("idx", UNIT)
    pairs = links.select("rid", "lid")
    of_side = {side: duplicates.filter(pl.col("side") == side.value).select("idx", "primary") for side in Side}
    roll_primaries = of_side[Side.ROLL].join(rol_own, on="idx").select(pl.col("primary").alias("idx"), UNIT)
    reg_members = pl.concat(
        [
            reg_own,
            pairs.join(rol_own.rename({"idx": "lid"}), on="lid").select(pl.col("rid").alias("idx"), UNIT),
            of_side[Side.REGISTER].join(reg_own, on="idx").select(pl.col("primary").alias("idx"), UNIT),
            pairs.join(roll_primaries.rename({"idx": "lid"}), on="lid").select(pl.col("rid").alias("idx"), UNIT),
        ]
    ).unique()
    rol_members = pl.concat(
        [
            rol_own,
            pairs.join(reg_own.rename({"idx": "rid"}), on="rid").select(pl.col("lid").alias("idx"), UNIT),
            roll_primaries,
        ]
    ).unique()
    unit_links = links.join(reg_members.rename({"idx": "rid"}), on="rid", maintain_order="left").join(
        rol_members.rename({"idx": "lid"}), on=["lid", UNIT], how="semi", maintain_order="left"
    )
    unit_duplicates = pl.concat(
        [
            duplicates.filter(pl.col("side") == side.value).join(members, on="idx", maintain_order="left")
            for side, members in ((Side.REGISTER, reg_members), (Side.ROLL, rol_members))
        ]
    )
    return UnitInputs(
        register=register.join(reg_members, on="idx", maintain_order="left"),
        roll=roll.join(rol_members, on="idx", maintain_order="left"),
        links=unit_links,
        duplicates=unit_duplicates,
    )


def in_communities(codes: Collection[str | None]) -> pl.Expr:
    """True for rows whose `community_code` is one of `codes` (null among them: a null code too).

    >>> pl.DataFrame({"community_code": ["a", None, "b"]}).filter(in_communities(["b", None])).height
    2
    """
    named = pl.col("community_code").is_in([c for c in codes if c is not None])
    return named | pl.col("community_code").is_null() if None in codes else named


def unit_findings(
    register: Frame,
    roll: Frame,
    links: Frame,
    duplicates: pl.DataFrame,
    *,
    codes: Collection[str | None],
    unplaced: Frame,
    vacant: pl.DataFrame | None = None,
    **options: Any,
) -> Findings:
    """One unit's findings: `reconcile.findings.findings` of its inputs (`unit_inputs`), kept for `codes`.

    `unplaced` is the whole city's `reconcile.evidence.namesakes`; `vacant` the whole city's vacancy rows (its
    communities' are read); `options` are `findings`' other options. The statuses come sorted by side and idx, as
    the whole city's are. A unit is a small part of a city, so what its queries keep is kept in memory.
    """
    register, roll = register.lazy(), roll.lazy()
    names = roll.select("name").drop_nulls().unique()
    nearby = collect(unplaced.lazy().join(names, on="name", how="semi"))  # the namesakes its records may have
    ours = in_communities(codes)
    vacant = None if vacant is None else vacant.filter(ours)
    found = findings(register, roll, links, duplicates, unplaced=nearby, vacant=vacant, **options)
    return Findings(
        statuses=collect(found.statuses.filter(ours).sort("side", "idx")).lazy(),
        queue=found.queue.filter(ours),
        summary=found.summary.filter(ours),
        coverage=found.coverage.filter(ours),
    )


def joined(parts: Sequence[Findings]) -> Findings:
    """The whole city's findings from its units', given in unit order (`community_units`).

    Statuses merge by side and idx; queue and coverage are in community order (nulls last), so they concatenate
    (the queue numbered again: `reconcile.work_queue.numbered`); the summary is sorted again, as
    `reconcile.summary.community_summary` sorts it (a null code first). The statuses stay a query, for the stage
    to write.
    """
    if not parts:
        raise ValueError("no units to join")
    sides = [_merged([part.statuses.filter(pl.col("side") == side.value) for part in parts]) for side in Side]
    return Findings(
        statuses=pl.concat(sides),
        queue=collect(numbered(pl.concat([part.queue for part in parts]))),
        summary=pl.concat([part.summary for part in parts]).sort("community_code"),
        coverage=pl.concat([part.coverage for part in parts]),
    )


def _merged(frames: list[pl.LazyFrame]) -> pl.LazyFrame:
    """Frames each sorted by idx, merged into one sorted by idx: in pairs, so the query is as deep as log₂ of them."""
    while len(frames) > 1:
        pairs = zip(frames[::2], frames[1::2], strict=False)
        frames = [a.merge_sorted(b, key="idx") for a, b in pairs] + frames[len(frames) - len(frames) % 2 :]
    return frames[0]


def findings_by_community(
    register: pl.DataFrame,
    roll: pl.DataFrame,
    links: pl.DataFrame,
    duplicates: pl.DataFrame,
    *,
    roll_files: pl.DataFrame,
    units: int,
    **options: Any,
) -> Findings:
    """`reconcile.findings.findings`, made in `units` units of communities in memory: the same findings.

    `options` are `findings`' other options (decisions, pair_outcomes, vacant, policy).
    """
    assignment = community_units(register, roll, roll_files, units=units)
    inputs = unit_inputs(register, roll, links, duplicates, assignment)
    frames = [collect(q) for q in (inputs.register, inputs.roll, inputs.links, inputs.duplicates)]
    unplaced = collect(namesakes(register, links, duplicates))
    parts = []
    for unit, codes in enumerate(unit_codes(assignment)):
        reg, rol, pairs, dups = (frame.filter(pl.col(UNIT) == unit).drop(UNIT) for frame in frames)
        parts.append(
            unit_findings(reg, rol, pairs, dups, codes=codes, unplaced=unplaced, roll_files=roll_files, **options)
        )
    return joined(parts)
