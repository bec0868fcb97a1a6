"""The command-line twins, run as a user runs them, against the demo IOC."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT

pytestmark = pytest.mark.timeout(90)


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvprobe", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_get_scalars_enum_and_string(demo_ioc, prefix):
    out = run("get", prefix + "readonly", prefix + "message", prefix + "enum")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"{prefix}readonly 42"           # caget's %g (PREC 1 would say 42.0)
    assert lines[1].startswith(f"{prefix}message ")
    assert lines[2].split(" ", 1)[1] in ("Off", "Standby", "On", "Fault")
    assert "caRepeater" not in out.stderr


def test_get_array_and_char_waveform(demo_ioc, prefix):
    out = run("get", prefix + "wave")
    assert out.returncode == 0, out.stderr
    fields = out.stdout.split()
    assert fields[0] == prefix + "wave" and int(fields[1]) == len(fields) - 2
    out = run("get", "--string", prefix + "filename")
    assert out.returncode == 0
    assert out.stdout.split(" ", 1)[1].strip().endswith(".h5")


def test_get_json(demo_ioc, prefix):
    out = run("get", "--json", prefix + "sine", prefix + "enum")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [d["name"] for d in data] == [prefix + "sine", prefix + "enum"]
    assert data[0]["units"] == "mm" and isinstance(data[0]["value"], float)
    assert data[1]["enum_strs"] == ["Off", "Standby", "On", "Fault"]


def test_get_unknown_pv_fails_within_timeout_and_names_it(demo_ioc, prefix):
    out = run("get", "--timeout", "1", prefix + "sine", "PVPROBE:NO:SUCH", timeout=15)
    assert out.returncode == 1
    assert out.stdout.startswith(prefix + "sine ")
    assert "PVPROBE:NO:SUCH" in out.stderr and "not found" in out.stderr


def test_get_invalid_name(demo_ioc):
    out = run("get", "bad name")
    assert out.returncode == 2 and "invalid PV name" in out.stderr


def test_put_prints_old_and_new_and_takes_enum_names(demo_ioc, prefix):
    assert run("put", prefix + "enum", "Off").returncode == 0
    out = run("put", prefix + "enum", "On", "--wait")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{prefix}enum Off -> On"
    out = run("put", prefix + "enum", "3")
    assert out.stdout.strip() == f"{prefix}enum On -> Fault"


def test_put_failures(demo_ioc, prefix):
    out = run("put", prefix + "readonly", "1")
    assert out.returncode == 1 and "read-only" in out.stderr and prefix + "readonly" in out.stderr
    out = run("put", prefix + "enum", "Sideways")
    assert out.returncode == 1 and "not one of the states" in out.stderr
    out = run("put", prefix + "setpoint", "abc")
    assert out.returncode == 1 and "not a number" in out.stderr
    out = run("put", prefix + "slow", "2", "--wait", "--timeout", "1")
    assert out.returncode == 1 and "timeout" in out.stderr


def test_put_array(demo_ioc, prefix):
    out = run("put", prefix + "wave:set", "1", "2", "3")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("-> 3 1 2 3")


def test_info(demo_ioc, prefix):
    out = run("info", prefix + "setpoint", prefix + "enum")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for piece in ("State:            connected", "Native type:      DBR_DOUBLE", "Units:            V",
                  "Precision:        2", "Control limits:   -100 .. 100", "Access:           read/write",
                  "Enum states:      0=Off, 1=Standby, 2=On, 3=Fault", "Timestamp:"):
        assert piece in text
    out = run("info", prefix + "readonly")
    assert "read-only" in out.stdout


def test_monitor_prints_updates_with_timestamps(demo_ioc, prefix):
    out = run("monitor", prefix + "sine", "--count", "5")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 5
    for line in lines:
        name, date, clock, value, *rest = line.split()
        assert name == prefix + "sine" and len(date) == 10 and ":" in clock
        float(value)


def test_monitor_duration_and_missing_pv(demo_ioc, prefix):
    out = run("monitor", "PVPROBE:NO:SUCH", "--timeout", "1", "--duration", "5")
    assert out.returncode == 1 and "not found" in out.stderr


def test_help_and_version():
    out = run("--help")
    assert out.returncode == 0 and "--demo" in out.stdout and "--screenshot" in out.stdout
    for sub in ("get", "put", "info", "monitor", "demo-ioc"):
        assert run(sub, "--help").returncode == 0
    assert run("--version").stdout.startswith("pvprobe ")


SHUTDOWN_SCRIPT = r"""
import sys, time, threading
from pvprobe.ca.engine import Engine
names = sys.argv[1:]
eng = Engine()
got = {}
done = threading.Event()
def on_batch(b):
    for s in b.states:
        if s.value is not None:
            got[s.name] = s
    if len(got) == len(names):
        done.set()
    eng.batch_done()
