"""Household and flat actions: settle every open member of a lone item's household or flat in one batch.

An absent record's page offers to settle its whole registered household (整户处理), an unregistered record's page
all open occupants of its flat (同屋处理): one action, recorded and audited per person, undone as a unit. A form
posted from a page that no longer shows the same item, household or flat stores nothing: the item page as it is
now comes back with 409; a form that cannot be carried out as posted (部分在住 with nobody ticked) brings the
page back with 422, saying why beside the panel.

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from review import data
from review.deps import Checked, Context, Decider, Session, go
from review.items import (
    FLAT_ACTIONS,
    HOUSEHOLD_ACTIONS,
    PARTIAL,
    batch_fields,
    batch_keys,
    flashed,
    group_with_states,
    load_item,
    next_pending,
    visible_codes,
)
from review.routers.queue import SHOWN, STALE_GROUP, STALE_ITEM, GroupForm, item_response
from schemas.codes import DecisionKind, Side
from services.decisions import SOURCE_FLAT, SOURCE_HOUSEHOLD, ItemKeys, decide_batch

router = APIRouter(tags=["household"])

"""`decisions.source` of a household and of a flat action."""


class Unfit(ValueError):
    """A household or flat form that cannot be carried out as posted; its message says why, for the page."""


NOBODY_TICKED = "部分在住：请勾选核实在住的成员。一个都没勾选，未保存任何决定；全户都不在请用“全户不在”"
NOT_OPEN_TICKED = "勾选的成员不在本户待处理名单中，未保存任何决定：请按下方名单重新勾选"
ACTION_UNFIT = "此操作不适用于本页的事项，未保存任何决定"
MEMBERS_UNFIT = "表单不完整（成员名单与核对信息对不上），未保存任何决定：请按下方名单重新处理"
"""Why a household or flat form was refused (422), as the page says it beside the panel."""


def _plan(
    side: Side, action: str, members: list[dict[str, Any]], present: Collection[str]
) -> list[tuple[DecisionKind, ItemKeys]]:
    """The decisions one household or flat action makes on its open members.

    部分在住 (`PARTIAL`) finds the ticked members present and the other open ones absent; with every open member
    ticked that is 全户在住 (found_present for all), and it is recorded as such.

    Raises:
        Unfit: an action that does not fit, or a 部分在住 naming nobody (or somebody not open).
    """
    open_members = [m for m in members if m["open"]]
    if side is Side.REGISTER and action == PARTIAL:
        keys = {m["register_key"] for m in open_members}
        if not present:
            raise Unfit(NOBODY_TICKED)
        if not set(present) <= keys:
            raise Unfit(NOT_OPEN_TICKED)
        return [
            (DecisionKind.FOUND_PRESENT if m["register_key"] in present else DecisionKind.CONFIRM_ABSENT, batch_keys(m))
            for m in open_members
        ]
    offered = HOUSEHOLD_ACTIONS if side is Side.REGISTER else FLAT_ACTIONS
    kind = next((k for k in offered if k.value == action), None)
    if kind is None:
        raise Unfit(ACTION_UNFIT)
    return [(kind, batch_keys(m)) for m in open_members]


def _members(keys: list[str] | None, fingerprints: list[str] | None) -> list[tuple[str, str]]:
    """The (record key, fingerprint) pairs a household or flat form posted.

    Raises:
        Unfit: the two lists differ in length.
    """
    keys, fingerprints = keys or [], fingerprints or []
    if len(keys) != len(fingerprints):
        raise Unfit(MEMBERS_UNFIT)
    return list(zip(keys, fingerprints, strict=True))


def _decide_group(
    request: Request,
    ctx: Context,
    sess: Session,
    item_id: int,
    *,
    side: Side,
    shown_item: tuple[str, ...],
    shown_members: tuple[list[str] | None, list[str] | None],
    action: str,
    present: Collection[str] = (),
    note: str = "",
) -> Response:
    """Settle every open member of an item's household (`side` register) or flat (roll) in one batch.

    The form carries the item's records and each open member's record key and fingerprint as its page
    showed them (`shown_members`: the keys and the fingerprints): when the item, or any member (its
    fingerprint, or whether it is still open), differs now, nothing is stored and the page as it is now
    comes back with 409. A form that cannot be carried out (部分在住 with nobody ticked, an action that does
    not fit) stores nothing either: the page comes back with 422, saying why beside the panel, the ticks
    and the note as they were.
    """
    with data.database(ctx.data_dir) as con:
        it = load_item(con, sess, item_id)
        if it["kind"].side is not side:
            raise HTTPException(status_code=404, detail="no such household or flat action for this item")
        members, _ = group_with_states(ctx, con, it, visible_codes(con, sess))
        decided = {int(m["item_id"]) for m in members if m["open"]}
        next_id = next_pending(ctx, con, it, skip=decided)
    if shown_item != tuple(it[name] or "" for name in SHOWN):
        return item_response(request, ctx, sess, item_id, status_code=409, stale=STALE_ITEM)
    try:
        posted = _members(*shown_members)
        if not decided or sorted(posted) != sorted(batch_fields(members, side)):
            return item_response(request, ctx, sess, item_id, status_code=409, stale=STALE_GROUP)
        plan = _plan(side, action, members, present)
    except Unfit as refused:
        kept = GroupForm(error=str(refused), ticked=frozenset(present), note=note)
        return item_response(request, ctx, sess, item_id, status_code=422, group_form=kept)
    result = decide_batch(
        ctx.paths.state,
        username=sess.user.username,
        decisions=plan,
        source=SOURCE_HOUSEHOLD if side is Side.REGISTER else SOURCE_FLAT,
        note=note.strip() or None,
    )
    target = f"/items/{next_id}" if next_id else f"/queue?community={it['community_code']}"
    return go(request, flashed(target, batch=result.made))


@router.post("/items/{item_id}/household")
def decide_household(
    request: Request,
    item_id: int,
    ctx: Context,
    sess: Decider,
    _csrf: Checked,
    action: Annotated[str, Form()] = "",
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

    `action` is 全户在住 (found_present), 全户不在 (confirm_absent), 已迁出 (moved_out), 已死亡 (deceased) for
    every open member, or 部分在住 (`PARTIAL`): the members ticked in `present` found living there, the other
    open ones absent (every open member ticked: 全户在住; nobody ticked: the page again, 422, saying so).
    Then on to the next open item.
    """
    return _decide_group(
        request,
        ctx,
        sess,
        item_id,
        side=Side.REGISTER,
        shown_item=(register_key, roll_key, register_fingerprint, roll_fingerprint),
        shown_members=(member_key, member_fingerprint),
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
    action: Annotated[str, Form()] = "",
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
        shown_members=(member_key, member_fingerprint),
        action=action,
        note=note,
    )
