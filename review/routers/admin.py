"""User management for admins.

No `from __future__ import annotations` here: FastAPI reads these signatures.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from review.deps import Checked, Context, Session, render, require_role
from schemas.codes import Role
from services import accounts
from services.access import ADMIN_ROLES
from services.places import check_published_scope

router = APIRouter(prefix="/admin", tags=["admin"])

Admin = Annotated[Session, Depends(require_role(*ADMIN_ROLES))]


def _users_page(
    request: Request, ctx: Context, sess: Session, *, error: str | None, status_code: int = 200
) -> Response:
    users = accounts.list_users(ctx.paths.state)
    return render(request, ctx, "users.html", sess, status_code=status_code, users=users, roles=list(Role), error=error)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, ctx: Context, sess: Admin, error: str | None = None) -> Response:
    """The users, and a form to add one."""
    return _users_page(request, ctx, sess, error=error)


@router.post("/users")
def users_add(
    request: Request,
    ctx: Context,
    sess: Admin,
    _csrf: Checked,
    username: Annotated[str, Form()],
    role: Annotated[str, Form()],
    password: Annotated[str, Form()],
    scope: Annotated[str, Form()] = "",
) -> Response:
    """Add a user; a bad request shows the page again with the reason (422)."""
    try:
        check_published_scope(ctx.paths.root, Role(role), scope.strip() or None)
        accounts.add_user(
            ctx.paths.state, username.strip(), password, Role(role), scope.strip() or None, by=sess.user.username
        )
    except (accounts.AccountError, ValueError) as exc:
        return _users_page(request, ctx, sess, error=str(exc), status_code=422)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{username}/disable")
def users_disable(username: str, ctx: Context, sess: Admin, _csrf: Checked) -> Response:
    """Disable a user (not oneself) and end their sessions."""
    if username == sess.user.username:
        raise HTTPException(status_code=422, detail="an admin cannot disable themselves")
    try:
        accounts.set_active(ctx.paths.state, username, False, by=sess.user.username)
    except accounts.AccountError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    return RedirectResponse("/admin/users", status_code=303)
