"""What a worker process runs: a chunk of replications for every recommendation set.

A work unit is ``(start, count)``: replications ``start .. start+count-1`` for *all* sets, so
each pair (set, baseline) is computed from the same streams in the same place.  Workers
receive the scenarios once (the *payload*: effective scenario per set, seed, options) and
compile them once; after that only two integers go in and a small columnar result comes
out.  A replication that raises is recorded with its error; the others go on.

*Orphans.*  A pool worker started by :func:`init_worker` watches its parent process: if the
parent dies without shutting the pool down (``kill -9``, out of memory), the worker exits at
once instead of finishing its queue and holding its memory for minutes.

*Test hook.*  ``_replication_hook`` is called with ``(set name, replication)`` before each
replication, inside the per-replication error handling.  It is ``None`` in production and
exists so the test suite can inject a failing replication or a dying worker (see
``tests/fault_executors.py``) without a fault-injection parameter in the public API.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from scenario_sim.lang.schema import Scenario
from scenario_sim.model.compiled import CompiledScenario, compile_scenario
from scenario_sim.model.simulation import DRAW_NAMES, simulate


@dataclass
class Payload:
    """Everything a worker needs, sent once."""

    sets: dict[str, Scenario]
    seed: int
    outcomes: list[str]
    timeseries: bool = False

    def key(self) -> str:
        """Identity of the whole payload: a worker reuses compiled models only for the same one."""
        return hashlib.sha256(pickle.dumps(self)).hexdigest()

    def compile(self) -> Any:
        """What a worker builds once per payload before any chunk: every set, compiled.

        A subclass (``scenario-sim explore``'s :class:`~scenario_sim.experiment.ensemble.EnsemblePayload`)
        builds its own state and overrides :meth:`run`; the executors then run it unchanged.
        """
        return {name: compile_scenario(s) for name, s in self.sets.items()}

    def run(self, state: Any, start: int, count: int) -> ChunkResult:
        """Run replications [start, start+count) of every set; never raises for a model error."""
        t0 = time.perf_counter()
        cols = _Columns(count * len(state), self.outcomes)
        for rep in range(start, start + count):
            for name in state:
                cols.add(self, state, name, rep)
        return ChunkResult(start, count, cols.columns(), cols.timeseries(), time.perf_counter() - t0)


@dataclass
class ChunkResult:
    """The outcomes of replications ``start .. start+count-1`` of every set, as columns."""

    start: int
    count: int
    columns: dict[str, Any]
    timeseries: dict[str, Any] | None
    seconds: float


_compiled: dict[str, tuple[Payload, Any]] = {}

_replication_hook: Callable[[str, int], None] | None = None
"""Tests only: called before each replication (see the module notes)."""

_EXIT_ORPHANED = 70  # exit status of a worker whose parent vanished


def init_worker(payload: Payload) -> None:
    """Process-pool initializer: exit when the parent dies; compile every set once per worker."""
    watch_parent()
    _load(payload)


def watch_parent() -> None:
    """Start a daemon thread that ends this process as soon as its parent process is gone.

    Waits on the parent's sentinel (a pipe the parent holds open), so it costs nothing while
    the parent lives and reacts within milliseconds when it dies.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child (e.g. in process): nothing to watch
        return

    def wait_then_exit() -> None:
        from multiprocessing.connection import wait

        wait([parent.sentinel])
        os._exit(_EXIT_ORPHANED)

    threading.Thread(target=wait_then_exit, name="scenario-sim-parent-watch", daemon=True).start()


def _load(payload: Payload) -> tuple[Payload, Any]:
    key = payload.key()
    if key not in _compiled:
        _compiled.clear()
        _compiled[key] = (payload, payload.compile())
    return _compiled[key]


def _error_text(exc: Exception) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


class _Columns:
    """The growing columns of one chunk: one row per (replication, set)."""

    def __init__(self, n: int, outcomes: list[str]):
        self.sets: list[str] = []
        self.reps = np.empty(n, dtype=np.int64)
        self.errors: list[str | None] = []
        self.outcomes = outcomes
        self.values = np.full((n, len(outcomes)), np.nan)
        self.draws = np.full((n, len(DRAW_NAMES)), np.nan)  # NaN where the replication failed
        self.index = {o: j for j, o in enumerate(outcomes)}
        self.ts_parts: list[dict[str, Any]] = []

    def add(self, payload: Payload, models: dict[str, CompiledScenario], name: str, rep: int) -> None:
        """Run one replication of one set and append its row (or its error)."""
        i = len(self.sets)
        self.sets.append(name)
        self.reps[i] = rep
        try:
            if _replication_hook is not None:
                _replication_hook(name, rep)
            r = simulate(models[name], payload.seed, rep, timeseries=payload.timeseries)
        except Exception as exc:  # recorded, not fatal: the run goes on
            self.errors.append(_error_text(exc))
            return
        for k, v in r.outcomes.items():
            self.values[i, self.index[k]] = v
        for j, d in enumerate(DRAW_NAMES):
            self.draws[i, j] = r.draws.get(d, np.nan)
        self.errors.append(None)
        if r.timeseries is not None:
            ts: dict[str, Any] = dict(r.timeseries)
            ts["set"] = [name] * len(ts["day"])
            ts["replication"] = np.full(len(ts["day"]), rep, dtype=np.int64)
            self.ts_parts.append(ts)

    def columns(self) -> dict[str, Any]:
        cols: dict[str, Any] = {"set": self.sets, "replication": self.reps, "error": self.errors}
        for j, o in enumerate(self.outcomes):
            cols[o] = self.values[:, j]
        for j, d in enumerate(DRAW_NAMES):
            cols[f"draw.{d}"] = self.draws[:, j]
        return cols

    def timeseries(self) -> dict[str, Any] | None:
        """The daily series of every replication that gave one, outer-joined on column names."""
        parts = self.ts_parts
        if not parts:
            return None
        extra = sorted({k for p in parts for k in p} - {"set", "replication", "day"})
        out: dict[str, Any] = {"set": [x for p in parts for x in p["set"]]}
        for k in ("replication", "day"):
            out[k] = np.concatenate([np.asarray(p[k], dtype=np.int64) for p in parts])
        for k in extra:
            out[k] = np.concatenate([np.asarray(p[k], dtype=float) if k in p else np.full(len(p["day"]), np.nan)
                                     for p in parts])
        return out


def run_chunk(start: int, count: int, payload: Payload | None = None) -> ChunkResult:
    """Run work unit (start, count) of the worker's payload (:meth:`Payload.run`)."""
    if payload is None:
        if not _compiled:
            raise RuntimeError("worker was not initialised with a payload")
        payload, state = next(iter(_compiled.values()))
    else:
        payload, state = _load(payload)
    return payload.run(state, start, count)
