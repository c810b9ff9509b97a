"""The ranked comparison as a terminal table (rich), CSV, JSON or Markdown."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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
        # the sign goes before the currency sign (-$13.65m, not $-13.65m); no "-$0"
        sign = "-" if round(float(x)) < 0 else ""
        for div, suf in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
            if abs(x) >= div:
                return f"{sign}${abs(x) / div:,.2f}{suf}"
        return f"{sign}${abs(x):,.0f}"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:,.1f}"
    if ax >= 0.01 or ax == 0:
        return f"{x:.3f}"
    return f"{x:.2e}"


_USD_STEPS = ((1e9, "bn"), (1e6, "m"), (1e3, "k"))
MAX_DECIMALS = 8


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


# What every interval of a run does and does not cover, said once for the terminal, the report
# and the brief (three wordings of it once contradicted docs/statistics.md).
INTERVAL_SCOPE = ("The intervals measure simulation noise with the scenario's inputs held as written, including the "
                  "draws it writes as distributions (the surge probability, growth shocks); they do not cover "
                  "whether those assumptions are right (whether contacts trigger surges at all, sanction effect "
                  "sizes, how fast production grows, interceptor stocks: docs/uncertain-inputs.md).")


@dataclass(frozen=True)
class ColumnFormat:
    """One display rule for every number of a column (see :func:`column_format`)."""

    decimals: int
    unit: str = ""
    divisor: float = 1.0
    suffix: str = ""

    def __call__(self, x: Any) -> str:
        if not _finite(x):
            return "–"
        v = float(x) / self.divisor
        if round(v, self.decimals) == 0:
            v = 0.0  # no "-0.0": a value that rounds to zero has no sign
        if self.unit == "USD":
            return f"{'-' if v < 0 else ''}${abs(v):,.{self.decimals}f}{self.suffix}"
        return f"{v:,.{self.decimals}f}"


def column_format(values: Iterable[Any], half_widths: Iterable[Any], unit: str = "",
                  decimals: tuple[int, int] = (0, MAX_DECIMALS)) -> ColumnFormat:
    """The rule for a column of estimates with intervals: fixed decimals for the whole column,
    enough to show the narrowest non-zero interval half-width with two significant digits
    (``decimals = 1 - floor(log10(min half-width))``, 0 to 8).  Without any such interval, three
    significant digits of the largest value.  USD columns are scaled once for the column
    (k, m, bn after the largest value).  ``decimals`` bounds the result (shares such as Sobol
    indices keep 2 to 3 whatever their intervals).  docs/statistics.md, "How numbers are shown"."""
    vals = [abs(float(v)) for v in values if _finite(v)]
    hws = [float(h) for h in half_widths if _finite(h) and float(h) > 0]
    div, suf = 1.0, ""
    if unit == "USD":
        top = max(vals, default=0.0)
        div, suf = next(((d, s) for d, s in _USD_STEPS if top >= d), (1.0, ""))
    if hws:
        dec = 1 - math.floor(math.log10(min(hws) / div))
    else:
        top = max(vals, default=0.0) / div
        dec = 2 - math.floor(math.log10(top)) if top > 0 else 0
    return ColumnFormat(max(decimals[0], min(decimals[1], dec)), unit, div, suf)


def row_format(r: Mapping[Any, Any]) -> ColumnFormat:
    """The rule for one row's difference and interval on their own (a side-effect note)."""
    return column_format([r["diff"], r["ci_low"], r["ci_high"]], [(r["ci_high"] - r["ci_low"]) / 2],
                         str(r["unit"]))


def ranking_format(ranked: pd.DataFrame, reference: str = "baseline") -> ColumnFormat:
    """The rule shared by the mean and difference columns of a ranking (or comparison): the
    rows other than ``reference`` have a difference and an interval."""
    sets = ranked[ranked["set"] != reference]
    unit = str(ranked["unit"].iloc[0]) if len(ranked) else ""
    return column_format([*ranked["mean"], *sets["diff"], *sets["ci_low"], *sets["ci_high"]],
                         (sets["ci_high"] - sets["ci_low"]) / 2, unit)


def interval_cell(r: Mapping[Any, Any], f: ColumnFormat | None = None) -> str:
    """'difference [low, high]' for a row with diff, ci_low, ci_high and unit (``f``: the
    column's rule; by default the row's own)."""
    f = f or row_format(r)
    return f"{f(r['diff'])} [{f(r['ci_low'])}, {f(r['ci_high'])}]"


