"""同上, 〃 and blank roll addresses take the address of the row above in the same sheet, whatever the frame's order."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.ditto import FROM_ABOVE, addresses_from_above

_WRITTEN = st.sampled_from(["金山花园1幢101室", "周家村3组5号", "同上", "〃", " 同 上 ", "＂", None, "同上址", "上同"])


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.tuples(st.sampled_from(["网格1", "网格2", None]), _WRITTEN), max_size=30),
    order=st.randoms(use_true_random=False),
)
def test_a_ditto_takes_the_nearest_address_above_in_its_sheet(
    rows: list[tuple[str | None, str | None]], order: object
) -> None:
    frame = pl.DataFrame(
        {
            "source_sheet": [sheet for sheet, _ in rows],
            "source_row": list(range(2, len(rows) + 2)),
            "address_raw": [written for _, written in rows],
        },
        schema={"source_sheet": pl.String, "source_row": pl.Int64, "address_raw": pl.String},
    )
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=order.randrange(1000))  # type: ignore[attr-defined]
    got = addresses_from_above(shuffled)
    assert got.select("source_sheet", "source_row").equals(shuffled.select("source_sheet", "source_row"))
    expected: dict[int, tuple[str | None, bool]] = {}
    last: dict[str | None, str] = {}
    for (sheet, written), row in zip(rows, frame["source_row"], strict=True):
        ditto = written is None or "".join(written.split()) in {"同上", "〃", '"', "＂", "同上址", "上同"}
        if ditto and sheet in last:
            expected[row] = (last[sheet], True)
        else:
            expected[row] = (written, False)
            if not ditto and written is not None:
                last[sheet] = written
    for row, address, taken in got.select("source_row", "address_raw", FROM_ABOVE).iter_rows():
        assert (address, taken) == expected[row]
