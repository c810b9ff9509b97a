"""Backtest windows: option syntax, and checks against the records' span (before any simulation).

* ``--since/--until`` (dates) choose the window of a plain backtest; by default, the span
  of the usable records.
* ``--train A..B --test C..D`` (months, ``YYYY-MM``) choose a time split: the training
  window runs from the first day of A to the last day of B, the test window likewise; the
  test window must start after the training window ends.

Days before the first record are not days without launches, so no window may start
before it.  A window may end after the last record only within the records' last month
(the records end on 2025-06-29 by launch date: ``--test 2025-01..2025-06`` ends there, and
the result says so); otherwise the request is an error.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from scenario_sim.errors import UserError

_MONTHS = re.compile(r"^(\d{4})-(\d{2})\.\.(\d{4})-(\d{2})$")


def parse_months(option: str, text: str) -> tuple[dt.date, dt.date]:
    """``2024-01..2024-06`` as (first day, last day); a one-line error naming ``option`` otherwise."""
    m = _MONTHS.match(text.strip())
    if not m:
        raise UserError(f"{option}: expected months as YYYY-MM..YYYY-MM, e.g. 2024-01..2024-06 (got {text!r})")
    y1, m1, y2, m2 = (int(g) for g in m.groups())
    for y, mo in ((y1, m1), (y2, m2)):
        if not 1 <= mo <= 12:
            raise UserError(f"{option}: month {y}-{mo:02d} does not exist (got {text!r})")
    start = dt.date(y1, m1, 1)
    end = dt.date(y2, m2, calendar.monthrange(y2, m2)[1])
    if end < start:
        raise UserError(f"{option}: the window ends before it starts (got {text!r})")
    return start, end


@dataclass(frozen=True)
class Windows:
    """What a backtest simulates and scores.

    ``simulate`` is the simulated span; ``test`` the scored nights; ``train`` the
    calibration window of a time split (None for a plain backtest); ``clipped`` says when
    the requested end was moved back to the last record.
    """

    simulate: tuple[dt.date, dt.date]
    test: tuple[dt.date, dt.date]
    train: tuple[dt.date, dt.date] | None
    clipped: str | None = None


def _clip(option: str, window: tuple[dt.date, dt.date], first: dt.date, last: dt.date,
          ) -> tuple[tuple[dt.date, dt.date], str | None]:
    start, end = window
    span = f"the usable records run from {first} to {last}"
    if start < first:
        raise UserError(f"{option}: the window starts on {start}, before the first usable record ({span}); days "
                        "before it are not days without launches")
    if start > last:
        raise UserError(f"{option}: the window starts on {start}, after the last usable record ({span})")
    if end > last:
        if (end.year, end.month) != (last.year, last.month):
            raise UserError(f"{option}: the window ends on {end}, after the records' last month ({span})")
        return (start, last), f"{option}: the records end on {last}; the window ends there instead of {end}"
    return (start, end), None


def resolve_windows(first: dt.date, last: dt.date, since: dt.date | None = None, until: dt.date | None = None,
                    train: str | None = None, test: str | None = None) -> Windows:
    """Check the options against the records' span and return the windows (or raise a one-line error)."""
    if (train is None) != (test is None):
        raise UserError("--train and --test go together: give both (a time split) or neither")
    if train is not None and test is not None:
        if since or until:
            raise UserError("--since/--until choose a plain backtest's window; with --train/--test leave them out")
        tr = parse_months("--train", train)
        te = parse_months("--test", test)
        if te[0] <= tr[1]:
            raise UserError(f"--test {test}: the test window must start after the training window {train} ends")
        tr, note_tr = _clip("--train", tr, first, last)
        te, note_te = _clip("--test", te, first, last)
        return Windows((tr[0], te[1]), te, tr, note_te or note_tr)
    if since and until and until < since:
        raise UserError(f"--until ({until}) is before --since ({since})")
    start = since or first
    end = until or last
    win, note = _clip("--since/--until", (start, end), first, last)
    return Windows(win, win, None, note)
