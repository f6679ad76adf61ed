"""`hukou users`: manage the review app's users (stored in DATA/state.sqlite)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import DataOption, PasswordStdinOption, console, fail_on, read_password

users_app = typer.Typer(help="Manage review-app users (stored in DATA/state.sqlite).", no_args_is_help=True)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Log-in name.")],
    role: Annotated[str, typer.Option(help="operator | supervisor | liaison | admin")],
    scope: Annotated[
        str | None,
        typer.Option(
            help="operator: community code; supervisor: street or town; liaison: police station; admin: none."
        ),
    ] = None,
    password_stdin: PasswordStdinOption = False,
    unchecked_scope: Annotated[
        bool,
        typer.Option("--unchecked-scope", help="Store the scope without checking it against the published results."),
    ] = False,
    data: DataOption = Path("data"),
) -> None:
    """Add a user. The first admin is created this way.

    A scope must name a community, street or police station of the published results (`hukou places`).
    """
    from schemas.codes import Role
    from services.accounts import AccountError, add_user
    from services.paths import DataPaths
    from services.places import check_published_scope

    scope = scope.strip() or None if scope is not None else None  # as the admin page takes it
    with fail_on(AccountError, ValueError):
        if not unchecked_scope:
            check_published_scope(data, Role(role), scope)
        user = add_user(DataPaths(data).state, username, read_password(password_stdin), Role(role), scope)
    console.print(f"added {user.username} ({user.role.value}{', ' + user.scope if user.scope else ''})")


@users_app.command("list")
def users_list(data: DataOption = Path("data")) -> None:
    """List users, their roles and scopes."""
    from services.accounts import list_users
    from services.paths import DataPaths

    table = Table("user", "role", "scope", "active")
    for u in list_users(DataPaths(data).state):
        table.add_row(u.username, u.role.value, u.scope or "", "yes" if u.active else "no")
    console.print(table)


@users_app.command("disable")
def users_disable(username: str, data: DataOption = Path("data")) -> None:
    """Disable a user and end their sessions."""
    from services.accounts import AccountError, set_active
    from services.paths import DataPaths

    with fail_on(AccountError):
        set_active(DataPaths(data).state, username, False)
    console.print(f"disabled {username}")


@users_app.command("passwd")
def users_passwd(
    username: str,
    password_stdin: PasswordStdinOption = False,
    data: DataOption = Path("data"),
) -> None:
    """Set a user's password (ends their sessions)."""
    from services.accounts import AccountError, set_password
    from services.paths import DataPaths

    with fail_on(AccountError):
        set_password(DataPaths(data).state, username, read_password(password_stdin))
    console.print(f"password changed for {username}")
