"""The brief: the decision a run supports, in plain language, first.

Design notes.

*What it says.*  One recommended set under the stated objective (the ranking outcome in its
better direction: the run's ``--rank-by`` or ``report --rank-by``, else ``outputs.primary``;
the KN verdict when the run was made with ``--select-best``), its effect against the
baseline with its interval, its cost when the run has a ``cost_usd`` outcome, its side
effects (key outcomes significantly worse than the baseline, Holm-adjusted), the sets it
cannot be told from, the smaller- (or larger-) than-additive effect of a bundle, the
conclusions that depend on contested assumptions (from an explore run of the same scenario,
or a sentence that none was run and what that means) and the model's status against its
backtest when one exists.  The "not a forecast" caveat comes with it, not at the end.

*One set of sentences, two renderings.*  :func:`make_brief` computes :class:`Brief` (labelled
plain-text items); :func:`brief_html` renders the report's first screen and
:func:`brief_markdown` the e-mail form of ``report --format md``.  Both say the same words.

*Sources it reads.*  The run folder (comparison, manifest, sets, ``outputs.objectives`` through
:mod:`scenario_sim.analysis.costs`); an explore run (the one given, else the newest
``explore-*`` folder next to the run that ran all its sets, else its recommended set, else
the newest; the brief says what it covered) through the existing robustness analysis
(:mod:`scenario_sim.analysis.robust`); a backtest (the newest of the same scenario in the
results root, or the one given) through :mod:`scenario_sim.report.validation`.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from scenario_sim.analysis.compare import RunData
from scenario_sim.analysis.pairwise import side_effects, tied_with_leader
from scenario_sim.errors import UserError
from scenario_sim.report.table import INTERVAL_SCOPE, better_tied_worse, fmt, interval_cell, side_effect_notes
from scenario_sim.stats import t_interval

COST = "cost_usd"  # the costs lane's total-cost outcome (USD, lower is better), read when present

CAVEAT = ("Not a forecast. The model is stylised and exploratory: absolute levels depend on assumptions "
          "documented in the scenario file and docs/model.md; differences between sets on common random numbers "
          "are what it measures well. " + INTERVAL_SCOPE)


@dataclass
class Brief:
    """The brief of one run: labelled items of plain text, in reading order."""

    title: str
    items: list[tuple[str, str]] = field(default_factory=list)
    recommended: str | None = None  # None: no single set (a group, or nothing beats the baseline)
    caveat: str = CAVEAT


def _row(table: pd.DataFrame, name: str, outcome: str) -> dict[str, Any] | None:
    sub = table[(table["set"] == name) & (table["outcome"] == outcome)]
    return None if sub.empty else dict(sub.iloc[0])


def _effect(table: pd.DataFrame, name: str, outcome: str) -> str:
    r = _row(table, name, outcome)
    if r is None:
        return f"{name} has no result on {outcome}."
    change = f" ({r['relative_change']:+.1%})" if math.isfinite(float(r["relative_change"])) else ""
    clear = ("the interval includes zero: not a clear difference" if r["ci_includes_zero"]
             else "a clear difference")
    return (f"{outcome} {interval_cell(r)} {r['unit']} against the baseline{change}, {clear}; better than, tied "
            f"with, worse than the baseline in {better_tied_worse(r, percent=True).replace('/', '% / ')}% of the "
            "replications "
            f"(mean {fmt(r['mean'], str(r['unit']))} against {fmt(r['mean'] - r['diff'], str(r['unit']))}).")


def _cost(table: pd.DataFrame, name: str, horizon: str) -> str | None:
    """The set's cost over the horizon; its difference from the baseline only when that says
    something more (the baseline costs something, or the cost varies between replications)."""
    r = _row(table, name, COST)
    if r is None:
        return None
    total = f"{fmt(r['mean'], 'USD')} over the {horizon} (the scenario's cost assumptions)"
    baseline_free = float(r["mean"] - r["diff"]) == 0.0
    if baseline_free and float(r["ci_low"]) == float(r["ci_high"]):
        return total + "; the baseline costs nothing."
    return f"{total}; {interval_cell(r)} against the baseline."


def _burdens(table: pd.DataFrame, name: str) -> str | None:
    """The costs lane's non-monetary burdens (outcomes ``burden.<name>``) of a set against the baseline."""
    rows = table[(table["set"] == name) & table["outcome"].astype(str).str.startswith("burden.")]
    if rows.empty:
        return None
    return "; ".join(f"{r['outcome']} {interval_cell(r)} {r['unit']}" for r in rows.to_dict("records"))


