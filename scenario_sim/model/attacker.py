"""The attacker: arsenal, production, ordinary strike waves and surges after contacts.

Arsenal
    Per munition class *c* a stock that starts at ``initial_stock`` and grows by the compiled
    daily production ``P_c(d) = production_per_day * (1 + g)^(d/30) * M_c(d)`` (``g`` =
    ``production_growth_per_month``, ``M_c`` the sanctions multiplier, see
    :mod:`scenario_sim.model.sanctions`); day *d*'s production is available from the end of
    day *d*.  A wave asking for ``n`` munitions launches ``min(n, floor(S_c - reserve_stock))``
    and never less than zero: the attacker never dips into its reserve.

Ordinary waves (a schedule *strategy*, injected)
    ``nightly``: one wave opportunity each night; ``poisson``: opportunities at rate
    ``waves_per_day``.  At each opportunity class *c* takes part with probability
    ``classes[c].probability`` and asks for ``round(X * G(d) * K(t))`` munitions, where
    ``X ~ classes[c].size``, ``G(d) = (1 + size_growth_per_month)^(d/30)`` and ``K(t)`` is
    ``stockpile_wave_factor`` while the attacker is saving up for a surge, else 1.
    (Streams ``attacker.waves.<class>.participation`` and ``.size``.)

Surges (a listener on the contact broadcast)
    For every contact, from its own stream ``attacker.surge.<contact id>``: a uniform ``U``,
    a lag ``L ~ lag_days``, a multiplier ``k ~ size_multiplier`` and a size ``X_c ~ size``
    per class.  If the surge is
    enabled, the contact's kind is in ``triggers`` and ``U < p`` (``p`` drawn once per
    replication from ``probability``: the analyst's uncertainty about whether the pattern
    exists), a surge wave is launched on the night of day ``floor(t + L)`` (the next night
    if that night's wave time has passed), every class asking for ``round(k * X_c * G(d))``
    (all drawn whether or not the contact surges); during the
    ``stockpile_days`` before it, ordinary waves shrink by ``stockpile_wave_factor``.
    Listeners of ``surge_planned`` (early warning) hear of the plan when it is made.

Pauses (:mod:`scenario_sim.model.response`)
    The same uniform ``U`` decides between a surge, a pause (``attacker.pause``) and nothing;
    a scheduled contact's recorded ``response`` overrides the draw.  During a pause of scope
    ``waves`` every wave's request is multiplied by ``wave_factor``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any, Protocol

import numpy as np
import simpy

from scenario_sim.model.clock import WAVE_TIME
from scenario_sim.model.compiled import CompiledScenario
from scenario_sim.model.contacts import Contact
from scenario_sim.model.response import Responses
from scenario_sim.model.rng import Buffer, Streams

LaunchFn = Callable[[float, list[int], list[int], int], None]
"""Called for every wave opportunity: (time, launched, nominal sizes, surge slot or -1)."""


class WaveSchedule(Protocol):
    """Strategy deciding when ordinary wave opportunities happen."""

    def run(self, env: simpy.Environment, attacker: Attacker) -> Generator[simpy.Event, Any, None]: ...


class NightlyWaves:
    """One wave opportunity every night (sizes for the whole horizon drawn up front)."""

    def run(self, env: simpy.Environment, attacker: Attacker) -> Generator[simpy.Event, Any, None]:
        h = attacker.model.horizon
        plan, scaled = attacker.draw_waves(h, attacker.model.size_growth)
        yield env.timeout(WAVE_TIME)
        for d in range(h):
            attacker.ordinary_wave(d, plan[d], scaled[d])
            if d + 1 < h:
                yield env.timeout(1.0)


class PoissonWaves:
    """Wave opportunities as a Poisson process with rate ``waves_per_day``."""

    def __init__(self, rate_per_day: float):
        self.rate = rate_per_day

    def run(self, env: simpy.Environment, attacker: Attacker) -> Generator[simpy.Event, Any, None]:
        rng = attacker.streams.rng("attacker.waves.schedule")
        h = attacker.model.horizon
        while True:
            gap = rng.exponential(1.0 / self.rate)
            if env.now + gap >= h:
                return
            yield env.timeout(gap)
            d = int(env.now)
            plan, scaled = attacker.draw_waves(1, attacker.model.size_growth[d:d + 1])
            attacker.ordinary_wave(d, plan[0], scaled[0])


def wave_schedule(model: CompiledScenario) -> WaveSchedule:
    """The schedule strategy a scenario asks for."""
    w = model.scenario.attacker.waves
    return NightlyWaves() if w.schedule == "nightly" else PoissonWaves(w.waves_per_day)


class Attacker:
    """State and behaviour of the attacker (scope ``attacker``)."""

    def __init__(self, env: simpy.Environment, model: CompiledScenario, streams: Streams, launch: LaunchFn):
        self.env = env
        self.model = model
        self.streams = streams
        self._emit = launch
        a = model.scenario.attacker
        C = model.n_classes
        self.initial = [float(a.arsenal[c].initial_stock) for c in model.classes]
        self.reserve = [a.arsenal[c].reserve_stock for c in model.classes]
        self.used = [0] * C
        self.surges = 0
        self.slots: list[list[int]] = []  # per contact: the nominal sizes of its potential surge
        self.surge_planned_listeners: list[Callable[[float, float, Contact], None]] = []
        self._stockpile: list[tuple[float, float]] = []
        self._waves = [a.waves.classes.get(c) for c in model.classes]
        self._part: list[Buffer | None] = []
        self._size: list[Buffer | None] = []
        self._surge_size: list[Any] = []
        for c, cw in zip(model.classes, self._waves, strict=True):
            if cw is None:
                self._part.append(None)
                self._size.append(None)
                self._surge_size.append(None)
                continue
            self._part.append(streams.buffer(f"attacker.waves.{c}.participation"))
            self._size.append(streams.buffer(f"attacker.waves.{c}.size", cw.size.sample))
            self._surge_size.append(cw.size)
        self._probs = np.array([cw.probability if cw else 0.0 for cw in self._waves])
        self.surge_probability = (
            model.surge_probability_fixed if model.surge_probability_fixed is not None
            else float(a.surge.probability.sample(streams.rng("attacker.surge.probability"), 1)[0])
        )
        self._stockpile_factor = a.surge.stockpile_wave_factor
        self.responses = Responses(model.scenario, streams)

    # -- processes -------------------------------------------------------------------
    def processes(self) -> list[Generator[simpy.Event, Any, None]]:
        return [wave_schedule(self.model).run(self.env, self)]

    def draw_waves(self, n: int, growth: np.ndarray[Any, Any]) -> tuple[list[list[int]], np.ndarray[Any, Any]]:
        """Draw ``n`` ordinary waves: requested sizes, and growth-scaled raw sizes (for stockpiling)."""
        C = self.model.n_classes
        scaled = np.zeros((n, C))
        for c in range(C):
            part, size = self._part[c], self._size[c]
            if part is None or size is None:
                continue
            takes = part.take(n) < self._probs[c]
            scaled[:, c] = np.where(takes, size.take(n) * growth, 0.0)
        return np.rint(scaled).astype(np.int64).tolist(), scaled

    def ordinary_wave(self, day: int, sizes: list[int], scaled: np.ndarray[Any, Any]) -> None:
        """A wave opportunity.  Every opportunity is reported, even one that launches
        nothing, because its nominal sizes reserve its place in the engagement draws."""
        t = self.env.now
        nominal = sizes
        if self._stockpile and self._saving(t):
            k = self._stockpile_factor
            sizes = [round(x * k) for x in scaled.tolist()]
        if self.responses.windows:
            f = self.responses.wave_factor(t)
            if f != 1.0:
                k = f * (self._stockpile_factor if self._stockpile and self._saving(t) else 1.0)
                sizes = [round(x * k) for x in scaled.tolist()]
        self._emit(t, self.launch(day, sizes), nominal, -1)

    def surge_wave(self, when: float, slot: int) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(when - self.env.now)
        nominal = self.slots[slot]
        f = self.responses.wave_factor(when) if self.responses.windows else 1.0
        launched = self.launch(int(when), nominal if f == 1.0 else [round(x * f) for x in nominal])
        self.surges += 1
        self._emit(self.env.now, launched, nominal, slot)

    # -- listeners -------------------------------------------------------------------
    def on_contact(self, contact: Contact) -> None:
        surge = self.model.scenario.attacker.surge
        # One stream per contact, keyed by the contact's identity, and every value drawn
        # whatever the rule says: a contact that exists in one set but not another (travel
        # bans thin the stochastic contacts) shifts no other contact's surge.
        rng = self.streams.rng(f"attacker.surge.{contact.id}")
        u = rng.random()
        lag = float(surge.lag_days.sample(rng, 1)[0])
        mult = float(surge.size_multiplier.sample(rng, 1)[0])
        draws = [float(d.sample(rng, 1)[0]) if d is not None else 0.0 for d in self._surge_size]
        when = math.floor(contact.time + lag) + WAVE_TIME
        if when < contact.time:  # a contact after tonight's wave: the surge comes the next night
            when += 1.0
        # The potential surge's sizes are drawn for every contact, and it gets a slot whether
        # or not it happens: surges that come and go between sets shift nothing else.
        g = self.model.size_growth[min(int(when), self.model.horizon - 1)]
        slot = len(self.slots)
        self.slots.append([round(x * g * mult) for x in draws])
        answer = self.responses.decide(contact, u, self.surge_probability)
        if answer == "pause":
            self.responses.start_pause(contact)
            return
        if answer != "surge":
            return
        if when >= self.model.horizon:
            return
        if surge.stockpile_days > 0:
            self._stockpile.append((when - surge.stockpile_days, when))
        for listener in self.surge_planned_listeners:
            listener(self.env.now, when, contact)
        self.env.process(self.surge_wave(when, slot))

    # -- mechanics -------------------------------------------------------------------
    def _saving(self, t: float) -> bool:
        return any(a <= t < b for a, b in self._stockpile)

    def stock(self, day: int) -> list[float]:
        """Stock per class during day ``day`` (production of earlier days included)."""
        made = self.model.cum_production[day]
        return [self.initial[c] + made[c] - self.used[c] for c in range(self.model.n_classes)]

    def launch(self, day: int, sizes: list[int]) -> list[int]:
        """Take munitions from stock, capped by what is above the reserve."""
        made = self.model.cum_production[day]
        used, initial, reserve = self.used, self.initial, self.reserve
        out = [0] * len(sizes)
        for c, n in enumerate(sizes):
            if n > 0:
                avail = initial[c] + made[c] - used[c] - reserve[c]
                m = n if n <= avail else max(0, math.floor(avail))
                used[c] += m
                out[c] = m
        return out
