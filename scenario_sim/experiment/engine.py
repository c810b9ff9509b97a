"""Running an experiment: every recommendation set, many replications, on common random numbers.

Design notes.

*Common random numbers.*  Replication *r* of every set draws from the same named streams as
replication *r* of the baseline (see :mod:`scenario_sim.model.rng`), and a work unit is a
chunk of replications for *all* sets, so the pairs are computed side by side.

*Reproducibility.*  Results depend only on the scenario, the seed and the number of
replications: not on ``--jobs``, the executor, the chunk size or the order in which chunks
finish.  Chunks are written as separate part files as they complete and consolidated in
replication order into fixed-size row groups at the end, so the same seed gives the same
bytes of ``replications.parquet`` wherever it ran.

*Durability.*  The manifest and scenario are written before any replication runs; every
finished chunk is on disk at once (atomically); an interrupted run (Ctrl-C, a killed
process, a lost worker) is finished by ``--resume`` with exactly the results an
uninterrupted run would have given, because the missing chunks are recomputed from the
same seeds.  A replication that raises is recorded with its error and the run goes on.

*Executors are objects.*  ``run_experiment`` takes any object with the small
:class:`~scenario_sim.experiment.executors.Executor` protocol (process pool, Dask, in
process, or your own), as EMA Workbench takes an evaluator; command-line words become
objects at the command line.  The executor is started (workers spawned, a Dask scheduler
reached) before the run folder is created or a resumed one is marked ``running``, so a
scheduler that cannot be reached leaves nothing behind.

*Checks before the run.*  :func:`plan_experiment` resolves sets, replications, seed,
adaptive options and the outcome catalogue and checks that the output folder can be
written, without creating anything: the command line calls it to reject bad options (for
example an unknown ``--rank-by``) before minutes of simulation.

*Time.*  A run may take several sessions (interrupted, resumed).  Each session is a segment
in ``timings.segments``; ``wall_seconds`` and ``replications_per_second`` cover all of them.
While a session runs, its segment is refreshed in the manifest every few seconds, so even a
``kill -9`` loses at most that much of the record.

*Adaptive precision.*  With ``precision`` and ``metric``, replications are added in batches
(the initial number each time) until the 95% interval of every set's mean paired
difference from the baseline on ``metric`` has a half-width within ``precision`` times the
baseline mean, or ``max_replications`` is reached; the manifest records why it stopped.
Decisions are taken at batch boundaries on replications in order, so they too are
independent of how the work was spread.

*Selecting the best.*  With ``select_best``, the KN procedure
(:mod:`scenario_sim.experiment.selection`) decides instead: after each batch it is replayed
replication by replication over everything run so far, and the run stops as soon as it has
named the best set (or a group, or hit the cap).  Every set runs in every replication, also
after it was eliminated, so the folder stays a complete paired run that every reader
understands; the procedure's own decision uses only what KN would have seen, recorded in
``manifest.select_best`` (``replications_used`` per set, the elimination order).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import math
import os
import platform
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scenario_sim import __version__, runs
from scenario_sim.errors import AlreadyComplete, ResultsError, UserError
from scenario_sim.experiment import parts, store
from scenario_sim.experiment.executors import Executor, default_executor
from scenario_sim.experiment.guard import HINT, refuse_in_worker_bootstrap
from scenario_sim.experiment.lock import FolderLock
from scenario_sim.experiment.worker import ChunkResult, Payload
from scenario_sim.lang import BASELINE, LoadedScenario, dump_scenario, load_scenario
from scenario_sim.model.compiled import compile_scenario
from scenario_sim.model.simulation import DRAW_NAMES
from scenario_sim.outcomes import Outcome
from scenario_sim.runs import Manifest
from scenario_sim.stats import t_interval
from scenario_sim.text import did_you_mean

if TYPE_CHECKING:  # pandas is imported where it is used: a run's parent needs it only to read results
    import pandas as pd

ProgressFn = Callable[[int, int], None]
"""Called with (replications done over all sets, total) as chunks finish."""

_HEARTBEAT_SECONDS = 2.0  # how often a running session refreshes its timings in the manifest
_KEEP_ROWS = 4 * runs.ROW_GROUP
"""Rows of this session's parts the parent keeps in memory for the consolidation (~12 MB at the
reference's 46 columns) instead of reading them back: 40 parts of 50 rows cost ~85 ms of CPU to read."""


class RunInterrupted(UserError):
    """The run was interrupted; what finished is on disk and can be resumed."""

    exit_code = 130


class RunFailed(UserError):
    """The run could not go on (e.g. a worker process died); resumable."""

    exit_code = 1


@dataclass
class ExperimentResult:
    """A finished run: its folder and how to read it."""

    run_dir: Path
    manifest: Manifest
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.manifest.failures.count

    def replications(self) -> pd.DataFrame:
        """One row per (set, replication), every outcome a column."""
        import pandas as pd

        return pd.read_parquet(self.run_dir / runs.REPLICATIONS)

    def summary(self) -> pd.DataFrame:
        import pandas as pd

        return pd.read_csv(self.run_dir / runs.SUMMARY)

    def timeseries(self) -> pd.DataFrame:
        p = self.run_dir / runs.TIMESERIES
        if not p.exists():
            raise ResultsError(f"{p}: no time series in this run (run with --timeseries)")
        import pandas as pd

        return pd.read_parquet(p)


