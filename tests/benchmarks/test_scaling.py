"""The scaling benchmark's own pieces: the edited delivery, the chart, and a scale that fails."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import pytest

from benchmarks import scaling
from benchmarks.pipeline_child import whole_run_peak
from benchmarks.scaling import STAGES, _edit_register, chart

if TYPE_CHECKING:
    from pathlib import Path


def _run(scale: int, factor: float) -> dict[str, object]:
    return {
        "scale": scale,
        "pipeline": {
            "timings": {s: factor * (i + 1) for i, s in enumerate(STAGES)},
            "stage_peaks_mib": {s: 100 * factor * (i + 1) for i, s in enumerate(STAGES)},
        },
    }


def test_the_chart_draws_every_stage_at_every_scale() -> None:
    svg = chart([_run(1, 1.0), _run(5, 5.0), _run(10, 10.0)], "title with run date")
    root = ET.fromstring(svg)  # noqa: S314  our own output
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}polyline")
    assert len(lines) == 2 * len(STAGES)  # one line per stage, in each panel
    assert all(len(line.attrib["points"].split()) == 3 for line in lines)
    texts = "".join(t.text or "" for t in root.iter(f"{ns}text"))
    assert "title with run date" in texts
    assert all(stage in texts for stage in STAGES)
    assert "Peak memory per stage" in texts
    assert "5,000" in texts  # the biggest peak, labelled


def test_the_edited_register_changes_the_share_asked_and_nothing_else(tmp_path: Path) -> None:
    rows = [f"33028219900101{i:04d},张{i},男\n" for i in range(1000)]
    source = tmp_path / "register.csv"
    source.write_bytes(("公民身份号码,姓名,性别\n" + "".join(rows)).encode("gb18030"))
    edited = _edit_register(source, tmp_path / "out" / "register.csv", 0.005)
    header, *out = (tmp_path / "out" / "register.csv").read_bytes().decode("gb18030").splitlines(keepends=True)
    assert header == "公民身份号码,姓名,性别\n"
    changed = [i for i, (a, b) in enumerate(zip(rows, out, strict=True)) if a != b]
    assert edited == len(changed) == 5
    assert all(out[i].split(",")[1].endswith("明") for i in changed)


def test_a_whole_run_peaks_at_its_largest_stage() -> None:
    # Each stage resets the high-water mark that getrusage reads: the process's figure is the last stage's only.
    assert whole_run_peak({"normalise": 5406.0, "link": 5135.0, "publish": 2825.0}, 2908.0) == 5406.0
    assert whole_run_peak({}, 700.0) == 700.0


def test_a_scale_that_fails_is_reported_and_the_others_still_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[int, Path | None]] = []

    def full_run(scale: int, seed: int, source: Path | None = None) -> dict[str, object]:
        asked.append((scale, source))
        if scale == 50:
            raise SystemExit("benchmark child failed (exit -9; -9 is killed, e.g. for memory)")
        run = _run(scale, 1.0)
        pipeline = run["pipeline"]
        assert isinstance(pipeline, dict)
        pipeline |= {"counts": {"register_rows": 10, "roll_rows": 9}, "wall_seconds": 1.0, "peak_rss_mib": 100.0}
        accuracy = {"auto": {"precision": 1.0, "f1": 1.0}, "statuses": {"status_accuracy": 1.0}}
        return run | {"accuracy": accuracy}

    monkeypatch.setattr(scaling, "full_run", full_run)
    monkeypatch.setattr(scaling, "WORK", tmp_path)
    monkeypatch.setattr(scaling, "CHART", tmp_path / "scaling.svg")
    city = tmp_path / "city-s50"
    city.mkdir()
    argv = ["scaling", "--scales", "1", "50", "--city", f"50={city}", "--incremental-scale", "0"]
    monkeypatch.setattr(sys, "argv", argv)
    scaling.main()
    assert asked == [(1, None), (50, city)]
    record = json.loads((tmp_path / "scaling.json").read_text())
    assert [r["scale"] for r in record["runs"]] == [1]
    assert record["failed"] == [
        {"scale": 50, "failure": "benchmark child failed (exit -9; -9 is killed, e.g. for memory)"}
    ]
    assert (tmp_path / "scaling.svg").exists()


@pytest.mark.parametrize("value", ["50", "x=.", "50=/no/such/city"])
def test_a_city_that_is_not_there_is_refused_before_anything_runs(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(scaling, "full_run", lambda *_: pytest.fail("a scale ran"))
    monkeypatch.setattr(sys, "argv", ["scaling", "--scales", "50", "--city", value])
    with pytest.raises(SystemExit):
        scaling.main()
    assert "expected SCALE=DIR" in capsys.readouterr().err


def test_a_run_whose_evaluation_is_killed_keeps_its_time_and_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    city = tmp_path / "city"
    (city / "register").mkdir(parents=True)
    (city / "register" / "户籍人口_330282.csv").write_text("")
    pipeline: dict[str, object] = {"run_dir": str(tmp_path / "run"), "timings": dict.fromkeys(scaling.STAGES, 1.0)}

    def child(*args: str) -> dict[str, object]:
        if args[0] == "benchmarks.pipeline_child":
            return pipeline
        raise SystemExit("benchmark child failed (exit -9; -9 is killed, e.g. for memory): benchmarks.evaluate")

    monkeypatch.setattr(scaling, "child", child)
    monkeypatch.setattr(scaling, "WORK", tmp_path)
    run = scaling.full_run(50, 0, city)
    assert run["pipeline"] == pipeline
    assert run["accuracy"] is None
    assert "no accuracy figures" in capsys.readouterr().out


def test_each_scale_is_saved_before_the_next_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_run(scale: int, seed: int, source: Path | None = None) -> dict[str, object]:
        if scale == 5:
            raise KeyboardInterrupt  # or the benchmark itself killed: nothing after this point runs
        return _run(scale, 1.0)

    monkeypatch.setattr(scaling, "full_run", full_run)
    monkeypatch.setattr(scaling, "WORK", tmp_path)
    monkeypatch.setattr(sys, "argv", ["scaling", "--scales", "1", "5", "--incremental-scale", "0"])
    with pytest.raises(KeyboardInterrupt):
        scaling.main()
    assert [r["scale"] for r in json.loads((tmp_path / "scaling.json").read_text())["runs"]] == [1]
