"""The closed set of distributions a scenario may use for a random quantity.

Written in YAML as a mapping with a ``dist`` tag, e.g. ``{dist: negbin, mean: 120,
dispersion: 2}``; a bare number means ``{dist: fixed, value: <number>}``.  Parameters are the
ones an analyst can read off data (means, standard deviations, bounds), not a library's
internal shape/scale conventions; each class documents its conversion.

Every distribution samples *vectorised* from a caller-supplied ``numpy.random.Generator``:
the model never touches global random state.

========== ===================================== ==========================================
dist       parameters                            support / meaning
========== ===================================== ==========================================
fixed      value                                 always ``value``
poisson    mean                                  counts 0, 1, 2, ...
negbin     mean, dispersion                      counts; variance = mean + mean**2/dispersion
uniform    low, high                             continuous on [low, high]
triangular low, mode, high                       continuous on [low, high], peak at mode
lognormal  mean, sd                              positive reals with that mean and sd
normal     mean, sd, [low, high]                 reals; cut to [low, high] when given
student_t  mean, sd, df, [low, high]             heavy-tailed reals (sd of the uncut law, df > 2)
empirical  values, probs                         one of ``values`` with probabilities ``probs``
========== ===================================== ==========================================

``normal`` and ``student_t`` may be cut (truncated) to ``[low, high]``: a draw outside is
redrawn, so the law inside keeps its shape.  The bounds must hold the mean and lie at least
one sd apart, so a draw lands inside with probability above 0.3 and redrawing ends.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


MAX_MAGNITUDE = 1e12
"""Largest absolute value of any distribution parameter (every parameter is also finite)."""

MAX_COUNT_MEAN = 1e9
"""Largest mean of a count distribution (numpy's Poisson sampler fails near 1e19)."""

Value = Annotated[float, Field(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
Magnitude = Annotated[float, Field(ge=0, le=MAX_MAGNITUDE)]


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:  # pragma: no cover
        raise NotImplementedError

    def mean(self) -> float:  # pragma: no cover
        raise NotImplementedError

    def support(self) -> tuple[float, float]:  # pragma: no cover
        raise NotImplementedError


class Fixed(_Dist):
    """A constant (a "random" quantity with no randomness)."""

    dist: Literal["fixed"] = "fixed"
    value: Value

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return np.full(size, self.value, dtype=float)

    def mean(self) -> float:
        return self.value

    def support(self) -> tuple[float, float]:
        return (self.value, self.value)


class Poisson(_Dist):
    """Counts with the given mean (variance equal to the mean)."""

    dist: Literal["poisson"]
    mean_: float = Field(alias="mean", ge=0, le=MAX_COUNT_MEAN)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.poisson(self.mean_, size).astype(float)

    def mean(self) -> float:
        return self.mean_

    def support(self) -> tuple[float, float]:
        return (0.0, math.inf)


class NegBin(_Dist):
    """Over-dispersed counts: mean ``mean``, variance ``mean + mean**2 / dispersion``.

    ``dispersion`` is the negative-binomial size parameter *k*; small values mean heavy
    over-dispersion (a few huge waves), large values approach a Poisson.  Sampled as numpy's
    ``negative_binomial(n=k, p=k/(k+mean))``.
    """

    dist: Literal["negbin"]
    mean_: float = Field(alias="mean", ge=0, le=MAX_COUNT_MEAN)
    dispersion: float = Field(ge=0.01, le=MAX_MAGNITUDE)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        if self.mean_ == 0:
            return np.zeros(size)
        p = self.dispersion / (self.dispersion + self.mean_)
        return rng.negative_binomial(self.dispersion, p, size).astype(float)

    def mean(self) -> float:
        return self.mean_

    def support(self) -> tuple[float, float]:
        return (0.0, math.inf)


class Uniform(_Dist):
    """Continuous uniform on [low, high]."""

    dist: Literal["uniform"]
    low: Value
    high: Value

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high must be >= low (got low={self.low}, high={self.high})")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.uniform(self.low, self.high, size)

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


class Triangular(_Dist):
    """Triangular on [low, high] with its peak at ``mode``."""

    dist: Literal["triangular"]
    low: Value
    mode: Value
    high: Value

    @model_validator(mode="after")
    def _order(self) -> Triangular:
        if not (self.low <= self.mode <= self.high):
            raise ValueError(f"need low <= mode <= high (got {self.low}, {self.mode}, {self.high})")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        if self.low == self.high:
            return np.full(size, self.low)
        return rng.triangular(self.low, self.mode, self.high, size)

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


class LogNormal(_Dist):
    """Positive, right-skewed, parameterised by its own ``mean`` and ``sd``.

    Converted to the underlying normal as ``sigma**2 = log(1 + sd**2/mean**2)`` and
    ``mu = log(mean) - sigma**2/2``.
    """

    dist: Literal["lognormal"]
    mean_: float = Field(alias="mean", gt=0, le=MAX_MAGNITUDE)
    sd: Magnitude

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    def _mu_sigma(self) -> tuple[float, float]:
        s2 = math.log1p((self.sd / self.mean_) ** 2)
        return math.log(self.mean_) - s2 / 2, math.sqrt(s2)

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        mu, sigma = self._mu_sigma()
        return rng.lognormal(mu, sigma, size)

    def mean(self) -> float:
        return self.mean_

    def support(self) -> tuple[float, float]:
        return (0.0, math.inf)


class _Cut(_Dist):
    """Shared by the symmetric laws that may be cut to ``[low, high]`` (see the module notes)."""

    mean_: Value = Field(alias="mean")
    sd: Magnitude
    low: Value | None = None
    high: Value | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _bounds(self) -> _Cut:
        lo, hi = self.support()
        if not lo <= self.mean_ <= hi:
            raise ValueError(f"need low <= mean <= high (got {lo:g}, {self.mean_:g}, {hi:g})")
        if self.sd > 0 and hi - lo < self.sd:
            raise ValueError(f"high - low must be at least sd (got {hi - lo:g} < {self.sd:g}): "
                             "so narrow a cut is not this law")
        return self

    def _standard(self, rng: np.random.Generator, size: int) -> FloatArray:  # pragma: no cover
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        if self.sd == 0:
            return np.full(size, self.mean_, dtype=float)
        lo, hi = self.support()
        out = self.mean_ + self.sd * self._standard(rng, size)
        bad = (out < lo) | (out > hi)
        for _ in range(10_000):  # each round keeps a share above 0.3 of what is left (the bounds' rule)
            if not bad.any():
                break
            out[bad] = self.mean_ + self.sd * self._standard(rng, int(bad.sum()))
            bad = (out < lo) | (out > hi)
        return np.clip(out, lo, hi)  # never reached in practice: 0.7 ** 10_000

    def mean(self) -> float:
        return self.mean_  # symmetric laws, and the rule puts the mean inside the cut

    def support(self) -> tuple[float, float]:
        return (-math.inf if self.low is None else self.low, math.inf if self.high is None else self.high)


class Normal(_Cut):
    """Normal with mean ``mean`` and standard deviation ``sd``, cut to ``[low, high]`` if given.

    A cut that is not symmetric about the mean moves the mean of the draws off ``mean``;
    :meth:`mean` reports ``mean`` (calibrate writes symmetric cuts only).
    """

    dist: Literal["normal"]

    def _standard(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.standard_normal(size)


class StudentT(_Cut):
    """Student's t with ``df`` degrees of freedom, shifted to ``mean`` and scaled so the uncut
    law's standard deviation is ``sd`` (scale ``sd * sqrt((df - 2) / df)``); cut to
    ``[low, high]`` if given.  Heavier tails than a normal of the same sd: more of the spread
    comes from rare large values."""

    dist: Literal["student_t"]
    df: float = Field(gt=2, le=1e6)

    def _standard(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.standard_t(self.df, size) * math.sqrt((self.df - 2) / self.df)


class Empirical(_Dist):
    """A discrete distribution over listed ``values`` with probabilities ``probs`` (sum 1)."""

    dist: Literal["empirical"]
    values: list[Value] = Field(min_length=1, max_length=10_000)
    probs: list[Annotated[float, Field(ge=0, le=1)]] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _check(self) -> Empirical:
        if len(self.values) != len(self.probs):
            raise ValueError(
                f"values and probs must have the same length (got {len(self.values)} and {len(self.probs)})"
            )
        total = sum(self.probs)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"probs must sum to 1 (got {total:g})")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        cdf = np.cumsum(self.probs)
        cdf[-1] = 1.0
        idx = np.searchsorted(cdf, rng.random(size), side="right")
        return np.asarray(self.values, dtype=float)[np.minimum(idx, len(self.values) - 1)]

    def mean(self) -> float:
        return float(np.dot(self.values, self.probs))

    def support(self) -> tuple[float, float]:
        return (min(self.values), max(self.values))


def _coerce(value: Any) -> Any:
    # A bare number is a fixed value: the commonest case reads naturally in YAML.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"dist": "fixed", "value": value}
    return value


Distribution = Annotated[
    Fixed | Poisson | NegBin | Uniform | Triangular | LogNormal | Normal | StudentT | Empirical,
    Field(discriminator="dist"),
    BeforeValidator(_coerce),
]
"""A random quantity: a number, or a mapping with a ``dist`` tag (see module docstring)."""
