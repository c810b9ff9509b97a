"""The experiment harness against a plain process pool driving the same model.

Anchor: ``multiprocessing.Pool(jobs)`` mapping ``simulate`` over the replications of the
reference baseline (chunks of 50, outcomes returned to the parent), which is what EMA
Workbench's ``MultiprocessingEvaluator`` amounts to for this model (EMA Workbench 3 needs
Python >= 3.12; this environment has 3.11, so the pool is the anchor the issue allows).
Ours: ``python -m scenario_sim run --sets baseline -n N --jobs J`` end to end, writing its
results folder.  Both are run as child processes, alternately, ``--rounds`` times; the
figures are wall time and CPU time (user + system of the process and its children), and
the ratio ours / anchor of each.  On a shared machine the CPU ratio is the steadier one.

Usage: python benchmarks/bench_harness.py [--reps 2000] [--jobs 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ANCHOR = r"""
import sys
from multiprocessing import Pool

from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate

_model = None


def init(path):
    global _model
    loaded = load_scenario(path)
    _model = (compile_scenario(loaded.baseline), loaded.baseline.seed)


def run(chunk):
    model, seed = _model
    return [simulate(model, seed, r).outcomes for r in chunk]


if __name__ == "__main__":
    path, reps, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    chunks = [range(k, min(k + 50, reps)) for k in range(0, reps, 50)]
    with Pool(jobs, initializer=init, initargs=(path,)) as pool:
        rows = [row for part in pool.imap(run, chunks) for row in part]
    assert len(rows) == reps
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child and its descendants)."""
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    scenario = str(ROOT / "scenarios" / "reference.yaml")
    ours_w, ours_c, anchor_w, anchor_c = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "anchor.py"
        script.write_text(ANCHOR)
        for k in range(args.rounds):
            w, c = timed([sys.executable, str(script), scenario, str(args.reps), str(args.jobs)])
            anchor_w.append(w)
            anchor_c.append(c)
            w, c = timed([sys.executable, "-m", "scenario_sim", "run", scenario, "--sets", "baseline",
                          "-n", str(args.reps), "--jobs", str(args.jobs), "--out", f"{tmp}/r{k}", "--format", "csv"])
            ours_w.append(w)
            ours_c.append(c)
    med = statistics.median
    print(f"reference baseline, {args.reps} replications, {args.jobs} processes, {args.rounds} rounds (medians)")
    print(f"  anchor (multiprocessing.Pool over simulate): wall {med(anchor_w):.2f} s, CPU {med(anchor_c):.2f} s")
    print(f"  scenario-sim run --sets baseline:           wall {med(ours_w):.2f} s, CPU {med(ours_c):.2f} s")
    print(f"  ours / anchor: wall {med(ours_w) / med(anchor_w):.2f}x, CPU {med(ours_c) / med(anchor_c):.2f}x "
          "(goal <= 0.9x)")


if __name__ == "__main__":
    main()
