"""Verified lists: IDs survive exactly, counts match the database and the
manifest, only liaisons (own station) and admins may export, every export is audited.
Cells cannot run as formulas, IDs stay text in CSV, files are private (0600) and safely named,
and the web download leaves no copy behind."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
import tempfile
import zipfile
from typing import TYPE_CHECKING, Any

import duckdb
import fastexcel
import polars as pl
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import services.export as exporting
from cli.main import app as cli
from flows.pipeline import LOCAL, run_pipeline
from flows.settings import Settings
from reconcile import idnumber
from schemas.codes import Evidence
from schemas.labels import EXPORT_COLUMNS
from services import reader
from services.audit import audit_log
from services.export import ABSENT, UNREGISTERED, ExportScope, export
from services.paths import DataPaths, sha256_file
from tests.review.conftest import PASSWORD, World, login

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

runner = CliRunner()


def _written(t: str) -> str:
    return f"CASE WHEN length({t}.id_clean) = 18 THEN coalesce({t}.id18, {t}.id_clean) ELSE {t}.id_clean END"


def _sheet(path: Path, name: str) -> pl.DataFrame:
    reader = fastexcel.read_excel(str(path))
    frame = reader.load_sheet(name, dtypes="string").to_polars()
    return frame


def test_xlsx_export_keeps_ids_and_counts(world: World, tmp_path: Path) -> None:
    manifest_path = export(world.data, ExportScope(station=world.station), tmp_path, username="police")
    manifest = json.loads(manifest_path.read_text())
    (workbook,) = [tmp_path / f["name"] for f in manifest["files"]]
    assert sha256_file(workbook) == manifest["files"][0]["sha256"]
    codes = manifest["scope"]["communities"]
    expected = world.sql(
        # A roll row without an ID takes the one of the register record it is linked to (g).
        # An ID as written (18 digits in their valid form; 15 digits stay 15).
        f"""SELECT s.side, coalesce({_written("r")}, {_written("o")}, {_written("g")})
           FROM record_status s
           LEFT JOIN run.register_records r ON s.side = 'register' AND r.source_file = s.source_file AND r.source_row = s.source_row
           LEFT JOIN run.roll_records o ON s.side = 'roll' AND o.source_file = s.source_file AND o.source_row = s.source_row
           LEFT JOIN run.register_records g ON s.side = 'roll' AND g.source_file = s.linked_file
                AND g.source_row = s.linked_row AND g.source_sheet IS NOT DISTINCT FROM s.linked_sheet
           WHERE s.community_code IN (SELECT unnest(?)) AND s.verified_by IN ('auto', 'operator')
             AND ((s.side = 'roll' AND s.status = 'unregistered') OR (s.side = 'register' AND s.status = 'absent'))""",  # noqa: S608  fragments of this test
        [codes],
    )
    for category, side in (("人在户不在", "roll"), ("户在人不在", "register")):
        sheet = _sheet(workbook, category)
        ids = sorted(v for v in sheet["公民身份号码"].to_list() if v)
        want = sorted(str(i) for s, i in expected if s == side and i)
        assert ids == want, category
        assert sheet.height == manifest["rows"][category] == sum(1 for s, _ in expected if s == side)
    x_ids = [str(i) for _, i in expected if i and str(i).endswith("X")]
    sheet_ids = set(_sheet(workbook, "户在人不在")["公民身份号码"].to_list()) | set(
        _sheet(workbook, "人在户不在")["公民身份号码"].to_list()
    )
    assert all(i in sheet_ids for i in x_ids)
    births = fastexcel.read_excel(str(workbook)).load_sheet("户在人不在").to_polars()["出生日期"]
    assert births.dtype in (pl.Date, pl.Datetime("ms"), pl.Datetime("us"), pl.Datetime("ns"))
    assert manifest["pending_not_exported"]
    assert [e for e in audit_log(world.state) if e["action"] == "export"]


def test_csv_export_is_gb18030(world: World, tmp_path: Path) -> None:
    manifest = json.loads(
        export(world.data, ExportScope(community=world.community), tmp_path, username="root", fmt="csv").read_text()
    )
    assert len(manifest["files"]) == 3
    for f in manifest["files"]:
        path = tmp_path / f["name"]
        assert sha256_file(path) == f["sha256"]
        text = path.read_bytes().decode("gb18030")
        category = f["name"].removesuffix(".csv").rsplit("_", 1)[1]
        assert len(text.strip().splitlines()) - 1 == manifest["rows"][category]


def test_cli_export_needs_the_right_role(world: World, tmp_path: Path) -> None:
    base = ["export", "--data", str(world.data), "--out", str(tmp_path), "--password-stdin"]
    refused = runner.invoke(cli, [*base, "--user", "op", "--community", world.community], input=PASSWORD + "\n")
    assert refused.exit_code == 2
    other = runner.invoke(cli, [*base, "--user", "police", "--station", "某某派出所"], input=PASSWORD + "\n")
    assert other.exit_code == 2
    wrong = runner.invoke(cli, [*base, "--user", "police", "--station", world.station], input="nope\n")
    assert wrong.exit_code == 1
    ok = runner.invoke(cli, [*base, "--user", "police", "--station", world.station], input=PASSWORD + "\n")
    assert ok.exit_code == 0, ok.output
    assert list(tmp_path.glob("*_manifest.json"))


def test_web_export(client: TestClient, world: World) -> None:
    csrf = login(client, "police")
    assert client.get("/export").status_code == 200
    response = client.post("/export", data={"station": world.station, "fmt": "xlsx", "csrf_token": csrf})
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert any(n.endswith(".xlsx") for n in names)
    assert any(n.endswith("_manifest.json") for n in names)
    assert client.post("/export", data={"station": "某某派出所", "fmt": "xlsx", "csrf_token": csrf}).status_code == 403
    operator = TestClient(client.app)
    op_csrf = login(operator, "op")
    assert operator.get("/export").status_code == 403
    assert operator.post("/export", data={"community": world.community, "csrf_token": op_csrf}).status_code == 403


FORMULAS = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", " =1", "＝1", '=HYPERLINK("http://x","y")']
ID = "330282198007242159"


def _people_frame(names: list[str]) -> pl.DataFrame:
    n = len(names)
    return pl.DataFrame(
        {
            "community_code": ["330282001001"] * n,
            "community_name": ["青少年宫路社区"] * n,
            "name": names,
            "id_number": [ID] * n,
            "id_source": ["社区名册"] * n,
            "id_check": [None] * n,
            "sex": ["男"] * n,
            "birth": [dt.date(1980, 7, 24)] * n,
            "household_no": ["330282001"] * n,
            "household_no_source": ["户籍"] * n,
            "address": ["慈溪市阳光名都9幢"] * n,
            "other_community_code": [None] * n,
            "other_community_name": [None] * n,
            "verified_by": ["auto"] * n,
            "decision": [None] * n,
            "evidence": ["户籍房屋有他人居住"] * n,
            "source_file": ["rolls.xlsx"] * n,
            "source_sheet": [None] * n,
            "source_row": list(range(2, n + 2)),
        }
    )


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="gb18030", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_cells_cannot_run_as_formulas(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    changed = exporting.write_csv(_people_frame([*FORMULAS, "张三", "－1"]), UNREGISTERED, path)
    names = [row["姓名"] for row in _csv_rows(path)]
    assert names == ["'" + v for v in FORMULAS] + ["张三", "'－1"]
    assert changed == len(FORMULAS) + 1


def test_xlsx_formula_cells_are_text(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    frames = {UNREGISTERED: _people_frame(["=1+1", "张三"])}
    assert exporting.write_xlsx(frames, path) == 1
    with zipfile.ZipFile(path) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
        styles = zf.read("xl/styles.xml").decode()
    assert "<f>" not in sheet
    assert 'quotePrefix="1"' in styles
    assert _sheet(path, UNREGISTERED)["姓名"].to_list() == ["=1+1", "张三"]


def test_csv_ids_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    exporting.write_csv(_people_frame(["张三"]), UNREGISTERED, path)
    (row,) = _csv_rows(path)
    assert row["公民身份号码"] == "\t" + ID
    assert row["社区代码"] == "\t330282001001"
    assert row["户号"] == "\t330282001"
    assert row["来源行"] == "2"


def _rewrite(world: World, sql: str, params: list[object]) -> None:
    reader.release(world.data)  # the app's process holds it attached
    con = duckdb.connect(str(DataPaths(world.data).published))
    try:
        con.execute(sql, params)
    finally:
        con.close()


def test_manifest_says_formulas_were_neutralised(world: World, tmp_path: Path) -> None:
    _rewrite(world, "UPDATE run.roll_records SET name = ?", ["=1+1"])
    for fmt in ("csv", "xlsx"):
        out = tmp_path / fmt
        manifest = json.loads(
            export(world.data, ExportScope(community=world.community), out, username="root", fmt=fmt).read_text()
        )
        assert manifest["formula_neutralised"] is True
        assert manifest["formula_cells"] >= manifest["rows"][UNREGISTERED] > 0
        assert "'" in manifest["cell_rules"]["formula"]
        assert "tab" in manifest["cell_rules"]["ids_as_text"]
    (roll_csv,) = (tmp_path / "csv").glob(f"*_{UNREGISTERED}.csv")
    rows = _csv_rows(roll_csv)
    assert rows
    assert {r["姓名"] for r in rows} == {"'=1+1"}
    assert all(r["公民身份号码"].startswith("\t") for r in rows if r["公民身份号码"])


def test_export_files_are_private(world: World, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        for fmt in ("xlsx", "csv", "csv"):
            manifest_path = export(
                world.data, ExportScope(community=world.community), tmp_path, username="root", fmt=fmt
            )
            names = [f["name"] for f in json.loads(manifest_path.read_text())["files"]]
            for path in [manifest_path, *(tmp_path / n for n in names)]:
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
                path.chmod(0o644)  # a re-export over an older, wider file narrows it again
    finally:
        os.umask(old)


def test_safe_file_names() -> None:
    assert exporting.safe_file_name("浒山派出所") == "浒山派出所"
    for bad in ("a/b", "../x", "a\\b", "a\nb\x00c", "..", "", "a:b*c?"):
        name = exporting.safe_file_name(bad)
        assert name
        assert not {"/", "\\", ":", "*", "?"} & set(name)
        assert ".." not in name
        assert name.isprintable()
        assert not name.startswith(".")


def test_station_names_with_separators_export_safely(world: World, tmp_path: Path) -> None:
    for i, station in enumerate(("a/b", "../x")):
        _rewrite(
            world, "UPDATE run.community_summary SET police_station = ? WHERE police_station IS NOT NULL", [station]
        )
        out = tmp_path / f"out{i}"
        for fmt in ("xlsx", "csv"):
            manifest_path = export(world.data, ExportScope(station=station), out, username="root", fmt=fmt)
            manifest = json.loads(manifest_path.read_text())
            assert manifest["scope"]["station"] == station
            assert manifest_path.parent == out
            for f in manifest["files"]:
                assert (out / f["name"]).is_file()
                assert f["name"].startswith("核查名单_")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data", *(f"out{j}" for j in range(i + 1))]
        assert all(p.is_file() for p in out.iterdir())


def test_web_export_keeps_no_copy(
    client: TestClient, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    csrf = login(client, "police")
    for fmt in ("xlsx", "csv"):
        response = client.post("/export", data={"station": world.station, "fmt": fmt, "csrf_token": csrf})
        assert response.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
        assert any(n.endswith("_manifest.json") for n in names)
        assert len(names) == (2 if fmt == "xlsx" else 4)
    leftovers = [p for p in world.data.rglob("*") if "核查名单" in p.name or p.name == "exports"]
    assert leftovers == []
    assert list(scratch.iterdir()) == []


def test_manifest_states_the_verification_policy_and_rows_carry_their_grounds(world: World, tmp_path: Path) -> None:
    default = json.loads(
        export(world.data, ExportScope(station=world.station), tmp_path / "a", username="p").read_text()
    )
    assert default["verification_policy"]["verified_without_visit"] == []
    policy = [Evidence.OTHERS_AT_FLAT]
    run_pipeline(
        world.city["register"], world.city["rolls"], Settings(data_dir=world.data, verify_without_visit=policy), LOCAL
    )
    by_policy: Any = world.sql(
        "SELECT count(*) FROM record_status WHERE verified_by = 'policy' AND evidence = 'others_at_flat'"
    )[0][0]
    assert by_policy > 0
    assert (
        world.sql("SELECT count(*) FROM record_status WHERE verified_by = 'policy' AND evidence <> 'others_at_flat'")[
            0
        ][0]
        == 0
    )
    manifest_path = export(world.data, ExportScope(station=world.station), tmp_path / "b", username="p")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["verification_policy"]["verified_without_visit"] == ["others_at_flat"]
    assert manifest["verification_policy"]["verified_without_visit_labels"] == [Evidence.OTHERS_AT_FLAT.label]
    absent = _sheet(tmp_path / "b" / manifest["files"][0]["name"], ABSENT)
    grounds = absent.filter(pl.col(EXPORT_COLUMNS["verified_by"]) == "policy")[EXPORT_COLUMNS["evidence"]]
    assert grounds.len() > 0
    assert set(grounds) == {Evidence.OTHERS_AT_FLAT.label}


def _every_community(world: World) -> dict[str, pl.DataFrame]:
    with reader.published(world.data) as con:
        codes = [code for (code,) in con.execute("SELECT community_code FROM community_summary").fetchall()]
        return exporting.category_frames(con, codes)


def test_unregistered_rows_carry_the_linked_register_records_id_and_household_number(
    world: World,
) -> None:
    """A 人在户不在 person is registered elsewhere: the liaison gets that record's ID and 户号 when the roll lacks them."""
    frames = _every_community(world)
    sheet = frames[UNREGISTERED]
    linked = {
        (f, s, r): (reg_id, hh)
        for f, s, r, reg_id, hh in world.sql(
            """SELECT s.source_file, s.source_sheet, s.source_row, coalesce(g.id18, g.id_clean), g.household_key
               FROM record_status s JOIN run.register_records g ON g.source_file = s.linked_file
                    AND g.source_row = s.linked_row AND g.source_sheet IS NOT DISTINCT FROM s.linked_sheet
               WHERE s.side = 'roll' AND s.status = 'unregistered'"""
        )
    }
    own, own_written = {}, {}
    for f, s, r, id18, id_clean in world.sql(
        "SELECT source_file, source_sheet, source_row, id18, id_clean FROM run.roll_records"
    ):
        own[f, s, r] = id_clean
        own_written[f, s, r] = {id18, id_clean}
    from_register = 0
    for row in sheet.iter_rows(named=True):
        key = (row["source_file"], row["source_sheet"], row["source_row"])
        register_id, household = linked.get(key, (None, None))
        if own[key] is None and register_id is not None:
            assert row["id_number"] == register_id
            assert row["id_source"] == "户籍"
            from_register += 1
        elif own[key] is not None:  # the roll's own number, as written, whatever the register says
            assert row["id_source"] == "社区名册"
            assert row["id_number"] in own_written[key]
        if isinstance(household, str) and not household.startswith("~"):
            assert row["household_no"] == household
            assert row["household_no_source"] == "户籍"
        else:
            assert row["household_no"] is None
    assert from_register > 0  # the city has roll rows without an ID that are linked elsewhere
    assert sheet["household_no"].drop_nulls().len() > 0


