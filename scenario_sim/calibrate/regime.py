"""The law of the regime shock on growth, chosen on held-out half-year pairs.

``growth_regimes`` (estimate.py) measures how much the monthly log-growth rate changes from
one half-year to the next, as an sd ``s`` beyond the fits' sampling errors.  That sd says
how large a change is, not how it is spread: uncut, a bounded triangular law, a normal and
a heavy-tailed Student-t with the same sd put very different chances on a change of two or
three sd (on the one support they must share here they differ far less: below).  This
module chooses among them by a protocol that reads only the records
``growth_regimes`` was given (for a calibration: the records up to its window's end), so
no test window after it is ever looked at:

* **Candidates**, fixed before any scoring: ``triangular`` (mode 0, bounds ``±√6 s``, the
  growth shock's law), ``normal`` and ``student_t`` (``STUDENT_T_DF`` = 5 degrees of freedom:
  the smallest whole number with a finite kurtosis).  All centred on 0 and on one support, the
  triangular's ``[−a, a]`` with ``a = min(√6 s, log 2)`` (log 2: growth at most doubles or
  halves a month, the schema's limit): the normal and the Student-t are cut there (a draw
  outside is redrawn).  So the scenario language's work budget, which counts growth at the
  shock's upper end, is the same whichever is chosen (``explore``'s ranges of growth and
  half-life stay inside it).  (The shared support replaced a first cut of the normal and the
  Student-t at ``±log 2``, which put explore's corners over the work budget: BENCHMARKS.md,
  session 11, oos lane.)
* **Matched on the sd as drawn** (session 12, fixed before that session's scoring).  Every
  candidate draws with the same sd, the triangular's on ``±a``: :func:`drawn_sd` ``= a/√6``,
  which is ``s`` unless ``a`` is held at log 2 (``s > log 2/√6 = 0.283``: then every law is
  narrowed alike).  The triangular has no other parameter; the normal's and the Student-t's
  ``sd`` (the uncut law's, what the fragment writes as ``sd``) is the scale for which the law
  *cut at* ``±a`` has that sd (:func:`nominal_sd`).  Since ``a / drawn sd = √6`` always, that
  scale is a fixed multiple of the drawn sd (:func:`unit_scale`: 1.0789 for the normal, 1.3073
  for the Student-t, solved once by quadrature).  Before session 12 both wrote ``sd = s``, and
  cut at ``±√6 s`` they drew with sd ``0.95 s`` and ``0.85 s``: the "heavy-tailed" candidate
  was the narrowest (P(|change| > 1.5 s) 12.1% normal, 8.8% Student-t, 15.0% triangular).
  Matched, the three differ in shape only, and not by much, since one support and one sd
  leave little room: kurtosis 2.40 triangular, 2.51 normal, 2.62 Student-t (an uncut t with 5
  degrees of freedom: 9), P(|change| > 1.5 s) 15.0%, 14.5%, 14.7%.  A law with heavier tails
  than these needs a wider support than the work budget's, or a smaller sd.  The laws are
  scored as the model draws them.
* **Leave one pair out.**  For each pair *k*, ``s`` is measured again from the other pairs
  (:func:`between_sd`); the candidate with that sd, plus the two fits' own sampling error
  (normal, sd ``√(se₁² + se₂²)``, the same for every candidate), is the forecast of pair
  *k*'s change ``Δ_k``.
* **Scores** of each forecast: the log score ``log p(Δ_k)`` (the predictive density, by
  quadrature of the law's density against the sampling normal), the CRPS
  (``scoringrules.crps_ensemble`` on ``N_DRAWS`` seeded draws of the law as the model samples
  it, plus the sampling normal), and whether ``Δ_k`` lies in the draws' central 90%.
* **Rule**: the highest mean log score (a proper score that rewards the right tails: the
  question is how likely large changes are); ties go to the earlier candidate.  The CRPS
  and the coverage are reported beside it, not used.  With fewer than ``MIN_PAIRS`` pairs
  (so fewer than two left to measure ``s`` from) there is nothing to hold out, and the law
  is ``FALLBACK`` (triangular, the law used before this protocol), said so.

Limits: the pairs overlap (half-years starting every quarter), so a held-out pair shares
months with its neighbours and the scores are optimistic for every candidate alike; with
the few pairs the records give (4 up to June 2024, 8 up to June 2025) differences of a few
hundredths of a nat are not evidence of much.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from pydantic import TypeAdapter
from scipy import integrate, optimize, stats

REGIME_LAWS = ("triangular", "normal", "student_t")
"""The candidate laws, in the order ties are broken."""

STUDENT_T_DF = 5.0
LIMIT = math.log(2.0)
MIN_PAIRS = 3
FALLBACK = "triangular"
N_DRAWS = 20_000

RULE = ("leave one half-year pair out: each candidate law, with the sd measured on the other pairs and the two "
        "fits' sampling error added, forecasts the held-out pair's change of monthly log-growth; the law with the "
        "highest mean log score is chosen (CRPS and 90% coverage reported, not used); fewer than "
        f"{MIN_PAIRS} pairs: {FALLBACK}")


def _r(x: float) -> float:
    return float(f"{x:.4g}")


def bound(sd: float) -> float:
    """The support's half-width shared by every candidate: ``min(√6 sd, log 2)``."""
    return min(math.sqrt(6.0) * sd, LIMIT)


