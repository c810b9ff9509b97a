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

Replications in which either member of a pair failed are left out of that pair.  A set
whose every replication failed is left out of the comparison (``RunData.failed_sets``;
:func:`failure_notes` says so in one line per set); if the baseline's did, there is nothing
to compare against and reading the run is a :class:`ResultsError`.

Everything here comes from the run folder alone (:mod:`scenario_sim.runs`): the outcome
catalogue, the sets and the primary outcome are files of the folder, so a comparison does
not load the scenario or the model, and a folder copied elsewhere compares the same.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenario_sim import runs
from scenario_sim.analysis.pairwise import shares, side_effects, tied_with_leader
from scenario_sim.errors import ResultsError, UserError
from scenario_sim.runs import BASELINE, Manifest, OutcomeInfo, SetInfo
from scenario_sim.stats import t_interval, t_test_p
from scenario_sim.text import did_you_mean

ADJUSTMENT = "Bonferroni-adjusted intervals; Holm-adjusted p-values"


@dataclass
class RunData:
    """What the comparison needs from a run folder (all of it read from the folder)."""

    path: Path
    manifest: Manifest
    sets: list[str]  # baseline first; sets whose every replication failed are left out
    outcomes: list[OutcomeInfo]
    frame: pd.DataFrame  # columns: set, replication, error, outcomes...
    set_info: dict[str, SetInfo] = field(default_factory=dict)
    failed_sets: dict[str, int] = field(default_factory=dict)  # left out: set -> replications (all failed)

    @property
    def primary(self) -> str:
        return self.manifest.primary

    @property
    def key(self) -> list[str]:
        return list(self.manifest.key)

    @property
    def rank_by(self) -> str:
        """The outcome the run asked to rank by (``run --rank-by``), else the primary."""
        return self.manifest.ranking_outcome

    def outcome(self, name: str) -> OutcomeInfo:
        for o in self.outcomes:
            if o.name == name:
                return o
        raise UserError(f"unknown outcome {name!r}{did_you_mean(name, [o.name for o in self.outcomes])}")


def _read_frame(folder: runs.RunFolder, sets: list[str], want: list[str]) -> pd.DataFrame:
    frames = [b.to_pandas() for b in folder.iter_batches(["set", "replication", "error", *want])]
    if not frames:
        raise ResultsError(f"{folder.path / runs.REPLICATIONS}: holds no replications")
    frame: pd.DataFrame = pd.concat(frames, ignore_index=True)
    missing = set(sets) - set(frame["set"].unique())
    if missing:
        raise ResultsError(f"{folder.path / runs.REPLICATIONS}: no rows for set(s) {', '.join(sorted(missing))}")
    return frame


def _all_failed(frame: pd.DataFrame, sets: list[str]) -> dict[str, int]:
    """Sets none of whose replications ran: {set: how many replications failed}."""
    ok = frame.loc[frame["error"].isna(), "set"].value_counts()
    total = frame["set"].value_counts()
    return {s: int(total.get(s, 0)) for s in sets if int(ok.get(s, 0)) == 0}


def _first_error(frame: pd.DataFrame, name: str) -> str:
    errs = frame.loc[(frame["set"] == name) & frame["error"].notna(), "error"]
    return str(errs.iloc[0]) if len(errs) else "?"


def failure_line(path: Path, name: str, n: int, first: str) -> str:
    """The one line that says a whole set failed, and where its errors are recorded."""
    return (f"{path}: set {name!r}: all {n} replications failed (first: {first}); every error is in the 'error' "
            f"column of {runs.REPLICATIONS} and the first 20 in {runs.MANIFEST} (failures)")


def load_run(run_dir: str | Path, columns: list[str] | None = None) -> RunData:
    """Open a finished run folder (clear one-line errors for missing, partial or corrupt ones)."""
    folder = runs.RunFolder.open(run_dir)
    m = folder.manifest()
    outcomes = folder.outcomes()
    info = {s.name: s for s in folder.sets()}
    for s in m.sets:
        if s != BASELINE and s not in info:
            raise ResultsError(f"{folder.path / runs.MANIFEST}: sets: {s!r} is not in {runs.SETS}")
    names = [o.name for o in outcomes]
    want = names if columns is None else [c for c in columns if c in names]
    frame = _read_frame(folder, m.sets, want)
    failed = _all_failed(frame, m.sets)
    if BASELINE in failed:
        raise ResultsError(failure_line(folder.path, BASELINE, failed[BASELINE], _first_error(frame, BASELINE))
                           + "; nothing to compare against")
    sets = [s for s in m.sets if s not in failed]
    return RunData(folder.path, m, sets, outcomes, frame, info, failed)


