"""The `hukou` command line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

# Before Prefect is imported: no analytics, and time for a first ephemeral server to
# migrate its database on a fresh machine (the default 20 s is not always enough).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

app = typer.Typer(
    name="hukou",
    help="hukou-recon: reconcile the police household register with community occupancy rolls "
    "(人在户不在 / 户在人不在), nightly.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(width=max(Console().width, 160))


@contextmanager
def _fail_on(*errors: type[Exception]) -> Iterator[None]:
    """Turn the given errors into their message in red and exit status 1."""
    try:
        yield
    except errors as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


DataOption = Annotated[Path, typer.Option("--data", help="Data directory (published database, runs, operator state).")]


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Directory to write register/, rolls/ and truth/ into.")],
    scale: Annotated[
        int, typer.Option(help="1 mirrors the proposal: 48 communities, ~73k households, ~200k people.")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same city.")] = 0,
    households: Annotated[
        int | None, typer.Option(help="Total registered households, overriding the scale (small cities for tests).")
    ] = None,
) -> None:
    """Generate a synthetic city in the contract's input formats, with ground truth.

    Writes a GB18030 police extract (register/), one .xlsx roll per community
    (rolls/) and the truth for benchmarks (truth/). Nothing in it is real.
    """
    from flows.progress import RichReporter
    from synth import build_city, write_city

    with RichReporter() as reporter:
        reporter.start("生成城市 build city", 1)
        city = build_city(scale=scale, seed=seed, households=households)
        reporter.finish("生成城市 build city")
        reporter.start("写出文件 write files", len(city.communities))
        done = {"n": 0}

        def step(n: int, total: int) -> None:
            reporter.advance("写出文件 write files", n - done["n"])
            done["n"] = n

        written = write_city(city, out, progress=step)
    console.print(
        f"{len(city.communities)} communities, {len(city.registered):,} registered people, "
        f"{len(city.migrants):,} residents registered elsewhere → {out}"
    )
    console.print(f"  register: {written['register']}\n  rolls:    {written['rolls']}")


@app.command()
def run(
    register: Annotated[
        Path,
        typer.Option(
            "--register", help="The police extract (.csv in GB18030/UTF-8, or .xlsx), or a drop directory holding it."
        ),
    ],
    rolls: Annotated[
        Path, typer.Option("--rolls", help="Directory of community rolls (.xlsx or .csv, one per community).")
    ],
    data: DataOption = Path("data"),
    local: Annotated[bool, typer.Option("--local", help="Run the stages directly, without Prefect.")] = False,
) -> None:
    """Run the nightly reconciliation on these inputs and publish into the data directory."""
    from flows.pipeline import LOCAL, run_pipeline
    from flows.progress import RichReporter, use
    from flows.settings import Settings
    from flows.stages import RegisterUnreadable

    if not register.exists():
        raise typer.BadParameter(f"no such file or directory: {register}", param_hint="--register")
    if not rolls.is_dir():
        raise typer.BadParameter(f"no such directory: {rolls}", param_hint="--rolls")
    settings = Settings(data_dir=data)
    try:
        with RichReporter() as reporter, use(reporter):
            if local:
                outcome = run_pipeline(register, rolls, settings, LOCAL)
                run_id, counts = outcome.run_id, outcome.counts
            else:
                from flows.nightly import nightly

                run_id = nightly(register_file=str(register), rolls_dir=str(rolls), data_dir=str(data))
                counts = {}
    except RegisterUnreadable as exc:
        console.print(f"[red]run failed:[/red] {exc}. The published results are unchanged.")
        raise typer.Exit(1) from exc
    console.print(f"run [bold]{run_id}[/bold] published to {data / 'hukou.duckdb'}")
    if counts:
        console.print({k: v for k, v in counts.items() if isinstance(v, int)})
    _print_input_problems(data)
    _print_summary(data)


def _print_input_problems(data: Path) -> None:
    from services.reader import published

    with published(data) as con:
        bad = con.execute(
            "SELECT file, problem, message FROM input_files WHERE status <> 'ok' ORDER BY file"
        ).fetchall()
        quarantined = con.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC").fetchall()
        sheets = con.execute("SELECT file, sheets FROM input_files WHERE status = 'ok' ORDER BY file").fetchall()
    for file, problem, message in bad:
        console.print(f"[yellow]file not read[/yellow] {file}: {problem} — {message}")
    for file, text in sheets:
        for sheet in json.loads(text or "[]"):
            if not sheet["read"]:
                console.print(f"[cyan]sheet not read[/cyan] {file} · {sheet['sheet']}: {sheet['reason']}")
            elif sheet["hidden"]:
                console.print(f"[cyan]hidden sheet read[/cyan] {file} · {sheet['sheet']}: {sheet['records']} record(s)")
            if sheet["footer_rows"]:
                rows = ", ".join(str(r) for r in sheet["footer_rows"])
                console.print(f"[cyan]footer rows[/cyan] {file} · {sheet['sheet']}: row(s) {rows}")
    for reason, n in quarantined:
        console.print(f"[yellow]quarantined[/yellow] {n} row(s): {reason}")


def _print_summary(data: Path) -> None:
    from services.reader import published

    with published(data) as con:
        rows = con.execute(
            """SELECT community_code, community_name, registered_persons, registered_households,
                      resident_persons, consistent_persons, consistent_households,
                      absent_elsewhere_persons, absent_outside_persons, absent_households,
                      unregistered_elsewhere_persons, unregistered_outside_persons, review_pending
               FROM community_summary ORDER BY community_code"""
        ).fetchall()
    table = Table(title="社区人户核查汇总 community summary", show_lines=False)
    headers = [
        "社区代码",
        "社区",
        "户籍人",
        "户籍户",
        "实有人",
        "一致人",
        "一致户",
        "户在人不在\n去市内",
        "户在人不在\n去向不明",
        "空挂户",
        "人在户不在\n市内户籍",
        "人在户不在\n外地",
        "待核实",
    ]
    for i, h in enumerate(headers):
        table.add_column(h, justify="right" if i >= 2 else "left", no_wrap=True)
    totals = [0] * (len(headers) - 2)
    for row in rows:
        table.add_row(*[str(v) if v is not None else "" for v in row[:2]], *[f"{v:,}" for v in row[2:]])
        totals = [t + (v or 0) for t, v in zip(totals, row[2:], strict=True)]
    table.add_row("合计", "", *[f"{t:,}" for t in totals], style="bold")
    console.print(table)


users_app = typer.Typer(help="Manage review-app users (stored in DATA/state.sqlite).", no_args_is_help=True)
app.add_typer(users_app, name="users")


def _password(password_stdin: bool, *, confirm: bool = True) -> str:
    import sys

    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=confirm))


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
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data: DataOption = Path("data"),
) -> None:
    """Add a user. The first admin is created this way."""
    from schemas.codes import Role
    from services.accounts import AccountError, add_user
    from services.paths import DataPaths

    with _fail_on(AccountError, ValueError):
        user = add_user(DataPaths(data).state, username, _password(password_stdin), Role(role), scope)
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

    with _fail_on(AccountError):
        set_active(DataPaths(data).state, username, False)
    console.print(f"disabled {username}")


@users_app.command("passwd")
def users_passwd(
    username: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data: DataOption = Path("data"),
) -> None:
    """Set a user's password (ends their sessions)."""
    from services.accounts import AccountError, set_password
    from services.paths import DataPaths

    with _fail_on(AccountError):
        set_password(DataPaths(data).state, username, _password(password_stdin))
    console.print(f"password changed for {username}")


