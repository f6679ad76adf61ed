"""Charts people would rather see than read: the community summary as an SVG."""

from __future__ import annotations

import datetime as dt
import math
from html import escape
from typing import Any

from schemas.labels import SUMMARY_LABELS

_REGISTER_SIDE = {
    "consistent_persons": "#2e7d32",
    "moved_within_persons": "#9ccc65",
    "absent_elsewhere_persons": "#ffb74d",
    "absent_outside_persons": "#e65100",
    "review_register_records": "#9e9e9e",
}
_ROLL_SIDE = {
    "consistent_persons": "#2e7d32",
    "moved_within_persons": "#9ccc65",
    "unregistered_elsewhere_persons": "#64b5f6",
    "unregistered_outside_persons": "#1565c0",
    "review_roll_records": "#9e9e9e",
}
PANELS = (
    ("户籍人口 registered here, by where they live", _REGISTER_SIDE),
    ("实有人口 living here, by where they are registered", _ROLL_SIDE),
)
"""The chart's two panels: the register side (户在人不在 among them) and the roll side (人在户不在), each a bar per
community; one bar never adds the two sides up."""
SEGMENTS = tuple(
    dict.fromkeys((column, SUMMARY_LABELS[column], colour) for _, side in PANELS for column, colour in side.items())
)
"""(summary column, label from the catalogue, colour) of each bar segment, in drawing order."""


def _stacked_bar(
    parts: list[str], segments: list[tuple[str, str, int]], *, x: float, y: float, height: int, scale: float, name: str
) -> float:
    """Append one bar of (label, colour, value) segments from `x`, each titled with its value; returns where it ends."""
    for label, colour, value in segments:
        if value:
            width = value * scale
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{height}" fill="{colour}">'
                f"<title>{escape(name)} {escape(label)}: {value:,}</title></rect>"
            )
            x += width
    return x


def summary_title(run_id: str) -> str:
    """The summary chart's title: what it shows, the run and when the run started (from its id).

    >>> summary_title("20261127T020000Z-3f9a")
    '社区人户核查汇总 community summary — run 20261127T020000Z-3f9a, 2026-11-27 02:00 UTC'
    """
    try:
        started = dt.datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return f"社区人户核查汇总 community summary — run {run_id}"
    return f"社区人户核查汇总 community summary — run {run_id}, {started:%Y-%m-%d %H:%M} UTC"


