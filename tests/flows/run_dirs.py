"""Run directories the stage tests start from: the small city ingested and normalised, and copies of one."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from flows import stages
from flows.normalise import normalise

if TYPE_CHECKING:
    from pathlib import Path


def normalised(city: dict[str, Path], run: Path) -> Path:
    """`run` with `city` ingested and normalised, and no standing decisions: what the link stage reads."""
    stages.ingest(city["register"], city["rolls"], run)
    normalise(run, run / "digest.key", None)
    stages.standing_decisions(run, None)
    return run


def copied(run: Path, to: Path) -> Path:
    """A copy of `run` at `to`, for a stage to write in without touching a fixture's."""
    shutil.copytree(run, to)
    return to
