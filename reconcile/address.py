"""Addresses parsed into elements, and how alike two compound names are.

Handles prefixes (province, city, street, community, a village without its 村),
Chinese numerals (十二幢, 三单元五〇一), 幢/栋/号楼/座/#, a building's letter (A座), `12-3-301` and
`12幢3-301` shorthand, 室/号/房 or nothing after the room, full-width digits,
stray spaces, a bracketed note at the end (出租) and rural 村 + 组 + 号 addresses; a unit before its building
(2单元8幢), 号 for an estate's building (8号2-302), a room let in parts (302-1) and a flat's attic (302室阁楼).
Compound names are matched to the register's own spelling with `place_matches`;
how two parsed addresses relate is `reconcile.dwelling`'s business.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import polars as pl
from rapidfuzz import fuzz, process

from reconcile.names import pinyin_key

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十百千]+")
_UNIT_MARKERS = "幢|栋|号|座|单元|室|组|层|楼|房|弄|期|#|-"
_CN_NUMBER = re.compile(f"{_CN_NUMERAL.pattern}(?={_UNIT_MARKERS})")
_TAIL_AFTER = r"[\d幢栋座号楼元组#-]"
_CN_TAIL = re.compile(f"(?<={_TAIL_AFTER}){_CN_NUMERAL.pattern}$")
"""A room written in numerals at the very end, after a building or unit (3单元五〇一)."""
_DASHES = re.compile(r"[－—–‐―~～]")
_SPACES = re.compile(r"[\s/、]+")
"""Spaces, and the marks a worker joins an address's columns with (嘉禾花园/8/1602)."""
_VARIANTS = {"嶴": "岙"}
"""Place characters in a variant form NFKC and opencc's t2s leave alone (嶴 for the coast's 岙): the standard one."""
_VARIANT_TABLE = str.maketrans(_VARIANTS)
_APART = r"[\s/、]"
_SEPARATED_NUMBERS = (
    re.compile(rf"(^|[^\d幢栋座元室层楼号组#\-]){_APART}*(\d+){_APART}+(\d+){_APART}+(\d+){_APART}*$"),
    re.compile(rf"(^|[^\d幢栋座元室层楼号组#\-]){_APART}*(\d+){_APART}+(\d+){_APART}*$"),
)
"""An address's columns joined by spaces (嘉禾花园 8 1602, 5 2 502): numbers apart at the end, after the place, are
building, unit and room, read as 8-1602 and 5-2-502; a stray space inside a room after its unit (1单元10 1室) is not."""
_TRAILING_NOTE = re.compile(
    r"(?:\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|出租|租住|借住|自住|暂住|合租|[东西南北中][边间]?套"
    r"|[东西南北][首边侧]|[前后][屋间]|楼[上下])+$"
)
"""A note at the end: in brackets, how the flat is held (…302室出租), which side of the landing (…302东边套), or
which part of a house (…68号东首, 45号前屋, 24号楼下)."""
_VILLAGE_DASH = re.compile(r"^(.*[^新\d零〇一二两三四五六七八九十百千]村)(\d+)-(\d+)号?$")
"""A village's group and house as 3-46 (冶山村3-46 is 冶山村3组46号); not an estate's 新村 or 一村."""
_LANE_DASH = re.compile(r"^(.*[路街巷弄])(\d+)-(\d{1,2})号?$")
"""A lane and house as 22-33 (老街22-33 is 老街22弄33号); three digits after the dash are a room (解放路8-302)."""
_BARE_DOOR = re.compile(r"([^\d\-#A-Za-z幢栋座元室层楼号组期区])(\d+)$")
"""A house number at the end without its 号 (北街59, 黄港村高礁76); not a room, group or building's number."""
_NATURAL_VILLAGE = re.compile(r"自然村")
"""The word for a natural village (南田礁自然村75号): the register writes its name alone (王家坑村南田礁75号)."""
_JOINED_BY_DASH = re.compile(r"([^\x00-\x7f室号房])-(\d)")
"""An address's parts joined by dashes (东海安置小区-9幢-1单元-802室): a dash after a word is no part of a number;
after a room (302室-1) it is the room's part."""
_ROOM_PART_DASH = re.compile(r"(\d+)-(\d{3,4})-\d{1,2}[室号房]?$")
"""A room let in parts in the dash form (82-401-1, 10-2-202-1): the room's part dropped."""
_FLOOR_DOOR = (
    re.compile(r"([幢栋座元楼])(\d{1,2})-(\d)[室号房]?$"),
    re.compile(r"([幢栋座元楼])(\d{1,2})-(\d{2})[室号房]?$"),
)
"""A room as floor and door (17-1 after a building or unit is 1701, 2-12 is 212); 2-302 stays unit and room."""
_ORDINAL = re.compile(r"第(\d)")
"""第 before a number (第8幢, 第3组): the number alone."""
_HASH_BUILDING = re.compile(r"(\d+)#楼?")
_GROUP_WORDS = re.compile(f"([\\d{_CN_NUMERAL.pattern[1:-2]}])(?:村民小组|村民组|生产队|小组|队)")
"""A village group by another word (3村民小组, 三队, 5生产队): written as 组."""
_GROUP_SHE = re.compile(f"([\\d{_CN_NUMERAL.pattern[1:-2]}])社(\\d)")
"""A village group as 社 before its house's number (15社44号); not 社区."""
_FLOOR = re.compile(r"([幢栋座楼元号])(\d+)[楼层](\d+)")
"""A floor before the room that begins with it (8幢3楼302, 2单元12层1201): the room alone."""
_ANNEX = re.compile(r"(\d[室号房]?)(?:阁楼|顶楼阁楼)$")
"""A flat's attic after its room (302室阁楼) is the flat; a garage, 附房 or 储藏室 is a dwelling of its own."""
_UNIT_FIRST = re.compile(r"(\d+)单元(\d+|[A-Za-z])(号楼|幢|栋|座)")
"""The unit written before its building (2单元8幢302): the building first."""
_SUB_ROOM = re.compile(r"([幢栋座元楼])(\d{3,4})[室号房]?-\d{1,2}[室号房]?$")
"""A room let in parts (302-1, 302室-2): the flat's room."""
_DOOR_BUILDING = re.compile(r"(^|[^路街巷弄里道\d])(\d+)号(\d+)-(\d+)")
"""An estate's building as 号 before a unit and room (城东新村8号2-302); not a road's house (解放路8号2-302)."""

