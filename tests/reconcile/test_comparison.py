"""The comparison set: one object per field, from which levels, labels, parameters and columns come."""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING

import polars as pl
import pytest

from reconcile import model, names
from reconcile.block import candidate_pairs
from reconcile.compare import (
    ADDRESS,
    BIRTH,
    COMPARISONS,
    HOUSEHOLD,
    ID,
    NAME,
    SEX,
    address_level,
    compare,
    id_levels,
    name_level,
    name_levels,
)
from reconcile.comparison import MISSING, Comparison, ComparisonLevel, ComparisonSet
from reconcile.dwelling import Grade
from tests.reconcile.helpers import prepared

if TYPE_CHECKING:
    from pathlib import Path


def _none(frame: pl.DataFrame) -> pl.Expr:
    return pl.lit(-1, dtype=pl.Int8)


def _level(value: int, key: str, m: float = 0.5, u: float = 0.5) -> ComparisonLevel:
    return ComparisonLevel(value, key, f"label {key}", initial_m=m, default_u=u)


def test_the_set_is_the_six_fields_in_column_order() -> None:
    assert COMPARISONS.names == ("id", "name", "birth", "sex", "address", "household")
    assert list(COMPARISONS) == [ID, NAME, BIRTH, SEX, ADDRESS, HOUSEHOLD]
    assert COMPARISONS.columns == [f"{n}_lvl" for n in COMPARISONS.names]
    assert COMPARISONS.weight_columns == [f"w_{n}" for n in COMPARISONS.names]
    assert COMPARISONS["address"] is ADDRESS
    assert "sex" in COMPARISONS
    assert "phone" not in COMPARISONS
    with pytest.raises(KeyError):
        COMPARISONS["phone"]


@pytest.mark.parametrize("comparison", list(COMPARISONS), ids=lambda c: c.name)
def test_levels_are_distinct_best_first_and_labelled(comparison: Comparison) -> None:
    values = comparison.values
    assert len(set(values)) == len(values)
    assert list(values) == sorted(values, reverse=True)
    assert MISSING not in values
    assert min(values) == 0
    assert len({lvl.key for lvl in comparison.levels}) == len(values)
    assert comparison.label_zh
    assert all(lvl.label for lvl in comparison.levels)
    assert set(comparison.labels) == {*values, MISSING}
    assert comparison.labels[MISSING] == comparison.missing_label


@pytest.mark.parametrize("comparison", list(COMPARISONS), ids=lambda c: c.name)
def test_initial_m_and_default_u_are_distributions(comparison: Comparison) -> None:
    for probabilities in (comparison.initial_m, comparison.default_u):
        assert set(probabilities) == set(comparison.values)
        assert all(0 < p < 1 for p in probabilities.values())
        assert math.isclose(sum(probabilities.values()), 1.0, abs_tol=1e-9)
    # The best level is the one evidence of a match: likelier among matches than among random pairs.
    best = comparison.values[0]
    assert comparison.initial_m[best] > comparison.default_u[best] or comparison is SEX


def test_levels_are_found_by_name() -> None:
    assert NAME.level("exact").value == 4
    assert ID.level("same").value == 3
    assert ADDRESS.level("same_flat").value == int(Grade.SAME_FLAT)
    assert ADDRESS.level("compatible").value == int(Grade.COMPATIBLE)
    with pytest.raises(KeyError, match="no level 'exactly'"):
        NAME.level("exactly")


@pytest.mark.parametrize(
    "levels",
    [
        (_level(1, "a"), _level(1, "b")),  # values repeat
        (_level(0, "a"), _level(1, "b")),  # worst first
        (_level(1, "a"), _level(-1, "b")),  # a value that means missing
        (_level(1, "a"), _level(0, "a")),  # keys repeat
        (_level(1, "a", m=0.9, u=0.5), _level(0, "b", m=0.2, u=0.5)),  # m sums past 1
        (_level(1, "a", m=1.0, u=0.5), _level(0, "b", m=0.0, u=0.5)),  # an impossible level
        (_level(1, "a", m=0.5, u=0.5), _level(0, "b", m=0.5, u=0.6)),  # u sums past 1
        (),
    ],
)
def test_a_malformed_comparison_is_refused(levels: tuple[ComparisonLevel, ...]) -> None:
    with pytest.raises(ValueError, match="bad"):
        Comparison("bad", "坏", levels, _none)


def test_a_level_needs_a_label() -> None:
    with pytest.raises(ValueError, match="label"):
        Comparison("bad", "坏", (ComparisonLevel(1, "a", "", 0.5, 0.5), _level(0, "b")), _none)


def test_a_set_refuses_two_comparisons_of_one_name() -> None:
    with pytest.raises(ValueError, match="distinct"):
        ComparisonSet((SEX, SEX))


def test_the_model_starts_from_the_objects() -> None:
    # A fresh copy each time: estimation may not change the definitions.
    first = COMPARISONS.initial_m()
    first["name"][4] = 0.0
    assert COMPARISONS.initial_m()["name"][4] == NAME.level("exact").initial_m
    assert set(model.WEIGHT_COLUMNS) == set(COMPARISONS.weight_columns)
    sessions_fields = {f for s in model.DEFAULT_SESSIONS for f in s.fields}
    assert sessions_fields <= set(COMPARISONS.names)


def _model() -> model.Model:
    return model.Model(m=COMPARISONS.initial_m(), u=COMPARISONS.default_u(), prior=1e-4)


def test_the_parameter_table_has_one_row_per_level() -> None:
    table = _model().as_table()
    assert table.select("field", "level").rows() == [(c.name, v) for c in COMPARISONS for v in c.values]
    exact = table.filter((pl.col("field") == "name") & (pl.col("level") == 4))
    assert exact["m"].item() == NAME.level("exact").initial_m
    assert exact["weight"].item() == pytest.approx(math.log2(0.85 / 4e-5))


