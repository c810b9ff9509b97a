"""No silent change of meaning: a YAML boolean or a quoted text read as a number is an error.

Pydantic validates scenario fields in its lax mode, which turns ``true`` into ``1.0`` for a
number field and ``"180"`` into ``180``.  In a scenario file both are slips (``horizon_days:
yes`` is not one day; a quoted number is usually a copy from a spreadsheet) that would pass
validation and change what is simulated.  Strict mode would refuse them, but also refuses
what analysts rely on (an integer for a real number, ``2.0`` for a count, a date written as
text), so the check is made after validation instead: every place where the document held a
boolean or a text and the validated scenario holds a number is reported at its line.

The walk compares the document with the validated scenario dumped by alias (the names the
file uses); a plain number written for a distribution is validated as ``{dist: fixed,
value: x}``, so a scalar facing a fixed distribution is compared with its value.  Paths the
validated scenario does not have (none today) are skipped rather than guessed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Path = tuple[Any, ...]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _suspects(raw: Any) -> bool:
    """Whether ``raw`` holds any boolean, or any text that reads as a number (cheap pre-check)."""
    if isinstance(raw, dict):
        return any(_suspects(v) for v in raw.values())
    if isinstance(raw, list):
        return any(_suspects(v) for v in raw)
    if isinstance(raw, bool):
        return True
    if isinstance(raw, str):
        try:
            float(raw)
        except ValueError:
            return False
        return True
    return False


def _leaf(raw: Any, done: Any, path: list[Any], out: list[tuple[Path, str]]) -> None:
    if isinstance(done, dict) and done.get("dist") == "fixed":
        done = done.get("value")
    if not _is_number(done):
        return
    if isinstance(raw, bool):
        word = "true" if raw else "false"
        out.append((tuple(path), f"expected a number (got {word}: YAML reads yes/no/on/off/true/false as booleans)"))
    elif isinstance(raw, str):
        out.append((tuple(path), f"expected a number (got {raw!r}: a quoted number is text; write it without "
                                 "quotes)"))


_REPORTABLE = (dict, list, bool, str)
"""What a document value must be for the walk to report anything at or under it (a number,
None or a date never is): the walk does not descend into the others at all."""


def _walk(raw: Any, done: Any, path: list[Any], out: list[tuple[Path, str]]) -> None:
    """Append to ``out``, in document order, every (path, message) under ``raw``.

    One recursive function over a shared path list (copied only for a finding), not nested
    generators: a scenario is validated once per set, and ``scenario-sim explore`` validates
    every set again in every case, so this walk is on the explore's per-case path.
    """
    if isinstance(raw, dict):
        if isinstance(done, dict):
            for k, v in raw.items():
                if k in done and isinstance(v, _REPORTABLE):
                    path.append(k)
                    _walk(v, done[k], path, out)
                    path.pop()
        return
    if isinstance(raw, list):
        if isinstance(done, (list, tuple)) and len(done) == len(raw):
            for i, (a, b) in enumerate(zip(raw, done, strict=True)):
                if isinstance(a, _REPORTABLE):
                    path.append(i)
                    _walk(a, b, path, out)
                    path.pop()
        return
    _leaf(raw, done, path, out)


def coercions(doc: Any, validated: BaseModel) -> list[tuple[Path, str]]:
    """Every place where ``doc`` held a boolean or a text that ``validated`` reads as a number."""
    if not _suspects(doc):
        return []
    out: list[tuple[Path, str]] = []
    if isinstance(doc, _REPORTABLE):
        _walk(doc, validated.model_dump(by_alias=True), [], out)
    return out
