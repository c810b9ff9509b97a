"""Reading an explore run (an ensemble of cases × worlds × sets) for the deep-uncertainty analyses.

This module is the *table contract* between ``scenario-sim explore`` (which writes the folder)
and :mod:`~scenario_sim.analysis.robust`, :mod:`~scenario_sim.analysis.discovery`,
:mod:`~scenario_sim.analysis.sensitivity`, :mod:`~scenario_sim.analysis.voi` and
:mod:`~scenario_sim.analysis.ema` (which read it).  Analysis reads the folder only: it never
re-loads the scenario through ``scenario_sim.lang`` or the model, so what a run *was* is what its
folder says.  The contract:

``cases.parquet``
    One row per case.  ``case`` (int64, 0..n-1, the sampler's row order) and one float64 column
    per uncertain input, named by the input's name.  Optionally ``world`` (string) when the world
    is sampled as part of the case (each case runs in one world).  Nothing else is required;
    other columns are ignored.

``replications.parquet``
    One row per (set, case, world, replication): ``set`` (string), ``case`` (int64), ``world``
    (string; the world's name, or ``""`` when the scenario names no worlds), ``replication``
    (int64, numbered within the case), ``error`` (string, null when the replication succeeded),
    then one float64 column per outcome (and any recorded per-replication draws, which analysis
    ignores unless asked).  Within one case and world, replication *r* of every set ran on the
    same random streams (common random numbers), so differences between sets are *paired*.

``manifest.json``
    ``sets``: the set names, the baseline first.  ``seed``: the master seed (seeds the
    bootstraps).  The outcome catalogue, ``outcomes``: a list of ``{"name", "unit",
    "direction", "description"}`` with direction ``lower``, ``higher`` or ``none`` (also read
    from a top-level ``outcomes.json`` holding the same list, or a ``catalogue.outcomes`` entry).
    ``outputs``: ``{"primary": name, "key": [names], "thresholds": {outcome: bound}}``.  And
    ``explore``: ``{"sampler": "lhs"|"sobol"|"grid"|"morris", "inputs": [{"name", "low",
    "high"}] (in column order), "worlds": [{"name", "weight"}], "sobol": {"N",
    "second_order"}, "morris": {"num_levels"}}``; ``kind: "explore"`` marks the folder.

Thresholds are one bound per outcome in its better direction: for a lower-is-better outcome the
case mean must be *at most* the bound, for a higher-is-better one *at least* it.  A bound can
also be written ``{"at_most": x}`` or ``{"at_least": x}`` (needed for outcomes with direction
``none``).  When the manifest has none, ``outputs.thresholds`` of the run's ``scenario.yaml``
is read (plain YAML; the scenario is not validated again).

The unit of analysis is a *point*: one case in one world.  When ``cases.parquet`` has a
``world`` column the sampler already drew the world, so every point weighs ``1/cases``; when it
does not, every case was run in every world of ``replications.parquet`` and a point weighs
``weight(world) / cases`` (world weights from the manifest, normalised; equal when absent).
Point means are means over the point's successful replications.  A point in which some set has
no successful replication is left out of every analysis that compares sets, and counted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml

from scenario_sim.errors import ResultsError, UserError
from scenario_sim.outcomes import Outcome
from scenario_sim.text import did_you_mean

CASES = "cases.parquet"
REPLICATIONS = "replications.parquet"
MANIFEST = "manifest.json"
KEYS = ["case", "world"]
BASE_COLUMNS = ["set", "case", "world", "replication", "error"]


@dataclass(frozen=True)
class Threshold:
    """A bound an outcome must meet in a case: ``value <= bound`` (at_most) or ``>= bound``."""

    outcome: str
    bound: float
    at_most: bool

    def met(self, values: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
        """Element-wise: does each value meet the bound?"""
        return np.asarray(values <= self.bound if self.at_most else values >= self.bound, dtype=bool)

    def describe(self, unit: str = "") -> str:
        return f"{self.outcome} {'≤' if self.at_most else '≥'} {self.bound:g}{' ' + unit if unit else ''}"


@dataclass
class EnsembleRun:
    """What the deep-uncertainty analyses need from an explore run folder."""

    path: Path
    manifest: dict[str, Any]
    sets: list[str]
    outcomes: dict[str, Outcome]
    primary: str
    key: list[str]
    inputs: list[str]
    cases: pd.DataFrame  # case, inputs..., [world]
    frame: pd.DataFrame  # set, case, world, replication, error, outcomes...
    thresholds: dict[str, Threshold]
    world_weights: dict[str, float]
    sampler: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        return self.sets[0]

    @property
    def worlds(self) -> list[str]:
        return list(self.world_weights)

    @property
    def seed(self) -> int:
        return int(self.manifest.get("seed", 0))

    def outcome(self, name: str) -> Outcome:
        """The catalogue entry of ``name`` (a one-line error with a suggestion if unknown)."""
        if name not in self.outcomes:
            raise UserError(f"unknown outcome {name!r}{did_you_mean(name, list(self.outcomes))}")
        return self.outcomes[name]

    def check_sets(self, names: list[str]) -> None:
        for s in names:
            if s not in self.sets:
                raise UserError(f"unknown set {s!r}{did_you_mean(s, self.sets)} (the run has {', '.join(self.sets)})")


def is_explore_run(run_dir: str | Path) -> bool:
    """True when the folder holds an explore run (has cases.parquet, or says so in its manifest)."""
    p = Path(run_dir)
    if (p / CASES).exists():
        return True
    try:
        m = json.loads((p / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and m.get("kind") == "explore"


def _read_manifest(p: Path) -> dict[str, Any]:
    f = p / MANIFEST
    if not p.is_dir():
        raise ResultsError(f"{p}: no such run folder")
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{p}: not a run folder ({MANIFEST} is missing)") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{f}:{exc.lineno}:{exc.colno}: corrupt manifest ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("sets"), list) or not data["sets"]:
        raise ResultsError(f"{f}: sets: missing (not a scenario-sim run folder?)")
    return data


def _catalogue(p: Path, m: dict[str, Any]) -> dict[str, Outcome]:
    raw: Any = m.get("outcomes")
    if raw is None and isinstance(m.get("catalogue"), dict):
        raw = m["catalogue"].get("outcomes")
    if raw is None and (p / "outcomes.json").exists():
        raw = json.loads((p / "outcomes.json").read_text(encoding="utf-8"))
    if not isinstance(raw, list) or not raw:
        raise ResultsError(f"{p / MANIFEST}: outcomes: the outcome catalogue is missing")
    out: dict[str, Outcome] = {}
    for i, o in enumerate(raw):
        if not isinstance(o, dict) or "name" not in o or o.get("direction", "none") not in ("lower", "higher", "none"):
            raise ResultsError(f"{p / MANIFEST}: outcomes[{i}]: expected name, unit and direction lower|higher|none")
        out[str(o["name"])] = Outcome(str(o["name"]), str(o.get("unit", "")), o.get("direction", "none"),
                                      str(o.get("description", "")))
    return out


def parse_thresholds(raw: Any, outcomes: dict[str, Outcome], where: str) -> dict[str, Threshold]:
    """Thresholds from ``{outcome: bound | {"at_most": x} | {"at_least": x}}`` (see the module docstring)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UserError(f"{where}: thresholds: expected a mapping outcome -> bound")
    out: dict[str, Threshold] = {}
    for name, spec in raw.items():
        if name not in outcomes:
            raise UserError(f"{where}: thresholds.{name}: unknown outcome{did_you_mean(name, list(outcomes))}")
        direction = outcomes[name].direction
        if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("at_most", "at_least"):
            kind, bound = next(iter(spec.items()))
            at_most = kind == "at_most"
        elif isinstance(spec, int | float) and not isinstance(spec, bool):
            if direction == "none":
                raise UserError(f"{where}: thresholds.{name}: the outcome has no better direction; "
                                "write {at_most: x} or {at_least: x}")
            bound, at_most = spec, direction == "lower"
        else:
            raise UserError(f"{where}: thresholds.{name}: expected a number, {{at_most: x}} or {{at_least: x}}")
        if not isinstance(bound, int | float) or isinstance(bound, bool) or not math.isfinite(float(bound)):
            raise UserError(f"{where}: thresholds.{name}: bound must be a finite number (got {bound!r})")
        out[name] = Threshold(name, float(bound), at_most)
    return out


