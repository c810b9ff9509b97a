"""Costs, cost-effectiveness and the analyst's objectives (issue 12, point 1).

Design notes (``docs/costs.md`` and ``docs/statistics.md`` explain them for readers).

*Cost-effectiveness.*  For a set against the baseline, per replication *r*, the benefit on an
outcome is ``B_r = X_base,r - X_set,r`` for a lower-is-better outcome (casualties averted,
grid-days saved) and the added cost ``C_r = cost_set,r - cost_base,r``.  The ratio reported is
``R = mean(B) / mean(C)`` per $1M.  Two cases:

* the added cost is the same in every replication (one-off and per-day costs only): ``R`` is a
  mean divided by a constant, and its interval is the paired Student-t interval of ``B``
  divided by that constant (``method = fixed cost``);
* the added cost varies (costs per alert night, per night of raised readiness): ``R`` is a
  ratio estimator and its interval comes from the delta method,
  ``se(R) = sqrt((s_B^2 - 2 R s_BC + R^2 s_C^2) / n) / |mean(C)|`` (``method = delta method``);
  it is flagged unreliable when the interval of ``mean(C)`` includes zero.

A set whose added cost is zero in every replication has no ratio (``method = no added cost``),
and one whose mean added cost is negative saves money (``method = saves money``): neither is
ever divided by zero or by a negative number.  Intervals use the comparison's level, adjusted
for the number of sets compared (Bonferroni), like the paired differences.

*Objectives.*  ``outputs.objectives`` (read from the run folder's ``scenario.yaml``) gives
weights and constraints.  A replication's objective is ``sum(w_o * s_o * X_o,r)`` with
``s_o = +1`` for a lower-is-better outcome and ``-1`` for a higher-is-better one, so lower is
always better and the paired difference from the baseline has a t interval like any outcome.
A set satisfies a constraint when the mean of the outcome is within the bound in its better
direction.  The best set is the one with the lowest mean objective among those that satisfy
every constraint (without weights: the one best on the run's ranking outcome among them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import yaml

from scenario_sim import runs
from scenario_sim.analysis.pairwise import paired_values
from scenario_sim.errors import ResultsError
from scenario_sim.stats import t_interval

COST = "cost_usd"
MUSD = 1e6
BENEFITS = (("civilian_harm", "casualties averted per $1M"), ("energy.days_below", "grid-days saved per $1M"))
"""The outcomes turned into cost-effectiveness ratios, and how each ratio is named."""

COLUMNS = ["set", "n", "cost_mean", "cost_diff", "cost_diff_low", "cost_diff_high", "cost_stochastic", "benefit",
           "outcome", "benefit_mean", "per_musd", "per_musd_low", "per_musd_high", "method", "note", "level"]


def has_costs(data: Any) -> bool:
    """Whether a run has the ``cost_usd`` outcome (its scenario declares costs)."""
    return any(o.name == COST for o in data.outcomes)


def _sd(x: np.ndarray) -> float:  # type: ignore[type-arg]
    return float(x.std(ddof=1)) if x.size > 1 else math.nan


def ratio_interval(b: np.ndarray, c: np.ndarray, level: float) -> dict[str, Any]:  # type: ignore[type-arg]
    """``mean(b) / mean(c)`` per $1M with its interval, method and note (see the module notes)."""
    n = b.size
    cm, bm = float(c.mean()), float(b.mean())
    out: dict[str, Any] = {"per_musd": math.nan, "per_musd_low": math.nan, "per_musd_high": math.nan, "note": ""}
    fixed = bool(np.all(c == c[0])) if n else True
    if n == 0 or (fixed and cm == 0.0):
        return {**out, "method": "no added cost",
                "note": "costs nothing more than the baseline: no ratio (a benefit, if any, is free)"}
    if cm < 0:
        return {**out, "method": "saves money", "note": "costs less than the baseline on average: no ratio"}
    r = bm / cm
    if fixed:
        lo, hi = t_interval(bm, _sd(b), n, level)
        return {**out, "per_musd": r * MUSD, "per_musd_low": lo / cm * MUSD, "per_musd_high": hi / cm * MUSD,
                "method": "fixed cost"}
    if n < 2:
        return {**out, "per_musd": r * MUSD, "method": "delta method"}
    cov = np.cov(b, c, ddof=1)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / n
    se = math.sqrt(max(var, 0.0)) / abs(cm)
    lo, hi = t_interval(r, se * math.sqrt(n), n, level)
    clo, _ = t_interval(cm, _sd(c), n, level)
    note = "" if clo > 0 else "the added cost's interval includes zero: the ratio is unreliable"
    return {**out, "per_musd": r * MUSD, "per_musd_low": lo * MUSD, "per_musd_high": hi * MUSD,
            "method": "delta method", "note": note}


def options(data: Any) -> list[str]:
    """The run's sets that are options, baseline first: every set but the placebo twins of
    ``run --placebo``, which are controls (the brief, P(best) and these tables agree)."""
    from scenario_sim.analysis.placebo import placebo_pairs

    twins = placebo_pairs(data)
    return [s for s in data.sets if s not in twins]


def cost_effectiveness(data: Any, level: float = 0.95) -> pd.DataFrame:
    """One row per (set, benefit outcome): added cost with interval and benefit per $1M."""
    if not has_costs(data):
        return pd.DataFrame(columns=COLUMNS)
    k = max(1, len(data.sets) - 1)
    adj = 1 - (1 - level) / k
    cost = paired_values(data, COST)
    names = {o.name: o for o in data.outcomes}
    rows = []
    for outcome, label in BENEFITS:
        if outcome not in names:
            continue
        x = paired_values(data, outcome)
        both = cost.index.intersection(x.index)
        sign = 1.0 if names[outcome].direction == "lower" else -1.0
        for s in options(data)[1:]:
            c = (cost.loc[both, s] - cost.loc[both, runs.BASELINE]).to_numpy()
            b = sign * (x.loc[both, runs.BASELINE] - x.loc[both, s]).to_numpy()
            lo, hi = t_interval(float(c.mean()), _sd(c), c.size, adj) if c.size else (math.nan, math.nan)
            rows.append({"set": s, "n": int(c.size), "cost_mean": float(cost.loc[both, s].mean()),
                         "cost_diff": float(c.mean()), "cost_diff_low": lo, "cost_diff_high": hi,
                         "cost_stochastic": bool(c.size and not np.all(c == c[0])), "benefit": label,
                         "outcome": outcome, "benefit_mean": float(b.mean()), **ratio_interval(b, c, adj),
                         "level": level})
    return pd.DataFrame(rows, columns=COLUMNS)


# --------------------------------------------------------------------------- objectives


@dataclass(frozen=True)
class Objectives:
    """``outputs.objectives`` as recorded in the run folder."""

    unit: str
    weights: dict[str, float]
    constraints: dict[str, float]


def read_objectives(run_dir: Any) -> Objectives | None:
    """The objectives of the scenario recorded in ``run_dir`` (None when it has none)."""
    path = runs.RunFolder.open(run_dir).path / runs.SCENARIO
    # libyaml's parser when there is one (the same safe constructor; ~5x faster on a scenario
    # file, which every `run` parsed in pure Python after its replications just for these lines)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if not path.exists():  # every run writes it: without it the objective would silently drop out
        raise ResultsError(f"{path}: missing (the run wrote its scenario there; without it the stated "
                           "objective cannot be read, so nothing is ranked by it)")
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    raw = ((doc or {}).get("outputs") or {}).get("objectives") if isinstance(doc, dict) else None
    if not raw:
        return None
    # Written by the run from a validated scenario; readers do not import the language, so the
    # shape is checked here only as far as using it needs.
    try:
        return Objectives(str(raw.get("unit", "objective points")),
                          {str(k): float(v) for k, v in (raw.get("weights") or {}).items()},
                          {str(k): float(v) for k, v in (raw.get("constraints") or {}).items()})
    except (AttributeError, TypeError, ValueError):
        raise ResultsError(f"{path}: outputs.objectives is not as the run wrote it") from None


OBJECTIVE_COLUMNS = ["set", "n", "objective", "objective_diff", "objective_low", "objective_high", "unit",
                     "feasible", "violations", "best", "control", "level"]


def _scores(data: Any, obj: Objectives) -> pd.DataFrame:
    """Replications by set of the objective (lower is better)."""
    names = {o.name: o for o in data.outcomes}
    total: pd.DataFrame | None = None
    for o, w in obj.weights.items():
        sign = -1.0 if names[o].direction == "higher" else 1.0
        part = paired_values(data, o) * (w * sign)
        total = part if total is None else total.add(part, fill_value=math.nan)
    assert total is not None
    return total.dropna()


def _amount(x: float, unit: str) -> str:
    """A mean or a bound in a breach note: money as money ($3.94bn), other amounts in plain digits."""
    from scenario_sim.report.table import fmt

    if unit == "USD":
        return fmt(x, "USD")
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def _violations(data: Any, obj: Objectives, s: str) -> list[str]:
    names = {o.name: o for o in data.outcomes}
    ok = data.frame[(data.frame["set"] == s) & data.frame["error"].isna()]
    out = []
    for o, bound in obj.constraints.items():
        mean = float(ok[o].mean())
        lower = names[o].direction != "higher"
        if (mean > bound) if lower else (mean < bound):
            out.append(f"{o} {_amount(mean, names[o].unit)} {'>' if lower else '<'} {_amount(bound, names[o].unit)}")
    return out


def objective_table(data: Any, obj: Objectives, rank_by: str, level: float = 0.95) -> pd.DataFrame:
    """Per set: the objective with its paired difference from the baseline, the constraints
    it breaks, and which feasible set is best (see the module notes)."""
    k = max(1, len(data.sets) - 1)
    adj = 1 - (1 - level) / k
    score = _scores(data, obj) if obj.weights else None
    rows = []
    for s in data.sets:
        row: dict[str, Any] = {"set": s, "unit": obj.unit, "level": level, "objective": math.nan,
                               "objective_diff": math.nan, "objective_low": math.nan, "objective_high": math.nan}
        if score is not None:
            d = (score[s] - score[runs.BASELINE]).to_numpy()
            lo, hi = t_interval(float(d.mean()), _sd(d), d.size, adj)
            row.update(objective=float(score[s].mean()), objective_diff=float(d.mean()), objective_low=lo,
                       objective_high=hi, n=int(d.size))
        else:
            row["n"] = int(((data.frame["set"] == s) & data.frame["error"].isna()).sum())
        v = _violations(data, obj, s)
        row.update(feasible=not v, violations="; ".join(v))
        rows.append(row)
    table = pd.DataFrame(rows, columns=OBJECTIVE_COLUMNS)
    table["best"] = False
    table["control"] = ~table["set"].isin(options(data))
    # placebo twins are listed (as controls) but are never the best
    feasible = table[table["feasible"] & table["set"].isin(options(data))]
    if len(feasible):
        if score is not None:
            best = feasible.sort_values(["objective", "set"]).iloc[0]["set"]
        else:
            best = _best_on(data, list(feasible["set"]), rank_by)
        table.loc[table["set"] == best, "best"] = True
    return table


def _best_on(data: Any, sets: list[str], outcome: str) -> str:
    names = {o.name: o for o in data.outcomes}
    means = paired_values(data, outcome)[sets].mean()
    higher = names[outcome].direction == "higher"
    ordered = sorted(sets, key=lambda s: (-means[s] if higher else means[s], s))
    return ordered[0]


COSTS_CSV = "costs.csv"
OBJECTIVES_CSV = "objectives.csv"


def write_tables(target: Any, ce: pd.DataFrame, objectives: pd.DataFrame | None) -> None:
    """``costs.csv`` (cost-effectiveness) and ``objectives.csv`` in ``target`` (atomic)."""
    from pathlib import Path

    runs.atomic_write_text(Path(target) / COSTS_CSV, ce.to_csv(index=False, float_format="%.10g",
                                                               lineterminator="\n"))
    if objectives is not None:
        runs.atomic_write_text(Path(target) / OBJECTIVES_CSV,
                               objectives.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
