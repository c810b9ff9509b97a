"""Loading a scenario file: YAML -> ``extends`` -> validation -> recommendation sets.

The loader's job is to turn every mistake into a :class:`~scenario_sim.errors.Problem` that
names the file, line and column where it was written and the field's dotted path, and to
report *all* problems in a file at once.  Pydantic does the structural validation; its error
locations (``('air_defense', 'systems', 2, 'pk', 'ballistic')``) are walked through the
marked YAML document to find the line, and printed with list items named
(``air_defense.systems[patriot].pk.ballistic``).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scenario_sim.errors import Problem, ScenarioError
from scenario_sim.lang.checks import BASELINE, cross_check
from scenario_sim.lang.coercion import coercions
from scenario_sim.lang.patch import Edit, PatchError, apply_edit, deep_merge, did_you_mean, known_keys, variant_keys
from scenario_sim.lang.schema import Scenario, SetCost
from scenario_sim.lang.yamlsource import Mark, SourceList, SourceMap, load_file_as

MAX_EXTENDS_DEPTH = 16


# --------------------------------------------------------------------------- locations


def locate(doc: Any, loc: tuple[Any, ...], file: str) -> tuple[Mark | None, str]:
    """Map a validation location to (mark, display path) through the marked document.

    Elements of ``loc`` that do not exist in the document (pydantic's union tags such as
    ``'negbin'`` or ``'function-after[...]'``) are skipped.
    """
    node: Any = doc
    mark: Mark | None = getattr(doc, "mark", None)
    shown = ""
    for part in loc:
        node, mark, piece = _step(node, part, mark)
        if piece:
            shown += piece if (piece.startswith("[") or not shown) else f".{piece}"
    return mark, shown


def _step(node: Any, part: Any, mark: Mark | None) -> tuple[Any, Mark | None, str]:
    """One step of :func:`locate`: (child node, its mark, how the step is shown)."""
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        item = node[part]
        if isinstance(node, SourceList) and node.marks[part] is not None:
            mark = node.marks[part]
        name = item.get("name") if isinstance(item, dict) else None
        return item, mark, f"[{name}]" if isinstance(name, str) else f"[{part}]"
    if isinstance(node, dict) and str(part) in node:
        key = str(part)
        if isinstance(node, SourceMap) and key in node.marks:
            mark = node.marks[key]
        return node[key], mark, key
    if _is_tag(node, part):
        return node, mark, ""
    # The location names something absent from the document (a missing field): report it
    # at its parent.
    return None, mark, str(part)


def _is_tag(node: Any, part: Any) -> bool:
    """Whether ``part`` is a pydantic union/validator tag rather than a document key."""
    if isinstance(node, dict) and isinstance(part, str) and node.get("dist") == part:
        return True  # discriminator tag of a distribution
    return isinstance(part, str) and (not part.isidentifier() or "[" in part or part in _UNION_TAGS)


_UNION_TAGS = {"fixed", "poisson", "negbin", "uniform", "triangular", "lognormal", "normal", "student_t", "empirical",
               "date", "int", "loguniform", "discrete"}


def _problem(doc: Any, loc: tuple[Any, ...], message: str, file: str) -> Problem:
    mark, shown = locate(doc, loc, file)
    if mark is None:
        return Problem(file, None, None, shown, message)
    return Problem(mark.file, mark.line, mark.column, shown, message)


def _describe(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return ""
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f" (got {text})"


# Pydantic error types -> message templates.  ``{got}`` is " (got <input>)" for scalars;
# other names come from the error's context.
_MESSAGES: dict[str, str] = {
    "missing": "required field is missing",
    "float_parsing": "expected a number{got}", "float_type": "expected a number{got}",
    "int_parsing": "expected a whole number{got}", "int_type": "expected a whole number{got}",
    "int_from_float": "expected a whole number{got}",
    "bool_parsing": "expected true or false{got}", "bool_type": "expected true or false{got}",
    "string_type": "expected text{got}",
    "model_type": "expected a mapping{got}", "model_attributes_type": "expected a mapping{got}",
    "dict_type": "expected a mapping{got}",
    "list_type": "expected a list{got}",
    "greater_than_equal": "must be >= {ge}{got}", "greater_than": "must be > {gt}{got}",
    "less_than_equal": "must be <= {le}{got}", "less_than": "must be < {lt}{got}",
    "finite_number": "expected a finite number (not .nan or .inf){got}",
    "too_long": "has more than {max_length} items",
    "too_short": "needs at least {min_length} item(s)",
    "literal_error": "expected one of {expected}{got}",
    "string_pattern_mismatch": "expected a lower-case name (letters, digits, _; starting with a letter){got}",
    "date_parsing": "expected a date (YYYY-MM-DD){got}", "date_type": "expected a date (YYYY-MM-DD){got}",
    "date_from_datetime_inexact": "expected a date (YYYY-MM-DD){got}",
    "date_from_datetime_parsing": "expected a date (YYYY-MM-DD){got}",
    "union_tag_invalid": "unknown distribution {tag!r}; expected one of {expected_tags}",
    "union_tag_not_found": "a distribution needs a 'dist' field (or write a plain number)",
    "value_error": "{error}{got}",
}


def _message(err: dict[str, Any], doc: Any) -> tuple[tuple[Any, ...], str]:
    """(location, one-line message) for a pydantic error, in the analyst's words."""
    typ = err["type"]
    loc = tuple(err["loc"])
    if typ == "extra_forbidden":
        return loc, _unknown_field(loc)
    ctx = dict(err.get("ctx") or {})
    ctx.setdefault("error", err["msg"])
    template = _MESSAGES.get(typ)
    if template is None:
        msg = err["msg"]
        template = (msg[0].lower() + msg[1:] if msg else typ).replace("{", "{{").replace("}", "}}") + "{got}"
    try:
        return loc, template.format(got=_describe(err.get("input")), **ctx)
    except (KeyError, IndexError):
        return loc, err["msg"]


