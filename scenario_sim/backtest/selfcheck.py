"""Self-check: how often a correctly specified model meets the backtest's own targets.

A target such as "at least 4 of 6 months inside the 90% band" can fail even when the model
is exactly right: six months of one half-year are not six independent draws (a regime shock
or a growth rate drawn once per replication moves them together), and a 90% band leaves one
month in ten outside by construction.  Before reading one failed backtest as evidence of a
wrong model, one needs the chance that the *right* model fails it.

This module measures that chance on the backtest's own simulation.  Each replication in turn
is taken as the "recorded" window (a pseudo-observation) and scored, by the same functions
that score the records (:func:`scenario_sim.backtest.core.monthly_scores`,
:func:`~scenario_sim.backtest.core.leak_bins`, :func:`~scenario_sim.backtest.core.targets_of`),
against the other replications.  A pseudo-observation is drawn from the very law the band is
made of (exchangeable with the ensemble), so this is the model scored against a world in
which it is correctly specified, parameter uncertainty included.  The share of
pseudo-observations meeting each target is the target's pass rate under a correct model; the
share doing no better than the records did is how surprising the recorded result is.

Limits: the ensemble has R - 1 members instead of R (negligible at R = 500); the pass rates
are those of *this* fitted scenario, so they describe the test, not a different calibration;
and a pseudo-observation reports ``destroyed`` on every launch (the records' ``known``
launches are fewer), which only matters for the leak bins' night counts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from scenario_sim.backtest import scores
from scenario_sim.backtest.nights import Nights

METHOD = ("each replication in turn scored as the record against the other replications, by the backtest's own "
          "scoring code: the targets' pass rates under a correctly specified model")


def _share(x: list[bool]) -> float:
    return float(np.mean(x)) if x else math.nan


def _pseudo(sim: Nights, j: int) -> tuple[Nights, Nights]:
    """Replication ``j`` as recorded nights (D, C) and the others as the ensemble (R-1, D, C)."""
    one = Nights(sim.start, sim.classes, {k: v[j] for k, v in sim.counts.items()})
    rest = Nights(sim.start, sim.classes, {k: np.delete(v, j, axis=0) for k, v in sim.counts.items()})
    return one, rest


def self_check(sim: Nights, summary: dict[str, Any], options: Any, seed: int) -> dict[str, Any]:
    """Pass rates of the targets when each of ``sim``'s replications is scored as the record.

    ``summary`` is the backtest's (its ``targets``: months, kind of split, the recorded result
    to place among the pseudo-observations); ``options`` its
    :class:`~scenario_sim.backtest.core.BacktestOptions`.  Returns the shares per class and
    target, the distribution of months inside and of outer-decile PIT counts, and where the
    recorded result falls (``recorded``)."""
    from scenario_sim.backtest.core import leak_bins, monthly_scores, targets_of

    t_rec = summary["targets"]
    months = t_rec["months"]
    out_of_sample = bool(t_rec["pit_checked"])
    classes = sim.classes
    month, labels = sim.month_index()
    sm_all = scores.monthly(sim.counts["launched"], month, len(labels))
    R = sm_all.shape[0]
    # one seed per pseudo-observation for its PIT uniforms, none shared with the records' scoring
    seeds = np.random.SeedSequence([seed, 0x5E1F]).generate_state(R)
    rows: list[dict[str, Any]] = []
    for j in range(R):
        one, rest = _pseudo(sim, j)
        cov, pit = monthly_scores(sm_all[j], np.delete(sm_all, j, axis=0), labels, classes, int(seeds[j]))
        leak = leak_bins(one, rest, options)
        t = targets_of({"coverage": cov, "leak_bins": leak, "rates": [], "wave_sizes": []}, pit, out_of_sample,
                       classes, months)
        rows.append({"inside": {c: t["coverage"][c]["inside"] for c in classes}, "need": t["coverage_needed"],
                     "outer": pit["outer_deciles"], "cov_ok": t["coverage_ok"], "pit_ok": t["pit_ok"],
                     "leak_ok": t["leak_ok"], "leak_checked": t["leak_bins_checked"],
                     "bins": {f"{b['class']} {b['bin']}": b["inside"] for b in leak if b["applies"]}})
    return {**_summarise(rows, classes, len(labels), t_rec, summary["pit"], out_of_sample),
            "min_leak_nights": options.min_leak_nights}


def _coverage(rows: list[dict[str, Any]], classes: list[str], n_months: int) -> dict[str, Any]:
    """Per class: months needed, share of pseudo-observations with that many inside, and how
    many had k = 0 .. n_months months inside."""
    return {c: {"needed": rows[0]["need"][c], "met": _share([r["inside"][c] >= r["need"][c] for r in rows]),
                "months_inside_counts": [sum(r["inside"][c] == k for r in rows) for k in range(n_months + 1)]}
            for c in classes}


def _recorded(rows: list[dict[str, Any]], classes: list[str], t_rec: dict[str, Any],
              pit_rec: dict[str, Any]) -> dict[str, Any]:
    """Where the recorded result falls: the share of pseudo-observations doing no better."""
    rec_cov = {c: t_rec["coverage"][c]["inside"] for c in classes}
    return {"coverage_at_most": {c: _share([r["inside"][c] <= rec_cov[c] for r in rows]) for c in classes},
            "pit_outer_at_least": _share([r["outer"] >= pit_rec["outer_deciles"] for r in rows]),
            "monthly_targets_met": bool(t_rec["coverage_ok"] and t_rec["pit_ok"])}


def _by_bin(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per wave-size bin: how many pseudo-observations had enough nights in it for the leak target
    to apply, and the share of those inside (the target needs every applicable bin)."""
    names = sorted({b for r in rows for b in r["bins"]})
    return {b: {"checked": sum(b in r["bins"] for r in rows),
                "met": _share([r["bins"][b] for r in rows if b in r["bins"]])} for b in names}


