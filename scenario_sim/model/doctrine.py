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
the shot count are coupled exactly as a shot-by-shot simulation would couple them: with
``G = 1 + floor(log(1 - V) / log(1 - pk))``, ``G <= s`` iff ``V < 1 - (1 - pk)^s``.

A new mode (say, two shots then look) is one more class implementing :class:`FiringMode`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from scenario_sim.lang.schema import Doctrine as DoctrineSpec

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


def kill_probability(pk: float, shots: int) -> float:
    """Probability that ``shots`` independent shots of kill probability ``pk`` destroy a target."""
    return 1.0 - (1.0 - pk) ** shots


def shots_until_kill(v: np.ndarray[Any, Any], pk: float, shots: int) -> FloatArray:
    """Shoot-look-shoot shots per target: ``min(shots, 1 + floor(log(1 - v) / log(1 - pk)))``.

    For 0 < pk < 1.  A vanishing pk makes the ratio overflow to +inf, whose limit (all
    ``shots`` fired) is the right answer, so the overflow is silenced, not avoided.
    """
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        g = 1.0 + np.floor(np.log1p(-np.asarray(v, dtype=np.float64)) / math.log1p(-pk))
    return np.minimum(np.nan_to_num(g, nan=float(shots), posinf=float(shots)), shots)


class FiringMode(Protocol):
    """How the shots planned for one target are fired."""

    name: str

    def fixed_shots(self, pk: float, shots: int) -> int | None:
        """Shots every engaged target takes, when that does not depend on the draws (else None)."""
        ...

    def drawn_shots(self, v: np.ndarray[Any, Any], pk: float, shots: int) -> FloatArray:
        """Shots per engaged target from its engagement uniform ``v`` (used when not fixed)."""
        ...


class Salvo:
    """All planned shots are fired at once."""

    name = "salvo"

    def fixed_shots(self, pk: float, shots: int) -> int | None:
        return shots

    def drawn_shots(self, v: np.ndarray[Any, Any], pk: float, shots: int) -> FloatArray:
        return np.full(np.shape(v), float(shots))


class ShootLookShoot:
    """Shots are fired one at a time until a kill or until the planned shots are spent."""

    name = "shoot_look_shoot"

    def fixed_shots(self, pk: float, shots: int) -> int | None:
        if pk <= 0.0:
            return shots  # no shot ever kills: all are fired
        if pk >= 1.0:
            return 1      # the first shot always kills
        return None

    def drawn_shots(self, v: np.ndarray[Any, Any], pk: float, shots: int) -> FloatArray:
        return shots_until_kill(v, pk, shots)


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

    def fixed_shots(self, pk: float, shots: int) -> int | None:
        return self.mode.fixed_shots(pk, shots)

    def shots_taken(self, v: np.ndarray[Any, Any], pk: float, shots: int) -> FloatArray:
        """Shots each engaged target takes (per-munition; see :meth:`fixed_shots` first)."""
        return self.mode.drawn_shots(v, pk, shots)


def build_doctrine(spec: DoctrineSpec) -> Doctrine:
    """The doctrine object for a scenario's ``doctrine`` section."""
    return Doctrine(FIRING_MODES[spec.mode], spec.shots_per_target, spec.reduced_shots_per_target,
                    float(spec.reduce_below_stock))