def _objective(data: RunData, rank_by: str) -> tuple[str | None, str] | None:
    """The best set under ``outputs.objectives`` (the costs lane's table), or None without objectives."""
    from scenario_sim.analysis import costs

    obj = costs.read_objectives(data.path)
    if obj is None:
        return None
    table = costs.objective_table(data, obj, rank_by)
    stated = []
    if obj.weights:
        stated.append("weights " + ", ".join(f"{o} x {w:g}" for o, w in obj.weights.items()) + f" ({obj.unit})")
    if obj.constraints:
        stated.append("constraints " + ", ".join(f"{o} within {fmt(b, 'USD') if o == COST else f'{b:g}'}"
                                                 for o, b in obj.constraints.items()))
    what = "; ".join(stated)
    best = table.loc[table["best"], "set"]
    if not len(best):
        return None, (f"No set meets every constraint of the stated objective ({what}): "
                      + "; ".join(f"{r['set']}: {r['violations']}" for r in table.to_dict("records")) + ".")
    name = str(best.iloc[0])
    row = table[table["set"] == name].iloc[0]
    score = ""
    if obj.weights and name != "baseline":
        score = (f" Objective {fmt(row['objective_diff'])} [{fmt(row['objective_low'])}, "
                 f"{fmt(row['objective_high'])}] {obj.unit} against the baseline (lower is better).")
    if name == "baseline":
        return None, f"Keep the baseline: no set does better under the stated objective ({what})."
    return name, (f"{name}, the best under the stated objective (outputs.objectives: {what}) among the sets "
                  f"that meet every constraint.{score}")


def _recommendation(data: RunData, ranked: pd.DataFrame, rank_by: str) -> tuple[str | None, str]:
    """The recommended set (None when there is no single one) and the sentence that names it:
    the stated objective first, then a --select-best verdict, then the ranking leader."""
    by_objective = _objective(data, rank_by)
    if by_objective is not None:
        return by_objective
    meta = data.outcome(rank_by)
    objective = f"{meta.direction} {rank_by} ({meta.unit}) is better"
    kn = data.manifest.select_best
    if kn is not None and kn.outcome == rank_by:
        return _kn_sentence(kn, ranked, objective)
    lead = str(ranked["set"].iloc[0])
    if lead == "baseline":
        return None, f"Keep the baseline: no set does better on {rank_by} (objective: {objective})."
    return lead, (f"{lead}, the best mean on {rank_by} (objective: {objective}). This is the ranking leader, "
                  "not a selection with a guarantee (run --select-best gives one).")


def _kn_sentence(kn: Any, ranked: pd.DataFrame, objective: str) -> tuple[str | None, str]:
    if kn.status == "selected" and kn.selected is not None:
        return kn.selected, (f"{kn.selected}, selected by the KN procedure with probability at least "
                             f"{kn.pcs:g} of being the best, or within {kn.delta:g} {kn.unit} of it "
                             f"({kn.decided_at} replications; objective: {objective}).")
    lead = str(ranked["set"].iloc[0])
    return None, (f"No single set: the KN procedure could not split {', '.join(kn.survivors)} ({kn.stop_reason}). "
                  f"Of them, {lead} has the best mean (objective: {objective}).")


def _cost_effectiveness(data: RunData, name: str) -> str | None:
    from scenario_sim.analysis import costs
    from scenario_sim.report.costs import ratio_cell

    if not costs.has_costs(data):
        return None
    ce = costs.cost_effectiveness(data)
    rows = ce[ce["set"] == name].to_dict("records")
    return "; ".join(f"{r['benefit']} {ratio_cell(r)}" for r in rows) or None


def _best_single(data: RunData, ranked: pd.DataFrame, shown: str) -> str | None:
    """When the recommendation is a bundle: the best-ranked set that includes no other, if any."""
    info = data.set_info.get(shown)
    if info is None or not info.include:
        return None
    singles = [str(s) for s in ranked["set"] if s != "baseline" and s in data.set_info
               and not data.set_info[str(s)].include]
    return singles[0] if singles else None


def _tied(data: RunData, rank_by: str, leader: str) -> str | None:
    from scenario_sim.analysis.placebo import placebo_pairs

    twins = placebo_pairs(data)
    tied = sorted(set(tied_with_leader(data, rank_by, leader)) - set(twins)) if len(data.sets) > 1 else []
    if not tied:
        return None
    return (f"{', '.join(tied)} cannot be told from {leader} on {rank_by} (paired, Holm-adjusted); "
            "choosing among them rests on other grounds (cost, side effects, robustness).")


