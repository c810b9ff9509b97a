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


# Terminal columns, most important first.  When the table is wider than the terminal the
# columns at the end of this list go first (the CSV and JSON formats keep every statistic).
_PRIORITY = ("set", "difference [95% CI]", "mean", "P(better)", "rank", "P(best)", "change")


def _rows(ranked: pd.DataFrame) -> list[dict[str, str]]:
    out = []
    for r in ranked.to_dict("records"):
        base = r["set"] == "baseline"
        rel = float(r["relative_change"])
        diff = diff_cell(r)
        if diff and r["ci_includes_zero"]:
            diff += f" {ZERO_MARK}"
        out.append({
            "rank": str(r["rank"]), "set": str(r["set"]), "mean": fmt(r["mean"], str(r["unit"])),
            "difference [95% CI]": diff or "(reference)",
            "change": "" if base else (f"{rel:+.1%}" if not math.isnan(rel) else "–"),
            "P(better)": "" if base else f"{r['p_beat_baseline']:.2f}",
            "P(best)": f"{r['p_best']:.2f}",
        })
    return out


def terminal_width() -> int:
    """The terminal's width (``COLUMNS`` when set; 100 when output is not a terminal)."""
    import shutil

    return shutil.get_terminal_size(fallback=(100, 24)).columns


def _rich_table(rows: list[dict[str, str]], cols: list[str], title: str, note: str, width: int) -> str:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, caption=note, caption_justify="left")
    for c in cols:
        t.add_column(c, justify="left" if c == "set" else "right", no_wrap=True)
    for r in rows:
        t.add_row(*[r[c] for c in cols], style="bold" if r["rank"] == "1" else None)
    console = Console(width=width, record=True, force_terminal=False, soft_wrap=False)
    with console.capture() as cap:
        console.print(t)
    return cap.get()


def _natural_width(rows: list[dict[str, str]], cols: list[str]) -> int:
    """Width of the table's rows with the default box: each column is padded by one space
    on each side and separated by one rule character, with a rule at each edge."""
    return sum(max(len(c), *(len(r[c]) for r in rows)) + 3 for c in cols) + 1


def fit_columns(rows: list[dict[str, str]], width: int) -> tuple[list[str], list[str]]:
    """(columns shown in table order, columns dropped) so that the rows fit in ``width``."""
    order = list(rows[0]) if rows else []
    keep = list(_PRIORITY)
    while len(keep) > 2 and _natural_width(rows, [c for c in order if c in keep]) > width:
        keep.pop()
    return [c for c in order if c in keep], [c for c in _PRIORITY if c not in keep]


def render(ranked: pd.DataFrame, fmt_name: str, title: str, note: str, width: int | None = None) -> str:
    """The ranking in the requested format (``table`` is for terminals, ``width`` columns
    wide: by default the terminal's)."""
    if fmt_name == "csv":
        return str(ranked.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    if fmt_name == "json":
        from scenario_sim.analysis.compare import to_json  # scipy: imported only when printing

        return to_json(ranked)
    rows = _rows(ranked)
    if fmt_name == "markdown":
        cols = list(rows[0]) if rows else []
        lines = [f"**{title}**", "", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(r[c] for c in cols) + " |" for r in rows]
        lines += ["", note]
        return "\n".join(lines)
    w = width if width is not None else terminal_width()
    cols, dropped = fit_columns(rows, w)
    if dropped:
        note += f" Not shown at this width: {', '.join(dropped)} (--format csv gives every statistic)."
    return _rich_table(rows, cols, title, note, w)


def caption(ranked: pd.DataFrame, n: int, sets: int) -> str:
    """The table's footnote: what the numbers are (and nothing the table does not show)."""
    k = max(0, sets - 1)
    adj = (f"Bonferroni-adjusted for the {k} sets compared" if k > 1 else "not adjusted (one set compared)")
    return (f"{n} paired replications per set; difference = set minus baseline on common random numbers, "
            f"95% interval {adj}. {ZERO_MARK}: the interval includes zero (no clear difference). "
            "P(better): share of replications in which the set did better than the baseline; "
            "P(best): share in which it was best of all sets.")
