"""Errors a user can act on.

Everything that is the user's fault (a scenario typo, a bad CLI option, a corrupt results
folder, an odd CSV row) is raised as a :class:`UserError` subclass.  The CLI turns each into
one line per problem and exit status 2; nothing else in the package prints tracebacks at
users.  A problem carries its location (file, line, column) and the dotted field path, so the
message reads like a compiler diagnostic::

    scenarios/x.yaml:14:7: air_defense.systems[patriot].pk.ballistic: must be between 0 and 1 (got 1.4)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One located problem in a user's input."""

    file: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class UserError(Exception):
    """An error in something the user supplied; reported without a traceback, exit status 2."""

    exit_code = 2

    def lines(self) -> list[str]:
        return [str(self)]


class ScenarioError(UserError):
    """One or more problems in a scenario file, all reported at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(
            problems, key=lambda p: (p.file, p.line or 0, p.column or 0, p.field, p.message)
        )
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class DataError(UserError):
    """A problem in an input data file (attack records, contacts list)."""


class ResultsError(UserError):
    """A missing, partial or corrupt results folder."""


class AlreadyComplete(UserError):
    """``--resume`` of a run that has nothing left to do.

    Raised by the Python resume functions (there it is a mistake: nothing was resumed); the CLI
    catches it, says so, prints the run's summary again and exits 0 (1 when the run recorded
    failed replications, as the run itself did)."""

    def __init__(self, path: Path, status: str):
        self.path, self.status = Path(path), status
        super().__init__(f"{path}: run is already complete (status {status})")