def drawn_sd(sd: float) -> float:
    """The sd every candidate draws with: the triangular's on ``±bound(sd)``, ``bound(sd)/√6``
    (``sd`` itself unless the bound is held at log 2)."""
    return bound(sd) / math.sqrt(6.0)


def _base(law: str, scale: float) -> Any:
    """The uncut normal or Student-t whose sd is ``scale`` (as the scenario language reads ``sd``)."""
    if law == "normal":
        return stats.norm(scale=scale)
    return stats.t(STUDENT_T_DF, scale=scale * math.sqrt((STUDENT_T_DF - 2) / STUDENT_T_DF))


def cut_sd(law: str, scale: float, a: float) -> float:
    """The sd of ``law`` with uncut sd ``scale`` cut to ``[−a, a]``: the sd the model draws it with
    (by quadrature; the triangular on ``±a`` has ``a/√6`` whatever ``scale``)."""
    if law == "triangular":
        return a / math.sqrt(6.0)
    base = _base(law, scale)
    return math.sqrt(float(base.expect(lambda x: x * x, lb=-a, ub=a, conditional=True)))


@functools.cache
def unit_scale(law: str) -> float:
    """The uncut sd, per unit of drawn sd, for which ``law`` cut at ``±√6`` draws with sd 1 (the
    triangular: 1, it has no scale of its own).  Scale-free, since ``bound / drawn sd = √6``."""
    if law not in REGIME_LAWS:
        raise ValueError(f"unknown regime law {law!r} (known: {', '.join(REGIME_LAWS)})")
    if law == "triangular":
        return 1.0
    a = math.sqrt(6.0)
    # cut_sd rises with the scale, from 0 towards the uniform's a/√3 = √2 > 1: one root
    return float(optimize.brentq(lambda q: cut_sd(law, q, a) - 1.0, 0.5, 100.0, xtol=1e-13))


def nominal_sd(law: str, sd: float) -> float:
    """The ``sd`` (the uncut law's) that :func:`law_spec` writes for ``law``, so that cut at
    ``±bound(sd)`` the law draws with :func:`drawn_sd` ``(sd)``."""
    return unit_scale(law) * drawn_sd(sd)


def law_spec(law: str, sd: float) -> dict[str, Any]:
    """The scenario distribution of a regime shock with this law and measured sd ``sd``
    (centred on 0, on ``±bound(sd)``, drawing with sd :func:`drawn_sd`); what the fragment
    writes as ``regime_log_shock_per_month``."""
    if law not in REGIME_LAWS:
        raise ValueError(f"unknown regime law {law!r} (known: {', '.join(REGIME_LAWS)})")
    a = _r(bound(sd))
    if law == "triangular":
        return {"dist": "triangular", "low": -a, "mode": 0.0, "high": a}
    base = {"dist": law, "mean": 0.0, "sd": _r(nominal_sd(law, sd)), "low": -a, "high": a}
    if law == "student_t":
        base["df"] = STUDENT_T_DF
    return base


def shock_summary(law: str, sd: float) -> dict[str, Any]:
    """What calibration.json states about the drawn shock: the law, its scale (the uncut sd the
    fragment writes; none for the triangular), its bound and the sd of its draws."""
    spec = law_spec(law, sd)
    return {"law": law, "scale_sd": spec.get("sd"), "bound": spec["high"], "drawn_sd": _r(drawn_sd(sd)),
            "matching": "every candidate law draws with the triangular's sd on the shared support, bound / sqrt(6) "
                        "(the measured sd unless the bound is held at log 2); the normal's and the Student-t's "
                        "uncut sd (scale_sd) is set so that cut there they draw with that sd"}


