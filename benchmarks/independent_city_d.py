"""Independent test city D: a coastal county in Ningbo (象山县-like), written from the data contract only.

Usage:
    python independent_city_d.py OUT [--scale S | --persons N] [--seed S]

--scale 1 gives 48 communities and ~205,000 register rows (~35 s, ~0.8 GB peak RSS); --persons N
aims at N register rows, with max(8, round(48 * N / 200,000)) communities.  The same seed writes the
same bytes (string-seeded random streams, fixed xlsx timestamps, no hash-order dependence).  A JSON
of measured shares is printed at the end.

The place
---------
象山县 (330225): a fishing county on the Ningbo coast.  Ten towns (丹东/丹西/爵溪街道, 石浦/西周/鹤浦/
贤庠/定塘/涂茨镇, 黄避岙乡), each with its own 派出所.  Community codes are 330225 + town + 3 digits
(居委会 0xx, 村委会 2xx; invented, not the real statistical codes).  At scale 1:
  * 18 fishing villages (村委会): 行政村 → 3-9 自然村 named …岙/礁/湾/港/屿/嘴, 1-3 村民小组 each
    (groups numbered through the village).  The register writes either 村+自然村+号 or 村+组+号 (per
    village), never both.  Fishing crews from 安徽/贵州/四川 rent whole houses or rooms.
  * 8 old-town 社区 (丹城 and 石浦老街): lanes (县前街12弄5号, or plain 号), street-front 附房, 单位宿舍
    compounds registered under their road number (县前街45号2幢301室), a small old 小区 and 商住楼s.
    Part of the old town is demolished: households are still registered at addresses that no longer
    exist and live in resettlement estates (the 古塘 pattern of the project's seed text).
  * 10 commodity-estate 社区: 1-4 estates (花园/家园/新村/嘉园/名苑/华庭…, a developer, sometimes a
    former name), old 5-7 storey walk-ups with garages/储藏室 and high-rises, plus 商住楼 (flats from
    the 2nd floor, ground-floor shops B101… and road-number 店面).  Many flats are owned by people
    registered elsewhere (the 旦苑 pattern), some are school-district 空挂户 addresses nobody lives at.
  * 8 resettlement 社区: one 安置小区/新苑/家园 with 1-3 期 (some with A/B区 or 1/2区), often a former
    name (…拆迁安置房, 原…村安置区), garages where elderly parents live.
  * 4 industrial 社区 (爵溪/西周): company dormitories (6 beds a room; a few workers are registered in
    the company's 集体户 at the company's road address), a resettlement estate, 商住楼 and old village
    houses of a partly demolished village.
Every community also has a 社区集体户 (registered at the 居委会, living anywhere).

Register extract: register/象山县户籍人口_20240630.csv, GB18030, header row 1, using the contract's
aliases (身份证号码, 住址, 派出所, 乡镇街道, 村居委会, 居委会代码, 与户主关系代码) and code values
(性别 1/2, 民族 GB 3304 "01", relation GB/T 4761 "02"/"10"/"20"/"30"/"41"/"42"/"51"/"52"/"99",
出生日期 YYYYMMDD, 迁入日期 YYYY-MM-DD), plus 曾用名 and two unknown extra columns (户类型, 服务处所).
Rows are sorted by town, community code, 户号; inactive rows (迁出/死亡/注销) stay in their household.
Legacy 15-digit IDs occur for people born before 1950; IDs of people born before 1983 may carry the
(fictional) old county codes 332526/332527 with valid check digits.

Rolls: rolls/<code>_<name>.xlsx or .csv, one per community, written by 网格 workers whose habits differ
by grid (each worker has a dominant way of writing each address part and uses it most of the time).

Row numbering, truth and status codes
-------------------------------------
Rows are numbered as contract §1.3 says: the row number a spreadsheet program shows.  CSV: header on
line 1, first data row 2 (no embedded newlines, so line = row).  XLSX: the Excel row of the record in
its sheet; sheets may have 0-2 title rows above the header, so data may start at row 2, 3 or 4.
Blank rows, note rows (以下为出租户…), 合计/total rows, cover (填表说明) and summary (汇总) sheets get no
truth row: they are not records.  A record whose address cell is covered by a vertical merge (or says
同上) is still a record; its truth address_written is the merged/ditto text.

truth/register_truth.parquet, one row per register data row:
  register_file, register_row, pid, status, other_community_code (where the person lives when that is
  another community of the city, else null), community_code; extras: person_status (人员状态),
  household_kind (family | kongua 空挂户 | demolished | collective 社区集体户 | company 集体户 |
  history = an old 迁出 row of someone registered elsewhere now), register_address,
  live_community_code, live_dwelling_id, register_dwelling_id.
truth/roll_truth.parquet, one row per roll data row:
  roll_file, roll_sheet (null for CSV), roll_row, pid, community_code, register_row (the person's
  active registration, if any), status, other_community_code (for unregistered: the community where
  the person is registered, if in the extract); extras: unit_id, dwelling_id, dwelling_kind
  (flat/house/lane/outb/shop/dorm), unit_kind (stay/within/city_*/migrant*/elder_outb/company),
  address_written, name_written, address_habits, name_habits, id_habits ('|'-joined habit tags).

Status codes are the contract's (§4): consistent, moved_within, absent, unregistered, duplicate,
inactive ('review' is a pipeline outcome, never a truth).  Register rows: inactive if 人员状态 ≠ 正常;
else consistent / moved_within / absent by where the person lives.  Roll rows: consistent /
moved_within for people registered in this community, unregistered otherwise (including people whose
only row is a 迁出 row: they live here, their registration is gone), duplicate for the second and
later record of the same person in one file, in (sheet order, row) order.

Assumptions the truth rests on (the contract's "same dwelling" rule, §1.4, applied to this city):
  * a flat split into rented rooms (302-1, 302(2号房)), an attic (602阁楼), and a village house's
    后屋/前屋/东首/西首/楼上/东边 are writing variants of the registered dwelling: same dwelling;
  * 车库/储藏室/附房/地下室 are separate dwellings: a registered person living in the garage of the
    building is moved_within;
  * a company dorm bed belongs to the company's collective address: a collective member in that
    company's dorm is consistent;
  * nobody lives at a 社区集体户, a demolished address or a 空挂 flat;
  * rolls are complete: everyone living in the city appears at least once in the roll of the
    community they live in (so register 'absent' with a code always has a matching roll row).
The contract has a single 现住地址 column, so communities that keep 小区|幢|单元|室 apart export them
concatenated with '/', '、', '-' or ' '.

Habits (measured, seed 1, scale 1: 205,040 register rows, 210,852 roll rows, 48 rolls)
------------------------------------------------------------------------------------
Register status: consistent 56.5%, absent 32.0% (14.8% living elsewhere in the city, 17.2% outside),
moved_within 5.3%, inactive 6.3% (迁出 3.6, 死亡 2.6, 注销 0.15).  Household kinds: family 89.2%,
demolished address 4.6%, 空挂户 2.9%, old 迁出 rows of people re-registered elsewhere 2.4%, 社区集体户
0.7%, company 集体户 0.2%.  15-digit IDs 0.6%.
Roll status: consistent 54.9%, unregistered 38.1% (14.4% registered in another community of the city,
23.7% outside the extract), moved_within 5.2%, duplicate 1.8%.  Dwellings of roll rows: flat 64.9%,
village house 17.8%, lane house 10.0%, dorm 3.4%, garage/储藏室/附房/地下室 2.3%, shop 1.6%.
Flat rows (share of flat rows; the rest of a row's text varies independently):
  幢/单元/室 canonical 28.0, 室 dropped 21.0, split rented room 302-1 11.2, 8-2-302 10.3, 号楼 7.0,
  unit dropped (8幢302 / 8-302) 5.5, 栋 5.3, 8#2-302 / 8#302 5.0, Chinese numerals 八幢二单元 4.6,
  8号2-302 4.1, reversed 2单元8幢302 2.6, floor inserted 3楼302 2.5, 0302 2.1, 302 as 3-2 2.0,
  阁楼 1.2.  Estate name: full 51.0, suffix dropped 23.4, first two characters 10.1, omitted 3.9,
  homophone/look-alike typo 3.1, space inside 1.6, with developer 1.4, former name 1.0; 期 in
  digits 16.2 / Chinese 15.5 / Roman 1.1 / dropped 5.0; 区 dropped 5.3; 单位宿舍 by road number 2.0,
  by unit name 1.7, short unit name 0.9.
Village-house rows (share of house rows): 自然村 only 20.8, 村+自然村 13.5, 村+Arabic 组 13.1,
  村 dropped before 自然村 11.7, register form 10.5, …自然村 spelled out 9.8, qualifier 后屋/东首/…
  9.2, Chinese 组 8.6, 岙 typed 奥/嶴 8.2, 组 as 队 5.3, 号 dropped 4.8, 村 written 岙 3.9, Chinese
  house number 2.8, 自然村 called …村 1.7, 组 as 社 1.0, trailing 岙 dropped 0.2.
Lane rows: canonical 57.6, 号 dropped 14.5, 12-5号 14.0, rooms 楼上/楼下/后间 6.3, 巷↔弄/街↔路 6.3,
  Chinese numerals 4.3, qualifier 1.8, pre-1980s street name (红卫路…) 1.5.
All roll rows: no prefix 63.4, community prefix 9.9, town 9.7, colloquial 丹城/石浦 7.2, 象山县 3.6,
  象山县+town 3.4, 浙江省宁波市象山县… 2.7; address merged over a household (cell empty) 3.9,
  同上 0.4, full-width digits 3.6, stray space 3.5, concatenated parts 1.0; garages 1.1, 储藏室 0.4,
  附房 0.2, 地下室 0.1; shops B103 0.5, …店面 0.4, road-number 店面 0.3, 底商3号 0.3; dorms 3.4.
Names (all roll rows): stray space 1.2, homophone 1.1, traditional 1.0, 2-char name with inner space
  0.6, given name swapped 0.6, 曾用名 used 0.6, character dropped 0.6, 阿 dropped 0.3, 欧阳 明 0.2,
  · written •/./・/．/nothing 0.1, look-alike 0.1.
IDs (all roll rows): blank 15.1 (4-35% by community), Excel number / 3.30225E+17 2.7, lowercase x 1.8,
  15-digit 1.1, one digit wrong 1.0, spaces 0.6, adjacent digits swapped 0.6, wrong check digit 0.6,
  full-width 0.5, truncated to 17 digits 0.4.
Files (of 48 communities): 33 xlsx, 11 CSV GB18030, 4 CSV UTF-8-BOM; 15 one sheet per 网格, 3 split
  户籍人口/流动人口, 1 paged (households cut between sheets), 12 with a 新增 sheet (2.6% of roll rows
  belong to households spread over several sheets); 9 cover sheets, 6 summary sheets; 29 with 1-2
  title rows; 28 with a 合计 row (11 as a COUNTA formula); 41 with blank rows inside the table; 16
  with a 以下为出租户 note row; 7 sorted by building then name instead of by household; 6 with merged address cells,
  1 with 同上; 6 with IDs typed as numbers; 1 with concatenated address parts.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

T = TypeVar("T")

# ---------------------------------------------------------------------------
# Fixed facts of the city
# ---------------------------------------------------------------------------

PROVINCE = "浙江省"
PREFECTURE = "宁波市"
COUNTY = "象山县"
COUNTY_CODE = "330225"
OLD_COUNTY_CODES = ("332526", "332527")  # fictional pre-1983 codes, valid IDs
EXTRACT_DATE = dt.date(2024, 6, 30)
FIXED_TIME = dt.datetime(2024, 7, 1, 9, 0, 0)
BASE_ROWS = 200_000
BASE_COMMUNITIES = 48
REGISTER_FILE = "象山县户籍人口_20240630.csv"


@dataclass(frozen=True)
class Town:
    """A town (镇/街道) of the county: code, official name, police station and colloquial name."""

    code: str  # 3 digits
    name: str
    station: str
    colloquial: str  # what people say instead of the official name


TOWNS: dict[str, Town] = {
    t.code: t
    for t in (
        Town("001", "丹东街道", "丹东派出所", "丹城"),
        Town("002", "丹西街道", "丹西派出所", "丹城"),
        Town("003", "爵溪街道", "爵溪派出所", "爵溪"),
        Town("101", "石浦镇", "石浦派出所", "石浦"),
        Town("102", "西周镇", "西周派出所", "西周"),
        Town("103", "鹤浦镇", "鹤浦派出所", "南田岛"),
        Town("104", "贤庠镇", "贤庠派出所", "贤庠"),
        Town("105", "定塘镇", "定塘派出所", "定塘"),
        Town("106", "涂茨镇", "涂茨派出所", "涂茨"),
        Town("201", "黄避岙乡", "黄避岙派出所", "黄避岙"),
    )
}

KIND_TOWNS: dict[str, tuple[str, ...]] = {
    "oldtown": ("001", "002", "101"),
    "estate": ("001", "002", "002"),
    "resettle": ("002", "001", "101", "003"),
    "industrial": ("003", "102"),
    "village": ("101", "103", "104", "105", "106", "201", "003", "102", "101", "103"),
}
# community kinds in the order a small city takes them; proportions for 48 communities
KIND_SHARES: dict[str, float] = {"village": 18, "estate": 10, "resettle": 8, "oldtown": 8, "industrial": 4}
KIND_WEIGHT: dict[str, float] = {"village": 0.6, "oldtown": 1.2, "estate": 1.3, "resettle": 1.4, "industrial": 0.9}

# what happens to a registered family household (whole household)
FATES: dict[str, dict[str, float]] = {
    "oldtown": {"stay": 0.64, "within": 0.05, "city": 0.13, "outside": 0.18},
    "estate": {"stay": 0.70, "within": 0.04, "city": 0.11, "outside": 0.15},
    "resettle": {"stay": 0.75, "within": 0.06, "city": 0.09, "outside": 0.10},
    "industrial": {"stay": 0.70, "within": 0.05, "city": 0.10, "outside": 0.15},
    "village": {"stay": 0.68, "within": 0.07, "city": 0.10, "outside": 0.15},
}
# register household kinds per community kind
HH_KINDS: dict[str, dict[str, float]] = {
    "oldtown": {"family": 0.85, "kongua": 0.02, "demolished": 0.13},
    "estate": {"family": 0.94, "kongua": 0.06, "demolished": 0.0},
    "resettle": {"family": 0.97, "kongua": 0.03, "demolished": 0.0},
    "industrial": {"family": 0.83, "kongua": 0.02, "demolished": 0.15},
    "village": {"family": 0.95, "kongua": 0.01, "demolished": 0.04},
}
# free dwellings beyond the registered households (new flats bought by people registered elsewhere)
EXTRA_DWELLINGS: dict[str, float] = {
    "oldtown": 0.25,
    "estate": 0.6,
    "resettle": 0.4,
    "industrial": 0.3,
    "village": 0.12,
}
# persons living here but registered outside the extract, per register row
MIGRANT_RATIO: dict[str, float] = {
    "oldtown": 0.20,
    "estate": 0.22,
    "resettle": 0.24,
    "industrial": 0.9,
    "village": 0.13,
}
# where people who moved elsewhere in the city now live
DEST_WEIGHT: dict[str, float] = {"resettle": 4, "estate": 3, "oldtown": 1.5, "industrial": 1, "village": 0.7}

# ---------------------------------------------------------------------------
# Random helper
# ---------------------------------------------------------------------------


class Rng(random.Random):
    """random.Random with a few conveniences; string seeds make sub-streams reproducible."""

    def p(self, prob: float) -> bool:
        """True with probability prob."""
        return self.random() < prob

    def pick(self, seq: Sequence[T]) -> T:
        """One element of seq, uniformly."""
        return seq[int(self.random() * len(seq))]

    def between(self, lo: int, hi: int) -> int:
        """A uniform integer in lo..hi, both ends included."""
        return lo + int(self.random() * (hi - lo + 1))


class Weighted:
    """A fixed weighted table, picked many times."""

    def __init__(self, weights: dict[str, float]):
        self.items = [k for k, w in weights.items() if w > 0]
        acc, cum = 0.0, []
        for k in self.items:
            acc += weights[k]
            cum.append(acc)
        self.cum = cum

    def pick(self, rng: Rng) -> str:
        """One key, drawn by weight."""
        return rng.choices(self.items, cum_weights=self.cum)[0]


FATE_W = {k: Weighted(v) for k, v in FATES.items()}
HH_KIND_W = {k: Weighted(v) for k, v in HH_KINDS.items()}
BLDG_WORD_W = Weighted({"幢": 85, "栋": 10, "号楼": 5})
OUTB_WORD_W = Weighted({"车库": 6, "储藏室": 2, "附房": 1.5, "地下室": 0.5})
COLLECTIVE_FATE_W = Weighted({"within": 0.3, "city": 0.25, "outside": 0.45})
COMPANY_FATE_W = Weighted({"dorm": 0.7, "city": 0.1, "outside": 0.2})
CITY_NATURE_W = Weighted({"自有": 0.45, "租赁": 0.35, "借住": 0.1, "安置房": 0.1})
MIGRANT_MODE_W = Weighted({"free": 45, "room": 33, "outb": 12, "shop": 10})


# ---------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------

CN_DIGITS = "零一二三四五六七八九"
FULLWIDTH = str.maketrans("0123456789-#", "０１２３４５６７８９－＃")
ROMAN = {1: "Ⅰ", 2: "Ⅱ", 3: "Ⅲ", 4: "Ⅳ"}
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def cn_number(n: int) -> str:
    """Chinese numeral as workers write building / group numbers (1..99)."""
    if n <= 0 or n >= 100:
        return str(n)
    if n < 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "十" if tens == 1 else CN_DIGITS[tens] + "十"
    return head + (CN_DIGITS[ones] if ones else "")


def id_check(body17: str) -> str:
    """The check character of an 18-digit ID from its first 17 digits (GB 11643)."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, ID_WEIGHTS, strict=True)) % 11]


