"""Safe YAML reading that remembers where every value was written.

PyYAML's safe loader is used only to *compose* the node graph; we then build plain Python
containers ourselves so that we can

* remember the line and column of every key and value (:class:`Mark`), which is what lets a
  validation error point at ``file:line:col`` even after ``extends`` merging and recommendation
  patches have moved values around;
* reject duplicate keys (PyYAML silently keeps the last one);
* reject every tag outside the YAML core schema (``!!python/object`` and friends);
* cap the expanded size, so that an "alias bomb" (billion laughs) fails fast instead of
  exhausting memory, and cap the nesting depth (while composing, so PyYAML's recursive
  composer and its scanner, quadratic in the flow depth, stop at once), which also catches
  recursive aliases (``&a [*a]``);
* read only regular files, at most :data:`MAX_FILE_BYTES`, without blocking: a FIFO or a
  device (``/dev/zero``) is refused before it is opened for reading;
* turn every reader error into a located one: invalid UTF-8 and control characters are
  reported at their line and column, never as a byte offset.

Containers are :class:`SourceMap` / :class:`SourceList`, subclasses of ``dict``/``list`` that
carry marks; everything downstream (pydantic included) sees ordinary dicts and lists.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scenario_sim.errors import Problem, ScenarioError

MAX_FILE_BYTES = 1_000_000
"""Scenario files are hand-written; anything larger is a mistake or an attack."""

MAX_NODES = 200_000
"""Expanded node budget; guards against alias bombs."""

MAX_DEPTH = 50
"""Deepest nesting of mappings and lists (the language needs about 8)."""

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

    def __deepcopy__(self, memo: dict[int, Any]) -> SourceMap:
        return copy_tree(self)  # type: ignore[no-any-return]


class SourceList(list[Any]):
    """A list that remembers the mark of itself and of each item."""

    mark: Mark | None
    marks: list[Mark | None]

    def __init__(self, *args: Any, mark: Mark | None = None):
        super().__init__(*args)
        self.mark = mark
        self.marks = [None] * len(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> SourceList:
        return copy_tree(self)  # type: ignore[no-any-return]


def copy_tree(value: Any) -> Any:
    """A deep copy of a document tree, several times faster than ``copy.deepcopy``.

    Documents are trees (an alias is built into a fresh copy, see ``_Builder``) of
    SourceMap/SourceList/dict/list over immutable scalars (text, numbers, booleans, None,
    dates) and frozen marks, so no memo is needed and marks and scalars are shared.
    Validating a set copies the baseline document once, and ``scenario-sim explore`` does
    so for every set in every case: scalars are taken as they are without a call, and the
    containers are filled by comprehensions without running their ``__init__``.
    """
    t = type(value)
    if t is SourceMap:
        out = SourceMap.__new__(SourceMap)
        dict.update(out, {k: copy_tree(v) if type(v) in _TREES else v for k, v in value.items()})
        out.mark = value.mark
        out.marks = dict(value.marks)
        return out
    if t is SourceList:
        lst = SourceList.__new__(SourceList)
        list.extend(lst, [copy_tree(v) if type(v) in _TREES else v for v in value])
        lst.mark = value.mark
        lst.marks = list(value.marks)
        return lst
    if t is dict:
        return {k: copy_tree(v) if type(v) in _TREES else v for k, v in value.items()}
    if t is list:
        return [copy_tree(v) if type(v) in _TREES else v for v in value]
    return value


_TREES = frozenset({SourceMap, SourceList, dict, list})
"""The container types :func:`copy_tree` copies (anything else is shared as immutable)."""


def _mark(file: str, node: yaml.Node) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


_EXPONENT_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+")
"""A plain scalar in exponent notation that YAML 1.1 leaves as text (``1e8``, ``2.5E-3``)."""


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.nodes = 0
        self.scalar_loader = yaml.SafeLoader("")
        self.active: list[yaml.Node] = []  # the containers being built, outermost first

    def build(self, node: yaml.Node) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ScenarioError(
                [_problem(self.file, node, "", f"document expands to more than {MAX_NODES} values "
                          "(alias bomb?)")]
            )
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if any(n is node for n in self.active):
            raise ScenarioError([_problem(self.file, node, "", "recursive alias (a value that contains itself)")])
        if len(self.active) >= MAX_DEPTH:
            raise ScenarioError([_problem(self.file, node, "", f"nested more than {MAX_DEPTH} levels deep")])
        self.active.append(node)
        try:
            return self._container(node)
        finally:
            self.active.pop()

    def _container(self, node: yaml.Node) -> Any:
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
        raise ScenarioError([_problem(self.file, node, "", "unsupported YAML node")])  # pragma: no cover

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag not in _SAFE_SCALAR_TAGS:
            raise ScenarioError([_problem(self.file, node, "", f"tag {node.tag!r} is not allowed")])
        try:
            value = self.scalar_loader.construct_object(node)
        except ValueError as exc:
            # int() refuses more than sys.get_int_max_str_digits() (4300) digits; a date
            # such as 2025-02-30 is out of range.  Neither is a number or date we can use.
            what = "a date" if node.tag.endswith(":timestamp") else "a number"
            why = "too many digits" if "digits" in str(exc) else str(exc)
            raise ScenarioError([_problem(self.file, node, "", f"{node.value[:20]!r} is not {what} we can "
                                          f"use ({why})")]) from None
        if isinstance(value, _dt.datetime):
            # A timestamp with a time of day: the model works in whole days.
            raise ScenarioError([_problem(self.file, node, "", "expected a date (YYYY-MM-DD), got a timestamp")])
        if node.style is None and isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value):
            # PyYAML follows YAML 1.1, which reads `1e8` (no dot) as text; YAML 1.2 and every
            # analyst read it as a number.  Quoted text stays text (lang/coercion.py refuses it
            # where a number is expected).
            return float(value)
        return value


def _problem(file: str, node: yaml.Node | None, field: str, message: str) -> Problem:
    if node is None:
        return Problem(file, None, None, field, message)
    return Problem(file, node.start_mark.line + 1, node.start_mark.column + 1, field, message)


class _DepthLimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing to compose deeper than :data:`MAX_DEPTH`.

    PyYAML composes recursively (1,000 levels is a RecursionError) and its scanner slows
    down quadratically with the flow depth, so the limit is enforced while composing.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH + 1:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.MarkedYAMLError(problem=f"nested more than {MAX_DEPTH} levels deep", problem_mark=mark)
            return super().compose_node(parent, index)  # type: ignore[no-untyped-call, no-any-return]
        finally:
            self._depth -= 1


def line_col(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character ``index`` in ``text``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _compose(text: str, file: str) -> yaml.Node | None:
    loader = _DepthLimitedLoader(text)
    try:
        return loader.get_single_node()  # type: ignore[no-untyped-call, no-any-return]
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def load_text(text: str, file: str) -> Any:
    """Parse YAML text into SourceMap/SourceList/scalars with marks; raise ScenarioError."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioError([Problem(file, None, None, "", f"file is larger than {MAX_FILE_BYTES} bytes")])
    try:
        node = _compose(text, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = " ".join((exc.problem or exc.context or "invalid YAML").split())
        if mark is None:
            raise ScenarioError([Problem(file, None, None, "", f"invalid YAML: {msg}")]) from None
        raise ScenarioError([Problem(file, mark.line + 1, mark.column + 1, "", f"invalid YAML: {msg}")]) from None
    except yaml.reader.ReaderError as exc:
        # A control character: PyYAML reports a character position, we report line:col.
        line, col = line_col(text, exc.position)
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise ScenarioError([Problem(file, line, col, "", f"invalid YAML: unacceptable character #x{char:04x} "
                                     f"({exc.reason})")]) from None
    except yaml.YAMLError as exc:
        msg = " ".join(str(exc).split())
        raise ScenarioError([Problem(file, 1, 1, "", f"invalid YAML: {msg}")]) from None
    if node is None:
        return None
    return _Builder(file).build(node)


def read_regular_file(path: str | Path, name: str | None = None) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`; anything else is a
    one-line ScenarioError.

    FIFOs, devices and sockets are refused from ``stat`` before the file is opened (opening
    a FIFO for reading blocks until a writer appears; ``/dev/zero`` never ends), and the
    open itself is non-blocking and re-checked with ``fstat`` in case the path was swapped.
    """
    shown = str(path) if name is None else name

    def fail(message: str) -> ScenarioError:
        return ScenarioError([Problem(shown, None, None, "", message)])

    try:
        st = os.stat(path)
        _require_regular(st.st_mode, fail)
        if st.st_size > MAX_FILE_BYTES:
            raise fail(f"file is larger than {MAX_FILE_BYTES} bytes")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            _require_regular(os.fstat(fd).st_mode, fail)
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise fail("no such file") from None
    except NotADirectoryError:
        raise fail("no such file (a part of the path is not a folder)") from None
    except PermissionError:
        raise fail("cannot read: permission denied") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise fail(f"file is larger than {MAX_FILE_BYTES} bytes")
    return data


def _require_regular(mode: int, fail: Any) -> None:
    if stat.S_ISREG(mode):
        return
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")
    raise fail(f"is {kind}, expected a YAML file")


def decode(data: bytes, file: str) -> str:
    """UTF-8 text of ``data`` (a leading BOM is dropped); invalid bytes are a located error."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = len(data[data.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8", "replace")) + 1
        raise ScenarioError([Problem(file, line, col, "", f"not UTF-8 text ({exc.reason}: byte "
                                     f"0x{data[exc.start]:02x})")]) from None
    return text[1:] if text.startswith("\ufeff") else text


def load_file(path: str | Path) -> Any:
    """Read and parse a YAML file; file-system errors become one-line ScenarioErrors."""
    return load_file_as(path, str(path))


def load_file_as(path: str | Path, name: str) -> Any:
    """:func:`load_file`, naming the file ``name`` in marks and messages."""
    return load_text(decode(read_regular_file(path, name), name), name)


def plain(value: Any) -> Any:
    """Strip marks: SourceMap/SourceList -> dict/list (recursively)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
