"""A second independent synthetic city (慈溪-like), written from the data contract alone.

Its author worked from the contract of the register extract, the community rolls and the truth files, and did
not read the engine or ``synth/``, so the pipeline meets data that none of its own assumptions shaped::

    python -m benchmarks.independent_city_b OUT [--scale S | --persons N] [--seed S]

Scale 1 is 260,000 people, 76 % of them registered (about 200,000, like the project's other cities); the rest
are migrants. OUT receives

- ``register/慈溪市公安局户籍人口数据_20240331.csv`` (GB18030): one row per registration, deaths, 迁出 and 注销
  included, and a 迁出 row in another household for a few intra-city transfers. Per police station, sex,
  relation and ethnicity are words or codes and dates are ``1980-01-31`` or ``19800131``; a few elderly keep a
  15-digit ID number.
- ``rolls/<code>_<name>.xlsx``, or ``.csv`` for four communities (UTF-8 with BOM or GB18030): one occupancy roll
  per community with its own column names and order, sometimes a cover sheet, and a few people listed twice.
- ``truth/register_truth.parquet`` and ``truth/roll_truth.parquet``: the status of every row.

What the rolls contain, as shares of roll rows for 100,000 people and seed 1:

- Status: 56.3 % consistent, 38.4 % unregistered (a fifth of them registered in another community), 4.6 % moved
  within the community, 0.6 % duplicates. Register rows: 58.9 % consistent, 34.3 % absent, 4.8 % moved within,
  2.0 % inactive.
- Addresses, written by grid workers who each keep favourite habits 60 % of the time. Estates: nothing before
  the estate 41 %, the community 9 %, the whole 浙江省宁波市慈溪市… 5 %, other mixes of city, street and
  community 16 %; the estate in full 54 %, by a homophone (城东新邨) 11 %, shortened, with a suffix dropped or
  added, or 1期 for 一期 5 %, left out 1.7 %; buildings as 幢 27 %, 栋 11 %, 号楼 10 %, 座 2 %, 号 1 %, or as
  1-1-102 13 % and 1#2单元 6 %; the unit dropped 17 %; rooms with 室 27 %, bare 16 %, 号 6 %, 房 3 %. Villages:
  the town (and city) before the village 9 %, the whole province to town 2 %; the village kept 23 %, without
  村 2 %, left out 2 %; the group as 1组 21 %, 一组 3 %, 第1组 1 %, left out 2 %; house numbers without 号 3 %.
  Company dormitories 2 %, by full or short company name. Anywhere: Chinese numerals 3 %, full-width digits 2 %,
  stray spaces 4 %.
- Names: exact 91.6 %; a homophone 2.8 %, stray spaces 3.0 %, traditional characters 1.0 %, a dropped character
  0.6 %, a look-alike 0.4 %, the former name 0.4 %, another dot in a Uyghur name 0.1 %.
- ID numbers: blank 31 %, correct 60 %; lower-case x 1.9 %, one digit wrong 1.7 %, full-width 1.5 %, spaces
  1.2 %, two digits swapped 1.0 %, truncated 0.8 %, 15 digits 0.8 %, an Excel number that lost its last digits
  0.2 %.
- Birth dates: blank 42 %; an Excel date 17 %, ``1972-01-08`` 16 %, ``1979/7/18`` 13 %, ``20031121`` 7 %,
  ``2007/07/16`` 5 %, ``1973.12.20`` 0.9 %, ``1961年2月27日`` 0.6 %; a lunar birthday 0.2 %.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import math
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeVar

import polars as pl
import xlsxwriter

from benchmarks.evaluate import REGISTER_TRUTH, ROLL_TRUTH

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

T = TypeVar("T")

PERSONS_PER_SCALE = 260_000  # 76 % registered: scale 1 registers about 200,000 people
DEFAULT_SEED = 1
REGISTERED_SHARE = 0.76

REF = dt.date(2024, 3, 31)  # the date of the register extract and of the rolls
PROV_CITY = "浙江省宁波市慈溪市"
CITY = "慈溪市"

REGISTER_FILE = "慈溪市公安局户籍人口数据_20240331.csv"
REGISTER_HEADER = (
    "身份证号码", "姓名", "曾用名", "性别", "民族", "出生日期", "户号", "与户主关系", "住址", "派出所", "乡镇街道",
    "居委会", "居委会代码", "人员状态", "迁入日期", "文化程度",
)  # fmt: skip
ACTIVE = "正常"
MOVED_OUT = "迁出"

# Register statuses (truth).
CONSISTENT, MOVED_WITHIN, ABSENT, INACTIVE = "consistent", "moved_within", "absent", "inactive"
# Roll statuses besides CONSISTENT and MOVED_WITHIN.
UNREGISTERED, DUPLICATE = "unregistered", "duplicate"

# Where a person lives: in the registered dwelling, elsewhere in the registered community, in another
# community, outside the city; a former resident (迁出) who stayed; a migrant.
LIVES_HERE, MOVED, ELSEWHERE, OUTSIDE, STAYED, MIGRANT = "cons", "moved", "else", "out", "exreg", "mig"

COLLECTIVE_SHARE = 0.015  # urban households registered at the community's 集体户
SHARED_FLAT_RATE = 0.055  # households registered on a flat that already has one (分户), less the collective ones
LEGACY_ID_RATE = 0.03  # people born before 1960 whose register row keeps a 15-digit ID number
TRANSFER_RATE = 0.003  # register rows with a 迁出 copy in a household of another community
OWN_CHOICE_RATE = 0.13  # a member who lives apart from the rest of the household
STAYED_RATE = 0.15  # people moved out (迁出) who still live in the city
UYGHUR_HOUSEHOLD_RATE = 0.006  # migrant households from Xinjiang
HABIT_RATE = 0.6  # how often a grid worker writes a part of an address the favourite way
WRITE_ATTEMPTS = 40  # tries to write a moved person's address so it cannot be read as the registered one

# --- helpers -------------------------------------------------------------------------------------------


def _weighted(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    """One of the options, drawn by weight."""
    total = 0.0
    for _, weight in options:
        total += weight
    x = rng.random() * total
    for value, weight in options:
        x -= weight
        if x < 0:
            return value
    return options[-1][0]


CN_DIGITS = "零一二三四五六七八九"


def _chinese_number(n: int) -> str:
    """1 -> 一, 12 -> 十二, 35 -> 三十五; 100 and over stay in digits."""
    if n < 10:
        return CN_DIGITS[n]
    if n < 20:
        return "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return CN_DIGITS[n // 10] + "十" + (CN_DIGITS[n % 10] if n % 10 else "")
    return str(n)


FULL_WIDTH = str.maketrans("0123456789-#", "０１２３４５６７８９－＃")
FULL_WIDTH_ID = str.maketrans("0123456789Xx", "０１２３４５６７８９Ｘｘ")

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def _id_check(first17: str) -> str:
    """The check character (GB 11643) of an ID number's first 17 digits."""
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def _id15(id18: str) -> str:
    """The 15-digit form of an 18-digit ID number (two-digit year, no check character)."""
    return id18[:6] + id18[8:17]


# --- places --------------------------------------------------------------------------------------------

# township code -> (name, short name, police station)
STREETS: dict[str, tuple[str, str, str]] = {
    "001": ("浒山街道", "浒山", "浒山派出所"),
    "002": ("古塘街道", "古塘", "古塘派出所"),
    "003": ("白沙路街道", "白沙", "白沙派出所"),
    "004": ("宗汉街道", "宗汉", "宗汉派出所"),
    "005": ("坎墩街道", "坎墩", "坎墩派出所"),
    "101": ("周巷镇", "周巷", "周巷派出所"),
    "102": ("观海卫镇", "观海卫", "观海卫派出所"),
    "103": ("横河镇", "横河", "横河派出所"),
}

URBAN, RURAL = "urban", "rural"


class Estate(NamedTuple):
    """A housing estate: its name, other ways it is written as (text, kind), and the shape of its buildings."""

    name: str
    aliases: tuple[tuple[str, str], ...]
    units: int  # per building; 0 when the stairs are not numbered
    floors: int
    per_floor: int
    weight: float = 1.0


class Company(NamedTuple):
    """A company housing workers in dormitory buildings."""

    name: str
    short_names: tuple[str, ...]
    buildings: int


@dataclass(frozen=True, slots=True)
class Community:
    """A 社区 (urban) or 村 (rural): estates, village groups (组) and company dormitories."""

    code: str
    name: str
    kind: str
    weight: float
    estates: tuple[Estate, ...] = ()
    groups: int = 0
    dorms: tuple[Company, ...] = ()

    @property
    def street(self) -> str:
        """The township code, a key of STREETS."""
        return self.code[6:9]


