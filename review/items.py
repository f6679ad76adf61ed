"""What the queue and search routers share: loading an item within the user's scope and where it stands.

No `from __future__ import annotations` here: FastAPI reads signatures that use these.
"""

from collections.abc import Collection
from typing import Any

import duckdb
from fastapi import HTTPException

from reconcile.decisions import item_state
from review import data
from review.deps import AppContext, Session
from schemas.codes import ItemState, QueueKind, Side
from services.decisions import ItemKeys, active_decisions

DecisionIndex = dict[tuple[str | None, str | None], dict[str, Any]]


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


def decision_index(ctx: AppContext) -> DecisionIndex:
    """Every active decision, by the (register_key, roll_key) of its item."""
    frame = active_decisions(ctx.paths.state)
    return {(r["register_key"], r["roll_key"]): r for r in frame.iter_rows(named=True)}


def state_of(item: dict[str, Any], index: DecisionIndex) -> tuple[ItemState, dict[str, Any] | None]:
    """Where an item stands, and the active decision on its records (if any)."""
    decision = index.get((item["register_key"], item["roll_key"]))
    return item_state(item, decision), decision


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
