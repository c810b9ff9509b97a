"""Statistics shared by the experiment (summaries, adaptive precision) and the analysis.

A bottom-floor module: it imports neither the scenario language nor the model, so both the
layer that writes run folders and the layers that read them use the same formulas.

Results folders can hold more replications than fit comfortably in memory, so summaries are
accumulated in one pass over row groups with Welford's algorithm, which is numerically
stable (no catastrophic cancellation of sum-of-squares) and mergeable.  Intervals for a
mean are Student-t intervals ``mean ± t(level, n-1) · sd/√n`` (the one implementation in
the package; see docs/statistics.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# scipy.special, not scipy.stats: Student-t's ppf and sf are special.stdtrit and special.stdtr
# (what scipy.stats.t calls, so the numbers are the same), and scipy.stats costs ~1.5 s of
# CPU to import in every command that writes or reads a run folder.  Imported where it is
# first used: scipy.special alone is ~0.2 s, which a run's parent would otherwise pay before
# its workers start (the summary and the ranking, after the replications, need it).


@dataclass
class Welford:
    """Running count, mean and sum of squared deviations of a stream of numbers."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def push(self, x: float) -> None:
        """Add one number."""
        self.n += 1
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)

    def push_many(self, xs: np.ndarray) -> None:  # type: ignore[type-arg]
        """Add a batch (merged with Chan et al.'s pairwise update); NaNs are skipped."""
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
        """Sample variance (n - 1 in the denominator); NaN below two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    @property
    def sd(self) -> float:
        """Sample standard deviation; NaN below two values."""
        return math.sqrt(self.variance) if self.n > 1 else math.nan


def t_interval(mean: float, sd: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Two-sided Student-t interval for a mean from its sample mean, sd and size.

    Fewer than two values, or a non-finite sd, give (NaN, NaN); a zero sd gives the point
    (mean, mean): under common random numbers a set that does not touch an outcome has
    exactly zero paired differences, and its interval is exactly [0, 0].
    """
    if n < 2 or not math.isfinite(sd):
        return (math.nan, math.nan)
    if sd == 0:
        return (mean, mean)
    from scipy import special

    h = float(special.stdtrit(n - 1, 0.5 + level / 2)) * sd / math.sqrt(n)
    return (mean - h, mean + h)


def t_test_p(mean: float, sd: float, n: int) -> float:
    """Two-sided p-value of a one-sample t-test of ``mean = 0`` (a paired test on differences).

    NaN below two values; with a zero sd, 1 if the mean is zero and 0 otherwise.
    """
    if n < 2 or not math.isfinite(sd):
        return math.nan
    if sd == 0:
        return 1.0 if mean == 0 else 0.0
    from scipy import special

    return float(2 * special.stdtr(n - 1, -abs(mean) / (sd / math.sqrt(n))))
