"""Phase 1 against SimPy's own cost: the helpers ``bench_model.py`` and ``bench_instructions.py`` share.

Phase 1 of a replication is ``World.build`` + ``run_events``: the components, then the SimPy
events (contact processes; deliveries are a calendar computed in ``run_events``).  Its
figure is compared with two bare SimPy loops that do none of the model's work:

* :func:`bare_loop` (the figure since session 9): one process yielding ``n - 2`` fixed
  timeouts, as many events as phase 1 steps;
* :func:`replay` (session 12): **the same scheduling** as the model's replication, the same
  processes created in the same order, each yielding the very timeouts it yielded in the
  model (recorded by :func:`record_schedule`, precomputed before timing), and
  ``run(until=horizon)``: the same events at the same times in the same order, without the
  draws, broadcasts, contacts and components.

With 20 events a replication a fixed cost per replication (components, streams, the
delivery calendar) dominates phase 1, so the per-event cost is measured as a slope:
:func:`scaled` multiplies the stochastic contacts' rate, which gives replications with more
SimPy events and nothing else changed, and :func:`fit` regresses cost on events.
"""

from __future__ import annotations

import statistics
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import simpy


def scaled(scenario: Any, rate_factor: float) -> Any:
    """``scenario`` with ``contacts.stochastic.rate_per_day`` multiplied by ``rate_factor``
    (a Scenario; unchanged when the factor is 1 or it has no stochastic contacts)."""
    st = scenario.contacts.stochastic
    if rate_factor == 1 or st is None:
        return scenario
    st2 = st.model_copy(update={"rate_per_day": st.rate_per_day * rate_factor})
    return scenario.model_copy(update={"contacts": scenario.contacts.model_copy(update={"stochastic": st2})})


@dataclass(frozen=True)
class Schedule:
    """What a replication's phase 1 scheduled: per process (in creation order) the delays of
    the timeouts it yielded, the horizon it ran to, and the events SimPy stepped."""

    horizon: float
    delays: tuple[tuple[float, ...], ...]
    events: int


def record_schedule(model: Any, seed: int, rep: int) -> Schedule:
    """Run phase 1 of replication ``rep`` with SimPy's ``process``, ``timeout`` and ``step``
    wrapped, and return what it scheduled."""
    from scenario_sim.model.simulation import World

    w = World.create(model, seed, rep)
    env = w.env
    logs: dict[int, list[float]] = {}
    order: list[list[float]] = []
    process, timeout, step = env.process, env.timeout, env.step
    n = 0

    def rec_process(gen: Any) -> Any:
        p = process(gen)
        order.append(logs.setdefault(id(p), []))
        return p

    def rec_timeout(delay: float, value: Any = None) -> Any:
        logs[id(env.active_process)].append(delay)
        return timeout(delay, value)

    def rec_step() -> None:
        nonlocal n
        n += 1
        step()

    env.process, env.timeout, env.step = rec_process, rec_timeout, rec_step  # type: ignore[method-assign]
    w.run_events()
    return Schedule(float(w.model.horizon), tuple(tuple(d) for d in order), n)


def _replayed(env: simpy.Environment, delays: Sequence[float]) -> Generator[simpy.Event, Any, None]:
    timeout = env.timeout
    for d in delays:
        yield timeout(d)


def replay(s: Schedule) -> None:
    """A bare SimPy loop with the model's scheduling: the same processes yielding the same
    timeouts, run to the same horizon (the same events in the same order), nothing else."""
    env = simpy.Environment()
    for d in s.delays:
        env.process(_replayed(env, d))
    env.run(until=s.horizon)


def count_replayed(s: Schedule) -> int:
    """The events :func:`replay` steps (equal to ``s.events`` when it schedules as the model did)."""
    env = simpy.Environment()
    for d in s.delays:
        env.process(_replayed(env, d))
    n = 0
    step = env.step

    def counting_step() -> None:
        nonlocal n
        n += 1
        step()

    env.step = counting_step  # type: ignore[method-assign]
    env.run(until=s.horizon)
    return n


def bare_loop(n_events: int) -> None:
    """One process yielding ``n_events - 2`` timeouts of 1 day (its start and end are the
    other two events): as many events as phase 1, none of its scheduling."""
    env = simpy.Environment()

    def proc(k: int) -> Generator[simpy.Event, Any, None]:
        for _ in range(k):
            yield env.timeout(1.0)

    env.process(proc(max(0, n_events - 2)))
    env.run()


def fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares line ``y = intercept + slope x``: (intercept, slope)."""
    slope, intercept = statistics.linear_regression(xs, ys)
    return intercept, slope
