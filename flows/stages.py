"""The nightly stages as plain functions over Parquet files in a run directory.

Each stage reads what the previous one wrote and returns counts only (no
names or ID numbers), so the Prefect tasks that wrap them can log and pass
results freely. Run directories are immutable once published.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import polars as pl

from flows import progress
from flows.io.roll_cache import RollCache
from flows.io.sources import FileError, RawTable, read_table, table_to_parquet
from reconcile.decisions import pair_decisions, rekeyed
from reconcile.ditto import FROM_ABOVE, addresses_from_above
from reconcile.dwelling import PARTS
from reconcile.linker import LinkSettings, link
from reconcile.units import IN_TURN, Units
from schemas.codes import DecidedBy, Outcome, Side
from schemas.inputs import FILE_COMMUNITY, REGISTER, ROLL
from schemas.records import QUARANTINE_SCHEMA, malformed_quarantine
from services.decisions import active_decisions, rekey_decisions
from services.paths import sha256_file

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

ROLL_SUFFIXES = (".xlsx", ".xlsm", ".csv")
LINK_COLUMNS = [
    "idx",
    "source_file",
    "source_sheet",
    "source_row",
    "community_code",
    "name",
    "name_py",
    "name_shape",
    "surname_py",
    "id18",
    "id_clean",
    "id_head",
    "birth",
    "sex",
    "flat",
    *PARTS,
]
"""What the link stage reads of prepared records (both sides); the register adds active, former_name, household_key.
The operators' decisions are matched to records by key and fingerprint from scans of the files: linking never
reads those (nor the records' dwelling)."""
_CODE_PREFIX = re.compile(FILE_COMMUNITY)


class RegisterUnreadable(RuntimeError):
    """The police extract cannot be read: the run stops and the published results stay."""


class RegisterNotReady(RegisterUnreadable):
    """The police extract is still being copied: unlike a missing or broken file, waiting may let it pass."""


@dataclass(slots=True)
class FileReport:
    """What happened to one input file (no record values)."""

    side: Side
    file: str
    size: int
    sha256: str
    status: str = "ok"
    problem: str | None = None
    message: str | None = None
    rows: int = 0
    """Records read (data rows that are neither blank nor footers)."""
    blank_rows: int = 0
    footer_rows: int = 0
    malformed_rows: int = 0
    encoding: str | None = None
    community_code: str | None = None
    community_name: str | None = None
    sheets: list[dict[str, Any]] = field(default_factory=list)
    """A workbook's sheets: name, whether read, why not, records, blank and footer rows (row numbers)."""
    rows_in: int = 0
    """Rows taken in below the header: rows + malformed + blank + footer (+ rows of sheets set aside as copies)."""
    duplicate_headers: list[str] = field(default_factory=list)
    """Headers written twice in a CSV (the first column is read; a workbook's are in its sheets)."""


def skip_reason(path: Path, *, quiet_seconds: float, now: float | None = None) -> tuple[str, str] | None:
    """Why an input file is not read, as (problem, message), or None to read it.

    Excel's ``~$`` lock files and hidden files are never inputs; a file modified less
    than `quiet_seconds` ago may still be being copied (0 turns that check off).
    """
    if path.name.startswith("~$"):
        return "lock_file", f"{path.name}: Excel lock file (the workbook is open somewhere), skipped"
    if path.name.startswith("."):
        return "hidden", f"{path.name}: hidden file, skipped"
    if quiet_seconds > 0:
        age = (time.time() if now is None else now) - path.stat().st_mtime
        if age < quiet_seconds:
            return "still_copying", (
                f"{path.name}: modified {max(age, 0):.0f} s ago, within the {quiet_seconds:g} s quiet period "
                "(still being copied?), skipped"
            )
    return None


def _skipped(side: Side, path: Path, problem: str, message: str) -> FileReport:
    code, name = _file_community(path)
    return FileReport(
        side,
        path.name,
        path.stat().st_size,
        "",
        status="skipped",
        problem=problem,
        message=message,
        community_code=code,
        community_name=name,
    )


def resolve_register(path: Path, *, quiet_seconds: float = 0) -> tuple[Path, list[FileReport]]:
    """The register file itself, or the newest .csv/.xlsx in a drop directory, and the files skipped there.

    A named file modified within the quiet period raises `RegisterUnreadable`; in a drop
    directory, lock, hidden and still-copying files are skipped (and reported).
    """
    if not path.is_dir():
        reason = skip_reason(path, quiet_seconds=quiet_seconds) if path.exists() else None
        if reason and reason[0] == "still_copying":
            raise RegisterNotReady(reason[1].removesuffix(", skipped"))
        return path, []
    skipped: list[FileReport] = []
    candidates: list[Path] = []
    now = time.time()
    for p in sorted(path.iterdir()):
        if not (p.is_file() and p.suffix.lower() in ROLL_SUFFIXES):
            continue
        if reason := skip_reason(p, quiet_seconds=quiet_seconds, now=now):
            skipped.append(_skipped(Side.REGISTER, p, *reason))
        else:
            candidates.append(p)
    if not candidates:
        why = "".join(f"; {r.message}" for r in skipped)
        copying = any(r.problem == "still_copying" for r in skipped)
        raise (RegisterNotReady if copying else RegisterUnreadable)(
            f"{path}: no .csv or .xlsx register file ready in this directory{why}"
        )
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name)), skipped


