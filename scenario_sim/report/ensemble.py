"""Printing and reporting the deep-uncertainty analyses of an explore run.

Text (terminal table, CSV, JSON, Markdown) for ``scenario-sim robust``, ``discover`` and
``sensitivity``, and the report of an explore run: what was run, the robustness table per key
outcome, the PRIM boxes with their peeling-trajectory and box-limit plots, sensitivity bars, the
value-of-information table and a plain-language paragraph on which conclusions hold in every
world and which depend on one.  :func:`scenario_sim.report.html.write_report` hands explore runs
to :func:`write_explore_report`.
"""

from __future__ import annotations

import html
import json
import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from scenario_sim import runs
from scenario_sim.analysis.discovery import Discovery, NothingToDiscover, discover
from scenario_sim.analysis.ensemble import EnsembleRun, load_ensemble
from scenario_sim.analysis.robust import RULES, Robustness, robustness
from scenario_sim.analysis.sensitivity import Sensitivity, sensitivity
from scenario_sim.analysis.voi import value_of_information
from scenario_sim.errors import UserError
from scenario_sim.report import plots
from scenario_sim.report.table import ColumnFormat, column_format

# --------------------------------------------------------------------------- text


# Terminal columns of each table, most important first: in a narrow terminal the last go first
# (as in the run ranking, scenario_sim.report.table.fit_columns); csv and json keep everything.
ROBUST_PRIORITY = ("set", "expected", "max regret", "satisficing", "mean regret", "worst case", "90th pct regret")
VOI_PRIORITY = ("information", "value", "share of EVPI", "chosen set(s)", "groups")
_LEFT = ("set", "input", "rule", "information", "world", "chosen set(s)")


def _render(frame: pd.DataFrame, fmt_name: str, title: str, note: str = "",
            priority: tuple[str, ...] | None = None, width: int | None = None) -> str:
    """A table of already formatted cells in the requested format (csv/json take raw frames).

    The terminal table is as wide as the terminal (``width``, by default the terminal's); with
    ``priority`` the least important columns are left out until the rows fit on one line each,
    and the footnote names them; without it, cells wrap."""
    if fmt_name == "markdown":
        cols = list(frame.columns)
        lines = [f"**{title}**", "", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in frame.itertuples(index=False)]
        return "\n".join(lines + ([f"\n{note}"] if note else []))
    from rich.console import Console
    from rich.table import Table

    from scenario_sim.report.table import fit_columns, terminal_width

    w = width if width is not None else terminal_width()
    rows = [{str(c): str(v) for c, v in zip(frame.columns, r, strict=True)} for r in frame.itertuples(index=False)]
    cols = [str(c) for c in frame.columns]
    if priority is not None and rows:
        cols, dropped = fit_columns(rows, w, priority)
        if dropped:
            note += f" Not shown at this width: {', '.join(dropped)} (--format csv gives every statistic)."
    t = Table(title=title, caption=note.strip() or None, caption_justify="left")
    for c in cols:
        t.add_column(c, justify="left" if c in _LEFT else "right", no_wrap=priority is not None)
    for r in rows:
        t.add_row(*[r[c] for c in cols])
    console = Console(width=w, record=True, force_terminal=False, soft_wrap=False)
    with console.capture() as cap:
        console.print(t)
    return cap.get()


