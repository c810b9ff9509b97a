"""The ``scenario-sim backtest`` command (the work is in :mod:`scenario_sim.backtest.core`)."""

from __future__ import annotations

import sys
from typing import Any

import click

from scenario_sim.bundled import resolve
from scenario_sim.calibrate.command import CalibrationOptions, _Date
from scenario_sim.errors import UserError


def _ints(option: str, text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UserError(f"{option}: expected comma-separated whole numbers (got {text!r})") from None


@click.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--records", required=True, metavar="CSV", help="Attack records (the calibrate format).")
@click.option("--since", type=_Date(), help="First night (YYYY-MM-DD) of a plain backtest (default: first record).")
@click.option("--until", type=_Date(), help="Last night (YYYY-MM-DD) of a plain backtest (default: last record).")
@click.option("--train", metavar="YYYY-MM..YYYY-MM", help="Time split: calibrate on these months ...")
@click.option("--test", metavar="YYYY-MM..YYYY-MM", help="... and score these (after the training months).")
@click.option("--contacts", metavar="CSV", help="Leader contacts for the training calibration's event study.")
@click.option("--set", "set_name", default="baseline", show_default=True, help="Recommendation set to simulate.")
@click.option("-n", "--replications", type=click.IntRange(min=2), default=500, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), help="Master seed (default: the scenario's).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@click.option("--out", default="results", show_default=True, type=click.Path(file_okay=False),
              help="Results root; the backtest goes into OUT/backtest-<stamp>-<id>/.")
@click.option("--leak-bins", default="1,100,200,300,400,500", show_default=True, metavar="EDGES",
              help="Lower edges of the nightly wave-size bins for the leak fraction (the last bin is open).")
@click.option("--min-leak-nights", type=int, default=20, show_default=True,
              help="Recorded nights a bin needs for the leak-fraction target to apply.")
@click.option("--night-thresholds", default="300,500", show_default=True, metavar="SIZES",
              help="Count the nights with at least this many launches of a class.")
@click.option("--national-channels", default="kpszsu", show_default=True, metavar="NAMES",
              help="Channels counted as national reports (as in calibrate).")
@click.option("--self-check", is_flag=True,
              help="Also score each replication as the record against the others: how often a correctly specified "
                   "model meets the targets (docs/validation.md).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def backtest(scenario: str, records: str, since: Any, until: Any, train: str | None, test: str | None,
             contacts: str | None, set_name: str, replications: int, seed: int | None, jobs: int | None, out: str,
             leak_bins: str, min_leak_nights: int, night_thresholds: str, national_channels: str,
             self_check: bool, quiet: bool) -> None:
    """Simulate the records' window and score the scenario against it.

    Compares, per class and month, recorded launches with the simulated 90% band
    (coverage, randomised PIT, CRPS), interception and defeat rates, nightly wave sizes,
    the leak fraction by wave-size bin and the co-occurrence of classes on a night; prints
    a one-paragraph verdict and writes a self-describing folder (docs/validation.md).
    With --train/--test, calibrates on the training months first (as calibrate does) and
    scores the test months.
    """
    from scenario_sim.backtest.core import BacktestOptions
    from scenario_sim.backtest.core import backtest as run
    from scenario_sim.backtest.folder import check_root, write_backtest
    from scenario_sim.commands import _Progress
    from scenario_sim.experiment.executors import make_executor

    channels = tuple(c.strip() for c in national_channels.split(","))
    options = BacktestOptions(since=since, until=until, train=train, test=test, set_name=set_name,
                              replications=replications, seed=seed, contacts=contacts,
                              leak_bins=_ints("--leak-bins", leak_bins), min_leak_nights=min_leak_nights,
                              thresholds=_ints("--night-thresholds", night_thresholds),
                              calibration=CalibrationOptions(national_channels=channels), self_check=self_check)
    check_root(out)
    executor = make_executor("process", jobs)
    with _Progress(not quiet and sys.stderr.isatty(), "backtest") as bar:
        result = run(resolve(scenario), records, options, executor, bar)
    folder = write_backtest(result, out)
    # the warnings end the verdict ("Warning: ..."): printed once, there, and stored with it
    click.echo(result.summary["verdict"])
    click.echo(f"\nwrote {folder}")