def failure_notes(data: RunData) -> list[str]:
    """One line per set left out of the comparison because every replication of it failed."""
    return [failure_line(data.path, s, n, _first_error(data.frame, s)) + "; left out of the comparison"
            for s, n in data.failed_sets.items()]


def _paired(frame: pd.DataFrame, outcome: str, sets: list[str]) -> pd.DataFrame:
    ok = frame[frame["error"].isna()]
    wide = ok.pivot(index="replication", columns="set", values=outcome)
    out: pd.DataFrame = wide.reindex(columns=sets).dropna()
    return out


def _paired_all(frame: pd.DataFrame, outcomes: list[str], sets: list[str]) -> dict[str, pd.DataFrame]:
    """:func:`_paired` of every outcome, from one pivot of the frame instead of one per outcome
    (the same tables: reshaping only, no arithmetic)."""
    ok = frame[frame["error"].isna()]
    if not outcomes or ok.empty:
        return {o: _paired(frame, o, sets) for o in outcomes}
    wide = ok.pivot(index="replication", columns="set", values=outcomes)
    out: dict[str, pd.DataFrame] = {}
    for o in outcomes:
        part: pd.DataFrame = wide[o]  # type: ignore[assignment]  # a column level: a frame of sets
        out[o] = part.reindex(columns=sets).dropna()
    return out


def _bootstrap(d: np.ndarray, level: float, seed: int, n_boot: int) -> tuple[float, float]:  # type: ignore[type-arg]
    """Percentile bootstrap interval of the mean of ``d`` (resampling its elements, seeded)."""
    return _bootstraps([d], level, seed, n_boot)[0]


