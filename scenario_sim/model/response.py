"""The attacker's answer to a leader contact: a surge, a pause, or nothing.

Decision
    Every contact gets one uniform ``U`` (the first draw of its surge stream
    ``attacker.surge.<contact id>``, see :mod:`scenario_sim.model.attacker`).  With ``p_s`` the
    replication's surge probability (0 unless the surge is ``enabled`` and the contact's kind
    is in its ``triggers``) and ``p_p`` the pause probability (likewise for ``attacker.pause``):

    * ``U < p_s``               -> a surge (as before pauses existed);
    * ``p_s <= U < p_s + p_p``  -> a pause;
    * otherwise                 -> nothing.

    Sharing the uniform keeps common random numbers tight: a set or a case that changes the
    pause probability changes no contact's surge, and one that changes the surge probability
    moves contacts only between adjacent answers.  ``p_p`` is drawn once per replication
    from ``pause.probability`` (stream ``attacker.pause.probability``), like ``p_s``.

Recorded answers
    A scheduled contact with ``response`` takes that answer instead of a drawn one: the
    2025-03-18 call (an agreed 30-day pause on energy strikes) is
    ``{kind: pause, pause_days: 30, scope: energy}``, the 2025-07-03 call (a record night)
    ``{kind: surge}``.  A recorded surge still draws its lag and size like any other.

Pauses
    A pause starts ``L ~ pause.lag_days`` after the contact and lasts ``D ~ duration_days``
    (both from the contact's own stream ``attacker.pause.<contact id>``, drawn only when the
    contact pauses; a recorded ``pause_days`` replaces ``D``).  While it lasts:

    * scope ``waves``: every wave (ordinary or surge) asks for ``round(x * wave_factor)`` of
      the ``x`` munitions it would have asked for (0: no waves at all);
    * scope ``energy``, ``civilian`` or ``military``: waves go on, but hits do not strike that
      target class; its share of ``attacker.targets`` goes to the other classes in proportion
      to their weights (the attacker re-aims; it does not launch less).

    Overlapping pauses combine: the smallest wave factor applies, and every spared class is
    spared.  Nothing here draws from an existing stream, so a scenario without pauses or
    recorded answers gives exactly the draws and results it gave before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scenario_sim.lang.schema import ForcedResponse, Scenario
from scenario_sim.model.contacts import Contact
from scenario_sim.model.rng import Streams

TARGET_CLASSES = ("energy", "civilian", "military")
"""Target classes in the order of the spared bit mask (bit 0: energy)."""


@dataclass(frozen=True, slots=True)
class PauseWindow:
    """A pause in force on ``[start, end)``: a wave factor, or a bit mask of spared target classes."""

    start: float
    end: float
    factor: float
    spared: int


class Responses:
    """Decides each contact's answer and keeps the pauses of one replication."""

    def __init__(self, scenario: Scenario, streams: Streams, forced: dict[int, ForcedResponse] | None = None):
        self.scenario = scenario
        self.streams = streams
        self.pause = scenario.attacker.pause
        self.forced = self.recorded_responses(scenario) if forced is None else forced
        self.pause_probability = math.nan
        if self.pause is not None:
            self.pause_probability = float(
                self.pause.probability.sample(streams.rng("attacker.pause.probability"), 1)[0])
        self.windows: list[PauseWindow] = []

    @staticmethod
    def recorded_responses(scenario: Scenario) -> dict[int, ForcedResponse]:
        """The recorded answers of the scenario's scheduled contacts, by contact index
        (draw-independent: the attacker builds this once per compiled scenario)."""
        return {i: sc.response for i, sc in enumerate(scenario.contacts.scheduled) if sc.response is not None}

    def recorded(self, contact: Contact) -> ForcedResponse | None:
        """The recorded answer to ``contact``, if the scenario gives one."""
        return self.forced.get(contact.key) if contact.source == "scheduled" else None

    def decide(self, contact: Contact, u: float, surge_probability: float) -> str:
        """``surge``, ``pause`` or ``none`` for ``contact`` given its uniform ``u``."""
        forced = self.recorded(contact)
        if forced is not None:
            return forced.kind
        surge = self.scenario.attacker.surge
        p_s = surge_probability if (surge.enabled and contact.kind in surge.triggers) else 0.0
        if u < p_s:
            return "surge"
        pz = self.pause
        if pz is not None and pz.enabled and contact.kind in pz.triggers and u < p_s + self.pause_probability:
            return "pause"
        return "none"

    def start_pause(self, contact: Contact) -> PauseWindow:
        """Draw and record the pause that answers ``contact``."""
        rng = self.streams.rng(f"attacker.pause.{contact.id}")
        pz = self.pause
        lag = float(pz.lag_days.sample(rng, 1)[0]) if pz is not None else 0.0
        days = float(pz.duration_days.sample(rng, 1)[0]) if pz is not None else 0.0
        scope = pz.scope if pz is not None else "waves"
        factor = pz.wave_factor if pz is not None else 0.0
        forced = self.recorded(contact)
        if forced is not None:
            days = forced.pause_days if forced.pause_days is not None else days
            scope = forced.scope or scope
            factor = forced.wave_factor if forced.wave_factor is not None else factor
        start = contact.time + max(0.0, lag)
        if scope == "waves":
            w = PauseWindow(start, start + max(0.0, days), factor, 0)
        else:
            w = PauseWindow(start, start + max(0.0, days), 1.0, 1 << TARGET_CLASSES.index(scope))
        self.windows.append(w)
        return w

    def wave_factor(self, t: float) -> float:
        """Multiplier on wave sizes at time ``t`` (1 outside pauses)."""
        f = 1.0
        for w in self.windows:
            if w.start <= t < w.end and w.factor < f:
                f = w.factor
        return f

    def spared(self, t: float) -> int:
        """Bit mask of target classes spared at time ``t`` (0 outside pauses)."""
        mask = 0
        for w in self.windows:
            if w.start <= t < w.end:
                mask |= w.spared
        return mask
