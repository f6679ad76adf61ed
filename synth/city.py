"""The synthetic city: communities, dwellings, households, people and where they live."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from reconcile.idnumber import check_char
from synth import pools


@dataclass(slots=True)
class Community:
    """One generated community: its codes and names, its places and its dwellings."""

    code: str
    name: str
    street: str
    station: str
    rural: bool
    places: list[str]
    dwellings: list[tuple[str, ...]] = field(default_factory=list)
    """(place, building, unit, room) for flats; (village, group, number) for rural."""


@dataclass(slots=True)
class Person:
    """One generated person: as registered, and where they really live (`lives_in`, `lives_at`)."""

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
    """Everything generated, before writing: people and where they really live."""

    seed: int
    communities: list[Community]
    registered: list[Person]
    migrants: list[Person]

    @property
    def residents(self) -> list[Person]:
        """Everyone who lives in the city: registered people who live here, then migrants."""
        return [p for p in self.registered if p.lives_in is not None] + self.migrants


def _weighted(rng: random.Random, items: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


class _People:
    """Draws unique names and ID numbers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids: set[str] = set()
        self.next_pid = 0

    def id_number(self, area: str, birth: dt.date, sex: str) -> str:
        while True:
            seq = self.rng.randrange(0, 500) * 2 + (1 if sex == "男" else 0)
            first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
            id18 = first17 + check_char(first17)
            if id18 not in self.ids:
                self.ids.add(id18)
                return id18

    def given(self) -> str:
        n = 1 if self.rng.random() < 0.25 else 2
        return "".join(self.rng.choice(pools.GIVEN_CHARS) for _ in range(n))

    def birth(self, lo: int, hi: int) -> dt.date:
        return dt.date(self.rng.randint(lo, hi), 1, 1) + dt.timedelta(days=self.rng.randrange(365))

    def pid(self) -> int:
        self.next_pid += 1
        return self.next_pid