def diff_cell(r: Mapping[Any, Any], f: ColumnFormat | None = None) -> str:
    """'difference [low, high]' for a comparison row (empty for the baseline)."""
    return "" if r["set"] == "baseline" else interval_cell(r, f)


# Terminal columns, most important first.  When the table is wider than the terminal the
# columns at the end of this list go first (the CSV and JSON formats keep every statistic).
BTW = "% b/t/w"
_PRIORITY = ("set", "difference [95% CI]", "mean", BTW, "worse on", "vs leader", "rank", "P(best)", "change")


def better_tied_worse(r: Mapping[Any, Any], percent: bool = False) -> str:
    """The shares of replications better / tied / worse than the reference, for one row."""
    vals = (r["p_better"], r["p_tied"], r["p_worse"])
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in vals):
        return "–"
    if percent:
        return "/".join(f"{100 * float(v):.0f}" for v in vals)
    return " / ".join(f"{float(v):.2f}" for v in vals)


def side_effect_notes(flagged: pd.DataFrame) -> dict[str, str]:
    """Per set, its side effects as 'outcome +diff [low, high]; ...' (from pairwise.side_effects)."""
    out: dict[str, list[str]] = {}
    for r in flagged.to_dict("records"):
        out.setdefault(str(r["set"]), []).append(f"{r['outcome']} {diff_cell(r)}")
    return {k: "; ".join(v) for k, v in out.items()}


def _rows(ranked: pd.DataFrame, tied: set[str] | None = None,
          side: dict[str, str] | None = None) -> list[dict[str, str]]:
    out = []
    leader = str(ranked["set"].iloc[0]) if len(ranked) else ""
    f = ranking_format(ranked)
    for r in ranked.to_dict("records"):
        name = str(r["set"])
        base = name == "baseline"
        rel = float(r["relative_change"])
        diff = diff_cell(r, f)
        if diff and r["ci_includes_zero"]:
            diff += f" {ZERO_MARK}"
        row = {
            "rank": str(r["rank"]), "set": name, "mean": f(r["mean"]),
            "difference [95% CI]": diff or "(reference)",
            "change": "" if base else (f"{rel:+.1%}" if not math.isnan(rel) else "–"),
            BTW: "" if base else better_tied_worse(r, percent=True),
            # NaN: a placebo twin (a control, not an option) or an outcome without a direction
            "P(best)": "control" if name.endswith("_placebo") and math.isnan(r["p_best"]) else
                       "–" if math.isnan(r["p_best"]) else f"{r['p_best']:.2f}",
        }
        if tied is not None:
            row["vs leader"] = "leader" if name == leader else ("≈" if name in tied else "")
        if side is not None:
            row["worse on"] = str(side[name].count(";") + 1) if name in side else ""
        out.append(row)
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
        t.add_row(*[r[c] for c in cols], style="bold" if r.get("rank") == "1" else None)
    console = Console(width=width, record=True, force_terminal=False, soft_wrap=False)
    with console.capture() as cap:
        console.print(t)
    return cap.get()


def _natural_width(rows: list[dict[str, str]], cols: list[str]) -> int:
    """Width of the table's rows with the default box: each column is padded by one space
    on each side and separated by one rule character, with a rule at each edge."""
    return sum(max(len(c), *(len(r[c]) for r in rows)) + 3 for c in cols) + 1


def fit_columns(rows: list[dict[str, str]], width: int,
                priority: Iterable[str] = _PRIORITY) -> tuple[list[str], list[str]]:
    """(columns shown in table order, columns dropped) so that the rows fit in ``width``.

    Columns go in the reverse of ``priority`` (most important first; a column not named
    there goes first of all); the first two are always kept."""
    order = list(rows[0]) if rows else []
    ranked = [c for c in priority if c in order]
    ranked += [c for c in order if c not in ranked]
    keep = list(ranked)
    while len(keep) > 2 and _natural_width(rows, [c for c in order if c in keep]) > width:
        keep.pop()
    return [c for c in order if c in keep], [c for c in ranked if c not in keep]


def markdown_table(rows: list[dict[str, str]]) -> str:
    """``rows`` (one dict a row, the first row's keys the columns) as a Markdown table; a ``|``
    inside a cell is escaped so that it cannot split the cell."""
    cols = list(rows[0]) if rows else []

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(cols), "|" + "|".join("---" for _ in cols) + "|",
                      *(line([r.get(c, "") for c in cols]) for r in rows)])