COMMUNITIES: tuple[Community, ...] = (
    Community("330282001001", "城东社区", URBAN, 1.3, (
        Estate("城东新村东区", (("城东东区", "short"), ("城东新邨东区", "homophone")), 3, 5, 2, 1.0),
        Estate("城东新村西区", (("城东西区", "short"), ("城东新邨西区", "homophone")), 3, 5, 2, 0.9),
        Estate("东苑小区", (("东苑", "nosuffix"), ("东院小区", "homophone")), 2, 6, 2, 0.6))),
    Community("330282001002", "金山社区", URBAN, 1.2, (
        Estate("金山花园", (("金山华园", "homophone"),), 2, 6, 2, 0.8),
        Estate("金色花园一期", (("金色花园1期", "arabic"), ("金色一期", "short"), ("金色华园一期", "homophone")),
               2, 11, 2, 0.8),
        Estate("金色花园二期", (("金色花园2期", "arabic"), ("金色二期", "short"), ("金色华园二期", "homophone")),
               2, 18, 3, 1.0))),
    Community("330282001003", "明月社区", URBAN, 1.0, (
        Estate("明月新村", (("明悦新村", "homophone"), ("明月新邨", "homophone")), 3, 5, 2, 1.0),
        Estate("明月湖公寓", (("明月湖", "nosuffix"), ("明玥湖公寓", "homophone")), 0, 7, 8, 0.6))),
    Community("330282001004", "三北社区", URBAN, 1.1, (
        Estate("三北新村", (("三北新邨", "homophone"),), 3, 5, 2, 1.0),
        Estate("阳光家园北苑", (("阳光北苑", "short"), ("阳光佳园北苑", "homophone")), 2, 11, 2, 0.8),
        Estate("阳光家园南苑", (("阳光南苑", "short"), ("阳光佳园南苑", "homophone")), 2, 11, 2, 0.7))),
    Community("330282001005", "南门社区", URBAN, 0.9, (
        Estate("桂花苑", (("桂花园", "homophone"),), 2, 6, 2, 0.8),
        Estate("文昌小区", (("文昌", "nosuffix"), ("文常小区", "homophone")), 0, 4, 3, 1.0))),
    Community("330282001006", "新城社区", URBAN, 1.4, (
        Estate("新城名苑", (("新城名园", "homophone"), ("新城铭苑", "homophone")), 2, 18, 2, 1.0),
        Estate("锦绣江南", (("锦秀江南", "homophone"), ("锦绣江南小区", "addsuffix")), 2, 26, 2, 0.9),
        Estate("水岸华庭", (("水岸华亭", "homophone"), ("水岸", "short")), 1, 18, 4, 0.7))),
    Community("330282002001", "塘南社区", URBAN, 1.3, (
        Estate("塘南新村", (("塘南新邨", "homophone"),), 2, 5, 2, 1.0),
        Estate("御景华府", (("御景", "short"), ("玉景华府", "homophone")), 2, 15, 2, 0.8),
        Estate("东山小区", (("东山", "nosuffix"), ("东杉小区", "homophone")), 0, 4, 3, 0.6))),
    Community("330282002002", "金桥社区", URBAN, 1.0, (
        Estate("金桥花园", (("金桥华园", "homophone"),), 2, 6, 2, 1.0),
        Estate("翠屏山庄", (("翠屏", "short"), ("翠萍山庄", "homophone")), 1, 3, 2, 0.5))),
    Community("330282002003", "银河社区", URBAN, 1.0, (
        Estate("银河湾家园", (("银河湾", "nosuffix"), ("银河湾佳园", "homophone")), 2, 11, 2, 0.9),
        Estate("枫林小区", (("枫林", "nosuffix"), ("丰林小区", "homophone")), 3, 6, 2, 0.8))),
    Community("330282002201", "潮塘村", RURAL, 0.8, groups=12),
    Community("330282003001", "白沙社区", URBAN, 1.0, (
        Estate("白沙新村", (("白沙新邨", "homophone"),), 3, 5, 2, 1.0),
        Estate("康宁苑", (("康宁园", "homophone"), ("康宁", "nosuffix")), 2, 6, 2, 0.7))),
    Community("330282003002", "新潮社区", URBAN, 1.1, (
        Estate("新潮花园一期", (("新潮一期", "short"), ("新潮花园1期", "arabic")), 2, 6, 2, 0.8),
        Estate("新潮花园二期", (("新潮二期", "short"), ("新潮花园2期", "arabic"), ("新潮华园二期", "homophone")),
               2, 11, 2, 0.8),
        Estate("蓝天公寓", (("蓝天", "nosuffix"),), 0, 6, 10, 0.4))),
    Community("330282003201", "东门外村", RURAL, 0.7, groups=10),
    Community("330282004001", "宗汉社区", URBAN, 1.0, (
        Estate("宗兴小区", (("宗兴", "nosuffix"), ("宗星小区", "homophone")), 3, 5, 2, 1.0),
        Estate("怡景湾", (("怡景湾小区", "addsuffix"), ("宜景湾", "homophone")), 2, 11, 2, 0.8))),
    Community("330282004201", "马家路村", RURAL, 0.9, groups=14,
              dorms=(Company("宁波宏达电器有限公司", ("宏达电器", "宏达电器厂"), 2),)),
    Community("330282004202", "新界村", RURAL, 0.7, groups=9),
    Community("330282005001", "坎中社区", URBAN, 0.9, (
        Estate("坎中新村", (("坎中新邨", "homophone"),), 2, 5, 2, 1.0),
        Estate("丽景花园", (("丽景", "nosuffix"), ("利景花园", "homophone"), ("丽景华园", "homophone")), 2, 6, 2, 0.8))),
    Community("330282005201", "五塘村", RURAL, 0.8, groups=11,
              dorms=(Company("慈溪市永盛轴承有限公司", ("永盛轴承", "永盛轴承厂"), 2),)),
    Community("330282101001", "兴业社区", URBAN, 1.0, (
        Estate("兴业新村", (("兴业新邨", "homophone"),), 3, 5, 2, 1.0),
        Estate("万象花苑", (("万象花园", "homophone"), ("万象", "nosuffix")), 2, 6, 2, 0.8))),
    Community("330282101002", "环城社区", URBAN, 0.9, (
        Estate("环城新村", (("环城新邨", "homophone"),), 2, 5, 2, 1.0),
        Estate("天元家园", (("天元", "nosuffix"), ("天源家园", "homophone"), ("天元佳园", "homophone")), 2, 11, 2, 0.8))),
    Community("330282101201", "万兴村", RURAL, 0.9, (
        Estate("万兴新村", (("万兴新邨", "homophone"),), 2, 6, 2, 1.0),), groups=13,
              dorms=(Company("宁波金泰塑业有限公司", ("金泰塑业", "金泰塑业厂"), 3),)),
    Community("330282101202", "三江口村", RURAL, 0.6, groups=8),
    Community("330282102001", "卫山社区", URBAN, 0.9, (
        Estate("卫山新村", (("卫山新邨", "homophone"),), 2, 5, 2, 1.0),
        Estate("金鼎花园", (("金鼎", "nosuffix"), ("金顶花园", "homophone")), 2, 6, 2, 0.8))),
    Community("330282102201", "鸣鹤村", RURAL, 0.7, groups=10),
    Community("330282103001", "梅园社区", URBAN, 0.8, (
        Estate("梅园小区", (("梅苑小区", "homophone"),), 2, 5, 2, 1.0),
        Estate("秀水家园", (("秀水", "nosuffix"), ("秀水佳园", "homophone")), 2, 11, 2, 0.8))),
    Community("330282103201", "孙家境村", RURAL, 0.7, groups=10,
              dorms=(Company("慈溪市横河五金制品厂", ("横河五金厂", "五金制品厂"), 1),)),
)  # fmt: skip

# --- people --------------------------------------------------------------------------------------------

CIXI_SURNAMES = [
    ("陈", 8), ("王", 6), ("张", 4), ("胡", 5), ("孙", 4), ("岑", 3), ("沈", 4), ("徐", 4), ("马", 3),
    ("黄", 3), ("俞", 3), ("施", 3), ("杨", 2), ("周", 3), ("罗", 2), ("叶", 2), ("余", 2), ("戚", 2),
    ("蒋", 1.5), ("方", 2), ("邹", 1.5), ("劳", 1.5), ("朱", 2), ("吴", 2), ("钱", 1.5), ("潘", 1.5),
    ("韩", 1), ("鲁", 1), ("李", 2), ("刘", 1.5), ("郑", 1.5), ("金", 1.5), ("应", 1), ("史", 1),
    ("谢", 1), ("袁", 1), ("柴", 1), ("龚", 1), ("宓", 0.5), ("卢", 1), ("侯", 0.8), ("冯", 1),
    ("严", 1), ("章", 1), ("许", 1),
]  # fmt: skip
NATIONAL_SURNAMES = [
    ("王", 7), ("李", 7), ("张", 6.5), ("刘", 5.5), ("陈", 5), ("杨", 3), ("黄", 2.2), ("赵", 2.2),
    ("吴", 2), ("周", 2), ("徐", 1.5), ("孙", 1.5), ("马", 1.4), ("朱", 1.3), ("胡", 1.3), ("郭", 1.2),
    ("何", 1.2), ("高", 1.1), ("林", 1.1), ("罗", 1.1), ("郑", 1), ("梁", 1), ("谢", 0.8), ("宋", 0.8),
    ("唐", 0.8), ("许", 0.7), ("韩", 0.7), ("冯", 0.7), ("邓", 0.7), ("曹", 0.7), ("彭", 0.6),
    ("曾", 0.6), ("肖", 0.6), ("田", 0.6), ("董", 0.5), ("袁", 0.5), ("潘", 0.5), ("蒋", 0.5),
    ("蔡", 0.5), ("余", 0.5), ("杜", 0.5), ("叶", 0.4), ("程", 0.4), ("魏", 0.4), ("苏", 0.4),
    ("吕", 0.4), ("丁", 0.4), ("任", 0.4), ("侯", 0.3), ("龙", 0.3), ("雷", 0.3), ("熊", 0.3),
]  # fmt: skip
# (generation, sex) -> characters of given names
GIVEN_NAMES = {
    ("old", "M"): "国建明华伟军林根海龙兴康宝庆德荣富祥财忠其培尧良昌炳法水永正",
    ("old", "F"): "英娟芳珍凤兰娣仙萍玉秀美琴月云飞霞红素亚丽燕菊花芬娥静敏巧",
    ("mid", "M"): "伟军杰斌勇峰强波涛刚明辉磊鹏超俊浩健东锋洪亮平立江晓",
    ("mid", "F"): "丽燕静敏红霞娟芳艳萍玲琳婷慧洁英雪梅莉佳群晓琴丹薇晴",
    ("young", "M"): "浩宇轩梓子睿泽铭杰晨昊博一航逸凯鑫鹏俊嘉皓宸奕辰楠可琪",
    ("young", "F"): "欣怡佳雨涵琪婷瑶萱妍嘉思诗梦可悦依雯语彤馨晨一诺薇晴",
}
TWO_CHARACTER_GIVEN = {"old": 0.6, "mid": 0.55, "young": 0.7}
UYGHUR_MALE = ["买买提", "艾力", "阿卜杜拉", "吐尔逊", "伊力哈木", "努尔买买提", "艾合买提", "阿迪力"]
UYGHUR_FEMALE = ["古丽", "阿依古丽", "热依拉", "帕提古丽", "米热古丽", "迪丽努尔", "阿依努尔"]
UYGHUR_FATHER = ["艾力", "吐尔逊", "阿不都", "买买提", "热合曼", "司马义", "玉素甫", "依明"]

# (area code, 户籍地 as a migrant gives it, weight)
MIGRANT_AREAS = [
    ("522401", "贵州毕节", 6), ("522427", "贵州威宁", 5), ("522426", "贵州纳雍", 3), ("520221", "贵州水城", 3),
    ("511321", "四川南部", 4), ("511381", "四川阆中", 2), ("510922", "四川射洪", 2), ("341221", "安徽临泉", 4),
    ("341225", "安徽阜南", 3), ("342221", "安徽砀山", 2), ("362421", "江西吉安", 3), ("360732", "江西兴国", 2),
    ("411524", "河南商城", 3), ("412727", "河南淮阳", 3), ("421127", "湖北黄梅", 2), ("530322", "云南陆良", 3),
    ("532122", "云南鲁甸", 3), ("500235", "重庆云阳", 3), ("500236", "重庆奉节", 2), ("430523", "湖南邵阳", 2),
    ("621121", "甘肃通渭", 1), ("330781", "浙江兰溪", 1), ("331022", "浙江三门", 1),
]  # fmt: skip
MIGRANT_AREA_CODES = [(code, weight) for code, _, weight in MIGRANT_AREAS]
MIGRANT_HOMES = [((code, text), weight) for code, text, weight in MIGRANT_AREAS]
UYGHUR_HOMES = [("653101", "新疆喀什"), ("653121", "新疆疏附"), ("652901", "新疆阿克苏")]
NEARBY_AREA_CODES = ["330281", "330283", "330226", "330203", "330204", "330211"]
LOCAL_FAMILY_SIZES = [(1, 18), (2, 28), (3, 30), (4, 14), (5, 7), (6, 3)]
MIGRANT_FAMILY_SIZES = [(1, 44), (2, 26), (3, 19), (4, 9), (5, 2)]