def make_id(area: str, birth: dt.date, seq: int) -> str:
    """An 18-digit ID number from area code, birth date and 3-digit sequence."""
    body = f"{area}{birth:%Y%m%d}{seq:03d}"
    return body + id_check(body)


def id15(id18: str) -> str:
    """The old 15-digit form of an 18-digit ID (2-digit year, no check character)."""
    return id18[:6] + id18[8:17]


TRAD_PAIRS = (
    "张張 陈陳 刘劉 杨楊 吴吳 郑鄭 孙孫 赵趙 钱錢 邓鄧 冯馮 许許 罗羅 叶葉 苏蘇 韩韓 蒋蔣 卢盧 陆陸 谢謝 钟鍾 "
    "龚龔 顾顧 伟偉 华華 国國 丽麗 红紅 军軍 兰蘭 凤鳳 龙龍 宝寶 荣榮 贵貴 发發 庆慶 云雲 飞飛 鹏鵬 涛濤 东東 "
    "莲蓮 宁寧 强強 刚剛 书書 学學 爱愛 义義 乐樂 欢歡 庄莊 丰豐 鲍鮑 应應 贺賀 顺順 财財 娥娥 艳艷 霞霞 "
    "杰傑 辉輝 斌斌 婴嬰 馨馨 萍萍 玲玲 娟娟 缪繆 汤湯 杨楊 欧歐 诸諸 马馬 阳陽 买買 热熱"
)
TRAD = {p[0]: p[1] for p in TRAD_PAIRS.split() if p[0] != p[1]}
NAME_HOMOPHONES = {
    "伟": "玮炜",
    "丽": "莉俐",
    "华": "骅桦",
    "明": "铭",
    "静": "婧",
    "芳": "方",
    "燕": "艳",
    "红": "虹宏",
    "英": "瑛",
    "建": "健",
    "平": "萍",
    "峰": "锋",
    "斌": "彬",
    "俊": "骏",
    "琴": "芹",
    "玲": "铃琳",
    "晓": "小",
    "志": "智",
    "慧": "惠",
    "秀": "绣",
    "云": "芸",
    "娟": "鹃",
    "敏": "民",
    "杰": "捷",
    "军": "君",
    "林": "琳",
    "涛": "滔",
    "刚": "钢",
    "国": "帼",
    "根": "耕",
    "娣": "弟",
    "菊": "桔",
    "凤": "风",
    "珍": "贞",
    "宇": "雨",
    "涵": "函",
    "怡": "宜",
    "婷": "亭",
    "浩": "皓",
    "辉": "晖",
    "磊": "蕾",
    "欣": "昕",
    "萍": "平",
    "兰": "岚",
}
NAME_LOOKALIKE = {
    "侯": "候",
    "崇": "祟",
    "晴": "睛",
    "未": "末",
    "己": "已",
    "玉": "王",
    "由": "田",
    "申": "甲",
    "士": "土",
    "贝": "见",
    "戌": "戊",
    "汩": "汨",
    "茵": "菌",
    "萍": "苹",
    "琪": "棋",
    "祥": "样",
    "戴": "载",
    "娟": "涓",
    "瑶": "摇",
    "萱": "宣",
    "杨": "扬",
    "梓": "锌",
    "睿": "容",
}
PLACE_TYPOS = {
    "丹": "单",
    "河": "和",
    "韵": "运",
    "安": "庵",
    "峰": "锋",
    "桃": "淘",
    "园": "圆",
    "苑": "院",
    "华": "化",
    "嘉": "佳",
    "庭": "廷",
    "碧": "璧",
    "东": "冬",
    "新": "心",
    "湾": "弯",
    "岙": "奥",
    "礁": "焦",
    "塘": "唐",
    "浦": "蒲",
    "沙": "砂",
    "景": "京",
    "锦": "金",
    "泰": "太",
    "凤": "风",
    "翠": "萃",
    "悦": "越",
    "澜": "兰",
    "樟": "章",
    "洲": "州",
    "港": "巷",
    "鹤": "贺",
    "城": "成",
    "湖": "胡",
    "星": "兴",
    "阳": "杨",
    "海": "梅",
}
PLACE_LOOKALIKE = {
    "苑": "宛",
    "浦": "埔",
    "塘": "溏",
    "锦": "绵",
    "岭": "玲",
    "湾": "澶",
    "桂": "佳",
    "港": "巷",
    "鹤": "鸪",
    "峰": "蜂",
    "礁": "樵",
    "景": "影",
    "悦": "锐",
    "澜": "斓",
    "沙": "纱",
    "岙": "呑",
}
ESTATE_SUFFIXES = (
    "安置小区",
    "安置区",
    "花园",
    "家园",
    "新村",
    "小区",
    "公寓",
    "嘉园",
    "名苑",
    "华庭",
    "新城",
    "雅苑",
    "公馆",
    "商住楼",
    "大厦",
    "商厦",
    "广场",
    "商城",
    "宿舍",
    "新苑",
    "苑",
    "城",
)

# ---------------------------------------------------------------------------
# Name pools
# ---------------------------------------------------------------------------

LOCAL_SURNAMES = Weighted(
    {
        "陈": 8,
        "王": 6,
        "张": 5,
        "林": 4,
        "周": 3,
        "李": 3,
        "黄": 3,
        "郑": 3,
        "徐": 3,
        "吴": 3,
        "杨": 2,
        "史": 2,
        "欧": 2,
        "鲍": 1.5,
        "俞": 1.5,
        "竺": 1,
        "蒋": 1.5,
        "胡": 2,
        "孙": 1.5,
        "何": 1.5,
        "金": 1.5,
        "赖": 0.5,
        "励": 0.8,
        "邵": 1,
        "葛": 1,
        "童": 0.8,
        "应": 0.8,
        "卢": 1,
        "包": 0.8,
        "贺": 0.6,
        "毛": 0.6,
        "顾": 0.6,
        "韩": 0.6,
        "缪": 0.4,
        "殷": 0.4,
        "戴": 0.6,
        "钱": 0.7,
        "汪": 0.6,
        "叶": 1,
        "朱": 1,
        "谢": 0.8,
        "许": 0.8,
        "侯": 0.3,
        "崔": 0.3,
        "欧阳": 0.35,
        "诸葛": 0.08,
        "司马": 0.05,
        "上官": 0.05,
        "东方": 0.03,
    }
)
MIGRANT_SURNAMES = Weighted(
    {
        "刘": 5,
        "李": 5,
        "王": 5,
        "张": 4,
        "陈": 3,
        "杨": 4,
        "罗": 3,
        "何": 2,
        "胡": 2,
        "周": 2,
        "吴": 2,
        "余": 2,
        "谢": 2,
        "邓": 2,
        "彭": 1.5,
        "曾": 1.5,
        "黄": 2,
        "赵": 2,
        "龙": 1,
        "田": 1,
        "马": 1.5,
        "蒋": 1,
        "熊": 1,
        "欧阳": 0.2,
        "诸葛": 0.05,
    }
)
GIVEN = {
    ("old", 1): "根生财福德金宝荣庆祥发林海龙水法明才兴富达松昌",
    ("old", 2): "娣囡凤菊英兰珍秀花娥彩月仙香琴娟素梅玉翠云",
    ("mid", 1): "伟军华明建国平强斌峰波勇杰辉涛刚磊鹏飞锋亮海东志晓",
    ("mid", 2): "芳丽红燕霞静敏艳萍玲娟琴慧英洁丹云华莉晓亚慧",
    ("young", 1): "浩宇轩涵博睿辰俊杰晨阳凯文豪泽航翔鑫磊子梓一",
    ("young", 2): "欣怡涵萱诗雨琪梦婷佳悦可妍馨思瑶雪子梓一",
}
AH_NAMES = {1: ("阿根", "阿毛", "阿三", "阿宝", "阿福", "阿狗"), 2: ("阿娣", "阿菊", "阿囡", "阿凤", "阿英")}
UYGHUR = ("买买提", "艾力", "阿不都", "吐尔逊", "艾买提", "依明", "卡德尔", "努尔", "阿卜杜拉", "热合曼")
UYGHUR_F = ("阿依古丽", "古丽", "热依拉", "帕提古丽", "米日古丽", "祖力皮亚", "阿娜尔")
YI_SURNAMES = ("吉克", "阿苦", "马海", "沙马", "吉伍", "阿的", "勒格")
YI_GIVEN = ("阿依", "拉哈", "曲布", "木呷", "伍呷", "日哈", "尔哈", "石古")

ETHNIC_CODES = {
    "汉族": "01",
    "回族": "03",
    "维吾尔族": "05",
    "苗族": "06",
    "彝族": "07",
    "布依族": "09",
    "侗族": "12",
    "土家族": "15",
    "畲族": "22",
}


@dataclass(frozen=True)
class Origin:
    """A migrant home place: its area code, place text and ethnic mix."""

    area: str
    place: str
    ethnic: dict[str, float]


MIGRANT_ORIGINS: tuple[tuple[Origin, float], ...] = (
    (Origin("342401", "安徽省六安市", {"汉族": 1}), 8),
    (Origin("341225", "安徽省阜阳市阜南县", {"汉族": 1}), 6),
    (Origin("340823", "安徽省安庆市", {"汉族": 1}), 4),
    (Origin("522426", "贵州省毕节市纳雍县", {"汉族": 0.65, "苗族": 0.2, "彝族": 0.1, "布依族": 0.05}), 7),
    (Origin("522121", "贵州省遵义市", {"汉族": 0.9, "侗族": 0.1}), 4),
    (Origin("520221", "贵州省六盘水市水城县", {"汉族": 0.7, "彝族": 0.15, "布依族": 0.15}), 3),
    (Origin("511321", "四川省南充市南部县", {"汉族": 1}), 6),
    (Origin("513431", "四川省凉山彝族自治州昭觉县", {"彝族": 0.9, "汉族": 0.1}), 2),
    (Origin("411522", "河南省信阳市光山县", {"汉族": 1}), 5),
    (Origin("412828", "河南省驻马店市", {"汉族": 1}), 3),
    (Origin("362330", "江西省上饶市", {"汉族": 1}), 4),
    (Origin("430524", "湖南省邵阳市隆回县", {"汉族": 1}), 3),
    (Origin("433130", "湖南省湘西土家族苗族自治州龙山县", {"土家族": 0.6, "苗族": 0.2, "汉族": 0.2}), 2),
    (Origin("532128", "云南省昭通市镇雄县", {"汉族": 1}), 3),
    (Origin("653101", "新疆维吾尔自治区喀什市", {"维吾尔族": 0.95, "汉族": 0.05}), 1.2),
    (Origin("622921", "甘肃省临夏回族自治州临夏县", {"回族": 0.6, "汉族": 0.4}), 1),
    (Origin("330203", "浙江省宁波市海曙区", {"汉族": 1}), 3),
    (Origin("330212", "浙江省宁波市鄞州区", {"汉族": 1}), 3),
    (Origin("330226", "浙江省宁海县", {"汉族": 1}), 3),
    (Origin("331082", "浙江省临海市", {"汉族": 1}), 2),
    (Origin("330127", "浙江省淳安县", {"汉族": 0.9, "畲族": 0.1}), 1),
)
ORIGIN_TABLE = [o for o, _ in MIGRANT_ORIGINS]
ORIGIN_CUM = []
_acc = 0.0
for _o, _w in MIGRANT_ORIGINS:
    _acc += _w
    ORIGIN_CUM.append(_acc)
SPOUSE_AREAS = ("330226", "330281", "331082", "331022", "330212")

# place-name material
COMMUNITY_STEMS = (
    "天安",
    "丹峰",
    "靖南",
    "蓬莱",
    "丹河",
    "东谷",
    "城东",
    "桃园",
    "新华",
    "县前",
    "大目湾",
    "海韵",
    "丹阳",
    "南庙",
    "金星",
    "碧海",
    "海港",
    "文峰",
    "塔山",
    "梅园",
    "育才",
    "东门",
    "延昌",
    "番西",
    "渔港",
    "中街",
    "丹凤",
    "西谷",
    "白鹤",
    "新丰",
    "兴港",
    "金沙",
    "海景",
    "新城",
    "石鼓",
    "河洪",
    "沿港",
    "建设",
    "人民",
    "丹南",
    "后所",
    "五狮",
    "峰山",
    "环城",
    "滨港",
    "鹤鸣",
    "玉泉",
    "青莱",
    "月楼",
    "海山",
)
VILLAGE_PREFIXES = (
    "黄",
    "沙塘",
    "林家",
    "后",
    "前",
    "大",
    "小",
    "东",
    "西",
    "南",
    "北",
    "珠",
    "花",
    "鹤",
    "青",
    "石",
    "长",
    "横",
    "樟",
    "竹",
    "龙",
    "洋",
    "白",
    "下",
    "上",
    "中",
    "新",
    "双",
    "金",
    "铜",
    "蟹钳",
    "渔",
    "蛟",
    "峙",
    "昌",
    "高",
    "王家",
    "李家",
    "陈家",
    "张家",
    "周家",
    "应家",
    "史家",
    "欧家",
    "里",
    "外",
    "岳",
    "三门",
    "半边",
    "牛",
    "马",
    "乌",
    "红",
    "南田",
    "鲍家",
    "钱",
    "赵",
    "田",
    "大塘",
    "关",
    "胡家",
    "对",
)
VILLAGE_SUFFIXES = ("岙", "岙", "岙", "礁", "湾", "港", "头", "门", "塘", "屿", "山", "浦", "沙", "嘴", "岭", "坑")
ESTATE_STEMS = (
    "丹河",
    "海韵",
    "天安",
    "碧海",
    "金海",
    "蓝湾",
    "丹凤",
    "桃园",
    "银河",
    "锦绣",
    "滨海",
    "阳光",
    "望海",
    "东方",
    "紫金",
    "凤凰",
    "翠苑",
    "金色",
    "海天",
    "兴港",
    "明珠",
    "星湖",
    "湖滨",
    "凯旋",
    "香樟",
    "绿洲",
    "御景",
    "海悦",
    "观澜",
    "半岛",
    "丹桂",
    "春晓",
    "文华",
    "景江",
    "怡景",
    "泰和",
    "锦江",
    "新港",
    "悦海",
    "东海",
    "南湾",
    "海洲",
    "鹤岭",
    "长乐",
    "嘉禾",
    "华府",
    "碧水",
    "蓝海",
    "鑫海",
    "和平",
)
ESTATE_SUFFIX_W = Weighted(
    {
        "花园": 5,
        "家园": 4,
        "新村": 4,
        "小区": 5,
        "公寓": 1.5,
        "嘉园": 2,
        "名苑": 1.5,
        "华庭": 1.5,
        "新城": 1,
        "雅苑": 1.5,
        "公馆": 0.7,
    }
)
SHANGZHU_SUFFIX_W = Weighted({"商住楼": 5, "大厦": 2, "商厦": 1, "广场": 1.5, "商城": 1})
RESETTLE_SUFFIX_W = Weighted({"安置小区": 4, "新苑": 2, "家园": 2, "安置区": 1.5, "苑": 1.5})
DEVELOPERS = ("雅戈尔", "绿城", "宁兴", "万科", "金地", "海尚", "银亿", "荣安")
DANWEI = (
    "水产公司",
    "供销社",
    "粮食局",
    "渔业公司",
    "冷冻厂",
    "航运公司",
    "电力局",
    "邮电局",
    "农机厂",
    "船厂",
    "食品公司",
    "水产加工厂",
)
OLD_STREETS = (
    "县前街",
    "后街",
    "南庙巷",
    "碶头巷",
    "丹阳路",
    "中街",
    "东门街",
    "西门街",
    "城隍庙巷",
    "学前路",
    "仓前路",
    "北门路",
    "横街",
    "盐仓弄",
    "米行街",
    "鱼行街",
    "打铁街",
    "新街",
    "大营巷",
    "后所巷",
    "福建街",
    "碗行街",
    "延昌路",
    "沿港路",
    "天妃宫巷",
    "船厂弄",
    "鲞行街",
    "太平路",
)
STREET_FORMER = {
    "县前街": "解放街",
    "丹阳路": "红旗路",
    "新街": "人民街",
    "太平路": "胜利路",
    "中街": "中山街",
    "北门路": "北门街",
    "学前路": "学宫路",
    "沿港路": "海滨路",
    "延昌路": "前进路",
}
REVOLUTION_NAMES = ("红卫路", "东风街", "向阳巷", "反修路", "前进街", "卫东弄", "红星路", "跃进街")
ROADS = (
    "海兴路",
    "渔港路",
    "滨海大道",
    "工业路",
    "创业路",
    "兴港路",
    "东海路",
    "海城路",
    "丹峰西路",
    "靖南大街",
    "天安路",
    "建设路",
    "新华路",
    "象山港路",
    "沿海中线",
)
COMPANY_STEMS = (
    "华丰",
    "海纳",
    "恒达",
    "兴业",
    "东海",
    "隆鑫",
    "甬港",
    "金帆",
    "渔舟",
    "海通",
    "宏润",
    "浩海",
    "新茂",
    "鑫达",
    "巨隆",
    "博纳",
)
INDUSTRIES = ("针织", "服饰", "水产食品", "模具", "电器", "船舶修造", "渔具", "塑业", "五金", "紫菜加工", "冷链")
PARKS = ("爵溪工业园区", "西周工业区", "滨海工业园", "大目湾工业区", "城东工业区")