_FLAT = re.compile(
    r"^(?P<place>.*?)(?P<b>\d+|[A-Za-z])(?:号楼|幢|栋|座|#|号)(?:(?P<u>\d+)单元)?(?:(?P<r>\d+)(?:室|号房|号|房)?)?$"
)
_SHORT3 = re.compile(
    r"^(?P<place>.*?)(?P<b>\d+|[A-Za-z])(?:号楼|幢|栋|座)?-?(?<=[幢栋座楼-])(?P<u>\d+)-(?P<r>\d+)(?:室|号房|号|房)?$"
)
_SHORT2 = re.compile(r"^(?P<place>.*?)(?P<b>\d+)-(?P<r>\d+)(?:室|号房|号|房)?$")
_RURAL = re.compile(r"^(?P<place>.*?村)(?P<g>\d+)组(?:(?P<n>\d+)号?)?(?P<rest>.*)$")
_RURAL_BARE = re.compile(r"^(?P<place>.*?)(?P<g>\d+)组(?:(?P<n>\d+)号?)?(?:\d+室)?$")
"""A group and house without 村 (鸣鹤12组29, 3组42号, 3组5号102室): nothing else may follow, so 3组团5幢 stays a flat."""
_DOOR = re.compile(r"^(?P<place>.*?)(?P<n>\d+)号(?P<rest>.*)$")


def chinese_number(text: str) -> int:
    """Value of a Chinese numeral up to 9999 (十二 → 12, 三百零一 → 301, 一二 → 12, 一千一百零二 → 1102).

    >>> chinese_number("十二"), chinese_number("二十"), chinese_number("三百零一"), chinese_number("一二")
    (12, 20, 301, 12)
    >>> chinese_number("一千一百零二")
    1102
    """
    if not any(c in text for c in "十百千"):
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total, current = 0, 0
    for char in text:
        if char == "千":
            total += (current or 1) * 1000
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _CN_DIGITS[char]
    return total + current


def _clean(raw: str | None) -> str:
    """An address in one way of writing its characters, marks and dashes.

    NFKC (full-width digits), standard characters, columns joined by marks apart, no spaces, no note at the end,
    one kind of dash, dashes only inside numbers, and a village's or lane's dash form as its 组 or 弄.
    """
    if raw is None:
        return ""
    text = unicodedata.normalize("NFKC", str(raw)).translate(_VARIANT_TABLE)
    text = _SEPARATED_NUMBERS[0].sub(r"\1\2-\3-\4", text)
    text = _SEPARATED_NUMBERS[1].sub(r"\1\2-\3", text)
    text = _SPACES.sub("", text)
    text = _TRAILING_NOTE.sub("", text) or text
    text = _JOINED_BY_DASH.sub(r"\1\2", _DASHES.sub("-", _NATURAL_VILLAGE.sub("", text)))
    text = _ROOM_PART_DASH.sub(r"\1-\2", text)
    return _LANE_DASH.sub(r"\1\2弄\3号", _VILLAGE_DASH.sub(r"\1\2组\3号", text))


def _without_floor(text: str) -> str:
    """The first floor before a room that begins with it dropped (8幢3楼302 → 8幢302)."""
    m = _FLOOR.search(text)
    if m is None or not (m[3].startswith(m[2]) and len(m[3]) > len(m[2])):
        return text
    return text[: m.start(2)] + text[m.start(3) :]


