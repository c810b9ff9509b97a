"""One replication: the event simulation, then the resolution of every wave.

A replication runs in two phases.

**Phase 1, events (SimPy).**  Named components (``contacts``, ``attacker``,
``air_defense``, ``consequences.civil_defense``) run as plain generator processes and
listeners on the contact broadcast:

* ``contacts.scheduled`` / ``contacts.stochastic`` broadcast contacts to the attacker
  (surge plans), the air defence (readiness rule) and civil defence (activation rule);
* ``attacker.waves`` (the schedule strategy) and one ``attacker.surge`` process per planned
  surge launch waves, capped by stock; a surge plan is told to the early-warning rule;
* ``air_defense.<system>.resupply`` delivers interceptors.

Each wave is recorded with its time, launches per class, the readiness level and whether
civil defence was active at that moment.

**Phase 2, resolution (numpy).**  The recorded waves pass through the air-defence layers
(:func:`~scenario_sim.model.airdefense.resolve_layers`) and their leakers become hits, harm
and grid damage (:func:`~scenario_sim.model.consequences.resolve_consequences`), with one
uniform per munition drawn in blocks aligned with the waves.

The split is exact, not an approximation, because nothing resolved in phase 2 feeds back
into phase 1: the attacker does not see what its waves achieved, and readiness and civil
defence follow contacts and surge plans, not damage.  A mechanism that needs such feedback
(say, an attacker that adapts wave size to leak rates) would resolve engagements inside
the wave event instead.  The payoff is speed: a simulated year costs a few milliseconds
instead of tens, which is what makes thousands of replications per set practical.

:func:`simulate` returns a :class:`Replication`: a flat mapping of outcomes with stable names
(see :mod:`scenario_sim.outcomes`), plus daily time series and a per-wave log on request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from scenario_sim.lang.schema import Scenario
from scenario_sim.model.airdefense import AirDefense, Blocks, resolve_layers, stock_by_day
from scenario_sim.model.attacker import Attacker
from scenario_sim.model.clock import BOOKKEEPING_TIME, WAVE_TIME
from scenario_sim.model.compiled import CompiledScenario, compile_scenario
from scenario_sim.model.consequences import CivilDefense, resolve_consequences
from scenario_sim.model.contacts import ContactBus, scheduled_contacts, stochastic_contacts
from scenario_sim.model.rng import Streams


@dataclass
class Wave:
    """One wave as resolved (kept only when a trace is asked for)."""

    time: float
    surge: bool
    launched: list[int]
    intercepted: list[int]
    leaked: list[int]
    hits: list[int]
    readiness: float
    civil_defense_active: bool
    killed_by_layer: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Replication:
    """The result of one replication."""

    outcomes: dict[str, float]
    timeseries: dict[str, np.ndarray[Any, Any]] | None = None
    waves: list[Wave] | None = None
    contacts: list[float] = field(default_factory=list)


class World:
    """A replication's environment, components and wave record."""

    def __init__(self, model: CompiledScenario, seed: int, replication: int):
        self.model = model
        self.env = simpy.Environment()
        self.streams = Streams(seed, replication)
        self.bus = ContactBus()
        self.air_defense = AirDefense(self.env, model, self.streams)
        self.civil_defense = CivilDefense(self.env, model)
        self.attacker = Attacker(self.env, model, self.streams, self.record_wave)
        # Listener order is fixed (and irrelevant to the draws: each listener has its own
        # stream); the attacker goes first so a surge planned on a contact is known at once.
        self.bus.subscribe(self.attacker.on_contact)
        self.bus.subscribe(self.air_defense.on_contact)
        self.bus.subscribe(self.civil_defense.on_contact)
        self.attacker.surge_planned_listeners.append(self.air_defense.on_surge_planned)
        self._times: list[float] = []
        self._launched: list[list[int]] = []
        self._nominal: list[list[int]] = []
        self._slot: list[int] = []
        self._ready: list[float] = []
        self._cd: list[bool] = []

    def record_wave(self, t: float, launched: list[int], nominal: list[int], slot: int) -> None:
        """Called by the attacker for every wave opportunity (slot >= 0: a surge)."""
        self._times.append(t)
        self._launched.append(launched)
        self._nominal.append(nominal)
        self._slot.append(slot)
        ad, cd = self.air_defense, self.civil_defense
        self._ready.append(ad.readiness(t) if ad.raises else ad.baseline)
        self._cd.append(cd.active(t) if cd.windows else cd.spec.always_active)

    def run_events(self) -> None:
        """Phase 1: the SimPy event simulation."""
        env = self.env
        m = self.model
        s = m.scenario
        env.process(scheduled_contacts(env, self.bus, m.scheduled))
        st = s.contacts.stochastic
        if st is not None:
            env.process(stochastic_contacts(env, self.bus, st.rate_per_day, st.kind, m.contact_rate_factor,
                                            float(m.horizon), self.streams.rng("contacts.stochastic"),
                                            float(s.day_of(st.start))))
        for p in self.attacker.processes():
            env.process(p)
        for p in self.air_defense.processes():
            env.process(p)
        env.run(until=m.horizon)

    def resolve(self, timeseries: bool, trace: bool) -> Replication:
        """Phase 2: resolve the recorded waves and compute the outcomes."""
        m = self.model
        C = m.n_classes
        W = len(self._times)
        times = np.asarray(self._times, dtype=float)
        launched = np.asarray(self._launched, dtype=np.int64).reshape(W, C)
        readiness = np.asarray(self._ready, dtype=float)
        cd = np.asarray(self._cd, dtype=bool)
        blocks = self._blocks(W, C)
        leaked, layers = resolve_layers(m, self.streams, times, launched, readiness, self.air_defense.deliveries,
                                        blocks)
        cons = resolve_consequences(m, self.streams, times, launched, leaked, cd, blocks)
        out = self._outcomes(launched, leaked, layers, cons)
        ts = self._timeseries(times, launched, leaked, layers) if timeseries else None
        if ts is not None:
            ts["energy"] = cons.energy
        waves = None
        if trace:
            intercepted = launched - leaked
            waves = [Wave(float(times[w]), self._slot[w] >= 0, launched[w].tolist(), intercepted[w].tolist(),
                          leaked[w].tolist(), cons.hits[w].tolist(), float(readiness[w]), bool(cd[w]),
                          {lr.name: lr.killed[w].tolist() for lr in layers}) for w in range(W)]
        return Replication(out, ts, waves, [c.time for c in self.bus.log])

    def _blocks(self, W: int, C: int) -> Blocks:
        """Where each wave's munitions sit in the per-class draw arrays.

        Ordinary wave opportunities come first, in order, each reserving its *nominal* size
        (what it asked for before stock caps and stockpiling); then one slot per contact for
        its potential surge.  Positions therefore depend neither on how much stock there was
        nor on which surges happened, which keeps common random numbers aligned wave by wave
        between sets that differ in production, sanctions or surge behaviour.
        """
        nominal = np.asarray(self._nominal, dtype=np.int64).reshape(W, C)
        slots = np.asarray(self.attacker.slots, dtype=np.int64).reshape(-1, C)
        slot = np.asarray(self._slot, dtype=np.int64)
        ordinary = slot < 0
        starts = np.zeros((W, C), dtype=np.int64)
        ord_sizes = nominal[ordinary]
        ord_starts = np.zeros_like(ord_sizes)
        if ord_sizes.shape[0]:
            np.cumsum(ord_sizes[:-1], axis=0, out=ord_starts[1:])
        starts[ordinary] = ord_starts
        tail = ord_sizes.sum(axis=0)
        slot_starts = tail + np.vstack([np.zeros((1, C), dtype=np.int64), np.cumsum(slots, axis=0)])
        starts[~ordinary] = slot_starts[slot[~ordinary]]
        totals = tail + slots.sum(axis=0)
        return Blocks(starts, totals)

    def _outcomes(self, launched: Any, leaked: Any, layers: Any, cons: Any) -> dict[str, float]:
        m = self.model
        out: dict[str, float] = {}
        L = launched.sum(axis=0)
        K = leaked.sum(axis=0)
        H = cons.hits.sum(axis=0)
        for fam, vals in (("launched", L), ("intercepted", L - K), ("leaked", K), ("hits", H)):
            for c, name in enumerate(m.classes):
                out[f"{fam}.{name}"] = float(vals[c])
            out[f"{fam}.total"] = float(vals.sum())
        lt = out["launched.total"]
        out["leak_fraction"] = out["leaked.total"] / lt if lt else 0.0
        per_wave = launched.sum(axis=1)
        out["waves"] = float(np.count_nonzero(per_wave))
        out["surges"] = float(self.attacker.surges)
        out["largest_wave"] = float(per_wave.max()) if per_wave.shape[0] else 0.0
        out["contacts"] = float(len(self.bus.log))
        out["civilian_harm"] = float(cons.harm.sum())
        out["energy.mean"] = float(cons.energy.mean())
        out["energy.min"] = float(cons.energy.min())
        out["energy.days_below"] = float(np.count_nonzero(cons.energy < m.scenario.consequences.energy.threshold))
        spend = 0.0
        total_ex = 0.0
        for cs, lr in zip(m.systems, layers, strict=True):
            if cs.limited:
                out[f"stock_exhausted_days.{lr.name}"] = float(lr.exhausted_days)
                total_ex += lr.exhausted_days
            n = float(lr.shots.sum())
            out[f"shots.{lr.name}"] = n
            spend += n * cs.spec.cost_per_shot_usd
        out["stock_exhausted_days.total"] = total_ex
        out["interceptor_spend_usd"] = spend
        att = float(np.dot(L, m.unit_cost))
        out["attacker_spend_usd"] = att
        out["cost_exchange_ratio"] = att / spend if spend else 0.0
        produced = m.cum_production[m.horizon]
        for c, name in enumerate(m.classes):
            out[f"production.{name}"] = float(produced[c])
        return {o.name: out[o.name] for o in m.outcomes}

    def _timeseries(self, times: Any, launched: Any, leaked: Any, layers: Any) -> dict[str, np.ndarray[Any, Any]]:
        m = self.model
        h = m.horizon
        day = times.astype(np.int64)
        ts: dict[str, np.ndarray[Any, Any]] = {"day": np.arange(h)}
        prod = np.asarray(m.cum_production)
        for c, name in enumerate(m.classes):
            ts[f"launched.{name}"] = np.bincount(day, weights=launched[:, c], minlength=h)
            ts[f"leaked.{name}"] = np.bincount(day, weights=leaked[:, c], minlength=h)
            used_by_day = np.cumsum(ts[f"launched.{name}"])
            ts[f"attacker_stock.{name}"] = self.attacker.initial[c] + prod[1:, c] - used_by_day
        ends = np.arange(h) + BOOKKEEPING_TIME
        for cs, lr in zip(m.systems, layers, strict=True):
            if cs.limited:
                ts[f"interceptors.{lr.name}"] = stock_by_day(cs.initial_stock, times, lr.shots,
                                                             self.air_defense.deliveries[lr.name], ends)
        nights = np.arange(h) + WAVE_TIME
        ts["readiness"] = np.array([self.air_defense.readiness(t) for t in nights.tolist()])
        ts["civil_defense_active"] = np.array([self.civil_defense.active(t) for t in nights.tolist()], dtype=float)
        return ts


def simulate(model: CompiledScenario | Scenario, seed: int, replication: int, *,
             timeseries: bool = False, trace: bool = False) -> Replication:
    """Run one replication of ``model`` (a scenario or a compiled scenario).

    ``seed`` is the master seed and ``replication`` the replication number; together with
    each stream's name they fix every random draw.  ``timeseries`` adds daily series (end
    of day); ``trace`` adds the per-wave log used by invariant tests.
    """
    compiled = model if isinstance(model, CompiledScenario) else compile_scenario(model)
    world = World(compiled, seed, replication)
    world.run_events()
    return world.resolve(timeseries, trace)