@app.command()
def serve(
    data: DataOption = Path("data"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[bool, typer.Option(help="Mark cookies Secure (behind HTTPS).")] = False,
) -> None:
    """Serve the operators' review app."""
    import uvicorn

    from review.app import create_app

    uvicorn.run(create_app(data, secure_cookies=secure_cookies), host=host, port=port, log_level="warning")


@app.command("export")
def export_lists(
    user: Annotated[str, typer.Option("--user", help="Your user name: a police liaison (your station) or an admin.")],
    station: Annotated[str | None, typer.Option(help="Police station whose communities to export.")] = None,
    community: Annotated[str | None, typer.Option(help="One community (12-digit code) instead of a station.")] = None,
    out: Annotated[Path, typer.Option(help="Directory for the files and their manifest.")] = Path("exports"),
    fmt: Annotated[
        str, typer.Option("--format", help="xlsx (one workbook, a sheet per category) or csv (GB18030).")
    ] = "xlsx",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    data: DataOption = Path("data"),
) -> None:
    """Export the verified 人在户不在 / 户在人不在 lists with a manifest (SHA-256, row counts, pending items)."""
    from services.accounts import authenticate, may_export
    from services.export import ExportScope, export
    from services.paths import DataPaths
    from services.reader import published

    if bool(station) == bool(community):
        raise typer.BadParameter("give exactly one of --station or --community")
    who = authenticate(DataPaths(data).state, user, _password(password_stdin, confirm=False))
    if who is None:
        console.print("[red]wrong user name or password, or too many attempts[/red]")
        raise typer.Exit(1)
    with published(data) as con:
        row = con.execute(
            "SELECT police_station FROM community_summary WHERE community_code = ?", [community]
        ).fetchone()
    if not may_export(who, station=station, community_station=row[0] if row else None):
        console.print(
            f"[red]{user} may not export {station or community}[/red]: only the police liaison of that station or an admin"
        )
        raise typer.Exit(2)
    manifest = export(data, ExportScope(station=station, community=community), out, username=user, fmt=fmt)
    console.print(manifest.read_text())


@app.command()
def summary(
    data: DataOption = Path("data"),
    chart: Annotated[Path | None, typer.Option(help="Also write the summary as an SVG bar chart to this file.")] = None,
) -> None:
    """Print the published community summary as a table (and optionally draw it)."""
    from services.paths import DataPaths

    if not DataPaths(data).published.exists():
        console.print(f"[red]nothing published yet in {data}[/red]: run `hukou run` first")
        raise typer.Exit(1)
    _print_summary(data)
    if chart is not None:
        from services.charts import summary_svg
        from services.reader import published

        with published(data) as con:
            cur = con.execute("SELECT * FROM community_summary ORDER BY community_code")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        chart.write_text(summary_svg(rows), encoding="utf-8")
        console.print(f"chart written to {chart}")


if __name__ == "__main__":
    app()
