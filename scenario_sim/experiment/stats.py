"""Online statistics (Welford) and t-intervals.

Results folders can hold more replications than fit comfortably in memory, so summaries are
accumulated in one pass over row groups with Welford's algorithm, which is numerically
stable (no catastrophic cancellation of sum-of-squares) and mergeable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass
class Welford:
    """Running count, mean and sum of squared deviations of a stream of numbers."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def push(self, x: float) -> None:
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)

    def push_many(self, xs: np.ndarray) -> None:  # type: ignore[type-arg]
        """Add a batch (merged with Chan et al.'s pairwise update)."""
        xs = xs[~np.isnan(xs)]
        if xs.size == 0:
            return
        nb = int(xs.size)
        mb = float(xs.mean())
        m2b = float(((xs - mb) ** 2).sum())
        n = self.n + nb
        delta = mb - self.mean
        self.mean += delta * nb / n
        self.m2 += m2b + delta * delta * self.n * nb / n
        self.n = n

    @property
    def variance(self) -> float:
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    @property
    def sd(self) -> float:
        return math.sqrt(self.variance) if self.n > 1 else math.nan


def t_interval(mean: float, sd: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Two-sided Student-t interval for a mean."""
    if n < 2 or not math.isfinite(sd):
        return (math.nan, math.nan)
    if sd == 0:
        return (mean, mean)
    h = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return (mean - h, mean + h)
