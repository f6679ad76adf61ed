"""Progress of long stages: a rich progress bar on the command line, nothing elsewhere.

Stages call `advance`; the CLI installs a reporter with `use`. Only counts and
stage names pass through here, never record values.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.progress import TaskID


class Reporter(Protocol):
    """Whatever shows progress: told when a stage starts, advances and finishes."""

    def start(self, stage: str, total: int | None) -> None:
        """A stage begins; `total` is its number of steps, if known."""
        ...

    def advance(self, stage: str, amount: int = 1) -> None:
        """A stage has done `amount` more steps."""
        ...

    def finish(self, stage: str) -> None:
        """A stage is done."""
        ...


class _Silent:
    def start(self, stage: str, total: int | None) -> None:
        pass

    def advance(self, stage: str, amount: int = 1) -> None:
        pass

    def finish(self, stage: str) -> None:
        pass


_reporter: Reporter = _Silent()


@contextmanager
def use(reporter: Reporter) -> Iterator[None]:
    """Install `reporter` for the duration of the block."""
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous


@contextmanager
def stage(name: str, total: int | None = None) -> Iterator[None]:
    """Report a stage's start and end."""
    _reporter.start(name, total)
    try:
        yield
    finally:
        _reporter.finish(name)


def advance(name: str, amount: int = 1) -> None:
    """Report `amount` more steps done in stage `name`."""
    _reporter.advance(name, amount)


class RichReporter:
    """One progress bar per stage."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, stage: str, total: int | None) -> None:
        """Add a bar for `stage` (of one step when its total is unknown)."""
        self.tasks[stage] = self.progress.add_task(stage, total=total if total is not None else 1)

    def advance(self, stage: str, amount: int = 1) -> None:
        """Move the stage's bar on by `amount`."""
        if stage in self.tasks:
            self.progress.advance(self.tasks[stage], amount)

    def finish(self, stage: str) -> None:
        """Fill the stage's bar."""
        if stage in self.tasks:
            task = next(t for t in self.progress.tasks if t.id == self.tasks[stage])
            self.progress.update(self.tasks[stage], completed=task.total)
