"""Monte Carlo experiments: common random numbers, executors, streaming results folders."""

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

__all__ = ["DaskCluster", "Executor", "ExperimentPlan", "ExperimentResult", "InProcess", "LocalPool", "RunFailed",
           "RunInterrupted", "make_executor", "plan_experiment", "resume_experiment", "run_experiment", "run_plan"]
