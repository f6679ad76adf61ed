"""The operators' review app (FastAPI + Jinja2 + HTMX): built here, its routes in `review.routers`.

Each app serves one data directory; its context (data directory, templates,
cookie policy, trusted proxies) is kept on `app.state.context` for the
dependencies in `review.deps`. Every route declares its session and role rule
there. Every response carries the headers of `SecurityHeaders`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders

from review.deps import AppContext, LoginRequired, trusted_proxies
from review.present import lineage
from review.routers import admin, auth, coverage, export, household, progress, queue, search, worksheet
from schemas.codes import DecisionKind, ItemState, QueueKind, Role, Side, Status
from schemas.labels import STATUS_LABELS
from services import accounts
from services.access import ADMIN_ROLES, DECIDING_ROLES, EXPORT_ROLES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).parent


class SecurityHeaders:
    """ASGI middleware: no caching, a strict Content-Security-Policy and no sniffing on every response.

    Pages carry full ID numbers, so nothing is stored by browsers or proxies.
    Scripts come from /static or carry the response's nonce (`request.state.csp_nonce`,
    which templates put on their inline scripts); no framing, no plugins.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        policy = "; ".join(
            (
                "default-src 'self'",
                f"script-src 'self' 'nonce-{nonce}'",
                "style-src 'self'",
                "img-src 'self' data:",
                "object-src 'none'",
                "base-uri 'none'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            )
        )

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Cache-Control"] = "no-store"
                headers["Content-Security-Policy"] = policy
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "DENY"
            await send(message)

        await self.app(scope, receive, with_headers)


def _templates() -> Jinja2Templates:
    """The templates, with the codes (compare and label with them, never with bare strings) as globals."""
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(
        DecisionKind=DecisionKind,
        ItemState=ItemState,
        QueueKind=QueueKind,
        Role=Role,
        Side=Side,
        Status=Status,
        EVERY_STATE=queue.EVERY_STATE,
        status_labels=STATUS_LABELS,
        export_roles=EXPORT_ROLES,
        deciding_roles=DECIDING_ROLES,
        admin_roles=ADMIN_ROLES,
        lineage=lineage,
    )
    return templates


async def _to_login(request: Request, exc: Exception) -> Response:
    """No live session: back to the login form (HTMX requests: a 401 telling HTMX where to go)."""
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse("/login", status_code=303)


def create_app(data_dir: Path, *, secure_cookies: bool = False, proxies: Iterable[str] | str | None = None) -> FastAPI:
    """The review app for one data directory.

    Args:
        data_dir: the data directory served.
        secure_cookies: mark cookies Secure on loopback too (on any other host they always are).
        proxies: addresses or networks of trusted reverse proxies (default: `HUKOU_TRUSTED_PROXIES`).
    """
    app = FastAPI(title="hukou-recon review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.context = AppContext(
        data_dir=Path(data_dir),
        templates=_templates(),
        secure_cookies=secure_cookies,
        trusted_proxies=trusted_proxies(proxies if proxies is None or isinstance(proxies, str) else ",".join(proxies)),
    )
    app.add_middleware(SecurityHeaders)
    accounts.dummy_hash()  # made now, so no login pays for it (and shows by its time that the name is unknown)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(LoginRequired, _to_login)
    for router in (
        auth.router,
        queue.router,
        household.router,
        search.router,
        admin.router,
        export.router,
        coverage.router,
        progress.router,
        worksheet.router,
    ):
        app.include_router(router)
    return app


__all__ = ["create_app"]
