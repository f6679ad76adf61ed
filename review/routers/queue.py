"""The work queue: the queue page, an item's page, deciding one item and undoing.

Every item id is checked against the user's communities on the server: an
item outside them is a 404. Published results are read READ_ONLY per request;
decisions go to the SQLite state. A lone record's page shows its evidence, and
the household or flat actions `review.routers.household` takes (整户处理,
同屋处理).

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reconcile.compare import COMPARISONS
from review import data
from review.deps import AnyUser, Checked, Context, Decider, Session, go, render
from review.items import (
    FLAT_ACTIONS,
    HOUSEHOLD_ACTIONS,
    PARTIAL,
    batch_fields,
    decision_index,
    flashed,
    group_with_states,
    load_item,
    next_pending,
    state_of,
    visible_codes,
)
from review.present import (
    UNRECORDED_NOTE,
    EvidenceView,
    diff_pair,
    elsewhere,
    evidence_view,
    lineage,
    shown,
    waterfall_svg,
)
from schemas.codes import DecisionKind, Evidence, ItemState, QueueKind, Side
from schemas.labels import RECORDED, UNKNOWN_GRID, UNVISITED
from services.access import DECIDING_ROLES, FULL_VIEW_ROLES
from services.audit import log_event
from services.charts import summary_svg, summary_title
from services.decisions import ItemKeys, decide, item_label, undo_last

router = APIRouter(tags=["queue"])


PAGE_SIZE = 50
EVERY_STATE = "all"
"""The state filter that shows items in every state."""
SHORTCUTS = {
    DecisionKind.SAME_PERSON: "s",
    DecisionKind.DIFFERENT_PERSON: "d",
    DecisionKind.CONFIRM_UNREGISTERED: "u",
    DecisionKind.CONFIRM_ABSENT: "a",
    DecisionKind.DOOR_VISIT: "v",
    DecisionKind.MOVED_OUT: "m",
    DecisionKind.FOUND_PRESENT: "p",
    DecisionKind.NOT_LIVING_HERE: "l",
    DecisionKind.REGISTERED_SINCE: "r",
}
"""One key per decision an item page offers; none for 已死亡 (deceased), which no stray key should record."""
COMPARED_ROWS = (
    (COMPARISONS["name"], "name", "name"),
    (COMPARISONS["id"], "id_clean", "id"),
    (COMPARISONS["birth"], "birth", "birth"),
    (COMPARISONS["sex"], "sex", "sex"),
    (COMPARISONS["address"], "address_raw", ""),
)
"""An item page's side-by-side rows: (the comparison, labelling the row; record column; masking kind)."""


def _wanted(it: dict[str, Any], kind: str | None, grid: str | None, state: str, evidence: str | None = None) -> bool:
    """Whether a queue item passes the filters (`pending` also shows changed items; `all` shows all).

    The grid `UNKNOWN_GRID` (网格未定) picks the items without a grid, as a worksheet of that grid does.
    """
    return (
        (not kind or it["kind"] == kind)
        and (not grid or (it["grid"] or UNKNOWN_GRID) == grid)
        and (not evidence or it["evidence"] == evidence)
        and (state == EVERY_STATE or it["state"] == state or (state == ItemState.PENDING and it["state"].open))
    )


