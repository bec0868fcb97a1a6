"""The Python version pyproject.toml declares is the one checked here (issue 12, item 7b).

``requires-python`` said 3.9 while ``@dataclass(slots=True)`` (3.10) kept
``pvprobe.core`` from importing on 3.9. Two checks, both on the declared minimum:

- every module of the package parses with that version's grammar
  (``ast.parse(feature_version=...)``; always runs);
- that interpreter itself (pyenv's, present here and on CI; skipped elsewhere)
  compiles every module and imports every ``pvprobe.core`` module. Grammar
  alone cannot see library API (``dataclass(slots=True)`` is plain syntax), so
  the import runs the modules' bodies. numpy, the one third-party package the
  core uses, may be missing there: a stand-in whose every attribute is a dummy
  lets the bodies run (only the import is checked, not behaviour).
"""

from __future__ import annotations

import ast
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

PKG = ROOT / "pvprobe"


def declared_minimum() -> tuple[int, int]:
    """``requires-python = ">=X.Y"`` from pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text()
    m = re.search(r'^requires-python\s*=\s*">=\s*(\d+)\.(\d+)"', text, re.M)
    assert m, "requires-python must be a plain '>=X.Y'"
    return int(m.group(1)), int(m.group(2))


def interpreter(version: tuple[int, int]) -> str | None:
    """A python of exactly ``version``: pyenv's, else on PATH."""
    found = sorted(glob.glob(f"/root/.pyenv/versions/{version[0]}.{version[1]}.*/bin/python"))
    return found[-1] if found else shutil.which(f"python{version[0]}.{version[1]}")


def test_readme_states_the_declared_minimum():
    major, minor = declared_minimum()
    readme = (ROOT / "README.md").read_text()
    assert f"Python {major}.{minor}+" in readme
    assert not re.search(r"Python 3\.(\d+)\+", readme.replace(f"Python {major}.{minor}+", "")), \
        "README names another minimum Python"


def test_every_module_parses_with_the_declared_minimum_grammar():
    version = declared_minimum()
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        try:
            ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=version)
        except SyntaxError as exc:
            bad.append(f"{path.relative_to(ROOT)}:{exc.lineno}: {exc.msg}")
    assert not bad, bad


NUMPY_STANDIN = '''
class _Any:
    def __init__(self, *a, **k): pass
    def __call__(self, *a, **k): return _Any()
    def __getattr__(self, n): return _Any()
    def __getitem__(self, k): return _Any()
    def __iter__(self): return iter(())
    def __bool__(self): return False
    def __index__(self): return 0
    def __int__(self): return 0
    def __float__(self): return 0.0
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = lambda self, *a: self
    __or__ = __ror__ = __and__ = __neg__ = lambda self, *a: self
    __lt__ = __le__ = __gt__ = __ge__ = lambda self, o: False
def __getattr__(name): return _Any
'''

CHECK = '''
import importlib, pathlib, sys, traceback
pkg = pathlib.Path(sys.argv[1])
bad = []
for path in sorted(pkg.rglob("*.py")):
    try:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    except SyntaxError as exc:
        bad.append(f"compile {path}: {exc}")
for path in sorted((pkg / "core").glob("*.py")):
    name = "pvprobe.core." + path.stem if path.stem != "__init__" else "pvprobe.core"
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "pvprobe":
            bad.append(f"import {name}: {exc}")
        else:
            print(f"skipped {name}: needs {exc.name}")
    except Exception:
        bad.append(f"import {name}: " + traceback.format_exc(limit=2))
print("\\n".join(bad))
sys.exit(1 if bad else 0)
'''


def test_core_imports_on_the_declared_minimum_python(tmp_path):
    version = declared_minimum()
    python = interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version[0]}.{version[1]} on this machine")
    has_numpy = subprocess.run([python, "-c", "import numpy"], capture_output=True, timeout=60).returncode == 0
    paths = [str(ROOT)]
    if not has_numpy:
        (tmp_path / "numpy").mkdir()
        (tmp_path / "numpy" / "__init__.py").write_text(NUMPY_STANDIN)
        paths.append(str(tmp_path))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([python, "-c", CHECK, str(PKG)], capture_output=True, text=True,
                         timeout=120, env=env, cwd=str(tmp_path))
    assert out.returncode == 0, f"Python {version}: {out.stdout}{out.stderr}"
    assert sys.version_info[:2] >= version
