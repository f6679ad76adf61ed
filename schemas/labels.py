r"""The one catalogue of Chinese labels: CLI, charts, web pages and exports all read them here.

Keyed by the codes' values (`schemas.codes`), so each enum's `label` reads here and this module imports nothing.

>>> STATUS_LABELS["absent"]
'户在人不在'
>>> SUMMARY_LABELS["absent_elsewhere_persons"]
'户在人不在·住市内'
>>> two_lines("户在人不在·住市内")
'户在人不在\n住市内'
"""

from __future__ import annotations

STATUS_LABELS: dict[str, str] = {
    "consistent": "人户一致",
    "moved_within": "同社区人户分离",
    "absent": "户在人不在",
    "unregistered": "人在户不在",
    "review": "待核实",
    "duplicate": "重复登记",
    "inactive": "非正常户籍",
}

DECISION_LABELS: dict[str, str] = {
    "same_person": "同一人",
    "different_person": "不是同一人",
    "confirm_unregistered": "确认人在户不在",
    "confirm_absent": "确认户在人不在",
    "door_visit": "需上门核实",
}

QUEUE_KIND_LABELS: dict[str, str] = {
    "pair": "待核实配对",
    "unregistered": "人在户不在",
    "absent": "户在人不在",
}

ITEM_STATE_LABELS: dict[str, str] = {
    "pending": "待处理",
    "decided": "已决定",
    "visit": "需上门",
    "changed": "资料已变",
}

ROLE_LABELS: dict[str, str] = {
    "operator": "社区操作员",
    "supervisor": "街道督导",
    "liaison": "派出所联络员",
    "admin": "管理员",
}

SUMMARY_LABELS: dict[str, str] = {
    "community_code": "社区代码",
    "community_name": "社区",
    "registered_persons": "户籍人",
    "registered_households": "户籍户",
    "resident_persons": "实有人",
    "consistent_persons": "人户一致",
    "consistent_households": "一致户",
    "moved_within_persons": "同社区人户分离",
    "absent_elsewhere_persons": "户在人不在·住市内",
    "absent_outside_persons": "户在人不在·去向不明",
    "absent_households": "空挂户",
    "unregistered_elsewhere_persons": "人在户不在·市内户籍",
    "unregistered_outside_persons": "人在户不在·外地户籍",
    "review_register_records": "待核实",
    "review_pending": "待核实",
}
"""Community-summary columns, as the terminal table and the chart title them."""


def two_lines(label: str) -> str:
    """A label split at its `·` for a narrow table header."""
    return label.replace("·", "\n")
