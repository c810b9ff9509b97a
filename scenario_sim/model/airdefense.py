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
``air_defense.<system>.<class>``, in blocks aligned with the waves (32-bit integers against
integer thresholds, :mod:`scenario_sim.model.draws`).  Munition *i* of a wave's block is
within reach iff ``U[i] < coverage``; with ``V = U[i] / coverage`` (uniform given reach) it
is destroyed, if engaged, iff ``V < 1 - (1 - pk)^s`` and (shoot-look-shoot) uses
``min(s, G)`` shots, ``G`` the first shot ``j`` with ``V < 1 - (1 - pk)^j``.  A layer engages
the first *e* munitions of the block that reach it, so a set that improves an upper layer
leaves every uniform of the lower layers in place, and the coupling is monotone (more kills
above never mean more leakers below).  Every threshold of a class is counted in one
``reduceat`` pass over the layer's draws, so a whole replication is resolved with a few
array operations per layer; only layers with a finite inventory walk the waves in order,
since their stock couples one wave to the next.

Readiness ``r(t) = max(baseline, levels of active raises)``.  Raises come from rules that
recommendations switch on: ``after_contact`` (for ``duration_days`` after ``delay_days``
from each contact) and ``early_warning`` (when the attacker plans a surge it is detected
with ``detection_probability``, drawn for every plan;
readiness is then raised from ``lead_days`` before the surge until the surge night ends;
the uniform is value *k* of ``air_defense.early_warning.<source>`` for contact *k*).

Resupply: deliveries fall due at ``first + k * interval_days`` inside the horizon and arrive
``lead_time_days`` later (drawn per delivery, stream ``air_defense.<system>.resupply``).
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from scenario_sim.model.compiled import CompiledScenario, CompiledSystem

if TYPE_CHECKING:
    from scenario_sim.model.attacker import SurgePlans
from scenario_sim.model.contacts import Contact, rows_by_source
from scenario_sim.model.doctrine import Doctrine, kill_probability
from scenario_sim.model.draws import (
    FULL,
    Blocks,
    U32Array,
    below,
    count_below,
    prefix,
    prefix_bool,
    sub_threshold,
    threshold,
)
from scenario_sim.model.rng import Streams

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def _delivery_plan(model: CompiledScenario) -> list[tuple[str, str, FloatArray, Any, int]]:
    """(system, resupply stream, due times (read only), lead-time law, quantity) of every system
    with deliveries inside the horizon, in scenario order."""
    out = []
    for cs in model.systems:
        if not (cs.limited and cs.deliveries_due):
            continue
        inter = cs.spec.interceptors
        assert inter is not None and inter.resupply is not None
        due = np.asarray(cs.deliveries_due)
        due.flags.writeable = False
        out.append((cs.spec.name, f"air_defense.{cs.spec.name}.resupply", due, inter.resupply.lead_time_days,
                    cs.delivery_quantity))
    return out


