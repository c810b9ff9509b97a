"""Reading the Ukrainian Air Force daily attack records.

The format is the public "Massive Missile Attacks on Ukraine" dataset (P. Ivaniuk, Kaggle),
one row per reported munition model and reporting window.  The loader survives every quirk
the data README lists: empty numeric cells, several rows per night, bare dates and dates
with times (``H:MM`` or ``HH:MM``, stray spaces), combined models ("X-101/X-555 and
Kalibr"), Cyrillic names, floats written as ``93.0``, a column name with a space and
quoted fields with commas or newlines.

Design notes.

* **Columnar and streaming.**  The file is read in blocks by pyarrow's CSV reader, only the
  seven columns calibration uses, and each block is checked and parsed with vectorised
  kernels into a few numpy columns (dates as ``datetime64[m]``, counts as integers, model
  and channel as small category codes).  A million rows take seconds and a bounded amount
  of memory (see ``benchmarks/bench_calibrate.py``); no Python object is made per row.
* **Located errors.**  pyarrow does not report file lines, and a quoted field may span
  lines, so lines are recovered only when something must be reported: the data row's index
  is mapped to its line by a streaming pass of the ``csv`` module.  When pyarrow cannot parse
  the file at all (a row with too few or too many fields, invalid UTF-8), a strict
  line-by-line pass finds the first offending line and says what is wrong with it.
* Two kinds of trouble are kept apart.  A value that is *present but wrong* (``launched`` =
  ``abc``, ``12.5``, ``-3`` or 20 digits; a date that is not a date; a row with the wrong
  number of fields; a missing column; an empty file) is an error naming the file, line and
  field, because the file is not what we think it is.  A row that is well-formed but
  *cannot be used* (``launched`` empty, a date outside the plausible span or far from every
  other record) is counted by reason and reported with its lines, never silently dropped.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from scenario_sim.errors import DataError

REQUIRED = ("time_start", "time_end", "model", "launched", "destroyed", "source")
OPTIONAL = ("not_reach_goal", "num_hit_location")
MAX_BYTES = 4_000_000_000
MAX_COUNT = 1_000_000          # munitions in one report row; more is a typo, not a strike
PLAUSIBLE_YEARS = (1990, 2100)  # a date outside is a typo (2025 -> 2205, 9999)
MAX_GAP_DAYS = 730             # a record this far from every other one is a typo too
_DATE = (r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
         r"(?:[ T]+(?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))?)?$")
_NUMBER = r"^\d+(?:\.0*)?$"
_CHANNEL = r"^(?:https?://)?(?:t\.me/|www\.facebook\.com/|facebook\.com/)?(?P<ch>[^/\s]+)"
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_BLOCK_BYTES = 8 << 20
_SHOWN_LINES = 5


@dataclass
class ReadReport:
    """What happened to every row: counts of unusable rows by reason, warnings with lines."""

    rows: int = 0
    unusable: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    clamped_rows: list[int] = field(default_factory=list)
    """Data rows whose not_reach_goal was clamped: warned about by :meth:`RecordSet.clamp_warnings`
    only when a window reads them (the full records have one, 2024-12-27)."""


@dataclass
class RecordSet:
    """The usable rows of a records file, as columns.

    ``frame`` has one row per record with a launch count and a plausible date: ``row``
    (index of the data row in the file, 0-based), ``start`` and ``end`` (``datetime64``),
    ``model`` and ``channel`` (categoricals), ``launched`` (int), ``destroyed`` and
    ``not_reach_goal`` and ``num_hit_location`` (float, NaN where the cell is empty or the
    column absent; ``destroyed`` is at most
    ``launched`` (more is an error) and ``not_reach_goal`` at most ``launched - destroyed``
    (clamped, with a warning)).  Read a file once and calibrate several windows of it.
    """

    path: str
    sha256: str
    frame: pd.DataFrame
    report: ReadReport

    def lines(self, rows: Sequence[int]) -> list[int]:
        """The file line of each data row index (a streaming pass over the file)."""
        return lines_of(self.path, rows)

    def clamp_warnings(self, used: Iterable[int] | None = None) -> list[str]:
        """The located warning for the clamped rows (see :func:`_check_sums`) among the data rows
        ``used`` (the ``row`` of the rows a window reads; None: every row): a row outside the
        window changes nothing there, so it is not worth a warning there."""
        rows = self.report.clamped_rows
        if used is not None:
            wanted = set(int(r) for r in used)
            rows = [r for r in rows if r in wanted]
        if not rows:
            return []
        lines = self.lines(rows[:_SHOWN_LINES])
        more = f" and {len(rows) - len(lines)} more" if len(rows) > len(lines) else ""
        return [f"{self.path}:{lines[0]}: not_reach_goal: destroyed + not_reach_goal is more than launched; "
                f"not_reach_goal clamped to launched - destroyed on {len(rows)} row(s) "
                f"(lines {', '.join(map(str, lines))}{more})"]


# --------------------------------------------------------------------------- lines and strict pass


def _csv_rows(path: str) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of every non-empty data row, by the ``csv`` module (strict UTF-8)."""
    # errors="replace": this pass only counts lines; check_utf8 is the strict check.
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        for cells in reader:
            if cells:
                yield reader.line_num, cells


