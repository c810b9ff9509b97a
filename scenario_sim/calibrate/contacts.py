"""Reading a list of leader contacts (date, kind, status)."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from scenario_sim.calibrate.records import check_utf8
from scenario_sim.errors import DataError


@dataclass(frozen=True)
class ContactRow:
    date: dt.date
    kind: str
    status: str
    note: str


def read_contacts(path: str | Path) -> list[ContactRow]:
    """The contacts in a CSV file with columns date, kind, status (and optional note)."""
    name = str(path)
    try:
        if Path(path).is_dir():
            raise DataError(f"{name}: is a directory, expected a CSV file")
        check_utf8(name)
        f = Path(path).open(encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot read ({exc.strerror})") from None
    try:
        with f:
            return _rows(csv.DictReader(f, strict=True), name)
    except csv.Error as exc:
        raise DataError(f"{name}: malformed CSV ({exc})") from None


def _rows(reader: csv.DictReader[str], name: str) -> list[ContactRow]:
    """Parse and check every row; a bad cell is an error naming its line and field."""
    out = []
    if not reader.fieldnames:
        raise DataError(f"{name}: empty file (expected a header with date, kind, status)")
    missing = [c for c in ("date", "kind", "status") if c not in reader.fieldnames]
    if missing:
        raise DataError(f"{name}:1: missing column(s) {', '.join(missing)} (expected date, kind, status)")
    n_header = len(reader.fieldnames)
    for row in reader:
        line = reader.line_num
        # DictReader pads a short row with None and files a long row's extras under None; say so
        # here, as the records reader does, rather than report the shifted cell a field check meets
        n_cells = len(row) - (None in row) - sum(v is None for v in row.values()) + len(row.get(None) or [])
        if n_cells != n_header:
            raise DataError(f"{name}:{line}: malformed row: {n_cells} field(s), the header has {n_header}")
        try:
            d = dt.date.fromisoformat((row["date"] or "").strip())
        except ValueError:
            raise DataError(f"{name}:{line}: date: expected YYYY-MM-DD (got {row['date']!r})") from None
        kind = (row["kind"] or "").strip().lower()
        if kind not in ("call", "meeting"):
            raise DataError(f"{name}:{line}: kind: expected 'call' or 'meeting' (got {row['kind']!r})")
        status = (row["status"] or "").strip().lower()
        if status not in ("confirmed", "denied"):
            raise DataError(f"{name}:{line}: status: expected 'confirmed' or 'denied' (got {row['status']!r})")
        out.append(ContactRow(d, kind, status, (row.get("note") or "").strip()))
    return out
