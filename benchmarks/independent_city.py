"""An independent synthetic city written from the data contract alone (not from `synth/`).

Writes a police register extract, one occupancy roll per community and the ground truth, so the
pipeline can be tested on data its own generator did not shape:

    python -m benchmarks.independent_city OUT --scale S --seed N

Truth says which flat a person lives in; the rolls write that flat the many ways community workers do.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import json
import random
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import xlsxwriter

from benchmarks.evaluate import REGISTER_TRUTH, ROLL_TRUTH

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

REGISTER_FILE = "户籍人口.csv"
TODAY = dt.date(2025, 6, 30)
LAST_BIRTH = dt.date(2025, 5, 31)
COUNTY = "330282"
PERSONS_PER_SCALE = 200_000
MEAN_HOUSEHOLD = 2.82

URBAN, RURAL, DORM = 0, 1, 2
CONSISTENT, MOVED_WITHIN, OTHER, ABSENT, INACTIVE, MIGRANT = range(6)

# --- places -------------------------------------------------------------------------------------------

# (street or town, township code, police station)
STREETS: tuple[tuple[str, str, str], ...] = (
    ("浒山街道", "001", "浒山派出所"),
    ("古塘街道", "002", "古塘派出所"),
    ("白沙路街道", "003", "白沙路派出所"),
    ("宗汉街道", "004", "宗汉派出所"),
    ("周巷镇", "101", "周巷派出所"),
    ("观海卫镇", "102", "观海卫派出所"),
    ("横河镇", "103", "横河派出所"),
)
EXTRA_STREETS: tuple[tuple[str, str, str], ...] = (
    ("坎墩街道", "005", "坎墩派出所"),
    ("逍林镇", "104", "逍林派出所"),
    ("新浦镇", "105", "新浦派出所"),
    ("胜山镇", "106", "胜山派出所"),
    ("附海镇", "107", "附海派出所"),
    ("桥头镇", "108", "桥头派出所"),
    ("匡堰镇", "109", "匡堰派出所"),
    ("掌起镇", "110", "掌起派出所"),
    ("长河镇", "111", "长河派出所"),
    ("龙山镇", "112", "龙山派出所"),
    ("崇寿镇", "113", "崇寿派出所"),
    ("庵东镇", "114", "庵东派出所"),
)
# 48 communities as in the 2009 proposal: 浒山 25, 古塘 10, 白沙路 3, 宗汉 1, 周巷 6, 观海卫 2, 横河 1.
BASE_COMMUNITIES: tuple[tuple[int, str], ...] = tuple(
    [
        (0, n + "社区")
        for n in [
            "青少年宫路",
            "华联",
            "孙塘",
            "教场山",
            "东门",
            "南门",
            "西门",
            "北门",
            "城东",
            "城南",
            "虞波",
            "三北",
            "慈湖",
        ]
    ]
    + [
        (0, n + "社区")
        for n in ["金山", "明月", "峙山", "新城", "天九", "环城", "海关", "吉祥", "民主", "东山", "解放", "五塘"]
    ]
    + [(1, n + "社区") for n in ["古塘", "旦苑", "担山", "新江路", "开发", "兰亭", "南二", "界塘", "五星", "浦东"]]
    + [(2, n + "社区") for n in ["白沙", "友谊", "北二环"]]
    + [(3, "宗兴社区"), (4, "城中社区"), (4, "兴业社区"), (4, "三江社区"), (4, "万安庄村"), (4, "西三村")]
    + [(4, "洋浦村"), (5, "卫山社区"), (5, "鸣鹤村"), (6, "龙南村")]
)
# A few real-looking compounds placed in the community they belong to.
NAMED_COMPOUNDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "华联社区": (("文化", "广场", ""),),
    "青少年宫路社区": (("城东", "新村", "东区"), ("城东", "新村", "西区")),
    "教场山社区": (("教场山", "小区", ""),),
    "孙塘社区": (("孙塘", "新村", ""),),
    "金山社区": (("金山", "新村", ""),),
    "三北社区": (("三北", "新村", ""),),
    "五塘社区": (("五塘", "新村", ""),),
    "虞波社区": (("虞波", "家园", ""),),
    "峙山社区": (("峙山", "花园", ""),),
    "明月社区": (("明月", "公寓", ""),),
    "南门社区": (("玉兰", "苑", ""),),
}
CORE_FIRST = (
    "金银玉华新东西南北青白翠碧锦绿紫明阳天海江湖凤龙桂兰梅竹松柏香荷春秋嘉瑞祥富丰泰康宁安和鸿盛恒隆福吉庆美雅清蓝"
)
CORE_SECOND = "山水湖城林都庭湾桥泉溪河塘坊门光景辉星月阳港洲岛竹枫荷岸畔堤亭"
# suffix: (weight, floors range, unit choices, rooms per floor per unit, buildings range)
COMPOUND_KINDS: dict[str, tuple[float, tuple[int, int], tuple[int, ...], tuple[int, ...], tuple[int, int]]] = {
    "新村": (3.0, (5, 6), (0, 2, 2, 3), (2,), (8, 36)),
    "小区": (2.5, (5, 7), (0, 2, 3), (2,), (6, 28)),
    "花园": (2.0, (6, 11), (2, 3), (2,), (6, 24)),
    "家园": (1.5, (11, 18), (2, 3), (2,), (5, 18)),
    "公寓": (0.8, (11, 18), (1, 2), (2, 3, 4), (2, 6)),
    "苑": (2.0, (11, 18), (2, 3), (2,), (5, 16)),
    "华庭": (0.8, (15, 26), (2,), (2,), (5, 14)),
    "名苑": (0.8, (11, 18), (2, 3), (2,), (5, 14)),
    "广场": (0.5, (9, 18), (2, 3, 4), (2,), (4, 12)),
    "府": (0.5, (11, 18), (2,), (2,), (6, 16)),
}
DROPPABLE = ("新村", "小区", "花园", "家园", "公寓", "苑")
AREAS = ("东区", "西区", "南区", "北区")
PLACE_HOMOPHONES = {
    "兰": "蓝",
    "苑": "院",
    "城": "成",
    "景": "京",
    "庭": "亭",
    "湾": "弯",
    "桂": "贵",
    "阳": "洋",
    "明": "名",
    "新": "欣",
    "翠": "萃",
    "嘉": "佳",
    "泰": "太",
    "园": "圆",
    "华": "花",
    "峰": "锋",
}
ROADS = ("新城大道", "北三环", "开发大道", "慈甬路", "浒崇公路", "三北大街", "孙塘路", "南二环", "潮塘路", "明州路")
FIRMS = ("电器有限公司", "塑料制品厂", "五金有限公司", "纺织有限公司", "轴承厂", "家电有限公司")

# --- people -------------------------------------------------------------------------------------------

SURNAMES = (
    "胡6陈6王5张4孙4沈4徐4叶3岑2罗2马2杨3周3施2钱2俞2方2余2黄2朱2陆2吴3李3刘2赵1郑2潘2应1励1杜1"
    "邹1宓1戚1虞1龚1金2袁1高1章2谢1许1冯1蒋1韩1林2侯1汪1姚1史1柴1傅1毛1邵1楼1魏1范1"
)
MIGRANT_SURNAMES = "王8李8张7刘6陈5杨5黄3赵3吴3周3徐2孙2马2朱2胡2郭2何2高2林2罗2郑2梁1谢1宋1唐1许1韩1冯1邓1曹1彭1曾1肖1田1董1袁1潘1蒋1蔡1余1杜1叶1程1苏1魏1吕1丁1任1沈1姚1卢1"
GIVEN = {
    (1, 0): "国建华明伟军德荣根林海兴龙祥福财宝庆忠志成强平富发良春生才水法金元康",
    (2, 0): "秀英芳珍兰凤娟美玲菊琴萍素月娣红云飞霞梅妹花华仙翠",
    (1, 1): "伟杰斌军峰涛磊刚勇超强波辉鹏亮海东明华俊锋浩晓立志健宇文",
    (2, 1): "丽静燕艳敏芳婷娟洁霞萍琳玲雪颖佳倩莉红丹晶薇",
    (1, 2): "浩宇轩子睿杰博涵宸泽俊昊铭晨豪阳天一航逸然凯乐",
    (2, 2): "欣怡雨涵子梓萱可诗琪佳悦彤妍依思嘉璐晨雅一婷",
}
UYGHUR_GIVEN = {
    1: ("买买提", "艾力", "阿不都", "吐尔逊", "艾买提", "依明", "热合曼", "努尔", "库尔班", "玉素甫", "艾则孜", "亚森"),
    2: (
        "阿依古丽",
        "古丽娜尔",
        "热依拉",
        "帕提古丽",
        "迪丽努尔",
        "阿依努尔",
        "再努尔",
        "米热古丽",
        "努尔古丽",
        "祖丽菲亚",
    ),
}
YI_CLANS = ("吉克", "阿尔", "沙马", "吉伍", "阿苦", "马海", "俄木", "木色", "曲比", "勒格")
YI_GIVEN = {
    1: ("木呷", "伍沙", "尔哈", "日哈", "约哈", "石且", "金古", "拉且"),
    2: ("阿依", "拉莫", "阿支", "阿果", "伍各", "日莫"),
}
NATIONS = ("汉族", "土家族", "苗族", "回族", "彝族", "满族", "壮族", "布依族", "侗族")
EDUCATION = ("小学", "初中", "初中", "高中", "中专", "大学专科", "大学本科", "研究生")
# Areas of migrants' (and some settled residents') IDs: Anhui, Henan, Guizhou, Sichuan, Jiangxi, Hunan, Yunnan, Zhejiang.
MIGRANT_AREAS = (
    "342401",
    "341221",
    "340826",
    "412726",
    "411523",
    "522427",
    "522125",
    "511623",
    "513030",
    "362330",
    "431021",
    "532128",
    "330281",
    "330621",
    "331023",
    "513431",
    "653101",
)
OLD_AREAS = (("330222", 0.22), ("332221", 0.05), ("339009", 0.01))

TRADITIONAL = dict(
    zip(
        "张陈刘杨黄赵吴郑孙马许钱叶罗陆冯蒋韩龚谢伟华国军丽红东强兰凤贤龙飞涛辉刚杰庆宝荣进发胜颖静艳凯鹏洁亚卫云丰宁莲爱义达远学岚",
        "張陳劉楊黃趙吳鄭孫馬許錢葉羅陸馮蔣韓龔謝偉華國軍麗紅東強蘭鳳賢龍飛濤輝剛傑慶寶榮進發勝穎靜豔凱鵬潔亞衛雲豐寧蓮愛義達遠學嵐",
        strict=True,
    )
)
HOMOPHONES: dict[str, str] = {}
for _group in [
    "伟玮炜",
    "丽莉俐",
    "华桦",
    "芳方",
    "静靖",
    "军君",
    "明铭",
    "英瑛",
    "红虹宏",
    "玲琳",
    "娟鹃",
    "涛韬",
    "峰锋",
    "斌彬",
    "杰捷",
    "燕艳",
    "萍苹",
    "建健",
    "成诚",
    "志智",
    "文雯",
    "宇雨",
    "佳嘉",
    "欣馨",
    "晨辰",
    "浩昊",
    "轩萱",
    "涵晗",
    "琪琦",
    "婷亭",
    "勇永",
    "张章",
    "王汪",
    "余俞",
    "吴伍",
    "罗骆",
    "朱诸",
]:
    for _i, _c in enumerate(_group):
        HOMOPHONES[_c] = _group[(_i + 1) % len(_group)]
LOOKALIKES = {"侯": "候", "候": "侯", "王": "玉", "玉": "王", "汪": "江", "江": "汪", "未": "末", "末": "未"}
DOT_VARIANTS = ("•", "．", ".", "・", "", "·", "-")

FULLWIDTH = str.maketrans("0123456789-#X", "０１２３４５６７８９－＃Ｘ")
CN_DIGITS = "〇一二三四五六七八九"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

# --- roll layout --------------------------------------------------------------------------------------

ROLL_ORDERS: tuple[tuple[str, ...], ...] = (
    ("序号", "网格", "姓名", "性别", "身份证号", "出生日期", "联系电话", "现住地址", "房屋性质", "登记日期", "备注"),
    ("序号", "姓名", "性别", "身份证号", "出生日期", "现住地址", "网格", "联系电话", "房屋性质", "登记日期", "备注"),
    ("序号", "网格", "现住地址", "姓名", "身份证号", "性别", "出生日期", "联系电话", "房屋性质", "备注", "登记日期"),
    ("网格", "序号", "姓名", "身份证号", "性别", "出生日期", "现住地址", "房屋性质", "联系电话", "登记日期", "备注"),
    ("序号", "姓名", "身份证号", "性别", "出生日期", "联系电话", "网格", "现住地址", "房屋性质", "备注", "登记日期"),
)
HEADER_ALIASES = {
    "身份证号": ("身份证号", "身份证号", "公民身份号码", "证件号码"),
    "联系电话": ("联系电话", "联系电话", "手机号码"),
    "现住地址": ("现住地址", "现住地址", "居住地址", "实际居住地址"),
}
SHEET_NAMES = ("实有人口", "Sheet1", "人口登记", "实有人口登记表", "花名册")
NOTES = ("出租", "新登记", "独居老人", "学生", "租户", "暂住", "已核实", "电话未接", "老人")
ADDRESS_NOTES = ("（出租）", "(出租)", "（租住）", "（自住）", "（群租）", "(租户)")

# Address-writing habits: global weights, perturbed per community (each office has its own habits).
ADDRESS_FEATURES: dict[str, tuple[tuple[str, float], ...]] = {
    "prefix": (
        ("none", 0.42),
        ("city", 0.10),
        ("street", 0.14),
        ("community", 0.12),
        ("city+street", 0.08),
        ("street+community", 0.07),
        ("city+street+community", 0.04),
        ("province", 0.03),
    ),
    "name": (("full", 0.80), ("short", 0.17), ("homophone", 0.03)),
    "mode": (("full", 0.62), ("nounit", 0.22), ("dash3", 0.09), ("dash2u", 0.05), ("dash2", 0.02)),
    "marker": (("幢", 0.55), ("号楼", 0.16), ("栋", 0.14), ("座", 0.03), ("#", 0.12)),
    "room": (("室", 0.55), ("", 0.30), ("号", 0.08), ("房", 0.07)),
    "village": (("full", 0.6), ("nocun", 0.2), ("none", 0.2)),
    "rural_prefix": (("none", 0.5), ("town", 0.3), ("city+town", 0.15), ("city", 0.05)),
    "number": (("号", 0.8), ("", 0.2)),
    "birth": (("blank", 0.40), ("iso", 0.21), ("slash", 0.12), ("compact", 0.12), ("excel", 0.15)),
}
ADDRESS_FLAGS = {"cn": 0.10, "fullwidth": 0.05, "spaces": 0.06, "note": 0.03}

Cell = str | int | float | dt.date | None


# --- model --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Compound:
    """A residential compound: core + suffix (+ sub-area), e.g. 城东 + 新村 + 东区."""

    core: str
    suffix: str
    area: str
    units: int
    community: int
    short: str = ""
    homophone: str = ""
    buildings: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The compound's registered name."""
        return self.core + self.suffix + self.area


