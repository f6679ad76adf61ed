"""One run at a time per data directory: an exclusive `flock` on DATA/run.lock.

The kernel releases the lock when its holder dies, however it dies, so a lock
is never stale; what a dead holder leaves behind is its pid and run id in the
file and its run still `running` in the run history (see `RunLock.previous`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType


class RunLocked(RuntimeError):
    """Another run holds the data directory: this one is refused before it starts."""


def _holder(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


class RunLock:
    """The run lock of one data directory, held by this process for run `run_id`.

    Use as a context manager: entering raises `RunLocked` (naming the holder's
    pid and run id) if another process holds it; leaving empties and releases it.
    """

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self.previous: dict[str, Any] = {}
        """What the last holder wrote, if it died holding the lock (pid, run_id); empty after a clean release."""
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
            os.close(fd)
            raise RunLocked(
                f"another run is in progress in {self.path.parent}: pid {holder.get('pid', '?')}, "
                f"run {holder.get('run_id', '?')} (lock {self.path}); this run was not started"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.previous = _holder(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "run_id": self.run_id}).encode(), 0)
        os.fsync(fd)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
