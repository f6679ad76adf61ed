"""Roll addresses written as "the same as above": 同上, 〃, or a cell left blank under a household's first row.

Workers list a household's members one under another and write its address once: the next rows say 同上 or 〃,
or leave the cell empty (a merged cell reads as empty below its first row). Such a row lives at the address of
the row above it in the same sheet; it says so (`address_from_above`) so that an operator can see it was not
written.

A row with no address above it keeps what it wrote.
"""

from __future__ import annotations

import polars as pl

DITTO = r"^(?:同上(?:址|地址)?|仝上|上同|同前|同户主|〃+|\"+|”+|“+|々)$"
"""What a worker writes for "the same address as above" (after NFKC and without spaces: ＂ is ")."""
FROM_ABOVE = "address_from_above"


def addresses_from_above(frame: pl.DataFrame) -> pl.DataFrame:
    """`address_raw` with ditto marks and blanks replaced by the address of the row above in the same sheet.

    Rows are taken in sheet order (`source_sheet`, `source_row`); the frame keeps its own order. Adds
    `address_from_above`: whether the address was taken from above.

    >>> rolls = pl.DataFrame({
    ...     "source_sheet": ["网格1"] * 4 + ["网格2"],
    ...     "source_row": [2, 3, 4, 5, 2],
    ...     "address_raw": ["金山花园1幢101室", "同上", None, "〃", None],
    ... })
    >>> addresses_from_above(rolls).rows()
    [('网格1', 2, '金山花园1幢101室', False), ('网格1', 3, '金山花园1幢101室', True), ('网格1', 4, '金山花园1幢101室', True), ('网格1', 5, '金山花园1幢101室', True), ('网格2', 2, None, False)]
    """
    written = pl.col("address_raw")
    ditto = written.is_null() | written.str.normalize("NFKC").str.replace_all(r"\s", "").str.contains(DITTO)
    above = (
        pl.when(~ditto).then(written).forward_fill().over(pl.col("source_sheet").fill_null(""), order_by="source_row")
    )
    taken = ditto & above.is_not_null()
    return frame.with_columns(
        pl.when(taken).then(above).otherwise(written).alias("address_raw"), taken.alias(FROM_ABOVE)
    )
