"""The coverage page: per community, grid and building, how much of the register the roll records."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from review.app import create_app
from review.present import UNRECORDED_NOTE
from schemas.labels import UNVISITED
from tests.review.conftest import World, login


def test_coverage_needs_a_session(client: TestClient) -> None:
    response = client.get("/coverage", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_a_supervisor_sees_only_the_communities_of_their_street(client: TestClient, world: World) -> None:
    login(client, "sup")
    street = {
        str(r[0]) for r in world.sql("SELECT community_code FROM community_summary WHERE street = ?", [world.street])
    }
    page = client.get("/coverage").text
    listed = set(re.findall(r'<a href="/coverage\?community=(\d+)">', page))
    assert listed == street
    assert world.other_community not in page
    asked = client.get(f"/coverage?community={world.other_community}").text
    assert world.other_community not in asked  # outside their scope: they get their own street's page


def test_unvisited_buildings_come_first_and_are_marked(world: World) -> None:
    rows = world.sql(
        """SELECT community_code, count(*) FILTER (NOT visited), count(*) FILTER (visited AND flats_recorded = 0),
                  count(*) FROM coverage
           GROUP BY 1 HAVING count(*) FILTER (NOT visited) > 0 ORDER BY 2 DESC, 1 LIMIT 1"""
    )
    assert rows, "the small city has buildings no roll row names"
    community, unvisited, unrecorded, buildings = rows[0]
    client = TestClient(create_app(world.data))
    login(client, "root")
    page = client.get(f"/coverage?community={community}").text
    detail = page[page.index('id="community"') :]
    assert detail.count('class="unvisited-row"') == unvisited
    assert detail.count('class="unrecorded-row"') == unrecorded
    rows_shown = re.findall(r"<tr( class=\"(?:unvisited|unrecorded)-row\")?>\s*<td>", detail)
    assert len(rows_shown) == buildings
    assert rows_shown[0] == ' class="unvisited-row"', "a building no roll row names comes first"
    assert UNVISITED in detail
    assert "整幢未登记" not in page
    summary = page[: page.index('id="community"')]
    assert f'<span class="unvisited">{unvisited}</span>' in summary


def test_a_visited_building_with_none_of_its_flats_recorded_gets_the_softer_note(world: World) -> None:
    rows = world.sql(
        """SELECT community_code, building FROM coverage WHERE visited AND flats_recorded = 0
           ORDER BY community_code, building LIMIT 1"""
    )
    assert rows, "the small city has buildings the roll names while recording none of their registered flats"
    community, building = rows[0]
    client = TestClient(create_app(world.data))
    login(client, "root")
    page = client.get(f"/coverage?community={community}").text
    detail = page[page.index('id="community"') :]
    row = re.search(rf'<tr class="unrecorded-row">\s*<td>{re.escape(str(building))}</td>.*?</tr>', detail, re.S)
    assert row, building
    assert UNRECORDED_NOTE in row.group(0)
    assert UNVISITED not in row.group(0)  # the roll names the building: it was visited


def test_a_supervisor_sees_a_street_total_and_the_least_covered_first(client: TestClient, world: World) -> None:
    login(client, "sup")
    page = client.get("/coverage").text
    summary = page[page.index('<table class="coverage-summary">') : page.index("</table>")]
    ((registered, recorded),) = world.sql(
        """SELECT sum(c.flats_registered), sum(c.flats_recorded) FROM coverage c
           JOIN community_summary s USING (community_code) WHERE s.street = ?""",
        [world.street],
    )
    total = re.search(r"<tr class=\"total street-total\"><th>(.*?)</th>(.*?)</tr>", summary, re.S)
    assert total
    assert world.street in total.group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<th>(.*?)</th>", total.group(2), re.S)]
    assert cells[3:5] == [str(registered), str(recorded)]
    shares = [
        int(v)
        for v in re.findall(
            r'<td><a href="/coverage\?community=\d+">.*?</td>(?:.*?</td>){5}\s*<td>(\d+)%</td>', summary, re.S
        )
    ]
    assert len(shares) > 1
    assert shares == sorted(shares), "least covered first"
    # An operator's one community is its own total: no street total row.
    operator = TestClient(client.app)
    login(operator, "op")
    assert "street-total" not in operator.get("/coverage").text


def test_each_grid_has_its_totals(world: World) -> None:
    client = TestClient(create_app(world.data))
    login(client, "op")
    grids = world.sql(
        """SELECT grid, sum(flats_registered), sum(flats_recorded), sum(persons_registered), sum(persons_recorded)
           FROM coverage WHERE community_code = ? GROUP BY 1""",
        [world.community],
    )
    assert grids
    page = client.get("/coverage").text
    for _grid, flats, recorded, persons, persons_recorded in grids:
        total = f"<th>合计 total</th><th>{flats}</th><th>{recorded}</th>"
        assert total in page
        assert f"<th>{persons}</th><th>{persons_recorded}</th>" in page
    named = [g for g, *_ in grids if g]
    for grid in named:
        assert f"<h3>{grid}" in page


def test_the_nav_and_the_queue_lead_to_coverage_progress_and_worksheets(world: World) -> None:
    supervisor = TestClient(create_app(world.data))
    login(supervisor, "sup")
    page = supervisor.get("/queue").text
    nav = page[page.index("<nav>") : page.index("</nav>")]
    assert 'href="/coverage"' in nav
    assert 'href="/progress"' in nav
    assert 'href="/worksheets"' not in nav  # operators' work
    assert 'id="coverage-link"' in page
    operator = TestClient(create_app(world.data))
    login(operator, "op")
    nav = operator.get("/queue").text
    assert 'href="/worksheets"' in nav[nav.index("<nav>") : nav.index("</nav>")]
