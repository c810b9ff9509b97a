"""Value of information: what knowing an uncertain input (or the world) before choosing is worth.

With ``v[s, p] = sign · m[s, p]`` (larger is better; see :mod:`~scenario_sim.analysis.robust`)
and point weights ``w_p``, choosing without further information gives
``V0 = max_s Σ_p w_p v[s, p]`` (the expected-value choice).

* **EVPI** (expected value of perfect information): knowing the point (every input and the
  world) lets the best set be chosen point by point:
  ``EVPI = Σ_p w_p max_s v[s, p] - V0``.  It equals the expected-value choice's mean regret.
* **Partial EVPI** of one input *X*: knowing only *X* lets the choice depend on *X*.  With the
  points grouped by *X* into groups *G* (the world's names; the distinct values of a discrete
  input; otherwise equal-weight quantile bins of *X*),
  ``EVPPI(X) = Σ_G max_s Σ_{p∈G} w_p v[s, p] - V0``.

All values are in the outcome's unit, as an improvement (≥ 0; ``EVPPI ≤ EVPI`` always).  The
binned estimate depends on the number of bins: too few understate the value, too many let
replication noise and sampling noise pass for information (an upward bias); the default, about
``sqrt(points)`` bins capped at 20, is a compromise, and the bins used are reported.  EVPI from
point means is itself biased upward by the replication noise in those means.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scenario_sim.analysis.ensemble import (
    EnsembleRun,
    outcome_and_sets,
    point_inputs,
    point_means,
    point_weights,
)

MAX_BINS = 20
DISCRETE_MAX = 12  # an input with at most this many distinct values is grouped by value


def default_bins(points: int) -> int:
    """About sqrt(points) bins, at least 2 and at most MAX_BINS."""
    return max(2, min(MAX_BINS, round(math.sqrt(points))))


def _groups(x: pd.Series, w: np.ndarray, bins: int) -> tuple[np.ndarray, int]:  # type: ignore[type-arg]
    """Group labels for the points by ``x``: by value when discrete, else weighted quantile bins."""
    values = x.to_numpy()
    uniq = pd.unique(values)
    if isinstance(x.dtype, pd.CategoricalDtype) or len(uniq) <= max(DISCRETE_MAX, bins):
        codes = pd.factorize(values, sort=True)[0]
        return codes, int(codes.max() + 1)
    order = np.argsort(values, kind="stable")
    ws = w[order]
    mid = (np.cumsum(ws) - ws / 2) / ws.sum()  # each point's weight midpoint: balanced bins
    labels = np.empty(len(values), dtype=int)
    labels[order] = np.minimum((mid * bins).astype(int), bins - 1)
    return labels, int(labels.max() + 1)


def _value_given(v: np.ndarray, w: np.ndarray, labels: np.ndarray, k: int) -> float:  # type: ignore[type-arg]
    total = 0.0
    for g in range(k):
        mask = labels == g
        if mask.any():
            total += float((w[mask] @ v[mask]).max())
    return total


def value_of_information(run: EnsembleRun, outcome: str | None = None, sets: list[str] | None = None,
                         bins: int | None = None) -> pd.DataFrame:
    """EVPI and partial EVPI per input and for the world (rows; see the module docstring).

    Columns: ``information`` (``all`` for EVPI, an input name, or ``world``), ``value``
    (improvement in the outcome's unit), ``share_of_evpi``, ``groups`` (bins or values used),
    ``choice`` (the set chosen without information, for ``all``; else which sets the groups
    choose), and ``outcome``, ``unit``.
    """
    name, meta, sign, chosen = outcome_and_sets(run, outcome, sets)
    means, _ = point_means(run, name, chosen)
    w = point_weights(run, means.index)
    v = sign * means.to_numpy()
    ev_by_set = w @ v
    v0 = float(ev_by_set.max())
    ev_choice = chosen[int(ev_by_set.argmax())]
    evpi = float(w @ v.max(axis=1)) - v0
    nb = bins or default_bins(len(means))
    x = point_inputs(run, means.index, with_world=True)
    if "world" not in x.columns and len(run.world_weights) > 1:
        x["world"] = means.index.get_level_values("world").to_numpy()
    rows = [{"information": "all", "value": evpi, "share_of_evpi": 1.0 if evpi > 0 else math.nan,
             "groups": len(means), "choice": ev_choice}]
    for col in x.columns:
        labels, k = _groups(x[col], w, nb)
        value = max(0.0, _value_given(v, w, labels, k) - v0)
        picks = sorted({chosen[int((w[labels == g] @ v[labels == g]).argmax())] for g in range(k)
                        if (labels == g).any()})
        rows.append({"information": col, "value": value,
                     "share_of_evpi": value / evpi if evpi > 0 else math.nan,
                     "groups": k, "choice": ", ".join(picks)})
    out = pd.DataFrame(rows)
    out.insert(0, "outcome", name)
    out.insert(1, "unit", meta.unit)
    return out
