"""`make bench-scale`: how time and memory grow with the city, and what a night after a night costs.

For each scale: the city (`benchmarks.run.city`), the whole run in a child process (wall and peak
resident memory per stage) and its accuracy. Then, at `--incremental-scale`, tonight's delivery with
1 % of roll rows and 0.5 % of register rows edited, run twice: as the night after the full run
(normalised rows reused) and as a first night in a new data directory holding the same digest key.
Their links and statuses must be identical; the ratio of their times is printed. Writes
benchmarks/scaling.svg (peak memory and time per stage against scale) and work/scaling.json.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from html import escape
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
from polars.testing import assert_frame_equal
from rich.table import Table

from benchmarks.run import WORK, child, city, console
from services.charts import nice_ticks
from services.paths import DataPaths

STAGES = ("ingest", "normalise", "link", "classify", "publish")
COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f")
CHART = Path(__file__).resolve().parent / "scaling.svg"
COMPARED = ("links", "record_status", "queue", "community_summary", "coverage")


def full_run(scale: int, seed: int, source: Path | None = None) -> dict[str, Any]:
    """The whole run on the city of `scale` in a fresh data directory: timings, peaks and accuracy.

    `source`: a city already generated for this scale (`hukou generate DIR --scale S`), else it is generated here.
    """
    if source is None:
        source, _ = city(scale, seed)
    data = WORK / f"data-scale-s{scale}"
    shutil.rmtree(data, ignore_errors=True)
    register = next((source / "register").iterdir())
    run = child("benchmarks.pipeline_child", str(register), str(source / "rolls"), str(data))
    try:  # in a child: evaluating scale 50 in memory was killed (24 GiB), and took the figures of every scale with it
        accuracy: dict[str, Any] | None = child("benchmarks.evaluate", run["run_dir"], str(source / "truth"))
    except SystemExit as failure:
        console.print(f"[red]scale {scale}: no accuracy figures: {failure}[/red]")
        accuracy = None
    return {"scale": scale, "data": str(data), "source": str(source), "pipeline": run, "accuracy": accuracy}


def _edit_register(register: Path, out: Path, share: float) -> int:
    """The register with `share` of its people's names edited (a character added); returns rows edited."""
    header, *rows = register.read_bytes().decode("gb18030").splitlines(keepends=True)
    step = round(1 / share)
    edited = []
    for i, row in enumerate(rows):
        if i % step == 0:
            cells = row.split(",")
            cells[1] += "明"
            row = ",".join(cells)
        edited.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes("".join([header, *edited]).encode("gb18030"))
    return len(range(0, len(rows), step))


def _edit_rolls(rolls: Path, out: Path, share: float, total_rows: int) -> int:
    """The rolls with `share` of all rows edited, as offices hand in updates: a few workbooks, every other row.

    Returns rows edited. Untouched workbooks are copied as they are.
    """
    shutil.copytree(rolls, out)
    wanted, edited = int(total_rows * share), 0
    for path in sorted(out.glob("*.xlsx")):
        if edited >= wanted:
            break
        book = openpyxl.load_workbook(path)
        for sheet in book.worksheets:
            header = [c.value for c in next(sheet.iter_rows(min_row=1, max_row=1))]
            if "姓名" not in header:
                continue
            column = header.index("姓名") + 1
            for row in range(2, sheet.max_row + 1, 2):
                cell = sheet.cell(row=row, column=column)
                if cell.value and edited < wanted:
                    cell.value = f"{cell.value}明"
                    edited += 1
        book.save(path)
    return edited


