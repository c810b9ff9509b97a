"""Export an explore run as an EMA Workbench results archive (``scenario-sim export RUN --format ema``).

EMA Workbench keeps results as ``(experiments, outcomes)``: a DataFrame with one row per
experiment (a scenario of the uncertainties run under a policy) and a dict of outcome arrays
with one value per experiment.  ``ema_workbench.util.load_results`` reads them back from a
``.tar.gz`` archive, and this module writes exactly the layout that EMA Workbench 2.5.x's
``save_results`` writes and its ``load_results`` reads (the version pip resolves on Python
3.11; EMA Workbench 3 needs Python 3.12 or later):

``experiments.csv``
    header row, no index; one column per uncertain input, ``world`` (a category, when the run
    has several), ``case``, then EMA's own ``scenario`` (the point number), ``policy`` (the
    recommendation set) and ``model`` (the scenario's name).
``<outcome>.cls``
    for every outcome with a value: the experiments' values, one per line, no header (EMA's
    ``ScalarOutcome.to_disk``).
``metadata.json``
    ``{"version": 0.1, "outcomes": [["ScalarOutcome", name, file], ...],
    "experiments": {column: dtype name}}``.

One experiment is one (case, world, set): its outcome value is the mean over the point's
successful replications (NaN when it has none); ``replications`` counts them.  EMA Workbench
has no notion of common random numbers, so the pairing of sets within a case is kept only
through the shared ``scenario`` number.  The archive's bytes depend only on the run (members
in a fixed order, zero timestamps, gzip without a time stamp).
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd

from scenario_sim import runs
from scenario_sim.analysis.ensemble import EnsembleRun, load_ensemble, point_inputs
from scenario_sim.errors import ResultsError

EMA_VERSION = 0.1
DEFAULT_NAME = "ema_results.tar.gz"


def ema_tables(run: EnsembleRun) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:  # type: ignore[type-arg]
    """The experiments table and outcome arrays the archive holds, in memory."""
    ok = run.frame[run.frame["error"].isna()]
    names = [o for o in run.outcomes if o in run.frame.columns]
    if not names:
        raise ResultsError(f"{run.path}: no outcome columns to export")
    points = run.frame.groupby(["case", "world"], sort=True).size().index
    grid = pd.MultiIndex.from_tuples([(c, w, s) for c, w in points for s in run.sets],
                                     names=["case", "world", "set"])
    g = ok.groupby(["case", "world", "set"], sort=True)
    means = g[names].mean().reindex(grid)
    counts = g.size().reindex(grid).fillna(0).astype("int64")
    x = point_inputs(run, points, with_world=False)
    rep = np.repeat(np.arange(len(points)), len(run.sets))
    exp = x.iloc[rep].reset_index(drop=True)
    if len(run.world_weights) > 1:
        exp["world"] = pd.Categorical(grid.get_level_values("world"), categories=run.worlds)
    exp["case"] = grid.get_level_values("case").astype("int64")
    exp["replications"] = counts.to_numpy()
    exp["scenario"] = rep.astype("int64")
    exp["policy"] = pd.Categorical(grid.get_level_values("set"), categories=run.sets)
    exp["model"] = pd.Categorical([str(run.manifest.get("scenario", {}).get("name", "scenario-sim"))] * len(exp))
    return exp, {o: means[o].to_numpy(dtype=float) for o in names}


def _dtype_name(s: pd.Series) -> str:
    return "category" if isinstance(s.dtype, pd.CategoricalDtype) else str(s.dtype)


def archive_bytes(experiments: pd.DataFrame, outcomes: dict[str, np.ndarray]) -> bytes:  # type: ignore[type-arg]
    """The ``.tar.gz`` bytes of an EMA Workbench 2.5 results archive (see the module docstring)."""
    members: list[tuple[str, bytes]] = [
        ("experiments.csv", experiments.to_csv(header=True, index=False, lineterminator="\n").encode()),
    ]
    meta_outcomes = []
    for name, values in outcomes.items():
        text = pd.DataFrame(values).to_csv(header=False, index=False, lineterminator="\n")
        members.append((f"{name}.cls", text.encode()))
        meta_outcomes.append(["ScalarOutcome", name, f"{name}.cls"])
    meta = {"version": EMA_VERSION, "outcomes": meta_outcomes,
            "experiments": {c: _dtype_name(experiments[c]) for c in experiments.columns}}
    members.append(("metadata.json", json.dumps(meta).encode()))
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def export_ema(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the run's EMA Workbench archive (default ``RUN/ema_results.tar.gz``); returns its path."""
    run = load_ensemble(run_dir)
    target = Path(out) if out is not None else run.path / DEFAULT_NAME
    if target.is_dir():
        target = target / DEFAULT_NAME
    if not target.parent.exists():
        raise ResultsError(f"{target.parent}: no such folder")
    experiments, outcomes = ema_tables(run)
    runs.atomic_write_bytes(target, archive_bytes(experiments, outcomes))
    return target
