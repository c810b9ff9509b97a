"""The self-contained HTML report a planner can forward.

One file, ``report.html``, with every image embedded as a data URI, no scripts and no
external fetches, so it opens offline and survives e-mail.  The plots are also written as
PNG files under ``plots/`` in the run folder.  Sections: what was run; the ranking; paired
differences (forest plot); distributions; time series (fan charts, when stored); the
efficiency gained from common random numbers; failures and warnings.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

from scenario_sim.analysis.compare import RunData, compare, load_run, ranking, write_comparison
from scenario_sim.analysis.pairwise import side_effects
from scenario_sim.experiment import store
from scenario_sim.lang import load_scenario
from scenario_sim.report import plots
from scenario_sim.report.table import ZERO_MARK, better_tied_worse, diff_cell, fmt, side_effect_notes

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1050px;margin:2em auto;padding:0 1em;
color:#111;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #999;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #bbb;padding:.25em .55em}
th{background:#eee;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{font-weight:bold}.muted{color:#555}.warn{background:#f3f3f3;border-left:4px solid #333;padding:.4em .8em}
img{max-width:100%;height:auto;display:block;margin:.6em 0}code{background:#f2f2f2;padding:0 .2em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _img(data: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _table(headers: list[str], rows: list[list[Any]], num_from: int = 1, best_first: bool = False) -> str:
    out = ["<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead><tbody>"]
    for i, r in enumerate(rows):
        cls = ' class="best"' if best_first and i == 0 else ""
        cells = "".join(f'<td{" class=num" if j >= num_from else ""}>{_e(v)}</td>' for j, v in enumerate(r))
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _what_was_run(data: RunData) -> str:
    m = data.manifest
    loaded = load_scenario(data.path / store.SCENARIO)
    b = loaded.baseline
    tm = m.get("timings", {})
    items = [
        ("scenario", f"{b.name}: {b.description}" if b.description else b.name),
        ("scenario file", f"{m['scenario'].get('file')} (sha256 {str(m['scenario'].get('sha256'))[:12]}…)"),
        ("horizon", f"{b.start_date} + {b.horizon_days} days"),
        ("replications", f"{m.get('replications_done')} per set ({m.get('replications_asked')} asked)"),
        ("master seed", f"{m['seed']} (from the {m.get('seed_source', 'scenario file')})"),
        ("executor", f"{m.get('executor', {}).get('kind')} with {m.get('executor', {}).get('jobs')} job(s)"),
        ("run time", f"{tm.get('wall_seconds')} s, started {tm.get('started')}"),
        ("versions", ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())),
        ("code", (m.get("git") or {}).get("commit", "not a git checkout")),
    ]
    if m.get("adaptive"):
        a = m["adaptive"]
        items.append(("adaptive precision", f"{a['precision']:g} on {a['metric']}: {a.get('stop_reason')}"))
    dl = "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items) + "</dl>"
    rows = [["baseline", "the scenario as written", "—"]]
    for s in m["sets"][1:]:
        r = b.recommendation(s)
        changes = [f"{k} = {v}" for k, v in r.changes.items()] + [f"{k} × {v}" for k, v in r.scale.items()]
        if r.include:
            changes.insert(0, "includes " + ", ".join(r.include))
        rows.append([s, r.description, "; ".join(changes)])
    return dl + "<h3>Recommendation sets</h3>" + _table(["set", "description", "changes"], rows, num_from=99)


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` and ``plots/*.png`` into a finished run folder; return the report path."""
    from scenario_sim.analysis.ensemble import is_explore_run

    if is_explore_run(run_dir):  # an ensemble of cases: robustness, discovery, sensitivity, VOI
        from scenario_sim.report.ensemble import write_explore_report

        return write_explore_report(run_dir)
    data = load_run(run_dir)
    run = data.path
    table = compare(data)
    write_comparison(run, table)
    plot_dir = run / "plots"
    plot_dir.mkdir(exist_ok=True)
    primary = data.primary
    ranked = ranking(table, primary)
    order = list(ranked["set"])
    by_name = {o.name: o for o in data.outcomes}
    key = [k for k in dict.fromkeys([primary, *data.key]) if k in by_name and by_name[k].direction != "none"]
    n = int(ranked["n"].min())

    sections: list[str] = []
    sections.append(f"<h2>What was run</h2>{_what_was_run(data)}")

    side = side_effect_notes(side_effects(table, data.key))
    rows = []
    for r in ranked.to_dict("records"):
        base = r["set"] == "baseline"
        rows.append([r["rank"], r["set"], fmt(r["mean"], str(r["unit"])), diff_cell(r) or "(reference)",
                     "" if base else f"{r['relative_change']:+.1%}", "" if base else better_tied_worse(r),
                     f"{r['p_best']:.2f}", ZERO_MARK if (not base and r["ci_includes_zero"]) else "",
                     side.get(str(r["set"]), "")])
    best_rows = []
    for o in key:
        rk = ranking(table, o)
        top = rk.iloc[0]
        second = rk.iloc[1] if len(rk) > 1 else None
        diff = "" if top["set"] == "baseline" else (
            f"{fmt(top['diff'], top['unit'])} [{fmt(top['ci_low'], top['unit'])}, {fmt(top['ci_high'], top['unit'])}]")
        best_rows.append([o, f"{by_name[o].unit}, {by_name[o].direction} is better", top["set"],
                          fmt(top["mean"], top["unit"]), diff,
                          f"{top['p_best']:.2f}", "" if second is None else second["set"]])
    sections.append(
        f"<h2>Ranking by {_e(primary)} ({_e(by_name[primary].unit)}, {_e(by_name[primary].direction)} is better)</h2>"
        + _table(["rank", "set", "mean", "difference from baseline [95% CI]", "change",
                  "P(better / tied / worse)", "P(best)", "includes zero", "side effects (key outcomes worse)"],
                 rows, num_from=2, best_first=True)
        + f"<p class=muted>{n} paired replications per set on common random numbers. Intervals are "
          f"{_e(ranked['adjustment'].iloc[0])}. {ZERO_MARK} marks an interval that includes zero. "
          "P(better / tied / worse) are the shares of replications in which the set did better than, the "
          "same as, or worse than the baseline; P(best) the share in which it was the best of all sets "
          "(ties split). Side effects: key outcomes on which the set is significantly worse than the "
          "baseline (paired t-tests, Holm-adjusted over every set and key outcome).</p>"
        + "<h3>Best set on each key outcome</h3>"
        + _table(["outcome", "unit", "best set", "its mean", "difference from baseline [95% CI]", "P(best)",
                  "runner-up"], best_rows, num_from=3))

    img = plots.save(plots.forest(table, key, order), plot_dir / "forest.png")
    sections.append("<h2>Paired differences from the baseline</h2>"
                    "<p>Each point is a set's mean paired difference from the baseline; bars are the adjusted "
                    "95% intervals. Bars crossing the dashed zero line are not clear differences.</p>"
                    + _img(img, "forest plot of paired differences"))

    dist = []
    for o in key[:4]:
        fig = plots.distributions(data.frame, o, by_name[o].unit, order)
        dist.append(_img(plots.save(fig, plot_dir / f"distribution-{o}.png"), f"distribution of {o}"))
    sections.append("<h2>Distributions over replications</h2>" + "".join(dist))

    ts_path = run / store.TIMESERIES
    if ts_path.exists():
        best = next((s for s in order if s != "baseline"), None)
        show = ["baseline"] + ([best] if best else [])
        ts = pd.read_parquet(ts_path, filters=[("set", "in", show)])
        classes = [c[len("launched."):] for c in ts.columns if c.startswith("launched.")]
        ts["launched.total"] = ts[[f"launched.{c}" for c in classes]].sum(axis=1)
        ts["leaked.total"] = ts[[f"leaked.{c}" for c in classes]].sum(axis=1)
        fans = []
        for series, label, name in (("energy", "energy capacity (share of pre-war grid)", "energy"),
                                    ("launched.total", "munitions launched per day", "launches"),
                                    ("leaked.total", "munitions leaking through per day", "leakers")):
            fans.append(_img(plots.save(plots.fan(ts, series, label, show), plot_dir / f"fan-{name}.png"),
                             f"fan chart of {label}"))
        sections.append(f"<h2>Over time: baseline and {_e(best)}</h2>" + "".join(fans))
    else:
        sections.append("<h2>Over time</h2><p class=muted>No daily time series were stored for this run; "
                        "run with <code>--timeseries</code> to get fan charts of energy, launches and leakers.</p>")

    crn_rows = []
    for s in order:
        if s == "baseline":
            continue
        sub = table[(table["set"] == s) & (table["outcome"].isin(key))].set_index("outcome")
        cells = []
        for o in key:
            v = sub.loc[o, "crn_variance_ratio"] if o in sub.index else math.nan
            cells.append("–" if not math.isfinite(v) else (f"{v:.3f} (×{1 / v:,.0f})" if v > 0 else "0 (exact)"))
        crn_rows.append([s, *cells])
    img = plots.save(plots.crn_efficiency(table, key, order), plot_dir / "crn-efficiency.png")
    sections.append("<h2>Efficiency from common random numbers</h2>"
                    "<p>Every set ran on the same random streams as the baseline. The ratio below is the variance "
                    "of the paired difference over the variance independent runs would have had; its inverse "
                    "(×) is how many times more replications independent sampling would need for the same "
                    "precision.</p>" + _table(["set", *key], crn_rows) + _img(img, "CRN efficiency"))

    warnings = []
    f = data.manifest.get("failures", {})
    if f.get("count"):
        warnings.append(f"{f['count']} replication(s) failed and are left out of the statistics. First: "
                        + "; ".join(f"{x['set']} #{x['replication']}: {x['error']}" for x in f.get("first", [])[:5]))
    unclear = [f"{r['set']} on {r['outcome']}" for r in table.to_dict("records")
               if r["set"] != "baseline" and r["outcome"] in key and r["ci_includes_zero"]]
    if unclear:
        warnings.append("No clear difference from the baseline (interval includes zero): " + ", ".join(unclear))
    if n < 30:
        warnings.append(f"Only {n} replications per set: intervals rest on few samples.")
    warnings.append("The model is stylised and exploratory, not a forecast: absolute levels depend on assumptions "
                    "documented in the scenario file and docs/model.md; differences between sets are what it "
                    "measures well.")
    sections.append("<h2>Failures and warnings</h2>" + "".join(f'<p class="warn">{_e(w)}</p>' for w in warnings))

    title = f"scenario-sim report: {data.manifest['scenario']['name']}"
    doc = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
           f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"
           f"<h1>{_e(title)}</h1><p class=muted>Run folder: {_e(run)}</p>{''.join(sections)}</body></html>")
    out = run / "report.html"
    store.atomic_write_text(out, doc)
    return out
