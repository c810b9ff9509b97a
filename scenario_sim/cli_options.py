"""Command-line options and behaviour that several commands share, written once.

``run`` and ``explore`` both turn ``--jobs``, ``--executor`` and ``--scheduler`` into an
executor object (:func:`scenario_sim.experiment.executors.make_executor`), so the three
options, their choices and their help text are defined here for both.

:func:`interrupt_before_folder` gives ``run``, ``explore`` and ``frontier`` one answer to a
Ctrl-C that comes before the engine has a run folder (while modules load, the scenario is
checked or the worker processes start).  After that the engines turn Ctrl-C into their own
``RunInterrupted`` ("finished chunks are saved ... resume with ..."), and a new folder whose
writing is interrupted is removed; so a bare KeyboardInterrupt out of the engine means nothing
was written, and the command says so (exit 130) instead of click's blank line and "aborted".
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar, cast

import click

from scenario_sim.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])

_ENGINE_RETURNED: ContextVar[bool] = ContextVar("engine_returned", default=False)


class InterruptedBeforeFolder(UserError):
    """Ctrl-C before the run folder existed (or, for ``--resume``, before the folder was touched)."""

    exit_code = 130

    def __init__(self, resume: bool):
        super().__init__("interrupted before the resumed session started; the run folder is unchanged" if resume
                         else "interrupted before the run folder was created; nothing was written")


_RESULTS_WRITTEN = [False]  # survives the command (the ContextVar is reset): read by cli.main


def engine_returned() -> None:
    """Mark that the engine has returned: a later Ctrl-C (while printing, say) is an ordinary one."""
    _ENGINE_RETURNED.set(True)
    _RESULTS_WRITTEN[0] = True


def results_written() -> bool:
    """Whether an engine returned in this process: a Ctrl-C after that (click's ``Abort``) came
    while the summary was printed, with the run folder complete."""
    return _RESULTS_WRITTEN[0]


def interrupt_before_folder(func: F) -> F:
    """Report a Ctrl-C that reaches the command before :func:`engine_returned` as
    :class:`InterruptedBeforeFolder` (the command's ``resume_dir`` parameter picks the wording)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _ENGINE_RETURNED.set(False)
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            if _ENGINE_RETURNED.get():
                raise
            raise InterruptedBeforeFolder(kwargs.get("resume_dir") is not None) from None
        finally:
            _ENGINE_RETURNED.reset(token)

    return cast(F, wrapper)


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
