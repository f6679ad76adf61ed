"""The work queue: the queue page, an item's page, deciding (one item, a household or a flat) and undoing.

Every item id is checked against the user's communities on the server: an
item outside them is a 404. Published results are read READ_ONLY per request;
decisions go to the SQLite state. A lone record's page shows its evidence; an
absent record's page offers to settle its whole registered household (整户处理),
an unregistered record's page all open occupants of its flat (同屋处理): one
action, recorded and audited per person, undone as a unit.

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

from collections.abc import Collection
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import duckdb
from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reconcile.compare import COMPARISONS
from review import data
from review.deps import AnyUser, Checked, Context, Decider, Session, go, render
from review.items import (
    DecisionIndex,
    batch_fields,
    batch_keys,
    decision_index,
    load_item,
    state_of,
    visible_codes,
    with_states,
)
from review.present import EvidenceView, diff_pair, evidence_view, lineage, shown, waterfall_svg
from schemas.codes import DecisionKind, Evidence, ItemState, QueueKind, Side
from services.access import DECIDING_ROLES, FULL_VIEW_ROLES
from services.audit import log_event
from services.charts import summary_svg
from services.decisions import ItemKeys, decide, decide_batch, item_label, undo_last

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
PARTIAL = "partial"
"""The household action 部分在住: the checked members found present, the other open members confirmed absent."""
HOUSEHOLD_ACTIONS = {
    DecisionKind.CONFIRM_ABSENT: "全户不在",
    DecisionKind.MOVED_OUT: "全户已迁出",
    DecisionKind.DECEASED: "全户已死亡",
}
"""The decisions one household action makes on every open member (besides `PARTIAL`), with their buttons."""
FLAT_ACTIONS = {
    DecisionKind.CONFIRM_UNREGISTERED: "全部确认人在户不在",
    DecisionKind.NOT_LIVING_HERE: "全部核实不在此居住",
}
"""The decisions one flat action makes on every open occupant, with their buttons."""
SOURCE_HOUSEHOLD = "household"
SOURCE_FLAT = "flat"
"""`decisions.source` of a household and of a flat action."""
FLASHES = ("batch", "undone")
"""Query parameters a page reads to say what the last action did (counts only)."""
COMPARED_ROWS = (
    (COMPARISONS["name"], "name", "name"),
    (COMPARISONS["id"], "id_clean", "id"),
    (COMPARISONS["birth"], "birth", "birth"),
    (COMPARISONS["sex"], "sex", "sex"),
    (COMPARISONS["address"], "address_raw", ""),
)
"""An item page's side-by-side rows: (the comparison, labelling the row; record column; masking kind)."""


def _next_pending(
    con: duckdb.DuckDBPyConnection, item: dict[str, Any], index: DecisionIndex, skip: Collection[int] = ()
) -> int | None:
    """The next open item of the same community after this one (not one of `skip`, just decided)."""
    for other in data.queue_items(con, item["community_code"]):
        if (
            other["community_code"] != item["community_code"]
            or other["item_id"] == item["item_id"]
            or other["item_id"] in skip
        ):
            continue
        if other["item_id"] > item["item_id"] and state_of(other, index)[0].open:
            return int(other["item_id"])
    return None


def _wanted(it: dict[str, Any], kind: str | None, grid: str | None, state: str, evidence: str | None = None) -> bool:
    """Whether a queue item passes the filters (`pending` also shows changed items; `all` shows all)."""
    return (
        (not kind or it["kind"] == kind)
        and (not grid or it["grid"] == grid)
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
        it["evidence"] = Evidence(it["evidence"]) if it.get("evidence") else None
        counts[it["kind"]][EVERY_STATE] += 1
        counts[it["kind"]][ItemState.PENDING] += it["state"].open
    wanted = [it for it in items if _wanted(it, kind, grid, state, evidence)]
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
"""What an item page's decide forms carry back: the records it showed (an absent side as '')."""
STALE_ITEM = "item"
STALE_GROUP = "group"
"""Why a posted form was refused: the item shows other records now, or the household / flat changed."""
AT_FLAT_EVIDENCE = (Evidence.OTHERS_AT_FLAT, Evidence.FAMILY_AT_FLAT)
"""Evidence whose page lists the people the roll records at the registered flat."""


def _evidence(
    con: duckdb.DuckDBPyConnection, it: dict[str, Any], *, full: bool
) -> tuple[EvidenceView | None, dict[str, Any] | None]:
    """A lone item's evidence as its page shows it, and its record's published status row."""
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
                "lineage": lineage(p),
            }
            for p in data.residents(con, status.get("flat"), None)
        ]
    building = status.get("building") if side is Side.REGISTER else None
    coverage = data.building_coverage(con, status["community_code"], building)
    return evidence_view(status, names=data.community_names(con), coverage=coverage, who=who), status


