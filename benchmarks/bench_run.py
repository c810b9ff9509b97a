"""Time ``scenario-sim run`` end to end (issue 15: 1,000 replications x 9 sets on 2 cores <= 15 s).

Runs ``python -m scenario_sim run SCENARIO -n N --jobs J -q`` with this tree's package and,
with ``--baseline REV``, with ``git archive REV``'s, alternately, ``--rounds`` times, each
in a fresh child process writing its results folder to a scratch directory.  Reported per
engine: the median wall time, the median CPU time of the command and its workers (user +
system), and the run's own timing from its manifest (``timings.wall_seconds``: the run
itself, without the command's imports, checks and printed ranking; the figure BENCHMARKS.md
quoted as "the run's own timing").  Both
trees run the same scenario file (this tree's, unless ``--scenario``), so the figures
compare the harness and the model, not the scenario.

Usage: python benchmarks/bench_run.py [--reps 1000] [--jobs 2] [--rounds 2] [--baseline REV] [--scenario PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(src: Path, args: list[str], out: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the child and its descendants, the run's own elapsed seconds)."""
    env = dict(os.environ, PYTHONPATH=str(src))
    before = os.times()
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "scenario_sim", "run", *args, "--out", str(out)], cwd=src, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - t0
    after = os.times()
    if r.returncode != 0:
        raise SystemExit(f"run in {src} failed:\n{r.stderr}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    manifests = sorted(out.glob("*/*/manifest.json"), key=lambda p: p.stat().st_mtime)
    if not manifests:
        return wall, cpu, float("nan")
    elapsed = float(json.loads(manifests[-1].read_text())["timings"].get("wall_seconds", float("nan")))
    return wall, cpu, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--baseline", default="", help="git revision to time alternately ('' for this tree only)")
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "reference.yaml"))
    args = ap.parse_args()
    if args.reps < 1 or args.jobs < 1 or args.rounds < 1:
        raise SystemExit("bench_run.py: --reps, --jobs and --rounds must be at least 1")
    scenario = str(Path(args.scenario).resolve())
    if not Path(scenario).is_file():
        raise SystemExit(f"bench_run.py: --scenario: no such file {scenario}")
    cmd = [scenario, "-n", str(args.reps), "--jobs", str(args.jobs), "-q"]
    with tempfile.TemporaryDirectory(prefix="bench_run_") as tmp:
        trees = {"this tree": ROOT}
        if args.baseline:
            old = Path(tmp) / "baseline"
            old.mkdir()
            subprocess.run(f"git -C {ROOT} archive {args.baseline} scenario_sim | tar -x -C {old}", shell=True,
                           check=True)
            trees[args.baseline] = old
        times: dict[str, list[tuple[float, float, float]]] = {k: [] for k in trees}
        for k in range(args.rounds):
            for name, src in trees.items():
                times[name].append(timed(src, cmd, Path(tmp) / f"out-{k}-{len(times[name])}-{name.replace(' ', '_')}"))
                w, c, e = times[name][-1]
                print(f"round {k + 1}: {name}: wall {w:.2f} s, CPU {c:.2f} s, run's own {e:.2f} s", flush=True)
    med = statistics.median
    print(f"{args.reps} replications x every set, --jobs {args.jobs}, {args.rounds} rounds (medians):")
    for name, ts in times.items():
        print(f"  {name}: wall {med(t[0] for t in ts):.2f} s, CPU {med(t[1] for t in ts):.2f} s, "
              f"run's own {med(t[2] for t in ts):.2f} s")
    if args.baseline:
        new, old_t = times["this tree"], times[args.baseline]
        print(f"  this tree / {args.baseline}: wall {med(t[0] for t in new) / med(t[0] for t in old_t):.2f}x, "
              f"CPU {med(t[1] for t in new) / med(t[1] for t in old_t):.2f}x")


if __name__ == "__main__":
    main()
