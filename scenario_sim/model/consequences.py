"""Consequences: hits, the energy grid, civilian harm and civil defence.

Hits
    Each leaker of class *c* hits a target with probability ``hit_probability[c]``; a hit
    strikes energy, civilian or military targets in proportion to ``attacker.targets`` (a
    target class spared by a pause, :mod:`scenario_sim.model.response`, has weight 0 for the
    waves in the pause; the same uniforms decide among the other classes).
    One 32-bit uniform ``U`` per launched munition (stream ``consequences.hits.<class>``), in
    wave-aligned blocks, decides both: a hit iff ``U < T_hit``, and then the target from
    ``U / T_hit`` against the cumulative target shares (nested thresholds, see
    :mod:`scenario_sim.model.draws`).  The leakers of a wave are the first munitions of its
    block, so fewer leakers can only mean fewer hits.

Energy capacity ``E`` (a share of the pre-war grid, within ``[floor, 1]``)
    falls by ``loss_per_hit * (1 - protection)`` per energy hit, never below ``floor``, and
    recovers by ``repair_per_day`` at the end of each day, never above 1.  Outcomes use the
    end-of-day value before repair: its mean, its minimum and the days below ``threshold``.

Civilian harm
    The *k*-th civilian hit of a replication causes ``H_k ~ harm_per_civilian_hit``
    casualties (stream ``consequences.harm``: indexed by hit, so two sets share the harm of
    every hit they have in common), multiplied by ``harm_factor_when_active`` if civil
    defence is active when the wave arrives: always, if ``always_active``, and for
    ``duration_days`` after ``delay_days`` from each contact if ``after_contact`` is on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from scenario_sim.model.compiled import CompiledScenario
from scenario_sim.model.contacts import Contact
from scenario_sim.model.draws import Blocks, below, count_below, prefix, sub_threshold, threshold
from scenario_sim.model.rng import Streams

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class CivilDefense:
    """The civil-defence activation rules (scope ``consequences.civil_defense``)."""

    def __init__(self, env: simpy.Environment, model: CompiledScenario):
        self.env = env
        self.spec = model.scenario.consequences.civil_defense
        self.windows: list[tuple[float, float]] = []

    @property
    def hears_contacts(self) -> bool:
        """Whether :meth:`on_contact` can do anything: the after-contact rule is on and not a placebo."""
        return self.spec.after_contact.enabled and not self.spec.after_contact.placebo

    def on_contact(self, contact: Contact) -> None:
        rule = self.spec.after_contact
        if rule.enabled and not rule.placebo:  # a placebo fires on other days (model.placebo)
            start = contact.time + rule.delay_days
            self.windows.append((start, start + rule.duration_days))

    def active_at(self, t: FloatArray) -> np.ndarray[Any, Any]:
        """Whether civil defence is active at each time in ``t``."""
        on = np.full(t.shape[0], bool(self.spec.always_active))
        for a, b in self.windows:
            on |= (t >= a) & (t < b)
        return on

    def active(self, t: float) -> bool:
        return self.spec.always_active or any(a <= t < b for a, b in self.windows)


@dataclass
class ConsequenceResult:
    hits: IntArray            # (W, C)
    energy_hits: IntArray     # (W,)
    civilian_hits: IntArray   # (W,)
    harm: FloatArray          # (W,)
    energy: FloatArray        # (horizon,) end-of-day capacity before repair


def _spared_cuts(mask: int, weights: tuple[float, float, float]) -> tuple[float, float]:
    """Cumulative target shares (energy, energy + civilian) with the classes in ``mask`` at weight 0.

    Everything spared: hits land on nothing that is counted (as if on military targets)."""
    we, wc, wm = (0.0 if mask & (1 << i) else x for i, x in enumerate(weights))
    total = we + wc + wm
    return (we / total, (we + wc) / total) if total > 0 else (0.0, 0.0)


_CONSECUTIVE = None  # marker: ranges already in order (the gathered leakers)


def resolve_consequences(model: CompiledScenario, streams: Streams, times: FloatArray, launched: IntArray,
                         leaked: IntArray, cd_active: np.ndarray[Any, Any], blocks: Blocks,
                         spared: IntArray | None = None) -> ConsequenceResult:
    """Hits, harm and the energy trajectory for a replication's waves.

    ``spared`` (per wave, a bit mask over energy, civilian, military) zeroes those target
    weights for that wave; None means no wave spares anything.
    """
    cq = model.scenario.consequences
    W, C = launched.shape
    starts, totals = blocks.starts, blocks.totals
    t = model.scenario.attacker.targets
    wsum = t.energy + t.civilian + t.military
    cut_e, cut_c = t.energy / wsum, (t.energy + t.civilian) / wsum
    hits = np.zeros((W, C), dtype=np.int64)
    energy_hits = np.zeros(W, dtype=np.int64)
    civ_hits = np.zeros(W, dtype=np.int64)
    for c, name in enumerate(model.classes):
        n = int(totals[c])
        if n == 0:
            continue
        lk = leaked[:, c]
        L = int(lk.sum())
        if L == 0:
            continue
        # One uniform per munition decides the hit (U < T_hit) and, given a hit, the target
        # (U / T_hit against the cumulative target shares): nested thresholds on one draw.
        # Only the leakers' draws (the first ``leaked`` of each block) are read, gathered
        # into one short array, so the counting costs O(leakers), not O(launched).
        u = streams.bits32(f"consequences.hits.{name}", n)
        st = starts[:, c]
        if n > 4 * L:  # few leakers: gather their draws into one short array first
            off = np.zeros(W + 1, dtype=np.int64)
            np.cumsum(lk, out=off[1:])
            ul = np.empty(L + 1, dtype=np.uint32)  # padded, as the draws are
            ul[:L] = u[np.repeat(st - off[:-1], lk) + np.arange(L)]
            u, st, blk = ul, off[:-1], _CONSECUTIVE
        else:
            blk = blocks
        t_hit = threshold(model.hit_probability[c])
        # hits, energy hits and energy + civilian hits: nested thresholds, one counting pass
        h, n_energy, n_ec = count_below(u, (t_hit, sub_threshold(cut_e, t_hit), sub_threshold(cut_c, t_hit)),
                                        blk, st, lk)
        hits[:, c] = h
        civ = n_ec - n_energy
        if spared is not None:  # waves in a pause that spares a class: their own cuts
            weights = (t.energy, t.civilian, t.military)
            for w in np.flatnonzero(spared & (lk > 0)).tolist():
                e_w, c_w = _spared_cuts(int(spared[w]), weights)
                uw = u[int(st[w]):int(st[w] + lk[w])]
                n_energy[w] = np.count_nonzero(below(uw, sub_threshold(e_w, t_hit)))
                civ[w] = np.count_nonzero(below(uw, sub_threshold(c_w, t_hit))) - n_energy[w]
        energy_hits += n_energy
        civ_hits += civ
    n_civ = int(civ_hits.sum())
    harm = np.zeros(W)
    if n_civ:
        hv = prefix(cq.harm_per_civilian_hit.sample(streams.rng("consequences.harm"), n_civ))
        k = prefix(civ_hits)
        harm = hv[k[1:]] - hv[k[:-1]]
        factor = np.where(cd_active, cq.civil_defense.harm_factor_when_active, 1.0)
        harm = harm * factor
    # Energy: a clipped walk, day by day (hits of a day applied together; clipping at the
    # floor makes that identical to applying them wave by wave).
    e = cq.energy
    loss = e.loss_per_hit * (1.0 - e.protection)
    per_day = np.bincount(times.astype(np.int64), weights=energy_hits, minlength=model.horizon)
    level = e.initial
    out: list[float] = []
    record = out.append
    floor, repair = e.floor, e.repair_per_day
    for nh in per_day.tolist():  # plain floats and comparisons: this loop runs every day
        if nh:
            level = level - nh * loss
            if level < floor:
                level = floor
        record(level)
        level = level + repair
        if level > 1.0:
            level = 1.0
    return ConsequenceResult(hits, energy_hits, civ_hits, harm, np.asarray(out, dtype=np.float64))
