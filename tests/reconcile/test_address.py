import random
from collections.abc import Sequence

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reconcile import address
from reconcile.names import pinyin_key
from reconcile.prepare import prefixes_of

PREFIXES = ["浙江省慈溪市", "慈溪市", "浒山街道", "青少年宫路社区"]


@pytest.mark.parametrize(
    "written",
    [
        "浙江省慈溪市浒山街道青少年宫路社区城东新村东区12幢3单元301室",
        "城东新村东区12-3-301",
        "城东新村东区十二幢3单元301",
        "城东新村东区12栋3单元301号",
        "城东新村东区12号楼3单元301房",
        "城东新村东区１２座３单元３０１室",
        "慈溪市 城东新村东区 12-3-301",
        "城东新村东区12－3－301",
        "城东新村东区12#3-301",
        "城东新村东区12#楼3单元301室",
        "城东新村东区12幢3-301",
        "城东新村东区12号楼3-301室",
        "城东新村东区12幢3单元301室（出租）",
        "城东新村东区12幢3单元301室【借住】",
        "城东新村东区12幢3单元301号房",
    ],
)
def test_spellings_of_one_flat_parse_alike(written: str) -> None:
    reference = address.parse("城东新村东区12幢3单元301室")
    assert address.parse(written, PREFIXES) == reference


def test_other_flats_differ() -> None:
    a = address.parse("城东新村东区12幢3单元301室")
    assert a != address.parse("城东新村东区12幢3单元302室")
    assert a != address.parse("城东新村东区12幢2单元301室")


def test_shortened_compound_name_maps_to_the_register_spelling() -> None:
    known = ["城东新村东区", "金山花园", "阳光小区"]
    mapping = address.place_matches(["城东东区", "城东欣村东区", "金山花苑"], known)
    assert mapping == {"城东东区": ["城东新村东区"], "城东欣村东区": ["城东新村东区"], "金山花苑": ["金山花园"]}


def test_unrelated_place_is_not_forced_onto_the_gazetteer() -> None:
    assert address.place_matches(["海港公寓"], ["城东新村东区"]) == {"海港公寓": []}


def test_neighbouring_phases_are_not_spellings_of_each_other() -> None:
    found = address.place_matches(["文化广场二期", "城东新村西区", "城东东区"], ["文化广场一期", "城东新村东区"])
    assert found == {"文化广场二期": [], "城东新村西区": [], "城东东区": ["城东新村东区"]}


def test_a_village_prefix_without_its_cun_is_stripped_only_before_a_number() -> None:
    prefixes = ["海南村", "海南一村"]
    for text in ("海南一组5号", "海南一村3组5号", "海南路8号"):
        a = address.parse(text, prefixes)
        got = address.parse_column(pl.Series([text]), prefixes).row(0)
        assert got == (a.kind, a.place, a.building, a.unit, a.room, a.group, a.number), text
    assert address.parse("海南一组5号", prefixes).group == "1"


def test_rural_address() -> None:
    parsed = address.parse("慈溪市周巷镇周家村三组15号", ["慈溪市", "周巷镇"])
    assert (parsed.kind, parsed.place, parsed.group, parsed.number) == ("rural", "周家村", "3", "15")


def test_a_village_house_written_without_its_village_or_with_a_room() -> None:
    for text in ("3组5号102室", "鸣鹤村3组5号102室", "鸣鹤3组5", "三组五号"):
        parsed = address.parse(text, ["鸣鹤村"])
        assert (parsed.kind, parsed.group, parsed.number) == ("rural", "3", "5"), text


def test_chinese_numerals() -> None:
    assert [address.chinese_number(t) for t in ("三", "十", "十二", "二十一", "一百零五")] == [3, 10, 12, 21, 105]


def test_prefixes_are_learnt_from_register_addresses() -> None:
    learnt = address.admin_prefixes(["浙江省宁波市慈溪市浒山街道某社区某小区1幢1单元101室"], ["浒山街道"])
    assert {"浙江省宁波市慈溪市", "浙江省", "宁波市", "慈溪市"} <= set(learnt.full)


def test_a_bracket_inside_a_name_stays() -> None:
    assert address.parse("金山花园(一期)12幢3单元301室").place == "金山花园(1期)"  # the phase folded as numerals are


