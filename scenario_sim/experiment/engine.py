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

*Adaptive precision.*  With ``precision`` and ``metric``, replications are added in batches
(the initial number each time) until the 95% interval of every set's mean paired
difference from the baseline on ``metric`` has a half-width within ``precision`` times the
baseline mean, or ``max_replications`` is reached; the manifest records why it stopped.
Decisions are taken at batch boundaries on replications in order, so they too are
independent of how the work was spread.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import platform
import subprocess
import time
import uuid
from collections.abc import Callable
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from scenario_sim import __version__
from scenario_sim.errors import ResultsError, UserError
from scenario_sim.experiment import store
from scenario_sim.experiment.executors import Executor, make_executor
from scenario_sim.experiment.guard import HINT, refuse_in_worker_bootstrap
from scenario_sim.experiment.stats import t_interval
from scenario_sim.experiment.worker import ChunkResult, Payload
from scenario_sim.lang import BASELINE, LoadedScenario, dump_scenario, load_scenario
from scenario_sim.lang.patch import did_you_mean
from scenario_sim.model.compiled import compile_scenario
from scenario_sim.outcomes import Outcome

ProgressFn = Callable[[int, int], None]
"""Called with (replications done over all sets, total) as chunks finish."""


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
    manifest: dict[str, Any]
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return int(self.manifest.get("failures", {}).get("count", 0))

    def replications(self) -> pd.DataFrame:
        """One row per (set, replication), every outcome a column."""
        return pd.read_parquet(self.run_dir / store.REPLICATIONS)

    def summary(self) -> pd.DataFrame:
        return pd.read_csv(self.run_dir / store.SUMMARY)

    def timeseries(self) -> pd.DataFrame:
        p = self.run_dir / store.TIMESERIES
        if not p.exists():
            raise ResultsError(f"{p}: no time series in this run (run with --timeseries)")
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
    return pa.schema([("set", pa.string()), ("replication", pa.int64()), ("error", pa.string()),
                      *[(o, pa.float64()) for o in outcomes]])


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


# --------------------------------------------------------------------------- the run