def render(ranked: pd.DataFrame, fmt_name: str, title: str, note: str | Callable[[list[str]], str],
           width: int | None = None, tied: set[str] | None = None, side: dict[str, str] | None = None) -> str:
    """The ranking in the requested format (``table`` is for terminals, ``width`` columns
    wide: by default the terminal's).  ``note``: the footnote, or a function of the columns
    shown that makes it (so that it defines only those; :func:`caption`).  ``tied``: sets that
    cannot be told from the leader; ``side``: per set, its side effects (:func:`side_effect_notes`)."""
    if fmt_name == "csv":
        return str(ranked.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    if fmt_name == "json":
        from scenario_sim.analysis.compare import to_json  # scipy: imported only when printing

        return to_json(ranked)
    rows = _rows(ranked, tied, side)
    every = list(rows[0]) if rows else []
    w = width if width is not None else terminal_width()
    cols, dropped = fit_columns(rows, w) if fmt_name == "table" else (every, [])
    note = note(cols) if callable(note) else note
    if side:
        note += " Side effects (key outcomes significantly worse than the baseline, Holm-adjusted): " + "; ".join(
            f"{k}: {v}" for k, v in side.items()) + "."
    if fmt_name == "markdown":
        return "\n".join([f"**{title}**", "", markdown_table(rows), "", note])
    if dropped:
        note += f" Not shown at this width: {', '.join(dropped)} (--format csv gives every statistic)."
    return _rich_table(rows, cols, title, note, w)


# What each optional column means, for the footnote (only the columns shown are defined).
_DEFINITIONS = {
    BTW: f"{BTW}: percent of replications in which the set did better than, the same as, or worse than the baseline",
    "P(best)": "P(best): share in which it was best of all sets",
    "vs leader": "≈ (vs leader): cannot be told from the leader (paired, Holm-adjusted)",
    "worse on": "worse on: number of key outcomes with a side effect",
}


def caption(ranked: pd.DataFrame, n: int, sets: int, shown: Iterable[str] | None = None) -> str:
    """The table's footnote: what the numbers are, defining only the columns ``shown``
    (default: every column), and nothing the table does not show."""
    k = max(0, sets - 1)
    adj = (f"Bonferroni-adjusted for the {k} sets compared" if k > 1 else "not adjusted (one set compared)")
    cols = set(_PRIORITY if shown is None else shown)
    defs = "; ".join(d for c, d in _DEFINITIONS.items() if c in cols)
    return (f"{n} paired replications per set; difference = set minus baseline on common random numbers, "
            f"95% interval {adj}. {ZERO_MARK}: the interval includes zero (no clear difference). "
            + (f"{defs}. " if defs else "")
            + INTERVAL_SCOPE + " scenario-sim explore shows which conclusions depend on them.")


def _plain(rows: list[dict[str, str]], cols: list[str]) -> str:
    w = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(w[c]) if i == 0 else c.rjust(w[c]) for i, c in enumerate(cols))]
    lines += ["  ".join(r[c].ljust(w[c]) if i == 0 else r[c].rjust(w[c]) for i, c in enumerate(cols)) for r in rows]
    return "\n".join(lines)


