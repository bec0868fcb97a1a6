"""The command-line twins with pva:// names and mixed CA/PVA lists, run as a user runs
them (``python -m pvprobe ...``), against the p4p test server (tests/pva_server.py) and
the demo IOC (CA)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import NT_PREFIX, SERVERS_DIR

pytestmark = pytest.mark.timeout(120)

P = "pva://" + NT_PREFIX


def run(*args: str, timeout: float = 40, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvprobe", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_get_scalars_enum_arrays_over_pva(pva_nt_server):
    out = run("get", P + "fmt", P + "int", P + "enum", P + "dwave", P + "swave")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{P}fmt 1.23456", f"{P}int 5", f"{P}enum On",
                                       f"{P}dwave 3 1.5 2.5 3.5", f"{P}swave 3 a b c d"]


def test_get_mixed_ca_and_pva_list(pva_nt_server, demo_ioc, prefix):
    out = run("get", prefix + "readonly", P + "fmt", "ca://" + prefix + "readonly")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{prefix}readonly 42", f"{P}fmt 1.23456", f"{prefix}readonly 42"]


def test_default_protocol_option_and_environment(pva_nt_server, demo_ioc, prefix):
    # bare names are PVA with the option, anywhere on the line; ca:// still means CA
    for args in (("--default-protocol", "pva", "get", NT_PREFIX + "fmt", "ca://" + prefix + "readonly"),
                 ("get", NT_PREFIX + "fmt", "--default-protocol=pva", "ca://" + prefix + "readonly")):
        out = run(*args)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == [f"{P}fmt 1.23456", f"{prefix}readonly 42"]
    env = dict(os.environ, PVPROBE_DEFAULT_PROTOCOL="pva")
    out = run("get", NT_PREFIX + "int", env=env)
    assert out.returncode == 0 and out.stdout.strip() == f"{P}int 5", out.stderr
    # the option wins over the environment
    out = run("--default-protocol", "ca", "get", prefix + "readonly", env=env)
    assert out.returncode == 0 and out.stdout.strip() == f"{prefix}readonly 42", out.stderr


def test_default_protocol_bad_value_is_refused(pva_nt_server):
    out = run("--default-protocol", "http", "get", "X")
    assert out.returncode == 2 and "'http' is not one of ca, pva" in out.stderr
    out = run("get", "X", env=dict(os.environ, PVPROBE_DEFAULT_PROTOCOL="tcp"))
    assert out.returncode == 2 and "PVPROBE_DEFAULT_PROTOCOL" in out.stderr
    out = run("get", "--default-protocol")
    assert out.returncode == 2 and "needs a value" in out.stderr
    out = run("get", "--help")
    assert "--default-protocol" in out.stdout and "pva://" in out.stdout


def test_get_table_prints_rows_and_structure_prints_tree(pva_nt_server):
    out = run("get", P + "table", P + "nested")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"{P}table [table 3 rows × 3 columns]"
    assert lines[1].split() == ["Name", "Position", "Count"]
    assert [ln.split() for ln in lines[2:5]] == [["x", "1.5", "1"], ["y", "-2", "2"], ["z", "0.25", "3"]]
    assert lines[5] == f"{P}nested <my:custom/Thing:1.0>"
    tree = [ln.split() for ln in lines[6:]]
    assert ["serial", "string", "SN-42"] in tree
    assert ["motor", "structure"] in tree and ["pos", "double", "3.25"] in tree
    assert ["high", "double", "11"] in tree and ["samples", "int[]", "[3]", "1", "2", "3"] in tree
    # nesting is shown by indentation
    motor = next(ln for ln in lines if ln.strip().startswith("motor"))
    pos = next(ln for ln in lines if ln.strip().startswith("pos "))
    assert len(pos) - len(pos.lstrip()) > len(motor) - len(motor.lstrip())


def test_get_union_and_variant_show_their_member(pva_nt_server):
    out = run("get", P + "union", P + "variant")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"{P}union hello"
    assert lines[1].split() == ["value", "union", "hello"]
    assert f"{P}variant 2.5" in lines


def test_get_json_has_protocol_type_id_table_and_tree(pva_nt_server, demo_ioc, prefix):
    out = run("get", "--json", P + "ai", P + "table", P + "nested", P + "nd:lz4", prefix + "readonly")
    assert out.returncode == 0, out.stderr
    ai, table, nested, frame, ca = json.loads(out.stdout)
    assert ai["protocol"] == "pva" and ai["type_id"] == "epics:nt/NTScalar:1.0"
    assert ai["units"] == "mm" and isinstance(ai["value"], float)
    assert table["type_id"] == "epics:nt/NTTable:1.0"
    assert table["table"]["labels"] == ["Name", "Position", "Count"]
    assert table["table"]["columns"]["Position"] == [1.5, -2.0, 0.25]
    assert {"depth": 1, "field": "pos", "type": "double", "value": 3.25} in nested["tree"]
    assert frame["frame"]["codec"] == "lz4" and frame["frame"]["width"] == 37
    assert frame["frame"]["height"] == 23 and frame["frame"]["frame_error"] == ""
    assert ca["protocol"] == "ca" and ca["type_id"] is None


def test_get_frame_that_cannot_be_decoded_says_why(pva_nt_server):
    out = run("get", P + "nd:plain", P + "nd:liar", P + "nd:unknown")
    assert out.returncode == 1
    assert out.stdout.splitlines() == [f"{P}nd:plain [NTNDArray 37×23 Mono UInt16, none, uniqueId 7]"]
    assert f"{P}nd:liar: frame not decoded:" in out.stderr and "uncompressedSize" in out.stderr
    assert f"{P}nd:unknown: frame not decoded: unknown codec 'snappy9'" in out.stderr
    assert "Traceback" not in out.stderr


def test_get_missing_pva_name_fails_within_timeout(pva_nt_server):
    out = run("get", "--timeout", "1", P + "fmt", "pva://PVPNT:no:such", timeout=20)
    assert out.returncode == 1
    assert out.stdout.strip() == f"{P}fmt 1.23456"
    assert "pva://PVPNT:no:such" in out.stderr and "not found" in out.stderr


def test_info_prints_type_id_field_tree_access_and_server(pva_nt_server):
    out = run("info", P + "ai")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Type id:          epics:nt/NTScalar:1.0" in text
    assert "Protocol:         pvAccess" in text
    assert "write unknown until tried" in text
    # the server that answered a name search (the p4p server's TCP port), right after the type id
    server = f"    Server:           127.0.0.1:{pva_nt_server.port}"
    lines = text.splitlines()
    assert server in lines and lines[lines.index(server) - 1].startswith("    Type id:")
    assert "Host:" not in text and "DBR_" not in text
    assert "Units:            mm" in text and "Precision:        3" in text
    assert "Description:      counting position" in text
    rows = [ln.split() for ln in text.split("Fields:", 1)[1].splitlines()]
    assert ["display", "structure"] in rows and ["units", "string", "mm"] in rows
    assert ["highAlarmLimit", "double", "9"] in rows
    assert any(r[:2] == ["value", "double"] and len(r) == 3 for r in rows)


def test_info_of_a_frame_shows_its_summary_not_its_pixels(pva_nt_server):
    out = run("info", P + "nd:lz4")
    assert out.returncode == 0, out.stderr
    assert "    Value:            [NTNDArray 37×23 Mono UInt16, lz4, uniqueId 10]" in out.stdout
    assert "1003" not in out.stdout.split("Fields:")[0]
    rows = [ln.split() for ln in out.stdout.split("Fields:", 1)[1].splitlines()]
    assert ["name", "string", "lz4"] in rows and ["uniqueId", "int", "10"] in rows


def test_info_of_table_alarm_message(pva_nt_server):
    out = run("info", P + "table", P + "alarmed")
    assert out.returncode == 0, out.stderr
    assert "Type id:          epics:nt/NTTable:1.0" in out.stdout
    table = out.stdout.split("\n    Table:\n", 1)[1].splitlines()
    assert table[0].split() == ["Name", "Position", "Count"] and table[1].split() == ["x", "1.5", "1"]
    assert "Severity:         MAJOR" in out.stdout and "Status:           overheated" in out.stdout


def test_put_applies_and_prints_old_and_new(pva_nt_restartable):
    pv = "pva://" + pva_nt_restartable[0].prefix
    out = run("put", pv + "int", "42")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{pv}int 5 -> 42"
    out = run("put", pv + "enum", "Fault")
    assert out.returncode == 0 and out.stdout.strip() == f"{pv}enum On -> Fault", out.stderr
    out = run("put", pv + "dwave", "4", "5")
    assert out.returncode == 0 and out.stdout.strip() == f"{pv}dwave 3 1.5 2.5 3.5 -> 2 4 5", out.stderr
    out = run("put", pv + "swave", "x y", "z")
    assert out.returncode == 0 and out.stdout.strip() == f"{pv}swave 3 a b c d -> 2 x y z", out.stderr
    out = run("get", pv + "int", pv + "enum")
    assert out.stdout.splitlines() == [f"{pv}int 42", f"{pv}enum Fault"]


def test_refused_put_prints_the_servers_message_and_fails(pva_nt_server):
    out = run("put", P + "refuse", "3")
    assert out.returncode == 1
    assert "interlocked: beam on" in out.stderr
    out = run("put", P + "ro", "3")
    assert out.returncode == 1 and "Put not supported" in out.stderr
    out = run("put", P + "int", "abc")
    assert out.returncode == 1 and "'abc' is not a number" in out.stderr
    out = run("get", P + "refuse", P + "ro", P + "int")
    assert out.stdout.splitlines() == [f"{P}refuse 5", f"{P}ro 5", f"{P}int 5"]


def test_monitor_prints_updates_of_pva_and_ca(pva_nt_server, demo_ioc, prefix):
    out = run("monitor", "--duration", "3", P + "ai", P + "table", prefix + "sine", timeout=40)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sum(ln.startswith(prefix + "sine ") for ln in lines) >= 2, lines
    ai = [ln for ln in lines if ln.startswith(P + "ai ")]
    assert len(ai) >= 4, lines
    values = [float(ln.split()[-1]) for ln in ai]
    assert values == sorted(values) and len(set(values)) == len(values)   # counting at 10 Hz
    assert any(ln.startswith(P + "table ") and "[table 3 rows × 3 columns]" in ln for ln in lines)


def test_snapshot_save_compare_restore_mixed_list(pva_nt_restartable, demo_ioc, prefix, tmp_path):
    pv = "pva://" + pva_nt_restartable[0].prefix
    names = [pv + "int", pv + "enum", pv + "dwave", pv + "swave", prefix + "setpoint"]
    snap = tmp_path / "s.csv"
    out = run("snapshot", "save", "-o", str(snap), *names)
    assert out.returncode == 0, out.stderr
    text = snap.read_text()
    for n in names:
        assert n in text
    # change the PVA values, then compare and restore
    for args in (("int", "77"), ("enum", "Off"), ("dwave", "9"), ("swave", "q")):
        assert run("put", pv + args[0], args[1]).returncode == 0
    out = run("snapshot", "compare", str(snap))
    assert out.returncode == 1
    different = {ln.split()[0] for ln in out.stdout.splitlines() if " different:" in ln}
    assert different == {pv + "int", pv + "enum", pv + "dwave", pv + "swave"}, out.stdout
    out = run("snapshot", "restore", "--yes", str(snap))
    assert out.returncode == 0, out.stderr
    out = run("snapshot", "compare", str(snap))
    assert out.returncode == 0, out.stdout + out.stderr
    out = run("get", pv + "int", pv + "enum", pv + "swave")
    assert out.stdout.splitlines() == [f"{pv}int 5", f"{pv}enum On", f"{pv}swave 3 a b c d"]


def test_snapshot_restore_reports_refused_pva_put(pva_nt_server, tmp_path):
    snap = tmp_path / "s.csv"
    out = run("snapshot", "save", "-o", str(snap), P + "refuse")
    assert out.returncode == 0, out.stderr
    snap.write_text(snap.read_text().replace(",5,", ",6,"))
    out = run("snapshot", "restore", "--yes", str(snap))
    assert out.returncode == 1
    assert "interlocked: beam on" in out.stderr


def test_snapshot_of_pva_only_types_and_alarm_message_round_trips(pva_nt_restartable, tmp_path):
    """uint64 (more digits than a double), boolean and ushort values and a PVA alarm
    message are written, read back, compared and restored exactly."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pva_server", SERVERS_DIR / "pva_server.py")
    srv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(srv)
    pv = "pva://" + pva_nt_restartable[0].prefix
    names = [pv + "u64", pv + "flag", pv + "u16", pv + "alarmed"]
    snap = tmp_path / "s.csv"
    out = run("snapshot", "save", "-o", str(snap), *names)
    assert out.returncode == 0, out.stderr
    rows = {ln.split(",")[0]: ln.split(",") for ln in snap.read_text().splitlines()[2:]}
    assert rows[pv + "u64"][1] == str(srv.BIG_U64) and rows[pv + "u64"][5] == "UINT64"
    assert rows[pv + "alarmed"][2:4] == ["MAJOR", srv.ALARM_MESSAGE]
    for name, value in (("u64", "1"), ("flag", "0"), ("u16", "3")):
        assert run("put", pv + name, value).returncode == 0
    out = run("snapshot", "compare", str(snap))
    assert out.returncode == 1, out.stderr
    assert {ln.split()[0] for ln in out.stdout.splitlines()} == {pv + "u64", pv + "flag", pv + "u16"}
    out = run("snapshot", "restore", "--yes", "--pv", pv + "u64", pv + "flag", pv + "u16", "--", str(snap))
    assert out.returncode == 0, out.stderr
    out = run("get", "--json", pv + "u64", pv + "u16")
    assert [d["value"] for d in json.loads(out.stdout)] == [srv.BIG_U64, 65000]


