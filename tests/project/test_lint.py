"""The linter (ruff, configured in pyproject.toml) finds nothing: the rules hold for
every module of the package, the tests, the benchmarks and the scripts."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_ruff_is_clean() -> None:
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "pvprobe", "tests", "benchmarks", "docs",
                          "packaging"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
