"""The bundle frontier: every subset of a list of sets, on common random numbers (issue 12.2).

Design notes (``docs/costs.md`` explains them for readers).

*Composition.*  The bundle of items ``a, b, c`` is the recommendation set
``{include: [a, b, c]}``: the items' patches are applied in the order ``--items`` names them,
each set once (an item's own includes first, as for any bundle), and its cost is the sum of
the items' costs (:mod:`scenario_sim.lang.loader`).  Two items that edit the same path with
different edits would make the bundle depend on that order, so that is an error located at
the second item's edit (a set included by both is shared, not a conflict).  Bundles are named
by their items joined with ``__`` (``a__b``); the empty subset is the baseline and the
singletons are the items themselves.  All ``2^k`` sets run in one ordinary run folder on the
same seed and replication numbers, so every bundle sees the same random numbers.
``frontier.json`` in the folder records the items and each bundle's members.

*Pareto frontier.*  On the means of the harm outcome (lower is better) and ``cost_usd``: a
bundle is on the frontier when no other bundle is at most as costly and at most as harmful
and strictly better on one of them.  The best bundle under a budget is the least harmful
whose mean cost is within it; choosing by the mean alone would hide that a cheaper bundle may
be indistinguishable from it, so each budget also names the cheapest bundle within it whose
paired (CRN) difference from the best has a 95% t interval including zero (unadjusted: each
budget asks one question of its best), and every interval that includes zero is marked.
The intervals against the baseline are Bonferroni-adjusted over the bundles compared.
Default budgets are round numbers (1-2-5 ladder) up to the dearest bundle.

*Interactions.*  For items ``A, B`` and replication *r*, with ``d(S) = X(S) - X(baseline)``,
the interaction is ``I_r = d(AB)_r - d(A)_r - d(B)_r``: zero when the joint effect is the
sum of the single effects.  Its mean has a paired t interval (Bonferroni over the pairs) and a
t-test p-value, Holm-adjusted over the pairs; a pair is named when the adjusted p-value is
below 0.05.  The two procedures are kept on purpose: Holm is the more powerful test (it steps
down from 0.05/m to 0.05), but step-down intervals that match it are not standard (they
collapse to a bound at zero for the rejected pairs), so the tables show the simultaneous
interval beside the raw and Holm p-values and mark a named pair whose interval includes zero
(``ci_includes_zero`` in ``interactions.csv``).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenario_sim import runs
from scenario_sim.analysis.pairwise import _test, holm, paired_values
from scenario_sim.errors import ResultsError, UserError
from scenario_sim.stats import t_interval

FRONTIER_JSON = runs.FRONTIER
FRONTIER_CSV = "frontier.csv"
BUDGETS_CSV = "budgets.csv"
INTERACTIONS_CSV = "interactions.csv"
FRONTIER_PNG = "frontier.png"
MAX_ITEMS = 10
"""At most 2^10 = 1024 bundles in one frontier (each is a set of the run)."""
SEP = "__"
ALPHA = 0.05
HOLM_MARK = "†"
"""Marks a pair Holm names although its simultaneous (Bonferroni) interval includes zero."""


def bundle_name(items: list[str]) -> str:
    """The set name of the bundle of ``items`` (baseline for none, the item for one)."""
    return runs.BASELINE if not items else SEP.join(items)


def subsets(items: list[str]) -> list[list[str]]:
    """Every subset of ``items`` (2^k), by size and then in the items' order."""
    return [list(c) for k in range(len(items) + 1) for c in itertools.combinations(items, k)]


# --------------------------------------------------------------------------- analysis


@dataclass
class Frontier:
    """A frontier run analysed: every bundle, the budgets and the interactions."""

    items: list[str]
    outcome: str
    unit: str
    bundles: pd.DataFrame
    budgets: pd.DataFrame
    interactions: pd.DataFrame
    n: int

    def interaction_note(self) -> str:
        """How the interaction table decides and what its intervals are (terminal and report), and
        why a named pair's interval can include zero (marked :data:`HOLM_MARK`)."""
        m = max(1, len(self.interactions))
        return (f"Interaction = d(AB) - d(A) - d(B) per replication, d the paired difference from the baseline. A "
                f"pair is named when its paired t-test p-value, Holm-adjusted over the {m} pairs, is below "
                f"{ALPHA:g}; the intervals are simultaneous (Bonferroni: each at {100 * (1 - ALPHA / m):.4g}%). "
                f"Holm tests the smallest p-value at {ALPHA:g}/{m}, the next at {ALPHA:g}/{max(1, m - 1)} and so on, "
                f"so it can name a pair whose simultaneous interval includes zero ({HOLM_MARK}): both keep the "
                "chance of any false claim over the pairs within 5%; the test says whether the interaction is "
                "zero, the interval how large it may be.")

    def multiplicity(self) -> str:
        """One line on how the intervals are adjusted for the number of bundles compared."""
        k = max(1, len(self.bundles) - 1)
        return (f"Intervals: 95% paired t, Bonferroni-adjusted over the {k} bundles compared with the baseline "
                f"(each at {100 * (1 - 0.05 / k):.4g}%); ≈0 marks an interval that includes zero. 'Cheapest "
                "equivalent': the cheapest bundle within the budget whose paired difference from the best "
                "has an unadjusted 95% t interval that includes zero (cannot be told apart on these replications).")


