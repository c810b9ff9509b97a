"""The scores of a backtest: simulated nights against recorded nights.

Every function here is pure: arrays in, a table (list of plain rows) out, so each score can
be checked by hand on a tiny input (``tests/test_backtest.py`` does).  The shapes are

* observed: ``(D, C)`` per night and class (:class:`~scenario_sim.backtest.nights.Nights`);
* simulated: ``(R, D, C)``, one layer per replication.

Definitions (docs/validation.md gives them with their limits):

* **Coverage**: a month's observed launches lie inside the 5-95% band of the simulated
  monthly totals (quantiles over replications, numpy's default linear interpolation).
* **Randomised PIT** for counts: ``F(y-1) + u (F(y) - F(y-1))`` with ``F`` the empirical CDF
  of the simulated totals and ``u`` uniform; for a calibrated model it is uniform on [0, 1]
  (Czado, Gneiting & Held 2009).  A U shape (many values near 0 or 1) means bands too narrow.
* **CRPS**: :func:`scoringrules.crps_ensemble` of the observed total against the simulated
  ones (in launches; lower is better; the fair estimator is not used, so it is the CRPS of
  the empirical distribution of the ensemble).
* **Rates**: destroyed / launched and (destroyed + not_reach_goal) / launched, counting only
  records that report ``destroyed``; observed with a Wilson interval, simulated as the band of
  per-replication rates.
* **Leak fraction by wave-size bin**: nights are binned by the class's launches that night;
  the leak fraction of a bin is sum(leaked) / sum(launched) over its nights (a ratio
  estimator, nights as the unit), with a 95% interval from the linearised variance
  ``sum((y_i - r x_i)^2) / (n (n - 1)) / mean(x)^2`` and a t quantile with n - 1 degrees of
  freedom.  The simulated fraction pools every simulated night in the bin.
* **Co-occurrence**: P(class A attacks | class B attacks) and P(A | B does not), where B may
  be ``other`` (any other class), and the Spearman correlation of A's and B's sizes on
  nights both attack; simulated as the band of per-replication values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scoringrules
from scipy import stats

from scenario_sim.calibrate.estimate import wilson

Array = np.ndarray[Any, Any]
Row = dict[str, Any]

BAND = (0.05, 0.95)
"""The simulated band: 5-95%, a 90% band."""


def band(sim: Array, axis: int = 0) -> tuple[Array, Array, Array]:
    """(5%, 50%, 95%) quantiles of ``sim`` over ``axis`` (NaN-aware)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice is NaN, as it should be
        q = np.nanquantile(sim, [BAND[0], 0.5, BAND[1]], axis=axis)
    return q[0], q[1], q[2]


def randomised_pit(obs: Array, ens: Array, u: Array) -> Array:
    """Randomised PIT of counts ``obs`` (shape S) against ensembles ``ens`` (shape (R, S)).

    ``u`` holds one uniform per observation (shape S); passing it in keeps the function
    deterministic and testable.
    """
    obs = np.asarray(obs, dtype=float)
    ens = np.asarray(ens, dtype=float)
    below = (ens < obs).mean(axis=0)
    at_or_below = (ens <= obs).mean(axis=0)
    return np.asarray(below + np.asarray(u) * (at_or_below - below))


def crps(obs: Array, ens: Array) -> Array:
    """CRPS of observations (shape S) against ensembles (shape (R, S)), by scoringrules."""
    return np.asarray(scoringrules.crps_ensemble(np.asarray(obs, dtype=float), np.asarray(ens, dtype=float),
                                                 m_axis=0))


def monthly(values: Array, month: Array, n_months: int) -> Array:
    """Sum ``values`` (..., D, C) over the nights of each month: (..., M, C)."""
    out = np.zeros((*values.shape[:-2], n_months, values.shape[-1]))
    for m in range(n_months):
        out[..., m, :] = values[..., month == m, :].sum(axis=-2)
    return out


def coverage_table(obs: Array, sim: Array, months: Sequence[str], classes: Sequence[str], u: Array) -> list[Row]:
    """Per month and class: observed launches, simulated band, inside, PIT and CRPS.

    ``obs`` is (M, C), ``sim`` (R, M, C), ``u`` (M, C) uniforms for the PIT.
    """
    lo, mid, hi = band(sim)
    pit = randomised_pit(obs, sim, u)
    score = crps(obs.reshape(-1), sim.reshape(sim.shape[0], -1)).reshape(obs.shape)
    rows = []
    for j, c in enumerate(classes):
        for m, label in enumerate(months):
            y = float(obs[m, j])
            rows.append({"class": c, "month": label, "observed": y, "sim_q05": float(lo[m, j]),
                         "sim_median": float(mid[m, j]), "sim_q95": float(hi[m, j]),
                         "inside": bool(lo[m, j] <= y <= hi[m, j]), "pit": float(pit[m, j]),
                         "crps": float(score[m, j])})
    return rows