def _as_rows(values: Sequence[str | None], prefixes: address.Prefixes | list[str]) -> list[tuple[str | None, ...]]:
    out: list[tuple[str | None, ...]] = []
    for v in values:
        a = address.parse(v, prefixes)
        out.append((a.kind, a.place, a.building, a.unit, a.room, a.group, a.number))
    return out


def _random_address(rng: random.Random) -> str:
    """An address-like string: a rough grammar of the forms seen, with every part optional."""

    def one(*options: str) -> str:
        return rng.choice(options)

    number = lambda: one("3", "12", "301", "07", "0", "十二", "三", "１２", "88", "A", "b", "Ｃ", "一千零二")  # noqa: E731
    parts = [
        one("", "", "慈溪市", "浒山街道", "慈溪市浒山街道青少年宫路社区"),
        one(
            "城东新村东区",
            "金山花园",
            "团结村",
            "北二环东路",
            "金山花园(一期)",
            "",
            "西三",
            "团结村团结村",
            "金山花园第",
            "SOHO",
            "北二环路63",
        ),
        number(),
        one("幢", "栋", "号楼", "座", "#", "#楼", "号", "-", "组", "", "村", "队", "村民小组", "单元"),
        one("", "-", "－", "—"),
        number(),
        one("单元", "-", "", "组", "号", "生产队", "幢"),
        one("", "", "", "3楼", "12层", "三楼", "楼"),
        number(),
        one("室", "号", "房", "", "-1", "甲", "室-2", "车库", "阁楼", "-2室", "自然村"),
        one("", "", "(出租)", "（东）", "【借住】", " ", "出租", "(出租)借住", "第"),
    ]
    if rng.random() < 0.3:  # scramble: drop or repeat a part
        i = rng.randrange(len(parts))
        parts[i] = "" if rng.random() < 0.5 else parts[i] * 2
    return "".join(parts)


def test_the_column_parser_agrees_with_the_scalar_one_on_random_addresses() -> None:
    """`parse_column` (Rust regex, with `parse` for Chinese numerals) against `parse`
    on 20,000 address-like strings."""
    rng = random.Random(11)
    values: list[str | None] = [None, "", " ", "(租)"]
    values += [_random_address(rng) for _ in range(20_000)]
    for prefixes in (["慈溪市", "浒山街道", "青少年宫路社区"], ["慈溪市", "浒山街道", "团结村", "西三村"]):
        got = address.parse_column(pl.Series(values, dtype=pl.String), prefixes).rows()
        assert got == _as_rows(values, prefixes)


_STREETS = ("浒山街道", "古塘街道", "白沙路街道", "坎墩街道")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), sample=st.integers(4, 40))
def test_prefixes_are_learnt_from_every_street_whatever_the_row_order(seed: int, sample: int) -> None:
    rows = [
        {
            "address_raw": f"浙江省宁波市慈溪市{street}{street[:2]}社区{'金山花园' if i % 2 else '银河小区'}{i}幢1单元101室",
            "street": street,
            "community_name": f"{street[:2]}社区",
        }
        for street in _STREETS
        for i in range(1, 60)
    ]
    frame = pl.DataFrame(rows)
    learnt = prefixes_of(frame, sample=sample)
    assert learnt == prefixes_of(frame.sample(fraction=1.0, shuffle=True, seed=seed), sample=sample)
    assert set(_STREETS) <= set(learnt.full)
    assert "浙江省宁波市慈溪市" in learnt.full