@dataclass(slots=True)
class Flat:
    """A dwelling: urban flat (compound, 幢, 单元, 室), rural house (组, 号) or a works dormitory."""

    community: int
    kind: int
    compound: int
    building: int
    unit: int
    room: int
    grid: int
    dorm: tuple[str, str, str] = ("", "", "")


@dataclass(slots=True)
class Person:
    """A person of the city, registered or migrant."""

    pid: int
    name: str
    sex: int
    birth: dt.date
    idno: str
    nation: str
    phone: str
    household: int = -1
    relation: str = ""
    state: str = "正常"
    moved_in: dt.date = TODAY
    former: str = ""
    education: str = ""
    fate: int = CONSISTENT
    lives: int = -1
    register_row: int | None = None


@dataclass(slots=True)
class Household:
    """A registered household (户): members share 户号 and the registered flat."""

    number: str
    community: int
    flat: int
    members: list[int]
    province_form: str


@dataclass(slots=True)
class Profile:
    """One office's habits: cumulative weights per feature and the rate of each flag."""

    choices: dict[str, tuple[tuple[str, ...], tuple[float, ...]]]
    flags: dict[str, float]

    def pick(self, rng: random.Random, feature: str) -> str:
        """Draw one option of `feature`."""
        options, cum = self.choices[feature]
        return options[bisect.bisect_right(cum, rng.random() * cum[-1])]


