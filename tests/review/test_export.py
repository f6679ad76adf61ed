"""Verified lists: IDs survive exactly, counts match the database and the
manifest, only liaisons (own station) and admins may export, every export is audited."""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING

import fastexcel
import polars as pl
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli
from services.audit import audit_log
from services.export import ExportScope, export
from services.paths import sha256_file
from tests.review.conftest import PASSWORD, World, login

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()


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
        """SELECT s.side, coalesce(r.id18, r.id_clean, o.id18, o.id_clean)
           FROM record_status s
           LEFT JOIN run.register_records r ON s.side = 'register' AND r.source_file = s.source_file AND r.source_row = s.source_row
           LEFT JOIN run.roll_records o ON s.side = 'roll' AND o.source_file = s.source_file AND o.source_row = s.source_row
           WHERE s.community_code IN (SELECT unnest(?)) AND s.verified_by IN ('auto', 'operator')
             AND ((s.side = 'roll' AND s.status = 'unregistered') OR (s.side = 'register' AND s.status = 'absent'))""",
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