def summary_svg(rows: list[dict[str, Any]], *, title: str = "", bar: int = 16, width: int = 1180) -> str:
    """Two panels of one stacked bar per community: registered people by status, residents by registration.

    `title` names what is drawn (the run and its date); each panel has its axis, and each bar its total.

    >>> svg = summary_svg([{"community_code": "330282001001", "community_name": "某社区", "consistent_persons": 3,
    ...                     "absent_outside_persons": 1}], title="run 20261127T020000Z-3f9a, 2026-11-27")
    >>> svg.startswith("<svg") and "某社区" in svg and "20261127T020000Z-3f9a" in svg
    True
    """
    label_w, head_h, legend_h, gap = 190, 26, 36, 40
    panel_w = (width - label_w - gap - 20) / len(PANELS)
    top = head_h + legend_h + 22
    plot_h = len(rows) * (bar + 4)
    parts = [
        f'<text x="10" y="18" font-size="14" font-weight="bold">{escape(title or "社区人户核查汇总 community summary")}'
        "</text>"
    ]
    legend = list(dict.fromkeys((label, colour) for _, label, colour in SEGMENTS))
    for i, (label, colour) in enumerate(legend):
        key_x, key_y = 10 + (i % 4) * 250, head_h + 6 + (i // 4) * 16
        parts.append(f'<rect x="{key_x}" y="{key_y}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{key_x + 16}" y="{key_y + 10}" font-size="11">{escape(label)}</text>')
    for i, row in enumerate(rows):
        name = f"{row.get('community_code', '')} {row.get('community_name') or ''}"
        row_y = top + i * (bar + 4) + bar - 4
        parts.append(f'<text x="{label_w - 6}" y="{row_y}" text-anchor="end" font-size="11">{escape(name)}</text>')
    for p, (heading, side) in enumerate(PANELS):
        left = label_w + p * (panel_w + gap)
        biggest = max((sum(int(r.get(k) or 0) for k in side) for r in rows), default=0)
        ticks = nice_ticks(biggest)
        scale = (panel_w - 50) / ticks[-1]
        parts.append(f'<text x="{left:.1f}" y="{top - 8}" font-size="12" font-weight="bold">{escape(heading)}</text>')
        for tick in ticks:
            tick_x = left + tick * scale
            parts.append(
                f'<line x1="{tick_x:.1f}" y1="{top - 2}" x2="{tick_x:.1f}" y2="{top + plot_h}" stroke="#e0e0e0"/>'
            )
            parts.append(
                f'<text x="{tick_x:.1f}" y="{top + plot_h + 14}" text-anchor="middle" font-size="10">{tick:,}</text>'
            )
        parts.append(
            f'<text x="{left + (panel_w - 50) / 2:.1f}" y="{top + plot_h + 30}" text-anchor="middle" '
            'font-size="11">人 persons</text>'
        )
        for i, row in enumerate(rows):
            y = top + i * (bar + 4)
            name = f"{row.get('community_code', '')} {row.get('community_name') or ''}"
            segments = [(SUMMARY_LABELS[key], colour, int(row.get(key) or 0)) for key, colour in side.items()]
            x = _stacked_bar(parts, segments, x=left, y=y, height=bar, scale=scale, name=name)
            total = sum(int(row.get(k) or 0) for k in side)
            parts.append(f'<text x="{x + 4:.1f}" y="{y + bar - 4}" font-size="10">{total:,}</text>')
    return _svg(width, top + plot_h + 40, title or "community summary", parts)


SETTLED_COLOUR, PENDING_COLOUR = "#2e7d32", "#ef6c00"
PROGRESS_SEGMENTS = (("settled", "已办结 settled", SETTLED_COLOUR), ("pending", "待办 pending", PENDING_COLOUR))
"""(progress column, label, colour) of each bar segment of `progress_svg`, in drawing order."""
_SVG_OPEN = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
    'font-family="sans-serif" role="img" aria-label="{label}">'
)


def _svg(width: float, height: float, label: str, parts: list[str]) -> str:
    """An SVG document of these parts (presentation attributes only: the app's CSP allows no inline styles)."""
    w, h = round(width), round(height)
    return _SVG_OPEN.format(w=w, h=h, label=escape(label)) + "".join(parts) + "</svg>"


def nice_ticks(biggest: float, *, most: int = 6) -> list[int]:
    """Round axis ticks from 0 covering `biggest`: steps of 1, 2 or 5 times a power of ten, at most `most` steps.

    >>> nice_ticks(0), nice_ticks(7), nice_ticks(2678), nice_ticks(10)
    ([0, 1], [0, 2, 4, 6, 8], [0, 500, 1000, 1500, 2000, 2500, 3000], [0, 2, 4, 6, 8, 10])
    """
    biggest = max(float(biggest), 1.0)
    power = 1
    while True:
        for step in (power, 2 * power, 5 * power):
            if biggest / step <= most:
                return [i * step for i in range(math.ceil(biggest / step) + 1)]
        power *= 10