def _side(table: pd.DataFrame, data: RunData, name: str) -> str:
    notes = side_effect_notes(side_effects(table, data.key))
    if name in notes:
        return f"significantly worse than the baseline on {notes[name]} (Holm-adjusted over every set and key outcome)."
    return "none: no key outcome is significantly worse than the baseline (Holm-adjusted)."


def bundle_interactions(data: RunData, outcome: str) -> list[dict[str, Any]]:
    """For every set that includes others (a bundle) whose parts all ran: its paired effect, the
    sum of its parts' effects, and their difference per replication with a 95% t interval."""
    ok = data.frame[data.frame["error"].isna()]
    wide = ok.pivot(index="replication", columns="set", values=outcome)
    out = []
    for name, info in data.set_info.items():
        parts = [p for p in info.include if p in wide]
        if name not in wide or "baseline" not in wide or len(parts) < 2 or len(parts) != len(info.include):
            continue  # a bundle has two parts or more (a placebo twin includes its one set)
        d = wide[[name, "baseline", *parts]].dropna()
        effect = d[name] - d["baseline"]
        total = sum((d[p] - d["baseline"] for p in parts), start=pd.Series(0.0, index=d.index))
        gap = (effect - total).to_numpy(dtype=float)
        lo, hi = t_interval(float(gap.mean()), float(gap.std(ddof=1)) if gap.size > 1 else math.nan, int(gap.size))
        out.append({"set": name, "parts": parts, "effect": float(effect.mean()), "sum": float(total.mean()),
                    "gap": float(gap.mean()), "low": lo, "high": hi, "n": int(gap.size)})
    return out


def _bundle_sentence(b: dict[str, Any], unit: str, direction: str) -> str:
    if math.isnan(b["low"]) or b["low"] <= 0 <= b["high"]:
        how = "about the sum of its parts (the difference is within simulation noise)"
    else:
        # the bundle gains less than its parts would alone when its effect points less far the better way
        less = (b["gap"] > 0) if direction == "lower" else (b["gap"] < 0)
        how = "smaller than additive" if less else "larger than additive"
    return (f"{b['set']} (bundle of {len(b['parts'])}): {fmt(b['effect'], unit)} {unit} against "
            f"{fmt(b['sum'], unit)} for the sum of its parts' effects, {how}; difference "
            f"{fmt(b['gap'], unit)} [{fmt(b['low'], unit)}, {fmt(b['high'], unit)}] (paired, 95%). "
            "Its parts overlap: the bundle's rank says little about what to do first.")


def _explore_sets(path: Path) -> list[str]:
    """The sets an explore run ran (its manifest), or [] when it cannot be read."""
    from scenario_sim.errors import ResultsError
    from scenario_sim.runs import RunFolder

    try:
        sets = RunFolder(path).raw_manifest().get("sets")
    except ResultsError:
        return []
    return [str(x) for x in sets] if isinstance(sets, list) else []


def find_explore(run_dir: Path, explicit: Path | None = None, sets: list[str] | None = None,
                 recommended: str | None = None) -> Path | None:
    """The explore run for this run's scenario: ``explicit``, else among the ``explore-*``
    folders beside the run (``results/<scenario>/``) the newest that ran every one of ``sets``,
    else the newest that ran ``recommended``, else the newest (which the brief then names but
    does not summarise).  (Newest alone let a two-set smoke test replace a full explore in a
    forwarded brief: a newcomer found it.)"""
    if explicit is not None:
        return explicit
    from scenario_sim.analysis.ensemble import is_explore_run
    from scenario_sim.runrefs import run_folders

    found = [p for p in run_folders(run_dir.parent) if p.name.startswith("explore-") and is_explore_run(p)]
    ran = {p: set(_explore_sets(p)) for p in found}
    for wanted in (set(sets or []), {recommended} if recommended else set()):
        covering = [p for p in found if wanted and wanted <= ran[p]]
        if covering:
            return covering[-1]
    return found[-1] if found else None


