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
    """None when valid; otherwise one of: missing, bad_format, bad_check, bad_birth_date, rounded (`rounded`)."""


def rounded(cleaned: str) -> str | None:
    """The number Excel kept of an ID typed as a number, if `cleaned` looks like one; else None.

    Excel keeps 15 significant digits and writes zeros after them, and a reader of
    the cell gets the nearest binary double (330281200106295000 → ...294976). Such
    a number fails its check (or, rounded up, its birth date); its first 15 digits
    are all that is known of it.

    >>> rounded("330281200106294976"), rounded("330281200106295000"), rounded("330281200106294977")
    ('330281200106295000', '330281200106295000', None)
    """
    if len(cleaned) != 18 or not cleaned.isdigit():
        return None
    number = int(cleaned)
    nearest = (number + 500) // 1000 * 1000
    return str(nearest) if number == nearest or int(float(nearest)) == number else None


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
        problem = "bad_birth_date"
    elif check_char(candidate[:17]) != candidate[17]:
        problem = "bad_check"
    else:
        return IdInfo(cleaned, candidate, None)
    kept = rounded(cleaned)
    return IdInfo(kept, None, "rounded") if kept else IdInfo(cleaned, None, problem)


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
    if len(cleaned) == 18 and cleaned[:16].isdigit() and cleaned[16] == "X" and cleaned[17].isdigit():
        back = cleaned[:16] + cleaned[17] + "X"  # the check character X swapped with the digit before it
        if check_char(back[:17]) == "X":
            out.add(back)
    if len(cleaned) == 18 and cleaned[:17].isdigit():
        body, last = cleaned[:17], cleaned[17]
        out.add(body + check_char(body))
        digits = [int(c) for c in body]
        total = sum(d * w for d, w in zip(digits, WEIGHTS, strict=True))
        wanted = CHECK_CHARS.index(last) if last in CHECK_CHARS else -1
        # One wrong digit: the sum changes by w·(new − old); keep changes that hit the written check.
        for pos, (old, weight) in enumerate(zip(digits, WEIGHTS, strict=True)):
            for new in range(10):
                if new != old and (total + weight * (new - old)) % 11 == wanted:
                    out.add(body[:pos] + str(new) + body[pos + 1 :] + last)
        # Two adjacent characters swapped (the last swap may move the check character).
        for pos in range(16):
            a, b = digits[pos], digits[pos + 1]
            if a != b and (total + (WEIGHTS[pos] - WEIGHTS[pos + 1]) * (b - a)) % 11 == wanted:
                out.add(body[:pos] + body[pos + 1] + body[pos] + body[pos + 2 :] + last)
        swapped = body[:16] + last + body[16]
        if last.isdigit() and _SHAPE18.match(swapped) and check_char(swapped[:17]) == swapped[17]:
            out.add(swapped)
    return sorted(c for c in out if c != cleaned and birth_date_of(c) is not None)


def mask(id_text: str | None) -> str:
    """Keep the area code and the last four characters: 330282********1234."""
    if not id_text:
        return ""
    if len(id_text) <= 10:
        return "*" * len(id_text)
    return id_text[:6] + "*" * (len(id_text) - 10) + id_text[-4:]


_CHECK_BY_REMAINDER = {i: c for i, c in enumerate(CHECK_CHARS)}


def _check_expr(body17: pl.Expr) -> pl.Expr:
    total = pl.sum_horizontal([body17.str.slice(i, 1).cast(pl.Int32) * w for i, w in enumerate(WEIGHTS)])
    return (total % 11).replace_strict(_CHECK_BY_REMAINDER, return_dtype=pl.String)


def _date_expr(digits8: pl.Expr) -> pl.Expr:
    born = digits8.str.strptime(pl.Date, "%Y%m%d", strict=False)
    year = born.dt.year()
    return pl.when((year >= 1880) & (year <= dt.date.today().year)).then(born)


