"""A user's scope must name a place the published results know; `hukou places` lists them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli
from review.app import create_app
from schemas.codes import Role
from services.accounts import list_users
from services.places import Community, Places, UnknownPlace, check_published_scope, check_scope, known_places
from tests.review.conftest import PASSWORD, World, login

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()
PLACES = Places(
    (
        Community("330282001001", "青少年宫路社区", "浒山街道", "浒山派出所"),
        Community("330282001002", "三北社区", "浒山街道", "浒山派出所"),
        Community("330282101001", "观海卫社区", "观海卫镇", "观海卫派出所"),
    )
)


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        (Role.LIAISON, "浒山派出所"),
        (Role.SUPERVISOR, "观海卫镇"),
        (Role.OPERATOR, "330282001002"),
        (Role.ADMIN, None),
    ],
)
def test_a_known_scope_passes(role: Role, scope: str | None) -> None:
    check_scope(role, scope, PLACES)


@pytest.mark.parametrize(
    ("role", "scope", "suggested"),
    [
        (Role.LIAISON, "浒山所", "浒山派出所"),
        (Role.LIAISON, "浒山街道", "浒山派出所"),  # a street is no station
        (Role.SUPERVISOR, "观海卫", "观海卫镇"),
        (Role.OPERATOR, "330282001003", "330282001001 (青少年宫路社区)"),
        (Role.OPERATOR, "三北社区", "330282001002 (三北社区)"),  # a community's name, not its code
    ],
)
def test_an_unknown_scope_is_refused_with_the_closest_names(role: Role, scope: str, suggested: str) -> None:
    with pytest.raises(UnknownPlace) as refused:
        check_scope(role, scope, PLACES)
    assert suggested in str(refused.value).split("the closest: ")[1]


def test_no_scope_is_checked_before_anything_is_published(tmp_path: Path) -> None:
    assert known_places(tmp_path) is None
    with pytest.raises(UnknownPlace, match="nothing is published"):
        check_published_scope(tmp_path, Role.LIAISON, "浒山派出所")
    check_published_scope(tmp_path, Role.ADMIN, None)


def test_cli_refuses_a_typo_and_lists_the_places(world: World) -> None:
    data = ["--data", str(world.data)]
    typo = world.station[:-3] + "所"
    refused = runner.invoke(
        cli,
        ["users", "add", "zhao", "--role", "liaison", "--scope", typo, "--password-stdin", *data],
        input=PASSWORD + "\n",
    )
    assert refused.exit_code == 1
    assert world.station in refused.output
    assert "zhao" not in {u.username for u in list_users(world.state)}
    added = runner.invoke(
        cli,
        ["users", "add", "zhao", "--role", "liaison", "--scope", world.station, "--password-stdin", *data],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["places", *data, "--station", world.station])
    assert listed.exit_code == 0, listed.output
    assert world.community in listed.output
    places = known_places(world.data)
    assert places is not None
    assert not [c.code for c in places.communities if c.station != world.station and c.code in listed.output]
    everything = runner.invoke(cli, ["places", *data])
    assert world.other_community in everything.output


def test_the_admin_page_refuses_an_unknown_scope(world: World) -> None:
    client = TestClient(create_app(world.data))
    csrf = login(client, "root")
    form = {"username": "li", "role": "liaison", "password": PASSWORD, "csrf_token": csrf}
    refused = client.post("/admin/users", data={**form, "scope": "某某派出所"})
    assert refused.status_code == 422
    assert "某某派出所" in refused.text
    assert client.post("/admin/users", data={**form, "scope": world.station}, follow_redirects=False).status_code == 303
    assert "li" in {u.username for u in list_users(world.state)}


@pytest.mark.parametrize("how", ["environment", "file"])
def test_commands_find_the_configured_data_directory(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Without --data, every command reads the directory the nightly run publishes into, not ./data."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("HUKOU_DATA_DIR", raising=False)
    if how == "environment":
        monkeypatch.setenv("HUKOU_DATA_DIR", str(world.data))
    else:
        (cwd / "hukou.toml").write_text(f"data_dir = {str(world.data)!r}\n", encoding="utf-8")
        monkeypatch.delenv("HUKOU_CONFIG", raising=False)
    for command in (["places"], ["summary"], ["users", "list"]):
        done = runner.invoke(cli, command)
        assert done.exit_code == 0, (command, done.output)
    assert world.community in runner.invoke(cli, ["places"]).output
    assert "police" in runner.invoke(cli, ["users", "list"]).output
    assert not (cwd / "data").exists()
    elsewhere = runner.invoke(cli, ["places", "--data", str(cwd / "empty")])  # --data still wins
    assert elsewhere.exit_code == 1


@pytest.mark.parametrize(("width", "shown", "left_out"), [(80, "户在人不在", "社区代码"), (250, "社区代码", None)])
def test_the_summary_fits_the_terminal(
    world: World, monkeypatch: pytest.MonkeyPatch, width: int, shown: str, left_out: str | None
) -> None:
    """An 80-column terminal gets the main columns, unwrapped; a wide one every column."""
    from rich.cells import cell_len

    from cli.common import console

    monkeypatch.setattr(console, "width", width)
    done = runner.invoke(cli, ["summary", "--data", str(world.data)])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert max(cell_len(line) for line in lines) <= width
    assert shown in done.output
    assert left_out is None or left_out not in done.output
    assert not any("…" in line for line in lines)  # nothing cut short
