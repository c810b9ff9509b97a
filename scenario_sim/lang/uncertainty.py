"""Uncertain inputs (``uncertainties:``) and adversary worlds (``worlds:``), for ``scenario-sim explore``.

Design notes.

*One patch mechanism.*  A world is a named patch over the baseline document, exactly like a
recommendation set (``changes`` and ``scale`` by dotted path, list items by name), and an
uncertain input is a one-edit patch whose value is sampled per case.  A case's scenario
under set *S* in world *W* is built in this order::

    baseline document -> world W's patch -> the case's sampled inputs -> set S's patch

so a set acts on the world as the case describes it: ``expose_smokescreen`` scales whatever
surge probability the case drew, and a set that *sets* a field an input varies (a policy
choosing a delivery interval) overrides it.

*Validation as precise as the rest of the language.*  A path is walked through the schema
and the document (a key the language does not know, or a list item that does not exist,
is an error with a "did you mean"); its field must hold a number (a distribution field takes the
sampled number as a fixed value, so ``attacker.surge.lag_days`` can be one lag per case;
only numbers can be scaled); and every end of the range (each
value of a discrete list; for ``scale``, the factor times the baseline value) is written
into the document *with the mark of the range* and validated, so a range outside the
field's bounds is reported at the line of the range, through the same messages as any
other mistake.  The ends of all inputs are checked together (all lows, then all highs) in
every world, and one by one only when that fails, which keeps loading fast.

*Where an input applies.*  An input whose path is absent from a world's document (the pause
probability in a world without pauses) does not apply in that world; one that applies in
no world is an error.  :func:`applies` says which.

*Sampling* lives in :mod:`scenario_sim.experiment.ensemble`; this module only maps a unit
coordinate ``u`` in [0, 1) to a value with the range's inverse CDF (:func:`ppf`, via
``scipy.stats``), one input per column, so changing one input's range changes no other
input's values.
"""

from __future__ import annotations

import copy
import functools
import math
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from scenario_sim.errors import Problem, ScenarioError
from scenario_sim.lang.patch import Edit, PatchError, _child_type, _unwrap, apply_edit
from scenario_sim.lang.schema import (
    DiscreteRange,
    LogUniformRange,
    Scenario,
    TriangularRange,
    Uncertainty,
    UniformRange,
)
from scenario_sim.lang.yamlsource import Mark, SourceList, SourceMap

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

DEFAULT_WORLD = "as_written"
"""The one world of a scenario without ``worlds:``: the baseline as the file writes it."""

FORBIDDEN = ("recommendations", "name", "uncertainties", "worlds")
"""Top-level sections a world or an uncertain input may not patch."""


# --------------------------------------------------------------------------- sampling


def ppf(r: UniformRange | TriangularRange | LogUniformRange | DiscreteRange, u: FloatArray) -> FloatArray:
    """Values of range ``r`` at unit coordinates ``u`` (its inverse CDF)."""
    from scipy import stats

    u = np.asarray(u, dtype=float)
    if isinstance(r, UniformRange):
        return np.asarray(stats.uniform(loc=r.low, scale=r.high - r.low).ppf(u), dtype=float)
    if isinstance(r, TriangularRange):
        width = r.high - r.low
        if width == 0:
            return np.full(u.shape, r.low)
        return np.asarray(stats.triang(c=(r.mode - r.low) / width, loc=r.low, scale=width).ppf(u), dtype=float)
    if isinstance(r, LogUniformRange):
        if r.high == r.low:
            return np.full(u.shape, r.low)
        return np.asarray(stats.loguniform(r.low, r.high).ppf(u), dtype=float)
    values = np.asarray(r.values, dtype=float)
    idx = np.minimum(np.floor(u * len(values)).astype(np.int64), len(values) - 1)
    return values[idx]


# --------------------------------------------------------------------------- documents


def _named_item(lst: list[Any], part: str) -> Any:
    for item in lst:
        if isinstance(item, dict) and item.get("name") == part:
            return item
    if part.isdigit() and int(part) < len(lst):
        return lst[int(part)]
    return None


def lookup(doc: Any, path: str) -> Any:
    """The value at dotted ``path`` in a document (list items by name), or None if absent."""
    node = doc
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list):
            node = _named_item(node, part)
        else:
            return None
        if node is None:
            return None
    return node


