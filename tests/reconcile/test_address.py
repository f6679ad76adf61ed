import pytest

from reconcile import address

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
    ],
)
def test_spellings_of_one_flat_share_a_dwelling_key(written: str) -> None:
    reference = address.dwelling_key(address.parse("城东新村东区12幢3单元301室"))
    assert address.dwelling_key(address.parse(written, PREFIXES)) == reference


def test_other_flats_differ() -> None:
    a = address.dwelling_key(address.parse("城东新村东区12幢3单元301室"))
    assert a != address.dwelling_key(address.parse("城东新村东区12幢3单元302室"))
    assert a != address.dwelling_key(address.parse("城东新村东区12幢2单元301室"))


def test_shortened_compound_name_maps_to_the_register_spelling() -> None:
    known = ["城东新村东区", "金山花园", "阳光小区"]
    mapping = address.canonical_places(["城东东区", "城东欣村东区", "金山花苑"], known)
    assert mapping == {"城东东区": "城东新村东区", "城东欣村东区": "城东新村东区", "金山花苑": "金山花园"}


def test_unrelated_place_is_not_forced_onto_the_gazetteer() -> None:
    assert address.canonical_places(["海港公寓"], ["城东新村东区"]) == {"海港公寓": "海港公寓"}


def test_rural_address() -> None:
    parsed = address.parse("慈溪市周巷镇周家村三组15号", ["慈溪市", "周巷镇"])
    assert (parsed.kind, parsed.place, parsed.group, parsed.number) == ("rural", "周家村", "3", "15")


def test_chinese_numerals() -> None:
    assert [address.chinese_number(t) for t in ("三", "十", "十二", "二十一", "一百零五")] == [3, 10, 12, 21, 105]


def test_prefixes_are_learnt_from_register_addresses() -> None:
    learnt = address.admin_prefixes(["浙江省宁波市慈溪市浒山街道某社区某小区1幢1单元101室"], ["浒山街道"])
    assert {"浙江省宁波市慈溪市", "浙江省", "宁波市", "慈溪市"} <= set(learnt)


def test_a_bracket_inside_a_name_stays() -> None:
    assert address.parse("金山花园(一期)12幢3单元301室").place == "金山花园(一期)"