ETHNICITY_CODES = {
    "汉族": "01",
    "维吾尔族": "05",
    "苗族": "06",
    "彝族": "07",
    "布依族": "09",
    "土家族": "15",
    "回族": "03",
}
# Relation to the head -> code; the order is also the order of a household's register rows.
RELATION_CODES = {
    "户主": "02", "配偶": "10", "夫": "11", "妻": "12", "子": "20", "长子": "22", "次子": "23", "女婿": "28",
    "女": "30", "长女": "32", "次女": "33", "儿媳": "38", "孙子": "41", "孙女": "42", "父亲": "51",
    "母亲": "52", "兄弟": "71", "姐妹": "72", "其他": "99",
}  # fmt: skip
CHILD_RELATIONS = ("子", "女", "长子", "次子", "长女", "次女", "孙子", "孙女")
EDUCATION = [("小学", 2), ("初中", 4), ("高中", 2), ("中专", 1), ("大学专科", 1.5), ("大学本科", 1.5), ("", 1)]

HOMOPHONE_GROUPS = [
    "伟玮炜", "丽莉俐", "芳方", "明铭鸣", "华骅", "军君钧", "静婧靖", "杰洁捷", "燕艳雁", "萍平苹",
    "红宏虹", "英瑛莹", "娟鹃", "霞侠", "峰锋丰", "勇永涌", "斌彬", "敏闽", "玲铃琳", "婷亭", "慧惠",
    "琴芹", "飞菲", "刚钢", "建健", "强蔷", "浩皓昊", "宇雨禹", "轩萱宣", "涵晗含", "梓子紫", "欣馨心",
    "怡仪宜", "佳嘉家", "睿瑞锐", "晨辰", "琪祺棋", "瑶遥", "妍研", "俊骏", "凯恺", "鹏朋", "晓小",
    "逸艺毅", "楠男南", "可珂", "珍贞", "凤风", "兰岚蓝", "仙先", "玉钰", "秀绣", "月悦", "云芸",
    "荣蓉容", "富福", "祥翔", "德得", "宝保", "兴星", "龙隆", "忠中", "财才", "娣弟", "雯文", "彤桐",
    "诺糯", "航杭", "博波", "丹单", "晴情", "薇维", "雪学", "东冬", "亮良", "涛韬", "洪宏", "群裙",
    "张章", "王汪", "徐许", "俞余于", "周邹", "施石史", "杨阳", "戚齐祁", "罗骆", "蒋江", "吴伍",
    "袁元", "龚宫", "冯丰", "严颜", "卢芦", "应英",
]  # fmt: skip


def _homophones(groups: Sequence[str]) -> dict[str, list[str]]:
    """Character -> the characters sounding like it, over all the groups it is in."""
    out: dict[str, list[str]] = {}
    for group in groups:
        for ch in group:
            out.setdefault(ch, []).extend(c for c in group if c != ch)
    return out


HOMOPHONES = _homophones(HOMOPHONE_GROUPS)
LOOKALIKES = {
    "侯": "候", "晴": "睛", "薇": "微", "琪": "淇", "锦": "绵", "玉": "王", "王": "玉", "兰": "蘭",
    "历": "厉", "斌": "赋", "晨": "晟", "涛": "寿", "杨": "扬", "浩": "造", "娟": "涓", "凤": "风",
}  # fmt: skip
TRADITIONAL = dict(
    zip(
        "张伟陈刘杨黄赵吴孙马罗郑谢许邓冯韩叶钱蒋国华丽红军龙凤兰飞东云强刚杰涛宝贵庆荣凯辉静艳洁鹏锋晓娇颖泽轩诗梦铭远达满俞应龚严卢刘汉伦娟胜财兴顺长",
        "張偉陳劉楊黃趙吳孫馬羅鄭謝許鄧馮韓葉錢蔣國華麗紅軍龍鳳蘭飛東雲強剛傑濤寶貴慶榮凱輝靜艷潔鵬鋒曉嬌穎澤軒詩夢銘遠達滿俞應龔嚴盧劉漢倫娟勝財興順長",
        strict=True,
    )
)
UYGHUR_DOT = "·"
DOT_VARIANTS = [("•", 3), ("．", 2), (".", 3), ("・", 2), ("-", 1), ("", 3), (" ", 1), ("﹒", 1)]
MOBILE_PREFIXES = [
    "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "157", "158",
    "159", "177", "180", "181", "182", "183", "186", "187", "188", "189", "191", "198", "199",
]  # fmt: skip

Member = tuple[int, str]  # (pid, relation to the head of the household)


def _birth(rng: random.Random, age: int) -> dt.date:
    """A birth date for someone `age` years old on the reference date."""
    return REF - dt.timedelta(days=int(age * 365.25) + rng.randrange(0, 365))


def _given_name(rng: random.Random, birth_year: int, sex: str) -> str:
    """A given name of one or two characters in the fashion of the birth year."""
    era = "old" if birth_year < 1965 else ("mid" if birth_year < 1990 else "young")
    pool = GIVEN_NAMES[(era, sex)]
    if rng.random() < TWO_CHARACTER_GIVEN[era]:
        a = rng.choice(pool)
        b = rng.choice(pool)
        while b == a:
            b = rng.choice(pool)
        return a + b
    return rng.choice(pool)


class People:
    """Everyone in the city, column by column; a person's id (pid) is their index."""

    def __init__(self) -> None:
        self.name: list[str] = []
        self.sex: list[str] = []  # "M" or "F"
        self.birth: list[dt.date] = []
        self.id18: list[str] = []  # the true ID number
        self.regid: list[str] = []  # the ID number as the register holds it
        self.former: list[str] = []  # 曾用名, mostly ""
        self.ethnicity: list[str] = []
        self.phone: list[str | None] = []
        self.origin: list[str] = []  # 户籍地 as a migrant gives it
        self._taken: set[str] = set()

    def __len__(self) -> int:
        return len(self.name)

    def add(
        self,
        rng: random.Random,
        name: str,
        sex: str,
        birth: dt.date,
        area: str,
        ethnicity: str,
        origin: str,
        former: str,
    ) -> int:
        """Add a person with a fresh ID number of this area, birth date and sex; return the pid."""
        pid = len(self.name)
        male = sex == "M"
        while True:
            seq = rng.randrange(0, 500) * 2 + 1 if male else rng.randrange(1, 500) * 2
            first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
            if first17 not in self._taken:
                self._taken.add(first17)
                break
        self.name.append(name)
        self.sex.append(sex)
        self.birth.append(birth)
        self.id18.append(first17 + _id_check(first17))
        self.regid.append(first17 + _id_check(first17))
        self.former.append(former)
        self.ethnicity.append(ethnicity)
        self.phone.append(None)
        self.origin.append(origin)
        return pid

    def age(self, pid: int) -> float:
        """Age in years on the reference date."""
        return (REF - self.birth[pid]).days / 365.25


def _mobile(rng: random.Random) -> str:
    """An 11-digit mobile number."""
    prefix = rng.choice(MOBILE_PREFIXES)
    return prefix + f"{rng.randrange(10**8):08d}"


def _local_area(rng: random.Random, birth: dt.date) -> tuple[str, str]:
    """(area code of the ID number, origin) of a registered person: mostly 慈溪, older people its former codes."""
    r = rng.random()
    if r < 0.06:
        return rng.choice(NEARBY_AREA_CODES), "宁波"
    if r < 0.09:
        return _weighted(rng, MIGRANT_AREA_CODES), "out"
    if birth < dt.date(1985, 1, 1):
        r2 = rng.random()
        if r2 < 0.22:
            return "330222", ""
        if r2 < 0.25:
            return "332221", ""
        if r2 < 0.27:
            return "339009", ""
    return "330282", ""


def _local_head_age(rng: random.Random, single: bool) -> int:
    """Age of the head of a registered household (living alone or not)."""
    if single:
        return rng.randint(56, 93) if rng.random() < 0.6 else rng.randint(20, 55)
    return int(rng.triangular(25, 82, 48))


def _migrant_head_age(rng: random.Random, single: bool) -> int:
    """Age of the head of a migrant household (living alone or not)."""
    if single:
        return rng.randint(18, 50) if rng.random() < 0.93 else rng.randint(51, 70)
    return int(rng.triangular(22, 60, 36))


def _family(
    rng: random.Random,
    people: People,
    surnames: Sequence[tuple[str, float]],
    home: tuple[str, str] | None,
    head_age: Callable[[random.Random, bool], int],
    sizes: Sequence[tuple[int, float]],
    uyghur_rate: float | None = None,
) -> list[Member]:
    """Create the people of one household; `home` is (area code, origin) of migrants, None for locals."""
    size = _weighted(rng, sizes)
    members: list[Member] = []
    if size == 1:
        head_years = head_age(rng, True)
        head_sex = "M" if rng.random() < 0.5 else "F"
    else:
        head_years = head_age(rng, False)
        head_sex = "M" if rng.random() < 0.8 else "F"
    family_surname = _weighted(rng, surnames)

    def person(age: int, sex: str, surname: str, relation: str, uyghur: bool) -> None:
        birth = _birth(rng, max(0, min(100, age)))
        if uyghur:
            name = rng.choice(UYGHUR_MALE if sex == "M" else UYGHUR_FEMALE) + UYGHUR_DOT + rng.choice(UYGHUR_FATHER)
            ethnicity = "维吾尔族"
        else:
            name = surname + _given_name(rng, birth.year, sex)
            ethnicity = "汉族"
        area, origin = home if home is not None else _local_area(rng, birth)
        former = ""
        if not uyghur and rng.random() < 0.008:
            former = surname + _given_name(rng, birth.year, sex)
        members.append((people.add(rng, name, sex, birth, area, ethnicity, origin, former), relation))

    uyghur = uyghur_rate is not None and rng.random() < uyghur_rate
    head_surname = family_surname if head_sex == "M" else _weighted(rng, surnames)
    person(head_years, head_sex, head_surname, "户主", uyghur)
    if size >= 2:
        if rng.random() < 0.9:
            spouse_age = head_years + (rng.randint(-6, 3) if head_sex == "M" else rng.randint(-3, 6))
            spouse_sex = "F" if head_sex == "M" else "M"
            relation = rng.choice(["妻", "妻", "配偶"]) if spouse_sex == "F" else rng.choice(["夫", "配偶"])
            surname = _weighted(rng, surnames) if spouse_sex == "F" else family_surname
            person(spouse_age, spouse_sex, surname, relation, uyghur)
        else:
            person(head_years - rng.randint(20, 32), rng.choice("MF"), head_surname, "子", uyghur)
    left = size - len(members)
    if left >= 2 and head_years >= 56 and rng.random() < 0.5:  # three generations: son, his wife, grandchildren
        son_age = head_years - rng.randint(24, 31)
        person(son_age, "M", family_surname, "子", uyghur)
        person(son_age + rng.randint(-4, 2), "F", _weighted(rng, surnames), "儿媳", uyghur)
        for _ in range(left - 2):
            sex = rng.choice("MF")
            person(son_age - rng.randint(22, 33), sex, family_surname, "孙子" if sex == "M" else "孙女", uyghur)
        return members
    sons = daughters = 0
    for _ in range(left):
        child_age = head_years - rng.randint(22, 36)
        if child_age < 0 or rng.random() < 0.08:  # a parent of the head instead
            sex = rng.choice("MF")
            parent_age = head_years + rng.randint(24, 32)
            surname = family_surname if sex == "M" else _weighted(rng, surnames)
            person(parent_age, sex, surname, "父亲" if sex == "M" else "母亲", uyghur)
        else:
            sex = rng.choice("MF")
            if sex == "M":
                sons += 1
                relation = "子" if rng.random() < 0.7 else ("长子" if sons == 1 else "次子")
            else:
                daughters += 1
                relation = "女" if rng.random() < 0.7 else ("长女" if daughters == 1 else "次女")
            person(child_age, sex, family_surname, relation, uyghur)
    return members