def _leaf(path: str) -> tuple[bool, Any]:
    """(path known to the schema, structural type of its leaf)."""
    tp: Any = Scenario
    for part in path.split("."):
        ok, tp, _ = _child_type(tp, part)
        if not ok:
            return False, None
    return True, _unwrap(tp)


@functools.lru_cache(maxsize=1024)
def is_integer_field(path: str) -> bool:
    """Whether the field at ``path`` holds a whole number (sampled values are rounded)."""
    _, tp = _leaf(path)
    return tp is int


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _edit(u: Uncertainty, value: float, mark: Mark | None, base_value: Any) -> Edit:
    """The edit that puts ``value`` (a factor, for scale inputs) into the document."""
    v = value * float(base_value) if u.scale else value
    if is_integer_field(u.path):
        v = round(v)
    return Edit("set", u.path, v, mark)


def apply_values(doc: SourceMap, inputs: list[Uncertainty], values: list[float]) -> SourceMap:
    """A copy of ``doc`` with every applicable input set to its value (NaN: not applied)."""
    out = copy.deepcopy(doc)
    for u, v in zip(inputs, values, strict=True):
        if math.isnan(v):
            continue
        base = lookup(out, u.path)
        if base is None:
            continue
        apply_edit(out, _edit(u, v, None, base), Scenario, forbidden=FORBIDDEN)
    return out


def world_names(s: Scenario) -> list[str]:
    """The worlds of a scenario, in file order (:data:`DEFAULT_WORLD` when it declares none)."""
    return [w.name for w in s.worlds] or [DEFAULT_WORLD]


def world_weights(s: Scenario) -> dict[str, float]:
    """Normalised weights of the worlds."""
    if not s.worlds:
        return {DEFAULT_WORLD: 1.0}
    total = sum(w.weight for w in s.worlds)
    return {w.name: (w.weight / total if total > 0 else math.nan) for w in s.worlds}


def _marks(m: Any, key: str) -> Mark | None:
    return m.marks.get(key) if isinstance(m, SourceMap) else None


def world_document(doc: SourceMap, name: str, file: str) -> SourceMap:
    """The baseline document with world ``name``'s patch applied (raises ScenarioError, located)."""
    if name == DEFAULT_WORLD and not doc.get("worlds"):
        return doc
    worlds = doc.get("worlds") or []
    spec = next((w for w in worlds if isinstance(w, dict) and w.get("name") == name), None)
    if spec is None:
        raise ScenarioError([Problem(file, None, None, "worlds", f"unknown world {name!r}")])
    out = copy.deepcopy(doc)
    problems: list[Problem] = []
    for op, key in (("set", "changes"), ("scale", "scale")):
        edits = spec.get(key) or {}
        for path, value in edits.items():
            mark = _marks(edits, path)
            try:
                apply_edit(out, Edit(op, path, value, mark), Scenario, forbidden=FORBIDDEN)  # type: ignore[arg-type]
            except PatchError as pe:
                m = pe.mark
                problems.append(Problem(m.file if m else file, m.line if m else None, m.column if m else None,
                                        f"worlds[{name}].{key}.{pe.field}", pe.message))
    if problems:
        raise ScenarioError(problems)
    return out


# --------------------------------------------------------------------------- checking


@dataclass
class _Input:
    index: int
    spec: Uncertainty
    where: str
    node: Any  # the document mapping of this uncertainty (for marks)


def _loc_mark(node: Any, *keys: Any) -> Mark | None:
    mark: Mark | None = getattr(node, "mark", None)
    for k in keys:
        if isinstance(node, SourceMap) and k in node.marks:
            mark = node.marks[k]
            node = node[k]
        elif isinstance(node, SourceList) and isinstance(k, int) and k < len(node):
            mark = node.marks[k] or mark
            node = node[k]
        else:
            break
    return mark


def _problem(file: str, mark: Mark | None, field: str, message: str) -> Problem:
    if mark is None:
        return Problem(file, None, None, field, message)
    return Problem(mark.file, mark.line, mark.column, field, message)


