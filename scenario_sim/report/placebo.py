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
        "placebo. 95% t intervals, Bonferroni-adjusted over every interval of the table.")


def _cell(r: Any, key: str) -> str:
    return f"{fmt(r[key])} [{fmt(r[key + '_low'])}, {fmt(r[key + '_high'])}]"


def placebo_rows(table: pd.DataFrame) -> list[dict[str, str]]:
    """One row per set with contact rules: the total and its two parts."""
    rows = []
    for r in table.to_dict("records"):
        share = r["share_from_contacts"]
        row = {"set": str(r["set"]), "rules": str(r["rules"]), "total [95% CI]": _cell(r, "total"),
               "from firing at all": _cell(r, "at_all"), "from firing on contacts": _cell(r, "on_contacts"),
               "share from contacts": "–" if math.isnan(share) else f"{share:.0%}"}
        if "burden.alert_nights.set" in r:
            row["alert nights (set / placebo)"] = (f"{fmt(r['burden.alert_nights.set'])} / "
                                                   f"{fmt(r['burden.alert_nights.placebo'])}")
        rows.append(row)
    return rows


def render_placebo(table: pd.DataFrame) -> str:
    """The placebo table as plain text (after the ranking)."""
    if table.empty:
        return ""
    outcome = str(table["outcome"].iloc[0])
    return "\n".join(["", f"Placebo control of the contact rules, on {outcome}:", _plain(placebo_rows(table)), NOTE])


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