def _unknown_field(loc: tuple[Any, ...]) -> str:
    """The message for a key the schema forbids at ``loc``, with a "did you mean" when one is
    close.  In a union (a distribution) the hint comes from the member the tag chose: the keys of
    every member would suggest a key back to itself when it belongs to another member
    (``sd`` under ``dist: poisson``), so that case names the chosen member's fields instead."""
    name, path = str(loc[-1]), tuple(p for p in loc[:-1] if p not in _UNION_TAGS)
    known = known_keys(Scenario, path) or []
    tags = [str(p) for p in loc[:-1] if p in _UNION_TAGS]
    variant = variant_keys(Scenario, path, tags[-1]) if tags else None
    if variant is None:
        return "unknown field here" if name in known else f"unknown field{did_you_mean(name, known)}"
    tag_field, keys = variant
    own = [k for k in keys if k != tag_field]
    hint = did_you_mean(name, own)
    if hint:
        return f"unknown field{hint}"
    chosen = f"{tag_field}: {tags[-1]} (its fields: {', '.join(own)})"
    return f"{name} does not apply to {chosen}" if name in known else f"unknown field for {chosen}"


def validate_document(doc: Any, file: str) -> Scenario:
    """Validate a marked document as a Scenario; raise ScenarioError listing every problem."""
    if not isinstance(doc, dict):
        kind = "empty" if doc is None else ("a list" if isinstance(doc, list) else "a single value")
        mark = getattr(doc, "mark", None)
        raise ScenarioError([Problem(file, mark.line if mark else None, mark.column if mark else None, "",
                                     f"a scenario must be a YAML mapping (got {kind})")])
    try:
        scenario = Scenario.model_validate(doc)
    except ValidationError as exc:
        problems = []
        seen = set()
        for err in exc.errors():
            loc, msg = _message(dict(err), doc)
            p = _problem(doc, loc, msg, file)
            if (p.line, p.field, p.message) not in seen:
                seen.add((p.line, p.field, p.message))
                problems.append(p)
        raise ScenarioError(problems) from None
    found = coercions(doc, scenario) or cross_check(scenario)
    problems = [_problem(doc, path, msg, file) for path, msg in found]
    if problems:
        raise ScenarioError(problems)
    return scenario


# --------------------------------------------------------------------------- extends

MAX_EXTENDS_FILES = 64
"""Distinct files one scenario may pull in through ``extends`` (a guard, not a design limit)."""

YAML_SUFFIXES = (".yaml", ".yml")


