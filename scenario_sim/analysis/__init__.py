"""Analysis of run folders: paired statistics and rankings."""

from scenario_sim.analysis.compare import compare, load_run, ranking, write_comparison

__all__ = ["compare", "load_run", "ranking", "write_comparison"]