# --- dwellings -----------------------------------------------------------------------------------------


class Flat(NamedTuple):
    """A flat: the estate's index in its community, building, unit (None where stairs have none), room."""

    kind: Literal["F"]
    estate: int
    building: int
    unit: int | None
    room: int  # floor * 100 + door


class House(NamedTuple):
    """A village house: group (组) and house number."""

    kind: Literal["R"]
    group: int
    number: int


class DormRoom(NamedTuple):
    """A room of a company dormitory: the company's index in its community, building, room."""

    kind: Literal["D"]
    company: int
    building: int
    room: int


class Collective(NamedTuple):
    """The community's collective household (集体户): a registered address, nobody's home."""

    kind: Literal["C"]


Dwelling = Flat | House | DormRoom | Collective
COLLECTIVE = Collective("C")
# A dwelling as an address writes it: the parts it leaves out are None.
Pattern = tuple[str | int | None, ...]


def _fits(pattern: Pattern, dwelling: Dwelling) -> bool:
    """Whether a reader who takes left-out parts as anything could read `pattern` as `dwelling`."""
    return pattern[0] == dwelling[0] and all(
        part is None or part == actual for part, actual in zip(pattern[1:], dwelling[1:], strict=True)
    )


def _flats(estate_index: int, estate: Estate, buildings: Sequence[int]) -> list[Flat]:
    """Every flat of these buildings of an estate."""
    units: Sequence[int | None] = range(1, estate.units + 1) if estate.units else [None]
    return [
        Flat("F", estate_index, building, unit, floor * 100 + door)
        for building in buildings
        for unit in units
        for floor in range(1, estate.floors + 1)
        for door in range(1, estate.per_floor + 1)
    ]


def _build_dwellings(
    rng: random.Random, community: Community, n_households: int
) -> tuple[list[Flat | House], list[DormRoom]]:
    """The community's homes, with room to spare for its registered households, and its dormitory rooms."""
    dwellings: list[Flat | House] = []
    if community.kind == URBAN:
        capacity = int(n_households * 1.8) + 40
        total_weight = sum(e.weight for e in community.estates)
        for index, estate in enumerate(community.estates):
            per_building = max(estate.units, 1) * estate.floors * estate.per_floor
            n_buildings = max(2, math.ceil(capacity * estate.weight / total_weight / per_building))
            skip_unlucky = rng.random() < 0.3  # some estates have no building 4, 13 or 14
            buildings: list[int] = []
            number = 1
            while len(buildings) < n_buildings:
                if not (skip_unlucky and number in (4, 13, 14)):
                    buildings.append(number)
                number += 1
            dwellings += _flats(index, estate, buildings)
    else:
        capacity = int(n_households * 1.25) + 20
        estate_share = 0.22 if community.estates else 0.0
        per_group = max(3, math.ceil(int(capacity * (1 - estate_share)) / community.groups))
        for group in range(1, community.groups + 1):
            n = 0
            number = 0
            while n < per_group:
                number += 1
                if rng.random() < 0.08:  # gaps in the numbering: demolished houses and the like
                    continue
                dwellings.append(House("R", group, number))
                n += 1
        for index, estate in enumerate(community.estates):
            per_building = max(estate.units, 1) * estate.floors * estate.per_floor
            n_buildings = max(2, math.ceil(capacity * estate_share / per_building))
            dwellings += _flats(index, estate, range(1, n_buildings + 1))
    dorm_rooms = [
        DormRoom("D", index, building, floor * 100 + door)
        for index, company in enumerate(community.dorms)
        for building in range(1, company.buildings + 1)
        for floor in range(1, 5)
        for door in range(1, 13)
    ]
    return dwellings, dorm_rooms


def _register_address(community: Community, dwelling: Dwelling, rng: random.Random) -> str:
    """The address as the register writes it, from the province (or the city) down."""
    street = STREETS[community.street][0]
    r = rng.random()
    prefix = PROV_CITY if r < 0.86 else ("浙江省慈溪市" if r < 0.95 else CITY)
    if isinstance(dwelling, Collective):
        return f"{prefix}{street}{community.name}集体户"
    if isinstance(dwelling, House):
        return f"{prefix}{street}{community.name}{dwelling.group}组{dwelling.number}号"
    if isinstance(dwelling, DormRoom):
        raise TypeError("a dormitory room is nobody's registered address")
    unit = f"{dwelling.unit}单元" if dwelling.unit else ""
    estate = community.estates[dwelling.estate].name
    return f"{prefix}{street}{community.name}{estate}{dwelling.building}幢{unit}{dwelling.room}室"


# --- how grid workers write addresses ------------------------------------------------------------------

# Each dimension: (way, weight). A worker's favourite ways are drawn from these, then used HABIT_RATE of the time.
ADDRESS_HABITS: dict[str, list[tuple[str, float]]] = {
    "prefix": [
        ("none", 56), ("comm", 12), ("street", 3), ("street_short", 3), ("street_comm", 6), ("city", 3),
        ("city_street", 3), ("city_street_comm", 6), ("full", 8),
    ],
    "estate": [("full", 74), ("alias", 20), ("omit", 6)],
    "body": [("std", 73), ("dash", 15), ("hash", 8), ("hao", 4)],
    "bsuf": [("幢", 55), ("栋", 18), ("号楼", 20), ("座", 7)],
    "unit": [("keep", 72), ("drop", 28)],
    "rsuf": [("室", 58), ("", 28), ("号", 10), ("房", 4)],
    "num": [("arabic", 95), ("chinese", 5)],
    "rpre": [("none", 58), ("town", 20), ("town_short", 6), ("city_town", 8), ("full", 8)],
    "vil": [("keep", 78), ("omit", 16), ("nocun", 6)],
    "grp": [("arabic", 74), ("chinese", 14), ("drop", 8), ("di", 4)],
    "rnum": [("号", 85), ("", 15)],
}  # fmt: skip
RARE_HABITS = ("hao", "omit")  # lossy ways (a bare 号 for the building, no estate) are nobody's favourite


class Worker:
    """A grid worker with favourite ways of writing each part of an address."""

    def __init__(self, rng: random.Random) -> None:
        self.favourite = {
            dim: _weighted(rng, [(way, w) for way, w in ways if way not in RARE_HABITS])
            for dim, ways in ADDRESS_HABITS.items()
        }
        self.space_rate = rng.choice([0.01, 0.02, 0.04, 0.08])
        self.full_width_rate = rng.choice([0.0, 0.01, 0.02, 0.06])

    def pick(self, rng: random.Random, dim: str) -> str:
        """How this worker writes part `dim` this time."""
        if rng.random() < HABIT_RATE:
            return self.favourite[dim]
        return _weighted(rng, ADDRESS_HABITS[dim])


def _add_spaces(rng: random.Random, tokens: list[str], tags: list[str]) -> str:
    """Join the tokens with a stray space: leading or trailing, between two parts, or inside one."""
    mode = rng.random()
    space = "\u3000" if rng.random() < 0.2 else (" " if rng.random() < 0.8 else "  ")
    if mode < 0.25:
        tags.append("space:trailing_or_leading")
        text = "".join(tokens)
        return (text + space) if rng.random() < 0.6 else (space + text)
    if len(tokens) >= 2:
        i = rng.randrange(1, len(tokens))
        tags.append("space:between_parts" if space != "\u3000" else "space:fullwidth")
        return "".join(tokens[:i]) + space + "".join(tokens[i:])
    text = tokens[0]
    i = rng.randrange(1, max(2, len(text)))
    tags.append("space:inside")
    return text[:i] + space + text[i:]


def _prefix_tokens(community: Community, way: str) -> list[str]:
    """The places written before an estate."""
    street, street_short, _ = STREETS[community.street]
    name = community.name
    return {
        "none": [],
        "comm": [name],
        "street": [street],
        "street_short": [street_short],
        "street_comm": [street, name],
        "city": [CITY],
        "city_street": [CITY, street],
        "city_street_comm": [CITY, street, name],
        "full": [PROV_CITY, street, name],
    }[way]


def _write_flat(
    rng: random.Random, worker: Worker, community: Community, flat: Flat, tags: list[str]
) -> tuple[list[str], Pattern]:
    """A flat's address as parts, and what they say."""
    estate = community.estates[flat.estate]
    b, u, r = flat.building, flat.unit, flat.room
    prefix = worker.pick(rng, "prefix")
    tokens = _prefix_tokens(community, prefix)
    tags.append("prefix:" + prefix)
    estate_way = worker.pick(rng, "estate")
    written_estate: int | None = flat.estate
    if estate_way == "alias" and estate.aliases:
        alias, kind = rng.choice(estate.aliases)
        tokens.append(alias)
        tags.append("estate:" + kind)
    elif estate_way == "omit":
        written_estate = None
        tags.append("estate:omitted")
    else:
        tokens.append(estate.name)
        tags.append("estate:full")
    body = worker.pick(rng, "body")
    numerals = worker.pick(rng, "num")
    drop_unit = u is not None and worker.pick(rng, "unit") == "drop"
    with_unit = u is not None and not drop_unit
    if body == "dash":
        suffix = rng.choice(["", "", "", "室"])
        tokens.append((f"{b}-{u}-{r}" if with_unit else f"{b}-{r}") + suffix)
        tags.append("body:dash_b-u-r" if with_unit else "body:dash_b-r")
    elif body == "hash":
        suffix = rng.choice(["", "", "室"])
        if with_unit:
            tokens.append(f"{b}#{u}单元{r}{suffix}")
            tags.append("body:hash_with_unit")
        else:
            tokens.append(f"{b}#{r}{suffix}")
            tags.append("body:hash_b#r")
    else:
        building_suffix = "号" if body == "hao" else worker.pick(rng, "bsuf")
        tags.append("bld:" + building_suffix)
        chinese = numerals == "chinese"
        tokens.append((_chinese_number(b) if chinese else str(b)) + building_suffix)
        if u is not None and with_unit:
            tokens.append((_chinese_number(u) if chinese else str(u)) + "单元")
        room_suffix = worker.pick(rng, "rsuf")
        tokens.append(f"{r}{room_suffix}")
        tags.append("room_suffix:" + (room_suffix or "none"))
        if chinese:
            tags.append("numerals:chinese")
    if drop_unit:
        tags.append("unit:dropped")
    return tokens, ("F", written_estate, b, None if drop_unit else u, r)


