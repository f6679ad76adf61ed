"""The synthetic city: communities, dwellings, households, people and where they live.

`build_city` draws only the city's plan: its communities and how many
households each registers. The people are drawn one community at a time
(`draw_community`) while the city is written, each community from random
streams of its own (`stream`), so memory does not grow with the city and any
community can be drawn on its own, in any process. What must be unique over
the whole city (person ids, household numbers, ID numbers) is settled
afterwards, community by community in order, by a `Registry` of fixed size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import random
from dataclasses import dataclass, field

from reconcile.idnumber import check_char
from synth import pools

DWELLINGS_PER_HOUSEHOLD = 1.6
"""Dwellings drawn per registered household; those past the registered ones are nobody's registered address."""
MAX_COMMUNITIES_PER_CODE = 999
"""Communities one township code numbers (3 digits); a street with more takes further township codes."""


def stream(seed: int, *parts: object) -> random.Random:
    """A random stream of its own for `seed` and `parts`: the same in any process, whatever was drawn before.

    >>> stream(0, "people", "330282001001").random() == stream(0, "people", "330282001001").random()
    True
    """
    key = ":".join(str(p) for p in (seed, *parts)).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest(), "big"))


@dataclass(slots=True)
class Community:
    """One generated community: its codes and names, its places and how many households it registers."""

    code: str
    name: str
    street: str
    station: str
    rural: bool
    places: list[str]
    households: int = 0
    """Registered households; the community has `dwelling_count` dwellings."""
    index: int = 0
    """Position in the city's list of communities (the order of the register and of the rolls)."""

    @property
    def dwelling_count(self) -> int:
        """How many dwellings the community has: the registered households' and free ones."""
        return int(self.households * DWELLINGS_PER_HOUSEHOLD)


@dataclass(slots=True)
class Person:
    """One generated person: as registered, and where they really live (`lives_in`, `lives_at`).

    `lives_at` is None for someone who lives in another community than the one
    they are registered in until that community's roll is written: it chooses
    the dwelling (one for all members of a household who moved there).
    """

    pid: int
    name: str
    sex: str
    birth: dt.date
    id18: str
    ethnicity: str
    relation: str
    household: str
    community: Community
    dwelling: tuple[str, ...]
    former_name: str = ""
    status: str = "正常"
    moved_in: dt.date | None = None
    lives_in: Community | None = None
    lives_at: tuple[str, ...] | None = None


@dataclass(slots=True)
class City:
    """The city's plan: its seed and communities. The people are drawn while it is written."""

    seed: int
    communities: list[Community]
    totals: dict[str, int] = field(default_factory=dict)
    """Filled in by `write_city`: registered people, migrants, register rows and roll rows."""


class Weighted:
    """Draws from (item, weight) pairs, with the cumulative weights worked out once."""

    def __init__(self, items: tuple[tuple[str, int], ...]) -> None:
        self.items = [i for i, _ in items]
        self.cum = list(itertools.accumulate(w for _, w in items))

    def draw(self, rng: random.Random) -> str:
        """One item, with the probability of its weight."""
        return rng.choices(self.items, cum_weights=self.cum)[0]


SURNAMES = Weighted(pools.SURNAMES)
ETHNICITIES = Weighted(pools.ETHNICITIES)

_FIRST_DAY = dt.date(1930, 1, 1).toordinal()
_DAYS = dt.date(2031, 1, 1).toordinal() - _FIRST_DAY


