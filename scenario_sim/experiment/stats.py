"""Compatibility: the statistics live in :mod:`scenario_sim.stats` (shared with the analysis)."""

from scenario_sim.stats import Welford, t_interval, t_test_p

__all__ = ["Welford", "t_interval", "t_test_p"]
