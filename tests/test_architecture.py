"""Dependencies point one way: the domain library never pulls in orchestration or web code."""

import subprocess
import sys


def test_domain_packages_import_without_prefect_or_fastapi() -> None:
    code = (
        "import pkgutil, importlib, sys, reconcile, schemas\n"
        "for pkg in (reconcile, schemas):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'prefect', 'fastapi', 'flows', 'review', 'duckdb'})\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