def _write_house(
    rng: random.Random, worker: Worker, community: Community, house: House, tags: list[str]
) -> tuple[list[str], Pattern]:
    """A village house's address as parts, and what they say."""
    g, n = house.group, house.number
    street, street_short, _ = STREETS[community.street]
    prefix = worker.pick(rng, "rpre")
    tokens = {
        "none": [],
        "town": [street],
        "town_short": [street_short],
        "city_town": [CITY, street],
        "full": [PROV_CITY, street],
    }[prefix]
    tags.append("rural_prefix:" + prefix)
    village = worker.pick(rng, "vil")
    if prefix == "full":
        village = "keep"
    if village == "keep":
        tokens.append(community.name)
    elif village == "nocun":
        tokens.append(community.name.rstrip("村"))
    tags.append("village:" + village)
    group = worker.pick(rng, "grp")
    if group == "drop" and (village == "omit" or prefix == "full"):
        group = "arabic"  # never leave a bare house number
    if group == "arabic":
        tokens.append(f"{g}组")
    elif group == "chinese":
        tokens.append(_chinese_number(g) + "组")
    elif group == "di":
        tokens.append(f"第{g}组" if rng.random() < 0.5 else f"第{_chinese_number(g)}组")
    tags.append("group:" + group)
    number_suffix = worker.pick(rng, "rnum")
    if group == "drop":
        number_suffix = "号"
    tokens.append(f"{n}{number_suffix}")
    tags.append("house_suffix:" + (number_suffix or "none"))
    return tokens, ("R", None if group == "drop" else g, n)


def _write_dorm(rng: random.Random, community: Community, room: DormRoom, tags: list[str]) -> tuple[list[str], Pattern]:
    """A dormitory room's address as parts, and what they say."""
    b, r = room.building, room.room
    company = community.dorms[room.company]
    tokens: list[str] = []
    x = rng.random()
    if x < 0.25:
        tokens.append(community.name)
    elif x < 0.35:
        tokens += [STREETS[community.street][0], community.name]
    if rng.random() < 0.5:
        tokens.append(company.name + "宿舍")
        tags.append("dorm:full_company")
    else:
        tokens.append(rng.choice(company.short_names) + "宿舍")
        tags.append("dorm:short_company")
    written_building: int | None = b
    y = rng.random()
    if y < 0.45:
        tokens.append(f"{b}幢" if rng.random() < 0.5 else f"{b}号楼")
        tokens.append(f"{r}室" if rng.random() < 0.6 else f"{r}")
    elif y < 0.7:
        tokens.append(f"{b}-{r}")
    else:
        written_building = None
        tokens.append(f"{r}室" if rng.random() < 0.5 else f"{r}")
    return tokens, ("D", room.company, written_building, r)


def _write_parts(
    rng: random.Random, worker: Worker, community: Community, dwelling: Dwelling, tags: list[str]
) -> tuple[list[str], Pattern]:
    """One try at writing the address, as parts."""
    if isinstance(dwelling, Flat):
        return _write_flat(rng, worker, community, dwelling, tags)
    if isinstance(dwelling, House):
        return _write_house(rng, worker, community, dwelling, tags)
    if isinstance(dwelling, DormRoom):
        return _write_dorm(rng, community, dwelling, tags)
    raise TypeError("nobody lives at a collective household")


def _write_address(
    rng: random.Random, worker: Worker, community: Community, dwelling: Dwelling, forbid: Dwelling | None
) -> tuple[str, list[str], Pattern | None]:
    """A roll address of `dwelling`, its tags and what it says (None: the register's full form).

    `forbid` is the registered dwelling of someone who moved within the community: the text must not fit it.
    """
    pattern: Pattern | None
    for _ in range(WRITE_ATTEMPTS):
        tags: list[str] = []
        tokens, pattern = _write_parts(rng, worker, community, dwelling, tags)
        if forbid is None or not _fits(pattern, forbid):
            break
    else:  # the complete form always tells the two apart
        tags = ["fallback_full"]
        tokens = [_register_address(community, dwelling, rng)]
        pattern = None
    if rng.random() < worker.full_width_rate:
        tokens = [t.translate(FULL_WIDTH) for t in tokens]
        tags.append("fullwidth_digits")
    text = _add_spaces(rng, tokens, tags) if rng.random() < worker.space_rate else "".join(tokens)
    return text, tags, pattern


# --- the other roll fields -----------------------------------------------------------------------------


class ExcelNumber(NamedTuple):
    """An ID number Excel turned into a number (15 significant digits)."""

    value: float


class ExcelDate(NamedTuple):
    """A birth date typed as an Excel date."""

    value: dt.date


@dataclass(frozen=True, slots=True)
class RollStyle:
    """How one community's office fills its roll."""

    id_blank: float
    birth_blank: float
    sex_blank: float
    lower_x: float  # of IDs ending in X
    birth_format: str  # the usual one
    slash_unpadded: bool  # 1979/7/18 rather than 1979/07/18
    phone_blank: float
    typed_cells: bool  # xlsx: phone numbers as numbers and registration dates as dates
    duplicate_rate: float


def _noisy_name(rng: random.Random, pid: int, people: People, tags: list[str]) -> str:
    """The name as a roll writes it."""
    name = people.name[pid]
    if people.former[pid] and rng.random() < 0.5:
        tags.append("name:former_name")
        return people.former[pid]
    if UYGHUR_DOT in name:
        if rng.random() < 0.6:
            tags.append("name:dot_variant")
            return name.replace(UYGHUR_DOT, _weighted(rng, DOT_VARIANTS))
        tags.append("name:exact")
        return name
    r = rng.random()
    if r < 0.030:
        positions = [i for i, c in enumerate(name) if c in HOMOPHONES]
        if positions:
            in_given = [i for i in positions if i > 0]  # rather a character of the given name
            i = rng.choice(in_given) if in_given and rng.random() < 0.8 else rng.choice(positions)
            tags.append("name:homophone")
            return name[:i] + rng.choice(HOMOPHONES[name[i]]) + name[i + 1 :]
    elif r < 0.045:
        positions = [i for i, c in enumerate(name) if c in LOOKALIKES]
        if positions:
            i = rng.choice(positions)
            tags.append("name:lookalike")
            return name[:i] + LOOKALIKES[name[i]] + name[i + 1 :]
    elif r < 0.060:
        traditional = "".join(TRADITIONAL.get(c, c) for c in name)
        if traditional != name:
            tags.append("name:traditional")
            return traditional
    elif r < 0.070:
        if len(name) >= 3:
            i = rng.choice([1, 2])
            tags.append("name:dropped_char")
            return name[:i] + name[i + 1 :]
    elif r < 0.100:
        if len(name) == 2 and rng.random() < 0.6:
            tags.append("name:space_padded_2char")
            return name[0] + rng.choice([" ", "  ", "\u3000"]) + name[1]
        tags.append("name:stray_space")
        x = rng.random()
        if x < 0.4:
            return name + " "
        if x < 0.7:
            return " " + name
        i = rng.randrange(1, len(name))
        return name[:i] + " " + name[i:]
    tags.append("name:exact")
    return name


def _noisy_id(
    rng: random.Random, pid: int, people: People, style: RollStyle, is_xlsx: bool, tags: list[str]
) -> str | ExcelNumber | None:
    """The ID number as a roll writes it: text, blank (None), or a number cell in a workbook."""
    if rng.random() < style.id_blank:
        tags.append("id:blank")
        return None
    true_id = people.id18[pid]
    if len(people.regid[pid]) == 15 and rng.random() < 0.6:
        tags.append("id:15digit(register also 15)")
        return people.regid[pid]
    r = rng.random()
    if r < 0.025:
        i = rng.randrange(0, 17)
        digit = str((int(true_id[i]) + rng.randrange(1, 10)) % 10)
        tags.append("id:one_digit_wrong")
        return true_id[:i] + digit + true_id[i + 1 :]
    if r < 0.040:
        for _ in range(10):
            i = rng.randrange(0, 16)
            if true_id[i] != true_id[i + 1]:
                tags.append("id:two_swapped")
                return true_id[:i] + true_id[i + 1] + true_id[i] + true_id[i + 2 :]
    if r < 0.052 and 1900 <= people.birth[pid].year <= 1999:
        tags.append("id:15digit_legacy")
        return _id15(true_id)
    if r < 0.072:
        tags.append("id:fullwidth")
        return true_id.translate(FULL_WIDTH_ID)
    if r < 0.090:
        tags.append("id:spaces")
        x = rng.random()
        if x < 0.4:
            return f"{true_id[:6]} {true_id[6:14]} {true_id[14:]}"
        if x < 0.7:
            i = rng.randrange(1, 18)
            return true_id[:i] + " " + true_id[i:]
        return true_id + " " if x < 0.85 else " " + true_id
    if r < 0.102:
        tags.append("id:truncated")
        return true_id[: rng.choice([17, 17, 16, 15, 14, 12])]
    if r < 0.106 and is_xlsx and true_id[-1] != "X":
        tags.append("id:excel_number_precision_loss")
        return ExcelNumber(float(true_id[:15] + "000"))
    if true_id[-1] == "X" and rng.random() < style.lower_x:
        tags.append("id:lowercase_x")
        return true_id[:-1] + "x"
    tags.append("id:correct")
    return true_id


def _format_date(d: dt.date, way: str) -> str:
    """A date written one of the ways rolls write them."""
    if way == "dash":
        return f"{d:%Y-%m-%d}"
    if way == "slash":
        return f"{d:%Y/%m/%d}"
    if way == "slash_np":
        return f"{d.year}/{d.month}/{d.day}"
    if way == "compact":
        return f"{d:%Y%m%d}"
    if way == "dot":
        return f"{d.year}.{d.month}.{d.day}" if d.day % 2 else f"{d:%Y.%m.%d}"
    if way == "cn":
        return f"{d.year}年{d.month}月{d.day}日"
    raise ValueError(way)


def _noisy_birth(
    rng: random.Random, pid: int, people: People, style: RollStyle, is_xlsx: bool, tags: list[str]
) -> str | ExcelDate | None:
    """The birth date as a roll writes it: text, blank (None), or a date cell in a workbook."""
    if rng.random() < style.birth_blank:
        tags.append("birth:blank")
        return None
    d = people.birth[pid]
    if people.age(pid) > 50 and rng.random() < 0.015:
        d = d + dt.timedelta(days=rng.randrange(18, 50))  # the lunar birthday, given by the elderly
        tags.append("birth:lunar_shift(not matching ID)")
    r = rng.random()
    if r < 0.015:
        way = "dot"
    elif r < 0.025:
        way = "cn"
    elif r < 0.80:
        way = style.birth_format
    else:
        way = rng.choice(["dash", "slash", "compact", "excel"])
    if way == "excel":
        if is_xlsx:
            tags.append("birth:excel_date")
            return ExcelDate(d)
        way = "slash_np"
    if way == "slash" and style.slash_unpadded:
        way = "slash_np"
    tags.append("birth:" + way)
    return _format_date(d, way)


# --- the city ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Household:
    """A household: community (index), members, dwelling, and 户号 when registered."""

    community: int
    members: list[Member]
    dwelling: Dwelling
    number: str = ""


@dataclass(slots=True)
class RegisterRow:
    """A row of the register extract."""

    pid: int
    household: Household
    relation: str
    state: str = ACTIVE
    row: int = 0  # line in the file; the header is line 1


