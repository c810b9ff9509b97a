"""Executors: where chunks of replications run.

All three implement one small protocol (start with a payload, run chunks, yield results
as they complete, shut down), so the engine never branches on which one it has:

* :class:`InProcess` (``--jobs 1``): in the calling process; simplest to debug.
* :class:`LocalPool`: a ``concurrent.futures`` process pool with an explicit ``spawn``
  context.  The default start method differs across platforms and Python versions
  (``fork`` on Linux until 3.14, which is unsafe with threads), so it is never left to
  chance.  The payload is sent once per worker through the pool initializer.
* :class:`DaskCluster` (``--executor dask``): a ``dask.distributed`` cluster, either at
  ``--scheduler ADDRESS`` or a local one started on demand.  The payload is scattered to
  every worker once; tasks carry only ``(start, count)``.

Results are identical whichever runs them: the draws depend only on (seed, replication,
stream name), never on the worker or the order of completion.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from scenario_sim.errors import UserError
from scenario_sim.experiment.worker import ChunkResult, Payload, init_worker, run_chunk

Chunk = tuple[int, int]


class Executor(Protocol):
    name: str
    jobs: int

    def start(self, payload: Payload) -> None: ...

    def run(self, chunks: list[Chunk]) -> Iterator[ChunkResult]: ...

    def shutdown(self, cancel: bool = False) -> None: ...


class InProcess:
    name = "inprocess"

    def __init__(self) -> None:
        self.jobs = 1
        self._payload: Payload | None = None

    def start(self, payload: Payload) -> None:
        self._payload = payload

    def run(self, chunks: list[Chunk]) -> Iterator[ChunkResult]:
        for start, count in chunks:
            yield run_chunk(start, count, self._payload)

    def shutdown(self, cancel: bool = False) -> None:
        self._payload = None


class LocalPool:
    name = "process"

    def __init__(self, jobs: int):
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def start(self, payload: Payload) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=init_worker,
                                         initargs=(payload,))

    def run(self, chunks: list[Chunk]) -> Iterator[ChunkResult]:
        assert self._pool is not None
        # Keep a bounded number of chunks in flight so results stream back and memory stays flat.
        pending: set[Future[ChunkResult]] = set()
        todo = list(chunks)
        limit = 4 * self.jobs
        while todo or pending:
            while todo and len(pending) < limit:
                s, c = todo.pop(0)
                pending.add(self._pool.submit(run_chunk, s, c))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                yield f.result()

    def shutdown(self, cancel: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
            self._pool = None


class DaskCluster:
    name = "dask"

    def __init__(self, jobs: int, scheduler: str | None = None):
        self.jobs = jobs
        self.scheduler = scheduler
        self._client: Any = None
        self._cluster: Any = None
        self._payload: Any = None

    def start(self, payload: Payload) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - dask is a dependency
            raise UserError("--executor dask needs the 'distributed' package "
                            "(pip install 'dask[distributed]')") from None
        try:
            if self.scheduler:
                self._client = Client(self.scheduler, timeout="20s")  # type: ignore[no-untyped-call]
            else:
                import dask

                # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers; any explicit glibc
                # malloc setting switches off the dynamic mmap threshold, so every per-class
                # draw array (10^5 munitions a year) becomes an mmap/munmap with page faults,
                # making replications ~50% slower.  Keep the thread caps, drop that one.
                env = {k: v for k, v in dict(dask.config.get("distributed.nanny.pre-spawn-environ", {})).items()
                       if k != "MALLOC_TRIM_THRESHOLD_"}
                with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
                    self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                        n_workers=self.jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                        silence_logs=40)
                self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise UserError(f"--scheduler {self.scheduler}: cannot connect to the Dask scheduler ({exc})") from None
        self._payload = self._client.scatter(payload, broadcast=True)

    def run(self, chunks: list[Chunk]) -> Iterator[ChunkResult]:
        from distributed import as_completed

        futures = [self._client.submit(run_chunk, s, c, self._payload, pure=False) for s, c in chunks]
        for f in as_completed(futures):  # type: ignore[no-untyped-call]
            yield f.result()

    def shutdown(self, cancel: bool = False) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_executor(kind: str, jobs: int | None, scheduler: str | None = None) -> Executor:
    """The executor for ``--executor kind --jobs n``."""
    n = jobs if jobs is not None else (os.cpu_count() or 1)
    if n < 1:
        raise UserError(f"--jobs: must be at least 1 (got {n})")
    if kind == "dask":
        return DaskCluster(n, scheduler)
    if scheduler:
        raise UserError("--scheduler: only used with --executor dask")
    if kind == "inprocess" or n == 1:
        return InProcess()
    if kind == "process":
        return LocalPool(n)
    raise UserError(f"--executor: expected one of process, dask, inprocess (got {kind!r})")
