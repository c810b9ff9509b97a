"""The self-contained HTML report a planner can forward.

One file, ``report.html``, with every image embedded as a data URI and no external fetches,
so it opens offline and survives e-mail; its only script is a small inline one that draws the
time charts for the set the reader picks.  The plots are also written as PNG files under
``plots/`` in the run folder.

It leads with the decision: the brief (:mod:`scenario_sim.report.brief`: the recommended
set, its effect, cost and side effects, what depends on contested assumptions, the backtest)
and the "not a forecast" caveat come first; then the ranking (by the run's ``--rank-by`` or
``report --rank-by``); the selection procedure when the run used ``--select-best``; paired
differences (forest plot); distributions; time series (any set against the baseline, when
stored); the efficiency gained from common random numbers; failures and warnings; and last
an appendix with what was run (metadata).  Each section is one function of the report's
context; :data:`SECTIONS` lists them in order, and other layers add theirs there.

The report reads only the run folder (:mod:`scenario_sim.runs`): what was run, the sets'
descriptions and changes, the outcome catalogue and the ranking outcome are all files there,
so a folder copied elsewhere reports the same.  A read-only folder is reported all the same,
into another folder (``out``) or as one HTML document on standard output.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenario_sim import runs
from scenario_sim.analysis.compare import RunData, compare, failure_notes, load_run, ranking, write_comparison
from scenario_sim.analysis.ensemble import is_explore_run
from scenario_sim.analysis.pairwise import side_effects
from scenario_sim.errors import ResultsError
from scenario_sim.report import plots
from scenario_sim.report.brief import Brief, brief_html, brief_markdown, make_brief
from scenario_sim.report.costs import costs_section, frontier_section
from scenario_sim.report.placebo import placebo_section
from scenario_sim.report.table import (
    INTERVAL_SCOPE,
    ZERO_MARK,
    better_tied_worse,
    diff_cell,
    interval_cell,
    ranking_format,
    row_format,
    selection_lines,
    side_effect_notes,
)

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1050px;margin:2em auto;padding:0 1em;
color:#111;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #999;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #bbb;padding:.25em .55em}
th{background:#eee;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{font-weight:bold}.muted{color:#555}.warn{background:#f3f3f3;border-left:4px solid #333;padding:.4em .8em}
img{max-width:100%;height:auto;display:block;margin:.6em 0}code{background:#f2f2f2;padding:0 .2em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}
dl.brief{font-size:1.05em;gap:.45em 1.2em}#brief{border:2px solid #333;padding:.2em 1em 1em;margin-top:1em}
svg.fan{width:100%;max-width:760px;height:auto;display:block;margin:.4em 0 1.2em}svg.fan text{font-size:11px}
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


@dataclass
class _Ctx:
    """What every section reads: the run, its comparison and the ranking."""

    data: RunData
    table: pd.DataFrame
    ranked: pd.DataFrame
    rank_by: str
    key: list[str]  # the ranking outcome, then the key outcomes that have a direction
    brief: Brief
    images: dict[str, bytes] = field(default_factory=dict)  # plots/<name> -> PNG
    backtest: Path | None = None  # the backtest the validation section shows (report.validation)
    backtest_note: str = ""
    names: dict[str, str] = field(default_factory=dict)  # bundle id -> label (a frontier run's "a + b")
    keys: dict[str, str] = field(default_factory=dict)  # item -> letter, for long bundle labels in plots

    @property
    def order(self) -> list[str]:
        return list(self.ranked["set"])

    def label(self, name: Any) -> str:
        """The name a reader sees: a frontier bundle's label, else the set's own name."""
        return self.names.get(str(name), str(name))

    def plot_label(self, name: Any) -> str:
        """The name on a plot's axis: a bundle's items as letters when its label is long (``keys``)."""
        if not self.keys:
            return self.label(name)
        return " + ".join(self.keys.get(x, x) for x in self.label(name).split(" + "))

    def labelled(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its ``set`` column as plot labels, and the plots' order of sets."""
        return frame.assign(set=frame["set"].map(self.plot_label)) if self.names else frame

    @property
    def plot_order(self) -> list[str]:
        return [self.plot_label(s) for s in self.order]

    def key_note(self) -> str:
        """The letters' key under a plot that uses them (empty when the plots show full labels)."""
        if not self.keys:
            return ""
        return ('<p class="muted">Bundles are named by their items: '
                + ", ".join(f"{v} = {_e(k)}" for k, v in self.keys.items()) + ".</p>")

    @property
    def n(self) -> int:
        return int(self.ranked["n"].min())

    def outcome(self, name: str) -> Any:
        return self.data.outcome(name)

    def image(self, name: str, fig: Any, alt: str) -> str:
        """Embed ``fig`` (and keep it for ``plots/name``)."""
        data = plots.png(fig)
        self.images[name] = data
        return _img(data, alt)


