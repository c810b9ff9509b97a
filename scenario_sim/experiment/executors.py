"""Executors: where chunks of replications run.

An executor is any object with the small :class:`Executor` protocol, passed to
:func:`~scenario_sim.experiment.run_experiment` as EMA Workbench takes an evaluator::

    start(payload)   send the scenarios once (compile them wherever chunks will run)
    run(chunks)      run (start, count) work units, yielding ChunkResults as they complete
    shutdown(cancel) release workers; cancel=True (Ctrl-C, a failure) must return promptly,
                     abandoning work in flight
    name, jobs       recorded in the manifest; jobs also sizes the default chunk

Three ship with the package; the engine never branches on which one it has:

* :class:`InProcess`: in the calling process; simplest to debug.
* :class:`LocalPool`: a ``concurrent.futures`` process pool with an explicit start method.
  The default start method differs across platforms and Python versions (``fork`` on
  Linux until 3.14, which is unsafe with threads), so it is never left to chance: a
  library caller gets ``spawn`` (a fresh interpreter per worker, whatever the caller's
  process holds), and the command line asks for ``auto`` (see :func:`fork_is_safe`):
  ``fork`` on Linux when the parent runs a single Python thread, so that a worker starts
  with the parent's imported model instead of importing numpy, SimPy, pydantic and the
  model again (~0.35 s of CPU per worker, on the critical path of every run), else
  ``spawn``.  The payload is sent once per worker through the pool initializer; workers
  ignore SIGINT (the parent handles Ctrl-C and terminates them) and exit on their own if
  the parent dies.
* :class:`DaskCluster`: a ``dask.distributed`` cluster, either at a scheduler address or a
  local one started on demand.  The payload is scattered to every worker once; tasks carry
  only ``(start, count)``.

Command-line words (``--executor process --jobs 2 --scheduler ADDR``) become one of these
objects in :func:`make_executor`, called by the command line, never by the engine.

Results are identical whichever runs them: the draws depend only on (seed, replication,
stream name), never on the worker or the order of completion.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol, runtime_checkable

from scenario_sim.errors import UserError
from scenario_sim.experiment.worker import ChunkResult, Payload, init_worker, run_chunk

Chunk = tuple[int, int]
"""A work unit: (first replication, number of replications), for every set."""


@runtime_checkable
class Executor(Protocol):
    """Where chunks of replications run (see the module notes for the contract)."""

    name: str
    jobs: int

    def start(self, payload: Payload) -> None:
        """Prepare workers for this payload; raise :class:`UserError` if they cannot be reached."""

    def run(self, chunks: list[Chunk]) -> Iterator[ChunkResult]:
        """Run every chunk (each with :func:`run_chunk`), yielding results in completion order."""

    def shutdown(self, cancel: bool = False) -> None:
        """Release the workers; with ``cancel``, abandon pending and running chunks at once."""


class InProcess:
    """Run chunks one after another in the calling process."""

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


def _pool_worker_init(payload: Payload) -> None:
    # Ctrl-C in a terminal reaches the whole process group; the parent handles it (it
    # terminates the pool), so a worker must not die mid-queue printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init_worker(payload)


START_METHODS = ("spawn", "fork", "auto")


def fork_is_safe() -> bool:
    """Whether a worker may be forked from this process: Linux, and no Python thread but this one.

    A fork copies only the calling thread; a lock another thread holds at that moment (a
    progress bar's refresh thread writing to stderr, a notebook's kernel threads) stays held
    forever in the child.  With one Python thread nothing of ours is mid-operation.  The C
    libraries the model imports keep their own threads fork-safe (OpenBLAS and jemalloc
    register ``pthread_atfork`` handlers).  macOS is excluded as CPython excludes it (its
    system frameworks are not fork-safe; ``spawn`` is its default).
    """
    return (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


class LocalPool:
    """A pool of ``jobs`` worker processes on this machine.

    ``start_method``: ``"spawn"`` (the default), ``"fork"``, or ``"auto"`` (fork when
    :func:`fork_is_safe` at :meth:`start`, else spawn; what the command line uses).  Results
    are the same bytes whichever starts the workers.
    """

    name = "process"

    def __init__(self, jobs: int, start_method: str = "spawn"):
        if jobs < 1:
            raise UserError(f"--jobs: must be at least 1 (got {jobs})")
        if start_method not in START_METHODS:
            raise UserError(f"start_method: expected one of {', '.join(START_METHODS)} (got {start_method!r})")
        self.jobs = jobs
        self.start_method = start_method
        self.started_with: str | None = None  # the method :meth:`start` used
        self._pool: ProcessPoolExecutor | None = None

    def _initializer(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        """What each worker runs first, and with what (a subclass may wrap it)."""
        return _pool_worker_init, ()

    def start(self, payload: Payload) -> None:
        method = self.start_method
        if method == "auto":
            method = "fork" if fork_is_safe() else "spawn"
        self.started_with = method
        ctx = multiprocessing.get_context(method)
        init, extra = self._initializer()
        # Start every worker now, with SIGINT ignored: an ignored signal stays ignored across
        # fork and exec (and a spawned Python then installs no KeyboardInterrupt handler), so
        # a Ctrl-C while a worker is still starting cannot print a traceback.  The pool
        # starts its workers on the first submit (all at once with fork, one per submit with
        # spawn); the warm-up tasks make that happen here, in a window of milliseconds,
        # instead of in the middle of the run.
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=init,
                                             initargs=(payload, *extra))
            for _ in range(self.jobs):
                self._pool.submit(os.getpid)
        finally:
            if main:
                signal.signal(signal.SIGINT, old)

    def run(self, chunks: list[Chunk]) -> Iterator[ChunkResult]:
        assert self._pool is not None, "start() first"
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
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if not cancel:
            pool.shutdown(wait=True)
            return
        # Cancelling queued futures is not enough: running chunks would finish first (seconds
        # to tens of seconds), and the interpreter joins the pool at exit.  Terminate them.
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
        pool.shutdown(wait=True)


class DaskCluster:
    """A ``dask.distributed`` cluster: at ``scheduler`` or, without one, a local cluster of ``jobs``."""

    name = "dask"

    def __init__(self, jobs: int, scheduler: str | None = None, connect_timeout_seconds: float = 20.0):
        if jobs < 1:
            raise UserError(f"--jobs: must be at least 1 (got {jobs})")
        self.jobs = jobs
        self.scheduler = scheduler
        self.connect_timeout_seconds = connect_timeout_seconds
        self._client: Any = None
        self._cluster: Any = None
        self._payload: Any = None
        self._futures: list[Any] = []

    def _local_cluster(self) -> Any:
        import dask
        from distributed import LocalCluster

        # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers; any explicit glibc
        # malloc setting switches off the dynamic mmap threshold, so every per-class
        # draw array (10^5 munitions a year) becomes an mmap/munmap with page faults,
        # making replications ~50% slower.  Keep the thread caps, drop that one.
        env = {k: v for k, v in dict(dask.config.get("distributed.nanny.pre-spawn-environ", {})).items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
            return LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=self.jobs, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=40)

    def start(self, payload: Payload) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - dask is a dependency
            raise UserError("--executor dask needs the 'distributed' package "
                            "(pip install 'dask[distributed]')") from None
        try:
            if self.scheduler:
                self._client = Client(self.scheduler,  # type: ignore[no-untyped-call]
                                      timeout=f"{self.connect_timeout_seconds}s")
            else:
                self._cluster = self._local_cluster()
                self._client = Client(self._cluster)  # type: ignore[no-untyped-call]
            self._payload = self._client.scatter(payload, broadcast=True)
        except (OSError, TimeoutError) as exc:
            self.shutdown(cancel=True)
            where = f"--scheduler {self.scheduler}" if self.scheduler else "--executor dask"
            raise UserError(f"{where}: cannot connect to the Dask scheduler ({exc})") from None

    def run(self, chunks: list[Chunk]) -> Iterator[ChunkResult]:
        from distributed import as_completed

        self._futures = [self._client.submit(run_chunk, s, c, self._payload, pure=False) for s, c in chunks]
        for f in as_completed(self._futures):  # type: ignore[no-untyped-call]
            yield f.result()
        self._futures = []

    def shutdown(self, cancel: bool = False) -> None:
        if cancel and self._client is not None and self._futures:
            with contextlib.suppress(Exception):  # best effort on the way out
                self._client.cancel(self._futures, force=True)
        self._futures = []
        if self._client is not None:
            self._client.close(timeout=5 if cancel else None)
            self._client = None
        if self._cluster is not None:
            self._cluster.close(timeout=5 if cancel else None)
            self._cluster = None


def make_executor(kind: str, jobs: int | None, scheduler: str | None = None) -> Executor:
    """The executor for the command-line words ``--executor kind --jobs n [--scheduler ADDR]``."""
    n = jobs if jobs is not None else (os.cpu_count() or 1)
    if n < 1:
        raise UserError(f"--jobs: must be at least 1 (got {n})")
    if kind == "dask":
        return DaskCluster(n, scheduler)
    if scheduler:
        raise UserError("--scheduler: only used with --executor dask")
    if kind == "inprocess" or (kind == "process" and n == 1):
        return InProcess()
    if kind == "process":
        return LocalPool(n, start_method="auto")
    raise UserError(f"--executor: expected one of process, dask, inprocess (got {kind!r})")


def default_executor(jobs: int | None = None) -> Executor:
    """What a library call without an executor gets: a process pool of ``jobs`` (default:
    every core) started with ``spawn`` (the caller's script may hold threads), or the calling
    process for one job."""
    n = jobs if jobs is not None else (os.cpu_count() or 1)
    if n < 1:
        raise UserError(f"--jobs: must be at least 1 (got {n})")
    return InProcess() if n == 1 else LocalPool(n)
