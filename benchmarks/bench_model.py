"""Time one replication of the reference scenario against a bare SimPy loop.

The bare loop schedules exactly as many events as the model's phase 1 did (counted by
wrapping ``Environment.step``), in as many processes, with no work attached: it is the
floor any SimPy model of this event count pays.  Both are timed in the same run,
interleaved, and the ratio is reported (machines here are noisy; ratios are what we keep).

Usage: python benchmarks/bench_model.py [--reps 300] [--scenario PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Generator
from typing import Any

import simpy

from scenario_sim.bundled import resolve
from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate
from scenario_sim.model.simulation import World


def count_events(model: Any, seed: int, rep: int) -> tuple[int, int]:
    w = World.create(model, seed, rep)
    n = 0
    step = w.env.step

    def counting_step() -> None:
        nonlocal n
        n += 1
        step()

    w.env.step = counting_step  # type: ignore[method-assign]
    w.run_events()
    return n, len(w.log.times)


def bare_loop(n_events: int) -> None:
    env = simpy.Environment()

    def proc(k: int) -> Generator[simpy.Event, Any, None]:
        for _ in range(k):
            yield env.timeout(1.0)

    env.process(proc(max(0, n_events - 2)))
    env.run()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--scenario", default=None)
    args = ap.parse_args()
    loaded = load_scenario(resolve(args.scenario))
    model = compile_scenario(loaded.baseline)
    seed = loaded.baseline.seed
    events, waves = count_events(model, seed, 0)
    for r in range(20):  # warm up
        simulate(model, seed, r)
        bare_loop(events)
    t_model, t_bare, t_events = [], [], []
    for r in range(args.reps):
        t0 = time.perf_counter()
        simulate(model, seed, r)
        t1 = time.perf_counter()
        bare_loop(events)
        t2 = time.perf_counter()
        w = World.create(model, seed, r)
        w.run_events()
        t3 = time.perf_counter()
        t_model.append(t1 - t0)
        t_bare.append(t2 - t1)
        t_events.append(t3 - t2)
    med_m, med_b, med_e = (statistics.median(x) * 1e3 for x in (t_model, t_bare, t_events))
    print(f"scenario: {loaded.path}  replications timed: {args.reps}")
    print(f"events per replication (phase 1): {events}  waves: {waves}")
    print(f"model, one replication (median):  {med_m:.2f} ms")
    print(f"  of which phase 1 (SimPy events): {med_e:.2f} ms")
    print(f"bare SimPy loop, same events:     {med_b:.2f} ms")
    print(f"ratio model / bare loop:           {med_m / med_b:.1f}x")
    print(f"ratio phase 1 / bare loop:         {med_e / med_b:.1f}x")


if __name__ == "__main__":
    main()