def _numerals(text: str) -> str:
    """Chinese numerals as digits, `12#` as 12幢, no 第 before a number, 组 for a group's other words, no floor."""
    text = _GROUP_SHE.sub(r"\1组\2", _GROUP_WORDS.sub(r"\1组", text))
    text = _CN_NUMBER.sub(lambda m: str(chinese_number(m.group())), text)
    text = _CN_TAIL.sub(lambda m: str(chinese_number(m.group())), text)
    text = _without_floor(_ORDINAL.sub(r"\1", _HASH_BUILDING.sub(r"\1幢", _ANNEX.sub(r"\1", text))))
    text = _DOOR_BUILDING.sub(r"\1\2幢\3-\4", _SUB_ROOM.sub(r"\1\2", _UNIT_FIRST.sub(r"\2\3\1单元", text)))
    text = _FLOOR_DOOR[1].sub(r"\1\2\3", _FLOOR_DOOR[0].sub(r"\1\g<2>0\3", text))
    return _BARE_DOOR.sub(r"\1\2号", text)


def fold(raw: str | None) -> str:
    """Fold an address to one way of writing.

    NFKC (full-width digits), no spaces, one kind of dash, Chinese numerals as
    digits, `12#` as 12幢, no bracketed note at the end.

    >>> fold("金山花园 １２＃3-301（出租）")
    '金山花园12幢3-301'
    """
    return _numerals(_clean(raw))


@dataclass(frozen=True, slots=True)
class Address:
    """Elements of one address; absent elements are None."""

    kind: str
    """'flat' (building/unit/room), 'rural' (village/group/number), 'door' (road + number) or 'other'."""
    place: str | None
    """Compound, road or village name, prefixes removed."""
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    group: str | None = None
    number: str | None = None


def _num(text: str | None) -> str | None:
    """A number without leading zeros, a building's letter in capitals (A座), None for nothing."""
    if not text:
        return None
    return text.upper() if text.isalpha() else str(int(text))


def _one_of(words: Iterable[str]) -> str:
    """A pattern of any of `words` at the start, the longest first."""
    return "^(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


@lru_cache(maxsize=64)
def _prefix_pattern(prefixes: tuple[str, ...], *, repeated: bool = True) -> re.Pattern[str] | None:
    ordered = {p for p in prefixes if p}
    return re.compile(_one_of(ordered) + ("+" if repeated else "")) if ordered else None


_NUMBER_START = "[0-9零〇一二两三四五六七八九十百]"


@dataclass(frozen=True, slots=True)
class Prefixes:
    """What an address may begin with before its dwelling, learnt from the register (`admin_prefixes`)."""

    full: tuple[str, ...] = ()
    """Stripped wherever an address begins with them: 浙江省, 慈溪市, 浒山街道, 金山社区, and short names (慈溪)."""
    guarded: tuple[str, ...] = ()
    """Short names the register also begins a place's name with (兰江 of 兰江街道, beside 兰江路): stripped unless
    the address goes on as one of `kept`."""
    kept: tuple[str, ...] = ()
    """A guarded short name with the character after it where the register goes on with it (兰江路, 兰江小)."""
    places: tuple[str, ...] = ()
    """Villages' names without their 村 that the register writes before a house's number as a place of its own
    (竹岙 of 外塘村竹岙3号, beside the village 竹岙村): cut only before a group (竹岙3组), not before a number."""

    @classmethod
    def of(cls, prefixes: Prefixes | Sequence[str]) -> Prefixes:
        """`prefixes` as they are, or a plain list of names, each stripped wherever an address begins with it."""
        return prefixes if isinstance(prefixes, Prefixes) else cls(tuple(prefixes))


_ROUNDS = 3
"""Prefixes, then a guarded short name, this many times: 浙江余姚 兰江 谭家岭社区 needs two."""


_GROUP_AFTER = f"({_NUMBER_START}[0-9零〇一二两三四五六七八九十百千]*(?:组|队|社|小组|村民|生产))"
"""A group's number and word, which a village's name without its 村 is cut before (西三十组: 西三 cut)."""


@lru_cache(maxsize=64)
def _stem_pattern(prefixes: tuple[str, ...], places: tuple[str, ...], *, placed: bool) -> str | None:
    """A pattern of village names without their 村 (西三村 → 西三), of those written as places (`placed`) or not.

    `西三十组` is group 10 of 西三村, not group 30 of 西. The places are `Prefixes.places`.
    """
    stems = {p[:-1] for p in prefixes if p.endswith("村") and len(p) >= 3 and (p[:-1] in places) == placed}
    return _one_of(stems) if stems else None