def test_snapshot_save_refuses_tables_structures_and_images_with_a_reason(pva_nt_server, tmp_path):
    snap = tmp_path / "s.csv"
    out = run("snapshot", "save", "-o", str(snap), P + "fmt", P + "table", P + "nested", P + "nd:plain")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    for n, tid in (("table", "NTTable"), ("nested", "my:custom/Thing"), ("nd:plain", "NTNDArray")):
        assert f"{P}{n}: not saved: a pvAccess " in out.stderr and tid in out.stderr
    assert "1 PVs saved, 0 not connected, 3 not savable" in out.stderr
    text = snap.read_text()
    assert P + "fmt" in text and P + "table" not in text


def test_default_protocol_reaches_the_gui_names():
    """``pvprobe --default-protocol pva NAME`` (the GUI entry): the option is taken before
    the GUI's parser, names are parsed with it, and it wins over a saved GUI setting
    (in process: no window opened)."""
    from pvprobe.cli import gui, take_default_protocol
    from pvprobe.core import pvnames

    try:
        argv, problem = take_default_protocol(["--default-protocol", "pva", "X:a", "ca://X:b",
                                               "pva://X:c"])
        assert problem is None and argv == ["X:a", "ca://X:b", "pva://X:c"]
        names, ok = gui._gui_names(gui.build_parser().parse_args(argv), None)
        assert ok and names == ["pva://X:a", "X:b", "pva://X:c"]
        assert pvnames.default_protocol_given()
        assert "--default-protocol" in gui.build_parser().format_help()
    finally:
        pvnames.reset_default_protocol()


