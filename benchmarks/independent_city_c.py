"""A third independent synthetic city (余姚-like), written from the data contract alone.

Its author worked from the contract of the register extract, the community rolls and the truth files, and read
neither the engine nor ``synth/``, so the pipeline meets data that none of its own assumptions shaped::

    python -m benchmarks.independent_city_c OUT [--scale S | --persons N] [--seed S]

Scale 1 is 48 communities and about 204,000 register rows (about 35 s, 0.5 GB of memory, 60 MB written);
``--persons N`` writes about N register rows (below 150,000 in fewer communities, at least 3). A seed always
writes the same bytes. The command prints the measured shares as JSON. OUT receives

- ``register/余姚市户籍人口数据_20240430.csv``: the police extract, GB18030 or UTF-8 with BOM (by seed).
- ``rolls/<12-digit code>_<name>.xlsx`` or ``.csv``: one occupancy roll per community.
- ``truth/register_truth.parquet`` and ``truth/roll_truth.parquet``: the status of every row (``roll_sheet`` is
  null for CSV rolls).

City: 11 streets/towns (阳明/梨洲/凤山/兰江/低塘/朗霞街道, 马渚/泗门/陆埠/梁弄/丈亭镇), 48 communities:
26 urban 社区 (codes ...001-007) and 22 村 (codes ...201-203). Community types: old town (old 新村 + 弄/巷
houses, many 户在人不在), relocation-hit (西街, 北城: only 47-51% of registered households have anyone
at home), mixed, new commodity estates (最良/燕山/锦凤/江南/荷花/三凤: 47-57% of roll rows unregistered),
town seats, farming villages, industrial villages (factory dormitories, many migrants).

Register (seed 1, measured): 204,087 rows; consistent 62.8%, moved_within 4.1%, absent 28.9% (of which 41%
live elsewhere in the city, other_community_code set), inactive 4.2% (死亡/迁出/注销; 1,923 inactive rows
belong to people with an active row in another community: married/moved registration). Official address
"浙江省余姚市<街道><社区><小区>8幢2单元302室" (no 单元 for single-unit buildings), "…<社区><路>12弄5号",
"…<社区><巷>5号", "…<社区><路>17号"; rural "浙江省余姚市<镇><村>3组12号" or "…<村><自然村>12号" (30% of
villages). Column aliases drawn per seed; 3 of 11 police stations use codes (性别 1/2, 民族 01.., 与户主关系
02/10/20.. GB/T 4761); 5 stations write dates YYYY-MM-DD, others YYYYMMDD. 曾用名 column (~3% of people born
<1975 filled). Legacy 15-digit IDs: 0.7% of rows (8% of those born <1950). Historical area codes 332222,
330223, 339002 for 15% of locals born <1985 (these codes are my guess). Two 集体户 (collective households at
a community office address, almost nobody living there). All 18-digit IDs have valid GB 11643 check digits.

Rolls (seed 1): 189,158 rows; consistent 67.8%, moved_within 4.4%, unregistered 26.4% (48.6% of them registered
elsewhere in the city), duplicate 1.4% (second record: 26% adjacent, 43% appended at sheet end, 31% in another
grid's sheet; independently re-noised). 44 xlsx + 4 CSV (UTF-8-BOM/GB18030). 33 workbooks with one sheet per
网格 (4-9 sheets; sheet names 第一网格 / 网格1 / 3网格 / 网格01（worker name）…), cover/说明 sheet in 9, 汇总
sheet without roll header in 12, empty Sheet2/Sheet3 in 12. Data sheets: header in row 1 37%, one merged
title row 31%, title + "填报单位…网格员…" row 17%, title + merged group-header row (基本信息/居住信息/其他; 序号 merged
vertically so the header row has no 序号 cell) 15%. Column order varies per community (4 styles incl. a
random shuffle); optional columns 性别/出生日期/网格/登记日期/房屋性质/备注 and extras (民族, 户籍地, 工作单位,
文化程度, 与户主关系, 社区, 社区代码). One file per seed has a mistyped code in its file name but a correct
社区代码 column; one file starts its table in column B; one sheet merges the address cell over a household.
Phones sometimes numeric cells; in two sheets IDs were typed as numbers (Excel kept 15 significant digits).

Roll noise, share of all roll rows (seed 1):
  ID: blank 26.2%, one digit wrong 1.4%, adjacent swap 0.6%, 15-digit form 1.1% (+0.1% legacy registered
  15-digit kept), truncated 1.1%, full-width 0.9%, spaces 1.1%, lowercase x 2.2%, numeric cell 0.4%.
  Name: homophone 1.7%, look-alike 0.2%, traditional 0.4%, dropped char 0.6%, 2-char names padded with
  spaces/ideographic space 2.1%, stray space 1.2%, former name 0.3%, · variants 0.1% (most · names).
  Birth: blank 45.6%; ISO 15.6%, Excel date 12.9%, YYYY/MM/DD 8.6%, YYYYMMDD 7.6%, YYYY年M月D日 3.6%,
  YYYY.MM.DD 3.3%, unpadded 2.7%; wrong day 0.35%.
Address habits. Flats are 55% of roll rows; shares below are among flat rows:
  prefix: estate only 55.6%, 社区+estate 19.0%, 街道(+社区) 9.9%, none/bare "8幢302" 6.3%, 余姚(市)+街道 5.4%,
  full official prefix 3.8%; estate name: full 81.5%, suffix dropped 13.1%, suffix swapped (新村↔小区…) 2.7%,
  homophone 2.3%, 区-nickname 0.2%, old name ("粮食局宿舍") 0.1%; building: 幢 43.2%, 栋 17.4%, dash
  "8-2-302" 13.8%, 号楼 8.7%, # 4.4%, Chinese numeral 4.3%, "8号" 4.3%, 座 3.8%; unit: written 71.9%,
  building has none 12.2%, dropped 10.6%, Chinese numeral 4.8%; room suffix: 室 47.5%, none 34.1%, 号 11.3%,
  "3楼302" 3.2%, 房 3.1%, "三〇二室" 0.8%.
  Villages (24% of rows, 组 form): 村N组M号 45.1%, 组 only 14.2%, 村 char dropped 11.2%, with town 10.1%,
  Chinese 组 9.9%, 组 dropped 2.6%, 余姚市… 2.5%, 队 1.6%, 第N村民小组 1.4%, "3-12" 1.4%. 自然村 form (6.4%):
  村+自然村 59%, 自然村 only 30%, with town 8%, full 3%. Old-town houses (10.9%): standard 73%, 社区 prefix 13%,
  no 号 9%, "12-5号" 3%, Chinese 弄 number 1%, road dropped 1%.
  Across all rows: full-width digits 2.8%, stray/ideographic space 4.5%, notes appended ("（出租）",
  "（租王建国家）", "店面", 房东…) 1.9%, "同上"/"〃"/blank for later household members 1.2%, factory dormitory
  1.6%, shop 0.5%, garage 0.3%, migrant's hometown written by mistake 0.03%.
  A moved_within record never states an address compatible with the person's registered dwelling.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import polars as pl
import xlsxwriter

from benchmarks.evaluate import REGISTER_TRUTH, ROLL_TRUTH

if TYPE_CHECKING:
    from collections.abc import Sequence

    from xlsxwriter.format import Format
    from xlsxwriter.worksheet import Worksheet

T = TypeVar("T")

DEFAULT_SEED = 1

# fmt: off
REF = dt.date(2024, 4, 30)  # the date of the register extract
PROV, CITY, COUNTY = "浙江省", "余姚市", "330281"

# --- city layout ---------------------------------------------------------------------------------------
# (street code, street name, police station, [(community code, name, type)])
STREETS: list[tuple[str, str, str, list[tuple[str, str, str]]]] = [
    ("001", "阳明街道", "阳明派出所", [("001", "新建社区", "old"), ("002", "舜水社区", "mixed"), ("003", "南雷社区", "old"),
        ("004", "西街社区", "reloc"), ("005", "龙泉社区", "old"), ("006", "丰乐社区", "mixed"), ("007", "最良社区", "new")]),
    ("002", "梨洲街道", "梨洲派出所", [("001", "文亭社区", "mixed"), ("002", "北城社区", "reloc"), ("003", "燕山社区", "new"),
        ("004", "锦凤社区", "new"), ("005", "南庙社区", "mixed"), ("201", "新周村", "vil")]),
    ("003", "凤山街道", "凤山派出所", [("001", "凤山社区", "mixed"), ("002", "江南社区", "new"), ("003", "东旭社区", "mixed"),
        ("004", "胜山社区", "old"), ("005", "荷花社区", "new"), ("201", "星湖村", "vil"), ("202", "西郊村", "vil")]),
    ("004", "兰江街道", "兰江派出所", [("001", "兰江社区", "mixed"), ("002", "谭家岭社区", "old"), ("003", "三凤社区", "new"),
        ("004", "朝阳社区", "mixed"), ("201", "冶山村", "vil"), ("202", "牟山湖村", "vil")]),
    ("005", "低塘街道", "低塘派出所", [("001", "低塘社区", "town"), ("201", "历山村", "ind"), ("202", "黄清堰村", "vil"),
        ("203", "郑巷村", "ind")]),
    ("006", "朗霞街道", "朗霞派出所", [("001", "朗霞社区", "town"), ("201", "天华村", "vil"), ("202", "杨家村", "ind")]),
    ("101", "马渚镇", "马渚派出所", [("001", "马渚社区", "town"), ("201", "斗门村", "vil"), ("202", "开元村", "vil"),
        ("203", "沿山村", "vil")]),
    ("102", "泗门镇", "泗门派出所", [("001", "泗门社区", "town"), ("201", "谢家路村", "ind"), ("202", "小路下村", "ind"),
        ("203", "后塘河村", "vil")]),
    ("103", "陆埠镇", "陆埠派出所", [("001", "陆埠社区", "town"), ("201", "裘岙村", "vil"), ("202", "洪山村", "vil")]),
    ("104", "梁弄镇", "梁弄派出所", [("201", "横坎头村", "vil"), ("202", "汪巷村", "vil")]),
    ("105", "丈亭镇", "丈亭派出所", [("201", "渔溪村", "vil"), ("202", "寺前王村", "vil")]),
]
# registered active persons per community at scale 1 (before jitter)
BASE_SIZE: dict[str, int] = {
    "old": 5300, "reloc": 5700, "mixed": 5700, "new": 2850, "town": 4750, "vil": 2750, "ind": 2950,
}
# share of flats/houses that carry a registered household
REG_SHARE: dict[str, float] = {
    "old": 0.86, "reloc": 0.9, "mixed": 0.62, "new": 0.3, "town": 0.7, "vil": 0.93, "ind": 0.93,
}
# household fates: lives at home / moved within community / lives elsewhere in city / not found
HH_FATE: dict[str, tuple[float, float, float, float]] = {
    "old": (0.62, 0.04, 0.15, 0.19), "reloc": (0.50, 0.03, 0.27, 0.20),
    "mixed": (0.70, 0.05, 0.11, 0.14), "new": (0.76, 0.04, 0.08, 0.12),
    "town": (0.74, 0.04, 0.09, 0.13), "vil": (0.80, 0.03, 0.06, 0.11), "ind": (0.80, 0.03, 0.06, 0.11),
}
# where people who moved inside the city go (weights by community type)
DEST_W: dict[str, float] = {"new": 9, "mixed": 2.5, "town": 1.5, "old": 1, "reloc": 0.4, "vil": 0.5, "ind": 0.6}
# migrants (not in the extract) as a share of the community's residents
MIGR_SHARE: dict[str, float] = {
    "old": 0.12, "reloc": 0.17, "mixed": 0.09, "new": 0.07, "town": 0.15, "vil": 0.1, "ind": 0.36,
}

# --- names ---------------------------------------------------------------------------------------------
SURN_LOCAL: list[tuple[str, float]] = [
    ("王", 8), ("陈", 7), ("黄", 5), ("张", 5), ("李", 4), ("徐", 4), ("孙", 4), ("胡", 3), ("周", 3), ("朱", 3),
    ("邵", 3), ("叶", 3), ("杨", 3), ("沈", 3), ("吴", 3), ("谢", 3), ("毛", 2), ("鲁", 2), ("岑", 2), ("诸", 2),
    ("史", 2), ("宋", 2), ("魏", 2), ("施", 2), ("劳", 1), ("严", 2), ("俞", 2), ("戚", 1), ("郑", 2), ("韩", 1),
    ("金", 2), ("罗", 1), ("何", 1), ("汪", 1), ("赵", 2), ("钱", 1), ("蒋", 1), ("姚", 1), ("马", 1), ("范", 1),
    ("余", 1), ("柴", 1), ("虞", 1), ("谷", 1), ("侯", 1.2), ("褚", 1), ("卢", 1), ("应", 1), ("方", 1), ("潘", 1),
    ("郭", 1), ("高", 1), ("刘", 2), ("楼", 1), ("夏", 1), ("翁", 1), ("熊", 0.5), ("邹", 0.5), ("欧阳", 0.2),
    ("司马", 0.1), ("诸葛", 0.15),
]
SURN_MIGR: list[tuple[str, float]] = [
    ("刘", 5), ("张", 5), ("李", 5), ("王", 5), ("杨", 4), ("陈", 4), ("吴", 3), ("罗", 3), ("赵", 2), ("龙", 2),
    ("蒙", 1), ("韦", 2), ("潘", 2), ("石", 2), ("田", 2), ("彭", 2), ("周", 2), ("黄", 3), ("胡", 2), ("徐", 2),
    ("孙", 2), ("朱", 2), ("余", 1), ("曹", 1), ("何", 2), ("邓", 2), ("冉", 1), ("侯", 1), ("马", 1.5), ("袁", 1),
    ("付", 1), ("姜", 1), ("贾", 1), ("邱", 1), ("谭", 1),
]
OLD_M = [
    "根", "阿根", "宝根", "阿财", "金海", "国祥", "志明", "忠良", "荣华", "德兴", "福林", "阿三", "关兴", "永康",
    "长根", "水根", "炳坤", "如松", "全法", "纪芳", "昌明", "雪根", "银根", "福祥", "茂林", "松林", "天德", "阿毛",
    "海良", "柏荣",
]
OLD_F = [
    "月娥", "彩娣", "杏娟", "桂英", "秀英", "阿娟", "菊芬", "凤娟", "亚娣", "美娟", "爱娣", "素珍", "雅芬", "阿珍",
    "月英", "小娟", "翠娥", "兰娣", "杏芳", "彩芬", "秀珍", "阿凤", "珠英", "菊英", "金娣", "月琴", "宝娣", "巧英",
]
MID_M = [
    "建国", "国平", "伟", "建军", "海军", "国良", "卫东", "建华", "志刚", "勇", "杰", "国伟", "建平", "立新",
    "明华", "永江", "军", "海波", "红军", "建明", "利民", "国强", "伟民", "建新", "国兴", "立军", "国荣", "志华",
    "建林", "海峰", "斌", "刚",
]
MID_F = [
    "丽萍", "海燕", "红", "芳", "丽娟", "燕", "素芬", "雪芬", "红英", "亚芬", "玲", "美芳", "丽君", "雅萍", "爱萍",
    "建芬", "群芳", "伟娟", "红霞", "丽华", "亚萍", "娟", "静", "海娟", "幼芬", "玲芬", "卫红", "雪娟", "美娟",
    "丽芬",
]
YNG_M = [
    "杰", "磊", "斌", "超", "伟杰", "俊", "浩", "健", "涛", "鹏", "宇", "晨", "亮", "波", "挺", "峰", "佳伟",
    "家豪", "振宇", "晓东", "栋", "凯", "成杰", "俊杰", "鑫", "赟", "炯", "吉", "啸", "骏",
]
YNG_F = [
    "婷", "静", "丹", "燕", "晶", "洁", "佳", "颖", "倩", "蕾", "莉", "雯", "露", "琳", "佳琪", "梦婷", "晓燕",
    "丽丽", "思思", "佳佳", "婷婷", "燕萍", "芳芳", "瑶", "璐", "慧", "蓉", "珊", "莹", "佳丽",
]
KID_M = [
    "子轩", "浩然", "宇轩", "俊熙", "梓豪", "一鸣", "皓轩", "思远", "博文", "睿", "泽宇", "宇航", "天佑", "奕辰",
    "沐阳", "铭泽", "宸", "弈", "梓睿", "子墨", "煜", "锦程", "逸凡", "昊天", "嘉豪", "承泽", "俊宇", "翊", "宇辰",
    "明轩",
]
KID_F = [
    "梓涵", "一诺", "欣怡", "诗涵", "雨涵", "可馨", "语嫣", "梓萱", "佳怡", "思琪", "若汐", "芷若", "依诺", "子涵",
    "沐晴", "欣妍", "雨桐", "梓琪", "可欣", "语桐", "艺涵", "诗雨", "安琪", "紫涵", "欣然", "梦瑶", "悦", "彤",
    "芊芊", "晨曦",
]
C1M = "建国志永海立明伟文俊家宇浩子晓振佳天思博一嘉泽铭德荣兴华"
C2M = "平华明军强刚伟杰峰涛斌勇龙东林波辉超宇轩豪然航哲鑫凯磊良康"
C1F = "丽海雪秀美亚晓佳雅梦欣诗雨思子梓可婷静彩月素"
C2F = "萍燕芳娟英芬红霞琴珍婷静丹颖倩怡涵琪萱妍洁蕾娣"
RARE = "喆堃玥昇珺淼犇䶮旻赟玥燚"
UYG_M = ["买买提·艾力", "艾尔肯·吐尔逊", "阿不都·热合曼", "艾山·买买提", "努尔·艾合买提", "吐尔洪·阿吉"]
UYG_F = ["古丽娜尔·买买提", "阿依古丽·艾山", "热依拉·阿不都", "迪丽努尔·吐尔逊", "努尔古丽·艾力"]
YI_NAMES = ["阿苦·拉哈", "吉克·阿依", "沙马·木呷", "阿西·伍各", "曲比·阿果"]

HOMO = {"伟": "玮炜", "丽": "莉俐", "萍": "平苹", "华": "花", "军": "君钧", "明": "铭鸣", "杰": "洁捷", "芳": "方",
        "静": "婧靖", "娟": "鹃涓", "红": "虹宏", "燕": "艳雁", "英": "瑛", "玲": "琳铃", "峰": "锋", "涛": "滔",
        "斌": "彬", "勇": "永", "刚": "钢", "辉": "晖", "慧": "惠", "婷": "亭", "佳": "嘉家", "怡": "宜",
        "琪": "淇祺", "涵": "含", "宇": "雨", "轩": "萱宣", "浩": "皓昊", "俊": "骏峻", "建": "剑健", "根": "耕",
        "娣": "弟", "珍": "贞", "彩": "采", "月": "悦", "秀": "绣", "兰": "岚", "凤": "风", "霞": "侠",
        "梅": "玫", "晨": "辰", "磊": "垒", "鹏": "朋", "超": "潮", "亮": "靓", "敏": "闵", "芬": "纷",
        "平": "萍", "国": "果", "海": "凯", "波": "博", "林": "琳", "晶": "菁", "丹": "单", "颖": "莹",
        "雯": "文", "琳": "玲", "鑫": "欣", "凯": "恺", "良": "梁", "荣": "蓉", "祥": "翔", "兴": "星"}
LOOK = {"侯": "候", "候": "侯", "沈": "沉", "未": "末", "末": "未", "戊": "戌", "己": "已", "汪": "注", "杨": "扬",
        "陈": "阵", "贾": "贯", "冉": "再", "晴": "睛", "瑞": "端", "茹": "如", "栋": "株", "娟": "绢",
        "徐": "涂", "毛": "毋", "刁": "习", "孙": "逊", "祝": "视", "婷": "停", "洁": "沽"}
TRAD = {"张": "張", "伟": "偉", "国": "國", "华": "華", "丽": "麗", "陈": "陳", "刘": "劉", "军": "軍", "红": "紅",
        "东": "東", "龙": "龍", "凤": "鳳", "宝": "寶", "兰": "蘭", "杰": "傑", "叶": "葉", "杨": "楊", "孙": "孫",
        "黄": "黃", "吴": "吳", "郑": "鄭", "赵": "趙", "钱": "錢", "韩": "韓", "罗": "羅", "诸": "諸", "鲁": "魯",
        "严": "嚴", "谢": "謝", "强": "強", "刚": "剛", "庆": "慶", "兴": "興", "荣": "榮", "涛": "濤", "鹏": "鵬",
        "颖": "穎", "轩": "軒", "诺": "諾", "凯": "凱", "晓": "曉", "乐": "樂", "欢": "歡", "爱": "愛", "云": "雲",
        "飞": "飛", "锋": "鋒", "卫": "衛", "义": "義", "财": "財", "贵": "貴", "发": "發", "达": "達", "娟": "娟",
        "萍": "萍", "燕": "燕", "芳": "芳", "明": "明", "海": "海", "丰": "豐", "艳": "艷", "鸣": "鳴", "铭": "銘",
        "汤": "湯", "胜": "勝", "岁": "歲", "亚": "亞", "梦": "夢", "杏": "杏", "宇": "宇", "儿": "兒", "马": "馬",
        "邓": "鄧", "谭": "譚", "袁": "袁", "韦": "韋", "冯": "馮", "顾": "顧", "龚": "龔", "陆": "陸", "应": "應"}
DOT_VARIANTS = ["•", "・", ".", "．", "‧", "", "-"]

# --- codes ---------------------------------------------------------------------------------------------
REL_CODE = {"户主": "02", "配偶": "10", "子": "20", "独生子": "21", "长子": "22", "次子": "23", "三子": "24",
            "女婿": "28", "女": "30", "独生女": "31", "长女": "32", "次女": "33", "三女": "34", "儿媳": "38",
            "孙子": "41", "孙女": "42", "外孙子": "43", "外孙女": "44", "父亲": "51", "母亲": "52", "兄": "71",
            "弟": "73", "姐姐": "75", "妹妹": "77", "非亲属": "99"}
ETH_CODE = {"汉族": "01", "回族": "03", "维吾尔族": "05", "苗族": "06", "彝族": "07", "壮族": "08", "布依族": "09",
            "满族": "11", "侗族": "12", "土家族": "15", "畲族": "22", "撒拉族": "35"}
LOCAL_HIST = ["332222", "330223", "339002"]  # older county codes (uncertain) for people registered before 1989
ZJ_OTHER = ["330226", "330282", "330211", "330203", "330682", "330183", "331022", "330381", "330324", "330621"]
MIGR_AREAS: list[tuple[str, str, str | None, float]] = [  # area, place (for 户籍地 column), minority pool, weight
    ("341221", "安徽省临泉县", None, 5), ("341222", "安徽省太和县", None, 3), ("341225", "安徽省阜南县", None, 3),
    ("341226", "安徽省颍上县", None, 2), ("341623", "安徽省利辛县", None, 2), ("411627", "河南省太康县", None, 3),
    ("411628", "河南省鹿邑县", None, 2), ("411524", "河南省商城县", None, 2), ("412825", "河南省上蔡县", None, 2),
    ("522422", "贵州省大方县", "苗族彝族", 3), ("522424", "贵州省金沙县", "苗族", 2),
    ("522425", "贵州省织金县", "苗族布依族", 3), ("522426", "贵州省纳雍县", "苗族彝族", 2),
    ("522427", "贵州省威宁县", "彝族回族苗族", 2), ("522226", "贵州省印江县", "土家族", 2),
    ("522732", "贵州省三都县", "布依族", 1), ("511321", "四川省南部县", None, 3),
    ("511622", "四川省武胜县", None, 2), ("511722", "四川省宣汉县", None, 2), ("513434", "四川省越西县", "彝族", 1),
    ("362330", "江西省鄱阳县", None, 3), ("362331", "江西省余干县", None, 2), ("532128", "云南省镇雄县", None, 3),
    ("530381", "云南省宣威市", None, 2), ("421127", "湖北省黄梅县", None, 2),
    ("422826", "湖北省咸丰县", "土家族", 1), ("430524", "湖南省隆回县", None, 2),
    ("632122", "青海省民和县", "回族撒拉族", 1), ("653101", "新疆喀什市", "维吾尔族", 0.4),
    ("452122", "广西马山县", "壮族", 1), ("330226", "浙江省宁海县", None, 1), ("331022", "浙江省三门县", None, 1),
    ("330324", "浙江省永嘉县", None, 1),
]
MOBILE_PRE = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156", "157",
    "158", "159", "176", "177", "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "199",
]

# --- places --------------------------------------------------------------------------------------------
EST_CORES = ["舜水", "阳明", "南雷", "龙泉", "丰乐", "姚江", "江南", "凤山", "兰江", "锦凤", "北城", "城东", "城西",
             "胜山", "燕山", "文亭", "梨洲", "四明", "东旭", "荷花", "世纪", "金色", "银座", "阳光", "惠民", "康乐",
             "富丽", "天润", "中塘", "新城", "谭家岭", "蒋家", "三凤", "朝阳", "芝山", "最良", "南滨", "东江", "金湖",
             "玉兰", "桂花", "紫薇", "香樟", "银杏", "景和", "和美", "新建", "西街", "北门", "南门", "武胜", "候青",
             "丰山", "花园", "长丰", "冶山", "玉皇", "笋山", "客星", "新江", "子陵", "东风", "学士", "锦绣", "泰和",
             "万和", "明珠", "嘉禾", "永丰", "双桥"]
EST_HOMO = {"舜": "顺", "阳": "杨", "明": "名", "雷": "蕾", "龙": "隆", "泉": "全", "丰": "风", "江": "姜",
            "凤": "风", "兰": "蓝", "锦": "金", "城": "成", "东": "冬", "胜": "圣", "燕": "雁", "文": "闻",
            "亭": "庭", "梨": "黎", "洲": "州", "旭": "煦", "荷": "和", "华": "花", "世": "市", "纪": "记",
            "金": "锦", "新": "欣", "康": "慷", "富": "福", "景": "京", "和": "禾", "湖": "胡", "桂": "贵",
            "香": "湘", "樟": "章", "塘": "堂", "岭": "林", "朝": "潮", "芝": "之", "良": "梁", "滨": "宾",
            "泰": "太", "嘉": "佳", "永": "涌", "桥": "乔", "陵": "林", "学": "雪", "玉": "育", "山": "衫"}
OLD_NAMES = ["粮食局宿舍", "供销社宿舍", "二轻宿舍", "电厂宿舍", "纺织厂宿舍", "教师新村", "卫生局宿舍",
             "化肥厂宿舍", "丝厂宿舍", "农机厂宿舍", "邮电宿舍", "轴承厂宿舍", "电机厂宿舍", "搪瓷厂宿舍",
             "棉纺厂宿舍", "交通局宿舍", "百货公司宿舍", "塑料厂宿舍"]
ROADS = ["阳明西路", "新建路", "南雷南路", "舜水南路", "候青江路", "西街", "东风路", "丰乐路", "城南路", "北滨江路",
         "体育场路", "四明西路", "谭家岭东路", "北门路", "桐江路", "新东路", "东旱门路", "武胜门路", "府前路",
         "南滨江路", "梨洲路", "长新路", "凤山路", "兰江路", "世南路", "环城南路"]
TOWN_ROADS = ["人民路", "中街", "老街", "北街", "镇东路", "镇南路", "新街", "解放路", "工业路", "前进路"]
LANE_NAMES = ["竹山巷", "花园巷", "东门巷", "府前巷", "学弄", "木行弄", "井弄", "铁匠弄", "石板巷", "火神弄", "汇头弄",
              "塘湾巷", "祠堂弄", "书院巷", "鲞行弄", "米行街"]
NATURAL = ["下王", "沈家", "陈家岙", "塘头", "山下", "后岸", "东岙", "前村", "徐家埭", "桥头", "施家", "大路头",
           "岙里", "西山", "横塘", "上庄", "殿前", "河头", "新屋", "周家"]
CO_A = ["华丰", "宏达", "金辉", "恒通", "天成", "永盛", "东海", "舜宇", "明峰", "康达", "鑫源", "立达", "精诚", "飞跃",
        "巨力", "远大", "凯利", "诚信", "亚太", "联兴"]
CO_B = ["塑料制品", "机械", "电器", "五金", "模具", "汽配", "灯具", "轴承", "纺织", "工具", "电子"]
SHOPS = ["理发店", "小吃店", "五金店", "便利店", "水果店", "快递点", "修车铺", "拉面馆", "早餐店", "麻将馆"]

CN = "〇一二三四五六七八九"
FW = str.maketrans("0123456789Xx-", "０１２３４５６７８９Ｘｘ－")

# How grid workers write, as (options, weights): each worker keeps a favourite per key (see Worker.pick).
HABITS: dict[str, tuple[list[str], list[int]]] = {
    "prefix": (["estate", "comm", "street", "city", "full", "bare"], [60, 15, 7, 6, 4, 8]),
    "eform": (["full", "nosuffix", "swap", "short", "homo", "old"], [74, 13, 4, 3, 3, 3]),
    "bform": (["幢", "栋", "号楼", "座", "#", "dash", "cn", "号"], [47, 15, 10, 3, 5, 12, 5, 3]),
    "uform": (["单元", "drop", "cn", "dash"], [82, 12, 4, 2]),
    "rform": (["室", "", "号", "房", "floor", "cnroom"], [48, 31, 12, 5, 3, 1]),
    "rural": (["std", "nov", "cnzu", "dui", "xiaozu", "nocun", "nozu", "town", "city", "dash"],
              [50, 14, 6, 5, 2, 6, 4, 9, 3, 2]),
    "nat": (["std", "nov", "town", "full"], [60, 25, 10, 5]),
    "lane": (["std", "cn", "nohao", "dash", "pref", "nopref_road"], [55, 7, 12, 6, 15, 5]),
    "birth": (["iso", "slash", "compact", "excel", "dot", "cnfmt", "nopad"], [28, 14, 15, 24, 8, 6, 5]),
}
# fmt: on

# The parts of an address that identify each kind of dwelling.
COMP = {
    "flat": ("est", "b", "u", "room"),
    "lane": ("road", "lane", "num"),
    "road": ("road", "num"),
    "nlane": ("lname", "num"),
    "rural": ("zu", "num"),
    "natural": ("nat", "num"),
    "dorm": ("co", "room"),
    "shop": ("road", "num"),
    "garage": ("est", "b", "num"),
    "office": ("road", "num"),
}
REGISTRABLE = ("flat", "lane", "road", "nlane", "rural", "natural")  # the dwellings households register at
LANE_SHARE = {"old": 0.4, "reloc": 0.5, "mixed": 0.12, "new": 0.0, "town": 0.45}  # of an urban community's houses
CHILD_RELATIONS = ("子", "女", "长子", "次子", "三子", "长女", "次女", "三女", "独生子", "独生女", "孙子", "孙女")
BIRTH_STRFTIME = {"iso": "%Y-%m-%d", "slash": "%Y/%m/%d", "compact": "%Y%m%d", "dot": "%Y.%m.%d"}
FAMILY, COLLECTIVE = "家庭户", "集体户"  # kinds of registered household
HEADER_ROW = (0, 1, 2, 2)  # the header row of a roll (0-based) by the rows above it (see _City.write_roll)
ACTIVE = "正常"

CellValue = str | int | dt.date
RegisterTruth = tuple[str, int, int, str, str | None, str]
RollTruth = tuple[str, str | None, int, int, str, int | None, str, str | None]
ROLL_TRUTH_SHEETS = {"roll_file": pl.String, "roll_sheet": pl.String} | {
    name: dtype for name, dtype in ROLL_TRUTH.items() if name != "roll_file"
}
"""`truth/roll_truth.parquet`: `benchmarks.evaluate.ROLL_TRUTH` with `roll_sheet` (null for a CSV roll) second."""


def _cn_num(n: int) -> str:
    """A number in Chinese numerals as spoken (十二), digit by digit from 100 (一〇二)."""
    if n < 10:
        return CN[n] if n else "〇"
    t, o = divmod(n, 10)
    if n >= 100:
        return "".join(CN[int(c)] for c in str(n))
    return ("" if t == 1 else CN[t]) + "十" + (CN[o] if o else "")


def _cn_digits(n: int, zero: str) -> str:
    """A number in Chinese digits, zero written as `zero`."""
    return "".join((zero if c == "0" else CN[int(c)]) for c in str(n))


def _id_check(s17: str) -> str:
    """The check character (GB 11643) of an ID number's first 17 digits."""
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * x for c, x in zip(s17, w, strict=True)) % 11]


