"""A digest of the code a cached result was made by: what a night's caches are keyed by besides their inputs.

A cache made by other code (another version of this project, of a library it computes with, or of Python) is
never read, so a change of code can only make a night slower, never wrong.
"""

from __future__ import annotations

import hashlib
import sys
import uuid
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import ModuleType


def code_version(
    *, modules: Iterable[ModuleType] = (), packages: Iterable[ModuleType] = (), libraries: Iterable[str] = ()
) -> str:
    """16 hex digits naming the source of `modules` and of every module of `packages`, with the libraries' versions.

    Python's version is always part of it.

    >>> import json, reconcile
    >>> code_version(modules=[json], libraries=["polars"]) == code_version(modules=[json], libraries=["polars"])
    True
    >>> code_version(packages=[reconcile]) == code_version(packages=[reconcile], libraries=["polars"])
    False
    """
    digest = hashlib.sha256(f"python={sys.version};".encode())
    files = [Path(m.__file__ or "") for m in modules]
    for package in packages:
        files += sorted(Path(package.__file__ or "").parent.glob("*.py"))
    for path in files:
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        except OSError:  # not read from a source file: a version of its own, so nothing is ever reused
            digest.update(uuid.uuid4().bytes)
    for name in libraries:
        try:
            digest.update(f"{name}={metadata.version(name)};".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=none;".encode())
    return digest.hexdigest()[:16]
