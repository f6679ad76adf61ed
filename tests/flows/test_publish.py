"""Publishing: the database built from a run directory, the atomic swap and pruning of old runs."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest

from flows.pipeline import LOCAL, run_pipeline
from flows.publish import build_database, publish, spill_dir
from flows.settings import Settings
from services.paths import DataPaths

if TYPE_CHECKING:
    from pathlib import Path

VIEWS = {
    "links",
    "record_status",
    "community_summary",
    "queue",
    "quarantine",
    "input_files",
    "model_parameters",
    "runs",
    "coverage",
    "progress",
}
RUN_TABLES = {
    "links",
    "record_status",
    "community_summary",
    "quarantine",
    "queue",
    "register_keys",
    "roll_keys",
    "register_records",
    "queue_pages",
    "household_members",
    "flat_occupants",
    "roll_records",
    "input_files",
    "model_parameters",
    "runs",
    "coverage",
    "progress",
}


@pytest.fixture(scope="module")
def run_dir(small_city: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of one local run over the small city (stages called directly, no Prefect)."""
    data = tmp_path_factory.mktemp("publish")
    return run_pipeline(small_city["register"], small_city["rolls"], Settings(data_dir=data), LOCAL).run_dir


@pytest.fixture(scope="module")
def database(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("built") / "hukou.duckdb"
    build_database(run_dir, target, run_id="20260101T000000Z-aaaa", runs=[])
    return target


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _count(path: Path, relation: str) -> int:
    ((n,),) = _query(path, f"SELECT count(*) FROM {relation}")  # noqa: S608  names from this module
    assert isinstance(n, int)
    return n


def _published_run(path: Path) -> str:
    ((run_id,),) = _query(path, "SELECT run_id FROM main.published")
    assert isinstance(run_id, str)
    return run_id


def test_database_holds_the_views_and_run_tables(database: Path) -> None:
    rows = _query(database, "SELECT table_schema, table_name, table_type FROM information_schema.tables")
    views = {name for schema, name, kind in rows if schema == "main" and kind == "VIEW"}
    tables = {name for schema, name, kind in rows if schema == "run" and kind == "BASE TABLE"}
    assert views == VIEWS
    assert tables == RUN_TABLES
    assert _published_run(database) == "20260101T000000Z-aaaa"


def test_each_communitys_queue_page_lists_what_the_queue_and_records_say(database: Path) -> None:
    """The queue's pages, made once a publish, hold for every community what a page would join from the tables."""
    from review.data import QUEUE_LINE, QUEUE_OF, QUEUE_SHOWN, queue_items, queue_shown

    con = duckdb.connect(str(database), read_only=True)
    try:
        communities = [c for (c,) in con.execute("SELECT DISTINCT community_code FROM queue").fetchall()]
        others = con.execute("SELECT count(*) FROM queue WHERE other_community_code <> community_code").fetchone()
        assert communities
        assert others
        assert others[0] > 0  # items listed on two communities' pages are among them
        for community in communities:
            joined = con.execute(f"{QUEUE_OF} ORDER BY (q.community_code <> ?), q.item_id", [community] * 3)
            names = [d[0] for d in joined.description]
            rows = [dict(zip(names, row, strict=True)) for row in joined.fetchall()]
            assert queue_items(con, community) == [{n: r[n] for n in QUEUE_LINE} for r in rows]
            shown = queue_shown(con, community, [r["item_id"] for r in rows])
            assert shown == {r["item_id"]: {n: r[n] for n in QUEUE_SHOWN} for r in rows}
    finally:
        con.close()


def test_each_household_and_flat_lists_what_the_records_statuses_and_queue_say(database: Path) -> None:
    """The people of every household and flat, made once a publish, are those a page would join from the tables."""
    from review.data import _members, members_joined
    from schemas.codes import Side

    con = duckdb.connect(str(database), read_only=True)
    try:
        for side, column in ((Side.REGISTER, "household_key"), (Side.ROLL, "flat")):
            groups = con.execute(
                f"SELECT {column}, min(idx), any_value(community_code) FROM run.{side}_records "  # noqa: S608  names from here
                f"WHERE {column} IS NOT NULL GROUP BY 1 ORDER BY 1"
            ).fetchall()
            assert len(groups) > 100
            for group, first, community in groups:
                assert _members(con, side, group, first) == members_joined(con, side, group, first)
                assert _members(con, side, group, None, community) == members_joined(con, side, group, None, community)
    finally:
        con.close()


@pytest.mark.parametrize(
    ("relation", "parquet"),
    [
        ("links", "links"),  # every link joins both records' keys
        ("record_status", "record_status"),
        ("community_summary", "community_summary"),
        ("queue", "queue"),
        ("quarantine", "quarantine"),
        ("coverage", "coverage"),
        ("run.register_records", "register"),
        ("run.roll_records", "roll"),
    ],
)
def test_row_counts_match_the_run(database: Path, run_dir: Path, relation: str, parquet: str) -> None:
    expected = pl.read_parquet(run_dir / f"{parquet}.parquet").height
    assert expected > 0
    assert _count(database, relation) == expected


def test_keys_split_the_statuses_by_side(database: Path, run_dir: Path) -> None:
    sides = dict(pl.read_parquet(run_dir / "record_status.parquet")["side"].value_counts().iter_rows())
    assert _count(database, "run.register_keys") == sides["register"]
    assert _count(database, "run.roll_keys") == sides["roll"]


def test_files_and_model_parameters_come_from_the_json(database: Path, run_dir: Path) -> None:
    files = json.loads((run_dir / "files.json").read_text())
    assert _count(database, "input_files") == len(files)
    ((sheets,),) = _query(database, "SELECT sheets FROM input_files WHERE side = 'register'")
    assert isinstance(json.loads(str(sheets)), list)  # a workbook's sheets as JSON text
    parameters = json.loads((run_dir / "model.json").read_text())["parameters"]
    assert _count(database, "model_parameters") == len(parameters)


def test_runs_table_lists_the_history_given(run_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "x.duckdb"
    runs = [{"run_id": "a", "outcome": "failed"}, {"run_id": "b", "outcome": "published"}]
    build_database(run_dir, target, run_id="b", runs=runs)
    assert _query(target, "SELECT run_id, outcome FROM runs ORDER BY run_id") == [("a", "failed"), ("b", "published")]
    # The run being published ends with it; an older one keeps what the history says.
    assert _query(target, "SELECT run_id FROM runs WHERE finished_at IS NOT NULL") == [("b",)]


def _runs_home(run_dir: Path, root: Path, *names: str) -> DataPaths:
    """A data directory with a copy of the run under each name (the last one a real copy, the rest empty)."""
    paths = DataPaths(root)
    paths.runs.mkdir(parents=True)
    *old, current = names
    for name in old:
        (paths.run(name)).mkdir()
    shutil.copytree(run_dir, paths.run(current))
    return paths


def test_publish_swaps_atomically_under_a_reader(run_dir: Path, tmp_path: Path) -> None:
    paths = _runs_home(run_dir, tmp_path, "20260101T000000Z-0001")
    first = publish(paths.run("20260101T000000Z-0001"), paths, run_id="r1", runs=[], keep_runs=0)
    assert first == paths.published
    reader = duckdb.connect(str(paths.published), read_only=True)
    try:
        assert reader.execute("SELECT run_id FROM published").fetchone() == ("r1",)
        publish(paths.run("20260101T000000Z-0001"), paths, run_id="r2", runs=[], keep_runs=0)
        # The reader that opened the old file keeps seeing it, whole; a new reader sees the new one.
        assert reader.execute("SELECT run_id FROM published").fetchone() == ("r1",)
        assert reader.execute("SELECT count(*) FROM record_status").fetchone() == (
            pl.read_parquet(run_dir / "record_status.parquet").height,
        )
    finally:
        reader.close()
    assert _published_run(paths.published) == "r2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hukou.duckdb", "runs"]  # nothing half-built left


def test_a_failed_build_changes_nothing(run_dir: Path, tmp_path: Path) -> None:
    paths = _runs_home(run_dir, tmp_path, "20260101T000000Z-0001", "20260102T000000Z-0002")
    publish(paths.run("20260102T000000Z-0002"), paths, run_id="good", runs=[], keep_runs=0)
    broken = paths.run("20260103T000000Z-0003")
    shutil.copytree(run_dir, broken)
    (broken / "queue.parquet").unlink()
    with pytest.raises(duckdb.IOException):
        publish(broken, paths, run_id="bad", runs=[], keep_runs=1)
    assert _published_run(paths.published) == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hukou.duckdb", "runs"]
    assert len(list(paths.runs.iterdir())) == 3  # nothing pruned by a failed run


@pytest.mark.parametrize(
    ("keep", "kept"),
    [
        (2, ["20260103T000000Z-0003", "20260104T000000Z-0004"]),
        (0, [f"2026010{i}T000000Z-000{i}" for i in range(1, 5)]),  # 0: keep everything
    ],
)
def test_publish_prunes_the_oldest_runs(run_dir: Path, tmp_path: Path, keep: int, kept: list[str]) -> None:
    names = [f"2026010{i}T000000Z-000{i}" for i in range(1, 5)]
    paths = _runs_home(run_dir, tmp_path, *names)
    (paths.runs / "not-a-run.txt").write_text("x")  # files beside the runs are left alone
    publish(paths.run(names[-1]), paths, run_id=names[-1], runs=[], keep_runs=keep)
    assert sorted(p.name for p in paths.runs.iterdir() if p.is_dir()) == kept
    assert (paths.runs / "not-a-run.txt").exists()


def test_prune_never_removes_the_run_being_published(run_dir: Path, tmp_path: Path) -> None:
    """Republishing an older run keeps it even when it is among the oldest."""
    names = ["20260101T000000Z-0001", "20260102T000000Z-0002", "20260103T000000Z-0003"]
    paths = _runs_home(run_dir, tmp_path, names[1], names[2], names[0])
    publish(paths.run(names[0]), paths, run_id=names[0], runs=[], keep_runs=1)
    assert sorted(p.name for p in paths.runs.iterdir()) == [names[0], names[2]]


def test_a_publish_within_a_memory_limit_writes_the_same_database(
    run_dir: Path, database: Path, tmp_path: Path
) -> None:
    """DuckDB spills what exceeds `memory` to a folder of its own, removed afterwards; no table changes."""
    target = tmp_path / "limited.duckdb"
    build_database(run_dir, target, run_id="20260101T000000Z-aaaa", runs=[], memory="32MB")
    assert not spill_dir(target).exists()
    tables = _query(database, "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL")
    assert tables == _query(target, "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL")
    for schema, table in tables:
        if table in {"published", "runs"}:  # they hold the time of publishing
            continue
        sql = f"SELECT * FROM {schema}.{table}"  # noqa: S608  names from the catalogue
        with duckdb.connect(str(database), read_only=True) as a, duckdb.connect(str(target), read_only=True) as b:
            assert a.sql(sql).pl().equals(b.sql(sql).pl()), f"{schema}.{table}"


def test_a_publish_that_does_not_fit_its_memory_is_built_without_the_limit_and_leaves_nothing(
    run_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = _runs_home(run_dir, tmp_path, run_dir.name)
    killed = paths.root / ".hukou.duckdb.20250101T000000Z-dead.building"  # what a publish killed outright left
    killed.write_bytes(b"half a database")
    (paths.root / f"{killed.name}.spill").mkdir()
    with caplog.at_level("WARNING", logger="flows.publish"):
        publish(run_dir, paths, run_id=run_dir.name, runs=[], keep_runs=0, memory="1MB")
    assert _published_run(paths.published) == run_dir.name
    assert "did not fit in 1MB" in caplog.text
    assert sorted(p.name for p in paths.root.iterdir() if p.name.startswith(".hukou")) == []


def test_a_memory_size_duckdb_does_not_know_is_refused_before_the_night(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUKOU_PUBLISH_MEMORY", "1500MB")
    assert Settings().publish_memory == "1500MB"
    monkeypatch.setenv("HUKOU_PUBLISH_MEMORY", "2048")  # no unit
    with pytest.raises(ValueError, match="'2048' is no memory size DuckDB knows"):
        Settings()