def _minorities(pool: str) -> list[str]:
    """The ethnic groups in a pool written like 苗族彝族."""
    return [x + "族" for x in pool.split("族") if x]


def _wchoice(rng: random.Random, pairs: Sequence[tuple[T, float]]) -> T:
    """One of the values, drawn by weight."""
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


# --- the model -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Estate:
    """A housing estate: its name and the other ways it gets written, and its building numbers."""

    idx: int  # in its community
    full: str
    core: str
    sfx: str
    dist: str  # 东区, 一区...; often empty
    homo: str | None  # a homophone
    swap: str  # another suffix
    old: str | None  # a former name (粮食局宿舍)
    short: str | None  # without the suffix, when there is a 区
    bnums: list[int]


@dataclass(eq=False, slots=True, kw_only=True)
class Dwelling:
    """A flat, house, dormitory room, shop, garage or office; the parts its kind has (COMP) are set."""

    kind: str  # a key of COMP
    sortkey: tuple[int, ...]  # the order of a walk through the community
    est: Estate | None = None
    b: int = 0
    u: int = 0  # 0: a building with one stair
    room: int = 0
    floor: int = 0
    road: str = ""
    lane: int = 0
    lname: str = ""
    num: int = 0
    zu: int = 0
    nat: str = ""
    co: str = ""
    id: tuple[str, int] = ("", 0)  # community code, index
    occ: list[list[Person]] = field(default_factory=list)  # the groups living here
    reg: Household | None = None  # the first household registered here

    @property
    def estate(self) -> Estate:
        """The estate of a flat or garage."""
        if self.est is None:
            raise ValueError(f"a {self.kind} is in no estate")
        return self.est


