"""The dwelling grade, tested on how community workers write a flat, not on
what the synthetic city generator writes.

Flats are drawn at random in a small gazetteer (several compounds, buildings,
units, and room numbers that repeat across the units of one building, as real
ones do); each roll address is one flat rewritten in any combination of the
styles workers use: prefixes of city / street / community, 幢 / 栋 / 号楼 / 座 /
# / 号, Chinese numerals and full-width digits, the 单元 left out or written as
`8-4-902` / `8幢4-902`, 室 / 号 / 房 / nothing, a compound suffix or 新村
dropped, stray spaces and a note at the end.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconcile.address import COMPOUND_SUFFIXES, Prefixes, _without_suffix, admin_prefixes, parse, parse_column
from reconcile.dwelling import PARTS, Grade, Parts, grade, grade_expr, locate, stem_expr

COMMUNITY = "330282001001"
PREFIXES = ["浙江省宁波市慈溪市", "浙江省", "宁波市", "慈溪市", "浒山街道", "华联社区"]
ANCHORS = ("浒山街道", "华联社区")
"""The street's and community's names, as the register's columns give them (`reconcile.address.admin_prefixes`)."""
# Compound names whose shortened forms (suffix or 新村 dropped) are no other compound's name.
COMPOUNDS = [
    "文化广场",
    "教场山新村",
    "玉兰苑",
    "城东新村东区",
    "城东新村西区",
    "金山花园",
    "阳光小区",
    "青少年宫家园",
    "银河公寓",
    "金色花园一期",
    "金色花园二期",
]
SUFFIXES = ("新村", "小区", "花园", "家园", "公寓", "苑")
HOMOPHONES = {"东": "冬", "新": "欣", "园": "苑", "兰": "蓝", "城": "成", "区": "曲"}
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
CN_DIGITS = "〇一二三四五六七八九"


@dataclass(frozen=True)
class Flat:
    place: str
    building: int
    unit: int
    room: int

    def registered(self) -> str:
        """The register's full form."""
        return f"浙江省宁波市慈溪市浒山街道华联社区{self.place}{self.building}幢{self.unit}单元{self.room}室"


def _tens(n: int) -> str:
    """十二, 二十, 八: the way a building or unit number is said."""
    if n < 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")


@st.composite
def number(draw: st.DrawFn, n: int, *, room: bool = False) -> str:
    style = draw(st.sampled_from(["arabic", "full", "chinese"]))
    if style == "arabic":
        return str(n)
    if style == "full":
        return str(n).translate(FULL_WIDTH)
    # Rooms are read digit by digit (九〇二), smaller numbers as spoken (十二).
    return "".join(CN_DIGITS[int(d)] for d in str(n)) if room or n > 99 else _tens(n)


@st.composite
def place_as_written(draw: st.DrawFn, place: str) -> str:
    forms = [place]
    for suffix in SUFFIXES:
        if place.endswith(suffix) and len(place) - len(suffix) >= 2:
            forms.append(place[: -len(suffix)])
    if "新村" in place and not place.endswith("新村"):
        forms.append(place.replace("新村", ""))
    # A character heard, not read: a homophone (冬 for 东, 欣 for 新, 苑 for 园).
    forms += [place.replace(a, b, 1) for a, b in HOMOPHONES.items() if a in place]
    # A phase in digits (金色花园2期 for 金色花园二期).
    forms += [place.replace(f"{c}期", f"{i}期") for i, c in enumerate(CN_DIGITS) if f"{c}期" in place]
    return draw(st.sampled_from(forms))