def test_a_street_without_its_jiedao_is_a_prefix_unless_a_compound_begins_with_it() -> None:
    register = [
        "浙江省宁波市慈溪市古塘街道银河社区银河湾家园11幢2单元1101室",
        "浙江省慈溪市浒山街道华联社区文化广场8幢",
        "浙江省慈溪市白沙路街道南门一社区南门雅苑一期8幢",
        "浙江省慈溪市周巷镇周巷花园社区周巷花园3幢",
    ]
    learnt = address.admin_prefixes(
        register, ["古塘街道", "浒山街道", "白沙路街道", "周巷镇", "银河社区", "华联社区", "南门一社区", "周巷花园社区"]
    )
    assert {"古塘", "浒山", "白沙路", "慈溪", "宁波"} <= set(learnt.full)
    assert learnt.guarded == ("周巷",)  # 周巷花园 is a compound of 周巷镇
    assert address.parse("周巷花园3幢", learnt).place == "周巷花园"
    assert address.parse("周巷华联社区文化广场8幢", learnt).place == "文化广场"
    assert not {"银河", "华联", "南门一"} & set(learnt.full + learnt.guarded)  # named like their estates
    assert address.parse("古塘文化广场8幢", learnt).place == "文化广场"
    assert address.parse("南门一期8幢", learnt).place == "南门1期"
    nested = address.admin_prefixes(["慈溪市古塘街道古塘新村社区古塘新村3幢201室"], ["古塘街道", "古塘新村社区"])
    assert "古塘" in nested.guarded  # the estate's name goes on with it
    assert address.parse("古塘新村3幢201室", nested).place == "古塘新村"


def test_a_letter_inside_a_word_or_number_is_no_building() -> None:
    """SOHO座, 63A号: the letter ends a word or a number; 文化广场B座 is building B."""
    assert address.parse("万达广场SOHO座1201室").building is None
    assert address.parse("北二环路63A号").building is None
    assert address.parse("文化广场B座1201室").building == "B"


@settings(max_examples=60, deadline=None)
@given(
    streets=st.lists(st.sampled_from(["浒山", "古塘", "周巷", "白沙路"]), min_size=1, max_size=3, unique=True),
    estates=st.lists(
        st.tuples(
            st.sampled_from(["浒山", "古塘", "周巷", "白沙", "金山", "南门"]),
            st.sampled_from(["花园", "新村", "一期", "雅苑"]),
        ),
        min_size=1,
        max_size=6,
    ),
    town=st.booleans(),
)
def test_a_learnt_short_name_never_cuts_a_registered_name(
    streets: list[str], estates: list[tuple[str, str]], town: bool
) -> None:
    """Estates may be named like their street (浒山花园 in 浒山街道): the register's own addresses parse alike with
    the short names learnt from them as without them."""
    suffix = "镇" if town else "街道"
    register = [
        f"浙江省宁波市慈溪市{streets[i % len(streets)]}{suffix}某某社区{a}{b}{i + 1}幢1单元101室"
        for i, (a, b) in enumerate(estates)
    ]
    anchors = [f"{s}{suffix}" for s in streets] + ["某某社区"]
    learnt = address.admin_prefixes(register, anchors)
    full = [p for p in learnt.full if p in {"浙江省宁波市慈溪市", "浙江省", "宁波市", "慈溪市", *anchors}]
    for text in register:
        assert address.parse(text, learnt) == address.parse(text, full), (text, learnt)


_DIGIT_WORDS = "零一二三四五六七八九"


def _in_chinese(n: int) -> str:
    """`n` (1..9999) as it is read aloud: 一千一百零二, 三百零一, 十二."""
    out, gap = "", False
    for value, word in ((1000, "千"), (100, "百"), (10, "十")):
        digit, n = divmod(n, value)
        if digit:
            out += (
                ("零" if gap else "") + ("" if value == 10 and digit == 1 and not out else _DIGIT_WORDS[digit]) + word
            )
            gap = False
        elif out:
            gap = True
    return out + (("零" if gap else "") + _DIGIT_WORDS[n] if n else "")


@given(st.integers(1, 9999))
def test_chinese_numerals_up_to_thousands_read_back(n: int) -> None:
    assert address.chinese_number(_in_chinese(n)) == n


_FLOORS = st.integers(1, 33)


@settings(max_examples=200, deadline=None)
@given(
    building=st.integers(1, 40),
    unit=st.one_of(st.none(), st.integers(1, 6)),
    floor=_FLOORS,
    door=st.integers(1, 4),
    floor_word=st.sampled_from(["楼", "层"]),
    building_word=st.sampled_from(["幢", "栋", "号楼", "座", "#"]),
    chinese=st.booleans(),
)
def test_a_floor_before_its_room_names_the_same_flat(
    building: int, unit: int | None, floor: int, door: int, floor_word: str, building_word: str, chinese: bool
) -> None:
    """8幢3楼302 is 8幢302; a floor and a room that does not begin with it (3楼2号) is left alone."""
    room = f"{floor}{door:02d}"
    head = f"金山花园{building}{building_word}" + (f"{unit}单元" if unit else "")
    floor_text = _in_chinese(floor) if chinese else str(floor)
    written = f"{head}{floor_text}{floor_word}{room}室"
    plain = f"{head}{room}室"
    assert address.parse(written) == address.parse(plain)
    other = address.parse(f"{head}{floor_text}{floor_word}{door}号")
    assert other.room != room
    assert address.parse_column(pl.Series([written, plain])).rows() == _as_rows([written, plain], [])