def check_rank_by(data: RunData, rank_by: str) -> None:
    """``report --rank-by``: an outcome of the run with a better direction (did-you-mean otherwise)."""
    from scenario_sim.errors import UserError
    from scenario_sim.text import did_you_mean

    names = [o.name for o in data.outcomes]
    if rank_by not in names:
        raise UserError(f"--rank-by: unknown outcome {rank_by!r}{did_you_mean(rank_by, names)}")
    if data.outcome(rank_by).direction == "none":
        raise UserError(f"--rank-by: outcome {rank_by!r} has no better direction; rank by one that does "
                        "(e.g. civilian_harm, leaked.total, energy.mean)")


def _context(data: RunData, rank_by: str | None = None, explore: Path | None = None,
             backtest: Path | None = None) -> _Ctx:
    if rank_by is not None:
        check_rank_by(data, rank_by)
    table = compare(data)
    key_name = rank_by or data.rank_by
    ranked = ranking(table, key_name)
    with_dir = {o.name for o in data.outcomes if o.direction != "none"}
    key = [k for k in dict.fromkeys([key_name, *data.key]) if k in with_dir]
    from scenario_sim.analysis.frontier import display_names, plot_keys

    return _Ctx(data, table, ranked, key_name, key, make_brief(data, table, ranked, key_name, explore, backtest),
                names=display_names(data.path), keys=plot_keys(data.path))


def _set_changes(info: runs.SetInfo) -> str:
    changes = [f"{k} = {v}" for k, v in info.changes.items()] + [f"{k} × {v}" for k, v in info.scale.items()]
    if info.include:
        changes.insert(0, "includes " + ", ".join(info.include))
    return "; ".join(changes)


def _brief(c: _Ctx) -> str:
    return brief_html(c.brief)


def _selection(c: _Ctx) -> str:
    kn = c.data.manifest.select_best
    if kn is None:
        return ""
    lines = selection_lines(kn)
    return ("<h2>Selection of the best set (--select-best)</h2><p>" + _e(lines[0].removeprefix("select-best: "))
            + "</p><ul>" + "".join(f"<li>{_e(x.strip())}</li>" for x in lines[1:]) + "</ul>"
            "<p class=muted>See docs/statistics.md, “Selecting the best, with a guarantee”.</p>")


def _what_was_run(c: _Ctx) -> str:
    m = c.data.manifest
    sc = m.scenario
    tm = m.timings
    items = [
        ("scenario", f"{sc.name}: {sc.description}" if sc.description else sc.name),
        ("scenario file", f"{sc.file} (sha256 {str(sc.sha256)[:12]}…)"),
        ("horizon", f"{sc.start_date} + {sc.horizon_days} days"),
        ("replications", f"{m.replications_done} per set ({m.replications_asked} asked)"),
        ("master seed", f"{m.seed} (from the {m.seed_source})"),
        ("executor", f"{m.executor.get('kind')} with {m.executor.get('jobs')} job(s)"),
        ("run time", f"{tm.get('wall_seconds')} s, started {tm.get('started')}"),
        ("versions", ", ".join(f"{k} {v}" for k, v in m.versions.items())),
        ("code", (m.git or {}).get("commit", "not a git checkout")),
    ]
    if m.adaptive:
        a = m.adaptive
        items.append(("adaptive precision", f"{a.precision:g} on {a.metric}: {a.stop_reason}"))
    dl = "<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items) + "</dl>"
    rows = [["baseline", "the scenario as written", "—"]]
    for s in m.sets[1:]:
        info = c.data.set_info[s]
        rows.append([s if c.label(s) == s else f"{c.label(s)} ({s})", info.description, _set_changes(info)])
    return ("<h2 id=appendix>Appendix: what was run</h2>" + dl + "<h3>Recommendation sets</h3>"
            + _table(["set", "description", "changes"], rows, num_from=99))


