"""Users, passwords, sessions and login throttling, stored in the SQLite state.

Passwords: scrypt (stdlib `hashlib.scrypt`, a memory-hard KDF; no extra
dependency needed). Sessions: random tokens, only their SHA-256 stored, with
an expiry and a per-session CSRF token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from schemas.codes import Role
from services.decisions import audit
from services.state import connect

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_HOURS = 8
THROTTLE_WINDOW = dt.timedelta(minutes=15)
THROTTLE_FAILURES = 5


class AccountError(ValueError):
    """A user-management request that cannot be carried out."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    actual = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(base64.b64decode(digest)),
    )
    return hmac.compare_digest(actual, base64.b64decode(digest))


@dataclass(frozen=True, slots=True)
class User:
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
    if role is Role.OPERATOR and not (len(scope) == 12 and scope.isdigit()):
        raise AccountError("an operator's scope is a 12-digit community code")


def add_user(state: Path, username: str, password: str, role: Role, scope: str | None, *, by: str = "cli") -> User:
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
    with connect(state) as conn:
        rows = conn.execute("SELECT username, role, scope, active FROM users ORDER BY username").fetchall()
    return [User(u, Role(r), s, bool(a)) for u, r, s, a in rows]


def get_user(state: Path, username: str) -> User | None:
    with connect(state) as conn:
        row = conn.execute("SELECT username, role, scope, active FROM users WHERE username = ?", (username,)).fetchone()
    return User(row[0], Role(row[1]), row[2], bool(row[3])) if row else None


def set_active(state: Path, username: str, active: bool, *, by: str = "cli") -> None:
    with connect(state) as conn:
        if conn.execute("UPDATE users SET active = ? WHERE username = ?", (int(active), username)).rowcount == 0:
            raise AccountError(f"no user {username!r}")
        if not active:
            conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
        audit(conn, by, "user_enable" if active else "user_disable", username, None, None, None)


def set_password(state: Path, username: str, password: str, *, by: str = "cli") -> None:
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


def throttled(state: Path, username: str, ip: str) -> bool:
    """Too many failed logins for this user name or from this address lately."""
    since = (_now() - THROTTLE_WINDOW).isoformat(timespec="seconds")
    with connect(state) as conn:
        (by_user,) = conn.execute(
            "SELECT count(*) FROM login_attempts WHERE ok = 0 AND at >= ? AND username = ?", (since, username)
        ).fetchone()
        (by_ip,) = conn.execute(
            "SELECT count(*) FROM login_attempts WHERE ok = 0 AND at >= ? AND ip = ?", (since, ip)
        ).fetchone()
    return bool(by_user >= THROTTLE_FAILURES or by_ip >= THROTTLE_FAILURES * 4)


def login(state: Path, username: str, password: str, ip: str) -> tuple[str, str] | None:
    """(session token, CSRF token) for good credentials of an active user, else None."""
    with connect(state) as conn:
        row = conn.execute("SELECT password_hash, active FROM users WHERE username = ?", (username,)).fetchone()
        ok = bool(row and row[1] and verify_password(password, row[0]))
        conn.execute(
            "INSERT INTO login_attempts (username, ip, at, ok) VALUES (?, ?, ?, ?)",
            (username, ip, _now().isoformat(timespec="seconds"), int(ok)),
        )
        if not ok:
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
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
    with connect(state) as conn:
        conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))


def authenticate(state: Path, username: str, password: str, ip: str = "cli") -> User | None:
    """The active user with these credentials (throttled and recorded like a web login)."""
    if throttled(state, username, ip):
        return None
    with connect(state) as conn:
        row = conn.execute(
            "SELECT password_hash, active, role, scope FROM users WHERE username = ?", (username,)
        ).fetchone()
        ok = bool(row and row[1] and verify_password(password, row[0]))
        conn.execute(
            "INSERT INTO login_attempts (username, ip, at, ok) VALUES (?, ?, ?, ?)",
            (username, ip, _now().isoformat(timespec="seconds"), int(ok)),
        )
    return User(username, Role(row[2]), row[3], True) if ok and row else None


def may_export(user: User, *, station: str | None, community_station: str | None) -> bool:
    """Police liaisons export their own station's communities; admins any."""
    if user.role is Role.ADMIN:
        return True
    if user.role is not Role.LIAISON:
        return False
    return (station is not None and station == user.scope) or (
        community_station is not None and community_station == user.scope
    )
