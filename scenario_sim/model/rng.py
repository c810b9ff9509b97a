"""Random streams: one per named stochastic process, for common random numbers.

Every stochastic process in the model draws from its own ``numpy.random.Generator`` over an
SFC64 bit generator seeded (by SFC64's own seeding rounds) with 192 bits of the BLAKE2b
digest of ``(master seed, replication, stream name)``: see :class:`StreamSeed`.  A
cryptographic digest is as good a seed as numpy's ``SeedSequence``, whose hashing costs
~40 us a stream against ~4 us here; a replication opens ~40 streams, so that was a fifth
of its time.  SFC64 is numpy's fastest generator and passes the same test batteries as
PCG64.  Three consequences the experiment design relies on:

* a recommendation set that changes one mechanism (say, air defence) cannot shift the draws
  of another (the attacker's launches), because they never share a generator;
* adding a stream, or drawing in a different order elsewhere, changes nothing for the
  existing streams (streams are keyed by name, never by position);
* the hash is BLAKE2b of the UTF-8 name, stable across processes, machines and Python
  versions (Python's ``hash()`` is salted per process and would break reproducibility).

:class:`Buffer` keeps CRN *synchronised* inside a stream: draws are made in fixed blocks and
handed out by ``take(n)``, and the model always takes a number of values fixed by the
launches of a wave (not by how many munitions survived upstream), so two sets that differ
only downstream consume exactly the same values in the same places.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISeedSequence

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def stable_hash(name: str) -> int:
    """A 64-bit hash of a stream name that is the same in every process and on every machine."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


_U64 = np.dtype("<u8")  # the digest's byte order, on every machine


class StreamSeed(ISeedSequence):
    """The seed of one stream: 3 words of BLAKE2b-192 of ``(seed, replication, name)``.

    Handed to ``numpy.random.SFC64``, which runs its own seeding rounds on them; it stands
    in for ``SeedSequence`` (same interface), whose pure hashing costs ~20x more.
    ``prefix``, if given, is a BLAKE2b-192 hasher already fed ``seed\0replication\0``
    (:class:`Streams` keeps one per replication): hashing is streaming, so continuing it
    with the name gives the same digest as hashing the whole key, without re-encoding it.
    """

    __slots__ = ("words",)

    def __init__(self, seed: int, replication: int, name: str, prefix: Any = None):
        if prefix is None:
            h = hashlib.blake2b(f"{seed}\x00{replication}\x00{name}".encode(), digest_size=24)
        else:
            h = prefix.copy()
            h.update(name.encode())
        self.words = np.frombuffer(h.digest(), _U64)

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray[Any, Any]:
        if n_words > 3 or (dtype is not np.uint64 and np.dtype(dtype) != np.uint64):
            raise ValueError("StreamSeed provides up to 3 uint64 words")  # SFC64 asks for exactly that
        return self.words if n_words == 3 else self.words[:n_words]


class Buffer:
    """Values from one sampler, drawn in fixed-size blocks and handed out in order."""

    __slots__ = ("_block", "_data", "_pos", "_rng", "_sampler")

    def __init__(self, rng: np.random.Generator, sampler: Callable[[np.random.Generator, int], FloatArray],
                 block: int = 1024):
        self._rng = rng
        self._sampler = sampler
        self._block = block
        self._data: FloatArray = np.empty(0)
        self._pos = 0

    def take(self, n: int) -> FloatArray:
        """The next ``n`` values (a view; do not modify)."""
        end = self._pos + n
        if end > self._data.shape[0]:
            parts = [self._data[self._pos:]]
            have = self._data.shape[0] - self._pos
            while have < n:  # always whole blocks, so values never depend on the take pattern
                parts.append(self._sampler(self._rng, self._block))
                have += self._block
            self._data = np.concatenate(parts)
            self._pos = 0
            end = n
        out = self._data[self._pos:end]
        self._pos = end
        return out