def roll_files(rolls: Path, *, quiet_seconds: float = 0) -> tuple[list[Path], list[FileReport]]:
    """The files of the rolls directory to read, sorted, and those skipped (`skip_reason`)."""
    files: list[Path] = []
    skipped: list[FileReport] = []
    now = time.time()
    for path in sorted(p for p in rolls.iterdir() if p.is_file()):
        if reason := skip_reason(path, quiet_seconds=quiet_seconds, now=now):
            skipped.append(_skipped(Side.ROLL, path, *reason))
        else:
            files.append(path)
    return files, skipped


def _file_community(path: Path) -> tuple[str | None, str | None]:
    match = _CODE_PREFIX.match(path.stem)
    if not match:
        return None, None
    return match.group(1), match.group(2)


_ROLL_READERS = 2
"""Roll files read at a time (`ingest`)."""

_StatKey = tuple[int, int]
"""A file's size and modification time (ns): a roll read ahead is used only if they did not change since."""


class _Read(NamedTuple):
    """What reading one roll file gave."""

    stat: _StatKey
    sha256: str
    table: RawTable | FileError | None
    """Its rows, the `FileError` it was refused with, or None for a type not read."""
    reused: bool = False
    """Taken from the cache (`flows.io.roll_cache`), not parsed."""


def _read_roll(path: Path, cache: RollCache | None = None) -> _Read:
    """Read a roll file, or take it from `cache` when it holds this very file (name and content).

    A file parsed is kept in `cache` if its content did not change while it was read.
    """
    stat = path.stat()
    key = (stat.st_size, stat.st_mtime_ns)
    sha256 = sha256_file(path)
    if path.suffix.lower() not in ROLL_SUFFIXES:
        return _Read(key, sha256, None)
    if cache is not None and (known := cache.get(path.name, sha256)) is not None:
        return _Read(key, sha256, known, reused=True)
    try:
        table = read_table(path, ROLL)
    except FileError as exc:
        return _Read(key, sha256, exc)
    if cache is not None and sha256_file(path) == sha256:  # else the rows read may be of other content
        cache.put(path.name, sha256, table)
    return _Read(key, sha256, table)


def _read_ahead(
    pool: ThreadPoolExecutor, rolls: Path, quiet_seconds: float, cache: RollCache | None
) -> dict[Path, Future[_Read]]:
    """Start reading the roll files in `pool` while the register is read: what `roll_files` lists now.

    The files are listed again once the register is read (`ingest`), as if nothing was read
    ahead: a file no longer listed is left, one that changed since is read again.
    """
    try:
        files, _ = roll_files(rolls, quiet_seconds=quiet_seconds)
    except OSError:  # the listing after the register says what is wrong
        return {}
    return {path: pool.submit(_read_roll, path, cache) for path in files}


