"""The contact event study: are leader contacts followed by more launches?

For each contact on day *c* (launch-dated daily totals of the chosen classes):

* ``post(c)`` = mean launches on days ``c .. c+k`` (``--window k``),
* ``pre(c)``  = mean launches on days ``c-P .. c-1`` (``--pre-window P``, 28 by default).

The pooled multiplier is the ratio of means ``sum post / sum pre`` over contacts (a ratio of
means is stable when single pre-windows are small).  Its 95% interval comes from a
percentile bootstrap over contacts.  The placebo distribution is the same statistic for
sets of as many random dates, drawn from the days of the *study period* (the contacts'
period, ``--since`` .. ``--until``) whose windows fit in the records and which lie at least
``k + 1`` days from any real contact; the one-sided p-value is the share of placebo sets
reaching the observed multiplier (with the usual +1 correction).  The profile by day offset
``j = 0..7`` is ``sum launches(c+j) / sum pre(c)``, against the placebo 5-95% band.

The daily series given to :func:`event_study` may start before the study period: a
pre-window reaches back into records before ``--since`` (a contact 10 days after
``--since`` keeps its 28-day pre-window), but neither contacts nor placebo dates are taken
from outside the period.

The verdict says the data *support* a post-contact surge only if the multiplier's interval
excludes 1 *and* the placebo p-value is below 0.05; that they do not, and by how much random
dates do as well; or, when the test cannot be run (no placebo set has a ratio, p = NaN),
says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class EventStudyOptions:
    """Windows and resampling of the event study."""

    window: int = 3
    pre_window: int = 28
    n_placebo: int = 10000
    n_boot: int = 10000
    seed: int = 0
    max_offset: int = 7


@dataclass
class _Series:
    """A daily series with cumulative sums for window means."""

    y: FloatArray
    csum: FloatArray
    window: int
    pre_window: int

    def windows(self, idx: IntArray) -> tuple[FloatArray, FloatArray]:
        post = (self.csum[idx + self.window + 1] - self.csum[idx]) / (self.window + 1)
        pre = (self.csum[idx] - self.csum[idx - self.pre_window]) / self.pre_window
        return post, pre


def _bootstrap_ci(post: FloatArray, pre: FloatArray, n_boot: int, rng: np.random.Generator) -> list[float]:
    bidx = rng.integers(0, len(post), size=(n_boot, len(post)))
    with np.errstate(divide="ignore", invalid="ignore"):
        boots = post[bidx].sum(axis=1) / pre[bidx].sum(axis=1)
    boots = boots[np.isfinite(boots)]
    return [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))] if boots.size else [math.nan] * 2


def _eligible(n: int, lead: int, s: _Series, contact_pos: list[int], period: tuple[int, int]) -> IntArray:
    """Placebo days: inside the study period, windows inside the series, away from contacts."""
    lo = max(s.pre_window, period[0])
    hi = min(n - lead, period[1] + 1)
    eligible = np.arange(lo, max(lo, hi))
    near = np.zeros(n, dtype=bool)
    for p in contact_pos:
        near[max(0, p - s.window):p + s.window + 1] = True
    return eligible[~near[eligible]]


def _placebo(s: _Series, eligible: IntArray, n_used: int, n_placebo: int, max_offset: int,
             rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Placebo multipliers and profiles (NaN where a set's pre-windows are all zero)."""
    placebo = np.full(n_placebo, np.nan)
    prof = np.full((n_placebo, max_offset + 1), np.nan)
    if eligible.size < n_used:
        return placebo, prof
    picks = np.stack([rng.choice(eligible, size=n_used, replace=False) for _ in range(n_placebo)])
    pp, pr = s.windows(picks)
    with np.errstate(divide="ignore", invalid="ignore"):
        placebo = pp.sum(axis=1) / pr.sum(axis=1)
        for j in range(max_offset + 1):
            prof[:, j] = s.y[picks + j].sum(axis=1) / pr.sum(axis=1)
    # A placebo set whose pre-windows are all zero has no ratio: left out, not counted as infinite.
    placebo[~np.isfinite(placebo)] = np.nan
    prof[~np.isfinite(prof)] = np.nan
    return placebo, prof


def verdict(supported: bool, multiplier: float, ci95: list[float], p_value: float, n_used: int,
            window: int, pre_window: int) -> str:
    """One sentence: supported, not supported, or not testable."""
    said = (f"mean daily launches on days 0-{window} after {n_used} contact(s) were {multiplier:.2f}x the "
            f"{pre_window} days before (95% CI {ci95[0]:.2f}-{ci95[1]:.2f})")
    if not math.isfinite(p_value) or not math.isfinite(multiplier):
        return (f"The test could NOT be run: {said}, but no placebo date set has a usable ratio "
                "(too few eligible days, or zero launches before them), so there is no p-value.")
    return (f"{'The data SUPPORT' if supported else 'The data do NOT support'} a post-contact surge: {said}; "
            f"random placebo dates reach that {p_value:.1%} of the time (one-sided p = {p_value:.3f}).")


