"""Fellegi–Sunter model: EM, u from random pairs, the prior, scoring, name frequencies."""

from __future__ import annotations

import itertools
import math
import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from reconcile.model import (
    Model,
    estimate,
    estimate_prior,
    estimate_u,
    name_frequencies,
    random_pairs,
    register_name_tf,
    score,
    strata,
)
from reconcile.prepare import prepare
from schemas.inputs import REGISTER, ROLL
from tests.reconcile.helpers import SECRET, raw_frame, valid_id

LEVELS: dict[str, tuple[int, ...]] = {
    "id": (3, 2, 0),
    "name": (4, 3, 2, 1, 0),
    "birth": (2, 1, 0),
    "sex": (1, 0),
    "address": (4, 3, 2, 1, 0),
    "household": (1, 0),
}
LEVEL_SCHEMA = {f"{f}_lvl": pl.Int8 for f in LEVELS}

# How often each level occurs between two different people (the non-matches below are drawn from it).
U: dict[str, dict[int, float]] = {
    "id": {3: 1e-6, 2: 1e-5, 0: 1 - 1.1e-5},
    "name": {4: 1e-3, 3: 1e-3, 2: 0.05, 1: 0.05, 0: 0.898},
    "birth": {2: 1e-3, 1: 0.1, 0: 0.899},
    "sex": {1: 0.5, 0: 0.5},
    "address": {4: 1e-3, 3: 1e-3, 2: 1e-3, 1: 0.2, 0: 0.797},
    "household": {1: 1e-4, 0: 1 - 1e-4},
}
# How often it occurs for one person written twice.
M: dict[str, dict[int, float]] = {
    "id": {3: 0.9, 2: 0.05, 0: 0.05},
    "name": {4: 0.9, 3: 0.05, 2: 0.03, 1: 0.01, 0: 0.01},
    "birth": {2: 0.95, 1: 0.03, 0: 0.02},
    "sex": {1: 0.99, 0: 0.01},
    "address": {4: 0.6, 3: 0.1, 2: 0.05, 1: 0.15, 0: 0.1},
    "household": {1: 0.7, 0: 0.3},
}


def _draw(rng: random.Random, shares: dict[int, float]) -> int:
    return rng.choices(list(shares), weights=list(shares.values()))[0]


