"""Explore benchmarks: throughput against `run`, memory against the number of cases, Sobol at N = 256.

Each sub-benchmark prints its figures; BENCHMARKS.md records them with the command.  Ratios are
measured within one invocation (the machine is shared and noisy; absolute seconds vary).

    python benchmarks/bench_explore.py throughput [--cases 500 --reps 40]   # issue 10: <= 5 min, ratio <= 1.1
    python benchmarks/bench_explore.py memory     [--small 100 --large 2000]
    python benchmarks/bench_explore.py sobol      [--n 256 --reps 2 --sets a,b]
    python benchmarks/bench_explore.py ratio      [--cases 40 --reps 40 --rounds 6]   # like for like, timed
    python benchmarks/bench_explore.py callgrind  [--cases 10 --reps 10 --jobs 2]     # like for like, instructions

``ratio`` is the like-for-like explore/run measurement of issue 10's ratio goal.  Each round
runs the two *commands*, one after the other, as a fresh child process each (``python -m
scenario_sim explore reference --cases C -n R --worlds smokescreen --jobs 2 --quiet`` and ``...
run reference -n C*R --jobs 2 --quiet``: the same C*R*9 set-replications), the order turned
every round, and takes the CPU time of the command and all its workers from ``os.times()``,
its wall time and the run's own ``timings.wall_seconds``.  The ratio of each round's pair (two
commands a minute apart share the host's speed of the moment) is printed with the median and
the range over the rounds.  It then splits the ratio in two, in this process: the *model* at
the sampled cases against the model at the central values (``simulate`` of every set for the
same (case seed, replication) pairs, cases alternating between the two arms so the load hits
both alike), which is the cost of the inputs themselves (faster growth means more munitions),
and the rest, explore's own overhead (patching, validating and compiling each case's
scenarios, its bookkeeping, its folder).

``callgrind`` gives the load-independent figure: instructions (valgrind's callgrind,
``--trace-children=yes``, one job so every instruction is counted in one place) of the two
commands on the same set-replications, and of a model child in five arms (see
:data:`MODEL_ARMS`) whose differences are explore's model work at the sampled cases, the same
pairs at the central values, run's model work, and explore's per-point build.  From those it
prints the ratio at the measured size, the inputs' factor, each command's cost beyond the
model a set-replication, explore's own overhead with the model work made equal, and an
extrapolation to 500 x 9 x 40 against ``run -n 20000`` (the fixed start-up from two 1-case
commands).  Slow: 10 x 10 runs ~20 G instructions per arm (minutes each under valgrind).

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


def _spread(xs: list[float]) -> str:
    """Median, range and the rounds' own values of a list of ratios."""
    return (f"median {statistics.median(xs):.3f}, range {min(xs):.3f}-{max(xs):.3f} "
            f"(rounds: {', '.join(f'{x:.3f}' for x in xs)})")


def ratio(cases: int, reps: int, rounds: int) -> None:
    n_sets = len(plan_sets())
    n = cases * reps * n_sets
    arms: dict[str, list[tuple[float, float, float]]] = {"explore": [], "run": []}
    explore_args = ["explore", REF, "--cases", str(cases), "-n", str(reps), "--worlds", "smokescreen"]
    run_args = ["run", REF, "-n", str(cases * reps)]
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(rounds):
            # interleaved, and the order turned each round: a pair shares the host's speed of the moment,
            # and neither command always goes first
            order = (("explore", explore_args), ("run", run_args))
            for arm, args in order if k % 2 == 0 else order[::-1]:
                arms[arm].append(_command(args, tmp))
    print(f"reference, world smokescreen, {cases} cases x {n_sets} sets x {reps} replications = {n:,} "
          f"set-replications against run -n {cases * reps} ({n:,}), 2 workers, {rounds} interleaved rounds")
    for arm, rows in arms.items():
        cpu, wall, own = (statistics.median(r[i] for r in rows) for i in range(3))
        print(f"  {arm:8s} CPU {cpu:7.1f} s ({cpu / n * 1e3:.3f} ms a set-replication), wall {wall:6.1f} s, "
              f"the run's own {own:6.1f} s   rounds (CPU): {', '.join(f'{r[0]:.1f}' for r in rows)}")
    by_cpu = [e[0] / r[0] for e, r in zip(arms["explore"], arms["run"], strict=True)]
    by_wall = [e[1] / r[1] for e, r in zip(arms["explore"], arms["run"], strict=True)]
    total = statistics.median(by_cpu)
    case_ms, central_ms = _model_split(cases, reps)
    inputs = case_ms / central_ms
    print(f"  explore / run by CPU, each round's pair: {_spread(by_cpu)}")
    print(f"  explore / run by wall, each round's pair: {_spread(by_wall)}")
    print(f"  explore / run by CPU: {total:.3f} (goal <= 1.1; the median pair); by wall: "
          f"{statistics.median(by_wall):.3f}")
    print(f"  the model alone, in this process: {case_ms:.3f} ms at the sampled cases, {central_ms:.3f} ms at the "
          f"central values: the inputs cost {inputs:.3f}x")
    print(f"  explore's own overhead beyond its inputs: {total / inputs:.3f}x run's cost a set-replication")
    med = statistics.median(r[0] for r in arms["explore"])
    print(f"  500 x 9 x 40 at explore's CPU rate on 2 fully used cores: {med / n * 180_000 / 2 / 60:.1f} min "
          "(goal <= 5)")


