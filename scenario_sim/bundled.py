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
    if p.exists() or p.suffix in (".yaml", ".yml") or "/" in arg:
        return p
    candidate = bundled_dir() / f"{arg}.yaml"
    return candidate if candidate.exists() else p