def _levels(rows: list[dict[str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{col: row.get(col.removesuffix("_lvl"), -1) for col in LEVEL_SCHEMA} for row in rows], schema=LEVEL_SCHEMA
    )


def _candidates(matches: int, non_matches: int, seed: int = 1) -> pl.DataFrame:
    """Candidate pairs: matches agree (with a few slips), non-matches are drawn from U; no household evidence."""
    rng = random.Random(seed)
    fields = [f for f in LEVELS if f != "household"]
    rows = [
        {"id": 3, "name": 4 if i % 10 else 3, "birth": 2, "sex": 1, "address": 4 if i % 5 else 1}
        for i in range(matches)
    ]
    rows += [{f: _draw(rng, U[f]) for f in fields} for _ in range(non_matches)]
    return _levels(rows)


# --- EM -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained() -> Model:
    return estimate(_candidates(300, 700), U, comparisons=1_000_000)


def test_em_learns_that_matches_agree(trained: Model) -> None:
    m = trained.m
    assert m["id"][3] > 0.9
    assert m["name"][4] > 0.8
    assert m["name"][3] > m["name"][2]  # the slips seen among matches
    assert m["birth"][2] > 0.9
    assert m["sex"][1] > 0.9
    assert m["address"][4] > 0.7
    for f in ("id", "name", "birth", "sex", "address"):
        assert m[f][0] < 0.05, f


def test_em_weights_reward_agreement_and_punish_disagreement(trained: Model) -> None:
    for f, best in (("id", 3), ("name", 4), ("birth", 2), ("address", 4)):
        assert trained.bayes_factor_log2(f, best) > 5, f
        assert trained.bayes_factor_log2(f, 0) < 0, f
    assert trained.bayes_factor_log2("name", -1) == 0.0


def test_em_m_are_probabilities(trained: Model) -> None:
    for f, levels in trained.m.items():
        assert set(levels) == set(LEVELS[f])
        assert all(0 < p <= 1 for p in levels.values())
        assert sum(levels.values()) == pytest.approx(1.0, abs=1e-2), f


def test_em_finds_the_share_of_matches_among_candidates(trained: Model) -> None:
    assert trained.candidate_prior == pytest.approx(0.3, abs=0.02)
    assert trained.em_iterations > 0


def test_model_table_has_one_row_per_field_level(trained: Model) -> None:
    table = trained.as_table()
    assert table.height == sum(len(v) for v in LEVELS.values())
    row = table.filter((pl.col("field") == "birth") & (pl.col("level") == 2)).row(0, named=True)
    assert row["weight"] == pytest.approx(math.log2(row["m"] / row["u"]))


@pytest.mark.parametrize("comparisons", [None, 10_000, 1_000_000])
def test_prior_spreads_candidate_matches_over_all_possible_pairs(comparisons: int | None) -> None:
    levels = _candidates(300, 700)
    model = estimate(levels, U, comparisons=comparisons)
    all_pairs = comparisons or levels.height
    assert model.prior == pytest.approx(model.candidate_prior * levels.height / all_pairs, rel=1e-9)


def test_pairs_found_by_a_rule_do_not_teach_the_field_it_blocked_on() -> None:
    """The ID rule's pairs agree on ID by construction: m(id) may not be learnt from them alone."""
    bits = {"id": 1, "pinyin_birth": 2}
    agreeing = _candidates(300, 0)
    disagreeing = agreeing.with_columns(pl.lit(0, dtype=pl.Int8).alias("id_lvl"))
    only_id_rule = pl.Series([1] * agreeing.height, dtype=pl.UInt32)
    a = estimate(agreeing, U, rules=only_id_rule, rule_bits=bits)
    b = estimate(disagreeing, U, rules=only_id_rule, rule_bits=bits)
    assert a.m["id"] == b.m["id"]
    # The same pairs found by the other rule too do teach it.
    both_rules = pl.Series([3] * agreeing.height, dtype=pl.UInt32)
    assert estimate(agreeing, U, rules=both_rules, rule_bits=bits).m["id"][3] > a.m["id"][3]


@pytest.mark.parametrize("matches", [100, 300, 600])
def test_estimate_prior_recovers_the_share_of_matches(matches: int) -> None:
    levels = _candidates(matches, 1_000 - matches, seed=matches)
    random_prior, candidate_prior = estimate_prior(levels, M, U, comparisons=1_000_000)
    assert candidate_prior == pytest.approx(matches / 1_000, abs=0.03)
    assert random_prior == pytest.approx(candidate_prior * 1_000 / 1_000_000)


def test_estimate_prior_of_no_candidates_is_tiny() -> None:
    random_prior, candidate_prior = estimate_prior(_levels([]), M, U, comparisons=10)
    assert 0 < random_prior < 1e-6
    assert 0 < candidate_prior < 1e-3


# --- scoring --------------------------------------------------------------------------------------


def _model(prior: float = 1e-4, name_tf: pl.DataFrame | None = None) -> Model:
    if name_tf is None:
        return Model(m=M, u=U, prior=prior)
    return Model(m=M, u=U, prior=prior, name_tf=name_tf)


LADDER = [  # each row agrees on more than the one before
    {"id": 0, "name": 0, "birth": 0, "sex": 0, "address": 0},
    {"id": 0, "name": 1, "birth": 0, "sex": 1, "address": 1},
    {"id": 0, "name": 3, "birth": 1, "sex": 1, "address": 1},
    {"id": 0, "name": 4, "birth": 2, "sex": 1, "address": 2},
    {"id": 2, "name": 4, "birth": 2, "sex": 1, "address": 4},
    {"id": 3, "name": 4, "birth": 2, "sex": 1, "address": 4, "household": 1},
]


def test_score_rises_with_agreement_and_stays_a_probability() -> None:
    scored = score(_levels(LADDER), _model())
    weights = scored["match_weight"].to_list()
    probabilities = scored["match_probability"].to_list()
    assert weights == sorted(weights)
    assert len(set(weights)) == len(weights)
    assert probabilities == sorted(probabilities)
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert probabilities[0] < 0.01 < 0.99 < probabilities[-1]


def test_match_weight_is_the_sum_of_field_weights_and_the_prior_log_odds() -> None:
    prior = 1e-3
    model = _model(prior)
    scored = score(_levels(LADDER), model)
    for row in scored.iter_rows(named=True):
        expected = sum(model.bayes_factor_log2(f, row[f"{f}_lvl"]) for f in LEVELS)
        assert row["match_weight"] == pytest.approx(expected + math.log2(prior / (1 - prior)))
        assert row["match_probability"] == pytest.approx(1 / (1 + 2 ** -row["match_weight"]))


def test_a_missing_value_says_nothing() -> None:
    scored = score(_levels([{"id": 3}, {"id": 3, "name": 0}]), _model())
    first, second = scored.iter_rows(named=True)
    assert (first["w_name"], first["w_birth"], first["w_household"]) == (0.0, 0.0, 0.0)
    assert second["w_name"] < 0
    assert first["match_weight"] > second["match_weight"]


def test_extreme_evidence_stays_finite() -> None:
    scored = score(_levels([LADDER[0], LADDER[-1]]), _model(prior=1e-9))
    assert scored["match_probability"].is_finite().all()
    assert scored["match_probability"].is_between(0.0, 1.0).all()


def test_posterior_follows_the_prior() -> None:
    levels = _levels(LADDER)
    model = _model(prior=1e-4)
    by_prior = [score(levels, model, prior=p)["match_probability"].to_list() for p in (1e-6, 1e-4, 1e-2, 0.5)]
    for lower, higher in itertools.pairwise(by_prior):
        assert all(a <= b for a, b in zip(lower, higher, strict=True))
        assert any(a < b for a, b in zip(lower, higher, strict=True))
    # Without an override the model's own prior is used.
    assert score(levels, model)["match_probability"].to_list() == by_prior[1]


def _names_scored(names: list[str], name_levels: list[int]) -> pl.DataFrame:
    tf = pl.DataFrame({"name": ["张伟", "欧阳修远"], "tf": [0.01, 1e-5]})
    levels = _levels([{"id": 0, "name": lvl} for lvl in name_levels]).with_columns(pl.Series("reg_name", names))
    return score(levels, _model(name_tf=tf))


def test_a_rare_exact_name_counts_for_more_than_a_common_one() -> None:
    scored = _names_scored(["张伟", "欧阳修远", "未见过"], [4, 4, 4])
    common, rare, unseen = scored["w_name"].to_list()
    assert common == pytest.approx(math.log2(M["name"][4] / 0.01))
    assert rare == pytest.approx(math.log2(M["name"][4] / 1e-5))
    assert unseen == pytest.approx(rare)  # a name no record holds is as rare as the rarest seen
    assert common < rare


@given(
    st.lists(
        st.tuples(st.sampled_from(["张伟", "李强", "欧阳修远", None]), st.sampled_from([4, 3, 0, -1])), max_size=12
    )
)
def test_name_frequencies_by_record_id_score_as_names_do(records: list[tuple[str | None, int]]) -> None:
    """Pairs carry no names inside linking: the tf gathered by register record id gives the same weights."""
    register = pl.DataFrame(
        {"idx": [3 * i for i in range(len(records))], "name": [name for name, _ in records]},
        schema={"idx": pl.UInt32, "name": pl.String},
    )
    model = _model(name_tf=name_frequencies(register.head(len(records) // 2 + 1)))  # some names uncounted
    levels = _levels([{"id": 0, "name": level} for _, level in records]).with_columns(
        register["idx"].alias("rid"), register["name"].alias("reg_name")
    )
    by_name = score(levels, model)
    by_id = score(levels.drop("reg_name"), model, name_tf=register_name_tf(register, model).gather(levels["rid"]))
    assert_frame_equal(by_id, by_name.drop("reg_name"))


def test_term_frequencies_only_touch_exact_name_agreement() -> None:
    scored = _names_scored(["张伟", "张伟"], [3, 0])
    model = _model()
    assert scored["w_name"].to_list() == pytest.approx(
        [model.bayes_factor_log2("name", 3), model.bayes_factor_log2("name", 0)]
    )


# --- name frequencies -----------------------------------------------------------------------------


def test_name_frequencies_count_across_frames_and_skip_missing_names() -> None:
    register = pl.DataFrame({"name": ["张伟", "李强", None], "other": [1, 2, 3]})
    roll = pl.DataFrame({"name": ["张伟", "张伟", "王芳"]})
    tf = dict(name_frequencies(register, roll).iter_rows())
    assert tf == pytest.approx({"张伟": 3 / 5, "李强": 1 / 5, "王芳": 1 / 5})


def test_name_frequencies_of_no_names_is_empty() -> None:
    tf = name_frequencies(pl.DataFrame({"name": [None]}, schema={"name": pl.String}))
    assert tf.height == 0
    assert tf.columns == ["name", "tf"]


# --- random pairs and u ---------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    register=st.lists(st.sampled_from("abcd"), min_size=1, max_size=40),
    roll=st.lists(st.sampled_from("abce"), min_size=1, max_size=40),
    seed=st.integers(0, 1000),
)
def test_random_pairs_are_two_strata_with_their_true_shares(register: list[str], roll: list[str], seed: int) -> None:
    """Pairs come from both sides: across communities in stratum 0, within one in stratum 1, each stratum with its
    true share of all pairs, however few fell in it."""
    reg = pl.DataFrame({"idx": range(100, 100 + len(register)), "community_code": register})
    rol = pl.DataFrame({"idx": range(500, 500 + len(roll)), "community_code": roll})
    pairs = random_pairs(reg, rol, size=200, seed=seed)
    assert pairs.columns == ["rid", "lid", "stratum", "share"]
    assert set(pairs["rid"]) <= set(reg["idx"])
    assert set(pairs["lid"]) <= set(rol["idx"])
    assert pairs.equals(random_pairs(reg, rol, size=200, seed=seed))
    codes = pairs.join(reg.rename({"idx": "rid"}), on="rid").join(
        rol.rename({"idx": "lid", "community_code": "roll_code"}), on="lid"
    )
    same = codes["community_code"] == codes["roll_code"]
    assert (same == (codes["stratum"] == 1)).all()
    true_share = sum(register.count(c) * roll.count(c) for c in set(roll)) / (len(register) * len(roll))
    expected = codes["stratum"].replace_strict({0: 1 - true_share, 1: true_share}, return_dtype=pl.Float64)
    assert codes["share"].to_list() == pytest.approx(expected.to_list())
    weights = strata(pairs)
    assert sum(w for _, w in weights) == pytest.approx(1.0)
    if len(weights) == 2:
        assert weights[1][1] == pytest.approx(true_share)


def test_random_pairs_meet_at_one_flat_often_enough_to_count() -> None:
    """Forty communities of 100: uniform pairs share a community once in forty; the sample still holds hundreds."""
    people = pl.DataFrame({"idx": range(4_000), "community_code": [str(i // 100) for i in range(4_000)]})
    pairs = random_pairs(people, people, size=10_000, seed=1)
    codes = pairs.join(people.rename({"idx": "rid"}), on="rid").join(
        people.rename({"idx": "lid", "community_code": "roll_code"}), on="lid"
    )
    assert int((codes["community_code"] == codes["roll_code"]).sum()) >= 9_000
    assert not pairs.equals(random_pairs(people, people, size=10_000, seed=2))


CODE = "330282001001"
BASE = {"street": "浒山街道", "community_name": "华联社区", "community_code_raw": CODE, "station": "浒山派出所"}


def _id(i: int) -> str:
    return valid_id(f"330282{1950 + i % 50}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}")


def _city(
    register_names: list[str], roll_names: list[str], *, register_ids: int = 0, roll_rooms: int = 400
) -> tuple[pl.DataFrame, ...]:
    """Prepared records of one community: 200 registered, 200 on the roll, named in turn from the lists."""
    register = raw_frame(
        REGISTER.internal_names,
        [
            {
                **BASE,
                "id_raw": _id(register_ids + i),
                "name_raw": register_names[i % len(register_names)],
                "household_no": str(i),
                "address_raw": f"华联社区金山花园{1 + i % 20}幢1单元{100 + i}室",
            }
            for i in range(200)
        ],
        "register.csv",
    )
    roll = raw_frame(
        ROLL.internal_names,
        [
            {
                "id_raw": _id(500 + i),
                "name_raw": roll_names[i % len(roll_names)],
                "address_raw": f"金山花园{1 + i % 20}幢1单元{roll_rooms + i}室",
            }
            for i in range(200)
        ],
        f"{CODE}_华联社区.xlsx",
    ).with_columns(pl.lit(CODE).alias("file_community"))
    both = prepare(register, roll, secret=SECRET)
    return both.register, both.roll


FEW_NAMES = ["张伟", "李强", "王芳", "刘洋"]


def test_u_shares_are_probabilities_summing_to_one() -> None:
    register, roll = _city(FEW_NAMES, FEW_NAMES)
    u = estimate_u(register, roll, random_pairs(register, roll, size=20_000))
    assert set(u) == set(LEVELS)
    for f, shares in u.items():
        assert set(shares) == set(LEVELS[f])
        assert all(0 < p < 1 for p in shares.values()), f
        assert sum(shares.values()) == pytest.approx(1.0, abs=1e-6), f


def test_u_follows_how_often_random_people_share_a_name() -> None:
    register, roll = _city(FEW_NAMES, FEW_NAMES)
    shared = estimate_u(register, roll, random_pairs(register, roll, size=20_000))
    register, roll = _city(FEW_NAMES, ["欧阳修远", "司马相如", "诸葛明亮"])
    distinct = estimate_u(register, roll, random_pairs(register, roll, size=20_000))
    assert shared["name"][4] > 0.1  # a quarter of random pairs share one of four names
    assert distinct["name"][4] < 1e-3
    # Everyone lives in one community: random pairs are rarely across communities.
    assert shared["address"][1] > shared["address"][0]


def test_u_of_an_id_number_never_exceeds_one_in_a_million() -> None:
    """Even when the sample pairs a person with themself, one ID number is one person."""
    register, roll = _city(FEW_NAMES, FEW_NAMES, register_ids=500, roll_rooms=100)
    register, roll = register.head(1), roll.head(1)  # the same person at the same flat on both sides
    u = estimate_u(register, roll, random_pairs(register, roll, size=100))
    assert u["id"][3] <= 1e-6
    assert u["id"][3] < u["id"][2]


def test_u_of_a_partly_written_address_is_never_below_that_of_the_same_flat() -> None:
    """An address that leaves parts out fits at least as many people as one that names the flat."""
    register, roll = _city(FEW_NAMES, FEW_NAMES, roll_rooms=100)
    register, roll = register.head(1), roll.head(1)  # one pair, at the same flat
    u = estimate_u(register, roll, random_pairs(register, roll, size=100))
    assert u["address"][4] > 1e-4  # the sample saw the same flat …
    assert u["address"][3] >= u["address"][4]  # … and a partial address is held to at least as likely
