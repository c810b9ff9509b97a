"""The work budget of one replication, checked before anything runs.

Field bounds alone cannot keep a replication affordable: the cost is a product (wave size
x participation x nights x growth, summed over classes and the layers that engage them), and
each factor can be plausible on its own.  A replication's time and memory are dominated by

* **per-munition draws**: the model draws one uniform per munition per layer that engages
  its class, and a few per munition for the consequences, in blocks laid out by each wave's
  *nominal* size (before stock caps) plus a potential surge per contact
  (:mod:`scenario_sim.model.draws`); measured at about 5 bytes and 0.1 microseconds per
  draw;
* **events**: wave opportunities, contacts and deliveries, each a few SimPy steps and a
  few Python objects.

This module estimates both from the scenario's *expected* values (a distribution's mean, a
rate times the days it acts, the compound growth curve summed over the horizon) and rejects
a scenario over :data:`MAX_DRAWS_PER_REPLICATION` or :data:`MAX_EVENTS_PER_REPLICATION`,
at the line of the quantity that contributes most, so that ``rate_per_day: 1e7``, a 10-year
horizon with +10% wave growth a month, or a wave size of 10^9 is a validation error and not
a run that eats the machine.  It also bounds the largest single wave a bounded
distribution can draw (:data:`MAX_WAVE`), since one giant wave is as costly as many.

Within the budget a replication takes at most a few seconds and a few hundred MB (see
``docs/scenario-language.md``, "Work budget"); the reference scenario uses about 1% of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from scenario_sim.lang.distributions import Empirical, Fixed, LogNormal, Normal, StudentT, Triangular, Uniform
from scenario_sim.lang.schema import Scenario

MAX_DRAWS_PER_REPLICATION = 40_000_000
"""Expected per-munition draws (munitions x (engaging layers + consequence draws))."""

MAX_EVENTS_PER_REPLICATION = 50_000
"""Expected wave opportunities + contacts + deliveries."""

MAX_WAVE = 10_000_000
"""Largest single wave of one class a bounded distribution may draw, growth included."""

CONSEQUENCE_DRAWS_PER_MUNITION = 2
DAYS_PER_MONTH = 30.0

Path = tuple[Any, ...]


def _growth_curve(s: Scenario, c: str) -> np.ndarray[Any, Any]:
    """Wave-size growth of class ``c`` (its own rate, else the common one), shocks at their upper
    ends (a bound on work)."""
    days = np.arange(s.horizon_days, dtype=float)
    w = s.attacker.waves
    cw = w.classes.get(c)
    g = w.size_growth_per_month if cw is None or cw.size_growth_per_month is None else cw.size_growth_per_month
    shock = s.attacker.growth.shock_per_month
    if shock is not None:
        g += max(0.0, min(_upper(shock), 1.0))
    law = s.attacker.growth
    curve = _factor(g, days, law.half_life_days)
    if law.regime_log_shock_per_month is not None:  # from its day on, at its upper end too
        up = math.expm1(max(0.0, min(_upper(law.regime_log_shock_per_month), math.log(2.0))))
        curve = curve * _factor(up, np.maximum(days - law.regime_after_days, 0.0), law.half_life_days)
    return curve


def _factor(g: float, days: np.ndarray[Any, Any], half: float | None) -> np.ndarray[Any, Any]:
    """The model's growth_factor: compound growth, levelling off with a half-life."""
    if half is None:
        return np.power(1.0 + g, days / DAYS_PER_MONTH)
    # the log-growth rate halves every half-life
    lam = math.log(2.0) / half
    return np.exp(math.log1p(g) / DAYS_PER_MONTH * -np.expm1(-lam * days) / lam)


def _upper(dist: Any) -> float:
    """The largest value a distribution draws in practice (inf for unbounded counts and uncut laws)."""
    if isinstance(dist, (Fixed, Uniform, Triangular, Empirical, Normal, StudentT)):
        return dist.support()[1]
    if isinstance(dist, LogNormal):  # 6 standard deviations of the underlying normal (p ~ 1e-9)
        mu, sigma = dist._mu_sigma()
        return math.exp(min(mu + 6 * sigma, 700.0))
    return math.inf


