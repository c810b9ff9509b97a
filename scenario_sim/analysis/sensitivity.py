"""Global sensitivity of each recommendation's benefit to the uncertain inputs (SALib).

The quantity analysed is, for every set *s* other than the baseline and every case *c*, the
mean over the case's replications of the *paired* difference ``Y[s, c] = mean_r (X_s,r - X_base,r)``
(same streams within a case, so it is the set's effect in that case).  Which method applies
depends on how the run sampled its cases (``explore.sampler`` in the manifest):

* ``sobol`` — Saltelli's scheme (SALib ``sample.sobol``): blocks of ``A, AB_1..AB_D,
  [BA_1..BA_D,] B`` rows.  The block structure is checked on the cases before anything is
  computed.  SALib's ``analyze.sobol`` gives the first-order index ``S1_i = V[E(Y|X_i)] / V(Y)``
  and the total index ``ST_i = E[V(Y|X_~i)] / V(Y)`` (Saltelli 2010 and Jansen estimators) with
  bootstrap confidence intervals.
* ``morris`` — elementary effects on SALib ``sample.morris`` trajectories: ``mu*`` (mean
  absolute effect of a one-step change, in the outcome's unit per ``delta`` of the input's
  range), ``mu`` and ``sigma`` (interactions or non-linearity), with SALib's interval on ``mu*``:
  ``mu* ± z·SE`` with the standard error from resampling the elementary effects (a normal
  approximation), its lower end clipped at 0 because ``mu* >= 0`` (``mu_star_clipped``).
* any other sampler (``lhs``, ``grid``) — a given-data first-order estimate, SALib's RBD-FAST
  (``analyze.rbd_fast``), with a bootstrap interval; no total indices.

**Replication noise.**  ``Y[s, c]`` is a mean of ``n`` replications, so it carries noise of
variance ``σ²_c / n`` (``σ²_c`` the within-case variance of the paired difference).  Its share
of the variance of ``Y`` is ``η = mean_c(σ²_c / n_c) / V(Y)``.  Noise is variance explained by no
input: it pulls first-order indices down by the factor ``1 - η`` and adds about ``η`` to every
total index, so an index smaller than ``η`` cannot be told from noise.  The report states ``η``,
the smallest index worth resolving (the smallest total index, or first-order index when there
are no totals, at least ``floor``, each first put on the noise-free scale:
``(ST·V(Y) - noise) / (V(Y) - noise)`` and ``S1·V(Y) / (V(Y) - noise)``; for Morris, the
smallest ``mu*`` at least ``floor · max mu*`` compared with the noise standard deviation of
one elementary effect, ``sqrt(2 mean σ²_c/n)/delta``)
and the replications per case that would bring the noise below it:
``n_needed = ceil(n · η' / smallest)`` with ``η'`` the noise share of the noise-free variance
(``ceil(n · (noise sd / smallest)²)`` for Morris).

With worlds crossed with cases, the indices are computed per world and for the world-weighted
mean effect (``world = "all"``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scenario_sim.analysis.ensemble import EnsembleRun, paired_point_stats
from scenario_sim.errors import UserError

FLOOR = 0.01
ALL_WORLDS = "all"


@dataclass
class Sensitivity:
    """Indices (one row per set, world and input) and the noise statement (one row per set and world)."""

    outcome: str
    unit: str
    method: str
    indices: pd.DataFrame
    noise: pd.DataFrame


def _problem(run: EnsembleRun, x: np.ndarray) -> dict[str, Any]:  # type: ignore[type-arg]
    declared = {str(i["name"]): i for i in run.sampler.get("inputs", []) if isinstance(i, dict)}
    bounds = []
    for j, name in enumerate(run.inputs):
        d = declared.get(name, {})
        lo, hi = d.get("low"), d.get("high")
        if lo is None or hi is None or not float(hi) > float(lo):
            lo, hi = float(x[:, j].min()), float(x[:, j].max())
            hi = hi if hi > lo else lo + 1.0
        bounds.append([float(lo), float(hi)])
    return {"num_vars": len(run.inputs), "names": list(run.inputs), "bounds": bounds}


def check_saltelli(x: np.ndarray, second_order: bool | None) -> tuple[int, bool]:  # type: ignore[type-arg]
    """(N, second_order) of a Saltelli design, checking every block's structure.

    ``second_order`` None: inferred (the design that fits).  A UserError says what is wrong.
    """
    rows, d = x.shape
    options = [second_order] if second_order is not None else [False, True]
    for so in options:
        step = 2 * d + 2 if so else d + 2
        if rows % step:
            continue
        blocks = x.reshape(rows // step, step, d)
        a, b = blocks[:, 0, :], blocks[:, -1, :]
        ok = True
        for j in range(d):
            expect_ab = a.copy()
            expect_ab[:, j] = b[:, j]
            ok &= bool(np.allclose(blocks[:, 1 + j, :], expect_ab))
            if so:
                expect_ba = b.copy()
                expect_ba[:, j] = a[:, j]
                ok &= bool(np.allclose(blocks[:, 1 + d + j, :], expect_ba))
        if ok:
            return rows // step, so
    raise UserError(f"sensitivity: the {rows} cases are not a Saltelli design over {d} inputs "
                    "(run explore with --sampler sobol, and keep every case)")


def _series(run: EnsembleRun, outcome: str, s: str) -> dict[str, pd.DataFrame]:
    """Per world (and 'all' when several): per case diff and noise variance, in case order."""
    stats = paired_point_stats(run, outcome, s, run.baseline)
    cases = run.cases["case"].sort_values().to_numpy()
    out: dict[str, pd.DataFrame] = {}
    if "world" in run.cases.columns:  # the world was drawn with the case: one series, world as an input
        stats = stats.droplevel("world").to_frame() if isinstance(stats, pd.Series) else stats.droplevel("world")
        stats = pd.concat({"": stats}, names=["world"]).reorder_levels(["case", "world"])
    worlds = sorted(stats.index.get_level_values("world").unique())
    for w in worlds:
        sub = stats.xs(w, level="world").reindex(cases)
        if sub["diff"].isna().any():
            missing = int(sub.index[sub["diff"].isna()][0])
            raise UserError(f"sensitivity: set {s!r} has no successful replication in case {missing}"
                            f"{f' (world {w})' if w else ''}; every case is needed")
        out[w] = pd.DataFrame({"y": sub["diff"], "noise": (sub["var"].fillna(0.0) / sub["n"]), "n": sub["n"]})
    if len(worlds) > 1 and "world" not in run.cases.columns:
        wts = {w: run.world_weights.get(w, 0.0) for w in worlds}
        tot = sum(wts.values())
        y = sum(out[w]["y"] * (wts[w] / tot) for w in worlds)
        noise = sum(out[w]["noise"] * (wts[w] / tot) ** 2 for w in worlds)
        n = sum(out[w]["n"] for w in worlds) / len(worlds)
        out[ALL_WORLDS] = pd.DataFrame({"y": y, "noise": noise, "n": n})
    return out


def _analyse(method: str, problem: dict[str, Any], x: np.ndarray, y: np.ndarray, seed: int,  # type: ignore[type-arg]
             second_order: bool, num_levels: int) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib warns on constant outputs and small samples; handled below
        if method == "sobol":
            from SALib.analyze import sobol

            r = sobol.analyze(problem, y, calc_second_order=second_order, seed=seed)
            return pd.DataFrame({"S1": r["S1"], "S1_conf": r["S1_conf"], "ST": r["ST"], "ST_conf": r["ST_conf"]})
        if method == "morris":
            from SALib.analyze import morris

            r = morris.analyze(problem, x, y, num_levels=num_levels, seed=seed)
            return pd.DataFrame({"mu_star": np.asarray(r["mu_star"], dtype=float),
                                 "mu_star_conf": np.asarray(r["mu_star_conf"], dtype=float),
                                 "mu": np.asarray(r["mu"], dtype=float), "sigma": np.asarray(r["sigma"], dtype=float)})
        from SALib.analyze import rbd_fast

        # M harmonics; SALib's bootstrap halves the sample and needs 2M below that half
        m = min(10, (len(y) - 1) // 4 - 1)
        if m < 1:
            raise UserError(f"sensitivity: {len(y)} cases are too few for a given-data estimate (at least 12)")
        r = rbd_fast.analyze(problem, x, y, M=m, seed=seed)
        return pd.DataFrame({"S1": r["S1"], "S1_conf": r["S1_conf"]})


def _noise_row(method: str, ind: pd.DataFrame, y: np.ndarray, noise: np.ndarray, n: float,  # type: ignore[type-arg]
               floor: float, num_levels: int) -> dict[str, Any]:
    vy = float(np.var(y, ddof=1)) if len(y) > 1 else math.nan
    nv = float(np.mean(noise))
    share = nv / vy if vy > 0 else math.nan
    row: dict[str, Any] = {"replications": n, "variance": vy, "noise_variance": nv, "noise_share": share}
    if method == "morris":
        delta = num_levels / (2 * (num_levels - 1))
        sd = math.sqrt(2 * nv) / delta
        mus = ind["mu_star"].to_numpy()
        big = mus[mus >= floor * mus.max()] if mus.size and mus.max() > 0 else np.array([])
        smallest = float(big.min()) if big.size else math.nan
        need = math.ceil(n * (sd / smallest) ** 2) if smallest > 0 else math.nan
        row.update({"noise_sd_effect": sd, "smallest_index": smallest})
    else:
        # the indices are fractions of V(Y) = V_true + noise: judge them on the noise-free scale
        vt = vy - nv
        if "ST" in ind:
            vals = (ind["ST"].to_numpy() * vy - nv) / vt if vt > 0 else np.array([])
        else:
            vals = ind["S1"].to_numpy() * vy / vt if vt > 0 else np.array([])
        big = vals[vals >= floor]
        smallest = float(big.min()) if big.size else floor
        true_share = nv / vt if vt > 0 else math.inf
        need = math.ceil(n * true_share / smallest) if math.isfinite(true_share) else math.nan
        row.update({"noise_sd_effect": math.nan, "smallest_index": smallest})
    row["replications_needed"] = max(1, need) if isinstance(need, int) else need
    row["resolved"] = bool(isinstance(need, int) and need <= n)
    if n < 2:
        # One replication per case has no within-case variance to measure: the noise is unknown,
        # not zero, and nothing can be said about whether the indices stand above it.
        row.update({"noise_variance": math.nan, "noise_share": math.nan, "noise_sd_effect": math.nan,
                    "replications_needed": math.nan, "resolved": False})
    return row


def sensitivity(run: EnsembleRun, outcome: str | None = None, sets: list[str] | None = None,
                method: str | None = None, floor: float = FLOOR) -> Sensitivity:
    """Sobol, Morris or RBD-FAST indices of each set's paired difference from the baseline."""
    name = outcome or run.primary
    meta = run.outcome(name)
    chosen = [s for s in (sets or run.sets) if s != run.baseline]
    run.check_sets(chosen)
    if not chosen:
        raise UserError("sensitivity: name at least one set other than the baseline")
    sampler = str(run.sampler.get("sampler", "lhs"))
    how = method or (sampler if sampler in ("sobol", "morris") else "rbd_fast")
    if how in ("sobol", "morris") and how != sampler:
        raise UserError(f"sensitivity: {how} needs a run sampled with --sampler {how} (this one used {sampler})")
    x = run.cases.sort_values("case")[run.inputs].to_numpy(dtype=float)
    problem = _problem(run, x)
    so = False
    if how == "sobol":
        cfg = run.sampler.get("sobol", {}) if isinstance(run.sampler.get("sobol"), dict) else {}
        _, so = check_saltelli(x, cfg.get("second_order"))
    num_levels = int((run.sampler.get("morris") or {}).get("num_levels", 4)) if how == "morris" else 4
    rows, noise_rows = [], []
    for s in chosen:
        for world, series in _series(run, name, s).items():
            y = series["y"].to_numpy(dtype=float)
            ind = _analyse(how, problem, x, y, run.seed, so, num_levels)
            ind.insert(0, "input", run.inputs)
            ind.insert(0, "world", world)
            ind.insert(0, "set", s)
            rows.append(ind)
            nr = _noise_row(how, ind, y, series["noise"].to_numpy(dtype=float), float(series["n"].median()),
                            floor, num_levels)
            noise_rows.append({"set": s, "world": world, "cases": len(y), **nr})
    indices = pd.concat(rows, ignore_index=True)
    for col in ("S1", "ST", "mu_star"):
        if col in indices:
            indices[f"{col}_low"] = indices[col] - indices[f"{col}_conf"]
            indices[f"{col}_high"] = indices[col] + indices[f"{col}_conf"]
    if "mu_star" in indices:
        # mu* = mean |EE| >= 0, but SALib's interval is mu* ± z·(bootstrap standard error), a normal
        # approximation that can reach below 0: its lower end is clipped at 0 (mu_star_conf keeps
        # SALib's half-width; mu_star_clipped marks the rows where the clip applied).
        indices["mu_star_clipped"] = indices["mu_star_low"] < 0
        indices["mu_star_low"] = indices["mu_star_low"].clip(lower=0.0)
    return Sensitivity(name, meta.unit, how, indices, pd.DataFrame(noise_rows))