def _summarise(rows: list[dict[str, Any]], classes: list[str], n_months: int, t_rec: dict[str, Any],
               pit_rec: dict[str, Any], out_of_sample: bool) -> dict[str, Any]:
    R = len(rows)
    monthly = [r["cov_ok"] and r["pit_ok"] for r in rows]
    checked = [r for r in rows if r["leak_checked"]]
    p = _share(monthly)
    return {"method": METHOD, "pseudo_observations": R, "ensemble": R - 1, "out_of_sample": out_of_sample,
            "coverage": _coverage(rows, classes, n_months), "coverage_all_classes": _share([r["cov_ok"] for r in rows]),
            "pit_ok": _share([r["pit_ok"] for r in rows]) if out_of_sample else None,
            "pit_outer_counts": [sum(r["outer"] == k for r in rows) for k in range(n_months * len(classes) + 1)],
            "monthly_targets": p, "monthly_targets_se": math.sqrt(p * (1 - p) / R),
            "leak_ok": _share([r["leak_ok"] for r in checked]), "leak_checked": len(checked),
            "leak_by_bin": _by_bin(rows),
            "all_targets": _share([m and r["leak_ok"] for m, r in zip(monthly, rows, strict=True)]),
            "recorded": _recorded(rows, classes, t_rec, pit_rec)}


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.0f}%"


def verdict_sentence(sc: dict[str, Any]) -> str:
    """One sentence for the verdict: the pass rates under a correct model and the recorded result's place."""
    pct = _pct
    per = ", ".join(f"{c} {pct(v['met'])}" for c, v in sc["coverage"].items())
    pit = f"; PIT {pct(sc['pit_ok'])}" if sc["out_of_sample"] else ""
    rec = sc["recorded"]
    worse = ", ".join(f"{c} {pct(v)}" for c, v in rec["coverage_at_most"].items())
    pit_rec = f"; PIT outer deciles as many or more {pct(rec['pit_outer_at_least'])}" if sc["out_of_sample"] else ""
    return (f"Self-check ({sc['pseudo_observations']} replications each scored as the record against the other "
            f"{sc['ensemble']}, i.e. a correctly specified model): the monthly targets are met in "
            f"{pct(sc['monthly_targets'])} of them (coverage per class {per}{pit}), the leak target in "
            f"{pct(sc['leak_ok'])} of those with a bin of {sc['min_leak_nights']} nights or more, all targets in "
            f"{pct(sc['all_targets'])}; "
            f"months inside as few as or fewer than recorded: {worse}{pit_rec}.")
