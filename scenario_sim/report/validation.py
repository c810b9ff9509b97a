"""The validation section of a report: how the scenario did against the records (a backtest).

* :func:`find_backtest` picks the backtest a run's report shows: the one given
  (``report RUN --backtest DIR``, where ``DIR`` may be ``latest`` or ``ROOT/latest``), or else
  the newest backtest of the same scenario name in the run's results root whose monthly
  targets could be judged (a window of at least six months): a nine-day backtest is never
  attached automatically, and neither is a damaged one (give it with ``--backtest``);
* :func:`run_mismatch` says when the backtest was made with other scenario content (the
  sha256 of the effective baseline document, as the run's manifest records it) or another
  set than the baseline the run compares against;
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


TARGET_MONTHS = 6
"""The monthly targets' span (``scenario_sim.backtest.core.TARGET_MONTHS``, kept here so the
report does not import the model)."""


def judged(s: dict[str, Any]) -> bool:
    """Whether a backtest's monthly targets could be judged (older summaries: six months or more)."""
    t = s.get("targets") or {}
    if "judged" in t:
        return bool(t["judged"])
    return min((v.get("months", 0) for v in (s.get("coverage") or {}).values()), default=0) >= TARGET_MONTHS


def _newest(root: Path, scenario: str | None = None, judged_only: bool = False) -> Path | None:
    found = []
    for f in backtest_folders(root):
        try:
            s = read_summary(f)
        except ResultsError:
            continue
        if (scenario is None or s.get("scenario") == scenario) and (judged(s) or not judged_only):
            found.append(f)
    return found[-1] if found else None


def _manifest_scenario(run_folder: Path) -> dict[str, Any]:
    try:
        m = json.loads((Path(run_folder) / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    scen = m.get("scenario") if isinstance(m, dict) else None
    return scen if isinstance(scen, dict) else ({"name": scen} if scen else {})


def _run_scenario(run_folder: Path) -> str | None:
    name = _manifest_scenario(run_folder).get("name")
    return str(name) if name else None


def run_mismatch(run_folder: Path, path: Path) -> list[str]:
    """Sentences saying how backtest ``path`` differs from run ``run_folder`` (empty when it does not)."""
    s = read_summary(path, verify=False)
    scen = _manifest_scenario(run_folder)
    out = []
    mine, theirs = s.get("scenario_sha256"), scen.get("effective_sha256")
    if s.get("scenario") != scen.get("name"):
        out.append(f"The backtest is of scenario {s.get('scenario')}, this run of {scen.get('name')}.")
    if not mine or not theirs:
        out.append("The backtest does not record its scenario content (sha256): it may not be the scenario this "
                   "run simulated.")
    elif mine != theirs:
        out.append(f"The backtest was made with different scenario content (sha256 {mine[:12]}) than this run "
                   f"(sha256 {theirs[:12]}): it validates another version of the scenario.")
    if s.get("set") != "baseline":
        out.append(f"The backtest simulated set {s.get('set')}, not the baseline this run compares against.")
    return out


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
    return _newest(run_folder.parent.parent, _run_scenario(run_folder), judged_only=True)


def unjudged_backtest(run_folder: Path) -> Path | None:
    """The newest backtest of the run's scenario beside it that is too short to be attached
    automatically (its monthly targets not judged), or None: the brief names it rather than
    say that no backtest was found."""
    run_folder = Path(run_folder)
    return _newest(run_folder.parent.parent, _run_scenario(run_folder), judged_only=False)


_STATUS = {"met": "all applicable targets met", "concerns": "the targets are met, with concerns",
           "not met": "not every applicable target met",
           "not judged": "too short to judge the monthly targets (stated for six months)"}


def _kind(s: dict[str, Any]) -> str:
    if s.get("train"):
        return f"out of sample (trained {s['train'][0]}..{s['train'][1]})"
    kind = s.get("kind")
    cal = s.get("calibration_window")
    if kind == "plain":
        return f"plain backtest (the scenario was calibrated on {cal[0]}..{cal[1]})" if cal else "plain backtest"
    return "in sample"


def backtest_status(path: Path, coverage: bool = True) -> str:
    """One plain sentence: which backtest, in or out of sample, and whether its targets are met;
    with ``coverage``, also the months inside the band per class (leave it out where the
    backtest's own verdict follows: the verdict gives them, and why a short one is not judged)."""
    s = read_summary(path)
    kind = _kind(s)
    status = str(s.get("status"))
    ok = _STATUS.get(status, "all applicable targets met" if s.get("ok") else "not every applicable target met")
    head = (f"Backtest {Path(path).name} of {s['scenario']} ({s['set']}), {kind}, tested on {s['test'][0]}.."
            f"{s['test'][1]} with {s['replications']} replications")
    if not coverage:
        return f"{head}: {'not judged' if status == 'not judged' else ok}."
    cov = ", ".join(f"{c} {v['inside']}/{v['months']}" for c, v in s["coverage"].items())
    return f"{head}: {ok}; months inside the 90% band: {cov}."


def _num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return "" if x is None else ("yes" if x else "no")
    if isinstance(x, float):
        if not math.isfinite(x):
            return "n/a"
        return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"  # 2441, not 2.44e+03
    return str(x)


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def _cell(r: dict[Any, Any], c: str) -> str:
    """A cell; "n/a" where the comparison has nothing to compare: ``inside`` of a row whose
    recorded value is missing (a Spearman correlation of too few nights), and the interval and
    ``inside`` of a leak bin with too few recorded nights for its target (two nights of no leak
    give a zero-width "interval")."""
    not_applicable = "applies" in r and r["applies"] is False
    if c == "inside" and (_missing(r.get("observed")) or not_applicable):
        return "n/a"
    if c in ("observed_lo", "observed_hi") and not_applicable:
        return "n/a"
    return _num(r[c])


def _table(df: pd.DataFrame, columns: list[str]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for r in df.to_dict("records"):
        body.append("<tr>" + "".join(f"<td class=num>{_e(_cell(r, c))}</td>" for c in columns) + "</tr>")
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


def _facts(p: Path, s: dict[str, Any]) -> str:
    """What was backtested, as a small table at the top of the section."""
    t = s.get("targets") or {}
    part = [f"{m['month']} ({m['nights']} of {m['days']} nights)" for m in t.get("months", []) if m.get("partial")]
    window = f"{s['test'][0]}..{s['test'][1]}" + (f"; partial months: {', '.join(part)}" if part else "")
    rows = [("Window scored", window), ("Kind", _kind(s)), ("Set", s.get("set")),
            ("Replications", s.get("replications")), ("Status", s.get("status") or ("met" if s.get("ok") else
                                                                                    "not met")),
            ("Folder", p)]
    return ("<table><tbody>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
            + "</tbody></table>")


def validation_section(path: Path, note: str = "", run: Path | None = None) -> str:
    """The HTML validation section for backtest folder ``path`` (heading included).

    ``note`` says how the backtest was chosen (e.g. the newest of the same scenario); with
    ``run`` (the run folder reported), differences of scenario content or set are stated.
    """
    p = Path(path)
    s = read_summary(p)
    out = ["<h2>Validation against the records</h2>", f"<p>{_e(backtest_status(p))}</p>", _facts(p, s)]
    if note:
        out.append(f"<p class=muted>{_e(note)}</p>")
    if run is not None:
        out += [f'<p class="warn">{_e(m)}</p>' for m in run_mismatch(run, p)]
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