def _located(mark: Mark | None, file: str, field_: str, message: str) -> ScenarioError:
    if mark is None:
        return ScenarioError([Problem(file, 1, 1, field_, message)])
    return ScenarioError([Problem(mark.file, mark.line, mark.column, field_, message)])


class _Extends:
    """Resolves ``extends`` for one load: each file is read and merged once (memoised by its
    real path), so a diamond or a list that repeats a base costs one read per file, not one
    per path through the graph."""

    def __init__(self) -> None:
        self.memo: dict[str, SourceMap] = {}

    def document(self, path: Path, shown: str, chain: tuple[str, ...]) -> SourceMap:
        real = os.path.realpath(path)
        if real in self.memo:
            return self.memo[real]
        doc = load_file_as(path, shown)
        if not isinstance(doc, SourceMap):
            kind = "an empty file" if doc is None else ("a list" if isinstance(doc, list) else "a single value")
            raise _located(getattr(doc, "mark", None), shown, "", f"a scenario must be a YAML mapping (got {kind})")
        mark = doc.marks.get("extends")
        ext = doc.pop("extends", None)
        if ext is not None:
            merged: Any = SourceMap()
            for base, bshown in self._bases(ext, mark, path, shown):
                breal = os.path.realpath(base)
                if breal in chain or breal == real:
                    raise _located(mark, shown, "extends", f"extends forms a cycle ({bshown} extends this file)")
                if len(chain) >= MAX_EXTENDS_DEPTH:
                    raise _located(mark, shown, "extends", f"extends is nested more than {MAX_EXTENDS_DEPTH} deep")
                merged = deep_merge(merged, self._base(base, bshown, (*chain, real), mark, shown))
            out = deep_merge(merged, doc)
            assert isinstance(out, SourceMap)
            doc = out
        if len(self.memo) >= MAX_EXTENDS_FILES:
            raise _located(mark, shown, "extends", f"extends pulls in more than {MAX_EXTENDS_FILES} files")
        self.memo[real] = doc
        return doc

    def _base(self, base: Path, bshown: str, chain: tuple[str, ...], mark: Mark | None, shown: str) -> SourceMap:
        """A base file's document; a problem with the file itself (not inside it) is
        reported at the ``extends`` line that names it."""
        try:
            return self.document(base, bshown, chain)
        except ScenarioError as exc:
            if all(p.line is None for p in exc.problems):
                raise _located(mark, shown, "extends", "; ".join(f"{p.file}: {p.message}" for p in exc.problems)
                               ) from None
            raise

    @staticmethod
    def _bases(ext: Any, mark: Mark | None, path: Path, shown: str) -> list[tuple[Path, str]]:
        """The files an ``extends`` value names, in order and without repeats."""
        items = ext if isinstance(ext, list) else [ext]
        if not items or not all(isinstance(b, str) and b.strip() for b in items):
            raise _located(mark, shown, "extends", "expected a file path, a bundled scenario name, or a list of them")
        out: dict[str, tuple[Path, str]] = {}
        for b in items:
            target = _extends_target(b, path, mark, shown)
            out.setdefault(os.path.realpath(target), (target, str(target)))
        return list(out.values())


def _extends_target(value: str, path: Path, mark: Mark | None, shown: str) -> Path:
    """The file an ``extends`` entry names: a bundled scenario by name, or a YAML file
    relative to the extending file (anywhere on disk, but only ``.yaml``/``.yml`` files, so
    that no other file's content can ever be read into an error message)."""
    from scenario_sim.bundled import bundled_dir

    if "/" not in value and "\\" not in value and not value.endswith(YAML_SUFFIXES):
        candidate = bundled_dir() / f"{value}.yaml"
        if not candidate.is_file():
            known = sorted(p.stem for p in bundled_dir().glob("*.yaml"))
            raise _located(mark, shown, "extends", f"no bundled scenario named {value!r}"
                           f"{did_you_mean(value, known)} (bundled: {', '.join(known)}; a file needs .yaml)")
        return candidate
    if not value.endswith(YAML_SUFFIXES):
        raise _located(mark, shown, "extends", "extends names a YAML file: the path must end in .yaml or .yml")
    target = path.parent / value
    if not target.exists():
        raise _located(mark, shown, "extends", f"no such file: {target}")
    return target


