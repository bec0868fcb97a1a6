"""When Qt's xcb plugin cannot load for want of X libraries, pvprobe names the Debian
packages to install instead of Qt's bare "Could not load the Qt platform plugin"
(issue 12, item 7a). Checked on the real plugin of the PyQt5 in use."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

from pvprobe.qt.app.platform_check import (
    XCB_PACKAGES,
    debian_package,
    missing_libraries,
    missing_libraries_message,
    parse_ldd,
    uses_xcb,
    xcb_plugin_path,
)

pytestmark = pytest.mark.timeout(120)


def _real_ldd() -> str:
    plugin = xcb_plugin_path()
    if plugin is None or not shutil.which("ldd"):
        pytest.skip("no xcb plugin or no ldd here")
    return subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=30).stdout


def test_message_from_the_real_plugins_ldd_output():
    """The real ldd output, with libxcb-icccm (the library missing in the report) marked
    missing if this machine has it: the message names its package and the install line."""
    text = _real_ldd()
    assert "libxcb-icccm.so.4" in text, "the plugin links libxcb-icccm (README lists it)"
    lines = [ln if "libxcb-icccm.so.4" not in ln else "\tlibxcb-icccm.so.4 => not found"
             for ln in text.splitlines()]
    missing = parse_ldd("\n".join(lines))
    assert "libxcb-icccm.so.4" in missing and len(missing) == len(set(missing))
    msg = missing_libraries_message(missing)
    packages = msg.split("sudo apt-get install ", 1)[1].splitlines()[0].split()
    assert "libxcb-icccm4" in packages and len(packages) == len(missing)
    assert "xcb" in msg and "QT_QPA_PLATFORM=offscreen" in msg


def test_every_x_library_the_plugin_links_maps_to_a_listed_package():
    """README's package list covers the plugin's xcb/xkb libraries (checked against ldd)."""
    text = _real_ldd()
    sonames = [ln.split()[0] for ln in text.splitlines() if "=>" in ln]
    xcb = [s for s in sonames if s.startswith(("libxcb-", "libxkbcommon-x11"))
           and not s.startswith(("libxcb-render.", "libxcb-shm.", "libxcb-sync.", "libxcb-xfixes.",
                                 "libxcb-util."))]
    assert {debian_package(s) for s in xcb} <= set(XCB_PACKAGES)
    readme = (ROOT / "README.md").read_text()
    assert all(p in readme for p in XCB_PACKAGES)


@pytest.mark.parametrize("soname, package", [
    ("libxcb-icccm.so.4", "libxcb-icccm4"), ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libX11-xcb.so.1", "libx11-xcb1"), ("libX11.so.6", "libx11-6"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"), ("libglib-2.0.so.0", "libglib2.0-0"),
    ("libdbus-1.so.3", "libdbus-1-3"),
])
def test_debian_package_names(soname, package):
    assert debian_package(soname) == package


def test_only_xcb_runs_are_checked():
    assert uses_xcb({"DISPLAY": ":0"}) == sys.platform.startswith("linux")
    assert uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}) == sys.platform.startswith("linux")
    assert not uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"})
    assert not uses_xcb({"QT_QPA_PLATFORM": ""})          # no display: nothing to check


def test_app_names_the_packages_when_the_plugin_cannot_load(tmp_path):
    """The real app on this machine's real plugin: where X libraries are missing it says
    which packages to install and exits non-zero (Qt alone aborted, status 134)."""
    plugin = xcb_plugin_path()
    if plugin is None or not missing_libraries(plugin):
        pytest.skip("the xcb plugin loads here: nothing is missing")
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env.update(DISPLAY=":99", PVPROBE_SETTINGS=str(tmp_path / "s.ini"))
    out = subprocess.run([sys.executable, "-m", "pvprobe", "--demo", "--quit-after", "1"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode not in (0, -6, 134), out.returncode
    assert "sudo apt-get install" in out.stderr and "libxcb-" in out.stderr, out.stderr
    assert "Could not load the Qt platform plugin" not in out.stderr
