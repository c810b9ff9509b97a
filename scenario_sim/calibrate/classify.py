"""Mapping munition model names to scenario classes (rules shipped in ``classes.yaml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from scenario_sim.errors import DataError


@dataclass
class Mapping:
    rules: list[tuple[str, re.Pattern[str]]]
    exclude: set[str]

    @property
    def classes(self) -> list[str]:
        return list(dict.fromkeys(c for c, _ in self.rules))

    def classify(self, model: str) -> tuple[str | None, str | None]:
        """(class, problem): problem is 'unknown' or 'mixed:a+b' when no single class applies."""
        parts = [p.strip() for p in re.split(r"\s+and\s+", model) if p.strip()]
        if not parts:
            return None, "unknown"
        found = []
        for part in parts:
            cls = next((c for c, pat in self.rules if pat.search(part)), None)
            if cls is None:
                return None, "unknown"
            found.append(cls)
        distinct = list(dict.fromkeys(found))
        if len(distinct) > 1:
            return None, "mixed:" + "+".join(distinct)
        return distinct[0], None


def load_mapping(path: str | Path | None = None) -> Mapping:
    """The shipped mapping, or a user's YAML file with the same layout."""
    if path is None:
        text = resources.files("scenario_sim.calibrate").joinpath("classes.yaml").read_text(encoding="utf-8")
        name = "classes.yaml (shipped)"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"{path}: cannot read the class mapping ({exc.strerror})") from None
        name = str(path)
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # PyYAML's message spans several lines; keep one, located at its mark.
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataError(f"{name}{where}: invalid YAML ({what})") from None
    if not isinstance(data, dict) or not isinstance(data.get("classes"), dict):
        raise DataError(f"{name}: classes: expected a mapping of class name -> list of patterns")
    rules = []
    for cls, pats in data["classes"].items():
        if not isinstance(pats, list) or not all(isinstance(p, str) for p in pats):
            raise DataError(f"{name}: classes.{cls}: expected a list of patterns")
        for pat in pats:
            try:
                rules.append((str(cls), re.compile(pat, re.IGNORECASE)))
            except re.error as exc:
                raise DataError(f"{name}: classes.{cls}: bad pattern {pat!r} ({exc})") from None
    exclude = data.get("exclude", [])
    if not isinstance(exclude, list):
        raise DataError(f"{name}: exclude: expected a list of class names")
    return Mapping(rules, {str(x) for x in exclude})