def read_document(path: str | Path) -> SourceMap:
    """Read a scenario file and resolve its ``extends`` chain into one marked document."""
    return copy.deepcopy(_Extends().document(Path(path), str(path), ()))


# --------------------------------------------------------------------------- sets


def _set_edits(rec: dict[str, Any]) -> list[Edit]:
    edits = []
    for key, op in (("changes", "set"), ("scale", "scale")):
        section = rec.get(key)
        if not isinstance(section, dict):
            continue  # not a mapping: the baseline's validation reports it
        for path, value in section.items():
            m = section.marks.get(path) if isinstance(section, SourceMap) else None
            edits.append(Edit(op, path, value, m))  # type: ignore[arg-type]
    return edits


def _includes(rec: dict[str, Any]) -> list[Any]:
    inc = rec.get("include")
    return inc if isinstance(inc, list) else []


@dataclass
class _Resolved:
    document: SourceMap
    order: list[str]          # the sets applied, in order (each once)


class SetResolver:
    """Resolves recommendation sets over a baseline document, each set once.

    A set's document is memoised with the list of sets applied to make it, so a set that
    includes another starts from a copy of that set's document instead of re-applying its
    whole include tree: a chain of *n* sets costs *n* copies and *n* own patches, not
    *n*\u00b2/2.  The documents carry no ``recommendations`` list (a set cannot change it),
    so copying and validating a set does not grow with the number of sets either.  The
    order of application is the same depth-first order, each set once, as applying the
    include tree directly (an included set's includes first, then its own edits).
    """

    def __init__(self, doc: SourceMap, file: str):
        self.doc = doc
        self.file = file
        self.base = SourceMap(mark=doc.mark)
        for k, v in doc.items():
            if k != "recommendations":
                self.base[k] = v
                if k in doc.marks:
                    self.base.marks[k] = doc.marks[k]
        recs = doc.get("recommendations")
        self.index: dict[str, tuple[int, dict[str, Any]]] = {}
        for i, r in enumerate(recs if isinstance(recs, list) else []):
            if isinstance(r, dict) and isinstance(r.get("name"), str):
                self.index.setdefault(r["name"], (i, r))
        self.memo: dict[str, _Resolved] = {}
        self.own_problems: dict[str, list[Problem]] = {}

    def names(self) -> list[str]:
        return list(self.index)

    def problems_of(self, name: str) -> list[Problem]:
        """Problems of ``name``'s patch and of every set it includes (after :meth:`resolve`)."""
        order = self.memo[name].order if name in self.memo else [name]
        return [p for n in order for p in self.own_problems.get(n, [])]

    def resolve(self, name: str) -> _Resolved:
        """The memoised document of set ``name`` (a known set), includes resolved first.

        Iterative, so a long include chain cannot exhaust Python's recursion limit.
        """
        stack: list[tuple[str, int]] = [(name, 0)]
        on_path = {name}
        while stack:
            cur, k = stack[-1]
            i, rec = self.index[cur]
            incs = _includes(rec)
            if k < len(incs):
                stack[-1] = (cur, k + 1)
                inc = incs[k]
                if inc in on_path:
                    self._note(cur, ("recommendations", i, "include", k), f"including {inc!r} forms a cycle")
                elif isinstance(inc, str) and inc in self.index and inc not in self.memo:
                    stack.append((inc, 0))
                    on_path.add(inc)
                continue
            stack.pop()
            on_path.discard(cur)
            if cur not in self.memo:
                self.memo[cur] = self._build(cur)
        return self.memo[name]

    def _note(self, name: str, loc: tuple[Any, ...], message: str) -> None:
        p = _problem(self.doc, loc, message, self.file)
        mine = self.own_problems.setdefault(name, [])
        if p not in mine:
            mine.append(p)

    def _build(self, name: str) -> _Resolved:
        i, rec = self.index[name]
        usable = []
        for j, inc in enumerate(_includes(rec)):
            if not isinstance(inc, str):
                continue  # the baseline's validation reports a non-text include
            if inc not in self.index:
                self._note(name, ("recommendations", i, "include", j),
                           f"unknown recommendation set {inc!r}{did_you_mean(inc, list(self.index))}")
            elif inc in self.memo and inc != name and name not in self.memo[inc].order:
                usable.append(inc)
        if usable:
            first = self.memo[usable[0]]
            doc, order = copy.deepcopy(first.document), list(first.order)
        else:
            doc, order = copy.deepcopy(self.base), []
        done = set(order)
        for inc in usable[1:]:
            for n in self.memo[inc].order:
                if n not in done:
                    self._apply_own(doc, n, record=False)
                    order.append(n)
                    done.add(n)
        if name not in done:
            self._apply_own(doc, name, record=True)
            order.append(name)
        return _Resolved(doc, order)

    def _apply_own(self, doc: SourceMap, name: str, record: bool) -> None:
        """Apply set ``name``'s own changes and scalings (its problems are noted once)."""
        _, rec = self.index[name]
        for edit in _set_edits(rec):
            try:
                apply_edit(doc, edit, Scenario, forbidden=("recommendations", "name"))
            except PatchError as pe:
                if not record:
                    continue
                m = pe.mark
                where = f"recommendations[{name}].{'changes' if edit.op == 'set' else 'scale'}.{pe.field}"
                p = Problem(m.file if m else self.file, m.line if m else 1, m.column if m else 1, where, pe.message)
                self.own_problems.setdefault(name, []).append(p)