@dataclass(slots=True)
class Community:
    """A 社区 or 村 with its flats and the habits of its office."""

    code: str
    name: str
    street: str
    station: str
    rural: bool
    consistency: float
    migrant_factor: float
    profile: Profile
    grid_style: int
    flats: list[int] = field(default_factory=list)
    unregistered_flats: list[int] = field(default_factory=list)
    compounds: list[int] = field(default_factory=list)
    dorms: list[int] = field(default_factory=list)

    @property
    def short(self) -> str:
        """The name without 社区 / 村."""
        return self.name.removesuffix("社区").removesuffix("村")


@dataclass(slots=True)
class City:
    """Everything generated, before it is written."""

    communities: list[Community] = field(default_factory=list)
    compounds: list[Compound] = field(default_factory=list)
    flats: list[Flat] = field(default_factory=list)
    households: list[Household] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    used_ids: set[str] = field(default_factory=set)
    used_numbers: set[str] = field(default_factory=set)
    buildings: dict[tuple[int, int], list[int]] = field(default_factory=dict)


# --- small helpers ------------------------------------------------------------------------------------


def check_digit(body: str) -> str:
    """GB 11643 MOD 11-2 check character of the first 17 digits.

    >>> check_digit("11010519491231002")
    'X'
    """
    return ID_CHECK[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def cn_number(n: int) -> str:
    """Chinese numeral for 1..99 (larger numbers stay Arabic).

    >>> cn_number(8), cn_number(12), cn_number(20), cn_number(38)
    ('八', '十二', '二十', '三十八')
    """
    if n < 10:
        return CN_DIGITS[n]
    if n < 20:
        return "十" + (CN_DIGITS[n - 10] if n > 10 else "")
    if n < 100:
        tens, ones = divmod(n, 10)
        return CN_DIGITS[tens] + "十" + (CN_DIGITS[ones] if ones else "")
    return str(n)


def _weighted(pairs: Sequence[tuple[str, float]]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    return tuple(p[0] for p in pairs), tuple(accumulate(p[1] for p in pairs))


def _parse_weights(text: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    pairs, i = [], 0
    while i < len(text):
        pairs.append((text[i], float(text[i + 1])))
        i += 2
    return _weighted(pairs)


SURNAME_TABLE = _parse_weights(SURNAMES)
MIGRANT_SURNAME_TABLE = _parse_weights(MIGRANT_SURNAMES)


def _pick(rng: random.Random, table: tuple[tuple[str, ...], tuple[float, ...]]) -> str:
    options, cum = table
    return options[bisect.bisect_right(cum, rng.random() * cum[-1])]


def _profile(rng: random.Random) -> Profile:
    choices = {
        k: _weighted([(o, w * rng.uniform(0.3, 2.0)) for o, w in pairs]) for k, pairs in ADDRESS_FEATURES.items()
    }
    flags = {k: v * rng.uniform(0.3, 2.0) for k, v in ADDRESS_FLAGS.items()}
    return Profile(choices, flags)


def _random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    span = (end - start).days
    return start + dt.timedelta(days=rng.randint(0, max(0, span)))


def _cores(rng: random.Random) -> Iterator[str]:
    twos = [a + b for a in CORE_FIRST for b in CORE_SECOND if a != b]
    rng.shuffle(twos)
    yield from twos
    while True:
        yield rng.choice(CORE_FIRST) + rng.choice(CORE_SECOND) + rng.choice(CORE_SECOND)


# --- the city -----------------------------------------------------------------------------------------


def _communities(rng: random.Random, scale: float, cores: Iterator[str], taken: set[str]) -> list[tuple[int, str]]:
    """(street index, name) of the communities at this scale: a sample of the 48, or the 48 and more towns."""
    n = max(4, round(48 * scale))
    if n <= len(BASE_COMMUNITIES):
        chosen = rng.sample(range(len(BASE_COMMUNITIES)), n)
        if not any(BASE_COMMUNITIES[i][1].endswith("村") for i in chosen):
            chosen[-1] = rng.choice([i for i, c in enumerate(BASE_COMMUNITIES) if c[1].endswith("村")])
        return [BASE_COMMUNITIES[i] for i in sorted(chosen)]
    out = list(BASE_COMMUNITIES)
    while len(out) < n:
        core = next(cores)
        if core in taken:
            continue
        taken.add(core)
        out.append((len(STREETS) + len(out) % len(EXTRA_STREETS), core + ("村" if rng.random() < 0.3 else "社区")))
    return out


def _new_compound(
    rng: random.Random, community: int, core: str, suffix: str, area: str, taken: set[str], *, named: bool = False
) -> Compound | None:
    """A compound whose name and short name are unique in the city (None if they are not)."""
    compound = Compound(core, suffix, area, rng.choice(COMPOUND_KINDS[suffix][2]), community)
    if area:
        compound.short = core + area  # 城东新村东区 → 城东东区
    elif suffix in DROPPABLE and len(core) >= 2:
        compound.short = core
    if not named and (compound.name in taken or (compound.short and compound.short in taken and not area)):
        return None
    if area and compound.short in taken:
        return None
    for i, ch in enumerate(compound.name):
        if ch in PLACE_HOMOPHONES and (i < len(core) or ch in "苑园"):
            alt = compound.name[:i] + PLACE_HOMOPHONES[ch] + compound.name[i + 1 :]
            if alt not in taken:
                compound.homophone = alt
                taken.add(alt)
            break
    taken.update({compound.name, compound.short, core} - {""})
    return compound


def _build_compound(rng: random.Random, city: City, ci: int, compound: Compound, grid: list[int]) -> int:
    """Add the compound's buildings and flats; return how many flats it has."""
    _w, floors_range, _units, rooms_choices, bldg_range = COMPOUND_KINDS[compound.suffix]
    floors = rng.randint(*floors_range)
    rooms = rng.choice(rooms_choices) if compound.units else rng.choice((2, 3, 4))
    units = max(1, compound.units)
    buildings = rng.randint(*bldg_range)
    skip = {4, 13, 14} if rng.random() < 0.15 else set()
    index = len(city.compounds)
    city.compounds.append(compound)
    city.communities[ci].compounds.append(index)
    numbers = [b for b in range(1, buildings + 1 + len(skip)) if b not in skip][:buildings]
    compound.buildings = numbers
    count = 0
    for b in numbers:
        for u in range(1, units + 1):
            for f in range(1, floors + 1):
                for r in range(1, rooms + 1):
                    unit = u if compound.units else 0
                    city.flats.append(Flat(ci, URBAN, index, b, unit, f * 100 + r, grid[0]))
                    city.communities[ci].flats.append(len(city.flats) - 1)
                    city.buildings.setdefault((index, b), []).append(len(city.flats) - 1)
                    count += 1
                    grid[1] += 1
        if grid[1] > 420:
            grid[0], grid[1] = grid[0] + 1, 0
    return count


def _build_places(rng: random.Random, city: City, ci: int, need: int, cores: Iterator[str], taken: set[str]) -> None:
    """Compounds (urban) or village groups (rural) with at least `need` dwellings."""
    comm = city.communities[ci]
    grid = [1, 0]
    if comm.rural:
        groups = max(3, min(18, need // 45 + 1))
        per = need // groups + 1
        for g in range(1, groups + 1):
            for n in range(1, per + rng.randint(0, per // 3) + 1):
                city.flats.append(Flat(ci, RURAL, -1, g, 0, n, (g - 1) // 3 + 1))
                comm.flats.append(len(city.flats) - 1)
        return
    have = 0
    for core, suffix, area in NAMED_COMPOUNDS.get(comm.name, ()):
        named = _new_compound(rng, ci, core, suffix, area, taken, named=True)
        if named is not None:
            have += _build_compound(rng, city, ci, named, grid)
    kinds = _weighted([(k, v[0]) for k, v in COMPOUND_KINDS.items()])
    while have < need:
        core = next(cores)
        if core in taken:
            continue
        suffix = _pick(rng, kinds)
        areas = rng.sample(AREAS, rng.randint(2, 3)) if suffix == "新村" and rng.random() < 0.2 else [""]
        built = [_new_compound(rng, ci, core, suffix, area, taken) for area in areas]
        for compound in built:
            if compound is not None:
                have += _build_compound(rng, city, ci, compound, grid)
        taken.add(core)
    if rng.random() < 0.3:
        firm = next(cores)
        while firm in taken:
            firm = next(cores)
        taken.add(firm)
        dorm = (rng.choice(ROADS) + f"{rng.randint(1, 60) * 2 + 1}号", firm, rng.choice(FIRMS))
        city.flats.append(Flat(ci, DORM, -1, 0, 0, 0, grid[0], dorm))
        comm.dorms.append(len(city.flats) - 1)


def _make_id(rng: random.Random, city: City, area: str, birth: dt.date, sex: int) -> str:
    while True:
        seq = rng.randrange(0, 1000)
        seq = seq - seq % 2 + (1 if sex == 1 else 0)
        body = f"{area}{birth:%Y%m%d}{seq:03d}"
        idno = body + check_digit(body)
        if idno not in city.used_ids:
            city.used_ids.add(idno)
            return idno


def _given(rng: random.Random, sex: int, year: int) -> str:
    era = 0 if year < 1970 else 1 if year < 1995 else 2
    pool = GIVEN[(sex, era)]
    if rng.random() < (0.35 if era == 0 else 0.18):
        return rng.choice(pool)
    other = GIVEN[(sex, max(0, era - 1))] if rng.random() < 0.3 else pool
    return rng.choice(pool) + rng.choice(other)


def _unique_name(rng: random.Random, taken: set[str], surname: str, sex: int, year: int) -> str:
    """A name not already used in the household (families do not repeat a name)."""
    name = surname + _given(rng, sex, year)
    while name in taken:
        name = surname + _given(rng, sex, year)
    return name


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return f"63{rng.randrange(100000, 999999)}"
    return f"1{rng.choice('3456789')}{rng.randrange(0, 10**9):09d}"


def _birth(rng: random.Random, age: int) -> dt.date:
    year = TODAY.year - max(0, min(100, age))
    return _random_date(rng, dt.date(year, 1, 1), min(LAST_BIRTH, dt.date(year, 12, 31)))


RELATION_TEMPLATES: dict[int, tuple[tuple[tuple[str, ...], float], ...]] = {
    1: ((("户主",), 1.0),),
    2: ((("户主", "配偶"), 0.65), (("户主", "子女"), 0.2), (("户主", "父母"), 0.15)),
    3: ((("户主", "配偶", "子女"), 0.75), (("户主", "配偶", "父母"), 0.1), (("户主", "子女", "子女"), 0.15)),
    4: (
        (("户主", "配偶", "子女", "子女"), 0.5),
        (("户主", "配偶", "子女", "父母"), 0.3),
        (("户主", "配偶", "子女", "子女配偶"), 0.2),
    ),
    5: (
        (("户主", "配偶", "子女", "子女配偶", "孙"), 0.5),
        (("户主", "配偶", "子女", "子女", "父母"), 0.25),
        (("户主", "配偶", "子女", "父母", "父母"), 0.25),
    ),
}


def _relations(rng: random.Random, size: int) -> tuple[str, ...]:
    """Roles of a household of `size` members, 户主 first."""
    r = rng.random()
    for roles, weight in RELATION_TEMPLATES[size]:
        if r < weight:
            return roles
        r -= weight
    return RELATION_TEMPLATES[size][0][0]


def relation_adult(role: str) -> bool:
    """Roles held by adults who may have been born elsewhere."""
    return role in ("户主", "配偶", "子女配偶")


def _household(rng: random.Random, city: City, ci: int, flat: int, size: int) -> None:
    """A registered household with its members."""
    rels = _relations(rng, size)
    if "孙" in rels or "子女配偶" in rels:
        head_age = rng.randint(50, 82)
    elif "父母" in rels:
        head_age = rng.randint(26, 50)
    elif "子女" in rels:
        head_age = rng.randint(28, 75)
    else:
        head_age = int(min(95, max(20, rng.gauss(52, 17))))
    head_sex = 1 if rng.random() < 0.7 else 2
    surname = _pick(rng, SURNAME_TABLE)
    since = _random_date(rng, dt.date(1982, 1, 1), dt.date(2025, 5, 1))
    number = f"{rng.randrange(100_000_000, 999_999_999)}"
    while number in city.used_numbers:
        number = f"{rng.randrange(100_000_000, 999_999_999)}"
    city.used_numbers.add(number)
    household = Household(number, ci, flat, [], "浙江省慈溪市" if rng.random() < 0.03 else "浙江省宁波市慈溪市")
    city.households.append(household)
    hi = len(city.households) - 1
    child_age = max(0, head_age - rng.randint(23, 34))
    father = surname if head_sex == 1 else _pick(rng, SURNAME_TABLE)
    child_sex = rng.choice((1, 2))
    parents_done = 0
    for rel in rels:
        if rel == "户主":
            sex, age, label, sur = head_sex, head_age, "户主", surname
        elif rel == "配偶":
            sex, age, label = 3 - head_sex, head_age + rng.randint(-5, 5), "配偶"
            sur = father if head_sex == 2 else _pick(rng, SURNAME_TABLE)
        elif rel == "子女":
            sex, age = rng.choice((1, 2)), max(0, child_age + rng.randint(-4, 4))
            label, sur = ("子" if sex == 1 else "女"), surname if head_sex == 1 or rng.random() < 0.3 else father
            child_age, child_sex = age, sex
        elif rel == "子女配偶":
            sex, age = 3 - child_sex, child_age + rng.randint(-4, 4)
            label, sur = ("儿媳" if child_sex == 1 else "女婿"), _pick(rng, SURNAME_TABLE)
        elif rel == "孙":
            sex, age = rng.choice((1, 2)), max(0, child_age - rng.randint(22, 32))
            label, sur = ("孙子" if sex == 1 else "孙女"), surname
        else:
            sex = 1 if parents_done == 0 else 2
            parents_done += 1
            age = min(100, head_age + rng.randint(22, 34))
            label, sur = ("父亲" if sex == 1 else "母亲"), surname if sex == 1 else _pick(rng, SURNAME_TABLE)
        birth = _birth(rng, age)
        area = COUNTY
        if birth.year < 1986:
            r = rng.random()
            for code, p in OLD_AREAS:
                if r < p:
                    area = code
                    break
                r -= p
        if birth.year < 1995 and relation_adult(rel) and rng.random() < 0.09:
            area = rng.choice(MIGRANT_AREAS)
        nation = "汉族" if rng.random() < 0.988 else rng.choice(NATIONS[1:])
        name = _unique_name(rng, {city.people[m].name for m in household.members}, sur, sex, birth.year)
        if nation != "汉族" and relation_adult(rel) and rng.random() < 0.15:
            nation = "维吾尔族"
            name = rng.choice(UYGHUR_GIVEN[sex]) + "·" + rng.choice(UYGHUR_GIVEN[1])
        person = Person(
            pid=len(city.people) + 1,
            name=name,
            sex=sex,
            birth=birth,
            idno=_make_id(rng, city, area, birth, sex),
            nation=nation,
            phone=_phone(rng) if age >= 14 else "",
            household=hi,
            relation=label,
            moved_in=max(since, birth),
            former=(sur + _given(rng, sex, birth.year)) if rng.random() < 0.02 else "",
            education="" if age < 7 else rng.choice(EDUCATION),
        )
        if age >= 70 and rng.random() < 0.085:
            person.state = "死亡"
        elif rng.random() < (0.02 if 18 <= age <= 45 else 0.006):
            person.state = "迁出"
        city.people.append(person)
        household.members.append(person.pid - 1)


def _register_households(rng: random.Random, city: City, ci: int, households: int) -> None:
    comm = city.communities[ci]
    homes = list(comm.flats)
    rng.shuffle(homes)
    used: list[int] = []
    sizes = _weighted([("1", 0.15), ("2", 0.25), ("3", 0.33), ("4", 0.17), ("5", 0.10)])
    for i in range(households):
        shared = used and rng.random() < (0.08 if comm.rural else 0.04)
        flat = rng.choice(used) if shared else homes[i % len(homes)]
        used.append(flat)
        _household(rng, city, ci, flat, int(_pick(rng, sizes)))
    taken = set(used)
    comm.unregistered_flats = [f for f in comm.flats if f not in taken]


def _destination(rng: random.Random, city: City, ci: int, avoid: int) -> int:
    """A flat of community `ci` other than `avoid`: sometimes next door, often one nobody is registered at."""
    comm = city.communities[ci]
    home = city.flats[avoid]
    nearby = home.community == ci and home.kind == URBAN
    while True:
        r = rng.random()
        if r < 0.15 and nearby:
            building = city.buildings[(home.compound, home.building)]
            twins = [f for f in building if city.flats[f].room == home.room]  # the same room in another 单元
            flat = rng.choice(twins if r < 0.06 and len(twins) > 1 else building)
        elif r < 0.3 and nearby:
            compound = city.compounds[home.compound]
            flat = rng.choice(city.buildings[(home.compound, rng.choice(compound.buildings))])
        elif r < 0.7 and comm.unregistered_flats:
            flat = rng.choice(comm.unregistered_flats)
        else:
            flat = rng.choice(comm.flats)
        if flat != avoid:
            return flat


def _draw_fate(rng: random.Random, consistency: float) -> int:
    r = rng.random()
    if r < consistency:
        return CONSISTENT
    if r < consistency + 0.046:
        return MOVED_WITHIN
    return OTHER if r < consistency + 0.046 + 0.075 else ABSENT


def _fates(rng: random.Random, city: City) -> None:
    """Where every registered person lives: households mostly move together."""
    cum = list(accumulate(float(len(c.flats)) for c in city.communities))
    by_street: dict[str, list[int]] = {}
    for i, c in enumerate(city.communities):
        by_street.setdefault(c.street, []).append(i)

    def elsewhere(ci: int, avoid: int) -> int:
        same = [i for i in by_street[city.communities[ci].street] if i != ci]
        other = ci
        if same and rng.random() < 0.5:
            other = rng.choice(same)
        while other == ci:
            other = bisect.bisect_right(cum, rng.random() * cum[-1])
        return _destination(rng, city, other, avoid)

    for household in city.households:
        ci = household.community
        consistency = city.communities[ci].consistency
        shared_fate = _draw_fate(rng, consistency)
        shared_dest = -1
        if shared_fate == MOVED_WITHIN:
            shared_dest = _destination(rng, city, ci, household.flat)
        elif shared_fate == OTHER:
            shared_dest = elsewhere(ci, household.flat)
        for m in household.members:
            person = city.people[m]
            if person.state != "正常":
                person.fate = INACTIVE
                continue
            age = TODAY.year - person.birth.year
            if rng.random() < (0.97 if age < 16 else 0.8):
                person.fate, dest = shared_fate, shared_dest
            else:
                person.fate = _draw_fate(rng, consistency)
                dest = -1
                if person.fate == MOVED_WITHIN:
                    dest = _destination(rng, city, ci, household.flat)
                elif person.fate == OTHER:
                    dest = elsewhere(ci, household.flat)
            if person.fate == CONSISTENT:
                person.lives = household.flat
            elif person.fate in (MOVED_WITHIN, OTHER):
                person.lives = dest


def _migrants(rng: random.Random, city: City) -> None:
    """People registered outside the city (not in the extract), living in its flats."""
    occupied = Counter(p.lives for p in city.people if p.lives >= 0)
    living = Counter(city.flats[p.lives].community for p in city.people if p.lives >= 0)
    sizes = _weighted([("1", 0.35), ("2", 0.30), ("3", 0.25), ("4", 0.10)])
    for ci, comm in enumerate(city.communities):
        target = round(living[ci] * 0.335 * comm.migrant_factor)
        placed = 0
        while placed < target:
            size = min(target - placed, int(_pick(rng, sizes)))
            r = rng.random()
            if comm.dorms and r < 0.12:
                flat = rng.choice(comm.dorms)
            else:
                flat = rng.choice(comm.flats)
                tries = 0
                while r < 0.88 and occupied[flat] and tries < 30:
                    flat, tries = rng.choice(comm.flats), tries + 1
            surname = _pick(rng, MIGRANT_SURNAME_TABLE)
            area = rng.choice(MIGRANT_AREAS)
            head_age, head_sex = rng.randint(19, 60), 1 if rng.random() < 0.6 else 2
            roommates = rng.random() < 0.35
            nation = "汉族"
            if area in ("653101", "513431") and rng.random() < 0.7:
                nation = "维吾尔族" if area == "653101" else "彝族"
            father = rng.choice(UYGHUR_GIVEN[1])
            names: set[str] = set()
            for k in range(size):
                if roommates:
                    sex, age, sur = head_sex, rng.randint(18, 50), _pick(rng, MIGRANT_SURNAME_TABLE)
                    area = rng.choice(MIGRANT_AREAS) if rng.random() < 0.5 else area
                elif k == 0:
                    sex, age, sur = head_sex, head_age, surname
                elif k == 1:
                    sex, age, sur = 3 - head_sex, head_age + rng.randint(-4, 4), _pick(rng, MIGRANT_SURNAME_TABLE)
                else:
                    sex, age, sur = rng.choice((1, 2)), max(0, head_age - rng.randint(20, 30)), surname
                birth = _birth(rng, age)
                if nation == "维吾尔族":
                    name = rng.choice(UYGHUR_GIVEN[sex]) + "·" + (father if k > 1 else rng.choice(UYGHUR_GIVEN[1]))
                elif nation == "彝族":
                    name = rng.choice(YI_CLANS) + rng.choice(YI_GIVEN[sex])
                else:
                    name = _unique_name(rng, names, sur, sex, birth.year)
                if name in names:
                    continue
                names.add(name)
                person = Person(
                    pid=len(city.people) + 1,
                    name=name,
                    sex=sex,
                    birth=birth,
                    idno=_make_id(rng, city, area, birth, sex),
                    nation=nation,
                    phone=_phone(rng) if age >= 14 else "",
                    fate=MIGRANT,
                    lives=flat,
                )
                city.people.append(person)
                occupied[flat] += 1
            placed += size


def build_city(scale: float, seed: int) -> City:
    """Places, households, people, who lives where."""
    rng = random.Random(seed)
    city = City()
    taken: set[str] = set()
    for names in NAMED_COMPOUNDS.values():
        taken.update(core for core, _s, _a in names)
    cores = _cores(random.Random(seed + 1))
    chosen = _communities(rng, scale, cores, taken)
    streets = STREETS + EXTRA_STREETS
    serial: Counter[tuple[int, bool]] = Counter()
    for street, name in chosen:
        rural = name.endswith("村")
        serial[(street, rural)] += 1
        code = COUNTY + streets[street][1] + f"{serial[(street, rural)] + (200 if rural else 0):03d}"
        taken.add(name.removesuffix("社区").removesuffix("村"))
        city.communities.append(
            Community(
                code=code,
                name=name,
                street=streets[street][0],
                station=streets[street][2],
                rural=rural,
                consistency=rng.uniform(0.44, 0.64),
                migrant_factor=rng.uniform(0.45, 1.55),
                profile=_profile(rng),
                grid_style=rng.randrange(5),
            )
        )
    total = round(PERSONS_PER_SCALE * scale / MEAN_HOUSEHOLD)
    sizes = [rng.lognormvariate(0, 0.45) for _ in city.communities]
    for ci in range(len(city.communities)):
        households = max(30, round(total * sizes[ci] / sum(sizes)))
        flats_needed = round(households * rng.uniform(1.05, 1.6))
        _build_places(rng, city, ci, flats_needed, cores, taken)
        _register_households(rng, city, ci, households)
    _fates(rng, city)
    _migrants(rng, city)
    return city


# --- writing addresses --------------------------------------------------------------------------------


def _spaced(rng: random.Random, parts: list[str]) -> str:
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return " ".join(parts) + " "
    out = parts[0]
    gaps = set(rng.sample(range(1, len(parts)), min(len(parts) - 1, rng.randint(1, 2))))
    for i, p in enumerate(parts[1:], start=1):
        out += (rng.choice((" ", " ", "  ", "\u3000")) if i in gaps else "") + p
    return out + (" " if rng.random() < 0.2 else "")


def _urban_prefix(choice: str, comm: Community) -> list[str]:
    return {
        "none": [],
        "city": ["慈溪市"],
        "street": [comm.street],
        "community": [comm.name],
        "city+street": ["慈溪市", comm.street],
        "street+community": [comm.street, comm.name],
        "city+street+community": ["慈溪市", comm.street, comm.name],
        "province": ["浙江省慈溪市", comm.street],
    }[choice]


def render_address(
    rng: random.Random, city: City, flat_index: int, profile: Profile, *, keep_unit: bool = False
) -> tuple[str, str]:
    """How a community worker writes this flat; returns (text, style tag)."""
    flat = city.flats[flat_index]
    comm = city.communities[flat.community]
    flags = {k for k, rate in profile.flags.items() if rng.random() < rate}
    tags: list[str] = []
    if flat.kind == DORM:
        road, firm, kind = flat.dorm
        v = rng.random()
        body = [road, firm + kind + "宿舍"] if v < 0.5 else [firm + kind + "宿舍"] if v < 0.8 else [road, firm + "宿舍"]
        prefix = _urban_prefix(profile.pick(rng, "prefix"), comm)
        parts = prefix + body
        tags.append("dorm")
    elif flat.kind == RURAL:
        pchoice = profile.pick(rng, "rural_prefix")
        prefix = {"none": [], "town": [comm.street], "city+town": ["慈溪市", comm.street], "city": ["慈溪市"]}[pchoice]
        village = profile.pick(rng, "village")
        vname = {"full": comm.name, "nocun": comm.short, "none": ""}[village]
        cn = "cn" in flags
        group = (cn_number(flat.building) if cn else str(flat.building)) + "组"
        number_cn = cn and flat.room < 100 and rng.random() < 0.15
        number = (cn_number(flat.room) if number_cn else str(flat.room)) + profile.pick(rng, "number")
        parts = [*prefix, vname, group, number]
        tags += [f"rural_prefix={pchoice}", f"village={village}", "rural"]
        if cn:
            tags.append("cn_number" if number_cn else "cn_group")
    else:
        compound = city.compounds[flat.compound]
        pchoice = profile.pick(rng, "prefix")
        prefix = _urban_prefix(pchoice, comm)
        nchoice = profile.pick(rng, "name")
        name = {"full": compound.name, "short": compound.short, "homophone": compound.homophone}[nchoice]
        if not name:
            nchoice, name = "full", compound.name
        mode = profile.pick(rng, "mode")
        if keep_unit and mode in ("nounit", "dash2"):
            mode = "full"
        if not compound.units:
            mode = {"nounit": "full", "dash3": "dash2", "dash2u": "dash2"}.get(mode, mode)
        marker, room_suffix = profile.pick(rng, "marker"), profile.pick(rng, "room")
        b, u, r = flat.building, flat.unit, flat.room
        cn = "cn" in flags and mode in ("full", "nounit") and marker != "#"
        if "cn" in flags and not cn:
            flags.discard("cn")
        bnum = cn_number(b) if cn else str(b)
        unum = cn_number(u) if cn and rng.random() < 0.8 else str(u)
        if mode == "full" and compound.units:
            tail = [bnum + marker, unum + "单元", f"{r}{room_suffix}"]
        elif mode in ("full", "nounit"):
            tail = [bnum + marker, f"{r}{room_suffix}"]
        elif mode == "dash3":
            tail = [f"{b}-{u}-{r}" + ("室" if rng.random() < 0.15 else "")]
        elif mode == "dash2u":
            tail = [f"{b}{marker if marker in ('幢', '栋', '#') else '幢'}{u}-{r}"]
        else:
            tail = [f"{b}-{r}" + ("室" if rng.random() < 0.15 else "")]
        parts = [*prefix, name, *tail]
        tags += [f"prefix={pchoice}", f"name={nchoice}", f"mode={mode}"]
        if mode in ("full", "nounit"):
            tags += [f"marker={marker}", f"room={room_suffix or 'none'}"]
    text = _spaced(rng, parts) if "spaces" in flags else "".join(parts)
    if "fullwidth" in flags:
        text = text.translate(FULLWIDTH)
    if "note" in flags:
        text += rng.choice(ADDRESS_NOTES)
    tags += sorted(flags & {"cn", "fullwidth", "spaces", "note"})
    return text, ";".join(tags)


def register_address(city: City, household: Household) -> str:
    """The register's full form of a household's flat."""
    flat = city.flats[household.flat]
    comm = city.communities[household.community]
    head = household.province_form + comm.street
    if flat.kind == RURAL:
        return f"{head}{comm.name}{flat.building}组{flat.room}号"
    compound = city.compounds[flat.compound]
    unit = f"{flat.unit}单元" if compound.units else ""
    return f"{head}{comm.name}{compound.name}{flat.building}幢{unit}{flat.room}室"


def dwelling_key(city: City, flat_index: int) -> str:
    """A stable key of a dwelling for the truth tables."""
    flat = city.flats[flat_index]
    code = city.communities[flat.community].code
    if flat.kind == RURAL:
        return f"{code}|{flat.building}组|{flat.room}号"
    if flat.kind == DORM:
        return f"{code}|{''.join(flat.dorm)}宿舍"
    return f"{code}|{city.compounds[flat.compound].name}|{flat.building}|{flat.unit}|{flat.room}"


# --- roll noise ---------------------------------------------------------------------------------------


def noisy_id(rng: random.Random, idno: str, birth: dt.date) -> tuple[str, str]:
    """The ID number as written on a roll, with the kind of noise applied."""
    if rng.random() < 0.40:
        return "", "blank"
    r = rng.random()
    if r < 0.03:
        i = rng.randrange(17)
        digit = rng.choice([d for d in "0123456789" if d != idno[i]])
        return idno[:i] + digit + idno[i + 1 :], "digit"
    if r < 0.05:
        i = rng.randrange(16)
        while idno[i] == idno[i + 1]:
            i = rng.randrange(16)
        return idno[:i] + idno[i + 1] + idno[i] + idno[i + 2 :], "swap"
    if r < 0.07 and birth.year < 2000:
        return idno[:6] + idno[8:17], "legacy15"
    if r < 0.10:
        return idno.translate(FULLWIDTH), "fullwidth"
    if r < 0.12:
        cuts = rng.choice(((6, 14), (6,), (14,), (3, 10)))
        out, last = "", 0
        for c in cuts:
            out, last = out + idno[last:c] + " ", c
        return out + idno[last:], "spaces"
    if r < 0.13:
        return idno[: rng.randint(14, 17)], "truncated"
    if idno.endswith("X") and rng.random() < 0.5:
        return idno[:17] + "x", "lower_x"
    return idno, "clean"


def noisy_name(rng: random.Random, name: str, former: str) -> tuple[str, str]:
    """The name as a worker writes it, with the kind of noise applied."""
    tag = "clean"
    if former and rng.random() < 0.4:
        name, tag = former, "former"
    if "·" in name and rng.random() < 0.5:
        return name.replace("·", rng.choice(DOT_VARIANTS)), "dot"
    r = rng.random()
    if r < 0.025:
        spots = [i for i, c in enumerate(name) if c in HOMOPHONES and (i > 0 or rng.random() < 0.3)]
        if spots:
            i = rng.choice(spots)
            return name[:i] + HOMOPHONES[name[i]] + name[i + 1 :], "homophone"
    elif r < 0.045:
        alt = "".join(TRADITIONAL.get(c, c) for c in name)
        if alt != name:
            return alt, "traditional"
    elif r < 0.05:
        spots = [i for i, c in enumerate(name) if c in LOOKALIKES]
        if spots:
            i = rng.choice(spots)
            return name[:i] + LOOKALIKES[name[i]] + name[i + 1 :], "lookalike"
    elif r < 0.057:
        if len(name) == 3 and "·" not in name:
            i = rng.choice((1, 2))
            return name[:i] + name[i + 1 :], "dropped"
    elif r < 0.077:
        v = rng.random()
        if v < 0.6 and len(name) >= 2:
            return name[0] + rng.choice((" ", " ", "\u3000")) + name[1:], "space"
        return (name + " ") if v < 0.85 else (" " + name), "space"
    return name, tag


def _birth_cell(rng: random.Random, profile: Profile, birth: dt.date) -> Cell:
    kind = profile.pick(rng, "birth")
    if kind == "blank":
        return None
    if kind == "iso":
        return birth.isoformat()
    if kind == "slash":
        return f"{birth:%Y/%m/%d}"
    if kind == "compact":
        return f"{birth:%Y%m%d}"
    return birth


def _tenure(rng: random.Random, status: str, flat: Flat) -> str:
    if flat.kind == DORM:
        return "单位宿舍"
    r = rng.random()
    if status == "consistent":
        return "自有" if r < 0.9 else "" if r < 0.97 else "借住"
    if status == "migrant":
        return "租赁" if r < 0.8 else "借住" if r < 0.88 else "自有" if r < 0.95 else ""
    return "自有" if r < 0.5 else "租赁" if r < 0.8 else "借住" if r < 0.93 else ""


def _grid_label(comm: Community, grid: int) -> str:
    return (
        f"第{grid}网格",
        f"网格{grid}",
        f"{grid}网格",
        f"{comm.short}{grid}网格",
        f"{comm.name}第{cn_number(grid)}网格",
    )[comm.grid_style]


# --- writing files ------------------------------------------------------------------------------------


def write_register(city: City, rng: random.Random, path: Path) -> list[dict[str, object]]:
    """The police extract (GB18030 CSV); returns the register truth rows."""
    header = [
        "身份证号码",
        "姓名",
        "曾用名",
        "性别",
        "民族",
        "出生日期",
        "户号",
        "与户主关系",
        "住址",
        "所属派出所",
        "街道",
        "社区",
        "社区代码",
        "人员状态",
        "迁入日期",
        "文化程度",
    ]
    order = sorted(range(len(city.households)), key=lambda h: (city.communities[city.households[h].community].code, h))
    truth: list[dict[str, object]] = []
    with path.open("w", encoding="gb18030", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(header)
        row = 1
        for hi in order:
            household = city.households[hi]
            comm = city.communities[household.community]
            address = register_address(city, household)
            for m in household.members:
                p = city.people[m]
                row += 1
                p.register_row = row
                iso = rng.random() < 0.06
                fmt = "%Y-%m-%d" if iso else "%Y%m%d"
                writer.writerow(
                    [
                        p.idno,
                        p.name,
                        p.former,
                        "男" if p.sex == 1 else "女",
                        p.nation,
                        p.birth.strftime(fmt),
                        household.number,
                        p.relation,
                        address,
                        comm.station,
                        comm.street,
                        comm.name,
                        comm.code,
                        p.state,
                        p.moved_in.strftime(fmt),
                        p.education,
                    ]
                )
                other = None
                status = {CONSISTENT: "consistent", MOVED_WITHIN: "moved_within", INACTIVE: "inactive"}.get(
                    p.fate, "absent"
                )
                if p.fate == OTHER:
                    other = city.communities[city.flats[p.lives].community].code
                truth.append(
                    {
                        "register_file": path.name,
                        "register_row": row,
                        "pid": p.pid,
                        "status": status,
                        "other_community_code": other,
                        "community_code": comm.code,
                        "dwelling": dwelling_key(city, household.flat),
                        "lives_in": dwelling_key(city, p.lives) if p.lives >= 0 else None,
                    }
                )
    return truth


def _needs_unit(city: City, person: Person) -> bool:
    """A moved-within person whose flat differs from the registered one only by 单元 must have it written."""
    if person.fate != MOVED_WITHIN:
        return False
    home = city.flats[city.households[person.household].flat]
    here = city.flats[person.lives]
    return (
        here.kind == URBAN
        and home.kind == URBAN
        and (here.compound, here.building, here.room) == (home.compound, home.building, home.room)
        and here.unit != home.unit
    )


Record = tuple[dict[str, Cell], dict[str, object]]


def _states_unit(style: str) -> bool:
    tags = style.split(";")
    return "mode=nounit" not in tags and "mode=dash2" not in tags


def _roll_rows(rng: random.Random, city: City, ci: int, residents: list[int]) -> list[tuple[int, Record]]:
    """Door-to-door records of one community, flat after flat: (person index, record)."""
    comm = city.communities[ci]
    by_flat: dict[int, list[int]] = {}
    for m in residents:
        by_flat.setdefault(city.people[m].lives, []).append(m)
    flats = sorted(
        by_flat,
        key=lambda f: (city.flats[f].grid, f + (rng.uniform(-400, 400) if rng.random() < 0.05 else 0.0)),
    )
    records: list[tuple[int, Record]] = []
    reg_date = _random_date(rng, dt.date(2025, 3, 1), dt.date(2025, 5, 20))
    for f in flats:
        base = render_address(rng, city, f, comm.profile)
        visit = min(TODAY, reg_date + dt.timedelta(days=rng.randint(0, 30)))
        members = sorted(by_flat[f], key=lambda m: (city.people[m].household < 0, city.people[m].household, m))
        for m in members:
            records.append((m, _record(rng, city, ci, city.people[m], base, visit)))
        if rng.random() < 0.02:
            reg_date = _random_date(rng, dt.date(2025, 3, 1), dt.date(2025, 5, 20))
    return records


def _record(rng: random.Random, city: City, ci: int, p: Person, base: tuple[str, str], visit: dt.date) -> Record:
    """One roll row of person `p` and its truth; `base` is the address as written for the whole flat."""
    comm = city.communities[ci]
    flat = city.flats[p.lives]
    keep_unit = _needs_unit(city, p)
    address, style = base
    if (keep_unit and not _states_unit(style)) or rng.random() < 0.12:
        address, style = render_address(rng, city, p.lives, comm.profile, keep_unit=keep_unit)
    if p.fate == MIGRANT:
        status, other, reg_row = "unregistered", None, None
    else:
        reg_row = p.register_row
        reg_ci = city.households[p.household].community
        if reg_ci != ci:
            status, other = "unregistered", city.communities[reg_ci].code
        else:
            status, other = ("consistent" if p.fate == CONSISTENT else "moved_within"), None
    name, name_noise = noisy_name(rng, p.name, p.former)
    idno, id_noise = noisy_id(rng, p.idno, p.birth)
    sex: Cell = None if rng.random() < 0.08 else ("男" if p.sex == 1 else "女")
    phone = p.phone if rng.random() < 0.85 else ""
    tenure = _tenure(rng, "migrant" if p.fate == MIGRANT else status, flat)
    record: dict[str, Cell] = {
        "网格": _grid_label(comm, flat.grid),
        "姓名": name,
        "性别": sex,
        "身份证号": idno,
        "出生日期": _birth_cell(rng, comm.profile, p.birth),
        "联系电话": phone,
        "现住地址": address,
        "房屋性质": tenure,
        "登记日期": visit if rng.random() < 0.7 else visit.isoformat(),
        "备注": rng.choice(NOTES) if rng.random() < 0.06 else None,
    }
    truth: dict[str, object] = {
        "pid": p.pid,
        "community_code": comm.code,
        "register_row": reg_row,
        "status": status,
        "other_community_code": other,
        "dwelling": dwelling_key(city, p.lives),
        "address_style": style,
        "id_noise": id_noise,
        "name_noise": name_noise,
    }
    return record, truth


def write_roll(rng: random.Random, city: City, ci: int, residents: list[int], folder: Path) -> list[dict[str, object]]:
    """One community's workbook; returns its roll truth rows."""
    comm = city.communities[ci]
    records = _roll_rows(rng, city, ci, residents)
    keyed: list[tuple[float, Record]] = [(float(i), rec) for i, (_m, rec) in enumerate(records)]
    n = len(records)
    for i, (m, _rec) in enumerate(records):
        if rng.random() >= 0.01 or i >= n - 1:
            continue
        p = city.people[m]
        base = render_address(rng, city, p.lives, comm.profile, keep_unit=_needs_unit(city, p))
        cells, dup_truth = _record(rng, city, ci, p, base, _random_date(rng, dt.date(2025, 4, 1), TODAY))
        dup_truth["status"], dup_truth["other_community_code"] = "duplicate", None
        where = float(n) + rng.random() if rng.random() < 0.3 else rng.uniform(i + 1, n - 0.5)
        keyed.append((where, (cells, dup_truth)))
    keyed.sort(key=lambda k: k[0])
    columns = list(ROLL_ORDERS[rng.randrange(len(ROLL_ORDERS))])
    if rng.random() < 0.2:
        columns.insert(1, "社区")
    header = [rng.choice(HEADER_ALIASES[c]) if c in HEADER_ALIASES else c for c in columns]
    path = folder / f"{comm.code}_{comm.name}.xlsx"
    sheet = rng.choice(SHEET_NAMES)
    phone_as_number = rng.random() < 0.3
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    truth_rows: list[dict[str, object]] = []
    try:
        ws = book.add_worksheet(sheet)
        date_format = book.add_format({"num_format": rng.choice(("yyyy-mm-dd", "yyyy/m/d", "yyyy年m月d日"))})
        for c, h in enumerate(header):
            ws.write_string(0, c, h)
        for k, (_where, (cells, truth)) in enumerate(keyed):
            row = k + 1
            cells["序号"] = k + 1
            cells["社区"] = comm.name
            for c, col in enumerate(columns):
                value = cells.get(col)
                if value is None or value == "":
                    continue
                if isinstance(value, dt.date):
                    ws.write_datetime(row, c, dt.datetime(value.year, value.month, value.day), date_format)
                elif isinstance(value, int | float):
                    ws.write_number(row, c, value)
                elif col == "联系电话" and phone_as_number and value.isdigit() and len(value) == 11:
                    ws.write_number(row, c, int(value))
                else:
                    ws.write_string(row, c, value)
            truth_rows.append({"roll_file": path.name, "roll_sheet": sheet, "roll_row": row + 1, **truth})
    finally:
        book.close()
    return truth_rows


def write_independent_city(out: Path, *, scale: float = 1.0, seed: int = 0) -> dict[str, Path]:
    """Generate the city under `out` (register/, rolls/, truth/); return the paths written."""
    out = Path(out)
    for sub in ("register", "rolls", "truth"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    city = build_city(scale, seed)
    rng = random.Random(seed * 7919 + 17)
    register = out / "register" / REGISTER_FILE
    register_truth = write_register(city, rng, register)
    residents: list[list[int]] = [[] for _ in city.communities]
    for m, p in enumerate(city.people):
        if p.lives >= 0:
            residents[city.flats[p.lives].community].append(m)
    roll_truth: list[dict[str, object]] = []
    for ci in range(len(city.communities)):
        roll_truth.extend(write_roll(rng, city, ci, residents[ci], out / "rolls"))
    reg_schema = {**REGISTER_TRUTH, "dwelling": pl.String, "lives_in": pl.String}
    roll_schema = {
        **ROLL_TRUTH,
        "roll_sheet": pl.String,
        "dwelling": pl.String,
        "address_style": pl.String,
        "id_noise": pl.String,
        "name_noise": pl.String,
    }
    paths = {
        "register": register,
        "rolls": out / "rolls",
        "register_truth": out / "truth" / "register_truth.parquet",
        "roll_truth": out / "truth" / "roll_truth.parquet",
    }
    pl.DataFrame(register_truth, schema=reg_schema, orient="row").write_parquet(paths["register_truth"])
    pl.DataFrame(roll_truth, schema=roll_schema, orient="row").write_parquet(paths["roll_truth"])
    return paths


def main() -> None:
    """Command line: generate a city and print counts and timing (no names or ID numbers)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    paths = write_independent_city(args.out, scale=args.scale, seed=args.seed)
    seconds = time.perf_counter() - t0
    register = pl.read_parquet(paths["register_truth"])
    rolls = pl.read_parquet(paths["roll_truth"])
    summary = {
        "seconds": round(seconds, 1),
        "communities": rolls["roll_file"].n_unique(),
        "register_rows": register.height,
        "roll_rows": rolls.height,
        "register_status": dict(register["status"].value_counts().iter_rows()),
        "roll_status": dict(rolls["status"].value_counts().iter_rows()),
    }
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
