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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scenario_sim.errors import Problem, ScenarioError
from scenario_sim.lang.checks import cross_check
from scenario_sim.lang.patch import Edit, PatchError, apply_edit, deep_merge, did_you_mean, known_keys
from scenario_sim.lang.schema import Scenario
from scenario_sim.lang.yamlsource import Mark, SourceList, SourceMap, load_file

BASELINE = "baseline"
"""The implicit recommendation set that changes nothing."""

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
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            item = node[part]
            if isinstance(node, SourceList) and node.marks[part] is not None:
                mark = node.marks[part]
            name = item.get("name") if isinstance(item, dict) else None
            shown += f"[{name}]" if isinstance(name, str) else f"[{part}]"
            node = item
        elif isinstance(node, dict) and str(part) in node:
            key = str(part)
            if isinstance(node, SourceMap) and key in node.marks:
                mark = node.marks[key]
            shown += f".{key}" if shown else key
            node = node[key]
        elif isinstance(node, dict) and isinstance(part, str) and node.get("dist") == part:
            continue  # discriminator tag of a distribution
        elif isinstance(part, str) and (not part.isidentifier() or "[" in part or part in _UNION_TAGS):
            continue  # a union/validator tag from pydantic
        else:
            # The location names something absent from the document (a missing field):
            # report it at its parent.
            shown += f".{part}" if shown else str(part)
            node = None
    return mark, shown


_UNION_TAGS = {"fixed", "poisson", "negbin", "uniform", "triangular", "lognormal", "empirical", "date", "int"}


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
    "less_than_equal": "must be <= {le}{got}",
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
        known = known_keys(Scenario, tuple(p for p in loc[:-1] if p not in _UNION_TAGS)) or []
        return loc, f"unknown field{did_you_mean(str(loc[-1]), known)}"
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
    problems = [_problem(doc, path, msg, file) for path, msg in cross_check(scenario)]
    if problems:
        raise ScenarioError(problems)
    return scenario


# --------------------------------------------------------------------------- extends


def read_document(path: str | Path, _chain: tuple[str, ...] = ()) -> SourceMap:
    """Read a scenario file and resolve its ``extends`` chain into one marked document."""
    p = Path(path)
    name = str(path)
    doc = load_file(p)
    if not isinstance(doc, SourceMap):
        kind = "an empty file" if doc is None else ("a list" if isinstance(doc, list) else "a single value")
        mark = getattr(doc, "mark", None)
        raise ScenarioError([Problem(name, mark.line if mark else 1, mark.column if mark else 1, "",
                                     f"a scenario must be a YAML mapping (got {kind})")])
    ext = doc.pop("extends", None)
    if ext is None:
        return doc
    mark = doc.marks.get("extends") if isinstance(doc, SourceMap) else None
    bases = ext if isinstance(ext, list) else [ext]
    if not all(isinstance(b, str) and b for b in bases):
        raise ScenarioError([Problem(name, mark.line if mark else None, mark.column if mark else None,
                                     "extends", "expected a file path or a list of file paths")])
    resolved = str(p.resolve())
    if resolved in _chain or len(_chain) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError([Problem(name, mark.line if mark else None, mark.column if mark else None,
                                     "extends", "extends forms a cycle or is nested too deeply")])
    merged: Any = SourceMap()
    for b in bases:
        bp = (p.parent / b)
        if not bp.exists():
            raise ScenarioError([Problem(name, mark.line if mark else None, mark.column if mark else None,
                                         "extends", f"no such file: {bp}")])
        merged = deep_merge(merged, read_document(bp, (*_chain, resolved)))
    out = deep_merge(merged, doc)
    assert isinstance(out, SourceMap)
    return out


# --------------------------------------------------------------------------- sets


def _set_edits(rec: dict[str, Any]) -> list[Edit]:
    edits = []
    changes = rec.get("changes") or {}
    for path, value in changes.items():
        m = changes.marks.get(path) if isinstance(changes, SourceMap) else None
        edits.append(Edit("set", path, value, m))
    scale = rec.get("scale") or {}
    for path, value in scale.items():
        m = scale.marks.get(path) if isinstance(scale, SourceMap) else None
        edits.append(Edit("scale", path, value, m))
    return edits


def _rec_index(doc: SourceMap) -> dict[str, tuple[int, dict[str, Any]]]:
    recs = doc.get("recommendations") or []
    return {r["name"]: (i, r) for i, r in enumerate(recs) if isinstance(r, dict) and isinstance(r.get("name"), str)}


