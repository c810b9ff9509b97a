"""The experiment harness against a plain process pool driving the same model.

Anchors (each a child process driving ``simulate`` on the reference baseline, outcomes
returned to the parent, nothing written):

* ``pool``: ``multiprocessing.Pool(jobs)`` mapping ``simulate`` over the replications in
  chunks of 50: the leanest harness there is, the floor any harness is measured against;
* ``ema``: EMA Workbench's ``MultiprocessingEvaluator(n_processes=jobs)`` running one
  experiment per replication (the issue's anchor; EMA Workbench 3 needs Python >= 3.12, so
  this is the 2.5.x the test extra installs on 3.11; skipped if it is not importable).
Ours: ``python -m scenario_sim run --sets baseline -n N --jobs J`` end to end, writing its
results folder.  Both are run as child processes, alternately, ``--rounds`` times; the
figures are wall time and CPU time (user + system of the process and its children), and
the ratio ours / anchor of each.  On a shared machine the CPU ratio is the steadier one.

Usage: python benchmarks/bench_harness.py [--reps 2000] [--jobs 2] [--rounds 2] [--anchors pool,ema]
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


ANCHOR_EMA = r"""
import sys

from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate

_model = {}


def replication(replication=0, path=""):
    if path not in _model:  # once per worker process
        loaded = load_scenario(path)
        _model[path] = (compile_scenario(loaded.baseline), loaded.baseline.seed)
    model, seed = _model[path]
    return simulate(model, seed, int(replication)).outcomes


if __name__ == "__main__":
    from ema_workbench import Constant, IntegerParameter, Model, MultiprocessingEvaluator, ScalarOutcome, Scenario

    path, reps, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    loaded = load_scenario(path)
    model = Model("reference", function=replication)
    model.uncertainties = [IntegerParameter("replication", 0, reps - 1)]
    model.constants = [Constant("path", path)]
    model.outcomes = [ScalarOutcome(o.name) for o in compile_scenario(loaded.baseline).outcomes]
    with MultiprocessingEvaluator(model, n_processes=jobs) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=[Scenario(f"r{r}", replication=r)
                                                                         for r in range(reps)])
    assert len(experiments) == reps
"""

LABELS = {"pool": "anchor: multiprocessing.Pool over simulate",
          "ema": "anchor: EMA Workbench MultiprocessingEvaluator", "ours": "scenario-sim run --sets baseline"}


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child and its descendants)."""
    before = os.times()
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    if r.returncode != 0:  # progress bars go to stderr too: shown only when the command failed
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--anchors", default="pool,ema", help="comma-separated: pool, ema")
    args = ap.parse_args()
    scenario = str(ROOT / "scenarios" / "reference.yaml")
    anchors = {"pool": ANCHOR, "ema": ANCHOR_EMA}
    chosen = [a for a in args.anchors.split(",") if a]
    if "ema" in chosen and subprocess.run([sys.executable, "-c", "import ema_workbench"],
                                          capture_output=True).returncode != 0:
        print("ema_workbench is not importable: the ema anchor is skipped")
        chosen.remove("ema")
    times: dict[str, list[tuple[float, float]]] = {a: [] for a in [*chosen, "ours"]}
    with tempfile.TemporaryDirectory() as tmp:
        for a in chosen:
            (Path(tmp) / f"{a}.py").write_text(anchors[a])
        for k in range(args.rounds):
            for a in chosen:
                times[a].append(timed([sys.executable, str(Path(tmp) / f"{a}.py"), scenario, str(args.reps),
                                       str(args.jobs)]))
            times["ours"].append(timed([sys.executable, "-m", "scenario_sim", "run", scenario, "--sets", "baseline",
                                        "-n", str(args.reps), "--jobs", str(args.jobs), "--out", f"{tmp}/r{k}",
                                        "--format", "csv"]))
    med = statistics.median
    wall = {a: med(w for w, _ in v) for a, v in times.items()}
    cpu = {a: med(c for _, c in v) for a, v in times.items()}
    print(f"reference baseline, {args.reps} replications, {args.jobs} processes, {args.rounds} rounds (medians)")
    for a in times:
        print(f"  {LABELS[a]:48s} wall {wall[a]:6.2f} s, CPU {cpu[a]:6.2f} s")
    for a in chosen:
        print(f"  ours / {a}: wall {wall['ours'] / wall[a]:.2f}x, CPU {cpu['ours'] / cpu[a]:.2f}x (goal <= 0.9x)")

if __name__ == "__main__":
    main()