def _coverage(run: Any, sets: list[str], recommended: str | None, objective: bool, rank_by: str) -> str:
    """What the explore run does and does not cover of this run: sets, worlds, replications,
    and that its rules compare sets on one outcome, not under the run's objective."""
    missing = [x for x in sets if x not in run.sets]
    worlds = [w for w in run.worlds if w]
    reps = run.manifest.get("replications_target") or run.manifest.get("replications_asked")
    out = [f"It ran {len(run.sets)} of this run's {len(sets)} sets"
           + (f" (not {', '.join(missing)})" if missing else " (all)")
           + ", " + (f"{len(worlds)} world(s) ({', '.join(worlds)})" if worlds else "no alternative worlds")
           + f" and {reps} replications a case."]
    if recommended is not None and recommended not in run.sets:
        out.append(f"It did not run the recommended set {recommended}, so it says nothing about that "
                   "recommendation; run scenario-sim explore with it, or give --explore.")
    if objective:
        out.append(f"Its rules compare sets on {rank_by} alone: the objective's weights and constraints that "
                   "chose the recommendation above are not applied, so its best set may differ.")
    return " ".join(out)


def _assumptions(explore: Path | None, rank_by: str, sets: list[str], recommended: str | None = None,
                 objective: bool = False, chosen: bool = True) -> str:
    if explore is None:
        return ("No explore run of this scenario was found, so none of the conclusions above has been tested "
                "against the contested assumptions: they hold for the inputs as written. Run scenario-sim "
                "explore on the scenario, then report again, to see which survive.")
    from scenario_sim.analysis.ensemble import load_ensemble
    from scenario_sim.analysis.robust import robustness
    from scenario_sim.errors import ResultsError
    from scenario_sim.report.ensemble import choice_sentence, conclusions_paragraph

    try:
        run = load_ensemble(explore)
        if rank_by not in run.outcomes:
            return f"The explore run {explore} has no outcome {rank_by}; its conclusions are not summarised here."
        common = [s for s in sets if s in run.sets]
        if chosen and set(common) != set(sets) and (recommended is None or recommended not in run.sets):
            # found only as the newest: a smoke test of a few sets must not speak for this run in a
            # brief that gets forwarded (a newcomer's find); named, so the reader can choose it
            return (f"The only explore run beside this run, {explore.name}, ran {len(common)} of its "
                    f"{len(sets)} sets" + (f", not the recommended set {recommended}" if recommended else "")
                    + ", so its conclusions are not summarised here; give --explore DIR to use it anyway, "
                    "or run scenario-sim explore with the run's sets.")
        rb = robustness(run, rank_by, common, n_boot=200)
        how = ("chosen automatically: the newest beside this run that ran all its sets, else its recommended "
               "set; --explore DIR chooses another" if chosen else "given with --explore")
        return (f"From the explore run {explore.name} ({len(rb.means)} case-world pairs; {how}). "
                + _coverage(run, sets, recommended, objective, rank_by) + " "
                + conclusions_paragraph(run, rank_by, common) + " " + choice_sentence(rb))
    except (ResultsError, UserError) as exc:
        return f"The explore run {explore} could not be read ({exc}); no conclusion about assumptions is drawn."


def _backtest_reader(run_dir: Path, explicit: Path | None) -> str | None:
    """The model's status against its backtest (the backtest lane's :mod:`scenario_sim.report.validation`):
    its one-sentence status and the backtest's own verdict paragraph."""
    from scenario_sim.backtest.summary import read_summary
    from scenario_sim.report.validation import backtest_status, find_backtest

    path = find_backtest(run_dir, explicit)
    if path is None:
        return None
    verdict = str(read_summary(path).get("verdict") or "").strip()
    # Say how it was chosen: a reader of the brief alone (Markdown) must know that a backtest
    # found in the results folder may be of other scenario content than this run.
    how = (f"Given with --backtest {explicit}." if explicit is not None else
           f"Chosen automatically (the newest judged backtest of this scenario under {path.parent}; "
           "report --backtest DIR chooses another).")
    return f"{backtest_status(path, coverage=not verdict)} {how} {verdict}".strip()


def _no_backtest(run_dir: Path) -> str:
    """Why no backtest is shown: none beside the run, or only one too short to judge."""
    from scenario_sim.report.validation import unjudged_backtest

    short = unjudged_backtest(run_dir)
    if short is not None:
        return (f"The backtest {short.name} of this scenario is too short to judge the monthly targets (stated for "
                "six months), so it is not attached automatically: the model's status against observed attacks is "
                f"not shown (report --backtest {short} shows it; docs/validation.md).")
    return ("No backtest of this scenario was found in this results folder: the model's status against observed "
            "attacks is not shown (scenario-sim backtest makes one; docs/validation.md).")