def pit_histogram(pits: Sequence[float], bins: int = 10) -> dict[str, Any]:
    """Counts of PIT values in ``bins`` equal bins, and the share in the outer deciles."""
    p = np.asarray(list(pits), dtype=float)
    p = p[np.isfinite(p)]
    counts, _ = np.histogram(p, bins=bins, range=(0.0, 1.0))
    outer = int(((p < 0.1) | (p > 0.9)).sum())
    return {"bins": bins, "counts": [int(x) for x in counts], "n": int(p.size), "outer_deciles": outer,
            "outer_share": outer / p.size if p.size else math.nan}


def _ratio(num: Array, den: Array) -> Array:
    with np.errstate(all="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def rate_table(obs: dict[str, Array], sim: dict[str, Array], months: Sequence[str],
               classes: Sequence[str]) -> list[Row]:
    """Destroyed and defeated rates per class and month (and ``all`` for the window).

    ``obs`` and ``sim`` map ``known`` (launches on records that report destroyed),
    ``destroyed`` and ``defeated`` to monthly arrays (M, C) and (R, M, C).
    """
    rows = []
    for j, c in enumerate(classes):
        for m, label in enumerate([*months, "all"]):
            pick = slice(None) if label == "all" else slice(m, m + 1)
            n = int(obs["known"][pick, j].sum())
            sk = sim["known"][:, pick, j].sum(axis=1)
            for kind in ("destroyed", "defeated"):
                k = int(obs[kind][pick, j].sum())
                lo, mid, hi = band(_ratio(sim[kind][:, pick, j].sum(axis=1), sk))
                ci = wilson(k, n)
                rate = k / n if n else math.nan
                rows.append({"class": c, "month": label, "rate": kind, "observed": rate, "observed_lo": ci[0],
                             "observed_hi": ci[1], "n_observed": n, "sim_q05": float(lo), "sim_median": float(mid),
                             "sim_q95": float(hi), "inside": bool(n and lo <= rate <= hi)})
    return rows


def _positive_quantiles(x: Array, qs: Sequence[float]) -> Array:
    """Quantiles of the positive values of ``x`` over its last axis (NaN where none)."""
    masked = np.where(x > 0, x, np.nan).astype(float)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanquantile(masked, list(qs), axis=-1))


def wave_size_table(obs: Array, sim: Array, classes: Sequence[str], quantiles: Sequence[float],
                    thresholds: Sequence[int]) -> list[Row]:
    """Nightly wave sizes per class: quantiles over nights with launches, nights at or above
    each threshold, nights with launches; observed against the simulated band.

    ``obs`` is (D, C) and ``sim`` (R, D, C).
    """
    rows = []
    for j, c in enumerate(classes):
        o, s = obs[:, j], sim[:, :, j]
        stats_o: list[tuple[str, float, Array]] = [("nights_with_launches", float((o > 0).sum()),
                                                    (s > 0).sum(axis=1).astype(float))]
        qo = _positive_quantiles(o, quantiles)
        qs = _positive_quantiles(s, quantiles)
        for i, q in enumerate(quantiles):
            stats_o.append((f"q{round(100 * q):02d}", float(qo[i]), qs[i]))
        for t in thresholds:
            stats_o.append((f"nights_ge_{t}", float((o >= t).sum()), (s >= t).sum(axis=1).astype(float)))
        for name, value, per_rep in stats_o:
            lo, mid, hi = band(per_rep)
            rows.append({"class": c, "statistic": name, "observed": value, "sim_q05": float(lo),
                         "sim_median": float(mid), "sim_q95": float(hi),
                         "inside": bool(math.isfinite(value) and lo <= value <= hi)})
    return rows


def ratio_interval(leaked: Array, launched: Array, level: float = 0.95) -> tuple[float, float, float]:
    """(ratio, low, high): sum(leaked)/sum(launched) over units with a t interval from the
    linearised (ratio-estimator) variance; NaN bounds with fewer than two units."""
    y = np.asarray(leaked, dtype=float)
    x = np.asarray(launched, dtype=float)
    n = x.size
    if n == 0 or x.sum() <= 0:
        return (math.nan, math.nan, math.nan)
    r = float(y.sum() / x.sum())
    if n < 2:
        return (r, math.nan, math.nan)
    var = float(((y - r * x) ** 2).sum() / (n * (n - 1)) / x.mean() ** 2)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * math.sqrt(var)
    return (r, max(0.0, r - half), min(1.0, r + half))


def bin_label(edges: Sequence[int], i: int) -> str:
    """``100-199`` for a bin with lower edge 100 and next edge 200; ``500+`` for the last."""
    return f"{edges[i]}+" if i == len(edges) - 1 else f"{edges[i]}-{edges[i + 1] - 1}"


