"""Roll coverage per community, grid and building: which buildings the community's roll records nothing of.

A 户在人不在 record in a building nobody visited says nothing about the family: before anybody is
called absent, a supervisor sees here, per grid, how many registered flats of each building the roll
records, buildings with nothing recorded first ("整幢未登记"). Everyone logged in sees the communities
of their scope (operators their community, supervisors their street, liaisons their station).

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from review import data
from review.deps import AnyUser, Context, render
from review.items import visible_codes
from review.present import UNVISITED_LABEL, coverage_share

router = APIRouter(tags=["coverage"])

FIGURES = ("flats_registered", "flats_recorded", "persons_registered", "persons_recorded")
"""A building's figures, summed per grid and per community."""


@dataclass
class Tally:
    """Buildings and their summed figures (a grid's or a community's)."""

    buildings: int = 0
    unvisited: int = 0
    """Buildings the roll records no registered flat of."""
    flats_registered: int = 0
    flats_recorded: int = 0
    persons_registered: int = 0
    persons_recorded: int = 0

    def add(self, building: dict[str, Any]) -> None:
        """Count one building (a coverage row)."""
        self.buildings += 1
        self.unvisited += not building["flats_recorded"]
        for name in FIGURES:
            setattr(self, name, getattr(self, name) + int(building[name] or 0))

    @property
    def share(self) -> int | None:
        """Flats recorded, in percent of flats registered."""
        return coverage_share(self.flats_recorded, self.flats_registered)


@dataclass
class Grid:
    """One grid's buildings (nothing recorded first, then least covered first) and their totals."""

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


def _community(code: str, name: str, rows: list[dict[str, Any]]) -> Community:
    """A community's coverage from its coverage rows; buildings without a grid (none recorded there) first."""
    found = Community(code, name)
    by_grid: dict[str | None, Grid] = {}
    for row in rows:
        building = {**row, "share": coverage_share(row["flats_recorded"], row["flats_registered"])}
        building["unvisited"] = not row["flats_recorded"]
        grid = by_grid.setdefault(row["grid"], Grid(row["grid"]))
        grid.buildings.append(building)
        grid.total.add(row)
        found.total.add(row)
    for grid in by_grid.values():
        grid.buildings.sort(key=lambda b: (not b["unvisited"], b["share"] or 0, b["building"] or ""))
    found.grids = sorted(by_grid.values(), key=lambda g: (g.grid is not None, g.grid or ""))
    return found


@router.get("/coverage", response_class=HTMLResponse)
def coverage_page(request: Request, ctx: Context, sess: AnyUser, community: str | None = None) -> Response:
    """Coverage of the user's communities, and per grid and building for one of them (unvisited first)."""
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
    chosen = next((c for c in communities if c.code == community), communities[0])
    return render(
        request,
        ctx,
        "coverage.html",
        sess,
        communities=communities,
        chosen=chosen,
        run_id=run_id,
        has_rows=bool(rows),
        unvisited_label=UNVISITED_LABEL,
    )
