"""Backtests: does a scenario reproduce attack records it is run on (issue 11)?

See :mod:`scenario_sim.backtest.core` for the procedure and docs/validation.md for the
protocol and every score's definition.
"""

from __future__ import annotations

from scenario_sim.backtest.core import Backtest, BacktestOptions, backtest
from scenario_sim.backtest.folder import read_summary, write_backtest

__all__ = ["Backtest", "BacktestOptions", "backtest", "read_summary", "write_backtest"]
