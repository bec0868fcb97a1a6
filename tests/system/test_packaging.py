"""Packaging and resources: icons, themes, desktop file, AppStream metadata, the wheel,
and (when built) the PyInstaller bundle."""

from __future__ import annotations

import configparser
import glob
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile

import pytest
from conftest import ROOT as REPO_ROOT

ROOT = str(REPO_ROOT)
PACKAGING = os.path.join(ROOT, "packaging")
BUNDLE_EXE = os.path.join(ROOT, "dist", "pvprobe", "pvprobe")

#: Icons the UI needs (the brief's list); more may exist.
REQUIRED_ICONS = ("add", "remove", "open", "save", "snapshot", "compare", "restore", "probe",
                  "plot", "strip-chart", "image", "pause", "play", "export", "alarm-minor",
                  "alarm-major", "alarm-invalid", "disconnected")
APP_SIZES = (16, 32, 48, 64, 128, 256)


def _run(cmd: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _non_blank(img) -> bool:
    """More than a handful of distinct colours in a coarse sample."""
    seen = set()
    w, h = img.width(), img.height()
    for y in range(0, h, max(1, h // 40)):
        for x in range(0, w, max(1, w // 40)):
            seen.add(img.pixel(x, y))
    return len(seen) > 8


# ------------------------------------------------------------------------------- icons

def test_app_icon_pngs_have_their_sizes(qapp):
    from PyQt5.QtGui import QImage

    from pvprobe.qt.style.resources import app_icon, resource_path

    for size in APP_SIZES:
        img = QImage(resource_path(f"png/pvprobe-{size}.png"))
        assert not img.isNull()
        assert (img.width(), img.height()) == (size, size)
        if size >= 32:
            assert _non_blank(img)
    ic = app_icon()
    assert not ic.isNull()
    assert {s.width() for s in ic.availableSizes()} >= set(APP_SIZES)


def test_committed_pngs_match_the_render_script():
    res = _run([sys.executable, os.path.join(ROOT, "resources", "render_icons.py"), "--check"],
               timeout=60, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert res.returncode == 0, res.stderr


def test_every_required_ui_icon_loads_and_draws(qapp):
    from pvprobe.qt.style.resources import icon, icon_names, pixmap, resource_path

    names = icon_names()
    for name in REQUIRED_ICONS:
        assert name in names
        assert os.path.isfile(resource_path(f"icons/{name}.svg"))
        ic = icon(name)
        assert not ic.isNull(), name
        img = pixmap(name, 32).toImage()
        opaque = sum(1 for y in range(32) for x in range(32) if img.pixelColor(x, y).alpha() > 0)
        assert 20 < opaque < 32 * 32, f"{name} draws (almost) nothing, or a full square"


def test_ui_icons_follow_the_requested_colour(qapp):
    from pvprobe.qt.style.resources import FIXED_COLOUR_ICONS, pixmap

    def colours(name, colour):
        img = pixmap(name, 24, colour).toImage()
        return {img.pixelColor(x, y).name() for y in range(24) for x in range(24)
                if img.pixelColor(x, y).alpha() == 255}

    assert "#ffffff" in colours("add", "#ffffff")
    assert "#ffffff" not in colours("add", "#000000")
    for name in FIXED_COLOUR_ICONS:      # alarm icons keep their colours
        assert colours(name, "#ffffff") == colours(name, "#000000")


def test_resource_names_are_checked():
    from pvprobe.qt.style.resources import icon, resource_path

    for bad in ("../pyproject.toml", "/etc/passwd", "icons/../../cli.py", "nope.svg"):
        with pytest.raises(FileNotFoundError):
            resource_path(bad)
    with pytest.raises(FileNotFoundError):
        icon("no-such-icon")


# ------------------------------------------------------------------------------- themes

@pytest.fixture
def restore_app_look(qapp):
    """Tests that apply a theme give the shared QApplication its look back afterwards."""
    style = qapp.style().objectName()
    palette = qapp.palette()
    sheet = qapp.styleSheet()
    prop = qapp.property("pvprobe_theme")
    yield qapp
    from PyQt5.QtWidgets import QStyleFactory

    restored = QStyleFactory.create(style) if style else None
    if restored is not None:
        qapp.setStyle(restored)
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)
    qapp.setProperty("pvprobe_theme", prop)


@pytest.mark.parametrize("name", ["light", "dark"])
def test_apply_theme_sets_style_and_palette(restore_app_look, name):
    from PyQt5.QtGui import QColor, QPalette
    from PyQt5.QtWidgets import QTableWidget, QTableWidgetItem

    from pvprobe.qt.style.resources import icon
    from pvprobe.qt.style.theme import (
        apply_theme,
        available_themes,
        current_theme,
        relative_luminance,
        table_colors,
        theme_spec,
    )

    app = restore_app_look
    assert name in available_themes()
    apply_theme(app, name)
    assert app.style().objectName().lower() == "fusion"
    assert current_theme(app) == name
    spec = theme_spec(name)
    base = app.palette().color(QPalette.Base)
    assert (base.red(), base.green(), base.blue()) == spec.base
    dark = relative_luminance(spec.base) < 0.2
    assert dark == (name == "dark")

    # A real widget painted with the theme: base and an alarm cell as specified.
    colours = table_colors(name, "default")
    table = QTableWidget(2, 1)
    table.resize(200, 120)
    item = QTableWidgetItem("MAJOR")
    bg, fg = colours.alarm[2]
    item.setBackground(bg)
    item.setForeground(fg)
    table.setItem(0, 0, item)
    img = table.grab().toImage()
    r1 = table.visualItemRect(table.item(0, 0))
    vp = table.viewport().mapTo(table, r1.topLeft())
    assert img.pixelColor(vp.x() + 3, vp.y() + 3) == QColor(bg)
    empty = table.viewport().mapTo(table, table.visualRect(table.model().index(1, 0)).topLeft())
    assert img.pixelColor(empty.x() + 3, empty.y() + 3) == base
    table.deleteLater()
    # icons drawn in the theme's text colour by default
    text = app.palette().color(QPalette.WindowText)
    pm = icon("add").pixmap(24, 24).toImage()
    assert any(pm.pixelColor(x, 12).name() == text.name() for x in range(24))


def test_setup_application_sets_icon_desktop_name_and_theme(restore_app_look):
    from pvprobe.qt.style.theme import current_theme, setup_application

    app = restore_app_look
    old_icon, old_name = app.windowIcon(), app.desktopFileName()
    try:
        setup_application(app, "dark")
        assert not app.windowIcon().isNull()
        assert 256 in {s.width() for s in app.windowIcon().availableSizes()}
        assert app.desktopFileName() == "pvprobe"
        assert current_theme(app) == "dark"
    finally:
        app.setWindowIcon(old_icon)
        app.setDesktopFileName(old_name)


def test_unknown_theme_is_refused(qapp):
    from pvprobe.qt.style.theme import apply_theme, table_colors

    with pytest.raises(ValueError):
        apply_theme(qapp, "purple")
    with pytest.raises(ValueError):
        table_colors("dark", "rainbow")


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("palette_name", ["default", "colorblind"])
def test_alarm_colours_are_readable(theme, palette_name):
    from pvprobe.qt.style.theme import contrast_ratio, table_colors

    tc = table_colors(theme, palette_name)
    assert set(tc.alarm) == {1, 2, 3}
    for sev, (fill, text) in tc.alarm.items():
        assert contrast_ratio(text, fill) >= 4.5, (sev, "text on its alarm fill")
        assert contrast_ratio(tc.alarm_text[sev], tc.base) >= 3, (sev, "alarm colour on base")
        if theme == "dark" or sev != 1:
            # MINOR's yellow fill cannot stand out from white by 3:1; the ▲ symbol does.
            assert contrast_ratio(fill, tc.base) >= 3, (sev, "alarm fill vs base")
    assert contrast_ratio(tc.disconnected_fg, tc.base) >= 3
    assert contrast_ratio(tc.disconnected_fg, tc.disconnected_bg) >= 3
    assert contrast_ratio(tc.diff_fg, tc.diff_bg) >= 4.5
    assert contrast_ratio(tc.failed_fg, tc.base) >= 4.5
    assert contrast_ratio(tc.done_fg, tc.base) >= 4.5
    assert contrast_ratio(tc.text, tc.base) >= 7
    # the three severities stay apart from each other
    fills = [tc.alarm[s][0].name() for s in (1, 2, 3)]
    assert len(set(fills)) == 3


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_status_and_plot_colours_are_readable(theme):
    from pvprobe.qt.style.theme import contrast_ratio, plot_colors, status_colors, theme_spec

    spec = theme_spec(theme)
    sc = status_colors(theme)
    for bg in (spec.window, spec.base):
        for c in (sc.ok, sc.bad, sc.hint, sc.link):
            assert contrast_ratio(c, bg) >= 4.5
        assert contrast_ratio(sc.muted, bg) >= 3
    for palette_name in ("default", "colorblind"):
        pc = plot_colors(theme, palette_name)
        assert contrast_ratio(pc.foreground, pc.background) >= 4.5
        assert contrast_ratio(pc.cursor, pc.background) >= 3
        for sev in (1, 2, 3):
            assert contrast_ratio(pc.alarm[sev], pc.background) >= 3


def test_light_theme_keeps_the_tables_alarm_colours():
    from pvprobe.qt.style.theme import alarm_colors
    from pvprobe.qt.table import table_brushes as m

    for name, model_colours in m.PALETTES.items():
        ours = alarm_colors("light", name)
        for sev, (bg, fg) in model_colours.items():
            assert (ours[sev][0].name(), ours[sev][1].name()) == (bg.name(), fg.name())


def test_contrast_ratio_matches_wcag_examples():
    from pvprobe.qt.style.theme import contrast_ratio

    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)


# ------------------------------------------------------------------------------- desktop files

def test_desktop_file_has_the_required_keys():
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(os.path.join(PACKAGING, "pvprobe.desktop"), encoding="utf-8")
    entry = cp["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "pvprobe"
    assert entry["Exec"].split()[0] == "pvprobe"
    assert entry["Icon"] == "pvprobe"
    assert entry["Terminal"] == "false"
    cats = entry["Categories"].rstrip(";").split(";")
    assert {"Science", "Engineering", "Monitor"} <= set(cats)
    assert entry["Comment"]
    assert cp["Desktop Action demo"]["Exec"] == "pvprobe --demo"
    tool = shutil.which("desktop-file-validate")
    if tool:
        res = _run([tool, os.path.join(PACKAGING, "pvprobe.desktop")], timeout=30)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "error" not in res.stdout.lower()


def test_metainfo_is_well_formed_and_consistent():
    path = os.path.join(PACKAGING, "io.github.pvprobe.metainfo.xml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert "<!DOCTYPE" not in text and "<!ENTITY" not in text
    root = ET.fromstring(text)
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == "io.github.pvprobe"
    assert root.findtext("launchable") == "pvprobe.desktop"
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "BSD-3-Clause"
    assert root.findtext("summary")
    assert root.find("description/p") is not None
    from pvprobe import __version__
    assert __version__ in [r.get("version") for r in root.iter("release")]
    tool = shutil.which("appstreamcli")
    if tool:
        res = _run([tool, "validate", "--no-net", path], timeout=60)
        assert res.returncode == 0, res.stdout + res.stderr


def test_install_desktop_file_script(tmp_path):
    script = os.path.join(PACKAGING, "install-desktop-file.sh")
    env = dict(os.environ, DATA_HOME=str(tmp_path))
    res = _run(["bash", script, "--exec", "/opt/pvprobe/pvprobe"], timeout=60, env=env)
    assert res.returncode == 0, res.stderr
    desktop = tmp_path / "applications" / "pvprobe.desktop"
    text = desktop.read_text()
    assert "Exec=/opt/pvprobe/pvprobe\n" in text and "Exec=/opt/pvprobe/pvprobe --demo" in text
    for size in APP_SIZES:
        assert (tmp_path / f"icons/hicolor/{size}x{size}/apps/pvprobe.png").is_file()
    assert (tmp_path / "icons/hicolor/scalable/apps/pvprobe.svg").is_file()
    assert (tmp_path / "metainfo/io.github.pvprobe.metainfo.xml").is_file()
    res = _run(["bash", script, "--uninstall"], timeout=60, env=env)
    assert res.returncode == 0
    assert not desktop.exists()
    assert not glob.glob(str(tmp_path / "icons/hicolor/*/apps/pvprobe.*"))


# ------------------------------------------------------------------------------- licence

#: The opening and the three clauses of the BSD 3-Clause licence (SPDX "BSD-3-Clause").
BSD3_CLAUSES = (
    "Redistribution and use in source and binary forms, with or without modification, "
    "are permitted provided that the following conditions are met:",
    "1. Redistributions of source code must retain the above copyright notice, this list "
    "of conditions and the following disclaimer.",
    "2. Redistributions in binary form must reproduce the above copyright notice, this list "
    "of conditions and the following disclaimer in the documentation and/or other materials "
    "provided with the distribution.",
    "3. Neither the name of the copyright holder nor the names of its contributors may be "
    "used to endorse or promote products derived from this software without specific prior "
    "written permission.",
)


def _declared_licences() -> set[str]:
    import re

    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        ids = set(re.findall(r'^license = \{ text = "([^"]+)" \}$', f.read(), re.M))
    root = ET.parse(os.path.join(PACKAGING, "io.github.pvprobe.metainfo.xml")).getroot()
    ids.add(root.findtext("project_license"))
    return ids


def test_license_file_matches_the_declared_licence():
    assert _declared_licences() == {"BSD-3-Clause"}
    with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as f:
        text = f.read()
    flat = " ".join(text.split())
    assert flat.startswith("BSD 3-Clause License Copyright (c) 2026, the pvprobe developers ")
    for clause in BSD3_CLAUSES:
        assert clause in flat
    assert 'THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"' in flat
    assert "4." not in flat          # not the 4-clause (advertising) licence


# ------------------------------------------------------------------------------- the wheel

@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", ROOT, "-w", str(out)]
    try:
        import setuptools  # noqa: F401  (both present: no need to fetch them from PyPI)
        import wheel as _wheel  # noqa: F401
        cmd.insert(5, "--no-build-isolation")
    except ImportError:
        pass
    res = _run(cmd, timeout=300, env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert res.returncode == 0, res.stderr
    (whl,) = glob.glob(str(out / "pvprobe-*.whl"))
    return whl


def test_wheel_contains_the_resources(wheel):
    from pvprobe.qt.style.resources import icon_names

    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "pvprobe/resources/pvprobe.svg" in names
        for size in APP_SIZES:
            assert f"pvprobe/resources/png/pvprobe-{size}.png" in names
        for name in icon_names():
            assert f"pvprobe/resources/icons/{name}.svg" in names
        assert "pvprobe/qt/style/resources.py" in names and "pvprobe/qt/style/theme.py" in names
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        assert "License: BSD-3-Clause" in z.read(meta).decode()
        licence = [n for n in names if ".dist-info/" in n and n.endswith("/LICENSE")]
        with open(os.path.join(ROOT, "LICENSE"), "rb") as f:
            assert licence and z.read(licence[0]) == f.read()
        for info in z.infolist():
            if info.filename.startswith("pvprobe/resources/"):
                mode = (info.external_attr >> 16) & 0o777
                assert mode == 0 or mode & 0o044 == 0o044, f"{info.filename} not world-readable"


def test_installed_wheel_finds_its_icons(wheel, tmp_path):
    """A plain (non-editable) install: resources come from site-packages, not the checkout."""
    target = tmp_path / "site"
    res = _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                "--target", str(target), wheel], timeout=300,
               env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert res.returncode == 0, res.stderr
    code = ("import sys; from PyQt5.QtWidgets import QApplication; app = QApplication([]);"
            "import pvprobe; from pvprobe.qt.style.resources import app_icon, icon, resource_path;"
            "assert not app_icon().isNull() and not icon('probe').isNull();"
            "print(pvprobe.__file__); print(resource_path('icons/probe.svg'))")
    res = _run([sys.executable, "-c", code], timeout=60, cwd=str(tmp_path),
               env=dict(os.environ, PYTHONPATH=str(target), QT_QPA_PLATFORM="offscreen"))
    assert res.returncode == 0, res.stderr
    pkg_file, icon_file = res.stdout.split()[-2:]
    assert pkg_file.startswith(str(target)) and icon_file.startswith(str(target))


# ------------------------------------------------------------------------------- bundle entry

def test_bundle_entry_runs_only_pvprobes_helper_modules():
    """The bundle's entry dispatches ``-m MODULE`` (how the demo IOC and the repeater are
    spawned from a frozen app); checked here with the plain interpreter."""
    entry = os.path.join(PACKAGING, "pvprobe_entry.py")
    res = _run([sys.executable, entry, "-m", "pvprobe.demo.ioc", "--help"], timeout=60)
    assert res.returncode == 0, res.stderr
    assert "--prefix" in res.stdout
    res = _run([sys.executable, entry, "-m", "os"], timeout=60)
    assert res.returncode == 2 and "not available" in res.stderr
    res = _run([sys.executable, entry, "--version"], timeout=60)
    assert res.returncode == 0 and "pvprobe" in res.stdout


# ------------------------------------------------------------------------------- the bundle

_want_bundle = os.environ.get("PVPROBE_BUNDLE_TEST") == "1"
bundle = pytest.mark.skipif(not (_want_bundle or os.path.exists(BUNDLE_EXE)),
                            reason="no bundle: run packaging/build.sh (or .ci/bundle)")


@bundle
def test_bundle_help_and_version():
    assert os.access(BUNDLE_EXE, os.X_OK), f"{BUNDLE_EXE} missing: run packaging/build.sh"
    res = _run([BUNDLE_EXE, "--help"], timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: pvprobe")
    from pvprobe import __version__
    res = _run([BUNDLE_EXE, "--version"], timeout=60)
    assert res.returncode == 0 and __version__ in res.stdout
    for sub in ("get", "put", "info", "monitor", "demo-ioc"):
        res = _run([BUNDLE_EXE, sub, "--help"], timeout=60)
        assert res.returncode == 0, (sub, res.stderr)
        assert f"pvprobe {sub}" in res.stdout


@bundle
def test_bundle_runs_the_demo_offscreen(tmp_path):
    from PyQt5.QtGui import QImage

    assert os.access(BUNDLE_EXE, os.X_OK), f"{BUNDLE_EXE} missing: run packaging/build.sh"
    shot, stats = tmp_path / "bundle.png", tmp_path / "stats.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([BUNDLE_EXE, "--demo", "--quit-after", "5", "--screenshot", str(shot),
                             "--stats", str(stats)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(tmp_path), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate(timeout=10)
        pytest.fail("the bundle did not quit by itself")
    assert proc.returncode == 0, err[-3000:]
    assert "couldn't be located" not in err      # no caRepeater noise: the repeater ran
    img = QImage(str(shot))
    assert not img.isNull() and img.width() >= 400 and img.height() >= 300
    assert _non_blank(img)
    assert json.loads(stats.read_text())["fast_callbacks"] is True, "the C monitor callback is bundled"
    # the demo's PVs reached the window (connected rows are drawn, not only the frame)
    res = subprocess.run(["pgrep", "-f", f"{BUNDLE_EXE} -m "], capture_output=True, text=True)
    assert res.stdout.strip() == "", "the bundle left its demo IOC or repeater running"


@bundle
def test_bundle_cli_reads_a_real_ioc(demo_ioc, prefix):
    """The bundle's pyepics (its own libca) reads the session's demo IOC: caget/caput twins."""
    assert os.access(BUNDLE_EXE, os.X_OK), f"{BUNDLE_EXE} missing: run packaging/build.sh"
    res = _run([BUNDLE_EXE, "get", "--json", prefix + "sine", prefix + "enum"], timeout=60)
    assert res.returncode == 0, res.stderr
    import json
    data = json.loads(res.stdout)
    assert [d["name"] for d in data] == [prefix + "sine", prefix + "enum"]
    assert all(d["connected"] for d in data)
    assert "couldn't be located" not in res.stderr
    res = _run([BUNDLE_EXE, "put", prefix + "message", "from the bundle"], timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith("-> from the bundle")


@bundle
def test_bundle_holds_what_the_app_needs():
    internal = os.path.join(os.path.dirname(BUNDLE_EXE), "_internal")
    assert os.path.isdir(internal), "unexpected bundle layout (PyInstaller >= 6 one-folder)"
    must = ["pvprobe/resources/pvprobe.svg", "pvprobe/resources/icons/probe.svg",
            "pvprobe/resources/png/pvprobe-48.png",
            "PyQt5/Qt5/plugins/platforms/libqoffscreen.so", "PyQt5/Qt5/plugins/platforms/libqxcb.so",
            "PyQt5/Qt5/plugins/iconengines/libqsvgicon.so",
            "epics/clibs/linux64/libca.so", "epicscorelibs/dbd/base.dbd", "softioc/device.dbd",
            "pvxslibs/dbd/pvxsIoc.dbd"]
    for rel in must:
        assert os.path.exists(os.path.join(internal, rel)), rel
    assert glob.glob(os.path.join(internal, "PyQt5", "QtSvg*.so"))
    assert glob.glob(os.path.join(internal, "epicscorelibs", "lib", "libdbCore.so*"))
    # pvAccess: p4p's extension, pvxs (client, server and QSRV2) and the frame codecs
    assert glob.glob(os.path.join(internal, "p4p", "_p4p*.so"))
    assert glob.glob(os.path.join(internal, "pvxslibs", "lib", "libpvxs.so*"))
    assert glob.glob(os.path.join(internal, "pvxslibs", "lib", "libpvxsIoc.so*"))
    assert glob.glob(os.path.join(internal, "imagecodecs", "_lz4*.so"))


@bundle
@pytest.mark.parametrize("order", ["ca-first", "pva-first"])
def test_bundle_reads_ca_and_pva_in_one_process(demo_ioc, prefix, order):
    """``pvprobe -m bundle_check``: one Engine in the bundle reads a record over CA and the
    demo's lz4 NTNDArray over PVA (p4p, pvxslibs and the imagecodecs lz4 codec bundled).
    ``ca-first`` is pvprobe's own order: pyepics' own libca; ``pva-first`` (p4p imported
    before libca loads): pyepics >= 3.5.10 takes epicscorelibs' libca, which p4p's pvxs
    brought in with libCom."""
    assert os.access(BUNDLE_EXE, os.X_OK), f"{BUNDLE_EXE} missing: run packaging/build.sh"
    res = _run([BUNDLE_EXE, "-m", "bundle_check", order, prefix + "sine", prefix + "pva:image:lz4"],
               timeout=90)
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(order, out["libca"], out["libs"])
    assert out["ca"]["connected"] and isinstance(out["ca"]["value"], float)
    assert out["pva"]["codec"] == "lz4" and out["pva"]["value"]["shape"] == [512, 512]
    assert out["pva_fast_path"]["loaded"], out["pva_fast_path"]      # the C++ PVA monitors bundled
    assert out["pva_scalar"]["connected"] and isinstance(out["pva_scalar"]["value"], float)
    assert out["codecs"] == dict.fromkeys(("lz4", "zlib", "blosc", "lz4hdf5", "bitshuffle", "jpeg"), True)
    internal = os.path.join(os.path.dirname(BUNDLE_EXE), "_internal")
    assert out["libca"].startswith(internal), out["libca"]
    expected = "epics/clibs/linux64/libca.so" if order == "ca-first" else "epicscorelibs/lib/libca.so"
    assert out["libca"].endswith(expected), out["libca"]
    libs = " ".join(out["libs"])
    assert "libpvxs" in libs and libs.count("libca.so") == 1, libs
    assert "couldn't be located" not in res.stderr


@pytest.mark.parametrize("order", ["ca-first", "pva-first"])
def test_source_reads_ca_and_pva_in_one_process(demo_ioc, prefix, order):
    """The same self-check from source (a fresh interpreter per load order): which libca
    pyepics loads when p4p (and so epicscorelibs' libCom) came first."""
    script = os.path.join(PACKAGING, "bundle_check.py")
    res = _run([sys.executable, script, order, prefix + "sine", prefix + "pva:image:lz4"], timeout=90)
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(order, out["libca"])
    assert out["ca"]["connected"] and out["pva"]["codec"] == "lz4"
    assert out["pva_fast_path"]["loaded"], out["pva_fast_path"]
    assert out["pva_scalar"]["connected"] and isinstance(out["pva_scalar"]["value"], float)
    expected = "epics/clibs/linux64/libca.so" if order == "ca-first" else "epicscorelibs/lib/libca.so"
    assert out["libca"].endswith(expected), out["libca"]
    assert " ".join(out["libs"]).count("libca.so") == 1
