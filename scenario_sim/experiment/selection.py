"""Selecting the best set with a guarantee: the KN fully sequential procedure.

Design notes.

*The procedure.*  Kim, S.-H. and Nelson, B. L. (2001), "A fully sequential procedure for
indifference-zone selection in simulation", ACM Transactions on Modeling and Computer
Simulation 11(3):251-273 (procedure "KN").  Given ``k`` systems, an indifference-zone
parameter ``delta > 0`` and a nominal probability of correct selection ``pcs`` (1 - alpha),
with ``1/k < pcs < 1``:

1. take ``n0 >= 2`` replications of every system; with ``eta = ((2 alpha / (k-1))^(-2/(n0-1)) - 1) / 2``
   and ``h^2 = 2 eta (n0 - 1)``, estimate ``S^2_il``, the variance of the paired difference
   ``X_i - X_l``, from those ``n0`` replications (fixed from then on);
2. at every stage ``r >= n0``, with ``W_il(r) = max(0, delta/(2r) (h^2 S^2_il / delta^2 - r))``,
   eliminate every surviving ``i`` whose mean is below some surviving ``l``'s by more than
   ``W_il(r)`` (larger is better; a "lower is better" outcome is negated first);
3. stop when one system survives; otherwise add one replication of every survivor and repeat.

Because the variances are of *paired* differences, the procedure is valid, and needs fewer
replications, with common random numbers (KN's Section 4): a positive correlation between
systems shrinks ``S^2_il`` and so the continuation region.  If the best system's mean
exceeds every other's by at least ``delta``, it is selected with probability >= ``pcs``;
if several are within ``delta`` of the best, whichever is selected is within ``delta`` of it
with that probability (the indifference zone).

*Where it stops, honestly.*  Once ``r > h^2 S^2_il / delta^2`` for a pair the region has
closed (``W = 0``) and the larger mean eliminates the other; survivors whose regions are
all closed and whose means are exactly equal (identical sets under CRN) are returned as a
*group* of indistinguishable sets.  A cap on replications may stop the procedure earlier;
then the survivors are returned as a group and the guarantee does *not* cover a choice
among them: the verdict says so and how many replications would have closed every region.

*Chunks.*  A run adds replications in batches for throughput; :func:`kn_select` replays the
elimination replication by replication over everything available, so its decisions are
those of the one-at-a-time procedure (the replications after the stopping point are extra
runs, not extra information: they do not change the decision).  Replications where any set
failed are left out (the procedure needs every pair), and the verdict counts them.

*Interface.*  :func:`kn_select` is a pure function of a matrix of outcomes; :func:`select`
drives any :class:`ReplicationSource` (the run engine, or a synthetic simulator in tests)
with the batch policy :func:`next_target`, which the engine uses too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

PROCEDURE = ("KN fully sequential indifference-zone procedure with common random numbers "
             "(Kim and Nelson 2001, ACM TOMACS 11(3):251-273)")


@dataclass(frozen=True)
class KNConfig:
    """The procedure's parameters, checked by :func:`check_config`."""

    delta: float  # indifference zone, in the outcome's unit
    pcs: float  # nominal probability of correct selection
    n0: int  # first-stage replications
    max_replications: int  # cap (>= n0)
    higher_is_better: bool

    def constants(self, k: int) -> tuple[float, float]:
        """``(eta, h^2)`` for ``k`` systems."""
        alpha = 1.0 - self.pcs
        eta = 0.5 * ((2.0 * alpha / (k - 1)) ** (-2.0 / (self.n0 - 1)) - 1.0)
        return eta, 2.0 * eta * (self.n0 - 1)


def check_config(delta: float, pcs: float, n0: int, max_replications: int, k: int) -> str | None:
    """The first problem with these parameters for ``k`` systems, as an option message, or None."""
    if not (math.isfinite(delta) and delta > 0):
        return f"--delta: must be a positive number (got {delta:g})"
    if k < 2:
        return "--select-best: needs at least one recommendation set besides the baseline"
    if not (1.0 / k < pcs < 1.0):
        return f"--pcs: must be above 1/k = 1/{k} = {1.0 / k:.3g} and below 1 (got {pcs:g})"
    if n0 < 2:
        return f"--replications: the first stage of --select-best needs at least 2 (got {n0})"
    if max_replications < n0:
        return f"--max-replications: must be >= --replications ({n0})"
    return None


