"""Estimates from the daily records: interception rates, wave sizes, growth.

* **Interception rate** per class and period: ``destroyed / launched`` (and ``(destroyed
  + not_reach_goal) / launched``, "defeated"), each with a Wilson score interval, which
  behaves well near 0 and 1 and for small counts, unlike the Wald interval.
* **Wave sizes**: daily launches per class over every day of the window (days with no
  record count as zero).  The share of days with an attack, and a negative binomial fitted
  by maximum likelihood to the *positive* days (zero-truncated, so the fit describes wave
  sizes given an attack), with Wald intervals from the observed information on the log
  scale.  In the scenario the size is an untruncated negative binomial drawn with
  probability ``p``; matching ``P(N > 0)`` to the observed share gives ``p = share / (1 -
  f0)`` with ``f0`` the fitted negative binomial's mass at zero.
* **Growth**: a log-linear fit of monthly launches on time gives a growth rate per month
  (with a t interval) and the fitted daily level at the start of the window; these become
  ``production_per_day`` and ``production_growth_per_month`` (assuming that, over the
  window, the attacker launched about what it produced).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from scenario_sim.calibrate.regime import between_sd, choose_law, shock_summary

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def _nb_logpmf(x: np.ndarray, m: float, k: float) -> np.ndarray:  # type: ignore[type-arg]
    return np.asarray(special.gammaln(x + k) - special.gammaln(k) - special.gammaln(x + 1)
                      + k * (math.log(k) - math.log(k + m)) + x * (math.log(m) - math.log(k + m)))


def _truncated_nll(theta: np.ndarray, x: np.ndarray, w: np.ndarray | None = None) -> float:  # type: ignore[type-arg]
    """Negative log-likelihood of the distinct values ``x`` seen ``w`` times each (default once)."""
    m, k = math.exp(theta[0]), math.exp(theta[1])
    p0 = (k / (k + m)) ** k
    if p0 >= 1.0:
        return math.inf
    lp = _nb_logpmf(x, m, k)
    n = x.size if w is None else float(w.sum())
    return float(-((lp if w is None else lp * w).sum() - n * math.log1p(-p0)))


def _observed_se(theta: np.ndarray, x: np.ndarray, w: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    """Standard errors on the log scale from the observed information (central differences)."""
    h = 1e-4
    H = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            e_i, e_j = np.eye(2)[i] * h, np.eye(2)[j] * h
            H[i, j] = (_truncated_nll(theta + e_i + e_j, x, w) - _truncated_nll(theta + e_i - e_j, x, w)
                       - _truncated_nll(theta - e_i + e_j, x, w) + _truncated_nll(theta - e_i - e_j, x, w)
                       ) / (4 * h * h)
    try:
        cov = np.linalg.inv(H)
        return np.asarray(np.sqrt(np.clip(np.diag(cov), 0, None)))
    except np.linalg.LinAlgError:
        return np.array([math.nan, math.nan])


def _mean_given_dispersion(x: np.ndarray, w: np.ndarray, k: float, m0: float) -> float:  # type: ignore[type-arg]
    """MLE of the untruncated mean of a zero-truncated negative binomial with dispersion fixed at k."""
    r = optimize.minimize_scalar(lambda lm: _truncated_nll(np.array([lm, math.log(k)]), x, w),
                                 bracket=(math.log(m0) - 1.0, math.log(m0)), method="brent")
    return math.exp(float(r.x))


def fit_truncated_negbin(x: np.ndarray, dispersion_bounds: tuple[float, float] = (0.2, 1000.0),  # type: ignore[type-arg]
                         max_interval_ratio: float = 100.0) -> dict[str, Any]:
    """MLE of a zero-truncated negative binomial (mean of the untruncated law, dispersion k).

    A fit is *degenerate* when the dispersion leaves ``dispersion_bounds`` (towards 0 the
    truncated law tends to a log-series with an unbounded mean and P(0) -> 1; towards
    infinity it is Poisson) or when the 95% interval of the mean or the dispersion spans more
    than ``max_interval_ratio``.  Then ``degenerate`` says why and ``fallback`` holds the mean
    refitted with the dispersion clamped into the bounds; the fragment uses the fallback.
    """
    x = np.asarray(x, dtype=float)
    x = x[x > 0]
    if x.size < 3:
        return {"n_days": int(x.size), "mean": math.nan, "dispersion": math.nan, "mean_ci": [math.nan, math.nan],
                "dispersion_ci": [math.nan, math.nan], "p_zero": math.nan,
                "positive_day_mean": float(x.mean()) if x.size else math.nan}
    mean, var = float(x.mean()), float(x.var(ddof=1))
    k0 = mean * mean / (var - mean) if var > mean else 50.0
    values, weights = np.unique(x, return_counts=True)  # daily counts repeat: one term per distinct value
    x, w = values, weights.astype(float)
    # The tolerance scales with the likelihood's size: an absolute 1e-10 on a sum over
    # thousands of days is below float resolution and would run to maxiter.
    fatol = 1e-12 * float(w.sum()) * max(1.0, mean)
    best = None
    for start in ([math.log(mean), math.log(max(k0, 1e-3))], [math.log(mean), 0.0], [math.log(mean / 2), -1.0]):
        r = optimize.minimize(_truncated_nll, np.array(start), args=(x, w), method="Nelder-Mead",
                              options={"xatol": 1e-8, "fatol": fatol, "maxiter": 5000})
        if best is None or r.fun < best.fun:
            best = r
    assert best is not None
    theta = best.x
    se = _observed_se(theta, x, w)
    m, k = math.exp(theta[0]), math.exp(theta[1])
    out: dict[str, Any] = {
        "n_days": int(weights.sum()), "mean": m, "dispersion": k,
        "mean_ci": [math.exp(theta[0] - Z95 * se[0]), math.exp(theta[0] + Z95 * se[0])],
        "dispersion_ci": [math.exp(theta[1] - Z95 * se[1]), math.exp(theta[1] + Z95 * se[1])],
        "p_zero": (k / (k + m)) ** k,
        "positive_day_mean": mean,
    }
    why = _degenerate(out, dispersion_bounds, max_interval_ratio)
    if why:
        kf = min(max(k, dispersion_bounds[0]), dispersion_bounds[1])
        mf = _mean_given_dispersion(x, w, kf, max(m, 1e-3) if k >= dispersion_bounds[0] else mean)
        out["degenerate"] = why
        out["fallback"] = {"mean": mf, "dispersion": kf, "p_zero": (kf / (kf + mf)) ** kf,
                           "rule": f"dispersion clamped into [{dispersion_bounds[0]:g}, {dispersion_bounds[1]:g}], "
                                   "mean refitted by maximum likelihood with it"}
    return out


def _degenerate(fit: dict[str, Any], bounds: tuple[float, float], max_ratio: float) -> str | None:
    """Why a fit cannot be trusted, or None."""
    k = fit["dispersion"]
    if k < bounds[0]:
        return f"dispersion {k:.3g} below the bound {bounds[0]:g}"
    if k > bounds[1]:
        return f"dispersion {k:.3g} above the bound {bounds[1]:g}"
    for key in ("mean", "dispersion"):
        lo, hi = fit[f"{key}_ci"]
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 or hi / lo > max_ratio:
            return f"{key} 95% interval [{lo:.3g}, {hi:.3g}] spans more than a factor {max_ratio:g}"
    return None


def growth(daily: pd.Series) -> dict[str, Any]:
    """Log-linear fit of monthly launches: growth per 30-day month and the daily level at the start."""
    if daily.empty:
        return {"growth_per_month": math.nan}
    days = (daily.index - daily.index[0]).days.to_numpy()
    month = days // 30
    totals = pd.Series(daily.to_numpy(), index=month).groupby(level=0).agg(["sum", "size"])
    totals = totals[totals["size"] >= 15]  # a partial last month would bias the slope
    rate = totals["sum"] / totals["size"]
    ok = rate > 0
    if ok.sum() < 3:
        return {"growth_per_month": math.nan, "months": int(ok.sum()), "level_per_day": float(daily.mean()),
                "growth_ci": [math.nan, math.nan]}
    t = rate.index[ok].to_numpy(dtype=float) + 0.5
    y = np.log(rate[ok].to_numpy())
    fit = stats.linregress(t, y)
    tq = float(stats.t.ppf(0.975, ok.sum() - 2))
    lo, hi = fit.slope - tq * fit.stderr, fit.slope + tq * fit.stderr
    return {
        "months": int(ok.sum()),
        "growth_per_month": math.expm1(fit.slope),
        "growth_ci": [math.expm1(lo), math.expm1(hi)],
        "log_growth_se": float(fit.stderr),
        "level_per_day": math.exp(fit.intercept),  # fitted rate at the start of the window
        "mean_per_day": float(daily.mean()),
        **_tempo(pd.Series(daily.to_numpy(), index=month), totals.index[ok], y - (fit.intercept + fit.slope * t)),
    }


REGIME_REASONING = (
    "A half-year's growth fit says how fast launches grew in that window, not in the next: in the records, the "
    "monthly log-growth rate of consecutive half-years changes by more than the fits' sampling intervals allow. "
    "between_log_sd is that change's sd (mean squared change minus both fits' sampling variances), measured on "
    "total launches in the records up to the window's end only; the fragment draws it once per replication as "
    "attacker.growth.regime_log_shock_per_month, centred on 0 with the same sd (less where its bound, sqrt(6) sd, "
    "is held at log 2), applied from the window's end. Its law (triangular, normal or Student-t, all on the "
    "triangular's support and drawing with its sd: shock) is chosen on the same records by leaving one pair out "
    "(law_selection).")


def growth_regimes(daily: pd.Series, window_months: int = 6, step_months: int = 3, law: str | None = None,
                   seed: int = 0) -> dict[str, Any]:
    """How much the growth rate changes from one half-year to the next, in the records given.

    Windows of ``window_months`` calendar months start every ``step_months`` from the first
    whole month of ``daily`` and end inside it (so nothing after its last day is read; a
    last month with 15 days or more counts).  Each gets the log-linear growth fit of
    :func:`growth`; a window and the one starting ``window_months`` later (the next
    half-year, no overlap) give one change ``Δ`` of the monthly log-growth rate.  Each fit's
    own sampling variance ``se²`` is in ``Δ²`` twice, so the variance of the change itself
    is ``mean(Δ²) − mean(se₁² + se₂²)`` (at least 0): the between-window spread a new
    half-year's growth has beyond the training window's sampling interval.  Overlapping
    pairs are not independent, so ``pairs`` overstates the information.

    ``changes`` lists every pair's change and sampling sd; ``law_selection`` is
    :func:`scenario_sim.calibrate.regime.choose_law` over them (``law`` forces a candidate,
    ``seed`` seeds its CRPS draws), ``law`` the regime shock's law the fragment writes and
    ``shock`` what it draws (:func:`scenario_sim.calibrate.regime.shock_summary`: the law, the
    uncut sd it is written with, its bound and the sd of its draws).
    """
    if daily.empty:
        return {"pairs": 0}
    first = daily.index[0]
    start = first if first.day == 1 else (first + pd.offsets.MonthBegin(1))
    fits: list[tuple[str, dict[str, Any]]] = []
    for s in pd.date_range(start, daily.index[-1], freq=f"{step_months}MS"):
        e = s + pd.DateOffset(months=window_months) - pd.Timedelta(days=1)
        if (e - daily.index[-1]).days >= 15:  # the last month needs 15 days, as in growth()
            break
        g = growth(daily.loc[s:e])
        if math.isfinite(g.get("growth_per_month", math.nan)):
            fits.append((str(s.date()), g))
    lag = window_months // step_months
    by = dict(fits)
    pairs = [(a, b) for a, b in zip(list(by), list(by)[lag:], strict=False)
             if (pd.Timestamp(b) - pd.Timestamp(a)).days >= 28 * window_months]
    out: dict[str, Any] = {"reasoning": REGIME_REASONING, "window_months": window_months, "step_months": step_months,
                           "pairs": len(pairs),
                           "windows": {k: round(math.log1p(g["growth_per_month"]), 4) for k, g in fits}}
    if len(pairs) < 2:
        return out
    d = [math.log1p(by[b]["growth_per_month"]) - math.log1p(by[a]["growth_per_month"]) for a, b in pairs]
    s2 = [by[a]["log_growth_se"] ** 2 + by[b]["log_growth_se"] ** 2 for a, b in pairs]
    out.update(rms_change=math.sqrt(float(np.mean(np.square(d)))), rms_sampling=math.sqrt(float(np.mean(s2))),
               between_log_sd=between_sd(np.asarray(d), np.asarray(s2)),
               changes=[{"from": a, "to": b, "change": round(x, 4), "sampling_sd": round(math.sqrt(v), 4)}
                        for (a, b), x, v in zip(pairs, d, s2, strict=True)])
    sel = choose_law(d, [math.sqrt(v) for v in s2], forced=law, seed=seed)
    out.update(law=sel["law"], shock=shock_summary(sel["law"], out["between_log_sd"]), law_selection=sel)
    return out


def _tempo(by_month: pd.Series, months: Any, resid: np.ndarray) -> dict[str, float]:  # type: ignore[type-arg]
    """Month-to-month variation of the level beyond what independent days give.

    The residual variance of the monthly log rates around the growth line, minus the
    variance a month's mean would have if its days were independent draws around that
    month's level (``var(day) / (days · mean²)``, the delta method), is the variance of a
    per-month tempo factor on the log scale; its square root is ``tempo_log_sd``.
    """
    if resid.size < 3:
        return {"tempo_log_sd": 0.0, "residual_log_sd": math.nan}
    g = by_month.groupby(level=0)
    mean, var, n = g.mean(), g.var(ddof=1), g.size()
    within = float(np.mean([var[m] / (n[m] * mean[m] ** 2) for m in months if mean[m] > 0]))
    total = float(np.sum(resid ** 2) / (resid.size - 2))
    return {"tempo_log_sd": math.sqrt(max(0.0, total - within)), "residual_log_sd": math.sqrt(total),
            "independent_days_log_sd": math.sqrt(within)}


def rates(df: pd.DataFrame) -> dict[str, Any]:
    """Totals and interception rates with Wilson intervals for one group of rows."""
    L = int(df["launched"].sum())
    has = df[df["destroyed"].notna()]
    Ld = int(has["launched"].sum())
    D = int(has["destroyed"].sum())
    N = int(has["not_reach_goal"].fillna(0).sum())
    return {
        "launched": L, "launched_with_destroyed": Ld, "destroyed": D, "not_reach_goal": N,
        "destroyed_rate": D / Ld if Ld else math.nan, "destroyed_rate_ci": list(wilson(D, Ld)),
        "defeated_rate": min(D + N, Ld) / Ld if Ld else math.nan,
        "defeated_rate_ci": list(wilson(min(D + N, Ld), Ld)),
    }


def daily_series(df: pd.DataFrame, classes: list[str], since: pd.Timestamp, until: pd.Timestamp) -> pd.DataFrame:
    """Launches per day and class over every day in [since, until] (days without a record are zero).

    Callers keep [since, until] inside the span of the records, so no day before the first
    record or after the last one is counted as a day without launches.
    """
    idx = pd.date_range(since, until, freq="D")
    wide = df.pivot_table(index="date", columns="cls", values="launched", aggfunc="sum")
    return wide.reindex(index=idx, columns=classes).fillna(0.0)


def periods(df: pd.DataFrame, classes: list[str], period: str) -> list[dict[str, Any]]:
    freq = {"month": "M", "quarter": "Q", "half": "half"}[period]
    d = df.copy()
    if freq == "half":
        d["period"] = d["date"].dt.year.astype(str) + "-H" + ((d["date"].dt.month > 6) + 1).astype(str)
    else:
        d["period"] = d["date"].dt.to_period(freq).astype(str)
    out = []
    for (per, cls), g in d.groupby(["period", "cls"], sort=True):
        if cls in classes:
            out.append({"period": per, "class": cls, **rates(g)})
    return out


def _density_nll(theta: np.ndarray, x: np.ndarray, surv: np.ndarray, exposed: np.ndarray) -> float:  # type: ignore[type-arg]
    s = np.clip(np.exp(theta[0] + theta[1] * x), 1e-12, 1 - 1e-12)
    return float(-(surv * np.log(s) + (exposed - surv) * np.log1p(-s)).sum())


def _density_point(x: np.ndarray, surv: np.ndarray, exposed: np.ndarray) -> tuple[float, float]:  # type: ignore[type-arg]
    pooled = surv.sum() / exposed.sum()
    if not 0 < pooled < 1:  # nothing (or everything) survives: no slope to fit
        return float(pooled), 0.0
    r = optimize.minimize(_density_nll, np.array([math.log(pooled), 0.0]), args=(x, surv, exposed),
                          method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9})
    return float(min(1.0, math.exp(r.x[0]))), float(np.clip(r.x[1], -3.0, 3.0))


def fit_density(n: np.ndarray, surv: np.ndarray, exposed: np.ndarray, seed: int = 0,  # type: ignore[type-arg]
                n_boot: int = 200) -> dict[str, Any]:
    """Survival through a layer as a power of the night's size: ``s(n) = s0 * (n / n_ref) ^ b``.

    ``n`` is each night's launches of the class, ``exposed`` the munitions the layer faced
    and ``surv`` those it did not defeat.  Maximum likelihood with binomial counts per night;
    the 95% interval of ``b`` is a bootstrap over nights (nights are the unit of
    dependence).  ``n_ref`` is the median night, so ``1 - s0`` is the layer's kill
    probability on a median night; the fit applies within the range of nights seen.
    """
    keep = (n > 0) & (exposed > 0)
    n, surv, exposed = n[keep], surv[keep], exposed[keep]
    if n.size < 3:
        return {"nights": int(n.size), "survival_exponent": 0.0, "survival_exponent_ci": [math.nan, math.nan]}
    ref = float(np.median(n))
    x = np.log(n / ref)
    s0, b = _density_point(x, surv, exposed)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        i = rng.integers(0, n.size, n.size)
        boot.append(_density_point(x[i], surv[i], exposed[i])[1])
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"nights": int(n.size), "reference_wave_munitions": ref, "min_wave_munitions": float(n.min()),
            "max_wave_munitions": float(n.max()), "survival_at_reference": s0, "survival_exponent": b,
            "survival_exponent_ci": [float(lo), float(hi)]}


def _participation_nll(load: np.ndarray, x: np.ndarray, t: np.ndarray, keep: np.ndarray) -> float:  # type: ignore[type-arg]
    """Negative log-likelihood of the nights' patterns under a one-factor probit (see below)."""
    z, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()
    # P(class c observed | Z = z): takes part (probit with loading L_c) and draws a size > 0
    sd = np.sqrt(1 - load ** 2)
    pc = stats.norm.cdf((t[None, :] - load[None, :] * z[:, None]) / sd[None, :]) * keep[None, :]
    pc = np.clip(pc, 1e-12, 1 - 1e-12)
    xf = x.astype(float)
    logp = xf @ np.log(pc).T + (1 - xf) @ np.log1p(-pc).T  # (nights, nodes)
    m = logp.max(axis=1, keepdims=True)
    return float(-(m[:, 0] + np.log(np.exp(logp - m) @ w)).sum())


