"""`hukou audit`: check the audit trail in DATA/state.sqlite."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import DataOption, console

audit_app = typer.Typer(help="Check the review app's audit trail (DATA/state.sqlite).", no_args_is_help=True)


@audit_app.callback()
def audit_group() -> None:
    """Check the review app's audit trail."""


@audit_app.command("verify")
def audit_verify(data: DataOption = Path("data")) -> None:
    """Verify the audit trail's hash chain; exit status 1 at the first row that breaks it."""
    from services.audit import audit_log, head, verify_chain
    from services.paths import DataPaths

    state = DataPaths(data).state
    if not state.exists():
        console.print(f"[red]no state database in {data}[/red]")
        raise typer.Exit(1)
    broken = verify_chain(state)
    if broken is not None:
        console.print(
            f"[red]audit trail broken at entry {broken}: it was altered or replaced, or an entry before it removed[/red]"
        )
        raise typer.Exit(1)
    console.print(f"audit trail intact: {len(audit_log(state))} entries, head {head(state)}")
