"""The tests mirror the package (issue 13): every test module sits in a folder named
after the part of pvprobe it checks (or system/project), basenames are unique (pytest's
default import mode imports each test module by its basename), and the helper server
scripts live in tests/servers/."""

from __future__ import annotations

from collections import Counter

from conftest import ROOT, SERVERS_DIR, TESTS_DIR

#: Folders of whole-process tests and of checks on the repository, beside the mirrors.
OWN_FOLDERS = {"system", "project", "servers"}


def _test_modules() -> list:
    return sorted(TESTS_DIR.rglob("test_*.py"))


def test_no_test_module_at_the_top() -> None:
    assert [p.name for p in TESTS_DIR.glob("test_*.py")] == []
    assert sorted(p.name for p in TESTS_DIR.glob("*.py")) == ["conftest.py"]


def test_every_folder_mirrors_a_part_of_the_package() -> None:
    """tests/X/... mirrors pvprobe/X/... (a package), or is one of OWN_FOLDERS."""
    pkg = ROOT / "pvprobe"
    for path in _test_modules():
        parts = path.relative_to(TESTS_DIR).parent.parts
        assert parts, path
        if parts[0] in OWN_FOLDERS:
            assert len(parts) == 1, f"{path}: no subfolders in tests/{parts[0]}/"
            continue
        mirror = pkg.joinpath(*parts)
        assert (mirror / "__init__.py").is_file(), f"{path}: pvprobe/{'/'.join(parts)} is no package"


def test_basenames_are_unique_and_folders_are_no_packages() -> None:
    dupes = [n for n, k in Counter(p.name for p in _test_modules()).items() if k > 1]
    assert dupes == []
    inits = [str(p.relative_to(TESTS_DIR)) for p in TESTS_DIR.rglob("__init__.py")]
    assert inits == ["servers/__init__.py"]


def test_helper_servers_live_in_servers() -> None:
    """Scripts the fixtures start as processes are in tests/servers/, not among the tests."""
    scripts = {p.name for p in SERVERS_DIR.glob("*.py")} - {"__init__.py"}
    assert {"caproto_ioc.py", "fault_ioc.py", "fault_client.py", "numbers_ioc.py"} <= scripts
    stray = [str(p.relative_to(TESTS_DIR)) for p in TESTS_DIR.rglob("*.py")
             if p.parent != SERVERS_DIR and p.name not in ("conftest.py",) and not p.name.startswith("test_")]
    assert stray == []
