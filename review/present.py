"""Presentation helpers: masking, character diffs, the waterfall chart, a lone record's evidence and links elsewhere."""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from html import escape
from typing import Any

from markupsafe import Markup

from reconcile.idnumber import mask as mask_id
from schemas.codes import Evidence, Side
from schemas.labels import TOTAL

UNRECORDED_NOTE = "户籍房屋均无实有人口记录，楼内有他人"
"""A building the roll names (visited) while recording none of its registered flats: softer than unvisited."""


def mask_name(name: str | None) -> str:
    """Keep the first character: 张伟 → 张*, 欧阳娜娜 → 欧***."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def mask_birth(value: Any) -> str:
    """A birth date's year only (the rest is the masked middle of the ID number): 1980-07-24 → 1980."""
    if isinstance(value, dt.date):
        return f"{value.year:04d}"
    return str(value)[:4]


def shown(value: Any, kind: str, *, full: bool) -> str:
    """A record's value as text: in full, or masked for roles (or records) that see only part.

    Masked: ID numbers and names (kinds "id", "name"), and whatever would give a masked ID
    number back: the birth date down to its year ("birth", or any date) and the sex ("sex",
    the 17th digit's parity).
    """
    if value is None:
        return ""
    if full:
        return str(value)
    if kind == "id":
        return mask_id(str(value))
    if kind == "name":
        return mask_name(str(value))
    if kind == "birth" or isinstance(value, dt.date):
        return mask_birth(value)
    if kind == "sex":
        return "*"
    return str(value)


def lineage(record: dict[str, Any]) -> str:
    """Where a record was read: `华南社区.xlsx · 3网格 · 第 12 行` (no sheet for a CSV)."""
    parts = [str(record.get("source_file") or "")]
    if record.get("source_sheet"):
        parts.append(str(record["source_sheet"]))
    parts.append(f"第 {record.get('source_row')} 行")
    return " · ".join(parts)


def diff_pair(a: str | None, b: str | None) -> tuple[Markup, Markup]:
    """Both strings as HTML with the characters that differ marked."""
    a, b = a or "", b or ""
    left, right = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            left.append(escape(a[i1:i2]))
            right.append(escape(b[j1:j2]))
        else:
            if i2 > i1:
                left.append(f'<mark class="diff">{escape(a[i1:i2])}</mark>')
            if j2 > j1:
                right.append(f'<mark class="diff">{escape(b[j1:j2])}</mark>')
    # Every piece is escaped above; only the <mark> tags are markup.
    return Markup("".join(left)), Markup("".join(right))  # noqa: S704


def waterfall_svg(explanation: dict[str, Any], *, width: int = 560, bar: int = 26) -> Markup:
    """A waterfall of the match weight: prior, then each field's contribution, then the total."""
    steps: list[tuple[str, float]] = [("先验 prior", float(explanation["prior"]))] + [
        (f"{f['field_label']} · {f['label']}", float(f["weight"])) for f in explanation["fields"]
    ]
    running = 0.0
    spans = []
    for label, weight in steps:
        start, running = running, running + weight
        spans.append((label, weight, start, running))
    total = running
    lo = min([0.0, *(min(s, e) for _, _, s, e in spans)])
    hi = max([0.0, *(max(s, e) for _, _, s, e in spans)])
    label_w, pad = 200, 60
    scale = (width - label_w - pad) / max(hi - lo, 1e-9)

    def x(v: float) -> float:
        return label_w + (v - lo) * scale

    rows = []
    for i, (label, weight, start, end) in enumerate([*spans, (f"{TOTAL} total", total, 0.0, total)]):
        y = 6 + i * bar
        color = "#2e7d32" if end >= start else "#c62828"
        if i == len(spans):
            color = "#1565c0"
        left, right = sorted((x(start), x(end)))
        rows.append(
            f'<text x="{label_w - 6}" y="{y + bar * 0.62:.0f}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<rect x="{left:.1f}" y="{y + 3}" width="{max(right - left, 1.5):.1f}" height="{bar - 8}" fill="{color}">'
            f"<title>{escape(label)}: {weight:+.2f}</title></rect>"
            f'<text x="{right + 4:.1f}" y="{y + bar * 0.62:.0f}" font-size="11">{weight:+.1f}</text>'
        )
    height = 12 + (len(spans) + 1) * bar
    axis = f'<line x1="{x(0):.1f}" y1="0" x2="{x(0):.1f}" y2="{height}" stroke="#999" stroke-dasharray="3,3"/>'
    # Labels are escaped and the rest are numbers: the SVG is built, not taken from input.
    return Markup(  # noqa: S704
        f'<svg class="waterfall" role="img" aria-label="match weight waterfall" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">{axis}{"".join(rows)}</svg>'
    )