def _communities(rng: random.Random, scale: int) -> list[Community]:
    out: list[Community] = []
    heads = list(pools.COMMUNITY_HEADS)
    serial = 0
    for street, township, count, station in pools.STREETS:
        for i in range(count * scale):
            head = heads[serial % len(heads)]
            suffix = "" if serial < len(heads) else "一二三四五六七八九"[(serial // len(heads) - 1) % 9]
            serial += 1
            rural = street in pools.TOWNS and rng.random() < 0.5
            name = f"{head}{suffix}{'村' if rural else '社区'}"
            code = f"{pools.COUNTY_CODE}{township}{i + 1:03d}"
            if rural:
                places = [f"{rng.choice(pools.VILLAGE_HEADS)}{suffix}村"]
            else:
                places = sorted(
                    {
                        rng.choice(pools.PLACE_HEADS) + rng.choice(pools.PLACE_TAILS) + rng.choice(pools.PLACE_PARTS)
                        for _ in range(rng.randint(3, 7))
                    }
                )
            out.append(Community(code, name, street, station, rural, places))
    return out


def _dwellings(rng: random.Random, community: Community, count: int) -> None:
    seen: set[tuple[str, ...]] = set()
    while len(seen) < count:
        place = rng.choice(community.places)
        if community.rural:
            seen.add((place, str(rng.randint(1, 15)), str(rng.randint(1, 300))))
        else:
            floor, door = rng.randint(1, 18), rng.randint(1, 4)
            seen.add((place, str(rng.randint(1, 40)), str(rng.randint(1, 4)), f"{floor}{door:02d}"))
    community.dwellings = sorted(seen)
    rng.shuffle(community.dwellings)


def _household(
    rng: random.Random, people: _People, community: Community, dwelling: tuple[str, ...], hh_no: str
) -> list[Person]:
    size = rng.choices([1, 2, 3, 4, 5], weights=[20, 25, 30, 15, 10])[0]
    surname = _weighted(rng, pools.SURNAMES)
    head_sex = "男" if rng.random() < 0.7 else "女"
    head_birth = people.birth(1940, 1995)
    members = [("户主", surname, head_sex, head_birth)]
    if size >= 2:
        spouse_sex = "女" if head_sex == "男" else "男"
        members.append(
            (
                "配偶",
                _weighted(rng, pools.SURNAMES),
                spouse_sex,
                head_birth + dt.timedelta(days=rng.randint(-1500, 1500)),
            )
        )
    for _ in range(max(0, size - 2)):
        sex = rng.choice("男女")
        kid_birth = head_birth + dt.timedelta(days=rng.randint(22 * 365, 38 * 365))
        if kid_birth > dt.date(2025, 12, 31):
            kid_birth = dt.date(2025, 12, 31) - dt.timedelta(days=rng.randrange(3000))
        members.append(("子" if sex == "男" else "女", surname, sex, kid_birth))
    out = []
    for relation, sname, sex, birth in members:
        if rng.random() < 0.005:
            name = rng.choice(pools.MINORITY_NAMES)
            ethnicity = "维吾尔族"
        else:
            name = sname + people.given()
            ethnicity = _weighted(rng, pools.ETHNICITIES)
        old = birth.year < 1989 and rng.random() < 0.3
        area = rng.choice(pools.OLD_COUNTY_CODES) if old else pools.COUNTY_CODE
        person = Person(
            pid=people.pid(),
            name=name,
            sex=sex,
            birth=birth,
            id18=people.id_number(area, birth, sex),
            ethnicity=ethnicity,
            relation=relation,
            household=hh_no,
            community=community,
            dwelling=dwelling,
        )
        person.moved_in = max(birth, dt.date(1990, 1, 1)) + dt.timedelta(days=rng.randrange(3000))
        if rng.random() < 0.02:
            person.former_name = sname + people.given()
        out.append(person)
    return out


def build_city(*, scale: int = 1, seed: int = 0, households: int | None = None) -> City:
    """Draw a city.

    At scale 1 about 73k households and 200k registered people in the
    proposal's 48 communities; larger scales multiply the communities.
    `households` overrides the total (small cities for tests).
    """
    rng = random.Random(seed)
    people = _People(rng)
    communities = _communities(rng, scale)
    total_households = households if households is not None else 73_000 * scale
    weights = [rng.uniform(0.4, 1.8) for _ in communities]
    norm = total_households / sum(weights)
    registered: list[Person] = []
    hh_serial = 0
    for community, weight in zip(communities, weights, strict=True):
        n_households = max(5, round(weight * norm))
        _dwellings(rng, community, int(n_households * 1.6))
        for dwelling in community.dwellings[:n_households]:
            hh_serial += 1
            registered.extend(_household(rng, people, community, dwelling, f"{330282000 + hh_serial:09d}"))
    _place_registered(rng, communities, registered)
    migrants = _migrants(rng, people, communities)
    return City(seed=seed, communities=communities, registered=registered, migrants=migrants)


def _free_dwelling(rng: random.Random, community: Community) -> tuple[str, ...]:
    # Dwellings past the registered ones are nobody's registered address.
    n = len(community.dwellings)
    return community.dwellings[rng.randrange(int(n / 1.6), n)]


def _place_registered(rng: random.Random, communities: list[Community], registered: list[Person]) -> None:
    """Decide where each registered person really lives, mostly household by household."""
    by_household: dict[str, list[Person]] = {}
    for person in registered:
        by_household.setdefault(person.household, []).append(person)
    for members in by_household.values():
        home = members[0].community
        state = rng.choices(["home", "within", "city", "away"], weights=[60, 4, 12, 24])[0]
        within_to = _free_dwelling(rng, home)
        other = rng.choice(communities)
        city_to = _free_dwelling(rng, other)
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
                person.lives_in, person.lives_at = other, city_to
                if other is home:
                    person.lives_at = within_to


def _migrants(rng: random.Random, people: _People, communities: list[Community]) -> list[Person]:
    """People living in the city with a registration elsewhere in China."""
    out: list[Person] = []
    for community in communities:
        n_households = int(len(community.dwellings) / 1.6 * rng.uniform(0.1, 0.35))
        for _ in range(n_households):
            dwelling = _free_dwelling(rng, community)
            surname = _weighted(rng, pools.SURNAMES)
            for _ in range(rng.choices([1, 2, 3, 4], weights=[40, 30, 20, 10])[0]):
                sex = rng.choice("男女")
                birth = people.birth(1960, 2015)
                person = Person(
                    pid=people.pid(),
                    name=surname + people.given(),
                    sex=sex,
                    birth=birth,
                    id18=people.id_number(rng.choice(pools.MIGRANT_AREAS), birth, sex),
                    ethnicity="汉族",
                    relation="",
                    household="",
                    community=community,
                    dwelling=dwelling,
                    lives_in=community,
                    lives_at=dwelling,
                )
                out.append(person)
    return out
