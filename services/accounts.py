"""Users, passwords, sessions and login attempts, stored in the SQLite state.

Storage only: the rules (whose credentials are good, when logins are throttled,
who sees and exports what) live in `services.access`. Passwords: scrypt (stdlib
`hashlib.scrypt`, a memory-hard KDF; no extra dependency needed) at OWASP's
cost, weaker stored hashes upgraded at the next good login. Sessions: random
tokens, only their SHA-256 stored, with an expiry and a per-session CSRF token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from schemas.codes import Role
from schemas.inputs import COMMUNITY_CODE
from services.audit import audit
from services.state import connect

if TYPE_CHECKING:
    from pathlib import Path

OWASP_SCRYPT = (2**17, 8, 1)
"""OWASP's scrypt cost (N, r, p): 128 MiB of memory and a few hundred milliseconds a hash."""
SCRYPT_N, SCRYPT_R, SCRYPT_P = OWASP_SCRYPT
"""The cost of new hashes, read at each call (the tests lower N: many users, no attacker)."""
SCRYPT_MAX_N = 2**20
"""Stored hashes asking for more are refused rather than computed (1 GiB at r=8)."""
SESSION_HOURS = 8


class AccountError(ValueError):
    """A user-management request that cannot be carried out."""


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    """Scrypt with memory enough for its cost (OpenSSL refuses more than 32 MiB unless told)."""
    maxmem = 128 * r * (n + p + 2) + 2**20
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem)


def hash_password(password: str) -> str:
    """A salted scrypt hash of a password, with its parameters, for storage."""
    salt = secrets.token_bytes(16)
    n, r, p = SCRYPT_N, SCRYPT_R, SCRYPT_P
    digest = _scrypt(password, salt, n, r, p, 32)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(digest).decode()}"


def _parameters(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    """(N, r, p, salt, digest) of a stored hash; None when it is not one of ours or asks for too much."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        params = int(n), int(r), int(p), base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True)
    except ValueError:
        return None
    if scheme != "scrypt" or not 1 < params[0] <= SCRYPT_MAX_N or not 0 < params[1] * params[2] <= 64:
        return None
    return params


def verify_password(password: str, stored: str) -> bool:
    """Whether a password matches a stored hash (constant-time comparison)."""
    params = _parameters(stored)
    if params is None:
        return False
    n, r, p, salt, digest = params
    try:
        actual = _scrypt(password, salt, n, r, p, len(digest))
    except ValueError:  # N not a power of two
        return False
    return hmac.compare_digest(actual, digest)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash is weaker than new ones get (upgraded at the next good login)."""
    params = _parameters(stored)
    if params is None:
        return True
    n, r, p, _, digest = params
    return n < SCRYPT_N or r < SCRYPT_R or p < SCRYPT_P or len(digest) < 32


_DUMMY_HASHES: dict[tuple[int, int, int], str] = {}


def dummy_hash() -> str:
    """A hash of a random password at today's cost: checked against when a user is unknown or disabled.

    So every credential check costs one scrypt, and response times do not tell
    which user names exist.
    """
    key = (SCRYPT_N, SCRYPT_R, SCRYPT_P)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASHES[key]


@dataclass(frozen=True, slots=True)
class User:
    """A review-app user: role, scope (community code, street or station) and whether active."""

    username: str
    role: Role
    scope: str | None
    active: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_scope(role: Role, scope: str | None) -> None:
    if role is Role.ADMIN:
        return
    if not scope:
        raise AccountError(f"a {role.value} needs a scope (community code, street or police station)")
    if role is Role.OPERATOR and not re.fullmatch(COMMUNITY_CODE, scope):
        raise AccountError("an operator's scope is a 12-digit community code")


def add_user(state: Path, username: str, password: str, role: Role, scope: str | None, *, by: str = "cli") -> User:
    """Store a new user (audited); `AccountError` for a bad scope, short password or taken name."""
    _check_scope(role, scope)
    if len(password) < 10:
        raise AccountError("passwords need at least 10 characters")
    with connect(state) as conn:
        try:
            conn.execute(
                "INSERT INTO users (username, password_hash, role, scope, active, created_at) VALUES (?, ?, ?, ?, 1, ?)",
                (username, hash_password(password), role.value, scope, _now().isoformat(timespec="seconds")),
            )
        except sqlite3.IntegrityError as exc:
            raise AccountError(f"user {username!r} exists already") from exc
        audit(conn, by, "user_add", username, None, {"role": role.value, "scope": scope}, None)
    return User(username, role, scope, True)


def list_users(state: Path) -> list[User]:
    """Every user, by name."""
    with connect(state) as conn:
        rows = conn.execute("SELECT username, role, scope, active FROM users ORDER BY username").fetchall()
    return [User(u, Role(r), s, bool(a)) for u, r, s, a in rows]


def get_user(state: Path, username: str) -> User | None:
    """One user by name, or None."""
    with connect(state) as conn:
        row = conn.execute("SELECT username, role, scope, active FROM users WHERE username = ?", (username,)).fetchone()
    return User(row[0], Role(row[1]), row[2], bool(row[3])) if row else None


def set_active(state: Path, username: str, active: bool, *, by: str = "cli") -> None:
    """Enable or disable a user (disabling ends their sessions; audited)."""
    with connect(state) as conn:
        if conn.execute("UPDATE users SET active = ? WHERE username = ?", (int(active), username)).rowcount == 0:
            raise AccountError(f"no user {username!r}")
        if not active:
            conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
        audit(conn, by, "user_enable" if active else "user_disable", username, None, None, None)


def set_password(state: Path, username: str, password: str, *, by: str = "cli") -> None:
    """Replace a user's password (ends their sessions; audited)."""
    if len(password) < 10:
        raise AccountError("passwords need at least 10 characters")
    with connect(state) as conn:
        if (
            conn.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?", (hash_password(password), username)
            ).rowcount
            == 0
        ):
            raise AccountError(f"no user {username!r}")
        conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
        audit(conn, by, "user_passwd", username, None, None, None)


