"""The typed records of a run folder: the manifest, the outcome catalogue, the sets.

Each record is a plain dataclass; files hold them as JSON (``dataclasses.asdict``).  Reading
validates every key and type strictly (pydantic, no coercion: ``"3"`` is not an int), and
a problem is one line naming the file and the dotted key, for example::

    results/x/20250101-120000-ab12cd/manifest.json: failures.first[0].replication: expected an integer

Version policy: ``format_version`` is raised whenever a key changes meaning or a reader would
need a key that older folders lack.  A reader accepts only its own version and says which
one the folder has; unknown keys are ignored (a newer writer of the same version may add
optional keys).  Version 1 (``"format": "scenario-sim-run/1"``) was the untyped manifest
before the folder described its own outcomes and sets.
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from scenario_sim.errors import ResultsError
from scenario_sim.outcomes import Direction as Direction  # one definition, shared with the model

FORMAT = "scenario-sim-run"
FORMAT_VERSION = 2
BASELINE = "baseline"  # the name of the reference set in ``Manifest.sets`` and ``replications.parquet``

Status = Literal["created", "running", "interrupted", "failed", "complete", "complete_with_failures"]


@dataclass(frozen=True)
class OutcomeInfo:
    """One outcome of the run's catalogue (``outcomes.json``)."""

    name: str
    unit: str
    direction: Direction
    description: str
    key: bool = False  # listed in the scenario's outputs.key (or the primary): shown first in reports


@dataclass(frozen=True)
class SetInfo:
    """One set as the run ran it (``sets.json``): the patch as written over the baseline.

    ``include`` lists the sets applied first (each once); ``changes`` maps dotted paths to
    new values, ``scale`` to multipliers.  The effective scenario the model saw is in
    ``sets/<name>.yaml`` (its SHA-256 in ``effective_sha256``).
    """

    name: str
    description: str
    include: list[str] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    effective_sha256: str = ""


@dataclass
class ScenarioRef:
    """Which scenario was run, and what a reader needs to say so without loading it."""

    name: str
    file: str
    sha256: str | None
    effective_sha256: str
    description: str = ""
    start_date: str = ""
    horizon_days: int = 0


@dataclass
class FailureRecord:
    """One failed replication of one set."""

    set: str
    replication: int
    error: str


@dataclass
class Failures:
    """Failed replications: how many, per set, and the first 20 with their errors."""

    count: int = 0
    first: list[FailureRecord] = field(default_factory=list)
    by_set: dict[str, int] = field(default_factory=dict)


@dataclass
class Adaptive:
    """Adaptive precision: the target, each check at a batch boundary, why it stopped."""

    precision: float
    metric: str
    max_replications: int
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None


@dataclass(kw_only=True)
class SelectBest:
    """``run --select-best``: the selection procedure, its parameters and how it ended.

    ``status`` is ``running`` until the procedure stops, then ``selected`` (one set named with
    the stated PCS), ``group`` (sets whose means are exactly equal once every region closed:
    indistinguishable) or ``capped`` (``max_replications`` reached with several sets still in
    contention: no guarantee among them).  ``eliminated`` lists, in order, each set, the
    replication at which it was eliminated and the set that eliminated it;
    ``replications_used`` is per set the replications the procedure used on it (the run itself
    may hold more: replications are added in batches and every set runs in each).
    """

    procedure: str
    outcome: str
    unit: str
    direction: Direction
    delta: float
    pcs: float
    n0: int
    max_replications: int
    eta: float
    h2: float
    status: Literal["running", "selected", "group", "capped"] = "running"
    selected: str | None = None
    survivors: list[str] = field(default_factory=list)
    eliminated: list[dict[str, Any]] = field(default_factory=list)  # {"set", "replication", "by"}
    replications_used: dict[str, int] = field(default_factory=dict)
    decided_at: int | None = None
    bound: int | None = None  # replications after which every surviving pair's region is closed
    means: dict[str, float] = field(default_factory=dict)  # sample means where the procedure stopped
    dropped_replications: int = 0  # replications left out because some set failed in them
    history: list[dict[str, Any]] = field(default_factory=list)  # each check: replications, survivors
    stop_reason: str | None = None


