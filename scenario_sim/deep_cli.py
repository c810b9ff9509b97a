"""The deep-uncertainty commands: ``robust``, ``discover``, ``sensitivity`` and ``export``.

Each reads an explore run folder (see :mod:`scenario_sim.analysis.ensemble` for what it holds)
and prints one analysis; the same analyses are in the report of an explore run.  Kept in a
module of their own so that :mod:`scenario_sim.cli` only registers them.
"""

from __future__ import annotations

import click

from scenario_sim.report.table import FORMATS
from scenario_sim.runrefs import resolve_run


def _sets(values: tuple[str, ...]) -> list[str] | None:
    out = [v.strip() for val in values for v in val.split(",") if v.strip()]
    return out or None


def register(group: click.Group) -> None:
    """Add the deep-uncertainty commands to ``group``."""

    @group.command(name="robust")
    @click.argument("run_dir", metavar="RUN_DIR")
    @click.option("--outcome", help="Outcome (default: the scenario's outputs.primary).")
    @click.option("--sets", multiple=True, metavar="NAME[,NAME]", help="Sets to compare (default: all).")
    @click.option("--format", "fmt_name", type=click.Choice(FORMATS), default="table", show_default=True)
    def robust_cmd(run_dir: str, outcome: str | None, sets: tuple[str, ...], fmt_name: str) -> None:
        """Regret, satisficing and the ranking under each rule, with the value of information."""
        from scenario_sim.analysis.ensemble import load_ensemble
        from scenario_sim.analysis.robust import robustness
        from scenario_sim.analysis.voi import value_of_information
        from scenario_sim.report.ensemble import robustness_text

        run = load_ensemble(resolve_run(run_dir, kind="explore"))
        chosen = _sets(sets)
        rb = robustness(run, outcome, chosen)
        click.echo(robustness_text(rb, value_of_information(run, rb.outcome, chosen), fmt_name))

    @group.command(name="discover")
    @click.argument("run_dir", metavar="RUN_DIR")
    @click.option("--set", "set_name", required=True, help="The set asked about.")
    @click.option("--versus", help="Ask when --set beats this set (on the paired difference) instead.")
    @click.option("--outcome", help="Outcome (default: the scenario's outputs.primary).")
    @click.option("--threshold", type=float,
                  help="Bound the outcome must meet, in its better direction (default: outputs.thresholds).")
    @click.option("--density", type=click.FloatRange(0, 1, min_open=True), default=0.8, show_default=True,
                  help="Report the PRIM box with the highest coverage among those at least this dense.")
    @click.option("--format", "fmt_name", type=click.Choice(FORMATS), default="table", show_default=True)
    def discover_cmd(run_dir: str, set_name: str, versus: str | None, outcome: str | None,
                     threshold: float | None, density: float, fmt_name: str) -> None:
        """Scenario discovery (PRIM, with CART as a second view): when does a set fail, or beat another?"""
        from scenario_sim.analysis.discovery import NothingToDiscover, discover
        from scenario_sim.analysis.ensemble import Threshold, better_sign, load_ensemble
        from scenario_sim.report.ensemble import discovery_text, nothing_to_discover_text

        run = load_ensemble(resolve_run(run_dir, kind="explore"))
        name = outcome or run.primary
        th = None
        if threshold is not None:
            th = Threshold(name, threshold, better_sign(run.outcome(name)) < 0)
        try:
            d = discover(run, set_name, name, versus=versus, threshold=th, density=density)
        except NothingToDiscover as exc:  # "always" / "never" is an answer, not bad input: exit 0
            click.echo(nothing_to_discover_text(exc, fmt_name))
            return
        click.echo(discovery_text(d, fmt_name))

    @group.command(name="sensitivity")
    @click.argument("run_dir", metavar="RUN_DIR")
    @click.option("--outcome", help="Outcome (default: the scenario's outputs.primary).")
    @click.option("--sets", multiple=True, metavar="NAME[,NAME]", help="Sets to analyse (default: all).")
    @click.option("--format", "fmt_name", type=click.Choice(FORMATS), default="table", show_default=True)
    def sensitivity_cmd(run_dir: str, outcome: str | None, sets: tuple[str, ...], fmt_name: str) -> None:
        """Which uncertain inputs drive each set's benefit (Sobol, Morris or RBD-FAST by the run's sampler)."""
        from scenario_sim.analysis.ensemble import load_ensemble
        from scenario_sim.analysis.sensitivity import sensitivity
        from scenario_sim.report.ensemble import sensitivity_text

        run = load_ensemble(resolve_run(run_dir, kind="explore"))
        click.echo(sensitivity_text(sensitivity(run, outcome, _sets(sets)), fmt_name))

    @group.command(name="export")
    @click.argument("run_dir", metavar="RUN_DIR")
    @click.option("--format", "fmt_name", type=click.Choice(["ema"]), required=True,
                  help="ema: the results archive EMA Workbench 2.5's load_results reads.")
    @click.option("--out", type=click.Path(), help="Archive path (default: RUN_DIR/ema_results.tar.gz).")
    def export_cmd(run_dir: str, fmt_name: str, out: str | None) -> None:
        """Write an explore run in another tool's format; prints the path written."""
        from scenario_sim.analysis.ema import export_ema

        click.echo(str(export_ema(resolve_run(run_dir, kind="explore"), out)))
