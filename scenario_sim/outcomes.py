"""What an outcome is: a named quantity with a unit and a direction.

:class:`Outcome` is the record that run folders, comparisons and reports carry; this module
depends on nothing else in the package, so analysis and reporting can use it without the
model.  *Which* outcomes exist, and how each is computed, is defined once, next to the
computation, in :mod:`scenario_sim.model.outcomes` (name scheme, units, directions and the
``docs/model.md`` table all come from there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher", "none"]


@dataclass(frozen=True)
class Outcome:
    """A named outcome with its unit and which direction is better."""

    name: str
    unit: str
    direction: Direction
    description: str


def catalogue(classes: Sequence[str], systems: Sequence[str], stocked_systems: Sequence[str],
              costed: bool = False) -> list[Outcome]:
    """All outcomes for a scenario with these class and system names, in a stable order.

    Delegates to the model's definitions (:func:`scenario_sim.model.outcomes.catalogue`).
    The import is deferred so that importing this module (as analysis and report do, for
    :class:`Outcome`) never loads the model.
    """
    from scenario_sim.model.outcomes import catalogue as model_catalogue

    return model_catalogue(classes, systems, stocked_systems, costed)
