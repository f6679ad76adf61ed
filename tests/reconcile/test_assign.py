import polars as pl

from reconcile.assign import assign_one_to_one, choose_bands


def test_greedy_assignment_and_competition() -> None:
    scored = pl.DataFrame(
        {
            "rid": [1, 1, 2],
            "lid": [10, 11, 10],
            "match_weight": [10.0, 10.0, 2.0],
            "match_probability": [0.999, 0.999, 0.8],
        }
    )
    chosen = assign_one_to_one(scored, min_probability=0.01)
    assert chosen.select("rid", "lid").rows() == [(1, 10)]
    # Two equally good roll records for register 1: neither is certain.
    assert chosen["match_probability"][0] < 0.6


def test_bands_follow_the_estimates() -> None:
    probabilities = pl.Series([0.9999] * 1000 + [0.97] * 10 + [0.5] * 10 + [0.05] * 10)
    bands = choose_bands(probabilities, target_precision=0.999, target_recall=0.999, floor=0.95)
    assert bands.auto >= 0.95
    assert bands.review <= 0.5


def test_vectorised_greedy_equals_the_plain_loop() -> None:
    import random

    from reconcile.assign import greedy_matching

    rng = random.Random(5)
    pairs = {(rng.randrange(300), rng.randrange(300)) for _ in range(3000)}
    ranked = pl.DataFrame(sorted(pairs), schema=["rid", "lid"], orient="row").sample(fraction=1.0, shuffle=True, seed=1)
    ranked = ranked.with_row_index("_order")
    taken_r: set[int] = set()
    taken_l: set[int] = set()
    expected = []
    for rid, lid in ranked.select("rid", "lid").iter_rows():
        keep = rid not in taken_r and lid not in taken_l
        if keep:
            taken_r.add(rid)
            taken_l.add(lid)
        expected.append(keep)
    assert greedy_matching(ranked).to_list() == expected
