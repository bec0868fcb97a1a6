"""Phoebus PV Table (.pvs) files: round trips, real-style samples, hostile input."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pvprobe.core import pvs_format
from pvprobe.core.pvnames import PVListError, read_pv_list, write_pv_list
from pvprobe.core.pvs_format import PVSFile, format_pvs, looks_like_pvs, parse_pvs, read_pvs, write_pvs

pytestmark = pytest.mark.timeout(60)

#: As Phoebus writes it (PVTableXMLPersistence, version 3.0), with an array, a
#: comment row, an unselected row and a PV Access name pvprobe cannot use.
PHOEBUS_SAMPLE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<pvtable enable_save_restore="true" version="3.0">
  <timeout>60.0</timeout>
  <pvlist>
    <pv>
      <selected>true</selected>
      <name>DEMO:setpoint</name>
      <tolerance>0.01</tolerance>
      <saved_value_timestamp>2023-11-07 14:03:12.512000000</saved_value_timestamp>
      <saved_value>12.5</saved_value>
      <completion>false</completion>
    </pv>
    <pv>
      <selected>false</selected>
      <name>DEMO:wave:set</name>
      <tolerance>0.1</tolerance>
      <saved_value_timestamp>2023-11-07 14:03:12.512000000</saved_value_timestamp>
      <saved_array_value>
        <item>1.0</item>
        <item>2.0</item>
        <item>3.5</item>
      </saved_array_value>
      <completion>true</completion>
    </pv>
    <pv>
      <selected>true</selected>
      <name># --- motors ---</name>
      <tolerance>0.01</tolerance>
      <saved_value_timestamp/>
      <completion>false</completion>
    </pv>
    <pv>
      <selected>true</selected>
      <name>ca://DEMO:message</name>
      <tolerance>0.01</tolerance>
      <saved_value_timestamp>2023-11-07 14:03:12.512000000</saved_value_timestamp>
      <saved_value>hello &amp; good &lt;bye&gt;</saved_value>
      <completion>false</completion>
    </pv>
    <pv>
      <selected>true</selected>
      <name>pva://DEMO:image</name>
      <tolerance>0.01</tolerance>
      <completion>false</completion>
    </pv>
    <pv>
      <selected>true</selected>
      <name></name>
    </pv>
  </pvlist>
</pvtable>
"""

#: An older CS-Studio file: global tolerance, no save/restore attribute, a legacy readback.
OLD_CSS_SAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<pvtable version="2.0">
  <tolerance>0.5</tolerance>
  <pvlist>
    <pv>
      <selected>true</selected>
      <name>OLD:set</name>
      <saved_value>3</saved_value>
      <saved_value_timestamp>2012-01-01 00:00:00.000</saved_value_timestamp>
      <readback>OLD:rbv</readback>
      <readback_value>2.9</readback_value>
    </pv>
    <pv>OLD:bare</pv>
  </pvlist>