class AirDefense:
    """Readiness rules and deliveries during the event simulation (scope ``air_defense``)."""

    def __init__(self, env: simpy.Environment, model: CompiledScenario, streams: Streams):
        self.env = env
        self.model = model
        self.streams = streams
        self.baseline = model.scenario.air_defense.readiness.baseline
        self.raises: list[tuple[float, float, float]] = []
        self.placebo_detected = 0  # surges the early-warning rule detected while it is a placebo
        self.deliveries: dict[str, list[tuple[float, int]]] = {s.spec.name: [] for s in model.systems}

    def processes(self) -> list[Generator[simpy.Event, Any, None]]:
        """SimPy processes of the air defence (none: deliveries are a calendar, :meth:`deliver`)."""
        return []

    def deliver(self) -> None:
        """``air_defense.<system>.resupply``: every delivery at its due date plus a lead time,
        recorded in :attr:`deliveries` for the whole horizon at once.

        Deliveries feed nothing during the event simulation (stock is only spent when the
        waves are resolved), so they need no SimPy events: the times logged are the floats a
        process waiting ``t - now`` at each delivery reaches (``now + (t - now)``, as SimPy
        adds a timeout's delay to the clock), stopping where ``run(until=horizon)`` stops."""
        h = self.model.horizon
        plan = self.model.memo.get("deliveries")
        if plan is None:  # draw-independent: per system with deliveries, its stream, due times, lead law
            plan = self.model.memo["deliveries"] = _delivery_plan(self.model)
        for name, stream, due, lead_law, q in plan:
            lead = lead_law.sample(self.streams.rng(stream), due.shape[0])
            log = self.deliveries[name]
            now = self.env.now
            for t in sorted((due + lead).tolist()):  # (a dozen values: no numpy sort)
                if t >= h:
                    break
                if t > now:
                    now = now + (t - now)
                    if now >= h:  # rounded up to the horizon: run(until=horizon) stops first
                        break
                log.append((now, q))

    def readiness(self, t: float) -> float:
        r = self.baseline
        for a, b, level in self.raises:
            if a <= t < b and level > r:
                r = level
        return r

    def readiness_at(self, t: FloatArray) -> FloatArray:
        """Readiness at each time in ``t`` (a raise starts no earlier than it is planned, so
        evaluating after the event simulation sees what the defence knew at the time)."""
        r = np.full(t.shape[0], float(self.baseline))
        for a, b, level in self.raises:
            on = (t >= a) & (t < b)
            r[on] = np.maximum(r[on], level)
        return r

    @property
    def hears_contacts(self) -> bool:
        """Whether :meth:`on_contact` can do anything: the after-contact rule is on and not a placebo."""
        rule = self.model.scenario.air_defense.readiness.after_contact
        return rule.enabled and not rule.placebo

    def on_contact(self, contact: Contact) -> None:
        rule = self.model.scenario.air_defense.readiness.after_contact
        if rule.enabled and not rule.placebo:  # a placebo fires on other days (model.placebo)
            start = contact.time + rule.delay_days
            self.raises.append((start, start + rule.duration_days, rule.level))

    def on_surges_planned(self, plans: SurgePlans) -> None:
        """Listener: the early-warning rule.  Each planned surge is detected with
        ``detection_probability``, from a uniform per contact (``air_defense.early_warning.
        <source>``, indexed by the contact's key), so a surge appearing elsewhere shifts
        nothing.  The streams serve this rule alone and are keyed by name, so with the rule
        off they are not opened: switching it on draws the very values it would have drawn."""
        ew = self.model.scenario.air_defense.readiness.early_warning
        if not plans.slot.shape[0] or not ew.enabled:
            return
        u = np.zeros(plans.slot.shape[0])
        for source, rows in rows_by_source(plans.source).items():
            k = plans.key[rows]
            u[rows] = self.streams.rng(f"air_defense.early_warning.{source}").random(int(k.max()) + 1)[k]
        detected = np.flatnonzero(u < ew.detection_probability)
        if ew.placebo:  # fired as often, on random non-contact nights instead (model.placebo)
            self.placebo_detected = int(detected.shape[0])
            return
        for r in detected.tolist():
            now, when = float(plans.planned_at[r]), float(plans.when[r])
            self.raises.append((max(now, when - ew.lead_days), when + 0.05, ew.level))


# --------------------------------------------------------------------------- resolution


@dataclass
class LayerResult:
    name: str
    killed: IntArray          # (W, C)
    shots: IntArray           # (W,)
    exhausted_days: int


@functools.lru_cache(maxsize=256)
def _thresholds(pk: float, coverage: float, doctrine: Doctrine) -> tuple[int, dict[int, int], dict[int, list[int]]]:
    """(reach, kill by shots level, early stops by shots level) thresholds of a layer and
    class: fixed by the compiled scenario, so computed once per process, not per replication."""
    reach_t = threshold(coverage)
    kill_t = {s: sub_threshold(kill_probability(pk, s), reach_t) for s in doctrine.levels()}
    stop_t = {s: [sub_threshold(q, reach_t) for q in doctrine.mode.early_stops(pk, s)] for s in doctrine.levels()}
    return reach_t, kill_t, stop_t


