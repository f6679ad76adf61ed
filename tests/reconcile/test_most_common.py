"""`most_common`: the value most rows of a group give, ties to the first in sort order, whatever the row order."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.most_common import most_common

if TYPE_CHECKING:
    import random

_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["330282001001", "330282001002", None]),
        st.sampled_from(["华联社区", "华联 社区", "华联", None]),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(_ROWS, st.randoms(use_true_random=False))
def test_most_common_is_the_counted_majority_whatever_the_row_order(
    rows: list[tuple[str | None, str | None]], rnd: random.Random
) -> None:
    expected: dict[str | None, str] = {}
    for group in {g for g, _ in rows}:
        counts = Counter(v for g, v in rows if g == group and v is not None)
        if counts:
            top = max(counts.values())
            expected[group] = min(v for v, n in counts.items() if n == top)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    frame = pl.DataFrame(shuffled, schema={"code": pl.String, "name": pl.String}, orient="row")
    assert dict(most_common(frame, "code", "name").iter_rows()) == expected
