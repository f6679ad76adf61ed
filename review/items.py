"""What the item routers (queue, household and flat, search) share.

Loading an item within the user's scope and where it stands, the next open item, the household or flat one action
settles with a lone item (and the actions offered on it), and where to go after an action.

No `from __future__ import annotations` here: FastAPI reads signatures that use these.
"""

import itertools
from collections.abc import Collection, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import duckdb
from fastapi import HTTPException

from reconcile.decisions import item_state
from review import data
from review.deps import AppContext, Session
from schemas.codes import DecisionKind, ItemState, QueueKind, Side, Status
from services.decisions import ItemKeys, active_decisions

DecisionIndex = dict[tuple[str | None, str | None], dict[str, Any]]

PARTIAL = "partial"
"""The household action 部分在住: the checked members found present, the other open members confirmed absent.

Every open member ticked is 全户在住 (the same decisions): it is recorded as that, never refused.
"""
HOUSEHOLD_ACTIONS = {
    DecisionKind.FOUND_PRESENT: "全户在住",
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
FLASHES = ("batch", "undone")
"""Query parameters a page reads to say what the last action did (counts only)."""


def visible_codes(con: duckdb.DuckDBPyConnection, sess: Session) -> dict[str, dict[str, Any]]:
    """The user's communities, by code."""
    return {c["community_code"]: c for c in data.communities(con, sess.user)}


def load_item(con: duckdb.DuckDBPyConnection, sess: Session, item_id: int) -> dict[str, Any]:
    """The item, if it touches one of the user's communities; else 404."""
    found = data.item(con, item_id)
    codes = visible_codes(con, sess)
    if not found or (found["community_code"] not in codes and found["other_community_code"] not in codes):
        raise HTTPException(status_code=404, detail="no such item")
    found["kind"] = QueueKind(found["kind"])
    return found


def other_side(item: dict[str, Any]) -> Side:
    """The side opposite a lone item's record, where its person may be found; 404 for a pair."""
    side: Side | None = item["kind"].side
    if side is None:
        raise HTTPException(status_code=404)
    return side.other


def decision_index(ctx: AppContext, items: Iterable[Mapping[str, Any]]) -> DecisionIndex:
    """The active decisions on these items' records, by the (register_key, roll_key) of their item.

    Found by the records' keys, as the nightly run applies them (a decision's community is where its item was
    when it was made).
    """
    frame = active_decisions(ctx.paths.state, keys=[(it["register_key"], it["roll_key"]) for it in items])
    return {(r["register_key"], r["roll_key"]): r for r in frame.iter_rows(named=True)}


def group_with_states(
    ctx: AppContext, con: duckdb.DuckDBPyConnection, it: dict[str, Any], codes: Collection[str]
) -> tuple[list[dict[str, Any]], DecisionIndex]:
    """`group_members` of an item `with_states` (`codes`: the user's communities), and the decisions on all of them."""
    members = group_members(con, it)
    index = decision_index(ctx, [it, *members])
    return with_states(members, index, codes), index


def state_of(item: dict[str, Any], index: DecisionIndex) -> tuple[ItemState, dict[str, Any] | None]:
    """Where an item stands, and the active decision on its records (if any)."""
    decision = index.get((item["register_key"], item["roll_key"]))
    return item_state(item, decision), decision


_FIRST_LOOK = 32
"""Items after the current one whose decisions `next_pending` reads first; each further look reads twice as many."""


def next_pending(
    ctx: AppContext, con: duckdb.DuckDBPyConnection, item: dict[str, Any], skip: Collection[int] = ()
) -> int | None:
    """The next open item of the same community after this one (not one of `skip`, just decided).

    Operators work in queue order, so the next open item is nearly always among the first few: their decisions are
    read a few items at a time, never the whole community's.
    """
    after = data.items_after(con, item["community_code"], item["item_id"])
    size = _FIRST_LOOK
    while look := list(itertools.islice(after, size)):
        index = decision_index(ctx, look)
        for other in look:
            if other["item_id"] not in skip and state_of(other, index)[0].open:
                return int(other["item_id"])
        size *= 2
    return None


def with_states(members: list[dict[str, Any]], index: DecisionIndex, codes: Collection[str]) -> list[dict[str, Any]]:
    """Household members or flat occupants, each with its item's `state` and whether it is `open`.

    Members come from `data.household_members` or `data.flat_occupants`. A member is open when it has a lone
    item in one of the user's communities still waiting for an operator (pending, or changed since decided).
    """
    for member in members:
        has_item = member["item_id"] is not None and member["item_community"] in codes
        member["state"] = state_of(member, index)[0] if has_item else None
        member["open"] = bool(member["state"] and member["state"].open)
    return members


def batch_fields(members: list[dict[str, Any]], side: Side) -> list[tuple[str, str]]:
    """(record key, fingerprint) of the open members, as a household or flat form carries them back."""
    return [(m[f"{side}_key"], m[f"{side}_fingerprint"] or "") for m in members if m["open"]]


def batch_keys(member: dict[str, Any]) -> ItemKeys:
    """The keys of a member's lone item, for `services.decisions.decide_batch`."""
    return ItemKeys(
        member["item_community"],
        member["register_key"],
        member["roll_key"],
        member["register_fingerprint"],
        member["roll_fingerprint"],
    )


def group_members(con: duckdb.DuckDBPyConnection, it: dict[str, Any]) -> list[dict[str, Any]]:
    """The people one action settles with this item (their states: `with_states`).

    Its registered household (户在人不在), or the unregistered occupants of its flat (人在户不在): those with an item,
    and those linked to a register record of another community (shown, never open); none for a pair.
    """
    if it["kind"] is QueueKind.ABSENT:
        reg = data.record(con, Side.REGISTER, it["register_idx"])
        return data.household_members(con, reg["community_code"], reg["household_key"]) if reg else []
    if it["kind"] is QueueKind.UNREGISTERED:
        rol = data.record(con, Side.ROLL, it["roll_idx"])
        flat = rol and rol["flat"]
        found = data.flat_occupants(con, rol["community_code"], flat) if rol and flat else []
        return [o for o in found if o["item_id"] is not None or o["status"] == Status.UNREGISTERED.value]
    return []


def flashed(target: str, **counts: int) -> str:
    r"""A path (and query) of this site with counts to show after an action; anything else becomes the queue.

    Only the path and query of `target` are kept (a referer names this site); a path a browser could read as
    another host (`//host`, `/\host`) becomes the queue.

    >>> flashed("http://host/items/5?batch=2", undone=3), flashed("/\\evil.example/x", batch=1)
    ('/items/5?undone=3', '/queue?batch=1')
    """
    url = urlsplit(target)
    path = url.path if url.path.startswith("/") and url.path[1:2] not in ("/", "\\") else "/queue"
    query = [(k, v) for k, v in parse_qsl(url.query if path == url.path else "") if k not in FLASHES]
    query += [(k, str(v)) for k, v in counts.items()]
    return path + "?" + urlencode(query)