class Residence(NamedTuple):
    """Where a person lives (community index, dwelling) and how that relates to their registration."""

    community: int
    dwelling: Dwelling
    kind: str


@dataclass(slots=True)
class Site:
    """A community while the city is made: its dwellings, which are registered, and how many live in each."""

    community: Community
    dwellings: list[Flat | House]
    dorm_rooms: list[DormRoom]
    registered: set[Dwelling] = field(default_factory=set)
    occupants: Counter[Dwelling] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class StationStyle:
    """How one police station writes the register."""

    sex_code: bool
    relation_code: bool
    ethnicity_code: bool
    date_compact: bool


RegisterTruth = tuple[str, int, int, str, str | None, str]
RollTruth = tuple[str, int, int, str, int | None, str, str | None]
CellValue = str | int | dt.date | ExcelNumber | ExcelDate | None


@dataclass
class CityStats:
    """What was written, for the report."""

    persons: int = 0
    registered_persons: int = 0
    households: int = 0
    migrant_households: int = 0
    communities: int = 0
    register_truth: list[RegisterTruth] = field(default_factory=list)
    roll_truth: list[RollTruth] = field(default_factory=list)
    csv_rolls: list[str] = field(default_factory=list)  # "code:encoding"
    tags: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[tuple[str, str], object] = field(default_factory=dict)
    register_seconds: float = 0.0


