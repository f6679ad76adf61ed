"""Dependencies every route declares: the app's context, the session, CSRF and the role rule.

A route states its role rule in its signature (`Depends(require_role(...))`),
so the role is checked before the route reads any database. State-changing
routes also declare `checked_session` (the CSRF token verified).

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from schemas.codes import Role
from services import accounts
from services.accounts import User
from services.paths import DataPaths

SESSION_COOKIE = "hukou_session"
LOGIN_CSRF_COOKIE = "hukou_login_csrf"


@dataclass(frozen=True, slots=True)
class AppContext:
    """What one app instance serves: its data directory, templates and cookie policy (on `app.state.context`)."""

    data_dir: Path
    templates: Jinja2Templates
    secure_cookies: bool = False

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
    if not secrets.compare_digest(sent, sess.csrf):
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
