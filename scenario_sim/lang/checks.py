"""Cross-reference checks pydantic cannot express field by field.

Each check yields ``(path, message)`` where ``path`` is the tuple location in the scenario
document (list items by index), so the loader can map it to the line it was written on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


def cross_check(s: Scenario) -> list[tuple[Path, str]]:
    """Every cross-reference problem in a structurally valid scenario."""
    out: list[tuple[Path, str]] = []
    classes = s.class_names
    out += _dupes(classes, ("munitions",))
    out += _dupes(s.system_names, ("air_defense", "systems"))
    out += _dupes([lv.name for lv in s.sanctions.levers], ("sanctions", "levers"))
    out += _dupes([r.name for r in s.recommendations], ("recommendations",))

    # Every class needs an arsenal and a hit probability; no unknown class anywhere.
    for c in classes:
        if c not in s.attacker.arsenal:
            out.append((("attacker", "arsenal"), f"missing arsenal for munition class {c!r}"))
        if c not in s.consequences.hit_probability:
            out.append((("consequences", "hit_probability"), f"missing hit probability for class {c!r}"))
    for c in s.attacker.arsenal:
        if c not in classes:
            out.append((("attacker", "arsenal", c), _unknown(c, classes, "munition class")))
    for c, cw in s.attacker.waves.classes.items():
        if c not in classes:
            out.append((("attacker", "waves", "classes", c), _unknown(c, classes, "munition class")))
        out += _support(cw.size, 0, None, ("attacker", "waves", "classes", c, "size"), "wave size")
    for c in s.consequences.hit_probability:
        if c not in classes:
            out.append((("consequences", "hit_probability", c), _unknown(c, classes, "munition class")))

    surge = s.attacker.surge
    out += _support(surge.probability, 0, 1, ("attacker", "surge", "probability"), "probability")
    out += _support(surge.lag_days, 0, None, ("attacker", "surge", "lag_days"), "lag")
    out += _support(surge.size_multiplier, 0, None, ("attacker", "surge", "size_multiplier"), "multiplier")
    out += _support(s.consequences.harm_per_civilian_hit, 0, None,
                    ("consequences", "harm_per_civilian_hit"), "harm")
    e = s.consequences.energy
    if e.initial < e.floor:
        out.append((("consequences", "energy", "initial"), f"must be >= floor ({e.floor:g})"))

    for i, sys in enumerate(s.air_defense.systems):
        base = ("air_defense", "systems", i)
        for j, c in enumerate(sys.engages):
            if c not in classes:
                out.append(((*base, "engages", j), _unknown(c, classes, "munition class")))
            elif c not in sys.pk:
                out.append(((*base, "pk"), f"missing kill probability for engaged class {c!r}"))
        if len(set(sys.engages)) != len(sys.engages):
            out.append(((*base, "engages"), "a class is listed twice"))
        for c in sys.pk:
            if c not in sys.engages:
                out.append(((*base, "pk", c), f"class {c!r} has a kill probability but is not in engages"))
        for c in sys.coverage:
            if c not in sys.engages:
                out.append(((*base, "coverage", c), f"class {c!r} has a coverage but is not in engages"))
        if sys.interceptors and sys.interceptors.resupply:
            r = sys.interceptors.resupply
            out += _support(r.lead_time_days, 0, None, (*base, "interceptors", "resupply", "lead_time_days"),
                            "lead time")
            if s.day_of(r.first) < 0:
                out.append(((*base, "interceptors", "resupply", "first"), "is before start_date"))
        d = sys.doctrine
        if d.reduced_shots_per_target > d.shots_per_target:
            out.append(((*base, "doctrine", "reduced_shots_per_target"),
                        f"must be <= shots_per_target ({d.shots_per_target})"))

    for i, contact in enumerate(s.contacts.scheduled):
        if s.day_of(contact.date) < 0:
            out.append((("contacts", "scheduled", i, "date"), f"is before start_date ({s.start_date})"))
    if s.contacts.stochastic is not None and s.day_of(s.contacts.stochastic.start) < 0:
        out.append((("contacts", "stochastic", "start"), "is before start_date"))
    for i, lv in enumerate(s.sanctions.levers):
        for c in lv.production_effect:
            if c not in classes:
                out.append((("sanctions", "levers", i, "production_effect", c), _unknown(c, classes, "munition class")))
        if s.day_of(lv.start) < 0:
            out.append((("sanctions", "levers", i, "start"), "is before start_date"))

    t = s.attacker.targets
    if t.energy + t.civilian + t.military <= 0:
        out.append((("attacker", "targets"), "weights must not all be zero"))

    names = [o.name for o in catalogue(classes, s.system_names, s.stocked_system_names)]
    if s.outputs.primary not in names:
        out.append((("outputs", "primary"), _suggest(s.outputs.primary, names, "outcome")))
    for j, k in enumerate(s.outputs.key):
        if k not in names:
            out.append((("outputs", "key", j), _suggest(k, names, "outcome")))
    return out


def _suggest(name: str, known: list[str], what: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {name!r}{hint}"
