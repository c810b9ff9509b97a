"""A case's scenarios, every set, at one world: validated once per world, patched per case.

``scenario-sim explore`` needs, for every (case, world) point, the validated scenario of every
recommendation set with the case's sampled inputs in place.  The defining construction (the
*full path*, :meth:`CaseBuilder.full`) is::

    world document -> the case's inputs (apply_values) -> each set's patch -> validate the document

which validates every set's whole document in every case (the pydantic pass, the coercion walk
and the cross-checks: most of a point's build).  The *fast path* gives the same scenarios from
the sets validated once at the world's own values, by re-validating only what a case changes.

Why it is the same.  The inputs only put numbers at their (existing) leaves.  A set's patch
then acts on those leaves only through its edits *at exactly that path*: a ``scale`` multiplies
the case's number (:func:`~scenario_sim.lang.patch._scaled`, the same function, rounding and
finiteness check included) and a ``set`` of a plain value replaces it whatever it was.  So the
case's document of set *S* is the world's document of *S* with, at each input's leaf, the
number that folding *S*'s edits over the case's value gives, and nothing else changes.  The
validated scenario is then the world's validated *S* with each of those leaves assigned through
pydantic's own ``validate_assignment`` on the model that holds it (the field's own schema: its
bounds, its coercion of a number into a fixed distribution, the model's after-validators), and
each model on the way up re-assigned its new child (an instance passes through unchanged; the
parent's own validators run), then the cross-checks (the work budget depends on the inputs) on
the whole.  The coercion walk needs no re-run: it reports only booleans and texts of the raw
document read as numbers, and those leaves, and the values they validate to, are the world's.

When that argument does not cover a case the builder takes the full path, so every error is
the full path's, located: a set's edit on a path that contains, or lies under, an input's path
(a ``set`` of a mapping merges, a ``set`` under a number fails); two inputs on the same or
nested paths; a world whose own set documents do not validate; and, per case, anything the
fast path raises (a value out of a field's bounds, a cross-check or the budget failing).
``tests/test_cases.py`` checks both paths give equal scenarios and compiled models for sampled
cases in every world of the reference and on planted edge cases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from scenario_sim.lang.checks import BASELINE, cross_check
from scenario_sim.lang.loader import (
    SetResolver,
    _set_edits,
    validate_document,
    validated_set,
    validated_set_document,
    with_set_costs,
)
from scenario_sim.lang.patch import Edit, _find_named, _scaled
from scenario_sim.lang.schema import Scenario, Uncertainty
from scenario_sim.lang.uncertainty import _edit, apply_values, lookup
from scenario_sim.lang.yamlsource import SourceMap

Step = tuple[str, Any]
"""One step in a validated scenario: ("attr", field name), ("key", mapping key) or ("index", i)."""


class _NoFastPath(Exception):
    """The fast path does not cover this world or this case: take the full path."""


@dataclass
class _Leaf:
    value: Any


@dataclass
class _SetPlan:
    scenario: Scenario            # the set's validated document at the world's own values
    order: list[str]              # the sets applied (for the costs in force)
    steps: dict[int, tuple[Step, ...]]   # input -> its leaf in ``scenario``
    ops: dict[int, list[Edit]]    # input -> the set's edits at exactly its path, in order


def _canonical(doc: Any, path: str) -> tuple[Any, ...]:
    """A dotted path as the patch walk resolves it in ``doc``: list items by index."""
    out: list[Any] = []
    node: Any = doc
    for part in path.split("."):
        if isinstance(node, list):
            idx = _find_named(node, part)
            if idx is None:
                raise _NoFastPath(path)
            out.append(idx)
            node = node[idx]
        else:
            out.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return tuple(out)


def _steps(scenario: Scenario, canonical: tuple[Any, ...]) -> tuple[Step, ...]:
    """The steps through the validated scenario to an input's leaf (its document path)."""
    node: Any = scenario
    steps: list[Step] = []
    for part in canonical:
        if isinstance(node, BaseModel):
            names = {(f.alias or n): n for n, f in type(node).model_fields.items()}
            if part not in names:
                raise _NoFastPath(canonical)
            steps.append(("attr", names[part]))
            node = getattr(node, names[part])
        elif isinstance(node, dict) and part in node:
            steps.append(("key", part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            steps.append(("index", part))
            node = node[part]
        else:
            raise _NoFastPath(canonical)
    return tuple(steps)


def _fold(value: Any, ops: list[Edit]) -> Any:
    """The input's number after the set's edits at its path (as the patch applies them)."""
    for e in ops:
        value = _scaled(value, e) if e.op == "scale" else e.value
    return value


def _rebuild(node: Any, trie: dict[Step, Any]) -> Any:
    """A copy of ``node`` with the trie's leaves assigned, validated the way pydantic validates them."""
    if isinstance(node, BaseModel):
        new = node.model_copy()
        for (kind, key), sub in trie.items():
            if kind != "attr":
                raise _NoFastPath(key)
            val = sub.value if isinstance(sub, _Leaf) else _rebuild(getattr(node, key), sub)
            type(node).__pydantic_validator__.validate_assignment(new, key, val)
        return new
    if isinstance(node, (dict, list)):  # validated when the model holding it is assigned
        out: Any = dict(node) if isinstance(node, dict) else list(node)
        for (_, key), sub in trie.items():
            out[key] = sub.value if isinstance(sub, _Leaf) else _rebuild(node[key], sub)
        return out
    raise _NoFastPath(type(node).__name__)


class CaseBuilder:
    """The validated scenario of every set at one world, for any case's input values.

    ``build(values)`` equals :meth:`full` (the scenarios, or the located ScenarioError it
    raises); ``fast`` counts the builds the fast path served (tests and benchmarks read it).
    """

    def __init__(self, world_doc: SourceMap, file: str, set_names: list[str], inputs: list[Uncertainty],
                 applicable: list[bool]):
        self.doc = world_doc
        self.file = file
        self.set_names = set_names
        self.inputs = inputs
        self.applicable = applicable
        self.fast = 0
        self._plans: dict[str, _SetPlan] | None = None
        self._prepared = False
        self._base_values: dict[int, Any] = {}
        self._recs: list[Any] = []

    # ------------------------------------------------------------------ the definition

    def full(self, values: list[float]) -> dict[str, Scenario]:
        """The defining construction: patch the documents, validate every set's document."""
        doc = apply_values(self.doc, self.inputs, values)
        resolver = SetResolver(doc, self.file)
        base = validate_document(doc, self.file)
        # the sets carry the baseline's list of sets, so that their costs are in force
        return {name: base if name == BASELINE else validated_set(resolver, name, base.recommendations)
                for name in self.set_names}

    # ------------------------------------------------------------------ the fast path

    def build(self, values: list[float]) -> dict[str, Scenario]:
        if not self._prepared:
            self._prepared = True
            try:
                self._plans = self._prepare()
            except Exception:  # a world the fast path does not cover: the full path
                self._plans = None
        if self._plans is not None:
            try:
                out = self._fast(self._plans, values)
            except Exception:  # the full path raises (or not) what it raises
                return self.full(values)
            self.fast += 1
            return out
        return self.full(values)

    def _applied(self) -> list[int]:
        return [j for j, ok in enumerate(self.applicable) if ok]

    def _prepare(self) -> dict[str, _SetPlan]:
        applied = self._applied()
        paths = {j: _canonical(self.doc, self.inputs[j].path) for j in applied}
        for j, a in paths.items():
            for k, b in paths.items():
                if j != k and a[:len(b)] == b:
                    raise _NoFastPath("inputs on the same or nested paths")
            self._base_values[j] = lookup(self.doc, self.inputs[j].path)
        resolver = SetResolver(self.doc, self.file)
        base = validate_document(self.doc, self.file)
        self._recs = base.recommendations
        plans: dict[str, _SetPlan] = {}
        for name in self.set_names:
            order: list[str] = []
            edits: list[Edit] = []
            scen = base
            if name != BASELINE:
                scen, order = validated_set_document(resolver, name)
                edits = [e for n in order for e in _set_edits(resolver.index[n][1])]
            ops: dict[int, list[Edit]] = {j: [] for j in applied}
            for e in edits:
                at = _canonical(self.doc, e.path)
                for j, p in paths.items():
                    if at == p and (e.op == "scale" or not isinstance(e.value, (dict, list))):
                        ops[j].append(e)
                    elif at[:len(p)] == p or p[:len(at)] == at:
                        raise _NoFastPath(f"set {name} edits {e.path}, on the path of input {self.inputs[j].name}")
            plans[name] = _SetPlan(scen, order, {j: _steps(scen, p) for j, p in paths.items()}, ops)
        return plans

    def _fast(self, plans: dict[str, _SetPlan], values: list[float]) -> dict[str, Scenario]:
        raw: dict[int, Any] = {}
        for j in self._applied():
            v = values[j]
            if not math.isnan(v):
                raw[j] = _edit(self.inputs[j], v, None, self._base_values[j]).value
        out: dict[str, Scenario] = {}
        for name in self.set_names:
            plan = plans[name]
            trie: dict[Step, Any] = {}
            for j, v in raw.items():
                node = trie
                steps = plan.steps[j]
                for s in steps[:-1]:
                    node = node.setdefault(s, {})
                node[steps[-1]] = _Leaf(_fold(v, plan.ops[j]))
            scen = _rebuild(plan.scenario, trie) if trie else plan.scenario
            if cross_check(scen):
                raise _NoFastPath("a cross-check fails: the full path locates it")
            # the inputs never touch the list of sets: the case's baseline has the world's
            out[name] = scen if name == BASELINE else with_set_costs(scen, self._recs, plan.order)
        return out
