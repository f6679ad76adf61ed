"""The operators' review app (FastAPI + Jinja2 + HTMX).

Every route checks the session, and every item id is checked against the
user's communities on the server: an item outside them is a 404. Published
results are read READ_ONLY per request; decisions go to the SQLite state.

No `from __future__ import annotations` here: FastAPI must see the
dependencies in the route signatures, which are closures of `create_app`.
"""

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from review import data
from review.present import FIELD_NAMES, FULL_VIEW_ROLES, diff_pair, lineage, shown, waterfall_svg
from schemas.codes import DecisionKind, Role, Status
from schemas.labels import STATUS_LABELS
from services import accounts
from services.accounts import User
from services.charts import summary_svg
from services.decisions import ItemKeys, active_decisions, decide, undo_last
from services.export import ExportScope, export, zip_bytes
from services.paths import DataPaths

HERE = Path(__file__).parent
SESSION_COOKIE = "hukou_session"
LOGIN_CSRF_COOKIE = "hukou_login_csrf"
PAGE_SIZE = 50
DECIDING_ROLES = frozenset({Role.OPERATOR, Role.SUPERVISOR})
EXPORT_ROLES = frozenset({Role.LIAISON, Role.ADMIN})
KIND_LABELS = {"pair": "待核实配对", "unregistered": "人在户不在", "absent": "户在人不在"}
SHORTCUTS = {
    DecisionKind.SAME_PERSON: "s",
    DecisionKind.DIFFERENT_PERSON: "d",
    DecisionKind.CONFIRM_UNREGISTERED: "u",
    DecisionKind.CONFIRM_ABSENT: "a",
    DecisionKind.DOOR_VISIT: "v",
}
ALLOWED_DECISIONS = {
    "pair": (DecisionKind.SAME_PERSON, DecisionKind.DIFFERENT_PERSON, DecisionKind.DOOR_VISIT),
    "unregistered": (DecisionKind.CONFIRM_UNREGISTERED, DecisionKind.DOOR_VISIT),
    "absent": (DecisionKind.CONFIRM_ABSENT, DecisionKind.DOOR_VISIT),
}


class Session:
    def __init__(self, user: User, csrf: str, token: str) -> None:
        self.user, self.csrf, self.token = user, csrf, token


class LoginRequired(Exception):
    pass