@dataclass(eq=False, slots=True)
class Community:
    """A 社区 or 村, and what the generator puts in it."""

    code: str
    name: str
    ctype: str  # old, reloc, mixed, new, town, vil, ind
    street: str
    street_code: str
    station: str
    estates: list[Estate] = field(default_factory=list)
    dws: list[Dwelling] = field(default_factory=list)
    hhs: list[Household] = field(default_factory=list)
    cos: list[str] = field(default_factory=list)  # companies with dormitories
    roads: list[str] = field(default_factory=list)

    @property
    def village(self) -> bool:
        """Whether it is a 村."""
        return self.name.endswith("村")


@dataclass(eq=False, slots=True, kw_only=True)
class Person:
    """A person: who they are, where they are registered and where they live."""

    pid: int
    name: str
    sex: str
    birth: dt.date
    age: int
    id: str
    id_reg: str  # as the register has it: a few elderly keep a 15-digit number
    eth: str
    former: str
    phone: str
    migrant: bool
    place: str = ""  # a migrant's hometown
    rel: str = ""  # relation to the head of the household they were born or married into
    reg_comm: Community | None = None
    reg_dw: Dwelling | None = None
    hh: Household | None = None
    reg_row: int | None = None  # the active register row
    inactive: str | None = None  # 死亡, 迁出 or 注销: the only row is inactive
    old_reg: tuple[Household, str] | None = None  # an inactive row in another household, and its state
    fate: str = ""  # home, mw (moved within), city (elsewhere in the city) or gone
    live_comm: Community | None = None
    live_dw: Dwelling | None = None


@dataclass(eq=False, slots=True)
class Household:
    """A registered household."""

    comm: Community
    dw: Dwelling
    mem: list[tuple[Person, str]]  # with their relation to the head
    kind: str  # FAMILY or COLLECTIVE
    fate: str = ""  # home, mw, city, gone or collective
    group: list[Person] = field(default_factory=list)  # who lives at home
    hno: str = ""  # 户号


@dataclass(slots=True, kw_only=True)
class Worker:
    """A grid worker and their habits."""

    habits: dict[str, str]  # the favourite option of each HABITS key
    stick: float  # how often the favourite is used
    fullwidth: bool
    spaces: bool
    pad: bool  # two-character names padded with a space
    id_blank: float
    birth_blank: float
    sex_blank: float
    tongshang: bool  # writes 同上 for later members of a household
    visit_order: bool
    name: str

    def pick(self, key: str, rng: random.Random) -> str:
        """One of HABITS[key]: the favourite, or any by weight."""
        if rng.random() < self.stick:
            return self.habits[key]
        o, w = HABITS[key]
        return rng.choices(o, w)[0]


@dataclass(eq=False, slots=True)
class Record:
    """A roll record: who, where, their truth, and the cells by column key."""

    p: Person
    d: Dwelling
    status: str
    other: str | None
    cells: dict[str, CellValue]
    duplicate: bool = False


@dataclass(eq=False, slots=True)
class Sheet:
    """A worksheet of a roll: data, cover, summary or empty."""

    name: str
    kind: str
    recs: list[Record] = field(default_factory=list)
    worker_name: str = ""
    rows: list[tuple[dict[str, CellValue], Record]] = field(default_factory=list)


def official(c: Community, d: Dwelling) -> str:
    """The registered address of a dwelling."""
    pre = PROV + CITY + c.street + c.name
    if d.kind == "flat":
        return pre + d.estate.full + f"{d.b}幢" + (f"{d.u}单元" if d.u else "") + f"{d.room}室"
    if d.kind == "lane":
        return pre + f"{d.road}{d.lane}弄{d.num}号"
    if d.kind in ("road", "office"):
        return pre + f"{d.road}{d.num}号"
    if d.kind == "nlane":
        return pre + f"{d.lname}{d.num}号"
    if d.kind == "rural":
        return pre + f"{d.zu}组{d.num}号"
    if d.kind == "natural":
        return pre + f"{d.nat}{d.num}号"
    raise ValueError(d.kind)


def _compatible(reg: Dwelling | None, live: Dwelling, stated: set[str]) -> bool:
    """Whether an address of `live` that states the parts `stated` could be read as `reg`."""
    if reg is None or reg.kind != live.kind:
        return False
    return all(k not in stated or getattr(reg, k) == getattr(live, k) for k in COMP[live.kind])


def _register_date(d: dt.date, dash: bool) -> str:
    """A date as a police station writes it."""
    return d.strftime("%Y-%m-%d") if dash else d.strftime("%Y%m%d")


def _residents_first(group: list[Person], d: Dwelling) -> list[Person]:
    """A group in the order a worker lists it: those registered at `d` first, then by pid."""
    return sorted(group, key=lambda p: (p.reg_dw is not d, p.pid))


# --- the city ------------------------------------------------------------------------------------------