class _CityWriter:
    """Makes the city and writes it; every step draws from one random stream, in a fixed order."""

    def __init__(self, out: Path, persons: int, seed: int) -> None:
        self.out = out
        self.persons = persons
        self.rng = random.Random(seed)
        self.people = People()
        self.sites: list[Site] = []
        self.households: list[Household] = []
        self.migrant_households: list[Household] = []
        self.rows: list[RegisterRow] = []
        self.active: dict[int, RegisterRow] = {}  # pid -> the row registering them
        self.residence: dict[int, Residence] = {}  # pid -> where they live; absent: outside the city
        self.weights = [(i, c.weight * (1.0 if c.kind == URBAN else 0.85)) for i, c in enumerate(COMMUNITIES)]
        self.stats = CityStats(communities=len(COMMUNITIES))

    def run(self) -> CityStats:
        """Generate and write everything."""
        t0 = time.time()
        for sub in ("register", "rolls", "truth"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self._registered_households()
        moved_out = self._register_rows()
        self._residences(moved_out)
        self._migrants()
        self._phones()
        self._write_register()
        self.stats.register_seconds = time.time() - t0
        self._write_rolls()
        self._write_truth()
        self.stats.persons = len(self.people)
        self.stats.households = len(self.households)
        self.stats.migrant_households = len(self.migrant_households)
        return self.stats

    # --- population ---

    def _registered_households(self) -> None:
        """Registered families, their dwellings, 户号 and the register's legacy ID numbers."""
        rng, people = self.rng, self.people
        families: list[tuple[int, list[Member]]] = []
        target = round(self.persons * REGISTERED_SHARE)
        while len(people) < target:
            ci = _weighted(rng, self.weights)
            families.append((ci, _family(rng, people, CIXI_SURNAMES, None, _local_head_age, LOCAL_FAMILY_SIZES)))
        self.stats.registered_persons = len(people)

        by_community: defaultdict[int, list[int]] = defaultdict(list)
        for fi, (ci, _) in enumerate(families):
            by_community[ci].append(fi)
        dwelling_of: dict[int, Dwelling] = {}
        for ci, community in enumerate(COMMUNITIES):
            dwellings, dorm_rooms = _build_dwellings(rng, community, len(by_community[ci]))
            site = Site(community, dwellings, dorm_rooms)
            self.sites.append(site)
            pool = dwellings[:]
            rng.shuffle(pool)
            assigned: list[Dwelling] = []
            for fi in by_community[ci]:
                x = rng.random()
                dwelling: Dwelling
                if community.kind == URBAN and x < COLLECTIVE_SHARE:
                    dwelling = COLLECTIVE
                elif assigned and x < SHARED_FLAT_RATE:
                    dwelling = rng.choice(assigned)
                else:
                    dwelling = pool.pop()
                    assigned.append(dwelling)
                dwelling_of[fi] = dwelling
                site.registered.add(dwelling)

        taken: set[int] = set()
        for fi, (ci, members) in enumerate(families):
            while True:
                number = rng.randrange(100000000, 999999999)
                if number not in taken:
                    taken.add(number)
                    break
            self.households.append(Household(ci, members, dwelling_of[fi], str(number)))

        for pid in range(len(people)):
            if people.birth[pid].year < 1960 and rng.random() < LEGACY_ID_RATE:
                people.regid[pid] = _id15(people.id18[pid])

    def _register_rows(self) -> list[int]:
        """One row per member, deaths, 迁出 and 注销 included, then the transfers; return who moved out."""
        rng, people = self.rng, self.people
        self.rows = [RegisterRow(pid, h, relation) for h in self.households for pid, relation in h.members]
        moved_out: list[int] = []
        for r in self.rows:
            age = people.age(r.pid)
            x = rng.random()
            if age > 70 and x < 0.08:
                r.state = "死亡"
            elif 18 < age < 45 and x < 0.024:
                r.state = MOVED_OUT
            elif x < 0.0012:
                r.state = "注销"
            if r.state == ACTIVE:
                self.active[r.pid] = r
            elif r.state == MOVED_OUT:
                moved_out.append(r.pid)
        # a spouse or daughter-in-law also appears, as 迁出, in a household of another community
        candidates = [r for r in self.rows if r.state == ACTIVE and r.relation in ("妻", "配偶", "儿媳", "夫")]
        transfers: list[RegisterRow] = []
        for r in rng.sample(candidates, min(int(len(self.rows) * TRANSFER_RATE), len(candidates))):
            other = rng.choice(self.households)
            if other.community == r.household.community:
                continue
            transfers.append(RegisterRow(r.pid, other, "女" if people.sex[r.pid] == "F" else "子", MOVED_OUT))
        self.rows += transfers
        return moved_out

    def _pick_free(self, site: Site, prefer_unregistered: bool = True, tries: int = 25) -> Flat | House:
        """A random empty dwelling, if possible one where no household is registered."""
        rng = self.rng
        best: Flat | House | None = None
        for _ in range(tries):
            d = rng.choice(site.dwellings)
            if site.occupants[d]:
                continue
            if prefer_unregistered and d in site.registered:
                if best is None:
                    best = d
                continue
            return d
        return best if best is not None else rng.choice(site.dwellings)

    def _pick_other_than(self, site: Site, home: Dwelling) -> Flat | House:
        """A free dwelling other than `home`, in 20 tries (else the last one drawn)."""
        for _ in range(20):
            d = self._pick_free(site)
            if d != home:
                break
        return d

    def _occupy(self, ci: int, dwelling: Dwelling) -> None:
        """Count one more household or person living at the dwelling."""
        self.sites[ci].occupants[dwelling] += 1

    def _residences(self, moved_out: list[int]) -> None:
        """Where the registered live: at home, elsewhere in the community, in another one, or outside the city."""
        rng, people, sites = self.rng, self.people, self.sites
        same_street: defaultdict[str, list[int]] = defaultdict(list)
        for ci, community in enumerate(COMMUNITIES):
            same_street[community.street].append(ci)

        def other_community(ci: int) -> int:
            neighbours = same_street[COMMUNITIES[ci].street]
            if rng.random() < 0.5 and len(neighbours) > 1:
                return rng.choice([j for j in neighbours if j != ci])
            while True:
                j = _weighted(rng, self.weights)
                if j != ci:
                    return j

        mixes: list[list[tuple[str, float]]] = []
        for community in COMMUNITIES:
            if community.kind == URBAN:
                here = rng.uniform(0.54, 0.65)
                moved = rng.uniform(0.04, 0.07)
                elsewhere = rng.uniform(0.07, 0.11)
            else:
                here = rng.uniform(0.64, 0.74)
                moved = rng.uniform(0.03, 0.05)
                elsewhere = rng.uniform(0.05, 0.08)
            outside = max(0.05, 1 - here - moved - elsewhere)
            mixes.append([(LIVES_HERE, here), (MOVED, moved), (ELSEWHERE, elsewhere), (OUTSIDE, outside)])

        def own_choice(ci: int, age: float) -> str:
            mix = mixes[ci]
            if 18 <= age <= 32:
                mix = [(k, w * (1.8 if k == OUTSIDE else 1.0)) for k, w in mix]
            elif age >= 65:
                mix = [(k, w * (0.5 if k in (OUTSIDE, ELSEWHERE) else 1.0)) for k, w in mix]
            return _weighted(rng, mix)

        for h in self.households:
            ci = h.community
            site = sites[ci]
            collective = isinstance(h.dwelling, Collective)
            household_kind = _weighted(rng, mixes[ci])
            if collective and household_kind == LIVES_HERE:
                household_kind = _weighted(rng, [(MOVED, 3), (OUTSIDE, 5), (ELSEWHERE, 2)])
            moved_to: Flat | House | None = None  # where the household moved together
            lives_at: tuple[int, Flat | House] | None = None
            for pid, _ in h.members:
                if pid not in self.active:
                    continue
                age = people.age(pid)
                kind = household_kind if rng.random() > OWN_CHOICE_RATE else own_choice(ci, age)
                if collective and kind == LIVES_HERE:
                    kind = OUTSIDE
                if kind == LIVES_HERE:
                    self.residence[pid] = Residence(ci, h.dwelling, LIVES_HERE)
                elif kind == MOVED:
                    d = moved_to if kind == household_kind else None
                    if d is None:
                        d = self._pick_other_than(site, h.dwelling)
                        if kind == household_kind:
                            moved_to = d
                        self._occupy(ci, d)
                    self.residence[pid] = Residence(ci, d, MOVED)
                elif kind == ELSEWHERE:
                    dest = lives_at if kind == household_kind else None
                    if dest is None:
                        cj = other_community(ci)
                        dest = (cj, self._pick_free(sites[cj]))
                        if kind == household_kind:
                            lives_at = dest
                        self._occupy(*dest)
                    self.residence[pid] = Residence(dest[0], dest[1], ELSEWHERE)
            if any(pid in self.residence and self.residence[pid].kind == LIVES_HERE for pid, _ in h.members):
                self._occupy(ci, h.dwelling)
        for pid in sorted(moved_out):  # some who moved out (迁出) still live in the city
            if rng.random() < STAYED_RATE:
                cj = _weighted(rng, self.weights)
                d = self._pick_free(sites[cj], prefer_unregistered=False)
                self.residence[pid] = Residence(cj, d, STAYED)
                self._occupy(cj, d)

    def _migrants(self) -> None:
        """Unregistered households, in proportion to each community's residents, up to the number of persons."""
        rng, people, sites, n = self.rng, self.people, self.sites, self.persons
        residents = Counter(r.community for r in self.residence.values())
        share = {}
        for ci, community in enumerate(COMMUNITIES):
            s = rng.uniform(0.22, 0.36) + (0.08 if community.dorms else 0.0)
            share[ci] = residents[ci] * s / (1 - s)
        n_migrants = max(0, n - len(people))
        total = sum(share.values()) or 1
        targets = {ci: int(share[ci] * n_migrants / total) for ci in share}
        for ci, site in enumerate(sites):
            community = site.community
            got = 0
            while got < targets[ci] and len(people) < n:
                home = _weighted(rng, MIGRANT_HOMES)
                uyghur = rng.random() < UYGHUR_HOUSEHOLD_RATE
                if uyghur:
                    home = rng.choice(UYGHUR_HOMES)
                room = n - len(people)
                sizes = [(k, w) for k, w in MIGRANT_FAMILY_SIZES if k <= room] or [(1, 1)]
                members = _family(
                    rng, people, NATIONAL_SURNAMES, home, _migrant_head_age, sizes, 1.0 if uyghur else None
                )
                got += len(members)
                x = rng.random()
                d: Dwelling
                if site.dorm_rooms and len(members) <= 2 and x < 0.55:
                    d = rng.choice(site.dorm_rooms)
                elif community.kind == RURAL and x < 0.75:
                    nearby = rng.sample(site.dwellings, min(30, len(site.dwellings)))
                    d = rng.choice([h for h in nearby if isinstance(h, House)] or site.dwellings)
                else:
                    d = self._pick_free(site, prefer_unregistered=rng.random() < 0.5)
                self._occupy(ci, d)
                self._settle_migrants(ci, members, d)
        while len(people) < n:  # what rounding left over: people living alone, not counted as occupants
            ci = _weighted(rng, self.weights)
            home = _weighted(rng, MIGRANT_HOMES)
            members = _family(rng, people, NATIONAL_SURNAMES, home, _migrant_head_age, [(1, 1)])
            self._settle_migrants(ci, members, self._pick_free(sites[ci], prefer_unregistered=False))

    def _settle_migrants(self, ci: int, members: list[Member], dwelling: Dwelling) -> None:
        """Record a migrant household and where its members live."""
        for pid, _ in members:
            self.residence[pid] = Residence(ci, dwelling, MIGRANT)
        self.migrant_households.append(Household(ci, members, dwelling))

    def _phones(self) -> None:
        """A phone per person: children give the head's, some elderly a landline."""
        rng, people = self.rng, self.people
        for h in self.households + self.migrant_households:
            head_phone = None
            for pid, _ in h.members:
                age = people.age(pid)
                if age < 15:
                    people.phone[pid] = head_phone
                elif age > 75 and rng.random() < 0.3:
                    if rng.random() < 0.5:
                        people.phone[pid] = "0574-63" + f"{rng.randrange(10**6):06d}"
                    else:
                        people.phone[pid] = "63" + f"{rng.randrange(10**6):06d}"
                else:
                    people.phone[pid] = _mobile(rng)
                if head_phone is None:
                    head_phone = people.phone[pid]

    # --- the register ---

    def _write_register(self) -> None:
        """The police extract, ordered by community, 户号 and relation, and its truth."""
        rng, people = self.rng, self.people
        styles = {
            street: StationStyle(
                sex_code=rng.random() < 0.3,
                relation_code=rng.random() < 0.3,
                ethnicity_code=rng.random() < 0.25,
                date_compact=rng.random() < 0.5,
            )
            for street in STREETS
        }
        relation_order = {k: i for i, k in enumerate(RELATION_CODES)}
        self.rows.sort(
            key=lambda r: (
                COMMUNITIES[r.household.community].code,
                r.household.number,
                relation_order.get(r.relation, 99),
                r.pid,
            )
        )
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(REGISTER_HEADER)
        addresses: dict[tuple[int, str], str] = {}
        truth = self.stats.register_truth
        for line, r in enumerate(self.rows, start=2):
            r.row = line
            pid, h = r.pid, r.household
            community = COMMUNITIES[h.community]
            style = styles[community.street]
            key = (h.community, h.number)
            if key not in addresses:
                addresses[key] = _register_address(community, h.dwelling, rng)
            male = people.sex[pid] == "M"
            sex = ("1" if male else "2") if style.sex_code ^ (rng.random() < 0.03) else ("男" if male else "女")
            relation = RELATION_CODES[r.relation] if style.relation_code ^ (rng.random() < 0.05) else r.relation
            ethnicity = people.ethnicity[pid]
            if style.ethnicity_code:
                ethnicity = ETHNICITY_CODES.get(ethnicity, "01")
            birth = people.birth[pid]
            date_format = "%Y%m%d" if style.date_compact else "%Y-%m-%d"
            if r.relation in CHILD_RELATIONS and rng.random() < 0.7:
                moved_in = birth
            else:
                lo = max(birth + dt.timedelta(days=365 * 18), dt.date(1980, 1, 1))
                hi = dt.date(2023, 12, 31)
                moved_in = lo + dt.timedelta(days=rng.randrange(max(1, (hi - lo).days))) if lo < hi else birth
            education = "" if people.age(pid) < 7 else _weighted(rng, EDUCATION)
            street, _, station = STREETS[community.street]
            writer.writerow(
                [
                    people.regid[pid],
                    people.name[pid],
                    people.former[pid],
                    sex,
                    ethnicity,
                    birth.strftime(date_format),
                    h.number,
                    relation,
                    addresses[key],
                    station,
                    street,
                    community.name,
                    community.code,
                    r.state,
                    moved_in.strftime(date_format),
                    education,
                ]
            )
            truth.append((REGISTER_FILE, line, pid, *self._register_status(r), community.code))
        (self.out / "register" / REGISTER_FILE).write_bytes(buf.getvalue().encode("gb18030"))

    def _register_status(self, r: RegisterRow) -> tuple[str, str | None]:
        """(status, code of the community the person lives in instead) of a register row."""
        if r.state != ACTIVE:
            return INACTIVE, None
        lives = self.residence.get(r.pid)
        if lives is None:
            return ABSENT, None
        if lives.community == r.household.community:
            return (CONSISTENT if lives.dwelling == r.household.dwelling else MOVED_WITHIN), None
        return ABSENT, COMMUNITIES[lives.community].code

    # --- the rolls ---

    def _write_rolls(self) -> None:
        """One roll per community, 22 workbooks and 4 CSV files."""
        rng = self.rng
        residents: defaultdict[int, list[int]] = defaultdict(list)
        for pid in sorted(self.residence):
            residents[self.residence[pid].community].append(pid)
        household_of: dict[int, tuple[str, int]] = {}  # pid -> ("r" registered or "m" migrant, index)
        for i, h in enumerate(self.households):
            for pid, _ in h.members:
                household_of.setdefault(pid, ("r", i))
        for i, h in enumerate(self.migrant_households):
            for pid, _ in h.members:
                household_of[pid] = ("m", i)
        n = len(COMMUNITIES)
        csv_rolls = set(rng.sample(range(n), 4))
        encodings = {ci: "utf-8-sig" if j % 2 == 0 else "gb18030" for j, ci in enumerate(sorted(csv_rolls))}
        self.stats.csv_rolls = [f"{COMMUNITIES[ci].code}:{encodings[ci]}" for ci in sorted(csv_rolls)]
        with_community_column = set(rng.sample([i for i in range(n) if i not in csv_rolls], 2))
        for ci, site in enumerate(self.sites):
            self._write_roll(
                ci,
                site,
                residents[ci],
                household_of,
                encodings.get(ci),
                with_community_column=ci in with_community_column,
            )

    def _write_roll(
        self,
        ci: int,
        site: Site,
        residents: list[int],
        household_of: dict[int, tuple[str, int]],
        encoding: str | None,
        *,
        with_community_column: bool,
    ) -> None:
        """One community's roll (a workbook when `encoding` is None) and its truth."""
        rng, people, community = self.rng, self.people, site.community
        n_grids = rng.randint(3, 8)
        grid_of = _grids(site, n_grids)
        workers = [Worker(rng) for _ in range(n_grids)]
        grid_style = rng.choice(["第{cn}网格", "网格{n}", "{n}", "{n}号网格", community.name[:2] + "{n}网格"])
        style = RollStyle(
            id_blank=rng.uniform(0.15, 0.45),
            birth_blank=rng.uniform(0.25, 0.6),
            sex_blank=rng.choice([0.0, 0.0, 0.02, 0.1]),
            lower_x=rng.choice([0.0, 0.3, 0.6]),
            birth_format=_weighted(rng, [("dash", 30), ("slash", 20), ("compact", 20), ("excel", 30)]),
            slash_unpadded=rng.random() < 0.5,
            phone_blank=rng.uniform(0.03, 0.2),
            typed_cells=rng.random() < 0.5,
            duplicate_rate=rng.uniform(0.002, 0.012),
        )
        order = self._roll_order(residents, grid_of, household_of, style.duplicate_rate)
        is_xlsx = encoding is None
        columns, id_header, phone_header, address_header = _roll_columns(rng, with_community_column)
        file_name = f"{community.code}_{community.name}." + ("xlsx" if is_xlsx else "csv")

        seen: set[int] = set()
        rows: list[list[CellValue]] = []
        tags, examples = self.stats.tags, self.stats.examples
        for seq, pid in enumerate(order, start=1):
            _, d, kind = self.residence[pid]
            grid = grid_of(d)
            registered = self.active.get(pid)
            registered_here = registered is not None and registered.household.community == ci
            other_code: str | None = None  # where an unregistered resident is registered
            if pid in seen:
                status = DUPLICATE
            elif registered is not None and registered_here:
                status = CONSISTENT if d == registered.household.dwelling else MOVED_WITHIN
            else:
                status = UNREGISTERED
                if registered is not None:
                    other_code = COMMUNITIES[registered.household.community].code
            seen.add(pid)
            home = registered.household.dwelling if registered is not None and registered_here else None
            forbid = home if home is not None and d != home else None
            address, address_tags, pattern = _write_address(rng, workers[grid], community, d, forbid)
            if d == home and (pattern is None or not _fits(pattern, d)):
                raise RuntimeError(f"{address!r} does not say the dwelling it was written for")
            name_tags: list[str] = []
            id_tags: list[str] = []
            birth_tags: list[str] = []
            name = _noisy_name(rng, pid, people, name_tags)
            id_value = _noisy_id(rng, pid, people, style, is_xlsx, id_tags)
            birth = _noisy_birth(rng, pid, people, style, is_xlsx, birth_tags)
            for category, category_tags, value in (
                ("address", address_tags, address),
                ("name", name_tags, name),
                ("id", id_tags, id_value),
                ("birth", birth_tags, birth),
            ):
                for tag in category_tags:
                    tags[category][tag] += 1
                    examples.setdefault((category, tag), value)
            sex = "" if rng.random() < style.sex_blank else ("男" if people.sex[pid] == "M" else "女")
            phone = None if rng.random() < style.phone_blank else people.phone[pid]
            if kind == MIGRANT:
                if isinstance(d, DormRoom):
                    tenure = "单位宿舍"
                else:
                    tenure = _weighted(rng, [("租赁", 82), ("借住", 9), ("自有", 6), ("", 3)])
            elif kind == LIVES_HERE:
                tenure = _weighted(rng, [("自有", 88), ("借住", 4), ("", 8)])
            else:
                tenure = _weighted(rng, [("自有", 55), ("租赁", 35), ("借住", 7), ("", 3)])
            hukou = ""
            if "户籍地" in columns:
                if kind == MIGRANT:
                    hukou = people.origin[pid]
                elif registered_here:
                    hukou = rng.choice(["本社区", "本地", ""])
                elif registered is not None:
                    hukou = rng.choice(["慈溪", "本市", STREETS[COMMUNITIES[registered.household.community].street][0]])
                else:
                    hukou = rng.choice(["", "慈溪"])
            note = ""
            x = rng.random()
            if kind == MIGRANT and x < 0.25:
                note = rng.choice(["外来务工", "租住", "居住证已办", "流动人口", "房东代报"])
            elif kind in (LIVES_HERE, MOVED) and x < 0.06:
                note = rng.choice(["自住", "已核实", "老人"])
            elif x < 0.02:
                note = "复核"
            registered_on = REF - dt.timedelta(days=rng.randrange(20, 200))
            values: dict[str, CellValue] = {
                "序号": seq,
                "网格": grid_style.format(cn=_chinese_number(grid + 1), n=grid + 1),
                "社区": community.name,
                "姓名": name,
                "性别": sex,
                id_header: id_value,
                "出生日期": birth,
                "民族": people.ethnicity[pid],
                address_header: address,
                phone_header: phone,
                "房屋性质": tenure,
                "户籍地": hukou,
                "登记日期": registered_on,
                "备注": note,
            }
            rows.append([values[c] for c in columns])
            register_row = registered.row if registered is not None else None
            self.stats.roll_truth.append((file_name, seq + 1, pid, community.code, register_row, status, other_code))
        path = self.out / "rolls" / file_name
        if encoding is None:
            self._write_workbook(path, community, columns, phone_header, rows, typed_cells=style.typed_cells)
        else:
            _write_csv(path, columns, rows, encoding)

    def _roll_order(
        self,
        residents: list[int],
        grid_of: Callable[[Dwelling], int],
        household_of: dict[int, tuple[str, int]],
        duplicate_rate: float,
    ) -> list[int]:
        """Residents by grid, dwelling and household, slightly out of order, a few listed again further down."""
        rng = self.rng

        def key(pid: int) -> tuple[int, str, tuple[int, ...], tuple[str, int], int]:
            d = self.residence[pid].dwelling
            return (grid_of(d), d[0], tuple(0 if x is None else x for x in d[1:]), household_of[pid], pid)

        rows = sorted(residents, key=key)
        for _ in range(len(rows) // 40):  # workers' sheets are not perfectly sorted
            i, k = rng.randrange(len(rows)), rng.randrange(len(rows))
            rows[i], rows[k] = rows[k], rows[i]
        order = [(float(i), pid) for i, pid in enumerate(rows)]
        n_duplicates = round(len(rows) * duplicate_rate)
        for i in rng.sample(range(len(rows)), min(n_duplicates, len(rows))):
            at = rng.uniform(i + 0.5, len(rows) + 0.5) if rng.random() < 0.6 else len(rows) + rng.random()
            order.append((at, rows[i]))
        order.sort()
        return [pid for _, pid in order]

    def _write_workbook(
        self,
        path: Path,
        community: Community,
        columns: list[str],
        phone_header: str,
        rows: list[list[CellValue]],
        *,
        typed_cells: bool,
    ) -> None:
        """The roll as a workbook, sometimes behind a cover sheet of instructions."""
        rng = self.rng
        wb = xlsxwriter.Workbook(path, {"constant_memory": True})
        birth_format = wb.add_format({"num_format": rng.choice(["yyyy-mm-dd", "yyyy/m/d", 'yyyy"年"m"月"d"日"'])})
        registered_format = wb.add_format({"num_format": "yyyy-mm-dd"})
        id_format = wb.add_format({"num_format": "0"})
        if rng.random() < 0.45:
            cover = wb.add_worksheet(rng.choice(["填表说明", "说明", "封面"]))
            street = STREETS[community.street][0]
            committee = "居民委员会" if community.kind == URBAN else "村民委员会"
            lines = [
                f"{community.name}实有人口登记表（2024年第一季度）",
                f"填报单位：{street}{community.name}{committee}",
                "填表说明：",
                "1. 身份证号码请填写18位，不清楚的可不填；",
                "2. 现住地址填写实际居住的小区、幢、单元、室号；",
                "3. 房屋性质填写自有、租赁、借住、单位宿舍；",
                f"4. 本表由各网格员入户采集，{REF.year}年{REF.month}月汇总。",
            ]
            for i, text in enumerate(lines):
                cover.write_string(i, 0, text)
        ws = wb.add_worksheet(rng.choice(["实有人口", "Sheet1", "登记表", "实有人口信息", "汇总"]))
        for j, header in enumerate(columns):
            ws.write_string(0, j, header)
        for i, row in enumerate(rows, start=1):
            for j, v in enumerate(row):
                if v is None or v == "":
                    continue
                if isinstance(v, int):  # 序号
                    ws.write_number(i, j, v)
                elif isinstance(v, dt.date):  # 登记日期
                    if typed_cells:
                        ws.write_datetime(i, j, dt.datetime(v.year, v.month, v.day), registered_format)
                    else:
                        ws.write_string(i, j, f"{v:%Y-%m-%d}")
                elif isinstance(v, ExcelDate):
                    ws.write_datetime(i, j, dt.datetime(v.value.year, v.value.month, v.value.day), birth_format)
                elif isinstance(v, ExcelNumber):
                    ws.write_number(i, j, v.value, id_format)
                elif columns[j] == phone_header and typed_cells and v.isdigit():
                    ws.write_number(i, j, int(v))
                else:
                    ws.write_string(i, j, v)
        wb.close()

    # --- truth ---

    def _write_truth(self) -> None:
        """The status of every register and roll row."""
        pl.DataFrame(self.stats.register_truth, schema=REGISTER_TRUTH, orient="row").write_parquet(
            self.out / "truth" / "register_truth.parquet"
        )
        pl.DataFrame(
            self.stats.roll_truth,
            schema=ROLL_TRUTH,
            orient="row",
        ).write_parquet(self.out / "truth" / "roll_truth.parquet")


def _grids(site: Site, n_grids: int) -> Callable[[Dwelling], int]:
    """Dwelling -> grid (0-based): the community's buildings and village groups cut into `n_grids` runs."""
    blocks = sorted({_block(d) for d in [*site.dwellings, *site.dorm_rooms]})
    grid = {block: min(n_grids - 1, i * n_grids // len(blocks)) for i, block in enumerate(blocks)}
    return lambda d: grid[_block(d)]


def _block(d: Dwelling) -> tuple[int, int, int]:
    """The building, village group or company a dwelling belongs to."""
    if isinstance(d, Flat):
        return (0, d.estate, d.building)
    if isinstance(d, House):
        return (1, d.group, 0)
    if isinstance(d, DormRoom):
        return (2, d.company, 0)
    raise TypeError("a collective household is in no grid")


def _roll_columns(rng: random.Random, with_community_column: bool) -> tuple[list[str], str, str, str]:
    """A roll's columns and its names for the ID number, phone and address columns."""
    id_header = _weighted(rng, [("身份证号", 55), ("公民身份号码", 25), ("证件号码", 20)])
    phone_header = rng.choice(["联系电话", "手机号码"])
    address_header = rng.choice(["现住地址", "居住地址", "实际居住地址"])
    columns = ["序号"]
    if rng.random() < 0.8:
        columns.append("网格")
    person = ["姓名", "性别", id_header]
    if rng.random() < 0.93:
        person.append("出生日期")
    if rng.random() < 0.25:
        person.insert(2, "民族")
    if rng.random() < 0.25:
        columns += [address_header, *person]
    else:
        columns += [*person, address_header]
    columns += [phone_header, "房屋性质"]
    if rng.random() < 0.3:
        columns.append("户籍地")
    if rng.random() < 0.8:
        columns.append("登记日期")
    columns.append("备注")
    if with_community_column:
        columns.insert(1, "社区")
    return columns, id_header, phone_header, address_header


def _write_csv(path: Path, columns: list[str], rows: list[list[CellValue]], encoding: str) -> None:
    """The roll as a CSV file (CRLF) in the office's encoding."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else f"{v:%Y-%m-%d}" if isinstance(v, dt.date) else str(v) for v in row])
    path.write_bytes(buf.getvalue().encode(encoding))


def write_city(out: Path, *, persons: int, seed: int = DEFAULT_SEED) -> CityStats:
    """Write a city of `persons` people to `out` (register/, rolls/, truth/) and return its statistics."""
    return _CityWriter(out, persons, seed).run()


def persons_at(scale: float) -> int:
    """The number of people at a scale: scale 1 registers about 200,000."""
    return round(PERSONS_PER_SCALE * scale)


def _example(value: object) -> object:
    """A report example, Excel cells written as num:... and date:..."""
    if isinstance(value, ExcelNumber):
        return f"num:{value.value}"
    if isinstance(value, ExcelDate):
        return f"date:{value.value}"
    return value


def print_report(stats: CityStats, seconds: float) -> None:
    """Counts, statuses, and every writing variant with its share of roll rows and an example."""
    register, rolls = stats.register_truth, stats.roll_truth
    print(
        f"persons={stats.persons} registered_persons={stats.registered_persons} households={stats.households} "
        f"migrant_households={stats.migrant_households} communities={stats.communities}"
    )
    print(
        f"register_rows={len(register)} roll_rows={len(rolls)} rolls={stats.communities} "
        f"(csv: {', '.join(stats.csv_rolls)})"
    )
    counts = Counter(t[3] for t in register)
    print("register status:", {k: f"{v} ({v / len(register):.1%})" for k, v in counts.most_common()})
    print("  absent with other community:", sum(1 for t in register if t[3] == ABSENT and t[4]))
    counts = Counter(t[5] for t in rolls)
    print("roll status:", {k: f"{v} ({v / len(rolls):.1%})" for k, v in counts.most_common()})
    print("  unregistered with other community:", sum(1 for t in rolls if t[5] == UNREGISTERED and t[6]))
    total = len(rolls)
    for category in ("address", "name", "id", "birth"):
        print(f"--- {category} variants (per roll row, n={total})")
        for tag, v in sorted(stats.tags[category].items(), key=lambda kv: -kv[1]):
            print(f"  {tag:40s} {v:7d} {v / total:7.2%}  e.g. {_example(stats.examples[(category, tag)])!r}")
    print(f"elapsed {seconds:.1f}s (register written at {stats.register_seconds:.1f}s)")


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write a city to OUT and print its statistics."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="output directory")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--scale", type=float, help=f"{PERSONS_PER_SCALE:,} people per unit (default 1)")
    size.add_argument("--persons", type=int, help="the number of people instead")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}")
    args = parser.parse_args(argv)
    persons = args.persons if args.persons is not None else persons_at(1.0 if args.scale is None else args.scale)
    if persons < 1:
        parser.error("a city needs at least one person")
    t0 = time.time()
    stats = write_city(args.out, persons=persons, seed=args.seed)
    print_report(stats, time.time() - t0)


if __name__ == "__main__":
    main()
