"""Explore benchmarks: throughput against `run`, memory against the number of cases, Sobol at N = 256.

Each sub-benchmark prints its figures; BENCHMARKS.md records them with the command.  Ratios are
measured within one invocation (the machine is shared and noisy; absolute seconds vary).

    python benchmarks/bench_explore.py throughput [--cases 500 --reps 40]   # issue 10: <= 5 min, ratio <= 1.1
    python benchmarks/bench_explore.py memory     [--small 100 --large 2000]
    python benchmarks/bench_explore.py sobol      [--n 256 --reps 2 --sets a,b]
    python benchmarks/bench_explore.py ratio      [--cases 40 --reps 40 --rounds 2]   # like for like

``ratio`` is the like-for-like explore/run measurement of issue 10's ratio goal.  Each round
runs the two *commands*, alternately, as a fresh child process each (``python -m scenario_sim
explore reference --cases C -n R --worlds smokescreen --jobs 2 --quiet`` and ``... run reference
-n C*R --jobs 2 --quiet``: the same C*R*9 set-replications), and takes the CPU time of the
command and all its workers from ``os.times()`` (load-independent, unlike wall time), its
wall time and the run's own ``timings.wall_seconds``.  It then splits the ratio in two, in
this process: the *model* at the sampled cases against the model at the central values
(``simulate`` of every set for the same (case seed, replication) pairs, cases alternating
between the two arms so the load hits both alike), which is the cost of the inputs
themselves (faster growth means more munitions), and the rest, explore's own overhead
(patching, validating and compiling each case's scenarios, its bookkeeping, its folder).

``throughput`` runs one world (``smokescreen``), every set, ``--cases`` x ``--reps``, and
``scenario-sim run`` of the same number of set-replications (``cases * reps`` replications of
every set), both on 2 worker processes.
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


def _command(args: list[str], out: str) -> tuple[float, float, float]:
    """(CPU seconds of the command and its workers, wall seconds, the run's own seconds)."""
    before, t0 = os.times(), time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "scenario_sim", *args, "--jobs", "2", "--quiet", "--out", out],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    wall, after = time.perf_counter() - t0, os.times()
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{r.stderr}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    newest = max(Path(out).glob("*/*/manifest.json"), key=lambda p: p.stat().st_mtime)
    return cpu, wall, float(json.loads(newest.read_text())["timings"]["wall_seconds"])


def _model_split(cases: int, reps: int) -> tuple[float, float]:
    """CPU ms a set-replication of the model alone: at the sampled cases, at the central values."""
    from scenario_sim.experiment.ensemble import _payload, case_seed, plan_explore
    from scenario_sim.model.compiled import compile_scenario
    from scenario_sim.model.simulation import simulate

    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_explore(REF, cases=cases, replications=reps, worlds=["smokescreen"], out=tmp)
    payload = _payload(plan.loaded, plan.sets, plan.worlds, plan.inputs, plan.values, reps, plan.seed,
                       [o.name for o in plan.outcomes])
    state = payload.compile()
    central = {n: compile_scenario(plan.loaded.effective(n)) for n in plan.sets}
    cpu = {"case": 0.0, "central": 0.0}
    for c in range(cases):
        models, error = payload.models(state, c, 0)  # built outside the timed loops
        if models is None:
            raise SystemExit(f"case {c}: {error}")
        seed = case_seed(plan.seed, c)
        for arm in (("case", "central") if c % 2 == 0 else ("central", "case")):
            ms = models if arm == "case" else central
            t0 = time.process_time()
            for rep in range(reps):
                for name in plan.sets:
                    simulate(ms[name], seed, rep)
            cpu[arm] += time.process_time() - t0
    n = cases * reps * len(plan.sets)
    return cpu["case"] / n * 1e3, cpu["central"] / n * 1e3


def ratio(cases: int, reps: int, rounds: int) -> None:
    n_sets = len(plan_sets())
    n = cases * reps * n_sets
    arms: dict[str, list[tuple[float, float, float]]] = {"explore": [], "run": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            arms["explore"].append(_command(["explore", REF, "--cases", str(cases), "-n", str(reps),
                                             "--worlds", "smokescreen"], tmp))
            arms["run"].append(_command(["run", REF, "-n", str(cases * reps)], tmp))
    print(f"reference, world smokescreen, {cases} cases x {n_sets} sets x {reps} replications = {n:,} "
          f"set-replications against run -n {cases * reps} ({n:,}), 2 workers, {rounds} alternating rounds")
    med = {}
    for arm, rows in arms.items():
        med[arm] = [statistics.median(r[i] for r in rows) for i in range(3)]
        cpu, wall, own = med[arm]
        print(f"  {arm:8s} CPU {cpu:7.1f} s ({cpu / n * 1e3:.3f} ms a set-replication), wall {wall:6.1f} s, "
              f"the run's own {own:6.1f} s   rounds (CPU): {', '.join(f'{r[0]:.1f}' for r in rows)}")
    total = med["explore"][0] / med["run"][0]
    case_ms, central_ms = _model_split(cases, reps)
    inputs = case_ms / central_ms
    print(f"  explore / run by CPU: {total:.3f} (goal <= 1.1); by wall: {med['explore'][1] / med['run'][1]:.3f}")
    print(f"  the model alone, in this process: {case_ms:.3f} ms at the sampled cases, {central_ms:.3f} ms at the "
          f"central values: the inputs cost {inputs:.3f}x")
    print(f"  explore's own overhead beyond its inputs: {total / inputs:.3f}x run's cost a set-replication")
    print(f"  500 x 9 x 40 at explore's CPU rate on 2 fully used cores: "
          f"{med['explore'][0] / n * 180_000 / 2 / 60:.1f} min (goal <= 5)")


def plan_sets() -> list[str]:
    from scenario_sim.lang import load_scenario

    return load_scenario(REF).set_names


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
    r = sub.add_parser("ratio")
    r.add_argument("--cases", type=int, default=40)
    r.add_argument("--reps", type=int, default=40)
    r.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    if a.what == "throughput":
        throughput(a.cases, a.reps)
    elif a.what == "ratio":
        if min(a.cases, a.reps, a.rounds) < 1:
            raise SystemExit("bench_explore.py ratio: --cases, --reps and --rounds must be at least 1")
        ratio(a.cases, a.reps, a.rounds)
    elif a.what == "memory":
        memory(a.small, a.large)
    else:
        sobol(a.n, a.reps, [x for x in a.sets.split(",") if x] or None)


if __name__ == "__main__":
    main()