@settings(max_examples=150, deadline=None)
@given(
    group=st.integers(1, 30),
    house=st.integers(1, 300),
    word=st.sampled_from(["组", "村民小组", "村民组", "生产队", "小组", "队"]),
    village=st.sampled_from(["周家村", "鸣鹤村", ""]),
    chinese=st.booleans(),
)
def test_a_village_group_by_any_of_its_words_is_a_group(
    group: int, house: int, word: str, village: str, chinese: bool
) -> None:
    """3村民小组, 三队 and 3生产队 name the village's group 3, as 3组 does."""
    text = f"{village}{_in_chinese(group) if chinese else group}{word}{house}号"
    parsed = address.parse(text, ["周家村", "鸣鹤村"])
    assert (parsed.kind, parsed.group, parsed.number) == ("rural", str(group), str(house))
    assert address.parse_column(pl.Series([text]), ["周家村", "鸣鹤村"]).rows() == _as_rows(
        [text], ["周家村", "鸣鹤村"]
    )


@settings(max_examples=80, deadline=None)
@given(
    street=st.sampled_from(["兰江", "凤山", "阳明", "白沙路"]),
    places=st.lists(
        st.tuples(
            st.sampled_from(["兰江", "凤山", "阳明", "白沙", "胜山", "锦凤"]),
            st.sampled_from(["路", "小区", "西路", "花园"]),
        ),
        min_size=1,
        max_size=5,
        unique=True,
    ),
    estate=st.sampled_from(["胜山小区", "锦凤新村", "谭家岭花园"]),
    with_community=st.booleans(),
)
def test_a_street_named_like_its_roads_is_stripped_only_before_other_names(
    street: str, places: list[tuple[str, str]], estate: str, with_community: bool
) -> None:
    """Roads and estates are named after their street (兰江路, 兰江小区 in 兰江街道), and workers write the street
    short (兰江谭家岭社区胜山小区): the short name goes where another name follows, never from the register's own
    names."""
    register = [
        f"浙江省余姚市{street}街道谭家岭社区{a}{b}{i + 1}{'号' if b.endswith('路') else '幢101室'}"
        for i, (a, b) in enumerate(places)
    ]
    register.append(f"浙江省余姚市{street}街道谭家岭社区{estate}3幢101室")
    learnt = address.admin_prefixes(register, [f"{street}街道", "谭家岭社区"])
    full = [p for p in learnt.full if p in {"浙江省余姚市", "浙江省", "余姚市", f"{street}街道", "谭家岭社区"}]
    for text in register:
        assert address.parse(text, learnt) == address.parse(text, full), (text, learnt)
    written = f"{street}{'谭家岭社区' if with_community else ''}{estate}3幢101室"
    assert address.parse(written, learnt) == address.parse(f"{estate}3幢101室"), (written, learnt)
    assert address.parse_column(pl.Series([*register, written]), learnt).rows() == _as_rows(
        [*register, written], learnt
    )


_ROADS = st.sampled_from(["北街", "解放路", "竹山巷", "东旱门路", "木行弄", "解放路114弄"])


@settings(max_examples=150, deadline=None)
@given(
    road=_ROADS,
    lane=st.integers(1, 300),
    house=st.integers(1, 99),
    room=st.integers(101, 2999),
    note=st.sampled_from(["", "东边套", "西套", "中间套", "（出租）"]),
)
def test_doors_and_lanes_written_short_name_what_the_register_writes(
    road: str, lane: int, house: int, room: int, note: str
) -> None:
    """北街59 is 北街59号; 老街22-33 is 老街22弄33号, and 解放路8-302 a room; a note after it changes nothing."""
    pairs = [
        (f"{road}{house}{note}", f"{road}{house}号"),
        (f"{road}{lane}-{house}{note}", f"{road}{lane}弄{house}号")
        if road[-1] in "路街巷"
        else (f"{road}{house}号{note}", f"{road}{house}号"),
    ]
    for written, registered in pairs:
        assert address.parse(written) == address.parse(registered), written
    dashed = address.parse(f"{road}{lane}-{room}{note}")
    assert (dashed.building, dashed.room) == (str(lane), str(room))
    texts = [text for pair in pairs for text in pair] + [f"{road}{lane}-{room}{note}"]
    assert address.parse_column(pl.Series(texts)).rows() == _as_rows(texts, [])