@st.composite
def written(draw: st.DrawFn, flat: Flat, *, places: bool = True) -> tuple[str, bool]:
    """(one way a worker writes `flat`, whether the 单元 is written); `places=False` keeps the compound's name and
    the administrative names in full, as a register's system writes them."""
    full = ["", "慈溪市", "浒山街道", "华联社区", "慈溪市浒山街道", "浒山街道华联社区", "慈溪市浒山街道华联社区"]
    short = ["慈溪", "浒山", "浒山华联社区", "慈溪浒山街道", "慈溪浒山"]  # without their 市 or 街道
    prefix = draw(st.sampled_from(full + short if places else full))
    place = draw(place_as_written(flat.place)) if places else flat.place
    b = draw(st.sampled_from(["", "第"])) + draw(number(flat.building))
    u = draw(number(flat.unit))
    r = draw(number(flat.room, room=True))
    room_suffix = draw(st.sampled_from(["室", "号", "房", ""]))
    style = draw(st.sampled_from(["marker", "marker_no_unit", "dashes", "marker_dash"]))
    if style == "dashes":
        body = f"{flat.building}-{flat.unit}-{flat.room}"
        body = body.translate(FULL_WIDTH) if draw(st.booleans()) else body
    else:
        marker = draw(st.sampled_from(["幢", "栋", "号楼", "座", "#", "号"]))
        if style == "marker":
            body = f"{b}{marker}{u}单元{r}{room_suffix}"
        elif style == "marker_dash":
            body = f"{flat.building}{marker if marker != '号' else '幢'}{flat.unit}-{flat.room}"
        else:
            # 8号902 reads as a door number; 8号楼902 / 8幢902 are the building and room.
            body = f"{b}{marker if marker != '号' else '号楼'}{r}{room_suffix}"
    note = draw(st.sampled_from(["", "", "（出租）", "(借住)", "出租", "自住"]))
    text = prefix + place + body + note
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + " " + text[at:]
    return text, style != "marker_no_unit"


@st.composite
def gazetteer_and_flat(draw: st.DrawFn) -> tuple[list[Flat], Flat]:
    """A building's worth of registered flats around one target flat, and flats elsewhere."""
    target = Flat(draw(st.sampled_from(COMPOUNDS)), draw(st.integers(1, 40)), draw(st.integers(1, 6)), _room(draw))
    others = draw(
        st.lists(
            st.builds(
                Flat,
                st.sampled_from(COMPOUNDS),
                st.integers(1, 40),
                st.integers(1, 6),
                st.integers(1, 25).flatmap(lambda f: st.integers(1, 4).map(lambda r: f * 100 + r)),
            ),
            max_size=6,
        )
    )
    # The same room number in another unit of the same building: the 单元 is what tells them apart.
    if draw(st.booleans()):
        others.append(Flat(target.place, target.building, target.unit % 6 + 1, target.room))
    return [target, *[f for f in others if f != target]], target


def _room(draw: st.DrawFn) -> int:
    return draw(st.integers(1, 25)) * 100 + draw(st.integers(1, 4))


