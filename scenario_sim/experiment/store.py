"""How the experiment writes its run folder.

The folder's format (layout, typed records, atomic writes, parts) is
:mod:`scenario_sim.runs`; this module is the experiment's side of it: it turns what only the
experiment knows (the loaded scenario, the compiled outcome catalogue) into the records the
folder holds, so that readers never need the scenario language or the model, and it writes
the per-set summary after consolidation.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from typing import Any

import numpy as np
import yaml

from scenario_sim.lang import BASELINE, LoadedScenario, dump_scenario
from scenario_sim.outcomes import Outcome
from scenario_sim.runs import (
    MANIFEST,
    REPLICATIONS,
    SCENARIO,
    SUMMARY,
    TIMESERIES,
    OutcomeInfo,
    RunFolder,
    SetInfo,
    atomic_write_text,
    write_table_atomic,
)
from scenario_sim.stats import Welford, t_interval

# Re-exported for callers that imported the format from here before it moved to runs/.
__all__ = [
    "MANIFEST",
    "REPLICATIONS",
    "SCENARIO",
    "SUMMARY",
    "TIMESERIES",
    "RunFolder",
    "atomic_write_text",
    "outcome_records",
    "scenario_yaml",
    "set_records",
    "summarise",
    "write_summary",
    "write_table_atomic",
]


def scenario_yaml(data: dict[str, Any]) -> str:
    """The YAML text a run folder stores for a scenario mapping (stable key order)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def outcome_records(outcomes: list[Outcome], primary: str, key: list[str]) -> list[OutcomeInfo]:
    """The catalogue written to ``outcomes.json``; ``key`` marks the primary and key outcomes."""
    marked = {primary, *key}
    return [OutcomeInfo(o.name, o.unit, o.direction, o.description, o.name in marked) for o in outcomes]


def set_records(loaded: LoadedScenario, sets: list[str]) -> tuple[list[SetInfo], dict[str, str]]:
    """``sets.json`` records of the run's recommendation sets, and each one's effective scenario YAML."""
    infos: list[SetInfo] = []
    texts: dict[str, str] = {}
    for name in sets:
        if name == BASELINE:
            continue
        r = loaded.baseline.recommendation(name)
        text = scenario_yaml(dump_scenario(loaded.effective(name)))
        texts[name] = text
        infos.append(SetInfo(name, r.description, list(r.include), dict(r.changes), dict(r.scale),
                             hashlib.sha256(text.encode()).hexdigest()))
    return infos, texts


def summarise(folder: RunFolder, sets: list[str], outcomes: list[str]) -> list[dict[str, Any]]:
    """Per set and outcome: mean, sd, 95% t-interval, n (one streaming pass)."""
    acc = {(s, o): Welford() for s in sets for o in outcomes}
    for batch in folder.iter_batches(["set", "error", *outcomes]):
        names = np.asarray(batch.column("set").to_pylist())
        ok = np.asarray([e is None for e in batch.column("error").to_pylist()], dtype=bool)
        for s in sets:
            mask = (names == s) & ok
            if not mask.any():
                continue
            for o in outcomes:
                col = batch.column(o).to_numpy(zero_copy_only=False)
                acc[(s, o)].push_many(np.asarray(col[mask], dtype=float))
    rows = []
    for s in sets:
        for o in outcomes:
            w = acc[(s, o)]
            lo, hi = t_interval(w.mean, w.sd, w.n)
            rows.append({"set": s, "outcome": o, "mean": w.mean if w.n else math.nan, "sd": w.sd,
                         "ci_low": lo, "ci_high": hi, "n": w.n})
    return rows


def write_summary(folder: RunFolder, rows: list[dict[str, Any]]) -> None:
    """``summary.csv`` (atomic)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["set", "outcome", "mean", "sd", "ci_low", "ci_high", "n"],
                       lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(folder.path / SUMMARY, buf.getvalue())