class _Run:
    def __init__(self, folder: store.RunFolder, manifest: dict[str, Any], loaded: LoadedScenario,
                 executor: Executor, progress: ProgressFn | None, fault_injection: dict[str, list[int]] | None,
                 crash_on: list[int] | None = None):
        self.folder = folder
        self.m = manifest
        self.loaded = loaded
        self.executor = executor
        self.progress = progress
        self.sets: list[str] = manifest["sets"]
        self.outcomes = outcome_union(loaded, self.sets)
        self.names = [o.name for o in self.outcomes]
        self.schema = _schema(self.names)
        self.payload = Payload({s: loaded.effective(s) for s in self.sets}, manifest["seed"], self.names,
                               manifest["timeseries"], fault_injection or {}, crash_on or [])

    def execute(self) -> ExperimentResult:
        m = self.m
        t0 = time.perf_counter()
        m.setdefault("timings", {}).setdefault("started", dt.datetime.now().isoformat(timespec="seconds"))
        m["status"] = "running"
        m["executor"] = {"kind": self.executor.name, "jobs": self.executor.jobs}
        self.folder.write_manifest(m)
        self.executor.start(self.payload)
        try:
            self._loop()
        except KeyboardInterrupt:
            self.executor.shutdown(cancel=True)
            self._stop("interrupted", t0)
            raise RunInterrupted(f"interrupted; finished chunks are saved. Resume with: "
                                 f"scenario-sim run --resume {self.folder.path}") from None
        except UserError:
            self.executor.shutdown(cancel=True)
            self._stop("failed", t0)
            raise
        except Exception as exc:
            self.executor.shutdown(cancel=True)
            m["error"] = f"{type(exc).__name__}: {exc}"
            self._stop("failed", t0)
            hint = f"; if a worker said it was starting, {HINT}" if isinstance(exc, BrokenExecutor) else ""
            raise RunFailed(f"run failed ({type(exc).__name__}: {exc}){hint}; finished chunks are saved. "
                            f"Resume with: scenario-sim run --resume {self.folder.path}") from None
        self.executor.shutdown()
        return self._finish(t0)

    def _stop(self, status: str, t0: float) -> None:
        self.m["status"] = status
        self.m["timings"]["last_session_seconds"] = round(time.perf_counter() - t0, 3)
        self.folder.write_manifest(self.m)

    def _loop(self) -> None:
        m = self.m
        adaptive = m.get("adaptive")
        target = m["replications_target"]
        while True:
            batches = _batches(target, m["batch_size"])
            done = self.folder.done_chunks()
            todo = _chunks(_missing(done, batches), m["chunk_size"])
            total = target * len(self.sets)
            finished = (target - sum(b - a for a, b in _missing(done, batches))) * len(self.sets)
            if self.progress:
                self.progress(finished, total)
            for res in self.executor.run(todo):
                self.folder.write_part(res.start, res.count, _to_table(res, self.schema), _ts_table(res))
                finished += res.count * len(self.sets)
                m["replications_done"] = finished // len(self.sets)
                if self.progress:
                    self.progress(finished, total)
            m["replications_done"] = target
            self.folder.write_manifest(m)
            if not adaptive:
                return
            verdict = self._precision(target)
            adaptive["history"] = [h for h in adaptive.get("history", []) if h["replications"] < target]
            adaptive["history"].append(verdict)
            if verdict["met"]:
                adaptive["stop_reason"] = (f"precision met: every set's 95% half-width on {adaptive['metric']} "
                                           f"within {adaptive['precision']:g} of the baseline mean after "
                                           f"{target} replications")
                return
            if target >= adaptive["max_replications"]:
                adaptive["stop_reason"] = (f"maximum of {adaptive['max_replications']} replications reached "
                                           f"before the precision was met (worst relative half-width "
                                           f"{verdict['worst']:.4g})")
                return
            target = min(target + m["batch_size"], adaptive["max_replications"])
            m["replications_target"] = target
            self.folder.write_manifest(m)

    def _precision(self, n: int) -> dict[str, Any]:
        metric = self.m["adaptive"]["metric"]
        frames = []
        for s, c in sorted(self.folder.done_chunks().items()):
            if s < n:
                frames.append(pq.read_table(self.folder.part_path(s, c), columns=["set", "replication", "error",
                                                                                 metric]).to_pandas())
        df = pd.concat(frames)
        df = df[df["replication"] < n]
        wide = df[df["error"].isna()].pivot(index="replication", columns="set", values=metric).sort_index()
        base = wide[BASELINE]
        base_mean = float(base.mean())
        rel: dict[str, float] = {}
        for name in self.sets[1:]:
            d = (wide[name] - base).dropna().to_numpy()
            lo, hi = t_interval(float(d.mean()), float(d.std(ddof=1)) if d.size > 1 else math.nan, int(d.size))
            half = (hi - lo) / 2
            rel[name] = half / abs(base_mean) if base_mean != 0 else (0.0 if half == 0 else math.inf)
        worst = max(rel.values()) if rel else 0.0
        return {"replications": n, "baseline_mean": base_mean, "relative_half_width": rel, "worst": worst,
                "met": bool(worst <= self.m["adaptive"]["precision"])}

    def _finish(self, t0: float) -> ExperimentResult:
        m = self.m
        n = m["replications_target"]
        done = self.folder.done_chunks()
        if _missing(done, _batches(n, m["batch_size"])):
            raise ResultsError(f"{self.folder.path}: parts do not cover replications 0..{n - 1}")
        self.folder.consolidate_parts(done, n, m["timeseries"], self.schema)
        rows = store.summarise(self.folder, self.sets, self.names)
        store.write_summary(self.folder, rows)
        failures = self._failures()
        m["failures"] = failures
        m["replications_done"] = n
        m["status"] = "complete" if failures["count"] == 0 else "complete_with_failures"
        seconds = time.perf_counter() - t0
        tm = m["timings"]
        tm["finished"] = dt.datetime.now().isoformat(timespec="seconds")
        tm["wall_seconds"] = round(tm.get("wall_seconds", 0.0) + seconds, 3)
        tm["last_session_seconds"] = round(seconds, 3)
        wall = tm["wall_seconds"]
        tm["replications_per_second"] = round(n * len(self.sets) / wall, 1) if wall else None
        self.folder.write_manifest(m)
        self.folder.remove_parts()
        return ExperimentResult(self.folder.path, m, self.outcomes)

    def _failures(self) -> dict[str, Any]:
        count = 0
        first: list[dict[str, Any]] = []
        for batch in self.folder.iter_batches(["set", "replication", "error"]):
            errs = batch.column("error").to_pylist()
            for i, e in enumerate(errs):
                if e is not None:
                    count += 1
                    if len(first) < 20:
                        first.append({"set": batch.column("set")[i].as_py(),
                                      "replication": batch.column("replication")[i].as_py(), "error": e})
        return {"count": count, "first": first}


# --------------------------------------------------------------------------- public API


