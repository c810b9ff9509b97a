"""The placebo split in the terminal and the report (numbers: :mod:`scenario_sim.analysis.placebo`)."""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from scenario_sim.report.costs import _html_table, _plain
from scenario_sim.report.table import fmt

NOTE = ("Paired on common random numbers: total = set minus baseline; from firing at all = placebo minus "
        "baseline (the rule fired on as many random non-contact days); from firing on contacts = set minus "
        "placebo; share from contacts = on contacts / total, delta-method interval. 95% t intervals, "
        "Bonferroni-adjusted over every interval of the table. Burden raised: raised-readiness nights for a "
        "readiness rule (early-warning firings included), alert nights for civil defence. Placebo twins are "
        "controls: they take no part in P(best), cost-effectiveness or the best under the objective.")


def _cell(r: Any, key: str) -> str:
    return f"{fmt(r[key])} [{fmt(r[key + '_low'])}, {fmt(r[key + '_high'])}]"


_BURDEN_LABEL = {"burden.raised_readiness_nights": "raised-readiness nights",
                 "burden.alert_nights": "alert nights"}


def _share(r: Any) -> str:
    share = r["share_from_contacts"]
    if math.isnan(share):
        return "–"
    cell = f"{share:.0%}"
    if not math.isnan(r.get("share_low", math.nan)):
        cell += f" [{r['share_low']:.0%}, {r['share_high']:.0%}]"
    return cell if r.get("share_reliable", True) else f"{cell} (total ≈0)"


def placebo_rows(table: pd.DataFrame) -> list[dict[str, str]]:
    """One row per set with contact rules: the total, its two parts, the share from contacts
    and the burden each of its rules raises (set / placebo: the placebo fired as often)."""
    rows = []
    for r in table.to_dict("records"):
        row = {"set": str(r["set"]), "rules": str(r["rules"]), "total [95% CI]": _cell(r, "total"),
               "from firing at all": _cell(r, "at_all"), "from firing on contacts": _cell(r, "on_contacts"),
               "share from contacts [95% CI]": _share(r)}
        wanted = [b for b in str(r.get("burden") or "").split(", ") if b]
        row["burden raised (set / placebo)"] = "; ".join(
            f"{_BURDEN_LABEL.get(b, b)} {fmt(r[b + '.set'])} / {fmt(r[b + '.placebo'])}"
            for b in wanted if b + ".set" in r) or "–"
        rows.append(row)
    return rows


def render_placebo(table: pd.DataFrame, markdown: bool = False) -> str:
    """The placebo table as plain text (after the ranking), or Markdown with ``markdown``."""
    if table.empty:
        return ""
    outcome = str(table["outcome"].iloc[0])
    head = f"Placebo control of the contact rules, on {outcome}:"
    return "\n".join(["", f"**{head}**" if markdown else head, _plain(placebo_rows(table), markdown), NOTE])


def placebo_section(c: Any) -> str:
    """Report section of a run made with --placebo (nothing otherwise)."""
    from scenario_sim.analysis.placebo import placebo_pairs, placebo_table

    if not placebo_pairs(c.data):
        return ""
    table = placebo_table(c.data, c.rank_by)
    return (f"<h2>Contact rules against chance: placebo control on {html.escape(c.rank_by)}</h2>"
            "<p>Each rule that fires on leader contacts was also run fired on as many random days without a "
            "contact. Its benefit splits into what firing at all gives and what firing on the contact adds.</p>"
            + _html_table(placebo_rows(table)) + f"<p class=muted>{html.escape(NOTE)}</p>")
