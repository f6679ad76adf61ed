"""The data directory's layout: one place that knows where each file lives."""

from __future__ import annotations

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
    def runs(self) -> Path:
        return self.root / "runs"

    def run(self, run_id: str) -> Path:
        return self.runs / run_id