def _group(
    con: duckdb.DuckDBPyConnection, it: dict[str, Any], index: DecisionIndex, codes: Collection[str]
) -> list[dict[str, Any]]:
    """The people one action settles with this item, each with its item's state and whether it is open.

    Its registered household (户在人不在), or the unregistered occupants of its flat (人在户不在); none for a pair.
    """
    if it["kind"] is QueueKind.ABSENT:
        reg = data.record(con, Side.REGISTER, it["register_idx"])
        found = data.household_members(con, reg["community_code"], reg["household_key"]) if reg else []
    elif it["kind"] is QueueKind.UNREGISTERED:
        rol = data.record(con, Side.ROLL, it["roll_idx"])
        flat = rol and rol["flat"]
        found = data.flat_occupants(con, rol["community_code"], flat) if rol and flat else []
        found = [o for o in found if o["item_id"] is not None]
    else:
        found = []
    return with_states(found, index, codes)


def _item_response(
    request: Request,
    ctx: Context,
    sess: Session,
    item_id: int,
    *,
    status_code: int = 200,
    stale: str = "",
    find: bool = False,
) -> Response:
    """An item's page.

    `stale` says why a form posted from an older page was refused (`STALE_ITEM`, `STALE_GROUP`); `find`
    prefills the search with the record's own name (a namesake hint), for roles that see names in full.
    """
    index = decision_index(ctx)
    full = sess.user.role in FULL_VIEW_ROLES
    with data.database(ctx.data_dir) as con:
        it = load_item(con, sess, item_id)
        reg = data.record(con, Side.REGISTER, it["register_idx"])
        rol = data.record(con, Side.ROLL, it["roll_idx"])
        expl = data.explanation(con, it["register_idx"], it["roll_idx"]) if reg and rol else None
        family = data.household(con, reg["household_key"], reg["idx"]) if reg else []
        at_dwelling = data.residents(con, rol["flat"], rol["idx"]) if rol else []
        evidence, status = _evidence(con, it, full=full)
        group = _group(con, it, index, visible_codes(con, sess))
        next_id = _next_pending(con, it, index)
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
        search_text=str(lone["name"] or "") if find and full and lone else "",
        state=state,
        decision=decision,
        choices=it["kind"].decisions if deciding else (),
        shortcuts=SHORTCUTS,
        next_id=next_id,
        full=full,
        Evidence=Evidence,
        shown=lambda v, k: shown(v, k, full=full),
    )


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: int, ctx: Context, sess: AnyUser, find: bool = False) -> Response:
    """One item: both records side by side, the engine's reasons or the record's evidence, household and flat.

    `find` opens the search prefilled with the record's name (for a namesake registered elsewhere).
    """
    return _item_response(request, ctx, sess, item_id, find=find)


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
        next_id = _next_pending(con, it, decision_index(ctx), skip={item_id})
    posted = (register_key, roll_key, register_fingerprint, roll_fingerprint)
    if posted != tuple(it[name] or "" for name in SHOWN):
        return _item_response(request, ctx, sess, item_id, status_code=409, stale=STALE_ITEM)
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


def _plan(
    side: Side, action: str, members: list[dict[str, Any]], present: Collection[str]
) -> list[tuple[DecisionKind, ItemKeys]]:
    """The decisions one household or flat action makes on its open members.

    Raises:
        HTTPException: 422 for an action that does not fit, or a 部分在住 naming nobody (or somebody not open).
    """
    open_members = [m for m in members if m["open"]]
    if side is Side.REGISTER and action == PARTIAL:
        keys = {m["register_key"] for m in open_members}
        if not present or not set(present) <= keys:
            raise HTTPException(status_code=422, detail="部分在住: tick the members found living there")
        return [
            (DecisionKind.FOUND_PRESENT if m["register_key"] in present else DecisionKind.CONFIRM_ABSENT, batch_keys(m))
            for m in open_members
        ]
    offered = HOUSEHOLD_ACTIONS if side is Side.REGISTER else FLAT_ACTIONS
    kind = next((k for k in offered if k.value == action), None)
    if kind is None:
        raise HTTPException(status_code=422, detail="action does not fit this item")
    return [(kind, batch_keys(m)) for m in open_members]


def _decide_group(
    request: Request,
    ctx: Context,
    sess: Session,
    item_id: int,
    *,
    side: Side,
    shown_item: tuple[str, ...],
    shown_members: list[tuple[str, str]],
    action: str,
    present: Collection[str] = (),
    note: str = "",
) -> Response:
    """Settle every open member of an item's household (`side` register) or flat (roll) in one batch.

    The form carries the item's records and each open member's record key and fingerprint as its page
    showed them: when the item, or any member (its fingerprint, or whether it is still open), differs
    now, nothing is stored and the page as it is now comes back with 409.
    """
    index = decision_index(ctx)
    with data.database(ctx.data_dir) as con:
        it = load_item(con, sess, item_id)
        if it["kind"].side is not side:
            raise HTTPException(status_code=404, detail="no such household or flat action for this item")
        members = _group(con, it, index, visible_codes(con, sess))
        decided = {int(m["item_id"]) for m in members if m["open"]}
        next_id = _next_pending(con, it, index, skip=decided)
    if shown_item != tuple(it[name] or "" for name in SHOWN):
        return _item_response(request, ctx, sess, item_id, status_code=409, stale=STALE_ITEM)
    if not decided or sorted(shown_members) != sorted(batch_fields(members, side)):
        return _item_response(request, ctx, sess, item_id, status_code=409, stale=STALE_GROUP)
    result = decide_batch(
        ctx.paths.state,
        username=sess.user.username,
        decisions=_plan(side, action, members, present),
        source=SOURCE_HOUSEHOLD if side is Side.REGISTER else SOURCE_FLAT,
        note=note.strip() or None,
    )
    target = f"/items/{next_id}" if next_id else f"/queue?community={it['community_code']}"
    return go(request, _flashed(target, batch=result.made))


