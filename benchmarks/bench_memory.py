"""Resident memory of an engine process per PV.

Each figure comes from its own engine-worker process (clients.py memory):
RSS after ``Engine()`` (libca loaded, context created: the baseline), then with
every PV subscribed and holding a value (static ``ai`` records).

* 20,000 PVs from one IOC;
* 100,000 PVs from 5 IOCs x 20,000, each on its own port; the client's
  EPICS_CA_ADDR_LIST lists every ``127.0.0.1:port``.

KB per PV = (RSS with PVs - baseline) / N. Target: < 5 KB/PV. One JSON line.
"""

from __future__ import annotations

import argparse

from common import Bench, emit, log

TARGET_KB_PER_PV = 5.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-ioc", type=int, default=20000)
    ap.add_argument("--iocs", type=int, default=5)
    a = ap.parse_args()
    res: dict = {"bench": "memory", "per_ioc": a.per_ioc, "iocs": a.iocs,
                 "target_kb_per_pv_max": TARGET_KB_PER_PV}
    with Bench() as b:
        iocs, lists = [], []
        for k in range(a.iocs):
            ioc, names = b.ioc(f"BM{k}:ai:", a.per_ioc, "static", name=f"mem{k}")
            iocs.append(ioc)
            lists.append(names)
        one = b.write_list(lists[0], "one.txt")
        every = b.write_list([n for lst in lists for n in lst], "all.txt")
        tmo = 60 + a.per_ioc * a.iocs / 1000

        log(f"engine with {a.per_ioc} PVs (1 IOC)")
        r1 = b.run_client("memory", {"list": str(one), "connect_timeout": tmo}, b.client_env(iocs[:1]),
                          tmo + 60)
        log(r1)
        log(f"engine with {a.per_ioc * a.iocs} PVs ({a.iocs} IOCs)")
        r5 = b.run_client("memory", {"list": str(every), "connect_timeout": tmo}, b.client_env(iocs),
                          tmo + 60)
        log(r5)
    res.update({
        "baseline_rss_mb": r1.get("rss0_mb"),
        "one_ioc": r1, "all_iocs": r5,
        "kb_per_pv_one_ioc": r1.get("kb_per_pv"), "kb_per_pv_all_iocs": r5.get("kb_per_pv"),
        "targets_met": {k: (v is not None and v < TARGET_KB_PER_PV) for k, v in
                        (("one_ioc", r1.get("kb_per_pv")), ("all_iocs", r5.get("kb_per_pv")))},
    })
    emit(res)


if __name__ == "__main__":
    main()
