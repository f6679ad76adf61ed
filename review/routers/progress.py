"""Progress and change since last night, per community and street, and where registered people actually live.

Everyone logged in sees the communities of their scope (operators their community,
supervisors their street, liaisons their station): per community, as of the last
published run, the queue's items, pending and settled, what changed, what is new and
what was resolved since the run before; and live, from the operators' state, the
decisions made since that run was published and the door-visit worksheets out and
back. A street's total row only for a street of more than one of the user's
communities. A bar chart of the same; and a heatmap of people registered in one
community and living in another, limited to people registered in or living in the
user's communities, every cell of it also listed as a table.

完成 (done) counts what the last run settled and what it resolved (items of the run before
that are no item any more: a decided pair applied, a record found present, a record
corrected) over the items plus those resolved: a supervisor reads the morning after a
day's work as done, not gone.

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from review import data
from review.deps import AnyUser, AppContext, Context, Session, render
from review.items import visible_codes
from schemas.codes import DecidedBy
from schemas.labels import TOTAL
from services import fieldwork
from services.charts import origin_destination_svg, progress_svg
from services.clock import LOCAL_ZONE, when
from services.decisions import active_decisions
from services.reader import View, dict_rows, has_view, published_at

router = APIRouter(tags=["progress"])

RUN_COUNTS = ("items", "pending", "settled", "changed", "new", "resolved")
"""A community's figures as of the last published run (`reconcile.progress`)."""
LIVE_COUNTS = ("decided_since", "sheets_out", "sheets_back")
"""A community's figures from the operators' state, as they are now."""
COUNTS = RUN_COUNTS + LIVE_COUNTS
"""The figures of a community's row, summed into its street's row (`new`/`resolved` stay unknown if one is)."""
FLOW_DECIDERS = (DecidedBy.AUTO.value, DecidedBy.OPERATOR.value)
"""Links the heatmap counts: verified ones (a review-band pair is still a question)."""
TOP_FLOWS = 15
"""How many of the biggest flows the page lists under the heatmap."""
CHART_TITLE = "各社区核查进度 progress by community"
HEATMAP_TITLE = "户籍地 × 居住地 where people registered in one community live"


def done_share(row: dict[str, Any]) -> int | None:
    """完成 (done) in percent: settled and resolved over items and resolved (settled over items, resolved unknown).

    None when there is nothing to count (or the figures are unknown).

    >>> done_share({"items": 8, "settled": 2, "resolved": 2}), done_share({"items": 4, "settled": 1, "resolved": None})
    (40, 25)
    >>> done_share({"items": 0, "settled": 0, "resolved": 0}), done_share({"items": None, "settled": None})
    (None, None)
    """
    items, settled = row.get("items"), row.get("settled")
    resolved = int(row.get("resolved") or 0)
    if items is None or settled is None or not int(items) + resolved:
        return None
    return round(100 * (int(settled) + resolved) / (int(items) + resolved))


@dataclass
class Street:
    """One street's communities (rows of the progress table) and their totals."""

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, int | None] = field(default_factory=dict)

    @property
    def has_total(self) -> bool:
        """Whether the street's total row says anything its one row does not (more than one community)."""
        return len(self.rows) > 1


@dataclass
class Progress:
    """What the progress page shows, for one user."""

    run_id: str
    published_at: dt.datetime | None
    previous_run_id: str | None
    has_progress: bool
    streets: list[Street]
    flows: list[dict[str, Any]]
    names: dict[str, str]
    codes: frozenset[str]

    @property
    def published(self) -> str:
        """When the run was published, in the offices' time zone (`services.clock`), to the minute ("" when unknown)."""
        return self.published_at.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M") if self.published_at else ""

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every community's row, street by street."""
        return [row for street in self.streets for row in street.rows]

    def chart(self) -> str:
        """The progress bar chart of the user's communities."""
        rows = self.rows if self.has_progress else []  # no progress data: no bars, rather than bars of zero
        return progress_svg(rows, title=CHART_TITLE, run_id=self.run_id, date=self.published)

    def heatmap(self) -> str:
        """The origin–destination heatmap of the flows touching the user's communities."""
        return origin_destination_svg(self.flows, self.names, title=HEATMAP_TITLE, highlight=self.codes)


def _decided_since(ctx: AppContext, since: dt.datetime | None) -> dict[str, int]:
    """Active decisions made after `since` (the published run), per community of their item; none without a time.

    Decisions withdrawn since (undone, or superseded) are not counted: what stands now.
    """
    if since is None:
        return {}
    counts: dict[str, int] = {}
    for community, decided_at in active_decisions(ctx.paths.state).select("community_code", "decided_at").rows():
        decided = when(decided_at)
        if decided is not None and decided > since:
            counts[community] = counts.get(community, 0) + 1
    return counts


def _flows(con: duckdb.DuckDBPyConnection, codes: list[str]) -> list[dict[str, Any]]:
    """Verified links across communities touching these communities: persons per (registered, living) pair."""
    city = data.per_publish(
        con,
        ("flows",),
        lambda: dict_rows(
            con,
            f"""SELECT register_community, roll_community, count(*) AS persons FROM {View.LINKS}
                WHERE decided_by IN (SELECT unnest(?::VARCHAR[])) AND register_community <> roll_community
                GROUP BY ALL ORDER BY persons DESC, register_community, roll_community""",  # noqa: S608  the view's name from the View enum
            [list(FLOW_DECIDERS)],
        ),
    )
    mine = set(codes)
    return [f for f in city if f["register_community"] in mine or f["roll_community"] in mine]