def _uniform(rng: np.random.Generator, n: int) -> FloatArray:
    return rng.random(n)


class Streams:
    """The named random streams of one replication."""

    def __init__(self, seed: int, replication: int):
        self.seed = seed
        self.replication = replication
        self._rngs: dict[str, np.random.Generator] = {}
        self._raw: dict[str, np.random.SFC64] = {}  # streams only ever read as raw bits (bits32)
        self._prefix = hashlib.blake2b(f"{seed}\x00{replication}\x00".encode(), digest_size=24)

    def _bit_generator(self, name: str) -> np.random.SFC64:
        # numpy accepts any ISeedSequence; its stubs name only SeedSequence.
        return np.random.SFC64(StreamSeed(self.seed, self.replication, name, self._prefix))  # type: ignore[arg-type]

    def rng(self, name: str) -> np.random.Generator:
        """The generator of stream ``name`` (created on first use)."""
        g = self._rngs.get(name)
        if g is None:
            bg = self._raw.pop(name, None)
            g = self._rngs[name] = np.random.Generator(bg if bg is not None else self._bit_generator(name))
        return g

    def buffer(self, name: str, sampler: Callable[[np.random.Generator, int], FloatArray] | None = None,
               block: int = 1024) -> Buffer:
        """A :class:`Buffer` over stream ``name`` (uniforms on [0, 1) unless a sampler is given)."""
        return Buffer(self.rng(name), sampler or _uniform, block)

    def bits32(self, name: str, n: int) -> np.ndarray[Any, np.dtype[np.uint32]]:
        """``n + 1`` uniform 32-bit integers from stream ``name`` (the extra one pads range sums).

        Per-munition draws are compared with integer thresholds (``U < ceil(p * 2^32)`` has
        probability ``p`` to within 2^-32), which skips the float conversion and takes the
        bits straight from the generator: about 40% cheaper than float32 uniforms.
        """
        g = self._rngs.get(name)
        if g is not None:
            bg = g.bit_generator
        else:  # no Generator is needed to read raw bits (a later rng(name) wraps this one)
            bg = self._raw.get(name) or self._raw.setdefault(name, self._bit_generator(name))
        raw = bg.random_raw((n + 2) // 2)
        return raw.view(np.uint32)[: n + 1]

    @property
    def names(self) -> list[str]:
        return sorted(self._rngs.keys() | self._raw.keys())


# --------------------------------------------------------------------------- exponential/uniform pairs

_TO_DOUBLE = 1.0 / 9007199254740992.0  # 2^-53: numpy's next_double is (next64 >> 11) * 2^-53


def _set_word(bg: np.random.SFC64, word: int) -> None:
    """Make ``word`` the next output of ``bg`` (SFC64 returns ``s0 + s1 + counter``)."""
    bg.state = {"bit_generator": "SFC64", "state": {"state": np.array([word, 0, 0, 0], dtype=np.uint64)},
                "has_uint32": 0, "uinteger": 0}


@functools.lru_cache(maxsize=1)
def _exponential_fast_path() -> tuple[tuple[float, ...], tuple[int, ...]] | None:
    """numpy's ziggurat for the standard exponential, as far as one 64-bit word decides it:
    ``(we, below)`` such that for a word ``w`` with ``ri = w >> 11``, ``idx = (w >> 3) & 255``
    and ``ri < below[idx]``, ``Generator.standard_exponential()`` returns ``ri * we[idx]``
    having read ``w`` alone.  Read from numpy itself, once per process (~300 probes, each
    making a chosen word the generator's next output and watching the value and how many
    words were read): numpy takes the fast path iff ``ri < ke[idx]``, so one probe at
    ``below - 1`` proves every smaller ``ri`` (``below`` is a verified lower bound of ``ke``,
    guessed from the strip ratios and bisected where the guess fails).  None if numpy does
    not behave so, or the decoded pairs do not agree with numpy's own calls on a fixed
    stream; :func:`exponential_uniform_pairs` then makes numpy's own calls."""
    bg = np.random.SFC64(0)
    g = np.random.Generator(bg)

    def probe(idx: int, ri: int) -> float | None:  # numpy's value, if it read that one word only
        _set_word(bg, (ri << 11) | (idx << 3))
        x = float(g.standard_exponential())
        return x if int(bg.state["state"]["state"][3]) == 1 else None

    we: list[float] = []
    below: list[int] = []
    for idx in range(256):
        x = probe(idx, 1)
        if x is None:  # only ri = 0 (value 0) can be on the fast path
            we.append(0.0)
            below.append(1 if probe(idx, 0) == 0.0 else 0)
            continue
        we.append(x)
        guess = int(we[idx - 1] / x * 2.0**53) - 4 if idx and we[idx - 1] > 0 else 0
        if 2 <= guess <= 1 << 53 and probe(idx, guess - 1) == (guess - 1) * x:
            below.append(guess)
            continue
        lo, hi = 1, 1 << 53  # bisect for the smallest ri numpy does not take on the fast path
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if probe(idx, mid) == mid * x:
                lo = mid
            else:
                hi = mid
        below.append(hi if probe(idx, hi - 1) == (hi - 1) * x else 0)
    tables = (tuple(we), tuple(below))
    a = np.random.Generator(np.random.SFC64(20251202))
    b = np.random.Generator(np.random.SFC64(20251202))
    it = _decoded_pairs(a, 0.37, 7, tables)
    if not all(next(it) == (b.exponential(0.37), b.random()) for _ in range(2000)):
        return None
    return tables


def exponential_uniform_pairs(rng: np.random.Generator, scale: float, block: int = 16
                              ) -> Iterator[tuple[float, float]]:
    """``(rng.exponential(scale), rng.random())`` pair after pair: the very values those calls
    give one after the other, decoded from raw 64-bit words drawn ``2 * block`` at a time
    (numpy's scalar calls cost ~0.5 us each; decoding a word ~0.1 us).

    ``random()`` reads one word ``w`` and returns ``(w >> 11) 2^-53``; ``exponential(scale)``
    is ``scale * standard_exponential()``, which reads one word and returns ``ri * we[idx]``
    unless the word falls in the ziggurat's rare slow path (about 1% of words;
    :func:`_exponential_fast_path`).  At such a word the stream is put back where it was
    before the block, moved on to that word, and the pair is drawn by numpy's own calls; the
    next block starts after it.  Words drawn past the last pair used are never used: the
    caller must be the stream's only reader, and must not read the stream after it.  For a
    bit generator other than SFC64, or if numpy's ziggurat is not as expected, numpy's own
    calls are made throughout.
    """
    tables = _exponential_fast_path() if isinstance(rng.bit_generator, np.random.SFC64) else None
    if tables is None:
        exponential, uniform = rng.exponential, rng.random
        while True:
            yield exponential(scale), uniform()
    else:
        yield from _decoded_pairs(rng, scale, block, tables)


def _decoded_pairs(rng: np.random.Generator, scale: float, block: int,
                   tables: tuple[tuple[float, ...], tuple[int, ...]]) -> Iterator[tuple[float, float]]:
    we, below = tables
    bg = rng.bit_generator
    exponential, uniform, raw = rng.exponential, rng.random, bg.random_raw
    n = 2 * block
    while True:
        before = bg.state
        words = raw(n).tolist()
        for j in range(0, n, 2):
            w = words[j]
            ri = w >> 11
            idx = (w >> 3) & 255
            if ri < below[idx]:
                yield scale * (ri * we[idx]), (words[j + 1] >> 11) * _TO_DOUBLE
                continue
            bg.state = before  # the rare slow path: numpy's own calls from word j on
            if j:
                raw(j)
            yield exponential(scale), uniform()
            break
