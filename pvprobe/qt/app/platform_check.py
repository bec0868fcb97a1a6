"""Before the first window: can Qt's X11 (xcb) platform plugin load at all?

On a Debian/Ubuntu machine without some X libraries the xcb plugin needs (PyQt5
5.15 wheels link it against libxcb-icccm, -keysyms, -xinerama... which a plain
X session does not always have), Qt only prints "Could not load the Qt platform
plugin "xcb"" and aborts. :func:`xcb_problem` finds the missing libraries first
(``ldd`` on the plugin, else the loader's own error) and
:func:`missing_libraries_message` says which packages to install. Qt 5.15's
plugin does not use libxcb-cursor (Qt 6.5 does).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

#: Debian/Ubuntu package names where the rule in :func:`debian_package` does not hold.
PACKAGE_EXCEPTIONS = {"libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0"}
#: What README's troubleshooting tells to install for the xcb plugin (the ones a bare
#: X client machine often lacks; libxcb1, libx11-6 and the like come with any X client).
XCB_PACKAGES = ("libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1", "libxcb-randr0",
                "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0", "libxcb-xkb1",
                "libxkbcommon-x11-0")
_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found\s*$", re.M)
_LOAD_ERROR = re.compile(r"(\S+\.so[.\d]*): cannot open shared object file")


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package of a library soname (Debian policy: libfoo.so.4 is in
    libfoo4, libfoo2.so.0 in libfoo2-0; lower case)."""
    if soname in PACKAGE_EXCEPTIONS:
        return PACKAGE_EXCEPTIONS[soname]
    m = re.match(r"^(.+?)\.so\.(\d+)", soname)
    if not m:
        return soname.split(".so")[0].lower()
    name, version = m.group(1).lower(), m.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def parse_ldd(text: str) -> list[str]:
    """The sonames ``ldd`` reports as "not found", each once, in order."""
    return list(dict.fromkeys(_NOT_FOUND.findall(text)))


def missing_libraries_message(missing: list[str], plugin: str = "xcb") -> str:
    """What to tell the user when the ``plugin`` platform plugin cannot load."""
    packages = list(dict.fromkeys(debian_package(s) for s in missing))
    return (f"pvprobe: Qt's \"{plugin}\" platform plugin (the X11 display) cannot load: "
            f"{len(missing)} librar{'y is' if len(missing) == 1 else 'ies are'} missing: "
            f"{', '.join(missing)}.\n"
            f"On Debian/Ubuntu install them with:\n"
            f"    sudo apt-get install {' '.join(packages)}\n"
            f"(all the X libraries Qt 5's xcb plugin needs: {' '.join(XCB_PACKAGES)}).\n"
            f"Without a display, QT_QPA_PLATFORM=offscreen runs pvprobe headless; "
            f"'pvprobe get/monitor/info' need no display at all.")


def xcb_plugin_path() -> Optional[Path]:
    """The xcb platform plugin of the PyQt5 in use (None when there is none)."""
    from PyQt5.QtCore import QLibraryInfo

    path = Path(QLibraryInfo.location(QLibraryInfo.PluginsPath)) / "platforms" / "libqxcb.so"
    return path if path.exists() else None


def uses_xcb(environ: Mapping[str, str]) -> bool:
    """Qt will pick the xcb plugin: Linux, an X display, no other platform asked for."""
    platform = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip()
    return sys.platform.startswith("linux") and bool(environ.get("DISPLAY")) and platform in ("", "xcb")


def missing_libraries(plugin: Path) -> list[str]:
    """Libraries ``plugin`` needs that the loader cannot find ([] when it loads)."""
    try:
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY | getattr(os, "RTLD_LOCAL", 0))
        return []
    except OSError as exc:
        first = _LOAD_ERROR.findall(str(exc))
    ldd = shutil.which("ldd")
    if ldd:
        try:
            out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30)
            found = parse_ldd(out.stdout)
            if found:
                return found
        except (OSError, subprocess.TimeoutExpired):
            pass
    return first or ["(unknown library)"]


def xcb_problem(environ: Optional[Mapping[str, str]] = None) -> str:
    """A message naming the packages to install when the xcb plugin cannot load, else ''."""
    environ = os.environ if environ is None else environ
    if not uses_xcb(environ):
        return ""
    plugin = xcb_plugin_path()
    if plugin is None:
        return ""
    missing = missing_libraries(plugin)
    return missing_libraries_message(missing) if missing else ""


__all__ = ["xcb_problem", "missing_libraries_message", "parse_ldd", "debian_package",
           "missing_libraries", "xcb_plugin_path", "uses_xcb", "XCB_PACKAGES"]
