"""The hidden tokens and MACs that make a worksheet's rows its own, written and checked here only.

Each row carries, in hidden columns at the right, a token naming the sheet, the community and each member's
record key and fingerprint, and two MACs keyed with the data directory's secret: one over the token (a forged or
pasted token is refused) and one over the token and the printed cells (a row whose printed cells were edited is
refused). Every tab carries the sheet's own token and MAC in its first row: a workbook without one is not ours.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any

from services.digest_key import load_or_create
from services.paths import DataPaths
from services.worksheet.layout import PRINTED, ROW_MAC_COL, TOKEN_COL, TOKEN_MAC_COL
from services.worksheet.report import RowCode

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from services.worksheet.to_visit import Visit

TOKEN_VERSION = 1
_MAC_LABEL = b"hukou-recon worksheet v1"


def sheet_key(data_dir: Path) -> bytes:
    """The worksheets' MAC key: derived from the data directory's digest secret, for this use only."""
    return hmac.new(load_or_create(DataPaths(data_dir).digest_key), _MAC_LABEL, hashlib.sha256).digest()


def _mac(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def _dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":"))


def _json(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def sheet_cells(key: bytes, sheet_id: str, community: str, grid: str) -> tuple[str, str]:
    """What a tab's first row holds in its hidden columns: the sheet's token and its MAC."""
    token = _dumps({"v": TOKEN_VERSION, "sheet": sheet_id, "c": community, "g": grid})
    return token, _mac(key, "sheet", token)


def row_cells(key: bytes, sheet_id: str, community: str, visit: Visit, printed: Sequence[str]) -> tuple[str, str, str]:
    """What a data row holds in its hidden columns: its token, the token's MAC, the MAC over token and `printed`."""
    members = [[m.side.value, m.record_key, m.fingerprint] for m in visit.members]
    token = _dumps({"v": TOKEN_VERSION, "s": sheet_id, "c": community, "m": members})
    return token, _mac(key, "token", token), _mac(key, "row", token, *printed)


def tab_token(first: Sequence[str], key: bytes) -> dict[str, Any] | None:
    """The sheet token of a tab's first row, if it is one of ours (its MAC holds)."""
    if len(first) <= TOKEN_MAC_COL or not first[TOKEN_COL]:
        return None
    if not hmac.compare_digest(first[TOKEN_MAC_COL].encode(), _mac(key, "sheet", first[TOKEN_COL]).encode()):
        return None
    token = _json(first[TOKEN_COL])
    if not token or token.get("v") != TOKEN_VERSION or not token.get("sheet") or not token.get("c"):
        return None
    return token


def row_token(cells: Sequence[str], key: bytes) -> dict[str, Any] | RowCode:
    """A data row's token if it is genuine and the printed cells are as printed; else why not."""
    token_text, token_mac, row_mac = cells[TOKEN_COL], cells[TOKEN_MAC_COL], cells[ROW_MAC_COL]
    if not token_text:
        return RowCode.NO_TOKEN
    if not hmac.compare_digest(token_mac.encode(), _mac(key, "token", token_text).encode()):
        return RowCode.FORGED
    token = _json(token_text)
    members = token.get("m") if token else None
    if not token or token.get("v") != TOKEN_VERSION or not isinstance(members, list) or not members:
        return RowCode.FORGED
    if not hmac.compare_digest(row_mac.encode(), _mac(key, "row", token_text, *cells[:PRINTED]).encode()):
        return RowCode.EDITED
    return token
