"""explore's per-case build: the fast path (validated once per world) equals the full path."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from scenario_sim.bundled import resolve
from scenario_sim.errors import ScenarioError
from scenario_sim.experiment.ensemble import _payload, case_seed, plan_explore
from scenario_sim.lang import load_scenario
from scenario_sim.lang.cases import CaseBuilder
from scenario_sim.model.compiled import compile_scenario
from scenario_sim.model.simulation import simulate
from tests.helpers import write

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = (ROOT / "scenarios" / "minimal.yaml").read_text()


def _builders(scenario: Any, tmp: Path, cases: int) -> tuple[Any, list[CaseBuilder]]:
    plan = plan_explore(scenario, cases=cases, replications=1, out=tmp)
    p = _payload(plan.loaded, plan.sets, plan.worlds, plan.inputs, plan.values, 1, plan.seed,
                 [o.name for o in plan.outcomes])
    return p, [CaseBuilder(p.world_docs[w], p.file, p.set_names, p.inputs, p.applicable[w]) for w in p.worlds]


def _values(p: Any, w: str, case: int) -> list[float]:
    return [v if ok else math.nan for v, ok in zip(p.values[case], p.applicable[w], strict=True)]


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert list(a) == list(b)
    for name in a:
        assert a[name] == b[name], name
        assert a[name].model_dump() == b[name].model_dump(), name


def test_reference_every_world_and_set(tmp_path: Path) -> None:
    """The reference's sampled cases, every world and set: equal scenarios, equal replications,
    and every build served by the fast path (else explore would silently pay the full price)."""
    p, builders = _builders(resolve(None), tmp_path, 6)
    for w, b in zip(p.worlds, builders, strict=True):
        for c in range(6):
            vals = _values(p, w, c)
            fast, full = b.build(vals), b.full(vals)
            _same(fast, full)
            if c == 0:
                for name in fast:
                    r1 = simulate(compile_scenario(fast[name]), case_seed(p.seed, c), 0)
                    r2 = simulate(compile_scenario(full[name]), case_seed(p.seed, c), 0)
                    assert r1.outcomes == r2.outcomes and r1.draws == r2.draws
        assert b.fast == 6, w


EDGES = """
  - name: override
    changes:
      air_defense.systems.guns.pk.drone: 0.7
  - name: more_guns
    scale:
      air_defense.systems.guns.capacity_per_wave: 1.37
  - name: both
    include: [more_guns, override]
uncertainties:
  - name: pk
    path: air_defense.systems.guns.pk.drone
    range: {dist: uniform, low: 0.3, high: 0.9}
    description: kill probability
    source: "[assumption]"
  - name: capacity
    path: air_defense.systems.guns.capacity_per_wave
    range: {dist: loguniform, low: 0.5, high: 2}
    scale: true
    description: capacity factor (a whole number, rounded, then scaled and rounded again)
    source: "[assumption]"
  - name: lag
    path: attacker.surge.lag_days
    range: {dist: discrete, values: [0, 2, 3]}
    description: a distribution field taking a fixed number
    source: "[assumption]"
  - name: hit
    path: consequences.hit_probability.drone
    range: {dist: uniform, low: 0.1, high: 0.9}
    description: a leaf in a mapping
    source: "[assumption]"
"""


def _minimal_with(tmp_path: Path, recs: str) -> Any:
    text = MINIMAL.replace("""    changes:
      air_defense.systems.guns.pk.drone: 0.7
""", """    changes:
      air_defense.systems.guns.pk.drone: 0.7
""" + recs)
    return load_scenario(write(tmp_path, "edges.yaml", text))


def test_sets_on_an_inputs_path(tmp_path: Path) -> None:
    """A set that overrides an input, one that scales an integer input (rounding twice), a bundle
    of both, a distribution field set to a number, a leaf in a mapping: the fast path, equal."""
    p, (b,) = _builders(_minimal_with(tmp_path, EDGES), tmp_path, 12)
    for c in range(12):
        vals = _values(p, p.worlds[0], c)
        fast = b.build(vals)
        _same(fast, b.full(vals))
        assert fast["override"].air_defense.systems[0].pk["drone"] == 0.7
    assert b.fast == 12


def test_a_set_on_a_section_above_an_input_takes_the_full_path(tmp_path: Path) -> None:
    """A set that writes the mapping holding an input's leaf merges into it: not the fast path's
    argument, so the builder takes the full path for that world, with equal results."""
    recs = EDGES.replace("""    changes:
      air_defense.systems.guns.pk.drone: 0.7
  - name: more_guns""", """    changes:
      air_defense.systems.guns.pk: {drone: 0.7}
  - name: more_guns""", 1)
    p, (b,) = _builders(_minimal_with(tmp_path, recs), tmp_path, 4)
    for c in range(4):
        vals = _values(p, p.worlds[0], c)
        _same(b.build(vals), b.full(vals))
    assert b.fast == 0


def _raises_same(b: CaseBuilder, vals: list[float]) -> list[str]:
    with pytest.raises(ScenarioError) as fast:
        b.build(vals)
    with pytest.raises(ScenarioError) as full:
        b.full(vals)
    assert fast.value.lines() == full.value.lines()
    return fast.value.lines()


def test_bad_values_give_the_full_paths_located_errors(tmp_path: Path) -> None:
    """Values the ranges would never give (a probability above 1, a capacity over its bound, a lag
    below 0): the fast path declines and the located errors are the full path's, line for line."""
    p, (b,) = _builders(_minimal_with(tmp_path, EDGES), tmp_path, 2)
    good = _values(p, p.worlds[0], 0)
    b.build(good)
    names = [u.name for u in p.inputs]
    for name, bad in (("pk", 1.5), ("hit", -0.2), ("capacity", 1e12), ("lag", -1.0)):
        vals = list(good)
        vals[names.index(name)] = bad
        lines = _raises_same(b, vals)
        assert lines and all("edges.yaml:" in line for line in lines), lines
    assert b.fast == 1