def pareto(cost: np.ndarray, harm: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    """Mask of the points no other point dominates (at most as costly and as harmful, and
    strictly better on one); lower is better on both."""
    c = np.asarray(cost, dtype=float)[:, None]
    h = np.asarray(harm, dtype=float)[:, None]
    dominated = ((c >= c.T) & (h >= h.T) & ((c > c.T) | (h > h.T))).any(axis=1)
    return np.asarray(~dominated)


BUDGET_COLUMNS = ["budget_usd", "bundle", "items", "cost", "harm", "diff", "ci_low", "ci_high", "ci_includes_zero",
                  "cheapest_equivalent", "equivalent_items", "equivalent_cost", "equivalent_vs_best",
                  "equivalent_low", "equivalent_high"]


def _empty_budget(b: float) -> dict[str, Any]:
    row: dict[str, Any] = {c: math.nan for c in BUDGET_COLUMNS}
    row.update(budget_usd=b, bundle="", items="", ci_includes_zero=False, cheapest_equivalent="", equivalent_items="")
    return row


def cheapest_equivalent(ok: pd.DataFrame, best: str, x: pd.DataFrame | None,
                        level: float = 0.95) -> tuple[str, float, float, float]:
    """The cheapest bundle of ``ok`` that cannot be told from ``best``: the paired (CRN)
    difference ``X(other) - X(best)`` has a t interval at ``level`` that includes zero.
    Returns (bundle, difference, low, high); ``best`` itself when nothing cheaper qualifies
    (or without replications)."""
    if x is None:
        return best, 0.0, 0.0, 0.0
    top = x[best].to_numpy()
    for r in ok.sort_values(["cost", "harm", "bundle"]).to_dict("records"):
        name = str(r["bundle"])
        if name == best:
            break
        mean, lo, hi, _ = _test(x[name].to_numpy() - top, level)
        if not (lo > 0 or hi < 0):  # NaN bounds (too few replications) compare False: equivalent
            return name, mean, lo, hi
    return best, 0.0, 0.0, 0.0


def best_under(bundles: pd.DataFrame, budgets: list[float], x: pd.DataFrame | None = None,
               level: float = 0.95) -> pd.DataFrame:
    """Per budget, the least harmful bundle whose mean cost is within it, whether its interval
    includes zero, and the cheapest bundle within the budget that the paired replications
    ``x`` (replications by bundle name) cannot tell from it (see :func:`cheapest_equivalent`)."""
    rows = []
    for b in budgets:
        ok = bundles[bundles["cost"] <= b + 1e-9 * max(1.0, abs(b))]
        if ok.empty:
            rows.append(_empty_budget(b))
            continue
        top = ok.sort_values(["harm", "cost", "bundle"]).iloc[0]
        eq, ed, elo, ehi = cheapest_equivalent(ok, str(top["bundle"]), x, level)
        er = ok[ok["bundle"] == eq].iloc[0]
        rows.append({"budget_usd": b, "bundle": top["bundle"], "items": top["items"], "cost": top["cost"],
                     "harm": top["harm"], "diff": top["diff"], "ci_low": top["ci_low"], "ci_high": top["ci_high"],
                     "ci_includes_zero": bool(top["ci_low"] <= 0 <= top["ci_high"]),
                     "cheapest_equivalent": eq, "equivalent_items": er["items"], "equivalent_cost": er["cost"],
                     "equivalent_vs_best": ed, "equivalent_low": elo, "equivalent_high": ehi})
    return pd.DataFrame(rows, columns=BUDGET_COLUMNS)


LADDER = (1.0, 2.0, 5.0)
"""Default budget steps: 1-2-5 times a power of ten ($100m, $200m, $500m, $1bn, ...)."""
MAX_DEFAULT_BUDGETS = 10


def default_budgets(costs: pd.Series) -> list[float]:  # type: ignore[type-arg]
    """Zero and round budgets (1-2-5 ladder) up to the first at or above the dearest bundle's
    mean cost, at most :data:`MAX_DEFAULT_BUDGETS` of them (the smallest steps go first)."""
    top = float(costs.max()) if len(costs) else 0.0
    if not top > 0:
        return [0.0]
    e = math.floor(math.log10(top))
    steps = [m * 10.0 ** k for k in range(e - 4, e + 2) for m in LADDER]
    upto = [v for v in steps if v < top * (1 - 1e-12)]
    ladder = [*upto, next(v for v in steps if v >= top * (1 - 1e-12))]
    return [0.0, *[float(f"{v:.6g}") for v in ladder[-(MAX_DEFAULT_BUDGETS - 1):]]]


def interactions(x: pd.DataFrame, items: list[str], level: float = 0.95) -> pd.DataFrame:
    """Per pair of items, the paired interaction ``d(AB) - d(A) - d(B)`` (see the module notes).

    ``x`` holds replications (rows) by bundle name (columns) of the outcome.
    """
    pairs = list(itertools.combinations(items, 2))
    m = max(1, len(pairs))
    adj = 1 - (1 - level) / m
    base = x[runs.BASELINE].to_numpy()
    rows = []
    for a, b in pairs:
        da, db = x[a].to_numpy() - base, x[b].to_numpy() - base
        dab = x[bundle_name([a, b])].to_numpy() - base
        mean, lo, hi, p = _test(dab - da - db, adj)
        rows.append({"a": a, "b": b, "d_a": float(da.mean()), "d_b": float(db.mean()), "d_ab": float(dab.mean()),
                     "sum_of_singles": float(da.mean() + db.mean()), "interaction": mean, "ci_low": lo,
                     "ci_high": hi, "p_value": p})
    out = pd.DataFrame(rows, columns=["a", "b", "d_a", "d_b", "d_ab", "sum_of_singles", "interaction", "ci_low",
                                      "ci_high", "p_value"])
    if len(out):
        # no p-value (fewer than two replications): nothing can be claimed, as if p = 1
        out["p_value_holm"] = holm([1.0 if math.isnan(v) else v for v in out["p_value"].tolist()])
        out["significant"] = out["p_value_holm"] < ALPHA
        out["ci_includes_zero"] = (out["ci_low"] <= 0) & (out["ci_high"] >= 0)
        out["kind"] = [_kind(r) for r in out.to_dict("records")]
    return out


def _kind(r: dict[Any, Any]) -> str:
    if not r["significant"]:
        return "additive within noise"
    same = (r["interaction"] > 0) == (r["sum_of_singles"] > 0)
    return "more than additive" if same else "less than additive"


def _summary(x: pd.DataFrame, cost: pd.DataFrame, members: dict[str, list[str]], level: float) -> pd.DataFrame:
    k = max(1, x.shape[1] - 1)
    adj = 1 - (1 - level) / k
    base = x[runs.BASELINE].to_numpy()
    cbase = cost[runs.BASELINE].to_numpy()
    rows = []
    for name in x.columns:
        h = x[name].to_numpy()
        c = cost[name].to_numpy()
        d = h - base
        dm = float(d.mean())
        sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
        lo, hi = t_interval(dm, sd, d.size, adj)
        hl, hh = t_interval(float(h.mean()), float(h.std(ddof=1)) if h.size > 1 else math.nan, h.size, adj)
        cl, ch = t_interval(float(c.mean()), float(c.std(ddof=1)) if c.size > 1 else math.nan, c.size, adj)
        rows.append({"bundle": name, "items": " + ".join(members[name]) or "(none)", "k": len(members[name]),
                     "cost": float(c.mean()), "cost_low": cl, "cost_high": ch,
                     "cost_diff": float((c - cbase).mean()), "harm": float(h.mean()), "harm_low": hl,
                     "harm_high": hh, "diff": dm, "ci_low": lo, "ci_high": hi})
    out = pd.DataFrame(rows)
    out["ci_includes_zero"] = (out["ci_low"] <= 0) & (out["ci_high"] >= 0) & (out["bundle"] != runs.BASELINE)
    out["on_frontier"] = pareto(out["cost"].to_numpy(), out["harm"].to_numpy())
    return out


def read_frontier(run_dir: str | Path) -> dict[str, Any]:
    """``frontier.json`` of a frontier run folder (a ResultsError if it is not one)."""
    p = Path(run_dir) / FRONTIER_JSON
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{p}: missing (not a frontier run folder)") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{p}: unreadable ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != "scenario-sim-frontier":
        raise ResultsError(f"{p}: not a frontier record")
    return doc


def display_names(run_dir: str | Path) -> dict[str, str]:
    """Bundle name -> the name shown everywhere (``a + b``, as the frontier tables show it); empty
    for a run that is not a frontier run (its sets keep their own names)."""
    if not is_frontier_run(run_dir):
        return {}
    try:
        rec = read_frontier(run_dir)
    except ResultsError:
        return {}
    return {str(k): " + ".join(v) for k, v in rec.get("bundles", {}).items() if len(v) > 1}


PLOT_LABEL_CHARS = 40
"""Bundle labels longer than this are keyed by letters in plots (their axes have no room)."""


def plot_keys(run_dir: str | Path) -> dict[str, str]:
    """Item -> letter (``A``, ``B``, ... in ``--items`` order) for a frontier run whose longest
    bundle label is over :data:`PLOT_LABEL_CHARS` characters; empty otherwise.  A plot's axis
    with 63 labels of "a + b + c + d + e + f" is wider than a page (a 64-bundle frontier's
    report was 5.9 MB, 2.2 MB of it one forest plot); "A + C + E" with the key under the plot
    is not.  Tables keep the full labels."""
    names = display_names(run_dir)
    if not names or max(len(v) for v in names.values()) <= PLOT_LABEL_CHARS:
        return {}
    items = [str(x) for x in read_frontier(run_dir).get("items", [])]
    if len(items) > 26:
        return {}
    return {item: chr(ord("A") + i) for i, item in enumerate(items)}


def relabel(text: str, names: dict[str, str]) -> str:
    """``text`` with every bundle id of ``names`` (``a__b``) written as its label (``a + b``), for
    what a planner reads; an id is replaced only as a whole name (``a__b`` is left alone inside
    ``a__b__c``), longest first.  Machine files keep the ids."""
    if not names:
        return text
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(names, key=len, reverse=True))
                         + r")(?![\w])")
    return pattern.sub(lambda m: names[m.group(1)], text)


