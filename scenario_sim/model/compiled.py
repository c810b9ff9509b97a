"""A scenario compiled for fast replication.

Everything about a scenario that does not depend on the random draws is computed once here
(per recommendation set, per worker process) and shared by all replications: class and
system indices, per-day production with growth and sanctions, the wave-size growth curve,
kill probabilities for each shots-per-target doctrine, delivery due dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scenario_sim.lang.distributions import Fixed
from scenario_sim.lang.schema import Scenario, System
from scenario_sim.model.clock import CONTACT_TIME, DAYS_PER_MONTH
from scenario_sim.model.contacts import Contact
from scenario_sim.model.doctrine import Doctrine, build_doctrine
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


@dataclass
class CompiledScenario:
    """Precomputed, draw-independent view of a scenario."""

    scenario: Scenario
    horizon: int
    classes: list[str]
    unit_cost: list[float]
    production: FloatArray            # (horizon, C): munitions produced on each day
    cum_production: list[list[float]]  # [d][c]: produced before day d (available during day d)
    size_growth: FloatArray           # (horizon,): multiplier on wave sizes on each day
    contact_rate_factor: FloatArray   # (horizon,)
    scheduled: list[Contact]
    systems: list[CompiledSystem]
    hit_probability: list[float]
    outcomes: list[Outcome]
    surge_probability_fixed: float | None

    @property
    def n_classes(self) -> int:
        return len(self.classes)


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
            r = inter.resupply
            t0 = float(s.day_of(r.first))
            k = 0
            while t0 + k * r.interval_days < h:
                due.append(t0 + k * r.interval_days)
                k += 1
            qty = r.quantity
        coverage = [1.0] * len(classes)
        for c, v in sysspec.coverage.items():
            coverage[cidx[c]] = v
        systems.append(CompiledSystem(
            spec=sysspec, index=i, engages=[cidx[c] for c in sysspec.engages], pk=pk, coverage=coverage,
            limited=inter is not None, initial_stock=inter.initial_stock if inter else 0,
            deliveries_due=due, delivery_quantity=qty, doctrine=build_doctrine(sysspec.doctrine),
        ))
    sp = s.attacker.surge.probability
    return CompiledScenario(
        scenario=s, horizon=h, classes=classes,
        unit_cost=[m.unit_cost_usd for m in s.munitions],
        production=prod, size_growth=size_growth,
        cum_production=np.vstack([np.zeros((1, len(classes))), np.cumsum(prod, axis=0)]).tolist(),
        contact_rate_factor=contact_rate_multiplier(s, days + 0.5),
        scheduled=scheduled, systems=systems,
        hit_probability=[s.consequences.hit_probability[c] for c in classes],
        outcomes=catalogue(classes, s.system_names, s.stocked_system_names),
        surge_probability_fixed=sp.value if isinstance(sp, Fixed) else None,
    )