def _located(
    register: list[str], roll: list[str], prefixes: Prefixes | None = None, *, anchors: tuple[str, ...] = ANCHORS
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The register's and the roll's addresses located, with the prefixes learnt from the register (or given).

    A register holds rows in its full form too, whatever the few drawn here: one is among what it is learnt from.
    """
    if prefixes is None:
        prefixes = admin_prefixes([*register, f"浙江省宁波市慈溪市{''.join(anchors)}某小区1幢101室"], anchors)

    def frame(addresses: list[str]) -> pl.DataFrame:
        parsed = parse_column(pl.Series(addresses, dtype=pl.String), prefixes)
        return parsed.with_columns(pl.lit(COMMUNITY).alias("community_code"), pl.Series("address_raw", addresses))

    return locate(frame(register), frame(roll))


def _grades(register: pl.DataFrame, roll_row: dict[str, object]) -> list[int]:
    """The grade of one roll address against every register row."""
    left = register.select([pl.col(p).alias(f"r_{p}") for p in PARTS])
    right = pl.DataFrame([roll_row] * register.height).select([pl.col(p).alias(f"l_{p}") for p in PARTS])
    return pl.concat([left, right], how="horizontal").select(grade_expr("r_", "l_"))["grade"].to_list()


@pytest.mark.slow  # hundreds of property examples: make test, not make check
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_way_of_writing_a_flat_names_that_flat_and_no_other(data: st.DataObject) -> None:
    flats, target = data.draw(gazetteer_and_flat())
    text, with_unit = data.draw(written(target))
    register, roll = _located([f.registered() for f in flats], [text])
    row = roll.row(0, named=True)
    grades = _grades(register, row)

    assert Grade(grades[0]).lives_there, (text, grades[0])
    if with_unit:
        assert grades[0] == Grade.SAME_FLAT
        assert row["flat"] == register["flat"][0]
    # It may name another registered flat only where it leaves out what tells them apart.
    for other, g in zip(flats[1:], grades[1:], strict=True):
        if Grade(g).lives_there:
            assert other.place == target.place
            assert other.building == target.building
            assert other.room == target.room
            assert not with_unit
    # Resolved to the target flat, or left unresolved (a key of its own): never to another flat.
    assert row["flat"] == register["flat"][0] or (row["flat"].startswith("~") and row["flat_fits"] > 1)
    assert row["flat_fits"] == sum(Grade(g).lives_there for g in grades)


@pytest.mark.slow  # hundreds of property examples: make test, not make check
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_two_different_flats_written_in_full_are_never_the_same_flat(data: st.DataObject) -> None:
    flats, target = data.draw(gazetteer_and_flat())
    other = data.draw(st.sampled_from(flats))
    text, with_unit = data.draw(written(other))
    register, roll = _located([target.registered()], [text])
    g = Grade(_grades(register, roll.row(0, named=True))[0])
    if other != target:
        assert g != Grade.SAME_FLAT
        # Compatible only by leaving out the 单元 that tells the two apart.
        same_but_unit = (other.place, other.building, other.room) == (target.place, target.building, target.room)
        assert g.lives_there == (not with_unit and same_but_unit)


parts_strategy = st.builds(
    Parts,
    st.sampled_from([None, "U", "R"]),
    st.sampled_from([None, "文化广场", "玉兰苑"]),
    st.sampled_from([None, "8", "9", "902"]),  # 902: a number alone may be a village house's
    st.sampled_from([None, "1", "4"]),
    st.sampled_from([None, "902", "1104"]),
)


@given(parts_strategy, parts_strategy)
def test_grade_is_symmetric(a: Parts, b: Parts) -> None:
    assert grade(a, b) == grade(b, a)


@given(parts_strategy)
def test_an_address_is_the_same_flat_as_itself(a: Parts) -> None:
    assert grade(a, a) in (Grade.SAME_FLAT, Grade.UNKNOWN)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(parts_strategy, parts_strategy), min_size=1, max_size=40))
def test_the_column_grade_is_the_reference_grade(pairs: list[tuple[Parts, Parts]]) -> None:
    def row(side: str, p: Parts) -> dict[str, str | None]:
        return {
            f"{side}dw_class": p.cls,
            f"{side}dw_place": p.place,
            f"{side}dw_building": p.building,
            f"{side}dw_unit": p.unit,
            f"{side}dw_room": p.room,
        }

    frame = pl.DataFrame(
        [row("a_", a) | row("b_", b) for a, b in pairs],
        schema=dict.fromkeys(
            [f"{s}dw_{x}" for s in ("a_", "b_") for x in ("class", "place", "building", "unit", "room")], pl.String
        ),
    )
    got = frame.select(grade_expr("a_", "b_"))["grade"].to_list()
    assert got == [int(grade(a, b)) for a, b in pairs]


@pytest.mark.slow  # hundreds of property examples: make test, not make check
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_the_column_parser_reads_every_writing_style_as_the_scalar_parser(data: st.DataObject) -> None:
    _, target = data.draw(gazetteer_and_flat())
    text, _ = data.draw(written(target))
    a = parse(text, PREFIXES)
    got = parse_column(pl.Series([text]), PREFIXES).row(0)
    assert got == (a.kind, a.place, a.building, a.unit, a.room, a.group, a.number)
    assert unicodedata.normalize("NFKC", text)  # the text itself is never lost


def test_an_ambiguous_short_place_states_no_place() -> None:
    register, roll = _located(["金山花园8幢1单元902室", "金山新村8幢1单元902室"], ["金山8幢1单元902室"])
    row = roll.row(0, named=True)
    assert row["dw_place"] is None
    assert row["flat_fits"] == 2
    assert _grades(register, row) == [Grade.COMPATIBLE, Grade.COMPATIBLE]


VILLAGES = ["周家村", "鸣鹤村", "沈家路村", "西三村"]


@st.composite
def rural_written(draw: st.DrawFn, village: str, group: int, house: int) -> tuple[str, bool]:
    """(A village house as written, whether its 组 is): the town in full, short or left out; the village in full,
    without 村 or left out; numerals; 号 or not; or the 组 left out (its house numbers are the village's:
    万兴村63号, 63号), the number then ending in 号."""
    prefix = draw(st.sampled_from(["", "慈溪市", "观海卫镇", "慈溪市观海卫镇", "观海卫", "慈溪观海卫"]))
    place = draw(st.sampled_from([village, village.removesuffix("村"), ""]))
    with_group = draw(st.booleans())
    g = f"{draw(number(group))}组" if with_group else ""
    n = draw(st.sampled_from([str(house), str(house).translate(FULL_WIDTH)]))
    return f"{prefix}{place}{g}{n}{draw(st.sampled_from(['号', ''])) if with_group else '号'}", with_group


@pytest.mark.slow  # hundreds of property examples: make test, not make check
@settings(max_examples=300, deadline=None)
@given(
    village=st.sampled_from(VILLAGES),
    group=st.integers(1, 15),
    other_group=st.integers(1, 15),
    house=st.integers(1, 300),
    other_house=st.integers(1, 300),
    registered_group=st.booleans(),
    data=st.data(),
)
def test_any_way_of_writing_a_village_house_names_that_house(
    village: str,
    group: int,
    other_group: int,
    house: int,
    other_house: int,
    registered_group: bool,
    data: st.DataObject,
) -> None:
    """Either side may leave the 组 out; then a house of that number in another group fits too, another never."""
    assume(other_house != house and other_group != group)  # the neighbours are other houses
    text, with_group = data.draw(rural_written(village, group, house))
    registered = [
        f"浙江省宁波市慈溪市观海卫镇{village}{f'{group}组' if registered_group else ''}{house}号",
        f"浙江省宁波市慈溪市观海卫镇{village}{group}组{other_house}号",
        f"浙江省宁波市慈溪市观海卫镇{village}{other_group}组{house}号",
    ]
    # The community is the village (村委会): its name is among the prefixes, as the register's anchors make it.
    register, roll = _located(registered, [text], anchors=("观海卫镇", village))
    grades = [Grade(g) for g in _grades(register, roll.row(0, named=True))]
    row = roll.row(0, named=True)
    assert grades[0].lives_there, (registered[0], text)
    assert not grades[1].lives_there, text  # another house of the same group
    # That number in another group: only where a side leaves the 组 out.
    assert grades[2].lives_there == (not with_group), text
    assert row["flat"] == register["flat"][0] or (row["flat"].startswith("~") and row["flat_fits"] > 1), text


def test_a_number_alone_names_no_house_of_another_place() -> None:
    """城东新村63号 in a village community is building 63 of an estate, not the village's house 63."""
    registered = ["浙江省宁波市慈溪市观海卫镇鸣鹤村5组63号", "浙江省宁波市慈溪市观海卫镇鸣鹤村鸣鹤路63号"]
    register, roll = _located(registered, ["城东新村63号", "鸣鹤村63号"], anchors=("观海卫镇", "鸣鹤村"))
    lives = [[Grade(g).lives_there for g in _grades(register, r)] for r in roll.iter_rows(named=True)]
    assert lives == [[False, False], [True, True]]  # 鸣鹤村63号: the 5组 house or the road's, as the link decides


@pytest.mark.slow  # hundreds of property examples: make test, not make check
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_an_address_that_does_not_say_which_door_names_no_flat(data: st.DataObject) -> None:
    """Only the 单元 and the compound may be left out: without the building or the door, or in words the
    parser cannot read, an address says the compound at most, and nobody is 人户一致 on that."""
    flats, target = data.draw(gazetteer_and_flat())
    b = data.draw(number(target.building))
    marker = data.draw(st.sampled_from(["幢", "栋", "号楼", "座"]))
    text = data.draw(
        st.sampled_from(
            [
                f"{target.place}{b}{marker}",  # the building only
                f"{target.place}{b}{marker}{target.unit}单元",  # building and unit, no door
                f"{target.place}{target.unit}单元{target.room}室",  # no building
                target.place,  # the compound only
                f"{target.place}{b}{marker}地下室",  # words instead of a door
                f"{target.place}{b}{marker}{target.unit}单元{target.room}室、{target.room + 1}室",  # two doors
            ]
        )
    )
    register, roll = _located([f.registered() for f in flats], [text])
    assert not any(Grade(g).lives_there for g in _grades(register, roll.row(0, named=True))), text
    assert roll["flat_fits"][0] == 0


@pytest.mark.slow  # hundreds of property examples: make test, not make check
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_the_register_may_write_the_flat_another_way_too(data: st.DataObject) -> None:
    """Police extracts are not always in the full form either: one row may drop the compound's suffix, the
    unit or write numbers and markers another way while its neighbours are written in full. Whichever style
    each side uses, the two still name one flat, and a neighbouring flat written in full is never that flat.
    (The register's names come from a system: a suffix left out, not a homophone or a middle dropped.)"""
    flats, target = data.draw(gazetteer_and_flat())
    suffix = next((s for s in sorted(SUFFIXES, key=len, reverse=True) if target.place.endswith(s)), "")
    place = data.draw(st.sampled_from([target.place, target.place.removesuffix(suffix) or target.place]))
    registered, _ = data.draw(written(Flat(place, target.building, target.unit, target.room), places=False))
    text, _ = data.draw(written(target))
    register, roll = _located([registered, *[f.registered() for f in flats[1:]]], [text])
    grades = _grades(register, roll.row(0, named=True))
    assert Grade(grades[0]).lives_there, (registered, text)
    for other, g in zip(flats[1:], grades[1:], strict=True):
        if Grade(g) == Grade.SAME_FLAT:
            raise AssertionError((other, text))


@pytest.mark.parametrize(
    ("text", "unit_written"),
    [
        ("文化广场A座1单元302室", True),
        ("文化广场a座1-302", True),
        ("文化广场A-1-302", True),
        ("文化广场Ａ幢1单元302", True),
        ("文化广场A座302室", False),
    ],
)
def test_a_building_named_by_a_letter_is_that_building(text: str, unit_written: bool) -> None:
    """Newer estates letter their buildings (A座): the letter is the building, and only its flat is named."""
    registered = ["文化广场A座1单元302室", "文化广场A座1单元1302室", "文化广场B座1单元302室", "文化广场A座2单元302室"]
    register, roll = _located([f"浙江省宁波市慈溪市浒山街道华联社区{r}" for r in registered], [text])
    lives = [Grade(g).lives_there for g in _grades(register, roll.row(0, named=True))]
    assert lives == [True, False, False, not unit_written], text  # without its unit, A座2单元302 too


@settings(max_examples=200, deadline=None)
@given(
    stem=st.text(alphabet="中塘金山城东新村小区花园苑", min_size=0, max_size=4),
    suffix=st.sampled_from(["", *sorted(COMPOUND_SUFFIXES)]),
)
def test_a_stem_is_the_name_without_the_suffix_the_scalar_rule_takes(stem: str, suffix: str) -> None:
    """`stem_expr` (polars) and the suffix `place_similarity` leaves out (`_without_suffix`) are one rule."""
    name = stem + suffix
    cut = _without_suffix(name)
    expected = cut if cut != name and len(cut) >= 2 else None
    assert pl.select(stem_expr(pl.lit(name))).item() == expected
