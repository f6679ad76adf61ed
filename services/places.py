"""The communities, streets and police stations the published results know: what a user's scope may name.

A scope nobody's data carries (浒山所 for 浒山派出所) would give a user who sees nothing and can never export;
`check_scope` refuses it and suggests the closest names that exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from schemas.codes import Role
from services import reader

if TYPE_CHECKING:
    from pathlib import Path


class UnknownPlace(ValueError):
    """A scope that names no community, street or police station of the published results."""


@dataclass(frozen=True, slots=True)
class Community:
    """One community as the published summary names it."""

    code: str
    name: str | None
    street: str | None
    station: str | None


@dataclass(frozen=True, slots=True)
class Places:
    """Every community of the published results, with its street and police station."""

    communities: tuple[Community, ...]

    @property
    def streets(self) -> list[str]:
        """The streets (or towns), sorted."""
        return sorted({c.street for c in self.communities if c.street})

    @property
    def stations(self) -> list[str]:
        """The police stations, sorted."""
        return sorted({c.station for c in self.communities if c.station})


def known_places(data_dir: Path) -> Places | None:
    """The places of the published results in `data_dir`; None when nothing is published there yet."""
    try:
        with reader.published(data_dir) as con:
            rows = reader.community_rows(con)
    except FileNotFoundError:
        return None
    return Places(
        tuple(Community(r["community_code"], r["community_name"], r["street"], r["police_station"]) for r in rows)
    )


def check_scope(role: Role, scope: str | None, places: Places) -> None:
    """Refuse a scope that names nothing `places` knows for this role, suggesting the closest names that exist.

    >>> places = Places((Community("330282001001", "青少年宫路社区", "浒山街道", "浒山派出所"),))
    >>> check_scope(Role.LIAISON, "浒山派出所", places)
    >>> check_scope(Role.LIAISON, "浒山所", places)
    Traceback (most recent call last):
    ...
    services.places.UnknownPlace: no police station 浒山所 in the published results; the closest: 浒山派出所 (`hukou places` lists them)
    """
    if role is Role.ADMIN or scope is None:
        return
    if role is Role.OPERATOR:
        by_code = {c.code: c for c in places.communities}
        if scope in by_code:
            return
        labels = {f"{c.code} ({c.name})" if c.name else c.code: f"{c.code} {c.name or ''}" for c in places.communities}
        _refuse("community", scope, labels)
    known = places.streets if role is Role.SUPERVISOR else places.stations
    if scope in known:
        return
    _refuse("street" if role is Role.SUPERVISOR else "police station", scope, {k: k for k in known})


def _refuse(kind: str, scope: str, choices: dict[str, str]) -> None:
    """Raise `UnknownPlace` naming the three closest of `choices` (label: text compared)."""
    found = process.extract(scope, choices, scorer=fuzz.WRatio, limit=3)
    closest = ", ".join(label for _, _, label in found)
    hint = f"; the closest: {closest}" if closest else "; nothing is published to choose from"
    raise UnknownPlace(f"no {kind} {scope} in the published results{hint} (`hukou places` lists them)")


def check_published_scope(data_dir: Path, role: Role, scope: str | None) -> None:
    """`check_scope` against what is published in `data_dir`; a scope cannot be checked before anything is."""
    if role is Role.ADMIN or scope is None:
        return
    places = known_places(data_dir)
    if places is None:
        raise UnknownPlace(
            f"nothing is published in {data_dir} yet, so the scope {scope} cannot be checked: run `hukou run` first "
            "(or, from the command line, add the user with --unchecked-scope)"
        )
    check_scope(role, scope, places)
