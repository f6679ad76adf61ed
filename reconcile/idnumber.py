"""Resident ID numbers (公民身份号码, GB 11643-1999).

An 18-character number: 6-digit area code, 8-digit birth date, 3-digit sequence
(odd for men, even for women) and a MOD 11-2 check character. Legacy 15-digit
numbers drop the century and the check character.

The area code is only a soft signal: people registered before 1989 keep older
county codes, so validity rests on the check character and the birth date.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

import polars as pl

WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

_JUNK = re.compile(r"[\s\-_'\"`.,，。、]+")
_X_VARIANTS = str.maketrans({"x": "X", "×": "X", "Ｘ": "X", "ｘ": "X", "✕": "X", "＊": "*"})


def check_char(first17: str) -> str:
    """MOD 11-2 check character for the first 17 digits.

    >>> check_char("11010519491231002")
    'X'
    """
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


def clean(raw: str | None) -> str | None:
    """Fold full-width characters, spaces and `x` variants; None when nothing is left.

    >>> clean(" ３３０２８２ 1990 0101 123x ")
    '33028219900101123X'
    """
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw)).translate(_X_VARIANTS)
    text = _JUNK.sub("", text).upper()
    return text or None


def upgrade15(id15: str) -> str:
    """Turn a legacy 15-digit number into its 18-digit form (century 19, new check)."""
    first17 = id15[:6] + "19" + id15[6:15]
    return first17 + check_char(first17)


def birth_date_of(id18: str) -> dt.date | None:
    """The birth date encoded in an 18-character number, or None if it is no date."""
    try:
        born = dt.date(int(id18[6:10]), int(id18[10:12]), int(id18[12:14]))
    except ValueError:
        return None
    if not (1880 <= born.year <= dt.date.today().year):
        return None
    return born


def sex_of(id18: str) -> str:
    """'男' for an odd sequence digit, '女' for an even one."""
    return "男" if int(id18[16]) % 2 else "女"


@dataclass(frozen=True, slots=True)
class IdInfo:
    """What can be trusted of one written ID number."""

    cleaned: str | None
    """The number as written, folded (full width, spaces, x) but not corrected."""
    id18: str | None
    """A valid 18-character number (legacy numbers upgraded), else None."""
    problem: str | None
    """None when valid; otherwise one of: missing, bad_format, bad_check, bad_birth_date."""


_SHAPE18 = re.compile(r"^\d{17}[\dX]$")
_SHAPE15 = re.compile(r"^\d{15}$")


def parse(raw: str | None) -> IdInfo:
    """Validate and normalise one written ID number.

    >>> parse(" 11010519491231002x ").id18
    '11010519491231002X'
    >>> parse("").problem
    'missing'
    """
    cleaned = clean(raw)
    if cleaned is None:
        return IdInfo(None, None, "missing")
    if _SHAPE15.match(cleaned):
        candidate = upgrade15(cleaned)
    elif _SHAPE18.match(cleaned):
        candidate = cleaned
    else:
        return IdInfo(cleaned, None, "bad_format")
    if birth_date_of(candidate) is None:
        return IdInfo(cleaned, None, "bad_birth_date")
    if check_char(candidate[:17]) != candidate[17]:
        return IdInfo(cleaned, None, "bad_check")
    return IdInfo(cleaned, candidate, None)


def corrections(cleaned: str) -> list[str]:
    """Valid numbers one typing slip away from a number that failed validation.

    Covers one wrong character (including the check character), two adjacent
    characters swapped, and a truncated number missing only its check character.
    Every candidate has a valid check character and birth date.

    >>> "11010519491231002X" in corrections("11010519491231003X")
    True
    """
    out: set[str] = set()
    if len(cleaned) == 17 and cleaned.isdigit():
        out.add(cleaned + check_char(cleaned))
    if len(cleaned) == 18 and cleaned[:17].isdigit():
        body, last = cleaned[:17], cleaned[17]
        out.add(body + check_char(body))
        for pos in range(17):
            for digit in "0123456789":
                if digit != body[pos]:
                    fixed = body[:pos] + digit + body[pos + 1 :]
                    if check_char(fixed) == last:
                        out.add(fixed + last)
        for pos in range(17):
            swapped = cleaned[:pos] + cleaned[pos + 1] + cleaned[pos] + cleaned[pos + 2 :]
            if swapped != cleaned and _SHAPE18.match(swapped) and check_char(swapped[:17]) == swapped[17]:
                out.add(swapped)
    return sorted(c for c in out if c != cleaned and birth_date_of(c) is not None)


def _could_be_truncated(cleaned: str) -> bool:
    if len(cleaned) != 15:
        return False
    try:
        born = dt.date(int(cleaned[6:10]), int(cleaned[10:12]), int(cleaned[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year <= dt.date.today().year


def mask(id_text: str | None) -> str:
    """Keep the area code and the last four characters: 330282********1234."""
    if not id_text:
        return ""
    if len(id_text) <= 10:
        return "*" * len(id_text)
    return id_text[:6] + "*" * (len(id_text) - 10) + id_text[-4:]


def parse_column(ids: pl.Series) -> pl.DataFrame:
    """Vectorised `parse` over a column: id_clean, id18, id_problem, id_birth, id_sex,
    id_head (area code and birth digits as written, for blocking)."""
    rows = [parse(v) for v in ids.to_list()]
    id18 = [r.id18 for r in rows]
    # A 15-digit number may be legacy or an 18-digit one cut short (33028220071009…):
    # its birth date is then not to be trusted.
    trusted = [r.id18 is not None and not _could_be_truncated(r.cleaned or "") for r in rows]
    return pl.DataFrame(
        {
            "id_clean": [r.cleaned for r in rows],
            "id18": id18,
            "id_problem": [r.problem for r in rows],
            "id_birth": [birth_date_of(v) if v and ok else None for v, ok in zip(id18, trusted, strict=True)],
            "id_sex": [sex_of(v) if v and ok else None for v, ok in zip(id18, trusted, strict=True)],
            "id_head": [c[:14] if c and len(c) >= 14 else None for c in (r.cleaned for r in rows)],
        },
        schema={
            "id_clean": pl.String,
            "id18": pl.String,
            "id_problem": pl.String,
            "id_birth": pl.Date,
            "id_sex": pl.String,
            "id_head": pl.String,
        },
    )
