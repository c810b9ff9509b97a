"""Combined strikes: classes' participation on the same night shares a common factor.

The records show cruise and ballistic missiles on the same nights far more often than
independent draws give (2025-H1: 12.8% of nights against 6.4%; Fisher p < 1e-4 in each half
year from 2024), so each class may load on a night's common factor
(``classes[c].participation_loading``, calibrated).  These tests pin the law and its fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from scenario_sim.calibrate.estimate import fit_participation_loadings
from scenario_sim.lang.loader import validate_document
from scenario_sim.model import compile_scenario, simulate
from tests.helpers import minimal_doc


def _two_classes(load_a: float, load_b: float, p: float = 0.3) -> Any:
    d = minimal_doc()
    d["horizon_days"] = 200
    d["munitions"] = [{"name": "a", "unit_cost_usd": 1}, {"name": "b", "unit_cost_usd": 1}]
    d["attacker"]["arsenal"] = {c: {"initial_stock": 10**8, "production_per_day": 0} for c in "ab"}
    d["attacker"]["waves"]["classes"] = {
        "a": {"probability": p, "size": 10, "participation_loading": load_a},
        "b": {"probability": p, "size": 10, "participation_loading": load_b}}
    d["air_defense"]["systems"][0].update({"engages": ["a", "b"], "pk": {"a": 0.5, "b": 0.5}})
    d["consequences"]["hit_probability"] = {"a": 0.5, "b": 0.5}
    d["recommendations"] = []
    return validate_document(d, "<test>")


def _nights(s: Any, reps: int = 20) -> np.ndarray[Any, Any]:
    m = compile_scenario(s)
    out = []
    for r in range(reps):
        ts = simulate(m, 4, r, timeseries=True).timeseries
        assert ts is not None
        out.append(np.c_[ts["launched.a"] > 0, ts["launched.b"] > 0])
    return np.vstack(out)


def test_zero_loadings_are_the_independent_rule() -> None:
    x = _nights(_two_classes(0.0, 0.0))
    both = (x[:, 0] & x[:, 1]).mean()
    assert x.mean(axis=0) == pytest.approx([0.3, 0.3], abs=0.03)
    assert both == pytest.approx(0.09, abs=0.02)


def test_loadings_make_classes_come_together_and_keep_their_shares() -> None:
    x = _nights(_two_classes(0.9, 0.9))
    assert x.mean(axis=0) == pytest.approx([0.3, 0.3], abs=0.03)
    # latent correlation 0.81: P(both) = bivariate normal orthant probability
    t = stats.norm.ppf(0.3)
    expect = stats.multivariate_normal([0, 0], [[1, 0.81], [0.81, 1]]).cdf([t, t])
    assert (x[:, 0] & x[:, 1]).mean() == pytest.approx(expect, abs=0.02)
    assert expect > 0.2  # far from independence (0.09)


def test_loading_on_one_class_alone_changes_nothing_between_them() -> None:
    x = _nights(_two_classes(0.9, 0.0))
    assert (x[:, 0] & x[:, 1]).mean() == pytest.approx(0.09, abs=0.02)


def test_fit_recovers_loadings() -> None:
    rng = np.random.default_rng(2)
    n, load = 3000, np.array([0.8, 0.6, 0.0])
    p = np.array([0.3, 0.5, 0.9])
    z = rng.standard_normal(n)
    e = rng.standard_normal((n, 3))
    latent = load * z[:, None] + np.sqrt(1 - load ** 2) * e
    x = latent < stats.norm.ppf(p)
    fit = fit_participation_loadings(x, p, np.zeros(3), seed=0, n_boot=20)
    got = np.array(fit["loading"])
    # With one pair of dependent classes only the product of their loadings (their latent
    # correlation) is identified; the independent class gets a loading near 0.
    assert got[0] * got[1] == pytest.approx(0.48, abs=0.06)
    assert got[2] * got[:2].max() < 0.1
    lo, _hi = np.array(fit["loading_ci"]).T
    assert (lo[:2] > 0.3).all()


def test_loading_out_of_range_is_a_located_error() -> None:
    from scenario_sim.errors import ScenarioError
    d = minimal_doc()
    d["attacker"]["waves"]["classes"]["drone"]["participation_loading"] = 1.5
    with pytest.raises(ScenarioError) as exc:
        validate_document(d, "x.yaml")
    assert "participation_loading" in str(exc.value)


def test_screened_cdf_comparison_is_the_exact_one_bit_for_bit() -> None:
    """``below_normal_cdf`` (bounds from a grid of exact cdf values decide all but the uniforms
    between them) gives exactly ``u < _normal_cdf(x)``, the comparison the model made with
    ``math.erfc`` on every value: on random pairs, on grid points and the far tails, and on
    uniforms placed on the exact cdf, one float either side of it and just inside and outside
    the grid's slack, where only the exact value can decide."""
    from scenario_sim.model.attacker import _GRID_FROM, _GRID_STEP, _normal_cdf, below_normal_cdf

    rng = np.random.default_rng(5)
    on_grid = _GRID_FROM + _GRID_STEP * rng.integers(-50, 18 * 1024 + 50, 5000)
    x = np.concatenate([rng.normal(0, 2, 200_000), rng.uniform(-40, 40, 20_000), on_grid,
                        [0.0, -0.0, 8.3, -8.3, 38.0, -38.0, _GRID_FROM, -_GRID_FROM]])
    u = rng.random(x.shape[0])
    exact = _normal_cdf(x)
    assert np.array_equal(below_normal_cdf(u, x), u < exact)
    for v in (exact, np.nextafter(exact, 1.0), np.nextafter(exact, 0.0)):
        assert np.array_equal(below_normal_cdf(v, x), v < exact)
    for delta in (5e-10, 2e-9, 1e-6, 1e-3):
        for v in (exact + delta, exact - delta):
            assert np.array_equal(below_normal_cdf(v, x), v < exact)
    # several classes at once (the model stacks them): shape kept, exact path included
    x2 = x[:3000].reshape(3, 1000)
    e2 = exact[:3000].reshape(3, 1000)
    for u2 in (u[:3000].reshape(3, 1000), e2, np.nextafter(e2, 0.0)):
        got = below_normal_cdf(u2, x2)
        assert got.shape == (3, 1000) and np.array_equal(got, u2 < e2)