def progress_svg(
    rows: list[dict[str, Any]], *, title: str, run_id: str, date: str, bar: int = 16, width: int = 980
) -> str:
    """One horizontal bar per community: its queue items, settled then pending, on an axis of items.

    Args:
        rows: `progress` rows (community_code, settled, pending), with community_name when known.
        title: The chart's title.
        run_id: The run the figures come from, written under the title.
        date: The date of that run, written under the title.
        bar: The height of one bar, in pixels.
        width: The chart's width, in pixels.

    Returns:
        The chart as an SVG document.

    >>> svg = progress_svg([{"community_code": "330282001001", "community_name": "古塘<社区>", "settled": 30,
    ...                      "pending": 12}], title="进度", run_id="20250101T0200", date="2025-01-01")
    >>> svg.startswith("<svg") and "古塘&lt;社区&gt;" in svg and ">12 / 42<" in svg
    True
    """
    label_w, top, axis_h = 190, 64, 34
    plot_w = width - label_w - 80
    ticks = nice_ticks(max((int(r.get("settled") or 0) + int(r.get("pending") or 0) for r in rows), default=0))
    scale = plot_w / ticks[-1]
    parts = [
        f'<text x="10" y="18" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<text x="10" y="36" font-size="11" fill="#555">run {escape(run_id)} · {escape(date)}</text>',
    ]
    for i, (_, label, colour) in enumerate(PROGRESS_SEGMENTS):
        lx = label_w + i * 130
        parts.append(f'<rect x="{lx}" y="40" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 16}" y="50" font-size="11">{escape(label)}</text>')
    bottom = top + max(len(rows), 1) * (bar + 4)
    for tick in ticks:
        tx = label_w + tick * scale
        parts.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{bottom}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{tx:.1f}" y="{bottom + 14}" text-anchor="middle" font-size="10">{tick:,}</text>')
    parts.append(f'<line x1="{label_w}" y1="{bottom}" x2="{label_w + plot_w}" y2="{bottom}" stroke="#555"/>')
    parts.append(
        f'<text x="{label_w + plot_w / 2:.1f}" y="{bottom + 30}" text-anchor="middle" font-size="11">'
        "事项数 queue items</text>"
    )
    if not rows:
        parts.append(f'<text x="{label_w + 6}" y="{top + bar - 4}" font-size="11" fill="#555">无数据 (no data)</text>')
    for i, row in enumerate(rows):
        y = top + i * (bar + 4)
        name = f"{row.get('community_code', '')} {row.get('community_name') or ''}".strip()
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar - 4}" text-anchor="end" font-size="11">{escape(name)}</text>'
        )
        segments = [(label, colour, int(row.get(key) or 0)) for key, label, colour in PROGRESS_SEGMENTS]
        x = _stacked_bar(parts, segments, x=label_w, y=y, height=bar, scale=scale, name=name)
        pending, items = int(row.get("pending") or 0), int(row.get("settled") or 0) + int(row.get("pending") or 0)
        parts.append(
            f'<text x="{x + 4:.1f}" y="{y + bar - 4}" font-size="10" fill="#333">{pending:,} / {items:,}</text>'
        )
    return _svg(width, bottom + axis_h + 6, "progress by community", parts)


HEAT_LOW, HEAT_HIGH = (227, 242, 253), (13, 71, 161)
"""The heatmap's colours for the fewest and the most people (a cell with nobody is left blank)."""


def heat_colour(share: float) -> str:
    """The colour of a cell holding this share of the biggest cell's count (square-root scale).

    >>> heat_colour(0.0), heat_colour(1.0)
    ('#e3f2fd', '#0d47a1')
    """
    t = max(0.0, min(1.0, share)) ** 0.5
    return "#" + "".join(f"{round(lo + (hi - lo) * t):02x}" for lo, hi in zip(HEAT_LOW, HEAT_HIGH, strict=True))


def _heat_legend(biggest: int, x: float, y: float) -> list[str]:
    """Swatches of the heatmap's scale, labelled with the counts they stand for."""
    values = sorted({max(1, round(biggest * (i / 5) ** 2)) for i in range(1, 6)})
    parts = [f'<text x="{x}" y="{y + 11}" font-size="11">人数 persons:</text>']
    for i, value in enumerate(values):
        sx = x + 90 + i * 62
        parts.append(
            f'<rect x="{sx}" y="{y}" width="14" height="14" fill="{heat_colour(value / biggest)}" stroke="#999"/>'
        )
        parts.append(f'<text x="{sx + 18}" y="{y + 11}" font-size="10">{"≥" if i else ""}{value:,}</text>')
    return parts


