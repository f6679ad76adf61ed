"""HTTP hygiene: odd CSRF tokens, security headers, cookie flags, password hashing cost, proxies."""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from review.app import create_app
from review.deps import forwarded_client, trusted_proxies
from services import access, accounts
from services.state import connect
from tests.review.conftest import PASSWORD, login

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.review.conftest import World


def _login_token(client: TestClient) -> str:
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token
    return token.group(1)


def _stored_hash(world: World, username: str) -> str:
    with connect(world.state) as conn:
        (stored,) = conn.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
    return str(stored)


def test_a_non_ascii_csrf_token_is_refused_not_a_crash(client: TestClient, world: World) -> None:
    _login_token(client)
    login_form = client.post("/login", data={"username": "op", "password": PASSWORD, "login_csrf": "令牌"})
    assert login_form.status_code == 403
    login(client, "op")
    assert client.post("/logout", data={"csrf_token": "令牌"}).status_code == 403
    assert client.get("/queue", follow_redirects=False).status_code == 200


def test_every_response_carries_the_security_headers(client: TestClient, world: World) -> None:
    pages = [client.get("/login"), client.get("/healthz"), client.get("/static/app.css"), client.get("/nowhere")]
    login(client, "op")
    pages += [client.get("/queue"), client.get("/chart.svg")]
    for response in pages:
        headers = response.headers
        assert headers["cache-control"] == "no-store", response.url
        assert headers["x-content-type-options"] == "nosniff", response.url
        assert headers["referrer-policy"] == "same-origin", response.url
        csp = headers["content-security-policy"]
        for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
            assert directive in csp, (response.url, directive)
        assert "'unsafe-inline'" not in csp
        assert "'unsafe-eval'" not in csp


def test_the_inline_script_carries_the_nonce_of_its_response(client: TestClient, world: World) -> None:
    first, second = client.get("/login"), client.get("/login")
    nonces = []
    for page in (first, second):
        nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"])
        assert nonce
        assert f'<script nonce="{nonce.group(1)}">' in page.text
        nonces.append(nonce.group(1))
    assert nonces[0] != nonces[1]


@pytest.mark.parametrize(
    ("base_url", "secure"),
    [
        ("http://review.example", True),
        ("https://review.example", True),
        ("http://10.1.2.3:8000", True),
        ("http://localhost:8000", False),
        ("http://127.0.0.1:8000", False),
        ("http://[::1]:8000", False),
    ],
)
def test_cookies_are_secure_unless_the_host_is_loopback(world: World, base_url: str, secure: bool) -> None:
    client = TestClient(create_app(world.data), base_url=base_url)
    page = client.get("/login")
    assert ("; secure" in page.headers["set-cookie"].lower()) is secure
    response = client.post(
        "/login",
        data={"username": "op", "password": PASSWORD, "login_csrf": _login_token(client)},
        follow_redirects=False,
    )
    if not secure or base_url.startswith("https"):  # the client sends Secure cookies only over https
        assert response.status_code == 303
        session = [c for c in response.headers.get_list("set-cookie") if c.startswith("hukou_session=")]
        assert session
        assert ("; secure" in session[0].lower()) is secure


def test_secure_cookies_can_be_forced_on_loopback(world: World) -> None:
    client = TestClient(create_app(world.data, secure_cookies=True), base_url="http://localhost")
    assert "; secure" in client.get("/login").headers["set-cookie"].lower()


def _counting_scrypt(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real: Callable[..., bytes] = hashlib.scrypt

    def counting(*args: object, **kwargs: object) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


def test_every_credential_check_costs_one_hash(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts.set_active(world.state, "sup", False)
    with pytest.raises(access.WrongCredentials):  # any hash made once, ahead, is not part of the count
        access.check_credentials(world.state, "nobody", PASSWORD, ip="cli")
    calls = _counting_scrypt(monkeypatch)
    for username, password in (("op", PASSWORD), ("op", "wrong password"), ("nobody", PASSWORD), ("sup", PASSWORD)):
        before = len(calls)
        with contextlib.suppress(access.WrongCredentials):
            access.check_credentials(world.state, username, password, ip="cli")
        assert len(calls) - before == 1, username


def test_new_hashes_have_owasp_strength(monkeypatch: pytest.MonkeyPatch) -> None:
    assert accounts.OWASP_SCRYPT == (2**17, 8, 1)
    monkeypatch.setattr(accounts, "SCRYPT_N", accounts.OWASP_SCRYPT[0])
    stored = accounts.hash_password(PASSWORD)
    assert stored.startswith(f"scrypt${2**17}$8$1$")
    assert accounts.verify_password(PASSWORD, stored)
    assert not accounts.verify_password("wrong password", stored)


def test_a_weaker_hash_logs_in_and_is_upgraded(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**14)  # the strength of old releases
    old = accounts.hash_password(PASSWORD)
    with connect(world.state) as conn:
        conn.execute("UPDATE users SET password_hash = ? WHERE username = 'op'", (old,))
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**17)
    with pytest.raises(access.WrongCredentials):
        access.check_credentials(world.state, "op", "wrong password", ip="cli")
    assert _stored_hash(world, "op") == old
    assert access.check_credentials(world.state, "op", PASSWORD, ip="cli").username == "op"
    upgraded = _stored_hash(world, "op")
    assert upgraded.startswith(f"scrypt${2**17}$8$1$")
    assert accounts.verify_password(PASSWORD, upgraded)


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # untrusted peer: the header is ignored
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the rightmost untrusted address
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),  # proxies in the trusted range are skipped
        ("10.0.0.2", "10.0.0.3", "10.0.0.3"),
        ("10.0.0.2", "junk", "10.0.0.2"),
    ],
)
def test_forwarded_client(peer: str, forwarded: str | None, client: str) -> None:
    trusted = trusted_proxies("10.0.0.2, 10.0.0.3/32")
    assert forwarded_client(peer, forwarded, trusted) == client


def test_trusted_proxies_setting_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="HUKOU_TRUSTED_PROXIES"):
        trusted_proxies("10.0.0.2, proxy.example")


def _failed_login_from(world: World, peer: str, forwarded: tuple[str, ...] = ("198.51.100.1",)) -> str:
    client = TestClient(create_app(world.data), client=(peer, 40000))
    token = _login_token(client)
    response = client.post(
        "/login",
        data={"username": "op", "password": "wrong password", "login_csrf": token},
        headers=[("X-Forwarded-For", f) for f in forwarded],
    )
    assert response.status_code == 401
    with connect(world.state) as conn:
        (ip,) = conn.execute("SELECT ip FROM login_attempts ORDER BY rowid DESC LIMIT 1").fetchone()
    return str(ip)


def test_the_throttle_trusts_x_forwarded_for_only_from_a_trusted_proxy(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUKOU_TRUSTED_PROXIES", "10.0.0.2")
    assert _failed_login_from(world, "203.0.113.9") == "203.0.113.9"
    assert _failed_login_from(world, "10.0.0.2") == "198.51.100.1"
    assert _failed_login_from(world, "10.0.0.2", ("6.6.6.6", "198.51.100.1")) == "198.51.100.1"
    monkeypatch.delenv("HUKOU_TRUSTED_PROXIES")
    assert _failed_login_from(world, "10.0.0.2") == "10.0.0.2"
