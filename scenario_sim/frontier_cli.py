"""``scenario-sim frontier``: every bundle of a list of sets, its Pareto frontier, budgets, interactions.

Everything the user gives is checked before anything runs (``--items`` with did-you-mean,
conflicting patches, ``--budget``, the presence of costs); the run itself is an ordinary run
folder (:mod:`scenario_sim.runs`) with ``frontier.json`` and the frontier's tables and plot
added, so ``compare``, ``report`` and ``runs`` work on it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from scenario_sim.bundled import resolve
from scenario_sim.cli_options import engine_returned, executor_options, interrupt_before_folder


def _money(x: float) -> str:
    from scenario_sim.report.table import fmt

    return fmt(x, "USD")


def _column(rows: Any, keys: tuple[str, ...], low: str = "ci_low", high: str = "ci_high") -> Any:
    """One precision rule for a table's estimate columns (docs/statistics.md, "How numbers are
    shown"): the decimals that give the narrowest interval half-width two significant digits."""
    from scenario_sim.report.table import column_format

    recs = list(rows.to_dict("records")) if hasattr(rows, "to_dict") else list(rows)
    values = [r[k] for r in recs for k in (*keys, low, high) if k in r]
    return column_format(values, [(r[high] - r[low]) / 2 for r in recs if low in r and high in r])


def _interval(r: Any, key: str = "diff", unit: str = "", low: str = "ci_low", high: str = "ci_high",
              f: Any = None) -> str:
    """'estimate [low, high]', marked ≈0 when the interval includes zero (as the ranking does);
    ``f`` is the column's number rule (by default each number on its own)."""
    from scenario_sim.report.table import ZERO_MARK, fmt

    def show(x: float) -> str:
        return str(f(x)) if f is not None else fmt(x, unit)

    cell = f"{show(r[key])} [{show(r[low])}, {show(r[high])}]"
    return f"{cell} {ZERO_MARK}" if r[low] <= 0 <= r[high] else cell


def budget_rows(f: Any) -> list[dict[str, str]]:
    """The 'best bundle under each budget' rows: the best by mean, and the cheapest bundle the
    paired replications cannot tell from it (terminal and report)."""
    out = []
    rule = _column(f.budgets[f.budgets["bundle"].astype(bool)], ("diff",))
    for r in f.budgets.to_dict("records"):
        same = not r["bundle"] or r["cheapest_equivalent"] == r["bundle"]
        out.append({"budget": _money(r["budget_usd"]), "best bundle (mean)": str(r["items"]) or "(none within budget)",
                    "its cost": _money(r["cost"]),
                    "difference from baseline [95% CI]": _interval(r, f=rule) if r["bundle"] else "–",
                    "cheapest equivalent": "(the best itself)" if same else
                    f"{r['equivalent_items']} ({_money(r['equivalent_cost'])}; vs best "
                    f"{_interval(r, 'equivalent_vs_best', low='equivalent_low', high='equivalent_high')})"})
    return out


def _p(x: float) -> str:
    """A p-value as read in a table: two significant digits, ``<0.0001`` below that, ``–`` for none."""
    if x != x:  # NaN: fewer than two replications
        return "–"
    return "<0.0001" if x < 1e-4 else f"{x:.2g}"


def interaction_rows(f: Any) -> list[dict[str, str]]:
    """The pairs Holm names (terminal and report): joint effect, sum of singles, the interaction
    with its simultaneous interval, the raw and the Holm-adjusted p-value, and the kind; a pair
    whose interval includes zero although Holm names it is marked (see ``interaction_note``)."""
    from scenario_sim.analysis.frontier import HOLM_MARK

    inter = f.interactions
    sig = inter[inter["significant"]] if len(inter) else inter
    if not len(sig):
        return []
    rule = _column(sig, ("d_ab", "sum_of_singles", "interaction"))
    return [{"pair": f"{r['a']} + {r['b']}", "joint": rule(r["d_ab"]), "sum of singles": rule(r["sum_of_singles"]),
             "interaction [simultaneous 95% CI]": _interval(r, "interaction", f=rule), "p": _p(r["p_value"]),
             "p (Holm)": _p(r["p_value_holm"]),
             "kind": str(r["kind"]) + (f" {HOLM_MARK}" if r["ci_low"] <= 0 <= r["ci_high"] else "")}
            for r in sig.to_dict("records")]


