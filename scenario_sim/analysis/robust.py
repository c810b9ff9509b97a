"""Robustness of recommendation sets across an ensemble of cases and worlds.

For one outcome with a better direction, let ``m[s, p]`` be the mean over replications of set
*s* at point *p* (a case in a world; see :mod:`~scenario_sim.analysis.ensemble`) and
``v[s, p] = sign · m[s, p]`` with ``sign = +1`` when higher is better and ``-1`` when lower is
better, so larger ``v`` is always better.  With point weights ``w_p`` (summing to 1):

* **expected value**: ``EV[s] = Σ_p w_p m[s, p]``; the EV choice maximises ``sign · EV``;
* **worst case**: the worst ``m[s, p]`` over points (the maximin choice is the best of these);
* **regret** ``R[s, p] = max_t v[t, p] - v[s, p] ≥ 0``: how far the set falls short of the best
  set *in that point*, in the outcome's unit (0 for the best set there);
* per set: the **mean regret** ``Σ_p w_p R[s, p]``, the **90th-percentile regret** (the
  weighted inverted-CDF quantile) and the **maximum regret** (minimax regret chooses the
  smallest), each with a percentile-bootstrap interval over cases (a case is resampled with
  all its worlds; seeded from the run's seed);
* **satisficing share**: the weight of points whose mean meets the outcome's threshold (from
  ``outputs.thresholds``), and of points meeting *every* threshold at once (``satisficing_all``);
* the **ranking under each rule**, and whether the robust choices differ from the EV choice.
  Sets whose values under a rule agree to 12 significant digits are tied (a share of cases is a
  sum of weights, so two sets meeting the threshold in equally many cases must not look
  different through rounding).  A robust rule *differs* from the EV rule only when no set is
  best under both; when the EV choice is among the sets tied for best under a rule, that is
  reported as a tie, not as a different choice.

Point means carry replication noise, which biases the maximum (and to a lesser degree the
90th percentile and regret itself) upward; docs/deep-uncertainty.md states the limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scenario_sim.analysis.ensemble import (
    EnsembleRun,
    outcome_and_sets,
    point_means,
    point_weights,
    weighted_quantile,
)

RULES = {
    "expected": "best expected value (mean over cases and worlds)",
    "worst_case": "best worst case (maximin)",
    "mean_regret": "least mean regret",
    "p90_regret": "least 90th-percentile regret",
    "max_regret": "least maximum regret (minimax regret)",
    "satisficing": "largest share of cases meeting the threshold",
}
ROBUST_RULES = ("max_regret", "p90_regret", "satisficing", "worst_case")


@dataclass
class Robustness:
    """The robustness analysis of one outcome (see the module docstring)."""

    outcome: str
    unit: str
    direction: str
    means: pd.DataFrame  # points x sets
    regret: pd.DataFrame  # points x sets
    weights: np.ndarray  # type: ignore[type-arg]
    table: pd.DataFrame  # one row per set
    choices: dict[str, str]  # rule -> chosen set (the first in run order among the best)
    dropped_points: int
    threshold: str | None
    level: float
    best: dict[str, list[str]] = field(default_factory=dict)  # rule -> every set tied for best

    @property
    def robust_differs(self) -> dict[str, bool]:
        """For each robust rule: does it choose differently from the expected-value rule?

        Only when no set is best under both: a tie that includes an expected-value choice is
        not a different choice (see :attr:`robust_ties`)."""
        ev = set(self.best.get("expected", [self.choices["expected"]]))
        return {r: not ev & set(self.best.get(r, [self.choices[r]])) for r in ROBUST_RULES if r in self.choices}

    @property
    def robust_ties(self) -> dict[str, bool]:
        """For each robust rule that agrees with the expected-value rule: is it through a tie
        (several sets best under one of the two rules)?"""
        ev = self.best.get("expected", [self.choices["expected"]])
        out = {}
        for r, differs in self.robust_differs.items():
            if not differs:
                out[r] = len(self.best.get(r, [self.choices[r]])) > 1 or len(ev) > 1
        return out


def satisficing(run: EnsembleRun, sets: list[str] | None = None) -> pd.DataFrame:
    """Per set: the weighted share of points meeting each threshold, and all of them at once.

    Columns ``set``, one ``<outcome>`` column per threshold and ``all``.  Points where a set
    lacks a successful replication are left out for every set (the comparison stays paired).
    """
    chosen = sets or run.sets
    if not run.thresholds:
        return pd.DataFrame({"set": chosen})
    met: dict[str, pd.DataFrame] = {}
    for name, th in run.thresholds.items():
        m, _ = point_means(run, name, chosen)
        met[name] = pd.DataFrame(th.met(m.to_numpy()), index=m.index, columns=m.columns)
    common = None
    for frame in met.values():
        common = frame.index if common is None else common.intersection(frame.index)
    assert common is not None
    w = point_weights(run, common)
    rows: list[dict[str, Any]] = []
    all_met = np.ones((len(common), len(chosen)), dtype=bool)
    for frame in met.values():
        all_met &= frame.loc[common, chosen].to_numpy()
    for j, s in enumerate(chosen):
        row: dict[str, Any] = {"set": s}
        for name, frame in met.items():
            row[name] = float(w @ frame.loc[common, s].to_numpy())
        row["all"] = float(w @ all_met[:, j])
        rows.append(row)
    return pd.DataFrame(rows)


def _regret(means: pd.DataFrame, sign: float) -> pd.DataFrame:
    v = sign * means.to_numpy()
    return pd.DataFrame(v.max(axis=1, keepdims=True) - v, index=means.index, columns=means.columns)


def _stats(r: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:  # type: ignore[type-arg]
    return float(w @ r / w.sum()), weighted_quantile(r, w, 0.9), float(r.max())


def _bootstrap(regret: pd.DataFrame, w: np.ndarray, level: float, n_boot: int,  # type: ignore[type-arg]
               seed: int) -> np.ndarray:  # type: ignore[type-arg]
    """Intervals [set, stat(mean, p90, max), low/high] from resampling cases (clusters of points)."""
    k = regret.shape[1]
    out = np.full((k, 3, 2), math.nan)
    cases = regret.index.get_level_values("case").to_numpy()
    uniq, inverse = np.unique(cases, return_inverse=True)
    if n_boot <= 0 or len(uniq) < 2:
        return out
    members = [np.flatnonzero(inverse == i) for i in range(len(uniq))]
    r = regret.to_numpy()
    rng = np.random.default_rng([seed, 0x5EB])
    draws = np.empty((n_boot, k, 3))
    for b in range(n_boot):
        pick = np.concatenate([members[i] for i in rng.integers(0, len(uniq), size=len(uniq))])
        for j in range(k):
            draws[b, j] = _stats(r[pick, j], w[pick])
    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
    out[:, :, 0], out[:, :, 1] = lo, hi
    return out


def _rank(values: pd.Series, best_high: bool) -> pd.Series:
    """Rank 1 = best; ties (equal to 12 significant digits) share the better rank ('min'); NaN ranks last."""
    snapped = values.map(lambda v: float(f"{v:.12g}") if math.isfinite(v) else v)
    return snapped.rank(method="min", ascending=not best_high, na_option="bottom").astype(int)


def robustness(run: EnsembleRun, outcome: str | None = None, sets: list[str] | None = None,
               n_boot: int = 1000, level: float = 0.95) -> Robustness:
    """Regret, satisficing and rankings of ``sets`` (default all) on ``outcome`` (default primary)."""
    name, meta, sign, chosen = outcome_and_sets(run, outcome, sets)
    means, dropped = point_means(run, name, chosen)
    if means.empty:
        from scenario_sim.errors import ResultsError

        raise ResultsError(f"{run.path}: no case in which every set has a successful replication")
    w = point_weights(run, means.index)
    regret = _regret(means, sign)
    m = means.to_numpy()
    worst = (sign * m).min(axis=0) * sign
    intervals = _bootstrap(regret, w, level, n_boot, run.seed)
    sat = satisficing(run, chosen)
    th = run.thresholds.get(name)
    rows = []
    for j, s in enumerate(chosen):
        mean_r, p90_r, max_r = _stats(regret[s].to_numpy(), w)
        srow = sat[sat["set"] == s].iloc[0]
        rows.append({
            "set": s, "outcome": name, "unit": meta.unit, "direction": meta.direction,
            "expected": float(w @ m[:, j]), "worst_case": float(worst[j]),
            "mean_regret": mean_r, "mean_regret_low": intervals[j, 0, 0], "mean_regret_high": intervals[j, 0, 1],
            "p90_regret": p90_r, "p90_regret_low": intervals[j, 1, 0], "p90_regret_high": intervals[j, 1, 1],
            "max_regret": max_r, "max_regret_low": intervals[j, 2, 0], "max_regret_high": intervals[j, 2, 1],
            "satisficing": float(srow[name]) if th is not None else math.nan,
            "satisficing_all": float(srow["all"]) if "all" in srow else math.nan,
            "points": len(means),
        })
    table = pd.DataFrame(rows)
    table["rank_expected"] = _rank(sign * table["expected"], True)
    table["rank_worst_case"] = _rank(sign * table["worst_case"], True)
    for rule in ("mean_regret", "p90_regret", "max_regret"):
        table[f"rank_{rule}"] = _rank(table[rule], False)
    if th is not None:
        table["rank_satisficing"] = _rank(table["satisficing"], True)
    choices, best = {}, {}
    for rule in RULES:
        col = f"rank_{rule}"
        if col in table:
            # ties: the first set in run order among the best-ranked (the baseline comes first)
            choices[rule] = str(table["set"].iloc[int(np.argmin(table[col].to_numpy()))])
            best[rule] = [str(x) for x in table.loc[table[col] == table[col].min(), "set"]]
    return Robustness(name, meta.unit, meta.direction, means, regret, w, table, choices, dropped,
                      th.describe(meta.unit) if th is not None else None, level, best)
