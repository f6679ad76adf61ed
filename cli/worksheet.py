"""`hukou worksheet`: door-visit worksheets (入户核查表) out and back.

`export` writes one community's worksheet (a tab per grid, or one grid) for the grid workers; `import` applies a
filled one as decisions and prints the row-by-row report. Both ask for the user's password (personal data leaves
the system, decisions come back under the user's name) and only a community's own operators may use them: the
rule is `services.worksheet.check_access`, the same the review app uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cli.common import DataOption, PasswordStdinOption, console, fail_on, read_password

if TYPE_CHECKING:
    from services.accounts import User
    from services.worksheet import ImportReport

worksheet_app = typer.Typer(help="Door-visit worksheets (入户核查表): export per grid, import when filled.")

UserOption = Annotated[str, typer.Option("--user", help="Your user name: an operator of the community.")]


@worksheet_app.callback()
def worksheet_group() -> None:
    """Door-visit worksheets."""


def _login(data: Path, user: str, password_stdin: bool) -> User:
    """The user, after the credential check `hukou export` makes (throttled, recorded); exit 1 if refused."""
    from services import access
    from services.paths import DataPaths

    try:
        return access.check_credentials(DataPaths(data).state, user, read_password(password_stdin, confirm=False))
    except access.LoginRefused as exc:
        console.print("[red]wrong user name or password, or too many attempts[/red]")
        raise typer.Exit(1) from exc


@worksheet_app.command("export")
def export_sheet(
    community: Annotated[str, typer.Option(help="The community (12-digit code).")],
    out: Annotated[Path, typer.Option(help="The .xlsx file to write (0600).")],
    user: UserOption,
    grid: Annotated[
        str | None, typer.Option(help="One grid (网格未定: rows whose grid is unknown); default all, a tab each.")
    ] = None,
    password_stdin: PasswordStdinOption = False,
    data: DataOption = Path("data"),
) -> None:
    """Write a door-visit worksheet: a row per household or flat to visit, printable on A4 landscape."""
    from services.worksheet import WorksheetRefused, build_worksheet, check_access

    who = _login(data, user, password_stdin)
    try:
        check_access(who, community)
    except WorksheetRefused as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if out.suffix.lower() != ".xlsx":
        raise typer.BadParameter("the worksheet is an .xlsx file", param_hint="--out")
    with fail_on(ValueError, FileNotFoundError):
        summary = build_worksheet(data, community=community, grid=grid, username=who.username, out=out)
    console.print(
        f"worksheet [bold]{summary.sheet_id}[/bold] → {summary.path}: {summary.rows} rows "
        f"({summary.households} 户籍户, {summary.flats} 居住房屋, {summary.persons} persons) "
        f"on {len(summary.tabs)} tab(s): {', '.join(summary.tabs)}"
    )


def print_report(report: ImportReport) -> None:
    """The row-by-row report and its totals, as a table (skipped rows only counted)."""
    from services.worksheet import RowOutcome

    table = Table(title=f"入户核查表 {report.sheet_id} · {report.community_code} · {report.file}")
    for column in ("表 tab", "行 row", "序号", "结果 outcome", "原因 reason", "代码 code"):
        table.add_column(column)
    styles = {RowOutcome.APPLIED: "green", RowOutcome.UNCHANGED: "", RowOutcome.REFUSED: "red"}
    for row in report.rows:
        if row.outcome is RowOutcome.SKIPPED:
            continue
        table.add_row(
            row.tab, str(row.row), row.number, row.outcome.label, row.reason, row.code.value, style=styles[row.outcome]
        )
    console.print(table)
    counts = ", ".join(f"{o.label} {report.count(o)}" for o in RowOutcome)
    console.print(f"rows: {counts}; decisions made {report.made}, unchanged {report.unchanged}")


@worksheet_app.command("import")
def import_sheet(
    file: Annotated[Path, typer.Argument(help="The filled worksheet (.xlsx).")],
    user: UserOption,
    password_stdin: PasswordStdinOption = False,
    data: DataOption = Path("data"),
) -> None:
    """Apply a filled worksheet as decisions; exit status 1 if any row was refused (see the report)."""
    from services.worksheet import WorksheetError, WorksheetRefused, import_worksheet

    who = _login(data, user, password_stdin)
    try:
        report = import_worksheet(data, file, user=who)
    except WorksheetRefused as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    except (WorksheetError, FileNotFoundError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    print_report(report)
    if not report.ok:
        raise typer.Exit(1)