def _stem_cuts(known: Prefixes) -> list[str]:
    """Patterns of a village's name without its 村 and what must follow it (captured) for it to be cut.

    A number, or a group where the register also writes the name as a place.
    """
    cuts = [
        (_stem_pattern(known.full, known.places, placed=False), f"({_NUMBER_START})"),
        (_stem_pattern(known.full, known.places, placed=True), _GROUP_AFTER),
    ]
    return [stems + after for stems, after in cuts if stems]


def _cut(text: str, pattern: re.Pattern[str] | None) -> str:
    """`text` without what `pattern` matches at its start, unless that is all of it."""
    match = pattern.match(text) if pattern else None
    # Prefixes that cover the whole text are the text itself (a village named like its community).
    return text[match.end() :] if match and match.end() < len(text) else text


_ABOVE = "^[一-鿿]{2,3}[省市]"
"""A province or city the register does not write (宁波市 in 浙江省宁波市象山县): cut where a known prefix follows."""


@lru_cache(maxsize=64)
def _above_pattern(prefixes: tuple[str, ...]) -> str | None:
    ordered = {p for p in prefixes if p}
    return _ABOVE + "(" + _one_of(ordered)[1:] + ")" if ordered else None


def strip_prefixes(text: str, prefixes: Prefixes | Sequence[str]) -> str:
    """Remove any of `prefixes` from the start, repeatedly (longest first), never the whole text.

    A guarded short name goes only where the text does not go on as the register's place names do. Then a
    village prefix written without its 村 where a number follows, or only a group where the register writes the
    name as a place (`Prefixes.places`).

    >>> strip_prefixes("慈溪市浒山街道金山花园1幢", ["慈溪市", "浒山街道"])
    '金山花园1幢'
    >>> strip_prefixes("周巷镇西三十组12号", ["周巷镇", "西三村"])
    '十组12号'
    >>> learnt = Prefixes(("余姚市", "谭家岭社区"), guarded=("兰江",), kept=("兰江路",))
    >>> strip_prefixes("兰江谭家岭社区胜山3幢", learnt), strip_prefixes("余姚市兰江路35号", learnt)
    ('胜山3幢', '兰江路35号')
    """
    known = Prefixes.of(prefixes)
    full, guarded = _prefix_pattern(known.full), _prefix_pattern(known.guarded, repeated=False)
    kept = _prefix_pattern(known.kept, repeated=False)
    above = _above_pattern(known.full)
    for _ in range(_ROUNDS if guarded else 1):
        text = _cut(text, full)
        if above and (m := re.match(above, text)):
            text = _cut(text[m.start(1) :], full)
        if guarded and not (kept and kept.match(text)):
            text = _cut(text, guarded)
    for stem_cut in _stem_cuts(known):
        if stem := re.match(stem_cut, text):
            text = text[stem.start(1) :]
            break
    return text


_WORD_END = re.compile(r"[0-9A-Za-z]$")
"""A letter right after one of these is part of a word or number (SOHO座, 63A号), not a building's letter."""


def _building(m: re.Match[str]) -> bool:
    """Whether a match's building is one: a number, or a letter that does not end a word or number."""
    return not (m["b"].isalpha() and _WORD_END.search(m["place"]))


def parse(raw: str | None, prefixes: Prefixes | Sequence[str] = ()) -> Address:
    """Parse an address into its elements.

    >>> parse("慈溪市浒山街道城东新村东区十二幢3单元301室", ["慈溪市", "浒山街道"])
    Address(kind='flat', place='城东新村东区', building='12', unit='3', room='301', group=None, number=None)
    >>> parse("城东东区 12-3-301").room
    '301'
    >>> parse("周家村3组15号")
    Address(kind='rural', place='周家村', building=None, unit=None, room=None, group='3', number='15')
    """
    text = _numerals(strip_prefixes(_clean(raw), prefixes))
    if not text:
        return Address("other", None)
    if (m := _SHORT3.match(text)) and _building(m):
        return Address("flat", m["place"] or None, _num(m["b"]), _num(m["u"]), _num(m["r"]))
    if m := _RURAL.match(text) or _RURAL_BARE.match(text):
        return Address("rural", m["place"] or None, group=_num(m["g"]), number=_num(m["n"]))
    if m := _SHORT2.match(text):
        return Address("flat", m["place"] or None, _num(m["b"]), None, _num(m["r"]))
    if (m := _FLAT.match(text)) and _building(m):
        return Address("flat", m["place"] or None, _num(m["b"]), _num(m["u"]), _num(m["r"]))
    if m := _DOOR.match(text):
        return Address("door", m["place"] or None, number=_num(m["n"]), room=_num(re.sub(r"\D", "", m["rest"]) or None))
    return Address("other", text)


ADDRESS_FIELDS = ("addr_kind", "place", "building", "unit", "room", "group", "number")

