"""The ``scenario-sim explore`` command: cases x worlds x sets on common random numbers.

The engine is :mod:`scenario_sim.experiment.ensemble`; the analyses of its folder are the
``robust``, ``discover``, ``sensitivity`` and ``export`` commands (:mod:`scenario_sim.deep_cli`)
and ``scenario-sim report``.  Kept in a module of its own so :mod:`scenario_sim.cli` only
registers it.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from scenario_sim.bundled import resolve
from scenario_sim.cli_options import engine_returned, executor_options, interrupt_before_folder
from scenario_sim.errors import AlreadyComplete
from scenario_sim.runrefs import resolve_run
from scenario_sim.text import counted


def _split(values: tuple[str, ...]) -> list[str] | None:
    out = [v.strip() for val in values for v in val.split(",") if v.strip()]
    return out or None


def _summary(run_dir: object, m: dict[str, Any]) -> None:
    """The lines an explore ends with: what ran, and what to do next."""
    ex_info = m["explore"]
    n_worlds = len(ex_info["worlds"])
    click.echo(f"results: {run_dir}  ({counted(ex_info['cases'], 'case')} x {counted(n_worlds, 'world')} x "
               f"{counted(len(m['sets']), 'set')} x {counted(m['replications_target'], 'replication')}, "
               f"{ex_info['sampler']}, seed {m['seed']}, {m['timings'].get('wall_seconds')} s)")
    click.echo(f"next: scenario-sim robust {run_dir}   (or: scenario-sim report {run_dir})")


def register(group: click.Group) -> None:
    """Add the explore command to ``group``."""

    @group.command(name="explore")
    @click.argument("scenario", required=False, metavar="[SCENARIO]")
    @click.option("--cases", type=click.IntRange(min=1), default=100, show_default=True,
                  help="Cases to sample (sobol: N, a power of 2, giving N*(D+2) cases; morris: trajectories, "
                       "giving N*(D+1) cases; grid: at most this many).")
    @click.option("--sampler", type=click.Choice(["lhs", "sobol", "grid", "morris"]), default="lhs",
                  show_default=True, help="How cases are sampled (scipy.stats.qmc / SALib).")
    @click.option("-n", "--replications", type=click.IntRange(min=1), default=10, show_default=True,
                  help="Replications per set in every case and world.")
    @click.option("--worlds", multiple=True, metavar="NAME[,NAME]", help="Worlds to run (default: all).")
    @click.option("--sets", multiple=True, metavar="NAME[,NAME]", help="Recommendation sets (default: all).")
    @click.option("--inputs", multiple=True, metavar="NAME[,NAME]",
                  help="Uncertain inputs to vary (default: all; the others keep their baseline values).")
    @click.option("--seed", type=click.IntRange(min=0), help="Master seed (default: the scenario's; recorded).")
    @executor_options
    @click.option("--chunk-size", type=click.IntRange(min=1),
                  help="Replications per work unit (default: all of a case and world; results do not depend on it).")
    @click.option("--out", default="results", show_default=True, type=click.Path(file_okay=False),
                  help="Results root; the run goes in OUT/<scenario>/explore-<timestamp>-<id>/.")
    @click.option("--resume", "resume_dir", type=click.Path(), metavar="RUN_DIR",
                  help="Finish an interrupted explore (RUN_DIR may be `latest` or DIR/latest).")
    @click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
    @interrupt_before_folder
    def explore_cmd(scenario: str | None, cases: int, sampler: str, replications: int, worlds: tuple[str, ...],
                    sets: tuple[str, ...], inputs: tuple[str, ...], seed: int | None, jobs: int | None,
                    executor: str, scheduler: str | None, chunk_size: int | None, out: str,
                    resume_dir: str | None, quiet: bool) -> None:
        """Run every set in every sampled case and world, on common random numbers within a case.

        SCENARIO is a scenario file or a bundled name (default: reference); its `uncertainties:`
        are sampled and its `worlds:` crossed with the cases. Writes a run folder with
        manifest.json, scenario.yaml, cases.parquet (one row per case) and replications.parquet
        (set, case, world, replication, outcomes, draw.* columns). Analyse it with
        `scenario-sim robust|discover|sensitivity RUN` or `scenario-sim report RUN`.
        Exit status: 0 ok, 1 some replications failed, 2 bad input, 130 interrupted.
        """
        from scenario_sim.commands import _Progress
        from scenario_sim.errors import UserError
        from scenario_sim.experiment.ensemble import plan_explore, resume_explore, run_explore
        from scenario_sim.experiment.executors import make_executor

        if resume_dir is not None:
            given = click.get_current_context().params
            if scenario or seed is not None or worlds or sets or inputs or chunk_size \
                    or given["cases"] != 100 or given["sampler"] != "lhs" or given["replications"] != 10:
                raise UserError("--resume: takes its scenario, design, seed, sets, worlds and replications from "
                                "the run folder; give only --jobs/--executor/--scheduler with it")
            ex = make_executor(executor, jobs, scheduler)
            try:
                with _Progress(sys.stderr.isatty() and not quiet, "exploring") as progress:
                    result = resume_explore(resolve_run(resume_dir, kind="explore"), ex, progress=progress)
            except AlreadyComplete as done:  # nothing to resume: say so and show the run's summary
                engine_returned()
                from scenario_sim.runs import RunFolder

                # a complete folder that lost a file is that file's one-line error, not "complete"
                # and then the error from the command it points to
                folder = RunFolder.open(done.path)
                folder.replications_file()
                click.echo(f"{done.path}: the explore run is already complete (status {done.status}); "
                           "nothing to resume.", err=True)
                m = folder.raw_manifest()
                _summary(done.path, m)
                sys.exit(1 if (m.get("failures") or {}).get("count") else 0)
        else:
            plan = plan_explore(resolve(scenario), cases=cases, sampler=sampler, replications=replications,
                                worlds=_split(worlds), sets=_split(sets), inputs=_split(inputs), seed=seed,
                                chunk_size=chunk_size, out=out)
            ex = make_executor(executor, jobs, scheduler)
            with _Progress(sys.stderr.isatty() and not quiet, "exploring") as progress:
                result = run_explore(plan, ex, progress=progress)
        engine_returned()
        m = result.manifest
        _summary(result.run_dir, m)
        if result.failures:
            first = m["failures"]["first"][0]
            click.echo(f"{result.failures} replication(s) failed and were left out; first: set {first['set']}, "
                       f"case {first['case']}, world {first['world'] or '-'}, replication {first['replication']}: "
                       f"{first['error']} (all in manifest.json)", err=True)
            sys.exit(1)
