"""Which failures the nightly flow retries: only those that waiting may mend."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import pytest

from flows import stages
from flows.pipeline import StageFailed, guarded

if TYPE_CHECKING:
    from pathlib import Path


def _fail_with(exc: Exception) -> StageFailed:
    def stage() -> None:
        raise exc

    with pytest.raises(StageFailed) as failed:
        guarded(stage)()
    return failed.value


def test_a_register_still_being_copied_may_pass(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "户籍人口.csv").write_text("姓名\n", encoding="utf-8")  # modified just now
    with pytest.raises(stages.RegisterNotReady) as raised:
        stages.resolve_register(drop, quiet_seconds=60)
    assert _fail_with(raised.value).may_pass
    with pytest.raises(stages.RegisterNotReady):
        stages.resolve_register(drop / "户籍人口.csv", quiet_seconds=60)


def test_a_missing_or_unreadable_register_cannot_pass(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    with pytest.raises(stages.RegisterUnreadable) as empty:
        stages.resolve_register(drop, quiet_seconds=60)
    assert not isinstance(empty.value, stages.RegisterNotReady)
    assert not _fail_with(empty.value).may_pass
    old = drop / "户籍人口.csv"
    old.write_text("姓名\n", encoding="utf-8")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert stages.resolve_register(drop, quiet_seconds=60)[0] == old
    assert not _fail_with(FileNotFoundError(str(tmp_path / "nowhere.csv"))).may_pass
    assert not _fail_with(ValueError("bad cell")).may_pass


def test_the_flow_retries_only_what_may_pass() -> None:
    from prefect.states import Failed

    from flows.nightly import may_pass

    assert may_pass(None, None, Failed(data=StageFailed("copying", may_pass=True)))
    assert not may_pass(None, None, Failed(data=StageFailed("register unreadable: no file")))
    assert not may_pass(None, None, Failed(data=OSError("disk")))
