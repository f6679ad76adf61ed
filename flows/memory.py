"""Peak resident memory per stage, from Linux's /proc (elsewhere: not measured).

The kernel keeps a high-water mark of the process's resident set (VmHWM); writing
5 to /proc/self/clear_refs resets it, so each stage's peak is its own.
"""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak() -> None:
    """Start a new high-water mark (no-op where /proc does not allow it)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return


def peak_mib() -> float | None:
    """The resident high-water mark since the last `reset_peak`, in MiB; None where /proc has none."""
    return _status_mib("VmHWM:")


def resident_mib() -> float | None:
    """The resident set now, in MiB (what a step starts from); None where /proc has none."""
    return _status_mib("VmRSS:")


def _status_mib(field: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