def upgrade_hash(state: Path, username: str, password: str, old: str) -> None:
    """Store a fresh hash at today's cost for a password just checked against the stored `old` one.

    Sessions are kept (the password is the same); a concurrent change of the
    password wins.
    """
    with connect(state) as conn:
        conn.execute(
            "UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?",
            (hash_password(password), username, old),
        )


def failed_logins(state: Path, *, username: str, ip: str, since: dt.datetime) -> tuple[int, int]:
    """Failed logins since a moment: (for this user name, from this address)."""
    stamp = since.isoformat(timespec="seconds")
    with connect(state) as conn:
        (by_user,) = conn.execute(
            "SELECT count(*) FROM login_attempts WHERE ok = 0 AND at >= ? AND username = ?", (stamp, username)
        ).fetchone()
        (by_ip,) = conn.execute(
            "SELECT count(*) FROM login_attempts WHERE ok = 0 AND at >= ? AND ip = ?", (stamp, ip)
        ).fetchone()
    return int(by_user), int(by_ip)


def record_login_attempt(state: Path, username: str, ip: str, *, ok: bool) -> None:
    """Note a login attempt, good or bad (what throttling counts)."""
    with connect(state) as conn:
        conn.execute(
            "INSERT INTO login_attempts (username, ip, at, ok) VALUES (?, ?, ?, ?)",
            (username, ip, _now().isoformat(timespec="seconds"), int(ok)),
        )


def credentials(state: Path, username: str) -> tuple[User, str] | None:
    """(user, stored password hash) for a user name, active or not; None for an unknown name."""
    with connect(state) as conn:
        row = conn.execute(
            "SELECT username, role, scope, active, password_hash FROM users WHERE username = ?", (username,)
        ).fetchone()
    return (User(row[0], Role(row[1]), row[2], bool(row[3])), row[4]) if row else None


def open_session(state: Path, username: str) -> tuple[str, str]:
    """A new session for a user whose credentials were checked: (session token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with connect(state) as conn:
        conn.execute(
            "INSERT INTO sessions (token_hash, username, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (
                _token_hash(token),
                username,
                csrf,
                _now().isoformat(timespec="seconds"),
                (_now() + dt.timedelta(hours=SESSION_HOURS)).isoformat(timespec="seconds"),
            ),
        )
        audit(conn, username, "login", None, None, None, None)
    return token, csrf


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_user(state: Path, token: str | None) -> tuple[User, str] | None:
    """(user, CSRF token) for a live session of an active user."""
    if not token:
        return None
    with connect(state) as conn:
        row = conn.execute(
            """SELECT u.username, u.role, u.scope, u.active, s.csrf_token, s.expires_at
               FROM sessions s JOIN users u ON u.username = s.username WHERE s.token_hash = ?""",
            (_token_hash(token),),
        ).fetchone()
    if not row or not row[3] or row[5] < _now().isoformat(timespec="seconds"):
        return None
    return User(row[0], Role(row[1]), row[2], True), row[4]


def logout(state: Path, token: str) -> None:
    """End one session."""
    with connect(state) as conn:
        conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))