def _ranking_rows(ranked: pd.DataFrame, side: dict[str, str],
                  label: Callable[[Any], str] = str) -> list[list[Any]]:
    rows = []
    f = ranking_format(ranked)  # one precision for the mean and difference columns (docs/statistics.md)
    for r in ranked.to_dict("records"):
        base = r["set"] == "baseline"
        rows.append([r["rank"], label(r["set"]), f(r["mean"]), diff_cell(r, f) or "(reference)",
                     "" if base else f"{r['relative_change']:+.1%}", "" if base else better_tied_worse(r),
                     "control" if math.isnan(r["p_best"]) else f"{r['p_best']:.2f}",
                     ZERO_MARK if (not base and r["ci_includes_zero"]) else "",
                     side.get(str(r["set"]), "")])
    return rows


def _best_rows(c: _Ctx) -> list[list[Any]]:
    from scenario_sim.analysis.placebo import placebo_pairs

    rows = []
    controls = list(placebo_pairs(c.data))
    for o in c.key:
        rk = ranking(c.table, o)
        rk = rk[~rk["set"].isin(controls)]  # placebo twins are controls, never "best"
        top = rk.iloc[0].to_dict()
        second = rk.iloc[1] if len(rk) > 1 else None
        rf = row_format(top) if top["set"] != "baseline" else ranking_format(rk)
        diff = "" if top["set"] == "baseline" else interval_cell(top, rf)
        meta = c.outcome(o)
        rows.append([o, f"{meta.unit}, {meta.direction} is better", c.label(top["set"]), rf(top["mean"]), diff,
                     f"{top['p_best']:.2f}", "" if second is None else c.label(second["set"])])
    return rows


def _ranking(c: _Ctx) -> str:
    meta = c.outcome(c.rank_by)
    side = side_effect_notes(side_effects(c.table, c.data.key))
    return (f"<h2>Ranking by {_e(c.rank_by)} ({_e(meta.unit)}, {_e(meta.direction)} is better)</h2>"
            + _table(["rank", "set", "mean", "difference from baseline [95% CI]", "change",
                      "P(better / tied / worse)", "P(best)", "includes zero", "side effects (key outcomes worse)"],
                     _ranking_rows(c.ranked, side, c.label), num_from=2, best_first=True)
            + f"<p class=muted>{c.n} paired replications per set on common random numbers. Intervals are "
              f"{_e(c.ranked['adjustment'].iloc[0])}. {ZERO_MARK} marks an interval that includes zero. "
              "P(better / tied / worse) are the shares of replications in which the set did better than, the "
              "same as, or worse than the baseline; P(best) the share in which it was the best of all sets "
              "(ties split). Side effects: key outcomes on which the set is significantly worse than the "
              "baseline (paired t-tests, Holm-adjusted over every set and key outcome). "
            + _e(INTERVAL_SCOPE) + " An explore run shows which conclusions depend on them.</p>"
            + "<h3>Best set on each key outcome</h3>"
            + _table(["outcome", "unit", "best set", "its mean", "difference from baseline [95% CI]", "P(best)",
                      "runner-up"], _best_rows(c), num_from=3))


def _forest(c: _Ctx) -> str:
    img = c.image("forest.png", plots.forest(c.labelled(c.table), c.key, c.plot_order),
                  "forest plot of paired differences")
    return ("<h2>Paired differences from the baseline</h2>"
            "<p>Each point is a set's mean paired difference from the baseline; bars are the adjusted "
            "95% intervals. Bars crossing the dashed zero line are not clear differences.</p>" + img
            + c.key_note())


def _distributions(c: _Ctx) -> str:
    frame, order = c.labelled(c.data.frame), c.plot_order
    dist = [c.image(f"distribution-{o}.png", plots.distributions(frame, o, c.outcome(o).unit, order),
                    f"distribution of {o}") for o in c.key[:4]]
    return "<h2>Distributions over replications</h2>" + "".join(dist) + c.key_note()


