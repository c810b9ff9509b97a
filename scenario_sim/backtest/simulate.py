"""Simulating a backtest window: replications with a night recorder, on any executor.

A :class:`NightsPayload` is an experiment :class:`~scenario_sim.experiment.worker.Payload`
whose :meth:`~NightsPayload.run` returns per-night tables instead of outcome columns, so
``--jobs`` and the executors of ``run`` work unchanged, and the draws of replication ``r``
are those ``run`` would make for it (same seed, same streams; the recorder only reads).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scenario_sim.backtest.nights import NightRecorder
from scenario_sim.experiment.executors import Executor, make_executor
from scenario_sim.experiment.worker import ChunkResult, Payload
from scenario_sim.lang.schema import Scenario
from scenario_sim.model.simulation import simulate


@dataclass
class NightsPayload(Payload):
    """One scenario, simulated night by night (see the module notes)."""

    ew_layer: str | None = None

    def run(self, state: Any, start: int, count: int) -> ChunkResult:
        t0 = time.perf_counter()
        (model,) = state.values()
        parts = []
        for rep in range(start, start + count):
            rec = NightRecorder(model.horizon, self.ew_layer)
            simulate(model, self.seed, rep, recorder=rec)
            parts.append(rec.counts)
        return ChunkResult(start, count, {"nights": parts}, None, time.perf_counter() - t0)


def simulate_nights(scenario: Scenario, replications: int, seed: int, ew_layer: str | None,
                    executor: Executor | None = None, progress: Callable[[int, int], None] | None = None,
                    ) -> list[dict[str, Any]]:
    """Per-night counts of replications ``0 .. replications-1``, in replication order."""
    ex = executor or make_executor("process", 1)
    payload = NightsPayload({"baseline": scenario}, seed, [], False, ew_layer)
    size = max(1, min(50, replications // (4 * max(1, ex.jobs)) or 1))
    chunks = [(s, min(size, replications - s)) for s in range(0, replications, size)]
    out: dict[int, list[dict[str, Any]]] = {}
    ex.start(payload)
    ok = False
    try:
        done = 0
        for res in ex.run(chunks):
            out[res.start] = res.columns["nights"]
            done += res.count
            if progress is not None:
                progress(done, replications)
        ok = True
    finally:
        ex.shutdown(cancel=not ok)
    return [p for s in sorted(out) for p in out[s]]