def summary(f: Any, scenario: str, run_dir: Path) -> str:
    """The printed summary: the frontier, the best bundle per budget, the interactions beyond noise."""
    from scenario_sim.report.costs import _plain

    lines = [f"{scenario}: {len(f.bundles)} bundles of {len(f.items)} sets, {f.n} replications each on common "
             f"random numbers; {f.outcome} ({f.unit}, lower is better) against cost_usd", "",
             "Pareto frontier (no bundle is both cheaper and less harmful):"]
    on = f.bundles[f.bundles["on_frontier"]].sort_values("cost")
    rule = _column(on, ("harm", "diff"))
    lines.append(_plain([{"bundle": str(r["items"]), "cost": _money(r["cost"]),
                          f"mean {f.outcome}": rule(r["harm"]),
                          "difference from baseline [95% CI]": _interval(r, f=rule)}
                         for r in on.to_dict("records")]))
    lines += ["", "Best bundle under each budget:"]
    lines.append(_plain(budget_rows(f)))
    lines.append(f.multiplicity())
    m = len(f.interactions)
    lines += ["", f"Interactions beyond noise (d(AB) - d(A) - d(B), paired t, Holm-adjusted over {m} pairs):"]
    rows = interaction_rows(f)
    if rows:
        lines.append(_plain(rows))
        lines.append(f.interaction_note())
    else:
        lines.append("none: every pair's joint effect is the sum of its single effects within noise")
    lines += ["", f"results: {run_dir} (frontier.csv, budgets.csv, interactions.csv, frontier.png)"]
    return "\n".join(lines)


def _preflight(scenario: str | None, items: tuple[str, ...], budget: tuple[str, ...], out: str) -> Any:
    """Every check that needs no run: the scenario, --items, --budget, costs, conflicts."""
    from scenario_sim.analysis.frontier import MAX_ITEMS, parse_budgets
    from scenario_sim.commands import _outcomes, _split
    from scenario_sim.errors import UserError
    from scenario_sim.lang import load_scenario
    from scenario_sim.lang.bundles import bundle_scenario, check_items

    # --items is required: a frontier of every set would bundle the bundles (combined) with their
    # own parts and double 2^k for each, so the planner names the sets to combine
    chosen = _split(items, "--items", "name the sets to bundle, e.g. --items a,b,c (--items is required)")
    if chosen is None:
        raise click.UsageError("--items: name the sets to bundle, e.g. --items a,b,c")
    budgets = parse_budgets(budget)
    path = resolve(scenario)
    loaded = load_scenario(path)
    check_items(loaded, chosen, MAX_ITEMS)
    names = [o.name for o in _outcomes(loaded, ["baseline", *chosen])]
    if "cost_usd" not in names:
        raise UserError(f"{path}: no recommendation set declares a cost, so there is no cost axis; give the sets "
                        "a cost (docs/costs.md)")
    bundled, members = bundle_scenario(loaded, chosen)
    return bundled, members, chosen, budgets


def _record(bundled: Any, chosen: list[str], members: dict[str, list[str]], budgets: list[float] | None) -> str:
    """``frontier.json``: written with the run folder, before any replication, so that an
    interrupted frontier can be finished as a frontier (``--resume``)."""
    return json.dumps({"format": "scenario-sim-frontier", "format_version": 1, "items": chosen,
                       "outcome": bundled.baseline.outputs.primary, "budgets": budgets, "bundles": members,
                       "composition": "a bundle is {include: [items in --items order]}: each set's patch once, "
                                      "costs added; items editing one path differently are refused"}, indent=2) + "\n"


def _resume_folder(resume_dir: str, given: dict[str, Any]) -> Path:
    """The folder ``--resume`` names, checked before anything starts: only the executor options may
    come with it, and it must be a frontier run folder."""
    from scenario_sim.analysis.frontier import read_frontier
    from scenario_sim.errors import UserError
    from scenario_sim.runrefs import resolve_run
    from scenario_sim.runs import RunFolder

    extra = [opt for opt, value in (("SCENARIO", given["scenario"]), ("--items", given["items"]),
                                     ("-n", given["replications"]), ("--seed", given["seed"]),
                                     ("--budget", given["budget"]), ("--chunk-size", given["chunk_size"]))
             if value not in (None, ())]
    if extra:
        raise UserError(f"--resume: takes its scenario, items, replications, seed and budgets from the run folder; "
                        f"give only --jobs/--executor/--scheduler with it (not {', '.join(extra)})")
    run_dir = resolve_run(resume_dir, kind="run")
    RunFolder.open(run_dir)  # a damaged folder is one line here, as in run --resume
    try:
        read_frontier(run_dir)
    except Exception as exc:
        raise UserError(f"--resume {resume_dir}: {exc}; a run folder of scenario-sim run is finished with "
                        "scenario-sim run --resume") from None
    return run_dir


