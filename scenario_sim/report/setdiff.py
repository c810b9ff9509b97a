"""What a recommendation set changes, resolved: ``scenario-sim show --diff SET``.

A set is written as dotted-path edits, ``scale`` factors and ``include`` of other sets;
what the model finally sees is the effective scenario.  This compares the two effective
scenarios (baseline and set) as plain mappings, so every route to a change (an included
set, a scale factor, a changed default) is shown as the value the model gets.

Paths use the scenario language's own notation: a list of named items (systems,
contacts...) is addressed by name, ``air_defense.systems.patriot.pk.ballistic``; any other
list is one value.  The ``recommendations`` section is not compared (every set carries the
same list), nor are ``name`` and ``description`` at the top level.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

SKIP_TOP = frozenset({"recommendations", "name", "description"})
ABSENT = "(absent)"


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, Mapping) and isinstance(i.get("name"), str) for i in items)


def flatten(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, leaf value) for every leaf; named lists are keyed by their items' names."""
    if isinstance(node, Mapping):
        if not node and prefix:
            yield prefix, {}
        for k, v in node.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(node, list) and _named(node):
        for item in node:
            yield from flatten({k: v for k, v in item.items() if k != "name"}, f"{prefix}.{item['name']}")
    else:
        yield prefix, node


def scalar(value: Any) -> str:
    """A value as it would be written in a scenario file (compact)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".12g")  # 0.575 * 0.7 is 0.4025, not 0.40249999999999997
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, default=str, separators=(", ", ": "))


def changes(baseline: Mapping[str, Any], other: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(path, baseline value, set value) of every leaf that differs, in the baseline's order."""
    a = dict(flatten({k: v for k, v in baseline.items() if k not in SKIP_TOP}))
    b = dict(flatten({k: v for k, v in other.items() if k not in SKIP_TOP}))
    out = [(p, v, b.get(p, ABSENT)) for p, v in a.items() if b.get(p, ABSENT) != v]
    out += [(p, ABSENT, v) for p, v in b.items() if p not in a]
    return out


def render_diff(scenario: str, set_name: str, baseline: Mapping[str, Any], other: Mapping[str, Any]) -> str:
    """The ``show --diff`` text: one ``path: baseline -> set`` line per change."""
    rows = changes(baseline, other)
    n = len(rows)
    head = (f"# {scenario}: what {set_name} changes against the baseline, resolved "
            f"({n} value{'s' if n != 1 else ''})")
    if not rows:
        return head + "\n# nothing: this set runs exactly the baseline"
    return "\n".join([head, *[f"{p}: {scalar(a)} -> {scalar(b)}" for p, a, b in rows]])
