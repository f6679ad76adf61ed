r"""The one catalogue of Chinese labels: CLI, charts, web pages and exports all read them here.

Keyed by the codes' values (`schemas.codes`), so each enum's `label` reads here and this module imports nothing.

>>> STATUS_LABELS["absent"]
'户在人不在'
>>> SUMMARY_LABELS["absent_elsewhere_persons"]
'户在人不在·住市内'
>>> two_lines("户在人不在·住市内")
'户在人不在\n住市内'
>>> EXPORT_COLUMNS["id_number"]
'公民身份号码'
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
    "moved_out": "确认已迁出",
    "deceased": "确认已死亡",
    "found_present": "核实在住(人户一致)",
    "not_living_here": "核实不在此居住",
    "registered_since": "已在本址登记户口",
}

EVIDENCE_LABELS: dict[str, str] = {
    "others_at_flat": "户籍房屋有他人居住",
    "family_at_flat": "同户家人已采集、本人无实有人口记录",
    "flat_empty": "实有人口记录该房屋空置",
    "flat_missed": "本楼他户已采集、本户无实有人口记录",
    "building_unvisited": "整幢无实有人口记录(可能未走访)",
    "address_unknown": "户籍地址无法定位",
    "lives_elsewhere": "已查到住市内他社区",
    "registered_elsewhere": "户籍在市内他社区",
    "namesake_elsewhere": "市内他处有同名户籍(仅供查询)",
    "not_in_extract": "本市户籍库查无(多为外地户籍)",
}
"""What the night's data says about a lone record (`schemas.codes.Evidence`)."""

VISIT_RESULT_LABELS: dict[str, str] = {
    "present": "在住",
    "not_present": "不在住",
    "moved_out": "已迁出",
    "deceased": "已死亡",
    "no_such_person": "查无此人",
    "newly_registered": "新登记",
}
"""The worksheet's result words (`schemas.codes.VisitResult`), exactly as the sheet's list offers them."""

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
    "review_roll_records": "待核实",
    "review_pending": "待核实",
}
"""Community-summary columns, as the terminal table and the chart title them."""

TOTAL = "合计"
"""The row that adds up a table's columns."""

UNKNOWN_GRID = "网格未定"
"""The grid of a building the roll never names (worksheets, coverage and the queue all say so)."""

UNVISITED = "整幢无实有人口记录(可能未走访)"
"""A building no roll row names: likely not visited (the coverage page's and the item page's badge)."""

RECORDED = "实有已采集"
"""What the roll (实有人口登记) recorded, as opposed to 户籍登记: never just 已登记, which reads as registered."""


EXPORT_COLUMNS: dict[str, str] = {
    "community_code": "社区代码",
    "community_name": "社区",
    "name": "姓名",
    "id_number": "公民身份号码",
    "id_source": "身份号码来源",
    "id_check": "身份号码校验",
    "sex": "性别",
    "birth": "出生日期",
    "household_no": "户号",
    "household_no_source": "户号来源",
    "address": "地址",
    "other_community_code": "另一方社区代码",
    "other_community_name": "另一方社区",
    "verified_by": "核实方式",
    "decision": "核实结论",
    "evidence": "线索",
    "source_file": "来源文件",
    "source_sheet": "来源工作表",
    "source_row": "来源行",
    "household_address": "户籍地址",
    "members": "户籍人数",
    "absent_members": "户在人不在人数",
    "whole_household_absent": "全户不在",
}
"""Headers of the exported lists, keyed by the export's column names.

The police liaisons' files carry these headers: they change only with the liaisons' agreement, never with the
labels on screen.
"""

EXPORT_LABELS: dict[str, str] = {
    "households": "涉及户",
    "records": "记录",
    "unverified": "(未核实)",
    "yes": "是",
    "no": "否",
}
"""The export's words beside the status labels: its household list, what a pending count counts, yes and no."""


SOURCE_LABELS: dict[str, str] = {"register": "户籍", "roll": "社区名册"}
"""Which side an exported value came from: the record's own, or the register record it is linked to."""

ID_CHECK_LABELS: dict[str, str] = {
    "bad_check": "校验位不符",
    "bad_format": "格式不符",
    "bad_birth_date": "出生日期不符",
    "rounded": "按数字录入，末三位丢失",
    "fifteen": "15位号码",
}
"""What an exported ID number fails (`reconcile.idnumber.parse_column`'s `id_problem`), or that it has 15 digits
(legacy, or cut short: exported as written, never completed); a valid 18-digit one is not marked."""


def two_lines(label: str) -> str:
    """A label split at its `·` for a narrow table header."""
    return label.replace("·", "\n")