def _members(keys: list[str] | None, fingerprints: list[str] | None) -> list[tuple[str, str]]:
    """The (record key, fingerprint) pairs a household or flat form posted; 422 when the lists differ in length."""
    keys, fingerprints = keys or [], fingerprints or []
    if len(keys) != len(fingerprints):
        raise HTTPException(status_code=422, detail="every member needs its key and fingerprint")
    return list(zip(keys, fingerprints, strict=True))


@router.post("/items/{item_id}/household")
def decide_household(
    request: Request,
    item_id: int,
    ctx: Context,
    sess: Decider,
    _csrf: Checked,
    action: Annotated[str, Form()],
    member_key: Annotated[list[str] | None, Form()] = None,
    member_fingerprint: Annotated[list[str] | None, Form()] = None,
    present: Annotated[list[str] | None, Form()] = None,
    note: Annotated[str, Form()] = "",
    register_key: Annotated[str, Form()] = "",
    roll_key: Annotated[str, Form()] = "",
    register_fingerprint: Annotated[str, Form()] = "",
    roll_fingerprint: Annotated[str, Form()] = "",
) -> Response:
    """整户处理: settle every open member of an absent item's registered household at once.

    `action` is 全户不在 (confirm_absent), 已迁出 (moved_out), 已死亡 (deceased) for every open member, or
    部分在住 (`PARTIAL`): the members ticked in `present` found living there, the other open ones absent.
    Then on to the next open item.
    """
    return _decide_group(
        request,
        ctx,
        sess,
        item_id,
        side=Side.REGISTER,
        shown_item=(register_key, roll_key, register_fingerprint, roll_fingerprint),
        shown_members=_members(member_key, member_fingerprint),
        action=action,
        present=frozenset(present or ()),
        note=note,
    )


@router.post("/items/{item_id}/flat")
def decide_flat(
    request: Request,
    item_id: int,
    ctx: Context,
    sess: Decider,
    _csrf: Checked,
    action: Annotated[str, Form()],
    member_key: Annotated[list[str] | None, Form()] = None,
    member_fingerprint: Annotated[list[str] | None, Form()] = None,
    note: Annotated[str, Form()] = "",
    register_key: Annotated[str, Form()] = "",
    roll_key: Annotated[str, Form()] = "",
    register_fingerprint: Annotated[str, Form()] = "",
    roll_fingerprint: Annotated[str, Form()] = "",
) -> Response:
    """同屋处理: settle every open 人在户不在 occupant of an unregistered item's flat at once.

    `action` is confirm_unregistered (all live there, unregistered) or not_living_here (none lives there).
    Then on to the next open item.
    """
    return _decide_group(
        request,
        ctx,
        sess,
        item_id,
        side=Side.ROLL,
        shown_item=(register_key, roll_key, register_fingerprint, roll_fingerprint),
        shown_members=_members(member_key, member_fingerprint),
        action=action,
        note=note,
    )


def _flashed(target: str, **counts: int) -> str:
    r"""A path (and query) of this site with counts to show after an action; anything else becomes the queue.

    Only the path and query of `target` are kept (a referer names this site); a path a browser could read as
    another host (`//host`, `/\host`) becomes the queue.

    >>> _flashed("http://host/items/5?batch=2", undone=3), _flashed("/\\evil.example/x", batch=1)
    ('/items/5?undone=3', '/queue?batch=1')
    """
    url = urlsplit(target)
    path = url.path if url.path.startswith("/") and url.path[1:2] not in ("/", "\\") else "/queue"
    query = [(k, v) for k, v in parse_qsl(url.query if path == url.path else "") if k not in FLASHES]
    query += [(k, str(v)) for k, v in counts.items()]
    return path + "?" + urlencode(query)


@router.post("/undo")
def undo(request: Request, ctx: Context, sess: Checked) -> Response:
    """Withdraw the user's own last decision and go back where they were, saying how many were withdrawn.

    A household, flat or worksheet action is withdrawn as a whole.
    """
    undone = undo_last(ctx.paths.state, username=sess.user.username)
    withdrawn = int(undone["withdrawn"]) if undone else 0
    back = request.headers.get("referer") if undone else None
    return go(request, _flashed(back or "/queue", undone=withdrawn))
