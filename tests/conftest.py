from __future__ import annotations

import os
import tempfile

# Prefect reads these when first imported: keep its state out of the user's home and send nothing out.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="hukou-prefect-home-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Test cities are written moments before they are read: no quiet period for files still being copied.
os.environ.setdefault("HUKOU_QUIET_SECONDS", "0")

from typing import TYPE_CHECKING

import pytest

from synth import build_city, write_city
from tests.http_stub import http_stub

__all__ = ["http_stub"]  # a fixture every test may ask for

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated city of about 2,000 registered people in the 48 communities."""
    out = tmp_path_factory.mktemp("city")
    return write_city(build_city(households=800, seed=7), out)


_SLOW_FIXTURES = frozenset({"small_city", "prefect_harness"})
"""Fixtures that generate a city or start Prefect: a test using one (even indirectly) is `slow`."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what `make check` leaves to `make test`: tests that build a city, start Prefect or drive a browser."""
    for item in items:
        if _SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        if item.path.name == "test_browser.py":
            item.add_marker(pytest.mark.browser)