# --------------------------------------------------------------------------- callgrind


MODEL_ARMS = ("start", "zero", "cases", "central", "run")
"""Arms of the model child: ``start`` imports and plans; ``zero`` also builds every case's
scenarios (explore's per-point build) and the central ones; ``cases``, ``central`` and ``run``
build the same and then simulate, respectively, every (case, set, replication) at the case's
scenarios with the case's seed (explore's model work), the same pairs at the central values,
and run's own pairs (the central values, the scenario's seed, replications 0 .. C*R-1)."""


def model_child(arm: str, cases: int, reps: int) -> None:
    """One arm of the callgrind split, in this process (run under valgrind by ``callgrind``)."""
    from scenario_sim.experiment.ensemble import _payload, case_seed, plan_explore
    from scenario_sim.model.compiled import compile_scenario
    from scenario_sim.model.simulation import simulate

    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_explore(REF, cases=cases, replications=reps, worlds=["smokescreen"], out=tmp)
    if arm == "start":
        return
    payload = _payload(plan.loaded, plan.sets, plan.worlds, plan.inputs, plan.values, reps, plan.seed,
                       [o.name for o in plan.outcomes])
    state = payload.compile()
    built = []
    for c in range(cases):
        models, error = payload.models(state, c, 0)
        if models is None:
            raise SystemExit(f"case {c}: {error}")
        built.append(models)
    central = {n: compile_scenario(plan.loaded.effective(n)) for n in plan.sets}
    if arm == "cases" or arm == "central":
        for c in range(cases):
            seed = case_seed(plan.seed, c)
            ms = built[c] if arm == "cases" else central
            for rep in range(reps):
                for name in plan.sets:
                    simulate(ms[name], seed, rep)
    elif arm == "run":
        seed = plan.loaded.baseline.seed
        for rep in range(cases * reps):
            for name in plan.sets:
                simulate(central[name], seed, rep)


def _instructions(cmd: list[str], where: Path, tag: str) -> int:
    """Instructions of ``cmd`` and every process it starts (callgrind, one job)."""
    out = where / tag
    out.mkdir()
    env = dict(os.environ, PYTHONHASHSEED="0")
    r = subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                        f"--callgrind-out-file={out}/cg.%p", *cmd], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=False, env=env, cwd=Path(__file__).parent.parent)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed under valgrind:\n{r.stderr[-2000:]}")
    total = 0
    for f in out.glob("cg.*"):
        for line in f.read_text(errors="replace").splitlines():
            if line.startswith("totals:") or line.startswith("summary:"):
                total += int(line.split()[1])
                break
    return total


