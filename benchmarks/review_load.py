"""`make bench-review`: the review app at a city's load, with a nightly run publishing in the middle.

On a published city (scale 1 unless `--city`), it starts `hukou serve`, times every page an operator opens one
request at a time (`pages_alone`), and drives the app with locust (`benchmarks/review_locustfile.py`, headless) in
three phases: one operator alone; `--operators` operators of different communities at once; the same while
`hukou run` publishes the next night. Operators work as the pages lead (queue → item → decide → next). Then it
checks every decision: one the app stored must be stored on the records its page showed (else misdirected) and,
if it was made before the night started, be applied to those records by the night; a stale form must be answered
409. Prints requests, errors and p50/p95/p99 per page kind per phase, and the decisions made, landed, stale and
misdirected; writes review_load.json in its work folder (work/review-load unless `--work`).
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import polars as pl
from rich.table import Table

from benchmarks.run import WORK, child, city, console
from schemas.codes import DecisionKind, Outcome, Role, Side
from services import accounts, reader
from services.paths import DataPaths
from services.state import connect

if TYPE_CHECKING:
    import duckdb

LOCUSTFILE = Path(__file__).resolve().parent / "review_locustfile.py"
PASSWORD = "load-test-password-1"  # noqa: S105  a throwaway account in a throwaway data directory
PAGES = ("login", "queue", "item", "decide")


@dataclass(frozen=True, slots=True)
class Phase:
    """One locust run: its name, how many operators, and how long (None: while the nightly run lasts)."""

    name: str
    operators: int
    seconds: float | None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_night(source: Path, data: Path) -> dict[str, Any]:
    """Publish the city into a fresh data directory (in a child process); the run's figures."""
    shutil.rmtree(data, ignore_errors=True)
    register = next((source / "register").iterdir())
    return child("benchmarks.pipeline_child", str(register), str(source / "rolls"), str(data))


def operator_accounts(data: Path, count: int) -> list[dict[str, str]]:
    """One operator account for each of the `count` communities with the most queue items."""
    with reader.published(data) as con:
        busiest = con.execute(
            "SELECT community_code FROM queue GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT ?", [count]
        ).fetchall()
    made = []
    for i, (community,) in enumerate(busiest):
        name = f"load{i:02d}"
        accounts.add_user(DataPaths(data).state, name, PASSWORD, Role.OPERATOR, community)
        made.append({"username": name, "password": PASSWORD, "community": community})
    return made


def _serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--data", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the review app did not start within 60 s")