def render_against(table: pd.DataFrame, fmt_name: str, scenario: str, width: int | None = None) -> str:
    """``compare --against SET``: every other set against SET, best first."""
    if fmt_name in ("csv", "json"):
        if fmt_name == "csv":
            return str(table.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
        from scenario_sim.analysis.compare import to_json

        return to_json(table)
    if table.empty:
        return "no other set to compare"
    ref, outcome, unit, direction = (str(table[c].iloc[0]) for c in ("against", "outcome", "unit", "direction"))
    table = table.sort_values(["mean", "set"], ascending=[direction == "lower", True])
    head = f"difference from {ref} [95% CI]"
    rows = []
    f = ranking_format(table, reference=ref)
    for r in table.to_dict("records"):
        rows.append({"set": str(r["set"]), "mean": f(r["mean"]), head: interval_cell(r, f),
                     BTW: better_tied_worse(r, percent=True),
                     "told apart": "yes" if r["distinguishable"] else "no"})
    k = len(rows)
    title = (f"{scenario}: every set against {ref} on {outcome} ({unit}, {direction} is better; "
             f"{ref} mean {f(table['reference_mean'].iloc[0])})")
    note = (f"{int(table['n'].min())} paired replications; difference = set minus {ref} on common random "
            f"numbers, 95% intervals Bonferroni-adjusted for the {k} comparisons; told apart: paired t-test "
            f"Holm-adjusted p < 0.05. {BTW}: percent of replications better / tied / worse than {ref}.")
    if fmt_name == "markdown":
        cols = list(rows[0])
        return "\n".join([f"**{title}**", "", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|",
                          *["| " + " | ".join(r[c] for c in cols) + " |" for r in rows], "", note])
    return _rich_table(rows, list(rows[0]), title, note, width if width is not None else terminal_width())


def render_pairwise(table: pd.DataFrame, fmt_name: str, scenario: str, width: int | None = None) -> str:
    """``compare --pairwise``: row minus column, ``*`` where the pair can be told apart."""
    if fmt_name == "csv":
        return str(table.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    if fmt_name == "json":
        from scenario_sim.analysis.compare import to_json

        return to_json(table)
    if table.empty:
        return "no pair of sets to compare"
    sets = list(dict.fromkeys([*table["set"], *table["against"]]))
    outcome, unit, direction = (str(table[c].iloc[0]) for c in ("outcome", "unit", "direction"))
    f = column_format(table["diff"], (table["ci_high"] - table["ci_low"]) / 2, unit)
    cell = {(r["set"], r["against"]): f(r["diff"]) + ("*" if r["distinguishable"] else "")
            for r in table.to_dict("records")}
    m = len(sets) * (len(sets) - 1) // 2
    title = f"{scenario}: paired differences on {outcome} ({unit}, {direction} is better), row minus column"
    note = (f"{int(table['n'].min())} paired replications on common random numbers. *: the pair can be told "
            f"apart (paired t-test, Holm-adjusted over the {m} pairs, p < 0.05); intervals, Bonferroni-adjusted, "
            "are in pairwise.csv.")
    if fmt_name == "markdown":
        return _pairwise_markdown(sets, cell, title, note)
    return _pairwise_terminal(sets, cell, title, note, width)


def _pairwise_markdown(sets: list[str], cell: dict[tuple[str, str], str], title: str, note: str) -> str:
    cols = ["set", *sets]
    rows = [{"set": a, **{b: ("–" if a == b else cell[(a, b)]) for b in sets}} for a in sets]
    return "\n".join([f"**{title}**", "", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|",
                      *["| " + " | ".join(r[c] for c in cols) + " |" for r in rows], "", note])


def _pairwise_terminal(sets: list[str], cell: dict[tuple[str, str], str], title: str, note: str,
                       width: int | None) -> str:
    """The matrix with numbered columns when it fits the terminal, else one line per pair."""
    num = {s: str(i + 1) for i, s in enumerate(sets)}
    rows = [{"set": f"{num[a]} {a}", **{num[b]: ("–" if a == b else cell[(a, b)]) for b in sets}} for a in sets]
    cols = ["set", *num.values()]
    w = width if width is not None else terminal_width()
    if _natural_width(rows, cols) <= w:
        return _rich_table(rows, cols, title, note + " Columns are numbered as the rows.", w)
    pairs = [{"set": a, "against": b, "difference": cell[(a, b)]} for i, a in enumerate(sets) for b in sets[i + 1:]]
    return "\n".join([title, _plain(pairs, ["set", "against", "difference"]), note])


def selection_lines(kn: Any) -> list[str]:
    """``run --select-best`` as plain lines (a :class:`scenario_sim.runs.SelectBest`): the verdict,
    the parameters, the elimination order and the replications each set took part in."""
    lines = [f"select-best: {kn.stop_reason}",
             f"  procedure: {kn.procedure}",
             f"  on {kn.outcome} ({kn.unit}, {kn.direction} is better): delta {kn.delta:g} {kn.unit}, "
             f"PCS {kn.pcs:g}, first stage n0 = {kn.n0}, cap {kn.max_replications} (eta {kn.eta:.4g}, "
             f"h^2 {kn.h2:.4g})"]
    if kn.eliminated:
        lines.append("  eliminated, in order: " + "; ".join(
            f"{e['set']} at replication {e['replication']} (by {e['by']})" for e in kn.eliminated))
    lines.append("  replications used: " + ", ".join(f"{s} {n}" for s, n in kn.replications_used.items()))
    return lines


def render_selection(kn: Any) -> str:
    """:func:`selection_lines` joined for the terminal."""
    return "\n".join(selection_lines(kn))
