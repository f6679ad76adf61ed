"""`make bench`: accuracy and speed on generated cities, beside Splink 5.

For each scale: generate the city with `hukou generate` (kept between runs
while scale, seed and the generator's source are unchanged),
run the whole nightly pipeline in a child process (peak memory is the
child's own), score it against the ground truth. At scale 1 also run Splink
on the same prepared records in another child. Then the same on cities from
`benchmarks.independent_city`, `benchmarks.independent_city_b`, `_c` and `_d` (each written
from the data contract alone, by someone who had read neither `synth/` nor the engine), unless `--no-independent`. Prints everything; record the output in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.evaluate import evaluate_run

WORK = Path(__file__).resolve().parent / "work"
console = Console(width=120)


def child(*args: str) -> dict[str, Any]:
    """Run `python -m ARGS` and return the JSON object its last output line holds."""
    result = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        console.print(result.stderr[-4000:])
        raise SystemExit(
            f"benchmark child failed (exit {result.returncode}; -9 is killed, e.g. for memory): {' '.join(args)}"
        )
    output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return output


@dataclass(frozen=True, slots=True)
class Generator:
    """Who writes a benchmark city: `hukou generate` (`module` None) or a module run as `python -m`."""

    name: str
    label: str
    """How the report names its cities."""
    module: str | None = None
    prefix: str = ""
    """How its cities' and data folders' names begin under `WORK`."""

    def sources(self) -> list[Path]:
        """The files its cities depend on, besides scale and seed."""
        here = Path(__file__).resolve().parent
        if self.module is None:
            return sorted((here.parent / "synth").glob("*.py"))
        return [here / f"{self.module.rsplit('.', 1)[-1]}.py"]

    def command(self, out: Path, scale: int, seed: int) -> list[str]:
        """The command that writes a city of `scale` and `seed` at `out`."""
        head = ["hukou", "generate"] if self.module is None else [sys.executable, "-m", self.module]
        return [*head, str(out), "--scale", str(scale), "--seed", str(seed)]


SYNTH = Generator("synth", "hukou generate")
INDEPENDENT = (
    Generator(
        "independent", "independent city (benchmarks/independent_city.py)", "benchmarks.independent_city", "indep-"
    ),
    Generator(
        "independent-b",
        "second independent city (benchmarks/independent_city_b.py)",
        "benchmarks.independent_city_b",
        "indep-b-",
    ),
    Generator(
        "independent-c",
        "third independent city (benchmarks/independent_city_c.py)",
        "benchmarks.independent_city_c",
        "indep-c-",
    ),
    Generator(
        "independent-d",
        "fourth independent city (benchmarks/independent_city_d.py)",
        "benchmarks.independent_city_d",
        "indep-d-",
    ),
)
"""Cities written from the data contract alone, each by someone who had read neither `synth/` nor the engine."""


def generator_fingerprint(scale: int, seed: int, generator: Generator = SYNTH) -> str:
    """What a generated city depends on: scale, seed and the generator's source."""
    digest = hashlib.sha256(f"{scale}:{seed}:{generator.name}".encode())
    for path in generator.sources():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def city(scale: int, seed: int, generator: Generator = SYNTH) -> tuple[Path, float | None]:
    """The city for (scale, seed) by `generator`, generated unless one made by this very generator is kept."""
    out = WORK / f"city-{generator.prefix}s{scale}-seed{seed}"
    stamp = out / "generated.json"
    fingerprint = generator_fingerprint(scale, seed, generator)
    if stamp.exists() and json.loads(stamp.read_text()).get("fingerprint") == fingerprint:
        return out, None
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(generator.command(out, scale, seed), check=True, capture_output=True)
    seconds = time.perf_counter() - t0
    stamp.write_text(json.dumps({"scale": scale, "seed": seed, "fingerprint": fingerprint, "seconds": seconds}))
    return out, seconds


def bench_scale(scale: int, seed: int, with_splink: bool, generator: Generator = SYNTH) -> dict[str, Any]:
    """Generate (or reuse) one city, run the pipeline and score it; Splink too when `with_splink`."""
    source, generated = city(scale, seed, generator)
    data = WORK / f"data-{generator.prefix}s{scale}"
    shutil.rmtree(data, ignore_errors=True)
    register = next((source / "register").iterdir())
    run = child("benchmarks.pipeline_child", str(register), str(source / "rolls"), str(data))
    result: dict[str, Any] = {
        "scale": scale,
        "city": generator.name,
        "label": generator.label,
        "generate_seconds": generated,
        "pipeline": run,
    }
    result["accuracy"] = evaluate_run(Path(run["run_dir"]), source / "truth")
    if with_splink:
        result["splink"] = child("benchmarks.splink_baseline", run["run_dir"], str(source / "truth"))
    return result