# --------------------------------------------------------------------------- helpers


def _versions() -> dict[str, str]:
    out = {"scenario-sim": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "simpy", "pandas", "pyarrow", "pydantic", "scipy", "dask", "distributed"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _git_commit() -> dict[str, Any] | None:
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": dirty}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def outcome_union(loaded: LoadedScenario, sets: list[str]) -> list[Outcome]:
    """Outcomes of every set, baseline order first (a set may add a system or class)."""
    seen: dict[str, Outcome] = {}
    for name in sets:
        for o in compile_scenario(loaded.effective(name)).outcomes:
            seen.setdefault(o.name, o)
    return list(seen.values())


def _schema(outcomes: list[str]) -> pa.Schema:
    """``set, replication, error``, every outcome, then the per-replication draws
    (``draw.surge_probability``, ``draw.pause_probability``: NaN where the scenario has no such
    mechanism or the replication failed), as in an explore run."""
    return pa.schema([("set", pa.string()), ("replication", pa.int64()), ("error", pa.string()),
                      *[(o, pa.float64()) for o in outcomes],
                      *[(f"draw.{d}", pa.float64()) for d in DRAW_NAMES]])


def _to_table(r: ChunkResult, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pydict(r.columns, schema=schema)


def _ts_table(r: ChunkResult) -> pa.Table | None:
    return None if r.timeseries is None else pa.Table.from_pydict(r.timeseries)


def _chunks(ranges: list[tuple[int, int]], chunk_size: int) -> list[tuple[int, int]]:
    out = []
    for a, b in ranges:
        for s in range(a, b, chunk_size):
            out.append((s, min(chunk_size, b - s)))
    return out


def _missing(done: dict[int, int], batches: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges of replications not yet covered by finished chunks, within batch boundaries."""
    covered = np.zeros(batches[-1][1] if batches else 0, dtype=bool)
    for s, c in done.items():
        covered[s:s + c] = True
    out = []
    for a, b in batches:
        r = a
        while r < b:
            if covered[r]:
                r += 1
                continue
            e = r
            while e < b and not covered[e]:
                e += 1
            out.append((r, e))
            r = e
    return out


def _batches(n: int, batch: int) -> list[tuple[int, int]]:
    return [(a, min(a + batch, n)) for a in range(0, n, batch)]


def auto_chunk_size(replications: int, jobs: int) -> int:
    """Chunks big enough to amortise dispatch (each replication of all sets is ~10-50 ms),
    small enough to balance load and report progress."""
    return max(1, min(50, math.ceil(replications / (8 * max(1, jobs)))))


# --------------------------------------------------------------------------- the plan


@dataclass
class ExperimentPlan:
    """A checked experiment: everything decided, nothing written or started yet."""

    loaded: LoadedScenario
    sets: list[str]
    outcomes: list[Outcome]
    replications: int
    seed: int
    seed_source: str
    chunk_size: int | None  # None: sized from the executor's jobs
    timeseries: bool
    adaptive: runs.Adaptive | None
    out: Path
    rank_by: str | None = None  # the outcome readers rank by (None: the scenario's outputs.primary)
    select_best: runs.SelectBest | None = None  # run --select-best: the KN procedure's record
    records: dict[str, str] = field(default_factory=dict)  # extra files (name: text) written with the folder

    @property
    def outcome_names(self) -> list[str]:
        """Every outcome column the run will have, baseline's first."""
        return [o.name for o in self.outcomes]


def _choose_sets(loaded: LoadedScenario, sets: list[str] | None) -> list[str]:
    known = loaded.set_names
    chosen = [BASELINE]
    for s in known[1:] if sets is None else sets:
        if s not in known:
            raise UserError(f"--sets: unknown recommendation set {s!r}{did_you_mean(s, known)} "
                            f"(known: {', '.join(known)})")
        if s not in chosen:
            chosen.append(s)
    return chosen


def _percent(x: float) -> str:
    """A relative half-width as a percentage with three significant digits (``0.99%``)."""
    return f"{100 * x:.3g}%" if math.isfinite(x) else "unbounded"


def _adaptive(precision: float | None, metric: str | None, max_replications: int | None, n: int,
              chosen: list[str], names: list[str]) -> runs.Adaptive | None:
    if precision is None and metric is None:
        if max_replications is not None:
            raise UserError("--max-replications: only used with --precision and --metric, or --select-best")
        return None
    if precision is None or metric is None:
        raise UserError("--precision and --metric go together")
    if not (0 < precision < 1):
        raise UserError(f"--precision: expected a fraction between 0 and 1 (got {precision})")
    if metric not in names:
        raise UserError(f"--metric: unknown outcome {metric!r}{did_you_mean(metric, names)}")
    if len(chosen) < 2:
        raise UserError("--precision needs at least one recommendation set besides the baseline")
    mx = max_replications if max_replications is not None else 20 * n
    if mx < n:
        raise UserError(f"--max-replications: must be >= --replications ({n})")
    return runs.Adaptive(precision, metric, mx)


def _select_best(delta: float | None, pcs: float | None, max_replications: int | None, n: int,
                 chosen: list[str], outcome: Outcome) -> runs.SelectBest:
    """The KN record of ``run --select-best`` (checked; see :mod:`scenario_sim.experiment.selection`)."""
    from scenario_sim.experiment import selection

    if delta is None:
        raise UserError(f"--select-best: give --delta, the smallest difference in {outcome.name} worth "
                        f"detecting, in {outcome.unit}")
    p = 0.95 if pcs is None else pcs
    mx = max_replications if max_replications is not None else 20 * n
    problem = selection.check_config(delta, p, n, mx, len(chosen))
    if problem:
        raise UserError(problem)
    cfg = selection.KNConfig(delta, p, n, mx, outcome.direction == "higher")
    eta, h2 = cfg.constants(len(chosen))
    return runs.SelectBest(procedure=selection.PROCEDURE, outcome=outcome.name, unit=outcome.unit,
                           direction=outcome.direction, delta=delta, pcs=p, n0=n, max_replications=mx,
                           eta=eta, h2=h2, survivors=list(chosen))


def _stop_rule(select_best: bool, delta: float | None, pcs: float | None, precision: float | None,
               metric: str | None, max_replications: int | None, n: int, chosen: list[str], outcomes: list[Outcome],
               ranked: Outcome) -> tuple[runs.Adaptive | None, runs.SelectBest | None]:
    """When a run stops adding replications: adaptive precision, KN selection, or never (fixed ``n``)."""
    if not select_best:
        if delta is not None or pcs is not None:
            raise UserError(f"{'--delta' if delta is not None else '--pcs'}: only used with --select-best")
        return _adaptive(precision, metric, max_replications, n, chosen, [o.name for o in outcomes]), None
    if precision is not None or metric is not None:
        raise UserError("--select-best: adds replications by its own rule; leave out --precision and --metric")
    return None, _select_best(delta, pcs, max_replications, n, chosen, ranked)


def _check_rank_by(rank_by: str | None, outcomes: list[Outcome]) -> None:
    if rank_by is None:
        return
    by_name = {o.name: o for o in outcomes}
    if rank_by not in by_name:
        raise UserError(f"--rank-by: unknown outcome {rank_by!r}{did_you_mean(rank_by, list(by_name))}")
    if by_name[rank_by].direction == "none":
        raise UserError(f"--rank-by: outcome {rank_by!r} has no better direction; "
                        "rank by one that does (e.g. civilian_harm, leaked.total, energy.mean)")


def check_writable(out: Path) -> None:
    """Raise :class:`ResultsError` unless a run folder could be created under ``out``
    (the nearest existing ancestor must be a writable folder); creates nothing."""
    p = out.absolute()
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    if not p.is_dir():
        raise ResultsError(f"{out}: cannot create the results folder ({p} is not a folder)")
    if not os.access(p, os.W_OK | os.X_OK):
        raise ResultsError(f"{out}: cannot create the results folder ({p} is not writable)")


def plan_experiment(scenario: str | Path | LoadedScenario, *, replications: int | None = None,
                    seed: int | None = None, sets: list[str] | None = None, out: str | Path = "results",
                    chunk_size: int | None = None, timeseries: bool | None = None,
                    precision: float | None = None, metric: str | None = None,
                    max_replications: int | None = None, rank_by: str | None = None,
                    select_best: bool = False, delta: float | None = None,
                    pcs: float | None = None) -> ExperimentPlan:
    """Check every option of a run and resolve it, without writing or starting anything.

    Raises :class:`UserError` (one line) for any option that is wrong.  The plan's
    ``outcome_names`` is the catalogue the run will produce, so a caller can check an
    outcome name (``--rank-by``) before the run.  Arguments are those of
    :func:`run_experiment`.
    """

    refuse_in_worker_bootstrap("run_experiment")
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    base = loaded.baseline
    chosen = _choose_sets(loaded, sets)
    n = replications if replications is not None else base.replications
    if n < 1:
        raise UserError(f"--replications: must be at least 1 (got {n})")
    sd = seed if seed is not None else base.seed
    if sd < 0:
        raise UserError(f"--seed: must be >= 0 (got {sd})")
    if chunk_size is not None and chunk_size < 1:
        raise UserError(f"--chunk-size: must be at least 1 (got {chunk_size})")
    outcomes = outcome_union(loaded, chosen)
    _check_rank_by(rank_by, outcomes)
    target = next(o for o in outcomes if o.name == (rank_by or base.outputs.primary))
    adaptive, kn = _stop_rule(select_best, delta, pcs, precision, metric, max_replications, n, chosen, outcomes,
                              target)
    check_writable(Path(out))
    return ExperimentPlan(loaded, chosen, outcomes, n, sd, "command line" if seed is not None else "scenario file",
                          chunk_size, base.outputs.timeseries if timeseries is None else timeseries, adaptive,
                          Path(out), rank_by, kn)


def _payload(loaded: LoadedScenario, sets: list[str], seed: int, names: list[str], timeseries: bool) -> Payload:
    return Payload({s: loaded.effective(s) for s in sets}, seed, names, timeseries)


# --------------------------------------------------------------------------- the run


def resume_command(run_dir: Path) -> str:
    """The command that finishes ``run_dir``, quoted for a POSIX shell (paths may have spaces;
    a frontier folder is finished by ``frontier --resume``)."""
    return runs.resume_command(run_dir)


def resume_hint(run_dir: Path) -> str:
    return f"Resume with: {resume_command(run_dir)}"


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


def _failure_message(run_dir: Path, exc: Exception, note: str) -> str:
    """One line: what stopped the run, and whether (and after what) a resume can succeed."""
    what = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return (f"{run_dir}: disk full ({exc.strerror}); finished chunks are saved{note}. "
                f"Free some space, then resume with: {resume_command(run_dir)}")
    if isinstance(exc, OSError) and exc.errno in _NOT_WRITABLE:
        return (f"{run_dir}: cannot write ({exc.strerror}); finished chunks are saved{note}. "
                f"Make the folder writable, then resume with: {resume_command(run_dir)}")
    if isinstance(exc, BrokenExecutor):
        return (f"run failed ({what}); if a worker said it was starting, {HINT}; finished chunks are "
                f"saved{note}. {resume_hint(run_dir)}")
    transient = isinstance(exc, (OSError, MemoryError, TimeoutError)) or type(exc).__module__.startswith("distributed")
    if transient:  # a lost connection, a killed Dask worker, memory: another session can finish it
        return f"run failed ({what}); finished chunks are saved{note}. {resume_hint(run_dir)}"
    # Anything else is deterministic (a bug): a resume would run into it again.
    return (f"run failed ({what}); finished chunks are saved in {run_dir}{note}, but a resume would "
            "repeat this error: please report it")


class _Run:
    """One session of a run (the first, or a resume) on a started executor."""

    def __init__(self, folder: runs.RunFolder, manifest: Manifest, outcomes: list[Outcome],
                 executor: Executor, progress: ProgressFn | None):
        self.folder = folder
        self.m = manifest
        self.executor = executor
        self.progress = progress
        self.sets: list[str] = manifest.sets
        self.outcomes = outcomes
        self.names = [o.name for o in outcomes]
        self.schema = _schema(self.names)
        self.t0 = time.perf_counter()
        self._last_beat = self.t0
        self.done: dict[int, int] = {}  # verified parts: {first replication: count}
        # this session's parts as written, for the consolidation not to read them back (up to a bound)
        self.kept: dict[int, pa.Table] = {}
        self._kept_rows = 0
        tm = manifest.timings
        tm.setdefault("started", dt.datetime.now().isoformat(timespec="seconds"))
        segments = tm.setdefault("segments", [])
        earlier = tm.get("wall_seconds") or tm.get("last_session_seconds")
        if not segments and earlier:  # a folder written before segments were recorded
            segments.append({"started": tm.get("started"), "seconds": earlier})
        self.started = False  # set when execute's handler is in place (see run_plan)
        self.segment: dict[str, Any] = {"started": dt.datetime.now().isoformat(timespec="seconds"), "seconds": 0.0,
                                        "executor": {"kind": executor.name, "jobs": executor.jobs}}
        segments.append(self.segment)

    def execute(self) -> ExperimentResult:
        """Run what is missing, consolidate, summarise; the executor must have been started.

        Whatever stops the session (Ctrl-C, a lost worker, a full disk, a bug) shuts the
        executor down at once and leaves the folder resumable; the message suggests
        ``--resume`` only when a resume can succeed.
        """
        m = self.m
        m.status = "running"
        m.executor = {"kind": self.executor.name, "jobs": self.executor.jobs}
        try:
            self.started = True
            self._write_timings()
            self._loop()
            self.executor.shutdown()
            return self._finish()
        except KeyboardInterrupt:
            _shutdown_on_error(self.executor)
            note = self._stop("interrupted")
            raise RunInterrupted(f"interrupted; finished chunks are saved{note}. "
                                 f"{resume_hint(self.folder.path)}") from None
        except UserError:
            _shutdown_on_error(self.executor)
            self._stop("failed")
            raise
        except Exception as exc:
            _shutdown_on_error(self.executor)
            m.error = f"{type(exc).__name__}: {exc}"
            note = self._stop("failed")
            raise RunFailed(_failure_message(self.folder.path, exc, note)) from None

    def _write_timings(self) -> None:
        """Bring this session's segment and the run totals up to date, and write the manifest."""
        now = time.perf_counter()
        self._last_beat = now
        self.segment["seconds"] = round(now - self.t0, 3)
        tm = self.m.timings
        wall = round(sum(float(s.get("seconds") or 0.0) for s in tm["segments"]), 3)
        tm["wall_seconds"] = wall
        tm["last_session_seconds"] = self.segment["seconds"]
        done = self.m.replications_done * len(self.sets)
        tm["replications_per_second"] = round(done / wall, 1) if wall else None
        self.folder.write_manifest(self.m)

    def _stop(self, status: runs.Status) -> str:
        """Record why the session stopped; best effort (the disk may be full): returns a note
        for the message when the manifest could not be written."""
        self.m.status = status
        try:
            self._write_timings()
        except OSError as exc:
            return f" (manifest.json could not be updated: {exc.strerror or exc})"
        return ""

    def _verify_parts(self) -> None:
        """Trust only parts that pass :func:`parts.problem`; delete the others so they are redone."""
        m = self.m
        recorded = m.parts
        grid = set(_chunks(_batches(m.replications_target, m.batch_size), m.chunk_size))
        kept: set[str] = set()
        for start, count in sorted(self.folder.done_chunks().items()):
            chunk = self.folder.part_path(start, count)
            ts = self.folder.part_path(start, count, "ts") if m.timeseries else None
            why = parts.problem(chunk, ts, start, count, self.sets, recorded.get(chunk.name), (start, count) in grid)
            if why is not None:
                chunk.unlink(missing_ok=True)
                if ts is not None:
                    ts.unlink(missing_ok=True)
                m.repairs.append({"part": chunk.name, "problem": why,
                                  "at": dt.datetime.now().isoformat(timespec="seconds")})
                continue
            if chunk.name not in recorded:
                recorded[chunk.name] = parts.record(chunk, ts, start, count, count * len(self.sets))
            kept.add(chunk.name)
            self.done[start] = count
        for name in set(recorded) - kept:  # recorded, but the file is gone: it will be redone
            del recorded[name]

    def _loop(self) -> None:
        m = self.m
        target = m.replications_target
        self._verify_parts()
        while True:
            self._run_missing(target)
            m.replications_done = target
            self.folder.write_manifest(m)
            if m.select_best is not None:
                nxt = self._select_step(m.select_best, target)
                if nxt is None:
                    return
                target = nxt
            elif m.adaptive is None or self._precision_met(m.adaptive, target):
                return
            else:
                target = min(target + m.batch_size, m.adaptive.max_replications)
            m.replications_target = target
            self.folder.write_manifest(m)

    def _run_missing(self, target: int) -> None:
        """Run every chunk of replications [0, target) that has no part file yet."""
        m = self.m
        batches = _batches(target, m.batch_size)
        missing = _missing(self.done, batches)
        todo = _chunks(missing, m.chunk_size)
        total = target * len(self.sets)
        finished = (target - sum(b - a for a, b in missing)) * len(self.sets)
        if self.progress:
            self.progress(finished, total)
        for res in self.executor.run(todo):
            table, ts = _to_table(res, self.schema), _ts_table(res)
            self.folder.write_part(res.start, res.count, table, ts)
            if self._kept_rows + table.num_rows <= _KEEP_ROWS:
                self.kept[res.start] = table
                self._kept_rows += table.num_rows
            chunk = self.folder.part_path(res.start, res.count)
            m.parts[chunk.name] = parts.record(chunk, None if ts is None else
                                                  self.folder.part_path(res.start, res.count, "ts"),
                                                  res.start, res.count, table.num_rows)
            self.done[res.start] = res.count
            finished += res.count * len(self.sets)
            m.replications_done = finished // len(self.sets)
            if time.perf_counter() - self._last_beat >= _HEARTBEAT_SECONDS:
                self._write_timings()
            if self.progress:
                self.progress(finished, total)

    def _precision_met(self, adaptive: runs.Adaptive, target: int) -> bool:
        """Record the precision verdict at ``target``; True when the run should stop."""
        verdict = self._precision(adaptive, target)
        adaptive.history = [h for h in adaptive.history if h["replications"] < target]
        adaptive.history.append(verdict)
        if verdict["unjudged"]:  # more replications cannot help: they fail the same way
            adaptive.stop_reason = (f"stopped after {target} replications: no successful paired replications "
                                    f"of {', '.join(verdict['unjudged'])} to judge the precision of "
                                    f"{adaptive.metric} (see failures)")
            return True
        bm = verdict["baseline_mean"]
        # the bound in the outcome's own terms: "0.02 x |baseline mean| = 1807" read as a bound of 1807
        scale = (f"|baseline mean| = {adaptive.precision:g} x {abs(bm):.4g} = {adaptive.precision * abs(bm):.4g}"
                 if bm is not None else "|baseline mean|")
        of = f"|baseline mean| ({abs(bm):.4g})" if bm is not None else "|baseline mean|"
        if verdict["met"]:
            # relative, not absolute: the half-width divided by the baseline's mean (as --precision is)
            adaptive.stop_reason = (f"precision met after {target} replications: every set's 95% interval for its "
                                    f"paired difference from the baseline on {adaptive.metric} has a half-width of at "
                                    f"most {adaptive.precision:g} x {scale} (relative half-width "
                                    f"{_percent(verdict['worst'])} at most, target {_percent(adaptive.precision)})")
            return True
        if target >= adaptive.max_replications:
            adaptive.stop_reason = (f"maximum of {adaptive.max_replications} replications reached "
                                    f"before the precision was met (widest relative half-width "
                                    f"{_percent(verdict['worst'])} of {of}, target "
                                    f"{_percent(adaptive.precision)})")
            return True
        return False

    def _wide(self, metric: str, n: int) -> pd.DataFrame:
        """``metric`` of replications [0, n) of every set that ran it without error: replication x set."""
        import pandas as pd

        frames = []
        for s, c in sorted(self.done.items()):
            if s < n:
                frames.append(pq.read_table(self.folder.part_path(s, c), columns=["set", "replication", "error",
                                                                                 metric]).to_pandas())
        df = pd.concat(frames)
        df = df[df["replication"] < n]
        wide: pd.DataFrame = df[df["error"].isna()].pivot(index="replication", columns="set", values=metric)
        return wide.sort_index()

    def _select_step(self, kn: runs.SelectBest, target: int) -> int | None:
        """Replay KN over replications [0, target); record where it stands; None when it has stopped,
        else the next target."""
        from scenario_sim.experiment import selection

        wide = self._wide(kn.outcome, target).reindex(columns=self.sets)
        complete = wide.dropna()
        kn.dropped_replications = target - len(complete)
        cfg = selection.KNConfig(kn.delta, kn.pcs, kn.n0, kn.max_replications, kn.direction == "higher")
        if len(complete) < kn.n0:  # more replications fail the same way: stop with what there is
            kn.status = "capped"
            kn.stop_reason = (f"stopped after {target} replications: only {len(complete)} replications in which "
                              f"every set ran without error, fewer than the first stage ({kn.n0}); see failures")
            return None
        verdict = selection.kn_select(complete.to_numpy(dtype=float), cfg)
        record_verdict(kn, verdict, self.sets, target)
        if verdict.done or target >= kn.max_replications:
            return None
        have = len(complete)
        return min(kn.max_replications, target + selection.next_target(verdict, have, cfg, self.m.batch_size) - have)

    def _precision(self, adaptive: runs.Adaptive, n: int) -> dict[str, Any]:
        import pandas as pd

        wide = self._wide(adaptive.metric, n)
        base = wide[BASELINE] if BASELINE in wide else pd.Series(dtype=float)
        base_mean = float(base.mean()) if base.size else math.nan
        rel: dict[str, float] = {}
        unjudged: list[str] = [] if base.size else [BASELINE]
        for name in self.sets[1:]:
            d = (wide[name] - base).dropna().to_numpy() if name in wide and base.size else np.empty(0)
            if d.size == 0:  # every replication of the set (or of the baseline) failed
                unjudged.append(name)
                continue
            if d.size == 1:  # no spread yet: not met, add a batch
                rel[name] = math.inf
                continue
            lo, hi = t_interval(float(d.mean()), float(d.std(ddof=1)), int(d.size))
            half = (hi - lo) / 2
            rel[name] = half / abs(base_mean) if base_mean != 0 else (0.0 if half == 0 else math.inf)
        worst = max(rel.values()) if rel else 0.0
        return {"replications": n, "baseline_mean": None if math.isnan(base_mean) else base_mean,
                "relative_half_width": rel, "worst": worst, "unjudged": unjudged,
                "met": bool(not unjudged and worst <= adaptive.precision)}

    def _finish(self) -> ExperimentResult:
        m = self.m
        n = m.replications_target
        done = self.done
        if _missing(done, _batches(n, m.batch_size)):
            raise ResultsError(f"{self.folder.path}: parts do not cover replications 0..{n - 1}")
        self.folder.consolidate_parts(done, n, m.timeseries, self.schema, self.kept)
        self.kept, self._kept_rows = {}, 0
        rows = store.summarise(self.folder, self.sets, self.names)
        store.write_summary(self.folder, rows)
        failures = self._failures()
        m.failures = failures
        m.replications_done = n
        m.status = "complete" if failures.count == 0 else "complete_with_failures"
        m.timings["finished"] = dt.datetime.now().isoformat(timespec="seconds")
        m.parts = {}  # consolidated: the parts are removed next
        self._write_timings()
        self.folder.remove_parts()
        return ExperimentResult(self.folder.path, m, self.outcomes)

    def _failures(self) -> runs.Failures:
        out = runs.Failures()
        for batch in self.folder.iter_batches(["set", "replication", "error"]):
            errs = batch.column("error").to_pylist()
            for i, e in enumerate(errs):
                if e is not None:
                    name = batch.column("set")[i].as_py()
                    out.count += 1
                    out.by_set[name] = out.by_set.get(name, 0) + 1
                    if len(out.first) < 20:
                        out.first.append(runs.FailureRecord(name, batch.column("replication")[i].as_py(), e))
        return out


def record_verdict(kn: runs.SelectBest, verdict: Any, sets: list[str], target: int) -> None:
    """Copy a :class:`~scenario_sim.experiment.selection.KNVerdict` into the manifest's record."""
    kn.survivors = [sets[i] for i in verdict.survivors]
    kn.eliminated = [{"set": sets[i], "replication": r, "by": sets[b]} for i, r, b in verdict.eliminated]
    kn.replications_used = {sets[i]: int(u) for i, u in enumerate(verdict.replications_used)}
    kn.decided_at = verdict.stage
    kn.bound = verdict.bound
    kn.means = {sets[i]: float(v) for i, v in enumerate(verdict.means)}
    kn.history = [h for h in kn.history if h["replications"] < target]
    kn.history.append({"replications": target, "survivors": list(kn.survivors)})
    dropped = f" ({kn.dropped_replications} replications with a failed set left out)" if kn.dropped_replications else ""
    if verdict.done and len(kn.survivors) == 1:
        kn.status, kn.selected = "selected", kn.survivors[0]
        kn.stop_reason = (f"selected {kn.selected} after {verdict.stage} replications{dropped}: with probability "
                          f">= {kn.pcs:g} it is the best on {kn.outcome}, or within {kn.delta:g} {kn.unit} of the best")
    elif verdict.done:
        kn.status, kn.selected = "group", None
        kn.stop_reason = (f"group of {len(kn.survivors)} after {verdict.stage} replications{dropped}: "
                          f"{', '.join(kn.survivors)} have exactly equal means on {kn.outcome} (identical on common "
                          f"random numbers); with probability >= {kn.pcs:g} each is the best or within "
                          f"{kn.delta:g} {kn.unit} of it")
    else:
        kn.status, kn.selected = ("capped", None) if target >= kn.max_replications else ("running", None)
        spread = max(kn.means[s] for s in kn.survivors) - min(kn.means[s] for s in kn.survivors)
        kn.stop_reason = (f"cap of {kn.max_replications} replications reached{dropped} with {len(kn.survivors)} sets "
                          f"still in contention ({', '.join(kn.survivors)}; their means span {spread:.4g} {kn.unit}, "
                          f"{'within' if spread <= kn.delta else 'more than'} delta = {kn.delta:g}); the PCS "
                          f"guarantee does not cover a choice among them; the procedure decides by {kn.bound} "
                          "replications at the latest (where its continuation region closes: a worst case, it "
                          "stops sooner once one set's lead clears the region)")


# --------------------------------------------------------------------------- public API


def _executor(executor: Executor | None, jobs: int | None) -> Executor:
    if executor is None:
        return default_executor(jobs)
    if isinstance(executor, str):
        raise UserError(f"executor: expected an executor object such as LocalPool(2), DaskCluster(2) or "
                        f"InProcess() from scenario_sim.experiment (got the string {executor!r}; "
                        f"make_executor() turns command-line words into one)")
    if jobs is not None:
        raise UserError("jobs: give the number of workers to the executor, not to run_experiment, "
                        "when passing an executor")
    if not isinstance(executor, Executor):
        raise UserError(f"executor: {type(executor).__name__} lacks the Executor protocol "
                        "(name, jobs, start, run, shutdown)")
    return executor


def _new_manifest(plan: ExperimentPlan, scen_text: str, chunk_size: int, now: dt.datetime) -> Manifest:
    src = Path(plan.loaded.path)
    base = plan.loaded.baseline
    ref = runs.ScenarioRef(base.name, str(src), _sha256(src) if src.exists() else None,
                           hashlib.sha256(scen_text.encode()).hexdigest(), base.description,
                           base.start_date.isoformat(), base.horizon_days)
    return Manifest(
        scenario=ref, seed=plan.seed, seed_source=plan.seed_source, replications_asked=plan.replications,
        replications_target=plan.replications, batch_size=plan.replications, chunk_size=chunk_size,
        sets=plan.sets, timeseries=plan.timeseries, primary=base.outputs.primary, key=list(base.outputs.key),
        rank_by=plan.rank_by, adaptive=plan.adaptive, select_best=plan.select_best, versions=_versions(),
        git=_git_commit(),
        host={"platform": platform.platform(), "cpus": os.cpu_count()},
        timings={"started": now.isoformat(timespec="seconds"), "segments": []})


def _shutdown_on_error(executor: Executor) -> None:
    with contextlib.suppress(Exception):  # the original error is the one to report
        executor.shutdown(cancel=True)


@dataclass
class _Records:
    """What a new run folder holds besides the manifest, prepared before the executor starts
    (dumping every set's effective scenario takes a while; the folder is then written at once)."""

    scenario_yaml: str
    outcomes: list[runs.OutcomeInfo]
    sets: list[runs.SetInfo]
    set_yaml: dict[str, str]

    @classmethod
    def of(cls, plan: ExperimentPlan) -> _Records:
        base = plan.loaded.baseline
        infos, texts = store.set_records(plan.loaded, plan.sets)
        return cls(store.scenario_yaml(dump_scenario(base)),
                   store.outcome_records(plan.outcomes, base.outputs.primary, list(base.outputs.key)), infos, texts)


def _create_folder(plan: ExperimentPlan, chunk_size: int,
                   records: _Records) -> tuple[runs.RunFolder, FolderLock, Manifest]:
    """A new, locked run folder with everything readers need, written before any replication
    runs (the scenario, the outcome catalogue, the sets, last the manifest); nothing is left
    if that fails."""
    now = dt.datetime.now()
    base = plan.loaded.baseline
    folder = runs.RunFolder.create(plan.out, base.name, now.strftime("%Y%m%d-%H%M%S"), uuid.uuid4().hex[:6])
    lock = FolderLock(folder.path).acquire()
    try:
        runs.atomic_write_text(folder.path / runs.SCENARIO, records.scenario_yaml)
        folder.write_outcomes(records.outcomes)
        folder.write_sets(records.sets, records.set_yaml)
        for name, text in plan.records.items():  # e.g. frontier.json: what a resume needs to finish the job
            runs.atomic_write_text(folder.path / name, text)
        manifest = _new_manifest(plan, records.scenario_yaml, chunk_size, now)
        folder.write_manifest(manifest)
    except BaseException as exc:
        lock.release()
        shutil.rmtree(folder.path, ignore_errors=True)  # no chunk has run: nothing worth keeping
        if isinstance(exc, OSError):
            raise ResultsError(f"{folder.path}: cannot write the run folder ({exc.strerror or exc})") from None
        raise
    return folder, lock, manifest


def run_plan(plan: ExperimentPlan, executor: Executor | None = None, *, jobs: int | None = None,
             progress: ProgressFn | None = None) -> ExperimentResult:
    """Run a checked :class:`ExperimentPlan` (see :func:`run_experiment`)."""
    ex = _executor(executor, jobs)
    cs = plan.chunk_size if plan.chunk_size is not None else auto_chunk_size(plan.replications, ex.jobs)
    records = _Records.of(plan)
    ex.start(_payload(plan.loaded, plan.sets, plan.seed, plan.outcome_names, plan.timeseries))
    try:
        folder, lock, manifest = _create_folder(plan, cs, records)
    except BaseException:
        _shutdown_on_error(ex)
        raise
    run: _Run | None = None
    try:
        with lock:
            run = _Run(folder, manifest, plan.outcomes, ex, progress)
            return run.execute()
    except KeyboardInterrupt:
        if run is not None and run.started:
            raise
        # Ctrl-C between the folder's creation and the session's own handler: nothing has run,
        # so the folder goes and the command's "nothing was written" stays true
        _shutdown_on_error(ex)
        shutil.rmtree(folder.path, ignore_errors=True)
        raise


def run_experiment(scenario: str | Path | LoadedScenario, *, replications: int | None = None,
                   seed: int | None = None, sets: list[str] | None = None, executor: Executor | None = None,
                   jobs: int | None = None, out: str | Path = "results", chunk_size: int | None = None,
                   timeseries: bool | None = None, precision: float | None = None, metric: str | None = None,
                   max_replications: int | None = None, progress: ProgressFn | None = None,
                   rank_by: str | None = None, select_best: bool = False, delta: float | None = None,
                   pcs: float | None = None) -> ExperimentResult:
    """Run every recommendation set (or ``sets``; the baseline always) on common random numbers.

    ``executor`` is any object with the :class:`~scenario_sim.experiment.executors.Executor`
    protocol: ``LocalPool(jobs)``, ``DaskCluster(jobs, scheduler)``, ``InProcess()`` or your
    own.  Without one, ``jobs`` worker processes run it (default: every core; ``jobs=1``
    runs in this process).  ``replications`` and ``seed`` default to the scenario's; the
    effective values are recorded in the manifest, and so is ``rank_by`` (the outcome readers
    rank by; default the scenario's ``outputs.primary``), checked before anything runs.
    ``select_best`` with ``delta`` (in the ranking outcome's unit) and ``pcs`` (default 0.95)
    runs the KN selection procedure (:mod:`scenario_sim.experiment.selection`): ``replications``
    is its first stage and ``max_replications`` its cap (default 20 times the first stage).
    Returns the finished run; raises
    :class:`UserError` for bad input, :class:`RunInterrupted` / :class:`RunFailed` for runs
    that can be resumed.
    """
    plan = plan_experiment(scenario, replications=replications, seed=seed, sets=sets, out=out,
                           chunk_size=chunk_size, timeseries=timeseries, precision=precision, metric=metric,
                           max_replications=max_replications, rank_by=rank_by, select_best=select_best,
                           delta=delta, pcs=pcs)
    return run_plan(plan, executor, jobs=jobs, progress=progress)


def resume_experiment(run_dir: str | Path, executor: Executor | None = None, *, jobs: int | None = None,
                      progress: ProgressFn | None = None) -> ExperimentResult:
    """Finish an interrupted run in place, with exactly the results of an uninterrupted one."""
    refuse_in_worker_bootstrap("resume_experiment")
    folder = runs.RunFolder.open(run_dir)
    with FolderLock(folder.path):
        m = folder.manifest()  # read again under the lock: another session may just have finished it
        if m.complete:
            raise AlreadyComplete(folder.path, m.status)
        scen = folder.path / runs.SCENARIO
        if not scen.exists():
            raise ResultsError(f"{scen}: missing; the run folder is incomplete and cannot be resumed")
        digest = hashlib.sha256(scen.read_bytes()).hexdigest()
        if digest != m.scenario.effective_sha256:
            raise ResultsError(f"{scen}: changed since the run started (hash mismatch); refusing to mix results")
        loaded = load_scenario(scen)
        outcomes = outcome_union(loaded, m.sets)
        ex = _executor(executor, jobs)
        ex.start(_payload(loaded, m.sets, m.seed, [o.name for o in outcomes], m.timeseries))
        m.resumed.append(dt.datetime.now().isoformat(timespec="seconds"))
        return _Run(folder, m, outcomes, ex, progress).execute()
