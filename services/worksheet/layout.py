"""The shape of a worksheet: its titles, row categories, columns and rows, as written and as read back."""

from __future__ import annotations

from schemas.labels import UNKNOWN_GRID as UNKNOWN_GRID  # its home is the catalogue; worksheets name it here

SHEET_TITLE = "入户核查表"
GUIDE_TITLE = "说明"
HOUSEHOLD = "户籍户"
"""类别 of a registered household with open 户在人不在 members."""
FLAT = "居住房屋"
"""类别 of a flat with open 人在户不在 occupants."""

HEADERS = ("序号", "类别", "地址", "成员", "实有人口采集情况", "线索", "核查结果", "在住成员序号", "备注")
"""Column E says what the roll (实有人口) recorded at the flat: never 登记, which reads as 户籍登记."""
PRINTED = 6
"""Columns A..F are printed by the system: the row MAC covers them."""
RESULT_COL, MEMBERS_COL, NOTE_COL = 6, 7, 8
TOKEN_COL, TOKEN_MAC_COL, ROW_MAC_COL = 9, 10, 11
"""Hidden columns J, K, L: the row's token, its MAC and the MAC over the token and the printed cells."""
HIDDEN_HEADERS = ("凭据", "凭据校验", "行校验")
WIDTHS = (5, 7, 26, 30, 17, 17, 10, 10, 22)
"""Column widths in characters (A4 landscape, fit to one page wide)."""
GUIDE_WIDTH = 112
"""The guide sheet's width in characters (its paragraphs span it)."""
TITLE_ROW, HEADER_ROW, FIRST_ROW = 0, 1, 2
"""Zero-based rows: the title (and the sheet's token), the column headers, the first data row."""