_FANS = (("energy", "energy capacity (share of pre-war grid)", "energy"),
         ("launched.total", "munitions launched per day", "launches"),
         ("leaked.total", "munitions leaking through per day", "leakers"))


def _daily(ts_path: Path, name: str) -> pd.DataFrame:
    """One set's daily series, with launches and leakers summed over classes (one set at a time:
    the file of a long run with many sets is large)."""
    import pyarrow.parquet as pq

    cols = [c for c in pq.read_schema(ts_path).names if c in ("set", "replication", "day", "energy")
            or c.startswith(("launched.", "leaked."))]
    ts = pd.read_parquet(ts_path, columns=cols, filters=[("set", "==", name)])
    classes = [col[len("launched."):] for col in ts.columns if col.startswith("launched.")]
    ts["launched.total"] = ts[[f"launched.{k}" for k in classes]].sum(axis=1)
    ts["leaked.total"] = ts[[f"leaked.{k}" for k in classes]].sum(axis=1)
    return ts


def _fan_quantiles(ts: pd.DataFrame, series: str) -> dict[str, list[float]]:
    """The 5%, 50% and 95% quantiles over replications of ``series`` by day (4 significant digits)."""
    q = ts.groupby("day")[series].quantile(np.array([0.05, 0.5, 0.95])).unstack()
    out = {k: [float(f"{v:.4g}") for v in q[col]] for k, col in (("lo", 0.05), ("mid", 0.5), ("hi", 0.95))}
    out["day"] = [int(d) for d in q.index]
    return out


_FAN_JS = """(function(){
var data=JSON.parse(document.getElementById('fan-data').textContent);
var lab=function(n){return (data.labels&&data.labels[n])||n;};
var pick=document.getElementById('fan-pick');var NS='http://www.w3.org/2000/svg';
var W=760,H=250,L=64,R=12,T=36,B=34;
function el(n,a,t){var e=document.createElementNS(NS,n);for(var k in a){e.setAttribute(k,a[k]);}
if(t!==undefined){e.textContent=t;}return e;}
function pts(xs,ys,sx,sy){var o=[];for(var i=0;i<xs.length;i++){o.push(sx(xs[i]).toFixed(1)+','+sy(ys[i]).toFixed(1));}
return o;}
function draw(name){
 data.series.forEach(function(s){
  var svg=document.getElementById('fan-'+s.id);while(svg.firstChild){svg.removeChild(svg.firstChild);}
  var sets=[data.baseline,name].filter(function(x){return s.sets[x];});
  var lo=Infinity,hi=-Infinity,x0=Infinity,x1=-Infinity;
  sets.forEach(function(n){var q=s.sets[n];lo=Math.min(lo,Math.min.apply(null,q.lo));
   hi=Math.max(hi,Math.max.apply(null,q.hi));x0=Math.min(x0,q.day[0]);x1=Math.max(x1,q.day[q.day.length-1]);});
  if(!(hi>lo)){hi=lo+1;}if(!(x1>x0)){x1=x0+1;}
  var sx=function(x){return L+(x-x0)/(x1-x0)*(W-L-R);};var sy=function(y){return H-B-(y-lo)/(hi-lo)*(H-T-B);};
  svg.appendChild(el('rect',{x:L,y:T,width:W-L-R,height:H-T-B,fill:'none',stroke:'#999'}));
  for(var i=0;i<=4;i++){var v=lo+(hi-lo)*i/4;
   svg.appendChild(el('line',{x1:L,x2:W-R,y1:sy(v),y2:sy(v),stroke:'#e4e4e4'}));
   svg.appendChild(el('text',{x:L-4,y:sy(v)+4,'text-anchor':'end'},Number(v.toPrecision(3)).toString()));
   var d=x0+(x1-x0)*i/4;svg.appendChild(el('text',{x:sx(d),y:H-B+14,'text-anchor':'middle'},Math.round(d).toString()));}
  svg.appendChild(el('text',{x:(L+W-R)/2,y:H-4,'text-anchor':'middle'},'day of the scenario'));
  svg.appendChild(el('text',{x:L,y:12,'font-weight':'bold'},s.label));
  sets.forEach(function(n,k){var q=s.sets[n];var band=pts(q.day,q.lo,sx,sy).concat(pts(q.day,q.hi,sx,sy).reverse());
   svg.appendChild(el('polygon',{points:band.join(' '),fill:k?'#333':'#999','fill-opacity':k?0.25:0.35,stroke:'none'}));
   svg.appendChild(el('polyline',{points:pts(q.day,q.mid,sx,sy).join(' '),fill:'none',stroke:k?'#000':'#555',
    'stroke-width':1.6,'stroke-dasharray':k?'6 3':'none','data-set':n}));
   svg.appendChild(el('text',{x:W-R,y:12+14*k,'text-anchor':'end'},
    lab(n)+(k?' (dashed)':' (solid)')+', median and 90% band'));});
  svg.setAttribute('data-set',name);
 });
 document.getElementById('fan-chosen').textContent=lab(name);
}
pick.addEventListener('change',function(){draw(pick.value);});draw(pick.value);
})();"""