def origin_destination_svg(
    flows: list[dict[str, Any]],
    communities: dict[str, str],
    *,
    title: str = "户籍地 × 居住地 where people registered in one community live",
    highlight: frozenset[str] | set[str] = frozenset(),
    cell: int = 14,
) -> str:
    """A heatmap of people registered in one community (rows) and living in another (columns).

    Communities in neither role are left out; rows and columns list the same communities in
    the same order, so the (empty) diagonal runs corner to corner.

    Args:
        flows: One dict per (register_community, roll_community) with its `persons`.
        communities: Community names by code, in display order (a code missing here shows as itself).
        title: The chart's title.
        highlight: Codes whose labels are drawn bold (the reader's own communities).
        cell: The side of one cell, in pixels.

    Returns:
        The heatmap as an SVG document.

    >>> svg = origin_destination_svg([{"register_community": "A", "roll_community": "B", "persons": 3}],
    ...                              {"A": "古塘", "B": "白沙&"}, highlight={"A"})
    >>> svg.startswith("<svg") and "白沙&amp;" in svg and "古塘 → 白沙&amp;: 3" in svg
    True
    """
    counts: dict[tuple[str, str], int] = {}
    for f in flows:
        key = (str(f["register_community"]), str(f["roll_community"]))
        counts[key] = counts.get(key, 0) + int(f.get("persons") or 0)
    counts = {k: n for k, n in counts.items() if n > 0 and k[0] != k[1]}
    present = {code for pair in counts for code in pair}
    codes = [c for c in communities if c in present] + sorted(present - set(communities))
    names = {c: communities.get(c) or c for c in codes}
    longest = max((len(n) for n in names.values()), default=2)
    label_w = 16 + 11 * longest
    top = 52 + round(10 * longest * 0.87)
    n = len(codes)
    parts = [f'<text x="10" y="18" font-size="15" font-weight="bold">{escape(title)}</text>']
    if not counts:
        parts.append(
            '<text x="10" y="46" font-size="12" fill="#555">无跨社区居住 (nobody lives in another community)</text>'
        )
        return _svg(480, 64, "origin-destination heatmap", parts)
    right = label_w + n * cell
    parts.append(f'<text x="{label_w}" y="38" font-size="11" fill="#555">居住社区 living in →</text>')
    parts.append(
        f'<text x="12" y="{top + n * cell / 2:.0f}" font-size="11" fill="#555" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + n * cell / 2:.0f})">户籍社区 registered in →</text>'
    )
    parts.append(f'<rect x="{label_w}" y="{top}" width="{n * cell}" height="{n * cell}" fill="#fafafa" stroke="#bbb"/>')
    for i, code in enumerate(codes):
        bold = ' font-weight="bold"' if code in highlight else ""
        label = escape(names[code])
        y, x = top + i * cell, label_w + i * cell
        parts.append(
            f'<text x="{label_w - 4}" y="{y + cell - 3}" text-anchor="end" font-size="10"{bold}>{label}</text>'
        )
        cx = x + cell / 2 + 3
        parts.append(
            f'<text x="{cx:.1f}" y="{top - 4}" font-size="10"{bold} transform="rotate(-60 {cx:.1f} {top - 4})">'
            f"{label}</text>"
        )
        parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="#e0e0e0"/>')  # the diagonal
    biggest = max(counts.values())
    index = {c: i for i, c in enumerate(codes)}
    for (origin, destination), persons in sorted(counts.items()):
        x, y = label_w + index[destination] * cell, top + index[origin] * cell
        share = persons / biggest
        tip = f"{names[origin]} → {names[destination]}: {persons:,} 人 ({origin} → {destination})"
        parts.append(
            f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{heat_colour(share)}" stroke="#fff" '
            f'stroke-width="0.5"><title>{escape(tip)}</title></rect>'
        )
        if len(str(persons)) <= 2 or (cell >= 18 and len(str(persons)) <= 3):
            ink = "#fff" if share**0.5 > 0.5 else "#222"
            parts.append(
                f'<text x="{x + cell / 2:.1f}" y="{y + cell - 4}" text-anchor="middle" font-size="8" fill="{ink}">'
                f"{persons}</text>"
            )
    bottom = top + n * cell
    parts.extend(_heat_legend(biggest, label_w, bottom + 12))
    parts.append(
        f'<text x="{label_w}" y="{bottom + 44}" font-size="10" fill="#555">'
        "行：户籍社区；列：实际居住社区；颜色越深人数越多 (rows: registered in; columns: living in)</text>"
    )
    width = max(right + 11 * longest * 0.5 + 20, label_w + 420)
    return _svg(width, bottom + 56, "origin-destination heatmap", parts)