def set_document(doc: SourceMap, set_name: str, file: str) -> SourceMap:
    """The document with recommendation set ``set_name`` applied (includes first)."""
    if set_name == BASELINE:
        return doc
    resolver = SetResolver(doc, file)
    _check_known(resolver, set_name, file)
    resolved = resolver.resolve(set_name)
    problems = resolver.problems_of(set_name)
    if problems:
        raise ScenarioError(problems)
    out = copy.deepcopy(resolved.document)
    if "recommendations" in doc:
        out["recommendations"] = copy.deepcopy(doc["recommendations"])
        if "recommendations" in doc.marks:
            out.marks["recommendations"] = doc.marks["recommendations"]
    return out


def _check_known(resolver: SetResolver, set_name: str, file: str) -> None:
    if set_name not in resolver.index:
        known = [BASELINE, *resolver.index]
        raise ScenarioError([Problem(file, None, None, "", f"unknown recommendation set {set_name!r}"
                                     f"{did_you_mean(set_name, known)} (known: {', '.join(known)})")])


# --------------------------------------------------------------------------- public API


@dataclass
class LoadedScenario:
    """A validated scenario file: the baseline and every recommendation set, ready to run."""

    path: str
    document: SourceMap
    baseline: Scenario
    sets: dict[str, Scenario] = field(default_factory=dict)
    _resolver: SetResolver | None = field(default=None, repr=False, compare=False)

    @property
    def set_names(self) -> list[str]:
        """``baseline`` first, then the recommendation sets in file order."""
        return [BASELINE, *[r.name for r in self.baseline.recommendations]]

    def effective(self, set_name: str = BASELINE) -> Scenario:
        """The scenario as the model sees it under recommendation set ``set_name``."""
        if set_name == BASELINE:
            return self.baseline
        if set_name not in self.sets:
            self.sets[set_name] = self._validate_set(set_name)
        return self.sets[set_name]

    def _validate_set(self, set_name: str) -> Scenario:
        if self._resolver is None:
            self._resolver = SetResolver(self.document, self.path)
        return validated_set(self._resolver, set_name, self.baseline.recommendations)


def validated_set(resolver: SetResolver, set_name: str, recommendations: list[Any]) -> Scenario:
    """Set ``set_name`` resolved and validated as a whole scenario (every problem at once)."""
    scenario, order = validated_set_document(resolver, set_name)
    return with_set_costs(scenario, recommendations, order)


def validated_set_document(resolver: SetResolver, set_name: str) -> tuple[Scenario, list[str]]:
    """Set ``set_name``'s own document validated (without the list of sets), and the sets applied."""
    _check_known(resolver, set_name, resolver.file)
    resolved = resolver.resolve(set_name)
    problems = resolver.problems_of(set_name)
    try:
        scenario = validate_document(resolved.document, resolver.file)
    except ScenarioError as exc:
        raise ScenarioError([*problems, *exc.problems]) from None
    if problems:
        raise ScenarioError(problems)
    return scenario, list(resolved.order)


