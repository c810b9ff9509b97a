"""Executors that inject faults, for tests only.

The public API has no fault-injection parameter: these wrap the shipped executors and set
the worker's test hook (``scenario_sim.experiment.worker._replication_hook``) where chunks
run, in this process or in each spawned pool worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from scenario_sim.experiment import worker
from scenario_sim.experiment.executors import Chunk, InProcess, LocalPool, _pool_worker_init
from scenario_sim.experiment.worker import ChunkResult, Payload


def _raise_in(faults: dict[str, list[int]]) -> Callable[[str, int], None]:
    def hook(name: str, rep: int) -> None:
        if rep in faults.get(name, ()):
            raise RuntimeError(f"injected fault in replication {rep}")
    return hook


class FaultyInProcess(InProcess):
    """In process; replication r of set s raises when r is in ``faults[s]`` (recorded, the run goes on)."""

    def __init__(self, faults: dict[str, list[int]]):
        super().__init__()
        self.faults = faults

    def run(self, chunks: list[Chunk]) -> Iterator[ChunkResult]:
        saved, worker._replication_hook = worker._replication_hook, _raise_in(self.faults)
        try:
            yield from super().run(chunks)
        finally:
            worker._replication_hook = saved


def _crash_hook(reps: list[int]) -> Callable[[str, int], None]:
    def hook(name: str, rep: int) -> None:
        if rep in reps:  # a lost worker: killed, out of memory
            os._exit(17)
    return hook


def _init_crashing(payload: Payload, reps: list[int]) -> None:
    worker._replication_hook = _crash_hook(reps)
    _pool_worker_init(payload)


class CrashingPool(LocalPool):
    """A process pool whose worker process dies when it reaches any replication in ``reps``."""

    def __init__(self, jobs: int, reps: list[int]):
        super().__init__(jobs)
        self.reps = reps

    def _initializer(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        return _init_crashing, (self.reps,)
