"""Access rules, one home each, for the review app and the command line alike.

Who may log in (the credential check, with throttling), which communities a
role sees, which roles decide or manage users, and what a user may export.
`services.accounts` only stores users, sessions and login attempts.

>>> from services.accounts import User
>>> liaison = User("police", Role.LIAISON, "城东派出所", True)
>>> may_see(liaison, {"community_code": "110105001001", "street": "和平街道", "police_station": "城东派出所"})
True
>>> may_export_station(liaison, "城西派出所")
False
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from schemas.codes import Role
from services import accounts
from services.export import ExportRefused, ExportScope
from services.reader import published

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from services.accounts import User

__all__ = [
    "ADMIN_ROLES",
    "DECIDING_ROLES",
    "EXPORT_ROLES",
    "FULL_VIEW_ROLES",
    "THROTTLE_MINUTES",
    "BadExportRequest",
    "ExportRefused",
    "LoginRefused",
    "Throttled",
    "WrongCredentials",
    "check_credentials",
    "export_scope_for",
    "may_export_station",
    "may_see",
    "requested_scope",
    "throttled",
]

THROTTLE_MINUTES = 15
"""How far back failed logins count, and so how long a throttled user waits."""
THROTTLE_WINDOW = dt.timedelta(minutes=THROTTLE_MINUTES)
THROTTLE_FAILURES = 5
"""Failed logins per user name within the window before logins are refused (four times that per address)."""

DECIDING_ROLES = frozenset({Role.OPERATOR})
"""Roles that settle queue items and link by hand: operators' work (supervisors follow progress, read only)."""
EXPORT_ROLES = frozenset({Role.LIAISON, Role.ADMIN})
"""Roles that export verified lists (a liaison only their own station's)."""
ADMIN_ROLES = frozenset({Role.ADMIN})
"""Roles that manage users."""
FULL_VIEW_ROLES = frozenset({Role.OPERATOR, Role.LIAISON})
"""Roles that see full names and ID numbers on an item's own page (others see them masked)."""


class LoginRefused(Exception):
    """A login that does not go through."""


class Throttled(LoginRefused):
    """Too many failed logins for this user name or from this address lately."""


class WrongCredentials(LoginRefused):
    """Unknown user, wrong password or a disabled user (deliberately not told apart)."""


class BadExportRequest(ValueError):
    """An export request that names no scope, or two."""


def throttled(state: Path, username: str, ip: str) -> bool:
    """Too many failed logins for this user name or from this address within the window."""
    by_user, by_ip = accounts.failed_logins(
        state, username=username, ip=ip, since=dt.datetime.now(dt.UTC) - THROTTLE_WINDOW
    )
    return by_user >= THROTTLE_FAILURES or by_ip >= THROTTLE_FAILURES * 4


def check_credentials(state: Path, username: str, password: str, ip: str = "cli") -> User:
    """The active user with these credentials; every attempt is recorded and counts towards throttling.

    Every check costs one scrypt (known user or not), and a good password
    stored with a weaker hash is hashed again at today's cost.

    Raises:
        Throttled: too many failed attempts lately (the password is not even checked).
        WrongCredentials: unknown user, wrong password or disabled user.
    """
    if throttled(state, username, ip):
        raise Throttled(f"too many failed logins; try again in {THROTTLE_MINUTES} minutes")
    found = accounts.credentials(state, username)
    usable = found is not None and found[0].active
    # One scrypt whatever the name: an unknown or disabled user is checked against a dummy hash.
    matches = accounts.verify_password(password, found[1] if found and usable else accounts.dummy_hash())
    ok = usable and matches
    accounts.record_login_attempt(state, username, ip, ok=ok)
    if not ok or found is None:
        raise WrongCredentials("wrong user name or password")
    if accounts.needs_rehash(found[1]):
        accounts.upgrade_hash(state, username, password, found[1])
    return found[0]


def may_see(user: User, community: Mapping[str, Any]) -> bool:
    """Whether a user sees a community (a row of `community_summary`).

    Operators see their community, supervisors their street's, liaisons their
    station's, admins all.
    """
    if user.role is Role.ADMIN:
        return True
    if user.role is Role.OPERATOR:
        return bool(community["community_code"] == user.scope)
    if user.role is Role.SUPERVISOR:
        return bool(community["street"] == user.scope)
    return bool(community["police_station"] == user.scope)


def may_export_station(user: User, station: str | None) -> bool:
    """Police liaisons export their own station's communities; admins any station."""
    if user.role is Role.ADMIN:
        return True
    return user.role is Role.LIAISON and station is not None and station == user.scope


def requested_scope(*, station: str | None, community: str | None) -> ExportScope:
    """The scope a request names: exactly one of a police station or a community.

    Raises:
        BadExportRequest: neither or both are given.
    """
    if bool(station) == bool(community):
        raise BadExportRequest("give exactly one of a police station or a community")
    return ExportScope(station=station or None, community=community or None)


def export_scope_for(data_dir: Path, user: User, *, station: str | None, community: str | None) -> ExportScope:
    """The scope this user may export, for a request naming a station or a community.

    The one export rule of the web app and the CLI. The role is checked before
    the published database is read (for the police station of a community).

    Raises:
        BadExportRequest: neither or both of station and community are given.
        ExportRefused: the user may not export that scope.
    """
    scope = requested_scope(station=station, community=community)
    refused = ExportRefused(
        f"{user.username} may not export {scope.label}: only the police liaison of that station or an admin"
    )
    if user.role not in EXPORT_ROLES:
        raise refused
    if scope.station is not None:
        allowed = may_export_station(user, scope.station)
    else:
        allowed = user.role is Role.ADMIN or may_export_station(user, _station_of(data_dir, scope.community))
    if not allowed:
        raise refused
    return scope


def _station_of(data_dir: Path, community: str | None) -> str | None:
    """The police station of a published community, or None for an unknown one."""
    with published(data_dir) as con:
        row = con.execute(
            "SELECT police_station FROM community_summary WHERE community_code = ?", [community]
        ).fetchone()
    return str(row[0]) if row and row[0] is not None else None
