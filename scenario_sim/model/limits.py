"""Hard ceilings on one replication.

The scenario language bounds every field, but products of fields (a rate times a horizon, a
wave size compounding over years) can still ask one replication for billions of events or
munitions.  The model refuses those with :class:`ModelLimitError`: when a scenario is
compiled, from the expected counts, and again inside the processes, for unlucky tails.
They are safety limits, not model parameters, so they live here and not in scenario files.

Cost per unit, measured on the reference scenario (``BENCHMARKS.md``, "Limits and memory"),
lets a budget be stated: ~9 bytes of peak memory and ~0.03-0.15 us per munition of the
largest class (more when waves saturate the layers).  At the munitions limit below, one
replication stays within ~0.5 GB and about 10 s.
"""

from __future__ import annotations

from dataclasses import dataclass

from scenario_sim.errors import UserError


class ModelLimitError(UserError):
    """A scenario whose replication would exceed the model's limits (see :class:`Limits`)."""


@dataclass(frozen=True)
class Limits:
    """Per replication."""

    waves: int = 1_000_000            # wave opportunities (ordinary and surge)
    contacts: int = 100_000           # contact candidates of the stochastic process
    deliveries: int = 100_000         # interceptor deliveries per system
    munitions: int = 50_000_000       # munitions of a class (nominal, all waves)


LIMITS = Limits()