# ---------------------------------------------------------------------------
# Data model
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class Estate:
    """One addressable estate (or one 期/区 of it); buildings are numbered within it."""

    base: str  # register name without 期, e.g. 塔山安置小区
    kind: str  # commodity | resettle | shangzhu | danwei
    phase: int  # 0: no phases
    zone: str  # '' or 'A区' / '3区'
    short: str  # suffix-stripped name
    former: str  # former name ('' if none)
    developer: str
    bldg_word: str  # 幢 / 栋 / 号楼 in the register
    road: str  # road address (danwei, shangzhu)
    road_no: int
    buildings: int = 0
    units: int = 1
    floors: int = 6
    doors: int = 2
    danwei: str = ""

    def reg_name(self) -> str:
        """The name as the register writes it: base name, 期 and zone."""
        return self.base + (cn_number(self.phase) + "期" if self.phase else "") + self.zone


@dataclass(slots=True)
class Village:
    """An administrative village with its natural villages and groups."""

    admin: str  # 行政村 name with 村, e.g. 大岙村
    naturals: list[str]  # 自然村 names
    groups: list[list[int]]  # group numbers per natural village
    reg_form: str  # 'nat' (村+自然村+号) or 'group' (村+组+号)


@dataclass(slots=True)
class Street:
    """An old-town street, with its former name and number of lanes."""

    name: str
    former: str
    lanes: int  # 0: plain numbers


@dataclass(slots=True)
class Company:
    """A company in an industrial park, with dormitory buildings and a collective-household address."""

    name: str
    short: str
    industry: str
    park: str
    road: str
    road_no: int
    dorm_buildings: int
    addr_dw: int = -1  # pseudo dwelling carrying the collective household address
    rooms: int = 0


@dataclass(slots=True)
class Dwelling:
    """One addressable place to live (flat, house, lane house, outbuilding, shop, dorm room) or pseudo address."""

    did: int
    comm: int
    kind: str  # flat | shop | outb | house | lane | dorm | collective | dorm_addr
    comp: object  # Estate | Village | Street | Company | None
    a: int = 0  # building / natural village / lane / dorm building
    b: int = 0  # unit / group / -
    c: int = 0  # room / house number / shop number
    extra: str = ""  # outbuilding word, 附房, ...
    grid: int = 0
    ci: int = -1  # component index within the community
    reg_key: int = -1
    exists: bool = True
    vacant: bool = False  # registered but nobody may live there (空挂)
    top_floor: bool = False
    units: list[int] = field(default_factory=list)
    split: bool = False


@dataclass(slots=True)
class Person:
    """One person of the city, registered here or a migrant."""

    pid: int
    name: str
    former: str
    sex: int
    ethnic: str
    birth: dt.date
    idno: str
    origin: str  # 户籍地 text used in rolls
    phone: str = ""
    rel_label: str = ""  # relation shown in a roll
    live_comm: int = -1  # -1: outside the city (or dead)
    unit: int = -1
    active_row: int = -1  # index into City.reg_rows
    migrant: bool = False
    work: str = ""


@dataclass(slots=True)
class RegRow:
    """One row of the household register."""

    pid: int
    comm: int
    hh_no: str
    rel: str
    dw: int
    status: str  # 正常 / 死亡 / 迁出 / 注销
    move_in: dt.date
    hh_kind: str  # family | kongua | demolished | collective | company | history
    id_shown: str
    register_row: int = 0


@dataclass(slots=True)
class Unit:
    """A group of persons living together in one dwelling."""

    uid: int
    did: int
    pids: list[int]
    nature: str  # 房屋性质
    kind: str  # stay | within | city | migrant | elder_outb | single_city | ...
    note: str = ""


@dataclass(slots=True)
class Community:
    """One community (社区) or village (村委会) with its places, grids and dwelling pools."""

    idx: int
    code: str
    name: str
    kind: str
    town: Town
    target_rows: int
    grids: list[str] = field(default_factory=list)
    comps: list[object] = field(default_factory=list)
    dwell_ids: list[int] = field(default_factory=list)
    collective_dw: int = -1
    companies: list[Company] = field(default_factory=list)
    pools: dict[str, list[int]] = field(default_factory=dict)  # component class -> dwelling ids for households
    demolished: Street | None = None
    demolished_n: int = 0


@dataclass
class City:
    """The whole synthetic city: communities, dwellings, persons, register rows and living units."""

    seed: int
    comms: list[Community] = field(default_factory=list)
    dwellings: list[Dwelling] = field(default_factory=list)
    persons: list[Person] = field(default_factory=list)
    reg_rows: list[RegRow] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    used_ids: set[str] = field(default_factory=set)
    hh_counter: int = 0
    households: list[tuple[int, str, int]] = field(default_factory=list)  # (comm, hh_no, dwelling) for history rows


# ---------------------------------------------------------------------------
# Names and identity
# ---------------------------------------------------------------------------


def era(birth_year: int) -> str:
    """The naming era of a birth year: old, mid or young."""
    return "old" if birth_year < 1960 else ("mid" if birth_year < 1990 else "young")


def given_name(rng: Rng, sex: int, birth_year: int) -> str:
    """A given name typical for the sex and birth year."""
    if birth_year < 1950 and rng.p(0.12):
        return rng.pick(AH_NAMES[sex])
    pool = GIVEN[(era(birth_year), sex)]
    first = rng.pick(pool)
    if rng.p(0.3 if birth_year < 1990 else 0.15):
        return first
    second = rng.pick(pool)
    while second == first:
        second = rng.pick(pool)
    return first + second


def minority_name(rng: Rng, ethnic: str, sex: int) -> str | None:
    """A name in the style of some ethnic minorities, or None to use a Han name."""
    if ethnic == "维吾尔族":
        own = rng.pick(UYGHUR if sex == 1 else UYGHUR_F)
        return own + "·" + rng.pick(UYGHUR)
    if ethnic == "彝族" and rng.p(0.7):
        return rng.pick(YI_SURNAMES) + rng.pick(YI_GIVEN)
    return None


def new_id(city: City, rng: Rng, area: str, birth: dt.date, sex: int) -> str:
    """A new ID number that no one in the city has yet (odd sequence for men, even for women)."""
    while True:
        seq = rng.between(0, 499) * 2 + (1 if sex == 1 else 0)
        idno = make_id(area, birth, seq)
        if idno not in city.used_ids:
            city.used_ids.add(idno)
            return idno


def phone_number(rng: Rng) -> str:
    """A random mobile phone number."""
    return "1" + rng.pick("3578935789") + "".join(rng.pick("0123456789") for _ in range(9))


def birth_for_age(rng: Rng, age: int) -> dt.date:
    """A birth date giving the age at the extract date."""
    return EXTRACT_DATE - dt.timedelta(days=int(age * 365.25) + rng.between(1, 364))


def local_area(rng: Rng, birth: dt.date) -> str:
    """The area code of a local ID: the county code, or for some older persons a pre-1983 code."""
    if birth.year < 1983 and rng.p(0.3):
        return rng.pick(OLD_COUNTY_CODES)
    return COUNTY_CODE


def add_person(
    city: City,
    rng: Rng,
    *,
    surname: str,
    sex: int,
    age: int,
    area: str,
    origin: str,
    ethnic: str = "汉族",
    migrant: bool = False,
) -> Person:
    """Create a person with name, former name and ID and add it to the city."""
    birth = birth_for_age(rng, age)
    name = minority_name(rng, ethnic, sex) or surname + given_name(rng, sex, birth.year)
    former = ""
    if not migrant and rng.p(0.06 if (sex == 2 and birth.year < 1965) else 0.012):
        former = surname + given_name(rng, sex, birth.year)
        if former == name:
            former = ""
    p = Person(
        pid=len(city.persons) + 1,
        name=name,
        former=former,
        sex=sex,
        ethnic=ethnic,
        birth=birth,
        idno=new_id(city, rng, area, birth, sex),
        origin=origin,
        migrant=migrant,
    )
    city.persons.append(p)
    return p


# ---------------------------------------------------------------------------
# Building the places
# ---------------------------------------------------------------------------


def new_dwelling(
    city: City,
    comm: Community,
    kind: str,
    comp: object,
    a: int = 0,
    b: int = 0,
    c: int = 0,
    extra: str = "",
    exists: bool = True,
) -> Dwelling:
    """Create a dwelling in the community and add it to the city (and to the community if it exists)."""
    d = Dwelling(
        did=len(city.dwellings), comm=comm.idx, kind=kind, comp=comp, a=a, b=b, c=c, extra=extra, exists=exists
    )
    d.reg_key = d.did
    if comp is not None:
        d.ci = next(i for i in range(len(comm.comps) - 1, -1, -1) if comm.comps[i] is comp)
    city.dwellings.append(d)
    if exists:
        comm.dwell_ids.append(d.did)
    return d


def short_name(name: str) -> str:
    """An estate name without its suffix (or its first two characters)."""
    for suf in ESTATE_SUFFIXES:
        if name.endswith(suf) and len(name) - len(suf) >= 2:
            return name[: -len(suf)]
    return name[:2]


class NamePool:
    """Draws unique place names."""

    def __init__(self, rng: Rng):
        self.rng = rng
        self.used: set[str] = set()

    def take(self, make: Callable[[], str]) -> str:
        """A name from make that was not used yet; qualified with a direction word when the pool runs dry."""
        for attempt in range(400):
            name = make()
            if attempt >= 100:  # pool nearly exhausted: qualify the name the way new places get named
                name = self.rng.pick(("东", "西", "南", "北", "新", "后", "前")) + name
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("name pool exhausted")

    def estate(self, suffix_w: Weighted) -> str:
        """A new unique estate name."""
        return self.take(lambda: self.rng.pick(ESTATE_STEMS) + suffix_w.pick(self.rng))

    def place(self) -> str:
        """A new unique natural-village name."""
        return self.take(lambda: self.rng.pick(VILLAGE_PREFIXES) + self.rng.pick(VILLAGE_SUFFIXES))


def make_estate(rng: Rng, names: NamePool, kind: str, phase: int = 0, base: str = "", zone: str = "") -> Estate:
    """An estate of the kind (commodity, resettle, shangzhu) with drawn names, sizes and road address."""
    if kind == "resettle":
        base = base or names.take(lambda: rng.pick(COMMUNITY_STEMS + ESTATE_STEMS) + RESETTLE_SUFFIX_W.pick(rng))
        stem = short_name(base)
        former = (
            rng.pick((f"{stem}拆迁安置房", f"原{stem}村安置区", f"{stem}安置点", f"{stem}新村")) if rng.p(0.6) else ""
        )
        floors, units, doors = rng.pick((6, 6, 11, 18)), rng.between(1, 3), 2
        developer = ""
    elif kind == "shangzhu":
        base = names.take(lambda: rng.pick(ESTATE_STEMS + COMMUNITY_STEMS) + SHANGZHU_SUFFIX_W.pick(rng))
        former, developer = "", ""
        floors, units, doors = rng.between(4, 8), rng.between(1, 2), 2
    else:
        base = base or names.estate(ESTATE_SUFFIX_W)
        stem = short_name(base)
        former = ""
        if rng.p(0.35):
            former = stem + "新村" if not base.endswith("新村") else stem + "小区"
            if rng.p(0.3):
                former = names.estate(ESTATE_SUFFIX_W)
        developer = rng.pick(DEVELOPERS) if rng.p(0.5) else ""
        old = rng.p(0.5)
        floors = rng.between(5, 7) if old else rng.pick((11, 18, 26))
        units = rng.between(1, 3) if old else rng.between(1, 2)
        doors = 2 if old else rng.pick((2, 2, 3, 4))
    bldg_word = BLDG_WORD_W.pick(rng)
    return Estate(
        base=base,
        kind=kind,
        phase=phase,
        zone=zone,
        short=short_name(base),
        former=former,
        developer=developer,
        bldg_word=bldg_word,
        road=rng.pick(ROADS),
        road_no=rng.between(2, 300) // 2 * 2,
        units=units,
        floors=floors,
        doors=doors,
    )


def add_estate_buildings(
    city: City, comm: Community, est: Estate, n_flats: int, rng: Rng, outbuildings: float
) -> list[int]:
    """Create buildings until the estate has at least n_flats flats; return flat dwelling ids."""
    flats: list[int] = []
    b = 0
    per_bldg = est.units * est.floors * est.doors
    first_floor = 2 if est.kind == "shangzhu" else 1
    while len(flats) < n_flats or b == 0:
        b += 1
        for u in range(1, est.units + 1):
            for fl in range(first_floor, est.floors + 1):
                for door in range(1, est.doors + 1):
                    d = new_dwelling(city, comm, "flat", est, b, u, fl * 100 + door)
                    d.top_floor = fl == est.floors
                    flats.append(d.did)
        if est.kind == "shangzhu":
            for k in range(1, rng.between(4, 9)):
                new_dwelling(city, comm, "shop", est, b, 0, 100 + k)
        if est.floors <= 7 and rng.p(outbuildings):
            word = OUTB_WORD_W.pick(rng)
            for k in range(1, rng.between(2, 2 + 2 * est.units)):
                new_dwelling(city, comm, "outb", est, b, 0, k, extra=word)
        if per_bldg <= 0:
            break
    est.buildings = b
    return flats


