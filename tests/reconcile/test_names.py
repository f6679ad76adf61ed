import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconcile import names
from reconcile.compare import name_level


@pytest.mark.parametrize(
    ("raw", "folded"),
    [(" 张 伟 ", "张伟"), ("阿依古丽•买买提", "阿依古丽·买买提"), ("阿依古丽 . 买买提", "阿依古丽·买买提"), ("", None)],
)
def test_fold(raw: str, folded: str | None) -> None:
    assert names.fold(raw) == folded


def test_traditional_to_simplified() -> None:
    assert names.simplified("張偉") == "张伟"
    assert names.simplified("劉麗") == "刘丽"


def test_surname_readings() -> None:
    assert names.pinyin_key("单伟").startswith("shan ")
    assert names.pinyin_key("曾强").startswith("zeng ")
    assert names.surname_of("欧阳娜娜") == "欧阳"


def test_name_levels_order_evidence() -> None:
    exact = name_level("张伟", "张伟")
    homophone = name_level("张伟", "张玮")
    lookalike = name_level("侯伟", "候伟")
    other = name_level("张伟", "李强")
    assert exact > homophone >= name_level("张伟", "章伟") > other
    assert lookalike == homophone
    assert name_level("张小伟", "张伟") == 2
    assert name_level(None, "张伟") == -1


_NAMES = st.text(
    alphabet=st.one_of(
        st.sampled_from("张单曾欧阳司马诸葛候侯已巳阿依古丽买买提·伟玮娜"),
        st.characters(codec="utf-8"),  # any character polars can hold
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.none(), _NAMES), max_size=20))
@example(values=[])
@example(values=["", "·", "··", None, "单", "·单", "欧阳·"])
def test_column_keys_equal_the_scalar_keys(values: list[str | None]) -> None:
    column = pl.Series(values, dtype=pl.String)
    assert names.pinyin_keys(column).to_list() == [None if v is None else names.pinyin_key(v) for v in values]
    assert names.surnames(column).to_list() == [None if v is None else names.surname_of(v) for v in values]
    assert names.shape_keys(column).to_list() == [None if v is None else names.shape_key(v) for v in values]
