"""Peak memory and CPU time of one replication of the reference at several horizons.

Each horizon runs in its own child process, so ``ru_maxrss`` (peak resident memory) is that
replication's alone.  The scenario is edited without validation (``model_copy``), so the
model's own limits are what is measured, not the scenario language's budget.

Usage: python benchmarks/bench_horizon.py [--horizons 365 1460 2190 2920 3650]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = r"""
import resource, sys, time
from scenario_sim.bundled import resolve
from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate
from scenario_sim.model.limits import ModelLimitError
h = int(sys.argv[1])
s = load_scenario(resolve(None)).baseline
s = s.model_copy(update={"horizon_days": h})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.process_time()
try:
    simulate(compile_scenario(s), s.seed, 0)
    what = "ran"
except ModelLimitError as e:
    what = f"refused: {e}"
cpu = time.process_time() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{h:5d} days: peak {after:.0f} MB (+{after - before:.0f} MB over start-up), {cpu:.2f} s CPU; {what}")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizons", type=int, nargs="+", default=[365, 1460, 2190, 2920, 3650])
    args = ap.parse_args()
    for h in args.horizons:
        r = subprocess.run([sys.executable, "-c", CHILD, str(h)], capture_output=True, text=True, check=False)
        print(r.stdout.strip() or r.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
