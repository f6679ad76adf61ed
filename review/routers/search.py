"""Finding a lone item's person on the other side of the city, and linking by hand.

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from review import data
from review.deps import AnyUser, Checked, Context, Session, go, render, require_role
from review.items import load_item, other_side
from review.present import shown
from schemas.codes import DecisionKind, Side
from services.access import DECIDING_ROLES, FULL_VIEW_ROLES
from services.decisions import ItemKeys, decide

router = APIRouter(tags=["search"])

Decider = Annotated[Session, Depends(require_role(*DECIDING_ROLES))]


@router.get("/items/{item_id}/search", response_class=HTMLResponse)
def search(request: Request, item_id: int, ctx: Context, sess: AnyUser, q: str = "") -> Response:
    """Records on the other side of a lone item matching a name or ID number (city-wide), as an HTMX fragment."""
    with data.database(ctx.data_dir) as con:
        it = load_item(con, sess, item_id)
        side = other_side(it)
        found = data.search(con, side, q)
    full = sess.user.role in FULL_VIEW_ROLES
    return render(
        request,
        ctx,
        "_search.html",
        sess,
        item=it,
        found=found,
        side=side,
        can_link=sess.user.role in DECIDING_ROLES,
        shown=lambda v, k: shown(v, k, full=full),
    )


@router.post("/items/{item_id}/link")
def link_by_hand(
    request: Request,
    item_id: int,
    ctx: Context,
    sess: Decider,
    _csrf: Checked,
    other_idx: Annotated[int, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    """Link a lone item's record to a record the user found on the other side (a same-person decision)."""
    with data.database(ctx.data_dir) as con:
        it = load_item(con, sess, item_id)
        their_side = other_side(it)
        other = data.record(con, their_side, other_idx)
    if other is None:
        raise HTTPException(status_code=404, detail="no such record")
    found = (other["record_key"], other["fingerprint"])
    reg_key, reg_fp = found if their_side is Side.REGISTER else (it["register_key"], it["register_fingerprint"])
    roll_key, roll_fp = found if their_side is Side.ROLL else (it["roll_key"], it["roll_fingerprint"])
    decide(
        ctx.paths.state,
        username=sess.user.username,
        kind=DecisionKind.SAME_PERSON,
        keys=ItemKeys(it["community_code"], reg_key, roll_key, reg_fp, roll_fp),
        note=note.strip() or "linked by hand",
    )
    return go(request, f"/queue?community={it['community_code']}")
