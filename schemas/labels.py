r"""The one catalogue of Chinese labels: CLI, charts, web pages and exports all read them here.

>>> from schemas.codes import Status
>>> STATUS_LABELS[Status.ABSENT]
'户在人不在'
>>> SUMMARY_LABELS["absent_elsewhere_persons"]
'户在人不在·住市内'
>>> two_lines("户在人不在·住市内")
'户在人不在\n住市内'
"""

from __future__ import annotations

from schemas.codes import DecisionKind, ItemState, QueueKind, Role, Status

STATUS_LABELS: dict[Status, str] = {
    Status.CONSISTENT: "人户一致",
    Status.MOVED_WITHIN: "同社区人户分离",
    Status.ABSENT: "户在人不在",
    Status.UNREGISTERED: "人在户不在",
    Status.REVIEW: "待核实",
    Status.DUPLICATE: "重复登记",
    Status.INACTIVE: "非正常户籍",
}

DECISION_LABELS: dict[DecisionKind, str] = {
    DecisionKind.SAME_PERSON: "同一人",
    DecisionKind.DIFFERENT_PERSON: "不是同一人",
    DecisionKind.CONFIRM_UNREGISTERED: "确认人在户不在",
    DecisionKind.CONFIRM_ABSENT: "确认户在人不在",
    DecisionKind.DOOR_VISIT: "需上门核实",
}

QUEUE_KIND_LABELS: dict[QueueKind, str] = {
    QueueKind.PAIR: "待核实配对",
    QueueKind.UNREGISTERED: "人在户不在",
    QueueKind.ABSENT: "户在人不在",
}

ITEM_STATE_LABELS: dict[ItemState, str] = {
    ItemState.PENDING: "待处理",
    ItemState.DECIDED: "已决定",
    ItemState.VISIT: "需上门",
    ItemState.CHANGED: "资料已变",
}

ROLE_LABELS: dict[Role, str] = {
    Role.OPERATOR: "社区操作员",
    Role.SUPERVISOR: "街道督导",
    Role.LIAISON: "派出所联络员",
    Role.ADMIN: "管理员",
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