eng.start(on_batch)
eng.add(names)
assert done.wait(30), f"only {len(got)} of {len(names)} PVs had values"
print("values", len(got), flush=True)
# exit with the worker running and monitors busy: atexit must stop the worker,
# clear the channels and destroy the context without a crash or hang
"""


def test_exit_with_busy_monitors_is_clean(demo_ioc, scalar_names):
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", SHUTDOWN_SCRIPT, *scalar_names],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]   # a segfault would be -11
    assert out.stdout.strip() == f"values {len(scalar_names)}"
    assert "caRepeater" not in out.stderr
    assert time.monotonic() - t0 < 60


def test_demo_ioc_subcommand_runs_in_foreground_and_prints_environment():
    from pvprobe.core.caenv import free_port, loopback_env

    env = dict(os.environ)
    env.update(loopback_env(free_port(), free_port()))
    proc = subprocess.Popen([sys.executable, "-m", "pvprobe", "demo-ioc", "--prefix", "PVPFG:"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            if line.startswith("PVPROBE-DEMO-READY"):
                break
        text = "\n".join(lines)
        assert "PVPROBE-DEMO-READY prefix=PVPFG:" in text
        assert f"export EPICS_CA_SERVER_PORT={env['EPICS_CA_SERVER_PORT']}" in text
        assert "EPICS_CA_MAX_ARRAY_BYTES" in text
    finally:
        proc.terminate()
        proc.wait(10)


def test_max_array_bytes_defaults_to_2_pow_24_and_user_value_is_honoured():
    code = ("import os; from pvprobe.ca.context import ensure_context; ensure_context(start_repeater=False);"
            "print(os.environ['EPICS_CA_MAX_ARRAY_BYTES'])")
    env = {k: v for k, v in os.environ.items() if k != "EPICS_CA_MAX_ARRAY_BYTES"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env)
    assert out.stdout.strip() == str(2 ** 24), out.stderr
    env["EPICS_CA_MAX_ARRAY_BYTES"] = "100000000"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env)
    assert out.stdout.strip() == "100000000"


# -- help and docs agree ------------------------------------------------------------------------
README = str(ROOT / "README.md")


def _parsers() -> dict[str, argparse.ArgumentParser]:
    """Command ("" for the window, "get", ..., "snapshot save", ...) -> its parser."""

    from pvprobe import cli
    from pvprobe.cli import gui

    out = {"": gui.build_parser()}
    out.update({cmd: cli.build_sub_parser(cmd) for cmd in cli.COMMANDS if cmd != "snapshot"})
    for action in cli.build_sub_parser("snapshot")._actions:
        if isinstance(action, argparse._SubParsersAction):
            out.update({f"snapshot {name}": p for name, p in action.choices.items()})
    return out


def _options(parser) -> list[str]:
    """Every option string but -h/--help and --version (checked on their own)."""
    skip = {"-h", "--help", "--version"}
    return [o for a in parser._actions for o in a.option_strings if o not in skip]


def _mentions(text: str, option: str) -> bool:
    import re

    return re.search(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])", text) is not None


def _readme() -> str:
    with open(README, encoding="utf-8") as f:
        return f.read()


def _user_guide(text: str) -> str:
    """The README's user guide: from "## Using it" to the next top-level section after it."""
    start = text.index("## Using it")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _usage_lines(text: str, cmd: str) -> list[str]:
    """README lines that show how to run ``pvprobe CMD``."""
    head = f"pvprobe {cmd} "
    return [ln for ln in text.splitlines() if ln.startswith(head)]


def test_every_subcommand_option_is_on_its_readme_usage_line():
    text = _readme()
    parsers = _parsers()
    assert {"get", "put", "info", "monitor", "demo-ioc", "snapshot save", "snapshot compare",
            "snapshot restore"} <= set(parsers)
    for cmd, parser in parsers.items():
        if not cmd:
            continue
        lines = "\n".join(_usage_lines(text, cmd))
        assert lines, f"README shows no 'pvprobe {cmd}' line"
        missing = [o for o in _options(parser) if not _mentions(lines, o)]
        assert not missing, f"pvprobe {cmd}: {missing} not on its README line"