</pvtable>
"""


def test_phoebus_sample(tmp_path):
    path = tmp_path / "table.pvs"
    path.write_text(PHOEBUS_SAMPLE, encoding="utf-8")
    f = read_pvs(path)
    assert f.version == "3.0" and f.timeout == 60.0 and f.save_restore
    assert f.names == ["DEMO:setpoint", "DEMO:wave:set", "DEMO:message", "pva://DEMO:image"]
    assert f.saved == {"DEMO:setpoint": "12.5", "DEMO:wave:set": ["1.0", "2.0", "3.5"],
                       "DEMO:message": "hello & good <bye>"}
    assert f.timestamps["DEMO:setpoint"] == "2023-11-07 14:03:12.512000000"
    wave = f.entries[1]
    assert not wave.selected and wave.completion and wave.tolerance == 0.1
    assert f.rejected == []                       # pva:// names are PVs too (issue 14)


def test_other_schemes_are_rejected():
    text = PHOEBUS_SAMPLE.replace("pva://DEMO:image", "loc://x")
    f = parse_pvs(text.encode())
    assert len(f.rejected) == 1 and "loc:// is not a Channel Access or pvAccess PV" in f.rejected[0][1]


def test_older_css_sample():
    f = parse_pvs(OLD_CSS_SAMPLE.encode())
    assert f.names == ["OLD:set", "OLD:rbv", "OLD:bare"]
    assert f.tolerance == 0.5 and all(e.tolerance == 0.5 for e in f.entries)
    assert f.saved == {"OLD:set": "3", "OLD:rbv": "2.9"}
    assert [e.selected for e in f.entries] == [True, False, True]


def test_save_restore_disabled_ignores_saved_values():
    text = PHOEBUS_SAMPLE.replace('enable_save_restore="true"', 'enable_save_restore="false"')
    f = parse_pvs(text.encode())
    assert f.names == ["DEMO:setpoint", "DEMO:wave:set", "DEMO:message", "pva://DEMO:image"]
    assert f.saved == {}


def test_write_read_round_trip_is_atomic(tmp_path):
    path = tmp_path / "sub" / "out.pvs"
    names = ["A:b", "C:d.VAL", "E"]
    saved = {"A:b": 1.25, "C:d.VAL": [1, 2.5, "x<y&z"], "E": "  spaced\r\nline  "}
    write_pvs(path, names, saved, timestamps={"A:b": "2024-01-02 03:04:05.000000000"})
    assert sorted(os.listdir(path.parent)) == ["out.pvs"]  # no temp file left behind
    f = read_pvs(path)
    assert f.names == names
    assert f.saved == {"A:b": "1.25", "C:d.VAL": ["1", "2.5", "x<y&z"], "E": "  spaced\r\nline  "}
    assert f.timestamps == {"A:b": "2024-01-02 03:04:05.000000000"}
    # Overwriting replaces the file whole.
    write_pvs(path, ["Z"])
    assert read_pvs(path).names == ["Z"] and read_pvs(path).saved == {}


def test_write_refuses_invalid_names_and_replaces_unrepresentable_characters(tmp_path):
    with pytest.raises(ValueError, match="invalid PV name"):
        write_pvs(tmp_path / "x.pvs", ["bad name"])
    f = parse_pvs(format_pvs(["A"], {"A": "bell\x07"}).encode())
    assert f.saved == {"A": "bell\ufffd"}


def test_text_pv_list_round_trip_and_detection(tmp_path):
    txt = tmp_path / "list.txt"
    write_pv_list(txt, ["A:1", "B:2"], header="my PVs")
    assert read_pv_list(txt).names == ["A:1", "B:2"]
    assert not looks_like_pvs(txt)
    pvs = tmp_path / "list.xml"
    write_pvs(pvs, ["A:1"])
    assert looks_like_pvs(pvs) and looks_like_pvs(tmp_path / "missing.pvs")


# ----------------------------------------------------------------------------- hostile input

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE pvtable [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<pvtable version="3.0"><pvlist><pv><name>&lol9;</name></pv></pvlist></pvtable>
"""


def test_billion_laughs_refused_quickly(tmp_path):
    path = tmp_path / "bomb.pvs"
    path.write_text(BILLION_LAUGHS)
    # refused at its <!DOCTYPE>, before any entity expands (pytest-timeout bounds it)
    refused = r"a document type declaration \(<!DOCTYPE>\), which is not allowed"
    with pytest.raises(PVListError, match=refused) as exc:
        read_pvs(path)
    assert str(path) in str(exc.value)


def test_doctype_refused_by_the_parser_itself_in_utf16():
    # The byte scan cannot see a UTF-16 declaration; expat's handler refuses it.
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE pvtable [<!ENTITY a "b">]><pvtable/>'
    data = text.encode("utf-16")
    assert b"<!DOCTYPE" not in data
    with pytest.raises(PVListError, match="not allowed"):
        parse_pvs(data)


def test_external_entity_refused_and_file_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET:PV")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file://{secret}">]>'
           f"<pvtable><pvlist><pv><name>&x;</name></pv></pvlist></pvtable>")
    with pytest.raises(PVListError) as exc:
        parse_pvs(xxe.encode())
    assert "SECRET" not in str(exc.value)


def test_refusals_name_what_was_refused(tmp_path):
    path = tmp_path / "dtd.pvs"
    path.write_text('<?xml version="1.0"?><!DOCTYPE pvtable><pvtable/>')
    with pytest.raises(PVListError) as exc:
        read_pvs(path)
    assert str(exc.value) == (f"PV table {path}: contains a document type declaration (<!DOCTYPE>), "
                              "which is not allowed; refusing to parse")


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0" encoding="no-such-codec"?><pvtable/>',     # was a LookupError
    b'<?xml version="1.0" encoding="UTF-32"?><pvtable/>',            # was a ValueError
])
def test_unusable_encodings_are_pvlist_errors(data):
    with pytest.raises(PVListError, match="not a valid XML PV table"):
        parse_pvs(data)


def test_comments_namespaces_and_split_text():
    data = (b'<?xml version="1.0"?><pvtable xmlns="http://example.org/pvtable" version="3.0">'
            b"<!-- pasted from a page that said <!DOCTYPE html> --><pvlist>"
            b"<pv><name>A<!-- c -->B:1</name><saved_value>x<![CDATA[<&>]]>y</saved_value></pv>"
            b"</pvlist></pvtable>")
    f = parse_pvs(data)
    assert f.version == "3.0" and f.names == ["AB:1"] and f.saved == {"AB:1": "x<&>y"}