def _over_time(c: _Ctx) -> str:
    ts_path = c.data.path / runs.TIMESERIES
    if not ts_path.exists():
        return ("<h2>Over time</h2><p class=muted>No daily time series were stored for this run; "
                "run with <code>--timeseries</code> to get fan charts of energy, launches and leakers.</p>")
    others = [s for s in c.order if s != "baseline"]
    if not others:
        return "<h2>Over time</h2><p class=muted>Only the baseline ran: there is no set to show against it.</p>"
    best = others[0]
    quantiles: dict[str, dict[str, dict[str, list[float]]]] = {series: {} for series, _, _ in _FANS}
    shown = []
    for name in ["baseline", *others]:
        ts = _daily(ts_path, name)
        if ts.empty:
            continue
        for series, _, _ in _FANS:
            quantiles[series][name] = _fan_quantiles(ts, series)
        if name in ("baseline", best):
            shown.append(ts)
    both = pd.concat(shown) if shown else pd.DataFrame()
    for series, label, name in _FANS:  # the PNG files in plots/: baseline and the leader
        c.images[f"fan-{name}.png"] = plots.png(plots.fan(both, series, label, ["baseline", best]))
    payload = {"baseline": "baseline", "series": [{"id": name, "label": label, "sets": quantiles[series]}
                                                  for series, label, name in _FANS],
               "labels": {s: c.label(s) for s in others if c.label(s) != s}}  # a frontier's "a + b"
    blob = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
    options = "".join(f"<option value=\"{_e(s)}\"{' selected' if s == best else ''}>{_e(c.label(s))}</option>"
                      for s in others)
    charts = "".join(f'<svg class=fan id="fan-{name}" viewBox="0 0 760 250" role="img" '
                     f'aria-label="fan chart of {_e(label)}"></svg>' for _, label, name in _FANS)
    return (f"<h2>Over time: baseline and <span id=fan-chosen>{_e(c.label(best))}</span></h2>"
            f"<p><label for=fan-pick>Set to show against the baseline: </label><select id=fan-pick>{options}</select> "
            "<span class=muted>(sets in ranking order; median and 90% band over replications per day)</span></p>"
            "<noscript><p class=warn>The charts are drawn by a small script in this file; with scripts off, "
            "see plots/fan-*.png (baseline and the leader).</p></noscript>"
            f'{charts}<script type="application/json" id="fan-data">{blob}</script><script>{_FAN_JS}</script>')


def _crn_cell(v: float) -> str:
    return "–" if not math.isfinite(v) else (f"{v:.3f} (×{1 / v:,.0f})" if v > 0 else "0 (exact)")


def _crn(c: _Ctx) -> str:
    crn_rows = []
    for s in c.order:
        if s == "baseline":
            continue
        sub = c.table[(c.table["set"] == s) & (c.table["outcome"].isin(c.key))]
        ratio = dict(zip(sub["outcome"], sub["crn_variance_ratio"].astype(float), strict=True))
        crn_rows.append([c.label(s), *[_crn_cell(ratio.get(o, math.nan)) for o in c.key]])
    img = c.image("crn-efficiency.png", plots.crn_efficiency(c.labelled(c.table), c.key, c.plot_order),
                  "CRN efficiency") + c.key_note()
    return ("<h2>Efficiency from common random numbers</h2>"
            "<p>Every set ran on the same random streams as the baseline. The ratio below is the variance "
            "of the paired difference over the variance independent runs would have had; its inverse "
            "(×) is how many times more replications independent sampling would need for the same "
            "precision.</p>" + _table(["set", *c.key], crn_rows) + img)


