"""Leader contacts and the broadcast that carries them to listeners.

A contact is broadcast to every subscribed listener at the moment it happens: the attacker
(may plan a surge), the air defence (readiness rule), civil defence (activation rule).
Listeners are plain callables; any of them may start a SimPy process of its own.

Two sources feed the broadcast:

* scheduled contacts from the scenario (``contacts.scheduled``), at midday of their date;
  denied ones only when ``contacts.broadcast_denied`` is true;
* an optional Poisson process with rate ``rate_per_day * m(t)``, where ``m(t)`` is the
  sanctions' contact-rate multiplier (travel bans), simulated by thinning: candidates
  arrive at the base rate and each is kept with probability ``m(t)``.  Both the gap and
  the keep/drop uniform are drawn for every candidate, so sanctions never shift the
  stream's later draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import Any, NamedTuple

import numpy as np
import simpy

from scenario_sim.model.limits import ModelLimitError
from scenario_sim.model.rng import exponential_uniform_pairs

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class Contact(NamedTuple):
    """A leader contact.  ``key`` identifies it stably across recommendation sets: the
    scheduled contact's index, or the candidate number of the Poisson process (candidates
    dropped by thinning keep their numbers), so per-contact random streams stay aligned.

    Immutable (the scheduled contacts are shared by every replication of a compiled
    scenario).  A named tuple rather than a frozen dataclass: a frozen dataclass sets each
    field through ``object.__setattr__``, ~4x the cost of building a tuple, and the
    stochastic source makes one per kept candidate during the events."""

    time: float
    kind: str
    status: str
    source: str
    key: int = 0

    @property
    def id(self) -> str:
        return f"{self.source}.{self.key}"


Listener = Callable[[Contact], None]


def rows_by_source(sources: Sequence[str]) -> dict[str, np.ndarray[Any, np.dtype[np.int64]]]:
    """The row numbers of each contact source in ``sources``, sources in order of first
    appearance: what ``np.flatnonzero(np.array(sources) == source)`` gives for each of
    ``dict.fromkeys(sources)``, without building and comparing an array of strings."""
    rows: dict[str, list[int]] = {}
    for i, source in enumerate(sources):
        rows.setdefault(source, []).append(i)
    return {source: np.array(r, dtype=np.int64) for source, r in rows.items()}


class ContactBus:
    """Broadcasts each contact to every listener, in subscription order."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self.log: list[Contact] = []

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def broadcast(self, contact: Contact) -> None:
        self.log.append(contact)
        for listener in self.listeners:
            listener(contact)


def scheduled_contacts(env: simpy.Environment, bus: ContactBus,
                       contacts: list[Contact]) -> Generator[simpy.Event, Any, None]:
    """Process: broadcast each scheduled contact at its time."""
    for c in contacts:
        if c.time > env.now:
            yield env.timeout(c.time - env.now)
        bus.broadcast(c)


def stochastic_contacts(env: simpy.Environment, bus: ContactBus, rate_per_day: float, kind: str,
                        rate_factor: Sequence[float], horizon: float, rng: np.random.Generator,
                        start: float = 0.0, limit: int | None = None) -> Generator[simpy.Event, Any, None]:
    """Process: Poisson contacts at ``rate_per_day * rate_factor[day]`` from ``start``, by thinning
    (``rate_factor`` an array or, cheaper to index one day at a time, a list of floats).

    ``limit`` caps the candidates of one replication (:class:`ModelLimitError` past it),
    so an extreme rate stops with a message instead of running for ever.
    """
    if rate_per_day <= 0 or start >= horizon:
        return
    if start > env.now:
        yield env.timeout(start - env.now)
    # Per candidate the values of ``gap, keep = rng.exponential(1 / rate), rng.random()``, decoded
    # in blocks from the stream's raw words (rng.exponential_uniform_pairs: the same values, bit
    # for bit; nothing else reads this stream).  A block holds the expected candidates and some.
    expected = rate_per_day * (horizon - max(start, env.now))
    block = int(min(1024.0, expected + 3.0 * math.sqrt(expected) + 2.0))
    pairs = exponential_uniform_pairs(rng, 1.0 / rate_per_day, block)
    timeout, broadcast = env.timeout, bus.broadcast
    make = tuple.__new__  # Contact(...) without the named tuple's Python-level __new__
    candidate = 0
    now = env.now
    while True:
        gap, keep = next(pairs)
        if now + gap >= horizon:
            return
        yield timeout(gap)
        now = env.now
        if keep < rate_factor[int(now)]:
            broadcast(make(Contact, (now, kind, "confirmed", "stochastic", candidate)))
        candidate += 1
        if limit is not None and candidate > limit:
            raise ModelLimitError(f"contacts.stochastic: more than {limit} contact candidates in one replication")
