"""`hukou export`: the verified lists of a police station or community, with their manifest.

The credential check and the export rule are `services.access`'s, the same the review app uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import DataOption, PasswordStdinOption, console, fail_on, read_password


def export_lists(
    user: Annotated[str, typer.Option("--user", help="Your user name: a police liaison (your station) or an admin.")],
    station: Annotated[str | None, typer.Option(help="Police station whose communities to export.")] = None,
    community: Annotated[str | None, typer.Option(help="One community (12-digit code) instead of a station.")] = None,
    out: Annotated[
        Path, typer.Option(help="Directory for the files and their manifest (created 0700 if new; files are 0600).")
    ] = Path("exports"),
    fmt: Annotated[
        str, typer.Option("--format", help="xlsx (one workbook, a sheet per category) or csv (GB18030).")
    ] = "xlsx",
    password_stdin: PasswordStdinOption = False,
    data: DataOption = Path("data"),
) -> None:
    """Export the verified 人在户不在 / 户在人不在 lists with a manifest (SHA-256, row counts, pending items)."""
    from services import access
    from services.export import export
    from services.paths import DataPaths

    try:
        access.requested_scope(station=station, community=community)
    except access.BadExportRequest as exc:
        raise typer.BadParameter("give exactly one of --station or --community") from exc
    try:
        who = access.check_credentials(
            DataPaths(data).state, user, read_password(password_stdin, confirm=False), ip="cli"
        )
    except access.LoginRefused as exc:
        console.print("[red]wrong user name or password, or too many attempts[/red]")
        raise typer.Exit(1) from exc
    try:
        scope = access.export_scope_for(data, who, station=station, community=community)
    except access.ExportRefused as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    with fail_on(ValueError):
        manifest = export(data, scope, out, username=who.username, fmt=fmt)
    console.print(manifest.read_text(encoding="utf-8"))
