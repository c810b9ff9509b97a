"""A scenario compiled for fast replication.

Everything about a scenario that does not depend on the random draws is computed once here
(per recommendation set, per worker process) and shared by all replications: class and
system indices, per-day production with growth and sanctions, the wave-size growth curve,
kill probabilities for each shots-per-target doctrine, delivery due dates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scenario_sim.lang.distributions import Fixed
from scenario_sim.lang.schema import Scenario, System
from scenario_sim.model.clock import CONTACT_TIME, DAYS_PER_MONTH
from scenario_sim.model.contacts import Contact
from scenario_sim.model.doctrine import Doctrine, build_doctrine
from scenario_sim.model.limits import LIMITS, Limits, ModelLimitError
from scenario_sim.model.outcomes import catalogue
from scenario_sim.model.sanctions import contact_rate_multiplier, production_multiplier
from scenario_sim.outcomes import Outcome

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass
class CompiledSystem:
    spec: System
    index: int
    engages: list[int]
    pk: list[float]                 # per class index (0 where not engaged)
    coverage: list[float]           # per class index (1 unless given)
    limited: bool
    initial_stock: int
    deliveries_due: list[float]     # due times (days) of deliveries inside the horizon
    delivery_quantity: int
    doctrine: Doctrine              # firing doctrine object (mode, shots by stock level)
    survival_exponent: list[float] = field(default_factory=list)  # per class index (0: pk independent of wave size)

    def survival_factor(self, c: int, n: FloatArray) -> FloatArray:
        """Multiplier on ``1 - pk`` for class ``c`` in waves of ``n`` launched munitions (see ``Density``)."""
        den = self.spec.density
        b = self.survival_exponent[c] if self.survival_exponent else 0.0
        if den is None or b == 0.0:
            return np.ones(n.shape[0])
        x = np.clip(n, den.min_wave_munitions, den.max_wave_munitions) / den.reference_wave_munitions
        return np.asarray(x ** b, dtype=np.float64)


@dataclass
class CompiledScenario:
    """Precomputed, draw-independent view of a scenario."""

    scenario: Scenario
    horizon: int
    classes: list[str]
    unit_cost: list[float]
    production: FloatArray            # (horizon, C): munitions produced on each day
    cum_production: list[list[float]]  # [d][c]: produced before day d (available during day d)
    cum_production_array: FloatArray   # the same as an array (horizon + 1, C)
    size_growth: FloatArray           # (horizon,): multiplier on wave sizes on each day
    contact_rate_factor: FloatArray   # (horizon,)
    scheduled: list[Contact]
    systems: list[CompiledSystem]
    hit_probability: list[float]
    outcomes: list[Outcome]
    surge_probability_fixed: float | None
    limits: Limits
    costed: bool = False              # outcomes include cost_usd and burden.* (Scenario.costed)
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Draw-independent values the model's components derive from the scenario, built by the
    first replication and reused by the others (see ``Attacker.__init__``)."""

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def _deliveries_due(t0: float, interval: float, h: int, field: str) -> list[float]:
    """Due times ``t0 + k * interval`` inside the horizon, counted before any is built."""
    if t0 >= h:
        return []
    n = math.ceil((h - t0) / interval)
    if not n <= LIMITS.deliveries:  # also NaN
        raise ModelLimitError(f"{field}: {interval:g} days gives ~{n:.3g} deliveries in {h} days; "
                              f"the model's limit is {LIMITS.deliveries} per system")
    ks = np.arange(n + 2)
    t = t0 + ks * interval
    return [float(x) for x in t[t < h]]


