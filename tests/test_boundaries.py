"""The architecture's import contract (as napari's import-linter contract):
the core imports neither Qt nor epics; only pvprobe.ca imports epics; the demo
IOC never imports epics (pyepics and the IOC libraries collide in one process);
the CLI twins start without Qt."""

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


def _modules(sub: str = ""):
    return sorted((PKG / sub).rglob("*.py"))


def test_core_imports_neither_qt_nor_epics():
    for path in _modules("core"):
        bad = _imports(path) & set(QT + ("epics", "p4p"))
        assert not bad, f"{path.relative_to(PKG)} imports {bad}"


def test_only_the_engine_imports_epics():
    for path in _modules():
        rel = path.relative_to(PKG)
        if rel.parts[0] == "ca":
            continue
        assert "epics" not in _imports(path), f"{rel} imports epics outside pvprobe/ca"


def test_engine_and_demo_ioc_import_no_qt():
    for sub in ("ca", "demo"):
        for path in _modules(sub):
            bad = _imports(path) & set(QT)
            assert not bad, f"{path.relative_to(PKG)} imports {bad}"


def test_cli_twins_start_without_qt_or_epics_loaded():
    code = ("import sys, pvprobe.cli, pvprobe.core.format, pvprobe.core.pvnames;"
            "print(sorted(m for m in ('PyQt5','pyqtgraph','epics','softioc') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