def lines_of(path: str, rows: Sequence[int]) -> list[int]:
    """Map data row indices (0-based, empty lines skipped) to file lines."""
    wanted = sorted(set(rows))
    found: dict[int, int] = {}
    if wanted:
        it = iter(wanted)
        nxt = next(it)
        for i, (line, _) in enumerate(_csv_rows(path)):
            if i == nxt:
                found[i] = line
                nxt = next(it, -1)
                if nxt < 0:
                    break
    return [found.get(r, r + 2) for r in rows]


def check_utf8(path: str) -> None:
    """Raise a located DataError at the first line that is not UTF-8 text."""
    dec = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        for line, raw in enumerate(f, 1):
            try:
                dec.decode(raw)
            except UnicodeDecodeError as exc:
                col = len(raw[:exc.start].decode("utf-8", "replace")) + 1
                raise DataError(f"{path}:{line}:{col}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                                "save the file as UTF-8") from None
            dec.reset()


def _strict_pass(path: str, n_header: int) -> None:
    """Find the first line the fast reader could not parse and raise a located error for it."""
    check_utf8(path)
    try:
        for line, cells in _csv_rows(path):
            if len(cells) != n_header:
                raise DataError(f"{path}:{line}: malformed row: {len(cells)} field(s), the header has {n_header}")
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from None


# --------------------------------------------------------------------------- header


def _header(path: str) -> list[str]:
    p = Path(path)
    try:
        if p.is_dir():
            raise DataError(f"{path}: is a directory, expected a CSV file")
        if p.stat().st_size > MAX_BYTES:
            raise DataError(f"{path}: file is larger than {MAX_BYTES} bytes")
        with p.open("rb") as f:
            first = f.readline(1 << 20)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        check_utf8(path)
        raise
    header = next(csv.reader(io.StringIO(text)), [])
    header = [h.strip() for h in header]
    if not header:
        raise DataError(f"{path}: empty file (expected a header line with {', '.join(REQUIRED)})")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataError(f"{path}:1: missing column(s) {', '.join(missing)} (expected the Air Force "
                        f"records format with {', '.join(REQUIRED)})")
    return header


# --------------------------------------------------------------------------- vectorised parsing


@dataclass
class _Problem:
    """The first bad cell of a block: data row index, column, message."""

    row: int
    column: str
    message: str


def _first(mask: np.ndarray[Any, np.dtype[np.bool_]]) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _unique(arr: pa.Array) -> tuple[pa.Array, np.ndarray[Any, Any]]:
    """(distinct values, index of each row's value): cells repeat a lot, so parse each once."""
    enc = pc.dictionary_encode(arr)
    return enc.dictionary, enc.indices.to_numpy(zero_copy_only=False)


def _counts(arr: pa.Array, column: str, problems: list[_Problem], offset: int) -> np.ndarray[Any, Any]:
    """Whole numbers (``93`` or ``93.0``) as float, NaN for an empty cell; bad cells noted."""
    u, idx = _unique(pc.utf8_trim_whitespace(arr))
    empty = pc.or_(pc.equal(u, ""), pc.equal(pc.utf8_lower(u), "nan")).to_numpy(zero_copy_only=False)
    ok = pc.match_substring_regex(u, _NUMBER).to_numpy(zero_copy_only=False)
    digits = pc.replace_substring_regex(u, r"\.0*$", "")
    long = (pc.utf8_length(digits).to_numpy(zero_copy_only=False) > len(str(MAX_COUNT))) & ok
    safe = pc.if_else(pa.array(empty | ~ok | long), "0", digits)
    values: np.ndarray[Any, Any] = np.asarray(pc.cast(safe, pa.int64()).to_numpy(), dtype=float)
    values[empty] = np.nan
    bad = _first((~(empty | ok))[idx])
    if bad is not None:
        problems.append(_Problem(offset + bad, column, f"expected a whole number >= 0 (got {u[idx[bad]].as_py()!r})"))
    big = _first((long | (values > MAX_COUNT))[idx])
    if big is not None:
        problems.append(_Problem(offset + big, column, f"count {u[idx[big]].as_py()!r} is implausibly large "
                                 f"(at most {MAX_COUNT:,} munitions per row)"))
    out: np.ndarray[Any, Any] = values[idx]
    return out


def _parse_dates(u: pa.Array) -> tuple[np.ndarray[Any, Any], ...]:
    """(datetime64[m], matched, valid, plausible) for distinct date cells."""
    m = pc.extract_regex(pc.replace_substring_regex(u, r"\s+", " "), _DATE)
    matched = pc.is_valid(m).to_numpy(zero_copy_only=False)
    parts = {}
    for name in ("y", "mo", "d", "hh", "mm", "ss"):
        f = pc.struct_field(m, name)
        f = pc.if_else(pc.or_kleene(pc.is_null(f), pc.equal(f, "")), "0", f)
        parts[name] = pc.cast(f, pa.int64()).to_numpy(zero_copy_only=False)
    y, mo, d = parts["y"], parts["mo"], parts["d"]
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    dim = _DAYS_IN_MONTH[np.clip(mo, 1, 12) - 1] + ((mo == 2) & leap)
    valid = (matched & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= dim) & (parts["hh"] <= 23)
             & (parts["mm"] <= 59) & (parts["ss"] <= 59))
    plausible = valid & (y >= PLAUSIBLE_YEARS[0]) & (y <= PLAUSIBLE_YEARS[1])
    yy = np.where(plausible, y, 2000)
    out = ((yy - 1970).astype("datetime64[Y]").astype("datetime64[M]")
           + (np.where(plausible, mo, 1) - 1).astype("timedelta64[M]")).astype("datetime64[m]")
    out = out + ((np.where(plausible, d, 1) - 1) * 1440 + np.where(plausible, parts["hh"] * 60 + parts["mm"], 0)
                 ).astype("timedelta64[m]")
    return out, matched, valid, plausible


