"""Patches: the one mechanism behind ``extends``, recommendation sets (and future cases).

A *patch* is a list of edits addressed by dotted paths, each remembered with the line it was
written on.  Paths walk mappings by key and lists by the ``name`` of their items
(``air_defense.systems.patriot.resupply.interval_days``); a list without names takes a whole
number index.  A path is checked against the schema, so a key that is absent from the
baseline but exists in the language (an optional section, say) may be set; a key the
language does not know is an error with a "did you mean".

Edits:

* ``set``   -- a value onto the current one, merged exactly as ``extends`` merges a file
  onto its base (:func:`deep_merge`): a mapping merges key by key, so
  ``early_warning: {enabled: true}`` switches the rule on and keeps every other field of the
  section as it was (replacing the section would silently reset its other fields to their
  defaults); a list of named items merges by name; any other value (a number, text, a list
  of plain values, a distribution written with ``dist``) replaces the current one;
* ``scale`` -- multiply an existing number (an integer stays an integer, rounded); the factor
  and the result must be finite.

:func:`deep_merge`: mappings merge key by key, lists of named items merge item by item (a new
name is appended), a mapping with a ``dist`` key (a distribution) replaces the current value
whole (its fields depend on its ``dist``), any other value is replaced.
"""

from __future__ import annotations

import copy
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from scenario_sim.lang.yamlsource import Mark, SourceList, SourceMap
from scenario_sim.text import did_you_mean as did_you_mean  # re-exported: lang.patch.did_you_mean still works


class PatchError(Exception):
    """A patch edit that cannot be applied; carries the mark of the edit."""

    def __init__(self, mark: Mark | None, field: str, message: str):
        super().__init__(message)
        self.mark = mark
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Edit:
    op: Literal["set", "scale"]
    path: str
    value: Any
    mark: Mark | None


# --------------------------------------------------------------------------- schema walking


def _unwrap(tp: Any) -> Any:
    """Strip Annotated/Optional wrappers down to the structural type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(args) == 1:
                tp = args[0]
                continue
            if models and len(models) == len(args):
                return tuple(models)  # a union of models (a distribution)
            return tp
        return tp


def _child_type(tp: Any, key: str) -> tuple[bool, Any, list[str]]:
    """(valid, child type, known keys) for stepping from type ``tp`` by ``key``."""
    tp = _unwrap(tp)
    if isinstance(tp, tuple):  # union of models: valid if any member has the field
        known: list[str] = []
        for m in tp:
            ok, child, k = _child_type(m, key)
            if ok:
                return ok, child, k
            known += k
        return False, None, sorted(set(known))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        keys = {}
        for fname, f in tp.model_fields.items():
            keys[f.alias or fname] = f.annotation
        if key in keys:
            return True, keys[key], list(keys)
        return False, None, list(keys)
    origin = typing.get_origin(tp)
    if origin is dict:
        return True, typing.get_args(tp)[1], []
    if origin is list:
        return True, typing.get_args(tp)[0], []
    return False, None, []


def _type_at(root: type[BaseModel], path: tuple[Any, ...]) -> tuple[bool, Any]:
    """(found, the unwrapped type at ``path``) walking the schema from ``root``."""
    tp: Any = root
    for part in path:
        ok, tp, _ = _child_type(tp, str(part))
        if not ok:
            return False, None
    return True, _unwrap(tp)


def known_keys(root: type[BaseModel], path: tuple[Any, ...]) -> list[str] | None:
    """Allowed keys of the mapping at ``path`` (ints/strings), or None if free-form."""
    ok, tp = _type_at(root, path)
    if not ok:
        return None
    if isinstance(tp, tuple):
        return sorted({(f.alias or n) for m in tp for n, f in m.model_fields.items()})
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or n for n, f in tp.model_fields.items()]
    return None


def variant_keys(root: type[BaseModel], path: tuple[Any, ...], tag: str) -> tuple[str, list[str]] | None:
    """For a union of models at ``path`` (a distribution), the tag field and the keys of the
    member that tag selects (``("dist", ["dist", "mean"])`` for ``poisson``); None otherwise."""
    ok, tp = _type_at(root, path)
    if not ok or not isinstance(tp, tuple):
        return None
    for m in tp:
        for fname, f in m.model_fields.items():
            if typing.get_origin(f.annotation) is Literal and tag in typing.get_args(f.annotation):
                return f.alias or fname, [g.alias or n for n, g in m.model_fields.items()]
    return None


# --------------------------------------------------------------------------- applying edits


def _find_named(lst: list[Any], part: str) -> int | None:
    for i, item in enumerate(lst):
        if isinstance(item, dict) and item.get("name") == part:
            return i
    if part.isdigit() and not any(isinstance(it, dict) and "name" in it for it in lst):
        idx = int(part)
        return idx if idx < len(lst) else None
    return None


def apply_edit(doc: SourceMap, edit: Edit, root: type[BaseModel], forbidden: tuple[str, ...] = ()) -> None:
    """Apply one edit to ``doc`` in place; raise PatchError with the edit's mark."""
    parts = _parts(edit, forbidden)
    node: Any = doc
    tp: Any = root
    for k, part in enumerate(parts):
        where = ".".join(parts[:k]) or "the top level"
        last = k == len(parts) - 1
        key: int | str
        if isinstance(node, list):
            key, tp = _list_step(node, part, edit, where), _child_type(tp, part)[1]
        elif isinstance(node, dict):
            key, tp = _dict_step(node, part, tp, edit, where, last)
        else:
            raise PatchError(edit.mark, edit.path, f"{where} is a single value, not a section")
        if last:
            _assign(node, key, edit)
            return
        node = node[key]