def _ingest_register(register: Path, skipped: list[FileReport], out: Path) -> tuple[FileReport, pl.DataFrame]:
    """Copy the register into raw_register.parquet: its report and its malformed rows (`ingest`).

    A register that cannot be read is reported in files.json (with the files skipped) and raises `RegisterUnreadable`.
    """
    report = FileReport(Side.REGISTER, register.name, register.stat().st_size if register.exists() else 0, "")
    if register.exists():
        report.sha256 = sha256_file(register)
    try:
        copied = table_to_parquet(register, REGISTER, out / "raw_register.parquet")
    except FileError as exc:
        report.status, report.problem, report.message = "error", exc.problem.value, str(exc)
        (out / "files.json").write_text(
            json.dumps([asdict(r) for r in [report, *skipped]], ensure_ascii=False, indent=1)
        )
        raise RegisterUnreadable(str(exc)) from exc
    report.rows, report.blank_rows, report.encoding = copied.rows, copied.blank_rows, copied.encoding
    report.malformed_rows = len(copied.malformed)
    report.sheets = [asdict(sheet) for sheet in copied.sheets]
    report.footer_rows = copied.footer_rows
    report.rows_in, report.duplicate_headers = copied.rows_in, list(copied.duplicate_headers)
    return report, malformed_quarantine(Side.REGISTER, copied.file, copied.malformed)


def ingest(
    register: Path, rolls: Path, out: Path, *, quiet_seconds: float = 0, cache: Path | None = None
) -> dict[str, Any]:
    """Read every input file into raw Parquet (all strings, with lineage).

    `register` may be a drop directory: its newest file is read. Writes
    raw_register.parquet, raw_rolls.parquet, malformed.parquet and files.json. A roll that cannot be read is reported and skipped; a register
    that cannot be read raises `RegisterUnreadable`. Lock and hidden files, and files modified
    less than `quiet_seconds` ago, are skipped and reported with status ``skipped``.
    Roll files are read in threads (`_ROLL_READERS`) from the start, while the register is read (`_read_ahead`).
    `cache`: the data directory's cache folder; a roll file handed in again unchanged is taken from it
    (`flows.io.roll_cache`), and it keeps tonight's files only.
    """
    out.mkdir(parents=True, exist_ok=True)
    kept = RollCache.within(cache) if cache is not None else None
    register, skipped = resolve_register(register, quiet_seconds=quiet_seconds)
    reports: list[FileReport] = []
    malformed: list[pl.DataFrame] = []
    with ThreadPoolExecutor(_ROLL_READERS) as pool:
        ahead = _read_ahead(pool, rolls, quiet_seconds, kept)
        try:
            with progress.stage("读取户籍数据 register", 1):
                report, register_malformed = _ingest_register(register, skipped, out)
                malformed.append(register_malformed)
                reports.append(report)
                progress.advance("读取户籍数据 register")
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise

        reports += skipped
        files, skipped = roll_files(rolls, quiet_seconds=quiet_seconds)
        reports += skipped
        frames: list[pl.DataFrame] = []
        handed_in: list[tuple[str, str]] = []
        reused = 0
        with progress.stage("读取社区登记表 rolls", len(files)):
            for path in files:
                read = _read_roll(path, kept) if path not in ahead else ahead.pop(path).result()
                stat = path.stat()
                if read.stat != (stat.st_size, stat.st_mtime_ns):  # changed since it was read ahead
                    read = _read_roll(path, kept)
                sha256, table = read.sha256, read.table
                handed_in.append((path.name, sha256))
                reused += read.reused
                code, name = _file_community(path)
                report = FileReport(
                    Side.ROLL, path.name, stat.st_size, sha256, community_code=code, community_name=name
                )
                reports.append(report)
                progress.advance("读取社区登记表 rolls")
                if table is None:
                    report.status, report.problem = "error", "unsupported"
                    report.message = f"{path.name}: unsupported file type (expected .xlsx or .csv)"
                    continue
                if isinstance(table, FileError):
                    report.status, report.problem, report.message = "error", table.problem.value, str(table)
                    continue
                report.rows, report.blank_rows, report.encoding = table.frame.height, table.blank_rows, table.encoding
                report.malformed_rows = len(table.malformed)
                report.sheets = [asdict(sheet) for sheet in table.sheets]
                report.footer_rows = table.footer_rows
                report.rows_in, report.duplicate_headers = table.rows_in, list(table.duplicate_headers)
                malformed.append(malformed_quarantine(Side.ROLL, table.file, table.malformed))
                frames.append(
                    addresses_from_above(table.frame).with_columns(
                        pl.lit(code, dtype=pl.String).alias("file_community"),
                        pl.lit(name, dtype=pl.String).alias("file_community_name"),
                    )
                )
        for left in ahead.values():  # read ahead, no longer listed
            left.cancel()
    if kept is not None:
        kept.keep_only(handed_in)
    rolls_frame = (
        pl.concat(frames, how="diagonal_relaxed")
        if frames
        else pl.DataFrame(
            schema={c: pl.String for c in ROLL.internal_names}
            | {"source_file": pl.String, "source_sheet": pl.String, "source_row": pl.Int64, FROM_ABOVE: pl.Boolean}
        )
    )
    rolls_frame.write_parquet(out / "raw_rolls.parquet")
    pl.concat([pl.DataFrame(schema=QUARANTINE_SCHEMA), *malformed]).write_parquet(out / "malformed.parquet")
    (out / "files.json").write_text(json.dumps([asdict(r) for r in reports], ensure_ascii=False, indent=1))
    return {
        "register_rows": reports[0].rows,
        "roll_files": len(files),
        "roll_files_unreadable": sum(r.side == Side.ROLL and r.status == "error" for r in reports),
        "roll_files_skipped": sum(r.side == Side.ROLL and r.status == "skipped" for r in reports),
        "roll_rows": rolls_frame.height,
        "malformed_rows": sum(r.malformed_rows for r in reports),
        "roll_files_reused": reused,
    }


