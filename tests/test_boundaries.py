"""The architecture's import contract (as napari's import-linter contract):
the core imports neither Qt nor epics; only pvprobe.ca imports epics; the
protocol-neutral engine (pvprobe.engine) imports neither Qt, nor epics, nor the
CA package, nor ctypes, and nobody outside pvprobe.ca reaches into libca; the
demo IOC never imports epics (pyepics and the IOC libraries collide in one
process); the CLI twins start without Qt."""

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "pvprobe"
QT = ("PyQt5", "pyqtgraph", "qtpy", "PySide2", "PySide6")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _full_imports(path: Path) -> set[str]:
    """Imported modules as absolute dotted names (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(("pvprobe",) + path.relative_to(PKG).parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def _modules(sub: str = ""):
    return sorted((PKG / sub).rglob("*.py"))


def test_core_imports_neither_qt_nor_epics():
    for path in _modules("core"):
        bad = _imports(path) & set(QT + ("epics",))
        assert not bad, f"{path.relative_to(PKG)} imports {bad}"


def test_only_the_engine_imports_epics():
    for path in _modules():
        rel = path.relative_to(PKG)
        if rel.parts[0] == "ca":
            continue
        assert "epics" not in _imports(path), f"{rel} imports epics outside pvprobe/ca"


def test_protocol_neutral_engine_knows_no_protocol():
    """pvprobe/engine: no Qt, no epics, no ctypes, nothing of pvprobe.ca."""
    paths = _modules("engine")
    assert paths, "pvprobe/engine is missing"
    for path in paths:
        mods = _full_imports(path)
        bad = {m for m in mods if m.split(".")[0] in QT + ("epics", "ctypes")
               or m == "pvprobe.ca" or m.startswith("pvprobe.ca.")}
        assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


def test_nobody_outside_pvprobe_ca_reaches_into_libca():
    for path in _modules():
        rel = path.relative_to(PKG)
        if rel.parts[0] == "ca":
            continue
        assert "_libca" not in path.read_text(), f"{rel} reads pvprobe.ca.lowlevel._libca"


def test_engine_and_demo_ioc_import_no_qt():
    for sub in ("ca", "engine", "demo"):
        for path in _modules(sub):
            bad = _imports(path) & set(QT)
            assert not bad, f"{path.relative_to(PKG)} imports {bad}"


def test_cli_twins_start_without_qt_or_epics_loaded():
    code = ("import importlib, pkgutil, sys, pvprobe.cli, pvprobe.core.format, pvprobe.core.pvnames;"
            "[importlib.import_module('pvprobe.cli.' + m.name) for m in pkgutil.iter_modules(pvprobe.cli.__path__)];"
            "print(sorted(m for m in ('PyQt5','pyqtgraph','epics','softioc') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _relative_imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every relative ``from . import`` in ``path``,
    function-level (lazy) ones included."""
    package = ".".join(("pvprobe",) + path.relative_to(PKG).parent.parts)
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            out.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
    return out


def test_every_relative_import_names_a_module_that_exists():
    """Lazy imports run only on their command's path: a module moved into a subpackage
    must not leave one pointing nowhere (``from .core...`` in pvprobe/cli/ was one)."""
    import importlib.util

    missing = []
    for path in _modules():
        for line, name in _relative_imports(path):
            try:
                found = importlib.util.find_spec(name) is not None
            except ModuleNotFoundError:        # a parent package is missing too
                found = False
            if not found:
                missing.append(f"{path.relative_to(PKG)}:{line}: {name}")
    assert not missing, missing