def create_app(data_dir: Path, *, secure_cookies: bool = False) -> FastAPI:
    """The app for one data directory."""
    paths = DataPaths(data_dir)
    app = FastAPI(title="hukou-recon review", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(
        kind_labels=KIND_LABELS, status_labels={s.value: s.label for s in Status}, lineage=lineage
    )

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    def session(request: Request) -> Session:
        token = request.cookies.get(SESSION_COOKIE)
        found = accounts.session_user(paths.state, token)
        if not found or not token:
            raise LoginRequired
        return Session(found[0], found[1], token)

    async def checked(request: Request, sess: Annotated[Session, Depends(session)]) -> Session:
        """The session, after the CSRF token of a state-changing request is verified."""
        form = await request.form()
        sent = request.headers.get("X-CSRF-Token") or str(form.get("csrf_token") or "")
        if not secrets.compare_digest(sent, sess.csrf):
            raise HTTPException(status_code=403, detail="CSRF token missing or wrong")
        return sess

    def render(request: Request, name: str, sess: Session | None, status_code: int = 200, **context: Any) -> Response:
        context.update(user=sess.user if sess else None, csrf=sess.csrf if sess else "")
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def visible_codes(con: Any, user: User) -> dict[str, dict[str, Any]]:
        return {c["community_code"]: c for c in data.communities(con, user)}

    def load_item(con: Any, user: User, item_id: int) -> dict[str, Any]:
        found = data.item(con, item_id)
        codes = visible_codes(con, user)
        if not found or (found["community_code"] not in codes and found["other_community_code"] not in codes):
            raise HTTPException(status_code=404, detail="no such item")
        return found

    def decision_index() -> dict[tuple[str | None, str | None], dict[str, Any]]:
        frame = active_decisions(paths.state)
        return {(r["register_key"], r["roll_key"]): r for r in frame.iter_rows(named=True)}

    def item_state(
        item: dict[str, Any], index: dict[tuple[str | None, str | None], dict[str, Any]]
    ) -> tuple[str, dict[str, Any] | None]:
        decision = index.get((item["register_key"], item["roll_key"]))
        if decision is None:
            return ("changed" if item["changed"] else "pending"), None
        fresh = (decision["register_fingerprint"] == item["register_fingerprint"]) and (
            decision["roll_fingerprint"] == item["roll_fingerprint"]
        )
        if not fresh:
            return "changed", decision
        return ("visit" if decision["kind"] == DecisionKind.DOOR_VISIT.value else "decided"), decision

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", None, login_csrf=token, error=None)
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies, max_age=3600
        )
        return response

    @app.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        login_csrf: Annotated[str, Form()] = "",
    ) -> Response:
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not cookie or not secrets.compare_digest(cookie, login_csrf):
            raise HTTPException(status_code=403, detail="CSRF token missing or wrong")
        ip = request.client.host if request.client else "?"
        if accounts.throttled(paths.state, username, ip):
            return render(
                request,
                "login.html",
                None,
                status_code=429,
                login_csrf=login_csrf,
                error="尝试次数过多，请15分钟后再试 (too many attempts)",
            )
        result = accounts.login(paths.state, username, password, ip)
        if result is None:
            return render(
                request,
                "login.html",
                None,
                status_code=401,
                login_csrf=login_csrf,
                error="用户名或密码错误 (wrong user name or password)",
            )
        token, _ = result
        response = RedirectResponse("/queue", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
            max_age=accounts.SESSION_HOURS * 3600,
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE)
        return response

    @app.post("/logout")
    def logout(sess: Annotated[Session, Depends(checked)]) -> Response:
        accounts.logout(paths.state, sess.token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/")
    def home(sess: Annotated[Session, Depends(session)]) -> Response:
        return RedirectResponse("/queue", status_code=303)

    @app.get("/queue", response_class=HTMLResponse)
    def queue(
        request: Request,
        sess: Annotated[Session, Depends(session)],
        community: str | None = None,
        kind: str | None = None,
        state: str = "pending",
        grid: str | None = None,
        page: Annotated[int, Query(ge=1)] = 1,
    ) -> Response:
        if not DataPaths(data_dir).published.exists():
            return render(request, "empty.html", sess)
        with data.database(data_dir) as con:
            codes = visible_codes(con, sess.user)
            if not codes:
                return render(request, "empty.html", sess)
            community = community if community in codes else next(iter(codes))
            items = data.queue_items(con, community)
            run_id = data.run_id(con)
        index = decision_index()
        for it in items:
            it["state"], it["decision"] = item_state(it, index)
        counts = {k: {"pending": 0, "all": 0} for k in KIND_LABELS}
        for it in items:
            counts[it["kind"]]["all"] += 1
            counts[it["kind"]]["pending"] += it["state"] in ("pending", "changed")
        grids = sorted({it["grid"] for it in items if it["grid"]})
        wanted = [
            it
            for it in items
            if (not kind or it["kind"] == kind)
            and (not grid or it["grid"] == grid)
            and (state == "all" or it["state"] == state or (state == "pending" and it["state"] == "changed"))
        ]
        pages = max(1, (len(wanted) + PAGE_SIZE - 1) // PAGE_SIZE)
        shown_items = wanted[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return render(
            request,
            "queue.html",
            sess,
            communities=list(codes.values()),
            community=codes[community],
            items=shown_items,
            counts=counts,
            kind=kind,
            state=state,
            grid=grid,
            grids=grids,
            page=page,
            pages=pages,
            total=len(wanted),
            run_id=run_id,
            shown=lambda v, k: shown(v, k, full=False),
        )

    @app.get("/items/{item_id}", response_class=HTMLResponse)
    def item_page(request: Request, item_id: int, sess: Annotated[Session, Depends(session)]) -> Response:
        with data.database(data_dir) as con:
            it = load_item(con, sess.user, item_id)
            reg = data.record(con, "register", it["register_idx"])
            rol = data.record(con, "roll", it["roll_idx"])
            expl = data.explanation(con, it["register_idx"], it["roll_idx"]) if reg and rol else None
            family = data.household(con, reg["household_key"], reg["idx"]) if reg else []
            at_dwelling = data.residents(con, rol["flat"], rol["idx"]) if rol else []
            next_id = _next_pending(con, it, decision_index(), item_state)
        full = sess.user.role in FULL_VIEW_ROLES
        state, decision = item_state(it, decision_index())
        rows = []
        if reg or rol:
            for label, key, kind in (
                ("姓名", "name", "name"),
                ("身份证号", "id_clean", "id"),
                ("出生日期", "birth", ""),
                ("性别", "sex", ""),
                ("住址", "address_raw", ""),
            ):
                a = shown(reg.get(key) if reg else None, kind, full=full)
                b = shown(rol.get(key) if rol else None, kind, full=full)
                left, right = diff_pair(a, b) if reg and rol else (a, b)
                rows.append({"label": label, "register": left, "roll": right})
        return render(
            request,
            "item.html",
            sess,
            item=it,
            register=reg,
            roll=rol,
            rows=rows,
            explanation=expl,
            waterfall=waterfall_svg(expl) if expl else None,
            family=family,
            at_dwelling=at_dwelling,
            state=state,
            decision=decision,
            choices=ALLOWED_DECISIONS[it["kind"]] if sess.user.role in DECIDING_ROLES else (),
            shortcuts=SHORTCUTS,
            next_id=next_id,
            full=full,
            field_names=FIELD_NAMES,
            shown=lambda v, k: shown(v, k, full=full),
        )

    @app.post("/items/{item_id}/decide")
    def decide_item(
        request: Request,
        item_id: int,
        sess: Annotated[Session, Depends(checked)],
        kind: Annotated[str, Form()],
        note: Annotated[str, Form()] = "",
    ) -> Response:
        with data.database(data_dir) as con:
            it = load_item(con, sess.user, item_id)
            next_id = _next_pending(con, it, decision_index(), item_state, skip=item_id)
        if sess.user.role not in DECIDING_ROLES:
            raise HTTPException(status_code=403, detail="this role cannot decide")
        try:
            decision = DecisionKind(kind)
        except ValueError as exc:
            raise HTTPException(status_code=422, detail="unknown decision") from exc
        if decision not in ALLOWED_DECISIONS[it["kind"]]:
            raise HTTPException(status_code=422, detail="decision does not fit this item")
        decide(paths.state, username=sess.user.username, kind=decision, keys=_keys(it), note=note.strip() or None)
        target = f"/items/{next_id}" if next_id else f"/queue?community={it['community_code']}"
        return _go(request, target)

    @app.post("/undo")
    def undo(request: Request, sess: Annotated[Session, Depends(checked)]) -> Response:
        undone = undo_last(paths.state, username=sess.user.username)
        return _go(request, request.headers.get("referer") or "/queue" if undone else "/queue")

    @app.get("/items/{item_id}/search", response_class=HTMLResponse)
    def search(request: Request, item_id: int, sess: Annotated[Session, Depends(session)], q: str = "") -> Response:
        with data.database(data_dir) as con:
            it = load_item(con, sess.user, item_id)
            if it["kind"] == "pair":
                raise HTTPException(status_code=404)
            side = "register" if it["kind"] == "unregistered" else "roll"
            found = data.search(con, side, q)
        full = sess.user.role in FULL_VIEW_ROLES
        return render(
            request,
            "_search.html",
            sess,
            item=it,
            found=found,
            side=side,
            can_link=sess.user.role in DECIDING_ROLES,
            shown=lambda v, k: shown(v, k, full=full),
        )

    @app.post("/items/{item_id}/link")
    def link_by_hand(
        request: Request,
        item_id: int,
        sess: Annotated[Session, Depends(checked)],
        other_idx: Annotated[int, Form()],
        note: Annotated[str, Form()] = "",
    ) -> Response:
        if sess.user.role not in DECIDING_ROLES:
            raise HTTPException(status_code=403, detail="this role cannot decide")
        with data.database(data_dir) as con:
            it = load_item(con, sess.user, item_id)
            if it["kind"] == "pair":
                raise HTTPException(status_code=404)
            other_side = "register" if it["kind"] == "unregistered" else "roll"
            other = data.record(con, other_side, other_idx)
        if other is None:
            raise HTTPException(status_code=404, detail="no such record")
        reg_key, reg_fp = (
            (other["record_key"], other["fingerprint"])
            if other_side == "register"
            else (it["register_key"], it["register_fingerprint"])
        )
        roll_key, roll_fp = (
            (other["record_key"], other["fingerprint"])
            if other_side == "roll"
            else (it["roll_key"], it["roll_fingerprint"])
        )
        keys = ItemKeys(it["community_code"], reg_key, roll_key, reg_fp, roll_fp)
        decide(
            paths.state,
            username=sess.user.username,
            kind=DecisionKind.SAME_PERSON,
            keys=keys,
            note=note.strip() or "linked by hand",
        )
        return _go(request, f"/queue?community={it['community_code']}")

    def admin_only(sess: Session) -> None:
        if sess.user.role is not Role.ADMIN:
            raise HTTPException(status_code=403, detail="only admins manage users")

    @app.get("/admin/users", response_class=HTMLResponse)
    def users_page(request: Request, sess: Annotated[Session, Depends(session)], error: str | None = None) -> Response:
        admin_only(sess)
        return render(
            request, "users.html", sess, users=accounts.list_users(paths.state), roles=list(Role), error=error
        )

    @app.post("/admin/users")
    def users_add(
        request: Request,
        sess: Annotated[Session, Depends(checked)],
        username: Annotated[str, Form()],
        role: Annotated[str, Form()],
        password: Annotated[str, Form()],
        scope: Annotated[str, Form()] = "",
    ) -> Response:
        admin_only(sess)
        try:
            accounts.add_user(
                paths.state, username.strip(), password, Role(role), scope.strip() or None, by=sess.user.username
            )
        except (accounts.AccountError, ValueError) as exc:
            return render(
                request,
                "users.html",
                sess,
                status_code=422,
                users=accounts.list_users(paths.state),
                roles=list(Role),
                error=str(exc),
            )
        return RedirectResponse("/admin/users", status_code=303)

    @app.post("/admin/users/{username}/disable")
    def users_disable(username: str, sess: Annotated[Session, Depends(checked)]) -> Response:
        admin_only(sess)
        if username == sess.user.username:
            raise HTTPException(status_code=422, detail="an admin cannot disable themselves")
        try:
            accounts.set_active(paths.state, username, False, by=sess.user.username)
        except accounts.AccountError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        return RedirectResponse("/admin/users", status_code=303)

    @app.get("/chart.svg")
    def chart(sess: Annotated[Session, Depends(session)]) -> Response:
        """The summary of the user's communities as a stacked bar chart."""
        with data.database(data_dir) as con:
            rows = list(visible_codes(con, sess.user).values())
        return Response(summary_svg(rows), media_type="image/svg+xml")

    @app.get("/export", response_class=HTMLResponse)
    def export_form(request: Request, sess: Annotated[Session, Depends(session)]) -> Response:
        if sess.user.role not in EXPORT_ROLES:
            raise HTTPException(status_code=403, detail="only the police liaison or an admin exports")
        with data.database(data_dir) as con:
            codes = visible_codes(con, sess.user)
        stations = sorted({c["police_station"] for c in codes.values() if c["police_station"]})
        return render(request, "export.html", sess, stations=stations, communities=list(codes.values()))

    @app.post("/export")
    def export_download(
        sess: Annotated[Session, Depends(checked)],
        station: Annotated[str, Form()] = "",
        community: Annotated[str, Form()] = "",
        fmt: Annotated[str, Form()] = "xlsx",
    ) -> Response:
        with data.database(data_dir) as con:
            row = con.execute(
                "SELECT police_station FROM community_summary WHERE community_code = ?", [community]
            ).fetchone()
        allowed = accounts.may_export(
            sess.user,
            station=station or None,
            community_station=row[0] if (row and community and not station) else None,
        )
        if not allowed or bool(station) == bool(community) or fmt not in ("xlsx", "csv"):
            raise HTTPException(status_code=403, detail="not allowed to export this")
        scope = ExportScope(station=station or None, community=community or None)
        out = paths.root / "exports" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        manifest = export(data_dir, scope, out, username=sess.user.username, fmt=fmt)
        body = zip_bytes(sorted(out.iterdir()))
        filename = quote(manifest.name.removesuffix("_manifest.json") + ".zip")
        return Response(
            body,
            media_type="application/zip",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
        )

    return app


def _keys(item: dict[str, Any]) -> ItemKeys:
    return ItemKeys(
        item["community_code"],
        item["register_key"],
        item["roll_key"],
        item["register_fingerprint"],
        item["roll_fingerprint"],
    )


def _go(request: Request, target: str) -> Response:
    if request.headers.get("HX-Request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _next_pending(con: Any, item: dict[str, Any], index: Any, state_of: Any, skip: int | None = None) -> int | None:
    """The next pending item of the same community after this one."""
    for other in data.queue_items(con, item["community_code"]):
        if other["community_code"] != item["community_code"] or other["item_id"] in (item["item_id"], skip):
            continue
        if other["item_id"] > item["item_id"] and state_of(other, index)[0] in ("pending", "changed"):
            return int(other["item_id"])
    return None


__all__ = ["STATUS_LABELS", "create_app"]