def callgrind(cases: int, reps: int, jobs: int) -> None:
    """Instruction counts of explore and run on the same set-replications, and their split."""
    from concurrent.futures import ThreadPoolExecutor

    n_sets = len(plan_sets())
    n = cases * reps * n_sets
    py = [sys.executable]
    me = [*py, str(Path(__file__).resolve()), "_model"]
    cli = [*py, "-m", "scenario_sim"]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        opts = ["--jobs", "1", "--quiet", "--out", str(t / "runs")]
        jobs_ = {
            "explore": [*cli, "explore", REF, "--cases", str(cases), "-n", str(reps), "--worlds", "smokescreen", *opts],
            "run": [*cli, "run", REF, "-n", str(cases * reps), *opts],
            "explore_1x1": [*cli, "explore", REF, "--cases", "1", "-n", "1", "--worlds", "smokescreen", *opts],
            "run_1": [*cli, "run", REF, "-n", "1", *opts],
            **{f"model_{a}": [*me, a, str(cases), str(reps)] for a in MODEL_ARMS},
        }
        with ThreadPoolExecutor(jobs) as pool:
            got = dict(zip(jobs_, pool.map(lambda kv: _instructions(kv[1], t, kv[0]), jobs_.items()), strict=True))
    g = {k: v / 1e9 for k, v in got.items()}
    m_e, m_c, m_r = (g[f"model_{arm}"] - g["model_zero"] for arm in ("cases", "central", "run"))
    build = (g["model_zero"] - g["model_start"]) / cases  # explore's per-point build (9 sets), billions
    o_e, o_r = g["explore"] - m_e, g["run"] - m_r
    print(f"reference, world smokescreen, {cases} cases x {n_sets} sets x {reps} replications = {n:,} set-replications "
          f"against run -n {cases * reps}; callgrind, one job, instructions in billions (G)")
    print(f"  explore {g['explore']:.3f} G, run {g['run']:.3f} G: explore / run = {g['explore'] / g['run']:.4f} "
          f"(goal <= 1.1; this size's fixed start-up included)")
    print(f"  the model: {m_e / n * 1e3:.2f} M a set-replication at the sampled cases, {m_c / n * 1e3:.2f} M at the "
          f"central values (same seeds), {m_r / n * 1e3:.2f} M for run's seeds")
    print(f"  the inputs cost {m_e / m_c:.4f}x (the model at the cases over the central values, same seeds); "
          f"run's seeds against explore's at the central values: {m_r / m_c:.4f}x")
    print(f"  beyond the model: explore {o_e:.3f} G ({o_e / n * 1e3:.2f} M a set-replication), run {o_r:.3f} G "
          f"({o_r / n * 1e3:.2f} M); explore's per-point build {build * 1e3:.1f} M "
          f"({build / (reps * n_sets) * 1e3:.3f} M a set-replication at {reps} replications)")
    like = (m_r + o_e) / (m_r + o_r)
    print(f"  explore's own overhead at this size: explore / run with the same model work (run's) = {like:.4f}")
    # 500 x 9 x 40 against run -n 20000, extrapolated.  Each command is a fixed start-up (from the 1 x 1 and
    # -n 1 commands, less their 9 set-replications and, for explore, its one point's build), the per-point
    # build (explore) and a cost per set-replication: the model's and the rest, as measured at this size.
    # The model's cost is taken at the central values with explore's seeds for both (run's own seeds differ
    # from explore's only by chance, which 20,000 replications average out), times the inputs' factor for explore.
    me, mc = m_e / n, m_c / n
    fix_e = g["explore_1x1"] - build - n_sets * mc
    fix_r = g["run_1"] - n_sets * m_r / n
    k_e = (g["explore"] - fix_e - cases * build) / n - me
    k_r = (g["run"] - fix_r) / n - m_r / n
    big = 180_000
    e500 = fix_e + 500 * build + big * (me + k_e)
    e500_central = fix_e + 500 * build + big * (mc + k_e)
    r500 = fix_r + big * (mc + k_r)
    print(f"  fixed start-up: explore {fix_e:.3f} G, run {fix_r:.3f} G; beyond the model a set-replication: "
          f"explore {k_e * 1e3:.3f} M, run {k_r * 1e3:.3f} M")
    print(f"  500 x 9 x 40 against run -n 20000, extrapolated: explore {e500:.0f} G, run {r500:.0f} G: "
          f"explore / run = {e500 / r500:.4f} (goal <= 1.1), of which the inputs {me / mc:.4f}x and explore's "
          f"own overhead {e500_central / r500:.4f}x")


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
    r.add_argument("--rounds", type=int, default=6)
    c = sub.add_parser("callgrind")
    c.add_argument("--cases", type=int, default=10)
    c.add_argument("--reps", type=int, default=10)
    c.add_argument("--jobs", type=int, default=2, help="valgrind children at once (each measures one job)")
    mc = sub.add_parser("_model")
    mc.add_argument("arm", choices=MODEL_ARMS)
    mc.add_argument("cases", type=int)
    mc.add_argument("reps", type=int)
    a = ap.parse_args()
    if a.what == "throughput":
        throughput(a.cases, a.reps)
    elif a.what == "ratio":
        if min(a.cases, a.reps, a.rounds) < 1:
            raise SystemExit("bench_explore.py ratio: --cases, --reps and --rounds must be at least 1")
        ratio(a.cases, a.reps, a.rounds)
    elif a.what == "callgrind":
        if min(a.cases, a.reps, a.jobs) < 1:
            raise SystemExit("bench_explore.py callgrind: --cases, --reps and --jobs must be at least 1")
        callgrind(a.cases, a.reps, a.jobs)
    elif a.what == "_model":
        model_child(a.arm, a.cases, a.reps)
    elif a.what == "memory":
        memory(a.small, a.large)
    else:
        sobol(a.n, a.reps, [x for x in a.sets.split(",") if x] or None)


if __name__ == "__main__":
    main()
