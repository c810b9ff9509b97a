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
from scenario_sim.model.rng import Streams
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
    cum_production_array: FloatArray   # (horizon + 1, C): [d, c] produced before day d (available during day d)
    size_growth: FloatArray           # (horizon, C): multiplier on wave sizes on each day, per class
    contact_rate_factor: FloatArray   # (horizon,)
    scheduled: list[Contact]
    systems: list[CompiledSystem]
    hit_probability: list[float]
    outcomes: list[Outcome]
    surge_probability_fixed: float | None
    limits: Limits
    growth: GrowthTerms | None = field(default=None, compare=False, repr=False)
    """The draw-independent terms of the growth curves, for :meth:`for_replication`."""
    costed: bool = False              # outcomes include cost_usd and burden.* (Scenario.costed)
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Draw-independent values the model's components derive from the scenario, built by the
    first replication and reused by the others (see ``Attacker.__init__``)."""

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def varies_by_replication(self) -> bool:
        """Whether growth or tempo is drawn per replication (see :meth:`for_replication`)."""
        a = self.scenario.attacker
        g = a.growth
        return g.shock_per_month is not None or g.regime_log_shock_per_month is not None or a.waves.tempo_log_sd > 0

    def for_replication(self, streams: Streams) -> CompiledScenario:
        """This scenario with the growth and tempo draws of one replication applied.

        * ``attacker.growth.shock_per_month``: one value from stream ``attacker.growth.shock``
          added to every monthly growth rate (wave sizes and each class's production): the
          growth estimate's uncertainty, carried by every replication instead of its centre.
        * ``attacker.growth.regime_log_shock_per_month``: one value from stream
          ``attacker.growth.regime`` added to every monthly log-growth rate from day
          ``regime_after_days`` on (levelling off with the same half-life from that day): growth
          changes between half-years by more than one window's sampling interval says.
        * ``attacker.waves.tempo_log_sd``: period *k* (``tempo_period_days`` long) multiplies
          every wave's size by ``exp(sd · Z_k − sd²/2)`` (mean 1), ``Z_k`` value *k* of stream
          ``attacker.waves.tempo``: months of the record are busier or quieter than nights
          drawn independently can make them.

        All are drawn for every replication whatever the set, so sets stay aligned.
        Without any, the compiled scenario itself is returned.
        """
        if not self.varies_by_replication:
            return self
        a = self.scenario.attacker
        g = self.growth if self.growth is not None else GrowthTerms.of(self.scenario)
        shock = 0.0
        if a.growth.shock_per_month is not None:
            shock = float(a.growth.shock_per_month.sample(streams.rng("attacker.growth.shock"), 1)[0])
        prod, size_growth = g.curves(shock)
        if a.growth.regime_log_shock_per_month is not None:
            regime = float(a.growth.regime_log_shock_per_month.sample(streams.rng("attacker.growth.regime"), 1)[0])
            factor = g.regime_factor(math.expm1(max(regime, math.log(0.01))))[:, None]
            prod, size_growth = prod * factor, size_growth * factor
        sd = a.waves.tempo_log_sd
        if sd > 0:
            z = streams.rng("attacker.waves.tempo").standard_normal(g.tempo_periods)
            size_growth = size_growth * np.exp(sd * z[g.tempo_period] - 0.5 * sd * sd)[:, None]
        # A shallow copy with three arrays replaced: what dataclasses.replace gives (memo shared),
        # at a third of its cost (no walk over every field as an __init__ argument).
        out = object.__new__(CompiledScenario)
        out.__dict__.update(self.__dict__)
        out.production, out.size_growth, out.cum_production_array = prod, size_growth, cumulative(prod)
        return out


def cumulative(prod: FloatArray) -> FloatArray:
    """(horizon + 1, C): row ``d`` is the production before day ``d`` (row 0 zeros)."""
    cum = np.empty((prod.shape[0] + 1, prod.shape[1]))
    cum[0] = 0.0
    np.cumsum(prod, axis=0, out=cum[1:])
    return cum


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
    for i, c in enumerate(s.class_names):
        cw = w.classes.get(c)
        if cw is None:
            continue
        n = cw.probability * cw.size.mean() * float(size_growth[:, i].sum()) * per_day
        if not n <= LIMITS.munitions:
            raise ModelLimitError(
                f"attacker.waves.classes.{c}: ~{n:.3g} {c} launched in {h} days (size, growth and horizon); "
                f"the model's limit is {LIMITS.munitions:.3g} munitions of a class per replication")


def growth_factor(g: Any, days: FloatArray, half_life_days: float | None) -> Any:
    """Growth multiplier on day ``days`` for monthly growth ``g`` (broadcast).

    Constant growth compounds over 30-day months, ``(1 + g)^(d/30)``.  With a half-life the
    log-growth rate ``r = log(1 + g)`` per month decays as ``r · 2^(-t/h)``, so the
    multiplier is ``exp(r/30 · h/ln 2 · (1 - 2^(-d/h)))``: growth levels off at
    ``exp(r/30 · h/ln 2)`` (``attacker.growth.half_life_days``).
    """
    if half_life_days is None:
        return (1.0 + g) ** (days / DAYS_PER_MONTH)
    lam = math.log(2.0) / half_life_days
    return np.exp(np.log1p(g) / DAYS_PER_MONTH * (-np.expm1(-lam * days)) / lam)


@dataclass(frozen=True)
class GrowthTerms:
    """The parts of :func:`growth_curves` that no draw changes, computed once per compiled
    scenario so that a replication's growth shock costs only the terms that depend on it.

    The arrays are the very operands :func:`growth_factor` and :func:`growth_curves` combine,
    in the same order, so the curves are bit for bit those computed from scratch.
    """

    base: FloatArray           # (C,): production_per_day
    growth: FloatArray         # (C,): production_growth_per_month
    g_size: FloatArray         # (C,): size growth per month (the class's, else the common one)
    elapsed: FloatArray        # (h, 1): d/30 (constant growth) or -expm1(-lam d) (half-life)
    lam: float | None          # ln 2 / half_life_days, None for constant growth
    sanctions: FloatArray      # (h, C): production multiplier of the sanction levers at d + 0.5
    tempo_period: np.ndarray[Any, np.dtype[np.int64]]  # (h,): tempo period of each day
    tempo_periods: int         # tempo periods in the horizon (values drawn from attacker.waves.tempo)
    regime_elapsed: FloatArray  # (h,): growth_factor's elapsed term for the days since regime_after_days

    @classmethod
    def of(cls, s: Scenario) -> GrowthTerms:
        h = s.horizon_days
        classes = s.class_names
        days = np.arange(h, dtype=float)
        half = s.attacker.growth.half_life_days
        w = s.attacker.waves
        own = [cw.size_growth_per_month if (cw := w.classes.get(c)) is not None else None for c in classes]
        g_size = np.array([w.size_growth_per_month if g is None else g for g in own])
        lam = None if half is None else math.log(2.0) / half
        elapsed = days[:, None] / DAYS_PER_MONTH if lam is None else -np.expm1(-lam * days[:, None])
        period = np.floor(np.arange(h) / w.tempo_period_days).astype(np.int64)
        after = np.maximum(days - s.attacker.growth.regime_after_days, 0.0)
        regime_elapsed = after / DAYS_PER_MONTH if lam is None else -np.expm1(-lam * after)
        return cls(base=np.array([s.attacker.arsenal[c].production_per_day for c in classes]),
                   growth=np.array([s.attacker.arsenal[c].production_growth_per_month for c in classes]),
                   g_size=g_size, elapsed=elapsed, lam=lam, sanctions=production_multiplier(s, days + 0.5),
                   tempo_period=period, tempo_periods=int(period[-1]) + 1 if h else 0,
                   regime_elapsed=regime_elapsed)

    def factor(self, g: FloatArray) -> FloatArray:
        """:func:`growth_factor` of monthly growth ``g`` (C,) on every day: (h, C)."""
        if self.lam is None:
            return np.asarray((1.0 + g[None, :]) ** self.elapsed, dtype=np.float64)
        return np.asarray(np.exp(np.log1p(g[None, :]) / DAYS_PER_MONTH * self.elapsed / self.lam), dtype=np.float64)

    def regime_factor(self, g: float) -> FloatArray:
        """:func:`growth_factor` of monthly growth ``g`` on the days since ``regime_after_days``
        (0 before): the regime shock's multiplier, (h,)."""
        if self.lam is None:
            return np.asarray((1.0 + g) ** self.regime_elapsed, dtype=np.float64)
        return np.asarray(np.exp(np.log1p(g) / DAYS_PER_MONTH * self.regime_elapsed / self.lam), dtype=np.float64)

    def curves(self, shock: float = 0.0) -> tuple[FloatArray, FloatArray]:
        """:func:`growth_curves` for this ``shock``."""
        growth, g_size = self.growth, self.g_size
        if shock:
            growth = np.maximum(growth + shock, -0.99)
            g_size = np.maximum(g_size + shock, -0.99)
        prod = self.base[None, :] * self.factor(growth)
        return prod * self.sanctions, self.factor(g_size)


def growth_curves(s: Scenario, shock: float = 0.0) -> tuple[FloatArray, FloatArray]:
    """(production per day and class (horizon, C), wave-size multiplier per day and class (horizon, C)),
    with ``shock`` added to every monthly growth rate (held above -99% a month)."""
    return GrowthTerms.of(s).curves(shock)


def compile_scenario(s: Scenario) -> CompiledScenario:
    """Precompute the draw-independent parts of ``s``."""
    h = s.horizon_days
    classes = s.class_names
    days = np.arange(h, dtype=float)
    growth = GrowthTerms.of(s)
    prod, size_growth = growth.curves()

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
    return CompiledScenario(
        scenario=s, horizon=h, classes=classes,
        unit_cost=[m.unit_cost_usd for m in s.munitions],
        production=prod, size_growth=size_growth,
        cum_production_array=cumulative(prod), growth=growth,
        contact_rate_factor=contact_rate_multiplier(s, days + 0.5),
        scheduled=scheduled, systems=systems,
        hit_probability=[s.consequences.hit_probability[c] for c in classes],
        outcomes=catalogue(classes, s.system_names, s.stocked_system_names, s.costed),
        costed=s.costed,
        surge_probability_fixed=sp.value if isinstance(sp, Fixed) else None,
        limits=LIMITS,
    )