@settings(max_examples=150, deadline=None)
@given(
    village=st.sampled_from(["冶山村", "周家村", "黄清堰村"]),
    estate=st.sampled_from(["城东新村", "曙光一村", "和美新村"]),
    group=st.integers(1, 30),
    number=st.integers(1, 400),
    dash_hao=st.booleans(),
)
def test_a_dash_after_a_village_is_group_and_house_and_after_an_estate_building_and_room(
    village: str, estate: str, group: int, number: int, dash_hao: bool
) -> None:
    """冶山村3-46 is 3组46号; 城东新村3-302 (an estate's 新村, or 一村) is building 3, room 302, with 号 after it or not."""
    tail = "号" if dash_hao else ""
    prefixes = [village]
    assert address.parse(f"{village}{group}-{number}{tail}", prefixes) == address.parse(
        f"{village}{group}组{number}号", prefixes
    )
    flat = address.parse(f"{estate}{group}-{number}{tail}", prefixes)
    assert (flat.kind, flat.place, flat.building, flat.room) == ("flat", estate, str(group), str(number))
    texts = [f"{village}{group}-{number}{tail}", f"{estate}{group}-{number}{tail}"]
    assert address.parse_column(pl.Series(texts), prefixes).rows() == _as_rows(texts, prefixes)


@settings(max_examples=100, deadline=None)
@given(
    stem=st.sampled_from(["客星", "中塘", "金山", "阳光"]),
    written=st.sampled_from(sorted(address.COMPOUND_SUFFIXES)),
    registered=st.sampled_from(sorted(address.COMPOUND_SUFFIXES)),
    other=st.sampled_from(["", "新村", "华庭"]),
)
def test_an_estate_with_its_suffix_swapped_is_the_registered_one_unless_another_fits_as_well(
    stem: str, written: str, registered: str, other: str
) -> None:
    name, known = stem + written, sorted({stem + registered, *([stem + other] if other else [])})
    found = address.place_matches([name], known)[name]
    alike = sorted({k for k in known if pinyin_key(k) == pinyin_key(name)})  # read alike: 客星园, 客星苑
    if name in known:
        assert found == [name]
    elif alike:  # a name read alike beats a swapped suffix
        assert found == alike
    else:  # the one estate of that stem, or, of two, neither
        assert found == known


_SUFFIX_CHARS = set("".join(address.COMPOUND_SUFFIXES))
_STEM_CHARS = [
    c for c in "阳光中塘金山银河东方明珠锦绣府翠竹兰桂星海湖滨江城联丰凤凰龙泉白沙青松" if c not in _SUFFIX_CHARS
]


def _readings(stem: str) -> set[str]:
    return {pinyin_key(c) for c in stem}


@settings(max_examples=300, deadline=None)
@given(
    first=st.text(st.sampled_from(_STEM_CHARS), min_size=2, max_size=3),
    second=st.text(st.sampled_from(_STEM_CHARS), min_size=2, max_size=3),
    suffix=st.sampled_from(sorted(address.COMPOUND_SUFFIXES)),
)
def test_a_shared_suffix_brings_two_otherwise_unlike_names_no_closer(first: str, second: str, suffix: str) -> None:
    """阳光小区 against 中塘小区 scores as 阳光 against 中塘: a new estate is not a typo of the one registered."""
    assume(not set(first) & set(second) and not _readings(first) & _readings(second))
    assert address.place_similarity(first + suffix, second + suffix) == address.place_similarity(first, second)


def test_an_estate_the_register_does_not_know_is_not_read_as_the_one_of_its_suffix_it_does() -> None:
    assert address.place_matches(["阳光小区"], ["中塘小区"]) == {"阳光小区": []}
    assert address.place_matches(["金色家园"], ["金邑家园"]) == {"金色家园": ["金邑家园"]}


