"""Commands of the experiment, analysis, report and calibration layers.

Kept apart from :mod:`scenario_sim.cli` so that the scenario-language commands stay light to
import, and so each layer's command sits next to the others that print results.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from scenario_sim.bundled import resolve
from scenario_sim.cli_options import engine_returned, executor_options, interrupt_before_folder
from scenario_sim.report.table import FORMATS
from scenario_sim.runrefs import resolve_run


def _split(values: tuple[str, ...], option: str = "--sets", hint: str | None = None) -> list[str] | None:
    """Names from repeated and comma-separated options; None when the option was not given.

    An option that was given but names nothing (``--sets ""``, ``--sets ,``) is an error:
    silently falling back to "all sets" would run something other than what was asked.
    ``hint`` replaces the default advice (leave the option out) for options that are required.
    """
    if not values:
        return None
    out = [v.strip() for val in values for v in val.split(",") if v.strip()]
    if not out:
        from scenario_sim.errors import UserError

        raise UserError(f"{option}: names no recommendation set (got {','.join(values)!r}); "
                        f"{hint or f'leave {option} out to run them all'}")
    return out


class _Progress:
    """A rich progress bar on stderr when it is a terminal (and not --quiet).

    The bar (and rich's refresh thread) starts at the first update, which the engines send
    once their workers have started: a process pool may then fork its workers from a
    process with a single thread (:func:`~scenario_sim.experiment.executors.fork_is_safe`).
    """

    def __init__(self, enabled: bool, label: str, on_start: Callable[[], None] | None = None):
        self.enabled = enabled
        self.label = label
        self.on_start = on_start  # called once, at the first update (the workers are running)
        self._p: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        return self

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TextColumn("replications·sets"), TimeRemainingColumn(),
                           console=Console(stderr=True), transient=True)
        self._p.__enter__()
        self._task = self._p.add_task(self.label, total=None)

    def __call__(self, done: int, total: int) -> None:
        if self.on_start is not None:
            start, self.on_start = self.on_start, None
            start()
        if self.enabled and self._p is None:
            self._start()
        if self._p is not None:
            self._p.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            # rich's stop() only signals its refresh thread; join it, so that a process that
            # forks after the bar (a second pool) has a single thread again
            thread = getattr(self._p.live, "_refresh_thread", None)
            self._p.__exit__(None, None, None)
            if thread is not None:
                thread.join(timeout=5.0)
            self._p = None
        self.enabled = False  # a late update (none is expected) must not restart the bar


_RANKING_IMPORTS = ("scipy.special", "scenario_sim.analysis", "scenario_sim.analysis.frontier",
                    "scenario_sim.report.table", "scenario_sim.report.costs")
"""What printing a run's ranking imports (pandas, scipy.special and the analysis layer: ~0.5 s of
CPU), beyond what running it needs."""


def _warm_imports(modules: tuple[str, ...] = _RANKING_IMPORTS) -> None:
    """Import ``modules`` in a daemon thread while the workers run the replications.

    The parent waits for its workers for seconds; the ranking it prints afterwards would
    otherwise import pandas and the analysis layer then, with both cores idle but one.  The
    import system's module locks make a concurrent import of the same module wait for this
    one; a module that fails to import here is imported (and its error raised) where it is used.
    """

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # reported where the module is used
                return

    threading.Thread(target=load, name="scenario-sim-warm-imports", daemon=True).start()


def _check_outcome(option: str, name: str, outcomes: list[Any], ranked: bool) -> None:
    """``name`` is an outcome of the run (and, for ranking, one with a better direction)."""
    from scenario_sim.errors import UserError
    from scenario_sim.lang.patch import did_you_mean

    by_name = {o.name: o for o in outcomes}
    if name not in by_name:
        raise UserError(f"{option}: unknown outcome {name!r}{did_you_mean(name, list(by_name))}")
    if ranked and by_name[name].direction == "none":
        raise UserError(f"{option}: outcome {name!r} has no better direction; rank by one that does "
                        "(e.g. civilian_harm, leaked.total, energy.mean)")


def _outcomes(loaded: Any, sets: list[str]) -> list[Any]:
    """The outcomes a run of ``sets`` will have (baseline order first; a set may add some).

    The same union as :func:`scenario_sim.experiment.engine.outcome_union`, without importing
    the engine (pyarrow, scipy): a mistake in an option is reported in a fraction of a second.
    """
    from scenario_sim.model.compiled import compile_scenario

    seen: dict[str, Any] = {}
    for name in sets:
        for o in compile_scenario(loaded.effective(name)).outcomes:
            seen.setdefault(o.name, o)
    return list(seen.values())


def _preflight_rank_by(scenario: str | None, sets: list[str] | None, rank_by: str | None) -> Any:
    """Load the scenario and check ``--rank-by`` before the engine is even imported.

    Every other option of a new run is checked by
    :func:`~scenario_sim.experiment.plan_experiment` before anything is written; ranking is
    the CLI's own business, so it is checked here, first, in a fraction of a second.
    Returns the loaded scenario, which the plan reuses (the file is read once).
    """
    from scenario_sim.lang import BASELINE, load_scenario

    loaded = load_scenario(resolve(scenario))
    known = loaded.set_names
    chosen = [BASELINE, *[s for s in (sets or known[1:]) if s in known and s != BASELINE]]
    _check_outcome("--rank-by", rank_by or loaded.baseline.outputs.primary,
                   _outcomes(loaded, list(dict.fromkeys(chosen))), ranked=True)
    return loaded


def _preflight_resume(run_dir: Path, rank_by: str | None) -> None:
    """Check --rank-by against the outcome catalogue of the run being resumed, before resuming it."""
    if rank_by is None:
        return
    from scenario_sim.runs import RunFolder

    folder = RunFolder.open(run_dir)  # a damaged folder is one line here, as in the resume itself
    _check_outcome("--rank-by", rank_by, folder.outcomes(), ranked=True)


def _labelled(frame: Any, run_dir: Path, fmt_name: str, columns: tuple[str, ...] = ("set",)) -> Any:
    """A frontier run's bundles by their labels (``a + b``) in what a planner reads (the table and
    markdown formats); csv and json, read by programs, keep the ids (``a__b``)."""
    from scenario_sim.analysis.frontier import display_names

    names = display_names(run_dir) if fmt_name in ("table", "markdown") else {}
    if not names:
        return frame
    return frame.assign(**{c: frame[c].map(lambda s: names.get(str(s), s)) for c in columns if c in frame})


def _print_ranking(run_dir: Path, rank_by: str | None, fmt_name: str, out: str | None = None) -> None:
    from scenario_sim.analysis import run_comparison
    from scenario_sim.analysis.frontier import display_names
    from scenario_sim.report.table import caption, render, side_effect_notes

    c = run_comparison(run_dir, rank_by, out)
    for note in c.notes:
        click.echo(note, err=True)
    ranked, key, tied, side = c.ranked, c.rank_by, c.tied, c.side
    if fmt_name in ("table", "markdown") and display_names(run_dir):
        names = display_names(run_dir)
        ranked, side = _labelled(ranked, run_dir, fmt_name), _labelled(side, run_dir, fmt_name)
        tied = {names.get(s, s) for s in tied}
    unit = str(ranked["unit"].iloc[0])
    title = f"{c.data.manifest.scenario.name}: ranked by {key} ({unit}, {ranked['direction'].iloc[0]} is better)"
    n, k = int(ranked["n"].min()), len(ranked)
    click.echo(render(ranked, fmt_name, title, lambda shown: caption(ranked, n, k, shown),
                      tied=tied, side=side_effect_notes(side)))
    if fmt_name in ("table", "markdown") and (c.costs is not None or c.objectives is not None):
        from scenario_sim.analysis.frontier import display_names
        from scenario_sim.report.costs import render_costs

        click.echo(render_costs(c.costs, c.objectives, names=display_names(c.data.path),
                                markdown=fmt_name == "markdown"))
    if fmt_name in ("table", "markdown") and c.placebo is not None:
        from scenario_sim.report.placebo import render_placebo

        click.echo(render_placebo(c.placebo, markdown=fmt_name == "markdown"))


def _already_complete(done: Any, rank_by: str | None, fmt_name: str) -> None:
    """``run --resume`` of a complete run: say so, print its ranking again, exit 0 (1 when the run
    recorded failed replications, as the run itself exited)."""
    from scenario_sim.analysis import load_run
    from scenario_sim.runs import RunFolder

    load_run(Path(done.path))  # a damaged folder is its one-line error, not "complete" and then the error
    click.echo(f"{done.path}: the run is already complete (status {done.status}); nothing to resume. "
               "Its ranking:", err=True)
    _print_ranking(Path(done.path), rank_by, fmt_name)
    m = RunFolder.open(Path(done.path)).manifest()
    if fmt_name == "table":
        click.echo(f"results: {done.path}  ({m.replications_done} replications x {len(m.sets)} sets, seed {m.seed})")
    failures = m.failures.count
    if failures:
        click.echo(f"{failures} replication(s) of this run failed and were left out (all in manifest.json)",
                   err=True)
        sys.exit(1)


def _print_against(run_dir: Path, reference: str, rank_by: str | None, fmt_name: str) -> None:
    """``compare RUN --against SET``: every other set's paired difference from SET."""
    from scenario_sim.analysis import load_run
    from scenario_sim.analysis.pairwise import against
    from scenario_sim.report.table import render_against

    data = load_run(run_dir)
    key = rank_by or data.primary
    _check_outcome("--rank-by", key, data.outcomes, ranked=True)
    table = _labelled(against(data, reference, key), run_dir, fmt_name, ("set", "against"))
    click.echo(render_against(table, fmt_name, data.manifest.scenario.name))


