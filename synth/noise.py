"""The roll noise of contract §1.2, at rates of a few percent each."""

from __future__ import annotations

from typing import TYPE_CHECKING

import opencc

from synth import pools

if TYPE_CHECKING:
    import datetime as dt
    import random

_S2T = opencc.OpenCC("s2t")
_FULL = str.maketrans("0123456789X-", "０１２３４５６７８９Ｘ－")
_CN = "零一二三四五六七八九"


def full_width(text: str) -> str:
    """`text` with its digits, X and dash in full-width form."""
    return text.translate(_FULL)


def id_noise(rng: random.Random, id18: str) -> str:
    """An ID number as a community worker might write it."""
    r = rng.random()
    if r < 0.15:
        return ""
    r = rng.random()
    if r < 0.02:
        pos = rng.randrange(17)
        return id18[:pos] + rng.choice([d for d in "0123456789" if d != id18[pos]]) + id18[pos + 1 :]
    if r < 0.035:
        pos = rng.randrange(16)
        if id18[pos] != id18[pos + 1]:
            return id18[:pos] + id18[pos + 1] + id18[pos] + id18[pos + 2 :]
        return id18
    if r < 0.045 and id18[6:8] == "19":
        return id18[:6] + id18[8:17]
    if r < 0.065:
        return full_width(id18)
    if r < 0.085:
        return f"{id18[:6]} {id18[6:14]} {id18[14:]}"
    if r < 0.095:
        return id18[: rng.randint(14, 17)]
    if id18.endswith("X") and rng.random() < 0.5:
        return id18[:-1] + "x"
    return id18


def name_noise(rng: random.Random, name: str) -> str:
    """A name as heard and written down."""
    if "·" in name:
        return name.replace("·", rng.choice(pools.MIDDLE_DOTS))
    r = rng.random()
    if r < 0.02:
        chars = [i for i, c in enumerate(name) if c in pools.HOMOPHONES and i > 0]
        if chars:
            i = rng.choice(chars)
            return name[:i] + pools.HOMOPHONES[name[i]] + name[i + 1 :]
    elif r < 0.03 and name[0] in pools.LOOKALIKE_NOISE:
        return pools.LOOKALIKE_NOISE[name[0]] + name[1:]
    elif r < 0.05:
        return str(_S2T.convert(name))
    elif r < 0.06 and len(name) >= 3:
        i = rng.randrange(1, len(name))
        return name[:i] + name[i + 1 :]
    elif r < 0.08:
        i = rng.randrange(1, len(name))
        return name[:i] + " " + name[i:]
    return name


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n % 10] if n % 10 else "")
    return _CN[n // 10] + "十" + (_CN[n % 10] if n % 10 else "")


def _place_noise(rng: random.Random, place: str) -> str:
    """A compound name shortened (城东新村东区 → 城东东区, 金山花园 → 金山) or with a homophone."""
    r = rng.random()
    if r < 0.1:
        for tail in pools.PLACE_TAILS:
            if tail in place and place != tail and not place.endswith(tail):
                return place.replace(tail, "")
            if place.endswith(tail) and len(place) - len(tail) >= 2 and r < 0.05:
                return place[: -len(tail)]
    if r < 0.13:
        chars = [i for i, c in enumerate(place) if c in pools.PLACE_HOMOPHONES]
        if chars:
            i = rng.choice(chars)
            return place[:i] + pools.PLACE_HOMOPHONES[place[i]] + place[i + 1 :]
    return place


def register_address(community_street: str, community_name: str, dwelling: tuple[str, ...]) -> str:
    """The clean address the police register carries."""
    if len(dwelling) == 3:
        village, group, number = dwelling
        return f"浙江省慈溪市{community_street}{village}{group}组{number}号"
    place, building, unit, room = dwelling
    return f"浙江省慈溪市{community_street}{community_name}{place}{building}幢{unit}单元{room}室"


def _room_as_written(rng: random.Random, room: str) -> str:
    return "".join(_CN[int(d)] for d in room) if rng.random() < 0.03 else room


def roll_address(rng: random.Random, street: str, community_name: str, dwelling: tuple[str, ...]) -> str:
    """An address as a community worker writes it.

    The flat they stand in front of, with or without its 单元, in any of the
    styles of contract §1.2 and §1.4.
    """
    prefix = rng.choice(["", "", "", "慈溪市", f"{street}", f"慈溪市{street}{community_name}", f"{community_name}"])
    if len(dwelling) == 3:
        village, group, number = dwelling
        g = _cn_number(int(group)) if rng.random() < 0.2 else group
        text = f"{prefix}{village}{g}组{number}{rng.choice(['号', '号', ''])}"
    else:
        place, building, unit, room = dwelling
        place = _place_noise(rng, place)
        style = rng.random()
        b = _cn_number(int(building)) if rng.random() < 0.15 else building
        marker = rng.choice(["幢", "幢", "栋", "号楼", "座", "#"])
        suffix = rng.choice(["室", "室", "号", "房", ""])
        if style < 0.20:
            text = f"{prefix}{place}{building}-{unit}-{room}"
        elif style < 0.25:
            text = f"{prefix}{place}{building}{marker}{unit}-{room}"
        elif style < 0.37:
            # The 单元 left out: the worker writes the building and the door.
            text = f"{prefix}{place}{b}{marker}{_room_as_written(rng, room)}{suffix}"
        else:
            u = _cn_number(int(unit)) if rng.random() < 0.1 else unit
            text = f"{prefix}{place}{b}{marker}{u}单元{_room_as_written(rng, room)}{suffix}"
    r = rng.random()
    if r < 0.03:
        text = full_width(text)
    elif r < 0.06:
        i = rng.randrange(len(text))
        text = text[:i] + " " + text[i:]
    return text


def birth_as_written(rng: random.Random, birth: dt.date) -> object:
    """Blank, a date cell, or text in one of several formats."""
    r = rng.random()
    if r < 0.4:
        return None
    if r < 0.55:
        return birth
    return birth.strftime(rng.choice(["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"]))