# The patterns above in the Rust regex dialect polars speaks (no look-around).
_V_SHORT3 = r"^(?<place>.*?)(?<b>\d+|[A-Za-z])(?:(?:号楼|幢|栋|座)-?|-)(?<u>\d+)-(?<r>\d+)(?:室|号房|号|房)?$"
_V_RURAL = r"^(?<place>.*?村)(?<g>\d+)组(?:(?<n>\d+)号?)?.*$"
_V_RURAL_BARE = r"^(?<place>.*?)(?<g>\d+)组(?:(?<n>\d+)号?)?(?:\d+室)?$"
_V_FLAT = r"^(?<place>.*?)(?<b>\d+|[A-Za-z])(?:号楼|幢|栋|座|#|号)(?:(?<u>\d+)单元)?(?:(?<r>\d+)(?:室|号房|号|房)?)?$"
_V_SHORT2 = r"^(?<place>.*?)(?<b>\d+)-(?<r>\d+)(?:室|号房|号|房)?$"
_V_DOOR = r"^(?<place>.*?)(?<n>\d+)号(?<rest>.*)$"
# The marker is matched, not looked ahead (or behind) at: tokens keep it and only their numerals are converted.
_V_CN_NUMBER = f"{_CN_NUMERAL.pattern}(?:{_UNIT_MARKERS})"
_V_CN_TAIL = f"{_TAIL_AFTER}{_CN_NUMERAL.pattern}$"


def _num_expr(col: pl.Expr) -> pl.Expr:
    """`_num` in polars: digits without leading zeros, a letter in capitals, null for nothing."""
    digits = col.str.strip_chars_start("0").str.to_uppercase()
    return pl.when(col.is_null() | (col == "")).then(None).when(digits == "").then(pl.lit("0")).otherwise(digits)


def _digits_expr(col: pl.Expr) -> pl.Expr:
    return _num_expr(col.str.replace_all(r"\D", ""))


def _place_expr(col: pl.Expr) -> pl.Expr:
    return pl.when(col != "").then(col)


_Groups = dict[str, tuple[str, Callable[[pl.Expr], pl.Expr]]]
_FLAT_GROUPS: _Groups = {
    "place": ("place", _place_expr),
    "building": ("b", _num_expr),
    "unit": ("u", _num_expr),
    "room": ("r", _num_expr),
}
_RURAL_GROUPS: _Groups = {"place": ("place", _place_expr), "group": ("g", _num_expr), "number": ("n", _num_expr)}
_V_PATTERNS: tuple[tuple[str, str, _Groups], ...] = (
    ("flat", _V_SHORT3, _FLAT_GROUPS),
    ("rural", _V_RURAL, _RURAL_GROUPS),
    ("rural", _V_RURAL_BARE, _RURAL_GROUPS),
    ("flat", _V_SHORT2, {"place": ("place", _place_expr), "building": ("b", _num_expr), "room": ("r", _num_expr)}),
    ("flat", _V_FLAT, _FLAT_GROUPS),
    ("door", _V_DOOR, {"place": ("place", _place_expr), "number": ("n", _num_expr), "room": ("rest", _digits_expr)}),
)
"""`parse`'s patterns in its order: the kind each gives, and which group fills which field."""


def _numeral_tokens(text: pl.DataFrame, pattern: str) -> tuple[list[str], list[str]]:
    """The distinct matches of `pattern` in column `t`, and each with its Chinese numerals as digits."""
    found = text.select(pl.col("t").str.extract_all(pattern)).to_series().explode().drop_nulls().unique().to_list()
    return found, [_CN_NUMERAL.sub(lambda m: str(chinese_number(m.group())), token) for token in found]


