"""Per-munition draws and the counting that makes them cheap.

A replication draws one uniform 32-bit integer per munition per stream, laid out in blocks by
wave (see ``World._blocks``).  A probability ``p`` becomes an integer threshold
(:func:`threshold`): ``U < ceil(p * 2^32)`` happens with probability ``p`` to within 2^-32,
and nested events are nested thresholds on the same ``U`` (within reach, then destroyed;
hit, then which target).  Everything a resolution needs is then a count of ``U < T`` over
the first ``m`` munitions of each wave's block, which :func:`count_below` does for every
wave, and for every threshold compared with the same draws, in one ``np.add.reduceat`` pass,
with no Python loop over munitions.  Shared by the air-defence and consequence resolutions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

IntArray = np.ndarray[Any, np.dtype[np.int64]]
U32Array = np.ndarray[Any, np.dtype[np.uint32]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]

FULL = 1 << 32
"""Threshold of an event of probability 1 (every 32-bit ``U`` is below it)."""


@dataclass
class Blocks:
    """Layout of the per-munition draws: wave *w*'s class-*c* munitions are draws
    ``starts[w, c] ..`` of arrays of length ``totals[c]`` (see ``World._blocks``).  Every
    per-munition stream (each air-defence layer, the hits) uses the same layout.  ``order``
    lists the waves in layout order (the same for every class), the order in which their
    blocks sit in the arrays."""

    starts: IntArray   # (W, C)
    totals: IntArray   # (C,)
    order: IntArray    # (W,)


def threshold(p: float) -> int:
    """The integer ``T`` with ``P(U < T) = T / 2^32`` closest above ``p`` (clamped to [0, 2^32])."""
    if not p > 0.0:  # also NaN
        return 0
    return FULL if p >= 1.0 else min(FULL, math.ceil(p * FULL))


def sub_threshold(p: float, t: int) -> int:
    """Threshold of ``V < p`` where ``V = U / t`` is uniform given ``U < t`` (nested events)."""
    if not p > 0.0:
        return 0
    return t if p >= 1.0 else min(t, math.ceil(p * t))


def below(u: U32Array, t: int) -> BoolArray:
    """``u < t`` for a threshold from :func:`threshold` (which may be 2^32, beyond uint32)."""
    if t >= FULL:
        return np.ones(u.shape[0], dtype=bool)
    if t <= 0:
        return np.zeros(u.shape[0], dtype=bool)
    return u < t


def prefix(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Exclusive prefix sums: out[k] = x[0] + ... + x[k-1] (int64 for integer input)."""
    out = np.zeros(x.shape[0] + 1, dtype=np.float64 if x.dtype.kind == "f" else np.int64)
    np.cumsum(x, out=out[1:])
    return out


def prefix_bool(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Exclusive prefix counts of a boolean array."""
    out = np.zeros(x.shape[0] + 1, dtype=np.int64)
    # Cast first: numpy's cumsum with a dtype conversion is ten times slower.
    np.cumsum(x.astype(np.int64), out=out[1:])
    return out


def count_below(u: U32Array, thresholds: Sequence[int], blocks: Blocks | None, st: IntArray, m: IntArray,
                ) -> IntArray:
    """Row *k*, column *w*: how many of ``u[st[w] : st[w] + m[w]]`` are below ``thresholds[k]``.

    One ``reduceat`` pass over a stacked (K, n) boolean array counts every threshold (fewer
    numpy calls than one pass each).  The ranges are visited in layout order
    (``blocks.order``; ``blocks`` None: ``st`` is already increasing), so the pass reads the
    draws once from start to end; blocks never overlap, ``m`` never exceeds a block, and
    ``u`` carries a pad element past every range (reduceat's last range runs to the end)."""
    K, W = len(thresholds), st.shape[0]
    if W == 0 or K == 0:
        return np.zeros((K, W), dtype=np.int64)
    x = np.empty((K, u.shape[0]), dtype=bool)
    for k, t in enumerate(thresholds):
        if t >= FULL:
            x[k] = True
        elif t <= 0:
            x[k] = False
        else:
            np.less(u, t, out=x[k])
    o = None if blocks is None else blocks.order
    so, mo = (st, m) if o is None else (st[o], m[o])
    idx = np.empty(2 * W, dtype=np.int64)
    idx[0::2] = so
    idx[1::2] = so + mo
    sums = np.add.reduceat(x.view(np.int8), idx, axis=1, dtype=np.int32)[:, 0::2]
    sums *= mo > 0  # an empty range [a, a) gives x[a] in reduceat: count it as 0
    if o is None:
        return sums.astype(np.int64)
    out = np.empty((K, W), dtype=np.int64)
    out[:, o] = sums
    return out
