"""Command-line options that several commands share, written once.

``run`` and ``explore`` both turn ``--jobs``, ``--executor`` and ``--scheduler`` into an
executor object (:func:`scenario_sim.experiment.executors.make_executor`), so the three
options, their choices and their help text are defined here for both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def executor_options(func: F) -> F:
    """Add ``-j/--jobs``, ``--executor`` and ``--scheduler`` to a click command."""
    for option in reversed((
        click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: all cores)."),
        click.option("--executor", type=click.Choice(["process", "dask", "inprocess"]), default="process",
                     show_default=True, help="Where replications run."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="Dask scheduler address (default: start a local cluster)."),
    )):
        func = option(func)
    return func
