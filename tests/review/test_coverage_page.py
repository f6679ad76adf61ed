"""The coverage page: per community, grid and building, how much of the register the roll records."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from review.app import create_app
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
        """SELECT community_code, count(*) FILTER (flats_recorded = 0), count(*) FROM coverage
           GROUP BY 1 HAVING count(*) FILTER (flats_recorded = 0) > 0 ORDER BY 2 DESC, 1 LIMIT 1"""
    )
    assert rows, "the small city has buildings the roll records nothing of"
    community, unvisited, buildings = rows[0]
    client = TestClient(create_app(world.data))
    login(client, "root")
    page = client.get(f"/coverage?community={community}").text
    detail = page[page.index('id="community"') :]
    assert detail.count('class="unvisited-row"') == unvisited
    rows_shown = re.findall(r"<tr( class=\"unvisited-row\")?>\s*<td>", detail)
    assert len(rows_shown) == buildings
    assert rows_shown[0], "a building with nothing recorded comes first"
    summary = page[: page.index('id="community"')]
    assert f'<span class="unvisited">{unvisited}</span>' in summary


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