def _warnings(c: _Ctx) -> str:
    warnings = list(failure_notes(c.data))
    f = c.data.manifest.failures
    if f.count:
        warnings.append(f"{f.count} replication(s) failed and are left out of the statistics. First: "
                        + "; ".join(f"{x.set} #{x.replication}: {x.error}" for x in f.first[:5]))
    unclear = [f"{c.label(r['set'])} on {r['outcome']}" for r in c.table.to_dict("records")
               if r["set"] != "baseline" and r["outcome"] in c.key and r["ci_includes_zero"]]
    if unclear:
        warnings.append("No clear difference from the baseline (interval includes zero): " + ", ".join(unclear))
    if c.n < 30:
        warnings.append(f"Only {c.n} replications per set: intervals rest on few samples.")
    if not warnings:
        warnings.append("No replication failed and every interval is clear.")
    return "<h2>Failures and warnings</h2>" + "".join(f'<p class="warn">{_e(w)}</p>' for w in warnings)


def _validation(c: _Ctx) -> str:
    if c.backtest is None:
        return ""
    from scenario_sim.report.validation import validation_section

    return validation_section(c.backtest, c.backtest_note, c.data.path)


SECTIONS: tuple[Callable[[_Ctx], str], ...] = (_brief, _ranking, costs_section, frontier_section, placebo_section,
                                              _selection, _forest, _distributions, _over_time, _crn, _validation,
                                              _warnings, _what_was_run)
"""The report's sections, in order; each returns its HTML (heading included)."""


@dataclass
class Report:
    """A rendered report: the HTML document, its plots and the comparison it shows."""

    html: str
    images: dict[str, bytes]
    table: pd.DataFrame
    brief: Brief


def _with_backtest(c: _Ctx, backtest: Path | None) -> None:
    """Attach the backtest to show: the one given, else the newest of the same scenario."""
    from scenario_sim.report.validation import find_backtest

    found = find_backtest(c.data.path, backtest)
    c.backtest = found
    if found is not None and backtest is None:
        c.backtest_note = (f"Chosen automatically: the newest backtest of scenario {c.data.manifest.scenario.name} "
                           f"under {found.parent} (report --backtest DIR chooses another).")
    elif found is not None:
        c.backtest_note = f"Given with --backtest {backtest}."


def build_report(run: str | Path | RunData, backtest: Path | None = None, *, rank_by: str | None = None,
                 explore: Path | None = None) -> Report:
    """Render the report of a finished run folder (writes nothing), ranked by ``rank_by``
    (default: the run's ``--rank-by``, else ``outputs.primary``); with a backtest (given, or
    the newest of the same scenario in the results root) it has a validation section and the
    brief states the model's status against it."""
    data = run if isinstance(run, RunData) else load_run(run)
    c = _context(data, rank_by, explore, backtest)
    _with_backtest(c, backtest)
    sections = "".join(section(c) for section in SECTIONS)
    title = f"scenario-sim report: {data.manifest.scenario.name}"
    doc = (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
           f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"
           f"<h1>{_e(title)}</h1><p class=muted>Run folder: {_e(data.path)}</p>{sections}</body></html>")
    return Report(doc, c.images, c.table, c.brief)