def _print_pairwise(run_dir: Path, rank_by: str | None, fmt_name: str) -> None:
    """``compare RUN --pairwise``: the matrix of paired differences; writes pairwise.csv."""
    from scenario_sim.analysis import load_run
    from scenario_sim.analysis.pairwise import pairwise
    from scenario_sim.report.table import render_pairwise
    from scenario_sim.runs import atomic_write_text

    data = load_run(run_dir)
    key = rank_by or data.primary
    _check_outcome("--rank-by", key, data.outcomes, ranked=True)
    table = pairwise(data, key)
    atomic_write_text(run_dir / "pairwise.csv", table.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    click.echo(render_pairwise(_labelled(table, run_dir, fmt_name, ("set", "against")), fmt_name,
                               data.manifest.scenario.name))


def _with_placebo(loaded: Any, sets: list[str] | None) -> tuple[Any, list[str]]:
    """``run --placebo``: the scenario with a placebo twin of every chosen set that has contact rules."""
    from scenario_sim.lang import BASELINE
    from scenario_sim.lang.bundles import placebo_scenario

    chosen = [s for s in (sets if sets is not None else loaded.set_names[1:]) if s != BASELINE]
    for s in chosen:
        if s not in loaded.set_names:
            break  # plan_experiment reports it, with its did-you-mean
    else:
        twinned, twins = placebo_scenario(loaded, chosen)
        return twinned, [*chosen, *twins]
    return loaded, chosen


def register(group: click.Group) -> None:
    """Add the run, compare and report commands (calibrate is loaded lazily by :mod:`scenario_sim.cli`)."""

    @group.command()
    @click.argument("scenario", required=False, metavar="[SCENARIO]")
    @click.option("-n", "--replications", type=click.IntRange(min=1),
                  help="Replications per set (default: the scenario's).")
    @click.option("--seed", type=click.IntRange(min=0), help="Master seed (overrides the scenario's; recorded).")
    @executor_options
    @click.option("--sets", multiple=True, metavar="NAME[,NAME]", help="Recommendation sets to run (default: all).")
    @click.option("--out", default="results", show_default=True, type=click.Path(file_okay=False),
                  help="Results root; the run goes in OUT/<scenario>/<timestamp>-<id>/.")
    @click.option("--resume", "resume_dir", metavar="RUN_DIR",
                  help="Finish an interrupted run (RUN_DIR may be `latest` or DIR/latest).")
    @click.option("--precision", type=float,
                  help="Adaptive: add replications until every set's 95% half-width on the paired difference "
                       "is at most this fraction of |baseline mean| (relative: 0.01 = 1%).")
    @click.option("--metric", help="Adaptive: the outcome --precision applies to (default: the primary outcome).")
    @click.option("--max-replications", type=click.IntRange(min=1),
                  help="Adaptive or --select-best: stop here at the latest (default: 20 x --replications).")
    @click.option("--select-best", is_flag=True,
                  help="Add replications until the KN procedure names the best set on the ranking outcome "
                       "(--rank-by, default outputs.primary) with probability --pcs, or a group it cannot split; "
                       "-n is its first stage (at least 2).")
    @click.option("--delta", type=float, metavar="D",
                  help="--select-best: indifference zone, the smallest difference worth detecting, in the ranking "
                       "outcome's own unit (civilian_harm: casualties). Must be > 0.")
    @click.option("--pcs", type=float, metavar="P",
                  help="--select-best: probability of correct selection, above 1/(number of sets) and below 1 "
                       "[default: 0.95].")
    @click.option("--timeseries/--no-timeseries", default=None, help="Store daily time series.")
    @click.option("--chunk-size", type=click.IntRange(min=1),
                  help="Replications per work unit (results do not depend on it).")
    @click.option("--rank-by", help="Outcome to rank by (default: the scenario's outputs.primary).")
    @click.option("--format", "fmt_name", type=click.Choice(FORMATS), default="table", show_default=True,
                  help="How to print the ranking (csv and json give every statistic).")
    @click.option("--report", "make_report", is_flag=True, help="Also write report.html in the run folder.")
    @click.option("--placebo", is_flag=True,
                  help="Also run each set's contact rules fired on as many random non-contact days (a control).")
    @click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
    @interrupt_before_folder
    def run(scenario: str | None, replications: int | None, seed: int | None, jobs: int | None, executor: str,
            scheduler: str | None, sets: tuple[str, ...], out: str, resume_dir: str | None,
            precision: float | None, metric: str | None, max_replications: int | None,
            select_best: bool, delta: float | None, pcs: float | None, timeseries: bool | None,
            chunk_size: int | None, rank_by: str | None, fmt_name: str, make_report: bool, placebo: bool,
            quiet: bool) -> None:
        """Run every recommendation set against the baseline on common random numbers.

        SCENARIO is a scenario file or the name of a bundled one (default: the bundled
        reference scenario). Prints a ranked comparison and writes a results folder with
        manifest.json, scenario.yaml, replications.parquet, summary.csv and comparison.csv.
        Exit status: 0 ok, 1 some replications failed, 2 bad input, 130 interrupted.
        """
        chosen_sets = _split(sets)
        plan = None
        if resume_dir is not None:
            if (scenario or replications or seed is not None or sets or precision or metric or chunk_size
                    or placebo or select_best or delta is not None or pcs is not None):
                from scenario_sim.errors import UserError

                raise UserError("--resume: takes its scenario, seed, sets and replications from the run "
                                "folder; give only --jobs/--executor/--scheduler with it")
            run_dir = resolve_run(resume_dir, kind="run")
            from scenario_sim import runs

            if (run_dir / runs.FRONTIER).exists() and not runs.RunFolder.open(run_dir).manifest().complete:
                # its tables are frontier's business: one way to finish it (a complete one shows its ranking)
                from scenario_sim.errors import UserError

                raise UserError(f"--resume {resume_dir}: a frontier run folder; finish it with "
                                f"{runs.resume_command(run_dir)} (which also writes the frontier's tables)")
            _preflight_resume(run_dir, rank_by)
        else:
            loaded = _preflight_rank_by(scenario, chosen_sets, rank_by)
            if placebo and select_best:
                from scenario_sim.errors import UserError

                raise UserError("--select-best: not with --placebo (placebo sets are controls, not candidates "
                                "to select); run them apart")
            if placebo:
                loaded, chosen_sets = _with_placebo(loaded, chosen_sets)
            if precision is not None and metric is None and not select_best:
                metric = loaded.baseline.outputs.primary
        from scenario_sim.experiment import make_executor, plan_experiment, resume_experiment, run_plan

        ex = make_executor(executor, jobs, scheduler)  # command-line words become an executor here
        if resume_dir is None:  # every other option checked, nothing written yet
            plan = plan_experiment(loaded, replications=replications, seed=seed, sets=chosen_sets, out=out,
                                   chunk_size=chunk_size, timeseries=timeseries, precision=precision,
                                   metric=metric, max_replications=max_replications, rank_by=rank_by,
                                   select_best=select_best, delta=delta, pcs=pcs)
        show = sys.stderr.isatty() and not quiet
        from scenario_sim.errors import AlreadyComplete

        try:
            with _Progress(show, "running", on_start=_warm_imports) as progress:
                if plan is None:
                    result = resume_experiment(run_dir, ex, progress=progress)
                else:
                    result = run_plan(plan, ex, progress=progress)
        except AlreadyComplete as done:  # nothing to resume: not an error; show what the run found
            engine_returned()
            _already_complete(done, rank_by, fmt_name)
            return
        engine_returned()
        _print_ranking(result.run_dir, rank_by, fmt_name)
        m = result.manifest
        if fmt_name == "table":
            tm = m.timings
            click.echo(f"results: {result.run_dir}  ({m.replications_done} replications x {len(m.sets)} sets, "
                       f"seed {m.seed}, {tm.get('wall_seconds')} s)")
            if m.adaptive:
                click.echo(f"adaptive: {m.adaptive.stop_reason}")
        if m.select_best is not None:
            from scenario_sim.report.table import render_selection

            click.echo(render_selection(m.select_best), err=fmt_name != "table")
        if make_report:
            from scenario_sim.report.html import write_report

            p = write_report(result.run_dir)
            click.echo(f"report: {p}", err=fmt_name != "table")
        if result.failures:
            first = m.failures.first[0]
            click.echo(f"{result.failures} replication(s) failed and were left out; first: set {first.set}, "
                       f"replication {first.replication}: {first.error} (all in manifest.json)", err=True)
            sys.exit(1)

    @group.command(name="compare")
    @click.argument("run_dir", metavar="RUN_DIR")
    @click.option("--rank-by", help="Outcome to rank by (default: the run's --rank-by, else outputs.primary).")
    @click.option("--format", "fmt_name", type=click.Choice(FORMATS), default="table", show_default=True,
                  help="How to print the ranking (csv and json give every statistic).")
    @click.option("--out", type=click.Path(file_okay=False), metavar="DIR",
                  help="Write comparison.csv here instead of in RUN_DIR.")
    @click.option("--against", "against_set", metavar="SET",
                  help="Compare every set with SET instead of the baseline (paired, Holm-adjusted).")
    @click.option("--pairwise", is_flag=True,
                  help="Every pair of sets: the matrix of paired differences (writes pairwise.csv).")
    def compare_cmd(run_dir: str, rank_by: str | None, fmt_name: str, out: str | None, against_set: str | None,
                    pairwise: bool) -> None:
        """Rank the sets of a finished run by paired differences from the baseline.

        Also (re)writes comparison.csv with every outcome's statistics, in RUN_DIR or --out
        (a read-only RUN_DIR is compared all the same, with a note that nothing was written).
        RUN_DIR may be `latest` (the newest run under results/) or DIR/latest.  The ranking
        marks the sets that cannot be told from the leader and the sets with side effects
        (key outcomes significantly worse than the baseline).
        """
        path = resolve_run(run_dir, kind="run")
        if against_set is not None and pairwise:
            raise click.UsageError("--against and --pairwise are two views; give one")
        if against_set is not None:
            _print_against(path, against_set, rank_by, fmt_name)
        elif pairwise:
            _print_pairwise(path, rank_by, fmt_name)
        else:
            _print_ranking(path, rank_by, fmt_name, out)

    @group.command(name="report")
    @click.argument("run_dir", metavar="RUN_DIR")
    @click.option("--out", metavar="DIR|-",
                  help="Write report.html, plots/ and comparison.csv (or brief.md) here instead of in RUN_DIR; "
                       "'-' prints the report (one HTML file, plots embedded; or the Markdown brief) on standard "
                       "output.")
    @click.option("--rank-by", help="Outcome to rank by (default: the run's --rank-by, else outputs.primary).")
    @click.option("--format", "fmt_name", type=click.Choice(["html", "md"]), default="html", show_default=True,
                  help="html: the full report; md: the brief alone as Markdown, for e-mail (brief.md).")
    @click.option("--backtest", metavar="DIR|latest",
                  help="Backtest shown in the validation section and the brief (default: the newest backtest of "
                       "the same scenario in the run's results root, if any).")
    @click.option("--explore", "explore_dir", metavar="RUN",
                  help="The explore run whose robustness the brief summarises (default: the newest explore run "
                       "of the scenario beside RUN_DIR; `latest` works).")
    def report_cmd(run_dir: str, out: str | None, rank_by: str | None, fmt_name: str, backtest: str | None,
                   explore_dir: str | None) -> None:
        """Write a self-contained report.html (and PNG plots) into RUN_DIR or --out (`latest` works).

        The report leads with the decision: the recommended set, its effect, cost and side
        effects, what depends on contested assumptions, the backtest. A read-only RUN_DIR
        without --out gets its report on standard output, with a note.
        RUN_DIR may also be a backtest folder (results/backtest-...): its validation report.
        """
        from scenario_sim.backtest.summary import is_backtest
        from scenario_sim.report.html import report_command

        explore = None
        if explore_dir is not None:
            from scenario_sim.analysis.ensemble import is_explore_run
            from scenario_sim.errors import UserError

            explore = resolve_run(explore_dir, kind="explore")
            if not is_explore_run(explore):
                raise UserError(f"--explore: {explore} is not an explore run folder (made by scenario-sim explore)")
        folder = Path(run_dir) if is_backtest(run_dir) else resolve_run(run_dir)
        text, notes = report_command(folder, out, Path(backtest) if backtest else None, rank_by=rank_by,
                                     fmt_name=fmt_name, explore=explore)
        for note in notes:
            click.echo(note, err=True)
        click.echo(text)