def _street_total(name: str, rows: list[dict[str, Any]]) -> Street:
    """A street's rows, most pending first, and their total (a figure unknown in one row is unknown in the total)."""
    total: dict[str, int | None] = {}
    for key in COUNTS:
        values = [row[key] for row in rows]
        total[key] = None if any(v is None for v in values) else sum(values)
    total["done"] = done_share(total)
    return Street(name, sorted(rows, key=lambda r: (-(r["pending"] or 0), r["community_code"])), total)


def _streets(
    codes: dict[str, dict[str, Any]],
    found: dict[str, dict[str, Any]] | None,
    sheets: dict[str, dict[str, int]],
    decided: dict[str, int],
    *,
    compared: bool,
) -> list[Street]:
    """The progress rows of the user's communities, by street.

    A community the queue had nothing for, tonight or last night, has zeros (new and resolved
    stay unknown unless the run was `compared` with a previous one); without progress data
    (`found` None) every figure of the run is unknown and only the live ones (`decided` since
    the run, worksheets out and back) are counted.
    """
    nothing = dict.fromkeys(("items", "pending", "settled", "changed"), 0 if found is not None else None)
    nothing |= dict.fromkeys(("new", "resolved"), 0 if compared else None)
    by_street: dict[str, list[dict[str, Any]]] = {}
    for code, community in codes.items():
        row = (found or {}).get(code) or nothing
        counts = sheets.get(code, {})
        figures = {k: row[k] for k in RUN_COUNTS}
        by_street.setdefault(community.get("street") or "", []).append(
            {
                **figures,
                "done": done_share(figures),
                "community_code": code,
                "community_name": community.get("community_name") or "",
                "decided_since": decided.get(code, 0),
                "sheets_out": int(counts.get("out", 0)),
                "sheets_back": int(counts.get("back", 0)),
            }
        )
    return [_street_total(name, rows) for name, rows in sorted(by_street.items())]


def _load(ctx: AppContext, sess: Session) -> Progress | None:
    """The user's progress figures and flows, or None when nothing of theirs is published."""
    if not ctx.paths.published.exists():
        return None
    with data.database(ctx.data_dir) as con:
        codes = visible_codes(con, sess)
        if not codes:
            return None
        has_progress = has_view(con, View.PROGRESS)
        every = dict_rows(con, f"SELECT * FROM {View.PROGRESS}") if has_progress else []  # noqa: S608  the View enum
        found = {r["community_code"]: r for r in every if r["community_code"] in codes} if has_progress else None
        flows = _flows(con, sorted(codes))
        names = dict(
            con.execute(
                f"SELECT community_code, community_name FROM {View.COMMUNITY_SUMMARY} ORDER BY community_code"  # noqa: S608  the view's name from the View enum
            ).fetchall()
        )
        run_id, published = data.run_id(con), published_at(con)
    previous = next((r["previous_run_id"] for r in every if r["previous_run_id"]), None)
    sheets, decided = fieldwork.sheet_counts(ctx.paths.state), _decided_since(ctx, published)
    return Progress(
        run_id=run_id,
        published_at=published,
        previous_run_id=previous,
        has_progress=has_progress,
        streets=_streets(codes, found, sheets, decided, compared=previous is not None),
        flows=flows,
        names=names,
        codes=frozenset(codes),
    )


@router.get("/progress", response_class=HTMLResponse)
def progress_page(request: Request, ctx: Context, sess: AnyUser) -> Response:
    """Progress per community and street since last night, the progress chart and the heatmap of flows."""
    found = _load(ctx, sess)
    if found is None:
        return render(request, ctx, "empty.html", sess)
    return render(
        request,
        ctx,
        "progress.html",
        sess,
        progress=found,
        chart=Markup(found.chart()) if found.has_progress else None,  # noqa: S704  built with every text escaped
        heatmap=Markup(found.heatmap()),  # noqa: S704  built with every text escaped
        top_flows=found.flows[:TOP_FLOWS],
        more_flows=found.flows[TOP_FLOWS:],
        flow_persons=sum(f["persons"] for f in found.flows),
        total_label=TOTAL,
    )


@router.get("/progress/chart.svg")
def progress_chart(ctx: Context, sess: AnyUser) -> Response:
    """The progress of the user's communities as a bar chart (404 when nothing of theirs is published)."""
    found = _load(ctx, sess)
    if found is None:
        return Response(status_code=404)
    return Response(found.chart(), media_type="image/svg+xml")


@router.get("/progress/heatmap.svg")
def progress_heatmap(ctx: Context, sess: AnyUser) -> Response:
    """The heatmap of people registered in one community and living in another, touching the user's communities."""
    found = _load(ctx, sess)
    if found is None:
        return Response(status_code=404)
    return Response(found.heatmap(), media_type="image/svg+xml")