class LayerDraws:
    """One layer's draws for one class, and the thresholds its doctrine compares them with.

    Munition *i* of a block is within reach iff ``U[i] < T_reach`` (``coverage``); given
    reach, ``V = U / T_reach`` is uniform and decides the engagement: destroyed by ``s``
    planned shots iff ``V < 1 - (1 - pk)^s``, and (shoot-look-shoot) stopping early at each
    threshold of :meth:`Doctrine.mode.early_stops`.  All of these are nested thresholds on
    the same ``U``, so all of a class's counts are one :func:`count_below` pass.
    """

    def __init__(self, u: U32Array, pk: float, coverage: float, doctrine: Doctrine):
        self.u = u
        self.reach_t, self.kill_t, self.stop_t = _thresholds(pk, coverage, doctrine)
        self.full = self.reach_t >= FULL
        self._cp: IntArray | None = None

    def _reach_prefix(self) -> IntArray:
        if self._cp is None:
            self._cp = prefix_bool(below(self.u, self.reach_t))
        return self._cp

    def engaged(self, st: IntArray, n_in: IntArray, cap: IntArray) -> tuple[IntArray, IntArray]:
        """(targets engaged, block prefix they occupy) when the first munitions within reach
        are engaged while capacity lasts."""
        if self.full:
            e = np.minimum(n_in, cap)
            return e, e
        cp = self._reach_prefix()
        e = np.minimum(cp[st + n_in] - cp[st], cap)
        m = np.where(e > 0, np.searchsorted(cp, cp[st] + e, side="left") - st, 0)
        return e, m

    def level_counts(self, blocks: Blocks, st: IntArray, m: IntArray, e: IntArray, levels: list[int],
                     ) -> dict[int, tuple[IntArray, IntArray]]:
        """Per shots-per-target level: (shots fired, kills) of every wave whose engaged
        munitions are the block prefixes ``m`` (``e`` targets).  Every threshold the levels
        need is counted in one :func:`count_below` pass (kill and early-stop thresholds
        coincide across levels: P(killed within j shots) is both)."""
        ts = sorted({self.kill_t[s] for s in levels} | {t for s in levels for t in self.stop_t[s]})
        counts = count_below(self.u, ts, blocks, st, m)
        row = {t: counts[i] for i, t in enumerate(ts)}
        out = {}
        for s in levels:
            fired = s * e
            for t in self.stop_t[s]:
                fired = fired - row[t]
            out[s] = (fired, row[self.kill_t[s]])
        return out

    def engage_one(self, st: int, n_in: int, c_left: int, stock: float, s: int) -> tuple[int, int, int]:
        """(engaged, shots fired, kills) in one wave, engaging targets in order while
        capacity and ``stock`` last (the exact rule where stock binds inside a wave)."""
        u = self.u[st:st + n_in]
        targets = (u if self.full else u[u < self.reach_t])[:c_left]
        used = np.full(targets.shape[0], s, dtype=np.int64)
        for t in self.stop_t[s]:
            used -= below(targets, t)
        cum = np.cumsum(used)
        k = int(np.searchsorted(cum, stock, side="right"))
        if k == 0:
            return 0, 0, 0
        return k, int(cum[k - 1]), int(np.count_nonzero(below(targets[:k], self.kill_t[s])))


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
        draws = {c: LayerDraws(streams.bits32(f"air_defense.{spec.name}.{model.classes[c]}", int(blocks.totals[c])),
                               cs.pk[c], cs.coverage[c], cs.doctrine) for c in cs.engages}
        if cs.limited:
            deliv = deliveries.get(spec.name, [])
            killed, shots = _stocked_layer(cs, draws, remaining, cap, blocks, times, deliv)
            exhausted = _days_exhausted(cs.initial_stock, times, shots, deliv, day_ends)
        else:
            killed, shots = _unlimited_layer(cs, draws, remaining, cap, blocks, launched)
            exhausted = 0
        del draws  # before the next layer draws its own: one layer's arrays alive at a time
        results.append(LayerResult(spec.name, killed, shots, exhausted))
    return remaining, results