def test_monitor_says_no_time_and_put_to_a_table_is_refused(pva_nt_server):
    out = run("monitor", "--count", "1", "--duration", "20", P + "notime", timeout=40)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{P}notime (no time) 4.5"]
    out = run("put", P + "table", "1")
    assert out.returncode == 1
    assert "puts to a pvAccess epics:nt/NTTable:1.0 are not supported" in out.stderr
    out = run("snapshot", "--help")
    assert "--default-protocol" in out.stdout


def test_list_prints_the_servers_own_channel_lists(pva_nt_server, qsrv_ioc):
    """``pvprobe list``: like pvxlist, the names each pvxs server lists (its ``server``
    PV), from the servers a discovery ping finds or those named with --server."""
    from conftest import PVA_PORTS, QSRV_PREFIX, free_port

    nt, qsrv = f"127.0.0.1:{PVA_PORTS['nt'][0]}", f"127.0.0.1:{PVA_PORTS['qsrv'][0]}"
    out = run("list", "--server", nt)
    assert out.returncode == 0, out.stderr
    names = out.stdout.splitlines()
    assert NT_PREFIX + "ai" in names and names == sorted(names) and all(n.startswith(NT_PREFIX) for n in names)
    # discovery where the client searches (the session's EPICS_PVA_ADDR_LIST)
    out = run("list", "--servers", "--timeout", "1")
    assert out.returncode == 0 and {nt, qsrv} <= set(out.stdout.splitlines()), out.stderr
    out = run("list", "--timeout", "1")
    assert NT_PREFIX + "ai" in out.stdout.splitlines() and QSRV_PREFIX + "temp" in out.stdout.splitlines()
    out = run("list", "-v", "--server", qsrv)
    assert out.returncode == 0 and out.stdout.startswith(f"# From {qsrv} (")
    # a server that is not there: said by address, status 1; a bad address: status 2
    gone = f"127.0.0.1:{free_port()}"
    out = run("list", "--server", nt, "--server", gone, "--timeout", "1")
    assert out.returncode == 1 and NT_PREFIX + "ai" in out.stdout
    assert f"pvprobe list: {gone}: cannot connect" in out.stderr
    out = run("list", "--server", "pva://x")
    assert out.returncode == 2 and "is not host:port" in out.stderr
