"""Bundles of recommendation sets for ``scenario-sim frontier`` (issue 12.2).

The bundle of items ``a, b`` is the set ``{include: [a, b]}`` (see
:mod:`scenario_sim.analysis.frontier` for the rule).  This module checks ``--items`` against
the scenario's sets (did-you-mean), refuses items whose patches conflict (the same path edited
differently by two items: the bundle would depend on their order), and returns the scenario
with one extra set per subset of two or more items, ready to run as an ordinary experiment.
"""

from __future__ import annotations

import copy
from typing import Any

from scenario_sim.errors import Problem, ScenarioError, UserError
from scenario_sim.lang.loader import LoadedScenario, SetResolver, _load, _set_edits
from scenario_sim.lang.yamlsource import SourceList, SourceMap
from scenario_sim.text import did_you_mean


def check_items(loaded: LoadedScenario, items: list[str], max_items: int) -> None:
    """``--items`` names distinct sets of the scenario, at least two and at most ``max_items``."""
    known = loaded.set_names[1:]
    for name in items:
        if name not in known:
            raise UserError(f"--items: unknown recommendation set {name!r}{did_you_mean(name, known)} "
                            f"(known: {', '.join(known)})")
    dup = sorted({n for n in items if items.count(n) > 1})
    if dup:
        raise UserError(f"--items: {', '.join(dup)} named more than once")
    if len(items) < 2:
        raise UserError("--items: name at least two sets (a frontier of one set is that set against the baseline)")
    if len(items) > max_items:
        raise UserError(f"--items: {len(items)} sets make {2 ** len(items)} bundles; at most {max_items} "
                        f"({2 ** max_items} bundles) in one frontier")


def _edits_of(resolver: SetResolver, name: str) -> dict[str, tuple[str, str, Any, Any]]:
    """Path -> (set that edits it, op, value, mark) over ``name`` and every set it includes."""
    out: dict[str, tuple[str, str, Any, Any]] = {}
    for n in resolver.resolve(name).order:
        _, rec = resolver.index[n]
        for e in _set_edits(rec):
            out[e.path] = (n, e.op, e.value, e.mark)
    return out


def conflicts(loaded: LoadedScenario, items: list[str]) -> list[Problem]:
    """Problems for every pair of items that edit one path differently (shared includes are fine)."""
    resolver = SetResolver(loaded.document, loaded.path)
    edits = {i: _edits_of(resolver, i) for i in items}
    problems = []
    for j, b in enumerate(items):
        for a in items[:j]:
            for path, (src_b, op_b, val_b, mark_b) in edits[b].items():
                if path not in edits[a]:
                    continue
                src_a, op_a, val_a, mark_a = edits[a][path]
                if src_a == src_b or (op_a == op_b == "set" and val_a == val_b):
                    continue
                where = f"line {mark_a.line}" if mark_a is not None else "its patch"
                m = mark_b
                problems.append(Problem(m.file if m else loaded.path, m.line if m else None,
                                        m.column if m else None,
                                        f"recommendations[{src_b}].{'changes' if op_b == 'set' else 'scale'}.{path}",
                                        f"--items {a} and {b} both edit this path ({src_a} at {where}); a bundle of "
                                        "both would depend on their order: leave one out or make them agree"))
    return problems


def bundle_scenario(loaded: LoadedScenario, items: list[str]) -> tuple[LoadedScenario, dict[str, list[str]]]:
    """The scenario with a set per subset of two or more ``items``, and each bundle's members.

    Members are keyed by set name: ``baseline`` (no item), each item, and ``a__b...``.
    """
    from scenario_sim.analysis.frontier import bundle_name, subsets

    problems = conflicts(loaded, items)
    if problems:
        raise ScenarioError(problems)
    doc = copy.deepcopy(loaded.document)
    recs = doc.get("recommendations")
    recs = recs if isinstance(recs, list) else SourceList()
    known = set(loaded.set_names)
    members: dict[str, list[str]] = {}
    for sub in subsets(items):
        name = bundle_name(sub)
        members[name] = sub
        if len(sub) < 2:
            continue
        if name in known:
            raise UserError(f"--items: the bundle name {name!r} is already a set of the scenario")
        recs.append(SourceMap({"name": name, "description": "bundle: " + " + ".join(sub), "include": list(sub)}))
        if isinstance(recs, SourceList):
            recs.marks.append(None)
    doc["recommendations"] = recs
    return _load(doc, loaded.path, validate_sets=False), members


PLACEBO_SUFFIX = "_placebo"


def contact_rules(loaded: LoadedScenario, name: str) -> list[str]:
    """The contact-triggered rules (model.placebo.RULES) that set ``name`` switches on."""
    from scenario_sim.model.placebo import RULES

    def on(s: Any, path: str) -> bool:
        node = s
        for part in path.split("."):
            node = getattr(node, part)
        return bool(node.enabled)

    base, mine = loaded.baseline, loaded.effective(name)
    return [r for r in RULES if on(mine, r) and not on(base, r)]


Twins = dict[str, tuple[str, list[str]]]
"""``{placebo set: (set, [contact rules it fires on placebo days])}``."""


def placebo_scenario(loaded: LoadedScenario, sets: list[str]) -> tuple[LoadedScenario, Twins]:
    """The scenario with a placebo twin ``<set>_placebo`` of every set in ``sets`` that switches
    on a contact rule: the set itself, with each such rule marked ``placebo: true``.

    Returns it with ``{placebo set: (set, [rules])}``; a UserError when no set has such a rule.
    """
    twins: Twins = {}
    for name in sets:
        rules = contact_rules(loaded, name)
        if rules:
            twins[name + PLACEBO_SUFFIX] = (name, rules)
    if not twins:
        raise UserError("--placebo: no set of this run switches on a rule that fires on contacts "
                        "(air_defense.readiness.after_contact, .early_warning, "
                        "consequences.civil_defense.after_contact)")
    known = set(loaded.set_names)
    taken = [t for t in twins if t in known]
    if taken:
        raise UserError(f"--placebo: the scenario already has a set named {taken[0]!r}")
    doc = copy.deepcopy(loaded.document)
    recs = doc.get("recommendations")
    recs = recs if isinstance(recs, list) else SourceList()
    for twin, (name, rules) in twins.items():
        recs.append(SourceMap({"name": twin, "description": f"placebo control of {name}: its contact rules fired on "
                               "as many random non-contact days", "include": [name],
                               "changes": SourceMap({f"{r}.placebo": True for r in rules})}))
        if isinstance(recs, SourceList):
            recs.marks.append(None)
    doc["recommendations"] = recs
    return _load(doc, loaded.path, validate_sets=False), twins