def _expected_contacts(s: Scenario) -> float:
    h = s.horizon_days
    n = float(sum(1 for c in s.contacts.scheduled if 0 <= s.day_of(c.date) < h))
    st = s.contacts.stochastic
    if st is not None:
        n += st.rate_per_day * max(0, h - s.day_of(st.start))
    return float(n)


def work(s: Scenario) -> dict[str, Any]:
    """The expected work of one replication, by contributor (for messages and benchmarks)."""
    w = s.attacker.waves
    curves = {c: _growth_curve(s, c) for c in w.classes}
    opportunities = float(s.horizon_days) * (w.waves_per_day if w.schedule == "poisson" else 1.0)
    contacts = _expected_contacts(s)
    mult = max(0.0, s.attacker.surge.size_multiplier.mean())
    layers = {c: sum(1 for x in s.air_defense.systems if c in x.engages) for c in s.class_names}
    draws: dict[Path, float] = {}
    for c, cw in w.classes.items():
        g = curves[c]
        size = max(0.0, cw.size.mean())
        per_draw = layers.get(c, 0) + CONSEQUENCE_DRAWS_PER_MUNITION
        draws[("attacker", "waves", "classes", c, "size")] = (size * cw.probability * float(g.mean()) * opportunities
                                                             * per_draw)
        # A potential surge per contact reserves its slot whether or not it happens.
        surge_key: Path = ("contacts", "stochastic", "rate_per_day") if s.contacts.stochastic else (
            "attacker", "surge", "size_multiplier")
        draws[surge_key] = draws.get(surge_key, 0.0) + contacts * mult * size * float(g.mean()) * per_draw
    deliveries = sum(
        max(0.0, (s.horizon_days - s.day_of(x.interceptors.resupply.first)) / x.interceptors.resupply.interval_days)
        for x in s.air_defense.systems if x.interceptors and x.interceptors.resupply)
    growth = {c: float(g.max()) if g.size else 1.0 for c, g in curves.items()}
    return {"draws": draws, "total_draws": sum(draws.values()), "opportunities": opportunities,
            "contacts": contacts, "deliveries": deliveries, "growth": growth,
            "max_growth": max(growth.values(), default=1.0)}


def within_budget(s: Scenario) -> Iterator[tuple[Path, str]]:
    """Problems for a scenario whose replication would exceed the work budget."""
    wk = work(s)
    total = wk["total_draws"]
    if total > MAX_DRAWS_PER_REPLICATION:
        where = max(wk["draws"], key=wk["draws"].get)
        yield where, (f"one replication would need about {total:.3g} per-munition draws, over the budget of "
                      f"{MAX_DRAWS_PER_REPLICATION:.3g} (the largest share, {wk['draws'][where]:.3g}, comes "
                      f"from here; horizon {s.horizon_days} days, wave sizes grow up to "
                      f"{wk['max_growth']:.3g}x); shorten horizon_days or reduce wave sizes, their growth or "
                      "the contact rate")
    events = wk["opportunities"] + wk["contacts"] + wk["deliveries"]
    if events > MAX_EVENTS_PER_REPLICATION:
        parts = {("attacker", "waves", "waves_per_day"): wk["opportunities"],
                 ("contacts", "stochastic", "rate_per_day"): wk["contacts"], ("horizon_days",): wk["deliveries"]}
        where = max(parts, key=parts.__getitem__)
        yield where, (f"one replication would have about {events:.3g} events (waves, contacts, deliveries), "
                      f"over the budget of {MAX_EVENTS_PER_REPLICATION:.3g}")
    for c, cw in s.attacker.waves.classes.items():
        top = _upper(cw.size) * wk["growth"][c]
        if math.isfinite(top) and top > MAX_WAVE:
            yield ("attacker", "waves", "classes", c, "size"), (
                f"a wave could hold {top:.3g} munitions of this class (growth included), over the largest "
                f"wave of {MAX_WAVE:.3g} one replication can hold")
