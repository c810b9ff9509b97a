"""Beyond "each set against the baseline": ties, set against set, the leader, side effects.

Design notes (issue 12, points 3, 5 and 7; ``docs/statistics.md`` explains each for readers).

*Ties.*  Under common random numbers a set that does not touch an outcome gives exactly the
baseline's value in a replication, so "did not beat the baseline" mixes "was worse" with
"was the same".  :func:`shares` splits the replications three ways.  A difference counts as
a tie when it is within ``TIE_RTOL`` of the outcome's scale (floating-point noise only).

*Set against set.*  Every pair of sets saw the same random numbers too, so the paired
difference ``X_a,r - X_b,r`` is as sharp as a difference from the baseline.  With *k* sets
there are ``m = k(k-1)/2`` pairs; intervals are at level ``1 - alpha/m`` (Bonferroni) and
p-values (paired t-test) are Holm-adjusted over the *m* pairs, so reading the whole matrix
keeps the family-wise error at ``alpha``.

*The leader.*  The sets that cannot be told from the best one are those whose paired
difference from the leader has a Holm-adjusted p-value (over the ``k - 1`` comparisons with
the leader) of at least ``alpha``.  This is a screen, not a selection guarantee: the leader is
chosen from the same data.

*Side effects.*  A set may win on the ranked outcome and be worse on another key outcome
(``outputs.key``).  Every (set, key outcome) pair is tested; the p-values are Holm-adjusted
together (the family is every set times every key outcome), and a pair is flagged when the
adjusted p-value is below ``alpha`` and the difference is in the outcome's worse direction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from scenario_sim.errors import UserError
from scenario_sim.stats import t_interval, t_test_p
from scenario_sim.text import did_you_mean

TIE_RTOL = 1e-9
ALPHA = 0.05


def holm(p: list[float]) -> list[float]:
    """Holm's step-down adjustment (the comparison's own, imported late: it imports this module)."""
    from scenario_sim.analysis.compare import _holm

    return _holm(p)


def shares(d: np.ndarray, direction: str, scale: float) -> tuple[float, float, float]:  # type: ignore[type-arg]
    """(better, tied, worse): shares of paired differences ``d`` (this minus the other)."""
    if direction == "none" or d.size == 0:
        return (math.nan, math.nan, math.nan)
    tol = TIE_RTOL * max(1.0, abs(scale))
    s = d if direction == "higher" else -d
    better = float(np.mean(s > tol))
    worse = float(np.mean(s < -tol))
    return better, float(np.mean(np.abs(s) <= tol)), worse


def paired_values(data: Any, outcome: str) -> pd.DataFrame:
    """Replications (rows) by set (columns) of ``outcome``, pairs with a failed member dropped."""
    ok = data.frame[data.frame["error"].isna()]
    wide: pd.DataFrame = ok.pivot(index="replication", columns="set", values=outcome)
    return wide.reindex(columns=data.sets).dropna()


def _test(d: np.ndarray, level: float) -> tuple[float, float, float, float]:  # type: ignore[type-arg]
    """(mean, low, high, p) of a paired difference: t-interval at ``level``, two-sided t-test."""
    n = d.size
    dm = float(d.mean()) if n else math.nan
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    lo, hi = t_interval(dm, sd, n, level)
    # scipy.special's Student-t (scenario_sim.stats.t_test_p), not scipy.stats.ttest_1samp:
    # every ranking of `run` calls this (the ties with the leader), and importing scipy.stats
    # cost ~0.6-1.5 s of the parent's CPU after the replications had finished.  The p-values
    # agree with ttest_1samp's to ~1e-13 relative (the t statistic's last bits).
    return dm, lo, hi, t_test_p(dm, sd, n)


def _direction(data: Any, outcome: str) -> tuple[str, str]:
    for o in data.outcomes:
        if o.name == outcome:
            return str(o.direction), str(o.unit)
    raise UserError(f"unknown outcome {outcome!r}")


def pairwise(data: Any, outcome: str, level: float = 0.95) -> pd.DataFrame:
    """Every ordered pair (set, against): the paired difference set minus against, adjusted.

    Columns: set, against, outcome, unit, direction, n, diff, ci_low, ci_high, p_value,
    p_value_holm, distinguishable, p_better, p_tied, p_worse, level, adjustment.
    """
    direction, unit = _direction(data, outcome)
    wide = paired_values(data, outcome)
    sets = list(wide.columns)
    x = wide.to_numpy()
    pairs = [(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets))]
    m = max(1, len(pairs))
    adj_level = 1 - (1 - level) / m
    scale = float(np.abs(x).mean()) if x.size else 0.0
    tests = {(i, j): _test(x[:, i] - x[:, j], adj_level) for i, j in pairs}
    p_holm = dict(zip(pairs, holm([tests[p][3] for p in pairs]), strict=True))
    rows = []
    for (i, j), (dm, lo, hi, p) in tests.items():
        for a, b, sign in ((i, j, 1.0), (j, i, -1.0)):
            better, tied, worse = shares(sign * (x[:, i] - x[:, j]), direction, scale)
            ph = p_holm[(i, j)]
            rows.append({
                "set": sets[a], "against": sets[b], "outcome": outcome, "unit": unit, "direction": direction,
                "n": int(x.shape[0]), "diff": sign * dm + 0.0, "ci_low": lo if sign > 0 else -hi,
                "ci_high": hi if sign > 0 else -lo, "p_value": p, "p_value_holm": ph,
                "distinguishable": bool(ph < 1 - level) if not math.isnan(ph) else False,
                "p_better": better, "p_tied": tied, "p_worse": worse, "level": level,
                "adjustment": f"Bonferroni-adjusted intervals, Holm-adjusted p-values over {len(pairs)} pairs",
            })
    return pd.DataFrame(rows)


def against(data: Any, reference: str, outcome: str, level: float = 0.95) -> pd.DataFrame:
    """Every other set against ``reference`` (rows of :func:`pairwise` whose ``against`` is it),
    with Holm over those k - 1 comparisons only and intervals at ``1 - alpha/(k - 1)``."""
    if reference not in data.sets:
        raise UserError(f"--against: no set {reference!r} in this run{did_you_mean(reference, list(data.sets))} "
                        f"(it has: {', '.join(data.sets)})")
    direction, unit = _direction(data, outcome)
    wide = paired_values(data, outcome)
    others = [s for s in wide.columns if s != reference]
    k = max(1, len(others))
    adj_level = 1 - (1 - level) / k
    ref = wide[reference].to_numpy()
    scale = float(np.abs(wide.to_numpy()).mean()) if wide.size else 0.0
    rows = []
    for s in others:
        d = wide[s].to_numpy() - ref
        dm, lo, hi, p = _test(d, adj_level)
        better, tied, worse = shares(d, direction, scale)
        rows.append({"set": s, "against": reference, "outcome": outcome, "unit": unit, "direction": direction,
                     "n": int(d.size), "mean": float(wide[s].mean()), "reference_mean": float(ref.mean()),
                     "diff": dm, "ci_low": lo, "ci_high": hi, "p_value": p, "p_better": better, "p_tied": tied,
                     "p_worse": worse, "level": level})
    out = pd.DataFrame(rows)
    if len(out):
        out["p_value_holm"] = holm(out["p_value"].tolist())
        out["distinguishable"] = out["p_value_holm"] < 1 - level
    return out


def tied_with_leader(data: Any, outcome: str, leader: str, level: float = 0.95) -> set[str]:
    """Sets whose paired difference from ``leader`` is not significant (Holm over k - 1)."""
    vs = against(data, leader, outcome, level)
    return set(vs.loc[~vs["distinguishable"].astype(bool), "set"]) if len(vs) else set()


def side_effects(table: pd.DataFrame, key: list[str], alpha: float = ALPHA) -> pd.DataFrame:
    """Rows of a comparison table where a set is significantly worse than the baseline on a key
    outcome, Holm-adjusted over every (set, key outcome) pair tested.

    Returns the flagged rows with a ``p_value_side_effect`` column (the adjusted p-value).
    """
    rows = table[(table["set"] != "baseline") & table["outcome"].isin(key) & (table["direction"] != "none")].copy()
    if rows.empty:
        return rows.assign(p_value_side_effect=pd.Series(dtype=float))
    rows["p_value_side_effect"] = holm(rows["p_value"].astype(float).tolist())
    worse = np.where(rows["direction"] == "lower", rows["diff"] > 0, rows["diff"] < 0)
    return rows[(rows["p_value_side_effect"] < alpha) & worse]
