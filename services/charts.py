"""Charts people would rather see than read: the community summary as an SVG."""

from __future__ import annotations

from html import escape
from typing import Any

from schemas.labels import SUMMARY_LABELS

_COLOURS = {
    "consistent_persons": "#2e7d32",
    "moved_within_persons": "#9ccc65",
    "absent_elsewhere_persons": "#ffb74d",
    "absent_outside_persons": "#e65100",
    "unregistered_elsewhere_persons": "#64b5f6",
    "unregistered_outside_persons": "#1565c0",
    "review_register_records": "#9e9e9e",
}
SEGMENTS = tuple((column, SUMMARY_LABELS[column], colour) for column, colour in _COLOURS.items())
"""(summary column, label from the catalogue, colour) of each bar segment, in drawing order."""


def summary_svg(rows: list[dict[str, Any]], *, bar: int = 16, width: int = 980) -> str:
    """One stacked bar per community: registered people by status, then residents registered elsewhere.

    >>> svg = summary_svg([{"community_code": "330282001001", "community_name": "某社区", "consistent_persons": 3,
    ...                     "absent_outside_persons": 1}])
    >>> svg.startswith("<svg") and "某社区" in svg
    True
    """
    label_w, legend_h = 190, 28
    biggest = max((sum(int(r.get(k) or 0) for k, _, _ in SEGMENTS) for r in rows), default=1) or 1
    scale = (width - label_w - 60) / biggest
    parts = []
    for i, (_, label, color) in enumerate(SEGMENTS):
        legend_x = 10 + i * 138
        parts.append(f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{color}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="16" font-size="11">{escape(label)}</text>')
    for i, row in enumerate(rows):
        y = legend_h + i * (bar + 4)
        name = f"{row.get('community_code', '')} {row.get('community_name') or ''}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar - 4}" text-anchor="end" font-size="11">{escape(name)}</text>'
        )
        x = float(label_w)
        for key, label, color in SEGMENTS:
            value = int(row.get(key) or 0)
            if value:
                w = value * scale
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{color}">'
                    f"<title>{escape(name)} {escape(label)}: {value:,}</title></rect>"
                )
                x += w
    height = legend_h + len(rows) * (bar + 4) + 8
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif" role="img" aria-label="community summary">{"".join(parts)}</svg>'
    )