_ANNEXES = ("附房", "车库", "储藏室", "地下室", "杂物间")
"""Dwellings of their own beside a flat: a garage let or lived in is not the flat."""


@settings(max_examples=200, deadline=None)
@given(
    place=st.sampled_from(["城东新村", "金山花园", "阳光小区东区"]),
    building=st.integers(1, 40),
    unit=st.integers(1, 6),
    room=st.integers(101, 2404),
    building_word=st.sampled_from(["幢", "栋", "号楼", "座"]),
    room_word=st.sampled_from(["室", "号", "房", ""]),
    part=st.integers(1, 12),
    annex=st.sampled_from(_ANNEXES),
    chinese=st.booleans(),
)
def test_a_flat_written_unit_first_by_its_door_in_parts_or_with_its_attic_is_the_flat(
    place: str,
    building: int,
    unit: int,
    room: int,
    building_word: str,
    room_word: str,
    part: int,
    annex: str,
    chinese: bool,
) -> None:
    """2单元8幢302, 8号2-302, 302-1 and 302室阁楼 are 8幢2单元302室; 302室车库 is not; a road's 8号2-302 stays a
    house on the road."""
    unit_text = _in_chinese(unit) if chinese else str(unit)
    flat = address.parse(f"{place}{building}幢{unit}单元{room}室")
    writings = [
        f"{place}{unit_text}单元{building}{building_word}{room}{room_word}",
        f"{place}{building}号{unit}-{room}{room_word}",
        f"{place}{building}{building_word}{unit_text}单元{room}{room_word}-{part}",
        f"{place}{building}{building_word}{unit_text}单元{room}{room_word}阁楼",
    ]
    for written in writings:
        assert address.parse(written) == flat, written
    assert address.parse(f"{place}{building}{building_word}{unit_text}单元{room}{room_word}{annex}") != flat
    road = address.parse(f"解放路{building}号{unit}-{room}")
    assert road.place == f"解放路{building}号"
    assert address.parse(f"{place}{building}{building_word}{annex}").room is None  # which flat's is not said
    texts = [*writings, f"解放路{building}号{unit}-{room}"]
    assert address.parse_column(pl.Series(texts)).rows() == _as_rows(texts, [])


@settings(max_examples=200, deadline=None)
@given(
    building=st.integers(1, 40),
    unit=st.integers(1, 6),
    floor=st.integers(1, 33),
    door=st.integers(1, 12),
    part=st.integers(1, 9),
    house=st.integers(1, 300),
    marker=st.sampled_from(["幢", "栋", "号楼", "座"]),
    natural=st.sampled_from(["南田礁", "蟹钳浦", "外嘴"]),
    above=st.sampled_from(["宁波市", "浙江省宁波市"]),
)
def test_rooms_as_floor_and_door_parts_natural_villages_bare_houses_and_an_unwritten_city(
    building: int, unit: int, floor: int, door: int, part: int, house: int, marker: str, natural: str, above: str
) -> None:
    """17-1 is room 1701 and 8-2-302-1 room 302; 南田礁自然村75 is 南田礁75号; 宁波市 before a known prefix goes."""
    room = f"{floor}{door:02d}"
    prefixes = ["浙江省", "象山县", "石浦镇", "王家坑村"]
    same = [
        (f"海韵家园{building}{marker}{unit}单元{floor}-{door}", f"海韵家园{building}幢{unit}单元{room}室"),
        (f"海韵家园{building}-{unit}-{room}-{part}", f"海韵家园{building}幢{unit}单元{room}室"),
        (f"海韵家园{building}-{room}-{part}", f"海韵家园{building}幢{room}室"),
        (f"{natural}自然村{house}号", f"{natural}{house}号"),
        (f"王家坑村{natural}{house}", f"王家坑村{natural}{house}号"),
        (f"{above}象山县石浦镇{natural}{house}号", f"{natural}{house}号"),
    ]
    for written, plain in same:
        assert address.parse(written, prefixes) == address.parse(plain, prefixes), written
    assert address.parse(f"海韵家园{building}幢{unit}-{room}", prefixes).unit == str(unit)  # 2-302: unit and room
    assert address.parse(f"{above}{natural}{house}号", prefixes).place != natural  # no known prefix after it
    texts = [text for pair in same for text in pair]
    assert address.parse_column(pl.Series(texts), prefixes).rows() == _as_rows(texts, prefixes)


