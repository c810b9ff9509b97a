"""Time one replication of the reference scenario: this engine, an older engine and a bare SimPy loop.

All three are timed in the same run, in alternating rounds, as CPU time of the timing
process (machines here are shared and noisy; the ratios are what we keep):

* **this engine**: ``simulate`` on a compiled scenario (median over replications);
* **the old engine** (``--baseline REV``, default the engine before issue 15): the same
  measurement on ``git archive REV scenario_sim`` imported in a child process;
* the three parts of a replication of this engine, timed apart: the **setup**
  (``setup_replication``: streams, and the per-replication growth-shock and tempo draws
  applied to the compiled scenario), **phase 1** (``World.build`` + ``run_events``: the
  components and the SimPy events) and **phase 2** (``World.resolve``: the wave table,
  the layers, consequences, outcomes);
* **phase 1** against a **bare SimPy loop** that schedules as many events (counted by
  wrapping ``Environment.step``) with no work attached.  Up to session 9 "phase 1" was
  ``World.create`` + ``run_events``, i.e. setup and phase 1 together; the old figure is
  printed too (``setup + phase 1``), so the change of scope is visible.

With ``--baseline``, both engines run the reference scenario *of the baseline revision*
(the language and calibration move on; the old engine cannot read later files).

Usage: python benchmarks/bench_model.py [--reps 300] [--rounds 5] [--scenario PATH] [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The engine as it was when issue 15 was taken up (phase 1 with one SimPy event per wave).
DEFAULT_BASELINE = "0d3551e"


def _time_simulate(scenario: str | None, reps: int, offset: int) -> list[tuple[float, float]]:
    from scenario_sim.bundled import resolve
    from scenario_sim.lang import load_scenario
    from scenario_sim.model import compile_scenario, simulate

    loaded = load_scenario(resolve(scenario))
    model = compile_scenario(loaded.baseline)
    seed = loaded.baseline.seed
    for r in range(10):  # warm up
        simulate(model, seed, r)
    out = []
    for r in range(offset, offset + reps):
        # CPU time of this process (on a shared machine, wall time also counts the time
        # other processes hold the core), and wall time beside it: on an idle machine the
        # two agree, and a gap between them says the machine was not idle.
        w0, t0 = time.perf_counter(), time.process_time()
        simulate(model, seed, r)
        out.append((time.process_time() - t0, time.perf_counter() - w0))
    return out


def worker(argv: list[str]) -> None:
    """Child process: time ``simulate`` with the scenario_sim found on sys.path[0]."""
    scenario, reps, offset = (None if argv[0] == "-" else argv[0]), int(argv[1]), int(argv[2])
    print(json.dumps(_time_simulate(scenario, reps, offset)))


def _child(src: Path, scenario: str | None, reps: int, offset: int) -> list[tuple[float, float]]:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "import runpy; m = runpy.run_path(sys.argv[1] + '/bench_model_worker.py'); m['worker'](sys.argv[2:])")
    out = subprocess.run([sys.executable, "-c", code, str(src), scenario or "-", str(reps), str(offset)],
                         capture_output=True, text=True, check=True).stdout
    return [(float(c), float(w)) for c, w in json.loads(out)]


def count_events(model: Any, seed: int, rep: int) -> int:
    from scenario_sim.model.simulation import World

    w = World.create(model, seed, rep)
    n = 0
    step = w.env.step

    def counting_step() -> None:
        nonlocal n
        n += 1
        step()

    w.env.step = counting_step  # type: ignore[method-assign]
    w.run_events()
    return n


def bare_loop(n_events: int) -> None:
    import simpy

    env = simpy.Environment()

    def proc(k: int) -> Generator[simpy.Event, Any, None]:
        for _ in range(k):
            yield env.timeout(1.0)

    env.process(proc(max(0, n_events - 2)))
    env.run()


def phase1_vs_bare(scenario: str | None, reps: int, old_events: int) -> dict[str, float]:
    from scenario_sim.bundled import resolve
    from scenario_sim.lang import load_scenario
    from scenario_sim.model import compile_scenario
    from scenario_sim.model.simulation import World, setup_replication

    loaded = load_scenario(resolve(scenario))
    model = compile_scenario(loaded.baseline)
    seed = loaded.baseline.seed
    events = count_events(model, seed, 0)
    t_setup, t_p1, t_p2, t_bare, t_bare_old = [], [], [], [], []
    clock = time.process_time
    for r in range(reps):
        t0 = clock()
        m, streams = setup_replication(model, seed, r)
        ts = clock()
        w = World.build(m, streams)
        w.run_events()
        t1 = clock()
        w.resolve(False, False)
        tr = clock()
        bare_loop(events)
        t2 = clock()
        bare_loop(old_events)
        t3 = clock()
        t_setup.append(ts - t0)
        t_p1.append(t1 - ts)
        t_p2.append(tr - t1)
        t_bare.append(t2 - tr)
        t_bare_old.append(t3 - t2)
    med = statistics.median
    return {"events": events, "setup_ms": med(t_setup) * 1e3, "phase1_ms": med(t_p1) * 1e3,
            "setup_phase1_ms": med([a + b for a, b in zip(t_setup, t_p1, strict=True)]) * 1e3,
            "phase2_ms": med(t_p2) * 1e3, "bare_ms": med(t_bare) * 1e3, "bare_old_ms": med(t_bare_old) * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=300, help="replications timed per engine")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds the replications are split into")
    ap.add_argument("--scenario", default=None)
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision of the old engine ('' to skip)")
    ap.add_argument("--also", nargs="*", default=[], metavar="REV",
                    help="more git revisions to time in the same rounds (intermediate engines)")
    ap.add_argument("--old-events", type=int, default=426,
                    help="phase-1 events of the old engine on this scenario (426 for the reference)")
    args = ap.parse_args()
    per = max(1, args.reps // args.rounds)
    from scenario_sim.bundled import resolve

    scen_dir = Path(tempfile.mkdtemp(prefix="bench_model_scenarios_"))
    if args.scenario is None and args.baseline:
        # Both engines run the reference as of the old revision: the scenario language and
        # the calibration move on, and the old engine cannot read later files.
        subprocess.run(f"git -C {ROOT} archive {args.baseline} scenarios | tar -x -C {scen_dir}", shell=True,
                       check=True)
        args.scenario = str(scen_dir / "scenarios" / "reference.yaml")
    args.scenario = str(resolve(args.scenario))
    worker_src = Path(__file__).read_text()
    with tempfile.TemporaryDirectory() as tmp:
        new_src, old_src = Path(tmp) / "new", Path(tmp) / "old"
        for d in (new_src, old_src):
            d.mkdir()
            (d / "bench_model_worker.py").write_text(worker_src)
        subprocess.run(f"cp -r {ROOT / 'scenario_sim'} {new_src}/", shell=True, check=True)
        if args.baseline:
            subprocess.run(f"git -C {ROOT} archive {args.baseline} scenario_sim | tar -x -C {old_src}", shell=True,
                           check=True)
        also: dict[str, tuple[Path, list[tuple[float, float]]]] = {}
        for rev in args.also:
            d = Path(tmp) / rev
            d.mkdir()
            (d / "bench_model_worker.py").write_text(worker_src)
            subprocess.run(f"git -C {ROOT} archive {rev} scenario_sim | tar -x -C {d}", shell=True, check=True)
            also[rev] = (d, [])
        t_new: list[tuple[float, float]] = []
        t_old: list[tuple[float, float]] = []
        for k in range(args.rounds):
            if args.baseline:
                t_old += _child(old_src, args.scenario, per, k * per)
            for d, times in also.values():
                times += _child(d, args.scenario, per, k * per)
            t_new += _child(new_src, args.scenario, per, k * per)
    def med(times: list[tuple[float, float]], k: int = 0) -> float:
        return statistics.median(t[k] for t in times) * 1e3

    med_new = med(t_new)
    p1 = phase1_vs_bare(args.scenario, args.reps, args.old_events)
    print(f"scenario: {args.scenario or 'reference'}  replications timed per engine: {len(t_new)}")
    print(f"this engine, one replication (median):       {med_new:.2f} ms CPU ({med(t_new, 1):.2f} ms wall)")
    if args.baseline:
        med_old = med(t_old)
        print(f"old engine ({args.baseline}), same measurement:   {med_old:.2f} ms CPU ({med(t_old, 1):.2f} ms wall)")
        print(f"ratio old / new:                              {med_old / med_new:.2f}x")
    for rev, (_, times) in also.items():
        m_rev = med(times)
        vs_old = f", old / it: {med_old / m_rev:.2f}x" if args.baseline else ""
        print(f"engine {rev}: {m_rev:.2f} ms CPU ({med(times, 1):.2f} ms wall; it / this engine: "
              f"{m_rev / med_new:.2f}x{vs_old})")
    print(f"setup (streams, growth shock and tempo draws): {p1['setup_ms']:.3f} ms")
    print(f"phase 1 (components and SimPy events, {p1['events']} events): {p1['phase1_ms']:.3f} ms")
    print(f"phase 2 (wave table, layers, consequences, outcomes): {p1['phase2_ms']:.3f} ms")
    print(f"setup + phase 1 (what 'phase 1' measured up to session 9): {p1['setup_phase1_ms']:.3f} ms "
          f"({p1['setup_phase1_ms'] / p1['bare_ms']:.1f}x the bare loop)")
    print(f"bare SimPy loop, same events:                {p1['bare_ms']:.3f} ms")
    print(f"ratio phase 1 / bare loop:                   {p1['phase1_ms'] / p1['bare_ms']:.1f}x")
    print(f"bare SimPy loop, old schedule ({args.old_events} events):  {p1['bare_old_ms']:.3f} ms")
    print(f"ratio phase 1 / bare loop of the old schedule: {p1['phase1_ms'] / p1['bare_old_ms']:.2f}x")


if __name__ == "__main__":
    main()
