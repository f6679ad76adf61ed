"""The data directory's layout: one place that knows where each file lives."""

from __future__ import annotations

import hashlib
from pathlib import Path


class DataPaths:
    """The data directory's layout."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def published(self) -> Path:
        """The DuckDB database readers open read-only."""
        return self.root / "hukou.duckdb"

    @property
    def state(self) -> Path:
        """Operator state and run history (SQLite, WAL)."""
        return self.root / "state.sqlite"

    @property
    def digest_key(self) -> Path:
        """The secret keying record digests (`services.digest_key`, 0600); back it up with the state."""
        return self.root / "digest.key"

    @property
    def runs(self) -> Path:
        """The directory holding one directory per run."""
        return self.root / "runs"

    @property
    def cache(self) -> Path:
        """What one night keeps for the next (normalised rows: `flows.normalised_cache`)."""
        return self.root / "cache"

    def run(self, run_id: str) -> Path:
        """The directory of run `run_id`."""
        return self.runs / run_id


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file (inputs in the run record, exports in their manifest), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