def _usable(contacts: list[pd.Timestamp], pos: dict[pd.Timestamp, int], n: int, first: pd.Timestamp,
            last: pd.Timestamp, o: EventStudyOptions) -> list[pd.Timestamp]:
    """Contacts inside the study period whose pre- and post-windows fit in the series."""
    return [c for c in contacts if first <= c <= last and c in pos and pos[c] - o.pre_window >= 0
            and pos[c] + o.window < n]


def _p_value(valid: FloatArray, multiplier: float) -> float:
    if not valid.size or not math.isfinite(multiplier):
        return math.nan
    return float((1 + np.sum(valid >= multiplier)) / (1 + valid.size))


def _profile(s: _Series, ci: IntArray, pre: FloatArray, prof_placebo: FloatArray, max_offset: int,
             any_valid: bool) -> tuple[list[float], list[list[float]]]:
    """Launches on day offsets 0..max_offset over the pre-window mean, and the placebo 5-95% band."""
    total_pre = float(pre.sum())
    profile = [float(s.y[ci + j].sum() / total_pre) if total_pre > 0 else math.nan for j in range(max_offset + 1)]
    if not any_valid:
        return profile, []
    band = [[float(np.nanquantile(prof_placebo[:, j], 0.05)), float(np.nanquantile(prof_placebo[:, j], 0.95))]
            for j in range(max_offset + 1)]
    return profile, band


def _span(days: pd.DatetimeIndex, eligible: IntArray) -> list[str]:
    return [str(days[int(eligible[0])].date()), str(days[int(eligible[-1])].date())] if eligible.size else []


def event_study(daily: pd.Series, contacts: list[pd.Timestamp], options: EventStudyOptions | None = None,
                period: tuple[pd.Timestamp, pd.Timestamp] | None = None) -> dict[str, Any]:
    """Run the event study on a daily series (index: consecutive days).

    ``period`` is the study period (default: the whole series): contacts outside it are left
    out and placebo dates are drawn from it; pre-windows may reach before it.
    """
    o = options or EventStudyOptions()
    rng = np.random.default_rng(o.seed)
    days = pd.DatetimeIndex(daily.index)
    y = daily.to_numpy(dtype=float)
    first, last = period if period else (days[0], days[-1])
    pos = {d: i for i, d in enumerate(days)}
    usable = _usable(contacts, pos, len(y), first, last, o)
    dropped = [str(c.date()) for c in contacts if c not in usable]
    if not usable:
        return {"contacts_used": [], "contacts_outside_data": dropped, "p_value": math.nan, "supported": False,
                "verdict": "The test could NOT be run: no contact in the study period has full pre- and "
                           "post-windows inside the records."}
    s = _Series(y, np.concatenate([[0.0], np.cumsum(y)]), o.window, o.pre_window)
    ci = np.array([pos[c] for c in usable])
    # The profile runs as far past the window as every used contact allows (up to max_offset).
    max_offset = max(o.window, min(o.max_offset, int(len(y) - 1 - ci.max())))
    post, pre = s.windows(ci)
    multiplier = float(post.sum() / pre.sum()) if pre.sum() > 0 else math.nan
    per_contact = [{"date": str(c.date()), "post_mean": float(a), "pre_mean": float(b),
                    "ratio": float(a / b) if b > 0 else None} for c, a, b in zip(usable, post, pre, strict=True)]
    ci95 = _bootstrap_ci(post, pre, o.n_boot, rng)
    period_pos = (int(days.searchsorted(first)), int(days.searchsorted(last, side="right")) - 1)
    eligible = _eligible(len(y), max_offset, s, [pos[c] for c in contacts if c in pos], period_pos)
    placebo, prof_placebo = _placebo(s, eligible, len(usable), o.n_placebo, max_offset, rng)
    valid = placebo[np.isfinite(placebo)]
    p_value = _p_value(valid, multiplier)
    profile, band = _profile(s, ci, pre, prof_placebo, max_offset, bool(valid.size))
    supported = bool(math.isfinite(p_value) and ci95[0] > 1.0 and p_value < 0.05)
    quantiles = {q: float(np.quantile(valid, float(q))) for q in ("0.05", "0.5", "0.95")} if valid.size else {}
    return {
        "contacts_used": [str(c.date()) for c in usable], "contacts_outside_data": dropped,
        "window_days": o.window, "pre_window_days": o.pre_window, "per_contact": per_contact,
        "multiplier": multiplier, "multiplier_ci": ci95, "bootstrap_resamples": o.n_boot,
        "placebo_sets": int(valid.size), "placebo_eligible_days": int(eligible.size),
        "placebo_date_span": _span(days, eligible), "series_start": str(days[0].date()),
        "placebo_quantiles": quantiles, "p_value": p_value, "profile": profile, "placebo_band_5_95": band,
        "supported": supported,
        "verdict": verdict(supported, multiplier, ci95, p_value, len(usable), o.window, o.pre_window),
    }
