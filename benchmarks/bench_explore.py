"""Explore benchmarks: throughput against `run`, memory against the number of cases, Sobol at N = 256.

Each sub-benchmark prints its figures; BENCHMARKS.md records them with the command.  Ratios are
measured within one invocation (the machine is shared and noisy; absolute seconds vary).

    python benchmarks/bench_explore.py throughput [--cases 500 --reps 40]   # issue 10: <= 5 min, ratio <= 1.1
    python benchmarks/bench_explore.py memory     [--small 100 --large 2000]
    python benchmarks/bench_explore.py sobol      [--n 256 --reps 2 --sets a,b]

``throughput`` runs one world (``smokescreen``), every set, ``--cases`` x ``--reps``, and
``scenario-sim run`` of the same number of set-replications (``cases * reps`` replications of
every set), both on 2 worker processes.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from peak_memory import measure

from scenario_sim.bundled import resolve
from scenario_sim.experiment import run_experiment
from scenario_sim.experiment.ensemble import explore
from scenario_sim.experiment.executors import LocalPool

REF = resolve(None)


def throughput(cases: int, reps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ex = explore(REF, LocalPool(2), cases=cases, replications=reps, worlds=["smokescreen"], out=tmp)
        te = time.perf_counter() - t0
        n = cases * reps * len(ex.manifest["sets"])
        t0 = time.perf_counter()
        run_experiment(REF, replications=cases * reps, executor=LocalPool(2), out=tmp)
        tr = time.perf_counter() - t0
    print(f"reference, one world, all sets: {cases} cases x {reps} replications = {n} set-replications, 2 workers")
    print(f"  explore: {te:.1f} s ({n / te:.0f} set-replications/s)")
    print(f"  run of {cases * reps} replications x {len(ex.manifest['sets'])} sets: {tr:.1f} s ({n / tr:.0f}/s)")
    print(f"  explore / run = {te / tr:.2f} (goal <= 1.1); at this rate 180,000 set-replications take "
          f"{180_000 / (n / te) / 60:.1f} min (goal <= 5)")


def memory(small: int, large: int) -> None:
    out = []
    for cases in (small, large):
        out.append(measure("explore", cases, 2, REF))
    for o in out:
        print(f"  {o['size']:>5} cases: {o['seconds']:.1f} s, parent peak {o['parent_peak_mb']:.0f} MB, "
              f"largest worker peak {o['worker_peak_mb']:.0f} MB, folder {o['folder_bytes'] / 1e6:.2f} MB")
    a, b = out
    print(f"  parent peak ratio {b['parent_peak_mb'] / a['parent_peak_mb']:.2f}, worker peak ratio "
          f"{b['worker_peak_mb'] / a['worker_peak_mb']:.2f} (goal <= 1.2)")


def sobol(n: int, reps: int, sets: list[str] | None) -> None:
    from scenario_sim.analysis.ensemble import load_ensemble
    from scenario_sim.analysis.sensitivity import sensitivity

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ex = explore(REF, LocalPool(2), cases=n, sampler="sobol", replications=reps, worlds=["smokescreen"],
                     sets=sets, out=tmp)
        te = time.perf_counter() - t0
        m = ex.manifest
        t0 = time.perf_counter()
        sens = sensitivity(load_ensemble(ex.run_dir))
        ta = time.perf_counter() - t0
    ind = sens.indices
    ind = ind[ind["world"] != "all"] if "world" in ind.columns else ind
    d = len(m["explore"]["inputs"])
    print(f"Sobol (Saltelli, N = {n}, D = {d}: {m['explore']['cases']} cases), world smokescreen, "
          f"{len(m['sets'])} sets x {reps} replications: explore {te:.1f} s, SALib analysis {ta:.1f} s")
    for col in ("S1", "ST"):
        width = (ind[f"{col}_high"] - ind[f"{col}_low"]).max()
        print(f"  widest {col} 95% interval: {width:.3f}")
    print(sens.noise.to_string(max_colwidth=40))


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--cases", type=int, default=500)
    t.add_argument("--reps", type=int, default=40)
    m = sub.add_parser("memory")
    m.add_argument("--small", type=int, default=100)
    m.add_argument("--large", type=int, default=2000)
    s = sub.add_parser("sobol")
    s.add_argument("--n", type=int, default=256)
    s.add_argument("--reps", type=int, default=2)
    s.add_argument("--sets", default="")
    a = ap.parse_args()
    if a.what == "throughput":
        throughput(a.cases, a.reps)
    elif a.what == "memory":
        memory(a.small, a.large)
    else:
        sobol(a.n, a.reps, [x for x in a.sets.split(",") if x] or None)


if __name__ == "__main__":
    main()