def _raw(frame: pd.DataFrame, fmt_name: str) -> str:
    if fmt_name == "csv":
        return str(frame.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    return json.dumps(json.loads(frame.to_json(orient="records")), indent=2)


SHARE_DECIMALS = (2, 3)  # Sobol and RBD-FAST indices are shares of variance: 0.31, 0.044


def _ci_column(frame: pd.DataFrame, col: str, unit: str,
               decimals: tuple[int, int] | None = None) -> tuple[list[str], ColumnFormat]:
    """'estimate [low, high]' cells of one column, every number with the column's rule
    (:func:`scenario_sim.report.table.column_format`), and the rule."""
    lo, hi = frame[f"{col}_low"], frame[f"{col}_high"]
    f = column_format([*frame[col], *lo, *hi], (hi - lo) / 2, unit, *([decimals] if decimals else []))
    cells = [f(x) if not math.isfinite(a) else f"{f(x)} [{f(a)}, {f(b)}]"
             for x, a, b in zip(frame[col], lo, hi, strict=True)]
    return cells, f


def robustness_cells(rb: Robustness) -> pd.DataFrame:
    """The robustness table with formatted cells (one number rule per column), best expected value first."""
    u = rb.unit
    t = rb.table.sort_values(["rank_expected", "set"]).reset_index(drop=True)
    plain = {c: column_format(t[c], [], u) for c in ("expected", "worst_case")}
    return pd.DataFrame({
        "set": t["set"], "expected": [plain["expected"](x) for x in t["expected"]],
        "worst case": [plain["worst_case"](x) for x in t["worst_case"]],
        "mean regret": _ci_column(t, "mean_regret", u)[0], "90th pct regret": _ci_column(t, "p90_regret", u)[0],
        "max regret": _ci_column(t, "max_regret", u)[0],
        "satisficing": ["–" if math.isnan(x) else f"{x:.1%}" for x in t["satisficing"]],
    })


def _best_text(rb: Robustness, rule: str) -> str:
    best = rb.best.get(rule, [rb.choices[rule]])
    return best[0] if len(best) == 1 else f"{', '.join(best)} (tied)"


def choice_sentence(rb: Robustness) -> str:
    """Which set each rule chooses (every set tied for best), and whether the robust choice
    differs from the EV choice; a tie that includes the EV choice is reported as a tie."""
    ev = _best_text(rb, "expected")
    parts = [f"{RULES[k]}: {_best_text(rb, k)}" for k in rb.choices]
    differs = [k for k, d in rb.robust_differs.items() if d]
    ties = [k for k, t in rb.robust_ties.items() if t]
    out = []
    if differs:
        out.append(f"The robust choice differs from the expected-value choice ({ev}) under "
                   f"{', '.join(RULES[k] for k in differs)}.")
    if ties:
        out.append(f"Under {', '.join(RULES[k] for k in ties)} the expected-value choice ties for best "
                   "with other sets: a tie, not a different choice.")
    if not differs:
        out.append(f"No robust rule chooses differently from the expected-value choice ({ev}).")
    return "; ".join(parts) + ". " + " ".join(out)


def robustness_text(rb: Robustness, voi: pd.DataFrame | None, fmt_name: str) -> str:
    """``scenario-sim robust`` output."""
    if fmt_name in ("csv", "json"):
        if voi is None or fmt_name == "csv":
            return _raw(rb.table, fmt_name)
        return json.dumps({"robustness": json.loads(rb.table.to_json(orient="records")),
                           "choices": rb.choices, "best": rb.best, "robust_differs": rb.robust_differs,
                           "robust_ties": rb.robust_ties,
                           "value_of_information": json.loads(voi.to_json(orient="records"))}, indent=2)
    th = f"; satisficing: {rb.threshold}" if rb.threshold else "; no threshold in outputs.thresholds"
    title = f"Robustness on {rb.outcome} ({rb.unit}, {rb.direction} is better), {len(rb.means)} cases × worlds"
    note = (f"Regret: shortfall from the best set in the same case, in {rb.unit}; {rb.level:.0%} bootstrap "
            f"intervals over cases{th}.")
    out = [_render(robustness_cells(rb), fmt_name, title, note, ROBUST_PRIORITY), choice_sentence(rb)]
    if rb.dropped_points:
        out.append(f"{rb.dropped_points} case(s) left out: some set had no successful replication there.")
    if fmt_name == "table":  # sentences wrap at the terminal's width, like the tables' footnotes
        from scenario_sim.report.table import terminal_width

        out[1:] = [textwrap.fill(x, terminal_width()) for x in out[1:]]
    if voi is not None:
        out.append(_render(voi_cells(voi), fmt_name, f"Value of information on {rb.outcome} ({rb.unit})",
                           "EVPI: the gain if every input and the world were known before choosing; partial "
                           "EVPI: if only that one were known." + (" All 0: knowing them would never change the "
                                                                   "choice." if (voi["value"] == 0).all() else ""),
                           VOI_PRIORITY))
    return "\n".join(out)


def voi_cells(voi: pd.DataFrame) -> pd.DataFrame:
    """The value-of-information table with formatted cells (one number rule for the value column)."""
    rows = []
    f = column_format(voi["value"], [], str(voi["unit"].iloc[0]) if len(voi) else "")
    # all zero (one set best in every case): "0", not eight decimals of zeros from the column rule
    zero = bool(len(voi)) and bool((voi["value"].abs() == 0).all())
    for r in voi.to_dict("records"):
        rows.append({"information": "everything (EVPI)" if r["information"] == "all" else r["information"],
                     "value": "0" if zero else f(r["value"]),
                     "share of EVPI": "–" if math.isnan(r["share_of_evpi"]) else f"{r['share_of_evpi']:.0%}",
                     "groups": r["groups"], "chosen set(s)": r["choice"]})
    return pd.DataFrame(rows)


def _range_format(r: Mapping[Any, Any]) -> ColumnFormat:
    """One rule for an input's box and full range: whole numbers for a whole-numbered input, else
    three significant digits of its full range's span (``0.001 – 0.244``, not ``7.06e-04 – 0.244``)."""
    vals = [float(r[k]) for k in ("low", "high", "full_low", "full_high")]
    if all(v.is_integer() for v in vals):
        return ColumnFormat(0)
    span = abs(vals[3] - vals[2]) or max(abs(v) for v in vals) or 1.0
    return ColumnFormat(max(0, min(8, 2 - math.floor(math.log10(span)))))


def limits_cells(d: Discovery) -> pd.DataFrame:
    rows = []
    for r in d.limits.to_dict("records"):
        if r["categories"]:
            box, full = "{" + str(r["categories"]) + "}", "all worlds"
        else:
            f = _range_format(r)
            box = f"{f(r['low'])} – {f(r['high'])}"
            full = f"{f(r['full_low'])} – {f(r['full_high'])}"
        rows.append({"input": r["input"], "box": box, "full range": full,
                     "quasi-p": "–" if math.isnan(r["qp_value"]) else f"{r['qp_value']:.2g}"})
    return pd.DataFrame(rows, columns=["input", "box", "full range", "quasi-p"])


def discovery_text(d: Discovery, fmt_name: str) -> str:
    """``scenario-sim discover`` output."""
    if fmt_name == "csv":
        return _raw(d.limits, "csv")
    if fmt_name == "json":
        return json.dumps({"question": d.question, "outcome": d.outcome, "cases": d.points,
                           "labelled": d.positives, "box": {"id": d.box_id, "coverage": d.coverage,
                                                            "density": d.density, "mass": d.mass},
                           "limits": json.loads(d.limits.to_json(orient="records")),
                           "trajectory": json.loads(d.trajectory.to_json(orient="records")),
                           "cart": json.loads(d.cart.to_json(orient="records"))}, indent=2)
    title = (f"PRIM box {d.box_id} of {len(d.trajectory)}: coverage {d.coverage:.0%}, density {d.density:.0%}, "
             f"mass {d.mass:.0%}")
    traj = d.trajectory.iloc[:: max(1, len(d.trajectory) // 12)].copy()
    traj_cells = pd.DataFrame({"box": traj["id"], "coverage": [f"{v:.0%}" for v in traj["coverage"]],
                               "density": [f"{v:.0%}" for v in traj["density"]],
                               "mass": [f"{v:.0%}" for v in traj["mass"]], "inputs restricted": traj["res_dim"]})
    cart = pd.DataFrame({"rule": d.cart["rule"], "coverage": [f"{v:.0%}" for v in d.cart["coverage"]],
                         "density": [f"{v:.0%}" for v in d.cart["density"]], "cases": d.cart["n"]})
    return "\n".join([
        d.describe(),
        _render(limits_cells(d), fmt_name, title, "quasi-p: chance of a restriction this strong by luck alone."),
        _render(traj_cells, fmt_name, "Peeling trajectory"),
        _render(cart, fmt_name, "CART leaves where the answer is mostly yes"),
    ])


def nothing_to_discover_text(exc: NothingToDiscover, fmt_name: str) -> str:
    """``scenario-sim discover`` output when the answer is the same in every case: the sentence,
    or for ``--format json`` the fields :func:`discovery_text` gives with no box."""
    if fmt_name == "json":
        return json.dumps({"question": exc.question, "outcome": exc.outcome, "cases": exc.points,
                           "labelled": exc.positives, "box": None, "limits": [], "trajectory": [], "cart": [],
                           "note": str(exc)}, indent=2)
    return str(exc)


def sensitivity_cells(res: Sensitivity) -> pd.DataFrame:
    """The indices with formatted cells (one number rule per column)."""
    t = res.indices.reset_index(drop=True)
    out = pd.DataFrame({"set": t["set"], "world": [w or "–" for w in t["world"]], "input": t["input"]})
    if res.method == "morris":
        out["mu*"], f = _ci_column(t, "mu_star", res.unit)
        out["mu"] = [f(x) for x in t["mu"]]
        out["sigma"] = [f(x) for x in t["sigma"]]
    else:
        out["S1"] = _ci_column(t, "S1", "", SHARE_DECIMALS)[0]
        if "ST" in t:
            out["ST"] = _ci_column(t, "ST", "", SHARE_DECIMALS)[0]
    return out


def noise_sentences(res: Sensitivity) -> list[str]:
    out = []
    for r in res.noise.to_dict("records"):
        where = f"{r['set']}{' in world ' + r['world'] if r['world'] else ''}"
        if r["replications"] < 2:
            out.append(f"{where}: replication noise cannot be estimated with {r['replications']:g} replication "
                       "per case; run explore with -n 2 or more before reading these indices as effects.")
            continue
        share = "–" if math.isnan(r["noise_share"]) else f"{r['noise_share']:.1%}"
        need = r["replications_needed"]
        tail = ("enough" if r["resolved"] else f"{need:g} per case would be needed to bring it below the "
                f"smallest index ({r['smallest_index']:.3g})") if not math.isnan(need) else "cannot be judged"
        out.append(f"{where}: replication noise is {share} of the variance of the effect across cases with "
                   f"{r['replications']:g} replications per case; {tail}.")
    return out


def sensitivity_text(res: Sensitivity, fmt_name: str) -> str:
    """``scenario-sim sensitivity`` output."""
    if fmt_name in ("csv", "json"):
        if fmt_name == "csv":
            return _raw(res.indices, "csv")
        return json.dumps({"outcome": res.outcome, "method": res.method,
                           "indices": json.loads(res.indices.to_json(orient="records")),
                           "noise": json.loads(res.noise.to_json(orient="records"))}, indent=2)
    what = {"sobol": "Sobol indices (Saltelli design)", "morris": "Morris elementary effects",
            "rbd_fast": "first-order indices (RBD-FAST, given data)"}[res.method]
    title = f"{what} of each set's paired difference from the baseline in {res.outcome} ({res.unit})"
    sentences = noise_sentences(res)
    if fmt_name == "table":
        from scenario_sim.report.table import terminal_width

        sentences = [textwrap.fill(x, terminal_width()) for x in sentences]
    return "\n".join([_render(sensitivity_cells(res), fmt_name, title, interval_note(res)), *sentences])


def interval_note(res: Sensitivity) -> str:
    """What the intervals of the sensitivity table are."""
    if res.method != "morris":
        return "95% bootstrap intervals (SALib)."
    clipped = bool(res.indices["mu_star_clipped"].any()) if "mu_star_clipped" in res.indices else False
    return ("mu*: 95% interval mu* ± 1.96 × its bootstrap standard error (SALib's normal approximation)"
            + (", its lower end clipped at 0 because mu* (a mean absolute effect) cannot be negative; a "
               "lower end of 0 means mu* is within two standard errors of 0: weak evidence that the input "
               "matters at all." if clipped else "."))


# --------------------------------------------------------------------------- report


def _e(x: Any) -> str:
    return html.escape(str(x))


def _html_table(frame: pd.DataFrame) -> str:
    from scenario_sim.report.html import _table

    return _table(list(frame.columns), [list(r) for r in frame.itertuples(index=False)])


def _prim_plot(d: Discovery) -> Any:
    fig, (a, b) = plt.subplots(1, 2, figsize=(9.5, 3.4))
    t = d.trajectory
    sc = a.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="Greys", edgecolors="black", s=22)
    chosen = t[t["id"] == d.box_id]
    a.scatter(chosen["coverage"], chosen["density"], marker="s", s=90, facecolors="none", edgecolors="black")
    a.set_xlabel("coverage (share of labelled cases inside)")
    a.set_ylabel("density (share inside that are labelled)")
    a.set_title("peeling trajectory (square: reported box)")
    fig.colorbar(sc, ax=a, label="inputs restricted")
    labels = []
    for i, r in enumerate(d.limits.to_dict("records")):
        labels.append(str(r["input"]))
        b.plot([0, 1], [i, i], color="#bbbbbb", linewidth=6)
        if r["categories"]:  # a categorical input (the world): name the values kept
            b.plot([0, 1], [i, i], color="black", linewidth=6)
            b.text(0.5, i + 0.25, f"only {r['categories']}", fontsize=7, ha="center")
            continue
        span = (r["full_high"] - r["full_low"]) or 1.0
        lo, hi = (r["low"] - r["full_low"]) / span, (r["high"] - r["full_low"]) / span
        b.plot([lo, hi], [i, i], color="black", linewidth=6)
        b.text(lo, i + 0.25, f"{r['low']:.3g}", fontsize=7)
        b.text(hi, i + 0.25, f"{r['high']:.3g}", fontsize=7, ha="right")
    b.set_yticks(range(len(labels)), labels)
    b.set_xlim(-0.02, 1.02)
    b.set_ylim(-0.7, max(0.7, len(labels) - 0.3))
    b.set_xlabel("position within the sampled range (0 = low end, 1 = high end)")
    b.set_title("box limits (black) within each input's range (grey)")
    return fig


def _sensitivity_plot(res: Sensitivity) -> Any:
    worlds = list(dict.fromkeys(res.indices["world"]))
    shown = "all" if "all" in worlds else worlds[0]  # the world-weighted effect when there are several
    sub = res.indices[res.indices["world"] == shown]
    sets = list(dict.fromkeys(sub["set"]))
    inputs = list(dict.fromkeys(sub["input"]))
    fig, axes = plt.subplots(len(sets), 1, figsize=(8, 0.28 * len(inputs) * len(sets) + 1.0 * len(sets)),
                             squeeze=False)
    col = "mu_star" if res.method == "morris" else ("ST" if "ST" in sub else "S1")
    for ax, s in zip(axes[:, 0], sets, strict=True):
        rows = sub[sub["set"] == s].set_index("input").reindex(inputs)
        y = np.arange(len(inputs))
        if col != "S1" and "S1" in rows:
            ax.barh(y + 0.2, rows["S1"], height=0.4, color="#999999", label="first order S1")
        # asymmetric error bars: mu*'s interval is clipped at 0 (see interval_note)
        err = np.vstack([rows[col] - rows[f"{col}_low"], rows[f"{col}_high"] - rows[col]])
        ax.barh(y - (0.2 if "S1" in rows and col != "S1" else 0), rows[col], height=0.4, color="black",
                xerr=err, ecolor="#555555", label={"ST": "total ST", "S1": "first order S1",
                                                                   "mu_star": "mu*"}[col])
        ax.set_yticks(y, inputs)
        ax.invert_yaxis()
        if rows[col].isna().all():
            ax.text(0.5, 0.5, "the effect does not vary across cases: no indices", transform=ax.transAxes,
                    ha="center", va="center")
        ax.set_title(f"{s}: effect on {res.outcome} vs baseline" + (f" (world: {shown})" if shown else ""))
        ax.set_xlabel("share of variance" if col != "mu_star" else f"{res.unit} per step")
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig


def conclusions_paragraph(run: EnsembleRun, outcome: str, sets: list[str]) -> str:
    """Which sets beat the baseline in every world, and which only in some (plain language)."""
    from scenario_sim.analysis.ensemble import better_sign, paired_point_stats

    meta = run.outcome(outcome)
    sign = better_sign(meta)
    everywhere, some, nowhere = [], [], []
    for s in sets:
        if s == run.baseline:
            continue
        d = paired_point_stats(run, outcome, s, run.baseline)
        by_world = (sign * d["diff"]).groupby(level="world").mean()
        good = [str(w) or "the only world" for w, v in by_world.items() if v > 0]
        if len(good) == len(by_world):
            everywhere.append(s)
        elif good:
            some.append(f"{s} (only in {', '.join(good)})")
        else:
            nowhere.append(s)
    worlds = [w for w in run.worlds if w]
    scope = f"every world ({', '.join(worlds)})" if len(worlds) > 1 else "the one world explored"
    parts = [f"On average over cases, these sets reduce {outcome} against the baseline in {scope}: "
             f"{', '.join(everywhere) or 'none'}."] if meta.direction == "lower" else [
             f"On average over cases, these sets improve {outcome} over the baseline in {scope}: "
             f"{', '.join(everywhere) or 'none'}."]
    if some:
        parts.append("These depend on the world: " + "; ".join(some) + ".")
    if nowhere:
        parts.append(f"No better than the baseline in any world: {', '.join(nowhere)}.")
    if len(worlds) <= 1:
        parts.append("With a single world, this says nothing about structural assumptions on adversary "
                     "behaviour; run explore with --worlds to test them.")
    return " ".join(parts)


def _robust_section(run: EnsembleRun, outcome: str) -> str:
    rb = robustness(run, outcome)
    voi = value_of_information(run, outcome)
    return (f"<h3>{_e(outcome)} ({_e(rb.unit)}, {_e(rb.direction)} is better)</h3>"
            + _html_table(robustness_cells(rb))
            + f"<p>{_e(choice_sentence(rb))}</p>"
            + (f"<p class=muted>Satisficing threshold: {_e(rb.threshold)}.</p>" if rb.threshold else "")
            + "<h4>Value of information</h4>" + _html_table(voi_cells(voi)))


def _discovery_section(run: EnsembleRun, outcome: str, plots_dir: Path) -> str:
    out = []
    for s in run.sets[1:]:
        try:
            d = discover(run, s, outcome, versus=run.baseline)
        except NothingToDiscover as exc:
            out.append(f"<p>{_e(exc)}</p>")
            continue
        img = plots.save(_prim_plot(d), plots_dir / f"prim_{s}_{outcome}.png")
        from scenario_sim.report.html import _img

        out.append(f"<h4>{_e(d.question)}</h4><p>{_e(d.describe())}</p>" + _html_table(limits_cells(d))
                   + _img(img, f"PRIM for {s}"))
    return "".join(out)


def explore_sections(run: EnsembleRun, plots_dir: Path) -> list[str]:
    """The report sections of an explore run (HTML fragments)."""
    outcome = run.primary
    keys = [k for k in dict.fromkeys([outcome, *run.key]) if k in run.outcomes
            and run.outcomes[k].direction != "none" and k in run.frame.columns]
    sections = ["<h2>Which conclusions hold</h2><p>" + _e(conclusions_paragraph(run, outcome, run.sets)) + "</p>"]
    sections.append("<h2>Robustness across cases and worlds</h2>" + "".join(_robust_section(run, k) for k in keys))
    sections.append(f"<h2>When does each set beat the baseline on {_e(outcome)}? (PRIM)</h2>"
                    + _discovery_section(run, outcome, plots_dir))
    try:
        res = sensitivity(run, outcome)
    except UserError as exc:
        sections.append(f"<h2>Sensitivity</h2><p>{_e(exc)}</p>")
    else:
        img = plots.save(_sensitivity_plot(res), plots_dir / f"sensitivity_{outcome}.png")
        from scenario_sim.report.html import _img

        sections.append("<h2>Which inputs drive each set's benefit</h2>" + _html_table(sensitivity_cells(res))
                        + f"<p class=muted>{_e(interval_note(res))}</p>"
                        + _img(img, "sensitivity") + "".join(f"<p>{_e(s)}</p>" for s in noise_sentences(res)))
    return sections


def explore_report_html(run_dir: str | Path, plots_dir: Path) -> str:
    """The report of an explore run as one HTML document (plots embedded, and written to ``plots_dir``)."""
    from scenario_sim.report.html import CSS

    run = load_ensemble(run_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    m = run.manifest
    name = str(m.get("scenario", {}).get("name", run.path.name))
    ex = run.sampler
    facts = [("scenario", name), ("cases", f"{len(run.cases)} ({ex.get('sampler', '?')} sampling)"),
             ("uncertain inputs", ", ".join(run.inputs)),
             ("worlds", ", ".join(f"{w or '(one world)'} ({v:.0%})" for w, v in run.world_weights.items())),
             ("sets", ", ".join(run.sets)), ("master seed", m.get("seed"))]
    what = "<h2>What was run</h2><dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>"
    body = [what, *explore_sections(run, plots_dir),
            "<h2>Limits</h2><p class=warn>Case means carry replication noise, which inflates maximum regret and "
            "value of information; PRIM boxes describe where things happen in the sampled ranges, not why. "
            "See docs/deep-uncertainty.md.</p>"]
    title = f"scenario-sim explore report: {name}"
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1><p class=muted>Run folder: {_e(run.path)}</p>{''.join(body)}</body></html>")


def write_explore_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """``report.html`` and ``plots/`` for an explore run, in ``out`` (default: the run folder,
    which must then be writable); returns the report's path."""
    target = Path(out) if out is not None else Path(run_dir)
    if out is None and not runs.writable(target):
        from scenario_sim.errors import ResultsError

        raise ResultsError(f"{target}: read-only run folder; give an output folder (report --out DIR) "
                           "or --out - for standard output")
    target.mkdir(parents=True, exist_ok=True)
    doc = explore_report_html(run_dir, target / runs.PLOTS)
    path = target / runs.REPORT
    runs.atomic_write_text(path, doc)
    return path


def explore_report_command(run_dir: str | Path, out: str | None) -> tuple[str, list[str]]:
    """``scenario-sim report`` of an explore run, with the same ``--out`` rules as a plain run:
    a folder, ``-`` for standard output, or None (the run folder, unless read-only: then
    standard output, with a note)."""
    import tempfile

    notes: list[str] = []
    if out == "-" or (out is None and not runs.writable(Path(run_dir))):
        if out is None:
            notes.append(f"note: {run_dir} is read-only; the report goes to standard output "
                         "(give --out DIR to write report.html and plots/ there)")
        with tempfile.TemporaryDirectory() as tmp:  # the plots are embedded in the page
            return explore_report_html(run_dir, Path(tmp)), notes
    return str(write_explore_report(run_dir, out)), notes