@dataclass
class KNVerdict:
    """Where the procedure stands after the replications it was given."""

    done: bool  # the procedure stopped on its own (one survivor, or a closed group of ties)
    survivors: list[int]  # column indices still in contention
    eliminated: list[tuple[int, int, int]] = field(default_factory=list)  # (system, at replication, by)
    stage: int = 0  # the replication count at which it stopped (or the last one examined)
    replications_used: list[int] = field(default_factory=list)  # per system: replications it took part in
    bound: int = 0  # replications after which every surviving pair's region is closed
    means: list[float] = field(default_factory=list)  # sample means at ``stage`` (original sign)


def _first_stage_variances(x: np.ndarray, n0: int) -> np.ndarray:
    d = x[:n0, :, None] - x[:n0, None, :]
    return np.asarray(d.var(axis=0, ddof=1))


def kn_select(values: np.ndarray, cfg: KNConfig) -> KNVerdict:
    """Replay KN over ``values`` (replications x systems, in replication order, no NaN)."""
    n, k = values.shape
    if n < cfg.n0:
        raise ValueError(f"KN needs the first stage of {cfg.n0} replications (got {n})")
    x = values if cfg.higher_is_better else -values
    _, h2 = cfg.constants(k)
    s2 = _first_stage_variances(x, cfg.n0)
    n_close = np.floor(h2 * s2 / cfg.delta**2).astype(np.int64)  # W_il(r) = 0 once r > n_close
    sums = np.cumsum(x, axis=0)
    alive = np.ones(k, dtype=bool)
    used = [n] * k
    eliminated: list[tuple[int, int, int]] = []
    stage = cfg.n0
    for r in range(cfg.n0, n + 1):
        stage = r
        mean = sums[r - 1] / r
        w = np.maximum(0.0, cfg.delta / (2 * r) * (h2 * s2 / cfg.delta**2 - r))
        idx = np.flatnonzero(alive)
        gap = mean[idx, None] - mean[None, idx] + w[np.ix_(idx, idx)]  # i survives l while gap >= 0
        out = (gap < 0).any(axis=1)
        for j in np.flatnonzero(out):
            i = int(idx[j])
            by = int(idx[int(np.argmin(gap[j]))])
            alive[i] = False
            used[i] = r
            eliminated.append((i, r, by))
        idx = np.flatnonzero(alive)
        closed = bool((n_close[np.ix_(idx, idx)] < r).all())
        if len(idx) == 1 or closed:
            for survivor in idx:
                used[int(survivor)] = r
            return _verdict(True, idx, eliminated, r, used, n_close, sums, cfg)
    return _verdict(False, np.flatnonzero(alive), eliminated, stage, used, n_close, sums, cfg)


def _verdict(done: bool, idx: np.ndarray, eliminated: list[tuple[int, int, int]], r: int,
             used: list[int], n_close: np.ndarray, sums: np.ndarray, cfg: KNConfig) -> KNVerdict:
    bound = int(n_close[np.ix_(idx, idx)].max()) + 1 if len(idx) > 1 else r
    sign = 1.0 if cfg.higher_is_better else -1.0
    means = [float(v) for v in sign * sums[r - 1] / r]
    return KNVerdict(done, [int(i) for i in idx], eliminated, r, used, max(bound, cfg.n0), means)


def next_target(verdict: KNVerdict, have: int, cfg: KNConfig, step: int) -> int:
    """How many replications to have next: at least ``step`` more (a batch for throughput), at
    least half as many again (few barriers on a long procedure), no more than the point where
    every surviving region closes, rounded up to a whole number of ``step`` batches (the run
    engine's chunk grid), and never beyond the cap."""
    want = min(max(have + step, math.ceil(1.5 * have)), max(verdict.bound, have + 1))
    return int(min(cfg.max_replications, step * math.ceil(want / step)))


class ReplicationSource(Protocol):
    """Anything that gives the outcome of the first ``n`` replications of every system, on
    common random numbers (replication ``r`` of every system shares its random streams)."""

    def values(self, n: int) -> np.ndarray:
        """``n`` x ``k`` outcomes; row ``r`` is replication ``r``; earlier rows never change."""
        ...


@dataclass
class Selection:
    """The result of :func:`select`: the final verdict and the replications that were run."""

    verdict: KNVerdict
    replications_run: int
    capped: bool


def select(source: ReplicationSource, cfg: KNConfig, step: int | None = None) -> Selection:
    """Run KN on ``source`` in batches (``step``, default ``n0``) up to ``cfg.max_replications``."""
    have = cfg.n0
    while True:
        verdict = kn_select(source.values(have), cfg)
        if verdict.done or have >= cfg.max_replications:
            return Selection(verdict, have, not verdict.done)
        have = next_target(verdict, have, cfg, step or cfg.n0)
