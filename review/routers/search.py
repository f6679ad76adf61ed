"""Finding a lone item's person on the other side of the city, linking by hand, and claims.

A search needs a full name or an ID number (no wildcards, no prefixes), shows at
most `data.SEARCH_LIMIT` records, masks those outside the user's communities
and is audited (its kind and length, never its text). A hand link names the
found record by its record key and fingerprint. A record another community holds
(linked, or decided, there) is not taken: a claim is filed for that community,
whose queue page shows it (the `/claims` fragment).

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from review import data
from review.deps import AnyUser, Checked, Context, Decider, Session, go, render
from review.items import load_item, other_side, visible_codes
from review.present import lineage, shown
from schemas.codes import DecisionKind, Side
from services import claims
from services.access import DECIDING_ROLES, FULL_VIEW_ROLES
from services.audit import log_event
from services.decisions import ItemKeys, decide, item_label

router = APIRouter(tags=["search"])


REFUSED = "请输入完整姓名，或至少15位身份证号 (a full name, or an ID number of at least 15 characters)"
CLAIMED = (
    "此人已由其他社区关联，未改动；已向该社区提出认领 "
    "(this person is linked in another community: nothing changed, a claim was sent to that community)"
)


def _row(record: dict[str, Any], *, full: bool) -> dict[str, Any]:
    """What a search result shows: only display values (masked unless `full`), and the record's key to link it."""
    return {
        "name": shown(record["name"], "name", full=full),
        "id": shown(record["id_clean"], "id", full=full),
        "birth": shown(record["birth"], "birth", full=full),
        "sex": shown(record["sex"], "sex", full=full),
        "community_code": record["community_code"],
        "status": record["status"],
        "lineage": lineage(record),
        "record_key": record["record_key"],
        "fingerprint": record["fingerprint"],
        "masked": not full,
    }


def _render(
    request: Request, ctx: Context, sess: Session, it: dict[str, Any], found: list[dict[str, Any]], message: str = ""
) -> Response:
    return render(
        request,
        ctx,
        "_search.html",
        sess,
        item=it,
        found=found,
        message=message,
        can_link=sess.user.role in DECIDING_ROLES,
    )


@router.get("/items/{item_id}/search", response_class=HTMLResponse)
def search(request: Request, item_id: int, ctx: Context, sess: AnyUser, q: str = "") -> Response:
    """Records on the other side of a lone item with a full name or ID number (city-wide), as an HTMX fragment."""
    query = data.search_query(q)
    with data.database(ctx.data_dir) as con:
        it = load_item(con, sess, item_id)
        side = other_side(it)
        codes = visible_codes(con, sess)
        found = data.search(con, side, query)
    if not q.strip():
        return _render(request, ctx, sess, it, [])
    log_event(
        ctx.paths.state,
        username=sess.user.username,
        action="search",
        item=item_label(it["register_key"], it["roll_key"]),
        after={"kind": query.kind, "length": len(query.text or q.strip()), "found": len(found)},
    )
    full = sess.user.role in FULL_VIEW_ROLES
    rows = [_row(r, full=full and r["community_code"] in codes) for r in found]
    return _render(request, ctx, sess, it, rows, REFUSED if query.kind == "refused" else "")


def _holders(
    con: duckdb.DuckDBPyConnection, ctx: Context, it: dict[str, Any], side: Side, other: dict[str, Any]
) -> set[str]:
    """The communities holding a found record: by its published link, or by an active decision."""
    own_side = side.other
    own = data.record(con, own_side, it[f"{own_side}_idx"])
    held = claims.decision_holders(ctx.paths.state, side, other["record_key"], besides=it[f"{own_side}_key"])
    published = data.linked_community(other, own)
    return held | ({published} if published else set())


@router.post("/items/{item_id}/link")
def link_by_hand(
    request: Request,
    item_id: int,
    ctx: Context,
    sess: Decider,
    _csrf: Checked,
    record_key: Annotated[str, Form()],
    fingerprint: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    """Link a lone item's record to a record found on the other side (a same-person decision), or claim it.

    The form names the found record by its record key and fingerprint: 409 when the published
    record no longer has them. A record held by a community the user cannot see files a claim.
    """
    with data.database(ctx.data_dir) as con:
        it = load_item(con, sess, item_id)
        their_side = other_side(it)
        other = data.record_by_key(con, their_side, record_key)
        if other is None or other["fingerprint"] != fingerprint:
            raise HTTPException(status_code=409, detail="the record changed since it was found: search again")
        holders = _holders(con, ctx, it, their_side, other) - set(visible_codes(con, sess))
    found = (other["record_key"], other["fingerprint"])
    reg_key, reg_fp = found if their_side is Side.REGISTER else (it["register_key"], it["register_fingerprint"])
    roll_key, roll_fp = found if their_side is Side.ROLL else (it["roll_key"], it["roll_fingerprint"])
    text = note.strip() or None
    if holders:
        for held_by in sorted(holders):
            claim = claims.Claim(it["community_code"], held_by, their_side, reg_key, roll_key, reg_fp, roll_fp)
            claims.file_claim(ctx.paths.state, username=sess.user.username, claim=claim, note=text)
        if request.headers.get("HX-Request"):
            return _render(request, ctx, sess, it, [], CLAIMED)
        return go(request, f"/queue?community={it['community_code']}")
    decide(
        ctx.paths.state,
        username=sess.user.username,
        kind=DecisionKind.SAME_PERSON,
        keys=ItemKeys(it["community_code"], reg_key, roll_key, reg_fp, roll_fp),
        note=text or "linked by hand",
    )
    return go(request, f"/queue?community={it['community_code']}")


@router.get("/claims", response_class=HTMLResponse)
def open_claims(request: Request, ctx: Context, sess: AnyUser, community: str) -> Response:
    """The open claims on a community's records (an HTMX fragment its queue page loads); 404 outside the user's."""
    with data.database(ctx.data_dir) as con:
        codes = visible_codes(con, sess)
        if community not in codes:
            raise HTTPException(status_code=404, detail="no such community")
        full = sess.user.role in FULL_VIEW_ROLES
        rows = []
        for claim in claims.open_claims(ctx.paths.state, community):
            side = Side(claim["side"])
            record = data.record_by_key(con, side, claim[f"{side}_key"])
            shown_record = _row(record, full=full and record["community_code"] in codes) if record else None
            rows.append({**claim, "record": shown_record})
    return render(request, ctx, "_claims.html", sess, claims=rows, community=community)