def _check_limits(s: Scenario, size_growth: FloatArray) -> None:
    """Refuse, before any replication runs, a scenario whose replications would exceed
    :data:`LIMITS` on average (the processes also stop at the limits, for unlucky tails)."""
    h = s.horizon_days
    st = s.contacts.stochastic
    if st is not None:
        n = st.rate_per_day * max(0.0, h - s.day_of(st.start))
        if not n <= LIMITS.contacts:
            raise ModelLimitError(f"contacts.stochastic.rate_per_day: {st.rate_per_day:g} a day gives ~{n:.3g} "
                                  f"contact candidates a replication; the model's limit is {LIMITS.contacts}")
    w = s.attacker.waves
    opportunities = float(h) if w.schedule == "nightly" else w.waves_per_day * h
    if not opportunities <= LIMITS.waves:
        raise ModelLimitError(f"attacker.waves.waves_per_day: {w.waves_per_day:g} a day gives ~{opportunities:.3g} "
                              f"wave opportunities a replication; the model's limit is {LIMITS.waves}")
    per_day = opportunities / h
    growth = float(size_growth.sum())
    for c, cw in w.classes.items():
        n = cw.probability * cw.size.mean() * growth * per_day
        if not n <= LIMITS.munitions:
            raise ModelLimitError(
                f"attacker.waves.classes.{c}: ~{n:.3g} {c} launched in {h} days (size, growth and horizon); "
                f"the model's limit is {LIMITS.munitions:.3g} munitions of a class per replication")


def compile_scenario(s: Scenario) -> CompiledScenario:
    """Precompute the draw-independent parts of ``s``."""
    h = s.horizon_days
    classes = s.class_names
    days = np.arange(h, dtype=float)
    base = np.array([s.attacker.arsenal[c].production_per_day for c in classes])
    growth = np.array([s.attacker.arsenal[c].production_growth_per_month for c in classes])
    prod = base[None, :] * (1.0 + growth[None, :]) ** (days[:, None] / DAYS_PER_MONTH)
    prod = prod * production_multiplier(s, days + 0.5)
    size_growth = (1.0 + s.attacker.waves.size_growth_per_month) ** (days / DAYS_PER_MONTH)

    scheduled = []
    for i, sc in enumerate(s.contacts.scheduled):
        if sc.status == "denied" and not s.contacts.broadcast_denied:
            continue
        t = s.day_of(sc.date) + CONTACT_TIME
        if t < h:
            scheduled.append(Contact(t, sc.kind, sc.status, "scheduled", i))
    scheduled.sort(key=lambda c: (c.time, c.key))

    cidx = {c: i for i, c in enumerate(classes)}
    systems = []
    for i, sysspec in enumerate(s.air_defense.systems):
        pk = [0.0] * len(classes)
        for c, p in sysspec.pk.items():
            pk[cidx[c]] = p
        inter = sysspec.interceptors
        due: list[float] = []
        qty = 0
        if inter is not None and inter.resupply is not None:
            due = _deliveries_due(float(s.day_of(inter.resupply.first)), inter.resupply.interval_days, h,
                                  f"air_defense.systems[{sysspec.name}].interceptors.resupply.interval_days")
            qty = inter.resupply.quantity
        coverage = [1.0] * len(classes)
        for c, v in sysspec.coverage.items():
            coverage[cidx[c]] = v
        expo = [0.0] * len(classes)
        if sysspec.density is not None:
            for c, b in sysspec.density.survival_exponent.items():
                expo[cidx[c]] = b
        systems.append(CompiledSystem(
            spec=sysspec, index=i, engages=[cidx[c] for c in sysspec.engages], pk=pk, coverage=coverage,
            limited=inter is not None, initial_stock=inter.initial_stock if inter else 0,
            deliveries_due=due, delivery_quantity=qty, doctrine=build_doctrine(sysspec.doctrine),
            survival_exponent=expo,
        ))
    _check_limits(s, size_growth)
    sp = s.attacker.surge.probability
    cum = np.vstack([np.zeros((1, len(classes))), np.cumsum(prod, axis=0)])
    return CompiledScenario(
        scenario=s, horizon=h, classes=classes,
        unit_cost=[m.unit_cost_usd for m in s.munitions],
        production=prod, size_growth=size_growth,
        cum_production=cum.tolist(), cum_production_array=cum,
        contact_rate_factor=contact_rate_multiplier(s, days + 0.5),
        scheduled=scheduled, systems=systems,
        hit_probability=[s.consequences.hit_probability[c] for c in classes],
        outcomes=catalogue(classes, s.system_names, s.stocked_system_names, s.costed),
        costed=s.costed,
        surge_probability_fixed=sp.value if isinstance(sp, Fixed) else None,
        limits=LIMITS,
    )