def _parts(edit: Edit, forbidden: tuple[str, ...]) -> list[str]:
    if not isinstance(edit.path, str):
        raise PatchError(edit.mark, str(edit.path), "a path is text: names separated by dots")
    parts = edit.path.split(".")
    if not edit.path or any(p == "" for p in parts):
        raise PatchError(edit.mark, edit.path, "malformed path (expected names separated by dots)")
    if parts[0] in forbidden:
        raise PatchError(edit.mark, edit.path, f"'{parts[0]}' cannot be changed by a patch")
    return parts


def _list_step(node: list[Any], part: str, edit: Edit, where: str) -> int:
    idx = _find_named(node, part)
    if idx is None:
        names = [str(it.get("name")) for it in node if isinstance(it, dict) and "name" in it]
        hint = did_you_mean(part, names) or " (have: " + ", ".join(names) + ")"
        raise PatchError(edit.mark, edit.path, f"no item named {part!r} in {where}{hint}")
    return idx


def _dict_step(node: dict[str, Any], part: str, tp: Any, edit: Edit, where: str, last: bool) -> tuple[str, Any]:
    ok, child_tp, known = _child_type(tp, part)
    if not ok:
        raise PatchError(edit.mark, edit.path, f"{where} has no field {part!r}{did_you_mean(part, known)}")
    if not last and (part not in node or node[part] is None):
        if edit.op == "scale":
            raise PatchError(edit.mark, edit.path, f"{where}.{part} is not set, so it cannot be scaled")
        node[part] = SourceMap(mark=edit.mark)
        if isinstance(node, SourceMap) and edit.mark is not None:
            node.marks[part] = edit.mark
    return part, child_tp


def _assign(container: Any, key: Any, edit: Edit) -> None:
    old = container[key] if (isinstance(container, list) or key in container) else None
    if edit.op == "set":
        container[key] = deep_merge(old, edit.value) if old is not None else copy.deepcopy(edit.value)
    else:
        container[key] = _scaled(old, edit)
    if edit.mark is not None and (isinstance(container, (SourceMap, SourceList))):
        container.marks[key] = edit.mark


def _scaled(old: Any, edit: Edit) -> float | int:
    if old is None:
        raise PatchError(edit.mark, edit.path, "is not set, so it cannot be scaled")
    if isinstance(old, bool) or not isinstance(old, (int, float)):
        raise PatchError(edit.mark, edit.path, f"scale needs a number here (found {type(old).__name__})")
    f = edit.value
    if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(f):
        raise PatchError(edit.mark, edit.path, f"a scale factor must be a finite number (got {f!r})")
    new = old * f
    if not math.isfinite(new):
        raise PatchError(edit.mark, edit.path, f"{old!r} scaled by {f!r} is not a finite number")
    return round(new) if isinstance(old, int) else new


# --------------------------------------------------------------------------- extends


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` onto ``base`` (both may carry marks); returns a new structure."""
    if isinstance(base, dict) and isinstance(override, dict) and "dist" not in override:
        return _merge_maps(base, override)
    if isinstance(base, list) and isinstance(override, list) and _named(base) and _named(override):
        return _merge_named_lists(base, override)
    return copy.deepcopy(override)


def _merge_maps(base: dict[str, Any], override: dict[str, Any]) -> SourceMap:
    out = SourceMap(mark=getattr(override, "mark", None) or getattr(base, "mark", None))
    for k, v in base.items():
        out[k] = copy.deepcopy(v)
        if isinstance(base, SourceMap) and k in base.marks:
            out.marks[k] = base.marks[k]
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if k in out else copy.deepcopy(v)
        if isinstance(override, SourceMap) and k in override.marks:
            out.marks[k] = override.marks[k]
    return out


def _merge_named_lists(base: list[Any], override: list[Any]) -> SourceList:
    merged = SourceList(mark=getattr(override, "mark", None))
    marks: list[Mark | None] = []
    index = {}
    for i, item in enumerate(base):
        index[item["name"]] = len(merged)
        merged.append(copy.deepcopy(item))
        marks.append(base.marks[i] if isinstance(base, SourceList) else None)
    for i, item in enumerate(override):
        m = override.marks[i] if isinstance(override, SourceList) else None
        if item["name"] in index:
            j = index[item["name"]]
            merged[j] = deep_merge(merged[j], item)
            marks[j] = m
        else:
            merged.append(copy.deepcopy(item))
            marks.append(m)
    merged.marks = marks
    return merged


def _named(lst: list[Any]) -> bool:
    return bool(lst) and all(isinstance(it, dict) and isinstance(it.get("name"), str) for it in lst)
