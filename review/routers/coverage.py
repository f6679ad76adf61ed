"""Roll coverage per community, grid and building: which buildings the community's roll records nothing of.

A 户在人不在 record in a building nobody visited says nothing about the family: before anybody is
called absent, a supervisor sees here, per grid, how many registered flats of each building the roll
records, buildings no roll row names first (`schemas.labels.UNVISITED`: the rule of the evidence
`building_unvisited`), then buildings the roll names while recording none of their registered flats
(others live there: a softer note), then the least covered. Everyone logged in sees the communities of
their scope (operators their community, supervisors their street, liaisons their station), street by
street, least covered first, with a total per street of more than one community.

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from review import data
from review.deps import AnyUser, Context, render
from review.items import visible_codes
from review.present import UNRECORDED_NOTE, building_visited, coverage_share
from schemas.labels import RECORDED, TOTAL, UNKNOWN_GRID, UNVISITED

router = APIRouter(tags=["coverage"])

FIGURES = ("flats_registered", "flats_recorded", "persons_registered", "persons_recorded")
"""A building's figures, summed per grid, per community and per street."""
COUNTS = ("buildings", "unvisited", "unrecorded", *FIGURES)
"""Everything a tally sums."""


@dataclass
class Tally:
    """Buildings and their summed figures (a grid's, a community's or a street's)."""

    buildings: int = 0
    unvisited: int = 0
    """Buildings no roll row names (likely not visited)."""
    unrecorded: int = 0
    """Buildings the roll names (visited) while recording none of their registered flats."""
    flats_registered: int = 0
    flats_recorded: int = 0
    persons_registered: int = 0
    persons_recorded: int = 0

    def add(self, building: dict[str, Any]) -> None:
        """Count one building (a coverage row)."""
        visited = building_visited(building)
        self.buildings += 1
        self.unvisited += not visited
        self.unrecorded += visited and not building["flats_recorded"]
        for name in FIGURES:
            setattr(self, name, getattr(self, name) + int(building[name] or 0))

    def merge(self, other: "Tally") -> None:
        """Add another tally's counts to this one (a community's to its street's)."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def share(self) -> int | None:
        """Flats recorded, in percent of flats registered."""
        return coverage_share(self.flats_recorded, self.flats_registered)


@dataclass
class Grid:
    """One grid's buildings (unvisited first, then none of their flats recorded, then least covered) and totals."""

    grid: str | None
    buildings: list[dict[str, Any]] = field(default_factory=list)
    total: Tally = field(default_factory=Tally)


@dataclass
class Community:
    """One community's coverage: its totals, and its grids for the detail table."""

    code: str
    name: str
    total: Tally = field(default_factory=Tally)
    grids: list[Grid] = field(default_factory=list)


@dataclass
class Street:
    """One street's communities, least covered first, and their total."""

    name: str
    communities: list[Community] = field(default_factory=list)
    total: Tally = field(default_factory=Tally)


def _community(code: str, name: str, rows: list[dict[str, Any]]) -> Community:
    """A community's coverage from its coverage rows; buildings without a grid (none recorded there) first."""
    found = Community(code, name)
    by_grid: dict[str | None, Grid] = {}
    for row in rows:
        building = {**row, "share": coverage_share(row["flats_recorded"], row["flats_registered"])}
        building["unvisited"] = not building_visited(row)
        building["unrecorded"] = not building["unvisited"] and not row["flats_recorded"]
        grid = by_grid.setdefault(row["grid"], Grid(row["grid"]))
        grid.buildings.append(building)
        grid.total.add(row)
        found.total.add(row)
    for grid in by_grid.values():
        grid.buildings.sort(
            key=lambda b: (not b["unvisited"], not b["unrecorded"], b["share"] or 0, b["building"] or "")
        )
    found.grids = sorted(by_grid.values(), key=lambda g: (g.grid is not None, g.grid or ""))
    return found


def _streets(communities: list[Community], street_of: dict[str, str]) -> list[Street]:
    """The communities by street (streets by name), least covered first (none registered last), with totals."""
    streets: dict[str, Street] = {}
    for community in communities:
        street = streets.setdefault(street_of.get(community.code, ""), Street(street_of.get(community.code, "")))
        street.communities.append(community)
        street.total.merge(community.total)
    for street in streets.values():
        street.communities.sort(key=lambda c: (c.total.share is None, c.total.share or 0, c.code))
    return [streets[name] for name in sorted(streets)]


@router.get("/coverage", response_class=HTMLResponse)
def coverage_page(request: Request, ctx: Context, sess: AnyUser, community: str | None = None) -> Response:
    """Coverage of the user's communities by street, and per grid and building for one of them (unvisited first)."""
    if not ctx.paths.published.exists():
        return render(request, ctx, "empty.html", sess)
    with data.database(ctx.data_dir) as con:
        codes = visible_codes(con, sess)
        if not codes:
            return render(request, ctx, "empty.html", sess)
        rows = data.coverage(con, sorted(codes))
        run_id = data.run_id(con)
    by_code: dict[str, list[dict[str, Any]]] = {code: [] for code in codes}
    for row in rows:
        by_code[row["community_code"]].append(row)
    communities = [_community(code, codes[code].get("community_name") or code, by_code[code]) for code in sorted(codes)]
    streets = _streets(communities, {code: str(c.get("street") or "") for code, c in codes.items()})
    chosen = next((c for c in communities if c.code == community), streets[0].communities[0])
    return render(
        request,
        ctx,
        "coverage.html",
        sess,
        streets=streets,
        chosen=chosen,
        run_id=run_id,
        has_rows=bool(rows),
        unvisited_label=UNVISITED,
        unrecorded_note=UNRECORDED_NOTE,
        recorded_label=RECORDED,
        unknown_grid=UNKNOWN_GRID,
        total_label=TOTAL,
    )
