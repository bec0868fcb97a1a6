"""A lean table of PVA rows: the rows on screen are monitored, the others parked (their
channel alone, read in turn); scrolling swaps which. Real p4p test server, real table."""

from __future__ import annotations

import pytest
from conftest import NT_PREFIX

from pvprobe.qt.table.table_widget import PVTableWidget

pytestmark = pytest.mark.timeout(120)

NAMES = ["fmt", "int", "u16", "flag", "enum", "alarmed", "notime", "ai"]


def test_rows_on_screen_are_monitored_the_others_parked(qtbot, bridge, pva_nt_server, monkeypatch):
    import pvprobe.pva.fast as fast

    monkeypatch.setenv("PVPROBE_PVA_FAST", "big")
    monkeypatch.setattr(fast, "PARKED_REFRESH_S", 0.5)
    bridge.lean_threshold = 4            # lean before the rows are added, as at 25,000
    table = PVTableWidget(bridge)
    qtbot.addWidget(table)
    table.resize(700, 150)               # a few rows on screen
    table.show()
    names = [f"pva://{NT_PREFIX}{n}" for n in NAMES]
    table.add_pvs(names)
    assert bridge.lean
    model = table.model
    qtbot.waitUntil(lambda: all(model.state_of(n) is not None and model.state_of(n).connected
                                and model.state_of(n).value is not None for n in names), timeout=20000)
    src = bridge.engine.source.sources["pva"]

    def parked() -> set:
        slots = src.fast.parked
        return {f"pva://{link.wire}" for link in src._links.values() if link.fast in slots}

    def settled() -> bool:
        shown = set(table.visible_names())
        return bool(shown) and len(shown) < len(names) and parked() == set(names) - shown
    qtbot.waitUntil(settled, timeout=10000)
    assert names[0] in table.visible_names() and names[-1] in parked()
    # a parked row's values still come (the rotation): ai counts at 10 Hz
    ai = names[-1]
    t0 = model.state_of(ai).timestamp
    qtbot.waitUntil(lambda: model.state_of(ai).timestamp > t0, timeout=10000)

    table.view.scrollToBottom()
    qtbot.waitUntil(lambda: ai in table.visible_names() and settled(), timeout=10000)
    assert names[0] in parked() and ai not in parked()
    table.close_pvs()