def incremental(full: dict[str, Any], *, register_share: float, roll_share: float) -> dict[str, Any]:
    """Tonight's edited delivery as the next night of `full`, and as a first night: times and equality."""
    source, warm = Path(full["source"]), Path(full["data"])
    tonight = WORK / f"delivery-s{full['scale']}-edited"
    shutil.rmtree(tonight, ignore_errors=True)
    register = next((source / "register").iterdir())
    register_edited = _edit_register(register, tonight / "register" / register.name, register_share)
    roll_edited = _edit_rolls(source / "rolls", tonight / "rolls", roll_share, full["pipeline"]["counts"]["roll_rows"])
    fresh = WORK / f"data-scale-s{full['scale']}-fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    shutil.copy(DataPaths(warm).digest_key, DataPaths(fresh).digest_key)
    args = (str(tonight / "register" / register.name), str(tonight / "rolls"))
    again = child("benchmarks.pipeline_child", *args, str(warm))
    first = child("benchmarks.pipeline_child", *args, str(fresh))
    for name in COMPARED:
        assert_frame_equal(
            pl.read_parquet(Path(again["run_dir"]) / f"{name}.parquet"),
            pl.read_parquet(Path(first["run_dir"]) / f"{name}.parquet"),
        )
    return {
        "register_rows_edited": register_edited,
        "roll_rows_edited": roll_edited,
        "next_night": again,
        "first_night": first,
        "identical": list(COMPARED),
        "ratio": again["wall_seconds"] / first["wall_seconds"],
    }


def _panel(
    runs: list[dict[str, Any]], key: str, unit: str, title: str, x0: float, width: float, height: float
) -> list[str]:
    scales: list[int] = [int(r["scale"]) for r in runs]
    values = {s: [r["pipeline"][key].get(s, 0.0) for r in runs] for s in STAGES}
    biggest = max((v for vs in values.values() for v in vs), default=1.0) or 1.0
    ticks = nice_ticks(biggest)
    top = max(ticks[-1], biggest)
    left, bottom, plot_w, plot_h = x0 + 60, 40 + height, width - 90, height
    parts = [f'<text x="{x0 + width / 2}" y="24" text-anchor="middle" font-weight="bold">{escape(title)}</text>']
    for t in ticks:
        y = bottom - plot_h * t / top
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:,}</text>')
    parts.append(
        f'<text x="{x0 + 14}" y="{40 + height / 2}" transform="rotate(-90 {x0 + 14} {40 + height / 2})" '
        f'text-anchor="middle">{escape(unit)}</text>'
    )
    low, span = math.log(scales[0]), max(math.log(scales[-1]) - math.log(scales[0]), 1e-9)

    def x(scale: int) -> float:  # scales spread by ratio: 1, 5, 10 do not crowd against 50
        return left + plot_w * (math.log(scale) - low) / span

    for s in scales:
        parts.append(f'<text x="{x(s):.1f}" y="{bottom + 18}" text-anchor="middle">scale {s}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{bottom + 34}" text-anchor="middle">scale (log)</text>')
    for stage, colour in zip(STAGES, COLOURS, strict=True):
        points = " ".join(
            f"{x(s):.1f},{bottom - plot_h * v / top:.1f}" for s, v in zip(scales, values[stage], strict=True)
        )
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for s, v in zip(scales, values[stage], strict=True):
            cx, cy = x(s), bottom - plot_h * v / top
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{colour}"/>')
            parts.append(f'<text x="{cx + 5:.1f}" y="{cy - 5:.1f}" font-size="10" fill="{colour}">{v:,.0f}</text>')
    return parts


def chart(runs: list[dict[str, Any]], title: str) -> str:
    """Peak memory and time per stage against scale, two panels side by side, one line per stage."""
    width, height = 460, 300
    parts = [f'<text x="{width}" y="{height + 112}" text-anchor="middle">{escape(title)}</text>']
    parts += _panel(runs, "stage_peaks_mib", "peak resident memory (MiB)", "Peak memory per stage", 0, width, height)
    parts += _panel(runs, "timings", "seconds", "Time per stage", width, width, height)
    for i, (stage, colour) in enumerate(zip(STAGES, COLOURS, strict=True)):
        parts.append(f'<rect x="{120 + i * 140}" y="{height + 80}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{136 + i * 140}" y="{height + 91}">{stage}</text>')
    body = "\n".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{height + 122}" '
        f'font-family="sans-serif" font-size="12" role="img" aria-label="{escape(title)}">\n{body}\n</svg>\n'
    )


