"""Per-munition draws and the counting tricks that make them cheap.

A replication draws one uniform per munition per stream, laid out in blocks by wave (see
``World._blocks``).  Counting over a wave's block is a difference of prefix sums, or one
``np.add.reduceat`` pass when only a few ranges are needed; both avoid a Python loop over
munitions.  Shared by the air-defence and consequence resolutions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

IntArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass
class Blocks:
    """Layout of the per-munition draws: wave *w*'s class-*c* munitions are draws
    ``starts[w, c] ..`` of arrays of length ``totals[c]`` (see ``World._blocks``).  Every
    per-munition stream (each air-defence layer, hits, targets) uses the same layout."""

    starts: IntArray   # (W, C)
    totals: IntArray   # (C,)


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


def range_counts(x: np.ndarray[Any, Any], st: IntArray, m: IntArray) -> IntArray:
    """``sum(x[st[w] : st[w] + m[w]])`` for every wave *w*, in one pass over ``x``.

    ``x`` is a boolean or small-integer array.  Blocks never overlap and ``m`` never exceeds
    a block, so once the ranges are sorted by start ``np.add.reduceat`` can do this without
    a prefix array.
    """
    W = st.shape[0]
    if W == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(st, kind="stable")
    xi = np.zeros(x.shape[0] + 1, dtype=np.int8)  # padded: st + m may equal len(x)
    xi[:-1] = x
    idx = np.empty(2 * W, dtype=np.int64)
    idx[0::2] = st[order]
    idx[1::2] = st[order] + m[order]
    sums = np.add.reduceat(xi, idx, dtype=np.int64)[0::2]
    out = np.empty(W, dtype=np.int64)
    out[order] = np.where(m[order] > 0, sums, 0)
    return out


def uniforms(rng: np.random.Generator, n: int) -> np.ndarray[Any, Any]:
    """``n`` uniforms on [0, 1) in single precision: 24 bits are ample for comparisons with
    probabilities, and half the cost of doubles for the ~10^5 munitions of a year."""
    return rng.random(n, dtype=np.float32)
