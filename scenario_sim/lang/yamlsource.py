"""Safe YAML reading that remembers where every value was written.

PyYAML's safe loader is used only to *compose* the node graph; we then build plain Python
containers ourselves so that we can

* remember the line and column of every key and value (:class:`Mark`), which is what lets a
  validation error point at ``file:line:col`` even after ``extends`` merging and recommendation
  patches have moved values around;
* reject duplicate keys (PyYAML silently keeps the last one);
* reject every tag outside the YAML core schema (``!!python/object`` and friends);
* cap the expanded size, so that an "alias bomb" (billion laughs) fails fast instead of
  exhausting memory.

Containers are :class:`SourceMap` / :class:`SourceList`, subclasses of ``dict``/``list`` that
carry marks; everything downstream (pydantic included) sees ordinary dicts and lists.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scenario_sim.errors import Problem, ScenarioError

MAX_FILE_BYTES = 1_000_000
"""Scenario files are hand-written; anything larger is a mistake or an attack."""

MAX_NODES = 200_000
"""Expanded node budget; guards against alias bombs."""

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_SAFE_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


@dataclass(frozen=True)
class Mark:
    """Where something was written: file, 1-based line and column."""

    file: str
    line: int
    column: int


class SourceMap(dict[str, Any]):
    """A mapping that remembers the mark of itself and of each of its values."""

    mark: Mark | None
    marks: dict[str, Mark]

    def __init__(self, *args: Any, mark: Mark | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.mark = mark
        self.marks = {}


class SourceList(list[Any]):
    """A list that remembers the mark of itself and of each item."""

    mark: Mark | None
    marks: list[Mark | None]

    def __init__(self, *args: Any, mark: Mark | None = None):
        super().__init__(*args)
        self.mark = mark
        self.marks = [None] * len(self)


def _mark(file: str, node: yaml.Node) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.nodes = 0
        self.scalar_loader = yaml.SafeLoader("")

    def build(self, node: yaml.Node) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ScenarioError(
                [_problem(self.file, node, "", f"document expands to more than {MAX_NODES} values "
                          "(alias bomb?)")]
            )
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                raise ScenarioError([_problem(self.file, node, "", f"tag {node.tag!r} is not allowed")])
            out = SourceMap(mark=_mark(self.file, node))
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise ScenarioError(
                        [_problem(self.file, key_node, "", "merge keys ('<<') are not supported; use 'extends'")]
                    )
                key = self.build(key_node)
                if not isinstance(key, (str, int, float, bool)) or isinstance(key, bool):
                    raise ScenarioError([_problem(self.file, key_node, "", "keys must be text or numbers")])
                key = str(key)
                if key in out:
                    raise ScenarioError(
                        [_problem(self.file, key_node, key, "duplicate key (first written at line "
                                  f"{out.marks[key].line})")]
                    )
                out[key] = self.build(value_node)
                out.marks[key] = _mark(self.file, value_node)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                raise ScenarioError([_problem(self.file, node, "", f"tag {node.tag!r} is not allowed")])
            items = [self.build(n) for n in node.value]
            lst = SourceList(items, mark=_mark(self.file, node))
            lst.marks = [_mark(self.file, n) for n in node.value]
            return lst
        assert isinstance(node, yaml.ScalarNode)
        if node.tag not in _SAFE_SCALAR_TAGS:
            raise ScenarioError([_problem(self.file, node, "", f"tag {node.tag!r} is not allowed")])
        value = self.scalar_loader.construct_object(node)
        if isinstance(value, _dt.datetime):
            # A timestamp with a time of day: the model works in whole days.
            raise ScenarioError([_problem(self.file, node, "", "expected a date (YYYY-MM-DD), got a timestamp")])
        return value


def _problem(file: str, node: yaml.Node | None, field: str, message: str) -> Problem:
    if node is None:
        return Problem(file, None, None, field, message)
    return Problem(file, node.start_mark.line + 1, node.start_mark.column + 1, field, message)


def load_text(text: str, file: str) -> Any:
    """Parse YAML text into SourceMap/SourceList/scalars with marks; raise ScenarioError."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioError([Problem(file, None, None, "", f"file is larger than {MAX_FILE_BYTES} bytes")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = (exc.problem or exc.context or "invalid YAML").strip()
        if mark is None:
            raise ScenarioError([Problem(file, None, None, "", f"invalid YAML: {msg}")]) from None
        raise ScenarioError([Problem(file, mark.line + 1, mark.column + 1, "", f"invalid YAML: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, None, None, "", f"invalid YAML: {exc}")]) from None
    if node is None:
        return None
    return _Builder(file).build(node)


def load_file(path: str | Path) -> Any:
    """Read and parse a YAML file; file-system errors become one-line ScenarioErrors."""
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError([Problem(name, None, None, "", f"file is larger than {MAX_FILE_BYTES} bytes")])
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem(name, None, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError([Problem(name, None, None, "", "is a directory, expected a YAML file")]) from None
    except UnicodeDecodeError as exc:
        why = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ScenarioError([Problem(name, None, None, "", why)]) from None
    except OSError as exc:
        raise ScenarioError([Problem(name, None, None, "", f"cannot read: {exc.strerror}")]) from None
    return load_text(text, name)


def plain(value: Any) -> Any:
    """Strip marks: SourceMap/SourceList -> dict/list (recursively)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