CRITERIA_NOTE = ("'Best under the objective' weighs every outcome the objective names (harm, cost, ...) among "
                 "the sets that meet every constraint; 'best under a budget' is the least harmful bundle whose "
                 "mean cost fits that budget: different criteria, so they can name different bundles.")


def is_frontier_run(run_dir: str | Path) -> bool:
    return (Path(run_dir) / FRONTIER_JSON).exists()


def analyse(run_dir: str | Path, budgets: list[float] | None = None, level: float = 0.95) -> Frontier:
    """The frontier, the best bundle per budget and the interactions of a frontier run."""
    from scenario_sim.analysis.compare import load_run

    rec = read_frontier(run_dir)
    data = load_run(run_dir, columns=[rec["outcome"], "cost_usd"])
    members: dict[str, list[str]] = {str(k): list(v) for k, v in rec["bundles"].items()}
    missing = [s for s in members if s not in data.sets]
    if missing:
        raise ResultsError(f"{data.path}: bundles without results: {', '.join(missing[:5])}")
    x = paired_values(data, rec["outcome"])[list(members)]
    cost = paired_values(data, "cost_usd").loc[x.index, list(members)]
    table = _summary(x, cost, members, level)
    grid = budgets if budgets else [float(b) for b in rec.get("budgets") or []] or default_budgets(table["cost"])
    unit = data.outcome(rec["outcome"]).unit
    return Frontier(list(rec["items"]), rec["outcome"], unit, table, best_under(table, grid, x, level),
                    interactions(x, list(rec["items"]), level), int(x.shape[0]))


