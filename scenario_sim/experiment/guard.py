"""Refusing to start a run while a spawned worker process is importing the user's script.

Worker processes (the local process pool and Dask's local cluster) are started with the
``spawn`` method: a fresh interpreter that re-imports the parent's main script under the
name ``__mp_main__`` before it can do any work.  A script that calls
:func:`~scenario_sim.experiment.run_experiment` at its top level, without the
``if __name__ == "__main__":`` guard, therefore makes every worker start a run of its own
while it is still being born.  Left alone that gives a ``BrokenProcessPool`` traceback in the
parent and one stray results folder per worker.

:func:`refuse_in_worker_bootstrap` detects that situation exactly as :mod:`multiprocessing`
itself does (the ``_inheriting`` flag of the current process during bootstrapping) and, as
a second signal that also covers other spawners, a caller whose module is ``__mp_main__``.
The worker then prints one sentence saying what to change and exits without a traceback,
before any folder is created; the parent reports the broken pool with the same hint.
"""

from __future__ import annotations

import multiprocessing
import sys
from types import FrameType

HINT = ('put the call under `if __name__ == "__main__":` (worker processes are started with '
        "'spawn', which re-imports your script; see the README's Python example)")
"""What to do about it, shared by the worker's message and the parent's."""


def in_worker_bootstrap() -> bool:
    """True while this process is a spawned worker still importing the parent's main script."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        return True
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "__mp_main__" and frame.f_code.co_name == "<module>":
            return True
        frame = frame.f_back
    return False


def refuse_in_worker_bootstrap(api: str) -> None:
    """Exit this worker with one sentence (no traceback) if it is importing the main script."""
    if in_worker_bootstrap():
        print(f"scenario-sim: {api}() was called while a worker process was starting; {HINT}.",
              file=sys.stderr)
        raise SystemExit(1)
