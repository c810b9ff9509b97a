"""Paired comparison of recommendation sets against the baseline.

Under common random numbers, replication *r* of a set and of the baseline saw the same
launches, contacts and draws, so the per-replication difference ``D_r = X_set,r - X_base,r``
isolates the effect of the set.  For every set and outcome we report:

* the mean of each, and the mean paired difference with its interval:
  a Student-t interval ``mean(D) ± t * sd(D)/sqrt(n)`` and, for skewed outcomes, a
  percentile bootstrap over replications (resampling pairs, seeded from the run's seed);
* intervals *adjusted for the number of sets compared* (Bonferroni: each at level
  ``1 - alpha/k``, so all k hold together with probability at least ``1 - alpha``); paired
  t-test p-values are adjusted with Holm's step-down method.  The output says which;
* the relative change ``mean(D) / mean(X_base)``;
* the shares of replications in which the set did better than the baseline, the same (a
  tie: under common random numbers a set that does not touch the outcome ties exactly) and
  worse (``p_better``, ``p_tied``, ``p_worse``; see :mod:`scenario_sim.analysis.pairwise`);
  ``p_beat_baseline`` is ``p_better`` under its older name;
* the probability of being the best set: the share of replications in which the set had
  the best value among all sets compared, ties split evenly;
* the CRN efficiency: ``var(D) / (var(X_set) + var(X_base))``, the variance of the paired
  difference relative to what independent sampling would give (smaller is better).

Replications in which either member of a pair failed are left out of that pair.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from scenario_sim.analysis.pairwise import shares
from scenario_sim.errors import ResultsError, UserError
from scenario_sim.experiment import store
from scenario_sim.lang import BASELINE, load_scenario
from scenario_sim.lang.patch import did_you_mean
from scenario_sim.model.compiled import compile_scenario
from scenario_sim.outcomes import Outcome

ADJUSTMENT = "Bonferroni-adjusted intervals; Holm-adjusted p-values"


@dataclass
class RunData:
    """What the comparison needs from a run folder."""

    path: Path
    manifest: dict[str, Any]
    sets: list[str]
    outcomes: list[Outcome]
    primary: str
    key: list[str]
    frame: pd.DataFrame  # columns: set, replication, error, outcomes...


def load_run(run_dir: str | Path, columns: list[str] | None = None) -> RunData:
    """Open a finished run folder (clear one-line errors for missing or corrupt ones)."""
    folder = store.RunFolder.open(run_dir)
    m = folder.manifest()
    scen = folder.path / store.SCENARIO
    if not scen.exists():
        raise ResultsError(f"{scen}: missing; cannot tell which outcomes the run has")
    loaded = load_scenario(scen)
    seen: dict[str, Outcome] = {}
    for s in m["sets"]:
        if s != BASELINE and s not in loaded.set_names:
            raise ResultsError(f"{folder.path / store.MANIFEST}: sets: {s!r} is not in {scen.name}")
        for o in compile_scenario(loaded.effective(s)).outcomes:
            seen.setdefault(o.name, o)
    outcomes = list(seen.values())
    names = [o.name for o in outcomes]
    want = names if columns is None else [c for c in columns if c in names]
    frames = [b.to_pandas() for b in folder.iter_batches(["set", "replication", "error", *want])]
    if not frames:
        raise ResultsError(f"{folder.path / store.REPLICATIONS}: holds no replications")
    frame = pd.concat(frames, ignore_index=True)
    missing = set(m["sets"]) - set(frame["set"].unique())
    if missing:
        raise ResultsError(f"{folder.path / store.REPLICATIONS}: no rows for set(s) {', '.join(sorted(missing))}")
    b = loaded.baseline
    return RunData(folder.path, m, list(m["sets"]), outcomes, b.outputs.primary, list(b.outputs.key), frame)


def _paired(frame: pd.DataFrame, outcome: str, sets: list[str]) -> pd.DataFrame:
    ok = frame[frame["error"].isna()]
    wide = ok.pivot(index="replication", columns="set", values=outcome)
    return wide.reindex(columns=sets).dropna()


def _bootstrap(d: np.ndarray, level: float, seed: int, n_boot: int) -> tuple[float, float]:  # type: ignore[type-arg]
    if d.size < 2 or n_boot <= 0:
        return (math.nan, math.nan)
    if np.all(d == d[0]):
        return (float(d[0]), float(d[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    step = max(1, 4_000_000 // d.size)  # bound memory: resample in blocks
    for a in range(0, n_boot, step):
        b = min(n_boot, a + step)
        idx = rng.integers(0, d.size, size=(b - a, d.size))
        means[a:b] = d[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _holm(p: list[float]) -> list[float]:
    order = np.argsort(p)
    m = len(p)
    adj = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


def compare(run: str | Path | RunData, outcomes: list[str] | None = None, level: float = 0.95,
            n_boot: int = 2000, bootstrap_outcomes: list[str] | None = None) -> pd.DataFrame:
    """Paired statistics for every set and outcome (see the module docstring for each column)."""
    data = run if isinstance(run, RunData) else load_run(run)
    by_name = {o.name: o for o in data.outcomes}
    chosen = outcomes if outcomes is not None else [o.name for o in data.outcomes]
    for o in chosen:
        if o not in by_name:
            raise UserError(f"unknown outcome {o!r}{did_you_mean(o, list(by_name))}")
    others = [s for s in data.sets if s != BASELINE]
    k = max(1, len(others))
    adj_level = 1 - (1 - level) / k
    boot_for = set(bootstrap_outcomes if bootstrap_outcomes is not None else
                   {data.primary, *data.key, "civilian_harm"})
    seed = int(data.manifest.get("seed", 0))
    rows: list[dict[str, Any]] = []
    for o in chosen:
        meta = by_name[o]
        wide = _paired(data.frame, o, data.sets)
        n = len(wide)
        if n == 0:
            continue
        x = wide.to_numpy()
        sign = -1.0 if meta.direction == "lower" else 1.0  # larger sign*x is better
        if meta.direction != "none":
            score = sign * x
            best = score == score.max(axis=1, keepdims=True)
            p_best = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
        else:
            p_best = np.full(len(data.sets), math.nan)
        base = x[:, 0]
        bmean = float(base.mean())
        bscale = float(np.abs(x).mean())
        pvals = []
        for j, s in enumerate(data.sets):
            xs = x[:, j]
            d = xs - base
            dm = float(d.mean())
            dsd = float(d.std(ddof=1)) if n > 1 else math.nan
            if n > 1 and dsd > 0:
                h = float(stats.t.ppf(0.5 + adj_level / 2, n - 1)) * dsd / math.sqrt(n)
                lo, hi = dm - h, dm + h
                p = float(2 * stats.t.sf(abs(dm) / (dsd / math.sqrt(n)), n - 1))
            elif n > 1:
                lo = hi = dm
                p = 1.0 if dm == 0 else 0.0
            else:
                lo = hi = p = math.nan
            if s != BASELINE:
                pvals.append(p)
            var_sum = float(xs.var(ddof=1) + base.var(ddof=1)) if n > 1 else math.nan
            blo, bhi = (_bootstrap(d, adj_level, seed + 7919 * j, n_boot) if (o in boot_for and s != BASELINE)
                        else (math.nan, math.nan))
            better, tied, worse = shares(d, meta.direction, bscale)
            rows.append({
                "set": s, "outcome": o, "unit": meta.unit, "direction": meta.direction, "n": n,
                "mean": float(xs.mean()), "baseline_mean": bmean, "diff": dm, "diff_sd": dsd,
                "ci_low": lo, "ci_high": hi, "boot_low": blo, "boot_high": bhi,
                "relative_change": dm / bmean if bmean != 0 else (0.0 if dm == 0 else math.nan),
                "p_value": p, "p_value_holm": math.nan, "p_beat_baseline": better, "p_better": better, "p_tied": tied,
                "p_worse": worse, "p_best": float(p_best[j]),
                "crn_variance_ratio": (float(d.var(ddof=1)) / var_sum) if (n > 1 and var_sum > 0) else math.nan,
                "ci_includes_zero": bool(lo <= 0 <= hi) if not math.isnan(lo) else True,
                "level": level, "adjustment": ADJUSTMENT if k > 1 else "none (one set compared)",
            })
        adj = _holm(pvals) if pvals else []
        i = 0
        for r in rows[-len(data.sets):]:
            if r["set"] != BASELINE:
                r["p_value_holm"] = adj[i]
                i += 1
    return pd.DataFrame(rows)


def ranking(table: pd.DataFrame, rank_by: str) -> pd.DataFrame:
    """Rows of ``rank_by``, best set first (by mean in the outcome's better direction)."""
    sub = table[table["outcome"] == rank_by].copy()
    if sub.empty:
        raise UserError(f"--rank-by: no results for outcome {rank_by!r}")
    direction = sub["direction"].iloc[0]
    if direction == "none":
        raise UserError(f"--rank-by: outcome {rank_by!r} has no better direction; "
                        "rank by one that does (e.g. civilian_harm, leaked.total, energy.mean)")
    sub = sub.sort_values(["mean", "set"], ascending=[direction == "lower", True]).reset_index(drop=True)
    sub.insert(0, "rank", range(1, len(sub) + 1))
    return sub


def write_comparison(run_dir: Path, table: pd.DataFrame) -> Path:
    """``comparison.csv`` in the run folder (atomic)."""
    p = run_dir / "comparison.csv"
    store.atomic_write_text(p, table.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    return p


def to_json(table: pd.DataFrame) -> str:
    return json.dumps(json.loads(table.to_json(orient="records")), indent=2)
