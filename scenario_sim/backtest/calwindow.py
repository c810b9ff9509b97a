"""Where a scenario's calibration window is recorded, so a plain backtest can say "in sample".

A calibrated scenario extends the ``fragment.yaml`` that ``scenario-sim calibrate`` wrote,
and the ``calibration.json`` beside that fragment records the window it was fitted on
(``provenance.date_span``: the first and last record used).  This follows the scenario's
``extends`` chain (as written in the files, without validating them) and returns the first
such window; None when the scenario extends no calibrate output.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import yaml

CALIBRATION = "calibration.json"


def _window(cal: Path) -> tuple[dt.date, dt.date] | None:
    try:
        data: Any = json.loads(cal.read_text(encoding="utf-8"))
        span = data["provenance"]["date_span"]
        return dt.date.fromisoformat(span[0]), dt.date.fromisoformat(span[1])
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def calibration_window(scenario: str | Path, depth: int = 8) -> tuple[dt.date, dt.date] | None:
    """The calibration window recorded for ``scenario`` (a file), or None (see the module notes)."""
    path = Path(scenario)
    seen: set[Path] = set()
    for _ in range(depth):
        if path in seen or not path.is_file():
            return None
        seen.add(path)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            return None
        ext = doc.get("extends") if isinstance(doc, dict) else None
        if not isinstance(ext, str):
            return None
        path = (path.parent / ext).resolve()
        win = _window(path.parent / CALIBRATION)
        if win is not None:
            return win
    return None
