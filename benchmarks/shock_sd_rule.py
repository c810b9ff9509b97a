"""The regime shock drawn with its predictive sd: principled on the training pairs?  What does it give?

    python benchmarks/shock_sd_rule.py RECORDS.csv [-n 500] [--jobs 2] [--only loo|splits]

The rule (BENCHMARKS.md, Session 13, oos lane, fixed before this script was run): the shock's
sd is the predictive sd of a new change given the pairs it was measured on,
``s·√(ν/(ν−2))`` with ``ν = ⌈pairs/2⌉`` non-overlapping pairs (infinite for ``ν ≤ 2``),
capped at the shared support's limit (``±log 2``, drawn sd ``log 2/√6``).

1. **loo** (training records only): for the records up to each calibration window's end,
   each pair held out in turn is forecast by the law calibrate chose there, once with the sd
   measured on the other pairs (as shipped) and once with the rule's sd from them; mean log
   score and pairs inside the 90% band (calibrate/regime.py's ``forecast_scores``).
2. **splits** (diagnostic, chooses nothing): the two published time splits through
   ``backtest()`` with the rule's sd in the training calibration (``between_sd`` of
   calibrate/estimate.py wrapped), with the self-check.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WINDOW_ENDS = ("2024-06-30", "2024-12-31", "2025-06-29")
SPLITS = (("2024-01..2024-06", "2024-07..2024-12"), ("2024-07..2024-12", "2025-01..2025-06"))


def rule_sd(s: float, pairs: int) -> float:
    """The rule's sd: predictive sd given ``pairs`` overlapping pairs, capped at log 2/√6."""
    from scenario_sim.calibrate.regime import LIMIT

    cap = LIMIT / math.sqrt(6.0)
    nu = math.ceil(pairs / 2)
    return cap if nu <= 2 else min(cap, s * math.sqrt(nu / (nu - 2)))


def loo(records: str) -> None:
    import pandas as pd

    from scenario_sim.calibrate.command import CalibrationOptions, daily_series, usable_rows
    from scenario_sim.calibrate.estimate import growth_regimes
    from scenario_sim.calibrate.records import read_records
    from scenario_sim.calibrate.regime import between_sd, drawn_sd, forecast_scores

    rows = usable_rows(read_records(records), CalibrationOptions())
    classes = sorted(rows["cls"].unique())
    print("| records up to | pairs | law | shipped: mean log score, inside 90%, drawn sd per fold | rule: same |")
    print("|---|---|---|---|---|")
    for end in WINDOW_ENDS:
        e = pd.Timestamp(end)
        g = growth_regimes(daily_series(rows[rows["date"] <= e], classes, rows["date"].min(), e).sum(axis=1))
        d = np.array([c["change"] for c in g["changes"]])
        v = np.array([c["sampling_sd"] for c in g["changes"]]) ** 2
        out: dict[str, Any] = {}
        for arm in ("shipped", "rule"):
            rng = np.random.default_rng(0)
            per, sds = [], []
            for k in range(d.size):
                keep = np.arange(d.size) != k
                s = between_sd(d[keep], v[keep])
                sd = s if arm == "shipped" else rule_sd(s, int(keep.sum()))
                sds.append(drawn_sd(sd))
                per.append(forecast_scores(g["law"], sd, float(d[k]), math.sqrt(v[k]), rng))
            out[arm] = (f"{np.mean([p['log_score'] for p in per]):.4f}, {sum(bool(p['inside_90']) for p in per)}/"
                        f"{d.size}, {' '.join(f'{x:.3f}' for x in sds)}")
        print(f"| {end} | {d.size} | {g['law']} | {out['shipped']} | {out['rule']} |")


def splits(records: str, n: int, jobs: int | None) -> None:
    import scenario_sim.calibrate.estimate as est
    from scenario_sim.backtest.core import BacktestOptions, backtest
    from scenario_sim.bundled import resolve
    from scenario_sim.calibrate.records import read_records
    from scenario_sim.experiment.executors import make_executor

    plain = est.between_sd

    def wrapped(changes: Any, sampling_var: Any) -> float:
        return rule_sd(plain(changes, sampling_var), len(changes))

    est.between_sd = wrapped  # only growth_regimes' between_log_sd (the fragment's shock); the law choice keeps its own
    rs = read_records(records)
    contacts = str(ROOT / "data" / "leader_contacts_2024-11_2025-06.csv")
    for train, test in SPLITS:
        o = BacktestOptions(train=train, test=test, replications=n, contacts=contacts, self_check=True)
        r = backtest(resolve("reference"), rs, o, make_executor("process", jobs))
        s, cov = r.summary, r.tables["coverage"]
        crps = {c: np.mean([x["crps"] for x in cov if x["class"] == c]) for c in s["classes"]}
        ratio = {c: math.exp(np.mean([math.log(max(x["sim_q95"], 1) / max(x["sim_q05"], 1)) for x in cov
                                      if x["class"] == c])) for c in s["classes"]}
        sc = s["self_check"]
        print(f"train {train} test {test}: " + ", ".join(
            f"{c} {v['inside']}/{v['months']} CRPS {crps[c]:.1f} band ratio {ratio[c]:.1f}"
            for c, v in s["coverage"].items())
              + f"; PIT outer {s['pit']['outer_deciles']}/{s['pit']['n']}; leak bins "
                f"{s['targets']['leak_bins_inside']}/{s['targets']['leak_bins_checked']}; "
                f"self-check monthly targets {sc['monthly_targets']:.3f}; "
                f"{s['seconds']['total']:.1f} s")
    est.between_sd = plain


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records")
    ap.add_argument("-n", "--replications", type=int, default=500)
    ap.add_argument("--jobs", type=int)
    ap.add_argument("--only", choices=("loo", "splits"))
    a = ap.parse_args(argv)
    if a.only != "splits":
        loo(a.records)
    if a.only != "loo":
        splits(a.records, a.replications, a.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