def standing_decisions(run: Path, state: Path | None) -> None:
    """Write the operators' standing decisions from the `state` database to decisions.parquet, for `link_stage`.

    Decisions stored under the earlier, unkeyed record keys are moved to tonight's keys first. Called where the
    state database lives (the flow's own process): SQLite is not to be shared over a network filesystem, so a
    cluster's workers read only the file.
    """
    scans = pl.scan_parquet(run / "register.parquet"), pl.scan_parquet(run / "roll.parquet")
    standing = active_decisions(state)
    moved = rekeyed(standing, *scans)
    if state is not None and not moved.is_empty():
        rekey_decisions(state, moved)
        standing = active_decisions(state)
    standing.write_parquet(run / "decisions.parquet")


def link_stage(
    run: Path, settings: LinkSettings, *, on_step: Callable[[str], None] | None = None, units: Units = IN_TURN
) -> dict[str, Any]:
    """Link the two sides under the operators' standing decisions (decisions.parquet: `standing_decisions`).

    Writes links.parquet, candidates.parquet, duplicates.parquet, pair_decisions.parquet and model.json.
    `on_step`: told each step of `reconcile.linker.link` as it begins; `units`: who runs its units
    (`reconcile.units`; on a cluster, `flows.link_units`).
    """
    with progress.stage("匹配 link", 1):
        scans = pl.scan_parquet(run / "register.parquet"), pl.scan_parquet(run / "roll.parquet")
        decisions, outcomes = pair_decisions(pl.read_parquet(run / "decisions.parquet"), *scans)
        outcomes.write_parquet(run / "pair_decisions.parquet")
        register = pl.read_parquet(
            run / "register.parquet", columns=[*LINK_COLUMNS, "active", "former_name", "household_key"]
        )
        roll = pl.read_parquet(run / "roll.parquet", columns=LINK_COLUMNS)
        # Consumed: `link` takes the columns out of these frames as it copies the rows it links.
        result = link(
            register, roll, settings=settings, decisions=decisions, consume_inputs=True, on_step=on_step, units=units
        )
        result.links.write_parquet(run / "links.parquet")
        result.candidates.write_parquet(run / "candidates.parquet")
        result.duplicates().write_parquet(run / "duplicates.parquet")
        (run / "model.json").write_text(json.dumps(result.record(), indent=1))
        progress.advance("匹配 link")
    decided = result.links["decided_by"].value_counts()
    by = dict(zip(decided["decided_by"].to_list(), decided["count"].to_list(), strict=True))
    return {
        "decisions_applied": int((outcomes["outcome"] == Outcome.APPLIED.value).sum()),
        "decisions_set_aside": int((outcomes["outcome"] != Outcome.APPLIED.value).sum()),
        "candidate_pairs": result.candidate_count,
        "links_auto": int(by.get(DecidedBy.AUTO.value, 0)),
        "links_review": int(by.get(DecidedBy.REVIEW.value, 0)),
        "links_operator": int(by.get(DecidedBy.OPERATOR.value, 0)),
        "auto_threshold": result.bands.auto,
        "review_threshold": result.bands.review,
    }
