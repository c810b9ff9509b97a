"""The model: one replication of a scenario as SimPy processes (see ``docs/model.md``)."""

from scenario_sim.model.compiled import CompiledScenario, compile_scenario
from scenario_sim.model.simulation import Replication, Wave, simulate

__all__ = ["CompiledScenario", "Replication", "Wave", "compile_scenario", "simulate"]
