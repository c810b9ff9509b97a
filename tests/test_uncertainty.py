"""The `uncertainties:` and `worlds:` sections: located errors, applicability, inverse CDFs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from scenario_sim.lang import load_scenario
from scenario_sim.lang.schema import DiscreteRange, LogUniformRange, TriangularRange, UniformRange
from scenario_sim.lang.uncertainty import applies, apply_values, lookup, ppf, world_document
from tests.helpers import write
from tests.test_lang import run_cli

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = (ROOT / "scenarios" / "minimal.yaml").read_text()

GOOD = """
worlds:
  - name: calm
    weight: 2
    changes:
      attacker.waves.classes.drone.probability: 0.4
  - name: pausing
    changes:
      attacker.pause: {probability: 0.5, duration_days: 3}
uncertainties:
  - name: pk
    path: air_defense.systems.guns.pk.drone
    range: {dist: uniform, low: 0.3, high: 0.9}
    description: kill probability
    source: "[assumption]"
  - name: stock
    path: attacker.arsenal.drone.initial_stock
    range: {dist: loguniform, low: 0.5, high: 2}
    scale: true
    description: stock factor
    source: "[assumption]"
  - name: pause_length
    path: attacker.pause.duration_days
    range: {dist: discrete, values: [1, 5, 10]}
    description: pause length
    source: "[assumption]"
