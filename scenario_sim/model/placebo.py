"""Placebo controls for the rules that fire on contacts (issue 12, point 4).

Three rules fire on the contact signal: raised readiness after a contact
(``air_defense.readiness.after_contact``), early warning before a detected surge
(``air_defense.readiness.early_warning``: surges follow contacts) and civil defence after a
contact (``consequences.civil_defense.after_contact``).  With ``placebo: true`` such a rule
fires **as often as it would have fired** in the replication, but on random *non-contact*
days instead of on its signal:

* after-contact rules: as many firings as contacts were broadcast, each as if a contact had
  come at midday (``CONTACT_TIME``) of a placebo day, with the rule's own delay, duration and
  level;
* early warning: as many firings as surges the rule detected (its detection draws are made
  exactly as without the placebo), each raising readiness from ``lead_days`` before the
  placebo night's wave time until that wave is over, as a detected surge would.

Placebo days are drawn without replacement from the days of the horizon on which no contact
was broadcast, from the rule's own stream ``placebo.<rule path>`` (derived per replication
like every stream: :mod:`scenario_sim.model.rng`), so no other process's draws move: a
placebo run and the run of the rule itself share every other random number.  If a
replication has more firings than non-contact days (never, in practice), every such day is used.

Comparing the rule with its placebo splits the rule's benefit in two: placebo minus baseline
is the benefit *from firing at all* (so many nights of raised readiness or alerts, whenever
they fall), rule minus placebo the benefit *from firing on contacts* (the timing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from scenario_sim.model.clock import CONTACT_TIME, WAVE_TIME

if TYPE_CHECKING:
    from scenario_sim.model.simulation import World

RULES = ("air_defense.readiness.after_contact", "air_defense.readiness.early_warning",
         "consequences.civil_defense.after_contact")
"""The contact-triggered rules, by their paths in the scenario language."""

IntArray = np.ndarray[Any, np.dtype[np.int64]]


def non_contact_days(horizon: int, contact_times: list[float]) -> IntArray:
    """Days of the horizon on which no contact was broadcast."""
    busy = np.zeros(horizon, dtype=bool)
    days = np.asarray([int(t) for t in contact_times if 0 <= t < horizon], dtype=np.int64)
    busy[days] = True
    return np.flatnonzero(~busy).astype(np.int64)


def placebo_days(rng: np.random.Generator, n: int, free: IntArray) -> IntArray:
    """``n`` distinct days drawn from ``free`` (all of them if there are fewer), sorted."""
    k = min(n, int(free.shape[0]))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(rng.choice(free, size=k, replace=False)).astype(np.int64)


def apply_placebos(world: World) -> None:
    """Add the placebo firings of every rule that is on and marked ``placebo`` (after the
    event simulation and the surge plans, before readiness and civil defence are read)."""
    s = world.model.scenario
    r = s.air_defense.readiness
    cd = s.consequences.civil_defense.after_contact
    wanted = [(r.after_contact.enabled and r.after_contact.placebo),
              (r.early_warning.enabled and r.early_warning.placebo), (cd.enabled and cd.placebo)]
    if not any(wanted):
        return
    times = [c.time for c in world.bus.log]
    free = non_contact_days(world.model.horizon, times)
    rng = world.streams.rng
    if wanted[0]:
        rule = r.after_contact
        for d in placebo_days(rng(f"placebo.{RULES[0]}"), len(times), free).tolist():
            start = d + CONTACT_TIME + rule.delay_days
            world.air_defense.raises.append((start, start + rule.duration_days, rule.level))
    if wanted[1]:
        ew = r.early_warning
        for d in placebo_days(rng(f"placebo.{RULES[1]}"), world.air_defense.placebo_detected, free).tolist():
            when = d + WAVE_TIME
            world.air_defense.raises.append((max(0.0, when - ew.lead_days), when + 0.05, ew.level))
    if wanted[2]:
        for d in placebo_days(rng(f"placebo.{RULES[2]}"), len(times), free).tolist():
            start = d + CONTACT_TIME + cd.delay_days
            world.civil_defense.windows.append((start, start + cd.duration_days))