@settings(max_examples=100, deadline=None)
@given(
    natural=st.sampled_from(["竹岙", "下湾", "周家"]),
    village=st.sampled_from(["外塘村", "西头村"]),
    group=st.integers(1, 20),
    house=st.integers(1, 200),
)
def test_a_village_name_the_register_also_writes_as_a_place_is_cut_only_before_a_group(
    natural: str, village: str, group: int, house: int
) -> None:
    """竹岙3号 is 外塘村's natural village 竹岙 where the register writes it so; 竹岙3组5号 is still 竹岙村's group."""
    register = [f"浙江省象山县{village}{natural}{house}号", f"浙江省象山县{natural}村{group}组{house}号"]
    learnt = address.admin_prefixes(register, [village, f"{natural}村"])
    assert natural in learnt.places
    texts = [f"{natural}{house}号", f"{natural}{group}组{house}号"]
    assert address.parse(texts[0], learnt).place == natural
    assert address.parse(texts[1], learnt).group == str(group)
    unlearnt = address.Prefixes(learnt.full, learnt.guarded, learnt.kept)  # a register that never writes it so
    assert address.parse(texts[0], unlearnt).place is None
    assert address.parse_column(pl.Series(texts), learnt).rows() == _as_rows(texts, learnt)


def test_a_village_name_that_begins_an_estate_is_still_cut_before_a_house_number() -> None:
    """万兴新村 in the register does not make 万兴3号 a place: only a name and a number written so does (竹岙3号)."""
    learnt = address.admin_prefixes(
        ["慈溪市周巷镇万兴村2组3号", "慈溪市周巷镇万兴村万兴新村5幢101室"], ["周巷镇", "万兴村"]
    )
    assert learnt.places == ()
    assert address.parse("万兴3号", learnt).place is None


@settings(max_examples=150, deadline=None)
@given(
    place=st.sampled_from(["东海安置小区", "湖滨商住楼", "嘉禾花园"]),
    building=st.integers(1, 80),
    unit=st.integers(1, 6),
    room=st.integers(101, 2404),
    joint=st.sampled_from(["-", "－", " ", "/", "、"]),
    marked=st.booleans(),
)
def test_an_addresss_parts_joined_by_a_mark_are_the_parts(
    place: str, building: int, unit: int, room: int, joint: str, marked: bool
) -> None:
    """东海安置小区-9幢-1单元-802室 and 嘉禾花园 8 1 1602 (columns joined) are 9幢1单元802室 and 8幢1单元1602室."""
    parts = (
        [place, f"{building}幢", f"{unit}单元", f"{room}室"] if marked else [place, str(building), str(unit), str(room)]
    )
    written = joint.join(parts)
    assert address.parse(written) == address.parse(f"{place}{building}幢{unit}单元{room}室"), written
    assert address.parse_column(pl.Series([written])).rows() == _as_rows([written], [])


def test_a_variant_character_is_its_standard_form() -> None:
    """嶴 is the coast's 岙, in a village's name and a natural village's: 马嶴村青嶴68号 is 马岙村青岙68号."""
    assert address.parse("马嶴村青嶴68号", ["马岙村"]) == address.parse("马岙村青岙68号", ["马岙村"])
    assert address.parse_column(pl.Series(["马嶴村青嶴68号"]), ["马岙村"]).rows() == _as_rows(
        ["马嶴村青嶴68号"], ["马岙村"]
    )


@settings(max_examples=200, deadline=None)
@given(first=st.text(st.sampled_from([*_STEM_CHARS, "岙", "峙", "竹"]), min_size=1, max_size=2),
       second=st.text(st.sampled_from([*_STEM_CHARS, "岙", "峙", "竹"]), min_size=1, max_size=2))  # fmt: skip
def test_a_name_of_two_characters_is_another_place_unless_it_reads_the_same(first: str, second: str) -> None:
    """峙岙 is not a typo of 竹岙: two characters leave no room for one."""
    same = first == second or pinyin_key(first) == pinyin_key(second)
    assert bool(address.place_matches([first], [second])[first]) == same