def _check_path(inp: _Input, docs: dict[str, SourceMap], scratch: SourceMap, file: str) -> Problem | None:
    """A problem with the input's path, or None (``scratch``: a copy of a document to write into)."""
    u = inp.spec
    mark = _loc_mark(inp.node, "path")
    field = f"{inp.where}.path"
    parts = u.path.split(".")
    if not u.path or any(p == "" for p in parts):
        return _problem(file, mark, field, "malformed path (expected names separated by dots)")
    if parts[0] in FORBIDDEN:
        return _problem(file, mark, field, f"'{parts[0]}' cannot be an uncertain input")
    try:  # the schema and the document's names, with a "did you mean"
        apply_edit(scratch, Edit("set", u.path, 0.0, mark), Scenario, forbidden=FORBIDDEN)
    except PatchError as pe:
        return _problem(file, mark, field, pe.message)
    present = [v for v in (lookup(d, u.path) for d in docs.values()) if v is not None]
    if not present:
        return _problem(file, mark, field, f"{u.path} is not set in the baseline or any world, so there is "
                        "nothing to vary")
    message = _type_message(u, present)
    return None if message is None else _problem(file, mark, field, message)


def _type_message(u: Uncertainty, present: list[Any]) -> str | None:
    """Why the field at an input's path cannot take a sampled number, or None."""
    known, tp = _leaf(u.path)
    if isinstance(tp, tuple):  # a distribution: the sampled number becomes a fixed value
        if u.scale and not all(_number(v) for v in present):
            names = sorted({(f.alias or n) for m in tp for n, f in m.model_fields.items()} - {"dist"})
            return (f"{u.path} is a distribution, so it cannot be scaled; scale one of its parameters instead "
                    f"({', '.join(u.path + '.' + n for n in names[:3])}, ...)")
        return None
    if not known or tp not in (int, float) or (isinstance(tp, type) and issubclass(tp, (bool, BaseModel))):
        kind = getattr(tp, "__name__", None) or str(typing.get_origin(tp) or tp)
        return f"{u.path} is not a number (it is {kind}); only numbers can be uncertain inputs"
    if u.scale and not all(_number(v) for v in present):
        return f"{u.path} is not set to a number, so it cannot be scaled"
    return None


def _range_marks(inp: _Input) -> list[tuple[float, Mark | None, str]]:
    """(value, mark, label) of every end of an input's range."""
    r = inp.spec.range
    if isinstance(r, DiscreteRange):
        return [(v, _loc_mark(inp.node, "range", "values", j), f"values[{j}] = {v:g}") for j, v in enumerate(r.values)]
    return [(r.low, _loc_mark(inp.node, "range", "low"), f"low = {r.low:g}"),
            (r.high, _loc_mark(inp.node, "range", "high"), f"high = {r.high:g}")]


def _over_budget(p: Problem) -> bool:
    """A work-budget problem (:mod:`scenario_sim.lang.budget`), not a field's bounds.

    The budget depends on the horizon and on every input together, so a range end that goes
    over it is not a mistake in the range: ``explore`` records such a case's rows with the
    budget error instead, and ``run`` (which ignores the ranges) is not blocked by them.
    """
    return "over the budget of" in p.message or "over the largest wave" in p.message


def _ends_problems(inputs: list[_Input], docs: dict[str, SourceMap], file: str) -> list[Problem]:
    from scenario_sim.lang.loader import validate_document

    ends = {i.index: _range_marks(i) for i in inputs}

    def trial(doc: SourceMap, chosen: list[tuple[_Input, float, Mark | None]]) -> list[Problem]:
        out = copy.deepcopy(doc)
        for inp, v, mark in chosen:
            base = lookup(out, inp.spec.path)
            if base is not None:
                apply_edit(out, _edit(inp.spec, v, mark, base), Scenario, forbidden=FORBIDDEN)
        try:
            validate_document(out, file)
        except ScenarioError as exc:
            return [p for p in exc.problems if not _over_budget(p)]
        return []

    problems: list[Problem] = []
    for wname, doc in docs.items():
        lows = [(i, min(ends[i.index])[0], min(ends[i.index])[1]) for i in inputs]
        highs = [(i, max(ends[i.index])[0], max(ends[i.index])[1]) for i in inputs]
        if not trial(doc, lows) and not trial(doc, highs):
            continue
        for inp in inputs:
            for value, mark, label in ends[inp.index]:
                for p in trial(doc, [(inp, value, mark)]):
                    where = "" if wname == DEFAULT_WORLD else f" in world {wname}"
                    problems.append(Problem(p.file, p.line, p.column, f"{inp.where}.range",
                                            f"{label} puts {p.field or inp.spec.path} outside its bounds{where}: "
                                            f"{p.message}"))
        if problems:
            break
    return list(dict.fromkeys(problems))


