"""Reading backtest folders without the model: the summary format and where backtests are.

Kept apart from :mod:`scenario_sim.backtest.folder` (which writes folders and needs the whole
backtest) so that readers (the report, ``runs``) import neither the model nor the language.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from scenario_sim.errors import ResultsError

FORMAT = "scenario-sim-backtest"
FORMAT_VERSION = 1
SUMMARY = "backtest.json"
PREFIX = "backtest-"


MARKERS = ("verdict.txt", "coverage.csv", "leak_bins.csv")
"""Files only a backtest folder holds: with them and no backtest.json, the summary was lost."""


def _lost_summary(folder: Path) -> bool:
    return not (folder / "manifest.json").exists() and any((folder / m).is_file() for m in MARKERS)


def verify_files(folder: str | Path, data: dict[str, Any]) -> None:
    """Check every file ``backtest.json`` lists against its sha256: a missing or altered file is a
    one-line :class:`ResultsError` naming it (a report must not silently drop a table or a plot)."""
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        raise ResultsError(f"{Path(folder) / SUMMARY}: lists no files (expected the sha256 of every file)")
    for name, want in sorted(files.items()):
        path = Path(folder) / name
        try:
            got = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            raise ResultsError(f"{path}: missing, listed in {SUMMARY}") from None
        except OSError as exc:
            raise ResultsError(f"{path}: unreadable ({exc.strerror}), listed in {SUMMARY}") from None
        if got != want:
            raise ResultsError(f"{path}: altered since the backtest wrote it (sha256 {got[:12]}..., {SUMMARY} "
                               f"lists {str(want)[:12]}...)")


def read_summary(folder: str | Path, verify: bool = True) -> dict[str, Any]:
    """``backtest.json`` of a backtest folder, its files checked against their sha256 unless
    ``verify`` is false (a one-line error if it is not a backtest folder or is damaged)."""
    path = Path(folder) / SUMMARY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if _lost_summary(Path(folder)):
            raise ResultsError(f"{folder}: looks like a backtest folder ({', '.join(MARKERS)}) but {SUMMARY} is "
                               "missing; re-run scenario-sim backtest") from None
        raise ResultsError(f"{folder}: not a backtest folder (no {SUMMARY}; make one with scenario-sim "
                           "backtest)") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ResultsError(f"{path}: not a scenario-sim backtest summary")
    if verify:
        verify_files(folder, data)
    return data


def is_backtest(folder: str | Path) -> bool:
    """True when ``folder`` holds a backtest.json, or looks like a backtest folder that lost it
    (so that reading it says so, rather than "not a run folder")."""
    f = Path(folder)
    return (f / SUMMARY).is_file() or _lost_summary(f)


def backtest_folders(root: str | Path) -> list[Path]:
    """Backtest folders directly in ``root``, oldest first (by the stamp in their name)."""
    r = Path(root)
    if not r.is_dir():
        return []
    return sorted(p.parent for p in r.glob(f"{PREFIX}*/{SUMMARY}"))