@router.get("/")
def home(sess: AnyUser) -> Response:
    """The queue is the home page."""
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    ctx: Context,
    sess: AnyUser,
    community: str | None = None,
    kind: str | None = None,
    state: str = ItemState.PENDING,
    grid: str | None = None,
    evidence: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """One community's queue items, filtered (kind, state, grid, evidence), counted per kind and paged."""
    if not ctx.paths.published.exists():
        return render(request, ctx, "empty.html", sess)
    with data.database(ctx.data_dir) as con:  # one publish's items: item ids are positions in one run
        codes = visible_codes(con, sess)
        if not codes:
            return render(request, ctx, "empty.html", sess)
        community = community if community in codes else next(iter(codes))
        items = data.queue_items(con, community)
        run_id = data.run_id(con)
        index = decision_index(ctx, items)
        counts = {k: {ItemState.PENDING: 0, EVERY_STATE: 0} for k in QueueKind}
        for it in items:
            it["kind"] = QueueKind(it["kind"])
            it["state"], it["decision"] = state_of(it, index)
            it["evidence"] = Evidence(it["evidence"]) if it.get("evidence") else None
            counts[it["kind"]][EVERY_STATE] += 1
            counts[it["kind"]][ItemState.PENDING] += it["state"].open
        wanted = [it for it in items if _wanted(it, kind, grid, state, evidence)]
        pages = max(1, (len(wanted) + PAGE_SIZE - 1) // PAGE_SIZE)
        on_page = wanted[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        shown_of = data.queue_shown(con, community, [it["item_id"] for it in on_page])
    for it in on_page:
        it.update(shown_of.get(it["item_id"], {}))
    return render(
        request,
        ctx,
        "queue.html",
        sess,
        communities=list(codes.values()),
        community=codes[community],
        items=on_page,
        counts=counts,
        kind=kind,
        state=state,
        grid=grid,
        grids=sorted({it["grid"] for it in items if it["grid"]})
        + ([UNKNOWN_GRID] if any(not it["grid"] for it in items) else []),
        unknown_grid=UNKNOWN_GRID,
        evidence=evidence,
        evidences=[e for e in Evidence if any(it["evidence"] is e for it in items)],
        page=page,
        pages=pages,
        total=len(wanted),
        run_id=run_id,
        shown=lambda v, k: shown(v, k, full=False),
    )


@router.get("/chart.svg")
def chart(ctx: Context, sess: AnyUser) -> Response:
    """The summary of the user's communities as a stacked bar chart."""
    with data.database(ctx.data_dir) as con:
        rows = data.communities(con, sess.user)
        title = summary_title(data.run_id(con))
    return Response(summary_svg(rows, title=title), media_type="image/svg+xml")


def _compared_rows(reg: dict[str, Any] | None, rol: dict[str, Any] | None, *, full: bool) -> list[dict[str, Any]]:
    """The side-by-side rows of an item page, differing characters marked when both sides exist."""
    rows = []
    if reg or rol:
        for comparison, key, kind in COMPARED_ROWS:
            a = shown(reg.get(key) if reg else None, kind, full=full)
            b = shown(rol.get(key) if rol else None, kind, full=full)
            left, right = diff_pair(a, b) if reg and rol else (a, b)
            rows.append({"label": comparison.label_zh, Side.REGISTER: left, Side.ROLL: right})
    return rows


SHOWN = ("register_key", "roll_key", "register_fingerprint", "roll_fingerprint")
"""What an item page's decide forms carry back: the records it showed (an absent side as '')."""
STALE_ITEM = "item"
STALE_GROUP = "group"
"""Why a posted form was refused: the item shows other records now, or the household / flat changed."""
AT_FLAT_EVIDENCE = (Evidence.OTHERS_AT_FLAT, Evidence.FAMILY_AT_FLAT)
"""Evidence whose page lists the people the roll records at the registered flat."""


def _evidence(
    con: duckdb.DuckDBPyConnection, it: dict[str, Any], names: dict[str, str], *, full: bool
) -> tuple[EvidenceView | None, dict[str, Any] | None]:
    """A lone item's evidence as its page shows it, and its record's published status row.

    The people the roll records at the registered flat are listed with where they are registered, when that is
    another community of the city.
    """
    side: Side | None = it["kind"].side
    if side is None:
        return None, None
    status = data.record_status(con, side, it[f"{side}_idx"])
    if not status or not status.get("evidence"):
        return None, status
    who = []
    if side is Side.REGISTER and status["evidence"] in AT_FLAT_EVIDENCE:
        who = [
            {
                "name": shown(p["name"], "name", full=full),
                "status": str(p.get("status") or ""),
                "elsewhere": elsewhere(p, Side.ROLL, names),
                "lineage": lineage(p),
            }
            for p in data.residents(con, status.get("flat"), None)
        ]
    building = status.get("building") if side is Side.REGISTER else None
    coverage = data.building_coverage(con, status["community_code"], building)
    return evidence_view(status, names=names, coverage=coverage, who=who), status


@dataclass(frozen=True, slots=True)
class GroupForm:
    """A household or flat form refused as posted: why (said beside the panel), and its ticks and note kept."""

    error: str = ""
    ticked: Collection[str] = ()
    """The record keys ticked 在住."""
    note: str = ""


def _annotate(people: list[dict[str, Any]], side: Side, names: dict[str, str]) -> list[dict[str, Any]]:
    """People of one side, each with `elsewhere`: where a link to another community places them ("" if none)."""
    for person in people:
        person["elsewhere"] = elsewhere(person, side, names)
    return people


def item_response(
    request: Request,
    ctx: Context,
    sess: Session,
    item_id: int,
    *,
    status_code: int = 200,
    stale: str = "",
    find: bool = False,
    group_form: GroupForm | None = None,
) -> Response:
    """An item's page.

    `stale` says why a form posted from an older page was refused (`STALE_ITEM`, `STALE_GROUP`); `find`
    prefills the search with the record's own name (a namesake hint), for roles that see names in full;
    `group_form` is a refused household or flat form, shown again with why.
    """
    full = sess.user.role in FULL_VIEW_ROLES
    with data.database(ctx.data_dir) as con:
        it = load_item(con, sess, item_id)
        group, index = group_with_states(ctx, con, it, visible_codes(con, sess))
        reg = data.record(con, Side.REGISTER, it["register_idx"])
        rol = data.record(con, Side.ROLL, it["roll_idx"])
        expl = data.explanation(con, it["register_idx"], it["roll_idx"]) if reg and rol else None
        names = data.community_names(con)
        family = _annotate(data.household(con, reg["household_key"], reg["idx"]) if reg else [], Side.REGISTER, names)
        at_dwelling = _annotate(data.residents(con, rol["flat"], rol["idx"]) if rol else [], Side.ROLL, names)
        evidence, status = _evidence(con, it, names, full=full)
        if it["kind"].side:
            _annotate(group, it["kind"].side, names)
        next_id = next_pending(ctx, con, it)
    if full:  # who saw whose records in full
        log_event(
            ctx.paths.state,
            username=sess.user.username,
            action="view",
            item=item_label(it["register_key"], it["roll_key"]),
        )
    state, decision = state_of(it, index)
    deciding = sess.user.role in DECIDING_ROLES
    lone = rol if it["kind"] is QueueKind.UNREGISTERED else reg
    return render(
        request,
        ctx,
        "item.html",
        sess,
        status_code=status_code,
        item=it,
        shown_records={name: it[name] or "" for name in SHOWN},
        stale=bool(stale),
        stale_group=stale == STALE_GROUP,
        register=reg,
        roll=rol,
        rows=_compared_rows(reg, rol, full=full),
        explanation=expl,
        waterfall=waterfall_svg(expl) if expl else None,
        family=family,
        at_dwelling=at_dwelling,
        evidence=evidence,
        record_status=status,
        group=group if len(group) > 1 else [],
        group_fields=batch_fields(group, it["kind"].side) if deciding and it["kind"].side else [],
        household_actions=HOUSEHOLD_ACTIONS,
        flat_actions=FLAT_ACTIONS,
        partial=PARTIAL,
        group_form=group_form or GroupForm(),
        search_text=str(lone["name"] or "") if find and full and lone else "",
        state=state,
        decision=decision,
        choices=it["kind"].decisions if deciding else (),
        shortcuts=SHORTCUTS,
        next_id=next_id,
        full=full,
        Evidence=Evidence,
        unvisited_label=UNVISITED,
        recorded_label=RECORDED,
        unknown_grid=UNKNOWN_GRID,
        unrecorded_note=UNRECORDED_NOTE,
        shown=lambda v, k: shown(v, k, full=full),
    )


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: int, ctx: Context, sess: AnyUser, find: bool = False) -> Response:
    """One item: both records side by side, the engine's reasons or the record's evidence, household and flat.

    `find` opens the search prefilled with the record's name (for a namesake registered elsewhere).
    """
    return item_response(request, ctx, sess, item_id, find=find)


@router.post("/items/{item_id}/decide")
def decide_item(
    request: Request,
    item_id: int,
    ctx: Context,
    sess: Decider,
    _csrf: Checked,
    kind: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    register_key: Annotated[str, Form()] = "",
    roll_key: Annotated[str, Form()] = "",
    register_fingerprint: Annotated[str, Form()] = "",
    roll_fingerprint: Annotated[str, Form()] = "",
) -> Response:
    """Record the user's decision on an item, then go to the next open item (or back to the queue).

    The form carries the record keys and fingerprints its page showed. Item ids are positions in
    one run: when the item is no longer about those records (a nightly publish came in between),
    nothing is stored and the item as it is now comes back with 409.
    """
    with data.database(ctx.data_dir) as con:
        it = load_item(con, sess, item_id)
        next_id = next_pending(ctx, con, it, skip={item_id})
    posted = (register_key, roll_key, register_fingerprint, roll_fingerprint)
    if posted != tuple(it[name] or "" for name in SHOWN):
        return item_response(request, ctx, sess, item_id, status_code=409, stale=STALE_ITEM)
    try:
        decision = DecisionKind(kind)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail="unknown decision") from exc
    if decision not in it["kind"].decisions:
        raise HTTPException(status_code=422, detail="decision does not fit this item")
    keys = ItemKeys(
        it["community_code"], it["register_key"], it["roll_key"], it["register_fingerprint"], it["roll_fingerprint"]
    )
    decide(ctx.paths.state, username=sess.user.username, kind=decision, keys=keys, note=note.strip() or None)
    return go(request, f"/items/{next_id}" if next_id else f"/queue?community={it['community_code']}")


@router.post("/undo")
def undo(request: Request, ctx: Context, sess: Checked) -> Response:
    """Withdraw the user's own last decision and go back where they were, saying how many were withdrawn.

    A household, flat or worksheet action is withdrawn as a whole.
    """
    undone = undo_last(ctx.paths.state, username=sess.user.username)
    withdrawn = int(undone["withdrawn"]) if undone else 0
    back = request.headers.get("referer") if undone else None
    return go(request, flashed(back or "/queue", undone=withdrawn))
