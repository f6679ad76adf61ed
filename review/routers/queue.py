"""The work queue: the queue page, an item's page, deciding, undoing, searching and linking by hand.

Every item id is checked against the user's communities on the server: an
item outside them is a 404. Published results are read READ_ONLY per request;
decisions go to the SQLite state.

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reconcile.compare import COMPARISONS
from review import data
from review.deps import AnyUser, Checked, Context, Decider, Session, go, render
from review.items import DecisionIndex, decision_index, load_item, state_of, visible_codes
from review.present import diff_pair, shown, waterfall_svg
from schemas.codes import DecisionKind, ItemState, QueueKind, Side
from services.access import DECIDING_ROLES, FULL_VIEW_ROLES
from services.audit import log_event
from services.charts import summary_svg
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
}
COMPARED_ROWS = (
    (COMPARISONS["name"], "name", "name"),
    (COMPARISONS["id"], "id_clean", "id"),
    (COMPARISONS["birth"], "birth", "birth"),
    (COMPARISONS["sex"], "sex", "sex"),
    (COMPARISONS["address"], "address_raw", ""),
)
"""An item page's side-by-side rows: (the comparison, labelling the row; record column; masking kind)."""


def _next_pending(
    con: duckdb.DuckDBPyConnection, item: dict[str, Any], index: DecisionIndex, skip: int | None = None
) -> int | None:
    """The next open item of the same community after this one."""
    for other in data.queue_items(con, item["community_code"]):
        if other["community_code"] != item["community_code"] or other["item_id"] in (item["item_id"], skip):
            continue
        if other["item_id"] > item["item_id"] and state_of(other, index)[0].open:
            return int(other["item_id"])
    return None


def _wanted(it: dict[str, Any], kind: str | None, grid: str | None, state: str) -> bool:
    """Whether a queue item passes the filters (`pending` also shows changed items; `all` shows all)."""
    return (
        (not kind or it["kind"] == kind)
        and (not grid or it["grid"] == grid)
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
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """One community's queue items, filtered, counted per kind and paged."""
    if not ctx.paths.published.exists():
        return render(request, ctx, "empty.html", sess)
    with data.database(ctx.data_dir) as con:
        codes = visible_codes(con, sess)
        if not codes:
            return render(request, ctx, "empty.html", sess)
        community = community if community in codes else next(iter(codes))
        items = data.queue_items(con, community)
        run_id = data.run_id(con)
    index = decision_index(ctx)
    counts = {k: {ItemState.PENDING: 0, EVERY_STATE: 0} for k in QueueKind}
    for it in items:
        it["kind"] = QueueKind(it["kind"])
        it["state"], it["decision"] = state_of(it, index)
        counts[it["kind"]][EVERY_STATE] += 1
        counts[it["kind"]][ItemState.PENDING] += it["state"].open
    wanted = [it for it in items if _wanted(it, kind, grid, state)]
    pages = max(1, (len(wanted) + PAGE_SIZE - 1) // PAGE_SIZE)
    return render(
        request,
        ctx,
        "queue.html",
        sess,
        communities=list(codes.values()),
        community=codes[community],
        items=wanted[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        counts=counts,
        kind=kind,
        state=state,
        grid=grid,
        grids=sorted({it["grid"] for it in items if it["grid"]}),
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
    return Response(summary_svg(rows), media_type="image/svg+xml")


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
"""What an item page's decide form carries back: the records it showed (an absent side as '')."""


def _item_response(
    request: Request, ctx: Context, sess: Session, item_id: int, *, status_code: int = 200, stale: bool = False
) -> Response:
    """An item's page; `stale` says a form posted from an older page was refused."""
    index = decision_index(ctx)
    with data.database(ctx.data_dir) as con:
        it = load_item(con, sess, item_id)
        reg = data.record(con, Side.REGISTER, it["register_idx"])
        rol = data.record(con, Side.ROLL, it["roll_idx"])
        expl = data.explanation(con, it["register_idx"], it["roll_idx"]) if reg and rol else None
        family = data.household(con, reg["household_key"], reg["idx"]) if reg else []
        at_dwelling = data.residents(con, rol["flat"], rol["idx"]) if rol else []
        next_id = _next_pending(con, it, index)
    full = sess.user.role in FULL_VIEW_ROLES
    if full:  # who saw whose records in full
        log_event(
            ctx.paths.state,
            username=sess.user.username,
            action="view",
            item=item_label(it["register_key"], it["roll_key"]),
        )
    state, decision = state_of(it, index)
    return render(
        request,
        ctx,
        "item.html",
        sess,
        status_code=status_code,
        item=it,
        shown_records={name: it[name] or "" for name in SHOWN},
        stale=stale,
        register=reg,
        roll=rol,
        rows=_compared_rows(reg, rol, full=full),
        explanation=expl,
        waterfall=waterfall_svg(expl) if expl else None,
        family=family,
        at_dwelling=at_dwelling,
        state=state,
        decision=decision,
        choices=it["kind"].decisions if sess.user.role in DECIDING_ROLES else (),
        shortcuts=SHORTCUTS,
        next_id=next_id,
        full=full,
        shown=lambda v, k: shown(v, k, full=full),
    )


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: int, ctx: Context, sess: AnyUser) -> Response:
    """One item: both records side by side, the engine's reasons, the household and the dwelling."""
    return _item_response(request, ctx, sess, item_id)


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
        next_id = _next_pending(con, it, decision_index(ctx), skip=item_id)
    posted = (register_key, roll_key, register_fingerprint, roll_fingerprint)
    if posted != tuple(it[name] or "" for name in SHOWN):
        return _item_response(request, ctx, sess, item_id, status_code=409, stale=True)
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
    """Withdraw the user's own last decision and go back where they were."""
    undone = undo_last(ctx.paths.state, username=sess.user.username)
    return go(request, request.headers.get("referer") or "/queue" if undone else "/queue")
