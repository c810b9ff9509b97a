"""Reading the Ukrainian Air Force daily attack records.

The format is the public "Massive Missile Attacks on Ukraine" dataset (P. Ivaniuk, Kaggle),
one row per reported munition model and reporting window.  The loader survives every quirk
the data README lists: empty numeric cells, several rows per night, bare dates and dates
with times (``H:MM`` or ``HH:MM``, stray spaces), combined models ("X-101/X-555 and
Kalibr"), Cyrillic names, floats written as ``93.0``, a column name with a space and
quoted fields with commas (read with the ``csv`` module, never split by hand).

Two kinds of trouble are kept apart:

* a value that is *present but wrong* (``launched`` = ``abc``, ``12.5`` or ``-3``; a date
  that is not a date; a missing column; an empty file) is an error naming the file, line
  and field, because it means the file is not what we think it is;
* a row that is well-formed but *cannot be used* (``launched`` empty, a regional source,
  an excluded class, an unknown model, outside the date range) is counted by reason and
  reported, never silently dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from scenario_sim.errors import DataError

REQUIRED = ("time_start", "time_end", "model", "launched", "destroyed", "source")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_NUMBER = re.compile(r"^\d+(?:\.0*)?$")
_CHANNEL = re.compile(r"^(?:https?://)?(?:t\.me/|www\.facebook\.com/|facebook\.com/)?([^/\s]+)")
MAX_BYTES = 200_000_000


@dataclass(frozen=True)
class Record:
    """One usable row of the records."""

    line: int
    start: dt.datetime
    end: dt.datetime
    model: str
    launched: int
    destroyed: int | None
    not_reach_goal: int | None
    channel: str


@dataclass
class ReadReport:
    """What happened to every row."""

    rows: int = 0
    unusable: Counter[str] = field(default_factory=Counter)


def parse_time(text: str, path: str, line: int, column: str) -> dt.datetime:
    t = " ".join(text.split())
    m = _DATE.match(t)
    if not m:
        raise DataError(f"{path}:{line}: {column}: expected a date YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (got {text!r})")
    y, mo, d, hh, mm, ss = m.groups()
    try:
        return dt.datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        raise DataError(f"{path}:{line}: {column}: not a valid date or time (got {text!r})") from None


def parse_count(text: str, path: str, line: int, column: str) -> int | None:
    """A non-negative whole number (``93`` or ``93.0``); None when the cell is empty."""
    t = text.strip()
    if t == "" or t.lower() == "nan":
        return None
    if not _NUMBER.match(t):
        raise DataError(f"{path}:{line}: {column}: expected a whole number >= 0 (got {text!r})")
    return int(float(t))


def channel_of(source: str) -> str:
    """The publishing channel of a ``source`` cell (``kpszsu/posts/..`` or a t.me link)."""
    m = _CHANNEL.match(source.strip())
    return m.group(1).lower() if m else ""


def read_records(path: str | Path) -> tuple[list[Record], ReadReport]:
    """Every row with a launch count, parsed and checked; raises DataError for malformed files."""
    p = Path(path)
    name = str(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise DataError(f"{name}: file is larger than {MAX_BYTES} bytes")
        f = p.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{name}: is a directory, expected a CSV file") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot read ({exc.strerror})") from None
    report = ReadReport()
    out: list[Record] = []
    with f:
        try:
            reader = csv.DictReader(f)
            header = reader.fieldnames
            if not header:
                raise DataError(f"{name}: empty file (expected a header line with {', '.join(REQUIRED)})")
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise DataError(f"{name}:1: missing column(s) {', '.join(missing)} (expected the Air Force "
                                f"records format with {', '.join(REQUIRED)})")
            for row in reader:
                line = reader.line_num
                report.rows += 1
                if None in row:  # more cells than header fields
                    raise DataError(f"{name}:{line}: row has more fields than the header ({len(header)})")
                launched = parse_count(row["launched"] or "", name, line, "launched")
                destroyed = parse_count(row["destroyed"] or "", name, line, "destroyed")
                nrg = parse_count(row.get("not_reach_goal") or "", name, line, "not_reach_goal")
                if launched is None:
                    report.unusable["launched is empty"] += 1
                    continue
                ts, te = (row["time_start"] or "").strip(), (row["time_end"] or "").strip()
                if not ts and not te:
                    report.unusable["no date (time_start and time_end empty)"] += 1
                    continue
                start = parse_time(ts or te, name, line, "time_start" if ts else "time_end")
                end = parse_time(te or ts, name, line, "time_end" if te else "time_start")
                if destroyed is not None and destroyed > launched:
                    report.unusable["destroyed exceeds launched (destroyed capped at launched)"] += 1
                    destroyed = launched
                out.append(Record(line, start, end, (row["model"] or "").strip(), launched, destroyed, nrg,
                                  channel_of(row["source"] or "")))
        except csv.Error as exc:
            raise DataError(f"{name}:{reader.line_num}: malformed CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if report.rows == 0:
        raise DataError(f"{name}: no data rows after the header")
    return out, report