def test_every_window_option_is_in_the_user_guide():
    guide = _user_guide(_readme())
    missing = [o for o in _options(_parsers()[""]) if not _mentions(guide, o)]
    assert not missing
    for o in ("--help", "-h", "--version"):
        assert _mentions(guide, o), o


def test_every_option_the_readme_names_exists():
    import re

    text = _readme()
    parsers = _parsers()
    known = {o for p in parsers.values() for o in _options(p)} | {"--help", "-h", "--version"}
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", _user_guide(text)))
    assert named and not named - known
    for cmd, parser in parsers.items():
        if not cmd:
            continue
        own = set(_options(parser))
        for line in _usage_lines(text, cmd):
            usage = line.split("#")[0]
            assert set(re.findall(r"(?<![\w-])--?[a-zA-Z][a-z-]*", usage)) <= own, line


def test_help_texts_and_version_are_complete(capsys):
    from pvprobe import __version__, cli
    from pvprobe.cli import gui

    for cmd, parser in _parsers().items():
        for action in parser._actions:
            if action.option_strings:
                assert action.help, f"pvprobe {cmd} {action.option_strings[0]} has no help text"
    epilog = gui.build_parser().epilog
    for cmd in ("get", "put", "info", "monitor", "snapshot", "demo-ioc"):
        assert cmd in epilog
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"pvprobe {__version__}"
    for argv in (["snapshot", "--help"], ["snapshot", "compare", "--help"], ["monitor", "-h"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == 0 and "usage: pvprobe" in capsys.readouterr().out


# -- number options: one rule for every command (issue 13) ----------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["get", "--timeout", "abc", "X:1"], "argument --timeout: 'abc' is not a number"),
    (["get", "--timeout", "0", "X:1"], "argument --timeout: must be > 0"),
    (["get", "--timeout", "nan", "X:1"], "argument --timeout: 'nan' is not a finite number"),
    (["info", "--timeout", "inf", "X:1"], "argument --timeout: 'inf' is not a finite number"),
    (["monitor", "--duration", "-1", "X:1"], "argument --duration/-d: must be > 0"),
    (["monitor", "--duration", "abc", "X:1"], "argument --duration/-d: 'abc' is not a number"),
    (["snapshot", "save", "-o", "x.csv", "--timeout", "abc", "X:1"],
     "argument --timeout: 'abc' is not a number"),
    (["snapshot", "compare", "f.csv", "--tolerance", "-1"], "argument --tolerance: must be >= 0"),
    (["snapshot", "compare", "f.csv", "--tolerance", "inf"],
     "argument --tolerance: 'inf' is not a finite number"),
    (["--tick-hz", "abc"], "argument --tick-hz: 'abc' is not a number"),
    (["--quit-after", "inf"], "argument --quit-after: 'inf' is not a finite number"),
    (["--quit-after", "1e10"], "argument --quit-after: at most 2147483 s (24 days), not 1e10"),
])
def test_number_options_refuse_bad_values_with_a_clear_message(capsys, argv, message):
    """Seconds, rates and tolerances: a number, finite, > 0 (tolerance >= 0); --quit-after
    within what Qt's timer holds (inf or 1e10 crashed the window with OverflowError).
    Refused by argparse (exit 2) before any PV is touched."""
    from pvprobe import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


GUI_EXIT_SCRIPT = """
import gc, sys
from pvprobe.cli import gui
code = gui.run(gui.build_parser().parse_args(sys.argv[1:]))
print("frozen", gc.get_freeze_count(), "code", code, flush=True)
"""


def test_the_window_leaves_its_heap_frozen_for_the_exit(demo_ioc, scalar_names, tmp_path):
    """Once the window has quit, the process's objects are frozen: the interpreter's
    last full collection at exit does not walk every PV's objects for nothing."""
    lst = tmp_path / "names.txt"
    lst.write_text("\\n".join(scalar_names[:50]) + "\\n")
    env = dict(os.environ, PVPROBE_SETTINGS=str(tmp_path / "settings.ini"), QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", GUI_EXIT_SCRIPT, "--pvlist", str(lst),
                          "--quit-after", "0.5"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    words = out.stdout.split()
    assert words[0] == "frozen" and int(words[1]) > 0 and words[3] == "0", out.stdout
