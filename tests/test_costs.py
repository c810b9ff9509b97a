"""Costs in the scenario language, the cost outcomes, cost-effectiveness and objectives (issue 12.1)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from scenario_sim.analysis import costs
from scenario_sim.errors import ScenarioError
from scenario_sim.lang import load_scenario
from scenario_sim.model.simulation import simulate
from scenario_sim.outcomes import Outcome
from scenario_sim.stats import t_interval
from tests.helpers import ROOT, minimal_doc, write

CONTACTS = {"scheduled": [{"date": "2025-01-05"}, {"date": "2025-01-06"}, {"date": "2025-01-20"}]}


def costed_doc() -> dict[str, Any]:
    """The minimal scenario with three contacts and two costed contact rules."""
    d = minimal_doc()
    d["contacts"] = CONTACTS
    d["consequences"]["civil_defense"]["after_contact"] = {"enabled": False, "duration_days": 3}
    d["air_defense"]["readiness"] = {"baseline": 0.8, "after_contact": {"enabled": False, "duration_days": 2}}
    d["recommendations"] = [
        {"name": "alerts", "changes": {"consequences.civil_defense.after_contact.enabled": True},
         "cost": {"one_off_usd": 1000, "per_day_usd": 10, "per_burden_usd": {"alert_nights": 100}}},
        {"name": "ready", "changes": {"air_defense.readiness.after_contact.enabled": True},
         "cost": {"per_burden_usd": {"raised_readiness_nights": 7, "alert_nights": 300}}},
        {"name": "both", "include": ["alerts", "ready"]},
        {"name": "free", "changes": {"air_defense.systems.guns.pk.drone": 0.6}},
    ]
    return d


def _load(tmp_path: Path, doc: dict[str, Any]) -> Any:
    return load_scenario(write(tmp_path, "c.yaml", yaml.safe_dump(doc, sort_keys=False)))


def test_cost_outcomes_count_nights_and_add_up(tmp_path: Path) -> None:
    loaded = _load(tmp_path, costed_doc())
    h = loaded.baseline.horizon_days
    base = simulate(loaded.effective("baseline"), 1, 0, timeseries=True)
    assert base.outcomes["cost_usd"] == 0 and base.outcomes["burden.alert_nights"] == 0
    r = simulate(loaded.effective("alerts"), 1, 0, timeseries=True)
    assert r.timeseries is not None
    # contacts on days 4, 5 and 19 (midday), windows of 3 days: nights 4-7 and 19-21
    nights = int(r.timeseries["civil_defense_active"].sum())
    assert r.outcomes["burden.alert_nights"] == nights == 7
    assert r.outcomes["cost_usd"] == 1000 + 10 * h + 100 * nights
    ready = simulate(loaded.effective("ready"), 1, 0, timeseries=True)
    assert ready.timeseries is not None
    raised = int((ready.timeseries["readiness"] > 0.8).sum())
    assert ready.outcomes["burden.raised_readiness_nights"] == raised == 5
    assert ready.outcomes["cost_usd"] == 7 * raised  # no alert nights in this set
    both = simulate(loaded.effective("both"), 1, 0)
    # one-off and per-day costs add up; an alert night is paid once, at the highest price (300)
    assert both.outcomes["cost_usd"] == 1000 + 10 * h + 300 * nights + 7 * raised
    assert [c.set for c in loaded.effective("both").costs] == ["alerts", "ready"]


def test_a_scenario_without_costs_keeps_its_columns() -> None:
    loaded = load_scenario(ROOT / "scenarios" / "minimal.yaml")
    names = set(simulate(loaded.effective("better_guns"), 1, 0).outcomes)
    assert "cost_usd" not in names and not any(n.startswith("burden.") for n in names)


BAD_COSTS = [
    ({"one_off_usd": -5}, "recommendations[alerts].cost.one_off_usd: must be >= 0"),
    ({"per_burden_usd": {"alert_night": 5}}, "recommendations[alerts].cost.per_burden_usd.alert_night"),
    ({"per_dya_usd": 5}, "unknown field (did you mean 'per_day_usd'?)"),
    ({"per_day_usd": "lots"}, "expected a number (got 'lots')"),
]


@pytest.mark.parametrize(("cost", "message"), BAD_COSTS)
def test_bad_cost_entries_are_located(tmp_path: Path, cost: dict[str, Any], message: str) -> None:
    d = costed_doc()
    d["recommendations"][0]["cost"] = cost
    with pytest.raises(ScenarioError) as exc:
        _load(tmp_path, d)
    lines = exc.value.lines()
    assert any(message in line and line.startswith(f"{tmp_path / 'c.yaml'}:") for line in lines), lines


BAD_OBJECTIVES = [
    ({"weights": {"civilian_harms": 1}}, "outputs.objectives.weights.civilian_harms: unknown outcome "
     "'civilian_harms' (did you mean 'civilian_harm'?)"),
    ({"constraints": {"launched.total": 5}}, "no better direction"),
    ({"weights": {"cost_usd": -1}}, "must be >= 0"),
    ({"unit": "points"}, "give weights (an objective), constraints (caps), or both"),
]


@pytest.mark.parametrize(("objectives", "message"), BAD_OBJECTIVES)
def test_bad_objectives_are_located(tmp_path: Path, objectives: dict[str, Any], message: str) -> None:
    d = costed_doc()
    d["outputs"] = {"objectives": objectives}
    with pytest.raises(ScenarioError) as exc:
        _load(tmp_path, d)
    lines = exc.value.lines()
    assert any(message in line and ":" in line.split(" ")[0] for line in lines), lines


def test_cli_reports_a_bad_cost_in_one_line_with_status_2(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.cli import main

    d = costed_doc()
    d["recommendations"][1]["cost"]["per_burden_usd"] = {"raised_readiness_nights": -1}
    p = write(tmp_path, "bad.yaml", yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(p)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2
    assert len(err) == 1 and err[0].startswith(f"{p}:") and "per_burden_usd.raised_readiness_nights" in err[0]


# --------------------------------------------------------------------------- statistics by hand


def test_fixed_cost_ratio_is_the_t_interval_over_the_cost() -> None:
    b = np.array([3.0, 5.0, 4.0, 8.0, 5.0])
    c = np.full(5, 2e6)
    r = costs.ratio_interval(b, c, 0.95)
    lo, hi = t_interval(5.0, float(np.std(b, ddof=1)), 5, 0.95)
    assert r["method"] == "fixed cost"
    assert r["per_musd"] == pytest.approx(2.5)
    assert (r["per_musd_low"], r["per_musd_high"]) == pytest.approx((lo / 2, hi / 2))


def test_stochastic_cost_ratio_uses_the_delta_method() -> None:
    b = np.array([10.0, 12.0, 9.0, 14.0, 11.0, 13.0])
    c = np.array([1.0, 1.5, 0.9, 1.8, 1.2, 1.4]) * 1e6
    r = costs.ratio_interval(b, c, 0.95)
    n = b.size
    R = b.mean() / c.mean()
    # by hand: var(R) ~ (s_b^2 - 2 R s_bc + R^2 s_c^2) / (n mean(c)^2)
    sb2, sc2 = b.var(ddof=1), c.var(ddof=1)
    sbc = ((b - b.mean()) * (c - c.mean())).sum() / (n - 1)
    se = math.sqrt((sb2 - 2 * R * sbc + R * R * sc2) / n) / c.mean()
    from scipy import stats

    t = stats.t.ppf(0.975, n - 1)
    assert r["method"] == "delta method" and r["note"] == ""
    assert r["per_musd"] == pytest.approx(R * 1e6)
    assert (r["per_musd_low"], r["per_musd_high"]) == pytest.approx(((R - t * se) * 1e6, (R + t * se) * 1e6))


def test_zero_and_negative_added_costs_give_no_ratio() -> None:
    b = np.array([1.0, 2.0, 3.0])
    free = costs.ratio_interval(b, np.zeros(3), 0.95)
    assert free["method"] == "no added cost" and math.isnan(free["per_musd"])
    saves = costs.ratio_interval(b, np.array([-1.0, -2.0, -1.0]), 0.95)
    assert saves["method"] == "saves money" and math.isnan(saves["per_musd"])
    shaky = costs.ratio_interval(b, np.array([-1.0, 3.0, 0.5]), 0.95)
    assert shaky["method"] == "delta method" and "unreliable" in shaky["note"]


def _hand_run() -> Any:
    """A run of three sets and four replications, as the analysis reads it."""
    rows = []
    harm = {"baseline": [10, 12, 11, 13], "a": [8, 9, 9, 10], "b": [5, 6, 5, 7]}
    cost = {"baseline": [0, 0, 0, 0], "a": [1e6] * 4, "b": [3e6, 4e6, 3e6, 4e6]}
    energy = {"baseline": [0.8] * 4, "a": [0.9] * 4, "b": [0.7] * 4}
    for s in harm:
        for r in range(4):
            rows.append({"set": s, "replication": r, "error": None, "civilian_harm": float(harm[s][r]),
                         "cost_usd": cost[s][r], "energy.mean": energy[s][r]})
    outcomes = [Outcome("civilian_harm", "casualties", "lower", ""), Outcome("cost_usd", "USD", "lower", ""),
                Outcome("energy.mean", "fraction", "higher", "")]
    return SimpleNamespace(sets=["baseline", "a", "b"], outcomes=outcomes, frame=pd.DataFrame(rows), set_info={})


def test_cost_effectiveness_table_on_a_hand_run() -> None:
    ce = costs.cost_effectiveness(_hand_run())
    a = ce[(ce["set"] == "a")].iloc[0]
    assert a["method"] == "fixed cost" and a["per_musd"] == pytest.approx(2.5)  # 2.5 averted for $1m
    b = ce[(ce["set"] == "b")].iloc[0]
    assert b["method"] == "delta method" and b["per_musd"] == pytest.approx(5.75 / 3.5)


def test_objective_constraints_and_best_on_a_hand_run() -> None:
    obj = costs.Objectives("points", {"civilian_harm": 1.0, "cost_usd": 1e-6, "energy.mean": 10.0},
                           {"cost_usd": 2e6})
    t = costs.objective_table(_hand_run(), obj, "civilian_harm").set_index("set")
    # objective = harm + cost/1e6 - 10 * energy (higher energy is better, so it enters negatively)
    assert t.loc["baseline", "objective"] == pytest.approx(11.5 - 8.0)
    assert t.loc["a", "objective"] == pytest.approx(9.0 + 1.0 - 9.0)
    assert t.loc["b", "objective"] == pytest.approx(5.75 + 3.5 - 7.0)
    assert not t.loc["b", "feasible"] and t.loc["b", "violations"] == "cost_usd $3.50m > $2.00m"
    # b has the lowest objective but breaks the budget: the best feasible set is a
    assert list(t.index[t["best"]]) == ["a"]
    assert t.loc["a", "objective_diff"] == pytest.approx(1.0 - 3.5)


def test_reference_costs_are_sourced() -> None:
    """Every cost of the reference names its source or says it is an assumption."""
    loaded = load_scenario(ROOT / "scenarios" / "reference.yaml")
    costed = [r for r in loaded.baseline.recommendations if r.cost is not None]
    assert len(costed) == 7
    for r in costed:
        assert r.cost is not None and r.cost.source.startswith(("[source:", "[assumption:")), r.name


def test_money_is_signed_before_the_currency_sign() -> None:
    """Issue 12 (follow-up) 4: -$13.65m, not $-13.65m; no -$0."""
    from scenario_sim.report.table import fmt

    assert fmt(-13.65e6, "USD") == "-$13.65m"
    assert fmt(13.65e6, "USD") == "$13.65m"
    assert fmt(-2500, "USD") == "-$2.50k" and fmt(-12, "USD") == "-$12"
    assert fmt(-0.2, "USD") == "$0"


def test_a_burden_breach_is_in_plain_digits() -> None:
    obj = costs.Objectives("points", {}, {"civilian_harm": 8.5})
    t = costs.objective_table(_hand_run(), obj, "civilian_harm").set_index("set")
    assert t.loc["a", "violations"] == "civilian_harm 9 > 8.50"
    assert t.loc["baseline", "violations"] == "civilian_harm 11.50 > 8.50"


@pytest.mark.parametrize("text", ["2e9", "2.0e9", "2.0e+9", "2e+9", "2000000000", "2_000_000_000"])
def test_every_way_of_writing_two_billion_is_a_number(tmp_path: Path, text: str) -> None:
    """docs/costs.md: PyYAML resolves only ``2.0e+9`` (and plain digits) to a number, but cost
    and objective fields are numbers, so the text ``2e9`` is read as 2e9 too."""
    raw = yaml.safe_dump(costed_doc(), sort_keys=False).replace("one_off_usd: 1000", f"one_off_usd: {text}")
    raw += "\n" if not raw.endswith("\n") else ""
    p = write(tmp_path, "c.yaml", raw)
    loaded = load_scenario(p)
    assert loaded.effective("alerts").costs[0].one_off_usd == 2e9


def test_cost_rows_have_no_scientific_notation_and_a_collapsed_interval_keeps_its_digits() -> None:
    """Issue 12 (follow-up) 4: 3.28e-04 per $1M and $5.39bn [$5.39bn, $5.39bn] on the cost tables."""
    from scenario_sim.report.costs import cost_rows

    base = {"n": 20, "cost_mean": 0.0, "benefit": "casualties averted per $1M", "outcome": "civilian_harm",
            "benefit_mean": 1.0, "method": "delta method", "note": "", "level": 0.95}
    ce = pd.DataFrame([
        {**base, "set": "dear", "cost_diff": 5.39e9, "cost_diff_low": 5.387e9, "cost_diff_high": 5.392e9,
         "cost_stochastic": True, "per_musd": 3.28e-4, "per_musd_low": 1.1e-4, "per_musd_high": 5.4e-4},
        {**base, "set": "cheap", "cost_diff": -13.65e6, "cost_diff_low": -13.65e6, "cost_diff_high": -13.65e6,
         "cost_stochastic": False, "per_musd": float("nan"), "per_musd_low": float("nan"),
         "per_musd_high": float("nan"), "method": "saves money"}], columns=costs.COLUMNS)
    rows = {r["set"]: r for r in cost_rows(ce)}
    assert rows["dear"]["added cost [95% CI]"] == "$5.3900bn [$5.3870bn, $5.3920bn]"
    assert rows["dear"]["casualties averted per $1M"] == "0.00033 [0.00011, 0.00054]"
    assert rows["cheap"]["added cost [95% CI]"] == "-$13.7m (fixed)"
    assert not any("e-0" in v or "e+0" in v or "$-" in v for r in rows.values() for v in r.values())


def test_accelerated_deliveries_cost_follows_the_resupply_it_changes() -> None:
    """The set's per-day cost is the extra interceptors it delivers a day at the scenario's own prices.

    It is written by hand in reference.yaml; this keeps it from going stale when the baseline's
    resupply changes (it once quoted an older baseline and was a third too low)."""
    loaded = load_scenario(ROOT / "scenarios" / "reference.yaml")
    base, fast = loaded.baseline, loaded.sets["accelerated_deliveries"]
    extra_usd = 0.0
    for name in ("patriot", "medium_sam"):
        b = next(s for s in base.air_defense.systems if s.name == name)
        f = next(s for s in fast.air_defense.systems if s.name == name)
        per_day = (f.interceptors.resupply.quantity / f.interceptors.resupply.interval_days
                   - b.interceptors.resupply.quantity / b.interceptors.resupply.interval_days)
        assert per_day > 0, name
        extra_usd += per_day * b.cost_per_shot_usd
    cost = next(r.cost for r in base.recommendations if r.name == "accelerated_deliveries")
    assert cost is not None and cost.per_day_usd == pytest.approx(extra_usd, rel=0.001)
