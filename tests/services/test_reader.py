"""Reading the published database: one attachment per file, a connection per use, a swapped-in file seen next use."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import duckdb
import pytest

from services import reader
from services.paths import DataPaths

if TYPE_CHECKING:
    from pathlib import Path


def _publish(data: Path, run_id: str) -> None:
    """A database naming `run_id`, built beside the published one and swapped in as `flows.publish` does."""
    building = data / f".{run_id}.building"
    con = duckdb.connect(str(building))
    con.execute("CREATE TABLE main.published AS SELECT ?::VARCHAR AS run_id, now() AS published_at", [run_id])
    con.close()
    os.replace(building, DataPaths(data).published)


def test_a_use_reads_the_file_published_when_it_began(tmp_path: Path) -> None:
    _publish(tmp_path, "night-1")
    with reader.published(tmp_path) as before:
        assert reader.run_id(before) == "night-1"
        _publish(tmp_path, "night-2")  # swapped in while a page still reads the old file
        with reader.published(tmp_path) as after:
            assert reader.run_id(after) == "night-2"
        assert reader.run_id(before) == "night-1"
    with reader.published(tmp_path) as later:
        assert reader.run_id(later) == "night-2"
    reader.release(tmp_path)


def test_uses_in_threads_at_once_each_get_a_connection_of_their_own(tmp_path: Path) -> None:
    _publish(tmp_path, "night-1")
    seen: list[str] = []
    start = threading.Barrier(8)

    def page() -> None:
        start.wait()
        for _ in range(20):
            with reader.published(tmp_path) as con:
                seen.append(reader.run_id(con))

    threads = [threading.Thread(target=page) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == ["night-1"] * 160
    reader.release(tmp_path)


def test_a_released_file_may_be_written_in_place(tmp_path: Path) -> None:
    _publish(tmp_path, "night-1")
    with reader.published(tmp_path) as con:
        reader.run_id(con)
    reader.release(tmp_path)
    writer = duckdb.connect(str(DataPaths(tmp_path).published))  # refused while this process holds it attached
    writer.execute("UPDATE main.published SET run_id = 'night-1b'")
    writer.close()
    with reader.published(tmp_path) as con:
        assert reader.run_id(con) == "night-1b"
    reader.release(tmp_path)


def test_nothing_published_is_said_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing published"), reader.published(tmp_path):
        pass


def test_what_no_decision_changes_is_read_once_a_publish(tmp_path: Path) -> None:
    reads: list[str] = []

    def page() -> str:
        with reader.published(tmp_path) as con:

            def read() -> str:
                reads.append(reader.run_id(con))
                return reads[-1]

            return reader.once_a_publish(con, ("the run",), read)

    _publish(tmp_path, "night-1")
    assert [page(), page()] == ["night-1", "night-1"]
    _publish(tmp_path, "night-2")
    assert [page(), page()] == ["night-2", "night-2"]
    assert reads == ["night-1", "night-2"]
    reader.release(tmp_path)


def test_a_file_swapped_while_it_is_attached_is_known_by_what_it_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish between looking at the file and attaching it: the values read once are the attached file's."""

    def page() -> str:
        with reader.published(tmp_path) as con:
            return reader.once_a_publish(con, ("the run",), lambda: reader.run_id(con))

    _publish(tmp_path, "night-1")
    assert page() == "night-1"
    looked_at = reader._identity(DataPaths(tmp_path).published.resolve())
    _publish(tmp_path, "night-2")
    assert page() == "night-2"
    monkeypatch.setattr(reader, "_identity", lambda _: looked_at)  # seen before the swap, attached after it
    assert page() == "night-2"
    reader.release(tmp_path)
