"""The secret that keys every record digest (`reconcile.keys`): 32 random bytes in the data directory.

Made on first use, readable by its owner only (0600). Back it up with the state database:
without it, tonight's keys differ from the ones decisions are stored under, and every decision is orphaned.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

KEY_BYTES = 32


class DigestKeyError(RuntimeError):
    """The key file exists but cannot be trusted: wrong size, or readable by others."""


def load_or_create(path: Path) -> bytes:
    """The digest secret at `path`, made (0600, atomically) if there is none yet."""
    try:
        return load(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process made one first: theirs is the key
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return load(path)


def load(path: Path) -> bytes:
    """The digest secret at `path`, which must exist: for a worker, which must use the key the night was keyed by."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DigestKeyError(f"{path} is open to other users ({stat.filemode(mode)}): chmod 600 it")
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise DigestKeyError(f"{path} holds {len(key)} bytes, not {KEY_BYTES}: restore it from the backup")
    return key
