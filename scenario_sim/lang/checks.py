"""Cross-reference checks pydantic cannot express field by field.

Each check yields ``(path, message)`` where ``path`` is the tuple location in the scenario
document (list items by index), so the loader can map it to the line it was written on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

from scenario_sim.lang.budget import within_budget
from scenario_sim.lang.schema import Scenario
from scenario_sim.outcomes import catalogue

Path = tuple[Any, ...]


def _dupes(names: list[str], path: Path) -> Iterator[tuple[Path, str]]:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            yield (*path, i, "name"), f"duplicate name {n!r}"
        seen.add(n)


def _unknown(name: str, known: list[str], what: str) -> str:
    return f"unknown {what} {name!r} (known: {', '.join(known) or 'none'})"


def _support(dist: Any, low: float, high: float | None, path: Path, what: str) -> Iterator[tuple[Path, str]]:
    lo, hi = dist.support()
    if lo < low or (high is not None and hi > high):
        rng = f"[{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        yield path, f"{what} must lie in {rng} (this distribution's support is [{lo:g}, {hi:g}])"


Found = Iterator[tuple[Path, str]]

_LOG2 = math.log(2.0)

BASELINE = "baseline"
"""The implicit recommendation set that changes nothing (a set may not take its name)."""


def cross_check(s: Scenario) -> list[tuple[Path, str]]:
    """Every cross-reference problem in a structurally valid scenario."""
    out: list[tuple[Path, str]] = []
    for check in CHECKS:
        out += check(s)
    return out


def unique_names(s: Scenario) -> Found:
    """Names are unique within their list, and no set is called ``baseline``."""
    yield from _dupes(s.class_names, ("munitions",))
    yield from _dupes(s.system_names, ("air_defense", "systems"))
    yield from _dupes([lv.name for lv in s.sanctions.levers], ("sanctions", "levers"))
    yield from _dupes([r.name for r in s.recommendations], ("recommendations",))
    for i, r in enumerate(s.recommendations):
        if r.name == BASELINE:
            yield ("recommendations", i, "name"), (f"{BASELINE!r} is the implicit set that changes nothing; "
                                                   "give this set another name")


def classes_complete(s: Scenario) -> Found:
    """Every class has an arsenal and a hit probability; no unknown class is named."""
    classes = s.class_names
    for c in classes:
        if c not in s.attacker.arsenal:
            yield ("attacker", "arsenal"), f"missing arsenal for munition class {c!r}"
        if c not in s.consequences.hit_probability:
            yield ("consequences", "hit_probability"), f"missing hit probability for class {c!r}"
    for c in s.attacker.arsenal:
        if c not in classes:
            yield ("attacker", "arsenal", c), _unknown(c, classes, "munition class")
    for c in s.attacker.waves.classes:
        if c not in classes:
            yield ("attacker", "waves", "classes", c), _unknown(c, classes, "munition class")
    for c in s.consequences.hit_probability:
        if c not in classes:
            yield ("consequences", "hit_probability", c), _unknown(c, classes, "munition class")
    for i, lv in enumerate(s.sanctions.levers):
        for c in lv.production_effect:
            if c not in classes:
                yield ("sanctions", "levers", i, "production_effect", c), _unknown(c, classes, "munition class")


def distribution_supports(s: Scenario) -> Found:
    """Random quantities stay in their natural ranges."""
    for c, cw in s.attacker.waves.classes.items():
        yield from _support(cw.size, 0, None, ("attacker", "waves", "classes", c, "size"), "wave size")
    regime = s.attacker.growth.regime_log_shock_per_month
    if regime is not None and regime.support()[1] > _LOG2:
        yield (("attacker", "growth", "regime_log_shock_per_month"),
               f"a monthly log-growth shock must lie at or below log 2 = {_LOG2:.4g} (growth at most doubles a month; "
               f"this distribution reaches {regime.support()[1]:g}: cut a normal or student_t with high)")
    surge = s.attacker.surge
    yield from _support(surge.probability, 0, 1, ("attacker", "surge", "probability"), "probability")
    yield from _support(surge.lag_days, 0, None, ("attacker", "surge", "lag_days"), "lag")
    yield from _support(surge.size_multiplier, 0, None, ("attacker", "surge", "size_multiplier"), "multiplier")
    yield from _support(s.consequences.harm_per_civilian_hit, 0, None,
                        ("consequences", "harm_per_civilian_hit"), "harm")
    for i, sys in enumerate(s.air_defense.systems):
        if sys.interceptors and sys.interceptors.resupply:
            yield from _support(sys.interceptors.resupply.lead_time_days, 0, None,
                                ("air_defense", "systems", i, "interceptors", "resupply", "lead_time_days"),
                                "lead time")


def layers_consistent(s: Scenario) -> Found:
    """Each layer engages known classes, once each, with a kill probability for each."""
    classes = s.class_names
    for i, sys in enumerate(s.air_defense.systems):
        base = ("air_defense", "systems", i)
        for j, c in enumerate(sys.engages):
            if c not in classes:
                yield (*base, "engages", j), _unknown(c, classes, "munition class")
            elif c not in sys.pk:
                yield (*base, "pk"), f"missing kill probability for engaged class {c!r}"
        if len(set(sys.engages)) != len(sys.engages):
            yield (*base, "engages"), "a class is listed twice"
        for c in sys.pk:
            if c not in sys.engages:
                yield (*base, "pk", c), f"class {c!r} has a kill probability but is not in engages"
        for c in sys.coverage:
            if c not in sys.engages:
                yield (*base, "coverage", c), f"class {c!r} has a coverage but is not in engages"
        yield from _density_consistent(sys, base)
        d = sys.doctrine
        if d.reduced_shots_per_target > d.shots_per_target:
            yield (*base, "doctrine", "reduced_shots_per_target"), f"must be <= shots_per_target ({d.shots_per_target})"


def _density_consistent(sys: Any, base: Path) -> Found:
    """A wave-size-dependent kill probability needs a layer without inventory under salvo."""
    den = sys.density
    if den is None:
        return
    if sys.interceptors is not None:
        yield (*base, "density"), "only a layer without interceptors can have a wave-size-dependent pk"
    if sys.doctrine.mode != "salvo":
        yield (*base, "density"), "only a salvo layer can have a wave-size-dependent pk"
    if den.min_wave_munitions > den.max_wave_munitions:
        yield (*base, "density", "min_wave_munitions"), f"must be <= max_wave_munitions ({den.max_wave_munitions:g})"
    for c in den.survival_exponent:
        if c not in sys.engages:
            yield (*base, "density", "survival_exponent", c), f"class {c!r} has an exponent but is not in engages"


def dates_in_horizon(s: Scenario) -> Found:
    """No date before ``start_date``."""
    for i, contact in enumerate(s.contacts.scheduled):
        if s.day_of(contact.date) < 0:
            yield ("contacts", "scheduled", i, "date"), f"is before start_date ({s.start_date})"
    if s.contacts.stochastic is not None and s.day_of(s.contacts.stochastic.start) < 0:
        yield ("contacts", "stochastic", "start"), "is before start_date"
    for i, sys in enumerate(s.air_defense.systems):
        if sys.interceptors and sys.interceptors.resupply and s.day_of(sys.interceptors.resupply.first) < 0:
            yield ("air_defense", "systems", i, "interceptors", "resupply", "first"), "is before start_date"
    for i, lv in enumerate(s.sanctions.levers):
        if s.day_of(lv.start) < 0:
            yield ("sanctions", "levers", i, "start"), "is before start_date"


def levels_consistent(s: Scenario) -> Found:
    """The grid starts above its floor, and something can be hit."""
    e = s.consequences.energy
    if e.initial < e.floor:
        yield ("consequences", "energy", "initial"), f"must be >= floor ({e.floor:g})"
    t = s.attacker.targets
    if t.energy + t.civilian + t.military <= 0:
        yield ("attacker", "targets"), "weights must not all be zero"


def outcomes_known(s: Scenario) -> Found:
    """``outputs`` name outcomes of the catalogue; thresholds only outcomes with a better direction."""
    cat = {o.name: o for o in catalogue(s.class_names, s.system_names, s.stocked_system_names, s.costed)}
    names = list(cat)
    if s.outputs.primary not in names:
        yield ("outputs", "primary"), _suggest(s.outputs.primary, names, "outcome")
    for j, k in enumerate(s.outputs.key):
        if k not in names:
            yield ("outputs", "key", j), _suggest(k, names, "outcome")
    for name in s.outputs.thresholds:  # NaN/inf are refused by the schema itself
        if name not in cat:
            yield ("outputs", "thresholds", name), _suggest(name, names, "outcome")
        elif cat[name].direction == "none":
            yield ("outputs", "thresholds", name), "this outcome has no better direction, so no threshold"
    yield from _objectives_known(s, cat)


def _objectives_known(s: Scenario, cat: dict[str, Any]) -> Found:
    """``outputs.objectives`` weights and constraints name outcomes that have a better direction."""
    obj = s.outputs.objectives
    if obj is None:
        return
    names = list(cat)
    for part, table in (("weights", obj.weights), ("constraints", obj.constraints)):
        for name in table:
            if name not in cat:
                yield ("outputs", "objectives", part, name), _suggest(name, names, "outcome")
            elif cat[name].direction == "none":
                yield (("outputs", "objectives", part, name),
                       "this outcome has no better direction, so it cannot be weighed or capped")
    if not obj.weights and not obj.constraints:
        yield ("outputs", "objectives"), "give weights (an objective), constraints (caps), or both"



def contact_responses(s: Scenario) -> Found:
    """The pause section and recorded responses to contacts."""
    pause = s.attacker.pause
    if pause is not None:
        base = ("attacker", "pause")
        yield from _support(pause.probability, 0, 1, (*base, "probability"), "probability")
        yield from _support(pause.lag_days, 0, None, (*base, "lag_days"), "lag")
        yield from _support(pause.duration_days, 0, None, (*base, "duration_days"), "duration")
        top = s.attacker.surge.probability.support()[1] + pause.probability.support()[1]
        if s.attacker.surge.enabled and pause.enabled and top > 1 + 1e-12:
            yield ((*base, "probability"), f"surge and pause probabilities can sum to {top:g}; they share one "
                   "draw per contact and must not exceed 1 together")
    for i, contact in enumerate(s.contacts.scheduled):
        r = contact.response
        if r is not None and r.kind == "pause" and r.pause_days is None and pause is None:
            yield (("contacts", "scheduled", i, "response"), "a recorded pause needs pause_days "
                   "(or an attacker.pause section to take its duration from)")


CHECKS: list[Callable[[Scenario], Found]] = [
    unique_names, classes_complete, distribution_supports, contact_responses, layers_consistent,
    dates_in_horizon, levels_consistent, outcomes_known, within_budget,
]
"""The checks, in the order their problems are listed (the loader then sorts by line)."""


def _suggest(name: str, known: list[str], what: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {name!r}{hint}"
