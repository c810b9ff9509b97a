"""The validation section of a report: how the scenario did against the records (a backtest).

* :func:`find_backtest` picks the backtest a run's report shows: the one given
  (``report RUN --backtest DIR``, where ``DIR`` may be ``latest`` or ``ROOT/latest``), or else
  the newest backtest of the same scenario name in the run's results root;
* :func:`backtest_status` is one plain sentence about it (for terminals and briefs);
* :func:`validation_section` is the HTML section (verdict, score tables, plots);
* :func:`validation_report` is a whole document for ``scenario-sim report BACKTEST_DIR``.

Everything is read from the backtest folder (``backtest.json``, the CSV tables and PNGs), so a
copied folder reports the same.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from scenario_sim.backtest.summary import backtest_folders, read_summary
from scenario_sim.errors import ResultsError
from scenario_sim.runrefs import DEFAULT_ROOT, is_latest


def _e(x: Any) -> str:
    return html.escape(str(x))


def _newest(root: Path, scenario: str | None = None) -> Path | None:
    found = []
    for f in backtest_folders(root):
        try:
            s = read_summary(f)
        except ResultsError:
            continue
        if scenario is None or s.get("scenario") == scenario:
            found.append(f)
    return found[-1] if found else None


def _run_scenario(run_folder: Path) -> str | None:
    try:
        m = json.loads((run_folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    scen = m.get("scenario") if isinstance(m, dict) else None
    name = scen.get("name") if isinstance(scen, dict) else scen
    return str(name) if name else None


def find_backtest(run_folder: Path, explicit: Path | None) -> Path | None:
    """The backtest a report of ``run_folder`` shows (see the module notes), or None.

    An explicit folder that is not a backtest, or an explicit ``latest`` with no backtest
    under its root, is a one-line :class:`~scenario_sim.errors.ResultsError`.
    """
    run_folder = Path(run_folder)
    if explicit is not None:
        if is_latest(str(explicit)):
            parent = explicit.parent
            root = DEFAULT_ROOT if str(parent) in ("", ".") else parent
            found = _newest(root)
            if found is None:
                raise ResultsError(f"--backtest {explicit}: no backtest folder under {root}/; make one with "
                                   "scenario-sim backtest")
            return found
        read_summary(explicit)
        return Path(explicit)
    return _newest(run_folder.parent.parent, _run_scenario(run_folder))


def backtest_status(path: Path) -> str:
    """One plain sentence: which backtest, in or out of sample, and whether its targets are met."""
    s = read_summary(path)
    kind = (f"out of sample (trained {s['train'][0]}..{s['train'][1]})" if s.get("train") else "in sample")
    cov = ", ".join(f"{c} {v['inside']}/{v['months']}" for c, v in s["coverage"].items())
    ok = "all applicable targets met" if s.get("ok") else "not every applicable target met"
    return (f"Backtest {Path(path).name} of {s['scenario']} ({s['set']}), {kind}, tested on {s['test'][0]}.."
            f"{s['test'][1]} with {s['replications']} replications: {ok}; months inside the 90% band: {cov}.")


def _num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return "" if x is None else ("yes" if x else "no")
    if isinstance(x, float):
        if not math.isfinite(x):
            return "n/a"
        return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"  # 2441, not 2.44e+03
    return str(x)


def _table(df: pd.DataFrame, columns: list[str]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for r in df[columns].to_dict("records"):
        body.append("<tr>" + "".join(f"<td class=num>{_e(_num(r[c]))}</td>" for c in columns) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _csv(path: Path, name: str) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path / f"{name}.csv")
    except (OSError, ValueError):
        return None


def _png(path: Path, name: str, alt: str) -> str:
    try:
        data = (path / name).read_bytes()
    except OSError:
        return ""
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


_TABLES = (
    ("coverage", "Monthly launches against the simulated 5-95% band",
     ["class", "month", "observed", "sim_q05", "sim_median", "sim_q95", "inside", "pit", "crps"]),
    ("leak_bins", "Leak fraction by nightly wave size (recorded 95% interval, nights as units)",
     ["class", "bin", "nights_observed", "observed", "observed_lo", "observed_hi", "sim", "inside", "applies"]),
    ("wave_sizes", "Nightly wave sizes (quantiles over nights with launches)",
     ["class", "statistic", "observed", "sim_q05", "sim_median", "sim_q95", "inside"]),
    ("cooccurrence", "Classes on the same night",
     ["class", "statistic", "observed", "sim_q05", "sim_median", "sim_q95", "inside"]),
)


def validation_section(path: Path, note: str = "") -> str:
    """The HTML validation section for backtest folder ``path`` (heading included).

    ``note`` says how the backtest was chosen (e.g. the newest of the same scenario).
    """
    p = Path(path)
    s = read_summary(p)
    out = ["<h2>Validation against the records</h2>", f"<p>{_e(backtest_status(p))}</p>"]
    if note:
        out.append(f"<p class=muted>{_e(note)}</p>")
    out.append(f'<p class="warn">{_e(s["verdict"])}</p>')
    out.append(_png(p, "coverage.png", "monthly launches against the simulated band"))
    out.append(_png(p, "pit.png", "PIT histogram"))
    for name, title, cols in _TABLES:
        df = _csv(p, name)
        if df is not None and not df.empty:
            out.append(f"<h3>{_e(title)}</h3>{_table(df, [c for c in cols if c in df.columns])}")
        if name == "leak_bins":
            out.append(_png(p, "leak_bins.png", "leak fraction by wave size"))
    rates = _csv(p, "rates")
    if rates is not None and not rates.empty:
        whole = rates[rates["month"] == "all"]
        out.append("<h3>Destroyed and defeated shares over the window</h3>"
                   + _table(whole, ["class", "rate", "observed", "observed_lo", "observed_hi", "n_observed",
                                    "sim_q05", "sim_median", "sim_q95", "inside"]))
    out.append(f"<p class=muted>Backtest folder: {_e(p)}; definitions in docs/validation.md.</p>")
    return "".join(out)


def validation_report(path: Path) -> str:
    """A whole HTML document for a backtest folder on its own."""
    from scenario_sim.report.html import CSS

    s = read_summary(path)
    title = f"scenario-sim validation: {s['scenario']}"
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1>{validation_section(path)}</body></html>")
