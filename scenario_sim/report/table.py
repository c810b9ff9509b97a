"""The ranked comparison as a terminal table (rich), CSV, JSON or Markdown."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported by the caller; registering the CLI must stay light
    import pandas as pd

FORMATS = ("table", "csv", "json", "markdown")
ZERO_MARK = "≈0"


def fmt(x: Any, unit: str = "") -> str:
    """A number with sensible precision for a planner's table."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if unit == "USD":
        for div, suf in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
            if abs(x) >= div:
                return f"${x / div:,.2f}{suf}"
        return f"${x:,.0f}"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:,.1f}"
    if ax >= 0.01 or ax == 0:
        return f"{x:.3f}"
    return f"{x:.2e}"


def diff_cell(r: Mapping[Any, Any]) -> str:
    """'difference [low, high]' for a comparison row (empty for the baseline)."""
    if r["set"] == "baseline":
        return ""
    u = str(r["unit"])
    return f"{fmt(r['diff'], u)} [{fmt(r['ci_low'], u)}, {fmt(r['ci_high'], u)}]"


def _rows(ranked: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for r in ranked.to_dict("records"):
        base = r["set"] == "baseline"
        rel = float(r["relative_change"])
        out.append({
            "rank": r["rank"], "set": r["set"], "mean": fmt(r["mean"], str(r["unit"])),
            "difference [95% CI]": diff_cell(r) or "(reference)",
            "change": "" if base else (f"{rel:+.1%}" if not math.isnan(rel) else "–"),
            "P(beats baseline)": "" if base else f"{r['p_beat_baseline']:.2f}",
            "P(best)": f"{r['p_best']:.2f}",
            "": (ZERO_MARK if (not base and r["ci_includes_zero"]) else ""),
        })
    return out


def render(ranked: pd.DataFrame, fmt_name: str, title: str, note: str) -> str:
    """The ranking in the requested format (``table`` is for terminals)."""
    if fmt_name == "csv":
        return str(ranked.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    if fmt_name == "json":
        from scenario_sim.analysis.compare import to_json  # scipy: imported only when printing

        return to_json(ranked)
    rows = _rows(ranked)
    if fmt_name == "markdown":
        cols = list(rows[0]) if rows else []
        lines = [f"**{title}**", "", "| " + " | ".join(c or "note" for c in cols) + " |",
                 "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
        lines += ["", note]
        return "\n".join(lines)
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, caption=note, caption_justify="left")
    for c in rows[0] if rows else []:
        t.add_column(c or " ", justify="right" if c not in ("set",) else "left")
    for r in rows:
        t.add_row(*[str(v) for v in r.values()], style="bold" if r["rank"] == 1 else None)
    console = Console(width=140, record=True, force_terminal=False)
    with console.capture() as cap:
        console.print(t)
    return cap.get()


def caption(ranked: pd.DataFrame, n: int, sets: int) -> str:
    adj = str(ranked["adjustment"].iloc[0]) if len(ranked) else ""
    return (f"{n} paired replications per set; differences are set minus baseline on common random numbers; "
            f"95% intervals, {adj}. {ZERO_MARK}: the interval includes zero (no clear difference).")
