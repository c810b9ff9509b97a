"""Small helpers shared by tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from scenario_sim.lang.loader import validate_document
from scenario_sim.lang.schema import Scenario

ROOT = Path(__file__).resolve().parent.parent


def minimal_doc() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "scenarios" / "minimal.yaml").read_text()))


def one_layer(pk: float, capacity: int = 10**6, stock: int | None = None, size: Any = 50,
              horizon: int = 30, probability: float = 1.0, **system: Any) -> Scenario:
    """A one-class, one-layer scenario for analytic checks."""
    d = minimal_doc()
    d["horizon_days"] = horizon
    d["attacker"]["arsenal"]["drone"] = {"initial_stock": 10**7, "production_per_day": 0}
    d["attacker"]["waves"]["classes"]["drone"] = {"probability": probability, "size": size}
    sysd: dict[str, Any] = {"name": "guns", "engages": ["drone"], "pk": {"drone": pk}, "capacity_per_wave": capacity}
    if stock is not None:
        sysd["interceptors"] = {"initial_stock": stock}
    sysd.update(system)
    d["air_defense"]["systems"] = [sysd]
    d["recommendations"] = []
    return validate_document(d, "<test>")


def with_changes(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out.update(changes)
    return out


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p
