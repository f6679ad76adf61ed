"""The progress page: per community and street, scoped to the user, with its chart and the heatmap of flows."""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING

import duckdb
from defusedxml import ElementTree

from review.routers.progress import done_share
from schemas.codes import DecisionKind
from services import fieldwork, reader
from services.decisions import ItemKeys, decide
from services.paths import DataPaths
from tests.review.conftest import World, login

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

SVG = "{http://www.w3.org/2000/svg}"


def table_codes(page: str) -> set[str]:
    """The communities the progress table lists (each links to its queue)."""
    table = page[page.index('<table class="progress">') : page.index("</table>")]
    return set(re.findall(r'href="/queue\?community=(\d{12})"', table))


def table_row(page: str, code: str) -> list[str]:
    """The cells of one community's row, as text."""
    row = re.search(rf'<tr>\s*<td><a href="/queue\?community={code}">.*?</tr>', page, re.S)
    assert row, code
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row.group(0), re.S)]


def cell_titles(svg: str) -> list[str]:
    root = ElementTree.fromstring(svg)
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}title")]


def test_progress_needs_a_session(client: TestClient) -> None:
    for path in ("/progress", "/progress/chart.svg", "/progress/heatmap.svg"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login", path


def test_supervisor_sees_their_street_with_totals(client: TestClient, world: World) -> None:
    login(client, "sup")
    page = client.get("/progress")
    assert page.status_code == 200
    street = {
        str(c) for (c,) in world.sql("SELECT community_code FROM community_summary WHERE street = ?", [world.street])
    }
    assert table_codes(page.text) == street
    assert world.other_community not in table_codes(page.text)
    items, pending, settled = world.sql(
        "SELECT sum(items), sum(pending), sum(settled) FROM progress WHERE list_contains(?, community_code)",
        [sorted(street)],
    )[0]
    total = re.search(r"合计 street total</th>\s*<th>([\d,]+)</th><th>([\d,]+)</th><th>([\d,]+)</th>", page.text)
    assert total
    assert [int(v.replace(",", "")) for v in total.groups()] == [items, pending, settled]
    assert "没有上一次运行可比" in page.text  # one run only: new and resolved are not known
    (row,) = world.sql("SELECT items, pending, settled FROM progress WHERE community_code = ?", [world.community])
    assert table_row(page.text, world.community)[1:4] == [f"{v:,}" for v in row]
    assert table_row(page.text, world.community)[6:8] == ["—", "—"]
    assert page.text.count("<svg") == 2  # the progress chart and the heatmap, inline
    assert "截至上次运行" in page.text


def test_a_street_total_only_for_more_than_one_community(client: TestClient, world: World) -> None:
    login(client, "op")
    page = client.get("/progress").text
    assert table_codes(page) == {world.community}
    assert "合计 street total" not in page  # the operator's one community is its own total


def test_decisions_since_the_run_are_counted_live(client: TestClient, world: World) -> None:
    items = world.sql(
        """SELECT community_code, register_key, roll_key, register_fingerprint, roll_fingerprint FROM queue
           WHERE community_code = ? AND kind = 'absent' ORDER BY item_id LIMIT 3""",
        [world.community],
    )
    assert len(items) == 3
    for community, register_key, roll_key, register_fp, roll_fp in items:
        keys = ItemKeys(str(community), str(register_key), None, str(register_fp), None)
        assert roll_key is None
        assert roll_fp is None
        decide(world.state, username="op", kind=DecisionKind.CONFIRM_ABSENT, keys=keys)
    conn = sqlite3.connect(world.state)  # one of them made before the run was published: the run counted it
    with conn:
        conn.execute(
            "UPDATE decisions SET decided_at = '2000-01-01T00:00:00+00:00' WHERE register_key = ?", [items[0][1]]
        )
    conn.close()
    login(client, "sup")
    page = client.get("/progress").text
    assert table_row(page, world.community)[8] == "2"
    assert "此后新决定" in page
    total = re.search(r"合计 street total</th>(.*?)</tr>", page, re.S)
    assert total
    assert re.findall(r"<th[^>]*>(.*?)</th>", total.group(1), re.S)[7] == "2"


def test_done_counts_what_was_resolved_since_the_run_before(client: TestClient, world: World) -> None:
    pair = world.sql(
        """SELECT community_code, register_key, roll_key, register_fingerprint, roll_fingerprint FROM queue
           WHERE community_code = ? AND kind = 'pair' ORDER BY item_id LIMIT 1""",
        [world.community],
    )[0]
    decide(world.state, username="op", kind=DecisionKind.SAME_PERSON, keys=ItemKeys(*(str(v) for v in pair)))
    world.rerun()  # a second run applies it: the pair is no item any more, resolved since the run before
    rows = world.sql(
        "SELECT items, settled, resolved FROM progress WHERE community_code = ? AND resolved IS NOT NULL",
        [world.community],
    )
    assert rows
    items, settled, resolved = (int(str(v)) for v in rows[0])
    assert resolved >= 1
    login(client, "op")
    page = client.get("/progress").text
    share = done_share({"items": items, "settled": settled, "resolved": resolved})
    assert table_row(page, world.community)[4] == (f"{share}%" if share is not None else "—")
    assert "(已办结 + 已解决) ÷ (事项 + 已解决)" in page


def test_every_flow_of_the_heatmap_is_in_the_table(client: TestClient, world: World) -> None:
    login(client, "sup")
    page = client.get("/progress").text
    heatmap = client.get("/progress/heatmap.svg").text
    cells = len(cell_titles(heatmap))
    assert cells > 15, "enough flows for a supervisor to need more than the top ones"
    listed = page[page.index('id="flows"') :]
    rows = re.findall(r"<tr><td>.*?</td><td>→</td><td>.*?</td><td>(\d+)</td></tr>", listed, re.S)
    assert len(rows) == cells
    assert "<details" in listed


def test_charts_are_svg_and_scoped(client: TestClient, world: World) -> None:
    login(client, "op")
    chart = client.get("/progress/chart.svg")
    assert chart.status_code == 200
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert world.community in chart.text
    assert world.other_community not in chart.text
    heatmap = client.get("/progress/heatmap.svg")
    assert heatmap.headers["content-type"].startswith("image/svg+xml")
    titles = cell_titles(heatmap.text)
    assert titles
    assert all(world.community in t.rsplit("(", 1)[1] for t in titles)  # every flow starts or ends in theirs
    counts = [re.search(r": ([\d,]+) 人", t) for t in titles]
    persons = sum(int(m.group(1).replace(",", "")) for m in counts if m)
    assert all(counts)
    ((expected,),) = world.sql(
        """SELECT count(*) FROM links WHERE decided_by IN ('auto', 'operator') AND register_community <> roll_community
           AND ? IN (register_community, roll_community)""",
        [world.community],
    )
    assert persons == expected
    page = client.get("/progress")
    assert f"共 {expected:,} 人" in page.text
    assert "只含户籍社区或居住社区在您范围内的人" in page.text


def test_worksheets_out_and_back(client: TestClient, world: World) -> None:
    for sheet_id in ("s1", "s2"):
        fieldwork.sheet_out(
            world.state, sheet_id=sheet_id, community_code=world.community, grid=None, run_id="r", rows=3, username="op"
        )
    fieldwork.sheet_back(world.state, sheet_id="s1", username="op", applied=3, refused=0)
    login(client, "op")
    page = client.get("/progress")
    assert table_row(page.text, world.community)[-1] == "2 / 1"


def test_without_progress_data_the_page_says_so(client: TestClient, world: World) -> None:
    reader.release(world.data)  # the app's process holds it attached
    con = duckdb.connect(str(DataPaths(world.data).published))
    con.execute("DROP VIEW progress")
    con.close()
    login(client, "sup")
    page = client.get("/progress")
    assert page.status_code == 200
    assert "尚无进度数据" in page.text
    assert world.community in table_codes(page.text)
    assert table_row(page.text, world.community)[1:4] == ["—", "—", "—"]  # unknown, not zero
    assert page.text.count("<svg") == 1  # no progress chart, the heatmap still
    assert client.get("/progress/heatmap.svg").status_code == 200
