"""The `hukou` command line: `generate`, `run`, `summary`, `serve`, `export` and `users`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.audit import audit_app
from cli.common import DataOption, console
from cli.export import export_lists
from cli.users import users_app
from cli.worksheet import worksheet_app

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
    pretty_exceptions_show_locals=False,  # locals may hold record values
)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(worksheet_app, name="worksheet")
app.command("export")(export_lists)

SUMMARY_COLUMNS = (
    "community_code",
    "community_name",
    "registered_persons",
    "registered_households",
    "resident_persons",
    "consistent_persons",
    "consistent_households",
    "absent_elsewhere_persons",
    "absent_outside_persons",
    "absent_households",
    "unregistered_elsewhere_persons",
    "unregistered_outside_persons",
    "review_pending",
)
"""The community-summary columns of the terminal table, titled from `schemas.labels.SUMMARY_LABELS`."""


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
    from synth import STAGES, build_city, write_city

    with RichReporter() as reporter:
        city = build_city(scale=scale, seed=seed, households=households)
        for stage in STAGES:
            reporter.start(stage, len(city.communities))
        written = write_city(city, out, progress=reporter.advance)
    console.print(
        f"{len(city.communities)} communities, {city.totals['registered']:,} registered people, "
        f"{city.totals['migrants']:,} residents registered elsewhere → {out}"
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
    prefect: Annotated[
        bool | None,
        typer.Option(
            "--prefect/--local",
            help="Run as a Prefect flow, or the same stages directly. Default: Prefect when a server is configured "
            "(PREFECT_API_URL), else directly (an ephemeral Prefect server would add some 30 s).",
        ),
    ] = None,
    accept_shrink: Annotated[
        bool,
        typer.Option(
            "--accept-shrink",
            help="Publish even if there are no roll records, or the register or rolls shrank by more than "
            "HUKOU_MAX_SHRINK (default 20%) since the last published run.",
        ),
    ] = False,
    dask_address: Annotated[
        str | None,
        typer.Option(
            "--dask-address",
            help="Run the stages on this Dask scheduler's workers (tcp://HOST:8786; else HUKOU_DASK_ADDRESS): "
            "as a Prefect flow. Every worker must see the inputs and the data directory at the same paths.",
        ),
    ] = None,
) -> None:
    """Run the nightly reconciliation on these inputs and publish into the data directory.

    One run at a time per data directory. Input files modified in the last
    HUKOU_QUIET_SECONDS (default 60) are taken as still being copied and skipped.
    """
    from flows.pipeline import LOCAL, RunFailed, run_pipeline
    from flows.progress import RichReporter, use
    from flows.run_lock import RunLocked
    from flows.settings import Settings, prefect_api_configured, run_mode
    from services.paths import DataPaths

    if not register.exists():
        raise typer.BadParameter(f"no such file or directory: {register}", param_hint="--register")
    if not rolls.is_dir():
        raise typer.BadParameter(f"no such directory: {rolls}", param_hint="--rolls")
    settings = Settings(data_dir=data)
    try:
        mode = run_mode(
            prefect=prefect,
            dask_address=dask_address,
            configured_dask=settings.dask_address,
            server=prefect_api_configured,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dask-address") from exc
    local, dask_address = mode.local, mode.dask_address
    if dask_address and not prefect_api_configured():
        console.print(
            "[yellow]no Prefect server configured (PREFECT_API_URL): the run's own server listens on loopback, "
            "so only workers on this machine can report to it[/yellow]"
        )
    if local and prefect is None:
        console.print("[dim]no Prefect server configured (PREFECT_API_URL): running the stages directly[/dim]")
    try:
        with RichReporter() as reporter, use(reporter):
            if local:
                outcome = run_pipeline(register, rolls, settings, LOCAL, accept_shrink=accept_shrink)
                run_id, counts = outcome.run_id, outcome.counts
            else:
                from flows.nightly import nightly

                run_id = nightly(
                    register_file=str(register),
                    rolls_dir=str(rolls),
                    data_dir=str(data),
                    accept_shrink=accept_shrink,
                    dask_address=dask_address,
                )
                counts = {}
    except RunLocked as exc:
        console.print(f"[red]run refused:[/red] {exc}")
        raise typer.Exit(1) from None
    except RunFailed as exc:
        console.print(f"[red]run failed:[/red] {exc}. The published results are unchanged.")
        if exc.debug_log is not None and exc.debug_log.exists():
            console.print(f"full traceback (may quote record values): {exc.debug_log}")
        raise typer.Exit(1) from None
    console.print(f"run [bold]{run_id}[/bold] published to {DataPaths(data).published}")
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


COMPACT_SUMMARY: dict[str, tuple[str, ...]] = {
    "community_name": ("community_name",),
    "registered_persons": ("registered_persons",),
    "consistent_persons": ("consistent_persons",),
    "absent": ("absent_elsewhere_persons", "absent_outside_persons"),
    "unregistered": ("unregistered_elsewhere_persons", "unregistered_outside_persons"),
    "review_pending": ("review_pending",),
}
"""The summary for a narrow terminal: each column and the summary columns it adds up."""


def _summary_table(rows: list[dict[str, Any]], columns: dict[str, tuple[str, ...]]) -> Table:
    """The community summary with `columns` (each the sum of its summary columns), and a total row."""
    from schemas.labels import STATUS_LABELS, SUMMARY_LABELS, TOTAL, two_lines

    table = Table(title="社区人户核查汇总 community summary", show_lines=False)
    labels = {**STATUS_LABELS, **SUMMARY_LABELS}
    text = [c for c in columns if c in ("community_code", "community_name")]
    for column in columns:
        table.add_column(two_lines(labels[column]), justify="left" if column in text else "right", no_wrap=True)
    counted = [c for c in columns if c not in text]
    totals = dict.fromkeys(counted, 0)
    for row in rows:
        values = {c: sum(row[part] or 0 for part in columns[c]) for c in counted}
        totals = {c: totals[c] + values[c] for c in counted}
        table.add_row(*[str(row[c] or "") for c in text], *[f"{values[c]:,}" for c in counted])
    table.add_row(TOTAL, *[""] * (len(text) - 1), *[f"{totals[c]:,}" for c in counted], style="bold")
    return table


def _print_summary(data: Path) -> None:
    """The published community summary, as wide as the terminal allows: every column, else the main ones."""
    from rich.measure import Measurement

    from services.reader import community_rows, published

    with published(data) as con:
        rows = community_rows(con)
    every: dict[str, tuple[str, ...]] = {c: (c,) for c in SUMMARY_COLUMNS}
    for columns in (every, COMPACT_SUMMARY):
        table = _summary_table(rows, columns)
        unbounded = console.options.update(max_width=10_000)  # its natural width, not squeezed to the terminal
        if Measurement.get(console, unbounded, table).maximum <= console.width:
            break
    console.print(table)


@app.command()
def serve(
    data: DataOption = Path("data"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            help="Mark cookies Secure on loopback too (they always are on any other host: serve it behind HTTPS)."
        ),
    ] = False,
) -> None:
    """Serve the operators' review app."""
    import uvicorn

    from review.app import create_app

    uvicorn.run(create_app(data, secure_cookies=secure_cookies), host=host, port=port, log_level="warning")


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
        from services.charts import summary_svg, summary_title
        from services.reader import community_rows, published, run_id

        with published(data) as con:
            rows, title = community_rows(con), summary_title(run_id(con))
        chart.write_text(summary_svg(rows, title=title), encoding="utf-8")
        console.print(f"chart written to {chart}")


