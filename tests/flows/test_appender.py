"""Tables appended by a thread of its own: in order, and no file left when writing fails."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.io.appender import Appender

if TYPE_CHECKING:
    from pathlib import Path


def test_tables_are_written_in_the_order_appended(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    with Appender(path, row_group_size=3) as out:
        for start in range(0, 20, 4):
            out.append(pa.table({"n": list(range(start, start + 4))}))
    assert pq.read_table(path)["n"].to_pylist() == list(range(20))


def test_a_write_that_fails_removes_the_file_even_on_a_normal_exit(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    with pytest.raises(ValueError, match="schema"), Appender(path) as out:  # noqa: PT012  the failure surfaces on exit
        out.append(pa.table({"n": [1]}))
        out.append(pa.table({"other": ["a"]}))  # fails in the writing thread
    assert not path.exists()


def test_leaving_by_an_exception_removes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    with pytest.raises(KeyboardInterrupt), Appender(path) as out:  # noqa: PT012
        out.append(pa.table({"n": [1]}))
        raise KeyboardInterrupt
    assert not path.exists()