def build_community_places(city: City, comm: Community, households: int, rng: Rng, names: NamePool) -> None:
    """Create the community's components and dwellings; fill comm.pools for registered households."""
    kind = comm.kind
    need = int(households * (1 + EXTRA_DWELLINGS[kind])) + 5
    pools: dict[str, list[int]] = {}
    if kind == "village":
        pools["house"] = build_village(city, comm, need, rng, names)
    elif kind == "oldtown":
        pools["lane"] = build_lanes(city, comm, int(need * 0.5), rng, names)
        pools["danwei"] = build_danwei(city, comm, int(need * 0.2), rng, names)
        est = make_estate(rng, names, "commodity")
        comm.comps.append(est)
        pools["flat"] = add_estate_buildings(city, comm, est, int(need * 0.2), rng, 0.7)
        pools["shangzhu"] = build_shangzhu(city, comm, int(need * 0.1), rng, names)
    elif kind == "estate":
        flats: list[int] = []
        n_est = max(1, min(4, need // 500 + 1))
        for _ in range(n_est):
            est = make_estate(rng, names, "commodity")
            comm.comps.append(est)
            flats += add_estate_buildings(city, comm, est, int(need * 0.85 / n_est), rng, 0.5)
        pools["flat"] = flats
        pools["shangzhu"] = build_shangzhu(city, comm, int(need * 0.15), rng, names)
    elif kind == "resettle":
        pools["flat"] = build_resettle(city, comm, int(need * 0.85), rng, names)
        pools["shangzhu"] = build_shangzhu(city, comm, int(need * 0.15), rng, names)
    else:  # industrial
        pools["flat"] = build_resettle(city, comm, int(need * 0.5), rng, names)
        pools["shangzhu"] = build_shangzhu(city, comm, int(need * 0.2), rng, names)
        pools["lane"] = build_lanes(city, comm, int(need * 0.3), rng, names)
        build_companies(city, comm, rng, int(comm.target_rows * MIGRANT_RATIO[kind] * 0.7))
    for ids in pools.values():
        rng.shuffle(ids)
    comm.pools = pools
    coll = new_dwelling(city, comm, "collective", None, exists=False)
    comm.collective_dw = coll.did
    assign_grids(city, comm, rng)


def build_village(city: City, comm: Community, need: int, rng: Rng, names: NamePool) -> list[int]:
    """Natural villages and houses of a village community; return the house dwelling ids."""
    n_nat = max(2, min(9, need // 90 + rng.between(0, 2)))
    naturals = [names.place() for _ in range(n_nat)]
    groups, g = [], 1
    for _ in naturals:
        k = rng.pick((1, 1, 2, 2, 3))
        groups.append(list(range(g, g + k)))
        g += k
    v = Village(admin=comm.name, naturals=naturals, groups=groups, reg_form="nat" if rng.p(0.6) else "group")
    comm.comps.append(v)
    houses: list[int] = []
    per_nat = need // n_nat + 1
    for i in range(n_nat):
        n_here = max(10, int(per_nat * (0.6 + 0.8 * rng.random())))
        grp = groups[i]
        for h in range(1, n_here + 1):
            d = new_dwelling(city, comm, "house", v, i, grp[min(len(grp) - 1, (h - 1) * len(grp) // n_here)], h)
            houses.append(d.did)
    return houses


def street_name(names: NamePool, rng: Rng) -> str:
    """Old-town street names, unique in the city so that register addresses are unique."""
    return names.take(
        lambda: (
            rng.pick(OLD_STREETS) if rng.p(0.5) else rng.pick(VILLAGE_PREFIXES + COMMUNITY_STEMS) + rng.pick("街路巷弄")
        )
    )


def build_lanes(city: City, comm: Community, need: int, rng: Rng, names: NamePool) -> list[int]:
    """Old-town streets with lane houses until there are enough; return the house dwelling ids."""
    houses: list[int] = []
    while len(houses) < need:
        name = street_name(names, rng)
        former = STREET_FORMER.get(name) or (rng.pick(REVOLUTION_NAMES) if rng.p(0.3) else "")
        st = Street(name=name, former=former, lanes=rng.pick((0, 0, 4, 8, 12)))
        comm.comps.append(st)
        if st.lanes:
            for lane in range(1, st.lanes + 1):
                for n in range(1, rng.between(6, 25)):
                    houses.append(lane_house(city, comm, st, lane, n, rng))
        else:
            for n in range(1, rng.between(40, 160), rng.pick((1, 2))):
                houses.append(lane_house(city, comm, st, 0, n, rng))
    return houses


def lane_house(city: City, comm: Community, st: Street, lane: int, n: int, rng: Rng) -> int:
    """A lane house (sometimes with a 附房 outbuilding); return its dwelling id."""
    d = new_dwelling(city, comm, "lane", st, lane, 0, n)
    if rng.p(0.12):
        new_dwelling(city, comm, "outb", st, lane, 0, n, extra="附房")
    return d.did


def build_danwei(city: City, comm: Community, need: int, rng: Rng, names: NamePool) -> list[int]:
    """Work-unit (单位) dormitory estates until there are enough flats; return the flat ids."""
    flats: list[int] = []
    while len(flats) < need:
        unit_name = rng.pick(DANWEI)
        est = Estate(
            base=unit_name + "宿舍",
            kind="danwei",
            phase=0,
            zone="",
            short=unit_name[:2] + "宿舍",
            former="",
            developer="",
            bldg_word="幢",
            road=street_name(names, rng),
            road_no=rng.between(10, 200),
            units=rng.between(1, 3),
            floors=rng.between(4, 5),
            doors=2,
            danwei=unit_name,
        )
        comm.comps.append(est)
        flats += add_estate_buildings(city, comm, est, min(need - len(flats), rng.between(30, 120)), rng, 0.6)
    return flats


def build_shangzhu(city: City, comm: Community, need: int, rng: Rng, names: NamePool) -> list[int]:
    """商住楼: shops on the ground floor, flats above; a few buildings each along a road."""
    flats: list[int] = []
    need = max(need, 12)
    while len(flats) < need:
        est = make_estate(rng, names, "shangzhu")
        comm.comps.append(est)
        per_bldg = est.units * (est.floors - 1) * est.doors
        flats += add_estate_buildings(city, comm, est, min(need - len(flats), per_bldg * rng.between(3, 10)), rng, 0.3)
    return flats


def build_resettle(city: City, comm: Community, need: int, rng: Rng, names: NamePool) -> list[int]:
    """A resettlement estate in phases and zones; return the flat ids."""
    phases = rng.pick((1, 2, 2, 3, 3))
    base = names.take(lambda: rng.pick(COMMUNITY_STEMS + ESTATE_STEMS) + RESETTLE_SUFFIX_W.pick(rng))
    zones = rng.p(0.3)
    flats: list[int] = []
    proto = make_estate(rng, names, "resettle", base=base)
    for ph in range(1, phases + 1):
        zone_names = [f"{z}区" for z in (("A", "B") if rng.p(0.5) else ("1", "2"))] if zones else [""]
        for zone in zone_names:
            est = Estate(
                base=base,
                kind="resettle",
                phase=ph if phases > 1 else 0,
                zone=zone,
                short=proto.short,
                former=proto.former,
                developer="",
                bldg_word=proto.bldg_word,
                road=proto.road,
                road_no=proto.road_no,
                units=rng.between(1, 3),
                floors=rng.pick((6, 6, 11, 18)),
                doors=2,
            )
            comm.comps.append(est)
            flats += add_estate_buildings(city, comm, est, need // (phases * len(zone_names)), rng, 0.85)
    return flats


def build_companies(city: City, comm: Community, rng: Rng, workers: int) -> None:
    """Companies with dormitory rooms for about the given number of workers."""
    park = rng.pick(PARKS)
    left = workers
    while left > 0:
        stem, ind = rng.pick(COMPANY_STEMS), rng.pick(INDUSTRIES)
        name = rng.pick(("宁波", "象山", "象山县", "")) + stem + ind + "有限公司"
        comp = Company(
            name=name,
            short=stem,
            industry=ind,
            park=park,
            road=rng.pick(ROADS),
            road_no=rng.between(1, 120),
            dorm_buildings=rng.between(1, 3),
        )
        comm.comps.append(comp)
        comm.companies.append(comp)
        addr = new_dwelling(city, comm, "dorm_addr", comp, exists=False)
        comp.addr_dw = addr.did
        for bld in range(1, comp.dorm_buildings + 1):
            for fl in range(1, rng.between(3, 5) + 1):
                for r in range(1, rng.between(8, 20)):
                    d = new_dwelling(city, comm, "dorm", comp, bld, 0, fl * 100 + r)
                    d.reg_key = addr.did
                    comp.rooms += 1
                    left -= 6
        left -= 1


def assign_grids(city: City, comm: Community, rng: Rng) -> None:
    """Split the community into 网格 by contiguous blocks of buildings / natural villages."""
    n = len(comm.dwell_ids)
    n_grid = max(2, min(8, round(comm.target_rows / 900)))
    style = rng.pick(("第{}网格", "网格{}", "{}网格", "第{}网格"))
    comm.grids = [style.format(cn_number(g + 1) if "第" in style else g + 1) for g in range(n_grid)]
    last_key, g = None, 0
    for pos, did in enumerate(comm.dwell_ids):
        d = city.dwellings[did]
        key = (d.ci, d.a)
        if key != last_key:
            g = min(n_grid - 1, pos * n_grid // max(1, n))
            last_key = key
        d.grid = g


# ---------------------------------------------------------------------------
# Communities
# ---------------------------------------------------------------------------


def allocate_kinds(n_comm: int, rng: Rng) -> list[str]:
    """Community kinds for n_comm communities in proportion to KIND_SHARES (each kind once if possible)."""
    total = sum(KIND_SHARES.values())
    kinds = list(KIND_SHARES)
    counts = {k: 1 if n_comm >= len(kinds) else 0 for k in kinds}
    left = n_comm - sum(counts.values())
    exact = {k: max(0.0, n_comm * KIND_SHARES[k] / total - counts[k]) for k in kinds}
    for k in kinds:
        add = min(left, int(exact[k]))
        counts[k] += add
        left -= add
    for k in sorted(kinds, key=lambda k: -(exact[k] - int(exact[k]))):
        if left <= 0:
            break
        counts[k] += 1
        left -= 1
    out = [k for k in kinds for _ in range(counts[k])]
    return out[:n_comm]


def build_communities(city: City, n_rows: int, n_comm: int, rng: Rng) -> NamePool:
    """Create the communities with their places; return the name pool for later names."""
    kinds = allocate_kinds(n_comm, rng)
    weights = [KIND_WEIGHT[k] * (0.7 + 0.6 * rng.random()) for k in kinds]
    wsum = sum(weights)
    names = NamePool(rng)
    counters: dict[str, int] = {}
    for idx, (kind, w) in enumerate(zip(kinds, weights, strict=True)):
        town = TOWNS[rng.pick(KIND_TOWNS[kind])]
        if kind == "village":
            n = counters.get(town.code + "v", 200) + 1
            counters[town.code + "v"] = n
            name = names.place() + "村"
        else:
            n = counters.get(town.code, 0) + 1
            counters[town.code] = n
            name = names.take(lambda: rng.pick(COMMUNITY_STEMS)) + "社区"
        code = COUNTY_CODE + town.code + f"{n:03d}"
        target = max(300, int(n_rows * w / wsum))
        city.comms.append(Community(idx=idx, code=code, name=name, kind=kind, town=town, target_rows=target))
    for comm in city.comms:
        households = int(comm.target_rows / 2.6)
        build_community_places(city, comm, households, rng, names)
    return names


# ---------------------------------------------------------------------------
# Register population
# ---------------------------------------------------------------------------

AGE_BINS = ((22, 29, 4), (30, 39, 10), (40, 49, 16), (50, 59, 22), (60, 69, 22), (70, 79, 16), (80, 94, 8))
AGE_CUM = []
_acc = 0.0
for _lo, _hi, _w in AGE_BINS:
    _acc += _w
    AGE_CUM.append(_acc)


def draw_age(rng: Rng) -> int:
    """An age of a household head, by AGE_BINS."""
    lo, hi, _ = rng.choices(AGE_BINS, cum_weights=AGE_CUM)[0]
    return rng.between(lo, hi)


@dataclass(slots=True)
class MemberSpec:
    """One member of a drawn family: relation code, sex, age, status and where the surname comes from."""

    rel: str
    sex: int
    age: int
    status: str
    surname_from: str  # head | spouse | other


def draw_family(rng: Rng) -> list[MemberSpec]:
    """The members of one registered household, head first."""
    head_age = draw_age(rng)
    head_sex = 1 if rng.p(0.8) else 2
    out = [MemberSpec("02", head_sex, head_age, "正常", "head")]
    spouse_p = 0.85 if head_age < 70 else 0.55
    if head_age >= 23 and rng.p(spouse_p):
        s_age = max(20, head_age + rng.between(-5, 3))
        dead = head_age > 65 and rng.p(0.12)
        out.append(MemberSpec("10", 3 - head_sex, s_age, "死亡" if dead else "正常", "spouse"))
    if 24 <= head_age <= 75:
        n_child = rng.choices((0, 1, 2, 3), cum_weights=(20, 70, 95, 100))[0]
        for _ in range(n_child):
            c_age = head_age - rng.between(22, 34)
            if c_age < 0:
                continue
            sex = 1 if rng.p(0.52) else 2
            if c_age >= 30 and rng.p(0.6):
                continue  # has own household
            status = "正常"
            if 18 <= c_age <= 35 and rng.p(0.09):
                status = "迁出"
            out.append(
                MemberSpec(
                    "20" if sex == 1 else "30",
                    sex,
                    c_age,
                    status,
                    "head" if head_sex == 1 or len(out) == 1 else "spouse",
                )
            )
    if head_age < 52 and rng.p(0.22):
        for sex in (1, 2):
            if rng.p(0.7):
                p_age = head_age + rng.between(22, 34)
                dead = p_age > 75 and rng.p(0.45)
                out.append(
                    MemberSpec(
                        "51" if sex == 1 else "52",
                        sex,
                        p_age,
                        "死亡" if dead else "正常",
                        "head" if sex == 1 else "other",
                    )
                )
    if head_age >= 55 and rng.p(0.3):
        for _ in range(rng.pick((1, 1, 2))):
            sex = 1 if rng.p(0.52) else 2
            out.append(MemberSpec("41" if sex == 1 else "42", sex, rng.between(0, 17), "正常", "head"))
    if head_age >= 60 and rng.p(0.09):
        out.append(MemberSpec("10", 3 - head_sex, head_age + rng.between(-3, 3), "死亡", "other"))
    if rng.p(0.004):
        out.append(MemberSpec("20", 1, max(18, head_age - 25), "注销", "head"))
    return out


REL_LABEL = {
    "02": "户主",
    "10": "配偶",
    "20": "子",
    "30": "女",
    "41": "孙子",
    "42": "孙女",
    "51": "父亲",
    "52": "母亲",
    "99": "其他",
}
REL_RANK = {"02": 0, "10": 1, "51": 2, "52": 3, "20": 4, "30": 4, "41": 5, "42": 5, "99": 6}


def next_hh_no(city: City, comm: Community) -> str:
    """A new household number (户号)."""
    city.hh_counter += 1
    return f"{int(comm.town.code) % 100:02d}{city.hh_counter * 7 % 10_000_000:07d}"


BORN_INTO = ("02", "20", "30", "41", "42")


def move_in_date(rng: Rng, birth: dt.date, rel: str, hh_kind: str) -> dt.date:
    """Born into the registration (children, many heads) or moved in as an adult (spouses, collectives)."""
    if rel in BORN_INTO and hh_kind in ("family", "kongua", "demolished", "history") and rng.p(0.55):
        return birth
    lo = max(birth + dt.timedelta(days=int(18 * 365.25)), dt.date(1984, 1, 1))
    hi = EXTRACT_DATE - dt.timedelta(days=30)
    if lo >= hi:
        return birth
    return lo + dt.timedelta(days=rng.between(0, (hi - lo).days))


def add_reg_row(
    city: City, rng: Rng, p: Person, comm: Community, hh_no: str, rel: str, dw: int, status: str, hh_kind: str
) -> RegRow:
    """Add a register row for the person; it becomes the person's active row if the status is 正常."""
    shown = p.idno
    if p.birth.year < 1950 and rng.p(0.06):
        shown = id15(p.idno)
    row = RegRow(
        pid=p.pid,
        comm=comm.idx,
        hh_no=hh_no,
        rel=rel,
        dw=dw,
        status=status,
        move_in=move_in_date(rng, p.birth, rel, hh_kind),
        hh_kind=hh_kind,
        id_shown=shown,
    )
    city.reg_rows.append(row)
    if status == "正常":
        p.active_row = len(city.reg_rows) - 1
    return row


@dataclass(slots=True)
class Placement:
    """A request to put persons somewhere to live, resolved once all stays are known."""

    pids: list[int]
    comm: int
    mode: str  # own | free | outb | room | dorm | shop
    nature: str
    kind: str
    own_dw: int = -1
    note: str = ""


def pick_destination(city: City, rng: Rng, origin: int, prefer: str | None = None) -> int:
    """Another community, weighted by size and kind (prefer boosts one kind)."""
    comms = city.comms
    weights = []
    for c in comms:
        w = 0.0 if c.idx == origin else DEST_WEIGHT[c.kind] * c.target_rows
        if prefer and c.kind == prefer:
            w *= 6
        weights.append(w)
    return rng.choices(range(len(comms)), weights=weights)[0]


def build_register(city: City, rng: Rng, names: NamePool) -> list[Placement]:
    """Register the households of every community; return where their members want to live."""
    placements: list[Placement] = []
    order = list(range(len(city.comms)))
    rng.shuffle(order)
    for ci in order:
        comm = city.comms[ci]
        crng = Rng(f"{city.seed}-reg-{comm.code}")
        made = add_collectives(city, comm, crng, placements)
        while made < comm.target_rows:
            made += add_family(city, comm, crng, placements, names)
    return placements


def take_dwelling(comm: Community, rng: Rng, hh_kind: str) -> int:
    """A dwelling from the community pools for a household, or -1 if none is left."""
    pools = comm.pools
    keys = [k for k, v in pools.items() if v]
    if not keys:
        return -1
    weights = [len(pools[k]) for k in keys]
    key = rng.choices(keys, weights=weights)[0]
    return pools[key].pop()


def add_collectives(city: City, comm: Community, rng: Rng, placements: list[Placement]) -> int:
    """社区集体户 (registered at the 居委会, living anywhere) and company 集体户 in industrial areas."""
    made = 0
    n = max(2, int(comm.target_rows * 0.008 * (0.5 + rng.random())))
    hh_no = next_hh_no(city, comm)
    for _ in range(n):
        sex = 1 if rng.p(0.55) else 2
        p = add_person(
            city,
            rng,
            surname=LOCAL_SURNAMES.pick(rng),
            sex=sex,
            age=rng.between(19, 75),
            area=COUNTY_CODE,
            origin=f"{COUNTY}{comm.town.name}",
        )
        status = "迁出" if rng.p(0.08) else "正常"
        add_reg_row(city, rng, p, comm, hh_no, "99", comm.collective_dw, status, "collective")
        made += 1
        if status == "正常":
            fate = COLLECTIVE_FATE_W.pick(rng)
            place_fate(city, rng, comm, [p.pid], fate, -1, placements, "collective")
    for comp in comm.companies:
        hh_no = next_hh_no(city, comm)
        for _ in range(rng.between(6, 30)):
            origin = rng.choices(ORIGIN_TABLE, cum_weights=ORIGIN_CUM)[0]
            p = add_migrant(city, rng, origin, rng.between(19, 50))
            add_reg_row(city, rng, p, comm, hh_no, "99", comp.addr_dw, "正常", "company")
            p.work = comp.name
            made += 1
            fate = COMPANY_FATE_W.pick(rng)
            if fate == "dorm":
                placements.append(Placement([p.pid], comm.idx, "dorm", "单位宿舍", "company", own_dw=comp.addr_dw))
            else:
                place_fate(city, rng, comm, [p.pid], fate, -1, placements, "company")
    return made


def add_family(city: City, comm: Community, rng: Rng, placements: list[Placement], names: NamePool) -> int:
    """Register one family household and decide where it lives; return its number of members."""
    hh_kind = HH_KIND_W[comm.kind].pick(rng)
    if hh_kind == "demolished":
        dw = demolished_dwelling(city, comm, rng, names)
    else:
        dw = take_dwelling(comm, rng, hh_kind)
        if dw < 0:
            dw = demolished_dwelling(city, comm, rng, names)
            hh_kind = "demolished"
    if hh_kind == "kongua":
        city.dwellings[dw].vacant = True
    hh_no = next_hh_no(city, comm)
    specs = draw_family(rng)
    head_surname = LOCAL_SURNAMES.pick(rng)
    spouse_surname = LOCAL_SURNAMES.pick(rng)
    living: list[Person] = []
    for s in specs:
        surname = {"head": head_surname, "spouse": spouse_surname}.get(s.surname_from) or LOCAL_SURNAMES.pick(rng)
        area, origin = COUNTY_CODE, f"{COUNTY}{comm.town.name}"
        if s.rel == "10" and rng.p(0.08):
            area = rng.pick(SPOUSE_AREAS)
        p = add_person(
            city,
            rng,
            surname=surname,
            sex=s.sex,
            age=s.age,
            area=area if area != COUNTY_CODE else local_area(rng, birth_for_age(rng, s.age)),
            origin=origin,
        )
        p.rel_label = REL_LABEL[s.rel]
        add_reg_row(city, rng, p, comm, hh_no, s.rel, dw, s.status, hh_kind)
        if s.status == "正常":
            living.append(p)
            if s.rel == "10" and rng.p(0.1):
                add_history_row(city, rng, p, comm)
        elif s.status == "迁出" and rng.p(0.15):
            living.append(p)  # moved the registration away but still lives with the family
    city.households.append((comm.idx, hh_no, dw))
    if living:
        decide_household_fate(city, rng, comm, hh_kind, dw, living, placements)
    return len(specs)


def add_history_row(city: City, rng: Rng, p: Person, comm: Community) -> None:
    """A married-in spouse keeps an old 迁出 row in her parents' household in another community."""
    for _ in range(5):
        if not city.households:
            return
        c_idx, hh_no, dw = rng.pick(city.households)
        if c_idx != comm.idx:
            add_reg_row(city, rng, p, city.comms[c_idx], hh_no, "30" if p.sex == 2 else "20", dw, "迁出", "history")
            return


def demolished_dwelling(city: City, comm: Community, rng: Rng, names: NamePool) -> int:
    """An address in a demolished lane / natural village: registered, nobody can live there."""
    comp = comm.demolished
    if comp is None:
        if comm.kind == "village":
            v = next(c for c in comm.comps if isinstance(c, Village))
            name = names.take(lambda: v.admin + rng.pick(VILLAGE_PREFIXES) + "岙")
            comp = Street(name=name, former="", lanes=0)
        else:
            comp = Street(name=street_name(names, rng), former="", lanes=rng.pick((0, 6)))
        comm.comps.append(comp)
        comm.demolished = comp
    comm.demolished_n += 1
    n = comm.demolished_n
    lane = (n % comp.lanes) + 1 if comp.lanes else 0
    d = new_dwelling(city, comm, "lane", comp, lane, 0, n, exists=False)
    return d.did


def decide_household_fate(
    city: City, rng: Rng, comm: Community, hh_kind: str, dw: int, living: list[Person], placements: list[Placement]
) -> None:
    """Where the living members of a household live: at home, elsewhere here, in the city or outside."""
    if hh_kind == "kongua":
        fate = "city" if rng.p(0.6) else "outside"
    elif hh_kind == "demolished":
        fate = "city" if rng.p(0.75) else "outside"
    else:
        fate = FATE_W[comm.kind].pick(rng)
    group: list[int] = []
    d = city.dwellings[dw]
    for p in living:
        age = EXTRACT_DATE.year - p.birth.year
        if fate in ("stay", "within", "city") and 18 <= age <= 35 and p.active_row >= 0:
            r = rng.random()
            if r < 0.16:
                continue  # works outside the city
            if r < 0.22:
                place_fate(city, rng, comm, [p.pid], "city", -1, placements, "single_city")
                continue
        if fate in ("stay", "within") and age >= 65 and d.kind in ("flat", "lane") and rng.p(0.06):
            placements.append(Placement([p.pid], comm.idx, "outb", "自有", "elder_outb", note="老人住车库"))
            continue
        group.append(p.pid)
    if group:
        prefer = "resettle" if hh_kind == "demolished" else None
        place_fate(city, rng, comm, group, fate, dw, placements, hh_kind, prefer)


def place_fate(
    city: City,
    rng: Rng,
    comm: Community,
    pids: list[int],
    fate: str,
    own_dw: int,
    placements: list[Placement],
    kind: str,
    prefer: str | None = None,
) -> None:
    """Add a placement for the persons by fate (nothing for outside)."""
    if fate == "outside":
        return
    if fate == "stay":
        placements.append(Placement(pids, comm.idx, "own", "自有", "stay", own_dw))
    elif fate == "within":
        placements.append(Placement(pids, comm.idx, "free", "自有", "within"))
    elif fate == "city":
        dest = pick_destination(city, rng, comm.idx, prefer)
        nature = CITY_NATURE_W.pick(rng)
        mode = "free" if len(pids) > 1 or rng.p(0.5) else "room"
        note = f"户籍在{comm.name}" if rng.p(0.25) else ""
        placements.append(Placement(pids, dest, mode, nature, "city_" + kind, note=note))


# ---------------------------------------------------------------------------
# Migrants (registered outside the extract)
# ---------------------------------------------------------------------------


def add_migrant(
    city: City, rng: Rng, origin: Origin, age: int, surname: str | None = None, sex: int | None = None
) -> Person:
    """Create a migrant from the origin."""
    sex = sex or (1 if rng.p(0.6) else 2)
    ethnic = rng.choices(list(origin.ethnic), weights=list(origin.ethnic.values()))[0]
    p = add_person(
        city,
        rng,
        surname=surname or MIGRANT_SURNAMES.pick(rng),
        sex=sex,
        age=age,
        area=origin.area,
        origin=origin.place,
        ethnic=ethnic,
        migrant=True,
    )
    return p


def build_migrants(city: City, rng: Rng) -> list[Placement]:
    """Migrant groups of every community; return their placements."""
    out: list[Placement] = []
    for comm in city.comms:
        crng = Rng(f"{city.seed}-mig-{comm.code}")
        target = int(comm.target_rows * MIGRANT_RATIO[comm.kind])
        made = 0
        while made < target:
            made += add_migrant_group(city, crng, comm, out)
    return out


def add_migrant_group(city: City, rng: Rng, comm: Community, out: list[Placement]) -> int:
    """One migrant worker, crew or family and its placement; return the number of persons."""
    origin = rng.choices(ORIGIN_TABLE, cum_weights=ORIGIN_CUM)[0]
    kind = comm.kind
    if kind == "industrial" and rng.p(0.7):
        p = add_migrant(city, rng, origin, rng.between(18, 52))
        comp = rng.choices(comm.companies, weights=[c.rooms for c in comm.companies])[0]
        p.work = comp.name
        out.append(Placement([p.pid], comm.idx, "dorm", "单位宿舍", "migrant_dorm", comp.addr_dw, note="外来务工"))
        return 1
    if kind in ("village", "oldtown") and comm.town.code in ("101", "103", "104", "201", "003") and rng.p(0.4):
        n = rng.between(3, 7)
        pids = [add_migrant(city, rng, origin, rng.between(20, 58), sex=1).pid for _ in range(n)]
        out.append(
            Placement(
                pids,
                comm.idx,
                "free" if rng.p(0.5) else "room",
                "租赁",
                "migrant_crew",
                note=rng.pick(("渔船船员", "船员", "", "外来务工")),
            )
        )
        return n
    surname = MIGRANT_SURNAMES.pick(rng)
    head = add_migrant(city, rng, origin, rng.between(22, 55), surname=surname, sex=1)
    head.rel_label = "户主"
    pids = [head.pid]
    if rng.p(0.6):
        sp = add_migrant(city, rng, origin, max(20, EXTRACT_DATE.year - head.birth.year + rng.between(-4, 2)), sex=2)
        sp.rel_label = "妻"
        pids.append(sp.pid)
        for _ in range(rng.choices((0, 1, 2), cum_weights=(40, 80, 100))[0]):
            ch = add_migrant(city, rng, origin, rng.between(0, 16), surname=surname)
            ch.rel_label = "子" if ch.sex == 1 else "女"
            pids.append(ch.pid)
    owner = origin.place.startswith("浙江省宁波") and rng.p(0.7)
    mode = MIGRANT_MODE_W.pick(rng)
    if owner:
        mode = "free"
    note = {"shop": "店面", "outb": "租车库", "room": "出租户"}.get(mode, "")
    out.append(Placement(pids, comm.idx, mode, "自有" if owner else "租赁", "migrant", note=note))
    return len(pids)


# ---------------------------------------------------------------------------
# Occupancy
# ---------------------------------------------------------------------------


class Occupancy:
    """Free-dwelling pools per community; places units."""

    def __init__(self, city: City, rng: Rng):
        self.city = city
        self.rng = rng
        self.free: dict[tuple[int, str], list[int]] = {}
        self.occupied: dict[int, list[int]] = {}
        self.dorm_fill: dict[int, int] = {}
        self.company_dorms: dict[int, list[int]] = {}  # company address dwelling -> its dorm rooms

    def init_pools(self) -> None:
        """Pools of dwellings still free, per community and kind, and the dorm rooms of each company."""
        city = self.city
        for comm in city.comms:
            by_kind: dict[str, list[int]] = {"home": [], "outb": [], "shop": [], "dorm": []}
            for did in comm.dwell_ids:
                d = city.dwellings[did]
                if d.vacant or d.units:
                    continue
                k = "home" if d.kind in ("flat", "house", "lane") else d.kind
                if k in by_kind:
                    by_kind[k].append(did)
            for k, ids in by_kind.items():
                self.rng.shuffle(ids)
                self.free[(comm.idx, k)] = ids
            for did in by_kind["dorm"]:
                self.company_dorms.setdefault(city.dwellings[did].reg_key, []).append(did)
            self.occupied[comm.idx] = [did for did in comm.dwell_ids if city.dwellings[did].units]

    def add_unit(self, did: int, pl: Placement) -> None:
        """A new unit of the placement's persons in the dwelling."""
        city = self.city
        u = Unit(uid=len(city.units), did=did, pids=pl.pids, nature=pl.nature, kind=pl.kind, note=pl.note)
        city.units.append(u)
        d = city.dwellings[did]
        if not d.units and d.kind in ("flat", "house", "lane"):
            self.occupied.setdefault(d.comm, []).append(did)
        d.units.append(u.uid)
        for pid in pl.pids:
            p = city.persons[pid - 1]
            p.live_comm = d.comm
            p.unit = u.uid

    def pop(self, comm: int, kind: str) -> int:
        """A free dwelling of the kind in the community, or -1."""
        ids = self.free.get((comm, kind))
        return ids.pop() if ids else -1

    def shared_room(self, comm: int) -> int:
        """An occupied home to share (preferring ones with few units), or -1."""
        occ = self.occupied.get(comm) or []
        for _ in range(8):
            if not occ:
                break
            did = self.rng.pick(occ)
            if len(self.city.dwellings[did].units) < 4:
                return did
        return self.rng.pick(occ) if occ else -1

    def place(self, pl: Placement) -> None:
        """Preferred kind of space first, then a room in an occupied home, then any free home."""
        c = pl.comm
        first: Callable[[], int] = {
            "own": lambda: pl.own_dw,
            "dorm": lambda: self.dorm_slot(self.company_dorms.get(pl.own_dw, [])),
            "outb": lambda: self.pop(c, "outb"),
            "shop": lambda: self.pop(c, "shop"),
            "free": lambda: self.pop(c, "home"),
            "room": lambda: self.shared_room(c),
        }[pl.mode]
        any_dorm: Callable[[], int] = (
            (lambda: self.dorm_slot(self.free.get((c, "dorm"), []))) if pl.mode == "dorm" else (lambda: -1)
        )
        for attempt in (first, any_dorm, lambda: self.shared_room(c), lambda: self.pop(c, "home")):
            did = attempt()
            if did >= 0:
                self.add_unit(did, pl)
                return
        # nowhere to live in this community: the group counts as living outside the city

    def dorm_slot(self, ids: list[int]) -> int:
        """A bed in the company's own dormitory (six to a room)."""
        while ids:
            did = ids[-1]
            n = self.dorm_fill.get(did, 0)
            if n < 6:
                self.dorm_fill[did] = n + 1
                return did
            ids.pop()
        return -1


def settle(city: City, placements: list[Placement], migrants: list[Placement], rng: Rng) -> None:
    """Resolve the placements into units: own homes first, then movers, then migrants."""
    occ = Occupancy(city, rng)
    for pl in placements:
        if pl.mode == "own":
            occ.add_unit(pl.own_dw, pl)
    occ.init_pools()
    movers = [pl for pl in placements if pl.mode != "own"]
    rest = movers + migrants
    for pl in rest:
        if pl.kind == "elder_outb" or pl.kind == "within":
            occ.place(pl)
    for pl in rest:
        if pl.kind not in ("elder_outb", "within"):
            occ.place(pl)
    for d in city.dwellings:
        if len(d.units) >= 2 and d.kind in ("flat", "lane", "house"):
            d.split = rng.p(0.55)


# ---------------------------------------------------------------------------
# Truth
# ---------------------------------------------------------------------------


def finalize_register(city: City) -> None:
    """Sort the register the way the extract is sorted; number its rows and relink active rows."""
    comms = city.comms
    city.reg_rows.sort(
        key=lambda r: (comms[r.comm].town.code, comms[r.comm].code, r.hh_no, r.status != "正常", REL_RANK[r.rel], r.pid)
    )
    for i, r in enumerate(city.reg_rows):
        r.register_row = i + 2
    for p in city.persons:
        p.active_row = -1
    for i, r in enumerate(city.reg_rows):
        if r.status == "正常":
            city.persons[r.pid - 1].active_row = i


def live_dwelling(city: City, p: Person) -> Dwelling | None:
    """Where the person lives, or None if outside the city."""
    if p.unit < 0:
        return None
    return city.dwellings[city.units[p.unit].did]


def register_status(city: City, r: RegRow) -> tuple[str, str | None]:
    """The truth status of a register row and the community code where the person lives instead."""
    if r.status != "正常":
        return "inactive", None
    p = city.persons[r.pid - 1]
    d = live_dwelling(city, p)
    if d is None:
        return "absent", None
    if d.comm != r.comm:
        return "absent", city.comms[d.comm].code
    reg_key = city.dwellings[r.dw].reg_key
    return ("consistent" if d.reg_key == reg_key else "moved_within"), None


def roll_status(city: City, p: Person, comm_idx: int) -> tuple[str, str | None, int | None]:
    """The truth status of a person on a community's roll, the other community code and the register row."""
    if p.active_row < 0:
        return "unregistered", None, None
    r = city.reg_rows[p.active_row]
    if r.comm != comm_idx:
        return "unregistered", city.comms[r.comm].code, r.register_row
    st, _ = register_status(city, r)
    return st, None, r.register_row


# ---------------------------------------------------------------------------
# Roll writing habits
# ---------------------------------------------------------------------------

FLAT_FORMS = Weighted(
    {
        "canon": 30,
        "no_shi": 18,
        "dong": 6,
        "haolou": 4,
        "reversed": 3,
        "hao_bldg": 4,
        "dash3": 11,
        "unit_dropped": 5,
        "floor_ins": 2,
        "floor_door": 1,
        "zero_pad": 1.5,
        "hash": 4,
        "cn_num": 3,
    }
)
EST_FORMS = Weighted(
    {"full": 44, "short": 24, "first2": 7, "former": 5, "developer": 5, "typo": 3, "omit": 6, "spaced": 2}
)
PHASE_FORMS = Weighted({"cn": 45, "ar": 42, "roman": 4, "omit": 9})
PREFIX_FORMS = Weighted(
    {"none": 62, "community": 11, "town": 9, "colloquial": 6, "county": 4, "county_town": 5, "province": 3}
)
VILLAGE_FORMS = Weighted(
    {
        "reg": 10,
        "full_nat": 18,
        "nat_only": 22,
        "nat_zrc": 6,
        "nat_cun": 5,
        "v_drop_cun": 8,
        "v_ao": 2,
        "group_ar": 12,
        "group_cn": 8,
        "group_dui": 6,
        "group_she": 3,
    }
)
LANE_FORMS = Weighted(
    {"canon": 55, "dash": 12, "no_hao": 10, "cn_num": 5, "suffix_swap": 6, "former": 6, "qualifier": 6}
)
DANWEI_FORMS = Weighted({"road": 45, "danwei": 35, "danwei_short": 20})
OUTB_FORMS = Weighted({"canon": 40, "hao": 20, "hash": 10, "dash": 10, "nonum": 15, "front": 5})
SHOP_FORMS = Weighted({"canon": 35, "dianmian": 25, "road": 20, "dishang": 20})
DORM_FORMS = Weighted({"company_room": 30, "short_bldg": 25, "road_room": 15, "park_full": 15, "floor_only": 15})
VILLAGE_QUALIFIERS = ("后屋", "前屋", "东首", "西首", "楼上", "东边", "西边")


@dataclass(slots=True)
class Worker:
    """The data-entry habits of one 网格 worker (dominant form per category, sticky)."""

    flat: str
    est: str
    phase: str
    prefix: str
    village: str
    lane: str
    fullwidth: float
    spaces: float
    ao_typo: bool
    stick: float
    merges: bool  # merges the address cell over a household's rows (if the office merges at all)


def make_worker(rng: Rng) -> Worker:
    """A worker with drawn habits."""
    return Worker(
        flat=FLAT_FORMS.pick(rng),
        est=EST_FORMS.pick(rng),
        phase=PHASE_FORMS.pick(rng),
        prefix=PREFIX_FORMS.pick(rng),
        village=VILLAGE_FORMS.pick(rng),
        lane=LANE_FORMS.pick(rng),
        fullwidth=rng.choices((0.0, 0.04, 0.25), cum_weights=(70, 93, 100))[0],
        spaces=rng.choices((0.01, 0.05, 0.15), cum_weights=(60, 90, 100))[0],
        ao_typo=rng.p(0.35),
        stick=rng.pick((0.5, 0.65, 0.8)),
        merges=rng.p(0.5),
    )


def habit(rng: Rng, worker_form: str, table: Weighted, stick: float) -> str:
    """The worker's own form with probability stick, else a form drawn from the table."""
    return worker_form if rng.p(stick) else table.pick(rng)


@dataclass(slots=True)
class RollProfile:
    """How one community office makes its roll: file format, sheets, columns, and its workers."""

    fmt: str  # xlsx | csv
    encoding: str  # csv only
    sheet_mode: str  # single | grid_sheets | paged | split_tenant
    cover_sheet: bool
    summary_sheet: bool
    title_rows: int
    merge_address: bool
    ditto: bool
    sort: str  # household | building_name
    tenant_note: bool
    blank_rate: float
    total_row: str  # '' | text | formula
    id_number_share: float
    id_blank: float
    birth_style: str
    birth_blank: float
    concat_sep: str  # '' or separator
    columns: list[tuple[str, str]]
    new_sheet: bool
    dup_rate: float
    workers: list[Worker]


def make_profile(rng: Rng, comm: Community) -> RollProfile:
    """The roll profile of a community."""
    fmt = "csv" if rng.p(0.25) else "xlsx"
    sheet_mode = "single"
    if fmt == "xlsx":
        sheet_mode = Weighted({"single": 40, "grid_sheets": 30, "paged": 12, "split_tenant": 18}).pick(rng)
    cols: list[tuple[str, str]] = [("序号", "seq")]
    has_grid = rng.p(0.7)
    addr_h = rng.pick(("现住地址", "现住地址", "居住地址", "实际居住地址"))
    addr_first = rng.p(0.2)
    if has_grid:
        cols.append(("网格", "grid"))
    if addr_first:
        cols.append((addr_h, "addr"))
    cols.append(("姓名", "name"))
    if rng.p(0.85):
        cols.append(("性别", "sex"))
    if rng.p(0.15):
        cols.append(("民族", "ethnic"))
    cols.append((rng.pick(("身份证号", "身份证号", "公民身份号码", "证件号码")), "id"))
    if rng.p(0.6):
        cols.append(("出生日期", "birth"))
    if rng.p(0.3):
        cols.append(("与户主关系", "rel"))
    if rng.p(0.8):
        cols.append((rng.pick(("联系电话", "手机号码")), "phone"))
    if not addr_first:
        cols.append((addr_h, "addr"))
    if rng.p(0.25):
        cols.append(("户籍地", "hukou"))
    if rng.p(0.6):
        cols.append(("房屋性质", "nature"))
    if rng.p(0.12):
        cols.append(("工作单位", "work"))
    if rng.p(0.5):
        cols.append(("登记日期", "regdate"))
    if rng.p(0.8):
        cols.append(("备注", "note"))
    merge = fmt == "xlsx" and rng.p(0.18)
    return RollProfile(
        fmt=fmt,
        encoding=rng.pick(("utf-8-sig", "gb18030")),
        sheet_mode=sheet_mode,
        cover_sheet=fmt == "xlsx" and rng.p(0.25),
        summary_sheet=fmt == "xlsx" and rng.p(0.15),
        title_rows=rng.pick((0, 1, 1, 2)) if fmt == "xlsx" else 0,
        merge_address=merge,
        ditto=(not merge) and rng.p(0.08),
        sort="building_name" if rng.p(0.12) else "household",
        tenant_note=rng.p(0.3),
        blank_rate=rng.pick((0.0, 0.002, 0.006)),
        total_row=rng.pick(("", "", "text", "formula")) if fmt == "xlsx" else rng.pick(("", "text")),
        id_number_share=rng.pick((0.0,) * 8 + (0.15, 0.5)),
        id_blank=rng.pick((0.04, 0.08, 0.12, 0.2, 0.35)),
        birth_style=rng.pick(("excel", "dash", "slash", "compact"))
        if fmt == "xlsx"
        else rng.pick(("dash", "slash", "compact")),
        birth_blank=rng.pick((0.05, 0.2, 0.5)),
        concat_sep=rng.pick(("/", "、", "-", " ")) if rng.p(0.08) else "",
        columns=cols,
        new_sheet=sheet_mode in ("grid_sheets", "split_tenant") and rng.p(0.5),
        dup_rate=rng.pick((0.01, 0.015, 0.02, 0.03)),
        workers=[make_worker(rng) for _ in comm.grids],
    )


# --- address rendering ------------------------------------------------------


def place_typo(rng: Rng, name: str) -> str:
    """One homophone (丹→单) or look-alike (苑→宛) character."""
    table = PLACE_LOOKALIKE if rng.p(0.3) else PLACE_TYPOS
    spots = [i for i, ch in enumerate(name) if ch in table]
    if not spots:
        table = PLACE_TYPOS
        spots = [i for i, ch in enumerate(name) if ch in table]
    if not spots:
        return name
    i = rng.pick(spots)
    return name[:i] + table[name[i]] + name[i + 1 :]


def phase_text(rng: Rng, est: Estate, form: str) -> tuple[str, str]:
    """The 期 text in the form, and its tag."""
    if not est.phase:
        return "", ""
    if form == "cn":
        return cn_number(est.phase) + "期", "phase:cn"
    if form == "ar":
        return f"{est.phase}期", "phase:ar"
    if form == "roman":
        return ROMAN.get(est.phase, str(est.phase)) + "期", "phase:roman"
    return "", "phase:omit"


def estate_text(rng: Rng, est: Estate, w: Worker, tags: list[str]) -> str:
    """The estate name as the worker writes it (full, short, former, typo, ...), with phase and zone."""
    form = habit(rng, w.est, EST_FORMS, w.stick)
    if form == "former" and not est.former:
        form = "full"
    if form == "developer" and not est.developer:
        form = "full"
    base = est.base
    if form == "short":
        base = est.short
    elif form == "first2":
        base = est.base[:2]
    elif form == "former":
        base = est.former
    elif form == "developer":
        base = est.developer + rng.pick(("", "·")) + rng.pick((est.base, est.short))
    elif form == "typo":
        base = place_typo(rng, est.base)
    elif form == "spaced":
        k = rng.between(1, max(1, len(est.base) - 1))
        base = est.base[:k] + " " + est.base[k:]
    elif form == "omit":
        base = ""
    tags.append("est:" + form)
    ph, ph_tag = phase_text(rng, est, habit(rng, w.phase, PHASE_FORMS, w.stick))
    if ph_tag:
        tags.append(ph_tag)
    zone = est.zone if (not est.zone or rng.p(0.75)) else ""
    if est.zone and not zone:
        tags.append("zone:omit")
    return base + ph + zone


def bur_text(rng: Rng, b: int, u: int, r: int, has_unit: bool, form: str) -> str:
    """Building, unit and room in the form."""
    fl, door = divmod(r, 100)
    if not has_unit and form in ("reversed",):
        form = "canon"
    unit = f"{u}单元" if has_unit else ""
    if form == "canon":
        return f"{b}幢{unit}{r}室"
    if form == "no_shi":
        return f"{b}幢{unit}{r}"
    if form == "dong":
        return f"{b}栋{unit}{r}室"
    if form == "haolou":
        return f"{b}号楼{unit}{r}"
    if form == "reversed":
        return f"{u}单元{b}幢{r}"
    if form == "hao_bldg":
        return f"{b}号{u}-{r}" if has_unit else f"{b}号{r}室"
    if form == "dash3":
        return f"{b}-{u}-{r}" if has_unit else f"{b}-{r}"
    if form == "unit_dropped":
        return f"{b}幢{r}" if rng.p(0.7) else f"{b}-{r}"
    if form == "floor_ins":
        return f"{b}幢{unit}{fl}楼{r}"
    if form == "floor_door":
        return f"{b}幢{unit}{fl}-{door}"
    if form == "zero_pad":
        return f"{b}幢{unit}{r:04d}"
    if form == "hash":
        return f"{b}#{u}-{r}" if has_unit and rng.p(0.6) else f"{b}#{r}"
    if form == "cn_num":
        return f"{cn_number(b)}幢" + (f"{cn_number(u)}单元" if has_unit else "") + f"{r}室"
    raise ValueError(form)


def flat_address(rng: Rng, d: Dwelling, w: Worker, tags: list[str], sep: str) -> str:
    """The address of a flat as the worker writes it."""
    est: Estate = d.comp  # type: ignore[assignment]
    has_unit = est.units > 1
    if est.kind == "danwei":
        form = DANWEI_FORMS.pick(rng)
        tags.append("danwei:" + form)
        if form == "road":
            head = f"{est.road}{est.road_no}号"
        elif form == "danwei":
            head = est.base
        else:
            head = est.short
    else:
        head = estate_text(rng, est, w, tags)
    if sep:
        tags.append("addr:concat")
        parts = [head, f"{d.a}", f"{d.b}", f"{d.c}"] if rng.p(0.6) else [head, f"{d.a}幢", f"{d.b}单元", f"{d.c}室"]
        if not has_unit:
            parts.pop(2)
        return sep.join(x for x in parts if x)
    form = habit(rng, w.flat, FLAT_FORMS, w.stick)
    tags.append("flat:" + form)
    text = head + bur_text(rng, d.a, d.b, d.c, has_unit, form)
    if d.top_floor and est.floors <= 7 and rng.p(0.12):
        text += "阁楼"
        tags.append("flat:attic")
    return text


def village_address(rng: Rng, d: Dwelling, w: Worker, tags: list[str], sep: str, tenant: bool) -> str:
    """The address of a village house as the worker writes it."""
    v: Village = d.comp  # type: ignore[assignment]
    admin = v.admin  # 大岙村
    admin_stem = admin[:-1]  # 大岙
    nat = v.naturals[d.a]
    g, n = d.b, d.c
    form = habit(rng, w.village, VILLAGE_FORMS, w.stick)
    if w.ao_typo and "岙" in nat + admin and rng.p(0.5):
        nat, admin_stem = nat.replace("岙", rng.pick("奥嶴")), admin_stem.replace("岙", rng.pick("奥嶴"))
        admin = admin_stem + "村"
        tags.append("village:ao_typo")
    num = f"{n}号"
    if rng.p(0.03):
        num = cn_number(n) + "号" if n < 100 else num
        tags.append("village:cn_num")
    elif rng.p(0.05):
        num = f"{n}"
        tags.append("village:no_hao")
    tags.append("village:" + form)
    if form == "reg":
        core = [admin, nat if v.reg_form == "nat" else cn_number(g) + "组", num]
    elif form == "full_nat":
        core = [admin, nat, num]
    elif form == "nat_only":
        core = [nat, num]
    elif form == "nat_zrc":
        core = [nat + "自然村", num]
    elif form == "nat_cun":
        core = [nat + "村", num]
    elif form == "v_drop_cun":
        core = [admin_stem, nat, num]
    elif form == "v_ao":
        core = [admin_stem + ("村" if admin_stem.endswith("岙") else "岙"), nat, num]
    elif form == "group_ar":
        core = [admin, f"{g}组", num]
    elif form == "group_cn":
        core = [admin, cn_number(g) + "组", num]
    elif form == "group_dui":
        core = [admin, (f"{g}" if rng.p(0.5) else cn_number(g)) + "队", num]
    else:  # group_she
        core = [admin_stem, f"{g}社", num]
    if (
        nat.endswith("岙")
        and len(nat) >= 3
        and form in ("nat_only", "full_nat", "v_drop_cun", "nat_cun")
        and rng.p(0.3)
    ):
        core = [x.replace(nat, nat[:-1]) if x == nat else x for x in core]
        tags.append("village:ao_dropped")
    text = sep.join(core) if sep else "".join(core)
    if sep:
        tags.append("addr:concat")
    if tenant and rng.p(0.2):
        text += rng.pick(("出租房", "后屋", "楼上"))
        tags.append("village:qualifier")
    elif rng.p(0.06):
        text += rng.pick(VILLAGE_QUALIFIERS)
        tags.append("village:qualifier")
    return text


def lane_address(rng: Rng, d: Dwelling, w: Worker, tags: list[str], sep: str) -> str:
    """The address of a lane house as the worker writes it."""
    st: Street = d.comp  # type: ignore[assignment]
    form = habit(rng, w.lane, LANE_FORMS, w.stick)
    name = st.name
    if form == "former" and st.former:
        name = st.former
    elif form == "former":
        form = "canon"
    if form == "suffix_swap":
        swaps = {"巷": "弄", "街": "路", "路": "街", "弄": "巷"}
        name = name[:-1] + swaps.get(name[-1], name[-1])
    tags.append("lane:" + form)
    lane, n = d.a, d.c
    if form == "dash" and lane:
        core = f"{name}{lane}-{n}号"
    elif form == "dash":
        core = f"{name}{n}号" if rng.p(0.5) else f"{name}{n}"
    elif form == "no_hao":
        core = f"{name}{lane}弄{n}" if lane else f"{name}{n}"
    elif form == "cn_num":
        core = f"{name}{cn_number(lane)}弄{cn_number(n)}号" if lane else f"{name}{cn_number(n)}号"
    else:
        core = f"{name}{lane}弄{n}号" if lane else f"{name}{n}号"
    if d.kind == "outb":
        core += rng.pick(("附房", "附房", "旁附房", "后面附房"))
    elif form == "qualifier":
        core += rng.pick(("楼上", "楼下", "后屋", "里间"))
    if sep:
        tags.append("addr:concat")
        core = core.replace("弄", "弄" + sep, 1) if lane else core
        core = name + sep + core[len(name) :]
    return core


def outb_address(rng: Rng, d: Dwelling, w: Worker, tags: list[str]) -> str:
    """The address of an outbuilding (garage, storeroom, 附房) as the worker writes it."""
    if isinstance(d.comp, Street):
        return lane_address(rng, d, w, tags, "")
    est: Estate = d.comp  # type: ignore[assignment]
    head = est.base if est.kind == "danwei" else estate_text(rng, est, w, tags)
    form = OUTB_FORMS.pick(rng)
    tags.append("outb:" + d.extra)
    b, k, word = d.a, d.c, d.extra
    if form == "canon":
        core = f"{b}幢{word}{k}号"
    elif form == "hao":
        core = f"{b}幢{k}号{word}"
    elif form == "hash":
        core = f"{b}#{word}{k}"
    elif form == "dash":
        core = f"{b}-{word}-{k}"
    elif form == "nonum":
        core = f"{b}幢{word}" if word != "车库" else f"{b}幢下{word}"
    else:
        core = f"{word}{b}-{k}"
    return head + core


def shop_address(rng: Rng, d: Dwelling, w: Worker, tags: list[str]) -> str:
    """The address of a shop as the worker writes it."""
    est: Estate = d.comp  # type: ignore[assignment]
    form = SHOP_FORMS.pick(rng)
    tags.append("shop:" + form)
    b, k = d.a, d.c - 100
    if form == "road":
        return f"{est.road}{est.road_no + 2 * k}号" + rng.pick(("店面", "", "(店面)"))
    head = estate_text(rng, est, w, tags)
    if form == "canon":
        return f"{head}{b}幢B{d.c}"
    if form == "dianmian":
        return f"{head}{b}幢{d.c}店面"
    return f"{head}{b}幢底商{k}号"


def dorm_address(rng: Rng, d: Dwelling, tags: list[str]) -> str:
    """The address of a company dorm room."""
    comp: Company = d.comp  # type: ignore[assignment]
    form = DORM_FORMS.pick(rng)
    tags.append("dorm:" + form)
    letter = "ABC"[d.a - 1]
    if form == "company_room":
        return f"{comp.short}{comp.industry}宿舍{d.c}"
    if form == "short_bldg":
        return f"{comp.short}{rng.pick(('公司', '厂', ''))}宿舍{letter}幢{d.c}"
    if form == "road_room":
        return f"{comp.road}{comp.road_no}号宿舍{d.c}室"
    if form == "park_full":
        return f"{comp.park}{comp.name}宿舍"
    return f"{comp.short}宿舍{d.c // 100}楼"


def prefix_text(rng: Rng, comm: Community, w: Worker, tags: list[str]) -> str:
    """Administrative prefix before the address (community, town, county, ...), as the worker writes it."""
    form = habit(rng, w.prefix, PREFIX_FORMS, w.stick)
    tags.append("prefix:" + form)
    town = comm.town
    return {
        "none": "",
        "community": comm.name,
        "town": town.name,
        "colloquial": town.colloquial,
        "county": COUNTY,
        "county_town": COUNTY + town.name,
        "province": PROVINCE + PREFECTURE + COUNTY + town.name,
    }[form]


def render_address(
    rng: Rng,
    city: City,
    comm: Community,
    d: Dwelling,
    unit: Unit,
    slot: int,
    w: Worker,
    profile: RollProfile,
    tags: list[str],
) -> str:
    """The address of the unit's dwelling as the worker writes it: prefix, stray spaces, full-width digits."""
    sep = profile.concat_sep
    tenant = unit.kind.startswith("migrant")
    if d.kind == "flat":
        core = flat_address(rng, d, w, tags, sep)
        if d.split and not sep:
            core += f"-{slot + 1}" if rng.p(0.8) else f"({slot + 1}号房)"
            tags.append("flat:split_room")
    elif d.kind == "house":
        core = village_address(rng, d, w, tags, sep, tenant)
    elif d.kind == "lane":
        core = lane_address(rng, d, w, tags, sep)
        if d.split and not sep and rng.p(0.5):
            core += rng.pick(("楼上", "楼下", "后间", "前间"))
            tags.append("lane:split_room")
    elif d.kind == "outb":
        core = outb_address(rng, d, w, tags)
    elif d.kind == "shop":
        core = shop_address(rng, d, w, tags)
    else:
        core = dorm_address(rng, d, tags)
    prefix = prefix_text(rng, comm, w, tags)
    if prefix and core.startswith(prefix):
        prefix = ""
    text = prefix + core
    if rng.p(w.spaces):
        cut = rng.between(1, max(1, len(text) - 1))
        text = text[:cut] + rng.pick((" ", "  ", "　")) + text[cut:]
        tags.append("addr:space")
    if rng.p(w.fullwidth):
        text = text.translate(FULLWIDTH)
        tags.append("addr:fullwidth")
    return text


# --- person fields --------------------------------------------------------


NAME_NOISE = Weighted(
    {
        "none": 900,
        "traditional": 15,
        "homophone": 20,
        "lookalike": 7,
        "swapped": 8,
        "dropped_char": 7,
        "inner_space": 25,
        "stray_space": 12,
    }
)
COMPOUND_SURNAMES = ("欧阳", "诸葛", "司马", "上官", "东方")


def render_name(rng: Rng, p: Person, tags: list[str]) -> str:
    """The name as a worker typed it; at most one habit per record, tagged."""
    name = p.name
    if p.former and rng.p(0.4):
        tags.append("name:former")
        return p.former
    if "·" in name:
        dot = rng.choices(("·", "•", ".", "・", "．", "", " "), cum_weights=(55, 70, 80, 86, 90, 97, 100))[0]
        if dot != "·":
            tags.append("name:dot_variant")
        return name.replace("·", dot)
    compound = name[:2] in COMPOUND_SURNAMES
    if "阿" in name[1:] and rng.p(0.3):
        tags.append("name:ah_dropped")
        return name.replace("阿", "", 1)
    if compound and rng.p(0.25):
        tags.append("name:compound_space")
        return name[:2] + " " + name[2:]
    habit_ = NAME_NOISE.pick(rng)
    new = name
    if habit_ == "traditional":
        new = "".join(TRAD.get(ch, ch) for ch in name)
    elif habit_ == "homophone":
        spots = [i for i, ch in enumerate(name) if i > 0 and ch in NAME_HOMOPHONES]
        if spots:
            i = rng.pick(spots)
            new = name[:i] + rng.pick(NAME_HOMOPHONES[name[i]]) + name[i + 1 :]
    elif habit_ == "lookalike":
        spots = [i for i, ch in enumerate(name) if ch in NAME_LOOKALIKE]
        if spots:
            i = rng.pick(spots)
            new = name[:i] + NAME_LOOKALIKE[name[i]] + name[i + 1 :]
    elif habit_ == "swapped" and len(name) == 3 and not compound:
        new = name[0] + name[2] + name[1]
    elif habit_ == "dropped_char" and len(name) == 3 and not compound:
        new = name[:2]
    elif habit_ == "inner_space" and len(name) == 2:
        new = name[0] + rng.pick((" ", "  ", "　")) + name[1]
    elif habit_ == "stray_space":
        new = name + " " if rng.p(0.5) else " " + name
    if new != name:
        tags.append("name:" + habit_)
    return new


def excel_number_id(idno: str) -> float:
    """The ID as Excel keeps it when typed as a number (15 significant digits)."""
    return float(f"{float(idno):.15g}")


def render_id(rng: Rng, p: Person, profile: RollProfile, tags: list[str]) -> str | float:
    """The ID number as typed (blank, 15-digit, wrong digits, spaces, number, ...), tagged."""
    idno = p.idno
    if rng.p(profile.id_blank):
        tags.append("id:blank")
        return ""
    r = rng.random()
    old = p.birth.year < 1955
    if r < (0.08 if old else 0.004):
        tags.append("id:15digit")
        return id15(idno)
    r = rng.random()
    if r < 0.012:
        i = rng.between(6, 16)
        digit = str((int(idno[i]) + rng.between(1, 9)) % 10)
        tags.append("id:one_digit_wrong")
        return idno[:i] + digit + idno[i + 1 :]
    if r < 0.020:
        i = rng.between(6, 15)
        if idno[i] != idno[i + 1]:
            tags.append("id:swapped_digits")
            return idno[:i] + idno[i + 1] + idno[i] + idno[i + 2 :]
    if r < 0.026:
        tags.append("id:wrong_check")
        return idno[:17] + rng.pick([c for c in "0123456789X" if c != idno[17]])
    if r < 0.033:
        tags.append("id:spaces")
        return f"{idno[:6]} {idno[6:14]} {idno[14:]}"
    if r < 0.039:
        tags.append("id:fullwidth")
        return idno.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    if r < 0.044:
        tags.append("id:truncated")
        return idno[:17]
    if idno.endswith("X") and rng.p(0.25):
        tags.append("id:lowercase_x")
        return idno[:17] + "x"
    if not idno.endswith("X") and rng.p(profile.id_number_share):
        tags.append("id:excel_number")
        if profile.fmt == "xlsx":
            return excel_number_id(idno)
        mant, exp = f"{float(idno):.5E}".split("E")
        return f"{mant.rstrip('0').rstrip('.')}E+{int(exp)}"
    return idno


def render_birth(rng: Rng, p: Person, profile: RollProfile) -> str | dt.date:
    """The birth date in the profile's style (or blank)."""
    if rng.p(profile.birth_blank):
        return ""
    b = p.birth
    style = profile.birth_style
    if style == "excel":
        return b
    if style == "dash":
        return f"{b:%Y-%m-%d}"
    if style == "slash":
        return f"{b.year}/{b.month}/{b.day}" if rng.p(0.5) else f"{b:%Y/%m/%d}"
    return f"{b:%Y%m%d}"


# ---------------------------------------------------------------------------
# Roll records and layout
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class RollRecord:
    """One data row of a roll, with its cells and the habits used to write them."""

    pid: int
    uid: int
    did: int
    grid: int
    cells: dict[str, Any]
    addr_tags: list[str]
    name_tags: list[str]
    id_tags: list[str]
    dup: bool = False
    registered_here: bool = False


@dataclass(slots=True)
class SheetRow:
    """One row of a roll sheet: data, blank, note or total."""

    kind: str  # data | blank | note | total
    rec: RollRecord | None = None
    text: str = ""
    merge_span: int = 0  # address merged over this many rows (first row of a span)
    addr_hidden: bool = False


@dataclass
class SheetPlan:
    """One sheet of a roll and its rows."""

    name: str
    rows: list[SheetRow]
    has_header: bool = True


def unit_members(city: City, unit: Unit) -> list[Person]:
    """The persons of a unit, head first."""
    persons = [city.persons[pid - 1] for pid in unit.pids]
    return sorted(persons, key=lambda p: (REL_RANK.get(rel_code(p), 6), p.birth))


def rel_code(p: Person) -> str:
    """The register relation code of the roll relation label."""
    return {
        "户主": "02",
        "配偶": "10",
        "妻": "10",
        "父亲": "51",
        "母亲": "52",
        "子": "20",
        "女": "30",
        "孙子": "41",
        "孙女": "42",
    }.get(p.rel_label, "99")


def build_records(city: City, comm: Community, profile: RollProfile, rng: Rng) -> list[RollRecord]:
    """Roll records of everyone living in the community, dwelling by dwelling."""
    recs: list[RollRecord] = []
    for did in comm.dwell_ids:
        d = city.dwellings[did]
        for slot, uid in enumerate(d.units):
            unit = city.units[uid]
            w = profile.workers[d.grid]
            tags: list[str] = []
            addr = render_address(rng, city, comm, d, unit, slot, w, profile, tags)
            head_phone = phone_number(rng)
            for i, p in enumerate(unit_members(city, unit)):
                a_tags = list(tags)
                a = addr
                if i > 0 and rng.p(0.08):
                    a_tags = []
                    a = render_address(rng, city, comm, d, unit, slot, w, profile, a_tags)
                recs.append(make_record(rng, city, comm, profile, p, unit, d, a, a_tags, head_phone, i))
    return recs


def make_record(
    rng: Rng,
    city: City,
    comm: Community,
    profile: RollProfile,
    p: Person,
    unit: Unit,
    d: Dwelling,
    addr: str,
    addr_tags: list[str],
    head_phone: str,
    member_idx: int,
) -> RollRecord:
    """The roll record of one person: cells as typed by the worker."""
    name_tags: list[str] = []
    id_tags: list[str] = []
    age = EXTRACT_DATE.year - p.birth.year
    phone = head_phone if (member_idx == 0 or rng.p(0.5)) else phone_number(rng)
    if age < 16 or rng.p(0.06):
        phone = ""
    registered_here = p.active_row >= 0 and city.reg_rows[p.active_row].comm == comm.idx
    hukou = ("本村" if comm.kind == "village" else "本社区") if registered_here else p.origin
    if not registered_here and p.active_row >= 0:
        hukou = (
            COUNTY
            + city.comms[city.reg_rows[p.active_row].comm].town.name
            + city.comms[city.reg_rows[p.active_row].comm].name
        )
    if registered_here and rng.p(0.3):
        hukou = ""
    note = unit.note if (member_idx == 0 or rng.p(0.3)) else ""
    cells = {
        "grid": comm.grids[d.grid],
        "name": render_name(rng, p, name_tags),
        "sex": "" if rng.p(0.04) else ("男" if p.sex == 1 else "女"),
        "ethnic": p.ethnic if rng.p(0.9) else p.ethnic.rstrip("族"),
        "id": render_id(rng, p, profile, id_tags),
        "birth": render_birth(rng, p, profile),
        "rel": p.rel_label or ("户主" if member_idx == 0 else rng.pick(("同住", "租户", "其他"))),
        "phone": phone,
        "addr": addr,
        "hukou": hukou,
        "nature": unit.nature if rng.p(0.93) else "",
        "work": p.work or ("" if rng.p(0.6) else rng.pick(("个体", "务工", "渔民", "退休", "无", "学生"))),
        "regdate": dt.date(2024, rng.between(3, 6), rng.between(1, 28)),
        "note": note,
    }
    return RollRecord(
        pid=p.pid,
        uid=unit.uid,
        did=d.did,
        grid=d.grid,
        cells=cells,
        addr_tags=addr_tags,
        name_tags=name_tags,
        id_tags=id_tags,
        registered_here=registered_here,
    )


def add_duplicates(
    rng: Rng, city: City, comm: Community, profile: RollProfile, recs: list[RollRecord]
) -> list[RollRecord]:
    """Second records of the same person: re-typed by the same or a neighbouring grid's worker."""
    out: list[RollRecord] = []
    pending: list[tuple[int, RollRecord]] = []
    n = len(recs)
    for i, rec in enumerate(recs):
        out.append(rec)
        if rng.p(profile.dup_rate):
            dup = retype(rng, city, comm, profile, rec)
            where = rng.random()
            if where < 0.45:
                out.append(dup)
            else:
                pending.append((min(n - 1, i + rng.between(5, 400)), dup))
    if pending:
        pending.sort(key=lambda t: t[0])
        merged: list[RollRecord] = []
        j = 0
        base_index = 0
        for rec in out:
            merged.append(rec)
            if not rec.dup:
                while j < len(pending) and pending[j][0] <= base_index:
                    merged.append(pending[j][1])
                    j += 1
                base_index += 1
        merged.extend(d for _, d in pending[j:])
        out = merged
    return out


def retype(rng: Rng, city: City, comm: Community, profile: RollProfile, rec: RollRecord) -> RollRecord:
    """A duplicate of the record, written again by the same or a neighbouring grid's worker."""
    p = city.persons[rec.pid - 1]
    unit = city.units[rec.uid]
    d = city.dwellings[rec.did]
    w = profile.workers[(d.grid + rng.pick((0, 1))) % len(profile.workers)]
    tags: list[str] = []
    slot = d.units.index(unit.uid)
    addr = render_address(rng, city, comm, d, unit, slot, w, profile, tags)
    dup = make_record(rng, city, comm, profile, p, unit, d, addr, tags, rec.cells["phone"] or phone_number(rng), 1)
    dup.dup = True
    return dup


def order_records(city: City, profile: RollProfile, recs: list[RollRecord]) -> list[RollRecord]:
    """The records in the profile's order: by building name, or tenants last, or as they are."""
    if profile.sort == "building_name":

        def key(r: RollRecord) -> tuple[int, int, int, str]:
            d = city.dwellings[r.did]
            return (r.grid, d.ci, d.a, str(r.cells["name"]))

        return sorted(recs, key=key)
    if profile.tenant_note:
        return [r for r in recs if r.registered_here] + [r for r in recs if not r.registered_here]
    return recs


def layout_sheets(
    rng: Rng, city: City, comm: Community, profile: RollProfile, recs: list[RollRecord]
) -> list[SheetPlan]:
    """Split the records into sheets by the profile's sheet mode."""
    mode = profile.sheet_mode
    late: list[RollRecord] = []
    if profile.new_sheet:
        keep: list[RollRecord] = []
        for r in recs:
            (late if rng.p(0.03) else keep).append(r)
        recs = keep
    groups: list[tuple[str, list[RollRecord]]]
    if mode == "grid_sheets":
        groups = [(g, [r for r in recs if r.grid == gi]) for gi, g in enumerate(comm.grids)]
        groups = [(n, rs) for n, rs in groups if rs]
    elif mode == "paged":
        size = rng.pick((500, 800, 1000, 1500))
        style = rng.pick(("Sheet{}", "第{}页", "{}"))
        groups = [(style.format(i // size + 1), recs[i : i + size]) for i in range(0, len(recs), size)]
    elif mode == "split_tenant":
        groups = [
            ("户籍人口", [r for r in recs if r.registered_here]),
            ("流动人口", [r for r in recs if not r.registered_here]),
        ]
    else:
        groups = [(rng.pick(("Sheet1", "实有人口", "人口信息", "登记表", comm.name)), recs)]
    if late:
        groups.append(("新增", late))
    sheets = [SheetPlan(name, rows_for(rng, profile, rs, mode)) for name, rs in groups]
    if profile.cover_sheet:
        sheets.insert(0, SheetPlan("填表说明", [], has_header=False))
    if profile.summary_sheet:
        sheets.append(SheetPlan("汇总", [], has_header=False))
    return sheets


def rows_for(rng: Rng, profile: RollProfile, recs: list[RollRecord], mode: str) -> list[SheetRow]:
    """The rows of one sheet: notes, blank rows, data rows and a total row."""
    rows: list[SheetRow] = []
    noted = False
    last_grid = None
    for r in recs:
        if (
            profile.tenant_note
            and profile.sort == "household"
            and not noted
            and not r.registered_here
            and mode in ("single", "paged", "grid_sheets")
        ):
            rows.append(SheetRow("note", text=rng.pick(("以下为出租户", "以下为流动人口", "以下为出租户（外来人口）"))))
            noted = True
        if last_grid is not None and r.grid != last_grid and mode == "single" and rng.p(0.5):
            rows.append(SheetRow("blank"))
        last_grid = r.grid
        if rng.p(profile.blank_rate):
            rows.append(SheetRow("blank"))
        rows.append(SheetRow("data", rec=r))
    mark_spans(profile, rows)
    if profile.total_row and recs:
        rows.append(SheetRow("total", text=profile.total_row))
    return rows


def mark_spans(profile: RollProfile, rows: list[SheetRow]) -> None:
    """Merged address cells or 同上 over consecutive rows of one unit (only grids whose worker does this)."""
    if not (profile.merge_address or profile.ditto):
        return
    tag = "addr:merged" if profile.merge_address else "addr:ditto"
    i = 0
    while i < len(rows):
        first = rows[i].rec
        if rows[i].kind != "data" or first is None:
            i += 1
            continue
        j = i + 1
        while j < len(rows) and same_unit_row(rows[j], first.uid):
            j += 1
        if j - i >= 2 and profile.workers[first.grid].merges:
            for k in range(i + 1, j):
                rec = rows[k].rec
                assert rec is not None  # noqa: S101  data rows always carry a record
                rec.cells["addr"] = first.cells["addr"]
                rec.addr_tags = [*first.addr_tags, tag]
                rows[k].addr_hidden = True
            rows[i].merge_span = j - i
        i = j


def same_unit_row(row: SheetRow, uid: int) -> bool:
    """True if the row is an original data row of the unit."""
    return row.kind == "data" and row.rec is not None and row.rec.uid == uid and not row.rec.dup


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------

COVER_LINES = (
    "填表说明：",
    "1. 本表由社区网格员入户登记填写，每人一行。",
    "2. 身份证号请填写18位，外来人员请注明户籍地。",
    "3. 现住地址请写到门牌号（幢、单元、室）。",
    "4. 出租房屋请在备注中注明“出租”。",
)


def cell_value(rec: RollRecord, field_name: str, seq: int, hidden_addr: bool, ditto: bool) -> object:
    """The value of one cell of a data row."""
    if field_name == "seq":
        return seq
    if field_name == "addr" and hidden_addr:
        return "同上" if ditto else None
    return rec.cells.get(field_name, "")


def write_xlsx_roll(
    path: Path, comm: Community, profile: RollProfile, sheets: list[SheetPlan], truth: list[dict[str, Any]]
) -> None:
    """Write the roll as an xlsx workbook; append a truth row per data row."""
    wb = xlsxwriter.Workbook(
        str(path),
        {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    wb.set_properties({"created": FIXED_TIME, "author": comm.name, "title": f"{comm.name}实有人口登记表"})
    title_fmt = wb.add_format({"bold": True, "align": "center", "font_size": 14})
    head_fmt = wb.add_format({"bold": True, "border": 1})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    id_fmt = wb.add_format({"num_format": "0"})
    merge_fmt = wb.add_format({"valign": "vcenter"})
    cols = profile.columns
    addr_col = next(i for i, (_, f) in enumerate(cols) if f == "addr")
    for sheet in sheets:
        ws = wb.add_worksheet(sheet.name)
        if not sheet.has_header:
            write_side_sheet(ws, sheet.name, comm, sheets)
            continue
        r0 = 0
        if profile.title_rows >= 1:
            ws.merge_range(0, 0, 0, len(cols) - 1, f"{comm.name}实有人口登记表", title_fmt)
            r0 = 1
        if profile.title_rows >= 2:
            office = comm.name + ("委会" if comm.kind == "village" else "居委会")
            ws.write_string(1, 0, f"填报单位：{comm.town.name}{office}    填报日期：2024年6月")
            r0 = 2
        for ci, (h, _) in enumerate(cols):
            ws.write_string(r0, ci, h, head_fmt)
        row_i = r0 + 1
        seq = 0
        n_data = sum(1 for r in sheet.rows if r.kind == "data")
        for srow in sheet.rows:
            if srow.kind == "blank":
                row_i += 1
                continue
            if srow.kind == "note":
                ws.write_string(row_i, 0, srow.text)
                row_i += 1
                continue
            if srow.kind == "total":
                write_total(ws, row_i, profile, cols, r0, n_data)
                row_i += 1
                continue
            rec = srow.rec
            assert rec is not None  # noqa: S101  data rows always carry a record
            seq += 1
            for ci, (_, f) in enumerate(cols):
                if f == "addr" and srow.merge_span >= 2 and profile.merge_address:
                    ws.merge_range(row_i, ci, row_i + srow.merge_span - 1, ci, rec.cells["addr"], merge_fmt)
                    continue
                if f == "addr" and srow.addr_hidden and profile.merge_address:
                    continue
                v = cell_value(rec, f, seq, srow.addr_hidden, profile.ditto)
                write_cell(ws, row_i, ci, v, date_fmt, id_fmt)
            truth.append(roll_truth_row(rec, comm, f"{comm.code}_{comm.name}.xlsx", sheet.name, row_i + 1))
            row_i += 1
        ws.set_column(addr_col, addr_col, 36)
    wb.close()


def write_cell(ws: Any, r: int, c: int, v: object, date_fmt: Any, id_fmt: Any) -> None:
    """Write one value with the writer method for its type."""
    if v is None or v == "":
        return
    if isinstance(v, dt.date):
        ws.write_datetime(r, c, dt.datetime(v.year, v.month, v.day), date_fmt)
    elif isinstance(v, float):
        ws.write_number(r, c, v, id_fmt)
    elif isinstance(v, int):
        ws.write_number(r, c, v)
    else:
        ws.write_string(r, c, v)


def write_total(ws: Any, r: int, profile: RollProfile, cols: list[tuple[str, str]], r0: int, n_data: int) -> None:
    """Write the total row (text or COUNTA formula)."""
    name_col = next(i for i, (_, f) in enumerate(cols) if f == "name")
    ws.write_string(r, 0, "合计")
    if profile.total_row == "formula":
        col_letter = xlsxwriter.utility.xl_col_to_name(name_col)
        ws.write_formula(r, name_col, f"=COUNTA({col_letter}{r0 + 2}:{col_letter}{r})", None, n_data)
    else:
        ws.write_string(r, name_col, f"共{n_data}人")


def write_side_sheet(ws: Any, name: str, comm: Community, sheets: list[SheetPlan]) -> None:
    """Write the cover sheet or summary sheet."""
    if name == "填表说明":
        for i, line in enumerate(COVER_LINES):
            ws.write_string(i, 0, line)
        return
    ws.write_string(0, 0, "网格")
    ws.write_string(0, 1, "户数")
    ws.write_string(0, 2, "人数")
    for i, s in enumerate(x for x in sheets if x.has_header):
        recs = [r.rec for r in s.rows if r.kind == "data"]
        ws.write_string(i + 1, 0, s.name)
        ws.write_number(i + 1, 1, len({r.uid for r in recs}))  # type: ignore[union-attr]
        ws.write_number(i + 1, 2, len(recs))


def csv_cell(v: object) -> str:
    """The text of a value in a csv roll."""
    if v is None:
        return ""
    if isinstance(v, dt.date):
        return f"{v:%Y-%m-%d}"
    if isinstance(v, float):
        return f"{v:.0f}"
    return str(v)


def write_csv_roll(
    path: Path, comm: Community, profile: RollProfile, sheets: list[SheetPlan], truth: list[dict[str, Any]]
) -> None:
    """Write the roll as a csv file; append a truth row per data row."""
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\r\n")
    cols = profile.columns
    wr.writerow([h for h, _ in cols])
    line = 1
    seq = 0
    name_col = next(i for i, (_, f) in enumerate(cols) if f == "name")
    for sheet in sheets:
        n_data = sum(1 for r in sheet.rows if r.kind == "data")
        for srow in sheet.rows:
            line += 1
            if srow.kind == "blank":
                wr.writerow([""] * len(cols))
            elif srow.kind == "note":
                wr.writerow([srow.text] + [""] * (len(cols) - 1))
            elif srow.kind == "total":
                row = [""] * len(cols)
                row[0], row[name_col] = "合计", f"共{n_data}人"
                wr.writerow(row)
            else:
                rec = srow.rec
                assert rec is not None  # noqa: S101  data rows always carry a record
                seq += 1
                wr.writerow([csv_cell(cell_value(rec, f, seq, srow.addr_hidden, profile.ditto)) for _, f in cols])
                truth.append(roll_truth_row(rec, comm, path.name, None, line))
    path.write_bytes(buf.getvalue().encode(profile.encoding))


def roll_truth_row(rec: RollRecord, comm: Community, file: str, sheet: str | None, row: int) -> dict[str, Any]:
    """The first fields of the truth row of a roll row (finished by finish_roll_truth)."""
    return {
        "roll_file": file,
        "roll_sheet": sheet,
        "roll_row": row,
        "pid": rec.pid,
        "community_code": comm.code,
        "_rec": rec,
    }


REGISTER_COLUMNS = (
    "身份证号码",
    "姓名",
    "曾用名",
    "性别",
    "民族",
    "出生日期",
    "户号",
    "与户主关系代码",
    "住址",
    "派出所",
    "乡镇街道",
    "村居委会",
    "居委会代码",
    "人员状态",
    "迁入日期",
    "户类型",
    "服务处所",
)


def register_address(city: City, r: RegRow) -> str:
    """The address of a register row as the register writes it."""
    comm = city.comms[r.comm]
    d = city.dwellings[r.dw]
    head = PROVINCE + COUNTY + comm.town.name
    if d.kind == "collective":
        return head + comm.name + "集体户"
    if d.kind == "dorm_addr":
        comp: Company = d.comp  # type: ignore[assignment]
        return head + f"{comp.road}{comp.road_no}号（{comp.name}集体户）"
    if d.kind in ("flat", "outb", "shop"):
        est: Estate = d.comp  # type: ignore[assignment]
        name = f"{est.road}{est.road_no}号" if est.kind == "danwei" else est.reg_name()
        unit = f"{d.b}单元" if est.units > 1 else ""
        return head + f"{name}{d.a}{est.bldg_word}{unit}{d.c}室"
    if d.kind == "house":
        v: Village = d.comp  # type: ignore[assignment]
        mid = v.naturals[d.a] if v.reg_form == "nat" else cn_number(d.b) + "组"
        return head + f"{v.admin}{mid}{d.c}号"
    st: Street = d.comp  # type: ignore[assignment]
    lane = f"{d.a}弄" if d.a else ""
    return head + f"{st.name}{lane}{d.c}号" + ("附房" if d.extra == "附房" else "")


def write_register(city: City, out: Path) -> list[dict[str, Any]]:
    """Write the register extract csv; return its truth rows."""
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\r\n")
    wr.writerow(REGISTER_COLUMNS)
    truth: list[dict[str, Any]] = []
    for r in city.reg_rows:
        p = city.persons[r.pid - 1]
        comm = city.comms[r.comm]
        hh_type = "集体户" if r.hh_kind in ("collective", "company") else "家庭户"
        work = p.work if r.hh_kind == "company" else ""
        wr.writerow(
            (
                r.id_shown,
                p.name,
                p.former,
                p.sex,
                ETHNIC_CODES[p.ethnic],
                f"{p.birth:%Y%m%d}",
                r.hh_no,
                r.rel,
                register_address(city, r),
                comm.town.station,
                comm.town.name,
                comm.name + ("委会" if comm.kind == "village" else "居委会"),
                comm.code,
                r.status,
                f"{r.move_in:%Y-%m-%d}",
                hh_type,
                work,
            )
        )
        status, other = register_status(city, r)
        d = live_dwelling(city, p) if r.status == "正常" else None
        truth.append(
            {
                "register_file": REGISTER_FILE,
                "register_row": r.register_row,
                "pid": p.pid,
                "status": status,
                "other_community_code": other,
                "community_code": comm.code,
                "person_status": r.status,
                "household_kind": r.hh_kind,
                "register_address": register_address(city, r),
                "live_community_code": city.comms[d.comm].code if d else None,
                "live_dwelling_id": d.did if d else None,
                "register_dwelling_id": r.dw,
            }
        )
    (out / "register").mkdir(parents=True, exist_ok=True)
    (out / "register" / REGISTER_FILE).write_bytes(buf.getvalue().encode("gb18030"))
    return truth


def write_rolls(city: City, out: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Write every community's roll; return the truth rows and counts of roll habits."""
    (out / "rolls").mkdir(parents=True, exist_ok=True)
    truth: list[dict[str, Any]] = []
    fmt_stats: dict[str, int] = {}
    for comm in city.comms:
        rng = Rng(f"{city.seed}-roll-{comm.code}")
        profile = make_profile(rng, comm)
        recs = build_records(city, comm, profile, rng)
        recs = add_duplicates(rng, city, comm, profile, recs)
        recs = order_records(city, profile, recs)
        sheets = layout_sheets(rng, city, comm, profile, recs)
        start = len(truth)
        if profile.fmt == "xlsx":
            write_xlsx_roll(out / "rolls" / f"{comm.code}_{comm.name}.xlsx", comm, profile, sheets, truth)
        else:
            write_csv_roll(out / "rolls" / f"{comm.code}_{comm.name}.csv", comm, profile, sheets, truth)
        finish_roll_truth(city, comm, truth[start:])
        for key in profile_keys(profile):
            fmt_stats[key] = fmt_stats.get(key, 0) + 1
    return truth, fmt_stats


def profile_keys(profile: RollProfile) -> list[str]:
    """The roll habits of a profile, as counting keys."""
    keys = [
        f"format:{profile.fmt}" + (f"/{profile.encoding}" if profile.fmt == "csv" else ""),
        f"sheets:{profile.sheet_mode}",
        f"sort:{profile.sort}",
        f"title_rows:{profile.title_rows}",
    ]
    for flag in ("cover_sheet", "summary_sheet", "merge_address", "ditto", "tenant_note", "new_sheet"):
        if getattr(profile, flag):
            keys.append(flag)
    if profile.total_row:
        keys.append("total_row:" + profile.total_row)
    if profile.concat_sep:
        keys.append("address_concatenated")
    if profile.blank_rate:
        keys.append("blank_rows")
    if profile.id_number_share:
        keys.append("ids_as_numbers")
    return keys


def finish_roll_truth(city: City, comm: Community, rows: list[dict[str, Any]]) -> None:
    """Fill in the truth of a community's roll rows: status, unit, dwelling and habits."""
    seen: set[int] = set()
    for t in rows:
        rec: RollRecord = t.pop("_rec")
        p = city.persons[rec.pid - 1]
        status, other, reg_row = roll_status(city, p, comm.idx)
        if rec.pid in seen:
            status = "duplicate"
        seen.add(rec.pid)
        unit = city.units[rec.uid]
        t.update(
            {
                "register_row": reg_row,
                "status": status,
                "other_community_code": other,
                "unit_id": rec.uid,
                "dwelling_id": rec.did,
                "dwelling_kind": city.dwellings[rec.did].kind,
                "unit_kind": unit.kind,
                "address_written": str(rec.cells["addr"]),
                "name_written": str(rec.cells["name"]),
                "address_habits": "|".join(rec.addr_tags),
                "name_habits": "|".join(rec.name_tags),
                "id_habits": "|".join(rec.id_tags),
            }
        )


def write_truth(out: Path, reg_truth: list[dict[str, Any]], roll_truth: list[dict[str, Any]]) -> None:
    """Write the register and roll truth as parquet."""
    (out / "truth").mkdir(parents=True, exist_ok=True)
    reg_schema = pa.schema(
        [
            ("register_file", pa.string()),
            ("register_row", pa.int64()),
            ("pid", pa.int64()),
            ("status", pa.string()),
            ("other_community_code", pa.string()),
            ("community_code", pa.string()),
            ("person_status", pa.string()),
            ("household_kind", pa.string()),
            ("register_address", pa.string()),
            ("live_community_code", pa.string()),
            ("live_dwelling_id", pa.int64()),
            ("register_dwelling_id", pa.int64()),
        ]
    )
    roll_schema = pa.schema(
        [
            ("roll_file", pa.string()),
            ("roll_sheet", pa.string()),
            ("roll_row", pa.int64()),
            ("pid", pa.int64()),
            ("community_code", pa.string()),
            ("register_row", pa.int64()),
            ("status", pa.string()),
            ("other_community_code", pa.string()),
            ("unit_id", pa.int64()),
            ("dwelling_id", pa.int64()),
            ("dwelling_kind", pa.string()),
            ("unit_kind", pa.string()),
            ("address_written", pa.string()),
            ("name_written", pa.string()),
            ("address_habits", pa.string()),
            ("name_habits", pa.string()),
            ("id_habits", pa.string()),
        ]
    )
    pq.write_table(
        pa.Table.from_pylist(reg_truth, schema=reg_schema), out / "truth" / "register_truth.parquet", compression="zstd"
    )
    pq.write_table(
        pa.Table.from_pylist(roll_truth, schema=roll_schema), out / "truth" / "roll_truth.parquet", compression="zstd"
    )


# ---------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------


def shares(counter: dict[str, int], total: int) -> dict[str, float]:
    """Each count as a share of total, largest first."""
    return {k: round(v / total, 4) for k, v in sorted(counter.items(), key=lambda kv: -kv[1])} if total else {}


def measure(
    reg_truth: list[dict[str, Any]], roll_truth: list[dict[str, Any]], fmt_stats: dict[str, int], n_comm: int
) -> dict[str, Any]:
    """Summary statistics of the generated city."""

    def count(rows: Iterable[dict[str, Any]], key: str) -> dict[str, int]:
        c: dict[str, int] = {}
        for r in rows:
            c[r[key]] = c.get(r[key], 0) + 1
        return c

    reg_status = count(reg_truth, "status")
    absent_city = sum(1 for r in reg_truth if r["status"] == "absent" and r["other_community_code"])
    roll_status = count(roll_truth, "status")
    unreg_city = sum(1 for r in roll_truth if r["status"] == "unregistered" and r["other_community_code"])
    habits: dict[str, dict[str, int]] = {"address": {}, "name": {}, "id": {}}
    for r in roll_truth:
        for fam in ("address", "name", "id"):
            for tag in sorted(set(r[f"{fam}_habits"].split("|"))) if r[f"{fam}_habits"] else ():
                habits[fam][tag] = habits[fam].get(tag, 0) + 1
    dw_kinds = count(roll_truth, "dwelling_kind")
    sheets_of_unit: dict[tuple[str, int], set[str | None]] = {}
    for r in roll_truth:
        sheets_of_unit.setdefault((r["roll_file"], r["unit_id"]), set()).add(r["roll_sheet"])
    split_rows = sum(1 for r in roll_truth if len(sheets_of_unit[(r["roll_file"], r["unit_id"])]) > 1)
    n_roll = len(roll_truth)
    return {
        "communities": n_comm,
        "register_rows": len(reg_truth),
        "roll_rows": n_roll,
        "register_status": shares(reg_status, len(reg_truth)),
        "register_absent_elsewhere_in_city": round(absent_city / max(1, len(reg_truth)), 4),
        "register_household_kind": shares(count(reg_truth, "household_kind"), len(reg_truth)),
        "register_15digit_ids": round(sum(1 for r in reg_truth if r.get("_id15")) / max(1, len(reg_truth)), 4),
        "roll_status": shares(roll_status, n_roll),
        "roll_unregistered_registered_elsewhere_in_city": round(unreg_city / max(1, n_roll), 4),
        "roll_dwelling_kind": shares(dw_kinds, n_roll),
        "roll_rows_of_households_split_across_sheets": round(split_rows / max(1, n_roll), 4),
        "roll_address_habits": shares(habits["address"], n_roll),
        "roll_name_habits": shares(habits["name"], n_roll),
        "roll_id_habits": shares(habits["id"], n_roll),
        "roll_file_habits_communities": dict(sorted(fmt_stats.items())),
    }


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def generate(out: Path, n_rows: int, n_comm: int, seed: int) -> dict[str, Any]:
    """Generate the city into out; return summary statistics."""
    rng = Rng(f"{seed}-city")
    city = City(seed=seed)
    names = build_communities(city, n_rows, n_comm, rng)
    placements = build_register(city, rng, names)
    migrants = build_migrants(city, rng)
    settle(city, placements, migrants, Rng(f"{seed}-settle"))
    finalize_register(city)
    reg_truth = write_register(city, out)
    for t, r in zip(reg_truth, city.reg_rows, strict=True):
        t["_id15"] = len(r.id_shown) == 15
    roll_truth, fmt_stats = write_rolls(city, out)
    stats = measure(reg_truth, roll_truth, fmt_stats, len(city.comms))
    for t in reg_truth:
        t.pop("_id15", None)
    write_truth(out, reg_truth, roll_truth)
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--scale", type=float, default=None, help="1 = 48 communities, ~200,000 register rows")
    size.add_argument("--persons", type=int, default=None, help="target number of register rows")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.persons is not None:
        n_rows = args.persons
    else:
        n_rows = int(BASE_ROWS * (args.scale if args.scale is not None else 1.0))
    n_comm = max(8, round(BASE_COMMUNITIES * n_rows / BASE_ROWS))
    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    stats = generate(args.out, n_rows, n_comm, args.seed)
    stats["seconds"] = round(time.time() - t0, 1)
    stats["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(stats, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
