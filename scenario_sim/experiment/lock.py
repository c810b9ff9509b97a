"""One writer per run folder: an OS file lock held while a run or a resume writes it.

The lock is ``flock(2)`` on the run folder itself (a directory file descriptor), not on a
lock file: the kernel releases it when the holder exits however it exits (``kill -9``
included), so a stale lock cannot outlive its process, and there is no window in which two
processes can both believe they hold it (the race of deleting and re-creating a lock file).
The descriptor is not inherited by worker processes, so an orphaned worker cannot keep a
folder locked: Python opens it non-inheritable (closed across exec, for spawned workers),
and a forked worker closes its copy at once (an ``os.register_at_fork`` hook; closing a
copy drops the child's reference to the lock without releasing the parent's).

Who holds it (pid, host, start time) is written next to it in ``.lock.json`` for the error
message a second writer gets; that file is only information (the flock decides) and is
removed on release.  ``flock`` is advisory and local: on network file systems that do not
propagate it between machines, two hosts can still write one folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import socket
from pathlib import Path
from types import TracebackType

from scenario_sim.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; runs are then not protected
    fcntl = None  # type: ignore[assignment]

HOLDER = ".lock.json"

_HELD: set[int] = set()  # descriptors of the locks this process holds


def _close_in_forked_child() -> None:
    """In a forked child: close the inherited lock descriptors (never LOCK_UN: that would release
    the parent's lock, which belongs to the shared open file description)."""
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_forked_child)


class RunLocked(UserError):
    """Another process is writing this run folder."""


class FolderLock:
    """Exclusive, non-blocking lock on a run folder (use as a context manager)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        """Take the lock, or raise :class:`RunLocked` naming the holder."""
        if fcntl is None:  # pragma: no cover
            return self
        fd = os.open(self.folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunLocked(f"{self.folder}: in use by {self.holder()}; wait for it to finish "
                                "(or stop it, then resume)") from None
            raise
        self._fd = fd
        _HELD.add(fd)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": dt.datetime.now().isoformat(timespec="seconds")}
        with contextlib.suppress(OSError):  # only information; a full or read-only disk is reported elsewhere
            (self.folder / HOLDER).write_text(json.dumps(info) + "\n", encoding="utf-8")
        return self

    def holder(self) -> str:
        """Who holds the lock, as far as ``.lock.json`` says."""
        try:
            info = json.loads((self.folder / HOLDER).read_text(encoding="utf-8"))
            return f"pid {info['pid']} on {info['host']} since {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is None or fcntl is None:
            return
        (self.folder / HOLDER).unlink(missing_ok=True)
        _HELD.discard(self._fd)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
