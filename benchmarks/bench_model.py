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
* **phase 1** against two bare SimPy loops with no work attached (``phase1.py``): the
  session-9 loop, one process yielding fixed timeouts, as many events as phase 1 steps
  (counted by wrapping ``Environment.step``), and, since session 12, **the model's own
  scheduling replayed**: the same processes yielding the same timeouts (recorded before
  timing) to the same horizon.  Up to session 9 "phase 1" was ``World.create`` +
  ``run_events``, i.e. setup and phase 1 together; the old figure is printed too
  (``setup + phase 1``), so the change of scope is visible;
* with ``--scaling F1,F2,..``, phase 1 and both loops again on the scenario with its
  stochastic contacts' rate multiplied by each factor (more events, nothing else changed),
  and a least-squares line through them: fixed cost a replication, and cost **per event**
  (the slope), since with ~20 events a replication the fixed cost dominates phase 1.
  ``--phase1-only`` skips the engines' replications.

With ``--baseline``, both engines run the reference scenario *of the baseline revision*
(the language and calibration move on; the old engine cannot read later files).

Usage: python benchmarks/bench_model.py [--reps 300] [--rounds 5] [--scenario PATH] [--baseline REV]
           [--scaling 1,2,4,8,16,32] [--phase1-only]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import phase1  # noqa: E402  (the helpers shared with bench_instructions.py)

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


def phase1_vs_bare(scenario: str | None, reps: int, old_events: int) -> dict[str, float]:
    """Setup, phase 1 and phase 2 of ``reps`` replications timed apart (CPU time, medians),
    with the two bare SimPy loops of :mod:`phase1` (the same scheduling replayed, and the
    old fixed-timeout loop of as many events) timed in the same rounds."""
    from scenario_sim.bundled import resolve
    from scenario_sim.lang import load_scenario
    from scenario_sim.model import compile_scenario
    from scenario_sim.model.simulation import World, setup_replication

    loaded = load_scenario(resolve(scenario))
    model = compile_scenario(loaded.baseline)
    seed = loaded.baseline.seed
    events = phase1.record_schedule(model, seed, 0).events
    t_setup, t_p1, t_p2, t_bare, t_bare_old, t_replay, n_events = [], [], [], [], [], [], []
    clock = time.process_time
    for r in range(reps):
        sched = phase1.record_schedule(model, seed, r)  # untimed: what the replay replays
        n_events.append(sched.events)
        t0 = clock()
        m, streams = setup_replication(model, seed, r)
        ts = clock()
        w = World.build(m, streams)
        w.run_events()
        t1 = clock()
        w.resolve(False, False)
        tr = clock()
        phase1.bare_loop(events)
        t2 = clock()
        phase1.bare_loop(old_events)
        t3 = clock()
        phase1.replay(sched)
        t4 = clock()
        t_setup.append(ts - t0)
        t_p1.append(t1 - ts)
        t_p2.append(tr - t1)
        t_bare.append(t2 - tr)
        t_bare_old.append(t3 - t2)
        t_replay.append(t4 - t3)
    med = statistics.median
    return {"events": events, "mean_events": statistics.mean(n_events), "setup_ms": med(t_setup) * 1e3,
            "phase1_ms": med(t_p1) * 1e3,
            "setup_phase1_ms": med([a + b for a, b in zip(t_setup, t_p1, strict=True)]) * 1e3,
            "phase2_ms": med(t_p2) * 1e3, "bare_ms": med(t_bare) * 1e3, "bare_old_ms": med(t_bare_old) * 1e3,
            "replay_ms": med(t_replay) * 1e3}