def report(runs: list[dict[str, Any]], night: dict[str, Any] | None) -> None:
    """Print per-scale wall and memory per stage, accuracy, and the incremental night."""
    table = Table(title="Time (s) and peak memory (MiB) per stage")
    table.add_column("scale", justify="right")
    table.add_column("register × roll", justify="right")
    for stage in STAGES:
        table.add_column(stage, justify="right")
    table.add_column("whole run", justify="right")
    table.add_column("auto precision / F1 / statuses", justify="right")
    for r in runs:
        p, acc, counts = r["pipeline"], r["accuracy"], r["pipeline"]["counts"]
        cells = [f"{p['timings'][s]:.1f} s · {p['stage_peaks_mib'].get(s, 0):,.0f}" for s in STAGES]
        table.add_row(
            str(r["scale"]),
            f"{counts['register_rows']:,} × {counts['roll_rows']:,}",
            *cells,
            f"{p['wall_seconds']:.1f} s · {p['peak_rss_mib']:,.0f}",
            f"{acc['auto']['precision']:.5f} / {acc['auto']['f1']:.5f} / {acc['statuses']['status_accuracy']:.5f}"
            if acc
            else "—",
        )
    console.print(table)
    if night:
        a, f = night["next_night"], night["first_night"]
        console.print(
            f"night after a night ({night['register_rows_edited']:,} register and {night['roll_rows_edited']:,} roll "
            f"rows edited): {a['wall_seconds']:.1f} s against a first night's {f['wall_seconds']:.1f} s "
            f"= {night['ratio']:.1%} (target ≤ 35 %); {', '.join(night['identical'])} identical"
        )
        for s in STAGES:
            console.print(f"  {s}: {a['timings'][s]:.1f} s against {f['timings'][s]:.1f} s")


def cities_given(parser: argparse.ArgumentParser, given: list[str]) -> dict[int, Path]:
    """`--city SCALE=DIR` values as {scale: folder}, each checked before any scale runs."""
    cities = {}
    for value in given:
        scale, sep, folder = value.partition("=")
        if not sep or not scale.isdigit() or not Path(folder).is_dir():
            parser.error(f"--city {value}: expected SCALE=DIR with DIR a generated city's folder")
        cities[int(scale)] = Path(folder)
    return cities


def main() -> None:
    """Run the scales given, the incremental night, print and draw."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--incremental-scale", type=int, default=5, help="0: no incremental night")
    parser.add_argument(
        "--city",
        action="append",
        default=[],
        metavar="SCALE=DIR",
        help="a city already generated for SCALE (scale 50 takes an hour to generate)",
    )
    args = parser.parse_args()
    cities = cities_given(parser, args.city)
    WORK.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M %Z")
    runs: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []

    def attempt(scale: int) -> dict[str, Any] | None:
        try:
            return full_run(scale, args.seed, cities.get(scale))
        except (SystemExit, Exception) as failure:  # e.g. killed for memory: the other scales still count
            console.print(f"[red]scale {scale}: {failure}[/red]")
            failed.append({"scale": scale, "failure": str(failure)})
            return None

    for scale in args.scales:
        if (run := attempt(scale)) is not None:
            runs.append(run)
        _save(runs, failed, None)  # scale by scale: a later failure loses nothing already measured
    night = None
    if args.incremental_scale:
        base = next((r for r in runs if r["scale"] == args.incremental_scale), None)
        if base is None and args.incremental_scale not in args.scales:
            base = attempt(args.incremental_scale)
        if base is not None:
            night = incremental(base, register_share=0.005, roll_share=0.01)
    report(runs, night)
    if runs:
        CHART.write_text(chart(runs, f"hukou-recon whole run by scale — make bench-scale, {stamp}"), encoding="utf-8")
        console.print(f"chart: {CHART}")
    _save(runs, failed, night)


def _save(runs: list[dict[str, Any]], failed: list[dict[str, Any]], night: dict[str, Any] | None) -> None:
    (WORK / "scaling.json").write_text(
        json.dumps({"runs": runs, "failed": failed, "incremental": night}, indent=1, default=str)
    )


if __name__ == "__main__":
    main()