def parse_column(raw: pl.Series, prefixes: Prefixes | Sequence[str] = ()) -> pl.DataFrame:
    """`parse` over a whole column, in polars.

    One row per value with the columns of `ADDRESS_FIELDS` (`addr_kind` is `Address.kind`).

    The same steps and patterns as `parse`, in Rust; `parse` stays the
    reference (a test holds the two equal on random address-like strings).

    >>> parse_column(pl.Series(["城东东区12-3-301", "周家村三组15号", None])).rows()
    [('flat', '城东东区', '12', '3', '301', None, None), ('rural', '周家村', None, None, None, '3', '15'), ('other', None, None, None, None, None, None)]
    """
    text = (
        raw.cast(pl.String)
        .fill_null("")
        .to_frame("raw")
        .select(pl.col("raw").str.normalize("NFKC").str.replace_many(_VARIANTS).alias("t"))
    )
    t = pl.col("t")
    text = text.with_columns(t.str.replace(_SEPARATED_NUMBERS[0].pattern, "${1}${2}-${3}-${4}").alias("t"))
    text = text.with_columns(t.str.replace(_SEPARATED_NUMBERS[1].pattern, "${1}${2}-${3}").alias("t"))
    text = text.with_columns(t.str.replace_all(_SPACES.pattern, "").alias("t"))
    noted = t.str.replace(_TRAILING_NOTE.pattern, "")
    text = text.with_columns(pl.when(noted != "").then(noted).otherwise(t).alias("t"))
    text = text.with_columns(t.str.replace_all(_NATURAL_VILLAGE.pattern, "").alias("t"))
    text = text.with_columns(t.str.replace_all(_DASHES.pattern, "-").alias("t"))
    text = text.with_columns(t.str.replace_all(_JOINED_BY_DASH.pattern, "${1}${2}").alias("t"))
    text = text.with_columns(t.str.replace(_ROOM_PART_DASH.pattern, "${1}-${2}").alias("t"))
    text = text.with_columns(t.str.replace(_VILLAGE_DASH.pattern, "${1}${2}组${3}号").alias("t"))
    text = text.with_columns(t.str.replace(_LANE_DASH.pattern, "${1}${2}弄${3}号").alias("t"))
    known = Prefixes.of(prefixes)
    full, guarded = _prefix_pattern(known.full), _prefix_pattern(known.guarded, repeated=False)
    kept = _prefix_pattern(known.kept, repeated=False)
    above = _above_pattern(known.full)
    for _ in range(_ROUNDS if guarded else 1):  # as `strip_prefixes`
        steps: tuple[tuple[str | None, re.Pattern[str] | None], ...] = (
            (full.pattern if full else None, None),
            (above, None),  # replaced by the prefix that follows it, not cut
            (full.pattern if full else None, None),
            (guarded.pattern if guarded else None, kept),
        )
        for pattern, unless in steps:
            if pattern is None:
                continue
            if pattern == above:
                text = text.with_columns(t.str.replace(above, "${1}").alias("t"))
                continue
            stripped = t.str.replace(pattern, "")
            cut = stripped != ""
            if unless is not None:
                cut = cut & ~t.str.contains(unless.pattern)
            text = text.with_columns(pl.when(cut).then(stripped).otherwise(t).alias("t"))
    stemmed: pl.Expr = t
    for stem_cut in reversed(_stem_cuts(known)):  # the first that fits, as `strip_prefixes`
        stemmed = pl.when(t.str.contains(stem_cut)).then(t.str.replace(stem_cut, "${1}")).otherwise(stemmed)
    text = text.with_columns(stemmed.alias("t"))
    text = text.with_columns(t.str.replace_all(_GROUP_WORDS.pattern, "${1}组").alias("t"))
    text = text.with_columns(t.str.replace_all(_GROUP_SHE.pattern, "${1}组${2}").alias("t"))
    # Chinese numerals: each distinct numeral-and-marker token is converted once, then all are replaced at once.
    tokens, converted = _numeral_tokens(text, _V_CN_NUMBER)
    if tokens:
        tokens_by_length = sorted(zip(tokens, converted, strict=True), key=lambda tc: len(tc[0]), reverse=True)
        # With `leftmost`, the longest token starting at a place wins.
        text = text.with_columns(
            t.str.replace_many([a for a, _ in tokens_by_length], [b for _, b in tokens_by_length], leftmost=True)
        )
    # Then a numeral left at the very end (3单元五〇一), converted where it stands.
    tokens, converted = _numeral_tokens(text, _V_CN_TAIL)
    if tokens:
        tail = t.str.extract(f"({_V_CN_TAIL})")
        text = text.with_columns(
            pl.when(tail.is_not_null())
            .then(
                t.str.slice(0, t.str.len_chars() - tail.str.len_chars())
                + tail.replace_strict(tokens, converted, return_dtype=pl.String)
            )
            .otherwise(t)
            .alias("t")
        )
    text = text.with_columns(t.str.replace(_ANNEX.pattern, "${1}").alias("t"))
    text = text.with_columns(t.str.replace_all(_HASH_BUILDING.pattern, "${1}幢").alias("t"))
    text = text.with_columns(t.str.replace_all(_ORDINAL.pattern, "${1}").alias("t"))
    floor = t.str.extract_groups(_FLOOR.pattern).struct
    drop_floor = floor.field("3").str.starts_with(floor.field("2")) & (
        floor.field("3").str.len_chars() > floor.field("2").str.len_chars()
    )
    text = text.with_columns(
        pl.when(drop_floor.fill_null(False)).then(t.str.replace(_FLOOR.pattern, "${1}${3}")).otherwise(t).alias("t")
    )
    text = text.with_columns(t.str.replace_all(_UNIT_FIRST.pattern, "${2}${3}${1}单元").alias("t"))
    text = text.with_columns(t.str.replace(_SUB_ROOM.pattern, "${1}${2}").alias("t"))
    text = text.with_columns(t.str.replace_all(_DOOR_BUILDING.pattern, "${1}${2}幢${3}-${4}").alias("t"))
    text = text.with_columns(t.str.replace(_FLOOR_DOOR[0].pattern, "${1}${2}0${3}").alias("t"))
    text = text.with_columns(t.str.replace(_FLOOR_DOOR[1].pattern, "${1}${2}${3}").alias("t"))
    text = text.with_columns(t.str.replace(_BARE_DOOR.pattern, "${1}${2}号").alias("t"))

    text = text.with_columns(
        t.str.extract_groups(pattern).alias(f"_m{i}") for i, (_, pattern, _) in enumerate(_V_PATTERNS)
    )

    def column(name: str) -> pl.Expr:
        # The first pattern that matches wins, as in `parse`; `other` keeps the whole text as its place.
        expr = (
            pl.lit("other") if name == "addr_kind" else _place_expr(t) if name == "place" else pl.lit(None, pl.String)
        )
        for i, (kind, _, groups) in reversed(list(enumerate(_V_PATTERNS))):
            match = pl.col(f"_m{i}").struct
            found = match.field("place").is_not_null()
            if "building" in groups:  # `_building`
                letter = match.field(groups["building"][0]).str.contains("^[A-Za-z]$")
                found = found & ~(letter & match.field("place").str.contains(_WORD_END.pattern)).fill_null(False)
            if name == "addr_kind":
                value = pl.lit(kind)
            elif name in groups:
                group, convert = groups[name]
                value = convert(pl.col(f"_m{i}").struct.field(group))
            else:
                value = pl.lit(None, pl.String)
            expr = pl.when(found).then(value).otherwise(expr)
        return expr.cast(pl.String).alias(name)

    return text.select(*(column(name) for name in ADDRESS_FIELDS))


