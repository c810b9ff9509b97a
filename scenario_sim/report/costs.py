"""Costs in the terminal and in the report: cost-effectiveness, the objective, the constraints.

The numbers come from :mod:`scenario_sim.analysis.costs`; this module only lays them out.
The report section (:func:`costs_section`) is registered in ``report.html.SECTIONS``.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from scenario_sim.report.table import ColumnFormat, column_format, fmt, markdown_table


def _rule(frame: pd.DataFrame, col: str, low: str, high: str, unit: str = "") -> ColumnFormat:
    """One number rule for a column of estimates with intervals (docs/statistics.md, "How numbers are shown")."""
    return column_format([*frame[col], *frame[low], *frame[high]], (frame[high] - frame[low]) / 2, unit)


def ratio_cell(r: Any, f: ColumnFormat | None = None) -> str:
    """'ratio [low, high]' per $1M, or why there is none (``f``: the column's number rule)."""
    if math.isnan(float(r["per_musd"])):
        return str(r["method"])
    f = f or column_format([r["per_musd"]], [(r["per_musd_high"] - r["per_musd_low"]) / 2])
    cell = f"{f(r['per_musd'])}"
    if not math.isnan(float(r["per_musd_low"])):
        cell += f" [{f(r['per_musd_low'])}, {f(r['per_musd_high'])}]"
    return cell


def cost_rows(ce: pd.DataFrame, names: dict[str, str] | None = None) -> list[dict[str, str]]:
    """One row per set: added cost and each benefit per $1M (one number rule per column);
    ``names`` maps set names to the names shown (a frontier's bundles: ``a + b``)."""
    names = names or {}
    rows: dict[str, dict[str, str]] = {}
    per = {b: _rule(ce[ce["benefit"] == b], "per_musd", "per_musd_low", "per_musd_high") for b in set(ce["benefit"])}
    for r in ce.to_dict("records"):
        # added costs span $10m to $5bn: each is scaled (k, m, bn) on its own, with its own interval's rule
        cost = column_format([r["cost_diff"], r["cost_diff_low"], r["cost_diff_high"]],
                             [(r["cost_diff_high"] - r["cost_diff_low"]) / 2 if r["cost_stochastic"] else 0.0], "USD")
        row = rows.setdefault(str(r["set"]), {
            "set": names.get(str(r["set"]), str(r["set"])),
            "added cost [95% CI]": (f"{cost(r['cost_diff'])}" + (
                f" [{cost(r['cost_diff_low'])}, {cost(r['cost_diff_high'])}]"
                if r["cost_stochastic"] else " (fixed)"))})
        row[str(r["benefit"])] = ratio_cell(r, per[r["benefit"]])
    return list(rows.values())


def objective_rows(obj: pd.DataFrame, names: dict[str, str] | None = None) -> list[dict[str, str]]:
    """One row per set: objective, difference from the baseline, constraints (one number rule for
    the objective and its difference); ``names`` as for :func:`cost_rows`."""
    names = names or {}
    out = []
    sets = obj[obj["set"] != "baseline"]
    f = column_format([*obj["objective"], *sets["objective_diff"], *sets["objective_low"], *sets["objective_high"]],
                      (sets["objective_high"] - sets["objective_low"]) / 2)
    for r in obj.to_dict("records"):
        diff = "" if r["set"] == "baseline" or math.isnan(float(r["objective_diff"])) else (
            f"{f(r['objective_diff'])} [{f(r['objective_low'])}, {f(r['objective_high'])}]")
        out.append({"set": names.get(str(r["set"]), str(r["set"])), "objective": f(r["objective"]),
                    "vs baseline [95% CI]": diff,
                    "constraints": "met" if r["feasible"] else f"broken: {r['violations']}",
                    "best": "best" if r["best"] else "control (placebo)" if r.get("control") else ""})
    return out


def _plain(rows: list[dict[str, str]], markdown: bool = False) -> str:
    """Rows as fixed-width text for the terminal, or as a Markdown table (``compare --format markdown``)."""
    if markdown:
        return "\n" + markdown_table(rows) + "\n"
    cols = list(rows[0])
    w = {c: max(len(c), *(len(r.get(c, "")) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(w[c]) for c in cols)]
    lines += ["  ".join(r.get(c, "").ljust(w[c]) for c in cols) for r in rows]
    return "\n".join(lines)


METHOD_NOTE = ("Ratios are mean benefit over mean added cost (paired on common random numbers), 95% intervals "
               "Bonferroni-adjusted for the sets compared: a t interval over a fixed cost, or the delta method "
               "when the cost varies between replications (docs/statistics.md).")


def render_costs(ce: pd.DataFrame | None, obj: pd.DataFrame | None, unit: str = "",
                 names: dict[str, str] | None = None, markdown: bool = False) -> str:
    """The cost tables as plain text for the terminal, or Markdown with ``markdown`` (empty when
    the run has no costs); ``names`` as for :func:`cost_rows` (given for a frontier run, which
    also gets the note on why the best under the objective and the best under a budget can differ)."""
    from scenario_sim.analysis.frontier import CRITERIA_NOTE

    names = names or {}
    parts = [""] if markdown else []  # a blank line: Markdown would run the heading into the note above
    bold = "**" if markdown else ""
    if ce is not None and len(ce):
        parts += [f"{bold}Cost-effectiveness against the baseline (per $1M of added cost){bold}",
                  _plain(cost_rows(ce, names), markdown), METHOD_NOTE]
    if obj is not None and len(obj):
        best = obj.loc[obj["best"], "set"]
        head = f"{bold}Objective ({unit or obj['unit'].iloc[0]}, lower is better) and constraints{bold}"
        parts += ["", head, _plain(objective_rows(obj, names), markdown),
                  f"Best under the objective among the sets that meet every constraint: "
                  f"{names.get(best.iloc[0], best.iloc[0]) if len(best) else 'none (no set meets every constraint)'}."]
        if names:
            parts.append(CRITERIA_NOTE)
    return "\n".join(parts)


def _html_table(rows: list[dict[str, str]]) -> str:
    cols = list(dict.fromkeys(c for r in rows for c in r))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(r.get(c, ''))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def costs_section(c: Any) -> str:
    """Report section: cost-effectiveness, objective and constraints (nothing if the run has no costs)."""
    from scenario_sim.analysis import costs

    data = c.data
    if not costs.has_costs(data):
        return ""
    from scenario_sim.analysis.frontier import CRITERIA_NOTE, display_names

    names = display_names(data.path)
    ce = costs.cost_effectiveness(data)
    obj = costs.read_objectives(data.path)
    parts = ["<h2>Costs and cost-effectiveness</h2>", _html_table(cost_rows(ce, names)),
             f"<p class=muted>{html.escape(METHOD_NOTE)} A set that costs no more than the baseline has no "
             "ratio; the table says so instead of dividing by zero.</p>"]
    if obj is not None:
        table = costs.objective_table(data, obj, c.rank_by)
        best = table.loc[table["best"], "set"]
        parts += [f"<h3>Objective ({html.escape(obj.unit)}, lower is better) and constraints</h3>",
                  _html_table(objective_rows(table, names)),
                  "<p>Best under the objective among the sets that meet every constraint: <b>"
                  + html.escape(names.get(str(best.iloc[0]), str(best.iloc[0])) if len(best)
                                else "none (no set meets every constraint)")
                  + "</b>.</p>" + (f"<p class=muted>{html.escape(CRITERIA_NOTE)}</p>" if names else "")]
    return "".join(parts)


def frontier_section(c: Any) -> str:
    """Report section of a frontier run (``scenario-sim frontier``): the plot, frontier, budgets, interactions."""
    from scenario_sim import frontier_cli
    from scenario_sim.analysis import frontier as fr
    from scenario_sim.report.frontier_plot import frontier_figure

    if not fr.is_frontier_run(c.data.path):
        return ""
    f = fr.analyse(c.data.path)
    img = c.image(fr.FRONTIER_PNG, frontier_figure(f), "Pareto frontier of harm against cost")
    on = f.bundles[f.bundles["on_frontier"]].sort_values("cost")
    rule = frontier_cli._column(on, ("harm", "diff"))
    frontier_rows = [{"bundle": str(r["items"]), "mean cost": fmt(r["cost"], "USD"),
                      f"mean {f.outcome}": rule(r["harm"]),
                      "difference from baseline [95% CI]": frontier_cli._interval(r, f=rule)}
                     for r in on.to_dict("records")]
    budget_rows = frontier_cli.budget_rows(f)
    inter = f.interactions
    inter_rows = frontier_cli.interaction_rows(f)
    parts = [f"<h2>Bundle frontier: {len(f.bundles)} bundles of {len(f.items)} sets</h2>", img,
             "<h3>Pareto frontier</h3>", _html_table(frontier_rows), "<h3>Best bundle under each budget</h3>",
             _html_table(budget_rows), f"<p class=muted>{html.escape(f.multiplicity())}</p>",
             f"<h3>Interactions beyond noise ({len(inter)} pairs, Holm-adjusted)</h3>",
             _html_table(inter_rows) if inter_rows else "<p>None: every pair's joint effect is the sum of its single "
             "effects within noise.</p>",
             f"<p class=muted>{html.escape(f.interaction_note())}</p>"]
    return "".join(parts)