@app.command()
def doctor(
    data: Annotated[
        Path | None, typer.Option("--data", help="Check this data directory rather than the configured one.")
    ] = None,
    notify: Annotated[
        bool,
        typer.Option(
            help="Post failed checks to the configured webhook (HUKOU_NOTIFY_WEBHOOK): a morning timer's job."
        ),
    ] = False,
) -> None:
    """Check the set-up (configuration, data and state, last run, published results, drop directory, Prefect).

    Exit status 1 when a check failed, 2 when `--notify` could not tell the webhook.
    """
    from pydantic import ValidationError

    from flows.settings import Settings
    from services.doctor import Check, Level, diagnose, report
    from services.notify import NotifyError, post, webhook

    try:
        drop, problem = Settings().drop_dir, None
    except (ValidationError, ValueError) as exc:
        drop, problem = (
            None,
            Check("settings", Level.FAIL, f"not valid: {exc}".splitlines()[0], "fix hukou.env or the file"),
        )
    checks = [*([problem] if problem else []), *diagnose(data, drop=drop)]
    message = report(checks)
    if notify and message and (url := webhook()):
        try:
            post(url, message)
        except NotifyError as exc:
            console.print(f"[red]could not tell the webhook[/red]: {exc}")
            raise typer.Exit(2) from exc
    style = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "red"}
    table = Table("check", "", "found", "to do", show_lines=False)
    for c in checks:
        table.add_row(c.name, f"[{style[c.level]}]{c.level.value}[/]", c.found, c.fix)
    console.print(table)
    failed = [c.name for c in checks if c.level is Level.FAIL]
    if failed:
        console.print(f"[red]{len(failed)} check(s) failed[/red]: {', '.join(failed)}")
        raise typer.Exit(1)


@app.command()
def places(
    data: DataOption = Path("data"),
    station: Annotated[str | None, typer.Option(help="Only this police station's communities.")] = None,
    street: Annotated[str | None, typer.Option(help="Only this street's (or town's) communities.")] = None,
) -> None:
    """List the police stations, streets and communities of the published results: what a user's scope may name."""
    from services.places import known_places

    found = known_places(data)
    if found is None:
        console.print(f"[red]nothing published yet in {data}[/red]: run `hukou run` first")
        raise typer.Exit(1)
    shown = [
        c
        for c in found.communities
        if (station is None or c.station == station) and (street is None or c.street == street)
    ]
    table = Table("police station (liaison)", "street (supervisor)", "community code (operator)", "community")
    for c in sorted(shown, key=lambda c: (c.station or "", c.street or "", c.code)):
        table.add_row(c.station or "", c.street or "", c.code, c.name or "")
    console.print(table)
    stations, streets = len({c.station for c in shown}), len({c.street for c in shown})
    console.print(f"{stations} police station(s), {streets} street(s), {len(shown)} communities")


if __name__ == "__main__":
    app()
