"""Residents set aside, on disk, for the roll of the community they live in.

The register is written community by community, but a community's roll also
lists people registered in communities written after it. So each resident is
set aside for the community they live in, in memory until a batch is full and
then appended to that community's file; the roll reads its file back whole.
Memory is bounded by the batch, whatever the city's size.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path


class Resident(NamedTuple):
    """Someone a community's roll lists, with the truth of their roll record."""

    order: int
    """Register row for registered people, person id for migrants: the order before the roll is shuffled."""
    pid: int
    name: str
    sex: str
    birth: dt.date
    id18: str
    lives_at: tuple[str, ...] | None
    """None for someone registered in another community: the roll chooses the dwelling."""
    register_row: int | None
    status: str
    other_community_code: str | None
    migrant: bool
    household: str
    """户号 of a registered person (members who moved together share the dwelling); empty for migrants."""


class Spill:
    """Residents per community they live in, flushed to one file per community when `batch` are held."""

    def __init__(self, folder: Path, *, batch: int = 200_000) -> None:
        self.folder = folder
        self.batch = batch
        self.held: dict[int, list[Resident]] = {}
        self.count = 0

    def add(self, community: int, resident: Resident) -> None:
        """Set `resident` aside for the roll of community number `community`."""
        self.held.setdefault(community, []).append(resident)
        self.count += 1
        if self.count >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Append what is held to the communities' files."""
        for community, residents in self.held.items():
            with self.path(community).open("ab") as fh:
                pickle.dump(residents, fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.held.clear()
        self.count = 0

    def path(self, community: int) -> Path:
        """The file of community number `community`."""
        return self.folder / f"{community}.pickle"

    def take(self, community: int) -> list[Resident]:
        """Everyone set aside for community number `community`, in the order they were added; removes its file.

        Call `flush` first: only what is on disk is read.
        """
        path = self.path(community)
        out: list[Resident] = []
        if not path.exists():
            return out
        with path.open("rb") as fh:
            while True:
                try:
                    # Our own file, written moments ago by this process: nothing untrusted is unpickled.
                    out += pickle.load(fh)  # noqa: S301
                except EOFError:
                    break
        path.unlink()
        return out