def write_outputs(run_dir: Path, f: Frontier) -> list[Path]:
    """``frontier.csv``, ``budgets.csv``, ``interactions.csv`` and ``frontier.png`` in ``run_dir``."""
    from scenario_sim.report import plots
    from scenario_sim.report.frontier_plot import frontier_figure

    out = []
    for name, table in ((FRONTIER_CSV, f.bundles), (BUDGETS_CSV, f.budgets), (INTERACTIONS_CSV, f.interactions)):
        runs.atomic_write_text(run_dir / name, table.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
        out.append(run_dir / name)
    runs.atomic_write_bytes(run_dir / FRONTIER_PNG, plots.png(frontier_figure(f)))
    out.append(run_dir / FRONTIER_PNG)
    return out


def parse_budgets(values: tuple[str, ...]) -> list[float] | None:
    """``--budget 1e9,2.5e9`` (repeatable, USD) as numbers >= 0; None when not given."""
    if not values:
        return None
    out = []
    for val in values:
        for i, w in enumerate(val.split(","), 1):
            if not w.strip():
                # "1e9,,2e9" is a typo, not a request for the default: say where it is
                raise UserError(f"--budget {val!r}: amount {i} is empty; give amounts in USD separated by commas "
                                "(e.g. 1e9,2e9)")
    for v in (w.strip() for val in values for w in val.split(",")):
        try:
            x = float(v)
        except ValueError:
            raise UserError(f"--budget: expected amounts in USD such as 1e9 or 2500000000 (got {v!r})") from None
        if not math.isfinite(x) or x < 0:
            raise UserError(f"--budget: expected a finite amount >= 0 (got {v!r})")
        out.append(x)
    return sorted(set(out))