class _City:
    """Makes the city and writes it; every step draws from one random stream, in a fixed order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.people: list[Person] = []
        self.used17: set[str] = set()
        self.tags: Counter[str] = Counter()  # address variants
        self.ntags: Counter[str] = Counter()  # name, ID, birth and duplicate variants
        self.est_used: set[str] = set()
        self.old_names = list(OLD_NAMES)
        self.rng.shuffle(self.old_names)
        self.comms: list[Community] = []
        self.bycode: dict[str, Community] = {}
        self.free: dict[str, list[Dwelling]] = {}  # per community: empty dwellings, popped from the end
        self.spare: defaultdict[str, list[Dwelling]] = defaultdict(list)  # popped but of another kind
        self.home_dw: defaultdict[str, list[Household]] = defaultdict(list)  # households living at home
        self.reg_meta: dict[str, object] = {}
        self.roll_meta: Counter[str] = Counter()

    # --- persons ---

    def name_for(self, sex: str, birth_year: int, surname: str, migrant: bool = False) -> str:
        """A name of the birth year's fashion."""
        r = self.rng
        if birth_year < 1956:
            pool = OLD_M if sex == "男" else OLD_F
        elif birth_year < 1980:
            pool = MID_M if sex == "男" else MID_F
        elif birth_year < 2000:
            pool = YNG_M if sex == "男" else YNG_F
        else:
            pool = KID_M if sex == "男" else KID_F
        if r.random() < 0.55:
            g = r.choice(pool)
        else:
            c1, c2 = (C1M, C2M) if sex == "男" else (C1F, C2F)
            g = r.choice(c1) + r.choice(c2) if r.random() < 0.8 else r.choice(c2)
        if not migrant and r.random() < 0.003:
            g = (g[:-1] + r.choice(RARE)) if len(g) > 1 else r.choice(RARE)
        return surname + g

    def new_id(self, area: str, birth: dt.date, sex: str) -> str:
        """An unused 18-digit ID number."""
        r = self.rng
        while True:
            seq = r.randrange(0, 500) * 2 + (1 if sex == "男" else 0)
            s17 = f"{area}{birth:%Y%m%d}{seq:03d}"
            if s17 not in self.used17:
                self.used17.add(s17)
                return s17 + _id_check(s17)

    def phone(self, age: int) -> str:
        """A mobile number, a landline or nothing."""
        r = self.rng
        if age < 14:
            return ""
        if age > 70 and r.random() < 0.45:
            return r.choice(["", f"62{r.randrange(100000, 999999)}", f"0574-62{r.randrange(100000, 999999)}"])
        return r.choice(MOBILE_PRE) + f"{r.randrange(0, 10**8):08d}"

    def make_person(
        self,
        sex: str,
        age: int,
        surname: str | None = None,
        area: str | None = None,
        migrant: bool = False,
        eth: str = "汉族",
        full_name: str | None = None,
    ) -> Person:
        """A new person; locals without an `area` were born in the county (or one of its former codes)."""
        r = self.rng
        birth = REF - dt.timedelta(days=int(age * 365.25) + r.randrange(0, 365))
        if surname is None:
            surname = _wchoice(r, SURN_MIGR if migrant else SURN_LOCAL)
        if area is None:
            area = COUNTY
            if birth.year < 1985 and r.random() < 0.15:
                area = r.choice(LOCAL_HIST)
        idn = self.new_id(area, birth, sex)
        name = full_name or self.name_for(sex, birth.year, surname, migrant)
        p = Person(
            pid=len(self.people) + 1,
            name=name,
            sex=sex,
            birth=birth,
            age=age,
            id=idn,
            id_reg=idn,
            eth=eth,
            former="",
            phone=self.phone(age),
            migrant=migrant,
        )
        if not migrant and birth.year < 1950 and r.random() < 0.08:
            p.id_reg = idn[:6] + idn[8:17]  # legacy 15-digit record in the extract
        if not migrant and birth.year < 1975 and r.random() < 0.03:
            p.former = surname + r.choice(OLD_F if sex == "女" else OLD_M)
        self.people.append(p)
        return p

    def spouse_origin(self) -> tuple[str | None, str]:
        """Area code (None: local) and ethnicity of a spouse who may have married in."""
        r = self.rng
        x = r.random()
        if x < 0.76:
            return None, "汉族"
        if x < 0.93:
            return r.choice(ZJ_OTHER), ("畲族" if r.random() < 0.03 else "汉族")
        a = _wchoice(r, [(m, m[3]) for m in MIGR_AREAS])
        eth = "汉族"
        if a[2] and r.random() < 0.35:
            eth = r.choice(_minorities(a[2]))
        return a[0], eth

    # --- households ---

    def household(self) -> list[tuple[Person, str]]:
        """A registered family: its members with their relation to the head."""
        r = self.rng
        t = _wchoice(r, [("single_old", 10), ("old_couple", 14), ("nuclear", 28), ("nuclear_adult", 10),
                         ("threegen", 10), ("threegen_b", 6), ("young", 7), ("single", 10), ("single_parent", 3),
                         ("sib", 2)])  # fmt: skip
        surname = _wchoice(r, SURN_LOCAL)
        mem: list[tuple[Person, str]] = []

        def add(sex: str, age: int, rel: str, surname: str = surname, spouse: bool = False) -> None:
            area, eth = None, "汉族"
            if spouse:
                area, eth = self.spouse_origin()
            p = self.make_person(sex, max(0, age), surname=surname, area=area, eth=eth)
            mem.append((p, rel))
            p.rel = rel

        def kids(n: int, parent_age: int, grand: bool = False) -> None:
            sexes = [r.choice("男女") for _ in range(n)]
            ages = sorted([max(0, parent_age - r.randint(22, 34)) for _ in range(n)], reverse=True)
            nm = sexes.count("男")
            nf = n - nm
            im = jf = 0
            for s, a in zip(sexes, ages, strict=True):
                if grand:
                    rel = "孙子" if s == "男" else "孙女"
                elif s == "男":
                    if nm > 1:
                        rel = ["长子", "次子", "三子"][im]
                    else:  # 独生子 for some only sons born since 1980
                        rel = "独生子" if REF.year - a >= 1980 and r.random() < 0.4 and n == 1 else "子"
                    im += 1
                else:
                    rel = ["长女", "次女", "三女"][jf] if nf > 1 else "独生女" if r.random() < 0.4 and n == 1 else "女"
                    jf += 1
                add(s, a, rel)

        if t == "single_old":
            s = "女" if r.random() < 0.65 else "男"
            add(s, r.randint(66, 95), "户主")
        elif t == "old_couple":
            a = r.randint(60, 90)
            add("男", a, "户主")
            add("女", a - r.randint(0, 6), "配偶", surname=_wchoice(r, SURN_LOCAL), spouse=True)
        elif t in ("nuclear", "nuclear_adult", "threegen_b"):
            a = r.randint(28, 56) if t != "nuclear_adult" else r.randint(50, 68)
            add("男", a, "户主")
            add("女", a - r.randint(-2, 5), "配偶", surname=_wchoice(r, SURN_LOCAL), spouse=True)
            kids(1 if t == "nuclear_adult" else r.choice([1, 1, 2, 2, 3]), a)
            if t == "threegen_b":
                pa = a + r.randint(24, 33)
                if r.random() < 0.6:
                    add("男", pa, "父亲")
                add("女", pa - r.randint(0, 5), "母亲", surname=_wchoice(r, SURN_LOCAL))
        elif t == "threegen":
            a = r.randint(55, 76)
            add("男", a, "户主")
            add("女", a - r.randint(0, 5), "配偶", surname=_wchoice(r, SURN_LOCAL), spouse=True)
            sa = a - r.randint(24, 32)
            if r.random() < 0.8:
                add("男", sa, "子")
                add("女", sa - r.randint(-1, 4), "儿媳", surname=_wchoice(r, SURN_LOCAL), spouse=True)
            else:
                add("女", sa, "女")
                add("男", sa + r.randint(-1, 4), "女婿", surname=_wchoice(r, SURN_LOCAL), spouse=True)
            kids(r.choice([1, 1, 2]), sa, grand=True)
        elif t == "young":
            a = r.randint(23, 35)
            add("男", a, "户主")
            add("女", a - r.randint(-2, 4), "配偶", surname=_wchoice(r, SURN_LOCAL), spouse=True)
        elif t == "single":
            add(r.choice("男女"), r.randint(20, 62), "户主")
        elif t == "single_parent":
            a = r.randint(30, 55)
            add("女", a, "户主")
            kids(1, a)
        else:
            a = r.randint(40, 75)
            add("男", a, "户主")
            add(r.choice("男女"), a + r.randint(-8, 8), r.choice(["兄", "弟", "姐姐", "妹妹"]))
        # minority names (rare): a spouse who married in gets a · name
        for p, _ in mem:
            if p.eth == "维吾尔族" or (p.eth == "彝族" and r.random() < 0.5):
                p.name = r.choice(UYG_M if p.sex == "男" else UYG_F) if p.eth == "维吾尔族" else r.choice(YI_NAMES)
        return mem

    # --- places ---

    def make_estate(self, c: Community, new: bool, village: bool = False) -> list[Dwelling]:
        """A new estate in `c`, and its flats."""
        r = self.rng
        for _ in range(200):
            core = r.choice(EST_CORES)
            if village:
                core = c.name[:-1][:2]
            sfx = (r.choice(["花园", "家园", "苑", "名苑", "华庭", "嘉园", "公寓", "府", "花苑"]) if new
                   else r.choice(["新村", "新村", "小区", "小区", "公寓", "新村"]))  # fmt: skip
            if village:
                sfx = r.choice(["新村", "安置小区", "花苑"])
            dist = (
                ""
                if (new or village or r.random() > 0.25)
                else r.choice(["东区", "西区", "南区", "北区", "一区", "二区"])
            )
            full = core + sfx + dist
            if core + sfx not in self.est_used:
                break
        self.est_used.add(core + sfx)
        homo = None
        idx = [i for i, ch in enumerate(core) if ch in EST_HOMO]
        if idx:
            i = r.choice(idx)
            homo = core[:i] + EST_HOMO[core[i]] + core[i + 1 :] + sfx + dist
        swap = core + r.choice([s for s in ["小区", "新村", "花园", "家园", "公寓"] if s != sfx]) + dist
        old = None
        if not new and not village and self.old_names and r.random() < 0.35:
            old = self.old_names.pop()
        if new:
            units = r.choice([1, 2, 2, 3])
            floors = r.choice([11, 15, 17, 18, 24, 26, 33])
            fpf = r.choice([2, 2, 3, 4])
            nb = r.randint(6, 24)
        else:
            units = r.choice([1, 2, 3, 3, 4])
            floors = r.choice([5, 6, 6])
            fpf = 2
            nb = r.randint(6, 36) if not village else r.randint(4, 14)
        bnums = [b for b in range(1, nb + 200) if not (new and b % 10 == 4)][:nb]
        e = Estate(len(c.estates), full, core, sfx, dist, homo, swap, old, (core + dist if dist else None), bnums)
        c.estates.append(e)
        return [
            Dwelling(
                kind="flat",
                est=e,
                b=b,
                u=u if units > 1 else 0,
                room=f * 100 + k,
                floor=f,
                sortkey=(0, e.idx, b, u, f, k),
            )
            for b in bnums
            for u in range(1, units + 1)
            for f in range(1, floors + 1)
            for k in range(1, fpf + 1)
        ]

    def build_places(self, c: Community, n_hh: int) -> list[Dwelling]:
        """Make the dwellings of `c`; return the `n_hh` dwellings its registered households are at."""
        r = self.rng
        t = c.ctype
        need = int(n_hh / REG_SHARE[t]) + 1
        dws: list[Dwelling] = []
        if c.village:
            use_nat = r.random() < 0.3
            n_house = int(need * (0.85 if r.random() < 0.2 else 1.0))
            if use_nat:
                names = r.sample(NATURAL, r.randint(4, 9))
                per = n_house // len(names) + 1
                for i, nm in enumerate(names):
                    nums = sorted(r.sample(range(1, per * 2), per))
                    dws.extend(Dwelling(kind="natural", nat=nm, num=n, sortkey=(1, i, n)) for n in nums)
            else:
                nzu = max(3, min(20, n_house // 45 + 1))
                per = n_house // nzu + 1
                for z in range(1, nzu + 1):
                    nums = sorted(r.sample(range(1, int(per * 1.3) + 2), per))
                    dws.extend(Dwelling(kind="rural", zu=z, num=n, sortkey=(1, z, n)) for n in nums)
            if len(dws) < need or r.random() < 0.25:  # a resettlement estate
                dws.extend(self.make_estate(c, False, village=True))
            # factories with dormitories (both counts are drawn)
            industrial, farming = r.randint(3, 7), r.randint(0, 2)
            for i in range(industrial if t == "ind" else farming):
                co = "余姚市" + r.choice(CO_A) + r.choice(CO_B) + "有限公司"
                c.cos.append(co)
                floors = r.randint(2, 4)
                for f in range(1, floors + 1):
                    for k in range(1, r.randint(8, 20)):
                        dws.append(Dwelling(kind="dorm", co=co, room=f * 100 + k, floor=f, sortkey=(2, i, f, k)))
        else:
            n_lane = int(need * LANE_SHARE[t])
            n_flat = need - n_lane
            roads = r.sample(TOWN_ROADS if t == "town" else ROADS, 3)
            c.roads = roads
            got = 0
            while got < n_flat:
                new = (t == "new") or (t == "mixed" and r.random() < 0.45) or (t == "town" and r.random() < 0.3)
                fl = self.make_estate(c, new)
                dws.extend(fl)
                got += len(fl)
            got = 0
            lanes = r.sample(LANE_NAMES, 3)
            while got < n_lane:
                x = r.random()
                if x < 0.6:
                    rd = r.randrange(len(roads))
                    ln = r.randint(1, 120)
                    for n in range(1, r.randint(8, 40)):
                        dws.append(Dwelling(kind="lane", road=roads[rd], lane=ln, num=n, sortkey=(3, rd, ln, n)))
                        got += 1
                elif x < 0.8:
                    li = r.randrange(len(lanes))
                    for n in range(1, r.randint(10, 60)):
                        dws.append(Dwelling(kind="nlane", lname=lanes[li], num=n, sortkey=(4, li, n)))
                        got += 1
                else:
                    rd = r.randrange(len(roads))
                    for n in range(1, 99, 2):
                        dws.append(Dwelling(kind="road", road=roads[rd], num=n, sortkey=(5, rd, n)))
                        got += 1
            # the same house drawn twice is one house
            seen: set[tuple[object, ...]] = set()
            unique = []
            for d in dws:
                key = (d.kind, d.est.full if d.est else None, d.b, d.u, d.room, d.road, d.lane, d.lname, d.num)
                if key not in seen:
                    seen.add(key)
                    unique.append(d)
            dws = unique
            # shops (ground-floor shop fronts, even numbers 100+) and garages; one of each per address
            for i in range(r.randint(5, 25)):
                rd = r.randrange(len(roads))
                dws.append(Dwelling(kind="shop", road=roads[rd], num=100 + 2 * r.randint(0, 150), sortkey=(6, rd, i)))
            shops = {(d.road, d.num): d for d in dws if d.kind == "shop"}
            dws = [d for d in dws if d.kind != "shop"] + list(shops.values())
            for e in c.estates[:3]:
                for g in range(1, r.randint(4, 12)):
                    b = r.choice(e.bnums[:6])
                    dws.append(Dwelling(kind="garage", est=e, b=b, num=g, sortkey=(0, e.idx, b, 99, 99, g)))
            garages = {(d.estate.idx, d.b, d.num): d for d in dws if d.kind == "garage"}
            dws = [d for d in dws if d.kind != "garage"] + list(garages.values())
        for i, d in enumerate(dws):
            d.id = (c.code, i)
        c.dws = dws
        regable = [d for d in dws if d.kind in REGISTRABLE]
        if c.village:
            houses = [d for d in regable if d.kind in ("rural", "natural")]
            flats = [d for d in regable if d.kind == "flat"]
            r.shuffle(flats)
            pool = houses + flats[: max(0, n_hh - len(houses))]
        else:
            pool = regable
        r.shuffle(pool)
        if len(pool) < n_hh:
            pool = pool + [r.choice(pool) for _ in range(n_hh - len(pool))]
        return pool[:n_hh]

    # --- building ---

    def build(self, persons: int | None, scale: float) -> None:
        """Communities, their dwellings and households, who lives where, and the migrants."""
        r = self.rng
        comms = [Community(f"{COUNTY}{sc}{cc}", cn, ct, sn, sc, st) for sc, sn, st, cl in STREETS for cc, cn, ct in cl]
        if persons is not None:
            if persons < 150000:
                k = max(3, min(len(comms), round(persons / 4200)))
                step = len(comms) / k
                comms = [comms[int(i * step)] for i in range(k)]
            base = sum(BASE_SIZE[c.ctype] for c in comms)
            factor = persons / 1.046 / base
        else:
            factor = scale
        self.comms = comms
        self.bycode = {c.code: c for c in comms}
        for c in comms:
            size = max(12, int(BASE_SIZE[c.ctype] * factor * r.uniform(0.75, 1.25)))
            n_hh = max(4, int(size / 2.82))
            for d in self.build_places(c, n_hh):
                hh = Household(c, d, self.household(), FAMILY)
                if d.reg is None:
                    d.reg = hh
                for p, _ in hh.mem:
                    p.reg_comm, p.reg_dw, p.hh = c, d, hh
                c.hhs.append(hh)
        # collective households (集体户) registered at the community office of two urban communities
        urban = [c for c in comms if not c.village]
        for c in r.sample(urban, min(2, len(urban))):
            d = Dwelling(kind="office", road=c.roads[0], num=r.randint(1, 49) * 2, sortkey=(9,))
            d.id = (c.code, len(c.dws))
            c.dws.append(d)
            mem = []
            for _ in range(max(3, int(r.randint(30, 80) * min(1, factor)))):
                p = self.make_person(r.choice("男女"), r.randint(19, 45))
                mem.append((p, "非亲属"))
            hh = Household(c, d, mem, COLLECTIVE)
            for p, _ in mem:
                p.reg_comm, p.reg_dw, p.hh = c, d, hh
            c.hhs.append(hh)
            d.reg = hh
        self.assign_fates()
        self.add_inactive()
        self.place_migrants()

    # --- who lives where ---

    def free_dw(
        self, c: Community, kinds: tuple[str, ...] = (), allow_occupied: bool = False, exclude: Dwelling | None = None
    ) -> Dwelling | None:
        """An empty dwelling of `c` (of `kinds`, if given), or with `allow_occupied` an occupied one."""
        pool = self.free[c.code]
        while pool:
            d = pool.pop()
            if d.occ:
                continue
            if (kinds and d.kind not in kinds) or d is exclude:
                self.spare[c.code].append(d)
                continue
            return d
        sp = self.spare[c.code]
        for i in range(len(sp) - 1, -1, -1):
            d = sp[i]
            if not d.occ and (not kinds or d.kind in kinds) and d is not exclude:
                sp.pop(i)
                return d
        if allow_occupied:
            cand = [d for d in c.dws if d.occ and d is not exclude and d.kind in (kinds or COMP.keys())]
            if cand:
                return self.rng.choice(cand)
        return None

    def destination(self, c: Community) -> Community:
        """Another community to move to from `c`: new estates, and the same street, are likelier."""
        weights = [
            (0 if c2 is c else DEST_W[c2.ctype] * (2 if c2.street_code == c.street_code else 1)) for c2 in self.comms
        ]
        return self.rng.choices(self.comms, weights)[0]

    @staticmethod
    def live(p: Person, c: Community, d: Dwelling, group: list[Person]) -> None:
        """`p` lives at `d` in `c`, with `group`."""
        p.live_comm, p.live_dw = c, d
        group.append(p)

    def assign_fates(self) -> None:
        """Whether each household, then each member, still lives at home, nearby, elsewhere or is gone."""
        r = self.rng
        for c in self.comms:
            fh, fm, fc, _ = HH_FATE[c.ctype]
            for hh in c.hhs:
                if hh.kind == COLLECTIVE:
                    hh.fate = "collective"
                    continue
                x = r.random()
                hh.fate = "home" if x < fh else "mw" if x < fh + fm else "city" if x < fh + fm + fc else "gone"
                if hh.dw.reg is not hh and hh.fate == "home":
                    hh.fate = r.choice(["city", "gone"])  # two households drawn onto one dwelling
        for c in self.comms:
            for hh in c.hhs:
                if hh.fate == "home":
                    hh.dw.occ.append(hh.group)
                    self.home_dw[c.code].append(hh)
        for c in self.comms:
            fl = [d for d in c.dws if not d.occ and d.kind != "office"]
            r.shuffle(fl)
            # put dorms/shops/garages at the front so they're popped last
            fl.sort(key=lambda d: 0 if d.kind in ("dorm", "shop", "garage") else 1)
            self.free[c.code] = fl
        for c in self.comms:
            for hh in c.hhs:
                if hh.fate == "home":
                    for p, _ in hh.mem:
                        a = p.age
                        x = r.random()
                        if 18 <= a <= 30:
                            pg, pc, pm = 0.13, 0.07, 0.01
                        elif 31 <= a <= 60:
                            pg, pc, pm = 0.03, 0.04, 0.01
                        elif a > 60:
                            pg, pc, pm = 0.01, 0.025, 0.015
                        else:
                            pg, pc, pm = 0.02, 0.01, 0.005
                        if x < pg:
                            p.fate = "gone"
                        elif x < pg + pc:
                            self.move_person_city(p, c)
                        elif x < pg + pc + pm:
                            self.move_person_within(p, c)
                        else:
                            p.fate = "home"
                            self.live(p, c, hh.dw, hh.group)
                elif hh.fate in ("mw", "city"):
                    c2 = c if hh.fate == "mw" else self.destination(c)
                    exclude = hh.dw if hh.fate == "mw" else None
                    d = self.free_dw(c2, kinds=REGISTRABLE, exclude=exclude)
                    if d is None:
                        d = self.free_dw(c2, allow_occupied=True, exclude=exclude)
                    g: list[Person] = []
                    if d is not None:
                        d.occ.append(g)
                    for p, _ in hh.mem:
                        if d is None or r.random() < (0.05 if hh.fate == "mw" else 0.08):
                            p.fate = "gone"
                        else:
                            p.fate = hh.fate
                            self.live(p, c2, d, g)
                elif hh.fate == "collective":
                    for p, _ in hh.mem:
                        x = r.random()
                        if x < 0.45:
                            self.move_person_city(p, c)
                        elif x < 0.55:
                            self.move_person_within(p, c)
                        else:
                            p.fate = "gone"
                else:
                    for p, _ in hh.mem:
                        p.fate = "gone"

    def move_person_city(self, p: Person, c: Community) -> None:
        """`p` moves from `c` to another community: into a family there, or into an empty dwelling."""
        r = self.rng
        c2 = self.destination(c)
        homes = self.home_dw[c2.code]
        if r.random() < 0.5 and homes:
            hh = r.choice(homes)
            g, d = hh.group, hh.dw
        else:
            free = self.free_dw(c2, kinds=REGISTRABLE)
            if free is None:
                if not homes:
                    p.fate = "gone"
                    return
                hh = r.choice(homes)
                g, d = hh.group, hh.dw
            else:
                g, d = [], free
                d.occ.append(g)
        p.fate = "city"
        self.live(p, c2, d, g)

    def move_person_within(self, p: Person, c: Community) -> None:
        """`p` moves elsewhere in `c`: into another family, or into an empty dwelling."""
        r = self.rng
        homes = self.home_dw[c.code]
        cands = [hh for hh in r.sample(homes, min(8, len(homes))) if hh.dw is not p.reg_dw]
        if cands and r.random() < 0.7:
            g, d = cands[0].group, cands[0].dw
        else:
            free = self.free_dw(c, exclude=p.reg_dw)
            if free is None:
                p.fate = "gone"
                return
            g, d = [], free
            d.occ.append(g)
        p.fate = "mw"
        self.live(p, c, d, g)

    def add_inactive(self) -> None:
        """Inactive register rows: the dead, those who moved out of the city, and rows left behind by a move."""
        r = self.rng
        for c in self.comms:
            for hh in c.hhs:
                if hh.kind == COLLECTIVE:
                    if r.random() < 0.5:
                        for _ in range(r.randint(1, 4)):
                            p = self.make_person(r.choice("男女"), r.randint(22, 50))
                            hh.mem.append((p, "非亲属"))
                            p.inactive = "迁出"
                            p.reg_comm, p.reg_dw, p.hh = c, hh.dw, hh
                    continue
                head = hh.mem[0][0]
                surname = head.name[0]
                x = r.random()
                if x < 0.055:  # a deceased member left on the register
                    rel = r.choice(["配偶", "父亲", "母亲"]) if head.age < 70 else "配偶"
                    sex = "男" if rel == "父亲" else "女" if rel == "母亲" else ("女" if head.sex == "男" else "男")
                    age = min(101, head.age + (r.randint(22, 32) if rel in ("父亲", "母亲") else r.randint(-3, 5)))
                    p = self.make_person(sex, max(40, age), surname=(surname if sex == "男" else None))
                    p.inactive = r.choice(["死亡"] * 9 + ["注销"])
                    hh.mem.append((p, rel))
                elif x < 0.10:  # adult child moved registration out of the city
                    sex = r.choice("男女")
                    p = self.make_person(sex, max(18, head.age - r.randint(22, 32)), surname=surname)
                    p.inactive = r.choice(["迁出"] * 12 + ["注销"])  # 注销 = e.g. 出国(境)定居
                    hh.mem.append((p, "子" if sex == "男" else "女"))
                else:
                    continue
                p.reg_comm, p.reg_dw, p.hh = c, hh.dw, hh
        # married daughters / buyers who moved their registration to another community of the city:
        # they keep an inactive (迁出) row in their parents' household
        by_surname = defaultdict(list)
        for c in self.comms:
            for hh in c.hhs:
                if hh.kind == FAMILY:
                    by_surname[hh.mem[0][0].name[0]].append(hh)
        cands = [
            p
            for p in self.people
            if p.hh is not None and p.hh.kind == FAMILY and p.inactive is None and 22 <= p.age <= 60
        ]
        for p in r.sample(cands, int(len(cands) * 0.018)):
            lst = by_surname.get(p.name[0])
            if not lst:
                continue
            hh = r.choice(lst)
            if hh.comm is p.reg_comm or hh is p.hh:
                continue
            p.old_reg = (hh, r.choice(["迁出"] * 10 + ["注销"]))
            hh.mem.append((p, "女" if p.sex == "女" else "子"))

    def migrant_group(self) -> tuple[str, list[Person]]:
        """A family, a single person or a group of workers from one hometown, with its kind."""
        r = self.rng
        area, place, mino, _ = _wchoice(r, [(m, m[3]) for m in MIGR_AREAS])

        def eth() -> str:
            if mino and r.random() < 0.4:
                return r.choice(_minorities(mino))
            return "汉族"

        t = _wchoice(r, [("family", 45), ("single", 27), ("workers", 28)])
        ppl = []
        surname = _wchoice(r, SURN_MIGR)

        def mk(sex: str, age: int, surname: str) -> Person:
            e = eth()
            full = None
            if e == "维吾尔族":
                full = r.choice(UYG_M if sex == "男" else UYG_F)
            elif e == "彝族" and r.random() < 0.4:
                full = r.choice(YI_NAMES)
            elif e in ("回族", "撒拉族"):
                surname = "马"
            p = self.make_person(sex, age, surname=surname, area=area, migrant=True, eth=e, full_name=full)
            p.place = place
            return p

        if t == "family":
            ha = r.randint(24, 55)
            ppl.append(mk("男", ha, surname))
            ppl.append(mk("女", ha - r.randint(-2, 5), _wchoice(r, SURN_MIGR)))
            for _ in range(r.choice([0, 1, 1, 2])):
                ppl.append(mk(r.choice("男女"), max(0, ha - r.randint(22, 34)), surname))
        elif t == "single":
            ppl.append(mk(r.choice("男男女"), r.randint(18, 58), surname))
        else:
            for _ in range(r.randint(2, 5)):
                ppl.append(mk(r.choice("男男男女"), r.randint(18, 50), _wchoice(r, SURN_MIGR)))
        return t, ppl

    def place_migrants(self) -> None:
        """Migrants, up to each community type's share, and spouses who married in without registering."""
        r = self.rng
        for c in self.comms:
            homes = self.home_dw[c.code]
            residents = sum(len(g) for d in c.dws for g in d.occ)
            share = MIGR_SHARE[c.ctype]
            target = int(residents * share / (1 - share))
            n = 0
            dorms = [d for d in c.dws if d.kind == "dorm"]
            while n < target:
                t, ppl = self.migrant_group()
                x = r.random()
                d = None
                if c.village:
                    if dorms and t in ("workers", "single") and x < (0.75 if c.ctype == "ind" else 0.4):
                        d = r.choice(dorms)
                    elif x < 0.85 and homes:
                        d = r.choice(homes).dw  # renting rooms in a villager's house
                    else:
                        d = self.free_dw(c) or (r.choice(homes).dw if homes else None)
                else:
                    if x < 0.07 and t != "workers":
                        d = self.free_dw(c, kinds=("garage",))
                    elif x < 0.16:
                        d = self.free_dw(c, kinds=("shop",))
                    elif x < 0.21 and homes:
                        d = r.choice(homes).dw  # renting a room with a family
                    if d is None:
                        d = self.free_dw(c, kinds=("flat", "lane", "road", "nlane"))
                    if d is None:
                        d = self.free_dw(c, allow_occupied=True)
                if d is None:
                    d = r.choice([other for other in c.dws if other.kind != "office"])
                g: list[Person] = []
                d.occ.append(g)
                for p in ppl:
                    self.live(p, c, d, g)
                n += len(ppl)
            # in-laws / spouses married in without moving their registration
            for hh in r.sample(homes, int(len(homes) * 0.03)):
                _, ppl = self.migrant_group()
                self.live(ppl[0], c, hh.dw, hh.group)

    # --- the register ---

    def write_register(self, out: Path) -> list[RegisterTruth]:
        """Write the police extract; return its truth."""
        r = self.rng
        (out / "register").mkdir(parents=True, exist_ok=True)
        stations = []
        for _, _, st, _ in STREETS:
            if st not in stations:
                stations.append(st)
        code_stations = set(r.sample(stations, 3))
        dash_stations = set(r.sample(stations, 5))
        alias = {
            "id": r.choice(["公民身份号码", "身份证号码", "身份证号", "证件号码"]),
            "addr": r.choice(["户籍地址", "住址", "户籍住址"]),
            "station": r.choice(["所属派出所", "派出所"]),
            "street": r.choice(["街道", "乡镇街道"]),
            "comm": r.choice(["社区", "居委会", "村居委会"]),
            "code": r.choice(["社区代码", "居委会代码"]),
            "rel": r.choice(["与户主关系", "与户主关系", "与户主关系代码"]),
        }
        order_a = ["station", "street", "comm", "code", "hh", "name", "former", "id", "sex", "eth", "birth", "rel",
                   "addr", "status", "movein", "hhkind", "edu", "marital"]  # fmt: skip
        order_b = ["id", "name", "former", "sex", "eth", "birth", "hh", "rel", "addr", "station", "street", "comm",
                   "code", "status", "movein", "hhkind", "edu", "marital"]  # fmt: skip
        order = order_a if r.random() < 0.5 else order_b
        hdr = alias | {"hh": "户号", "name": "姓名", "former": "曾用名", "sex": "性别", "eth": "民族",
                       "birth": "出生日期", "status": "人员状态", "movein": "迁入日期", "hhkind": "户别",
                       "edu": "文化程度", "marital": "婚姻状况"}  # fmt: skip
        enc = "gb18030" if r.random() < 0.7 else "utf-8-sig"
        fname = f"余姚市户籍人口数据_{REF:%Y%m%d}.csv"
        st_serial: Counter[str] = Counter()
        rows: list[list[str]] = []
        truth: list[RegisterTruth] = []
        st_index = {st: i for i, st in enumerate(stations)}
        for c in sorted(self.comms, key=lambda c: (st_index[c.station], c.code)):
            hhs = c.hhs[:]
            for hh in hhs:
                st_serial[c.station] += r.randint(1, 3)
                hh.hno = f"{st_index[c.station] + 10:02d}{st_serial[c.station]:07d}"
            hhs.sort(key=lambda h: h.hno)
            coded = c.station in code_stations
            dash = c.station in dash_stations
            for hh in hhs:
                addr = official(c, hh.dw)
                for p, rel in hh.mem:
                    status = ACTIVE
                    if p.inactive is not None:
                        status = p.inactive
                    if p.old_reg and p.old_reg[0] is hh:
                        status = p.old_reg[1]
                    if rel in CHILD_RELATIONS and r.random() < 0.8:
                        mi: dt.date | None = p.birth
                    elif r.random() < 0.12:
                        mi = None
                    else:
                        lo = max(p.birth + dt.timedelta(days=365 * 16), dt.date(1978, 1, 1))
                        span = (dt.date(2024, 3, 1) - lo).days
                        mi = lo + dt.timedelta(days=r.randrange(span)) if span > 0 else p.birth
                    age = p.age
                    if age < 7:
                        edu = ""
                    elif age < 13:
                        edu = "小学"
                    elif age < 16:
                        edu = "初中"
                    elif age < 19:
                        edu = r.choice(["高中", "中专", "初中"])
                    else:
                        edu = r.choice(["小学", "初中", "初中", "高中", "中专", "大学专科", "大学本科", "研究生"]
                                       if age < 60 else ["文盲或半文盲", "小学", "小学", "初中", "高中"])  # fmt: skip
                    if age < 22:
                        mar = "未婚"
                    elif rel in ("户主", "配偶", "儿媳", "女婿", "父亲", "母亲") or r.random() < 0.6:
                        mar = "已婚"
                    else:
                        mar = r.choice(["未婚", "离婚", "丧偶"])
                    v = {
                        "station": c.station,
                        "street": c.street,
                        "comm": c.name,
                        "code": c.code,
                        "hh": hh.hno,
                        "name": p.name,
                        "former": p.former,
                        "id": p.id_reg,
                        "sex": ("1" if p.sex == "男" else "2") if coded else p.sex,
                        "eth": ETH_CODE.get(p.eth, "01") if coded else p.eth,
                        "birth": _register_date(p.birth, dash),
                        "rel": REL_CODE[rel] if coded else rel,
                        "addr": addr,
                        "status": status,
                        "movein": _register_date(mi, dash) if mi else "",
                        "hhkind": hh.kind,
                        "edu": edu,
                        "marital": mar,
                    }
                    rows.append([v[k] for k in order])
                    rowno = len(rows) + 1
                    if status == ACTIVE:
                        p.reg_row = rowno
                        f = p.fate
                        st = {"home": "consistent", "mw": "moved_within", "city": "absent", "gone": "absent"}[f]
                        oc = p.live_comm.code if f == "city" and p.live_comm else None
                        if f == "home" and p.live_dw is not p.reg_dw:
                            st = "moved_within"
                        if f == "mw" and p.live_dw is p.reg_dw:
                            st = "consistent"
                    else:
                        st, oc = "inactive", None
                    truth.append((fname, rowno, p.pid, st, oc, c.code))
        with (out / "register" / fname).open("w", encoding=enc, newline="") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            w.writerow([hdr[k] for k in order])
            w.writerows(rows)
        self.reg_meta = {"file": fname, "encoding": enc, "alias": alias, "coded": sorted(code_stations),
                         "rows": len(rows)}  # fmt: skip
        return truth

    # --- roll records ---

    def make_worker(self) -> Worker:
        """A grid worker with habits of their own."""
        r = self.rng
        return Worker(
            habits={k: r.choices(o, w)[0] for k, (o, w) in HABITS.items()},
            stick=r.uniform(0.7, 0.92),
            fullwidth=r.random() < 0.05,
            spaces=r.random() < 0.10,
            pad=r.random() < 0.12,
            id_blank=r.choice([0.04, 0.08, 0.15, 0.25, 0.4, 0.6]),
            birth_blank=r.choice([0.1, 0.3, 0.5, 0.8]),
            sex_blank=r.choice([0.0, 0.02, 0.1, 0.4]),
            tongshang=r.random() < 0.035,
            visit_order=r.random() < 0.2,
            name=_wchoice(r, SURN_LOCAL) + r.choice(MID_F + YNG_F),
        )

    def render(self, c: Community, d: Dwelling, w: Worker, p: Person, full: bool = False) -> tuple[str, set[str]]:
        """The address of `d` as `w` writes it, and the parts (COMP) it states; `full` states them all."""
        r = self.rng
        tags = self.tags
        k = d.kind
        stated = set(COMP[k])
        note = ""
        if k in ("flat", "garage"):
            e = d.estate
            pre = w.pick("prefix", r)
            if full and pre == "bare":
                pre = "estate"
            if k == "garage" and pre == "bare":
                pre = "estate"
            tags["addr.prefix." + pre] += 1
            parts = []
            if pre == "full":
                parts.append(PROV + CITY + c.street + c.name)
            elif pre == "city":
                parts.append(r.choice([CITY, CITY, "余姚"]) + c.street + (c.name if r.random() < 0.7 else ""))
            elif pre == "street":
                parts.append((c.street if r.random() < 0.8 else c.street[:-2]) + (c.name if r.random() < 0.6 else ""))
            elif pre == "comm":
                parts.append(c.name)
            if pre != "bare":
                ef = w.pick("eform", r)
                if ef == "short" and not e.short:
                    ef = "nosuffix"
                if ef == "old" and not e.old:
                    ef = "full"
                if ef == "homo" and not e.homo:
                    ef = "full"
                if ef == "nosuffix" and e.sfx in ("公寓", "府", "苑"):
                    ef = "full"
                tags["addr.estate." + ef] += 1
                forms = {"full": e.full, "nosuffix": e.core + e.dist, "swap": e.swap, "short": e.short, "homo": e.homo,
                         "old": e.old}  # fmt: skip
                parts.append(forms[ef] or "")
            else:
                stated.discard("est")
            if k == "garage":
                gf = r.choice(["{b}幢车库{n}号", "{b}幢{n}号车库", "车库{b}-{n}", "{b}幢地下车库{n}号", "{b}栋车库{n}"])
                parts.append(gf.format(b=d.b, n=d.num))
                tags["addr.garage"] += 1
                txt = "".join(parts)
            else:
                bf = w.pick("bform", r)
                uf = w.pick("uform", r) if d.u else "none"
                if full and uf == "drop":
                    uf = "单元"
                rf = w.pick("rform", r)
                if uf == "drop":
                    stated.discard("u")
                tags["addr.b." + bf] += 1
                tags["addr.u." + uf] += 1
                if bf == "dash" or uf == "dash":
                    tags["addr.dash"] += 1
                    seg = [str(d.b)] + ([str(d.u)] if d.u and uf != "drop" else []) + [str(d.room)]
                    tail = r.choice(["", "", "", "室", "号"])
                    parts.append("-".join(seg) + tail)
                else:
                    if bf == "cn":
                        parts.append(_cn_num(d.b) + r.choice(["幢", "幢", "栋"]))
                    elif bf == "#":
                        parts.append(f"{d.b}#")
                    else:
                        parts.append(f"{d.b}{bf}")
                    if uf == "单元":
                        parts.append(f"{d.u}单元")
                    elif uf == "cn":
                        parts.append(_cn_num(d.u) + "单元")
                    tags["addr.r." + rf] += 1
                    if rf == "floor":
                        parts.append(f"{d.floor}楼{d.room}" + r.choice(["室", ""]))
                    elif rf == "cnroom":
                        parts.append(_cn_digits(d.room, r.choice("〇零")) + "室")
                    else:
                        parts.append(f"{d.room}{rf}")
                txt = "".join(parts)
                if r.random() < 0.02:
                    note = r.choice(["（出租）", "(租房)", "东边套", "（三楼）" if d.floor == 3 else "（顶楼）",
                                     f"（房东{self.name_for('男', 1965, _wchoice(r, SURN_LOCAL))}）"])  # fmt: skip
        elif k in ("lane", "road", "nlane", "shop", "office"):
            lf = w.pick("lane", r)
            tags["addr.lane." + lf] += 1
            pre = c.name if lf == "pref" else ""
            if lf == "pref" and r.random() < 0.3:
                pre = c.street + c.name
            if k == "lane":
                road = d.road if lf != "nopref_road" or full else ""
                if lf == "nopref_road" and not full:
                    stated.discard("road")
                lane = _cn_num(d.lane) if lf == "cn" else str(d.lane)
                if lf == "dash":
                    txt = f"{pre}{road}{d.lane}-{d.num}" + r.choice(["号", ""])
                else:
                    txt = f"{pre}{road}{lane}弄{d.num}" + ("" if lf == "nohao" else "号")
            elif k == "nlane":
                txt = f"{pre}{d.lname}{d.num}" + ("" if lf == "nohao" else "号")
            else:
                txt = f"{pre}{d.road}{d.num}" + ("" if lf == "nohao" else "号")
                if k == "shop":
                    note = r.choice(["（店面）", "店面", "(店铺)", " " + r.choice(SHOPS), "二楼", "（店内）", ""])
                    tags["addr.shop"] += 1
        elif k == "rural":
            rf = w.pick("rural", r)
            if full and rf in ("nov", "nozu"):
                rf = "std"
            tags["addr.rural." + rf] += 1
            v = c.name
            if rf == "std":
                txt = f"{v}{d.zu}组{d.num}号"
            elif rf == "nov":
                txt = f"{d.zu}组{d.num}号"
            elif rf == "cnzu":
                txt = f"{v}{_cn_num(d.zu)}组{d.num}号"
            elif rf == "dui":
                txt = f"{v}{r.choice([str(d.zu), _cn_num(d.zu)])}队{d.num}号"
            elif rf == "xiaozu":
                txt = f"{v}第{d.zu}村民小组{d.num}号"
            elif rf == "nocun":
                txt = f"{v[:-1]}{d.zu}组{d.num}号"
            elif rf == "nozu":
                txt = f"{v}{d.num}号"
                stated.discard("zu")
            elif rf == "town":
                txt = f"{r.choice([c.street, c.street[:-1]])}{v}{d.zu}组{d.num}号"
            elif rf == "city":
                txt = f"余姚市{c.street}{v}{d.zu}组{d.num}号"
            else:
                txt = f"{v}{d.zu}-{d.num}"
            if p.migrant and r.random() < 0.12:
                owner = d.reg.mem[0][0].name if d.reg else ""
                note = r.choice([f"（租{owner}家）", "（出租房）", "(租住)", f" 房东{owner}"])
        elif k == "natural":
            nf = w.pick("nat", r)
            if full and nf == "nov":
                nf = "std"
            tags["addr.nat." + nf] += 1
            if nf == "std":
                txt = f"{c.name}{d.nat}{d.num}号"
            elif nf == "nov":
                txt = f"{d.nat}{d.num}号"
            elif nf == "town":
                txt = f"{c.street}{c.name}{d.nat}{d.num}号"
            else:
                txt = f"余姚市{c.street}{c.name}{d.nat}{d.num}号"
        elif k == "dorm":
            short = d.co.replace("余姚市", "").replace("有限公司", "")
            f = r.choice(["{s}宿舍{room}", "{s}厂宿舍{room}室", "{co}集体宿舍{fl}楼{room}", "{v}{s}厂宿舍{room}",
                          "{s}员工宿舍{fl}楼{room}室", "{co}宿舍"])  # fmt: skip
            if f == "{co}宿舍":
                stated.discard("room")
            txt = f.format(s=short, co=d.co, room=d.room, fl=d.floor, v=c.name)
            tags["addr.dorm"] += 1
        else:
            raise ValueError(k)
        # surface noise
        if (w.fullwidth and r.random() < 0.6) or r.random() < 0.006:
            txt = txt.translate(FW)
            tags["addr.fullwidth"] += 1
        if (w.spaces and r.random() < 0.4) or r.random() < 0.01:
            pos = [i for i in range(1, len(txt)) if txt[i].isdigit() != txt[i - 1].isdigit()]
            if pos:
                i = r.choice(pos)
                txt = txt[:i] + r.choice([" ", " ", "  ", "\u3000"]) + txt[i:]
                tags["addr.space"] += 1
        if r.random() < 0.01:
            txt = r.choice([" ", ""]) + txt + " "
        if note:
            tags["addr.note"] += 1
            txt += note
        return txt, stated

    def roll_name(self, p: Person, w: Worker) -> str:
        """The name as `w` writes it."""
        r = self.rng
        tags = self.ntags
        n = p.name
        x = r.random()
        if "·" in n:
            if r.random() < 0.6:
                v = r.choice(DOT_VARIANTS)
                tags["name.dot_variant"] += 1
                n = n.replace("·", v)
            return n
        if p.former and r.random() < 0.25:
            tags["name.former"] += 1
            return p.former
        if x < 0.022:
            idx = [i for i, ch in enumerate(n) if ch in HOMO and i > 0]
            if idx:
                i = r.choice(idx)
                n = n[:i] + r.choice(HOMO[n[i]]) + n[i + 1 :]
                tags["name.homophone"] += 1
        elif x < 0.030:
            idx = [i for i, ch in enumerate(n) if ch in LOOK]
            if idx:
                i = r.choice(idx)
                n = n[:i] + LOOK[n[i]] + n[i + 1 :]
                tags["name.lookalike"] += 1
        elif x < 0.037:
            n2 = "".join(TRAD.get(ch, ch) for ch in n)
            if n2 != n:
                n = n2
                tags["name.traditional"] += 1
        elif x < 0.045:
            if len(n) >= 3:
                i = r.choice(range(1, len(n)))
                n = n[:i] + n[i + 1 :]
                tags["name.dropped"] += 1
        elif x < 0.050:
            for ch in RARE:
                if ch in n:
                    n = n.replace(ch, r.choice(["yan", "*", "金", "王"]))
                    tags["name.rare_replaced"] += 1
        if len(n) == 2 and w.pad and r.random() < 0.8:
            n = n[0] + r.choice([" ", "  ", "\u3000"]) + n[1]
            tags["name.pad_space"] += 1
        elif r.random() < 0.012:
            n = r.choice([n + " ", " " + n, n[0] + " " + n[1:]])
            tags["name.stray_space"] += 1
        return n

    def roll_id(self, p: Person, w: Worker) -> str:
        """The ID number as `w` writes it, or blank."""
        r = self.rng
        tags = self.ntags
        if r.random() < w.id_blank + (0.15 if p.age < 16 else 0):
            tags["id.blank"] += 1
            return ""
        s = p.id
        if len(p.id_reg) == 15 and r.random() < 0.3:
            tags["id.legacy15_as_registered"] += 1
            return p.id_reg
        old = 0.05 if p.age > 65 else 0
        x = r.random()
        if x < 0.02:
            i = r.randrange(17)
            s = s[:i] + r.choice([ch for ch in "0123456789" if ch != s[i]]) + s[i + 1 :]
            tags["id.one_digit_wrong"] += 1
        elif x < 0.031:
            i = r.randrange(16)
            if s[i] != s[i + 1]:
                s = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
                tags["id.swapped"] += 1
        elif x < 0.041 + old:
            if p.birth.year < 2000:
                s = s[:6] + s[8:17]
                tags["id.legacy15"] += 1
        elif x < 0.057 + old:
            s = s[: -r.randint(1, 3)]
            tags["id.truncated"] += 1
        elif x < 0.069 + old:
            s = s.translate(FW)
            tags["id.fullwidth"] += 1
        elif x < 0.084 + old:
            s = r.choice([s[:6] + " " + s[6:14] + " " + s[14:], s[:9] + " " + s[9:], s + " ", " " + s])
            tags["id.spaces"] += 1
        if s.endswith("X") and r.random() < 0.35:
            s = s[:-1] + "x"
            tags["id.lowercase_x"] += 1
        return s

    def roll_birth(self, p: Person, w: Worker) -> str | dt.date:
        """The birth date as `w` writes it (a date: an Excel date cell), or blank."""
        r = self.rng
        tags = self.ntags
        if r.random() < w.birth_blank:
            tags["birth.blank"] += 1
            return ""
        b = p.birth
        if r.random() < 0.006:
            b = b.replace(day=min(28, max(1, b.day + r.choice([-1, 1, 10]))))
            tags["birth.wrong"] += 1
        f = w.pick("birth", r)
        tags["birth." + f] += 1
        if f == "excel":
            return b
        if f == "cnfmt":
            return f"{b.year}年{b.month}月{b.day}日"
        if f == "nopad":
            return f"{b.year}.{b.month}.{b.day}" if r.random() < 0.5 else f"{b.year}/{b.month}/{b.day}"
        return b.strftime(BIRTH_STRFTIME[f])

    def record(self, c: Community, d: Dwelling, p: Person, w: Worker, grid: str, tongshang_ok: bool) -> Record:
        """The roll record `w` writes for `p` living at `d`."""
        r = self.rng
        if p.reg_comm is c:
            status = "consistent" if d is p.reg_dw else "moved_within"
            other = None
        else:
            status = "unregistered"
            other = p.reg_comm.code if p.reg_comm is not None else None
        # address
        if w.tongshang and tongshang_ok and r.random() < 0.8:
            addr = r.choice(["同上", "同上", "〃", ""])
            self.tags["addr.ditto_or_blank"] += 1
        else:
            addr, stated = self.render(c, d, w, p)
            if status == "moved_within" and _compatible(p.reg_dw, d, stated):
                addr, stated = self.render(c, d, w, p, full=True)
                if _compatible(p.reg_dw, d, stated) and d.kind in REGISTRABLE:
                    addr = official(c, d)
                self.tags["addr.rerendered_for_moved_within"] += 1
            if p.migrant and r.random() < 0.003:
                addr = p.place + r.choice(["", "城关镇", "某村"])
                self.tags["addr.hometown_by_mistake"] += 1
        self.tags["addr.total"] += 1
        sex = p.sex if r.random() >= w.sex_blank else ""
        if p.migrant:
            house = "单位宿舍" if d.kind == "dorm" else r.choice(["租赁"] * 8 + ["借住", "其他", ""])
            if d.reg and d.reg.fate == "home" and d.kind != "dorm" and r.random() < 0.3:
                house = r.choice(["借住", "租赁"])
        elif status == "consistent":
            house = r.choice(["自有"] * 12 + ["自住", "自有房", ""])
        else:
            house = r.choice(["自有", "自有", "租赁", "借住", "借住", "其他", ""])
        note = ""
        if r.random() < 0.14:
            opts = ["新增", "已核实", "电话空号", "外出务工（偶尔回）"]
            if p.age > 70:
                opts += ["独居老人", "空巢老人", "高龄"] * 2
            if p.age < 18:
                opts += ["学生", "在读"]
            if status == "unregistered" and other:
                oc = self.bycode[other]
                opts += [f"户籍在{oc.name}", "人户分离", f"户口{oc.street}"] * 2
            if status == "moved_within":
                opts += ["人户分离", "户口在本社区"] * 2
            if p.migrant:
                opts += ["租客", "流动人口", "暂住证已办", "居住证"] * 2
            note = r.choice(opts)
        regdate = dt.date(2024, 3, 1) + dt.timedelta(days=r.randrange(0, 70))
        rd = regdate if r.random() < 0.5 else regdate.strftime(r.choice(["%Y-%m-%d", "%Y.%m.%d", "%Y/%m/%d"]))
        hukou = p.place if p.migrant else r.choice(["本地", "余姚", "本社区" if status != "unregistered" else "余姚市"])
        cells: dict[str, CellValue] = {
            "grid": grid,
            "name": self.roll_name(p, w),
            "sex": sex,
            "id": self.roll_id(p, w),
            "birth": self.roll_birth(p, w),
            "eth": p.eth if r.random() < 0.9 else "汉",
            "phone": p.phone if r.random() < 0.9 else "",
            "addr": addr,
            "house": house,
            "regdate": rd,
            "note": note,
            "hukou": hukou,
            "work": r.choice(["", "个体", "退休", "务工", "学生", "无", *c.cos]),
            "edu": r.choice(["", "初中", "高中", "小学", "大专", "本科"]),
            "rel": p.rel if status == "consistent" else r.choice(["租户", "亲属", "", "户主", "其他"]),
        }
        return Record(p, d, status, other, cells)

    # --- rolls ---

    def build_rolls(self, out: Path) -> list[RollTruth]:
        """Write one roll per community; return their truth."""
        r = self.rng
        (out / "rolls").mkdir(parents=True, exist_ok=True)
        truth = []
        nfiles = len(self.comms)
        csv_idx = set(r.sample(range(nfiles), max(1, round(nfiles * 0.09))))
        wrongname_idx = r.choice([i for i in range(nfiles) if i not in csv_idx])
        bcol_idx = r.choice([i for i in range(nfiles) if i not in csv_idx and i != wrongname_idx])
        idnum_idx = set(r.sample([i for i in range(nfiles) if i not in csv_idx], min(2, nfiles - len(csv_idx))))
        merge_idx = r.choice([i for i in range(nfiles) if i not in csv_idx])
        for ci, c in enumerate(self.comms):
            truth.extend(
                self.write_roll(
                    out,
                    c,
                    as_csv=ci in csv_idx,
                    wrongname=ci == wrongname_idx,
                    bcol=ci == bcol_idx,
                    idnum=ci in idnum_idx,
                    merge=ci == merge_idx,
                )
            )
        return truth

    def write_roll(
        self, out: Path, c: Community, *, as_csv: bool, wrongname: bool, bcol: bool, idnum: bool, merge: bool
    ) -> list[RollTruth]:
        """Write the roll of `c`; return its truth.

        Args:
            out: the city's directory.
            c: the community.
            as_csv: a CSV file rather than a workbook.
            wrongname: the file name mistypes the community code (and the roll has a 社区代码 column).
            bcol: the table starts in column B.
            idnum: one sheet has ID numbers typed as numbers.
            merge: one sheet merges the address cells of a household.
        """
        r = self.rng
        # residents at dwellings, split into grids along the walk
        occ = [d for d in c.dws if any(d.occ)]
        occ.sort(key=lambda d: d.sortkey)
        nres = sum(len(g) for d in occ for g in d.occ)
        if nres == 0:
            return []
        ng = max(1, min(10, round(nres / (520 if c.village else 700))))
        if nres < 40:
            ng = 1
        per = nres / ng
        grids: list[list[Dwelling]] = [[] for _ in range(ng)]
        cum = 0
        gi = 0
        lastkey = None
        for d in occ:
            bkey = (d.kind, d.est.idx if d.est else None, d.b, d.zu, d.nat, d.road, d.lname, d.co)
            if cum >= per * (gi + 1) and gi < ng - 1 and bkey != lastkey:
                gi += 1
            grids[gi].append(d)
            cum += sum(len(g) for g in d.occ)
            lastkey = bkey
        grids = [g for g in grids if g]
        ng = len(grids)
        gstyle = r.choice(["第{cn}网格", "网格{n}", "{n}网格", "第{n}网格", "{cn}网格", "{comm}{n}网格", "网格{nn}"])

        def gname(i: int) -> str:
            comm = c.name[:-2] if not c.village else c.name
            return gstyle.format(cn=_cn_num(i + 1), n=i + 1, nn=f"{i + 1:02d}", comm=comm)

        cstyle = r.choice(["same", "num", "numgrid"])

        def gcol(i: int) -> str:
            return gname(i) if cstyle == "same" else (str(i + 1) if cstyle == "num" else f"{i + 1}网格")

        workers = [self.make_worker() for _ in range(ng)]
        # the records of each grid, in the worker's visiting order
        blocks = []
        for gi, dl in enumerate(grids):
            w = workers[gi]
            order = dl[:]
            if w.visit_order:
                # visiting order: buildings in order, flats inside shuffled
                r.shuffle(order)
                order.sort(key=lambda d: d.sortkey[:3])
            recs = []
            for d in order:
                first = True
                for g in d.occ:
                    for p in _residents_first(g, d):
                        recs.append(self.record(c, d, p, w, gcol(gi), tongshang_ok=not first))
                        first = False
            blocks.append(recs)
        # duplicates: registered residents mostly (~1.6%), migrants rarely
        dups = [
            (gi, i)
            for gi, b in enumerate(blocks)
            for i in range(len(b))
            if r.random() < (0.016 if not blocks[gi][i].p.migrant else 0.004)
        ]
        inserts = defaultdict(list)
        appends = defaultdict(list)
        for gi, i in dups:
            rec = blocks[gi][i]
            mode = r.choices(["adjacent", "append", "other"], [25, 45, 30])[0]
            tgt = gi
            if mode == "other" and ng > 1:
                tgt = r.choice([g for g in range(ng) if g != gi])
            nr = self.record(c, rec.d, rec.p, workers[tgt], gcol(tgt), tongshang_ok=False)
            nr.duplicate = True
            self.ntags["dup." + mode] += 1
            if mode == "adjacent":
                inserts[(gi, i)].append(nr)
            else:
                appends[tgt].append(nr)
        for gi in range(ng):
            nb = []
            for i, rec in enumerate(blocks[gi]):
                nb.append(rec)
                nb.extend(inserts.get((gi, i), []))
            nb.extend(appends.get(gi, []))
            blocks[gi] = nb
        # layout: the columns, their names and order, the sheets
        id_alias = r.choice(["身份证号", "身份证号", "公民身份号码", "证件号码"])
        phone_alias = r.choice(["联系电话", "联系电话", "手机号码"])
        addr_alias = r.choice(["现住地址", "现住地址", "居住地址", "实际居住地址"])
        multi = (not as_csv) and ng > 1 and r.random() < 0.72
        cols = ["seq", "grid", "name", "sex", "id", "birth", "eth", "phone", "addr", "house", "regdate", "note",
                "hukou", "work", "edu", "rel", "comm", "commcode"]  # fmt: skip
        keep = {"seq": r.random() < 0.95, "grid": (r.random() < 0.55) if multi else (r.random() < 0.92),
                "name": True, "sex": r.random() < 0.85, "id": True, "birth": r.random() < 0.82,
                "eth": r.random() < 0.35, "phone": r.random() < 0.93, "addr": True, "house": r.random() < 0.85,
                "regdate": r.random() < 0.55, "note": r.random() < 0.88, "hukou": r.random() < 0.3,
                "work": r.random() < 0.2, "edu": r.random() < 0.12, "rel": r.random() < 0.2,
                "comm": r.random() < 0.12, "commcode": r.random() < 0.12 or wrongname}  # fmt: skip
        cols = [k for k in cols if keep[k]]
        style = r.choice(["A", "A", "B", "C", "D"])
        if style == "B":
            pri = {"seq": 0, "name": 1, "id": 2, "sex": 3, "birth": 4, "addr": 5, "phone": 6, "house": 7, "grid": 8}
            cols.sort(key=lambda k: pri.get(k, 20))
        elif style == "C":
            pri = {"seq": 0, "grid": 1, "addr": 2, "house": 3, "name": 4, "rel": 5, "sex": 6, "id": 7}
            cols.sort(key=lambda k: pri.get(k, 20))
        elif style == "D":
            rest = [k for k in cols if k != "seq"]
            r.shuffle(rest)
            cols = (["seq"] if "seq" in cols else []) + rest
        hdr = {"seq": "序号", "grid": "网格", "name": "姓名", "sex": "性别", "id": id_alias, "birth": "出生日期",
               "eth": "民族", "phone": phone_alias, "addr": addr_alias, "house": "房屋性质", "regdate": "登记日期",
               "note": "备注", "hukou": "户籍地", "work": "工作单位", "edu": "文化程度", "rel": "与户主关系",
               "comm": "社区", "commcode": "社区代码"}  # fmt: skip
        group = {"seq": None, "grid": "居住信息", "addr": "居住信息", "house": "居住信息", "name": "基本信息",
                 "sex": "基本信息", "id": "基本信息", "birth": "基本信息", "eth": "基本信息", "phone": "基本信息",
                 "hukou": "基本信息", "edu": "基本信息", "rel": "基本信息", "work": "其他", "regdate": "其他",
                 "note": "其他", "comm": "居住信息", "commcode": "居住信息"}  # fmt: skip
        fname_code = c.code
        if wrongname:
            fname_code = c.code[:9] + c.code[10] + c.code[9] + c.code[11]
            if fname_code == c.code:
                fname_code = c.code[:9] + "9" + c.code[10:]
        fname = f"{fname_code}_{c.name}{'.csv' if as_csv else '.xlsx'}"
        path = out / "rolls" / fname
        sheets = []
        if multi:
            for gi in range(ng):
                nm = gname(gi)
                if r.random() < 0.2:
                    nm = f"{nm}（{workers[gi].name}）"
                sheets.append(Sheet(nm[:31], "data", blocks[gi], workers[gi].name))
        else:
            allr = [x for b in blocks for x in b]
            name = r.choice(["Sheet1", "Sheet1", "实有人口", c.name, "登记表", "汇总表"])
            sheets.append(Sheet(name, "data", allr, workers[0].name))
        if not as_csv:
            if r.random() < 0.25:
                sheets.insert(0, Sheet(r.choice(["填表说明", "封面", "说明"]), "cover"))
            if multi and r.random() < 0.3:
                pos = r.choice([0, len(sheets)])
                sheets.insert(pos, Sheet(r.choice(["汇总", "统计", "汇总表"]), "summary"))
            if r.random() < 0.15:
                sheets.append(Sheet("Sheet2", "empty"))
                if r.random() < 0.5:
                    sheets.append(Sheet("Sheet3", "empty"))
        data_sheets = [s for s in sheets if s.kind == "data"]
        # rows above the header: 0 none, 1 a title, 2 a title and a 填报单位 line, 3 a title and column groups
        prestyle = r.choices([0, 1, 2, 3], [35, 35, 18, 12])[0]
        if as_csv:  # a CSV file has at most a title (both are drawn)
            prestyle = r.choices([0, 1], [75, 25])[0]
        hdr_row = 1 + HEADER_ROW[prestyle]  # 1-based
        title = r.choice([f"{c.name}实有人口登记表", f"{c.street}{c.name}实有人口信息登记表",
                          f"余姚市实有人口登记表（{c.name}）", f"{c.name}实有人口信息采集表"])  # fmt: skip
        seq_cont = r.random() < 0.3
        seqn = 0
        phone_num = r.random() < 0.25
        date_fmt_cell = r.choice(["yyyy-mm-dd", "yyyy/m/d", "yyyy年m月d日"])
        idnum_sheet = r.choice(data_sheets).name if idnum else None
        for s in data_sheets:
            if not seq_cont:
                seqn = 0
            for rec in s.recs:
                seqn += 1
                if r.random() < 0.01:
                    seqn += 1  # deleted rows leave gaps
                vals: dict[str, CellValue] = {}
                for k in cols:
                    if k == "seq":
                        vals[k] = seqn
                    elif k == "comm":
                        vals[k] = c.name
                    elif k == "commcode":
                        vals[k] = int(c.code) if (not as_csv and r.random() < 0.5) else c.code
                    else:
                        vals[k] = rec.cells[k]
                s.rows.append((vals, rec))
        # truth, in file order
        truth: list[RollTruth] = []
        seen = set()
        for s in data_sheets:
            for j, (_, rec) in enumerate(s.rows):
                p = rec.p
                if p.pid in seen:
                    st, oc = "duplicate", None
                else:
                    seen.add(p.pid)
                    st, oc = rec.status, rec.other
                truth.append((fname, None if as_csv else s.name, hdr_row + 1 + j, p.pid, c.code, p.reg_row, st, oc))
                self.roll_meta["status." + st] += 1
        if as_csv:
            enc = r.choice(["utf-8-sig", "gb18030"])
            with path.open("w", encoding=enc, newline="") as fh:
                writer = csv.writer(fh, lineterminator="\r\n")
                if prestyle == 1:
                    writer.writerow([title] + [""] * (len(cols) - 1))
                writer.writerow([hdr[k] for k in cols])
                for vals, _ in sheets[0].rows:
                    writer.writerow([v.strftime("%Y-%m-%d") if isinstance(v, dt.date) else v for v in vals.values()])
            self.roll_meta["csv_files"] += 1
            self.roll_meta["csv_" + enc] += 1
            return truth
        wb = xlsxwriter.Workbook(str(path))
        wb.set_properties({"created": dt.datetime(2024, 5, 9, 16, 30, 0), "author": c.name})
        f_title = wb.add_format({"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"})
        f_hdr = wb.add_format({"bold": True, "align": "center", "valign": "vcenter", "border": 1, "text_wrap": True})
        f_date = wb.add_format({"num_format": date_fmt_cell})
        f_id = wb.add_format({"num_format": "0"})
        c0 = 1 if bcol else 0
        for s in sheets:
            ws = wb.add_worksheet(s.name)
            if s.kind == "cover":
                lines = [title, "", "填表说明：", "1、本表由各网格员入户走访采集，以实际居住为准，一人一行；",
                         "2、证件号码请填写18位，末位X请大写；", "3、现住地址请写明小区、幢、单元、室，农村写明组、门牌号；",
                         "4、房屋性质填：自有、租赁、借住、单位宿舍、其他；",
                         f"5、请于{REF.year}年5月10日前报街道（镇）平安办。", "",
                         f"{c.name}居民委员会" if not c.village else f"{c.name}村民委员会", f"{REF.year}年4月"]  # fmt: skip
                for i, ln in enumerate(lines):
                    ws.write_string(i, 0, ln, f_title if i == 0 else None)
                self.roll_meta["sheet.cover"] += 1
            elif s.kind == "summary":
                ws.merge_range(0, 0, 0, 5, f"{c.name}实有人口汇总表", f_title)
                for j, h in enumerate(["网格", "户数", "人数", "其中：户籍人口", "流动人口", "网格员"]):
                    ws.write_string(1, j, h, f_hdr)
                tot = [0, 0, 0, 0]
                for gi in range(ng):
                    n = len(blocks[gi])
                    loc = sum(1 for rec in blocks[gi] if not rec.p.migrant)
                    ws.write_string(2 + gi, 0, gname(gi))
                    for j, v in enumerate([len(grids[gi]), n, loc, n - loc]):
                        ws.write_number(2 + gi, 1 + j, v)
                        tot[j] += v
                    ws.write_string(2 + gi, 5, workers[gi].name)
                ws.write_string(2 + ng, 0, "合计")
                for j, v in enumerate(tot):
                    ws.write_number(2 + ng, 1 + j, v)
                self.roll_meta["sheet.summary"] += 1
            elif s.kind == "empty":
                self.roll_meta["sheet.empty"] += 1
            else:
                self.roll_meta["sheet.data"] += 1
                self.roll_meta[f"sheet.pre{prestyle}"] += 1
                self.write_data_sheet(
                    ws,
                    c,
                    s,
                    cols=cols,
                    hdr=hdr,
                    group=group,
                    formats=(f_title, f_hdr, f_date, f_id),
                    title=title if not multi else f"{title}（{s.name}）",
                    prestyle=prestyle,
                    c0=c0,
                    phone_num=phone_num,
                    idn=idnum_sheet == s.name,
                    merge_runs=merge and (not multi or s is data_sheets[0]),
                )
        wb.close()
        self.roll_meta["xlsx_files"] += 1
        if multi:
            self.roll_meta["multi_sheet_files"] += 1
        return truth

    def write_data_sheet(
        self,
        ws: Worksheet,
        c: Community,
        s: Sheet,
        *,
        cols: list[str],
        hdr: dict[str, str],
        group: dict[str, str | None],
        formats: tuple[Format, Format, Format, Format],
        title: str,
        prestyle: int,
        c0: int,
        phone_num: bool,
        idn: bool,
        merge_runs: bool,
    ) -> None:
        """Write a data sheet of a workbook roll.

        Args:
            ws: the worksheet.
            c: the community.
            s: the sheet and its rows.
            cols: the column keys, in order.
            hdr: the header of each column.
            group: the column group (基本信息...) of each column, for prestyle 3.
            formats: the title, header, date and ID number formats.
            title: the title row's text.
            prestyle: the rows above the header (see write_roll).
            c0: the first column (0 or 1).
            phone_num: phone numbers are typed as numbers.
            idn: ID numbers are typed as numbers (Excel keeps 15 significant digits).
            merge_runs: a household's address cells are merged.
        """
        f_title, f_hdr, f_date, f_id = formats
        ncol = len(cols)
        hr = HEADER_ROW[prestyle]
        if prestyle >= 1:
            ws.merge_range(0, c0, 0, c0 + ncol - 1, title, f_title)
        if prestyle == 2:
            ws.merge_range(
                1,
                c0,
                1,
                c0 + ncol - 1,
                f"填报单位：{c.name}（盖章）      网格员：{s.worker_name}      填报日期：{REF.year}年4月",
                None,
            )
        if prestyle == 3:
            j = 0
            while j < ncol:
                g = group[cols[j]]
                k = j
                while k + 1 < ncol and g is not None and group[cols[k + 1]] == g:
                    k += 1
                if g is None:
                    ws.merge_range(1, c0 + j, 2, c0 + j, hdr[cols[j]], f_hdr)
                elif k > j:
                    ws.merge_range(1, c0 + j, 1, c0 + k, g, f_hdr)
                else:
                    ws.write_string(1, c0 + j, g, f_hdr)
                j = k + 1
        for j, key in enumerate(cols):
            if prestyle == 3 and group[key] is None:
                continue
            ws.write_string(hr, c0 + j, hdr[key], f_hdr)
        runs: list[tuple[tuple[tuple[str, int], CellValue], int, int, CellValue]] = []  # (dwelling, address), rows
        for i, (vals, rec) in enumerate(s.rows):
            row = hr + 1 + i
            for j, key in enumerate(cols):
                v = vals[key]
                col = c0 + j
                if v == "":
                    continue
                if isinstance(v, dt.date):
                    ws.write_datetime(row, col, dt.datetime(v.year, v.month, v.day), f_date)
                elif isinstance(v, int):
                    ws.write_number(row, col, v)
                elif key == "phone" and phone_num and v.isdigit():
                    ws.write_number(row, col, int(v))
                elif key == "id" and idn and v.isdigit() and len(v) in (15, 18):
                    ws.write_number(row, col, float(v[:15] + "0" * (len(v) - 15)), f_id)
                    self.ntags["id.excel_number"] += 1
                else:
                    ws.write_string(row, col, v)
            if merge_runs and "addr" in cols:
                run = (rec.d.id, vals["addr"])
                if runs and runs[-1][0] == run and not rec.duplicate:
                    runs[-1] = (run, runs[-1][1], row, runs[-1][3])
                else:
                    runs.append((run, row, row, vals["addr"]))
        if merge_runs and "addr" in cols:
            j = c0 + cols.index("addr")
            for _, r1, r2, txt in runs:
                if r2 > r1 and txt:
                    ws.merge_range(r1, j, r2, j, txt, None)
                    self.ntags["addr.merged_cells"] += r2 - r1
        ws.freeze_panes(hr + 1, 0)


def write_city(
    out: Path, *, persons: int | None = None, scale: float | None = None, seed: int = DEFAULT_SEED
) -> dict[str, object]:
    """Write a city to `out` (register/, rolls/, truth/) and return its measured shares.

    Args:
        out: the directory to write to.
        persons: about this many register rows, in fewer communities (at least 3) below 150,000.
        scale: the size of the 48 communities; 1 (the default) is about 204,000 register rows.
        seed: the random seed; a seed always writes the same bytes.
    """
    if persons is not None and scale is not None:
        raise ValueError("give persons or scale, not both")
    if persons is not None and persons < 1:
        raise ValueError("a city needs at least one person")
    city = _City(seed)
    city.build(persons, 1.0 if scale is None else scale)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    register = pl.DataFrame(city.write_register(out), schema=REGISTER_TRUTH, orient="row")
    rolls = pl.DataFrame(city.build_rolls(out), schema=ROLL_TRUTH_SHEETS, orient="row")
    register.write_parquet(out / "truth" / "register_truth.parquet")
    rolls.write_parquet(out / "truth" / "roll_truth.parquet")
    n = city.tags["addr.total"]
    return {
        "communities": len(city.comms),
        "register": city.reg_meta,
        "register_status": dict(register["status"].value_counts(sort=True).iter_rows()),
        "roll_rows": len(rolls),
        "roll_status": dict(rolls["status"].value_counts(sort=True).iter_rows()),
        "roll_files": dict(city.roll_meta),
        "addr_share": {k: round(v / n, 4) for k, v in sorted(city.tags.items())},
        "field_share": {k: round(v / len(rolls), 4) for k, v in sorted(city.ntags.items())},
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: write a city to OUT and print its measured shares as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path, help="output directory")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--scale", type=float, help="1 (the default): about 204,000 register rows")
    size.add_argument("--persons", type=int, help="about this many register rows instead")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}")
    args = parser.parse_args(argv)
    if args.persons is not None and args.persons < 1:
        parser.error("a city needs at least one person")
    t0 = time.time()
    stats = write_city(args.out, persons=args.persons, scale=args.scale, seed=args.seed)
    print(json.dumps({"seconds": round(time.time() - t0, 1), **stats}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
