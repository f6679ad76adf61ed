"""What the `hukou` commands share: the console, the data option, password input and error exits."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from collections.abc import Iterator

console = Console()
"""The terminal as it is: its width (COLUMNS when not a terminal, else 80); tables fit it (`cli.main._print_summary`)."""


def _data_dir(ctx: typer.Context, value: Path) -> Path:
    """The data directory: `--data` if given, else HUKOU_DATA_DIR, else the configuration file, else ./data."""
    from services.config import ConfigError, data_dir

    source = ctx.get_parameter_source("data")
    try:
        return data_dir(value if source is not None and source.name == "COMMANDLINE" else None).path
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc


DataOption = Annotated[
    Path,
    typer.Option(
        "--data",
        callback=_data_dir,
        help="Data directory (published database, runs, operator state). "
        "Default: HUKOU_DATA_DIR, else data_dir in the configuration file (HUKOU_CONFIG, ./hukou.toml or "
        "/etc/hukou-recon/hukou.toml), else ./data.",
        show_default=False,
    ),
]
PasswordStdinOption = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


@contextmanager
def fail_on(*errors: type[Exception]) -> Iterator[None]:
    """Turn the given errors into their message in red and exit status 1."""
    try:
        yield
    except errors as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


def read_password(password_stdin: bool, *, confirm: bool = True) -> str:
    """A password from standard input (one line) or a hidden prompt (confirmed when `confirm`)."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=confirm))
