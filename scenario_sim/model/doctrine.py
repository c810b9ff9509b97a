"""Firing doctrine: how many shots a layer fires at a target, and what they achieve.

A doctrine is built once per layer at compile time (:func:`build_doctrine`) and asked two
things during resolution:

* how many shots per target it plans at the current interceptor stock
  (:meth:`Doctrine.shots_per_target`: ``shots_per_target``, or ``reduced_shots_per_target``
  while the stock is below ``reduce_below_stock``);
* how many shots an engaged target actually takes, which is the firing *mode*'s business
  (:class:`FiringMode`): a salvo fires all its shots; shoot-look-shoot fires one at a time
  until a kill, so a target uses ``min(s, G)`` shots with ``G ~ Geometric(pk)``.

Both modes destroy a target engaged with ``s`` shots of single-shot kill probability ``pk``
with probability :func:`kill_probability` ``= 1 - (1 - pk)^s``; they differ only in the
shots spent.  The engagement uniform ``V`` of a munition decides both, so the kill test and
the shot count are coupled exactly as a shot-by-shot simulation would couple them: shot
``j`` kills iff ``V`` is below P(killed within ``j`` shots), so with ``G`` the first such
``j`` (geometric), a target uses ``min(s, G)`` shots and is destroyed iff ``G <= s``.

A new mode (say, two shots then look) is one more class implementing :class:`FiringMode`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from scenario_sim.lang.schema import Doctrine as DoctrineSpec


def kill_probability(pk: float, shots: int) -> float:
    """Probability that ``shots`` independent shots of kill probability ``pk`` destroy a target."""
    return 1.0 - (1.0 - pk) ** shots


class FiringMode(Protocol):
    """How the shots planned for one target are fired."""

    name: str

    def early_stops(self, pk: float, shots: int) -> list[float]:
        """Probabilities ``q_j`` such that a target engaged with ``shots`` planned shots
        uses ``shots - #{j : V < q_j}`` of them, ``V`` being its engagement uniform.

        Salvo: none (every planned shot is fired).  Shoot-look-shoot: ``q_j`` = P(killed
        within ``j`` shots) for ``j < shots``, so a target killed by shot ``G`` stops there:
        it uses ``min(shots, G)``, with the same ``V`` that decides the kill.
        """
        ...


class Salvo:
    """All planned shots are fired at once."""

    name = "salvo"

    def early_stops(self, pk: float, shots: int) -> list[float]:
        return []


class ShootLookShoot:
    """Shots are fired one at a time until a kill or until the planned shots are spent."""

    name = "shoot_look_shoot"

    def early_stops(self, pk: float, shots: int) -> list[float]:
        return [kill_probability(pk, j) for j in range(1, shots)]


FIRING_MODES: dict[str, FiringMode] = {m.name: m for m in (Salvo(), ShootLookShoot())}


@dataclass(frozen=True)
class Doctrine:
    """A layer's firing doctrine: a firing mode and shots per target by stock level."""

    mode: FiringMode
    shots: int
    reduced_shots: int
    reduce_below_stock: float

    def shots_per_target(self, stock: float) -> int:
        """Shots planned per target when the layer's stock is ``stock`` (inf: unlimited)."""
        return self.shots if stock >= self.reduce_below_stock else self.reduced_shots

    @property
    def reduces(self) -> bool:
        """Whether a low stock changes the shots per target at all."""
        return self.reduced_shots != self.shots

    def levels(self) -> list[int]:
        """The distinct shots-per-target this doctrine can plan."""
        return sorted({self.shots, self.reduced_shots})


def build_doctrine(spec: DoctrineSpec) -> Doctrine:
    """The doctrine object for a scenario's ``doctrine`` section."""
    return Doctrine(FIRING_MODES[spec.mode], spec.shots_per_target, spec.reduced_shots_per_target,
                    float(spec.reduce_below_stock))