_ADMIN_SUFFIX = re.compile(r"(?<!社)(?:街道办事处|街道|镇|乡|省|自治区|市|县|区)$")
"""What ends a street's, town's or city's name and is often left out of it (慈溪 for 慈溪市, 浒山 for 浒山街道).

Not a community's 社区: communities are named like their estates and numbered (南门一社区 beside 南门一期), so
their short names would cut estates' names apart."""


def admin_prefixes(addresses: Iterable[str], anchors: Iterable[str]) -> Prefixes:
    """Administrative prefixes learnt from register addresses.

    Whatever precedes a known street or community name (`anchors`) in a register
    address is a prefix (e.g. 浙江省宁波市慈溪市), and so is each 省/市/县 piece of it.
    So is a street's, town's or city's name without its 街道, 镇 or 市 (浒山, 慈溪). Where a register address goes
    on with such a short name once its prefixes are gone (兰江路 in 兰江街道, 浒山花园 in 浒山街道), it begins a
    place's name there (the register writes administrative names in full): the short name is then guarded, and
    kept wherever an address goes on as the register's does.

    >>> learnt = admin_prefixes(["慈溪市浒山街道金山社区金山花园1幢101室", "慈溪市浒山街道金山社区浒山路3号"],
    ...                         ["浒山街道", "金山社区"])
    >>> learnt.full, learnt.guarded, learnt.kept
    (('浒山街道', '金山社区', '慈溪市', '慈溪'), ('浒山',), ('浒山路',))
    """
    anchor_list = sorted({a for a in anchors if a}, key=lambda a: (-len(a), a))  # not set order: hash seeds vary
    found: set[str] = set(anchor_list)
    named = set(anchor_list)  # each one administrative unit's name
    addresses = list(addresses)
    folded = [fold(address) for address in addresses]
    for text in folded:
        for anchor in anchor_list:
            pos = text.find(anchor)
            if pos > 0:
                head = text[:pos]
                found.add(head)
                pieces = re.findall(r".+?(?:省|自治区|市|县|区)", head)
                found.update(pieces)
                named.update(pieces)
                break
    shorts = {cut for a in named if len(cut := _ADMIN_SUFFIX.sub("", a)) >= 2 and cut != a} - found
    guarded: set[str] = set()
    kept: set[str] = set()
    if shorts:
        full = _prefix_pattern(tuple(found))
        # Prefixes are stripped before numerals are read (浒山一期), and a worker may write them in digits (浒山1期).
        for text in [*folded, *(_clean(address) for address in addresses)]:
            rest = text[m.end() :] if full and (m := full.match(text)) else text
            for short in shorts:  # every name it goes on with: 古塘 and 古塘新村
                if rest.startswith(short) and len(rest) > len(short):
                    guarded.add(short)
                    kept.add(rest[: len(short) + 1])
        found |= shorts - guarded

    stems = {p[:-1] for p in found if p.endswith("村") and len(p) >= 3}
    places: set[str] = set()
    if stems:
        full = _prefix_pattern(tuple(found))
        number = re.compile(_NUMBER_START)
        for text in folded:  # the register writes a village's name in full: a stem and a number is a place's house
            rest = _cut(text, full)
            places.update(s for s in stems if rest.startswith(s) and number.match(rest, len(s)))

    def ordered(names: set[str]) -> tuple[str, ...]:
        return tuple(sorted(names, key=lambda p: (-len(p), p)))  # longest first; ties by text, not by hash order

    return Prefixes(ordered(found), ordered(guarded), ordered(kept), ordered(places))


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)


