"""One replication: the event simulation, then the resolution of every wave.

A replication runs in two phases.

**Phase 1, events (SimPy).**  Named components (``contacts``, ``attacker``,
``air_defense``, ``consequences.civil_defense``) run as plain generator processes and
listeners on the contact broadcast:

* ``contacts.scheduled`` / ``contacts.stochastic`` broadcast contacts to the attacker
  (surge plans), the air defence (readiness rule) and civil defence (activation rule);
* the attacker plans a surge wave on a contact and tells the early-warning rule;
* ``air_defense.<system>.resupply`` delivers interceptors: a calendar computed when the
  events start (:meth:`AirDefense.deliver`), not SimPy events, since nothing during the
  events depends on a delivery (the logged times are the floats the events would reach).

**Between the phases, the wave table.**  Wave opportunities are a calendar, not events:
ordinary waves at the schedule's times (``attacker.waves``: every night, or a Poisson
process) and the planned surge waves, in the order SimPy would have fired them (time, then
the time each was scheduled).  Stock caps, stockpiling, readiness and civil-defence state
are evaluated on the whole table at once.  This is exact, not an approximation: a wave's
launches depend only on earlier waves (sequential capping, done as a cumulative sum with a
loop only from the first capped wave), and every readiness raise, civil-defence window and
stockpiling window is known from the moment it is planned, which is never after it starts
to apply (``tests/test_pinned.py`` holds the bytes identical to the one-event-per-wave engine).

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
(defined, each with the code computing it, in :mod:`scenario_sim.model.outcomes`), plus daily
time series and a per-wave log on request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import simpy

from scenario_sim.lang.schema import Scenario
from scenario_sim.model.airdefense import AirDefense, LayerResult, resolve_layers, stock_by_day
from scenario_sim.model.attacker import Attacker, WavePlan
from scenario_sim.model.clock import BOOKKEEPING_TIME, WAVE_TIME
from scenario_sim.model.compiled import CompiledScenario, compile_scenario
from scenario_sim.model.consequences import CivilDefense, resolve_consequences
from scenario_sim.model.contacts import ContactBus, scheduled_contacts, stochastic_contacts
from scenario_sim.model.draws import Blocks
from scenario_sim.model.limits import ModelLimitError
from scenario_sim.model.outcomes import Tally, evaluate
from scenario_sim.model.placebo import apply_placebos
from scenario_sim.model.rng import Streams

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


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


class WaveRecorder(Protocol):
    """An observer of the resolved waves of a replication (``scenario-sim backtest`` uses one).

    ``record`` is called once per replication, after phase 2, with the wave times, the
    launched and leaked counts per wave and class, and the layers' results.  It is injected
    into :func:`simulate` only by callers that need per-wave detail, so ``run`` pays nothing
    for it; a recorder must not change the arrays it is given.
    """

    def record(self, model: CompiledScenario, times: FloatArray, launched: IntArray, leaked: IntArray,
               layers: list[LayerResult]) -> None:
        """Observe one replication's waves."""


DRAW_NAMES = ("surge_probability", "pause_probability")
"""The per-replication draws every replication reports (:attr:`Replication.draws`); run and
explore folders record them as ``draw.<name>`` columns of ``replications.parquet``."""


@dataclass
class Replication:
    """The result of one replication."""

    outcomes: dict[str, float]
    timeseries: dict[str, np.ndarray[Any, Any]] | None = None
    waves: list[Wave] | None = None
    contacts: list[float] = field(default_factory=list)
    draws: dict[str, float] = field(default_factory=dict)
    """Per-replication draws of uncertain quantities (``surge_probability``, ``pause_probability``;
    NaN where the scenario has no such mechanism), kept apart from the outcomes."""


@dataclass
class Components:
    """The parts a :class:`World` is made of; :meth:`standard` builds the model's own."""

    env: simpy.Environment
    streams: Streams
    bus: ContactBus
    attacker: Attacker
    air_defense: AirDefense
    civil_defense: CivilDefense

    @classmethod
    def standard(cls, model: CompiledScenario, seed: int, replication: int,
                 streams: Streams | None = None) -> Components:
        env = simpy.Environment()
        streams = streams or Streams(seed, replication)
        return cls(env, streams, ContactBus(), Attacker(env, model, streams), AirDefense(env, model, streams),
                   CivilDefense(env, model))


