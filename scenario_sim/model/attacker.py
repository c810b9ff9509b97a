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

Surges (a listener on the contact broadcast; planned for all contacts after the events)
    For every contact, value *k* (its key) of streams per contact source
    ``attacker.surge.<source>.trigger``, ``.lag``, ``.multiplier`` and ``.size.<class>``: a
    uniform ``U``, a lag ``L ~ lag_days``, a multiplier ``k ~ size_multiplier`` and a size
    ``X_c ~ size`` per class.  If the surge is
    enabled, the contact's kind is in ``triggers`` and ``U < p`` (``p`` drawn once per
    replication from ``probability``: the analyst's uncertainty about whether the pattern
    exists), a surge wave is launched on the night of day ``floor(t + L)`` (the next night
    if that night's wave time has passed), every class asking for ``round(k * X_c * G(d))``
    (all drawn whether or not the contact surges); during the
    ``stockpile_days`` before it, ordinary waves shrink by ``stockpile_wave_factor``.
    Listeners of ``surge_planned`` (early warning) hear of the plan when it is made.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Protocol

import numpy as np
import simpy

from scenario_sim.model.clock import WAVE_TIME
from scenario_sim.model.compiled import CompiledScenario
from scenario_sim.model.contacts import Contact, rows_by_source
from scenario_sim.model.limits import ModelLimitError
from scenario_sim.model.response import Responses
from scenario_sim.model.rng import Streams

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

@dataclass
class SurgePlans:
    """The surges planned in a replication, one row each, in contact order."""

    planned_at: FloatArray   # contact time
    when: FloatArray         # the surge night's wave time
    time: FloatArray         # when the wave fires (as a SimPy timeout from planned_at would)
    slot: IntArray           # the contact's slot in the surge draws
    source: list[str]        # the contact's source and key (its identity across sets)
    key: IntArray

    @classmethod
    def empty(cls) -> SurgePlans:
        z = np.zeros(0)
        return cls(z, z, z, np.zeros(0, dtype=np.int64), [], np.zeros(0, dtype=np.int64))


_NO_PLANS = SurgePlans.empty()  # before plan_surges (never modified: plan_surges replaces it)


@dataclass
class WavePlan:
    """Wave opportunities, one row each: when, when they were scheduled, the day whose
    stock they draw on, nominal (requested) sizes, raw growth-scaled sizes (for stockpiling)
    and the surge slot (-1: an ordinary wave)."""

    times: FloatArray
    scheduled_at: FloatArray
    days: IntArray
    nominal: IntArray          # (W, C)
    scaled: FloatArray         # (W, C)
    slot: IntArray


class WaveSchedule(Protocol):
    """Strategy deciding when ordinary wave opportunities happen."""

    def times(self, attacker: Attacker) -> tuple[FloatArray, FloatArray]:
        """(times, times at which each was scheduled), in time order."""
        ...


class NightlyWaves:
    """One wave opportunity every night, at ``d + WAVE_TIME``."""

    def times(self, attacker: Attacker) -> tuple[FloatArray, FloatArray]:
        return _nightly_times(attacker.model.horizon)


@functools.lru_cache(maxsize=16)
def _nightly_times(h: int) -> tuple[FloatArray, FloatArray]:
    """(times, scheduled at) of the nightly opportunities of a horizon of ``h`` days (read only:
    shared by every replication)."""
    # The same floats a SimPy process waiting ``WAVE_TIME`` and then 1 day at a time
    # reaches (sequential sums), so event order against surges is as it always was.
    t = np.cumsum(np.r_[WAVE_TIME, np.ones(max(h - 1, 0))])[:h]
    sched = np.r_[0.0, t[:-1]] if h else t.copy()
    t.flags.writeable = False
    sched.flags.writeable = False
    return t, sched


class PoissonWaves:
    """Wave opportunities as a Poisson process with rate ``waves_per_day``."""

    def __init__(self, rate_per_day: float):
        self.rate = rate_per_day

    def times(self, attacker: Attacker) -> tuple[FloatArray, FloatArray]:
        rng = attacker.streams.rng("attacker.waves.schedule")
        h = float(attacker.model.horizon)
        limit = attacker.model.limits.waves
        block = int(min(limit, self.rate * h * 1.2 + 16))
        now, parts = 0.0, []
        n = 0
        while True:
            # Gaps are drawn in blocks; values after the first gap past the horizon are
            # never used, and nothing else draws from this stream.
            t = np.cumsum(np.r_[now, rng.exponential(1.0 / self.rate, block)])[1:]
            end = int(np.searchsorted(t >= h, True))
            parts.append(t[:end])
            n += end
            if n > limit:
                raise ModelLimitError(f"attacker.waves: more than {limit} wave opportunities in one replication")
            if end < t.shape[0]:
                break
            now = float(t[-1])
        times = np.concatenate(parts)
        return times, np.r_[0.0, times[:-1]] if times.shape[0] else times


def wave_schedule(model: CompiledScenario) -> WaveSchedule:
    """The schedule strategy a scenario asks for."""
    w = model.scenario.attacker.waves
    return NightlyWaves() if w.schedule == "nightly" else PoissonWaves(w.waves_per_day)


def _normal_cdf(x: FloatArray) -> FloatArray:
    """Standard normal cdf, elementwise (``0.5 erfc(-x / sqrt 2)``; numpy has no erfc).

    ``math.erfc`` over a list is twice as fast as ``np.frompyfunc`` (no object array);
    ``scipy.special.erfc`` would be ten times faster but differs from ``math.erfc`` in the
    last bit for a third of the values, which would move draws' comparisons."""
    erfc = math.erfc
    return 0.5 * np.array([erfc(v) for v in (-x / math.sqrt(2.0)).tolist()], dtype=np.float64)


_GRID_FROM, _GRID_STEP, _GRID_N = -9.0, 1.0 / 1024, 18 * 1024 + 1
_GRID_SLACK = 1e-9
"""Bounds are widened by this much: far more than the last-bit wobble of a computed cdf, far
less than a uniform's chance of falling between two neighbouring grid values."""


@functools.lru_cache(maxsize=1)
def _cdf_grid() -> FloatArray:
    """The exact cdf (:func:`_normal_cdf`) at ``_GRID_FROM + k _GRID_STEP``, k = 0 .. _GRID_N - 1,
    with 0 before and 1 after: ``grid[k + 1] <= Phi(x) <= grid[k + 2]`` for x in cell k (built
    once per process, ~20,000 ``math.erfc`` calls)."""
    x: FloatArray = _GRID_FROM + _GRID_STEP * np.arange(_GRID_N, dtype=np.float64)
    g = np.empty(_GRID_N + 2)
    g[0], g[1:-1], g[-1] = 0.0, _normal_cdf(x), 1.0
    g.flags.writeable = False
    return g


def below_normal_cdf(u: FloatArray, x: FloatArray) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """``u < Phi(x)`` elementwise, exactly as comparing ``u`` with :func:`_normal_cdf` decides it.

    Phi is increasing, so the exact cdf at the grid points either side of ``x`` bounds
    ``Phi(x)`` (:func:`_cdf_grid`, widened by ``_GRID_SLACK``): a uniform below the lower
    bound is below ``Phi(x)``, one at or above the upper bound is not.  Only a uniform
    between the two (probability < 0.4 / 1024 a value) is compared with
    ``0.5 math.erfc(-x / sqrt 2)`` itself, so the answer is the exact comparison's, bit for
    bit, without ``math.erfc`` on every value."""
    grid = _cdf_grid()
    cell = np.floor((x - _GRID_FROM) * (1.0 / _GRID_STEP))
    np.clip(cell, -1.0, _GRID_N - 1.0, out=cell)
    k = cell.astype(np.intp)
    k += 1
    out: np.ndarray[Any, np.dtype[np.bool_]] = u < grid[k] - _GRID_SLACK
    undecided = np.flatnonzero(~out & (u < grid[k + 1] + _GRID_SLACK))  # flat indices (contiguous arrays)
    if undecided.shape[0]:
        flat = out.reshape(-1)
        flat[undecided] = u.reshape(-1)[undecided] < _normal_cdf(x.reshape(-1)[undecided])
    return out


@dataclass(frozen=True)
class _AttackerStatic:
    """What an :class:`Attacker` takes from the compiled scenario: the same for every
    replication, so built once per compiled scenario (``CompiledScenario.memo``)."""

    schedule: WaveSchedule
    initial: tuple[float, ...]
    reserve: tuple[float, ...]
    waves: tuple[Any, ...]          # per class: its ``attacker.waves.classes`` entry or None
    surge_size: tuple[Any, ...]     # per class: its wave-size distribution or None
    probs: FloatArray               # per class: participation probability (read only)
    stockpile_factor: float
    forced: dict[int, Any]          # recorded responses by scheduled-contact index

    @classmethod
    def of(cls, model: CompiledScenario) -> _AttackerStatic:
        a = model.scenario.attacker
        waves = tuple(a.waves.classes.get(c) for c in model.classes)
        probs = np.array([cw.probability if cw else 0.0 for cw in waves])
        probs.flags.writeable = False
        return cls(wave_schedule(model), tuple(float(a.arsenal[c].initial_stock) for c in model.classes),
                   tuple(a.arsenal[c].reserve_stock for c in model.classes), waves,
                   tuple(cw.size if cw is not None else None for cw in waves), probs, a.surge.stockpile_wave_factor,
                   Responses.recorded_responses(model.scenario))


class Attacker:
    """State and behaviour of the attacker (scope ``attacker``)."""

    def __init__(self, env: simpy.Environment, model: CompiledScenario, streams: Streams,
                 schedule: WaveSchedule | None = None):
        self.env = env
        self.model = model
        self.streams = streams
        st = model.memo.get("attacker")
        if st is None:
            st = model.memo["attacker"] = _AttackerStatic.of(model)
        self.schedule = schedule or st.schedule
        self.initial = st.initial
        self.reserve = st.reserve
        self.surges = 0
        self.slots: IntArray = np.zeros((0, model.n_classes), dtype=np.int64)  # per contact (after plan())
        self._slot_keys: list[tuple[str, int, int]] = []  # per contact: (source, key, day of its surge)
        self.surge_planned_listeners: list[Callable[[SurgePlans], None]] = []
        self.contacts: list[Contact] = []
        self._plans = _NO_PLANS
        self._waves = st.waves
        self._surge_size = st.surge_size
        self._probs = st.probs
        self._stockpile_factor = st.stockpile_factor
        self.responses = Responses(model.scenario, streams, st.forced)
        self.surge_probability = math.nan  # drawn by plan_surges

    # -- waves -----------------------------------------------------------------------
    def draw_waves(self, n: int, growth: np.ndarray[Any, Any]) -> tuple[IntArray, FloatArray]:
        """Draw ``n`` ordinary waves: requested sizes, and growth-scaled raw sizes (for stockpiling);
        ``growth`` is (n, C), each opportunity's size multiplier per class.

        Opportunity *k* takes value *k* of ``attacker.waves.<class>.participation`` and of
        ``.size``, whatever happens at other opportunities (all are drawn in one call)."""
        C = self.model.n_classes
        scaled = np.zeros((n, C))
        # Combined strikes: one normal per opportunity (value k of attacker.waves.combined) shared by
        # every class; class c with loading L takes part iff L Z + sqrt(1 - L^2) Phi^-1(U_c) < Phi^-1(p_c),
        # i.e. U_c < Phi((Phi^-1(p_c) - L Z) / sqrt(1 - L^2)).  With every L = 0 this is U_c < p_c,
        # the independent rule, and the stream is not opened.
        loaded = any(cw is not None and cw.participation_loading > 0 for cw in self._waves)
        z = self.streams.rng("attacker.waves.combined").standard_normal(n) if loaded else None
        rng = self.streams.rng
        drawn = []
        combined = []  # classes whose participation depends on z: their uniforms and cdf arguments
        for c, cw in enumerate(self._waves):
            if cw is None:
                continue
            name = self.model.classes[c]
            u = rng(f"attacker.waves.{name}.participation").random(n)
            load = cw.participation_loading
            p = float(self._probs[c])
            if z is None or load == 0 or not 0 < p < 1:
                takes = u < p
            else:
                takes = None
                combined.append((u, (NormalDist().inv_cdf(p) - load * z) / math.sqrt(1 - load * load)))
            drawn.append((c, takes, cw.size.sample(rng(f"attacker.waves.{name}.size"), n)))
        # every combined class's comparison in one vectorised pass
        joint = iter(below_normal_cdf(np.array([u for u, _ in combined]), np.array([x for _, x in combined]))
                     if combined else ())
        for c, takes, size in drawn:
            scaled[:, c] = np.where(next(joint) if takes is None else takes, size * growth[:, c], 0.0)
        return np.rint(scaled).astype(np.int64), scaled

    def plan(self) -> WavePlan:
        """Every wave opportunity of the replication, in the order the events happen.

        Ordinary waves come from the schedule; surge waves from the contacts heard during
        the event simulation (call after it).  At equal times, the wave scheduled first goes
        first, as SimPy orders events.  Every opportunity is kept, even one that launches
        nothing, because its nominal sizes reserve its place in the engagement draws.
        """
        self.plan_surges()
        self.slots = self.slot_sizes()
        times, sched = self.schedule.times(self)
        n = times.shape[0]
        days = times.astype(np.int64)
        nominal, scaled = self.draw_waves(n, self.model.size_growth[days])
        sp = self._plans
        C = self.model.n_classes
        if sp.slot.shape[0]:
            cat = np.concatenate  # (np.r_ and np.vstack are the same, through slow Python wrappers)
            times = cat((times, sp.time))
            sched = cat((sched, sp.planned_at))
            days = cat((days, sp.when.astype(np.int64)))
            slot_ids = sp.slot
            nominal = cat((nominal, self.slots[slot_ids]))
            scaled = cat((scaled, np.zeros((slot_ids.shape[0], C))))
            slot = cat((np.full(n, -1, dtype=np.int64), slot_ids))
            order = np.lexsort((np.arange(times.shape[0]), sched, times))
            times, sched, scaled = times[order], sched[order], scaled[order]
            days, nominal, slot = days[order], nominal[order], slot[order]
        else:
            slot = np.full(n, -1, dtype=np.int64)
        return WavePlan(times, sched, days, nominal, scaled, slot)

    def slot_sizes(self) -> IntArray:
        """Nominal sizes of every contact's potential surge, ``round(k * X_c * G(d))``.

        Drawn for all contacts at once, from streams per contact source indexed by the
        contact's key (``attacker.surge.<source>.multiplier`` and ``.size.<class>``): value
        *k* of a stream belongs to contact *k* of that source whether or not the contacts
        before it exist in a set, so per-contact alignment holds as with one stream each.
        """
        C = self.model.n_classes
        keys = self._slot_keys
        out = np.zeros((len(keys), C), dtype=np.int64)
        if not keys:
            return out
        surge = self.model.scenario.attacker.surge
        key = np.array([k[1] for k in keys], dtype=np.int64)
        growth = self.model.size_growth[np.array([k[2] for k in keys], dtype=np.int64)]
        for source, rows in rows_by_source([k[0] for k in keys]).items():
            n = int(key[rows].max()) + 1
            mult = surge.size_multiplier.sample(self.streams.rng(f"attacker.surge.{source}.multiplier"), n)[key[rows]]
            for c, dist in enumerate(self._surge_size):
                if dist is None:
                    continue
                x = dist.sample(self.streams.rng(f"attacker.surge.{source}.size.{self.model.classes[c]}"), n)[key[rows]]
                out[rows, c] = np.rint(x * growth[rows, c] * mult).astype(np.int64)
        return out

    def wave_factor(self, t: FloatArray) -> FloatArray:
        """Multiplier on wave sizes at times ``t`` from the pauses in force (1 outside them;
        a pause starts no earlier than the contact that planned it)."""
        f = np.ones(t.shape[0])
        for w in self.responses.windows:
            on = (t >= w.start) & (t < w.end)
            f[on] = np.minimum(f[on], w.factor)
        return f

    def requests(self, plan: WavePlan) -> IntArray:
        """Sizes each opportunity asks for: nominal, or shrunk while saving up for a surge
        (a stockpiling window applies to waves after it was planned) and during a pause."""
        req = plan.nominal.copy()
        days = self.model.scenario.attacker.surge.stockpile_days
        sp = self._plans
        t = plan.times
        ordinary = plan.slot < 0
        saving = np.zeros(t.shape[0], dtype=bool)
        if days > 0:
            for planned, b in zip(sp.planned_at.tolist(), sp.when.tolist(), strict=True):
                saving |= (t >= planned) & (t >= b - days) & (t < b)
        saving &= ordinary
        if self.responses.windows:
            when = t.copy()  # a surge's factor is read at its night's wave time
            when[~ordinary] = self._when_of_slot(plan.slot[~ordinary])
            f = self.wave_factor(when)
        else:
            f = np.ones(t.shape[0])
        k = f * np.where(saving, self._stockpile_factor, 1.0)
        change = ordinary & (saving | (f != 1.0))
        if change.any():
            req[change] = np.rint(plan.scaled[change] * k[change][:, None]).astype(np.int64)
        paused = ~ordinary & (f != 1.0)
        if paused.any():
            req[paused] = np.rint(plan.nominal[paused] * f[paused][:, None]).astype(np.int64)
        return req

    def _when_of_slot(self, slots: IntArray) -> FloatArray:
        sp = self._plans
        order = np.argsort(sp.slot)
        return sp.when[order][np.searchsorted(sp.slot[order], slots)]

    def launch(self, plan: WavePlan, requests: IntArray) -> IntArray:
        """Launches per opportunity: requests capped by the stock above the reserve, in event
        order.  The stock on day *d* is ``initial + produced before d - launched so far``;
        a request of ``n`` launches ``n`` if that leaves the reserve, else what is above it."""
        launched = requests.copy()
        used = np.zeros_like(requests)
        np.cumsum(requests[:-1], axis=0, out=used[1:])
        # The sequential rule's arithmetic, evaluated for every wave and class at once assuming
        # no earlier wave was capped (per element the same float operations as class by class);
        # only from a class's first capped wave on is a loop needed.
        initial = np.array(self.initial)
        reserve = np.array(self.reserve)
        avail = ((initial + self.model.cum_production_array[plan.days]) - used) - reserve
        capped = (requests > 0) & (requests > avail)
        for c in np.flatnonzero(capped.any(axis=0)).tolist():
            w0 = int(np.argmax(capped[:, c]))
            launched[:, c] = self._launch_from(c, w0, requests[:, c], plan.days, int(used[w0, c]))
        return launched

    def _launch_from(self, c: int, w0: int, n: IntArray, days: IntArray, used: int) -> IntArray:
        """The sequential rule from wave ``w0`` on, over the waves that ask for something
        (the others launch nothing and change nothing)."""
        asks = w0 + np.flatnonzero(n[w0:] > 0)
        initial, reserve = self.initial[c], self.reserve[c]
        # initial + cum[day] for each such wave: the same float sum the rule forms, taken at once
        base = (initial + self.model.cum_production_array[days[asks], c]).tolist()
        out = n[asks].tolist()
        for j, k in enumerate(out):
            avail = base[j] - used - reserve
            m = k if k <= avail else max(0, math.floor(avail))
            used += m
            out[j] = m
        launched = n.copy()
        launched[asks] = out
        return launched

    # -- listeners -------------------------------------------------------------------
    def on_contact(self, contact: Contact) -> None:
        """Listener: remember the contact; its potential surge is planned with all the others
        once the event simulation is over (:meth:`plan_surges`), which is exact because
        nothing during the events depends on a surge plan."""
        self.contacts.append(contact)

    def plan_surges(self) -> None:
        """Plan the potential surge of every contact heard, all at once.

        Per contact (by its source and key, so a contact that exists in one set but not in
        another shifts no other contact's draws): a uniform ``U``
        (``attacker.surge.<source>.trigger``) and a lag ``L ~ lag_days``
        (``attacker.surge.<source>.lag``).  The surge falls on the night of day
        ``floor(t + L)`` (the next night if that wave time has passed).  Every contact gets a
        slot (its draws are laid out whether or not it surges); a surge happens if the rule
        is enabled, the kind is a trigger, ``U < p`` and it falls inside the horizon.
        """
        surge = self.model.scenario.attacker.surge
        self.surge_probability = p = (
            self.model.surge_probability_fixed if self.model.surge_probability_fixed is not None
            else float(surge.probability.sample(self.streams.rng("attacker.surge.probability"), 1)[0]))
        contacts = self.contacts
        n = len(contacts)
        if n == 0:
            self._plans = SurgePlans.empty()
            return
        tc = np.array([c.time for c in contacts])
        sources = [c.source for c in contacts]
        key = np.array([c.key for c in contacts], dtype=np.int64)
        u, lag = np.zeros(n), np.zeros(n)
        for source, rows in rows_by_source(sources).items():
            k = key[rows]
            size = int(k.max()) + 1
            u[rows] = self.streams.rng(f"attacker.surge.{source}.trigger").random(size)[k]
            lag[rows] = surge.lag_days.sample(self.streams.rng(f"attacker.surge.{source}.lag"), size)[k]
        when = np.floor(tc + lag) + WAVE_TIME
        when = np.where(when < tc, when + 1.0, when)
        day = np.minimum(when.astype(np.int64), self.model.horizon - 1)
        self._slot_keys = list(zip(sources, key.tolist(), day.tolist(), strict=True))
        # The contact's answer (surge, pause or nothing; a recorded answer overrides the draw),
        # from the same uniform U: see scenario_sim.model.response.
        answers = [self.responses.decide(c, float(u[i]), p) for i, c in enumerate(contacts)]
        for c, answer in zip(contacts, answers, strict=True):
            if answer == "pause":
                self.responses.start_pause(c)
        happens = np.array([a == "surge" for a in answers], dtype=bool) & (when < self.model.horizon)
        rows = np.flatnonzero(happens)
        # The surge wave fires when a SimPy timeout of (when - t) started at t would.
        self._plans = SurgePlans(planned_at=tc[rows], when=when[rows], time=tc[rows] + (when[rows] - tc[rows]),
                                 slot=rows, source=[sources[r] for r in rows.tolist()], key=key[rows])
        self.surges = int(rows.shape[0])
        for listener in self.surge_planned_listeners:
            listener(self._plans)
