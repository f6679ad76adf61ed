"""The operators' review app (FastAPI + Jinja2 + HTMX): built here, its routes in `review.routers`.

Each app serves one data directory; its context (data directory, templates,
cookie policy) is kept on `app.state.context` for the dependencies in
`review.deps`. Every route declares its session and role rule there.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from review.deps import AppContext, LoginRequired
from review.present import lineage
from review.routers import admin, auth, export, queue, search
from schemas.codes import DecisionKind, ItemState, QueueKind, Role, Side, Status
from schemas.labels import STATUS_LABELS
from services.access import ADMIN_ROLES, EXPORT_ROLES

HERE = Path(__file__).parent


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
        admin_roles=ADMIN_ROLES,
        lineage=lineage,
    )
    return templates


async def _to_login(request: Request, exc: Exception) -> Response:
    """No live session: back to the login form (HTMX requests: a 401 telling HTMX where to go)."""
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse("/login", status_code=303)


def create_app(data_dir: Path, *, secure_cookies: bool = False) -> FastAPI:
    """The review app for one data directory."""
    app = FastAPI(title="hukou-recon review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.context = AppContext(data_dir=Path(data_dir), templates=_templates(), secure_cookies=secure_cookies)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(LoginRequired, _to_login)
    for router in (auth.router, queue.router, search.router, admin.router, export.router):
        app.include_router(router)
    return app


__all__ = ["create_app"]