def setup_replication(model: CompiledScenario, seed: int, replication: int) -> tuple[CompiledScenario, Streams]:
    """The per-replication setup, before any event: the replication's streams, and the
    compiled scenario with its per-replication parameter draws applied (growth shock and
    tempo, :meth:`CompiledScenario.for_replication`).  Not SimPy scheduling:
    ``benchmarks/bench_model.py`` times it apart from phase 1 and phase 2."""
    streams = Streams(seed, replication)
    return model.for_replication(streams), streams


class World:
    """A replication: the components it is given, wired together on the contact broadcast."""

    def __init__(self, model: CompiledScenario, components: Components):
        self.model = model
        self.parts = components
        self.env = components.env
        self.streams = components.streams
        self.bus = components.bus
        self.attacker = components.attacker
        self.air_defense = components.air_defense
        self.civil_defense = components.civil_defense
        # Listener order is fixed (and irrelevant to the draws: each listener has its own
        # stream); the attacker goes first so a surge planned on a contact is known at once.
        # A listener whose rule cannot fire on a contact (off, or a placebo firing on other
        # days) would do nothing with it, so it is not called for each contact.
        self.bus.subscribe(self.attacker.on_contact)
        if self.air_defense.hears_contacts:
            self.bus.subscribe(self.air_defense.on_contact)
        if self.civil_defense.hears_contacts:
            self.bus.subscribe(self.civil_defense.on_contact)
        self.attacker.surge_planned_listeners.append(self.air_defense.on_surges_planned)

    @classmethod
    def create(cls, model: CompiledScenario, seed: int, replication: int) -> World:
        """A world of the model's standard components for one replication (with that
        replication's growth and tempo draws: :func:`setup_replication`)."""
        return cls.build(*setup_replication(model, seed, replication))

    @classmethod
    def build(cls, model: CompiledScenario, streams: Streams) -> World:
        """A world of the model's standard components on a replication already set up
        (``model`` and ``streams`` from :func:`setup_replication`)."""
        return cls(model, Components.standard(model, streams.seed, streams.replication, streams))

    def run_events(self) -> None:
        """Phase 1: the SimPy event simulation."""
        env = self.env
        m = self.model
        s = m.scenario
        env.process(scheduled_contacts(env, self.bus, m.scheduled))
        st = s.contacts.stochastic
        if st is not None:
            start = m.memo.get("contacts.stochastic")
            if start is None:  # draw-independent: the start day and the rate factor as Python floats
                start = m.memo["contacts.stochastic"] = (float(s.day_of(st.start)), m.contact_rate_factor.tolist())
            env.process(stochastic_contacts(env, self.bus, st.rate_per_day, st.kind, start[1], float(m.horizon),
                                            self.streams.rng("contacts.stochastic"), start[0], m.limits.contacts))
        self.air_defense.deliver()
        for p in self.air_defense.processes():
            env.process(p)
        env.run(until=m.horizon)

    def resolve(self, timeseries: bool, trace: bool, recorder: WaveRecorder | None = None) -> Replication:
        """Phase 2: lay out the waves, resolve them and compute the outcomes (``recorder``, if
        given, observes the resolved waves)."""
        m = self.model
        plan = self.attacker.plan()
        apply_placebos(self)  # placebo firings of contact rules (needs the surge plans; see model.placebo)
        W = plan.times.shape[0]
        if m.limits.waves < W:
            raise ModelLimitError(f"more than {m.limits.waves} waves in one replication")
        times = plan.times
        launched = self.attacker.launch(plan, self.attacker.requests(plan))
        readiness = self.air_defense.readiness_at(times)
        cd = self.civil_defense.active_at(times)
        blocks = self._blocks(plan)
        leaked, layers = resolve_layers(m, self.streams, times, launched, readiness, self.air_defense.deliveries,
                                        blocks)
        if recorder is not None:
            recorder.record(m, times, launched, leaked, layers)
        spared = self._spared(times)
        cons = resolve_consequences(m, self.streams, times, launched, leaked, cd, blocks,
                                    spared if spared.any() else None)
        tally = Tally(m, launched, leaked, layers, cons, self.attacker.surges, len(self.bus.log))
        if m.costed:
            tally.alert_nights, tally.raised_readiness_nights = self._burdens()
        out = evaluate(tally)
        ts = self._timeseries(times, launched, leaked, layers) if timeseries else None
        if ts is not None:
            ts["energy"] = cons.energy
        waves = None
        if trace:
            intercepted = launched - leaked
            waves = [Wave(float(times[w]), bool(plan.slot[w] >= 0), launched[w].tolist(), intercepted[w].tolist(),
                          leaked[w].tolist(), cons.hits[w].tolist(), float(readiness[w]), bool(cd[w]),
                          {lr.name: lr.killed[w].tolist() for lr in layers}) for w in range(W)]
        draws = {"surge_probability": float(self.attacker.surge_probability),
                 "pause_probability": self.attacker.responses.pause_probability}  # DRAW_NAMES, in order
        return Replication(out, ts, waves, [c.time for c in self.bus.log], draws)

    def _burdens(self) -> tuple[int, int]:
        """(alert nights, raised-readiness nights): nights ``d`` whose wave time ``d + WAVE_TIME``
        falls in a civil-defence window, or at which readiness is above its baseline."""
        nights = np.arange(self.model.horizon, dtype=float) + WAVE_TIME
        alert = int(np.count_nonzero(self.civil_defense.active_at(nights)))
        raised = int(np.count_nonzero(self.air_defense.readiness_at(nights) > self.air_defense.baseline))
        return alert, raised

    def _spared(self, times: FloatArray) -> IntArray:
        """Per wave, the bit mask of target classes a pause spares (0 outside pauses)."""
        mask = np.zeros(times.shape[0], dtype=np.int64)
        for w in self.attacker.responses.windows:
            if w.spared:
                mask[(times >= w.start) & (times < w.end)] |= w.spared
        return mask

    def _blocks(self, plan: WavePlan) -> Blocks:
        """Where each wave's munitions sit in the per-class draw arrays.

        Ordinary wave opportunities come first, in order, each reserving its *nominal* size
        (what it asked for before stock caps and stockpiling); then one slot per contact for
        its potential surge.  Positions therefore depend neither on how much stock there was
        nor on which surges happened, which keeps common random numbers aligned wave by wave
        between sets that differ in production, sanctions or surge behaviour.
        """
        W, C = plan.nominal.shape
        nominal = plan.nominal
        slots = self.attacker.slots
        slot = plan.slot
        ordinary = slot < 0
        starts = np.zeros((W, C), dtype=np.int64)
        ord_sizes = nominal[ordinary]
        ord_starts = np.zeros_like(ord_sizes)
        if ord_sizes.shape[0]:
            np.cumsum(ord_sizes[:-1], axis=0, out=ord_starts[1:])
        starts[ordinary] = ord_starts
        tail = ord_sizes.sum(axis=0)
        slot_starts = np.zeros((slots.shape[0] + 1, C), dtype=np.int64)
        np.cumsum(slots, axis=0, out=slot_starts[1:])
        slot_starts += tail
        starts[~ordinary] = slot_starts[slot[~ordinary]]
        totals = tail + slots.sum(axis=0)
        if (totals > self.model.limits.munitions).any():
            c = int(np.argmax(totals))
            raise ModelLimitError(f"{totals[c]} {self.model.classes[c]} munitions in one replication; the model's "
                                  f"limit is {self.model.limits.munitions:.3g} per class")
        surge_rows = np.flatnonzero(~ordinary)
        order = np.concatenate((np.flatnonzero(ordinary), surge_rows[np.argsort(slot[surge_rows], kind="stable")]))
        return Blocks(starts, totals, order.astype(np.int64))

    def _timeseries(self, times: Any, launched: Any, leaked: Any, layers: Any) -> dict[str, np.ndarray[Any, Any]]:
        m = self.model
        h = m.horizon
        day = times.astype(np.int64)
        ts: dict[str, np.ndarray[Any, Any]] = {"day": np.arange(h)}
        prod = m.cum_production_array
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
             timeseries: bool = False, trace: bool = False, recorder: WaveRecorder | None = None) -> Replication:
    """Run one replication of ``model`` (a scenario or a compiled scenario).

    ``seed`` is the master seed and ``replication`` the replication number; together with
    each stream's name they fix every random draw.  ``timeseries`` adds daily series (end
    of day); ``trace`` adds the per-wave log used by invariant tests; ``recorder`` (a
    :class:`WaveRecorder`) observes the resolved waves without changing any draw.
    """
    compiled = model if isinstance(model, CompiledScenario) else compile_scenario(model)
    world = World.create(compiled, seed, replication)
    world.run_events()
    return world.resolve(timeseries, trace, recorder)
