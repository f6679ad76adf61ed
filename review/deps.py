"""Dependencies every route declares: the app's context, the session, CSRF and the role rule.

A route states its role rule in its signature (`Depends(require_role(...))`),
so the role is checked before the route reads any database. State-changing
routes also declare `checked_session` (the CSRF token verified).

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

import ipaddress
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from schemas.codes import Role
from services import accounts, config
from services.access import DECIDING_ROLES
from services.accounts import User
from services.paths import DataPaths

SESSION_COOKIE = "hukou_session"
LOGIN_CSRF_COOKIE = "hukou_login_csrf"
LOOPBACK_HOSTS = frozenset({"localhost"})
"""Host names served without Secure cookies (besides loopback addresses): plain http is fine there."""
TRUSTED_PROXIES_ENV = "HUKOU_TRUSTED_PROXIES"
"""Comma list of proxy addresses or networks whose `X-Forwarded-For` the login throttle believes."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class AppContext:
    """What one app instance serves: its data directory, templates, cookie policy and trusted proxies.

    Kept on `app.state.context`. `secure_cookies` marks cookies Secure even on
    loopback (they always are on any other host).
    """

    data_dir: Path
    templates: Jinja2Templates
    secure_cookies: bool = False
    trusted_proxies: tuple[Network, ...] = ()

    @property
    def paths(self) -> DataPaths:
        """The files of the data directory."""
        return DataPaths(self.data_dir)


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in user, the session's CSRF token and its cookie token."""

    user: User
    csrf: str
    token: str


def trusted_proxies(setting: str | None = None) -> tuple[Network, ...]:
    """The proxies of a comma list of addresses or networks (default: the `trusted_proxies` setting).

    The setting is HUKOU_TRUSTED_PROXIES, else the configuration file's (`services.config.setting`).

    Raises:
        ValueError: an entry is not an address or network.
    """
    text = (config.setting("trusted_proxies") or "") if setting is None else setting
    networks = []
    for entry in filter(None, (e.strip() for e in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"{TRUSTED_PROXIES_ENV}: {entry!r} is not an address or network") from exc
    return tuple(networks)


def _trusted(address: str, proxies: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def forwarded_client(peer: str, forwarded_for: str | None, proxies: Iterable[Network]) -> str:
    """The client address: the peer's, or behind a trusted proxy the rightmost untrusted `X-Forwarded-For` one.

    Addresses left of the rightmost untrusted one were written by the client and
    prove nothing. A malformed entry falls back to the peer.
    """
    proxies = tuple(proxies)
    if not forwarded_for or not _trusted(peer, proxies):
        return peer
    client = peer
    for entry in reversed([e.strip() for e in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            return peer
        client = entry
        if not _trusted(entry, proxies):
            break
    return client


def client_ip(request: Request, ctx: AppContext) -> str:
    """The address the login throttle counts for this request (see `forwarded_client`)."""
    peer = request.client.host if request.client else "?"
    forwarded = ",".join(request.headers.getlist("X-Forwarded-For"))  # several headers read as one list
    return forwarded_client(peer, forwarded, ctx.trusted_proxies)


def secure_cookies(request: Request, ctx: AppContext) -> bool:
    """Whether this response's cookies are Secure: always, unless the request's host is loopback."""
    host = request.url.hostname or ""
    if ctx.secure_cookies or request.url.scheme == "https":
        return True
    if host.lower() in LOOPBACK_HOSTS:
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def same_token(sent: str, expected: str) -> bool:
    """Constant-time comparison of two tokens, any characters (`compare_digest` refuses non-ASCII strings)."""
    return bool(expected) and secrets.compare_digest(sent.encode(), expected.encode())


class LoginRequired(Exception):
    """No live session: pages redirect to the login form (HTMX requests get a 401 with HX-Redirect)."""


def app_context(request: Request) -> AppContext:
    """The context of the app serving this request."""
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(app_context)]


def current_session(request: Request, ctx: Context) -> Session:
    """The live session of this request's cookie.

    Raises:
        LoginRequired: no cookie, an expired session or a disabled user.
    """
    token = request.cookies.get(SESSION_COOKIE)
    found = accounts.session_user(ctx.paths.state, token)
    if not found or not token:
        raise LoginRequired
    return Session(found[0], found[1], token)


async def checked_session(request: Request, sess: Annotated[Session, Depends(current_session)]) -> Session:
    """The session, after the CSRF token of a state-changing request is verified (header or form field).

    Raises:
        HTTPException: 403 when the token is missing or wrong.
    """
    form = await request.form()
    sent = request.headers.get("X-CSRF-Token") or str(form.get("csrf_token") or "")
    if not same_token(sent, sess.csrf):
        raise HTTPException(status_code=403, detail="CSRF token missing or wrong")
    return sess


def require_role(*roles: Role) -> Callable[[Session], Session]:
    """A dependency admitting the session of a user with one of these roles (403 for any other).

    With no roles, any logged-in user is admitted.
    """
    allowed = frozenset(roles) or frozenset(Role)
    detail = "this role may not do this (allowed: " + ", ".join(sorted(r.value for r in allowed)) + ")"

    def role_checked(sess: Annotated[Session, Depends(current_session)]) -> Session:
        if sess.user.role not in allowed:
            raise HTTPException(status_code=403, detail=detail)
        return sess

    return role_checked


AnyUser = Annotated[Session, Depends(require_role())]
"""Any logged-in user."""
Decider = Annotated[Session, Depends(require_role(*DECIDING_ROLES))]
"""A user who may decide and link (operators)."""
Checked = Annotated[Session, Depends(checked_session)]
"""A logged-in user whose request carries the session's CSRF token."""


def render(
    request: Request, ctx: AppContext, name: str, sess: Session | None, status_code: int = 200, **context: Any
) -> Response:
    """A template with the user and their CSRF token in its context."""
    context.update(user=sess.user if sess else None, csrf=sess.csrf if sess else "")
    return ctx.templates.TemplateResponse(request, name, context, status_code=status_code)


def go(request: Request, target: str) -> Response:
    """Move the browser on: an HX-Redirect for HTMX requests, a 303 otherwise."""
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