def coverage_share(recorded: int | None, registered: int | None) -> int | None:
    """Flats recorded as a whole percentage of flats registered (None when nothing is registered).

    >>> coverage_share(3, 4), coverage_share(0, 7), coverage_share(1, 0)
    (75, 0, None)
    """
    if not registered:
        return None
    return round(100 * (recorded or 0) / registered)


def building_visited(row: dict[str, Any]) -> bool:
    """Whether any roll row names a building (its coverage row's `visited`).

    A database published before coverage said so has no `visited`: there, a building with a registered flat
    recorded counts as visited.

    >>> building_visited({"visited": True, "flats_recorded": 0}), building_visited({"flats_recorded": 0})
    (True, False)
    """
    if row.get("visited") is not None:
        return bool(row["visited"])
    return bool(row.get("flats_recorded"))


def elsewhere(person: dict[str, Any], side: Side, names: dict[str, str]) -> str:
    """Where a record verified as linked to another community says its person is ("" when not so linked).

    A register record (household member) linked to a roll record of another community lives there; a roll
    record (occupant) linked to a register record of another community is registered there. A review-band
    pair is no link: it needs `verified_by`.

    >>> p = {"community_code": "A", "other_community_code": "B", "verified_by": "auto"}
    >>> elsewhere(p, Side.REGISTER, {"B": "古塘社区"}), elsewhere(p, Side.ROLL, {})
    ('已查到住在 古塘社区', '户籍在 B')
    >>> elsewhere({**p, "verified_by": None}, Side.ROLL, {})
    ''
    """
    other = person.get("other_community_code")
    if not other or not person.get("verified_by") or other == person.get("community_code"):
        return ""
    where = names.get(other) or other
    return f"已查到住在 {where}" if Side(side) is Side.REGISTER else f"户籍在 {where}"


@dataclass(frozen=True, slots=True)
class EvidenceView:
    """What an item page says of a lone record's evidence (`schemas.codes.Evidence`)."""

    evidence: Evidence
    others: int = 0
    """How many other people the roll records at the registered flat."""
    since: dt.date | None = None
    """The earliest date the roll recorded one of them."""
    who: list[dict[str, str]] = field(default_factory=list)
    """The people the roll records at that flat, as the page shows them (masked per role)."""
    building: str | None = None
    flats_registered: int | None = None
    flats_recorded: int | None = None
    visited: bool | None = None
    """Whether any roll row names the building (None when its coverage is unknown)."""
    community_code: str | None = None
    """The other community: where the person lives or is registered, or where a namesake is registered."""
    community: str | None = None
    """That community's name."""

    @property
    def label(self) -> str:
        """The evidence's Chinese label."""
        return self.evidence.label

    @property
    def at_flat(self) -> bool:
        """Whether the roll records people at the registered flat (the page lists them)."""
        return self.evidence in (Evidence.OTHERS_AT_FLAT, Evidence.FAMILY_AT_FLAT)

    @property
    def visit_first(self) -> bool:
        """Whether the roll may simply have missed the flat: absence is not to be confirmed before a visit."""
        return self.evidence in (Evidence.FLAT_MISSED, Evidence.BUILDING_UNVISITED)

    @property
    def share(self) -> int | None:
        """The building's coverage in percent."""
        return coverage_share(self.flats_recorded, self.flats_registered)

    @property
    def unrecorded(self) -> bool:
        """Whether the roll names the building but records none of its registered flats (others live there)."""
        return bool(self.visited) and self.flats_registered is not None and not self.flats_recorded

    @property
    def search_hint(self) -> bool:
        """Whether the evidence is a namesake: a reason to search, never a link."""
        return self.evidence is Evidence.NAMESAKE_ELSEWHERE


def evidence_view(
    status: dict[str, Any] | None,
    *,
    names: dict[str, str],
    coverage: dict[str, Any] | None = None,
    who: list[dict[str, str]] | None = None,
) -> EvidenceView | None:
    """A lone record's evidence as its page shows it, from its published status row (None without evidence).

    Args:
        status: the record's `record_status` row (evidence, others_at_flat, others_since, hint_community,
            other_community_code, flat).
        names: community names by code.
        coverage: the coverage row of the building of the record's flat, if known.
        who: the people the roll records at that flat, already masked for the user.
    """
    if not status or not status.get("evidence"):
        return None
    evidence = Evidence(status["evidence"])
    other = status.get("hint_community") if evidence is Evidence.NAMESAKE_ELSEWHERE else None
    if evidence in (Evidence.LIVES_ELSEWHERE, Evidence.REGISTERED_ELSEWHERE):
        other = status.get("other_community_code")
    return EvidenceView(
        evidence=evidence,
        others=int(status.get("others_at_flat") or 0),
        since=status.get("others_since"),
        who=list(who or []),
        building=(coverage or {}).get("building") or status.get("building"),
        flats_registered=(coverage or {}).get("flats_registered"),
        flats_recorded=(coverage or {}).get("flats_recorded"),
        visited=building_visited(coverage) if coverage else None,
        community_code=other,
        community=names.get(other, other) if other else None,
    )