def _world_problems(doc: SourceMap, scenario: Scenario, file: str) -> tuple[list[Problem], dict[str, SourceMap]]:
    """Problems of the ``worlds:`` section, and each valid world's document."""
    from scenario_sim.lang.loader import validate_document

    problems: list[Problem] = []
    wnodes = doc.get("worlds") or []
    seen: set[str] = set()
    for j, w in enumerate(scenario.worlds):
        if w.name in seen:
            problems.append(_problem(file, _loc_mark(wnodes[j], "name"), f"worlds[{w.name}].name",
                                     f"duplicate world {w.name!r}"))
        seen.add(w.name)
    if scenario.worlds and sum(w.weight for w in scenario.worlds) <= 0:
        problems.append(_problem(file, _loc_mark(doc, "worlds"), "worlds", "weights must not all be zero"))
    docs: dict[str, SourceMap] = {}
    for name in world_names(scenario):
        try:
            wdoc = world_document(doc, name, file)
            validate_document(wdoc, file)
        except ScenarioError as exc:
            problems += [p if p.field.startswith("worlds") else
                         Problem(p.file, p.line, p.column, f"worlds[{name}] -> {p.field}", p.message)
                         for p in exc.problems]
            continue
        docs[name] = wdoc
    return problems, docs


def _order_problem(inp: _Input, file: str) -> Problem | None:
    r = inp.spec.range
    if isinstance(r, (UniformRange, LogUniformRange)) and r.high < r.low:
        return _problem(file, _loc_mark(inp.node, "range", "high"), f"{inp.where}.range.high",
                        f"must be >= low ({r.low:g})")
    if isinstance(r, TriangularRange) and not (r.low <= r.mode <= r.high):
        return _problem(file, _loc_mark(inp.node, "range"), f"{inp.where}.range",
                        f"need low <= mode <= high (got {r.low:g}, {r.mode:g}, {r.high:g})")
    return None


def check_ensemble(doc: SourceMap, scenario: Scenario, file: str) -> list[Problem]:
    """Every problem in a scenario's ``worlds:`` and ``uncertainties:`` (empty if none)."""
    if not scenario.worlds and not scenario.uncertainties:
        return []
    problems, docs = _world_problems(doc, scenario, file)
    if problems:
        return problems
    unodes = doc.get("uncertainties") or []
    inputs = [_Input(j, u, f"uncertainties[{u.name}]", unodes[j]) for j, u in enumerate(scenario.uncertainties)]
    seen: set[str] = set()
    first = next(iter(docs.values()))
    scratch = copy.deepcopy(first)
    for inp in inputs:
        if inp.spec.name in seen:
            problems.append(_problem(file, _loc_mark(inp.node, "name"), f"{inp.where}.name",
                                     f"duplicate uncertainty {inp.spec.name!r}"))
        seen.add(inp.spec.name)
        path_problem = _check_path(inp, docs, scratch, file)
        if path_problem is not None:
            # a bad path may have written its 0.0 over a whole section (a path that stops at a
            # mapping): start the next input from a clean copy, or it reports that section as
            # "a single value" too, a second error the analyst did not make
            scratch = copy.deepcopy(first)
        problems += [p for p in (path_problem, _order_problem(inp, file)) if p is not None]
    if problems:
        return problems
    return _ends_problems(inputs, docs, file)


def applies(doc: SourceMap, scenario: Scenario, file: str) -> dict[str, list[bool]]:
    """Per world: for each input, whether its path is set in that world's document."""
    return {w: [lookup(world_document(doc, w, file), u.path) is not None for u in scenario.uncertainties]
            for w in world_names(scenario)}