def report(results: list[dict[str, Any]]) -> None:
    """Print one table per benchmarked city: accuracy, speed and memory against their targets."""
    for r in results:
        acc, run = r["accuracy"], r["pipeline"]
        origin = r.get("label", SYNTH.label)
        table = Table(title=f"scale {r['scale']}, {origin}: {acc['true_pairs']:,} true pairs", show_header=True)
        table.add_column("measure")
        table.add_column("hukou-recon", justify="right")
        table.add_column("Splink 5 (DuckDB)", justify="right")
        table.add_column("target", justify="right")
        sp = r.get("splink")
        auto = acc["auto"]
        table.add_row(
            "auto-link precision", f"{auto['precision']:.5f}", f"{sp['precision']:.5f}" if sp else "", "≥ 0.999"
        )
        table.add_row("auto-link recall", f"{auto['recall']:.5f}", f"{sp['recall']:.5f}" if sp else "", "")
        table.add_row("auto-link F1", f"{auto['f1']:.5f}", f"{sp['f1']:.5f}" if sp else "", "≥ 0.995")
        table.add_row("recall incl. review", f"{acc['recall_with_review']:.5f}", "", "≥ 0.998")
        table.add_row("review band / roll rows", f"{acc['review_share_of_roll_rows']:.4%}", "", "≤ 1.5%")
        st = acc["statuses"]
        table.add_row("decided statuses correct", f"{st['status_accuracy']:.5f}", "", "≥ 0.995")
        table.add_row("  other community correct", f"{st['other_community_accuracy']:.5f}", "", "")
        cons = acc["consistent"]
        table.add_row(
            "人户一致 persons, worst community error",
            f"{cons['worst_relative_error']:+.3%}",
            "",
            "within ±1%",
        )
        table.add_row("  communities within ±1%", f"{cons['communities_within_1pct']:.1%}", "", "100%")
        table.add_row("  records flagged address_incomplete", f"{cons['address_incomplete_share']:.3%}", "", "")
        table.add_row("blocking recall (all rules)", f"{acc['blocking_recall']['all rules']:.5f}", "", "")
        link_s = run["timings"]["link"]
        if sp:
            table.add_row("link time (s)", f"{link_s:.1f}", f"{sp['link_seconds']:.1f}", "≤ 1/5 of Splink")
            table.add_row("link time ratio", f"{link_s / sp['link_seconds']:.3f}", "1", "≤ 0.200")
        else:
            table.add_row("link time (s)", f"{link_s:.1f}", "", "")
        for stage, seconds in run["timings"].items():
            table.add_row(f"  stage {stage} (s)", f"{seconds:.1f}", "", "")
        target_wall = "≤ 60 s" if r["scale"] == 1 else "≤ 300 s"
        table.add_row("whole run, ingest → publish (s)", f"{run['wall_seconds']:.1f}", "", target_wall)
        table.add_row(
            "peak memory (MiB)",
            f"{run['peak_rss_mib']:.0f}",
            f"{sp['peak_rss_mib']:.0f}" if sp else "",
            "≤ 8192 at scale 5",
        )
        console.print(table)
        rules = ", ".join(f"{k} {v:.4f}" for k, v in acc["blocking_recall"].items() if k != "all rules")
        console.print(f"blocking recall per rule: {rules}")


def main() -> None:
    """Benchmark the scales given on the command line and print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument(
        "--independent",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also score each scale on the cities of benchmarks/independent_city.py, independent_city_b.py, "
        "independent_city_c.py and independent_city_d.py (each written from the contract alone)",
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    console.print(
        f"hukou-recon benchmark — {time.strftime('%Y-%m-%d %H:%M %Z')} — {platform.node()} "
        f"({platform.machine()}, {_cores()} cores, {_memory_gib():.0f} GiB), Python {platform.python_version()}"
    )
    results = [bench_scale(s, args.seed, with_splink=(s == 1 and not args.no_splink)) for s in args.scales]
    if args.independent:
        results += [bench_scale(s, args.seed, False, generator) for generator in INDEPENDENT for s in args.scales]
    report(results)
    (WORK / "last.json").write_text(json.dumps(results, indent=1, default=str))


def _cores() -> int:
    import os

    return os.cpu_count() or 0


def _memory_gib() -> float:
    try:
        with open("/proc/meminfo") as fh:
            return int(fh.readline().split()[1]) / 1024 / 1024
    except OSError:
        return 0.0


if __name__ == "__main__":
    main()
