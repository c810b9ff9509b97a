"""Benchmark of ``scenario-sim frontier``: 128 bundles x 200 replications (issue 12.2).

Runs the frontier of the reference's seven single sets (2^7 = 128 bundles, the baseline
included) with 200 replications each on common random numbers, and prints the wall time of
the run, of the analysis (frontier, budgets, interactions, plot) and, as the yardstick measured
in the same process, of a plain run of the baseline alone at the same replications (so the
ratio to "128 sets' worth of that" is a figure that the machine's load does not set).

    python benchmarks/bench_frontier.py [--reps 200] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from scenario_sim.analysis.frontier import analyse, write_outputs
from scenario_sim.bundled import resolve
from scenario_sim.experiment import make_executor, plan_experiment, run_experiment, run_plan
from scenario_sim.lang import load_scenario
from scenario_sim.lang.bundles import bundle_scenario

ITEMS = ["readiness_on_contact", "accelerated_deliveries", "logistics_monitoring", "civil_defense_on_contact",
         "infrastructure_protection", "stronger_sanctions", "expose_smokescreen"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    ref = resolve(None)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        loaded = load_scenario(ref)
        bundled, members = bundle_scenario(loaded, ITEMS)
        plan = plan_experiment(bundled, replications=a.reps, sets=list(members)[1:], out=tmp, timeseries=False)
        t_plan = time.perf_counter() - t0
        res = run_plan(plan, make_executor("process", a.jobs))
        if res.failures:
            raise SystemExit(f"{res.failures} replications failed: {res.manifest.failures.first[0].error}")
        t_run = time.perf_counter() - t0 - t_plan
        import json

        (res.run_dir / "frontier.json").write_text(json.dumps({
            "format": "scenario-sim-frontier", "format_version": 1, "items": ITEMS, "outcome": "civilian_harm",
            "budgets": None, "bundles": members}))
        t1 = time.perf_counter()
        f = analyse(res.run_dir)
        write_outputs(res.run_dir, f)
        t_an = time.perf_counter() - t1
        t2 = time.perf_counter()
        run_experiment(ref, replications=a.reps, sets=[], executor=make_executor("process", a.jobs),
                       out=Path(tmp) / "base")
        t_base = time.perf_counter() - t2
        on = int(f.bundles["on_frontier"].sum())
        sig = int(f.interactions["significant"].sum())
    print(f"frontier: {len(members)} bundles x {a.reps} replications, {a.jobs} jobs")
    print(f"  plan (load, bundle, validate): {t_plan:.1f} s; run: {t_run:.1f} s; analysis + plot: {t_an:.1f} s; "
          f"total {t_plan + t_run + t_an:.1f} s")
    print(f"  baseline alone at {a.reps} replications: {t_base:.1f} s; run / (128 x that) = "
          f"{t_run / (len(members) * t_base):.2f}")
    print(f"  {on} bundles on the Pareto frontier; {sig} of {len(f.interactions)} pairs interact beyond noise")


if __name__ == "__main__":
    main()
