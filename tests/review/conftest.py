"""A published small city and users of every role, copied fresh for each test."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import pytest
from fastapi.testclient import TestClient

from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from review import deps
from review.app import create_app
from schemas.codes import Role
from services import accounts
from services.accounts import add_user
from services.paths import DataPaths

if TYPE_CHECKING:
    from pathlib import Path

PASSWORD = "correct horse battery"
TEST_SCRYPT_N = 2**10
"""The scrypt cost of the users tests make: OWASP's 2**17 takes 128 MiB and a few hundred ms a hash."""


@pytest.fixture(autouse=True)
def fast_test_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap password hashes, and Starlette's TestClient host (`testserver`, plain http) counted as loopback.

    Cookies are Secure unless the host is loopback, and the test client sends
    Secure cookies over https only; tests of these two rules set their own.
    """
    monkeypatch.setattr(accounts, "SCRYPT_N", TEST_SCRYPT_N)
    monkeypatch.setattr(deps, "LOOPBACK_HOSTS", deps.LOOPBACK_HOSTS | {"testserver"})


@dataclass
class World:
    data: Path
    city: dict[str, Path]
    community: str
    other_community: str
    street: str
    station: str

    @property
    def state(self) -> Path:
        return DataPaths(self.data).state

    def rerun(self, rolls: Path | None = None) -> None:
        run_pipeline(self.city["register"], rolls or self.city["rolls"], Settings(data_dir=self.data), LOCAL)

    def sql(self, query: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        con = duckdb.connect(str(DataPaths(self.data).published), read_only=True)
        try:
            return con.execute(query, params or []).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="session")
def published_city(small_city: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("published")
    run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=data), LOCAL)
    return data


@pytest.fixture
def world(published_city: Path, small_city: dict[str, Path], tmp_path: Path) -> World:
    data = tmp_path / "data"
    shutil.copytree(published_city, data)
    con = duckdb.connect(str(DataPaths(data).published), read_only=True)
    (community,) = con.execute(
        "SELECT community_code FROM queue WHERE kind = 'pair' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).fetchone() or (None,)
    street, station = con.execute(
        "SELECT street, police_station FROM community_summary WHERE community_code = ?", [community]
    ).fetchone() or (None, None)
    (other,) = con.execute(
        "SELECT community_code FROM community_summary WHERE street <> ? ORDER BY 1 LIMIT 1", [street]
    ).fetchone() or (None,)
    con.close()
    assert community
    assert other
    assert street
    assert station
    state = DataPaths(data).state
    add_user(state, "op", PASSWORD, Role.OPERATOR, community)
    add_user(state, "op_other", PASSWORD, Role.OPERATOR, other)
    add_user(state, "sup", PASSWORD, Role.SUPERVISOR, street)
    add_user(state, "police", PASSWORD, Role.LIAISON, station)
    add_user(state, "root", PASSWORD, Role.ADMIN, None)
    return World(data, small_city, community, other, street, station)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in; returns the session's CSRF token."""
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token
    response = client.post(
        "/login",
        data={"username": username, "password": password, "login_csrf": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    queue = client.get("/queue")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', queue.text)
    assert csrf
    return csrf.group(1)


@pytest.fixture
def client(world: World) -> TestClient:
    return TestClient(create_app(world.data))