def write_report(run: str | Path | RunData, out: str | Path | None = None, backtest: Path | None = None, *,
                 rank_by: str | None = None, explore: Path | None = None) -> Path:
    """Write ``report.html``, ``plots/*.png`` and ``comparison.csv`` into ``out`` (default: the
    run folder, which must then be writable); return the report's path.  An explore run (an
    ensemble of cases) gets its own report (:mod:`scenario_sim.report.ensemble`)."""
    if not isinstance(run, RunData) and is_explore_run(run):
        from scenario_sim.report.ensemble import write_explore_report

        return write_explore_report(run, out)
    data = run if isinstance(run, RunData) else load_run(run)
    target = Path(out) if out is not None else data.path
    if out is None and not runs.writable(target):
        raise ResultsError(f"{target}: read-only run folder; give an output folder (report --out DIR) "
                           "or --out - for standard output")
    report = build_report(data, backtest, rank_by=rank_by, explore=explore)
    try:
        (target / runs.PLOTS).mkdir(parents=True, exist_ok=True)
        for name, png in report.images.items():
            runs.atomic_write_bytes(target / runs.PLOTS / name, png)
        write_comparison(target, report.table)
        path = target / runs.REPORT
        runs.atomic_write_text(path, report.html)
    except OSError as exc:
        raise ResultsError(f"{target}: cannot write the report ({exc.strerror}); give --out DIR") from None
    return path


BRIEF_MD = "brief.md"


def _target(data: RunData, out: str | None, notes: list[str]) -> Path | None:
    """Where a report goes: a folder, or None for standard output (``-``, or a read-only run folder)."""
    if out == "-" or (out is None and not runs.writable(data.path)):
        if out is None:
            notes.append(f"note: {data.path} is read-only; the report goes to standard output "
                         "(give --out DIR to write it there)")
        return None
    return Path(out) if out is not None else data.path


def _backtest_report(folder: Path, out: str | None) -> tuple[str, list[str]]:
    """``scenario-sim report BACKTEST_DIR``: the validation report on its own."""
    from scenario_sim.report.validation import validation_report

    doc = validation_report(folder)
    if out == "-":
        return doc, []
    target = Path(out) if out is not None else folder
    try:
        target.mkdir(parents=True, exist_ok=True)
        runs.atomic_write_text(target / runs.REPORT, doc)
    except OSError as exc:
        raise ResultsError(f"{target}: cannot write the report ({exc.strerror}); give --out DIR or --out -") from None
    return str(target / runs.REPORT), []


def report_command(run_dir: str | Path, out: str | None, backtest: Path | None = None, *,
                   rank_by: str | None = None, fmt_name: str = "html",
                   explore: Path | None = None) -> tuple[str, list[str]]:
    """What ``scenario-sim report`` prints: (standard output, one-line notes for standard error).

    ``out`` is a folder, ``-`` for standard output, or None: the run folder, unless it is
    read-only, in which case the report goes to standard output and a note says so.
    ``run_dir`` may be a backtest folder: its validation report is written.
    ``fmt_name`` ``md`` writes the brief alone as Markdown (``brief.md``), for e-mail.
    """
    from scenario_sim.backtest.summary import is_backtest

    if is_backtest(run_dir):
        if backtest is not None:
            raise ResultsError(f"--backtest: {run_dir} is itself a backtest; leave --backtest out")
        return _backtest_report(Path(run_dir), out)
    if is_explore_run(run_dir):
        if rank_by is not None or fmt_name != "html":
            from scenario_sim.errors import UserError

            raise UserError(f"{run_dir}: an explore run has its own report; --rank-by and --format md apply to "
                            "a run folder (scenario-sim robust ranks an explore run)")
        from scenario_sim.report.ensemble import explore_report_command

        return explore_report_command(run_dir, out)
    data = load_run(run_dir)
    notes = failure_notes(data)
    if rank_by is not None:
        check_rank_by(data, rank_by)
    target = _target(data, out, notes)
    if fmt_name == "md":
        c = _context(data, rank_by, explore, backtest)
        text = brief_markdown(c.brief, data.path)
        if target is None:
            return text, notes
        try:
            target.mkdir(parents=True, exist_ok=True)
            runs.atomic_write_text(target / BRIEF_MD, text)
        except OSError as exc:
            raise ResultsError(f"{target}: cannot write {BRIEF_MD} ({exc.strerror}); "
                               "give --out DIR or --out -") from None
        return str(target / BRIEF_MD), notes
    if target is None:
        return build_report(data, backtest, rank_by=rank_by, explore=explore).html, notes
    if (target / runs.REPORT).exists():  # say so: a report made earlier (say by run --report) is gone
        notes.append(f"note: replaced the earlier {target / runs.REPORT} (give --out DIR to keep both)")
    return str(write_report(data, target, backtest, rank_by=rank_by, explore=explore)), notes