def density_kills(cs: CompiledSystem, dr: LayerDraws, c: int, blocks: Blocks, st: IntArray, m: IntArray, s: int,
                  launched: IntArray) -> IntArray:
    """Kills when the layer's pk depends on the wave's size (``System.density``, salvo only).

    Wave *w*'s survival probability is ``(1 - pk) * f(n_w)`` (:meth:`CompiledSystem.
    survival_factor`, ``n_w`` the class's munitions launched in the wave), so each wave has
    its own kill threshold; the thresholds are spread over the wave's block and compared
    with the same uniforms as a constant pk would be (no draw moves).
    """
    surv = np.minimum(1.0, (1.0 - cs.pk[c]) * cs.survival_factor(c, launched[:, c].astype(np.float64)))
    p = 1.0 - surv ** s
    t_f = np.minimum(np.ceil(p * dr.reach_t), dr.reach_t)
    W = st.shape[0]
    if W == 0:
        return np.zeros(0, dtype=np.int64)
    # Thresholds below 2^32 compare as uint32 against the uint32 draws (no mixed-type cast
    # of every draw); a threshold of 2^32 (certain kill) needs 64 bits.
    t_w = t_f.astype(np.uint32 if float(t_f.max()) < FULL else np.uint64)
    o = blocks.order
    # Blocks sit in layout order; each wave's threshold covers its block up to the next
    # wave's start (a gap left by a surge slot that never fired is never counted); the
    # draws before the first block and the pad after the last are never below.
    ost = blocks.starts[o, c]
    a, end = int(ost[0]), int(blocks.totals[c])
    span = np.empty(W, dtype=np.int64)  # np.diff(ost, append=end), without its Python wrapper
    np.subtract(ost[1:], ost[:-1], out=span[:-1])
    span[-1] = end - ost[-1]
    below_t = np.empty(dr.u.shape[0], dtype=bool)
    below_t[:a] = False
    below_t[end:] = False
    np.less(dr.u[a:end], t_w[o].repeat(span), out=below_t[a:end])
    # One reduceat pass in layout order, as count_below does for scalar thresholds.
    so, mo = st[o], m[o]
    idx = np.empty(2 * W, dtype=np.int64)
    idx[0::2] = so
    idx[1::2] = so + mo
    sums = np.add.reduceat(below_t.view(np.int8), idx, dtype=np.int32)[0::2]
    sums *= mo > 0  # an empty range [a, a) gives x[a] in reduceat: count it as 0
    out = np.empty(W, dtype=np.int64)
    out[o] = sums
    return out


def _unlimited_layer(cs: CompiledSystem, draws: dict[int, LayerDraws], remaining: IntArray, cap: IntArray,
                     blocks: Blocks, launched: IntArray) -> tuple[IntArray, IntArray]:
    """A layer without an interceptor inventory: limited by capacity only, so every wave is
    resolved at once with a few array passes.  Updates ``remaining`` in place."""
    W, C = remaining.shape
    killed = np.zeros((W, C), dtype=np.int64)
    shots = np.zeros(W, dtype=np.int64)
    s = cs.doctrine.shots_per_target(math.inf)  # unlimited stock is never below the threshold
    for c in cs.engages:
        st = blocks.starts[:, c]
        dr = draws[c]
        e, m = dr.engaged(st, remaining[:, c], cap)
        if cs.survival_exponent and cs.survival_exponent[c] != 0.0:
            k = density_kills(cs, dr, c, blocks, st, m, s, launched)
            shots += s * e  # salvo only (checked when the scenario is validated): s shots per target
        else:
            fired, k = dr.level_counts(blocks, st, m, e, [s])[s]
            shots += fired
        cap = cap - e
        remaining[:, c] -= k
        killed[:, c] = k
    return killed, shots


