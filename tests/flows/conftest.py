"""One Prefect test server for the whole session (it takes 15-20 s to start)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.flows.machine import city_machine

__all__ = ["city_machine"]  # a fixture the tests of this folder may ask for

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
