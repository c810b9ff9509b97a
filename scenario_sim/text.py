"""Small text helpers for messages (a bottom-floor module: no package imports)."""

from __future__ import annotations

import difflib


def did_you_mean(key: str, known: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to ``key``, or ``""``."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def counted(n: object, noun: str) -> str:
    """``n noun`` with the noun plural unless ``n`` is 1 (``1 world``, ``2 worlds``, ``? worlds``)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def number_or_na(x: object, spec: str) -> str:
    """``x`` formatted with ``spec``, or ``n/a`` where it is missing or not finite (too little data)."""
    import math

    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "n/a"
    return format(x, spec)
