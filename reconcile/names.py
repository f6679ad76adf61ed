"""Personal names: folding, simplified keys, pinyin keys and comparison.

Names in rolls are written by hand: stray spaces, traditional characters
(張偉), homophones (伟/玮), look-alike characters (候/侯), a dropped character and
several spellings of the middle dot in minority names (阿依古丽·买买提).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc
import polars as pl
from pypinyin import Style, lazy_pinyin

_DOTS = re.compile(r"[·•‧・∙⋅．.。･︒ᐧ\u00b7\u2022\u30fb]+")
_SPACES = re.compile(r"\s+")
_T2S = opencc.OpenCC("t2s")

# Surnames whose reading differs from the character's everyday reading.
SURNAME_READINGS: dict[str, str] = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "区": "ou",
    "仇": "qiu",
    "朴": "piao",
    "查": "zha",
    "盖": "ge",
    "乐": "yue",
    "覃": "qin",
    "翟": "zhai",
    "缪": "miao",
    "繁": "po",
    "折": "she",
    "种": "chong",
    "员": "yun",
    "尉": "yu",
    "秘": "bi",
    "隗": "wei",
    "黑": "he",
    "句": "gou",
    "能": "nai",
    "长": "chang",
    "重": "chong",
}
COMPOUND_SURNAMES: frozenset[str] = frozenset(
    {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "夏侯", "令狐", "宇文", "司徒"}
)

# Characters commonly confused by shape; each maps to one representative.
LOOKALIKES: dict[str, str] = {
    "候": "侯",
    "已": "己",
    "巳": "己",
    "末": "未",
    "戍": "戌",
    "戊": "戌",
    "拆": "折",
    "汨": "汩",
    "赢": "嬴",
    "锡": "钖",
    "祗": "祇",
    "冶": "治",
    "茉": "莱",
    "淅": "浙",
    "粟": "栗",
    "徵": "征",
    "阎": "闫",
    "斌": "彬",
    "杆": "秆",
    "晖": "辉",
}


def fold(raw: str | None) -> str | None:
    """NFKC, no spaces, one middle dot; None for an empty name.

    >>> fold(" 阿依古丽 • 买买提 ")
    '阿依古丽·买买提'
    >>> fold("張 偉")
    '張偉'
    """
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw))
    text = _SPACES.sub("", text)
    text = _DOTS.sub("·", text).strip("·")
    return text or None


@lru_cache(maxsize=1 << 18)
def simplified(name: str) -> str:
    """Traditional characters turned simplified (opencc t2s).

    >>> simplified("張偉")
    '张伟'
    """
    return str(_T2S.convert(name))


@lru_cache(maxsize=1 << 16)
def _char_pinyin(char: str) -> str:
    syllables = lazy_pinyin(char, style=Style.NORMAL, errors="default")
    return "".join(syllables).lower()


def surname_of(name: str) -> str:
    """The surname: a known compound surname, else the first character."""
    if "·" in name:
        return name.split("·", 1)[0]
    return name[:2] if name[:2] in COMPOUND_SURNAMES else name[:1]


@lru_cache(maxsize=1 << 18)
def pinyin_key(name: str) -> str:
    """Toneless pinyin, syllables joined by spaces, surname read as a surname.

    >>> pinyin_key("单伟")
    'shan wei'
    >>> pinyin_key("张玮") == pinyin_key("张伟")
    True
    """
    chars = [c for c in name if c != "·"]
    out = []
    for i, char in enumerate(chars):
        if i == 0 and char in SURNAME_READINGS:
            out.append(SURNAME_READINGS[char])
        else:
            out.append(_char_pinyin(char))
    return " ".join(out)


def shape_key(name: str) -> str:
    """The name with look-alike characters folded together (候 → 侯)."""
    return "".join(LOOKALIKES.get(c, c) for c in name)


# The same keys for a whole column, in polars: a batch's names read each distinct character once, not each name
# in Python. Equal to the scalar forms above, which stay the reference (tests/reconcile/test_names.py).


def pinyin_keys(names: pl.Series) -> pl.Series:
    """`pinyin_key` of every name (nulls stay null).

    >>> pinyin_keys(pl.Series(["单伟", "阿依古丽·买买提", None])).to_list()
    ['shan wei', 'a yi gu li mai mai ti', None]
    """
    chars = names.str.replace_all("·", "", literal=True).str.split("")
    readings = {c: _char_pinyin(c) for c in chars.explode().drop_nulls().unique().to_list()}
    first = readings | SURNAME_READINGS  # extra keys are harmless: only the first character is looked up here
    c = pl.col("c")
    keys = pl.concat_list(
        c.list.first().replace_strict(first, return_dtype=pl.String),
        c.list.slice(1).list.eval(pl.element().replace_strict(readings, return_dtype=pl.String)),
    ).list.join(" ")
    return chars.to_frame("c").select(pl.when(c.is_not_null()).then(keys).alias(names.name)).to_series()


def surnames(names: pl.Series) -> pl.Series:
    """`surname_of` every name (nulls stay null).

    >>> surnames(pl.Series(["欧阳娜娜", "张伟", "阿依古丽·买买提", None])).to_list()
    ['欧阳', '张', '阿依古丽', None]
    """
    n = pl.col("n")
    first_two = n.str.slice(0, 2)
    surname = (
        pl.when(n.str.contains("·", literal=True))
        .then(n.str.split("·").list.first())
        .when(first_two.is_in(sorted(COMPOUND_SURNAMES)))
        .then(first_two)
        .otherwise(n.str.slice(0, 1))
    )
    return names.to_frame("n").select(surname.alias(names.name)).to_series()


def shape_keys(names: pl.Series) -> pl.Series:
    """`shape_key` of every name (nulls stay null).

    >>> shape_keys(pl.Series(["候伟", None])).to_list()
    ['侯伟', None]
    """
    return names.str.replace_many(LOOKALIKES)
