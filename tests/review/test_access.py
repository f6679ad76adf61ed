"""HTTP tests: every role's access, tampered ids, CSRF, throttling, masking."""

from __future__ import annotations

import re

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from review.app import create_app
from schemas.codes import Role
from services import access
from services.accounts import User, get_user, set_active
from services.audit import audit_log
from tests.review.conftest import PASSWORD, World, login


def _items(world: World, community: str, kind: str | None = None) -> list[int]:
    # A fixed filter clause; the values are parameters.
    query = (
        "SELECT item_id FROM queue WHERE community_code = ?" + (" AND kind = ?" if kind else "") + " ORDER BY item_id"  # noqa: S608
    )
    return [int(r[0]) for r in world.sql(query, [community, kind] if kind else [community])]  # type: ignore[call-overload]


def _shown(client: TestClient, item: int) -> dict[str, str]:
    """The hidden fields of an item page's decide form (the records the page showed)."""
    page = client.get(f"/items/{item}").text
    form = page[page.index('id="decide-form"') :]
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form[: form.index("</form>")]))
    return {k: fields[k] for k in ("register_key", "roll_key", "register_fingerprint", "roll_fingerprint")}


def test_pages_need_a_session(client: TestClient, world: World) -> None:
    item = _items(world, world.community)[0]
    for path in ("/", "/queue", f"/items/{item}", f"/items/{item}/search?q=张"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login", path
    assert client.post(f"/items/{item}/decide", data={"kind": "same_person"}, follow_redirects=False).status_code == 303


def test_operator_sees_only_their_community(client: TestClient, world: World) -> None:
    login(client, "op")
    page = client.get(f"/queue?community={world.other_community}")
    assert world.community in page.text
    assert f'value="{world.other_community}"' not in page.text
    foreign = [i for i in _items(world, world.other_community) if i not in _items(world, world.community)]
    assert foreign
    assert client.get(f"/items/{foreign[0]}").status_code == 404
    assert client.get(f"/items/{foreign[0]}/search?q=张").status_code == 404
    assert client.get("/items/99999999").status_code == 404


def test_tampered_item_id_in_a_form_is_refused(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    foreign = next(i for i in _items(world, world.other_community) if i not in _items(world, world.community))
    response = client.post(f"/items/{foreign}/decide", data={"kind": "confirm_absent", "csrf_token": csrf})
    assert response.status_code == 404
    assert not [e for e in audit_log(world.state) if e["action"] == "decide"]


def test_csrf_is_required_on_every_state_change(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    item = _items(world, world.community, "pair")[0]
    assert client.post(f"/items/{item}/decide", data={"kind": "same_person"}).status_code == 403
    assert client.post(f"/items/{item}/decide", data={"kind": "same_person", "csrf_token": "forged"}).status_code == 403
    assert client.post("/undo", data={}).status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    shown = _shown(client, item)
    ok = client.post(
        f"/items/{item}/decide", data={"kind": "same_person", "csrf_token": csrf, **shown}, follow_redirects=False
    )
    assert ok.status_code == 303
    header = client.post(
        f"/items/{item}/decide",
        data={"kind": "door_visit", **shown},
        headers={"X-CSRF-Token": csrf},
        follow_redirects=False,
    )
    assert header.status_code == 303


def test_login_is_throttled(world: World) -> None:
    client = TestClient(create_app(world.data))
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token
    for _ in range(access.THROTTLE_FAILURES):
        bad = client.post("/login", data={"username": "op", "password": "wrong password", "login_csrf": token.group(1)})
        assert bad.status_code == 401
    good = client.post(
        "/login", data={"username": "op", "password": "correct horse battery", "login_csrf": token.group(1)}
    )
    assert good.status_code == 429
    assert f"请{access.THROTTLE_MINUTES}分钟后再试" in good.text


def test_login_form_needs_its_csrf_token(world: World) -> None:
    client = TestClient(create_app(world.data))
    response = client.post("/login", data={"username": "op", "password": "correct horse battery", "login_csrf": "x"})
    assert response.status_code == 403


def test_read_only_roles_cannot_decide(client: TestClient, world: World) -> None:
    item = _items(world, world.community, "pair")[0]
    for user in ("sup", "police", "root"):
        fresh = TestClient(create_app(world.data))
        csrf = login(fresh, user)
        page = fresh.get(f"/items/{item}")
        assert page.status_code == 200, user
        assert 'name="kind"' not in page.text, user
        decided = fresh.post(f"/items/{item}/decide", data={"kind": "same_person", "csrf_token": csrf})
        assert decided.status_code == 403, user
        linked = fresh.post(f"/items/{item}/link", data={"other_idx": 1, "csrf_token": csrf})
        assert linked.status_code == 403, user
        assert 'action="/undo"' not in fresh.get("/queue").text, user
    assert not [e for e in audit_log(world.state) if e["action"] in ("decide", "link")]


def test_a_supervisor_follows_progress_but_does_not_decide(client: TestClient, world: World) -> None:
    csrf = login(client, "sup")
    item = _items(world, world.community, "pair")[0]
    assert client.get(f"/queue?community={world.community}").status_code == 200
    assert client.post(f"/items/{item}/decide", data={"kind": "same_person", "csrf_token": csrf}).status_code == 403
    assert Role.SUPERVISOR not in access.DECIDING_ROLES


def test_supervisor_sees_the_communities_of_their_street(client: TestClient, world: World) -> None:
    login(client, "sup")
    page = client.get("/queue")
    codes = {r[0] for r in world.sql("SELECT community_code FROM community_summary WHERE street = ?", [world.street])}
    for code in codes:
        assert f'value="{code}"' in page.text
    assert f'value="{world.other_community}"' not in page.text


def test_lists_mask_and_only_some_roles_see_full_values(client: TestClient, world: World) -> None:
    item = _items(world, world.community, "pair")[0]
    (id_clean, name) = world.sql(
        "SELECT r.id_clean, r.name FROM queue q JOIN run.register_records r ON r.idx = q.register_idx WHERE q.item_id = ?",
        [item],
    )[0]
    login(client, "op")
    queue = client.get(f"/queue?community={world.community}&kind=pair").text
    assert str(id_clean)[:6] + "*" in queue
    assert str(id_clean) not in queue
    # Characters that differ from the other side are marked up inside the value: read the page's text.
    assert str(id_clean) in _text(client.get(f"/items/{item}").text)
    sup = TestClient(create_app(world.data))
    login(sup, "sup")
    page = _text(sup.get(f"/items/{item}").text)
    assert str(id_clean) not in page
    assert str(name) not in page


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_logout_ends_the_session(client: TestClient, world: World) -> None:
    csrf = login(client, "op")
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_disabled_user_is_logged_out(client: TestClient, world: World) -> None:
    login(client, "op")
    set_active(world.state, "op", False)
    assert client.get("/queue", follow_redirects=False).headers["location"] == "/login"


def test_session_cookie_flags(world: World) -> None:
    client = TestClient(create_app(world.data))
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token
    response = client.post(
        "/login",
        data={"username": "op", "password": "correct horse battery", "login_csrf": token.group(1)},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    for flag in ("hukou_session=", "httponly", "samesite=strict", "max-age="):
        assert flag in cookie


def test_summary_chart_shows_only_visible_communities(client: TestClient, world: World) -> None:
    login(client, "op")
    svg = client.get("/chart.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert world.community in svg.text
    assert world.other_community not in svg.text


def test_admin_manages_users_and_others_cannot(client: TestClient, world: World) -> None:
    csrf = login(client, "root")
    users = client.get("/admin/users")
    assert users.status_code == 200
    assert f"{Role.OPERATOR.label} (operator)" in users.text  # the label, and the value the form takes
    assert f"root · {Role.ADMIN.label}" in users.text
    added = client.post(
        "/admin/users",
        data={
            "username": "newop",
            "role": "operator",
            "scope": world.community,
            "password": "a long password",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    user = get_user(world.state, "newop")
    assert user is not None
    assert user.scope == world.community
    bad = client.post(
        "/admin/users",
        data={"username": "x", "role": "operator", "scope": "nope", "password": "a long password", "csrf_token": csrf},
    )
    assert bad.status_code == 422
    assert (
        client.post("/admin/users/newop/disable", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    )
    disabled = get_user(world.state, "newop")
    assert disabled is not None
    assert not disabled.active
    operator = TestClient(client.app)
    op_csrf = login(operator, "op")
    assert operator.get("/admin/users").status_code == 403
    assert operator.post("/admin/users/sup/disable", data={"csrf_token": op_csrf}).status_code == 403


def test_the_role_is_checked_before_any_database_is_read(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = _items(world, world.community, "pair")[0]
    csrf = login(client, "police")
    operator = TestClient(client.app)
    op_csrf = login(operator, "op")

    def no_database(*args: object, **kwargs: object) -> None:
        raise AssertionError("the database was read before the role was checked")

    monkeypatch.setattr("review.data.database", no_database)
    monkeypatch.setattr("review.items.active_decisions", no_database)
    monkeypatch.setattr("services.access.published", no_database)
    assert client.post(f"/items/{item}/decide", data={"kind": "same_person", "csrf_token": csrf}).status_code == 403
    assert client.post(f"/items/{item}/link", data={"other_idx": 1, "csrf_token": csrf}).status_code == 403
    assert client.post("/items/99999999/decide", data={"kind": "nonsense", "csrf_token": csrf}).status_code == 403
    assert client.get("/admin/users").status_code == 403
    assert operator.get("/export").status_code == 403
    assert operator.post("/export", data={"community": world.community, "csrf_token": op_csrf}).status_code == 403
    assert (
        operator.post("/export", data={"community": world.community, "fmt": "pdf", "csrf_token": op_csrf}).status_code
        == 403
    )


def test_a_bad_export_request_is_a_bad_request_not_a_refusal(client: TestClient, world: World) -> None:
    csrf = login(client, "police")
    bad_format = client.post("/export", data={"station": world.station, "fmt": "pdf", "csrf_token": csrf})
    assert bad_format.status_code == 422
    both = client.post("/export", data={"station": world.station, "community": world.community, "csrf_token": csrf})
    assert both.status_code == 422
    assert client.post("/export", data={"csrf_token": csrf}).status_code == 422
    assert client.post("/export", data={"station": "某某派出所", "csrf_token": csrf}).status_code == 403


def test_require_role_admits_only_its_roles() -> None:
    from review.deps import Session, require_role

    admins_only = require_role(Role.ADMIN)
    admin = Session(User("root", Role.ADMIN, None, True), "csrf", "token")
    operator = Session(User("op", Role.OPERATOR, "110105001001", True), "csrf", "token")
    assert admins_only(admin) is admin
    with pytest.raises(HTTPException) as refused:
        admins_only(operator)
    assert refused.value.status_code == 403
    assert require_role()(operator) is operator


def test_one_credential_check_for_web_and_cli(world: World) -> None:
    user = access.check_credentials(world.state, "police", PASSWORD, ip="cli")
    assert (user.username, user.role) == ("police", Role.LIAISON)
    with pytest.raises(access.WrongCredentials):
        access.check_credentials(world.state, "police", "wrong password", ip="cli")
    with pytest.raises(access.WrongCredentials):
        access.check_credentials(world.state, "nobody", PASSWORD, ip="cli")
    set_active(world.state, "sup", False)
    with pytest.raises(access.WrongCredentials):
        access.check_credentials(world.state, "sup", PASSWORD, ip="cli")
    for _ in range(access.THROTTLE_FAILURES):
        with pytest.raises(access.WrongCredentials):
            access.check_credentials(world.state, "op", "wrong password", ip="cli")
    with pytest.raises(access.Throttled):
        access.check_credentials(world.state, "op", PASSWORD, ip="cli")


def test_one_export_rule_for_web_and_cli(world: World) -> None:
    def user(name: str) -> User:
        found = get_user(world.state, name)
        assert found is not None
        return found

    def scope_for(name: str, *, station: str | None = None, community: str | None = None) -> str:
        return access.export_scope_for(world.data, user(name), station=station, community=community).label

    (other_station,) = world.sql(
        "SELECT police_station FROM community_summary WHERE police_station <> ? LIMIT 1", [world.station]
    )[0]
    (foreign,) = world.sql(
        "SELECT community_code FROM community_summary WHERE police_station <> ? LIMIT 1", [world.station]
    )[0]
    assert scope_for("police", station=world.station) == world.station
    assert scope_for("police", community=world.community) == world.community
    assert scope_for("root", station=str(other_station)) == other_station
    assert scope_for("root", community=str(foreign)) == foreign
    for name, request in (
        ("police", {"station": str(other_station)}),
        ("police", {"community": str(foreign)}),
        ("police", {"community": "999999999999"}),
        ("op", {"community": world.community}),
        ("sup", {"station": world.station}),
    ):
        with pytest.raises(access.ExportRefused):
            scope_for(name, **request)
    for request in ({}, {"station": world.station, "community": world.community}):
        with pytest.raises(access.BadExportRequest):
            scope_for("root", **request)


def test_visibility_follows_the_role(world: World) -> None:
    row = {"community_code": world.community, "street": world.street, "police_station": world.station}
    for name in ("op", "sup", "police", "root"):
        found = get_user(world.state, name)
        assert found is not None
        assert access.may_see(found, row), name
    other = get_user(world.state, "op_other")
    assert other is not None
    assert not access.may_see(other, row)
