"""Monte Carlo experiments: common random numbers, executors, streaming results folders.

The public names are imported on first use (PEP 562 module ``__getattr__``).  A worker
process imports ``scenario_sim.experiment.worker``, and with it this package; it should not
pay for what only the parent uses (the engine's pandas, pyarrow and ``scipy.stats``: ~2 s of
CPU per process on the project machine, which dominated ``run -n 1`` and the harness
benchmark).  Submodules (``store``, ``engine``...) import as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scenario_sim.experiment.engine import (
        ExperimentPlan,
        ExperimentResult,
        RunFailed,
        RunInterrupted,
        plan_experiment,
        resume_experiment,
        run_experiment,
        run_plan,
    )
    from scenario_sim.experiment.executors import DaskCluster, Executor, InProcess, LocalPool, make_executor

_HOME = {
    **dict.fromkeys(["ExperimentPlan", "ExperimentResult", "RunFailed", "RunInterrupted", "plan_experiment",
                     "resume_experiment", "run_experiment", "run_plan"], "engine"),
    **dict.fromkeys(["DaskCluster", "Executor", "InProcess", "LocalPool", "make_executor"], "executors"),
}

__all__ = ["DaskCluster", "Executor", "ExperimentPlan", "ExperimentResult", "InProcess", "LocalPool", "RunFailed",
           "RunInterrupted", "make_executor", "plan_experiment", "resume_experiment", "run_experiment", "run_plan"]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value