def test_exported_ids_that_fail_validation_are_marked(world: World) -> None:
    """An ID number that fails its check digit (or has 15 digits) is exported as written and marked as such."""
    (code, file, row) = world.sql(
        "SELECT community_code, source_file, source_row FROM record_status "
        "WHERE side = 'register' AND status = 'absent' AND verified_by IS NOT NULL LIMIT 1"
    )[0]
    bad = "330282199001011230"  # a digit off: the check character no longer fits
    assert idnumber.parse(bad).problem == "bad_check"
    _rewrite(
        world,
        "UPDATE run.register_records SET id18 = NULL, id_clean = ? WHERE source_file = ? AND source_row = ?",
        [bad, file, row],
    )
    frames = _every_community(world)
    marked = 0
    for category in (UNREGISTERED, ABSENT):
        for id_number, check in frames[category].select("id_number", "id_check").iter_rows():
            problem = idnumber.parse(id_number).problem if id_number else None
            fifteen = bool(id_number) and len(str(id_number)) == 15 and problem is None
            assert (check is None) == (problem in (None, "missing") and not fifteen), (category, check, problem)
            marked += check is not None
    assert bad in frames[ABSENT].filter(pl.col("id_check") == "校验位不符")["id_number"].to_list()
    assert marked >= 1
    assert code
    for frame in frames.values():
        assert not frame["household_no"].drop_nulls().str.starts_with("~").any()  # no made-up household keys
