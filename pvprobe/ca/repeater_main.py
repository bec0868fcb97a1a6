"""``python -m pvprobe.ca.repeater_main [caproto repeater args]``: caproto's CA
repeater, dying with the process that started it when that asked for it
(:mod:`pvprobe.core.parentdeath`)."""

from __future__ import annotations

import runpy

from pvprobe.core.parentdeath import die_with_parent_from_env

if __name__ == "__main__":
    die_with_parent_from_env()
    runpy.run_module("caproto.commandline.repeater", run_name="__main__", alter_sys=True)
