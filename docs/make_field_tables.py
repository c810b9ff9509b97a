"""Regenerate the field tables of docs/scenario-language.md from the schema.

    python docs/make_field_tables.py > /tmp/tables.md   # then paste between the markers

tests/test_docs.py checks that every field of the schema appears in the document.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from scenario_sim.lang import schema as S

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("(top level)", S.Scenario), ("munitions[]", S.Munition), ("contacts", S.Contacts),
    ("contacts.scheduled[]", S.ScheduledContact), ("contacts.scheduled[].response", S.ForcedResponse),
    ("contacts.stochastic", S.StochasticContacts),
    ("attacker", S.Attacker), ("attacker.arsenal.<class>", S.Arsenal), ("attacker.waves", S.Waves),
    ("attacker.waves.classes.<class>", S.ClassWave), ("attacker.surge", S.Surge), ("attacker.pause", S.Pause),
    ("attacker.targets", S.TargetMix),
    ("air_defense", S.AirDefense), ("air_defense.readiness", S.Readiness),
    ("air_defense.readiness.after_contact", S.ReadinessAfterContact),
    ("air_defense.readiness.early_warning", S.EarlyWarning), ("air_defense.systems[]", S.System),
    ("air_defense.systems[].interceptors", S.Interceptors),
    ("air_defense.systems[].interceptors.resupply", S.Resupply), ("air_defense.systems[].doctrine", S.Doctrine),
    ("sanctions", S.Sanctions), ("sanctions.levers[]", S.Lever), ("consequences", S.Consequences),
    ("consequences.energy", S.Energy), ("consequences.civil_defense", S.CivilDefense),
    ("consequences.civil_defense.after_contact", S.AfterContact), ("outputs", S.Outputs),
    ("outputs.objectives", S.Objectives), ("recommendations[]", S.Recommendation),
    ("recommendations[].cost", S.Cost), ("costs[]", S.SetCost), ("uncertainties[]", S.Uncertainty),
    ("uncertainties[].range (uniform)", S.UniformRange), ("uncertainties[].range (triangular)", S.TriangularRange),
    ("uncertainties[].range (loguniform)", S.LogUniformRange), ("uncertainties[].range (discrete)", S.DiscreteRange),
    ("worlds[]", S.WorldView),
]


def number(v: Any) -> str:
    """A bound as written in a scenario file: 3650, 0.01, 1e+12."""
    if isinstance(v, (int, float)) and float(v).is_integer() and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.3g}"


def bound_text(c: Any) -> str:
    out = ""
    for k, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("max_length", "items ≤")):
        if getattr(c, k, None) is not None:
            out += f" {sym} {number(getattr(c, k))}"
    return out


def type_name(tp: Any) -> str:
    if tp == S.Distribution:
        return "distribution"
    if tp == S.Range or tp == typing.get_args(S.Range)[0]:
        return "range (uniform, triangular, loguniform or discrete)"
    if tp == S.Probability:
        return "probability [0, 1]"
    if tp == S.DateOrOffset:
        return "date or day offset"
    if tp == S.Name:
        return "name"
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        args = typing.get_args(tp)
        out = type_name(args[0])
        for meta in args[1:]:
            for c in getattr(meta, "metadata", []):
                out += bound_text(c)
        return out
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return " or ".join(type_name(a) for a in args) + (" (optional)" if len(args) < len(typing.get_args(tp)) else "")
    if origin is list:
        return f"list of {type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"map class → {type_name(typing.get_args(tp)[1])}"
    if origin is typing.Literal:
        return " \\| ".join(repr(x) for x in typing.get_args(tp))
    if isinstance(tp, type):
        return {"float": "number", "int": "whole number", "str": "text", "bool": "true/false",
                "date": "date"}.get(tp.__name__, f"section ({tp.__name__})")
    return str(tp)


def default_text(f: Any) -> str:
    if f.default is PydanticUndefined and f.default_factory is None:
        return "**required**"
    if f.default_factory is not None:
        return "0" if f.alias is None and "lead" in str(f.description) else "(empty)"
    if isinstance(f.default, BaseModel):
        return "(defaults)"
    if f.default is None:
        return "none"
    if f.default == "":
        return '""'
    return f"`{f.default}`"


def tables() -> str:
    out = []
    for title, model in SECTIONS:
        out.append(f"### `{title}`\n")
        if model.__doc__:
            out.append(model.__doc__.strip().splitlines()[0] + "\n")
        out.append("| field | type | default | meaning |\n|---|---|---|---|")
        for name, f in model.model_fields.items():
            kind = type_name(f.annotation) + "".join(bound_text(c) for c in f.metadata)
            cells = [f"`{f.alias or name}`", kind, default_text(f), f.description or ""]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(tables())