def _dates(arr: pa.Array, column: str, need: np.ndarray[Any, Any], problems: list[_Problem], offset: int,
           ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(datetime64[m] values, plausible mask); unparseable or invalid dates where ``need`` are noted."""
    u, idx = _unique(arr)
    out, matched, valid, plausible = _parse_dates(u)
    bad = _first(need & ~matched[idx])
    if bad is not None:
        problems.append(_Problem(offset + bad, column, "expected a date YYYY-MM-DD or 'YYYY-MM-DD HH:MM' "
                                 f"(got {arr[bad].as_py()!r})"))
    bad = _first(need & (matched & ~valid)[idx])
    if bad is not None:
        problems.append(_Problem(offset + bad, column, f"not a valid date or time (got {arr[bad].as_py()!r})"))
    return out[idx], plausible[idx]


class _Codes:
    """Category codes for a column with few distinct values, shared across blocks."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.index: dict[str, int] = {}

    def encode(self, arr: pa.Array) -> np.ndarray[Any, Any]:
        enc = pc.dictionary_encode(arr)
        local = np.array([self.index.setdefault(v, len(self.index)) for v in enc.dictionary.to_pylist()],
                         dtype=np.int32)
        self.values = list(self.index)
        if not local.size:
            return np.zeros(len(arr), np.int32)
        codes: np.ndarray[Any, Any] = local[enc.indices.to_numpy(zero_copy_only=False)]
        return codes

    def categorical(self, codes: np.ndarray[Any, Any]) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=pd.Index(self.values, dtype=object))


