"""The outcomes of a replication, each defined once with the code that computes it.

As in EMA Workbench, where an outcome is declared with its name, kind and the function that
yields it, every outcome here is one :class:`Definition`: name, unit, direction, description
and a ``value`` function of the resolved replication (:class:`Tally`).  That one list
drives everything that needs outcomes:

* the catalogue (:func:`catalogue`, re-exported as :func:`scenario_sim.outcomes.catalogue`),
  which the scenario language checks ``outputs.primary`` against and runs record;
* the values and column names of a replication (:func:`evaluate`), in catalogue order;
* the outcome table of ``docs/model.md`` (:func:`markdown_table`; a test fails on drift).

Name scheme: dots separate a family from its member; a family is over the munition
classes, the air-defence systems or the systems with an interceptor inventory, and may add
a ``.total`` member that sums the others.  Names therefore depend on the scenario's class
and system names, and the catalogue is a function of them, not a constant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from scenario_sim.outcomes import Direction, Outcome

if TYPE_CHECKING:
    from scenario_sim.model.airdefense import LayerResult
    from scenario_sim.model.compiled import CompiledScenario
    from scenario_sim.model.consequences import ConsequenceResult

Members = Literal["classes", "systems", "stocked"]


@dataclass
class Tally:
    """A resolved replication, as the outcome functions see it."""

    model: CompiledScenario
    launched: np.ndarray[Any, Any]     # (W, C) munitions launched per wave and class
    leaked: np.ndarray[Any, Any]       # (W, C) leakers (passed every layer)
    layers: list[LayerResult]          # per system, in scenario order
    consequences: ConsequenceResult
    surges: int
    contacts: int
    alert_nights: int = 0             # nights civil defence is raised (burden.alert_nights)
    raised_readiness_nights: int = 0  # nights readiness is above its baseline (burden.raised_readiness_nights)

    @cached_property
    def launched_by_class(self) -> np.ndarray[Any, Any]:
        return np.asarray(self.launched.sum(axis=0))

    @cached_property
    def leaked_by_class(self) -> np.ndarray[Any, Any]:
        return np.asarray(self.leaked.sum(axis=0))

    @cached_property
    def per_wave(self) -> np.ndarray[Any, Any]:
        return np.asarray(self.launched.sum(axis=1))

    @cached_property
    def interceptor_spend(self) -> float:
        spend = 0.0
        for cs, lr in zip(self.model.systems, self.layers, strict=True):
            spend += float(lr.shots.sum()) * cs.spec.cost_per_shot_usd
        return spend

    @cached_property
    def attacker_spend(self) -> float:
        return float(np.dot(self.launched_by_class, self.model.unit_cost))

    def burden(self, name: str) -> float:
        """A burden the model counts, by its name in ``per_burden_usd`` (see lang.schema.BURDENS)."""
        return float({"alert_nights": self.alert_nights,
                      "raised_readiness_nights": self.raised_readiness_nights}[name])

    @cached_property
    def cost(self) -> float:
        """Total cost of the costs in force over the horizon, USD (see docs/costs.md)."""
        h = self.model.horizon
        total = 0.0
        price: dict[str, float] = {}
        for c in self.model.scenario.costs:
            total += c.one_off_usd + c.per_day_usd * h
            for b, usd in c.per_burden_usd.items():
                price[b] = max(price.get(b, 0.0), usd)
        # A burden unit (a night of alerts) is paid once, at the highest price any set in force
        # puts on it: two sets of a bundle that both raise readiness do not pay each night twice.
        return total + sum(usd * self.burden(b) for b, usd in price.items())

    @cached_property
    def member_names(self) -> dict[str, list[str]]:
        """Member names of each kind of family."""
        systems = self.model.systems
        return {"classes": self.model.classes, "systems": [cs.spec.name for cs in systems],
                "stocked": [cs.spec.name for cs in systems if cs.limited]}

    def stocked_layers(self) -> list[LayerResult]:
        return [lr for cs, lr in zip(self.model.systems, self.layers, strict=True) if cs.limited]


@dataclass(frozen=True)
class Total:
    """The ``.total`` member of a family: the sum of its members."""

    unit: str
    description: str | None = None  # default: the family's, for "all classes"


@dataclass(frozen=True)
class Definition:
    """One outcome, or one family of outcomes (``members`` set), and how to compute it.

    ``description`` may contain ``{member}``.  ``value`` returns a number, or for a family
    one number per member in member order.
    """

    name: str
    unit: str
    direction: Direction
    description: str
    value: Callable[[Tally], Any]
    members: Members | None = None
    total: Total | None = None
    costed: bool = False  # only in scenarios that declare costs or objectives (Scenario.costed)

    def member_names(self, classes: Sequence[str], systems: Sequence[str], stocked: Sequence[str]) -> list[str]:
        if self.members is None:
            return []
        return list({"classes": classes, "systems": systems, "stocked": stocked}[self.members])

    def expand(self, classes: Sequence[str], systems: Sequence[str], stocked: Sequence[str]) -> list[Outcome]:
        """The outcomes this definition yields for a scenario with these names."""
        if self.members is None:
            return [Outcome(self.name, self.unit, self.direction, self.description)]
        out = [Outcome(f"{self.name}.{m}", self.unit, self.direction, self.description.format(member=m))
               for m in self.member_names(classes, systems, stocked)]
        if self.total is not None:
            desc = self.total.description or self.description.format(member="all classes")
            out.append(Outcome(f"{self.name}.total", self.total.unit, self.direction, desc))
        return out


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _energy_days_below(t: Tally) -> int:
    e = t.consequences.energy
    return int(np.count_nonzero(e < t.model.scenario.consequences.energy.threshold))


OUTCOMES: list[Definition] = [
    Definition("launched", "munitions", "none", "munitions launched by the attacker ({member})",
               lambda t: t.launched_by_class.tolist(), "classes", Total("munitions")),
    Definition("intercepted", "munitions", "higher", "munitions destroyed or suppressed by air defence ({member})",
               lambda t: (t.launched_by_class - t.leaked_by_class).tolist(), "classes",
               Total("munitions")),
    Definition("leaked", "munitions", "lower", "munitions that passed every air-defence layer ({member})",
               lambda t: t.leaked_by_class.tolist(), "classes",
               Total("munitions")),
    Definition("hits", "munitions", "lower", "leakers that hit a target ({member})",
               lambda t: t.consequences.hits.sum(axis=0).tolist(), "classes",
               Total("munitions")),
    Definition("leak_fraction", "fraction", "lower", "leaked / launched over all classes",
               lambda t: _ratio(float(t.leaked_by_class.sum()), float(t.launched_by_class.sum()))),
    Definition("waves", "waves", "none", "nights (or waves) with at least one launch",
               lambda t: np.count_nonzero(t.per_wave)),
    Definition("surges", "waves", "lower", "surge waves launched in response to contacts", lambda t: t.surges),
    Definition("largest_wave", "munitions", "lower", "largest single wave, all classes",
               lambda t: t.per_wave.max() if t.per_wave.shape[0] else 0.0),
    Definition("contacts", "contacts", "none", "leader contacts broadcast during the horizon", lambda t: t.contacts),
    Definition("civilian_harm", "casualties", "lower", "civilian casualties (killed and injured)",
               lambda t: t.consequences.harm.sum()),
    Definition("energy.mean", "fraction of capacity", "higher", "mean end-of-day energy capacity",
               lambda t: t.consequences.energy.mean()),
    Definition("energy.min", "fraction of capacity", "higher", "lowest end-of-day energy capacity",
               lambda t: t.consequences.energy.min()),
    Definition("energy.days_below", "days", "lower", "days ending below the energy threshold", _energy_days_below),
    Definition("stock_exhausted_days", "days", "lower", "days ending with no {member} interceptors",
               lambda t: [lr.exhausted_days for lr in t.stocked_layers()], "stocked",
               Total("system-days", "sum over systems of days exhausted")),
    Definition("shots", "interceptors", "none", "shots fired by {member}",
               lambda t: [lr.shots.sum() for lr in t.layers], "systems"),
    Definition("interceptor_spend_usd", "USD", "lower", "cost of all shots fired", lambda t: t.interceptor_spend),
    Definition("attacker_spend_usd", "USD", "none", "cost of all munitions launched", lambda t: t.attacker_spend),
    Definition("cost_exchange_ratio", "ratio", "higher", "attacker spend / interceptor spend",
               lambda t: _ratio(t.attacker_spend, t.interceptor_spend)),
    Definition("production", "munitions", "lower", "munitions produced ({member})",
               lambda t: t.model.cum_production_array[t.model.horizon].tolist(), "classes"),
    # Costs and burdens (issue 12; docs/costs.md): present when the scenario declares a cost
    # or objectives, so that scenarios without costs keep their columns.
    Definition("cost_usd", "USD", "lower", "total cost of the set over the horizon: one-off, per day and per "
               "burden unit of every cost in force", lambda t: t.cost, costed=True),
    Definition("burden.alert_nights", "nights", "lower", "nights on which civil defence is raised (alerts, "
               "shelters): a burden on the population", lambda t: t.alert_nights, costed=True),
    Definition("burden.raised_readiness_nights", "nights", "lower", "nights on which air-defence readiness is "
               "above its baseline level: a burden on crews", lambda t: t.raised_readiness_nights, costed=True),
]


def catalogue(classes: Sequence[str], systems: Sequence[str], stocked_systems: Sequence[str],
              costed: bool = False) -> list[Outcome]:
    """All outcomes for a scenario with these class and system names, in a stable order
    (``costed``: with ``cost_usd`` and the burdens, for scenarios that declare costs)."""
    return [o for d in OUTCOMES if costed or not d.costed for o in d.expand(classes, systems, stocked_systems)]


_Plan = list[tuple[Definition, "tuple[str, ...] | None", "str | None"]]


def _plan(tally: Tally) -> _Plan:
    """The definitions a compiled scenario evaluates, each with its outcome names (None: a
    single outcome) and its ``.total``'s name (None: no total): worked out once per compiled
    scenario (``CompiledScenario.memo``), not for every replication."""
    costed = tally.model.costed
    plan: _Plan = []
    for d in OUTCOMES:
        if not (costed or not d.costed):
            continue
        if d.members is None:
            plan.append((d, None, None))
        else:
            keys = tuple(f"{d.name}.{n}" for n in tally.member_names[d.members])
            plan.append((d, keys, f"{d.name}.total" if d.total is not None else None))
    return plan


def evaluate(tally: Tally) -> dict[str, float]:
    """Every outcome of a resolved replication, in catalogue order: a definition's value,
    or for a family one value per member and then the ``.total`` of them."""
    memo = tally.model.memo
    plan: _Plan | None = memo.get("outcomes")
    if plan is None:
        plan = memo["outcomes"] = _plan(tally)
    out: dict[str, float] = {}
    for d, keys, total in plan:
        if keys is None:
            out[d.name] = float(d.value(tally))
            continue
        vals = [float(v) for v in d.value(tally)]
        for k, v in zip(keys, vals, strict=True):
            out[k] = v
        if total is not None:
            out[total] = float(sum(vals))
    return out


_BETTER = {"lower": "lower", "higher": "higher", "none": "—"}


def markdown_table() -> str:
    """The outcome table of ``docs/model.md``, one row per definition."""
    rows = ["| outcome | unit | better | description |", "|---|---|---|---|"]
    for d in OUTCOMES:
        member = {"classes": "<class>", "systems": "<system>", "stocked": "<system>"}.get(d.members or "", "")
        if d.members is None:
            name = f"`{d.name}`"
        else:
            name = f"`{d.name}.{member}`" + (", `.total`" if d.total else "")
            name += " (systems with interceptors)" if d.members == "stocked" else ""
        unit = d.unit if d.total is None or d.total.unit == d.unit else f"{d.unit} (`.total`: {d.total.unit})"
        desc = d.description.format(member=member) if d.members else d.description
        rows.append(f"| {name} | {unit} | {_BETTER[d.direction]} | {desc} |")
    return "\n".join(rows) + "\n"
