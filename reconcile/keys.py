"""Every key a record carries, in one place: its record key, its fingerprint and its person key.

Row numbers change with every delivery; an operator's decision must not. A
record's key is built from what identifies the person in its source:

- register: the valid ID number, else household number + name;
- roll: community + name + address as the community wrote them (NFKC, without
  whitespace or control characters): never the parsed dwelling, so a parser or
  gazetteer change keeps every decision. ID numbers are often blank on a roll and
  added later, so they only tell namesakes at one address apart.

Keys never collide within a delivery: records sharing a base are told apart by
their ID number (roll), then by their order of occurrence (lineage).

Keys are keyed digests (blake2b with the data directory's secret,
`services.digest_key`), so the audit log and the queue never carry an ID number
or a name in clear, and nobody without the secret can recompute a key from an ID
number. The fingerprint hashes the fields the linker compares. When it changes in a
later delivery, a decision made on the old values is set aside. The person key names a person in the
published statuses (from the valid ID number, else the record's lineage).

Each digest has its own blake2b personalisation, so a record key can never equal a person key.
Keys of this scheme start `R2:` / `L2:`; `key_migration` maps the earlier unkeyed `R:` / `L:` keys.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import TYPE_CHECKING

import polars as pl

from schemas.codes import Side
from schemas.inputs import LINEAGE
from schemas.records import lineage_text

if TYPE_CHECKING:
    from collections.abc import Collection

FINGERPRINT_FIELDS = ("name", "id_clean", "birth", "sex", "dwelling")

RECORD_KEY_PERSONALISATION = b"hukou-key"
PERSON_KEY_PERSONALISATION = b"hukou-recon"
REGISTER_PREFIX = "R2:"
ROLL_PREFIX = "L2:"
LEGACY_PREFIXES = {Side.REGISTER: "R:", Side.ROLL: "L:"}
"""How record keys of the earlier, unkeyed scheme begin (`key_migration`)."""
SECRET_BYTES = (16, 64)
"""The shortest and longest secret accepted (blake2b keys are at most 64 bytes)."""

_SEP = "\x1f"
_NO_SECRET = b""  # the earlier, unkeyed scheme: only to compute old keys for `key_migration`


def _checked(secret: bytes) -> bytes:
    low, high = SECRET_BYTES
    if not isinstance(secret, bytes) or not low <= len(secret) <= high:
        raise ValueError(f"the digest secret must be {low} to {high} bytes (services.digest_key)")
    return secret


def _blake(values: pl.Series, secret: bytes) -> pl.Series:
    keyed = hashlib.blake2b(digest_size=10, key=secret, person=RECORD_KEY_PERSONALISATION)

    def digest(value: str) -> str:
        h = keyed.copy()  # the keyed state once, copied: cheaper than keying every value
        h.update(value.encode())
        return h.hexdigest()

    return pl.Series([digest(v) for v in values.to_list()], dtype=pl.String)


def _digest(*parts: pl.Expr, secret: bytes) -> pl.Expr:
    # blake2b, not polars' hash: keys must stay equal across library versions for years.
    text = pl.concat_str([p.cast(pl.String).fill_null("") for p in parts], separator=_SEP)
    return text.map_batches(lambda values: _blake(values, secret), return_dtype=pl.String)


def written(text: str | None) -> str:
    """Text as written, folded only in ways no parser decides: NFKC, no whitespace or control characters.

    >>> written(" 金山花园 ３幢　101室 ")
    '金山花园3幢101室'
    >>> written(None)
    ''
    """
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf"))


_NOT_WRITTEN = r"[\s\p{Cc}\p{Cf}]+"
"""Whitespace, control and format characters: what `written` drops after NFKC (unassigned ones stay: which are
unassigned depends on the Unicode version, and a key must not)."""


def _written(column: str) -> pl.Expr:
    """`written` of a column, vectorised (equal to the scalar form: `tests/reconcile/test_keys.py`)."""
    return pl.col(column).cast(pl.String).str.normalize("NFKC").str.replace_all(_NOT_WRITTEN, "")


def _key_text(frame: pl.DataFrame, base: list[pl.Expr], tiebreak: pl.Expr) -> pl.Series:
    """The text each record key digests: `base`, else `base` + `tiebreak`, else + the occurrence, so none repeats.

    Parts must not contain the separator (`written` removes it). A leading tag tells the three forms apart.
    """
    names = [f"_b{i}" for i in range(len(base))]
    by_base, by_tiebreak = names, [*names, "_t"]
    parts = frame.select(
        *[b.cast(pl.String).fill_null("").alias(n) for b, n in zip(base, names, strict=True)],
        tiebreak.cast(pl.String).fill_null("").alias("_t"),
        *LINEAGE,
    ).with_columns(pl.len().over(by_base).alias("_n_base"), pl.len().over(by_tiebreak).alias("_n_tiebreak"))
    parts = parts.with_row_index("_pos")
    # Occurrences are numbered in lineage order, and only where base and tiebreak repeat: sort those rows alone.
    occurrence = (
        parts.filter(pl.col("_n_tiebreak") > 1)
        .sort([*LINEAGE, "_pos"], nulls_last=True)
        .select("_pos", (pl.int_range(pl.len()).over(by_tiebreak) + 1).cast(pl.String).alias("_occurrence"))
    )
    parts = parts.join(occurrence, on="_pos", how="left", maintain_order="left")
    text = (
        pl.when(pl.col("_n_base") == 1)
        .then(pl.concat_str([pl.lit("0"), *by_base], separator=_SEP))
        .when(pl.col("_n_tiebreak") == 1)
        .then(pl.concat_str([pl.lit("1"), *by_tiebreak], separator=_SEP))
        .otherwise(pl.concat_str([pl.lit("2"), *by_tiebreak, "_occurrence"], separator=_SEP))
    )
    return parts.select(text.alias("text")).to_series()


RECORD_KEY_COLUMNS = {
    Side.REGISTER: ("id18", "household_key", "name", *LINEAGE),
    Side.ROLL: ("community_code", "name_raw", "address_raw", "id18", *LINEAGE),
}
"""What a side's record keys are made of (`record_keys` needs only these columns, of every record of the side)."""