@dataclass(kw_only=True)
class Manifest:
    """``manifest.json``: what was run, by what, how far it got, what failed.

    Written before any replication runs and rewritten (atomically) as the run goes on;
    ``status`` says where it is.  ``replications_target`` may grow under adaptive precision;
    ``replications_done`` is per set.  ``primary`` and ``key`` are the scenario's
    ``outputs``; ``rank_by`` is the ``--rank-by`` given to ``run`` (None: rank by primary).
    """

    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    scenario: ScenarioRef
    seed: int
    seed_source: str
    replications_asked: int
    replications_target: int
    replications_done: int = 0
    batch_size: int
    chunk_size: int
    sets: list[str]
    timeseries: bool = False
    primary: str
    key: list[str] = field(default_factory=list)
    rank_by: str | None = None
    adaptive: Adaptive | None = None
    select_best: SelectBest | None = None
    status: Status = "created"
    failures: Failures = field(default_factory=Failures)
    error: str | None = None
    resumed: list[str] = field(default_factory=list)
    executor: dict[str, Any] = field(default_factory=dict)  # kind, jobs
    versions: dict[str, str] = field(default_factory=dict)
    git: dict[str, Any] | None = None
    host: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)  # started, finished, wall_seconds, ...
    # While a run is going: each finished part's row range and checksums (experiment/parts.py), so a
    # resume can verify a part before trusting it; emptied once the parts are consolidated.
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    repairs: list[dict[str, Any]] = field(default_factory=list)  # parts found damaged and redone

    @property
    def ranking_outcome(self) -> str:
        """The outcome sets are ranked by unless a reader is told otherwise."""
        return self.rank_by or self.primary

    @property
    def complete(self) -> bool:
        return self.status in ("complete", "complete_with_failures")


def to_json(record: Any) -> str:
    """A record (or list of records) as indented JSON with a final newline."""
    data = [asdict(r) for r in record] if isinstance(record, list) else asdict(record)
    return json.dumps(data, indent=2, default=str) + "\n"


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_MESSAGES = {"missing": "missing", "int_type": "expected an integer", "int_from_float": "expected an integer",
             "float_type": "expected a number", "string_type": "expected a string",
             "bool_type": "expected true or false", "list_type": "expected a list", "dict_type": "expected a mapping",
             "dataclass_type": "expected a mapping"}


def parse(path: Path, raw: bytes, tp: Any, what: str, check_version: bool = False) -> Any:
    """Validate JSON ``raw`` (read from ``path``, a ``what``) as ``tp``; a one-line ResultsError otherwise."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{path}: corrupt {what} (not UTF-8 text at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}:{exc.lineno}:{exc.colno}: corrupt {what} ({exc.msg})") from None
    except RecursionError:
        raise ResultsError(f"{path}: corrupt {what} (nested too deeply)") from None
    if check_version:
        _check_version(path, data)
    try:
        # Strict JSON-mode validation: no "3" -> 3 coercion, and JSON objects are accepted
        # for dataclasses (python-mode strict would demand instances).
        return _adapter(tp).validate_json(raw, strict=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _where(tuple(err["loc"])) or "(top level)"
        msg = _MESSAGES.get(err["type"], str(err["msg"]).lower())
        got = "" if err["type"] == "missing" else f" (got {type(err.get('input')).__name__})"
        raise ResultsError(f"{path}: {where}: {msg}{got}") from None


@functools.cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _check_version(path: Path, data: Any) -> None:
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: (top level): expected a mapping (not a scenario-sim run folder?)")
    fmt = data.get("format")
    if data.get("kind") == "explore":  # its own manifest (not yet this typed one): say what it is
        raise ResultsError(f"{path}: kind: an explore run (scenario-sim explore), not a run of scenario-sim run; "
                           "read it with robust, discover, sensitivity, export or report, and resume it with "
                           "scenario-sim explore --resume")
    if fmt == "scenario-sim-run/1":
        raise ResultsError(f"{path}: format_version: the folder has version 1 (written by an older scenario-sim); "
                           f"this version reads {FORMAT_VERSION}: run the scenario again")
    if fmt != FORMAT:
        raise ResultsError(f"{path}: format: expected {FORMAT!r} (not a scenario-sim run folder?)")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ResultsError(f"{path}: format_version: expected an integer")
    if version != FORMAT_VERSION:
        newer = "a newer" if version > FORMAT_VERSION else "an older"
        raise ResultsError(f"{path}: format_version: the folder has version {version} (written by {newer} "
                           f"scenario-sim); this version reads {FORMAT_VERSION}")
