"""Per-user locations from platformdirs: on Linux the settings file and the put log stay
exactly where pvprobe kept them before (Qt's QSettings location, ~/.local/share), the
environment overrides still win, and macOS keeps a settings file Qt left in ~/.config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import platformdirs.macos
import pytest

from pvprobe.core import paths
from pvprobe.core.putlog import ENV_VAR as PUTLOG_ENV
from pvprobe.core.putlog import PutLog, putlog_path, read_putlog
from pvprobe.qt.app.settings import SETTINGS_ENV, default_settings_path

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux locations")]

_XDG = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh HOME with no XDG variables and no pvprobe overrides."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    for var in _XDG + (SETTINGS_ENV, PUTLOG_ENV):
        monkeypatch.delenv(var, raising=False)
    return h


def _qt_settings_location(env: dict) -> str:
    """Where QSettings (INI, user scope, pvprobe/pvprobe) — the old implementation —
    puts the file, asked in a fresh process (Qt caches its paths per process)."""
    code = ("from PyQt5.QtCore import QSettings; "
            "print(QSettings(QSettings.IniFormat, QSettings.UserScope, 'pvprobe', 'pvprobe').fileName())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=30, check=True)
    return out.stdout.strip()


def test_linux_defaults_are_todays_locations(home):
    assert default_settings_path() == str(home / ".config" / "pvprobe" / "pvprobe.ini")
    assert default_settings_path() == _qt_settings_location(dict(os.environ))
    assert putlog_path() == home / ".local" / "share" / "pvprobe" / "putlog.jsonl"
    # nothing is created just by asking
    assert list(home.iterdir()) == []


def test_linux_xdg_variables_are_followed(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_settings_path() == str(tmp_path / "cfg" / "pvprobe" / "pvprobe.ini")
    assert default_settings_path() == _qt_settings_location(dict(os.environ))
    assert putlog_path() == tmp_path / "data" / "pvprobe" / "putlog.jsonl"


def test_environment_overrides_still_win(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "mine.ini"))
    monkeypatch.setenv(PUTLOG_ENV, "~/logs/puts.jsonl")
    assert default_settings_path() == str(tmp_path / "mine.ini")
    assert putlog_path() == home / "logs" / "puts.jsonl"


def test_put_log_is_written_in_the_default_place(home):
    PutLog(fsync=False).append("X:1", 1, 2, True, source="cli")
    target = home / ".local" / "share" / "pvprobe" / "putlog.jsonl"
    assert [e["pv"] for e in read_putlog(target)] == ["X:1"]


def test_macos_native_place_and_the_file_qt_left(home):
    native_dir = Path(platformdirs.macos.MacOS(paths.APP_NAME, appauthor=False).user_config_dir)
    assert native_dir == home / "Library" / "Application Support" / "pvprobe"
    native = native_dir / "pvprobe.ini"
    legacy = home / ".config" / "pvprobe" / "pvprobe.ini"
    assert paths.settings_file_in(native_dir, "darwin") == native          # a new user
    legacy.parent.mkdir(parents=True)
    legacy.write_text("[window]\n")
    assert paths.settings_file_in(native_dir, "darwin") == legacy          # an existing user
    native_dir.mkdir(parents=True)
    native.write_text("[window]\n")
    assert paths.settings_file_in(native_dir, "darwin") == native          # once there, native
    # Linux never looks elsewhere
    assert paths.settings_file_in(home / "x", "linux") == home / "x" / "pvprobe.ini"


def test_no_home_directory_falls_back_instead_of_raising(home, monkeypatch):
    def no_home(*_a, **_k):
        raise RuntimeError("home directory cannot be resolved")
    monkeypatch.setattr(platformdirs, "user_config_dir", no_home)
    monkeypatch.setattr(platformdirs, "user_data_dir", no_home)
    assert default_settings_path() == str(home / ".config" / "pvprobe" / "pvprobe.ini")
    assert putlog_path() == home / ".local" / "share" / "pvprobe" / "putlog.jsonl"
