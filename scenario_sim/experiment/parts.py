"""Part files of a running run: what each must hold, and checking them before they are trusted.

A part is one finished chunk, ``parts/chunk-<start>-<count>.parquet`` (and its daily series,
``ts-<start>-<count>.parquet``).  A resume builds the final files from parts written by
earlier sessions, so it must not trust a part because its name and Parquet footer look
right: a part with damaged data pages and an intact footer, or a part whose rows are not
the replications its name says (copied or renamed by hand), would give a "complete" run
with wrong, duplicated or missing replications.

So every part is recorded in the manifest (``parts``: name -> first replication, count,
rows, SHA-256 of the chunk file and of its series) as it is written, and a resume checks
each part on disk before using it:

* recorded: the file's SHA-256 must equal the recorded one;
* not yet recorded (written in the last seconds before a ``kill -9``, between two manifest
  refreshes): it is read in full, and its ``set`` and ``replication`` columns must be
  exactly every set once for each replication of its range;
* in either case the chunk must lie on the run's chunk grid (start and count as the run's
  chunk size and batches cut them), so two parts can never overlap.

A part that fails is deleted and recomputed from the same seeds, which gives the same
bytes; the manifest lists what was redone and why (``repairs``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record(chunk: Path, ts: Path | None, start: int, count: int, rows: int) -> dict[str, Any]:
    """The manifest entry of a part just written."""
    entry: dict[str, Any] = {"start": start, "count": count, "rows": rows, "sha256": file_sha256(chunk)}
    if ts is not None:
        entry["ts_sha256"] = file_sha256(ts)
    return entry


def _rows_problem(path: Path, start: int, count: int, sets: list[str]) -> str | None:
    try:
        t = pq.read_table(path, page_checksum_verification=True)  # every page decoded and its CRC checked
    except Exception as exc:
        return f"unreadable ({type(exc).__name__})"
    if "set" not in t.column_names or "replication" not in t.column_names:
        return "no set/replication columns"
    pairs = Counter(zip(t.column("set").to_pylist(), t.column("replication").to_pylist(), strict=True))
    want = {(s, r) for r in range(start, start + count) for s in sets}
    if set(pairs) != want or any(n != 1 for n in pairs.values()):
        reps = sorted({r for _, r in pairs})
        got = f"{reps[0]}..{reps[-1]}" if reps else "none"
        return (f"rows are not replications {start}..{start + count - 1} of every set once "
                f"({t.num_rows} rows, replications {got})")
    return None


def problem(chunk: Path, ts: Path | None, start: int, count: int, sets: list[str],
            recorded: dict[str, Any] | None, on_grid: bool) -> str | None:
    """Why the part at ``chunk`` (and its series ``ts``) cannot be trusted, or None if it can."""
    if not on_grid:
        return "not on the run's chunk grid"
    if ts is not None and not ts.exists():
        return "its daily series is missing"
    if recorded is not None:
        if (recorded.get("start"), recorded.get("count")) != (start, count):
            return "recorded under another range"
        if file_sha256(chunk) != recorded.get("sha256"):
            return "checksum mismatch"
        if ts is not None and recorded.get("ts_sha256") and file_sha256(ts) != recorded["ts_sha256"]:
            return "checksum mismatch in its daily series"
        return None
    bad = _rows_problem(chunk, start, count, sets)
    if bad is None and ts is not None:
        try:
            pq.read_table(ts, page_checksum_verification=True)
        except Exception as exc:
            bad = f"daily series unreadable ({type(exc).__name__})"
    return bad