def make_brief(data: RunData, table: pd.DataFrame, ranked: pd.DataFrame, rank_by: str,
               explore: Path | None = None, backtest: Path | None = None) -> Brief:
    """The brief of a run (see the module notes); ``explore``/``backtest`` override the search."""
    from scenario_sim.analysis.placebo import placebo_pairs

    b = Brief(f"{data.manifest.scenario.name}: the decision in brief")
    twins = placebo_pairs(data)
    ranked = ranked[~ranked["set"].isin(list(twins))]  # placebo controls are not candidates
    rec, sentence = _recommendation(data, ranked, rank_by)
    b.recommended = rec
    b.items.append(("Recommended", sentence))
    kn = data.manifest.select_best
    if kn is not None and not sentence.startswith((f"{kn.selected}, selected by the KN", "No single set: the KN")):
        b.items.append(("Selection", f"--select-best on {kn.outcome}: {kn.stop_reason}."))
    shown = rec or str(ranked["set"].iloc[0])
    # When the objective keeps the baseline, the paragraphs below describe the ranking leader;
    # they say so, or a reader takes them for the recommendation's figures.
    who = f"{shown}" if rec is not None else f"{shown} (leads the ranking on {rank_by}; not recommended, see above)"
    if shown != "baseline":
        b.items.append(("Effect", f"{who}: " + _effect(table, shown, rank_by)))
        sc = data.manifest.scenario
        horizon = f"{sc.horizon_days}-day horizon from {sc.start_date}" if sc.horizon_days else "horizon"
        cost, burdens, ratio = (_cost(table, shown, horizon), _burdens(table, shown),
                                _cost_effectiveness(data, shown))
        if cost is not None or burdens is not None:
            parts = [x for x in (cost, None if ratio is None else f"Cost-effectiveness: {ratio}.",
                                 None if burdens is None else f"Burdens against the baseline: {burdens}.")
                     if x is not None]
            b.items.append(("Cost", f"{who}: " + " ".join(parts)))
        b.items.append(("Side effects", f"{who}: " + _side(table, data, shown)))
        single = _best_single(data, ranked, shown)
        if single is not None:
            b.items.append(("Best single set", f"{single}: " + _effect(table, single, rank_by)))
        tied = _tied(data, rank_by, str(ranked["set"].iloc[0]))
        if tied:
            b.items.append(("Close alternatives", tied))
    meta = data.outcome(rank_by)
    bundles = [_bundle_sentence(x, meta.unit, meta.direction) for x in bundle_interactions(data, rank_by)]
    if bundles:
        b.items.append(("Bundles", " ".join(bundles)))
    if twins:
        b.items.append(("Placebo controls", f"{', '.join(sorted(twins))} ran as controls (the same rules fired on "
                        "random non-contact days); the placebo section splits each rule's benefit into firing at "
                        "all and firing on contacts."))
    from scenario_sim.analysis import costs

    has_objective = costs.read_objectives(data.path) is not None
    found = find_explore(data.path, explore, data.sets, rec)
    b.items.append(("Contested assumptions", _assumptions(found, rank_by, data.sets, rec, has_objective,
                                                          chosen=explore is None)))
    b.items.append(("Against the record", _backtest_reader(data.path, backtest) or _no_backtest(data.path)))
    n = int(ranked["n"].min())
    b.items.append(("Basis", f"{n} paired replications per set on common random numbers, {len(data.sets)} sets "
                    "including the baseline."))
    from scenario_sim.analysis.frontier import display_names, relabel

    names = display_names(data.path)  # a frontier's bundles read as "a + b", not by their ids
    b.items = [(k, relabel(v, names)) for k, v in b.items]
    return b


def brief_html(b: Brief) -> str:
    """The report's first screen."""
    e = html.escape
    rows = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in b.items)
    return (f'<section id="brief"><h2>The decision in brief</h2><dl class="brief">{rows}</dl>'
            f'<p class="warn" id="caveat">{e(b.caveat)}</p></section>')


def brief_markdown(b: Brief, run_dir: Path) -> str:
    """The brief as Markdown, for e-mail (``report --format md``)."""
    lines = [f"# {b.title}", "", f"> {b.caveat}", ""]
    lines += [f"**{k}.** {v}" + "\n" for k, v in b.items]
    lines.append(f"Run folder: `{run_dir}`. The full report: `scenario-sim report {run_dir}` (report.html).")
    return "\n".join(lines) + "\n"
