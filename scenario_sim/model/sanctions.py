"""Sanction levers: deterministic time profiles acting on production and contacts.

A lever that is ``enabled`` acts from its ``start`` day ``s``.  Its strength at time *t* is

    strength(t) = ramp(t) * decay(t)
    ramp(t)     = min(1, (t - s) / ramp_days)          (1 at once when ramp_days = 0)
    decay(t)    = 0.5 ** ((t - s) / evasion_half_life_days)   (1 when no half-life)

for t >= s and 0 before.  It cuts production of class *c* by ``production_effect[c] *
strength(t)`` and the stochastic contact rate by ``contact_rate_effect * strength(t)``.
Levers combine multiplicatively: the production multiplier is the product over levers of
``1 - effect``, so two 50% cuts leave 25%, never a negative rate.

There is no randomness here: the profiles are computed once per scenario, as arrays over
days, and read by the attacker's production and the contact process.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scenario_sim.lang.schema import Lever, Scenario

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def strength(lever: Lever, start_day: int, t: FloatArray) -> FloatArray:
    """Strength of ``lever`` (0..1) at times ``t`` (days)."""
    if not lever.enabled:
        return np.zeros_like(t)
    since = t - start_day
    # A ramp or half-life of a few femtodays overflows; its limit (instant, or no effect
    # left) is the intended meaning, so overflow is silenced rather than special-cased.
    with np.errstate(over="ignore", divide="ignore"):
        ramp = np.ones_like(t) if lever.ramp_days == 0 else np.clip(since / lever.ramp_days, 0.0, 1.0)
        decay = (np.ones_like(t) if lever.evasion_half_life_days is None
                 else 0.5 ** (np.maximum(since, 0.0) / lever.evasion_half_life_days))
    return np.where(since >= 0, ramp * decay, 0.0)


def production_multiplier(s: Scenario, t: FloatArray) -> FloatArray:
    """Array (len(t), n_classes): factor on production of each class at times t."""
    out = np.ones((t.shape[0], len(s.munitions)))
    for lever in s.sanctions.levers:
        st = strength(lever, s.day_of(lever.start), t)
        for j, c in enumerate(s.class_names):
            e = lever.production_effect.get(c, 0.0)
            if e:
                out[:, j] *= 1.0 - e * st
    return out


def contact_rate_multiplier(s: Scenario, t: FloatArray) -> FloatArray:
    """Factor on the stochastic contact rate at times t."""
    out = np.ones_like(t)
    for lever in s.sanctions.levers:
        if lever.contact_rate_effect:
            out *= 1.0 - lever.contact_rate_effect * strength(lever, s.day_of(lever.start), t)
    return out
