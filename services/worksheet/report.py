"""What importing a worksheet says, row by row: the outcomes, the reason codes and their Chinese wording."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RowOutcome(StrEnum):
    """What became of one row of an imported worksheet."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    """Its decisions already stood exactly so (a re-import)."""
    REFUSED = "refused"
    SKIPPED = "skipped"
    """No result written."""

    @property
    def label(self) -> str:
        """The Chinese word the report shows."""
        return {"applied": "已导入", "unchanged": "无变化", "refused": "拒绝", "skipped": "未填"}[self.value]


class RowCode(StrEnum):
    """Why a row came out as it did (the machine-readable half of the report)."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    EMPTY = "empty"
    NO_TOKEN = "no_token"  # noqa: S105  a reason code, not a secret
    FORGED = "forged"
    EDITED = "edited"
    OTHER_SHEET = "other_sheet"
    OTHER_COMMUNITY = "other_community"
    DUPLICATE = "duplicate"
    UNKNOWN_RESULT = "unknown_result"
    NOT_APPLICABLE = "not_applicable"
    BAD_MEMBERS = "bad_members"
    MEMBERS_NOT_PRESENT = "members_not_present"
    CHANGED = "changed"
    GONE = "gone"
    CLOSED = "closed"
    CONFLICT = "conflict"
    """A member's record has a different decision made after the sheet was printed (another sheet, a household or
    flat action, an item page): the row would silently overwrite it, so it is refused and the standing one named."""


REASONS: dict[RowCode, str] = {
    RowCode.APPLIED: "已记录为核查决定",
    RowCode.UNCHANGED: "与已记录的决定相同，未作改动",
    RowCode.EMPTY: "未填写核查结果",
    RowCode.NO_TOKEN: "不是本表打印的行（缺少隐藏凭据），新增的行不能导入",
    RowCode.FORGED: "隐藏凭据无效（伪造或从别处粘贴）",
    RowCode.EDITED: "打印内容被改动（只可填写核查结果、在住成员序号、备注）",
    RowCode.OTHER_SHEET: "该行来自另一张核查表",
    RowCode.OTHER_COMMUNITY: "该行属于其他社区",
    RowCode.DUPLICATE: "同一户籍户或房屋在表中出现多次",
    RowCode.UNKNOWN_RESULT: "核查结果不是可选值（在住、不在住、已迁出、已死亡、查无此人、新登记）",
    RowCode.NOT_APPLICABLE: "该核查结果不适用于此类别",
    RowCode.BAD_MEMBERS: "在住成员序号须为本行成员的序号，如 1,3",
    RowCode.MEMBERS_NOT_PRESENT: "只有核查结果为“在住”时才可填写在住成员序号",
    RowCode.CHANGED: "成员的记录自打印后已变更，请重新打印核查表后再核查",
    RowCode.GONE: "成员的记录已不在最新数据中",
    RowCode.CLOSED: "成员已不在待核查之列（已关联或已核实）",
    RowCode.CONFLICT: "与打印本表之后已作出的决定不一致，本行未导入；请与网格员核实后，在记录页面改正",
}
"""The Chinese reason of each code, as the report states it."""


@dataclass(frozen=True, slots=True)
class RowReport:
    """One row of an imported worksheet: where, what became of it and why."""

    tab: str
    row: int
    """The spreadsheet's row number (as Excel shows it)."""
    number: str
    """The row's 序号."""
    outcome: RowOutcome
    code: RowCode
    reason: str
    persons: int = 0


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What importing a worksheet did, row by row."""

    file: str
    sheet_id: str
    community_code: str
    rows: tuple[RowReport, ...]
    made: int
    unchanged: int
    batch_id: str | None

    def count(self, outcome: RowOutcome) -> int:
        """How many rows came out so."""
        return sum(r.outcome is outcome for r in self.rows)

    @property
    def totals(self) -> dict[str, int]:
        """Rows per outcome, and decisions made and left unchanged."""
        out = {o.value: self.count(o) for o in RowOutcome}
        return out | {"decisions_made": self.made, "decisions_unchanged": self.unchanged}

    @property
    def ok(self) -> bool:
        """Nothing was refused."""
        return self.count(RowOutcome.REFUSED) == 0
