"""Finding the scenarios shipped with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

REFERENCE = "reference"


def bundled_dir() -> Path:
    """The folder holding the bundled scenario files (in site-packages or the source tree).

    An installed package maps ``scenarios/`` to ``scenario_sim.scenarios``; a plain source
    checkout on ``sys.path`` (running from the repository root) has no such subpackage, so
    the checkout's own ``scenarios/`` folder is used instead.
    """
    try:
        return Path(str(resources.files("scenario_sim.scenarios")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "scenarios"


def resolve(arg: str | None) -> Path:
    """A scenario argument as a path: an existing file, or the name of a bundled scenario."""
    if arg is None:
        return bundled_dir() / f"{REFERENCE}.yaml"
    p = Path(arg)
    if p.exists() or p.suffix in (".yaml", ".yml") or "/" in arg or "\\" in arg:
        return p
    candidate = bundled_dir() / f"{arg}.yaml"
    if candidate.exists():
        return candidate
    # Neither a file nor a bundled name: say which names there are (a misspelt `referense`).
    from scenario_sim.errors import Problem, ScenarioError
    from scenario_sim.text import did_you_mean

    known = bundled_names()
    raise ScenarioError([Problem(arg, None, None, "", f"no such file, and no bundled scenario of that name"
                                 f"{did_you_mean(arg, known)} (bundled: {', '.join(known)})")])


def bundled_names() -> list[str]:
    """The names of the bundled scenarios (what ``scenario-sim run NAME`` accepts)."""
    return sorted(p.stem for p in bundled_dir().glob("*.yaml"))
