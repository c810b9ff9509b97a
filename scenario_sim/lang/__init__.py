"""The scenario language: YAML with marks, the typed schema, patches and the loader."""

from scenario_sim.lang.checks import BASELINE
from scenario_sim.lang.loader import LoadedScenario, dump_scenario, load_scenario, load_text_scenario
from scenario_sim.lang.schema import Scenario

__all__ = [
    "BASELINE",
    "LoadedScenario",
    "Scenario",
    "dump_scenario",
    "json_schema",
    "load_scenario",
    "load_text_scenario",
]


def json_schema() -> dict[str, object]:
    """JSON Schema (draft 2020-12) of the scenario language, for editors and CI checks.

    Distributions accept a bare number as well as a ``{dist: ...}`` mapping, and a file may
    start with ``extends``; both are added here because pydantic only sees validated types.
    """
    schema = Scenario.model_json_schema(by_alias=True)

    def walk(node: object) -> object:
        if isinstance(node, dict):
            disc = node.get("discriminator")
            if isinstance(disc, dict) and disc.get("propertyName") == "dist" and "oneOf" in node:
                inner = {k: walk(v) for k, v in node.items() if k not in ("description", "title", "default")}
                outer: dict[str, object] = {"anyOf": [{"type": "number"}, inner]}
                for k in ("description", "title", "default"):
                    if k in node:
                        outer[k] = node[k]
                return outer
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = walk(schema)
    assert isinstance(out, dict)
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    props = out.setdefault("properties", {})
    assert isinstance(props, dict)
    props["extends"] = {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "description": "file(s) this scenario extends: a .yaml/.yml path relative to this file, or the "
                       "name of a bundled scenario (e.g. reference)",
    }
    return out