class _IdBook:
    """The ID numbers given out: one bit per (area code, birth date, sequence), whatever the city's size."""

    def __init__(self) -> None:
        self._bits: dict[str, bytearray] = {}

    def take(self, area: str, birth: dt.date, seq: int) -> bool:
        """Take (area, birth, seq) if it is free; whether it was."""
        bits = self._bits.get(area)
        if bits is None:
            bits = self._bits[area] = bytearray(_DAYS * 1000 // 8)
        day = birth.toordinal() - _FIRST_DAY
        if not 0 <= day < _DAYS:
            raise ValueError(f"birth date {birth} outside the ID book's range")
        i = day * 1000 + seq
        mask = 1 << (i & 7)
        if bits[i >> 3] & mask:
            return False
        bits[i >> 3] |= mask
        return True


class Registry:
    """What must stay unique over the whole city: person ids, household numbers and ID numbers."""

    def __init__(self) -> None:
        self.ids = _IdBook()
        self.people = 0
        self.households = 0

    def id_number(self, rng: random.Random, area: str, birth: dt.date, sex: str) -> str:
        """A new ID number for someone of `area`, `birth` and `sex`."""
        for _ in range(100_000):
            seq = rng.randrange(0, 500) * 2 + (1 if sex == "男" else 0)
            if self.ids.take(area, birth, seq):
                first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
                return first17 + check_char(first17)
        raise ValueError(f"no ID number left for area {area}, birth {birth}, sex {sex}: the city is too large")

    def settle(self, seed: int, community: Community, drawn: Drawn) -> None:
        """Give a community's people (drawn on their own) city-wide person ids, 户号 and ID numbers.

        Someone whose drawn ID number is taken keeps its area and birth date and
        gets another sequence number, from a stream of the community's own.
        """
        rng: random.Random | None = None
        numbers: dict[str, str] = {}
        for person in itertools.chain(drawn.registered, drawn.migrants):
            self.people += 1
            person.pid = self.people
            if person.household:
                if person.household not in numbers:
                    self.households += 1
                    numbers[person.household] = f"{330282000 + self.households:09d}"
                person.household = numbers[person.household]
            area, seq = person.id18[:6], int(person.id18[14:17])
            if not self.ids.take(area, person.birth, seq):
                rng = rng or stream(seed, "ids", community.code)
                person.id18 = self.id_number(rng, area, person.birth, person.sex)


def _id_number(rng: random.Random, area: str, birth: dt.date, sex: str) -> str:
    """An ID number for someone of `area`, `birth` and `sex`; `Registry.settle` makes it unique."""
    first17 = f"{area}{birth:%Y%m%d}{rng.randrange(0, 500) * 2 + (1 if sex == '男' else 0):03d}"
    return first17 + check_char(first17)


def _given(rng: random.Random) -> str:
    n = 1 if rng.random() < 0.25 else 2
    return "".join(rng.choice(pools.GIVEN_CHARS) for _ in range(n))


def _birth(rng: random.Random, lo: int, hi: int) -> dt.date:
    return dt.date(rng.randint(lo, hi), 1, 1) + dt.timedelta(days=rng.randrange(365))


def _suffix(serial: int) -> str:
    """What tells apart communities (and villages) that share a head: none, 一 … 九, then 甲一 … 癸九."""
    cycle = serial // len(pools.COMMUNITY_HEADS)
    if cycle == 0:
        return ""
    digit = "一二三四五六七八九"[(cycle - 1) % 9]
    return digit if cycle <= 9 else "甲乙丙丁戊己庚辛壬癸"[(cycle - 10) // 9 % 10] + digit


def _communities(rng: random.Random, scale: int) -> list[Community]:
    out: list[Community] = []
    heads = pools.COMMUNITY_HEADS
    serial = 0
    for street, township, count, station in pools.STREETS:
        for i in range(count * scale):
            head = heads[serial % len(heads)]
            suffix = _suffix(serial)
            serial += 1
            rural = street in pools.TOWNS and rng.random() < 0.5
            name = f"{head}{suffix}{'村' if rural else '社区'}"
            block, number = divmod(i, MAX_COMMUNITIES_PER_CODE)
            code = f"{pools.COUNTY_CODE}{int(township) + 10 * block:03d}{number + 1:03d}"
            if rural:
                places = [f"{rng.choice(pools.VILLAGE_HEADS)}{suffix}村"]
            else:
                places = sorted(
                    {
                        rng.choice(pools.PLACE_HEADS) + rng.choice(pools.PLACE_TAILS) + rng.choice(pools.PLACE_PARTS)
                        for _ in range(rng.randint(3, 7))
                    }
                )
            out.append(Community(code, name, street, station, rural, places, index=len(out)))
    if len({c.code for c in out}) != len(out) or any(len(c.code) != 12 for c in out):
        raise ValueError(f"scale {scale} is too large for 12-digit community codes")
    return out


def build_city(*, scale: int = 1, seed: int = 0, households: int | None = None) -> City:
    """Draw a city's plan: its communities and how many households each registers.

    At scale 1 about 73k households and 200k registered people in the
    proposal's 48 communities; larger scales multiply the communities.
    `households` overrides the total (small cities for tests). The people are
    drawn community by community as the city is written (`synth.write_city`).
    """
    rng = random.Random(seed)
    communities = _communities(rng, scale)
    total_households = households if households is not None else 73_000 * scale
    weights = [rng.uniform(0.4, 1.8) for _ in communities]
    norm = total_households / sum(weights)
    for community, weight in zip(communities, weights, strict=True):
        community.households = max(5, round(weight * norm))
    return City(seed=seed, communities=communities)


def dwellings(seed: int, community: Community) -> list[tuple[str, ...]]:
    """The community's dwellings, the registered households' first: the same whenever they are drawn.

    (place, building, unit, room) for flats; (village, group, number) for rural.
    """
    rng = stream(seed, "dwellings", community.code)
    seen: set[tuple[str, ...]] = set()
    while len(seen) < community.dwelling_count:
        place = rng.choice(community.places)
        if community.rural:
            seen.add((place, str(rng.randint(1, 15)), str(rng.randint(1, 300))))
        else:
            floor, door = rng.randint(1, 18), rng.randint(1, 4)
            seen.add((place, str(rng.randint(1, 40)), str(rng.randint(1, 4)), f"{floor}{door:02d}"))
    out = sorted(seen)
    rng.shuffle(out)
    return out


def free_dwelling(rng: random.Random, homes: list[tuple[str, ...]]) -> tuple[str, ...]:
    """A dwelling for someone who moves in: one past the registered households', mostly.

    The range starts at `len(homes) / 1.6` rounded down, which may fall a
    dwelling or two short of the registered ones: so, now and then, people
    live at a flat where a household that lives elsewhere is registered (let
    or lent), as they did in the generator before it wrote community by
    community.
    """
    return homes[rng.randrange(int(len(homes) / DWELLINGS_PER_HOUSEHOLD), len(homes))]


def _members(rng: random.Random) -> list[tuple[str, str, str, dt.date]]:
    """(relation, surname, sex, birth) of a household's members, the head first."""
    size = rng.choices([1, 2, 3, 4, 5], weights=[20, 25, 30, 15, 10])[0]
    surname = SURNAMES.draw(rng)
    head_sex = "男" if rng.random() < 0.7 else "女"
    head_birth = _birth(rng, 1940, 1995)
    members = [("户主", surname, head_sex, head_birth)]
    if size >= 2:
        spouse_sex = "女" if head_sex == "男" else "男"
        spouse_birth = head_birth + dt.timedelta(days=rng.randint(-1500, 1500))
        members.append(("配偶", SURNAMES.draw(rng), spouse_sex, spouse_birth))
    for _ in range(max(0, size - 2)):
        sex = rng.choice("男女")
        kid_birth = head_birth + dt.timedelta(days=rng.randint(22 * 365, 38 * 365))
        if kid_birth > dt.date(2025, 12, 31):
            kid_birth = dt.date(2025, 12, 31) - dt.timedelta(days=rng.randrange(3000))
        members.append(("子" if sex == "男" else "女", surname, sex, kid_birth))
    return members


def _household(
    rng: random.Random, number: str, community: Community, dwelling: tuple[str, ...], first_pid: int
) -> list[Person]:
    out = []
    for pid, (relation, sname, sex, birth) in enumerate(_members(rng), start=first_pid):
        if rng.random() < 0.005:
            name = rng.choice(pools.MINORITY_NAMES)
            ethnicity = "维吾尔族"
        else:
            name = sname + _given(rng)
            ethnicity = ETHNICITIES.draw(rng)
        old = birth.year < 1989 and rng.random() < 0.3
        area = rng.choice(pools.OLD_COUNTY_CODES) if old else pools.COUNTY_CODE
        person = Person(
            pid=pid,
            name=name,
            sex=sex,
            birth=birth,
            id18=_id_number(rng, area, birth, sex),
            ethnicity=ethnicity,
            relation=relation,
            household=number,
            community=community,
            dwelling=dwelling,
        )
        person.moved_in = max(birth, dt.date(1990, 1, 1)) + dt.timedelta(days=rng.randrange(3000))
        if rng.random() < 0.02:
            person.former_name = sname + _given(rng)
        out.append(person)
    return out


def _place(
    rng: random.Random, city: City, home: Community, homes: list[tuple[str, ...]], members: list[Person]
) -> None:
    """Decide where a household's members really live, mostly together.

    Someone living in another community gets no dwelling yet (`lives_at` None):
    that community's roll chooses it.
    """
    state = rng.choices(["home", "within", "city", "away"], weights=[60, 4, 12, 24])[0]
    within_to = free_dwelling(rng, homes)
    other = rng.choice(city.communities)
    for person in members:
        if rng.random() < 0.02:
            person.status = rng.choice(pools.INACTIVE_STATES)
            continue
        own = state if rng.random() < 0.88 else rng.choice(["home", "away", "away", "city"])
        if own == "home":
            person.lives_in, person.lives_at = home, person.dwelling
        elif own == "within":
            person.lives_in, person.lives_at = home, within_to
        elif own == "city":
            person.lives_in = other
            person.lives_at = within_to if other is home else None


def _migrants(rng: random.Random, community: Community, homes: list[tuple[str, ...]], first_pid: int) -> list[Person]:
    """People living in the community with a registration elsewhere in China."""
    out: list[Person] = []
    for _ in range(int(community.households * rng.uniform(0.1, 0.35))):
        dwelling = free_dwelling(rng, homes)
        surname = SURNAMES.draw(rng)
        for _ in range(rng.choices([1, 2, 3, 4], weights=[40, 30, 20, 10])[0]):
            sex = rng.choice("男女")
            birth = _birth(rng, 1960, 2015)
            out.append(
                Person(
                    pid=first_pid + len(out),
                    name=surname + _given(rng),
                    sex=sex,
                    birth=birth,
                    id18=_id_number(rng, rng.choice(pools.MIGRANT_AREAS), birth, sex),
                    ethnicity="汉族",
                    relation="",
                    household="",
                    community=community,
                    dwelling=dwelling,
                    lives_in=community,
                    lives_at=dwelling,
                )
            )
    return out


@dataclass(slots=True)
class Drawn:
    """One community's people: its registered people in register order, and the migrants living in it."""

    registered: list[Person]
    migrants: list[Person]


def draw_community(city: City, community: Community) -> Drawn:
    """Draw the community's households, where each member lives, and its migrants.

    Everything comes from the community's own streams, so any community can
    be drawn on its own, in any process. Person ids and 户号 are numbered
    within the community, and ID numbers may clash with other communities',
    until `Registry.settle` makes them city-wide.
    """
    rng = stream(city.seed, "people", community.code)
    homes = dwellings(city.seed, community)
    registered: list[Person] = []
    for number, dwelling in enumerate(homes[: community.households], start=1):
        members = _household(rng, str(number), community, dwelling, len(registered) + 1)
        _place(rng, city, community, homes, members)
        registered += members
    return Drawn(registered, _migrants(rng, community, homes, len(registered) + 1))
