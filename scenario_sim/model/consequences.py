"""Consequences: hits, the energy grid, civilian harm and civil defence.

Hits
    Each leaker of class *c* hits a target with probability ``hit_probability[c]``; a hit
    strikes energy, civilian or military targets in proportion to ``attacker.targets`` (a
    target class spared by a pause, :mod:`scenario_sim.model.response`, has weight 0 for the
    waves in the pause; the same target uniforms decide among the other classes).
    One uniform per launched munition for the hit test (stream ``consequences.hits.<class>``)
    and one for the target (``consequences.targets.<class>``), in wave-aligned blocks; the
    leakers of a wave are the first munitions of its block, so fewer leakers can only mean
    fewer hits.

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
from scenario_sim.model.draws import Blocks, prefix, range_counts, uniforms
from scenario_sim.model.rng import Streams

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class CivilDefense:
    """The civil-defence activation rules (scope ``consequences.civil_defense``)."""

    def __init__(self, env: simpy.Environment, model: CompiledScenario):
        self.env = env
        self.spec = model.scenario.consequences.civil_defense
        self.windows: list[tuple[float, float]] = []

    def on_contact(self, contact: Contact) -> None:
        rule = self.spec.after_contact
        if rule.enabled:
            start = contact.time + rule.delay_days
            self.windows.append((start, start + rule.duration_days))

    def active(self, t: float) -> bool:
        return self.spec.always_active or any(a <= t < b for a, b in self.windows)


@dataclass
class ConsequenceResult:
    hits: IntArray            # (W, C)
    energy_hits: IntArray     # (W,)
    civilian_hits: IntArray   # (W,)
    harm: FloatArray          # (W,)
    energy: FloatArray        # (horizon,) end-of-day capacity before repair


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
        st = starts[:, c]
        u = uniforms(streams.rng(f"consequences.hits.{name}"), n)
        h = range_counts(u < model.hit_probability[c], st, leaked[:, c])
        hits[:, c] = h
        v = uniforms(streams.rng(f"consequences.targets.{name}"), n)
        if spared is None:
            energy_hits += range_counts(v < cut_e, st, h)
            civ_hits += range_counts((v >= cut_e) & (v < cut_c), st, h)
        else:
            thr_e, thr_c = _spared_cuts(n, st, h, spared, (t.energy, t.civilian, t.military), cut_e, cut_c)
            energy_hits += range_counts(v < thr_e, st, h)
            civ_hits += range_counts((v >= thr_e) & (v < thr_c), st, h)
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
    series = np.empty(model.horizon)
    floor, repair = e.floor, e.repair_per_day
    for d, nh in enumerate(per_day.tolist()):
        if nh:
            level = max(floor, level - nh * loss)
        series[d] = level
        level = min(1.0, level + repair)
    return ConsequenceResult(hits, energy_hits, civ_hits, harm, series)


def _spared_cuts(n: int, starts: IntArray, hits: IntArray, spared: IntArray, weights: tuple[float, float, float],
                 cut_e: float, cut_c: float) -> tuple[FloatArray, FloatArray]:
    """Per-munition target thresholds: the ordinary cuts, re-weighted for waves that spare a class.

    Only a wave's first ``hits`` positions decide targets, so only those are rewritten.
    """
    thr_e = np.full(n, cut_e)
    thr_c = np.full(n, cut_c)
    for w in np.flatnonzero(spared).tolist():
        mask = int(spared[w])
        we, wc, wm = (0.0 if mask & (1 << i) else x for i, x in enumerate(weights))
        total = we + wc + wm
        # Everything spared: hits land on nothing that is counted (as if on military targets).
        e, c = (we / total, (we + wc) / total) if total > 0 else (0.0, 0.0)
        a, b = int(starts[w]), int(starts[w] + hits[w])
        thr_e[a:b] = e
        thr_c[a:b] = c
    return thr_e, thr_c
