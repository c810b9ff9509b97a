"""The backtest folder: ``<root>/backtest-<stamp>-<id>/``, self-describing.

* ``backtest.json``: the summary (format ``scenario-sim-backtest``, version 1): scenario,
  set, train and test windows, replications, coverage per class, PIT histogram, targets,
  ``ok``, the verdict, and ``files`` (name -> sha256 of every other file here);
* ``config.json``: the options, the records file and the training fragment (time split);
* ``scenario.yaml``: the window scenario exactly as simulated;
* ``coverage.csv``, ``rates.csv``, ``wave_sizes.csv``, ``leak_bins.csv``,
  ``cooccurrence.csv``: the score tables; ``verdict.txt``;
* ``coverage.png``, ``pit.png``, ``leak_bins.png``.

The folder has no ``manifest.json``, so ``latest`` and ``scenario-sim runs`` never take a
backtest for a run; :func:`backtest_folders` lists backtests.  JSON is strict (no NaN:
null, with the reasons under ``null_reasons``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from scenario_sim.backtest import plots
from scenario_sim.backtest.core import Backtest
from scenario_sim.backtest.summary import PREFIX, SUMMARY
from scenario_sim.calibrate.command import strict
from scenario_sim.errors import UserError
from scenario_sim.experiment.store import atomic_write_text
from scenario_sim.lang.loader import dump_scenario

TABLES = ("coverage", "rates", "wave_sizes", "leak_bins", "cooccurrence")


def _json(data: Any) -> str:
    reasons: dict[str, str] = {}
    clean = strict(data, reasons=reasons)
    if reasons and isinstance(clean, dict):
        clean["null_reasons"] = reasons
    return json.dumps(clean, indent=2, allow_nan=False, default=str) + "\n"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_root(root: str | Path) -> None:
    """Fail now (one line) if backtest folders cannot be made in ``root``, before a long simulation."""
    r = Path(root)
    try:
        r.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {r}: cannot create the results folder ({exc.strerror})") from None
    if not os.access(r, os.W_OK | os.X_OK):
        raise UserError(f"--out {r}: the results folder is not writable")


def write_backtest(result: Backtest, root: str | Path = "results") -> Path:
    """Write ``result`` into a new ``root/backtest-<stamp>-<id>/`` and return the folder."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = Path(root) / f"{PREFIX}{stamp}-{uuid.uuid4().hex[:6]}"
    try:
        folder.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise UserError(f"{folder}: cannot create the backtest folder ({exc.strerror})") from None
    atomic_write_text(folder / "config.json", _json(result.config))
    atomic_write_text(folder / "scenario.yaml", yaml.safe_dump(dump_scenario(result.scenario), sort_keys=False,
                                                               allow_unicode=True))
    for name in TABLES:
        pd.DataFrame(result.tables[name]).to_csv(folder / f"{name}.csv", index=False, float_format="%.6g")
    atomic_write_text(folder / "verdict.txt", result.summary["verdict"] + "\n")
    plots.coverage(result.tables["coverage"], folder / "coverage.png")
    plots.pit(result.pit, folder / "pit.png")
    plots.leak_bins(result.tables["leak_bins"], folder / "leak_bins.png")
    files = {p.name: _sha(p) for p in sorted(folder.iterdir()) if p.name != SUMMARY}
    atomic_write_text(folder / SUMMARY, _json({**result.summary, "files": files}))
    return folder
