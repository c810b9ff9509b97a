"""Hit probabilities from the records' ``num_hit_location`` (issue 11.3, consequences)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from scenario_sim.calibrate.estimate import MIN_HIT_NIGHTS, hits_per_leaker

ROOT = Path(__file__).resolve().parent.parent


def _rows(nights: int, p_hit: float, seed: int = 0, hits_known: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.integers(50, 300, nights)
    d = rng.binomial(n, 0.6)
    e = rng.binomial(n - d, 0.5)
    leak = n - d - e
    h = rng.binomial(leak, p_hit).astype(float) if hits_known else np.full(nights, np.nan)
    return pd.DataFrame({"date": pd.date_range("2025-01-01", periods=nights), "launched": n,
                         "destroyed": d.astype(float), "not_reach_goal": e.astype(float), "hits": h})


def test_hits_per_leaker_recovers_the_hit_probability() -> None:
    out = hits_per_leaker(_rows(200, 0.3))
    assert out["usable"] and out["nights"] == 200
    lo, hi = out["hits_per_leaker_ci"]
    assert lo < 0.3 < hi and hi - lo < 0.05
    assert out["hits_per_leaker"] == pytest.approx(out["hits"] / out["leakers"])


def test_too_few_nights_or_no_hit_reports_leave_the_assumption() -> None:
    assert not hits_per_leaker(_rows(MIN_HIT_NIGHTS - 1, 0.3))["usable"]
    none = hits_per_leaker(_rows(100, 0.3, hits_known=False))
    assert not none["usable"] and none["nights"] == 0


def test_shipped_calibration_measures_shahed_hits_and_the_assumption_lies_inside() -> None:
    from scenario_sim.lang import load_scenario
    cal = json.loads((ROOT / "scenarios" / "calibration" / "calibration.json").read_text())
    frag = yaml.safe_load((ROOT / "scenarios" / "calibration" / "fragment.yaml").read_text())
    h = cal["hits"]["shahed"]
    assert h["usable"] and h["nights"] >= MIN_HIT_NIGHTS
    lo, hi = h["hits_per_leaker_ci"]
    assumed = load_scenario(ROOT / "scenarios" / "reference.yaml").baseline.consequences.hit_probability["shahed"]
    assert lo <= assumed <= hi  # if a re-calibration moves the interval off 0.35, revisit the reference
    assert "consequences" not in frag  # windows without hit reports must still complete the scenario
    # missiles: no hit locations in the national reports
    assert not cal["hits"]["cruise"]["usable"] and not cal["hits"]["ballistic"]["usable"]
