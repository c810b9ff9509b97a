"""The regime shock's law, chosen without looking at the published test windows (issue 11).

    python benchmarks/regime_law.py RECORDS.csv [-n 200] [--jobs 2]

The regime shock (docs/model.md §4) has its sd measured by ``calibrate`` from the change of
growth between consecutive half-years in the records up to the calibration window's end;
its *law* is chosen by calibrate on the same records (scenario_sim/calibrate/regime.py:
leave one half-year pair out, highest mean log score among triangular, normal and
Student-t).  This script shows both halves of the protocol, on records before the
published test windows (2024-07..2024-12 and 2025-01..2025-06) only:

1. **The choice as each calibration makes it**: calibrate on the half-year ending
   2023-12-31, 2024-06-30 (the training window of the split tested on 2024-H2) and, for the
   shipped reference and the second split, 2024-12-31 and 2025-06-29; each reads only the
   records up to its window's end.  Printed: the pairs' changes, each candidate's mean log
   score, mean CRPS and pairs inside the 90% band, and the law chosen.
2. **A validation split before both test windows**: train 2023-07..2023-12, test
   2024-01..2024-06, through ``backtest()`` (the same code as ``scenario-sim backtest
   --train --test``) with each candidate law forced, and with calibrate's own choice.  Per
   class: test months inside the simulated 90% band, mean monthly CRPS, and the band ratio
   (geometric mean over the months of the band's 95% / 5% quantile; a zero 5% quantile
   counts as 1); and the PIT values in the outer deciles.  Its training records hold only
   2 half-year pairs, so calibrate's own choice there is the fallback (triangular).

Nothing here reads a record after 2024-06-30, except part 1's two later calibrations,
which are the shipped reference's and the second split's own training windows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scenario_sim.backtest.core import BacktestOptions, backtest  # noqa: E402
from scenario_sim.bundled import resolve  # noqa: E402
from scenario_sim.calibrate.command import CalibrationOptions, calibrate_records  # noqa: E402
from scenario_sim.calibrate.records import read_records  # noqa: E402
from scenario_sim.calibrate.regime import REGIME_LAWS  # noqa: E402
from scenario_sim.experiment.executors import make_executor  # noqa: E402

D = dt.date
TRAINING_ENDS = [(D(2023, 7, 1), D(2023, 12, 31)), (D(2024, 1, 1), D(2024, 6, 30)),
                 (D(2024, 7, 1), D(2024, 12, 31)), (D(2025, 1, 1), D(2025, 6, 29))]
VALIDATION = ("2023-07..2023-12", "2024-01..2024-06")
CONTACTS = ROOT / "data" / "leader_contacts_2024-11_2025-06.csv"


def choices(rs: Any) -> None:
    """Part 1: the law each calibration chooses, with the scores behind it."""
    print("== 1. The law each calibration chooses (leave one half-year pair out, records to the window's end)")
    for since, until in TRAINING_ENDS:
        reg = calibrate_records(rs, None, CalibrationOptions(since=since, until=until, n_placebo=100,
                                                             n_boot=100)).data["growth_regimes"]
        changes = ", ".join(f"{c['change']:+.3f} (se {c['sampling_sd']:.3f})" for c in reg.get("changes", []))
        print(f"-- records to {until}: {reg['pairs']} pairs, sd {reg.get('between_log_sd', math.nan):.3f}; "
              f"changes {changes}")
        sel = reg.get("law_selection", {})
        for law, s in sel.get("scores", {}).items():
            print(f"   {law:<10} mean log score {s['log_score']:+.3f}, mean CRPS {s['crps']:.4f}, "
                  f"inside the 90% band {s['inside_90']}/{s['held_out']}")
        print(f"   chosen: {reg.get('law', 'none')} ({sel.get('chosen_by', 'no regime shock')})")


def _band_ratio(rows: list[dict[str, Any]]) -> float:
    logs = [math.log(max(r["sim_q95"], 1.0) / max(r["sim_q05"], 1.0)) for r in rows]
    return math.exp(sum(logs) / len(logs))


def validation(rs: Any, n: int, jobs: int | None) -> None:
    """Part 2: the validation split with each candidate law, and with calibrate's own choice."""
    print(f"\n== 2. Validation split: train {VALIDATION[0]}, test {VALIDATION[1]}, {n} replications")
    for law in ("auto", *REGIME_LAWS):
        o = BacktestOptions(train=VALIDATION[0], test=VALIDATION[1], replications=n, contacts=str(CONTACTS),
                            calibration=CalibrationOptions(regime_law=law))
        result = backtest(resolve("reference"), rs, o, make_executor("process", jobs))
        s, cov = result.summary, result.tables["coverage"]
        cells = []
        for c in s["classes"]:
            rows = [r for r in cov if r["class"] == c]
            crps = sum(r["crps"] for r in rows) / len(rows)
            cells.append(f"{c} {s['coverage'][c]['inside']}/{s['coverage'][c]['months']}, CRPS {crps:.3g}, "
                         f"band ratio {_band_ratio(rows):.3g}")
        chosen = (result.config["fragment"] or {}).get("attacker", {}).get("growth", {}).get(
            "regime_log_shock_per_month", {}).get("dist", "none")
        print(f"-- {law:<10} (drawn: {chosen}): " + "; ".join(cells)
              + f"; PIT outer deciles {s['pit']['outer_deciles']}/{s['pit']['n']}")
    if result.summary["warnings"]:
        print("   warnings: " + " | ".join(result.summary["warnings"]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records", help="the full attack records CSV")
    ap.add_argument("-n", "--replications", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--only", choices=("choices", "validation"), default=None)
    a = ap.parse_args(argv)
    rs = read_records(a.records)
    if a.only != "validation":
        choices(rs)
    if a.only != "choices":
        validation(rs, a.replications, a.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