def _stocked_layer(cs: CompiledSystem, draws: dict[int, LayerDraws], remaining: IntArray, cap: IntArray,
                   blocks: Blocks, times: FloatArray, deliveries: list[tuple[float, int]],
                   ) -> tuple[IntArray, IntArray]:
    """A layer with an interceptor inventory: the stock couples each wave to the next.

    Every wave is first resolved for each shots-per-target level as if stock never bound
    (array passes, as for an unlimited layer); then the waves are walked in time order,
    choosing the level by the stock and paying for the shots.  Only a wave where the stock
    runs out inside the wave (and the classes after it in that wave) is recomputed target
    by target.  Updates ``remaining`` in place.

    The walk visits only the *active* waves (some munition of an engaged class left), so
    the per-wave values it reads are taken for those waves alone, one stacked array per
    class turned into Python lists at once (the walk is a Python loop; most waves of a
    missile layer carry no missile, and converting them all cost more than the walk).
    """
    W, C = remaining.shape
    levels = cs.doctrine.levels()
    active = np.flatnonzero(remaining[:, cs.engages].sum(axis=1) > 0)
    c_left = cap
    pre: _Pre = []
    for c in cs.engages:  # priority order, each class getting the capacity the ones before left
        st = blocks.starts[:, c]
        n_in = remaining[:, c]
        dr = draws[c]
        eng, m = dr.engaged(st, n_in, c_left)
        by_level = dr.level_counts(blocks, st, m, eng, levels)
        rows = np.stack([eng, st, n_in] + [f for f, _ in by_level.values()] + [k for _, k in by_level.values()])
        el, stl, nl, *per_level = rows[:, active].tolist()
        L = len(by_level)
        pre.append((c, dr, el, dict(zip(by_level, per_level[:L], strict=True)),
                    dict(zip(by_level, per_level[L:], strict=True)), stl, nl))
        c_left = c_left - eng
    killed_l = {c: [0] * active.shape[0] for c in cs.engages}
    shots_l = _walk_stock(cs, pre, times[active].tolist(), cap[active].tolist(), deliveries, killed_l)
    killed = np.zeros((W, C), dtype=np.int64)
    for c, col in killed_l.items():
        killed[active, c] = col
    remaining -= killed
    shots = np.zeros(W, dtype=np.int64)
    shots[active] = shots_l
    return killed, shots


_Pre = list[tuple[int, "LayerDraws", list[int], dict[int, list[int]], dict[int, list[int]], list[int], list[int]]]


def _walk_stock(cs: CompiledSystem, pre: _Pre, at: list[float], capl: list[int],
                deliveries: list[tuple[float, int]], killed_l: dict[int, list[int]]) -> list[int]:
    """The stocked layer's walk over its active waves (times ``at``; every list is indexed
    by the position among the active waves), in time order: returns shots per active wave
    and fills ``killed_l``.

    With no interceptor left (stock below 1: every engaged target takes at least one shot,
    ``shots_per_target >= 1``), a wave engages nothing, so the walk jumps straight to the
    first wave at or after the next delivery: an exhausted layer costs nothing per wave.
    """
    d = cs.doctrine
    stock = float(cs.initial_stock)
    di, nd = 0, len(deliveries)
    n_act = len(at)
    shots_l = [0] * n_act
    i = 0
    while i < n_act:
        w = i
        while di < nd and deliveries[di][0] <= at[i]:
            stock += deliveries[di][1]
            di += 1
        if stock < 1:
            if di >= nd:
                break
            i = bisect.bisect_left(at, deliveries[di][0], i + 1)
            continue
        i += 1
        s = d.shots_per_target(stock)
        exact = True  # the precomputed capacity split holds until stock binds in this wave
        left = capl[w]
        for c, dr, el, fired, kills, stl, nl in pre:
            n_in = nl[w]
            if n_in <= 0 or left <= 0:
                continue
            if exact and fired[s][w] <= stock:
                e, f, k = el[w], fired[s][w], kills[s][w]
            else:
                exact = False
                e, f, k = dr.engage_one(stl[w], n_in, left, stock, s) if stock >= 1 else (0, 0, 0)
            stock -= f
            shots_l[w] += f
            left -= e
            killed_l[c][w] = k
    return shots_l


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