_PHASE_NUMBER = re.compile(r"[一二三四五六七八九十\d]+期|[A-Za-z]区")
_QUARTERS = frozenset(pinyin_key(c) for c in "东西南北中")


def _phases(name: str) -> set[str]:
    """The parts of a compound name that tell neighbouring compounds apart (一期, 东区).

    By reading, so that a homophone (冬区) is the same part and 东苑 or 小区 are none.
    """
    found = {pinyin_key(token) for token in _PHASE_NUMBER.findall(name)}
    found |= {
        pinyin_key(name[i - 1 : i + 1])
        for i, char in enumerate(name)
        if char == "区" and i > 0 and pinyin_key(name[i - 1]) in _QUARTERS
    }
    return found


COMPOUND_SUFFIXES = frozenset(
    {"新村", "小区", "花园", "家园", "公寓", "苑", "园", "村", "名苑", "雅苑", "花苑", "华庭"}
)
"""What ends a compound's name and is often left out of it (contract §1.4: 新村 / 小区 / 花园 / 家园 …)."""


def _without_suffix(name: str) -> str:
    """The name without its compound suffix (客星华庭 → 客星), the longest one if several fit."""
    for n in (2, 1):
        if len(name) > n and name[-n:] in COMPOUND_SUFFIXES:
            return name[:-n]
    return name


def place_similarity(a: str, b: str) -> float:
    """0–100: how likely two compound names denote the same compound.

    Ranked: the same name (100), the same reading (95: 金山花苑 for 金山花园), one
    written inside the other (90: an abbreviation, 城东东区 for 城东新村东区) or with
    another compound suffix (90: 客星小区 for 客星华庭), and
    below 90 whatever else of three characters or more looks or sounds alike (a typo). So an abbreviation is
    never beaten by a name that merely sounds close (凤凰西区 is 凤凰花园西区,
    not 凤凰小区). Two compounds whose names share nothing but their suffix are
    compared without it: a new estate (阳光小区) is not a typo of the one the
    register knows (中塘小区).

    >>> place_similarity("城东东区", "城东新村东区"), place_similarity("凤凰西区", "凤凰小区") < 90
    (90.0, True)
    >>> place_similarity("客星小区", "客星华庭")
    90.0
    >>> place_similarity("阳光小区", "中塘小区") < 70 <= place_similarity("金色家园", "金邑家园")
    True
    """
    if a == b:
        return 100.0
    if _phases(a) and _phases(b) and _phases(a) != _phases(b):
        return 0.0  # 文化广场一期 and 文化广场二期, 城东新村东区 and 城东新村西区: neighbours, not spellings
    pa, pb = pinyin_key(a), pinyin_key(b)
    if pa == pb:
        return 95.0
    if len(a) >= 2 and len(b) >= 2 and (_is_subsequence(a, b) or _is_subsequence(b, a)):
        return 90.0
    stem_a, stem_b = _without_suffix(a), _without_suffix(b)
    if stem_a != a and len(stem_a) >= 2 and stem_a == stem_b != b:
        return 90.0  # the suffix swapped: 客星小区 for 客星华庭
    if stem_a != a and stem_b != b and not _share_a_character(stem_a, stem_b):
        a, b, pa, pb = stem_a, stem_b, pinyin_key(stem_a), pinyin_key(stem_b)  # 阳光小区 is not 中塘小区
    if min(len(a), len(b)) <= 2:
        return 0.0  # two characters that read otherwise are another name (峙岙 is not 竹岙), not a typo of it
    return min(85.0, max(fuzz.ratio(a, b), fuzz.ratio(pa, pb)))


def _share_a_character(a: str, b: str) -> bool:
    """Whether two names have a character in common, written or read alike (金邑 and 金色, 忠 and 中)."""
    return bool(set(a) & set(b)) or bool({pinyin_key(c) for c in a} & {pinyin_key(c) for c in b})


def place_matches(observed: Iterable[str], known: Sequence[str], *, cutoff: float = 70.0) -> dict[str, list[str]]:
    """Each observed place name's best matches among `known` (the register's spelling).

    Itself when known, the names sharing the best score at or above `cutoff`,
    else none. Two names mean the written name is ambiguous (金山 for 金山花园
    and 金山新村).

    >>> place_matches(["城东东区", "金山", "海港公寓"], ["城东新村东区", "金山花园", "金山新村"])["金山"]
    ['金山新村', '金山花园']
    """
    out: dict[str, list[str]] = {}
    known_set = set(known)
    for name in set(observed):
        if name in known_set:
            out[name] = [name]
            continue
        scored = process.extract(
            name, known, scorer=lambda a, b, **_: place_similarity(a, b), score_cutoff=cutoff, limit=None
        )
        best = max((score for _, score, _ in scored), default=None)
        out[name] = sorted(choice for choice, score, _ in scored if score == best)
    return out