def fit_participation_loadings(x: np.ndarray, p: np.ndarray, p_zero: np.ndarray,  # type: ignore[type-arg]
                               seed: int = 0, n_boot: int = 100) -> dict[str, Any]:
    """Each class's loading on a night's common factor (combined strikes), one-factor probit.

    ``x`` is (nights, classes): launches > 0.  Class *c* takes part on a night iff
    ``L_c Z + sqrt(1 - L_c^2) E_c < Phi^-1(p_c)`` with ``Z`` shared by the night and ``E_c``
    its own, then launches nothing with probability ``p_zero[c]`` (its size law's mass at
    0), so ``P(x_c = 1) = p_c (1 - p_zero[c])`` as the wave fit has it: the loadings change
    which nights classes share, not how often each comes.  Two classes' latent correlation is
    ``L_a L_b``; where only one pair of classes depends, only that product is identified
    (the split between the two is arbitrary, and so harmless).  Loadings by maximum
    likelihood (Gauss-Hermite over ``Z``; bounds [0, 0.95]; a class that always or never
    comes gets 0), 95% intervals by bootstrap over nights.
    """
    ok = (p > 0) & (p < 1)
    n_c = p.shape[0]
    out_load = np.zeros(n_c)
    ci = np.full((n_c, 2), math.nan)
    if ok.sum() < 2 or x.shape[0] < 10:
        return {"loading": out_load.tolist(), "loading_ci": ci.tolist(), "nights": int(x.shape[0])}
    t = stats.norm.ppf(p[ok])
    keep = 1 - p_zero[ok]

    def fit(xx: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
        r = optimize.minimize(_participation_nll, np.full(int(ok.sum()), 0.3), args=(xx, t, keep),
                              method="L-BFGS-B", bounds=[(0.0, 0.95)] * int(ok.sum()))
        return np.asarray(r.x)

    xo = x[:, ok]
    out_load[ok] = fit(xo)
    rng = np.random.default_rng(seed)
    boot = np.array([fit(xo[rng.integers(0, xo.shape[0], xo.shape[0])]) for _ in range(n_boot)])
    ci[ok] = np.percentile(boot, [2.5, 97.5], axis=0).T
    return {"loading": out_load.tolist(), "loading_ci": ci.tolist(), "nights": int(x.shape[0])}


def co_occurrence(daily: pd.DataFrame) -> dict[str, Any]:
    """Same-night co-occurrence of every pair of classes: shares, odds ratio, Fisher's exact p;
    and each class's mean size on nights with and without each other class."""
    on = daily > 0
    pairs: dict[str, Any] = {}
    cols = list(daily.columns)
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            table = pd.crosstab(on[a], on[b]).reindex(index=[False, True], columns=[False, True], fill_value=0)
            odds, pv = stats.fisher_exact(table.to_numpy())
            size_a = daily[a][on[a]]
            pairs[f"{a}+{b}"] = {
                "both": float((on[a] & on[b]).mean()), "product": float(on[a].mean() * on[b].mean()),
                "odds_ratio": float(odds), "fisher_p": float(pv),
                f"mean_{a}_with_{b}": float(size_a[on[b]].mean()) if (on[a] & on[b]).any() else math.nan,
                f"mean_{a}_without_{b}": float(size_a[~on[b]].mean()) if (on[a] & ~on[b]).any() else math.nan,
            }
    return pairs


MIN_HIT_NIGHTS = 20
"""Nights with reported hit locations needed before the records replace an assumed hit probability."""


def hits_per_leaker(rows: pd.DataFrame, seed: int = 0, n_boot: int = 2000) -> dict[str, Any]:
    """Hit locations per munition that got through, from ``num_hit_location``.

    Over the nights on which every row of the class reports both ``destroyed`` and
    ``num_hit_location``: hits / (launched - destroyed - not_reach_goal), a ratio estimator
    with a bootstrap interval over nights.  This is the model's ``hit_probability`` (a
    leaker hits with that chance); it is usable with at least ``MIN_HIT_NIGHTS`` nights.
    """
    g = rows.assign(nrg=rows["not_reach_goal"].fillna(0.0), ok=rows["destroyed"].notna() & rows["hits"].notna())
    n = g.groupby("date").agg(h=("hits", "sum"), n=("launched", "sum"), d=("destroyed", "sum"), e=("nrg", "sum"),
                              ok=("ok", "all"))
    n = n[n["ok"]]
    leak = (n["n"] - n["d"] - n["e"]).clip(lower=0).to_numpy(dtype=float)
    h = n["h"].to_numpy(dtype=float)
    out: dict[str, Any] = {"nights": len(n), "hits": float(h.sum()), "leakers": float(leak.sum()),
                           "usable": bool(len(n) >= MIN_HIT_NIGHTS and leak.sum() > 0)}
    if leak.sum() <= 0:
        return out
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(n), (n_boot, len(n)))
    boot = h[idx].sum(axis=1) / np.maximum(leak[idx].sum(axis=1), 1.0)
    out["hits_per_leaker"] = float(min(1.0, h.sum() / leak.sum()))
    out["hits_per_leaker_ci"] = [float(x) for x in np.percentile(boot, [2.5, 97.5])]
    out["first_night"], out["last_night"] = str(n.index.min().date()), str(n.index.max().date())
    return out