def run_experiment(scenario: str | Path | LoadedScenario, *, replications: int | None = None,
                   seed: int | None = None, sets: list[str] | None = None, jobs: int | None = None,
                   executor: str = "process", scheduler: str | None = None, out: str | Path = "results",
                   chunk_size: int | None = None, timeseries: bool | None = None,
                   precision: float | None = None, metric: str | None = None,
                   max_replications: int | None = None, progress: ProgressFn | None = None,
                   fault_injection: dict[str, list[int]] | None = None,
                   crash_on: list[int] | None = None) -> ExperimentResult:
    """Run every recommendation set (or ``sets``; the baseline always) on common random numbers.

    ``replications`` and ``seed`` default to the scenario's; the effective values are
    recorded in the manifest.  Returns the finished run; raises :class:`UserError` for bad
    input, :class:`RunInterrupted` / :class:`RunFailed` for runs that can be resumed.
    """
    refuse_in_worker_bootstrap("run_experiment")
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    base = loaded.baseline
    known = loaded.set_names
    chosen = [BASELINE]
    for s in sets or known[1:]:
        if s not in known:
            raise UserError(f"--sets: unknown recommendation set {s!r}{did_you_mean(s, known)} "
                            f"(known: {', '.join(known)})")
        if s not in chosen:
            chosen.append(s)
    n = replications if replications is not None else base.replications
    if n < 1:
        raise UserError(f"--replications: must be at least 1 (got {n})")
    sd = seed if seed is not None else base.seed
    if sd < 0:
        raise UserError(f"--seed: must be >= 0 (got {sd})")
    ex = make_executor(executor, jobs, scheduler)
    cs = chunk_size if chunk_size is not None else auto_chunk_size(n, ex.jobs)
    if cs < 1:
        raise UserError(f"--chunk-size: must be at least 1 (got {cs})")
    adaptive = None
    if precision is not None or metric is not None:
        if precision is None or metric is None:
            raise UserError("--precision and --metric go together")
        if not (0 < precision < 1):
            raise UserError(f"--precision: expected a fraction between 0 and 1 (got {precision})")
        names = [o.name for o in outcome_union(loaded, chosen)]
        if metric not in names:
            raise UserError(f"--metric: unknown outcome {metric!r}{did_you_mean(metric, names)}")
        if len(chosen) < 2:
            raise UserError("--precision needs at least one recommendation set besides the baseline")
        mx = max_replications if max_replications is not None else 20 * n
        if mx < n:
            raise UserError(f"--max-replications: must be >= --replications ({n})")
        adaptive = {"precision": precision, "metric": metric, "max_replications": mx, "history": [],
                    "stop_reason": None}
    elif max_replications is not None:
        raise UserError("--max-replications: only used with --precision and --metric")
    ts = base.outputs.timeseries if timeseries is None else timeseries

    now = dt.datetime.now()
    folder = store.RunFolder.create(Path(out), base.name, now.strftime("%Y%m%d-%H%M%S"), uuid.uuid4().hex[:6])
    scen_text = yaml.safe_dump(dump_scenario(base), sort_keys=False, allow_unicode=True)
    store.atomic_write_text(folder.path / store.SCENARIO, scen_text)
    src = Path(loaded.path)
    manifest: dict[str, Any] = {
        "format": "scenario-sim-run/1",
        "scenario": {"name": base.name, "file": str(src), "sha256": _sha256(src) if src.exists() else None,
                     "effective_sha256": hashlib.sha256(scen_text.encode()).hexdigest()},
        "seed": sd,
        "seed_source": "command line" if seed is not None else "scenario file",
        "replications_asked": n,
        "replications_target": n,
        "replications_done": 0,
        "batch_size": n,
        "chunk_size": cs,
        "sets": chosen,
        "timeseries": ts,
        "adaptive": adaptive,
        "versions": _versions(),
        "git": _git_commit(),
        "host": {"platform": platform.platform(), "cpus": __import__("os").cpu_count()},
        "timings": {"started": now.isoformat(timespec="seconds")},
        "status": "created",
        "failures": {"count": 0, "first": []},
    }
    folder.write_manifest(manifest)
    return _Run(folder, manifest, loaded, ex, progress, fault_injection, crash_on).execute()


def resume_experiment(run_dir: str | Path, *, jobs: int | None = None, executor: str = "process",
                      scheduler: str | None = None, progress: ProgressFn | None = None) -> ExperimentResult:
    """Finish an interrupted run in place, with exactly the results of an uninterrupted one."""
    refuse_in_worker_bootstrap("resume_experiment")
    folder = store.RunFolder.open(run_dir)
    m = folder.manifest()
    if m.get("status") in ("complete", "complete_with_failures"):
        raise UserError(f"{folder.path}: run is already complete (status {m['status']})")
    scen = folder.path / store.SCENARIO
    if not scen.exists():
        raise ResultsError(f"{scen}: missing; the run folder is incomplete and cannot be resumed")
    digest = hashlib.sha256(scen.read_bytes()).hexdigest()
    if digest != m["scenario"].get("effective_sha256"):
        raise ResultsError(f"{scen}: changed since the run started (hash mismatch); refusing to mix results")
    loaded = load_scenario(scen)
    ex = make_executor(executor, jobs, scheduler)
    m.setdefault("resumed", []).append(dt.datetime.now().isoformat(timespec="seconds"))
    return _Run(folder, m, loaded, ex, progress, None).execute()