def parse_column(ids: pl.Series) -> pl.DataFrame:
    """`parse` over a whole column, vectorised.

    Adds id_clean, id18, id_problem, id_birth, id_sex and id_head (area code and
    birth digits as written, for blocking).

    A 15-digit number may be legacy or an 18-digit one cut short
    (33028220071009…): its birth date and sex are then not trusted.

    >>> parse_column(pl.Series(["11010519491231002x", "110105491231002", "", "11010519491231003X"]))["id_problem"].to_list()
    [None, None, 'missing', 'bad_check']
    """
    frame = ids.cast(pl.String).to_frame("raw")
    cleaned = (
        pl.col("raw")
        .str.normalize("NFKC")
        .str.replace_all(r"[\s\-_'\"`.,，。、]+", "")
        .str.replace_all("[×✕]", "X")
        .str.to_uppercase()
    )
    frame = frame.select(pl.when(cleaned != "").then(cleaned).alias("id_clean"))
    c = pl.col("id_clean")
    is18 = c.str.contains(r"^\d{17}[\dX]$")
    is15 = c.str.contains(r"^\d{15}$")
    body17 = pl.when(is18).then(c.str.slice(0, 17)).when(is15).then(c.str.slice(0, 6) + "19" + c.str.slice(6, 9))
    frame = frame.with_columns(is18.alias("_18"), is15.alias("_15"), body17.alias("_body"))
    frame = frame.with_columns(_check_expr(pl.col("_body")).alias("_check"))
    frame = frame.with_columns(
        pl.when(pl.col("_18")).then(c).when(pl.col("_15")).then(pl.col("_body") + pl.col("_check")).alias("_cand")
    )
    frame = frame.with_columns(_date_expr(pl.col("_cand").str.slice(6, 8)).alias("_born"))
    problem = (
        pl.when(c.is_null())
        .then(pl.lit("missing"))
        .when(~(pl.col("_18") | pl.col("_15")))
        .then(pl.lit("bad_format"))
        .when(pl.col("_born").is_null())
        .then(pl.lit("bad_birth_date"))
        .when(pl.col("_18") & (c.str.slice(17, 1) != pl.col("_check")))
        .then(pl.lit("bad_check"))
    )
    frame = frame.with_columns(problem.alias("id_problem"))
    # `rounded`: a number typed into Excel as a number.
    number = c.cast(pl.UInt64, strict=False)
    nearest = (number + 500) // 1000 * 1000
    excel = (
        pl.col("id_problem").is_in(["bad_check", "bad_birth_date"])
        & pl.col("_18")
        & ((number == nearest) | (nearest.cast(pl.Float64).cast(pl.UInt64) == number))
    )
    frame = frame.with_columns(
        pl.when(excel).then(nearest.cast(pl.String)).otherwise(c).alias("id_clean"),
        pl.when(excel).then(pl.lit("rounded")).otherwise(pl.col("id_problem")).alias("id_problem"),
    )
    valid = pl.col("id_problem").is_null()
    truncated = pl.col("_15") & _date_expr(c.str.slice(6, 8)).dt.year().is_between(1900, dt.date.today().year)
    trusted = valid & ~truncated.fill_null(False)
    return frame.select(
        "id_clean",
        pl.when(valid).then(pl.col("_cand")).alias("id18"),
        "id_problem",
        pl.when(trusted).then(pl.col("_born")).alias("id_birth"),
        pl.when(trusted)
        .then(
            pl.when(pl.col("_cand").str.slice(16, 1).cast(pl.Int32) % 2 == 1).then(pl.lit("男")).otherwise(pl.lit("女"))
        )
        .alias("id_sex"),
        pl.when(c.str.len_chars() >= 14).then(c.str.slice(0, 14)).alias("id_head"),
    )


