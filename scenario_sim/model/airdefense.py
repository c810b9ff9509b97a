"""Layered air defence: engagement per wave and layer, readiness rules, resupply.

Layers are engaged in the order the scenario lists them; the munitions a layer does not
destroy ("leakers") go on to the next.  Each layer *j* resolves a whole wave at once:

1. Effective capacity ``cap = floor(capacity_per_wave * r)`` targets, where ``r`` is the
   readiness level when the wave arrives.  Capacity is spent on classes in the layer's
   ``engages`` order (priority), so a saturated layer lets lower-priority classes through.
2. Shots per target ``s`` = ``shots_per_target``, or ``reduced_shots_per_target`` when the
   layer's interceptor stock is below ``reduce_below_stock`` as the wave arrives.
3. A target engaged with ``s`` shots of single-shot kill probability ``pk`` is destroyed
   with probability ``1 - (1 - pk)^s`` (independent shots).  Under ``salvo`` all ``s``
   shots are fired; under ``shoot_look_shoot`` shots are fired one at a time until a kill,
   so a target uses ``min(s, G)`` shots with ``G ~ Geometric(pk)``.
4. Only munitions within the layer's reach are engaged: a share ``coverage[c]`` of each
   class (default 1; Patriot batteries, for instance, defend a few cities).
5. Targets are engaged while capacity and interceptors last; a layer with no inventory
   (electronic warfare, mobile fire groups) is limited by capacity only.

Random numbers: *one uniform per launched munition, per layer and class*, from the stream
``air_defense.<system>.<class>``, in blocks aligned with the waves.  Munition *i* of a wave's
block is within reach iff ``U[i] < coverage``; with ``V = U[i] / coverage`` (uniform on
[0, 1) given reach) it is destroyed, if engaged, iff ``V < 1 - (1 - pk)^s`` and
(shoot-look-shoot) uses ``min(s, 1 + floor(log(1 - V) / log(1 - pk)))`` shots.  A layer engages the first *e*
munitions of the block that reach it, so a set that improves an upper layer leaves every
uniform of the lower layers in place, and the coupling is monotone (more kills above never
mean more leakers below).  Counting kills is a difference of prefix sums, so a whole
replication is resolved with a few array operations per layer; only layers with a finite
inventory walk the waves in order, since their stock couples one wave to the next.

Readiness ``r(t) = max(baseline, levels of active raises)``.  Raises come from rules that
recommendations switch on: ``after_contact`` (for ``duration_days`` after ``delay_days``
from each contact) and ``early_warning`` (when the attacker plans a surge it is detected
with ``detection_probability``, stream ``air_defense.early_warning``, drawn for every plan;
readiness is then raised from ``lead_days`` before the surge until the surge night ends).

Resupply: deliveries fall due at ``first + k * interval_days`` inside the horizon and arrive
``lead_time_days`` later (drawn per delivery, stream ``air_defense.<system>.resupply``).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from scenario_sim.model.compiled import CompiledScenario, CompiledSystem
from scenario_sim.model.contacts import Contact
from scenario_sim.model.doctrine import Doctrine, kill_probability
from scenario_sim.model.draws import Blocks, prefix, prefix_bool, range_counts, uniforms
from scenario_sim.model.rng import Streams

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class AirDefense:
    """Readiness rules and deliveries during the event simulation (scope ``air_defense``)."""

    def __init__(self, env: simpy.Environment, model: CompiledScenario, streams: Streams):
        self.env = env
        self.model = model
        self.streams = streams
        self.baseline = model.scenario.air_defense.readiness.baseline
        self.raises: list[tuple[float, float, float]] = []
        self.deliveries: dict[str, list[tuple[float, int]]] = {s.spec.name: [] for s in model.systems}

    def processes(self) -> list[Generator[simpy.Event, Any, None]]:
        return [self.resupply(cs) for cs in self.model.systems if cs.limited and cs.deliveries_due]

    def resupply(self, cs: CompiledSystem) -> Generator[simpy.Event, Any, None]:
        """Process ``air_defense.<system>.resupply``: deliveries at due date plus lead time."""
        inter = cs.spec.interceptors
        assert inter is not None and inter.resupply is not None
        due = np.asarray(cs.deliveries_due)
        lead = inter.resupply.lead_time_days.sample(self.streams.rng(f"air_defense.{cs.spec.name}.resupply"),
                                                    due.shape[0])
        log = self.deliveries[cs.spec.name]
        for t in np.sort(due + lead).tolist():
            if t >= self.model.horizon:
                return
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            log.append((self.env.now, cs.delivery_quantity))

    def readiness(self, t: float) -> float:
        r = self.baseline
        for a, b, level in self.raises:
            if a <= t < b and level > r:
                r = level
        return r

    def on_contact(self, contact: Contact) -> None:
        rule = self.model.scenario.air_defense.readiness.after_contact
        if rule.enabled:
            start = contact.time + rule.delay_days
            self.raises.append((start, start + rule.duration_days, rule.level))

    def on_surge_planned(self, now: float, when: float, contact: Contact) -> None:
        ew = self.model.scenario.air_defense.readiness.early_warning
        # One draw per planned surge, from a stream keyed by its contact, whether or not the
        # rule is on: switching the rule on (or a surge appearing elsewhere) shifts nothing.
        u = self.streams.rng(f"air_defense.early_warning.{contact.id}").random()
        if ew.enabled and u < ew.detection_probability:
            self.raises.append((max(now, when - ew.lead_days), when + 0.05, ew.level))


# --------------------------------------------------------------------------- resolution


@dataclass
class LayerResult:
    name: str
    killed: IntArray          # (W, C)
    shots: IntArray           # (W,)
    exhausted_days: int


def _within_reach(u: FloatArray, coverage: float) -> tuple[np.ndarray[Any, Any], FloatArray]:
    """(within reach, engagement uniform) for coverage < 1: reach iff ``u < coverage``, and
    then ``u / coverage`` is uniform on [0, 1); munitions out of reach get 0 (never used)."""
    reach = u < coverage
    if coverage <= 0.0:
        return reach, np.zeros(u.shape[0])
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        v = np.where(reach, u / np.float64(coverage), 0.0)
    return reach, np.minimum(v, np.nextafter(1.0, 0.0))


def _engagement(u: FloatArray, coverage: float) -> tuple[np.ndarray[Any, Any] | None, FloatArray]:
    """(within reach or None when every munition is, engagement uniform)."""
    if coverage >= 1.0:
        return None, u
    return _within_reach(u, coverage)


class _Draws:
    """Prefix sums over one layer-class's uniforms for a given shots-per-target.

    ``covered[k]``, ``kills[k]`` and ``used[k]`` count, over the first *k* munitions of the
    class in the replication, those within reach, those destroyed if engaged, and the shots
    they would take.  A munition is within reach iff ``U < coverage``; given that, ``U /
    coverage`` is uniform on [0, 1) and plays the role of the engagement uniform.  Where a
    count is arithmetic (full coverage: ``covered[k] = k``; fixed shots per target: ``used[k]
    = s * covered[k]``) no array is built.
    """

    def __init__(self, u: FloatArray, pk: float, shots: int, doctrine: Doctrine, coverage: float):
        reach, v = _engagement(u, coverage)
        self.full = reach is None
        kill = v < kill_probability(pk, shots)
        if reach is not None:
            kill &= reach
        self.kills = prefix_bool(kill)
        n = u.shape[0]
        self.covered = np.arange(n + 1, dtype=np.int64) if reach is None else prefix_bool(reach)
        fixed = doctrine.fixed_shots(pk, shots)
        if fixed is not None:
            self.used = self.covered * fixed
        else:
            used = doctrine.shots_taken(v, pk, shots).astype(np.int64)
            if reach is not None:
                used[~reach] = 0
            self.used = prefix(used)

    def lists(self) -> tuple[list[int], list[int], list[int], bool]:
        # Python lists: the stocked layer walks waves one by one, and list indexing is
        # several times cheaper than numpy scalar indexing.
        return self.covered.tolist(), self.used.tolist(), self.kills.tolist(), self.full


def resolve_layers(model: CompiledScenario, streams: Streams, times: FloatArray, launched: IntArray,
                   readiness: FloatArray, deliveries: dict[str, list[tuple[float, int]]], blocks: Blocks,
                   ) -> tuple[IntArray, list[LayerResult]]:
    """Resolve every wave through every layer, in order.  Returns (leakers (W, C), per-layer results).

    ``launched`` is not modified; each layer engages what the layers above let through.
    """
    remaining = launched.copy()
    results = []
    day_ends = np.arange(model.horizon) + 0.95
    for cs in model.systems:
        spec = cs.spec
        cap = np.floor(spec.capacity_per_wave * readiness).astype(np.int64)
        u = {c: uniforms(streams.rng(f"air_defense.{spec.name}.{model.classes[c]}"), int(blocks.totals[c]))
             for c in cs.engages}
        if cs.limited:
            killed, shots = _stocked_layer(cs, u, remaining, cap, blocks.starts, times, launched,
                                           deliveries.get(spec.name, []))
            exhausted = _days_exhausted(cs.initial_stock, times, shots, deliveries.get(spec.name, []), day_ends)
        else:
            killed, shots = _unlimited_layer(cs, u, remaining, cap, blocks.starts)
            exhausted = 0
        results.append(LayerResult(spec.name, killed, shots, exhausted))
    return remaining, results


def _unlimited_layer(cs: CompiledSystem, u: dict[int, FloatArray], remaining: IntArray, cap: IntArray,
                     starts: IntArray) -> tuple[IntArray, IntArray]:
    """A layer without an interceptor inventory: limited by capacity only, so every wave is
    resolved at once with a few array passes.  Updates ``remaining`` in place."""
    W, C = remaining.shape
    killed = np.zeros((W, C), dtype=np.int64)
    shots = np.zeros(W, dtype=np.int64)
    d = cs.doctrine
    s = d.shots_per_target(math.inf)  # unlimited stock is never below the threshold
    for c in cs.engages:
        st = starts[:, c]
        pk = cs.pk[c]
        reach, v = _engagement(u[c], cs.coverage[c])
        if reach is None:
            e = np.minimum(remaining[:, c], cap)
            m = e
        else:  # engage the first e munitions within reach: find where they end
            cp = prefix_bool(reach)
            e = np.minimum(cp[st + remaining[:, c]] - cp[st], cap)
            m = np.where(e > 0, np.searchsorted(cp, cp[st] + e, side="left") - st, 0)
        kill = v < np.float64(kill_probability(pk, s))
        if reach is not None:
            kill &= reach
        k = range_counts(kill, st, m)
        fixed = d.fixed_shots(pk, s)
        if fixed is None:
            used = d.shots_taken(v, pk, s).astype(np.int8)
            if reach is not None:
                used[~reach] = 0
            shots += range_counts(used, st, m)
        else:
            shots += e * fixed
        cap = cap - e
        remaining[:, c] -= k
        killed[:, c] = k
    return killed, shots


def _stocked_layer(cs: CompiledSystem, u: dict[int, FloatArray], remaining: IntArray, cap: IntArray,
                   starts: IntArray, times: FloatArray, launched: IntArray,
                   deliveries: list[tuple[float, int]]) -> tuple[IntArray, IntArray]:
    """A layer with an interceptor inventory: the stock couples each wave to the next, so the
    waves are walked in order over prefix sums of the draws.  Updates ``remaining`` in place."""
    W, C = remaining.shape
    d = cs.doctrine
    levels = {d.shots, d.reduced_shots}
    tables = {s: {c: _Draws(u[c], cs.pk[c], s, d, cs.coverage[c]).lists() for c in cs.engages} for s in levels}
    killed = np.zeros((W, C), dtype=np.int64)
    stock = float(cs.initial_stock)
    di = 0
    active = np.flatnonzero(launched[:, cs.engages].sum(axis=1) > 0) if W else np.empty(0, dtype=np.int64)
    rem = remaining.tolist()
    stl = starts.tolist()
    capl = cap.tolist()
    shots_l = [0] * W
    for w in active.tolist():
        t = times[w]
        while di < len(deliveries) and deliveries[di][0] <= t:
            stock += deliveries[di][1]
            di += 1
        draws = tables[d.shots_per_target(stock)]
        c_left = capl[w]
        row = rem[w]
        for c in cs.engages:
            if row[c] <= 0 or c_left <= 0:
                continue
            e, fired, k = _engage_stocked(draws[c], stl[w][c], row[c], c_left, stock)
            stock -= fired
            shots_l[w] += fired
            c_left -= e
            row[c] -= k
            killed[w, c] = k
    remaining[...] = np.asarray(rem, dtype=np.int64).reshape(W, C)
    return killed, np.asarray(shots_l, dtype=np.int64)


def _engage_stocked(draws: tuple[list[int], list[int], list[int], bool], st: int, n_in: int, c_left: int,
                    stock: float) -> tuple[int, int, int]:
    """(engaged, shots fired, kills) for ``n_in`` arrivals at block offset ``st`` with ``c_left``
    capacity and ``stock`` interceptors: the first munitions within reach are engaged while
    capacity lasts, and the engagement stops at the last target the stock can pay for."""
    covered, used, kills, full = draws
    cov0 = covered[st]
    e = min(covered[st + n_in] - cov0, c_left)
    if e <= 0:
        return 0, 0, 0
    m = e if full else bisect_left(covered, cov0 + e, st, st + n_in + 1) - st
    base = used[st]
    if used[st + m] - base > stock:  # stock binds inside this wave
        m = bisect_right(used, base + stock, st, st + m + 1) - 1 - st
        if m <= 0:
            return 0, 0, 0
        e = covered[st + m] - cov0
    return e, used[st + m] - base, kills[st + m] - kills[st]


def stock_by_day(initial: int, times: FloatArray, shots: IntArray, deliveries: list[tuple[float, int]],
                 at: np.ndarray[Any, Any]) -> FloatArray:
    """Interceptor stock at each time in ``at`` from shots fired and deliveries received."""
    fired = prefix(shots.astype(np.int64))[np.searchsorted(times, at, side="right")]
    if deliveries:
        dt = np.array([t for t, _ in deliveries])
        dq = np.array([q for _, q in deliveries], dtype=np.int64)
        got = prefix(dq)[np.searchsorted(dt, at, side="right")]
    else:
        got = np.zeros_like(fired)
    return np.asarray(initial + got - fired, dtype=float)


def _days_exhausted(initial: int, times: FloatArray, shots: IntArray, deliveries: list[tuple[float, int]],
                    day_ends: np.ndarray[Any, Any]) -> int:
    return int(np.count_nonzero(stock_by_day(initial, times, shots, deliveries, day_ends) < 1))