def set_document(doc: SourceMap, set_name: str, file: str) -> SourceMap:
    """The document with recommendation set ``set_name`` applied (includes first)."""
    if set_name == BASELINE:
        return doc
    index = _rec_index(doc)
    if set_name not in index:
        known = [BASELINE, *index]
        raise ScenarioError([Problem(file, None, None, "", f"unknown recommendation set {set_name!r}"
                                     f"{did_you_mean(set_name, known)} (known: {', '.join(known)})")])
    out = copy.deepcopy(doc)
    problems: list[Problem] = []
    applied: set[str] = set()

    def apply(name: str, stack: tuple[str, ...]) -> None:
        # Each set once, even when included twice through different bundles: a `scale`
        # applied twice would silently square its factor.
        if name in applied:
            return
        applied.add(name)
        i, rec = index[name]
        for j, inc in enumerate(rec.get("include") or []):
            loc = ("recommendations", i, "include", j)
            if inc in stack or inc == name:
                problems.append(_problem(doc, loc, f"including {inc!r} forms a cycle", file))
            elif inc not in index:
                problems.append(_problem(doc, loc, f"unknown recommendation set {inc!r}"
                                         f"{did_you_mean(str(inc), list(index))}", file))
            else:
                apply(inc, (*stack, name))
        for edit in _set_edits(rec):
            try:
                apply_edit(out, edit, Scenario, forbidden=("recommendations", "name"))
            except PatchError as pe:
                m = pe.mark
                where = f"recommendations[{name}].{'changes' if edit.op == 'set' else 'scale'}.{pe.field}"
                problems.append(Problem(m.file if m else file, m.line if m else None,
                                        m.column if m else None, where, pe.message))

    apply(set_name, ())
    if problems:
        raise ScenarioError(problems)
    return out


# --------------------------------------------------------------------------- public API


@dataclass
class LoadedScenario:
    """A validated scenario file: the baseline and every recommendation set, ready to run."""

    path: str
    document: SourceMap
    baseline: Scenario
    sets: dict[str, Scenario] = field(default_factory=dict)

    @property
    def set_names(self) -> list[str]:
        """``baseline`` first, then the recommendation sets in file order."""
        return [BASELINE, *[r.name for r in self.baseline.recommendations]]

    def effective(self, set_name: str = BASELINE) -> Scenario:
        """The scenario as the model sees it under recommendation set ``set_name``."""
        if set_name == BASELINE:
            return self.baseline
        if set_name not in self.sets:
            self.sets[set_name] = validate_document(set_document(self.document, set_name, self.path), self.path)
        return self.sets[set_name]


def load_scenario(path: str | Path, validate_sets: bool = True) -> LoadedScenario:
    """Read, merge, validate a scenario file and (by default) every recommendation set in it.

    Raises :class:`~scenario_sim.errors.ScenarioError` with every problem found.
    """
    name = str(path)
    doc = read_document(path)
    baseline = validate_document(doc, name)
    loaded = LoadedScenario(name, doc, baseline)
    if validate_sets:
        problems: list[Problem] = []
        for set_name in loaded.set_names[1:]:
            try:
                loaded.effective(set_name)
            except ScenarioError as exc:
                for p in exc.problems:
                    problems.append(p if p.field.startswith("recommendations") else
                                    Problem(p.file, p.line, p.column, f"recommendations[{set_name}] -> {p.field}",
                                            p.message))
        if problems:
            raise ScenarioError(list(dict.fromkeys(problems)))
    return loaded


def load_text_scenario(text: str, file: str = "<string>") -> LoadedScenario:
    """Load a scenario from YAML text (no ``extends``), as :func:`load_scenario` does a file."""
    from scenario_sim.lang.yamlsource import load_text

    doc = load_text(text, file)
    baseline = validate_document(doc, file)
    assert isinstance(doc, SourceMap)
    loaded = LoadedScenario(file, doc, baseline)
    for set_name in loaded.set_names[1:]:
        loaded.effective(set_name)
    return loaded


def dump_scenario(s: Scenario) -> dict[str, Any]:
    """A plain, YAML-ready mapping that loads back into an equal Scenario."""
    data: dict[str, Any] = s.model_dump(mode="python", by_alias=True, exclude_none=True)
    return data