def _bootstraps(ds: list[np.ndarray], level: float, seed: int,  # type: ignore[type-arg]
                n_boot: int) -> list[tuple[float, float]]:
    """:func:`_bootstrap` of each array in ``ds``, all with the same ``seed``.

    Arrays of one length draw the same resampling indices (a fresh generator from ``seed``
    each time), so the indices are drawn once per length and shared: the numbers are those
    of one :func:`_bootstrap` call per array, at a fraction of the cost (drawing the indices
    was most of it: the run's ranking bootstraps several outcomes of each set).
    """
    out: list[tuple[float, float]] = [(math.nan, math.nan)] * len(ds)
    by_size: dict[int, list[int]] = {}
    for k, d in enumerate(ds):
        if d.size < 2 or n_boot <= 0:
            continue
        if np.all(d == d[0]):
            out[k] = (float(d[0]), float(d[0]))
            continue
        by_size.setdefault(d.size, []).append(k)
    for size, ks in by_size.items():
        rng = np.random.default_rng(seed)
        means = np.empty((len(ks), n_boot))
        step = max(1, 4_000_000 // size)  # bound memory: resample in blocks
        for a in range(0, n_boot, step):
            b = min(n_boot, a + step)
            idx = rng.integers(0, size, size=(b - a, size))
            for row, k in enumerate(ks):
                means[row, a:b] = ds[k][idx].mean(axis=1)
        for row, k in enumerate(ks):
            lo, hi = np.quantile(means[row], [(1 - level) / 2, (1 + level) / 2])
            out[k] = (float(lo), float(hi))
    return out


def _boot_intervals(data: RunData, wides: dict[str, pd.DataFrame], plan: _Plan) -> dict[tuple[str, str], Any]:
    """(set, outcome) -> the bootstrap interval of the paired difference, for every outcome the
    plan bootstraps; set by set, so that each set's resampling indices are drawn once."""
    by_set: dict[int, list[tuple[str, np.ndarray]]] = {}  # type: ignore[type-arg]
    for name, wide in wides.items():
        if name not in plan.boot_for or len(wide) == 0:
            continue
        x = wide.to_numpy()
        for j, s in enumerate(data.sets):
            if s != BASELINE:
                by_set.setdefault(j, []).append((name, x[:, j] - x[:, 0]))
    out: dict[tuple[str, str], Any] = {}
    for j, items in by_set.items():
        cis = _bootstraps([d for _, d in items], plan.adj_level, plan.seed + 7919 * j, plan.n_boot)
        for (name, _), ci in zip(items, cis, strict=True):
            out[(data.sets[j], name)] = ci
    return out


def _holm(p: list[float]) -> list[float]:
    order = np.argsort(p)
    m = len(p)
    adj = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adj[i] = running
    return adj


@dataclass(frozen=True)
class _Plan:
    """The settings every outcome's rows share."""

    level: float
    adj_level: float  # Bonferroni: each interval at 1 - alpha/k
    adjustment: str
    boot_for: frozenset[str]
    n_boot: int
    seed: int


def _plan(data: RunData, level: float, n_boot: int, bootstrap_outcomes: list[str] | None) -> _Plan:
    k = max(1, len(data.sets) - 1)
    boot_for = bootstrap_outcomes if bootstrap_outcomes is not None else [data.primary, *data.key, "civilian_harm"]
    return _Plan(level, 1 - (1 - level) / k, ADJUSTMENT if k > 1 else "none (one set compared)",
                 frozenset(boot_for), n_boot, data.manifest.seed)


def _p_best(x: np.ndarray, direction: str) -> np.ndarray:  # type: ignore[type-arg]
    """Per set, the share of replications in which it was best (ties split); NaN without a direction."""
    if direction == "none":
        return np.full(x.shape[1], math.nan)
    score = (-1.0 if direction == "lower" else 1.0) * x
    best = score == score.max(axis=1, keepdims=True)
    return np.asarray((best / best.sum(axis=1, keepdims=True)).mean(axis=0))


def _pair_row(meta: OutcomeInfo, name: str, xs: np.ndarray, base: np.ndarray,  # type: ignore[type-arg]
              plan: _Plan, scale: float, boot: tuple[float, float] | None) -> dict[str, Any]:
    """Statistics of set ``name`` against the baseline on one outcome (``boot``: its bootstrap
    interval, from :func:`_boot_intervals`; None when the outcome is not bootstrapped)."""
    n = xs.size
    d = xs - base
    dm = float(d.mean())
    dsd = float(d.std(ddof=1)) if n > 1 else math.nan
    lo, hi = t_interval(dm, dsd, n, plan.adj_level)
    bmean = float(base.mean())
    var_sum = float(xs.var(ddof=1) + base.var(ddof=1)) if n > 1 else math.nan
    blo, bhi = boot if boot is not None else (math.nan, math.nan)
    better, tied, worse = shares(d, meta.direction, scale)
    return {
        "set": name, "outcome": meta.name, "unit": meta.unit, "direction": meta.direction, "n": n,
        "mean": float(xs.mean()), "baseline_mean": bmean, "diff": dm, "diff_sd": dsd,
        "ci_low": lo, "ci_high": hi, "boot_low": blo, "boot_high": bhi,
        "relative_change": dm / bmean if bmean != 0 else (0.0 if dm == 0 else math.nan),
        "p_value": t_test_p(dm, dsd, n), "p_value_holm": math.nan,
        "p_beat_baseline": better, "p_better": better, "p_tied": tied, "p_worse": worse,
        "p_best": math.nan,
        "crn_variance_ratio": (float(d.var(ddof=1)) / var_sum) if (n > 1 and var_sum > 0) else math.nan,
        "ci_includes_zero": bool(lo <= 0 <= hi) if not math.isnan(lo) else True,
        "level": plan.level, "adjustment": plan.adjustment,
    }


def _outcome_rows(data: RunData, meta: OutcomeInfo, plan: _Plan, wide: pd.DataFrame,
                  boots: dict[tuple[str, str], Any]) -> list[dict[str, Any]]:
    """Every set's row for one outcome (none if no replication pair has it)."""
    if len(wide) == 0:
        return []
    x = wide.to_numpy()
    # placebo twins (run --placebo) are controls, not options: they do not compete for P(best)
    from scenario_sim.analysis.placebo import placebo_pairs

    twins = set(placebo_pairs(data))
    cand = [j for j, s in enumerate(data.sets) if s not in twins]
    p_best = np.full(len(data.sets), math.nan)
    p_best[cand] = _p_best(x[:, cand], meta.direction)
    scale = float(np.abs(x).mean())  # what counts as a tie is relative to the outcome's size
    rows = [_pair_row(meta, s, x[:, j], x[:, 0], plan, scale, boots.get((s, meta.name)))
            for j, s in enumerate(data.sets)]
    for r, pb in zip(rows, p_best, strict=True):
        r["p_best"] = float(pb)
    others = [r for r in rows if r["set"] != BASELINE]
    for r, adj in zip(others, _holm([r["p_value"] for r in others]), strict=True):
        r["p_value_holm"] = adj
    return rows


def compare(run: str | Path | RunData, outcomes: list[str] | None = None, level: float = 0.95,
            n_boot: int = 2000, bootstrap_outcomes: list[str] | None = None) -> pd.DataFrame:
    """Paired statistics for every set and outcome (see the module docstring for each column)."""
    data = run if isinstance(run, RunData) else load_run(run)
    chosen = [data.outcome(o) for o in outcomes] if outcomes is not None else data.outcomes
    plan = _plan(data, level, n_boot, bootstrap_outcomes)
    wides = _paired_all(data.frame, list(dict.fromkeys(meta.name for meta in chosen)), data.sets)
    boots = _boot_intervals(data, wides, plan)
    rows = [r for meta in chosen for r in _outcome_rows(data, meta, plan, wides[meta.name], boots)]
    return pd.DataFrame(rows, columns=COLUMNS)


COLUMNS = ["set", "outcome", "unit", "direction", "n", "mean", "baseline_mean", "diff", "diff_sd", "ci_low",
           "ci_high", "boot_low", "boot_high", "relative_change", "p_value", "p_value_holm", "p_beat_baseline",
           "p_better", "p_tied", "p_worse", "p_best", "crn_variance_ratio", "ci_includes_zero", "level", "adjustment"]


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


def output_dir(run_dir: Path, out: str | Path | None) -> Path | None:
    """Where analysis output goes: ``out`` (created), else the run folder if it can be
    written, else None (a read-only folder: the caller prints instead of writing)."""
    if out is not None:
        p = Path(out)
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"{p}: cannot create the output folder ({exc.strerror})") from None
        return p
    return run_dir if runs.writable(run_dir) else None