def record_keys(frame: pl.DataFrame, side: Side, *, secret: bytes) -> pl.Series:
    """`record_key` of every record of one side: a key depends on which others share its base, so all at once.

    `frame` needs `RECORD_KEY_COLUMNS[side]` only (the register's after `household_key`).
    """
    secret = _checked(secret)
    if side is Side.REGISTER:
        has_id = pl.col("id18").is_not_null()
        base = [
            pl.when(has_id).then(pl.lit("id")).otherwise(pl.lit("household")),
            pl.when(has_id).then(pl.col("id18")).otherwise(_written("household_key")),
            pl.when(has_id).then(pl.lit("")).otherwise(_written("name")),
        ]
        text = _key_text(frame, base, tiebreak=pl.lit(""))
        key = pl.format("{}{}", pl.lit(REGISTER_PREFIX), _digest(pl.lit(text), secret=secret))
    else:
        base = [_written("community_code"), _written("name_raw"), _written("address_raw")]
        text = _key_text(frame, base, tiebreak=pl.col("id18"))
        key = pl.format(
            "{}{}:{}", pl.lit(ROLL_PREFIX), pl.col("community_code").fill_null(""), _digest(pl.lit(text), secret=secret)
        )
    return frame.select(key.alias("record_key")).to_series()


def with_keys(
    frame: pl.DataFrame, record_key: pl.Series, *, secret: bytes, multi_sheet: Collection[str] | None = None
) -> pl.DataFrame:
    """Records with their `record_key` (from `record_keys`), `fingerprint` and `person_key` (row by row).

    `multi_sheet`: the side's files whose records come from several sheets (`schemas.records.multi_sheet_files`),
    when `frame` holds only some of the side's records.
    """
    secret = _checked(secret)
    return frame.with_columns(
        record_key.alias("record_key"),
        _digest(*[pl.col(c) for c in FINGERPRINT_FIELDS], secret=secret).alias("fingerprint"),
        _person_keys(frame, secret, multi_sheet).alias("person_key"),
    )


def person_key(id18: str | None, lineage: str, *, secret: bytes) -> str:
    """A stable pseudonymous key for a person: from the ID number when valid, else the record's lineage.

    `lineage` is `schemas.records.lineage_text()` of the record.

    >>> s = bytes(32)
    >>> person_key("330282199001011234", "a.csv:2", secret=s) == person_key("330282199001011234", "b.xlsx:9", secret=s)
    True
    >>> person_key(None, "a.csv:2", secret=s) != person_key(None, "a.csv:3", secret=s)
    True
    """
    basis = f"id:{id18}" if id18 else f"row:{lineage}"
    return (
        "P" + hashlib.blake2b(basis.encode(), digest_size=8, key=secret, person=PERSON_KEY_PERSONALISATION).hexdigest()
    )


def _person_keys(frame: pl.DataFrame, secret: bytes, multi_sheet: Collection[str] | None = None) -> pl.Series:
    """`person_key` of every row, the keyed hash state set up once and copied (equal: tests/reconcile/test_keys.py)."""
    has_id = pl.col("id18").is_not_null() & (pl.col("id18") != "")
    basis = frame.select(
        pl.when(has_id)
        .then(pl.format("id:{}", pl.col("id18")))
        # As `person_key` formats it: a lineage that cannot be written (a file mixing sheet and no sheet) reads None.
        .otherwise(pl.format("row:{}", lineage_text(multi_sheet).fill_null("None")))
    ).to_series()
    keyed = hashlib.blake2b(digest_size=8, key=secret, person=PERSON_KEY_PERSONALISATION)

    def digest(value: str) -> str:
        h = keyed.copy()
        h.update(value.encode())
        return "P" + h.hexdigest()

    return pl.Series([digest(v) for v in basis.to_list()], dtype=pl.String)


def _legacy_key(side: Side) -> pl.Expr:
    """The record key of the earlier scheme (unkeyed; the roll's from the parsed dwelling)."""
    if side is Side.REGISTER:
        by_household = pl.concat_str(
            [pl.col(c).cast(pl.String).fill_null("") for c in ("household_key", "name")], separator=_SEP
        )
        return pl.format("R:{}", _digest(pl.coalesce(pl.col("id18"), by_household), secret=_NO_SECRET))
    return pl.format(
        "L:{}:{}", pl.col("community_code"), _digest(pl.col("name"), pl.col("dwelling"), secret=_NO_SECRET)
    )


def key_migration(records: pl.LazyFrame, *, side: Side) -> pl.LazyFrame:
    """Where decisions stored under the earlier scheme's keys go: old_key, old_fingerprint, new_key, new_fingerprint.

    `records` are tonight's keyed records of one side. Records that shared an old key map as the
    decisions were applied then (`reconcile.decisions`): to the first of them.
    """
    old_fingerprint = _digest(*[pl.col(c) for c in FINGERPRINT_FIELDS], secret=_NO_SECRET)
    return records.select(
        _legacy_key(side).alias("old_key"),
        old_fingerprint.alias("old_fingerprint"),
        pl.col("record_key").alias("new_key"),
        pl.col("fingerprint").alias("new_fingerprint"),
    ).unique("old_key", keep="first", maintain_order=True)