def corrections_column(frame: pl.DataFrame) -> pl.DataFrame:
    """`corrections` for many numbers at once.

    (idx, id_fix) rows for every `id_clean` of `frame` that failed validation.
    Vectorised: each number is expanded into its one-slip variants and the valid
    ones kept.

    >>> f = pl.DataFrame({"idx": [7], "id18": [None], "id_clean": ["11010519491231003X"]}, schema_overrides={"id18": pl.String})
    >>> "11010519491231002X" in corrections_column(f)["id_fix"].to_list()
    True
    """
    bad = frame.filter(pl.col("id18").is_null() & pl.col("id_clean").is_not_null()).select("idx", "id_clean")
    c = pl.col("id_clean")
    full = bad.filter(c.str.contains(r"^\d{17}[\dX]$"))
    short = bad.filter(c.str.contains(r"^\d{17}$")).select("idx", (c + _check_expr(c)).alias("id_fix"))
    digits = [pl.col("id_clean").str.slice(i, 1).cast(pl.Int32) for i in range(17)]
    total = pl.sum_horizontal([d * w for d, w in zip(digits, WEIGHTS, strict=True)])
    full = full.with_columns(total.alias("_total"), pl.col("id_clean").str.slice(17, 1).alias("_last"))
    wanted = {ch: i for i, ch in enumerate(CHECK_CHARS)}
    full = full.with_columns(pl.col("_last").replace_strict(wanted, return_dtype=pl.Int32).alias("_wanted"))
    # The check character itself was mistyped.
    recheck = full.select("idx", (c.str.slice(0, 17) + _check_expr(c.str.slice(0, 17))).alias("id_fix"))
    # One wrong digit at position p: new digit d with (total + w·(d − old)) ≡ wanted (mod 11).
    grid = pl.DataFrame(
        {"_pos": [p for p in range(17) for _ in range(10)], "_new": [d for _ in range(17) for d in range(10)]},
        schema={"_pos": pl.Int32, "_new": pl.Int32},
    ).with_columns(pl.col("_pos").replace_strict(dict(enumerate(WEIGHTS)), return_dtype=pl.Int32).alias("_w"))
    one = (
        full.join(grid, how="cross")
        .with_columns(c.str.slice(pl.col("_pos"), 1).cast(pl.Int32).alias("_old"))
        .filter(
            (pl.col("_new") != pl.col("_old"))
            & ((pl.col("_total") + pl.col("_w") * (pl.col("_new") - pl.col("_old"))) % 11 == pl.col("_wanted"))
        )
        .select(
            "idx",
            (c.str.slice(0, pl.col("_pos")) + pl.col("_new").cast(pl.String) + c.str.slice(pl.col("_pos") + 1)).alias(
                "id_fix"
            ),
        )
    )
    # Two adjacent characters swapped: swap them back and keep what validates.
    swaps = pl.DataFrame({"_pos": list(range(17))}, schema={"_pos": pl.Int32})
    swapped = (
        full.join(swaps, how="cross")
        .select(
            "idx",
            (
                c.str.slice(0, pl.col("_pos"))
                + c.str.slice(pl.col("_pos") + 1, 1)
                + c.str.slice(pl.col("_pos"), 1)
                + c.str.slice(pl.col("_pos") + 2)
            ).alias("id_fix"),
        )
        .filter(pl.col("id_fix").str.contains(r"^\d{17}[\dX]$"))
    )
    swapped = swapped.filter(_check_expr(pl.col("id_fix").str.slice(0, 17)) == pl.col("id_fix").str.slice(17, 1))
    # The check character X swapped with the digit before it (the body then holds an X).
    x_first = bad.filter(c.str.contains(r"^\d{16}X\d$")).select(
        "idx", (c.str.slice(0, 16) + c.str.slice(17, 1) + pl.lit("X")).alias("id_fix")
    )
    x_first = x_first.filter(_check_expr(pl.col("id_fix").str.slice(0, 17)) == "X")
    out = (
        pl.concat([short, recheck, one, swapped, x_first])
        .join(bad, on="idx")
        .filter(pl.col("id_fix") != pl.col("id_clean"))
    )
    return (
        out.filter(_date_expr(pl.col("id_fix").str.slice(6, 8)).is_not_null())
        .select("idx", "id_fix")
        .unique()
        .sort("idx", "id_fix")
    )