def with_set_costs(scenario: Scenario, recommendations: list[Any], order: list[str]) -> Scenario:
    """A set's validated document as the effective scenario of the set.

    The set's document leaves out the list of sets (it cannot change it); the effective
    scenario carries the baseline's, as a copy of the whole file would, and the costs of
    the sets applied (each once, in the order applied: a bundle costs the sum of its sets).
    """
    return scenario.model_copy(update={"recommendations": recommendations,
                                       "costs": [*scenario.costs, *set_costs(recommendations, order)]})


def set_costs(recommendations: list[Any], order: list[str]) -> list[SetCost]:
    """The costs in force when the sets ``order`` are applied (those that declare one)."""
    by_name = {r.name: r for r in recommendations}
    out = []
    for name in order:
        r = by_name.get(name)
        if r is not None and r.cost is not None:
            out.append(SetCost(set=name, **r.cost.model_dump()))
    return out


def _key(p: Problem) -> tuple[Any, ...]:
    return (p.file, p.line, p.column, p.message)


def load_scenario(path: str | Path, validate_sets: bool = True) -> LoadedScenario:
    """Read, merge, validate a scenario file and (by default) every recommendation set in it.

    Every problem is reported at once: the baseline's, and each set's own (a set's copy of
    a baseline problem is reported once, as the baseline's).  Raises
    :class:`~scenario_sim.errors.ScenarioError`.
    """
    return _load(read_document(path), str(path), validate_sets)


def _load(doc: SourceMap, name: str, validate_sets: bool) -> LoadedScenario:
    try:
        baseline = validate_document(doc, name)
    except ScenarioError as exc:
        if validate_sets:
            _raise_with_set_problems(SetResolver(doc, name), exc.problems)
        raise
    loaded = LoadedScenario(name, doc, baseline, _resolver=SetResolver(doc, name))
    if validate_sets:
        problems: list[Problem] = []
        for set_name in loaded.set_names[1:]:
            try:
                loaded.effective(set_name)
            except ScenarioError as exc:
                problems += _in_set(set_name, exc.problems)
        problems += _ensemble_problems(loaded)
        if problems:
            raise ScenarioError(list(dict.fromkeys(problems)))
    return loaded


def _ensemble_problems(loaded: LoadedScenario) -> list[Problem]:
    """Problems in ``worlds:`` and ``uncertainties:`` (see :mod:`scenario_sim.lang.uncertainty`)."""
    from scenario_sim.lang.uncertainty import check_ensemble

    return check_ensemble(loaded.document, loaded.baseline, loaded.path)


def _in_set(set_name: str, problems: list[Problem]) -> list[Problem]:
    """A set's problems, each naming the set."""
    return [p if p.field.startswith("recommendations") else
            Problem(p.file, p.line, p.column, f"recommendations[{set_name}] -> {p.field}", p.message)
            for p in problems]


def _raise_with_set_problems(resolver: SetResolver, baseline_problems: list[Problem]) -> None:
    """The baseline is invalid: raise its problems together with every set's own ones."""
    seen = {_key(p) for p in baseline_problems}
    problems = list(baseline_problems)
    for set_name in resolver.names():
        try:
            validated_set(resolver, set_name, [])
        except ScenarioError as exc:
            for p in _in_set(set_name, exc.problems):
                if _key(p) not in seen:
                    seen.add(_key(p))
                    problems.append(p)
    raise ScenarioError(problems)


def load_text_scenario(text: str, file: str = "<string>") -> LoadedScenario:
    """Load a scenario from YAML text (no ``extends``), as :func:`load_scenario` does a file."""
    from scenario_sim.lang.yamlsource import load_text

    doc = load_text(text, file)
    if not isinstance(doc, SourceMap):
        validate_document(doc, file)  # raises: not a mapping
    assert isinstance(doc, SourceMap)
    return _load(doc, file, True)


def dump_scenario(s: Scenario) -> dict[str, Any]:
    """A plain, YAML-ready mapping that loads back into an equal Scenario."""
    data: dict[str, Any] = s.model_dump(mode="python", by_alias=True, exclude_none=True)
    return data
