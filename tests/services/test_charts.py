"""Charts as SVG: well-formed, every text escaped, no inline styles (the app's CSP refuses them), empty input."""

from __future__ import annotations

from typing import TYPE_CHECKING

from defusedxml import ElementTree
from hypothesis import given
from hypothesis import strategies as st

from services.charts import nice_ticks, origin_destination_svg, progress_svg, summary_svg, summary_title

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

SVG = "{http://www.w3.org/2000/svg}"
NASTY = '<script>alert("x")</script> & 社区'


def parse(svg: str) -> Element:
    root: Element = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert not [e for e in root.iter() if "style" in e.attrib or e.tag == f"{SVG}style"]
    assert not [e for e in root.iter() if e.tag == f"{SVG}script" or any(a.startswith("on") for a in e.attrib)]
    return root


def texts(root: Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


def titles(root: Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}title")]


def test_progress_chart() -> None:
    rows = [
        {"community_code": "330282001001", "community_name": NASTY, "settled": 30, "pending": 12},
        {"community_code": "330282001002", "community_name": "古塘社区", "settled": 0, "pending": 0},
    ]
    root = parse(progress_svg(rows, title="进度 <b>", run_id="run&1", date="2025-01-01"))
    shown = texts(root)
    assert "进度 <b>" in shown
    assert "run run&1 · 2025-01-01" in shown
    assert f"330282001001 {NASTY}" in shown
    assert "12 / 42" in shown
    assert "0 / 0" in shown
    assert {"0", "10", "20", "30", "40", "50"} <= set(shown)  # the axis' tick labels
    assert f"330282001001 {NASTY} 待办 pending: 12" in titles(root)


def test_progress_chart_of_nothing() -> None:
    root = parse(progress_svg([], title="进度", run_id="r", date="d"))
    assert "无数据 (no data)" in texts(root)


def test_heatmap() -> None:
    flows = [
        {"register_community": "A", "roll_community": "B", "persons": 3},
        {"register_community": "B", "roll_community": "A", "persons": 1},
        {"register_community": "A", "roll_community": "B", "persons": 2},  # summed with the first
        {"register_community": "C", "roll_community": "C", "persons": 9},  # not a flow: left out
        {"register_community": "D", "roll_community": "A", "persons": 0},  # nobody: left out
    ]
    root = parse(
        origin_destination_svg(flows, {"B": NASTY, "A": "古塘", "C": "白沙"}, title="流向 & ", highlight={"A"})
    )
    assert "流向 & " in texts(root)
    assert titles(root) == [f"古塘 → {NASTY}: 5 人 (A → B)", f"{NASTY} → 古塘: 1 人 (B → A)"]
    labels = [e for e in root.iter(f"{SVG}text") if "".join(e.itertext()) in ("古塘", NASTY, "白沙")]
    assert len(labels) == 4  # a row and a column label each for A and B; C has no flow
    assert all(e.get("font-weight") == "bold" for e in labels if e.text == "古塘")
    assert any("rotate(" in (e.get("transform") or "") for e in labels)
    assert "5" in texts(root)  # counts written in their cells


def test_heatmap_of_nothing() -> None:
    root = parse(origin_destination_svg([], {"A": "古塘"}))
    assert "无跨社区居住 (nobody lives in another community)" in texts(root)


def test_heatmap_names_communities_it_does_not_know_by_code() -> None:
    root = parse(
        origin_destination_svg([{"register_community": "X", "roll_community": "A", "persons": 2}], {"A": "古塘"})
    )
    assert "古塘 → X: 2 人 (X → A)" not in titles(root)
    assert titles(root) == ["X → 古塘: 2 人 (X → A)"]


def test_heatmap_of_48_communities_stays_readable() -> None:
    codes = {f"3302820010{i:02d}": f"第{i}社区" for i in range(48)}
    flows = [
        {"register_community": a, "roll_community": b, "persons": (i * j) % 7}
        for i, a in enumerate(codes)
        for j, b in enumerate(codes)
    ]
    root = parse(origin_destination_svg(flows, codes))
    width, height = float(root.get("width") or 0), float(root.get("height") or 0)
    assert 48 * 14 < width < 1100
    assert 48 * 14 < height < 1000
    assert len(titles(root)) == sum(1 for f in flows if f["persons"] and f["register_community"] != f["roll_community"])


def test_summary_chart_still_parses() -> None:
    root = parse(summary_svg([{"community_code": "1", "community_name": NASTY, "consistent_persons": 2}]))
    assert f"1 {NASTY}" in texts(root)


@given(st.integers(min_value=0, max_value=10**7))
def test_ticks_cover_the_biggest_value_in_round_steps(biggest: int) -> None:
    ticks = nice_ticks(biggest)
    step = ticks[1]
    assert ticks[0] == 0
    assert ticks[-1] >= biggest
    assert ticks[-2] < max(biggest, 1)
    assert 2 <= len(ticks) <= 7
    assert str(step).strip("0") in ("1", "2", "5")
    assert ticks == [i * step for i in range(len(ticks))]


def test_summary_chart_keeps_the_two_sides_apart_and_says_what_it_shows() -> None:
    """Register-side (户在人不在) and roll-side (人在户不在) counts are separate bars; title, axes and totals shown."""
    row = {
        "community_code": "330282001001",
        "community_name": "青少年宫路社区",
        "consistent_persons": 100,
        "moved_within_persons": 5,
        "absent_elsewhere_persons": 20,
        "absent_outside_persons": 30,
        "review_register_records": 2,
        "unregistered_elsewhere_persons": 7,
        "unregistered_outside_persons": 11,
        "review_roll_records": 2,
    }
    root = parse(summary_svg([row], title=summary_title("20261127T020000Z-3f9a")))
    shown = texts(root)
    assert shown[0] == "社区人户核查汇总 community summary — run 20261127T020000Z-3f9a, 2026-11-27 02:00 UTC"
    assert "157" in shown  # register side: 100 + 5 + 20 + 30 + 2
    assert "125" in shown  # roll side: 100 + 5 + 7 + 11 + 2, never 户在人不在 and 人在户不在 in one bar
    assert shown.count("人 persons") == 2  # an axis per panel
    assert "0" in shown
    bars = titles(root)
    assert sum(1 for t in bars if "户在人不在" in t) == 2
    assert sum(1 for t in bars if "人在户不在" in t) == 2
    assert summary_title("not-a-stamp") == "社区人户核查汇总 community summary — run not-a-stamp"