def _section(m: dict[str, Any], key: str) -> dict[str, Any]:
    v = m.get(key)
    return v if isinstance(v, dict) else {}


def _thresholds(p: Path, m: dict[str, Any], outcomes: dict[str, Outcome]) -> dict[str, Threshold]:
    outputs = _section(m, "outputs")
    if "thresholds" in outputs:
        return parse_thresholds(outputs["thresholds"], outcomes, str(p / MANIFEST))
    scen = p / "scenario.yaml"
    if scen.exists():
        try:
            doc = yaml.safe_load(scen.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ResultsError(f"{scen}: unreadable YAML ({exc})") from None
        o = doc.get("outputs") if isinstance(doc, dict) else None
        if isinstance(o, dict):
            return parse_thresholds(o.get("thresholds"), outcomes, str(scen))
    return {}


def _read_parquet(f: Path, columns: list[str] | None = None) -> pd.DataFrame:
    if not f.exists():
        raise ResultsError(f"{f}: missing (is this an explore run, and did it finish?)")
    try:
        frame: pd.DataFrame = pq.read_table(f, columns=columns).to_pandas()
    except Exception as exc:
        raise _unreadable(f, exc) from None
    return frame


def _unreadable(f: Path, exc: Exception) -> ResultsError:
    return ResultsError(f"{f}: unreadable ({type(exc).__name__}: {exc})")


def _world_weights(m: dict[str, Any], seen: list[str]) -> dict[str, float]:
    ex = _section(m, "explore")
    declared = {str(w["name"]): float(w.get("weight", 1.0) if w.get("weight") is not None else 1.0)
                for w in ex.get("worlds", []) if isinstance(w, dict) and "name" in w}
    raw = {w: declared.get(w, 1.0) for w in seen}
    total = sum(raw.values())
    if total <= 0:
        raise ResultsError("manifest.json: explore.worlds: weights must add up to more than 0")
    return {w: v / total for w, v in raw.items()}


def _inputs(p: Path, ex: dict[str, Any], cases: pd.DataFrame) -> list[str]:
    if "case" not in cases.columns:
        raise ResultsError(f"{p / CASES}: no 'case' column")
    declared = [str(i["name"]) for i in ex.get("inputs", []) if isinstance(i, dict) and "name" in i]
    inputs = declared or [c for c in cases.columns if c not in KEYS and pd.api.types.is_numeric_dtype(cases[c])]
    missing = [c for c in inputs if c not in cases.columns]
    if missing:
        raise ResultsError(f"{p / CASES}: no column for input(s) {', '.join(missing)}")
    return inputs


def _replications(p: Path, want: list[str]) -> pd.DataFrame:
    f = p / REPLICATIONS
    try:  # a truncated or foreign file fails here first: the same one-line error as reading it
        have = set(pq.read_schema(f).names) if f.exists() else set(BASE_COLUMNS)
    except Exception as exc:
        raise _unreadable(f, exc) from None
    frame = _read_parquet(f, [c for c in BASE_COLUMNS if c in have] + [o for o in want if o in have])
    for c in ("set", "case", "replication"):
        if c not in frame.columns:
            raise ResultsError(f"{f}: no {c!r} column (not an explore run?)")
    if "world" not in frame.columns:
        frame["world"] = ""
    if "error" not in frame.columns:
        frame["error"] = None
    frame["world"] = frame["world"].fillna("").astype(str)
    return frame


def load_ensemble(run_dir: str | Path, outcomes: list[str] | None = None) -> EnsembleRun:
    """Open an explore run folder (one-line errors for missing or corrupt parts).

    ``outcomes`` limits which outcome columns are read (all by default).
    """
    p = Path(run_dir)
    m = _read_manifest(p)
    cat = _catalogue(p, m)
    cases = _read_parquet(p / CASES)
    ex = _section(m, "explore")
    inputs = _inputs(p, ex, cases)
    want = list(cat) if outcomes is None else outcomes
    for o in want:
        if o not in cat:
            raise UserError(f"unknown outcome {o!r}{did_you_mean(o, list(cat))}")
    frame = _replications(p, want)
    if "world" in cases.columns:
        cases["world"] = cases["world"].fillna("").astype(str)
    sets = [str(s) for s in m["sets"]]
    absent = sorted(set(sets) - set(frame["set"].unique()))
    if absent:
        raise ResultsError(f"{p / REPLICATIONS}: no rows for set(s) {', '.join(absent)}")
    outputs = _section(m, "outputs")
    primary = str(outputs.get("primary", want[0] if want else ""))
    key = [str(k) for k in outputs.get("key", [])]
    worlds = sorted(frame["world"].unique())
    return EnsembleRun(p, m, sets, {k: v for k, v in cat.items() if k in want or k == primary},
                       primary, key, inputs, cases, frame, _thresholds(p, m, cat),
                       _world_weights(m, worlds), dict(ex))


# --------------------------------------------------------------------------- points


def point_weights(run: EnsembleRun, points: pd.Index) -> np.ndarray:  # type: ignore[type-arg]
    """The weight of each (case, world) point (see the module docstring); sums to 1."""
    if "world" in run.cases.columns:
        w = np.ones(len(points))
    else:
        w = np.asarray([run.world_weights.get(str(wld), 0.0) for wld in points.get_level_values("world")])
    total = w.sum()
    if total <= 0:
        raise ResultsError(f"{run.path}: no points with positive weight")
    return np.asarray(w / total)


def point_means(run: EnsembleRun, outcome: str, sets: list[str] | None = None) -> tuple[pd.DataFrame, int]:
    """Mean of ``outcome`` over successful replications, per point (rows) and set (columns).

    Returns the table (index ``case``, ``world``; complete rows only) and the number of points
    dropped because some set had no successful replication there.
    """
    run.outcome(outcome)
    chosen = sets or run.sets
    ok = run.frame[run.frame["error"].isna() & run.frame["set"].isin(chosen)]
    wide = ok.groupby(["case", "world", "set"], sort=True)[outcome].mean().unstack("set")
    wide = wide.reindex(columns=chosen)
    full = wide.dropna()
    all_points = run.frame.groupby(["case", "world"]).size()
    return full, int(len(all_points) - len(full))


def paired_point_stats(run: EnsembleRun, outcome: str, a: str, b: str) -> pd.DataFrame:
    """Per point: mean, variance and count of the paired difference ``a - b`` over replications.

    Only replications in which both sets succeeded are paired.  Columns ``diff``, ``var``
    (sample variance, ddof=1; NaN with one pair) and ``n``; index ``case``, ``world``.
    """
    run.outcome(outcome)
    ok = run.frame[run.frame["error"].isna() & run.frame["set"].isin([a, b])]
    wide = ok.pivot_table(index=["case", "world", "replication"], columns="set", values=outcome, aggfunc="first")
    wide = wide.reindex(columns=[a, b]).dropna()
    d = (wide[a] - wide[b]).rename("d")
    g = d.groupby(level=["case", "world"])
    return pd.DataFrame({"diff": g.mean(), "var": g.var(ddof=1), "n": g.size()})


def point_inputs(run: EnsembleRun, points: pd.Index, with_world: bool = True) -> pd.DataFrame:
    """The uncertain inputs of each point, in ``points`` order; ``world`` added as a category
    when the run has more than one world (and ``with_world``)."""
    key = ["case", "world"] if "world" in run.cases.columns else ["case"]
    table = run.cases.set_index(key)[run.inputs]
    idx = pd.DataFrame({"case": points.get_level_values("case"), "world": points.get_level_values("world")})
    x = idx.join(table, on=key)
    if x[run.inputs].isna().any().any():
        raise ResultsError(f"{run.path / CASES}: some cases in {REPLICATIONS} have no inputs")
    out = x[run.inputs].reset_index(drop=True).astype(float)
    if with_world and len(run.world_weights) > 1:
        out["world"] = pd.Categorical(idx["world"].to_numpy(), categories=run.worlds)
    return out


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:  # type: ignore[type-arg]
    """The smallest value whose cumulative weight reaches ``q`` (the inverted-CDF quantile;
    with equal weights it equals ``numpy.quantile(values, q, method="inverted_cdf")``)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    i = int(np.searchsorted(cum, q - 1e-12, side="left"))
    return float(values[order][min(i, len(values) - 1)])


def better_sign(outcome: Outcome) -> float:
    """+1 when higher is better, -1 when lower is better (``sign * value``: larger is better)."""
    if outcome.direction == "none":
        raise UserError(f"outcome {outcome.name!r} has no better direction; choose one that does "
                        "(e.g. civilian_harm, energy.mean)")
    return 1.0 if outcome.direction == "higher" else -1.0


def outcome_and_sets(run: EnsembleRun, outcome: str | None,
                     sets: list[str] | None) -> tuple[str, Outcome, float, list[str]]:
    """The outcome an analysis is on (default primary), its catalogue entry, the sign that makes
    larger better (:func:`better_sign`), and the sets to compare (default all, checked)."""
    name = outcome or run.primary
    meta = run.outcome(name)
    chosen = sets or run.sets
    run.check_sets(chosen)
    return name, meta, better_sign(meta), chosen
