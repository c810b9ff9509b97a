"""Monte Carlo experiments: common random numbers, executors, streaming results folders."""

from scenario_sim.experiment.engine import (
    ExperimentResult,
    RunFailed,
    RunInterrupted,
    resume_experiment,
    run_experiment,
)

__all__ = ["ExperimentResult", "RunFailed", "RunInterrupted", "resume_experiment", "run_experiment"]