"""


def _errors(tmp_path: Path, capsys: Any, extra: str) -> tuple[list[str], list[str]]:
    text = MINIMAL + extra
    p = write(tmp_path, "x.yaml", text)
    code, _, err = run_cli(["validate", str(p)], capsys)
    assert code == 2 and "Traceback" not in err
    return err.strip().splitlines(), text.splitlines()


def _line(lines: list[str], needle: str, nth: int = 0) -> int:
    return [i for i, t in enumerate(lines, 1) if needle in t][nth]


def _one(name: str, path: str, rng: str, scale: bool = False) -> str:
    return (f"uncertainties:\n  - name: {name}\n    path: {path}\n    range: {rng}\n"
            + ("    scale: true\n" if scale else "") + "    description: d\n    source: s\n")


def test_a_good_ensemble_validates_and_applies_where_its_path_is_set(tmp_path: Path) -> None:
    loaded = load_scenario(write(tmp_path, "x.yaml", MINIMAL + GOOD))
    where = applies(loaded.document, loaded.baseline, loaded.path)
    assert where == {"calm": [True, True, False], "pausing": [True, True, True]}
    doc = world_document(loaded.document, "pausing", loaded.path)
    case = apply_values(doc, loaded.baseline.uncertainties, [0.5, 1.5, 5.0])
    assert lookup(case, "air_defense.systems.guns.pk.drone") == 0.5
    assert lookup(case, "attacker.arsenal.drone.initial_stock") == 1500  # an integer field stays whole
    assert lookup(case, "attacker.pause.duration_days") == 5.0
    assert lookup(loaded.document, "attacker.arsenal.drone.initial_stock") == 1000  # the baseline is untouched


def test_an_unknown_path_is_located_with_did_you_mean(tmp_path: Path, capsys: Any) -> None:
    errs, text = _errors(tmp_path, capsys, _one("x", "air_defense.systems.gunz.pk.drone",
                                                "{dist: uniform, low: 0, high: 1}"))
    n = _line(text, "path: air_defense")
    assert errs == [f"{tmp_path}/x.yaml:{n}:11: uncertainties[x].path: no item named 'gunz' in "
                    "air_defense.systems (did you mean 'guns'?)"]


def test_an_unknown_field_is_located(tmp_path: Path, capsys: Any) -> None:
    errs, text = _errors(tmp_path, capsys, _one("x", "consequences.energy.los_per_hit",
                                                "{dist: uniform, low: 0, high: 1}"))
    assert errs == [f"{tmp_path}/x.yaml:{_line(text, 'los_per_hit')}:11: uncertainties[x].path: "
                    "consequences.energy has no field 'los_per_hit' (did you mean 'loss_per_hit'?)"]


def test_a_non_numeric_field_is_located(tmp_path: Path, capsys: Any) -> None:
    errs, text = _errors(tmp_path, capsys, _one("x", "attacker.surge.enabled", "{dist: discrete, values: [0, 1]}"))
    assert errs == [f"{tmp_path}/x.yaml:{_line(text, 'surge.enabled')}:11: uncertainties[x].path: "
                    "attacker.surge.enabled is not a number (it is bool); only numbers can be uncertain inputs"]


def test_a_path_that_stops_at_a_section_is_one_error_not_two(tmp_path: Path, capsys: Any) -> None:
    # the first input names a whole mapping; the second, under it, is right and must not be reported
    # as "a single value" because the first one's check wrote over the section
    two = (_one("x", "air_defense.systems.guns.pk", "{dist: uniform, low: 0, high: 1}")
           + _one("y", "air_defense.systems.guns.pk.drone", "{dist: uniform, low: 0.3, high: 0.9}")
           .removeprefix("uncertainties:\n"))
    errs, text = _errors(tmp_path, capsys, two)
    assert errs == [f"{tmp_path}/x.yaml:{_line(text, 'path: air_defense.systems.guns.pk')}:11: uncertainties[x].path: "
                    "air_defense.systems.guns.pk is not a number (it is dict); only numbers can be uncertain inputs"]


def test_a_range_outside_the_fields_bounds_is_located_at_its_end(tmp_path: Path, capsys: Any) -> None:
    errs, text = _errors(tmp_path, capsys, _one("x", "air_defense.systems.guns.pk.drone",
                                                "{dist: uniform, low: 0.2, high: 1.3}"))
    n = _line(text, "range: {dist: uniform")
    assert errs == [f"{tmp_path}/x.yaml:{n}:44: uncertainties[x].range: high = 1.3 puts "
                    "air_defense.systems[guns].pk.drone outside its bounds: must be between 0 and 1 (got 1.3)"]


def test_a_scale_range_is_checked_against_the_baseline_value(tmp_path: Path, capsys: Any) -> None:
    # energy loss 0.01 per hit: a factor of 200 makes it 2, outside [0, 1]
    errs, text = _errors(tmp_path, capsys, _one("x", "consequences.energy.loss_per_hit",
                                                "{dist: loguniform, low: 0.5, high: 200}", scale=True))
    n = _line(text, "range: {dist: loguniform")
    assert len(errs) == 1 and errs[0].startswith(f"{tmp_path}/x.yaml:{n}:47: uncertainties[x].range: high = 200 "
                                                 "puts consequences.energy.loss_per_hit outside its bounds")


def test_a_bad_discrete_value_is_located_at_that_value(tmp_path: Path, capsys: Any) -> None:
    errs, text = _errors(tmp_path, capsys, _one("x", "attacker.arsenal.drone.initial_stock",
                                                "{dist: discrete, values: [10, -5, 20]}"))
    n = _line(text, "values: [10, -5")
    assert errs == [f"{tmp_path}/x.yaml:{n}:42: uncertainties[x].range: values[1] = -5 puts "
                    "attacker.arsenal.drone.initial_stock outside its bounds: must be >= 0.0 (got -5.0)"]


def test_an_unknown_range_kind_and_an_inverted_range(tmp_path: Path, capsys: Any) -> None:
    errs, _ = _errors(tmp_path, capsys, _one("x", "consequences.hit_probability.drone", "{dist: normal, low: 0}"))
    assert len(errs) == 1 and "uncertainties[x].range: unknown distribution 'normal'" in errs[0]
    errs, _ = _errors(tmp_path, capsys, _one("x", "consequences.hit_probability.drone",
                                             "{dist: uniform, low: 0.9, high: 0.1}"))
    assert len(errs) == 1 and errs[0].endswith("uncertainties[x].range.high: must be >= low (0.9)")


def test_a_path_set_nowhere_is_an_error(tmp_path: Path, capsys: Any) -> None:
    errs, _ = _errors(tmp_path, capsys, _one("x", "attacker.pause.duration_days", "{dist: uniform, low: 1, high: 2}"))
    assert len(errs) == 1 and "attacker.pause.duration_days is not set in the baseline or any world" in errs[0]


def test_a_distribution_cannot_be_scaled_but_can_be_fixed(tmp_path: Path, capsys: Any) -> None:
    errs, _ = _errors(tmp_path, capsys, _one("x", "attacker.waves.classes.drone.size",
                                             "{dist: uniform, low: 1, high: 2}", scale=True))
    assert len(errs) == 1 and "is a distribution, so it cannot be scaled" in errs[0]
    load_scenario(write(tmp_path, "ok.yaml", MINIMAL + _one("x", "attacker.waves.classes.drone.size",
                                                            "{dist: discrete, values: [5, 10]}")))


def test_a_bad_world_patch_is_located(tmp_path: Path, capsys: Any) -> None:
    extra = "worlds:\n  - name: w\n    changes:\n      attacker.surge.probabilty: 0.3\n"
    errs, text = _errors(tmp_path, capsys, extra)
    assert errs == [f"{tmp_path}/x.yaml:{_line(text, 'probabilty')}:34: worlds[w].changes.attacker.surge.probabilty: "
                    "attacker.surge has no field 'probabilty' (did you mean 'probability'?)"]


def test_a_world_that_makes_an_invalid_scenario_is_located(tmp_path: Path, capsys: Any) -> None:
    extra = "worlds:\n  - name: w\n    changes:\n      consequences.hit_probability.drone: 2\n"
    errs, text = _errors(tmp_path, capsys, extra)
    assert errs == [f"{tmp_path}/x.yaml:{_line(text, 'hit_probability.drone: 2')}:43: worlds[w] -> "
                    "consequences.hit_probability.drone: must be between 0 and 1 (got 2)"]


def test_duplicate_and_zero_weight_worlds(tmp_path: Path, capsys: Any) -> None:
    extra = "worlds:\n  - {name: w, weight: 0}\n  - {name: w, weight: 0}\n"
    errs, _ = _errors(tmp_path, capsys, extra)
    assert any("worlds[w].name: duplicate world 'w'" in e for e in errs)
    assert any("worlds: weights must not all be zero" in e for e in errs)


def test_the_reference_ships_the_three_required_worlds(reference: Any) -> None:
    names = [w.name for w in reference.baseline.worlds]
    assert {"no_pattern", "smokescreen", "restraint"} <= set(names)
    for u in reference.baseline.uncertainties:
        assert u.description and u.source.startswith("[")


@pytest.mark.parametrize("r,dist", [
    (UniformRange(dist="uniform", low=2, high=5), stats.uniform(2, 3)),
    (TriangularRange(dist="triangular", low=0, mode=1, high=4), stats.triang(0.25, 0, 4)),
    (LogUniformRange(dist="loguniform", low=0.5, high=2), stats.loguniform(0.5, 2)),
])
def test_ppf_matches_scipy(r: Any, dist: Any) -> None:
    u = np.linspace(0.01, 0.99, 33)
    assert np.allclose(ppf(r, u), dist.ppf(u))


def test_discrete_values_are_equally_likely() -> None:
    u = (np.arange(3000) + 0.5) / 3000
    v = ppf(DiscreteRange(dist="discrete", values=[1, 5, 10]), u)
    assert [int((v == x).sum()) for x in (1, 5, 10)] == [1000, 1000, 1000]
