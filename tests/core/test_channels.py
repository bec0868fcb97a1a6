"""Channel addresses: ``ca://NAME``, ``pva://NAME`` and bare names (pvprobe.core.pvnames)."""

from __future__ import annotations

import pytest

from pvprobe.core.pvnames import (
    ChannelName,
    ChannelNameError,
    channel_error,
    format_channel,
    parse_channel,
    split_names,
    strip_scheme,
)


@pytest.mark.parametrize("text,want", [
    ("X:ai", ChannelName("ca", "X:ai")),
    ("ca://X:ai", ChannelName("ca", "X:ai")),
    ("pva://X:image", ChannelName("pva", "X:image")),
    ("PVA://X:image", ChannelName("pva", "X:image")),
    ("  pva://13SIM1:Pva1:Image \n", ChannelName("pva", "13SIM1:Pva1:Image")),
    ("X:ai.VAL", ChannelName("ca", "X:ai.VAL")),
])
def test_parse_channel_splits_protocol_and_name(text, want):
    assert parse_channel(text) == want


def test_bare_names_take_the_default_protocol():
    assert parse_channel("X:img", default="pva") == ChannelName("pva", "X:img")
    assert parse_channel("ca://X:img", default="pva") == ChannelName("ca", "X:img")
    with pytest.raises(ValueError):
        parse_channel("X", default="http")


@pytest.mark.parametrize("text,why", [
    ("", "empty name"),
    ("   ", "empty name"),
    ("pva://", "empty name"),
    ("ca://", "empty name"),
    ("http://X:ai", "unknown protocol 'http'"),
    ("loc://x", "unknown protocol 'loc'"),
    ("pva://X ai", "white space"),
    ("pva://X:ai\x01", "control"),
    ("pva://X\"ai", "contains"),
    ("pva://" + "x" * 300, "longer than"),
])
def test_bad_channel_addresses_say_why(text, why):
    with pytest.raises(ChannelNameError, match=why):
        parse_channel(text)
    assert why in (channel_error(text) or "")


def test_format_channel_round_trips_and_keeps_default_names_bare():
    for text in ("X:ai", "pva://X:img"):
        assert format_channel(parse_channel(text)) == text
    assert format_channel(parse_channel("ca://X:ai")) == "X:ai"
    assert format_channel(ChannelName("ca", "X"), default="pva") == "ca://X"
    assert str(ChannelName("pva", "X")) == "pva://X"
    assert channel_error("pva://X:img") is None


def test_existing_ca_name_handling_is_unchanged():
    assert strip_scheme("ca://X:ai") == "X:ai" and strip_scheme("X:ai") == "X:ai"
    parsed = split_names("ca://A, B; ca://A  C")
    assert parsed.names == ["A", "B", "C"] and parsed.rejected == []