def _finish(run_dir: Path, scenario: str, failures: int) -> None:
    """Analyse a finished frontier folder, write its tables and plot, print the summary."""
    from scenario_sim.analysis.frontier import analyse, write_outputs

    f = analyse(run_dir)
    write_outputs(run_dir, f)
    click.echo(summary(f, scenario, run_dir))
    if failures:
        click.echo(f"{failures} replication(s) failed and were left out (all in manifest.json)", err=True)
        sys.exit(1)


def _resume(run_dir: Path, ex: Any, quiet: bool) -> None:
    """``frontier --resume``: finish the replications exactly as an uninterrupted run would have
    (same seeds, same bytes), then write the frontier's tables; a complete folder gets its
    tables (again) and its summary, exit 0."""
    from scenario_sim.commands import _Progress
    from scenario_sim.errors import AlreadyComplete
    from scenario_sim.experiment import resume_experiment
    from scenario_sim.runs import RunFolder

    try:
        with _Progress(sys.stderr.isatty() and not quiet, "bundles") as progress:
            result = resume_experiment(run_dir, ex, progress=progress)
    except AlreadyComplete as done:
        engine_returned()
        click.echo(f"{done.path}: the frontier run is already complete (status {done.status}); nothing to resume. "
                   "Its frontier:", err=True)
        m = RunFolder.open(Path(done.path)).manifest()
        _finish(Path(done.path), m.scenario.name, m.failures.count)
        return
    engine_returned()
    _finish(result.run_dir, result.manifest.scenario.name, result.failures)


def register(group: click.Group) -> None:
    """Add ``frontier``."""

    @group.command()
    @click.argument("scenario", required=False, metavar="[SCENARIO]")
    @click.option("--items", multiple=True, metavar="SET[,SET]",
                  help="The sets to bundle: every subset of them is run (2^k bundles). Required, except with "
                       "--resume.")
    @click.option("-n", "--replications", type=click.IntRange(min=2),
                  help="Replications per bundle (default: the scenario's).")
    @click.option("--seed", type=click.IntRange(min=0), help="Master seed (overrides the scenario's; recorded).")
    @executor_options
    @click.option("--chunk-size", type=click.IntRange(min=1),
                  help="Replications per work unit (results do not depend on it).")
    @click.option("--out", default="results", show_default=True, type=click.Path(file_okay=False),
                  help="Results root; the run goes in OUT/<scenario>/<timestamp>-<id>/.")
    @click.option("--budget", multiple=True, metavar="USD[,USD]",
                  help="Budgets for 'best bundle under a budget' (default: 0 and round 1-2-5 steps up to "
                       "the dearest bundle).")
    @click.option("--resume", "resume_dir", metavar="RUN_DIR",
                  help="Finish an interrupted frontier (RUN_DIR may be `latest` or DIR/latest): the same "
                       "replications as an uninterrupted run, then the frontier's tables.")
    @click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
    @interrupt_before_folder
    def frontier(scenario: str | None, items: tuple[str, ...], replications: int | None, seed: int | None,
                 jobs: int | None, executor: str, scheduler: str | None, chunk_size: int | None, out: str,
                 budget: tuple[str, ...], resume_dir: str | None, quiet: bool) -> None:
        """Run every subset of the --items sets as a bundle on common random numbers.

        Reports the Pareto frontier of harm (the primary outcome) against cost_usd with
        intervals, the best bundle under each budget, and the pairs of sets whose joint effect
        differs from the sum of their single effects beyond noise. Writes an ordinary run folder
        (`compare` and `report` work on it) with frontier.json, frontier.csv, budgets.csv,
        interactions.csv and frontier.png. An interrupted frontier is finished with
        `frontier --resume RUN_DIR`.
        Exit status: 0 ok, 1 some replications failed, 2 bad input, 130 interrupted.
        """
        from scenario_sim.experiment import make_executor, plan_experiment, run_plan

        if resume_dir is not None:
            run_dir = _resume_folder(resume_dir, click.get_current_context().params)
            _resume(run_dir, make_executor(executor, jobs, scheduler), quiet)
            return
        from scenario_sim.commands import _Progress

        bundled, members, chosen, budgets = _preflight(scenario, items, budget, out)
        ex = make_executor(executor, jobs, scheduler)
        plan = plan_experiment(bundled, replications=replications, seed=seed, sets=list(members)[1:], out=out,
                               chunk_size=chunk_size, timeseries=False)
        from scenario_sim.analysis.frontier import FRONTIER_JSON

        plan.records = {FRONTIER_JSON: _record(bundled, chosen, members, budgets)}
        with _Progress(sys.stderr.isatty() and not quiet, "bundles") as progress:
            result = run_plan(plan, ex, progress=progress)
        engine_returned()
        _finish(result.run_dir, bundled.baseline.name, result.failures)