def phase1_scaling(scenario: str | None, factors: list[float], reps: int, rounds: int) -> list[dict[str, float]]:
    """Phase 1, the replayed scheduling and the fixed-timeout loop of as many events, timed on
    the scenario with its stochastic contacts' rate multiplied by each factor (more SimPy
    events, nothing else changed); factors alternate in ``rounds`` rounds.  Per factor: mean
    events and the median CPU time of each (ms)."""
    from scenario_sim.bundled import resolve
    from scenario_sim.lang import load_scenario
    from scenario_sim.model import compile_scenario
    from scenario_sim.model.simulation import World, setup_replication

    loaded = load_scenario(resolve(scenario))
    seed = loaded.baseline.seed
    models = [compile_scenario(phase1.scaled(loaded.baseline, f)) for f in factors]
    per = max(1, reps // rounds)
    obs: list[dict[str, list[float]]] = [{"events": [], "phase1": [], "replay": [], "bare": []} for _ in factors]
    clock = time.process_time
    for k in range(rounds):
        for model, o in zip(models, obs, strict=True):
            for r in range(k * per, (k + 1) * per):
                sched = phase1.record_schedule(model, seed, r)
                m, streams = setup_replication(model, seed, r)
                t0 = clock()
                w = World.build(m, streams)
                w.run_events()
                t1 = clock()
                phase1.replay(sched)
                t2 = clock()
                phase1.bare_loop(sched.events)
                t3 = clock()
                o["events"].append(sched.events)
                o["phase1"].append(t1 - t0)
                o["replay"].append(t2 - t1)
                o["bare"].append(t3 - t2)
    med = statistics.median
    return [{"factor": f, "events": statistics.mean(o["events"]), "phase1_ms": med(o["phase1"]) * 1e3,
             "replay_ms": med(o["replay"]) * 1e3, "bare_ms": med(o["bare"]) * 1e3}
            for f, o in zip(factors, obs, strict=True)]


def print_scaling(rows: list[dict[str, float]]) -> None:
    print("phase 1 against SimPy by event count (stochastic contacts' rate x factor; CPU ms, medians):")
    print("  factor   events   phase 1   replayed   bare loop   phase1/replayed   phase1/bare")
    for r in rows:
        print(f"  {r['factor']:6g} {r['events']:8.1f} {r['phase1_ms']:9.4f} {r['replay_ms']:10.4f} "
              f"{r['bare_ms']:11.4f} {r['phase1_ms'] / r['replay_ms']:17.2f} {r['phase1_ms'] / r['bare_ms']:13.2f}")
    xs = [r["events"] for r in rows]
    fits = {k: phase1.fit(xs, [r[k] * 1e3 for r in rows]) for k in ("phase1_ms", "replay_ms", "bare_ms")}
    for k, label in (("phase1_ms", "phase 1"), ("replay_ms", "replayed scheduling"), ("bare_ms", "bare loop")):
        a, b = fits[k]
        print(f"  {label:>20}: {a:7.2f} us fixed + {b:6.3f} us an event (least squares over the factors)")
    print(f"  per event (slope), phase 1 / replayed: {fits['phase1_ms'][1] / fits['replay_ms'][1]:.2f}x, "
          f"phase 1 / bare loop: {fits['phase1_ms'][1] / fits['bare_ms'][1]:.2f}x")
    print(f"  fixed (intercept), phase 1 - replayed: {fits['phase1_ms'][0] - fits['replay_ms'][0]:.2f} us")


def _factors(text: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if len(out) < 2 or min(out) <= 0:
        raise argparse.ArgumentTypeError(f"need at least two positive factors (got {text!r})")
    return out


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
    ap.add_argument("--scaling", type=_factors, default=None, metavar="F1,F2,...",
                    help="also time phase 1 against both bare loops with the stochastic contacts' rate x each "
                         "factor, and fit fixed + per-event cost (e.g. 1,2,4,8,16,32)")
    ap.add_argument("--phase1-only", action="store_true",
                    help="skip the engines' replications: only the phase lines (and --scaling)")
    args = ap.parse_args()
    per = max(1, args.reps // args.rounds)
    from scenario_sim.bundled import resolve

    scen_dir = Path(tempfile.mkdtemp(prefix="bench_model_scenarios_"))
    if args.phase1_only:
        args.baseline, args.also = "", []
    if args.scenario is None and args.baseline:
        # Both engines run the reference as of the old revision: the scenario language and
        # the calibration move on, and the old engine cannot read later files.
        subprocess.run(f"git -C {ROOT} archive {args.baseline} scenarios | tar -x -C {scen_dir}", shell=True,
                       check=True)
        args.scenario = str(scen_dir / "scenarios" / "reference.yaml")
    args.scenario = str(resolve(args.scenario))
    t_new: list[tuple[float, float]] = []
    t_old: list[tuple[float, float]] = []
    also: dict[str, tuple[Path, list[tuple[float, float]]]] = {}
    if not args.phase1_only:
        t_new, t_old, also = _engines(args, per)

    def med(times: list[tuple[float, float]], k: int = 0) -> float:
        return statistics.median(t[k] for t in times) * 1e3

    print("command: python " + " ".join(shlex.quote(a) for a in sys.argv))
    print(f"scenario: {args.scenario or 'reference'}  replications timed per engine: {len(t_new)}")
    if t_new:
        med_new = med(t_new)
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
    p1 = phase1_vs_bare(args.scenario, args.reps, args.old_events)
    print(f"setup (streams, growth shock and tempo draws): {p1['setup_ms']:.3f} ms")
    print(f"phase 1 (components and SimPy events, {p1['events']} events in replication 0, "
          f"{p1['mean_events']:.1f} on average): {p1['phase1_ms']:.3f} ms")
    print(f"phase 2 (wave table, layers, consequences, outcomes): {p1['phase2_ms']:.3f} ms")
    print(f"setup + phase 1 (what 'phase 1' measured up to session 9): {p1['setup_phase1_ms']:.3f} ms "
          f"({p1['setup_phase1_ms'] / p1['bare_ms']:.1f}x the bare loop)")
    print(f"bare SimPy loop, same events:                {p1['bare_ms']:.3f} ms")
    print(f"ratio phase 1 / bare loop:                   {p1['phase1_ms'] / p1['bare_ms']:.1f}x")
    print(f"bare SimPy loop, the model's scheduling replayed (same processes, timeouts, events): "
          f"{p1['replay_ms']:.3f} ms")
    print(f"ratio phase 1 / replayed scheduling:         {p1['phase1_ms'] / p1['replay_ms']:.2f}x")
    print(f"bare SimPy loop, old schedule ({args.old_events} events):  {p1['bare_old_ms']:.3f} ms")
    print(f"ratio phase 1 / bare loop of the old schedule: {p1['phase1_ms'] / p1['bare_old_ms']:.2f}x")
    if args.scaling:
        print_scaling(phase1_scaling(args.scenario, args.scaling, args.reps, args.rounds))


def _engines(args: argparse.Namespace, per: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]],
                                                            dict[str, tuple[Path, list[tuple[float, float]]]]]:
    """This engine, the baseline and the ``--also`` engines, each in a child, in alternating rounds."""
    worker_src = Path(__file__).read_text()
    helper_src = (Path(__file__).parent / "phase1.py").read_text()

    def worker_dir(d: Path) -> None:
        d.mkdir()
        (d / "bench_model_worker.py").write_text(worker_src)
        (d / "phase1.py").write_text(helper_src)

    with tempfile.TemporaryDirectory() as tmp:
        new_src, old_src = Path(tmp) / "new", Path(tmp) / "old"
        for d in (new_src, old_src):
            worker_dir(d)
        subprocess.run(f"cp -r {ROOT / 'scenario_sim'} {new_src}/", shell=True, check=True)
        if args.baseline:
            subprocess.run(f"git -C {ROOT} archive {args.baseline} scenario_sim | tar -x -C {old_src}", shell=True,
                           check=True)
        also: dict[str, tuple[Path, list[tuple[float, float]]]] = {}
        for rev in args.also:
            d = Path(tmp) / rev
            worker_dir(d)
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
    return t_new, t_old, also


if __name__ == "__main__":
    main()