def leak_bin_table(obs_known: Array, obs_leaked: Array, sim_launched: Array, sim_leaked: Array,
                   classes: Sequence[str], edges: Sequence[int], min_nights: int) -> list[Row]:
    """Leak fraction per class and wave-size bin (lower ``edges``, the last bin open).

    Observed nights are binned by their launches on records that report destroyed
    (``obs_known``, (D, C)); simulated nights by their launches ((R, D, C)).  ``applies`` marks
    bins with at least ``min_nights`` observed nights, where the target is checked.
    """
    rows = []
    e = np.asarray(edges)
    for j, c in enumerate(classes):
        ox, oy = obs_known[:, j], obs_leaked[:, j]
        sx, sy = sim_launched[:, :, j].reshape(-1), sim_leaked[:, :, j].reshape(-1)
        ob = np.searchsorted(e, ox, side="right") - 1
        sb = np.searchsorted(e, sx, side="right") - 1
        for i in range(len(edges)):
            po = (ob == i) & (ox > 0)
            ps = (sb == i) & (sx > 0)
            if not po.any() and not ps.any():
                continue
            r, lo, hi = ratio_interval(oy[po], ox[po])
            sim_r = float(sy[ps].sum() / sx[ps].sum()) if ps.any() else math.nan
            n = int(po.sum())
            rows.append({"class": c, "bin": bin_label(edges, i), "nights_observed": n, "observed": r,
                         "observed_lo": lo, "observed_hi": hi, "sim_nights_per_replication": float(ps.sum())
                         / max(1, sim_launched.shape[0]), "sim": sim_r,
                         "inside": bool(math.isfinite(sim_r) and math.isfinite(lo) and lo <= sim_r <= hi),
                         "applies": n >= min_nights})
    return rows


def recorded_leak_bins(known: Array, leaked: Array, classes: Sequence[str], edges: Sequence[int]) -> list[Row]:
    """The recorded side of :func:`leak_bin_table` alone: per class and bin of nights ``known``
    (D, C), the nights, the leak fraction and its 95% interval (to compare two windows' records)."""
    rows = []
    e = np.asarray(edges)
    for j, c in enumerate(classes):
        x, y = known[:, j], leaked[:, j]
        b = np.searchsorted(e, x, side="right") - 1
        for i in range(len(edges)):
            pick = (b == i) & (x > 0)
            if pick.any():
                r, lo, hi = ratio_interval(y[pick], x[pick])
                rows.append({"class": c, "bin": bin_label(edges, i), "nights": int(pick.sum()), "leak": r,
                             "lo": lo, "hi": hi})
    return rows


def _cond(a: Array, b: Array) -> tuple[Array, Array]:
    """P(a > 0 | b > 0) and P(a > 0 | b = 0) over the last axis."""
    with np.errstate(all="ignore"):
        pa_b = ((a > 0) & (b > 0)).sum(axis=-1) / (b > 0).sum(axis=-1)
        pa_nb = ((a > 0) & (b == 0)).sum(axis=-1) / (b == 0).sum(axis=-1)
    return np.asarray(pa_b, dtype=float), np.asarray(pa_nb, dtype=float)


def _spearman(a: Array, b: Array) -> float:
    both = (a > 0) & (b > 0)
    if both.sum() < 3 or np.ptp(a[both]) == 0 or np.ptp(b[both]) == 0:
        return math.nan
    return float(stats.spearmanr(a[both], b[both]).statistic)


def cooccurrence_table(obs: Array, sim: Array, classes: Sequence[str]) -> list[Row]:
    """Co-occurrence of classes on the same night, observed against the simulated band.

    For each class A and each condition B (another class, or ``other``: any other class):
    ``P(A | B)``, ``P(A | not B)`` and the Spearman correlation of sizes on nights both
    attack.  ``obs`` is (D, C) and ``sim`` (R, D, C).
    """
    rows = []
    C = len(classes)
    for j, a in enumerate(classes):
        conds = [(classes[k], k) for k in range(C) if k != j]
        if C > 2:
            conds.append(("other", -1))
        for name, k in conds:
            others = [i for i in range(C) if i != j]
            ob = obs[:, k] if k >= 0 else obs[:, others].sum(axis=1)
            sb = sim[:, :, k] if k >= 0 else sim[:, :, others].sum(axis=2)
            o_ab, o_anb = _cond(obs[:, j], ob)
            s_ab, s_anb = _cond(sim[:, :, j], sb)
            o_rho = _spearman(obs[:, j], ob)
            s_rho = np.array([_spearman(sim[r, :, j], sb[r]) for r in range(sim.shape[0])])
            for stat, o_v, s_v in ((f"P({a} | {name})", float(o_ab), s_ab), (f"P({a} | no {name})", float(o_anb),
                                                                                s_anb),
                                   (f"spearman({a}, {name})", o_rho, s_rho)):
                lo, mid, hi = band(s_v)
                rows.append({"class": a, "given": name, "statistic": stat, "observed": o_v, "sim_q05": float(lo),
                             "sim_median": float(mid), "sim_q95": float(hi),
                             "inside": bool(math.isfinite(o_v) and lo <= o_v <= hi)})
    return rows