def _locust(phase: Phase, host: str, out: Path, env: dict[str, str], arrivals: float) -> subprocess.Popen[bytes]:
    seconds = phase.seconds if phase.seconds is not None else 3600
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--only-summary",
            "-u",
            str(phase.operators),
            "-r",
            str(arrivals),
            "--stop-timeout",
            "10",
            "-t",
            f"{seconds:.0f}s",
            "--host",
            host,
            "--csv",
            str(out),
            "--exit-code-on-error",
            "0",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _nightly(source: Path, data: Path, log: Path, nice: int) -> subprocess.Popen[bytes]:
    """`hukou run` on the city, at the CPU priority the deployment's worker has (`Nice=` in its unit)."""
    register = next((source / "register").iterdir())
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "run",
                "--register",
                str(register),
                "--rolls",
                str(source / "rolls"),
                "--data",
                str(data),
            ],
            env={**os.environ, "HUKOU_QUIET_SECONDS": "0"},
            preexec_fn=lambda: os.nice(nice),  # before it starts anything: every process of the run inherits it
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def page_stats(csv_prefix: Path) -> dict[str, dict[str, float]]:
    """Requests, failures and p50/p95/p99 (ms) per page kind, from locust's `_stats.csv`."""
    stats: dict[str, dict[str, float]] = {}
    with Path(f"{csv_prefix}_stats.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["Name"] in PAGES:
                stats[row["Name"]] = {
                    "requests": int(row["Request Count"]),
                    "errors": int(row["Failure Count"]),
                    **{q: _ms(row[f"{q[1:]}%"]) for q in ("p50", "p95", "p99")},
                }
    return stats


def _ms(cell: str) -> float:
    return float(cell) if cell not in ("", "N/A") else float("nan")


@dataclass(frozen=True, slots=True)
class Drive:
    """What every phase shares: the app's address, the work folder, locust's environment and the night's city."""

    host: str
    work: Path
    env: dict[str, str]
    source: Path
    data: Path
    arrivals: float
    """Operators starting per second (the first minutes of a morning, not one instant)."""
    nice: int
    """The nightly run's CPU priority (`nice`), as the deployment's worker unit sets it."""


def run_phase(phase: Phase, drive: Drive) -> dict[str, Any]:
    """One phase: locust for its time, or, for the nightly phase, while `hukou run` lasts (and 5 s more)."""
    started = time.time()
    locust = _locust(phase, drive.host, drive.work / phase.name.replace(" ", "-"), drive.env, drive.arrivals)
    ran: dict[str, Any] = {}
    if phase.seconds is None:
        time.sleep(5 + phase.operators / drive.arrivals)  # every operator at work before the night starts
        ran["night_started"] = time.time()
        nightly = _nightly(drive.source, drive.data, drive.work / "nightly.log", drive.nice)
        ran["night_exit"] = nightly.wait()
        ran["night_finished"] = time.time()
        time.sleep(5)
        locust.send_signal(signal.SIGTERM)
    locust.wait(timeout=(phase.seconds or 0) + 120)
    return {"phase": phase.name, "operators": phase.operators, "seconds": time.time() - started, **ran}


ALONE_PAGES = ("/queue", "/items/{item}", "/progress", "/coverage", "/chart.svg", "/worksheets")
"""Every page an operator opens, timed one request at a time by one operator: `{item}` is an item of theirs."""


def pages_alone(host: str, account: dict[str, str], repeats: int = 10) -> dict[str, float]:
    """Median milliseconds of each of `ALONE_PAGES`, one operator, nothing else running: `repeats` requests each."""
    with httpx.Client(base_url=host, timeout=30) as client:
        form = client.get("/login").text
        token = re.search(r'name="login_csrf" value="([^"]+)"', form)
        client.post(
            "/login",
            data={
                "username": account["username"],
                "password": account["password"],
                "login_csrf": token[1] if token else "",
            },
        )
        queue = client.get(f"/queue?community={account['community']}&state=all").text
        items = re.findall(r'href="/items/(\d+)"', queue)[:repeats] or ["0"]
        medians = {}
        for page in ALONE_PAGES:
            took = []
            for i in range(repeats):
                url = page.format(item=items[i % len(items)])
                started = time.perf_counter()
                answer = client.get(url)
                took.append(1000 * (time.perf_counter() - started))
                if answer.status_code != 200:
                    raise SystemExit(f"{url}: HTTP {answer.status_code}")
            medians[page] = statistics.median(took)
    return medians


def check_decisions(log: Path, data: Path, night: tuple[float, float] | None) -> dict[str, int]:
    """Every decision posted against what the app stored, and against the next night.

    Landed: stored on exactly the records its form carried back (the keys a page renders from the item it shows,
    beside the records). Misdirected: a stored decision of these users on records no form carried (a post a
    phase's end cut off before its answer counts as carried): what an app that stored a stale form on the item's
    records of the new publish would make. Applied next night: of the decisions stored before the night started and
    not decided again before it finished, those the night applied to the records they were made on (`_applied`;
    for a door visit that only says its records are still there). `night`: when it started and finished (epoch
    seconds).
    """
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    answered = {p["post"] for p in lines if p["status"] is not None}
    posted = [p for p in lines if p["status"] is not None]
    # Sent when a phase ended and never answered: the app may have stored them; they showed their records too.
    cut_off = [p for p in lines if p["status"] is None and p["post"] not in answered]
    stored_posts = [p for p in posted if p["status"] == 303]

    def key(user: str, kind: str, register_key: str | None, roll_key: str | None) -> tuple[str, str, str, str]:
        return user, kind, register_key or "", roll_key or ""

    shown = collections.Counter(
        key(p["user"], p["kind"], p["shown"]["register_key"], p["shown"]["roll_key"]) for p in stored_posts
    )
    with connect(DataPaths(data).state) as conn:
        rows = conn.execute(
            """SELECT id, username, kind, register_key, roll_key, decided_at, register_fingerprint, roll_fingerprint,
                      supersedes
               FROM decisions WHERE username LIKE 'load%'"""
        ).fetchall()
    stored = collections.Counter(key(*row[1:5]) for row in rows)
    might_be = collections.Counter(
        key(p["user"], p["kind"], p["shown"]["register_key"], p["shown"]["roll_key"]) for p in cut_off
    )
    started, finished = (dt.datetime.fromtimestamp(t, dt.UTC) for t in night or (0, 0))
    # Decided again while the night ran: whether the night read the first or the second is a race, not a fault.
    redecided = {row[8] for row in rows if row[8] is not None and dt.datetime.fromisoformat(row[5]) < finished}
    before = [row for row in rows if dt.datetime.fromisoformat(row[5]) < started and row[0] not in redecided]
    with reader.published(data) as con:
        run = reader.run_id(con)
        outcomes = pl.read_parquet(DataPaths(data).runs / run / "pair_decisions.parquet")
        pairs = set(outcomes.filter(pl.col("outcome") == Outcome.APPLIED)["decision_id"].to_list())
        applied = sum(_applied(con, row, pairs) for row in before)
    return {
        "posted": len(posted),
        "stored": len(stored_posts),
        "landed": sum((shown & stored).values()),
        "lost": sum((shown - stored).values()),
        "misdirected": sum((stored - shown - might_be).values()),
        "cut_off_by_a_phase_end": len(cut_off),
        "stale_409": sum(p["status"] == 409 for p in posted),
        "other_answers": sum(p["status"] not in (303, 409) for p in posted),
        "stored_before_night": len(before),
        "applied_next_night": applied,
    }


def _applied(con: duckdb.DuckDBPyConnection, decision: tuple[Any, ...], pairs: set[int]) -> bool:
    """Whether the next night applied one decision (id, user, kind, register key, roll key, when, fingerprints).

    A door visit changes no link or status: its records must be there with the values it was made on (whether its
    item is still in the queue depends on other decisions). A decision on a pair is among the night's applied pair
    decisions; one on a lone record is that record's applied decision in the night's statuses.
    """
    ident, _, kind, register_key, roll_key, _, register_fingerprint, roll_fingerprint, _ = decision
    if kind == DecisionKind.DOOR_VISIT:  # its records there with the values it was made on
        return all(
            bool(
                con.execute(
                    f"SELECT count(*) FROM {reader.record_table(side)} WHERE record_key = ? AND fingerprint = ?",  # noqa: S608  names from services.reader
                    [key, fingerprint],
                ).fetchone()[0]  # type: ignore[index]
            )
            for side, key, fingerprint in (
                (Side.REGISTER, register_key, register_fingerprint),
                (Side.ROLL, roll_key, roll_fingerprint),
            )
            if key
        )
    if register_key and roll_key:
        return int(ident) in pairs
    side, key = (Side.REGISTER, register_key) if register_key else (Side.ROLL, roll_key)
    row = con.execute(
        f"""SELECT count(*) FROM {reader.record_table(side)} x
            JOIN {reader.RunTable.RECORD_STATUS.qualified} s ON s.side = ? AND s.idx = x.idx
            WHERE x.record_key = ? AND s.decision = ? AND s.decision_outcome = ?""",  # noqa: S608  names from services.reader
        [side.value, key, kind, Outcome.APPLIED.value],
    ).fetchone()
    return bool(row and row[0])


def report(alone: dict[str, float], phases: list[dict[str, Any]], decisions: dict[str, int]) -> None:
    """Print each page's median alone, the per-page figures of each phase and the decisions' fate."""
    console.print("one operator alone, median ms: " + ", ".join(f"{page} {ms:.0f}" for page, ms in alone.items()))
    table = Table(title="review app under load (ms)")
    for column in ("phase", "page", "requests", "errors", "p50", "p95", "p99"):
        table.add_column(column, justify="left" if column in ("phase", "page") else "right")
    for phase in phases:
        for page, s in phase["pages"].items():
            table.add_row(
                phase["phase"],
                page,
                f"{s['requests']:,}",
                str(s["errors"]),
                *(f"{s[q]:.0f}" for q in ("p50", "p95", "p99")),
            )
    console.print(table)
    console.print(decisions)


def main() -> None:
    """Publish a city, serve it, drive it in three phases with a nightly run in the last; check every decision."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", type=Path, help="a city made by `hukou generate` (default: scale 1, seed 0)")
    parser.add_argument("--operators", type=int, default=20)
    parser.add_argument("--alone-seconds", type=float, default=30)
    parser.add_argument("--together-seconds", type=float, default=60)
    parser.add_argument("--work", type=Path, default=WORK / "review-load")
    parser.add_argument("--arrivals", type=float, default=2, help="operators starting per second")
    parser.add_argument("--night-nice", type=int, default=10, help="the nightly run's nice (deploy/: Nice=10)")
    args = parser.parse_args()
    source = args.city or city(1, 0)[0]
    work = args.work.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = work / "data"
    console.print(f"publishing the first night of {source} …")
    first_night(source, data)
    accounts_file = work / "accounts.json"
    accounts_file.write_text(json.dumps(operator_accounts(data, args.operators)), encoding="utf-8")
    decisions_log = work / "decisions.jsonl"
    env = {**os.environ, "HUKOU_LOAD_ACCOUNTS": str(accounts_file), "HUKOU_LOAD_DECISIONS": str(decisions_log)}
    port = _free_port()
    server = _serve(data, port)
    phases = [
        Phase("one operator", 1, args.alone_seconds),
        Phase(f"{args.operators} operators", args.operators, args.together_seconds),
        Phase(f"{args.operators} operators, nightly publishing", args.operators, None),
    ]
    alone = pages_alone(f"http://127.0.0.1:{port}", json.loads(accounts_file.read_text())[-1])
    drive = Drive(f"http://127.0.0.1:{port}", work, env, source, data, args.arrivals, args.night_nice)
    done = []
    try:
        for phase in phases:
            console.print(f"phase: {phase.name} …")
            ran = run_phase(phase, drive)
            ran["pages"] = page_stats(work / phase.name.replace(" ", "-"))
            done.append(ran)
    finally:
        server.terminate()
        server.wait(timeout=30)
    decisions = check_decisions(decisions_log, data, (done[-1]["night_started"], done[-1]["night_finished"]))
    (work / "review_load.json").write_text(
        json.dumps({"pages_alone_ms": alone, "phases": done, "decisions": decisions}, indent=1)
    )
    report(alone, done, decisions)


if __name__ == "__main__":
    main()
