"""Input columns (contract §1): canonical names, aliases, internal names and which are required."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Column:
    """One input column: its canonical header, its internal name and the other headers it goes by."""

    canonical: str
    internal: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InputContract:
    """The columns of one kind of input file."""

    kind: str
    columns: tuple[Column, ...]
    required: tuple[str, ...]
    """Internal names that must be present."""
    required_any: tuple[tuple[str, ...], ...] = ()
    """Groups of internal names of which at least one must be present."""

    def header_map(self, header: list[str]) -> dict[str, str]:
        """Map file headers to internal names; unknown headers map to themselves."""
        lookup = {}
        for col in self.columns:
            for name in (col.canonical, *col.aliases):
                lookup[_fold_header(name)] = col.internal
        out: dict[str, str] = {}
        taken: set[str] = set()
        for head in header:
            internal = lookup.get(_fold_header(head))
            if internal and internal not in taken:
                out[head] = internal
                taken.add(internal)
            else:
                out[head] = f"extra:{head}"
        return out

    def missing(self, internal_names: set[str]) -> list[str]:
        """Canonical names of required columns that are absent."""
        by_internal = {c.internal: c.canonical for c in self.columns}
        out = [by_internal[n] for n in self.required if n not in internal_names]
        for group in self.required_any:
            if not internal_names.intersection(group):
                out.append(" 或 ".join(by_internal[n] for n in group))
        return out

    @property
    def internal_names(self) -> list[str]:
        """The internal names of all the contract's columns, in order."""
        return [c.internal for c in self.columns]


def _fold_header(text: str) -> str:
    return "".join(str(text).split()).replace("（", "(").replace("）", ")").lstrip("\ufeff")


REGISTER = InputContract(
    kind="register",
    columns=(
        Column("公民身份号码", "id_raw", ("身份证号码", "身份证号", "证件号码")),
        Column("姓名", "name_raw"),
        Column("曾用名", "former_name_raw"),
        Column("性别", "sex_raw"),
        Column("民族", "ethnicity_raw"),
        Column("出生日期", "birth_raw"),
        Column("户号", "household_no"),
        Column("与户主关系", "relation_raw", ("与户主关系代码",)),
        Column("户籍地址", "address_raw", ("住址", "户籍住址")),
        Column("所属派出所", "station", ("派出所",)),
        Column("街道", "street", ("乡镇街道",)),
        Column("社区", "community_name", ("居委会", "村居委会")),
        Column("社区代码", "community_code_raw", ("居委会代码",)),
        Column("人员状态", "person_state"),
        Column("迁入日期", "moved_in_raw"),
    ),
    required=("id_raw", "name_raw", "household_no", "address_raw"),
    required_any=(("community_code_raw", "community_name"),),
)

ROLL = InputContract(
    kind="roll",
    columns=(
        Column("序号", "seq"),
        Column("网格", "grid"),
        Column("姓名", "name_raw"),
        Column("性别", "sex_raw"),
        Column("身份证号", "id_raw", ("公民身份号码", "证件号码", "身份证号码")),
        Column("出生日期", "birth_raw"),
        Column("联系电话", "phone", ("手机号码",)),
        Column("现住地址", "address_raw", ("居住地址", "实际居住地址")),
        Column("房屋性质", "house_kind"),
        Column("登记日期", "recorded_raw"),
        Column("备注", "note"),
        Column("社区", "community_name", ("居委会", "村居委会")),
        Column("社区代码", "community_code_raw", ("居委会代码",)),
    ),
    required=("name_raw", "address_raw"),
)

LINEAGE = ("source_file", "source_sheet", "source_row")
"""What names an input record (contract §1.3): file, workbook sheet (null for CSV), spreadsheet row."""

COMMUNITY_CODE = r"^\d{12}$"
"""A community's code (contract §2): twelve digits, the statistical division code of 居委会 / 村委会."""
FILE_COMMUNITY = r"^(\d{12})(?:[_\-\s](.+))?$"
"""A roll file named after its community: code, then optionally a separator and the community's name."""
