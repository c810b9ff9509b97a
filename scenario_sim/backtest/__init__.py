"""Backtests: does a scenario reproduce attack records it is run on (issue 11)?

See :mod:`scenario_sim.backtest.core` for the procedure and docs/validation.md for the
protocol and every score's definition.  The public names are imported on first use (PEP
562), so a reader of backtest folders (:mod:`scenario_sim.backtest.summary`, used by the
report) does not load the model.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Backtest", "BacktestOptions", "backtest", "read_summary", "write_backtest"]

_WHERE = {"Backtest": "core", "BacktestOptions": "core", "backtest": "core", "read_summary": "summary",
          "write_backtest": "folder"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"scenario_sim.backtest.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'scenario_sim.backtest' has no attribute {name!r}")