@dataclass
class _Columns:
    row: list[np.ndarray[Any, Any]] = field(default_factory=list)
    start: list[np.ndarray[Any, Any]] = field(default_factory=list)
    end: list[np.ndarray[Any, Any]] = field(default_factory=list)
    launched: list[np.ndarray[Any, Any]] = field(default_factory=list)
    destroyed: list[np.ndarray[Any, Any]] = field(default_factory=list)
    nrg: list[np.ndarray[Any, Any]] = field(default_factory=list)
    hits: list[np.ndarray[Any, Any]] = field(default_factory=list)
    model: list[np.ndarray[Any, Any]] = field(default_factory=list)
    channel: list[np.ndarray[Any, Any]] = field(default_factory=list)
    implausible: list[np.ndarray[Any, Any]] = field(default_factory=list)
    clamped: list[np.ndarray[Any, Any]] = field(default_factory=list)


def _check_sums(launched: np.ndarray[Any, Any], destroyed: np.ndarray[Any, Any], nrg: np.ndarray[Any, Any],
                keep: np.ndarray[Any, Any], offset: int, problems: list[_Problem],
                ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Destroyed more than launched is an error (no row of the full records has it, and a cap
    would change the destroyed share silently).  Destroyed + not_reach_goal more than launched
    is a partial breakdown that double counts (one real row: 2024-12-27, Shahed 16 launched, 15
    destroyed, 11 not_reach_goal): not_reach_goal is clamped to launched - destroyed and the
    rows are returned for a counted, located warning."""
    over = _first(keep & (destroyed > launched))
    if over is not None:
        problems.append(_Problem(offset + over, "destroyed", f"more than launched (destroyed "
                                 f"{destroyed[over]:.0f}, launched {launched[over]:.0f})"))
    d0 = np.nan_to_num(destroyed)
    excess = keep & ~np.isnan(nrg) & (d0 + np.nan_to_num(nrg) > launched)
    nrg = np.where(excess, np.maximum(launched - d0, 0.0), nrg)
    return nrg, np.flatnonzero(excess) + offset


def _block(batch: pa.RecordBatch, offset: int, cols: _Columns, models: _Codes, channels: _Codes,
           report: ReadReport) -> list[_Problem]:
    """Parse one block into ``cols``; return the problems found (the caller raises the first)."""
    n = batch.num_rows
    problems: list[_Problem] = []
    launched = _counts(batch.column("launched"), "launched", problems, offset)
    destroyed = _counts(batch.column("destroyed"), "destroyed", problems, offset)
    nrg = (_counts(batch.column("not_reach_goal"), "not_reach_goal", problems, offset)
           if "not_reach_goal" in batch.schema.names else np.full(n, np.nan))
    hits = (_counts(batch.column("num_hit_location"), "num_hit_location", problems, offset)
            if "num_hit_location" in batch.schema.names else np.full(n, np.nan))
    has = ~np.isnan(launched)
    ts = pc.utf8_trim_whitespace(batch.column("time_start"))
    te = pc.utf8_trim_whitespace(batch.column("time_end"))
    ts_empty = pc.equal(ts, "").to_numpy(zero_copy_only=False)
    te_empty = pc.equal(te, "").to_numpy(zero_copy_only=False)
    no_date = ts_empty & te_empty
    use = has & ~no_date
    # A missing start is the end and vice versa (the column named in errors is the one read).
    start, ok_s = _dates(pc.if_else(pa.array(ts_empty), te, ts), "time_start", use & ~ts_empty, problems, offset)
    end, ok_e = _dates(pc.if_else(pa.array(te_empty), ts, te), "time_end", use & ~te_empty, problems, offset)
    if problems:
        return problems
    for reason, mask in (("launched is empty", ~has), ("no date (time_start and time_end empty)", has & no_date)):
        if mask.any():
            report.unusable[reason] += int(mask.sum())
    implausible = use & ~(ok_s & ok_e)
    keep = use
    nrg, clamped = _check_sums(launched, destroyed, nrg, keep, offset, problems)
    if problems:
        return problems
    cols.clamped.append(clamped)
    src = pc.utf8_lower(pc.utf8_trim_whitespace(batch.column("source")))
    ch = pc.struct_field(pc.extract_regex(src, _CHANNEL), "ch")
    ch = pc.if_else(pc.is_null(ch), "", ch)
    idx = np.flatnonzero(keep)
    cols.row.append((idx + offset).astype(np.int32))
    cols.start.append(start[idx])
    cols.end.append(end[idx])
    # Narrow types keep a million rows in ~35 MB: counts are at most MAX_COUNT, exact in float32.
    cols.launched.append(launched[idx].astype(np.int32))
    cols.destroyed.append(destroyed[idx].astype(np.float32))
    cols.nrg.append(nrg[idx].astype(np.float32))
    cols.hits.append(hits[idx].astype(np.float32))
    cols.model.append(models.encode(pc.utf8_trim_whitespace(batch.column("model")))[idx])
    cols.channel.append(channels.encode(ch)[idx])
    cols.implausible.append(implausible[idx])
    return []


def _raise_first(path: str, problems: list[_Problem]) -> None:
    order = {"launched": 0, "destroyed": 1, "not_reach_goal": 2, "num_hit_location": 3, "time_start": 4,
             "time_end": 5}
    p = min(problems, key=lambda q: (q.row, order.get(q.column, 9)))
    line = lines_of(path, [p.row])[0]
    raise DataError(f"{path}:{line}: {p.column}: {p.message}")


def _convert(used: list[str]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(include_columns=used, column_types={c: pa.string() for c in used},
                                strings_can_be_null=False, quoted_strings_can_be_null=False)


def _batches(path: str, header: list[str], newlines_in_values: bool) -> Iterator[pa.RecordBatch]:
    """The file's data rows in blocks of about ``_BLOCK_BYTES``, only the columns calibration reads.

    The fast path cuts the file at line ends itself and parses one block at a time, so memory
    holds one block, not the file (pyarrow's streaming reader reads far ahead).  A quoted
    field holding a newline at a cut makes the block unparseable; the caller then reads again
    with ``newlines_in_values``, through pyarrow's own reader.
    """
    used = [c for c in (*REQUIRED, *OPTIONAL) if c in header]
    if newlines_in_values:
        yield from pacsv.open_csv(
            path, read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES, column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True), convert_options=_convert(used))
        return

    def parse(data: bytes) -> Iterator[pa.RecordBatch]:
        table = pacsv.read_csv(pa.py_buffer(data),
                               read_options=pacsv.ReadOptions(column_names=header, use_threads=False,
                                                              block_size=len(data) + 1),
                               convert_options=_convert(used))
        yield from table.combine_chunks().to_batches()

    with open(path, "rb") as f:
        f.readline()
        rest = b""
        while chunk := f.read(_BLOCK_BYTES):
            buf = rest + chunk
            cut = buf.rfind(b"\n") + 1
            rest = buf[cut:]
            if cut:
                yield from parse(buf[:cut])
        if rest.strip():
            yield from parse(rest)


def _cat(parts: list[np.ndarray[Any, Any]], dtype: Any) -> np.ndarray[Any, Any]:
    """Concatenate and free the parts (peak memory: one column twice, not the whole frame)."""
    out = np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)
    parts.clear()
    return out


def _read_blocks(name: str, header: list[str], newlines_in_values: bool,
                 ) -> tuple[_Columns, _Codes, _Codes, ReadReport, int]:
    cols = _Columns()
    models, channels = _Codes(), _Codes()
    report = ReadReport()
    offset = 0
    for batch in _batches(name, header, newlines_in_values):
        problems = _block(batch, offset, cols, models, channels, report)
        if problems:
            _raise_first(name, problems)
        offset += batch.num_rows
    return cols, models, channels, report, offset


def read_records(path: str | Path) -> RecordSet:
    """Every row with a launch count, parsed and checked; raises a located DataError for malformed files."""
    name = str(path)
    header = _header(name)
    digest = hashlib.sha256()
    with open(name, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    # Block boundaries are found fastest when no quoted field holds a newline; a block that
    # ends inside one fails to parse, and the file is read again allowing them.
    try:
        cols, models, channels, report, offset = _read_blocks(name, header, newlines_in_values=False)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        try:
            cols, models, channels, report, offset = _read_blocks(name, header, newlines_in_values=True)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            _strict_pass(name, len(header))
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"{name}: cannot parse as CSV ({first})") from None
    report.rows = offset
    if offset == 0:
        raise DataError(f"{name}: no data rows after the header")
    frame = pd.DataFrame({"row": _cat(cols.row, np.int32)})
    frame["start"] = _cat(cols.start, "datetime64[m]")
    frame["end"] = _cat(cols.end, "datetime64[m]")
    frame["model"] = models.categorical(_cat(cols.model, np.int32))
    frame["channel"] = channels.categorical(_cat(cols.channel, np.int32))
    frame["launched"] = _cat(cols.launched, np.int32)
    frame["destroyed"] = _cat(cols.destroyed, np.float32)
    frame["not_reach_goal"] = _cat(cols.nrg, np.float32)
    frame["num_hit_location"] = _cat(cols.hits, np.float32)
    rs = RecordSet(name, digest.hexdigest(), frame, report)
    report.clamped_rows = _cat(cols.clamped, np.int64).tolist()  # warned per window: RecordSet.clamp_warnings
    _drop_implausible_dates(rs, _cat(cols.implausible, bool))
    return rs


# --------------------------------------------------------------------------- implausible dates


def _warn_rows(rs: RecordSet, rows: np.ndarray[Any, Any], what: str) -> None:
    lines = rs.lines(rows[:_SHOWN_LINES].tolist())
    more = f" and {rows.size - len(lines)} more" if rows.size > len(lines) else ""
    rs.report.warnings.append(f"{rs.path}:{lines[0]}: {what}; {rows.size} row(s) left out "
                              f"(lines {', '.join(map(str, lines))}{more})")


def _drop_implausible_dates(rs: RecordSet, implausible: np.ndarray[Any, Any]) -> None:
    """Leave out rows dated outside the plausible years, or far from every other record.

    A record far from the rest (a gap of more than ``MAX_GAP_DAYS`` to the main body of the
    records, the cluster holding most rows) is almost certainly a typo in the year; keeping it
    would stretch the daily series over centuries.
    """
    df = rs.frame
    if implausible.any():
        rows = df["row"].to_numpy()[implausible]
        rs.report.unusable[f"date outside {PLAUSIBLE_YEARS[0]}-{PLAUSIBLE_YEARS[1]}"] += int(implausible.sum())
        _warn_rows(rs, rows, f"time_start/time_end: date outside the plausible years "
                             f"{PLAUSIBLE_YEARS[0]}-{PLAUSIBLE_YEARS[1]}")
        df = df[~implausible].reset_index(drop=True)
    if len(df):
        day = df["start"].to_numpy().astype("datetime64[D]").astype(np.int64)
        uniq, counts = np.unique(day, return_counts=True)
        cluster = np.concatenate([[0], np.cumsum(np.diff(uniq) > MAX_GAP_DAYS)])
        weight = np.bincount(cluster, weights=counts)
        main = int(np.argmax(weight))
        lo, hi = uniq[cluster == main][[0, -1]]
        far = (day < lo) | (day > hi)
        if far.any():
            span = f"{np.datetime64(int(lo), 'D')}..{np.datetime64(int(hi), 'D')}"
            rs.report.unusable[f"date more than {MAX_GAP_DAYS} days from the other records"] += int(far.sum())
            _warn_rows(rs, df["row"].to_numpy()[far], f"time_start: date more than {MAX_GAP_DAYS} days from "
                                                       f"the other records ({span})")
            df = df[~far].reset_index(drop=True)
    rs.frame = df
