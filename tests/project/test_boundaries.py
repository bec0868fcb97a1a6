"""The architecture's import contract (as napari's import-linter contract):
the core imports neither Qt nor epics nor p4p; only pvprobe.ca imports epics; the
protocol-neutral engine (pvprobe.engine) imports neither Qt, nor epics, nor the CA
package, nor ctypes, and nobody outside pvprobe.ca reaches into libca; the
demo IOC never imports epics (pyepics and the IOC libraries collide in one process);
the Qt package reaches the engine only through the bridge it is given (it imports no
pvprobe.ca); models import no widgets; the CLI twins start without Qt.

Relative imports are resolved to absolute module names, so ``from ..ca import x``
counts as much as ``import pvprobe.ca.x``."""

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PKG = ROOT / "pvprobe"
QT = ("PyQt5", "pyqtgraph", "qtpy", "PySide2", "PySide6")
#: Qt item models: they may use QtCore/QtGui (roles, brushes) but no widget.
MODELS = ("qt/table/pvtable_model.py", "qt/table/pvtable_extras.py", "qt/table/pvtable_columns.py",
          "qt/table/table_brushes.py", "qt/table/table_filter.py")
WIDGETS = ("PyQt5.QtWidgets", "pyqtgraph")
#: The Qt package's subpackages; only the bridge (and its routing) sit at its top.
QT_TOP = {"__init__.py", "bridge.py", "subscription.py", "puts.py"}
QT_SUBPACKAGES = {"app", "style", "widgets", "table", "probe", "plots", "image"}
#: Qt subpackages the views build on: they import no other Qt subpackage.
QT_BASE = ("style", "widgets")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _full_imports(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    mod = _module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # "from . import x" / "from pvprobe import ca": the names may be modules
            found.update(f"{target}.{a.name}" for a in node.names)
    return found


def _imports(path: Path) -> set[str]:
    """Top-level packages ``path`` imports (relative imports resolved)."""
    return {m.split(".")[0] for m in _full_imports(path)}


def _imports_any(path: Path, prefixes) -> set[str]:
    return {m for m in _full_imports(path) for p in prefixes if m == p or m.startswith(p + ".")}


def _modules(sub: str = ""):
    return sorted((PKG / sub).rglob("*.py"))


def test_relative_imports_are_resolved():
    """The checker itself: a relative import of the engine counts."""
    mods = _full_imports(PKG / "cli" / "gui.py")
    assert "pvprobe.demo.launcher" in mods
    assert "pvprobe.qt.app.app" in mods


def test_core_imports_neither_qt_nor_epics_nor_p4p():
    for path in _modules("core"):
        bad = _imports(path) & set(QT + ("epics", "p4p"))
        bad |= _imports_any(path, ("pvprobe.qt",))
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
            bad |= _imports_any(path, ("pvprobe.qt",))
            assert not bad, f"{path.relative_to(PKG)} imports {bad}"


def test_qt_package_imports_no_protocol():
    """Views and models know no protocol: no epics, no p4p, no pvprobe.ca (the app
    gets its engine from the CLI and talks to it through the bridge only)."""
    for path in _modules("qt"):
        bad = _imports(path) & {"epics", "p4p"}
        bad |= _imports_any(path, ("pvprobe.ca",))
        assert not bad, f"{path.relative_to(PKG)} imports {bad}"


def test_models_import_no_widgets():
    for rel in MODELS:
        bad = _imports_any(PKG / rel, WIDGETS)
        assert not bad, f"{rel} imports {bad}"


def test_qt_package_is_split_into_subpackages():
    top = {p.name for p in (PKG / "qt").glob("*.py")}
    assert top <= QT_TOP, f"modules at the top of pvprobe/qt: {sorted(top - QT_TOP)}"
    subs = {p.name for p in (PKG / "qt").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert subs == QT_SUBPACKAGES


def test_qt_layers():
    """Only the app wires views together (nothing imports pvprobe.qt.app); style and
    widgets import no other Qt subpackage."""
    for path in _modules("qt"):
        rel = path.relative_to(PKG)
        if rel.parts[1] != "app":
            bad = _imports_any(path, ("pvprobe.qt.app",))
            assert not bad, f"{rel} imports {bad}"
        if rel.parts[1] in QT_BASE:
            others = [f"pvprobe.qt.{s}" for s in QT_SUBPACKAGES if s != rel.parts[1]]
            bad = _imports_any(path, others)
            assert not bad, f"{rel} imports {bad}"


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


def test_only_the_pva_package_imports_p4p():
    """p4p lives in pvprobe/pva only (and is imported there only on the first
    pva:// name, after the CA context exists); the engine knows no PVA either."""
    for path in _modules():
        rel = path.relative_to(PKG)
        # the demo IOC's PVA camera runs in the IOC process, where pyepics never is
        if rel.parts[0] == "pva" or rel.as_posix() == "demo/pva_camera.py":
            continue
        assert "p4p" not in _imports(path), f"{rel} imports p4p outside pvprobe/pva"
    for path in _modules("engine"):
        bad = _imports_any(path, ("pvprobe.pva",))
        assert not bad, f"{path.relative_to(PKG)} imports {bad}"


def test_pva_package_imports_no_qt_nor_ca():
    paths = _modules("pva")
    assert paths, "pvprobe/pva is missing"
    for path in paths:
        mods = _full_imports(path)
        bad = {m for m in mods if m.split(".")[0] in QT + ("epics", "ctypes")
               or m == "pvprobe.ca" or m.startswith("pvprobe.ca.") or m.startswith("pvprobe.qt")}
        assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


def test_only_the_engine_factory_joins_ca_and_pva():
    """pvprobe.ca.engine puts the PVA source beside CA's; nothing else in pvprobe.ca
    or pvprobe.qt touches pvprobe.pva."""
    for sub in ("ca", "qt"):
        for path in _modules(sub):
            rel = path.relative_to(PKG)
            if rel.as_posix() == "ca/engine.py":
                continue
            bad = _imports_any(path, ("pvprobe.pva",))
            assert not bad, f"{rel} imports {bad}"