def between_sd(changes: np.ndarray[Any, Any], sampling_var: np.ndarray[Any, Any]) -> float:
    """The sd of the change of growth beyond sampling: ``√max(0, mean(Δ²) − mean(se₁² + se₂²))``."""
    return math.sqrt(max(0.0, float(np.mean(changes ** 2)) - float(np.mean(sampling_var))))


def _density(law: str, sd: float) -> Any:
    """The density of the law as :func:`law_spec` writes it (its scale and bounds), on its
    support (a callable), for the log score's quadrature."""
    spec = law_spec(law, sd)
    a = spec["high"]
    if law == "triangular":
        return stats.triang(0.5, loc=-a, scale=2 * a).pdf
    base = _base(law, spec["sd"])
    mass = float(base.cdf(a) - base.cdf(-a))
    return lambda x: base.pdf(x) / mass


def forecast_scores(law: str, sd: float, change: float, sampling_sd: float, rng: np.random.Generator,
                    ) -> dict[str, float | bool]:
    """Log score, CRPS and 90% coverage of one held-out change under ``law`` with ``sd``."""
    import scoringrules

    noise = rng.normal(0.0, sampling_sd, N_DRAWS)
    if sd <= 0:  # no change beyond sampling: the forecast is the sampling normal alone
        dens, draws = float(stats.norm.pdf(change, scale=sampling_sd)), noise
    else:
        pdf = _density(law, sd)
        lo = -_r(bound(sd))
        dens = integrate.quad(lambda x: pdf(x) * stats.norm.pdf(change - x, scale=sampling_sd), lo, -lo,
                              points=[0.0], limit=200)[0]
        draws = _sample(law, sd, rng) + noise
    q05, q95 = np.quantile(draws, [0.05, 0.95])
    return {"log_score": math.log(max(dens, 1e-300)), "crps": float(scoringrules.crps_ensemble(change, draws)),
            "inside_90": bool(q05 <= change <= q95)}


def _sample(law: str, sd: float, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """``N_DRAWS`` draws of the law exactly as the model draws the fragment's distribution."""
    from scenario_sim.lang.distributions import Distribution

    dist: Any = TypeAdapter(Distribution).validate_python(law_spec(law, sd))
    return np.asarray(dist.sample(rng, N_DRAWS), dtype=float)


def choose_law(changes: list[float], sampling_sds: list[float], forced: str | None = None,
               seed: int = 0) -> dict[str, Any]:
    """The protocol of the module notes over the pairs' changes and sampling sds.

    Returns ``law`` (the chosen candidate, or ``forced``), ``chosen_by``, ``rule``, and with
    at least ``MIN_PAIRS`` pairs ``scores`` (per candidate: mean log score, mean CRPS, pairs
    inside the 90% band, and the per-pair log scores).
    """
    d = np.asarray(changes, dtype=float)
    v = np.asarray(sampling_sds, dtype=float) ** 2
    out: dict[str, Any] = {"rule": RULE, "candidates": list(REGIME_LAWS), "student_t_df": STUDENT_T_DF}
    if d.size < MIN_PAIRS:
        out.update(law=forced or FALLBACK, chosen_by="--regime-law" if forced else
                   f"fallback: {d.size} pair(s), fewer than {MIN_PAIRS} to hold one out")
        return out
    scores: dict[str, dict[str, Any]] = {}
    for law in REGIME_LAWS:
        rng = np.random.default_rng(seed)  # the same draws for every candidate: differences are the laws'
        per = []
        for k in range(d.size):
            keep = np.arange(d.size) != k
            per.append(forecast_scores(law, between_sd(d[keep], v[keep]), float(d[k]), math.sqrt(v[k]), rng))
        scores[law] = {"log_score": float(np.mean([p["log_score"] for p in per])),
                       "crps": float(np.mean([p["crps"] for p in per])),
                       "inside_90": int(sum(bool(p["inside_90"]) for p in per)), "held_out": int(d.size),
                       "log_score_by_pair": [round(float(p["log_score"]), 4) for p in per]}
    best = max(REGIME_LAWS, key=lambda law: (scores[law]["log_score"], -REGIME_LAWS.index(law)))
    out.update(scores=scores, best=best, law=forced or best,
               chosen_by="--regime-law" if forced else "highest mean log score, leave one pair out")
    return out