def test_estimation_returns_every_level_of_every_comparison() -> None:
    levels = pl.DataFrame(
        {c.column: [c.values[0], c.values[-1], MISSING] for c in COMPARISONS},
        schema=dict.fromkeys(COMPARISONS.columns, pl.Int8),
    )
    fitted = model.estimate(levels, COMPARISONS.default_u(), max_iterations=3)
    for c in COMPARISONS:
        assert set(fitted.m[c.name]) == set(c.values)
        assert all(0 < p < 1 for p in fitted.m[c.name].values())


def test_scoring_weighs_each_comparison_and_tf_adjusts_exact_names() -> None:
    fitted = _model()
    fitted.name_tf = pl.DataFrame({"name": ["张伟"], "tf": [0.01]})
    exact, sound = NAME.level("exact").value, NAME.level("sound_or_shape").value
    levels = pl.DataFrame(
        {
            **{c.column: [c.values[0]] * 3 for c in COMPARISONS},
            "reg_name": ["张伟", "张伟", "欧阳娜娜"],
        },
        schema_overrides=dict.fromkeys(COMPARISONS.columns, pl.Int8),
    ).with_columns(pl.Series(NAME.column, [exact, sound, exact], dtype=pl.Int8))
    scored = model.score(levels, fitted)
    assert set(COMPARISONS.weight_columns) <= set(scored.columns)
    w_name = scored[NAME.weight_column].to_list()
    assert w_name[0] == pytest.approx(math.log2(NAME.level("exact").initial_m / 0.01))
    assert w_name[1] == pytest.approx(math.log2(0.07 / 2e-5))
    assert w_name[2] == w_name[0]  # an unseen name counts as the rarest seen
    for c in COMPARISONS:
        if c is not NAME:
            assert scored[c.weight_column][0] == pytest.approx(fitted.bayes_factor_log2(c.name, c.values[0]))


@pytest.mark.parametrize(
    ("a", "b", "key"),
    [
        ("张伟", "张伟", "exact"),
        ("张伟", "张玮", "sound_or_shape"),
        ("侯伟", "候伟", "sound_or_shape"),
        ("张小伟", "张伟", "one_character"),
        ("张伟", "李强", "different"),
    ],
)
def test_name_levels_compute_the_named_level(a: str, b: str, key: str) -> None:
    def s(*values: str) -> pl.Series:
        return pl.Series(values, dtype=pl.String)

    got = name_levels(
        s(a), s(b), s(names.pinyin_key(a)), s(names.pinyin_key(b)), s(names.shape_key(a)), s(names.shape_key(b))
    )
    assert got.to_list() == [NAME.level(key).value] == [name_level(a, b)]


def test_id_levels_compute_the_named_levels() -> None:
    reg = pl.Series(["110101199003071234", "110101199003071234", "110101199003071234", None])
    roll = pl.Series(["110101199003071234", "110101199003071284", "320102198512120021", "110101199003071234"])
    got = id_levels(reg, reg, roll, roll).to_list()
    assert got == [ID.level("same").value, ID.level("slip").value, ID.level("different").value, MISSING]


def test_birth_and_sex_compute_the_named_levels() -> None:
    joined = pl.DataFrame(
        {
            "r_birth": [date(1990, 3, 7), date(1990, 3, 7), date(1990, 3, 7), date(1990, 3, 7), None],
            "l_birth": [date(1990, 3, 7), date(1990, 3, 8), date(1990, 7, 3), date(1985, 12, 1), date(1990, 3, 7)],
            "r_sex": ["男", "男", "女", None, "女"],
            "l_sex": ["男", "女", "女", "男", "女"],
        }
    )
    out = joined.select(BIRTH.compute(joined).alias("birth"), SEX.compute(joined).alias("sex"))
    birth = [BIRTH.level(k).value for k in ("same", "one_part", "one_part", "different")] + [MISSING]
    sex = [SEX.level("same").value, SEX.level("different").value, SEX.level("same").value, MISSING, 1]
    assert out["birth"].to_list() == birth
    assert out["sex"].to_list() == sex


def test_address_level_computes_the_named_levels() -> None:
    frame = pl.DataFrame(
        {
            "grade": [int(Grade.SAME_FLAT), int(Grade.COMPATIBLE), int(Grade.SAME_BUILDING), int(Grade.UNKNOWN), 4],
            "same": [True, True, True, True, False],
        }
    )
    got = frame.select(address_level(pl.col("grade"), pl.col("same")))["address_lvl"].to_list()
    keys = ["same_flat", "compatible", "same_building", "same_community", "other_community"]
    assert got == [ADDRESS.level(k).value for k in keys]


def test_compare_writes_one_column_per_comparison_with_declared_levels_only(small_city: dict[str, Path]) -> None:
    register, roll = prepared(small_city)
    pairs = candidate_pairs(register, roll).select("rid", "lid")
    levels = compare(pairs, register, roll, chunk_size=max(1, pairs.height // 3))
    assert levels.columns == ["rid", "lid", *COMPARISONS.columns, "reg_name"]
    assert levels.height == pairs.height
    for c in COMPARISONS:
        assert levels[c.column].dtype == pl.Int8
        assert set(levels[c.column].unique().to_list()) <= {*c.values, MISSING}
    assert levels[HOUSEHOLD.column].unique().to_list() == [MISSING]  # filled in later, by reconcile.household
    for c in (ID, NAME, BIRTH, SEX, ADDRESS):
        assert c.values[0] in set(levels[c.column].to_list()), c.name
