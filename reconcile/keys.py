"""Every key a record carries, in one place: its record key, its fingerprint and its person key.

Row numbers change with every delivery; an operator's decision must not. A
record's key is built from what identifies the person in its source:

- register: the valid ID number, else household number + name;
- roll: community + name + dwelling (a door-to-door roll identifies people by
  where they were found; ID numbers are often blank and added later).

Keys are digests (blake2b), so the audit log and the queue never carry an ID
number or a name in clear. The fingerprint hashes the fields the linker compares. When it changes in a
later delivery, a decision made on the old values is set aside. The person key names a person in the
published statuses (from the valid ID number, else the record's lineage).

Each digest has its own blake2b personalisation, so a record key can never equal a person key.
"""

from __future__ import annotations

import hashlib

import polars as pl

from schemas.records import lineage_text

FINGERPRINT_FIELDS = ("name", "id_clean", "birth", "sex", "dwelling")


RECORD_KEY_PERSONALISATION = b"hukou-key"
PERSON_KEY_PERSONALISATION = b"hukou-recon"


def _blake(values: pl.Series) -> pl.Series:
    return pl.Series(
        [
            hashlib.blake2b(v.encode(), digest_size=10, person=RECORD_KEY_PERSONALISATION).hexdigest()
            for v in values.to_list()
        ],
        dtype=pl.String,
    )


def _digest(*parts: pl.Expr) -> pl.Expr:
    # blake2b, not polars' hash: keys must stay equal across library versions for years.
    text = pl.concat_str([p.cast(pl.String).fill_null("") for p in parts], separator="\x1f")
    return text.map_batches(_blake, return_dtype=pl.String)


def register_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `record_key` and `fingerprint` to prepared register records."""
    # One digest per row: of the ID number, else of household number and name.
    by_household = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("") for c in ("household_key", "name")], separator="\x1f"
    )
    key = pl.format("R:{}", _digest(pl.coalesce(pl.col("id18"), by_household)))
    return frame.with_columns(
        key.alias("record_key"), _digest(*[pl.col(c) for c in FINGERPRINT_FIELDS]).alias("fingerprint")
    )


def roll_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `record_key` and `fingerprint` to prepared roll records (after dwellings)."""
    key = pl.format("L:{}:{}", pl.col("community_code"), _digest(pl.col("name"), pl.col("dwelling")))
    return frame.with_columns(
        key.alias("record_key"), _digest(*[pl.col(c) for c in FINGERPRINT_FIELDS]).alias("fingerprint")
    )


def person_key(id18: str | None, lineage: str) -> str:
    """A stable pseudonymous key for a person: from the ID number when valid, else the record's lineage.

    `lineage` is `schemas.records.lineage_text()` of the record.

    >>> person_key("330282199001011234", "a.csv:2") == person_key("330282199001011234", "b.xlsx:9")
    True
    >>> person_key(None, "a.csv:2") != person_key(None, "a.csv:3")
    True
    """
    basis = f"id:{id18}" if id18 else f"row:{lineage}"
    return "P" + hashlib.blake2b(basis.encode(), digest_size=8, person=PERSON_KEY_PERSONALISATION).hexdigest()


def person_keys(frame: pl.DataFrame) -> pl.Series:
    """`person_key` of every row of a prepared frame (columns id18 and the lineage columns)."""
    rows = frame.select("id18", lineage_text())
    return pl.Series([person_key(i, where) for i, where in rows.iter_rows()], dtype=pl.String)
