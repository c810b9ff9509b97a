"""Air-defence layers whose kill probability depends on the wave's size (``System.density``).

The records show the drones' leak fraction flat or falling with the night's size (issue 11),
where a fixed-capacity layer would let more through on big nights.  These tests pin what
the mechanism does and that calibrate recovers it from nightly counts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from scenario_sim.calibrate.estimate import fit_density
from scenario_sim.cli import main
from scenario_sim.model import compile_scenario, simulate
from tests.helpers import minimal_doc, one_layer, write


def _leak_by_size(s: Any, reps: int = 30) -> dict[int, float]:
    """Leak fraction per wave size over every wave of ``reps`` replications."""
    m = compile_scenario(s)
    launched: dict[int, int] = {}
    leaked: dict[int, int] = {}
    for r in range(reps):
        for w in simulate(m, 11, r, trace=True).waves or []:
            n = w.launched[0]
            launched[n] = launched.get(n, 0) + n
            leaked[n] = leaked.get(n, 0) + w.leaked[0]
    return {n: leaked[n] / launched[n] for n in launched if launched[n]}


def test_zero_exponent_changes_nothing() -> None:
    size = {"dist": "uniform", "low": 10, "high": 400}
    plain = one_layer(0.6, size=size)
    flat = one_layer(0.6, size=size, density={"reference_wave_munitions": 100, "survival_exponent": {"drone": 0.0}})
    for r in range(5):
        assert simulate(plain, 1, r).outcomes == simulate(flat, 1, r).outcomes


def test_survival_follows_the_power_law_of_wave_size() -> None:
    """Leak fraction on waves of size n is (1 - pk) * (n / ref)^b, held inside [min, max]."""
    pk, ref, b = 0.7, 100.0, -0.5
    for n, expect_n in ((25, 50.0), (100, 100.0), (400, 400.0), (1600, 400.0)):
        s = one_layer(pk, size=n, density={"reference_wave_munitions": ref, "min_wave_munitions": 50,
                                           "max_wave_munitions": 400, "survival_exponent": {"drone": b}})
        got = _leak_by_size(s, reps=20)[n]
        expect = (1 - pk) * (expect_n / ref) ** b
        # 20 replications x 30 waves x n munitions: binomial standard error
        se = math.sqrt(expect * (1 - expect) / (20 * 30 * n))
        assert abs(got - expect) < 4 * se + 1e-9, (n, got, expect)


def test_larger_waves_leak_less_with_a_negative_exponent_and_draws_stay_aligned() -> None:
    size = {"dist": "uniform", "low": 10, "high": 400}
    s = one_layer(0.6, size=size, density={"reference_wave_munitions": 100, "survival_exponent": {"drone": -0.4}})
    lf = _leak_by_size(s)
    small = np.mean([v for n, v in lf.items() if n < 60])
    large = np.mean([v for n, v in lf.items() if n > 300])
    assert large < small * 0.6
    # The same uniforms decide every munition: a stronger layer can only kill more (monotone coupling).
    weak = one_layer(0.5, size=size, density={"reference_wave_munitions": 100, "survival_exponent": {"drone": -0.4}})
    for r in range(5):
        assert simulate(s, 2, r).outcomes["leaked.total"] <= simulate(weak, 2, r).outcomes["leaked.total"]
        assert simulate(s, 2, r).outcomes["launched.total"] == simulate(weak, 2, r).outcomes["launched.total"]


@pytest.mark.parametrize("layer, message", [
    ({"interceptors": {"initial_stock": 10}, "density": {"reference_wave_munitions": 10}},
     "only a layer without interceptors can have a wave-size-dependent pk"),
    ({"doctrine": {"mode": "shoot_look_shoot", "shots_per_target": 2}, "density": {"reference_wave_munitions": 10}},
     "only a salvo layer can have a wave-size-dependent pk"),
    ({"density": {"reference_wave_munitions": 10, "survival_exponent": {"cruise": -0.1}}},
     "class 'cruise' has an exponent but is not in engages"),
    ({"density": {"reference_wave_munitions": 10, "min_wave_munitions": 50, "max_wave_munitions": 5}},
     "must be <= max_wave_munitions"),
    ({"density": {"reference_wave_munitions": 0}}, "reference_wave_munitions"),
    ({"density": {"reference_wave_munitions": 10, "survival_exponent": {"drone": 9}}}, "survival_exponent"),
])
def test_bad_density_is_one_located_line(tmp_path: Path, capsys: Any, layer: dict[str, Any], message: str) -> None:
    d = minimal_doc()
    d["air_defense"]["systems"][0].update(layer)
    p = write(tmp_path, "x.yaml", yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(p)])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "Traceback" not in err
    assert any(ln.startswith(f"{p}:") and "density" in ln and message in ln for ln in err.splitlines()), err


def test_fit_density_recovers_a_known_exponent() -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(20, 500, 400).astype(float)
    s0, b, ref = 0.3, -0.3, float(np.median(n))
    surv = rng.binomial(n.astype(int), s0 * (n / ref) ** b).astype(float)
    fit = fit_density(n, surv, n, seed=1, n_boot=100)
    assert fit["reference_wave_munitions"] == ref
    assert fit["survival_at_reference"] == pytest.approx(s0, abs=0.01)
    lo, hi = fit["survival_exponent_ci"]
    assert lo < b < hi and hi - lo < 0.1
    flat = fit_density(n, rng.binomial(n.astype(int), 0.3).astype(float), n, seed=1, n_boot=100)
    lo, hi = flat["survival_exponent_ci"]
    assert lo < 0 < hi
