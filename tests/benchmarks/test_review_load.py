"""The review app's load benchmark, small: a few operators, a small city, a nightly run publishing meanwhile."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.slow
def test_every_decision_lands_on_the_records_its_page_showed(small_city: dict[str, Path], tmp_path: Path) -> None:
    work = tmp_path / "load"
    options = ["--operators", "3", "--alone-seconds", "4", "--together-seconds", "6", "--work", str(work)]
    subprocess.run(
        [sys.executable, "-m", "benchmarks.review_load", "--city", str(small_city["rolls"].parent), *options],
        check=True,
        timeout=600,
    )
    result = json.loads((work / "review_load.json").read_text())
    night = result["phases"][-1]
    assert night["night_exit"] == 0  # the night ran and published while the operators worked
    for phase in result["phases"]:
        assert {"queue", "item", "decide"} <= set(phase["pages"])
        assert all(page["errors"] == 0 for page in phase["pages"].values()), phase
    decisions = result["decisions"]
    assert decisions["stored"] > 0
    assert decisions["landed"] == decisions["stored"]
    assert decisions["lost"] == decisions["misdirected"] == decisions["other_answers"] == 0
    assert decisions["stored_before_night"] > 0
    assert decisions["applied_next_night"] == decisions["stored_before_night"]
