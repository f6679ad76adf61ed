"""Logging in and out, and the health check.

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from review.deps import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Checked,
    Context,
    client_ip,
    render,
    same_token,
    secure_cookies,
)
from services import access, accounts

router = APIRouter(tags=["auth"])

THROTTLED_MESSAGE = f"尝试次数过多，请{access.THROTTLE_MINUTES}分钟后再试 (too many attempts)"
WRONG_MESSAGE = "用户名或密码错误 (wrong user name or password)"


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The app is up."""
    return {"status": "ok"}


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, ctx: Context) -> Response:
    """The login form, with a fresh login CSRF token in a cookie and the form."""
    token = secrets.token_urlsafe(24)
    response = render(request, ctx, "login.html", None, login_csrf=token, error=None)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies(request, ctx), max_age=3600
    )
    return response


@router.post("/login")
def login(
    request: Request,
    ctx: Context,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    login_csrf: Annotated[str, Form()] = "",
) -> Response:
    """Check the credentials (throttled); on success open a session and go to the queue."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_token(login_csrf, cookie):
        raise HTTPException(status_code=403, detail="CSRF token missing or wrong")
    try:
        user = access.check_credentials(ctx.paths.state, username, password, client_ip(request, ctx))
    except access.Throttled:
        return render(request, ctx, "login.html", None, status_code=429, login_csrf=login_csrf, error=THROTTLED_MESSAGE)
    except access.WrongCredentials:
        return render(request, ctx, "login.html", None, status_code=401, login_csrf=login_csrf, error=WRONG_MESSAGE)
    token, _ = accounts.open_session(ctx.paths.state, user.username)
    secure = secure_cookies(request, ctx)
    response = RedirectResponse("/queue", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=accounts.SESSION_HOURS * 3600
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, httponly=True, samesite="strict", secure=secure)
    return response


@router.post("/logout")
def logout(request: Request, ctx: Context, sess: Checked) -> Response:
    """End the session and go back to the login form."""
    accounts.logout(ctx.paths.state, sess.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict", secure=secure_cookies(request, ctx))
    return response