def test_undeclared_entity_is_an_xml_error():
    with pytest.raises(PVListError, match="not a valid XML PV table"):
        parse_pvs(b"<pvtable><pvlist><pv><name>&nope;</name></pv></pvlist></pvtable>")


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"   \n\t\n", "empty"),
    (PHOEBUS_SAMPLE.encode()[:300], "not a valid XML PV table"),   # truncated
    (bytes(range(256)) * 4, "not a text file"),                    # binary garbage
    (b"\x89PNG\r\n\x1a\n" + b"\xff" * 100, "not a valid XML"),     # binary, no NUL
    (b"<html><body>hi</body></html>", "expected <pvtable>"),
    (b"A:1\nB:2\n", "not a valid XML PV table"),                   # a text list named .pvs
    ("<pvtable><pvlist><pv><name>Caf\u00e9</name></pv></pvlist></pvtable>".encode("latin-1"),
     "not a valid XML PV table"),                                  # latin-1, no declaration
])
def test_corrupt_files_give_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.pvs"
    path.write_bytes(content)
    with pytest.raises(PVListError, match=message) as exc:
        read_pvs(path)
    assert str(path) in str(exc.value)


def test_latin1_with_declaration_is_read():
    data = ('<?xml version="1.0" encoding="ISO-8859-1"?><pvtable><pvlist>'
            '<pv><name>A:1</name><saved_value>Caf\u00e9</saved_value></pv></pvlist></pvtable>').encode("latin-1")
    f = parse_pvs(data)
    assert f.names == ["A:1"] and f.saved == {"A:1": "Caf\u00e9"}


def test_missing_directory_and_huge_files(tmp_path, monkeypatch):
    with pytest.raises(PVListError, match="cannot read PV table .*missing.pvs"):
        read_pvs(tmp_path / "missing.pvs")
    with pytest.raises(PVListError, match="not a regular file"):
        read_pvs(tmp_path)
    huge = tmp_path / "huge.pvs"
    with huge.open("wb") as fh:  # sparse: costs no disk, no memory
        fh.truncate(pvs_format.MAX_PVS_BYTES + 1)
    # refused by its size before a byte is read: the message gives the size stat() saw
    with pytest.raises(PVListError, match=f"is {pvs_format.MAX_PVS_BYTES + 1} bytes, more than"):
        read_pvs(huge)


def test_deep_nesting_is_an_error_not_a_crash():
    data = b"<pvtable>" + b"<a>" * 100000 + b"</a>" * 100000 + b"</pvtable>"
    f = parse_pvs(data)
    assert f.names == []


# ----------------------------------------------------------------------------- properties

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_raise_pvlisterror(data):
    try:
        out = parse_pvs(data)
    except PVListError:
        return
    assert isinstance(out, PVSFile)


_xmlish = st.lists(st.sampled_from(["<pvtable>", "</pvtable>", "<pvlist>", "</pvlist>", "<pv>", "</pv>",
                                    "<name>", "</name>", "<saved_value>", "</saved_value>", "<item>",
                                    "</item>", "<saved_array_value>", "</saved_array_value>",
                                    "<tolerance>", "</tolerance>", "<selected>", "</selected>",
                                    "&amp;", "&lt;", "<!DOCTYPE x>", "<!ENTITY", "A:1", "x y", "#c",
                                    "ca://B", "nan", "1e999", "true", "\u00e9", "\x00"]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_xmlish)
def test_xml_like_text_parses_or_raises_pvlisterror(parts):
    try:
        out = parse_pvs("".join(parts).encode("utf-8"))
    except PVListError:
        return
    for name in out.names:
        assert name and " " not in name


pv_names = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                          blacklist_characters="\"'`{}#"), min_size=1, max_size=40)
xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"),
                                          blacklist_characters="\ufffe\uffff")
                   | st.sampled_from("\t\n\r"), max_size=40)
saved_values = st.one_of(xml_text, st.lists(xml_text, max_size=5))


@settings(max_examples=200, deadline=None)
@given(st.lists(pv_names, min_size=1, max_size=10, unique=True).flatmap(
    lambda names: st.tuples(st.just(names), st.dictionaries(st.sampled_from(names), saved_values))))
def test_write_read_round_trip_property(names_saved):
    names, saved = names_saved
    names = [n for n in names if "://" not in n]
    saved = {k: v for k, v in saved.items() if k in names}
    f = parse_pvs(format_pvs(names, saved).encode("utf-8"))
    assert f.names == names
    assert f.saved == saved


def test_read_names_dispatches_on_file_kind(tmp_path):
    from pvprobe.core.pvs_format import read_names, write_pvs

    txt = tmp_path / "a.txt"
    txt.write_text("# c\nA:1\nB:2\n")
    pvs = tmp_path / "b.pvs"
    write_pvs(pvs, ["C:3", "D:4"])
    assert read_names(txt).names == ["A:1", "B:2"]
    assert read_names(pvs).names == ["C:3", "D:4"]
