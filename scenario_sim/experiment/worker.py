"""What a worker process runs: a chunk of replications for every recommendation set.

A work unit is ``(start, count)``: replications ``start .. start+count-1`` for *all* sets, so
each pair (set, baseline) is computed from the same streams in the same place.  Workers
receive the scenarios once (the *payload*: effective scenario per set, seed, options) and
compile them once; after that only two integers go in and a small columnar result comes
out.  A replication that raises is recorded with its error; the others go on.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scenario_sim.lang.schema import Scenario
from scenario_sim.model.compiled import CompiledScenario, compile_scenario
from scenario_sim.model.simulation import simulate


@dataclass
class Payload:
    """Everything a worker needs, sent once."""

    sets: dict[str, Scenario]
    seed: int
    outcomes: list[str]
    timeseries: bool = False
    fault_injection: dict[str, list[int]] = field(default_factory=dict)  # tests only: set -> reps that raise
    crash_on: list[int] = field(default_factory=list)  # tests only: reps at which the worker process dies

    def key(self) -> str:
        """Identity of the whole payload: a worker reuses compiled models only for the same one."""
        return hashlib.sha256(pickle.dumps(self)).hexdigest()


@dataclass
class ChunkResult:
    start: int
    count: int
    columns: dict[str, Any]
    timeseries: dict[str, Any] | None
    seconds: float


_compiled: dict[str, tuple[Payload, dict[str, CompiledScenario]]] = {}


def init_worker(payload: Payload) -> None:
    """Process-pool initializer: compile every set once per worker."""
    _load(payload)


def _load(payload: Payload) -> tuple[Payload, dict[str, CompiledScenario]]:
    key = payload.key()
    if key not in _compiled:
        _compiled.clear()
        _compiled[key] = (payload, {name: compile_scenario(s) for name, s in payload.sets.items()})
    return _compiled[key]


def run_chunk(start: int, count: int, payload: Payload | None = None) -> ChunkResult:
    """Run replications [start, start+count) of every set; never raises for a model error."""
    import time

    t0 = time.perf_counter()
    if payload is None:
        if not _compiled:
            raise RuntimeError("worker was not initialised with a payload")
        payload, models = next(iter(_compiled.values()))
    else:
        payload, models = _load(payload)
    names = list(models)
    n = count * len(names)
    cols: dict[str, Any] = {"set": [], "replication": np.empty(n, dtype=np.int64), "error": []}
    values = np.full((n, len(payload.outcomes)), np.nan)
    index = {o: j for j, o in enumerate(payload.outcomes)}
    ts_parts: list[dict[str, Any]] = []
    i = 0
    for rep in range(start, start + count):
        if rep in payload.crash_on:  # simulates a lost worker (killed, out of memory)
            os._exit(17)
        for name in names:
            cols["set"].append(name)
            cols["replication"][i] = rep
            try:
                if rep in payload.fault_injection.get(name, ()):
                    raise RuntimeError(f"injected fault in replication {rep}")
                r = simulate(models[name], payload.seed, rep, timeseries=payload.timeseries)
                for k, v in r.outcomes.items():
                    values[i, index[k]] = v
                cols["error"].append(None)
                if r.timeseries is not None:
                    ts: dict[str, Any] = dict(r.timeseries)
                    ts["set"] = [name] * len(ts["day"])
                    ts["replication"] = np.full(len(ts["day"]), rep, dtype=np.int64)
                    ts_parts.append(ts)
            except Exception as exc:  # recorded, not fatal: the run goes on
                last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
                where = f" at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}" if last else ""
                cols["error"].append(f"{type(exc).__name__}: {exc}{where}")
            i += 1
    for j, o in enumerate(payload.outcomes):
        cols[o] = values[:, j]
    ts_cols: dict[str, Any] | None = None
    if ts_parts:
        keys = ["set", "replication", "day", *sorted({k for p in ts_parts for k in p} - {"set", "replication", "day"})]
        ts_cols = {}
        for k in keys:
            if k == "set":
                ts_cols[k] = [x for p in ts_parts for x in p["set"]]
            else:
                ts_cols[k] = np.concatenate([np.asarray(p[k], dtype=float if k not in ("replication", "day")
                                                        else np.int64) if k in p
                                             else np.full(len(p["day"]), np.nan) for p in ts_parts])
    return ChunkResult(start, count, cols, ts_cols, time.perf_counter() - t0)