def write_comparison(run_dir: Path, table: pd.DataFrame) -> Path:
    """``comparison.csv`` in ``run_dir`` (any folder; atomic)."""
    p = Path(run_dir) / runs.COMPARISON
    try:
        runs.atomic_write_text(p, table.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    except OSError as exc:
        raise ResultsError(f"{p}: cannot write ({exc.strerror}); give --out DIR to write elsewhere") from None
    return p


def to_json(table: pd.DataFrame) -> str:
    return json.dumps(json.loads(table.to_json(orient="records")), indent=2)


@dataclass
class Comparison:
    """A run compared and ranked, with where the table went and what the reader should know."""

    data: RunData
    table: pd.DataFrame
    ranked: pd.DataFrame
    rank_by: str
    written: Path | None  # comparison.csv, or None when the run folder is read-only and no --out was given
    notes: list[str]  # one line each: sets left out, output not written
    side: pd.DataFrame  # the side effects: rows of ``table`` flagged by pairwise.side_effects
    tied: set[str]  # sets that cannot be told from the leader on ``rank_by``
    costs: pd.DataFrame | None = None  # cost-effectiveness (analysis.costs), when the run has cost_usd
    objectives: pd.DataFrame | None = None  # the objective and constraints per set, when the scenario has them
    placebo: pd.DataFrame | None = None  # contact rules against their placebo twins (run --placebo)


def run_comparison(run_dir: str | Path, rank_by: str | None = None, out: str | Path | None = None,
                   write: bool = True) -> Comparison:
    """Load, compare and rank a run; write ``comparison.csv`` to ``out`` or the run folder.

    ``rank_by`` defaults to the run's own (``run --rank-by``, else the primary outcome).  A
    read-only run folder is compared all the same: the table is not written and a note says so.
    """
    data = load_run(run_dir)
    notes = failure_notes(data)
    key = rank_by or data.rank_by
    names = [o.name for o in data.outcomes]
    if key not in names:
        raise UserError(f"--rank-by: unknown outcome {key!r}{did_you_mean(key, names)}")
    table = compare(data)
    flagged = side_effects(table, data.key)
    table["side_effect"] = table.index.isin(flagged.index)
    written = None
    if write:
        target = output_dir(data.path, out)
        if target is None:
            notes.append(f"note: {data.path} is read-only; {runs.COMPARISON} not written "
                         "(give --out DIR to write it elsewhere)")
        else:
            written = write_comparison(target, table)
    ranked = ranking(table, key)
    tied = tied_with_leader(data, key, str(ranked["set"].iloc[0])) if len(ranked) > 1 else set()
    ranked["tied_with_leader"] = ranked["set"].isin(tied)
    ce, objectives = _costs(data, key, written)
    return Comparison(data, table, ranked, key, written, notes, flagged, tied, ce, objectives,
                      _placebo(data, key, written))


def _placebo(data: RunData, key: str, written: Path | None) -> pd.DataFrame | None:
    """The placebo split (``placebo.csv`` next to comparison.csv) of a run made with --placebo."""
    from scenario_sim.analysis.placebo import PLACEBO_CSV, placebo_pairs, placebo_table

    if not placebo_pairs(data):
        return None
    table = placebo_table(data, key)
    if written is not None:
        runs.atomic_write_text(written.parent / PLACEBO_CSV,
                               table.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    return table


def _costs(data: RunData, key: str, written: Path | None) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Cost-effectiveness and objectives (``costs.csv``, ``objectives.csv`` next to comparison.csv)."""
    from scenario_sim.analysis import costs

    obj = costs.read_objectives(data.path)
    ce = costs.cost_effectiveness(data) if costs.has_costs(data) else None
    table = costs.objective_table(data, obj, key) if obj is not None else None
    if written is not None and ce is not None:
        costs.write_tables(written.parent, ce, table)
    return ce, table
