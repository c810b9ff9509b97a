"""The ``scenario-sim`` command line.

Every command reports user mistakes as one line per problem on stderr and exits with status
2; an interrupted command exits 130; failures inside a run exit 1.  No user mistake ever
produces a traceback (set ``SCENARIO_SIM_DEBUG=1`` to see one for a genuine bug).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, ClassVar

import click
import yaml

from scenario_sim import __version__
from scenario_sim.bundled import resolve
from scenario_sim.errors import UserError


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


class _LazyGroup(click.Group):
    """A group whose heavier commands are imported only when they are used.

    ``calibrate`` pulls in scipy's optimisers; ``scenario-sim run --rank-by typo`` should not
    wait for them before saying what is wrong.
    """

    lazy: ClassVar[dict[str, tuple[str, str]]] = {"calibrate": ("scenario_sim.calibrate.command", "calibrate"),
                                                  "backtest": ("scenario_sim.backtest.command", "backtest")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            import importlib

            module, attr = self.lazy[cmd_name]
            try:
                cmd = getattr(importlib.import_module(module), attr)
            except ImportError:  # pragma: no cover - the calibration layer is optional in a trimmed install
                return None
            self.add_command(cmd, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="scenario-sim")
def cli() -> None:
    """Compare policy recommendation sets in a Monte Carlo model of strike waves,
    air defence, leader contacts and sanctions.

    Start with `scenario-sim run` (the bundled reference scenario), then
    `scenario-sim show reference` to read what was run.
    """


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def validate(files: tuple[str, ...]) -> None:
    """Check scenario files, including every recommendation set in them.

    Prints every problem as FILE:LINE:COL: FIELD: MESSAGE and exits with status 2 if any
    file has one.
    """
    from scenario_sim.errors import ScenarioError
    from scenario_sim.lang import load_scenario

    failed = False
    for f in files:
        try:
            loaded = load_scenario(resolve(f))
        except ScenarioError as exc:
            failed = True
            for line in exc.lines():
                _echo_err(line)
            continue
        n = len(loaded.set_names) - 1
        click.echo(f"{f}: ok ({loaded.baseline.name}, {loaded.baseline.horizon_days} days, "
                   f"{n} recommendation set{'s' if n != 1 else ''})")
    if failed:
        sys.exit(2)


@cli.command()
@click.argument("file", metavar="FILE")
@click.option("--set", "set_name", default="baseline", show_default=True,
              help="Recommendation set to apply before showing.")
@click.option("--diff", "diff_set", metavar="SET",
              help="Print only what SET changes against the baseline, resolved (includes, scale factors).")
def show(file: str, set_name: str, diff_set: str | None) -> None:
    """Print the effective scenario (after `extends` and a recommendation set) as YAML.

    FILE is a scenario file, the name of a bundled scenario, or a run folder (`latest`
    works) whose recorded scenario is shown.
    """
    from scenario_sim.lang import dump_scenario, load_scenario

    path = _scenario_path(file)
    if diff_set is not None and set_name != "baseline":
        raise click.UsageError("--diff compares a set with the baseline; give --diff SET without --set")
    loaded = load_scenario(path, validate_sets=False)
    if diff_set is not None:
        from scenario_sim.report.setdiff import render_diff

        base = dump_scenario(loaded.baseline)
        click.echo(render_diff(file, diff_set, base, dump_scenario(loaded.effective(diff_set))))
        return
    data = dump_scenario(loaded.effective(set_name))
    click.echo(f"# effective scenario: {file}, recommendation set: {set_name}")
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)


def _scenario_path(arg: str) -> Path:
    """A scenario argument: a run folder (or `latest`) means the scenario recorded in it."""
    from scenario_sim.runrefs import is_latest, resolve_run

    if is_latest(arg) or (Path(arg).is_dir() and (Path(arg) / "manifest.json").exists()):
        run = resolve_run(arg)
        return run / "scenario.yaml"
    return resolve(arg)


@cli.command()
@click.argument("root", required=False, default="results", metavar="[DIR]")
def runs(root: str) -> None:
    """List the runs under DIR (default: results), newest first.

    Shows when each started, its scenario, how many sets (the baseline included) and
    replications it has, its status and its size on disk.  Any command that takes a run
    folder also accepts `latest` (newest under results/) or DIR/latest.
    """
    from scenario_sim.runrefs import render_runs

    click.echo(render_runs(Path(root)))


@cli.command()
@click.option("--indent", default=2, show_default=True, help="JSON indentation.")
def schema(indent: int) -> None:
    """Print the JSON Schema of the scenario language (for editors; see the README)."""
    from scenario_sim.lang import json_schema

    click.echo(json.dumps(json_schema(), indent=indent))


def _register_optional_commands() -> None:
    """Commands that live in other layers register themselves here."""
    from scenario_sim import commands

    commands.register(cli)
    # deep uncertainty: robust, discover, sensitivity, export (issue 10)
    from scenario_sim import deep_cli

    deep_cli.register(cli)
    # deep uncertainty: explore, the ensemble runner (issue 10)
    from scenario_sim import explore_cli

    explore_cli.register(cli)
    # costs: the bundle frontier (issue 12)
    from scenario_sim import frontier_cli

    frontier_cli.register(cli)


def _interrupted_before_the_command(args: list[str]) -> str:
    """What a Ctrl-C before any command started says: for a command that writes a run folder,
    that none was written (the same words as a Ctrl-C before the engine made one)."""
    if not args or args[0] not in ("run", "explore", "frontier"):
        return "scenario-sim: interrupted"
    from scenario_sim.cli_options import InterruptedBeforeFolder

    return str(InterruptedBeforeFolder(any(a == "--resume" or a.startswith("--resume=") for a in args)))


def _interrupted_inside_click(args: list[str]) -> str:
    """A Ctrl-C that click turned into ``Abort``: while it parsed the options (before the command:
    nothing written), or after an engine returned (while the summary or report was made: the
    replications are kept)."""
    from scenario_sim.cli_options import results_written

    if results_written():
        return "scenario-sim: interrupted after the replications were written; they are kept"
    return _interrupted_before_the_command(args)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one line and exit status 2."""
    args = sys.argv[1:] if argv is None else argv
    try:
        _register_optional_commands()  # imports: a Ctrl-C can come here, before any command starts
        rv: Any = cli.main(args=args, prog_name="scenario-sim", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "")
        sys.exit(2)
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "scenario-sim"
        _echo_err(f"{cmd}: error: {exc.format_message()} (see '{cmd} --help')")
        sys.exit(2)
    except click.exceptions.Abort:  # click's word for a Ctrl-C inside cli.main: say what it means
        _echo_err(_interrupted_inside_click(args))
        sys.exit(130)
    except UserError as exc:
        for line in exc.lines():
            _echo_err(line)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # click turns one inside a command into Abort: this one came before it
        _echo_err(_interrupted_before_the_command(args))
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _echo_err(f"scenario-sim: error: {exc.format_message()}")
        sys.exit(2)
    except Exception as exc:  # a bug, not a user mistake: still one line unless debugging
        if os.environ.get("SCENARIO_SIM_DEBUG"):
            raise
        _echo_err(f"scenario-sim: internal error: {type(exc).__name__}: {exc} "
                  "(set SCENARIO_SIM_DEBUG=1 for a traceback, and please report it)")
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
