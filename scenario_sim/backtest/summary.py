"""Reading backtest folders without the model: the summary format and where backtests are.

Kept apart from :mod:`scenario_sim.backtest.folder` (which writes folders and needs the whole
backtest) so that readers (the report, ``runs``) import neither the model nor the language.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scenario_sim.errors import ResultsError

FORMAT = "scenario-sim-backtest"
FORMAT_VERSION = 1
SUMMARY = "backtest.json"
PREFIX = "backtest-"


def read_summary(folder: str | Path) -> dict[str, Any]:
    """``backtest.json`` of a backtest folder (a one-line error if it is not one)."""
    path = Path(folder) / SUMMARY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{folder}: not a backtest folder (no {SUMMARY}; make one with scenario-sim "
                           "backtest)") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ResultsError(f"{path}: not a scenario-sim backtest summary")
    return data


def is_backtest(folder: str | Path) -> bool:
    """True when ``folder`` holds a backtest.json."""
    return (Path(folder) / SUMMARY).is_file()


def backtest_folders(root: str | Path) -> list[Path]:
    """Backtest folders directly in ``root``, oldest first (by the stamp in their name)."""
    r = Path(root)
    if not r.is_dir():
        return []
    return sorted(p.parent for p in r.glob(f"{PREFIX}*/{SUMMARY}"))
