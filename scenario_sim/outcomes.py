"""The catalogue of outcomes a replication reports.

Outcomes are first-class named things (as in EMA Workbench): each has a stable name, a unit,
a direction (is lower or higher better?) and a description.  Names that depend on the
scenario are built from its munition classes and air-defence systems, so the catalogue is a
function of the scenario's names, not a constant.

Name scheme (dots separate a family from its member; ``total`` sums the members):

* ``launched.<class>``, ``intercepted.<class>``, ``leaked.<class>``, ``hits.<class>`` and
  ``*.total``
* ``waves``, ``surges``, ``largest_wave``, ``contacts``
* ``civilian_harm``
* ``energy.mean``, ``energy.min``, ``energy.days_below``
* ``stock_exhausted_days.<system>`` (systems with an interceptor inventory) and ``.total``
* ``shots.<system>``; ``interceptor_spend_usd``, ``attacker_spend_usd``
* ``production.<class>``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher", "none"]


@dataclass(frozen=True)
class Outcome:
    """A named outcome with its unit and which direction is better."""

    name: str
    unit: str
    direction: Direction
    description: str


def catalogue(classes: list[str], systems: list[str], stocked_systems: list[str]) -> list[Outcome]:
    """All outcomes for a scenario with these class and system names, in a stable order."""
    out: list[Outcome] = []
    fam: list[tuple[str, str, Direction, str]] = [
        ("launched", "munitions", "none", "munitions launched by the attacker"),
        ("intercepted", "munitions", "higher", "munitions destroyed or suppressed by air defence"),
        ("leaked", "munitions", "lower", "munitions that passed every air-defence layer"),
        ("hits", "munitions", "lower", "leakers that hit a target"),
    ]
    for family, unit, direction, desc in fam:
        for c in classes:
            out.append(Outcome(f"{family}.{c}", unit, direction, f"{desc} ({c})"))
        out.append(Outcome(f"{family}.total", unit, direction, f"{desc} (all classes)"))
    out += [
        Outcome("leak_fraction", "fraction", "lower", "leaked / launched over all classes"),
        Outcome("waves", "waves", "none", "nights (or waves) with at least one launch"),
        Outcome("surges", "waves", "lower", "surge waves launched in response to contacts"),
        Outcome("largest_wave", "munitions", "lower", "largest single wave, all classes"),
        Outcome("contacts", "contacts", "none", "leader contacts broadcast during the horizon"),
        Outcome("civilian_harm", "casualties", "lower", "civilian casualties (killed and injured)"),
        Outcome("energy.mean", "fraction of capacity", "higher", "mean end-of-day energy capacity"),
        Outcome("energy.min", "fraction of capacity", "higher", "lowest end-of-day energy capacity"),
        Outcome("energy.days_below", "days", "lower", "days ending below the energy threshold"),
    ]
    for s in stocked_systems:
        out.append(Outcome(f"stock_exhausted_days.{s}", "days", "lower", f"days ending with no {s} interceptors"))
    out.append(Outcome("stock_exhausted_days.total", "system-days", "lower", "sum over systems of days exhausted"))
    for s in systems:
        out.append(Outcome(f"shots.{s}", "interceptors", "none", f"shots fired by {s}"))
    out += [
        Outcome("interceptor_spend_usd", "USD", "lower", "cost of all shots fired"),
        Outcome("attacker_spend_usd", "USD", "none", "cost of all munitions launched"),
        Outcome("cost_exchange_ratio", "ratio", "higher", "attacker spend / interceptor spend"),
    ]
    for c in classes:
        out.append(Outcome(f"production.{c}", "munitions", "lower", f"munitions produced ({c})"))
    return out
