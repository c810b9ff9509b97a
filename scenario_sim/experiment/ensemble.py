"""Exploring deep uncertainty: every set in every case and world, on common random numbers.

``scenario-sim explore`` samples *cases* (one value per uncertain input of the scenario's
``uncertainties:``), crosses them with the scenario's ``worlds:``, and runs every
recommendation set ``-n`` times in every (case, world) point.  Design notes.

*Designs, not hand-written samplers.*  A design is a matrix of unit coordinates, one column
per input, from ``scipy.stats.qmc`` (``lhs``: Latin hypercube) or SALib (``sobol``: Saltelli's
scheme for Sobol indices, ``N·(D+2)`` rows; ``morris``: ``N`` trajectories of ``D+1`` rows on
a ``num_levels`` grid); ``grid`` is the full factorial of ``k`` mid-points per input.  Each
column is mapped to values by its own input's inverse CDF
(:func:`scenario_sim.lang.uncertainty.ppf`), so changing one input's range changes no other
input's column; the design itself depends only on the sampler, the number of inputs, the
number of cases and the seed.  Rows stay in the sampler's order (case ``i`` is row ``i``),
which is what SALib's analyses need; the manifest records the sampler, ``N``, the second-order
flag and the number of levels.

*Common random numbers within a case.*  Replication ``r`` of case ``c`` draws from the streams
of :mod:`scenario_sim.model.rng` under the master seed ``case_seed(seed, c)``, a seed derived
from the run's seed and the case number *by name* (``SeedSequence([seed, stable_hash(
"explore.case"), c])``).  Every set and every world of a case share those streams, so the
differences between sets (and between worlds) within a case are paired; different cases get
independent streams.

*Work units.*  A unit is replications ``r0 .. r0+k-1`` of every set in one (case, world); it is
addressed by one integer ``start = (case·W + world)·n + r0`` so the executors of
:mod:`scenario_sim.experiment.executors` (in process, a process pool, Dask) run it unchanged
through :class:`EnsemblePayload`.  A worker builds a point's scenarios (baseline document,
world patch, the case's values, each set's patch, validation, compilation) once and reuses
them for the point's next unit; the sets are validated once per world and worker, and each
case re-validates only the leaves its values change (:mod:`scenario_sim.lang.cases`: the same
scenarios, or the same located errors, as validating every set's document).

*The folder.*  The same kind of run folder as ``scenario-sim run`` (``manifest.json`` with
``kind: explore``, ``scenario.yaml``), plus ``cases.parquet`` (``case`` and one column per
input: the sampled value, or the factor for a ``scale`` input), written before anything runs.
Finished units are part files at once; at the end they are merged in (case, world,
replication) order into ``replications.parquet`` with fixed row groups, so the bytes depend
neither on ``--jobs``, the chunk size, the executor nor on an interruption and ``--resume``.
Columns: ``set, case, world, replication, error``, every outcome, then ``draw.<name>`` for the
per-replication draws of uncertain quantities (the surge and pause probabilities).  The
table contract the analyses read is :mod:`scenario_sim.analysis.ensemble`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import platform
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from scenario_sim.errors import AlreadyComplete, ResultsError, ScenarioError, UserError
from scenario_sim.experiment import store
from scenario_sim.experiment import worker as _worker
from scenario_sim.experiment.engine import RunFailed, RunInterrupted, _git_commit, _versions, outcome_union
from scenario_sim.experiment.executors import Executor, default_executor
from scenario_sim.experiment.guard import refuse_in_worker_bootstrap
from scenario_sim.experiment.lock import FolderLock
from scenario_sim.experiment.worker import ChunkResult, Payload, _error_text
from scenario_sim.lang import BASELINE, LoadedScenario, dump_scenario, load_scenario
from scenario_sim.lang.cases import CaseBuilder
from scenario_sim.lang.patch import did_you_mean
from scenario_sim.lang.schema import DiscreteRange, TriangularRange, Uncertainty
from scenario_sim.lang.uncertainty import (
    DEFAULT_WORLD,
    applies,
    ppf,
    world_document,
    world_names,
    world_weights,
)
from scenario_sim.lang.yamlsource import SourceMap
from scenario_sim.model.compiled import CompiledScenario, compile_scenario
from scenario_sim.model.rng import stable_hash
from scenario_sim.model.simulation import DRAW_NAMES, simulate
from scenario_sim.outcomes import Outcome

SAMPLERS = ("lhs", "sobol", "grid", "morris")
CASES = "cases.parquet"
DRAWS = DRAW_NAMES
"""Per-replication draws recorded as ``draw.<name>`` columns (the same as ``scenario-sim run``'s)."""
MORRIS_LEVELS = 4
MAX_UNITS = 10**8  # part files number their first row with 8 digits

ProgressFn = Callable[[int, int], None]


def case_seed(seed: int, case: int) -> int:
    """The master seed of case ``case``'s streams: derived from the run seed and the case by name."""
    ss = np.random.SeedSequence([seed, stable_hash("explore.case"), case])
    return int(ss.generate_state(1, np.uint64)[0])


# --------------------------------------------------------------------------- designs


@dataclass
class Design:
    """Unit coordinates of every case (rows in the sampler's order) and what analyses need to know."""

    sampler: str
    unit: np.ndarray[Any, np.dtype[np.float64]]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        return int(self.unit.shape[0])


def _design_seed(seed: int, sampler: str) -> int:
    ss = np.random.SeedSequence([seed, stable_hash(f"explore.design.{sampler}")])
    return int(ss.generate_state(1, np.uint32)[0])


def sample_design(sampler: str, cases: int, dims: int, seed: int) -> Design:
    """The design of ``sampler`` for ``dims`` inputs (``cases``: rows, or ``N`` for sobol/morris)."""
    if sampler not in SAMPLERS:
        raise UserError(f"--sampler: expected one of {', '.join(SAMPLERS)} (got {sampler!r})")
    if cases < 1:
        raise UserError(f"--cases: must be at least 1 (got {cases})")
    if dims == 0:
        return Design(sampler, np.zeros((1, 0)), {"note": "no uncertain inputs: one case"})
    s = _design_seed(seed, sampler)
    problem = {"num_vars": dims, "names": [f"x{j}" for j in range(dims)], "bounds": [[0.0, 1.0]] * dims}
    if sampler == "lhs":
        from scipy.stats import qmc

        return Design(sampler, qmc.LatinHypercube(d=dims, seed=np.random.default_rng(s)).random(cases))
    if sampler == "sobol":
        from SALib.sample import sobol

        if cases & (cases - 1):
            raise UserError(f"--cases: Saltelli's scheme needs a power of 2 as N (got {cases}; "
                            f"try {1 << max(0, cases.bit_length() - 1)} or {1 << cases.bit_length()})")
        unit = sobol.sample(problem, cases, calc_second_order=False, scramble=True, seed=s)
        return Design(sampler, np.asarray(unit, dtype=float), {"N": cases, "second_order": False})
    if sampler == "morris":
        from SALib.sample import morris

        unit = morris.sample(problem, cases, num_levels=MORRIS_LEVELS, seed=s)
        return Design(sampler, np.asarray(unit, dtype=float), {"trajectories": cases, "num_levels": MORRIS_LEVELS})
    k = math.floor(cases ** (1.0 / dims) + 1e-9)
    if k < 2:
        raise UserError(f"--cases: a grid over {dims} inputs needs at least 2^{dims} = {2 ** dims} cases "
                        "(use --sampler lhs, or fewer inputs with --inputs)")
    levels = (np.arange(k) + 0.5) / k
    mesh = np.meshgrid(*([levels] * dims), indexing="ij")
    return Design(sampler, np.stack([m.ravel() for m in mesh], axis=1), {"levels": k})


def case_values(inputs: list[Uncertainty], unit: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The inputs' values (factors for scale inputs) at the design's unit coordinates."""
    out = np.empty(unit.shape, dtype=float)
    for j, u in enumerate(inputs):
        out[:, j] = ppf(u.range, unit[:, j])
    return out


def _bounds(u: Uncertainty) -> tuple[float, float]:
    r = u.range
    if isinstance(r, DiscreteRange):
        return min(r.values), max(r.values)
    return r.low, r.high


def _input_entry(u: Uncertainty) -> dict[str, Any]:
    lo, hi = _bounds(u)
    entry: dict[str, Any] = {"name": u.name, "path": u.path, "dist": u.range.dist, "low": lo, "high": hi,
                             "scale": u.scale}
    if isinstance(u.range, TriangularRange):
        entry["mode"] = u.range.mode
    if isinstance(u.range, DiscreteRange):
        entry["values"] = list(u.range.values)
    return entry


# --------------------------------------------------------------------------- the worker side


def _label(world: str) -> str:
    return "" if world == DEFAULT_WORLD else world


@dataclass
class EnsemblePayload(Payload):
    """What a worker needs for any (case, world) unit, sent once: documents, inputs, every case's values."""

    file: str = ""
    set_names: list[str] = field(default_factory=list)
    worlds: list[str] = field(default_factory=list)
    world_docs: dict[str, SourceMap] = field(default_factory=dict)
    inputs: list[Uncertainty] = field(default_factory=list)
    values: list[list[float]] = field(default_factory=list)  # per case, per input (NaN: not applied)
    applicable: dict[str, list[bool]] = field(default_factory=dict)
    replications: int = 1

    def compile(self) -> dict[str, Any]:
        """Per-worker state: the point whose scenarios were built last, and each world's builder."""
        return {"point": None, "models": None, "error": None, "builders": {}}

    def builder(self, state: dict[str, Any], w: int) -> CaseBuilder:
        """World ``w``'s :class:`~scenario_sim.lang.cases.CaseBuilder` (made once per worker)."""
        builders: dict[int, CaseBuilder] = state.setdefault("builders", {})
        if w not in builders:
            world = self.worlds[w]
            builders[w] = CaseBuilder(self.world_docs[world], self.file, self.set_names, self.inputs,
                                      self.applicable[world])
        return builders[w]

    def unit(self, start: int) -> tuple[int, int, int]:
        """(case, world index, first replication) of the unit starting at ``start``."""
        cw, r0 = divmod(start, self.replications)
        case, w = divmod(cw, len(self.worlds))
        return case, w, r0

    def models(self, state: dict[str, Any], case: int, w: int) -> tuple[dict[str, CompiledScenario] | None, str | None]:
        """The compiled scenario of every set at point (case, world), or the error that prevents it."""
        if state["point"] != (case, w):
            state["point"], state["models"], state["error"] = (case, w), None, None
            world = self.worlds[w]
            mask = self.applicable[world]
            vals = [v if ok else math.nan for v, ok in zip(self.values[case], mask, strict=True)]
            try:
                # the same scenarios as patching and validating every set's document (see lang.cases)
                scen = self.builder(state, w).build(vals)
                state["models"] = {name: compile_scenario(s) for name, s in scen.items()}
            except ScenarioError as exc:
                state["error"] = "ScenarioError: " + "; ".join(exc.lines())
            except Exception as exc:  # recorded in every row of the point, not fatal
                state["error"] = _error_text(exc)
        return state["models"], state["error"]

    def run(self, state: dict[str, Any], start: int, count: int) -> ChunkResult:
        """Replications ``r0 .. r0+count-1`` of every set at the unit's (case, world)."""
        t0 = time.perf_counter()
        case, w, r0 = self.unit(start)
        models, error = self.models(state, case, w)
        n = count * len(self.set_names)
        names = self.outcomes
        values = np.full((n, len(names)), np.nan)
        draws = np.full((n, len(DRAWS)), np.nan)
        index = {o: j for j, o in enumerate(names)}
        errors: list[str | None] = []
        sets: list[str] = []
        reps = np.empty(n, dtype=np.int64)
        seed = case_seed(self.seed, case)
        i = 0
        for rep in range(r0, r0 + count):
            for name in self.set_names:
                sets.append(name)
                reps[i] = rep
                if models is None:
                    errors.append(error)
                    i += 1
                    continue
                try:
                    if _worker._replication_hook is not None:  # tests only (see the worker module)
                        _worker._replication_hook(name, rep)
                    r = simulate(models[name], seed, rep)
                except Exception as exc:  # recorded, not fatal
                    errors.append(_error_text(exc))
                    i += 1
                    continue
                for k, v in r.outcomes.items():
                    values[i, index[k]] = v
                for j, d in enumerate(DRAWS):
                    draws[i, j] = r.draws.get(d, math.nan)
                errors.append(None)
                i += 1
        cols: dict[str, Any] = {"set": sets, "case": np.full(n, case, dtype=np.int64),
                                "world": [_label(self.worlds[w])] * n, "replication": reps, "error": errors}
        for j, o in enumerate(names):
            cols[o] = values[:, j]
        for j, d in enumerate(DRAWS):
            cols[f"draw.{d}"] = draws[:, j]
        return ChunkResult(start, count, cols, None, time.perf_counter() - t0)


# --------------------------------------------------------------------------- planning


@dataclass
class ExplorePlan:
    """A checked explore run, before anything is written."""

    loaded: LoadedScenario
    sets: list[str]
    worlds: list[str]
    inputs: list[Uncertainty]
    design: Design
    values: np.ndarray[Any, Any]
    replications: int
    seed: int
    seed_source: str
    chunk_size: int
    outcomes: list[Outcome]
    out: Path

    @property
    def points(self) -> int:
        return self.design.cases * len(self.worlds)

    @property
    def set_replications(self) -> int:
        return self.points * self.replications * len(self.sets)


def _choose(kind: str, known: list[str], chosen: list[str] | None, first: str | None = None) -> list[str]:
    out = [first] if first else []
    for s in chosen if chosen is not None else [k for k in known if k != first]:
        if s not in known:
            raise UserError(f"--{kind}: unknown {kind[:-1]} {s!r}{did_you_mean(s, known)} (known: {', '.join(known)})")
        if s not in out:
            out.append(s)
    return out


def plan_explore(scenario: str | Path | LoadedScenario, *, cases: int = 100, sampler: str = "lhs",
                 replications: int = 10, worlds: list[str] | None = None, sets: list[str] | None = None,
                 inputs: list[str] | None = None, seed: int | None = None, chunk_size: int | None = None,
                 out: str | Path = "results") -> ExplorePlan:
    """Check every option of an explore run and sample its design (nothing is written)."""
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    base = loaded.baseline
    chosen_sets = _choose("sets", loaded.set_names, sets, BASELINE)
    chosen_worlds = _choose("worlds", world_names(base), worlds)
    if not chosen_worlds:
        raise UserError("--worlds: choose at least one world")
    known_inputs = [u.name for u in base.uncertainties]
    names = _choose("inputs", known_inputs, inputs)
    chosen_inputs = [u for u in base.uncertainties if u.name in names]
    if replications < 1:
        raise UserError(f"-n/--replications: must be at least 1 (got {replications})")
    sd = seed if seed is not None else base.seed
    if sd < 0:
        raise UserError(f"--seed: must be >= 0 (got {sd})")
    design = sample_design(sampler, cases, len(chosen_inputs), sd)
    cs = chunk_size if chunk_size is not None else replications
    if cs < 1:
        raise UserError(f"--chunk-size: must be at least 1 (got {cs})")
    if design.cases * len(chosen_worlds) * replications >= MAX_UNITS:
        raise UserError(f"cases x worlds x replications must stay below {MAX_UNITS:,}")
    from scenario_sim.experiment.engine import check_writable

    check_writable(Path(out))
    return ExplorePlan(loaded, chosen_sets, chosen_worlds, chosen_inputs, design,
                       case_values(chosen_inputs, design.unit), replications, sd,
                       "command line" if seed is not None else "scenario file", cs,
                       outcome_union(loaded, chosen_sets), Path(out))


def _payload(loaded: LoadedScenario, sets: list[str], worlds: list[str], inputs: list[Uncertainty],
             values: np.ndarray[Any, Any], replications: int, seed: int, outcomes: list[str]) -> EnsemblePayload:
    doc = loaded.document
    where = applies(doc, loaded.baseline, loaded.path)
    names = [u.name for u in loaded.baseline.uncertainties]
    pos = [names.index(u.name) for u in inputs]
    return EnsemblePayload(
        sets={}, seed=seed, outcomes=outcomes, file=loaded.path, set_names=sets, worlds=worlds,
        world_docs={w: world_document(doc, w, loaded.path) for w in worlds}, inputs=inputs,
        values=values.tolist(), applicable={w: [where[w][p] for p in pos] for w in worlds},
        replications=replications)


def _schema(outcomes: list[str]) -> pa.Schema:
    return pa.schema([("set", pa.string()), ("case", pa.int64()), ("world", pa.string()),
                      ("replication", pa.int64()), ("error", pa.string()),
                      *[(o, pa.float64()) for o in outcomes], *[(f"draw.{d}", pa.float64()) for d in DRAWS]])


def _cases_table(inputs: list[Uncertainty], values: np.ndarray[Any, Any]) -> pa.Table:
    cols: dict[str, Any] = {"case": np.arange(values.shape[0], dtype=np.int64)}
    for j, u in enumerate(inputs):
        cols[u.name] = values[:, j].astype(float)
    return pa.Table.from_pydict(cols)


def _manifest(plan: ExplorePlan, scen_text: str, now: dt.datetime) -> dict[str, Any]:
    base = plan.loaded.baseline
    src = Path(plan.loaded.path)
    weights = world_weights(base)
    o = base.outputs
    return {
        "format": "scenario-sim-run/1",
        "kind": "explore",
        "scenario": {"name": base.name, "file": str(src),
                     "sha256": hashlib.sha256(src.read_bytes()).hexdigest() if src.exists() else None,
                     "effective_sha256": hashlib.sha256(scen_text.encode()).hexdigest()},
        "seed": plan.seed,
        "seed_source": plan.seed_source,
        "seed_derivation": "case c's streams use master seed SeedSequence([seed, stable_hash('explore.case'), c])",
        "replications_asked": plan.replications,
        "replications_target": plan.replications,
        "chunk_size": plan.chunk_size,
        "sets": plan.sets,
        "timeseries": False,
        "outcomes": [{"name": x.name, "unit": x.unit, "direction": x.direction, "description": x.description}
                     for x in plan.outcomes],
        "outputs": {"primary": o.primary, "key": list(o.key), "thresholds": dict(o.thresholds)},
        "explore": {
            "sampler": plan.design.sampler,
            "cases": plan.design.cases,
            "inputs": [_input_entry(u) for u in plan.inputs],
            "worlds": [{"name": _label(w), "weight": weights.get(w, 1.0)} for w in plan.worlds],
            "sobol": {"N": plan.design.info["N"], "second_order": plan.design.info["second_order"]}
            if plan.design.sampler == "sobol" and "N" in plan.design.info else None,
            "morris": {"num_levels": plan.design.info["num_levels"],
                       "trajectories": plan.design.info["trajectories"]}
            if plan.design.sampler == "morris" and "num_levels" in plan.design.info else None,
            "grid": {"levels": plan.design.info["levels"]} if "levels" in plan.design.info else None,
            "draw_columns": [f"draw.{d}" for d in DRAWS],
        },
        "units": {"count": plan.points * math.ceil(plan.replications / plan.chunk_size), "done": 0},
        "versions": _versions(),
        "git": _git_commit(),
        "host": {"platform": platform.platform(), "cpus": __import__("os").cpu_count()},
        "timings": {"started": now.isoformat(timespec="seconds")},
        "status": "created",
        "failures": {"count": 0, "first": []},
    }


# --------------------------------------------------------------------------- running


@dataclass
class ExploreResult:
    """A finished explore run: its folder and how to read it."""

    run_dir: Path
    manifest: dict[str, Any]

    @property
    def failures(self) -> int:
        return int(self.manifest.get("failures", {}).get("count", 0))

    def cases(self) -> pd.DataFrame:
        return pd.read_parquet(self.run_dir / CASES)

    def replications(self) -> pd.DataFrame:
        return pd.read_parquet(self.run_dir / store.REPLICATIONS)


def _units(n_points: int, reps: int, chunk: int) -> list[tuple[int, int]]:
    return [(p * reps + r0, min(chunk, reps - r0)) for p in range(n_points) for r0 in range(0, reps, chunk)]


class _Explore:
    def __init__(self, folder: store.RunFolder, manifest: dict[str, Any], payload: EnsemblePayload,
                 executor: Executor, progress: ProgressFn | None):
        self.folder = folder
        self.m = manifest
        self.payload = payload
        self.executor = executor
        self.progress = progress
        self.schema = _schema(payload.outcomes)
        self.n_points = len(payload.values) * len(payload.worlds)
        self.t0 = time.perf_counter()
        self.started = False  # set when execute's handler is in place (see run_explore)

    def execute(self) -> ExploreResult:
        m = self.m
        try:
            self.started = True
            m["status"] = "running"
            m["executor"] = {"kind": self.executor.name, "jobs": self.executor.jobs}
            self.folder.write_manifest(m)
            self._loop()
        except KeyboardInterrupt:
            self.executor.shutdown(cancel=True)
            self._stop("interrupted")
            raise RunInterrupted(f"interrupted; finished units are saved. Resume with: "
                                 f"scenario-sim explore --resume {self.folder.path}") from None
        except UserError:
            self.executor.shutdown(cancel=True)
            self._stop("failed")
            raise
        except Exception as exc:
            self.executor.shutdown(cancel=True)
            m["error"] = f"{type(exc).__name__}: {exc}"
            self._stop("failed")
            raise RunFailed(f"explore failed ({type(exc).__name__}: {exc}); finished units are saved. "
                            f"Resume with: scenario-sim explore --resume {self.folder.path}") from None
        self.executor.shutdown()
        return self._finish()

    def _stop(self, status: str) -> None:
        self.m["status"] = status
        self._timings()
        self.folder.write_manifest(self.m)

    def _timings(self) -> None:
        tm = self.m.setdefault("timings", {})
        seconds = time.perf_counter() - self.t0
        tm["last_session_seconds"] = round(seconds, 3)
        tm["wall_seconds"] = round(float(tm.get("earlier_seconds", 0.0)) + seconds, 3)

    def _loop(self) -> None:
        reps = self.payload.replications
        per = len(self.payload.set_names)
        units = _units(self.n_points, reps, int(self.m["chunk_size"]))
        done = self.folder.done_chunks()
        todo = [(s, c) for s, c in units if done.get(s) != c]
        total = self.n_points * reps * per
        finished = sum(c for s, c in units if done.get(s) == c) * per
        if self.progress:
            self.progress(finished, total)
        beat = time.perf_counter()
        # Units done so far, counted here: listing the part files (and reading each one's footer)
        # every ten seconds cost the parent a read per finished unit, on the workers' cores.
        units_done = len(units) - len(todo)
        for res in self.executor.run(todo):
            self.folder.write_part(res.start, res.count, pa.Table.from_pydict(res.columns, schema=self.schema), None)
            units_done += 1
            finished += res.count * per
            if self.progress:
                self.progress(finished, total)
            if time.perf_counter() - beat > 10:  # the manifest says how far a long run got
                beat = time.perf_counter()
                self.m["units"]["done"] = units_done
                self._timings()
                self.folder.write_manifest(self.m)

    def _finish(self) -> ExploreResult:
        m = self.m
        reps = self.payload.replications
        done = self.folder.done_chunks()
        units = _units(self.n_points, reps, int(m["chunk_size"]))
        missing = [u for u in units if done.get(u[0]) != u[1]]
        if missing:
            raise ResultsError(f"{self.folder.path}: {len(missing)} unit(s) missing after the run")
        wanted = {s: c for s, c in units}
        self.folder.consolidate_parts(wanted, self.n_points * reps, False, self.schema)
        failures = self._failures()
        m["failures"] = failures
        m["units"]["done"] = len(units)
        m["status"] = "complete" if failures["count"] == 0 else "complete_with_failures"
        self._timings()
        tm = m["timings"]
        tm["finished"] = dt.datetime.now().isoformat(timespec="seconds")
        wall = tm["wall_seconds"]
        tm["replications_per_second"] = round(self.n_points * reps * len(self.payload.set_names) / wall, 1) \
            if wall else None
        self.folder.write_manifest(m)
        self.folder.remove_parts()
        return ExploreResult(self.folder.path, m)

    def _failures(self) -> dict[str, Any]:
        count = 0
        first: list[dict[str, Any]] = []
        for batch in self.folder.iter_batches(["set", "case", "world", "replication", "error"]):
            errs = batch.column("error").to_pylist()
            for i, e in enumerate(errs):
                if e is not None:
                    count += 1
                    if len(first) < 20:
                        first.append({k: batch.column(k)[i].as_py() for k in ("set", "case", "world", "replication")}
                                     | {"error": e})
        return {"count": count, "first": first}


def run_explore(plan: ExplorePlan, executor: Executor | None = None, *, jobs: int | None = None,
                progress: ProgressFn | None = None) -> ExploreResult:
    """Run a planned explore: write the folder and the cases, then every unit, then consolidate."""
    refuse_in_worker_bootstrap("explore")
    base = plan.loaded.baseline
    ex = executor if executor is not None else default_executor(jobs)
    payload = _payload(plan.loaded, plan.sets, plan.worlds, plan.inputs, plan.values, plan.replications,
                       plan.seed, [o.name for o in plan.outcomes])
    ex.start(payload)
    try:
        now = dt.datetime.now()
        folder = store.RunFolder.create(plan.out, base.name, "explore-" + now.strftime("%Y%m%d-%H%M%S"),
                                        uuid.uuid4().hex[:6])
    except BaseException:
        ex.shutdown(cancel=True)
        raise
    lock: FolderLock | None = None
    try:
        lock = FolderLock(folder.path).acquire()
        scen_text = yaml.safe_dump(dump_scenario(base), sort_keys=False, allow_unicode=True)
        store.atomic_write_text(folder.path / store.SCENARIO, scen_text)
        store.write_table_atomic(folder.path / CASES, _cases_table(plan.inputs, plan.values))
        manifest = _manifest(plan, scen_text, now)
        folder.write_manifest(manifest)
    except BaseException as exc:
        ex.shutdown(cancel=True)
        if lock is not None:
            lock.release()
        shutil.rmtree(folder.path, ignore_errors=True)  # nothing has run: nothing worth keeping
        if isinstance(exc, OSError):
            raise ResultsError(f"{folder.path}: cannot write the run folder ({exc.strerror or exc})") from None
        raise
    session: _Explore | None = None
    try:
        with lock:
            session = _Explore(folder, manifest, payload, ex, progress)
            return session.execute()
    except KeyboardInterrupt:
        if session is not None and session.started:
            raise
        # Ctrl-C before the session's own handler: nothing has run, so "nothing was written" holds
        ex.shutdown(cancel=True)
        shutil.rmtree(folder.path, ignore_errors=True)
        raise


def explore(scenario: str | Path | LoadedScenario, executor: Executor | None = None, *, jobs: int | None = None,
            progress: ProgressFn | None = None, **options: Any) -> ExploreResult:
    """Plan and run an explore (``options`` as for :func:`plan_explore`)."""
    return run_explore(plan_explore(scenario, **options), executor, jobs=jobs, progress=progress)


def resume_explore(run_dir: str | Path, executor: Executor | None = None, *, jobs: int | None = None,
                   progress: ProgressFn | None = None) -> ExploreResult:
    """Finish an interrupted explore in place, with exactly the bytes of an uninterrupted one."""
    refuse_in_worker_bootstrap("resume_explore")
    folder = store.RunFolder.open(run_dir)
    with FolderLock(folder.path):
        return _resume_locked(folder, executor, jobs, progress)


def _resume_locked(folder: store.RunFolder, executor: Executor | None, jobs: int | None,
                   progress: ProgressFn | None) -> ExploreResult:
    m = folder.raw_manifest()  # read under the lock: another session may just have finished it
    if m.get("kind") != "explore":
        raise UserError(f"{folder.path}: not an explore run (resume it with scenario-sim run --resume)")
    if m.get("status") in ("complete", "complete_with_failures"):
        raise AlreadyComplete(folder.path, str(m["status"]))
    scen = folder.path / store.SCENARIO
    if not scen.exists() or hashlib.sha256(scen.read_bytes()).hexdigest() != m["scenario"].get("effective_sha256"):
        raise ResultsError(f"{scen}: missing or changed since the run started; refusing to mix results")
    loaded = load_scenario(scen)
    cases = pq.read_table(folder.path / CASES).to_pandas()
    ex_info = m["explore"]
    by_name = {u.name: u for u in loaded.baseline.uncertainties}
    inputs = [by_name[i["name"]] for i in ex_info["inputs"]]
    values = cases[[u.name for u in inputs]].to_numpy(dtype=float) if inputs else np.zeros((len(cases), 0))
    worlds = [w["name"] or DEFAULT_WORLD for w in ex_info["worlds"]]
    names = [o["name"] for o in m["outcomes"]]
    payload = _payload(loaded, m["sets"], worlds, inputs, values, int(m["replications_target"]), int(m["seed"]),
                       names)
    ex = executor if executor is not None else default_executor(jobs)
    ex.start(payload)
    tm = m.setdefault("timings", {})
    tm["earlier_seconds"] = float(tm.get("wall_seconds") or 0.0)
    m.setdefault("resumed", []).append(dt.datetime.now().isoformat(timespec="seconds"))
    return _Explore(folder, m, payload, ex, progress).execute()
