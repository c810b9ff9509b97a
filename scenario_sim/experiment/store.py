"""The results folder: a run's durable record.

Layout of ``results/<scenario name>/<timestamp>-<short id>/``::

    manifest.json          what was run, by what, how far it got, what failed
    scenario.yaml          the effective scenario (after extends), recommendation sets included
    parts/                 one Parquet file per finished chunk while the run is going
    replications.parquet   one row per (set, replication), every outcome a column
    timeseries.parquet     daily series, when asked for
    summary.csv            per set and outcome: mean, sd, 95% interval, n

Every file is written atomically (a temporary file in the same folder, then ``os.replace``),
so a crash leaves either the old file or the new one, never half of one; a chunk's results
are on disk as soon as it finishes, which is what ``--resume`` relies on.  The consolidated
Parquet files are written in fixed-size row groups, so their bytes do not depend on the
chunk size, the executor or the order in which chunks finished.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from scenario_sim.errors import ResultsError
from scenario_sim.experiment.stats import Welford, t_interval

MANIFEST = "manifest.json"
SCENARIO = "scenario.yaml"
REPLICATIONS = "replications.parquet"
TIMESERIES = "timeseries.parquet"
SUMMARY = "summary.csv"
PARTS = "parts"
ROW_GROUP = 8192
_PART = re.compile(r"^chunk-(\d{8})-(\d{6})\.parquet$")


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


_MODE = 0o666 & ~_umask()  # mkstemp creates 0600 files; results are meant to be shared


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_table_atomic(path: Path, table: pa.Table) -> None:
    """Write a Parquet table atomically (zstd, fixed row groups)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP)
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunFolder:
    """Reading and writing one run's folder."""

    def __init__(self, path: Path):
        self.path = path

    # -- creation and validation ---------------------------------------------------
    @classmethod
    def create(cls, root: Path, scenario_name: str, stamp: str, short_id: str) -> RunFolder:
        folder = root / scenario_name / f"{stamp}-{short_id}"
        try:
            (folder / PARTS).mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise ResultsError(f"{folder}: run folder already exists") from None
        except OSError as exc:
            raise ResultsError(f"{root}: cannot create the results folder ({exc.strerror})") from None
        if not os.access(folder, os.W_OK):
            raise ResultsError(f"{folder}: results folder is not writable")
        return cls(folder)

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """Open an existing run folder; a missing or foreign folder is a ResultsError."""
        p = Path(path)
        if not p.exists():
            raise ResultsError(f"{p}: no such run folder")
        if not p.is_dir():
            raise ResultsError(f"{p}: not a folder (expected a run folder with {MANIFEST})")
        if not (p / MANIFEST).exists():
            raise ResultsError(f"{p}: not a run folder ({MANIFEST} is missing)")
        folder = cls(p)
        folder.manifest()  # validates
        return folder

    # -- manifest ------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        p = self.path / MANIFEST
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ResultsError(f"{p}:{exc.lineno}:{exc.colno}: corrupt manifest ({exc.msg})") from None
        except OSError as exc:
            raise ResultsError(f"{p}: cannot read ({exc.strerror})") from None
        if not isinstance(data, dict) or data.get("format") != "scenario-sim-run/1":
            raise ResultsError(f"{p}: format: expected 'scenario-sim-run/1' (not a scenario-sim run folder?)")
        for key in ("seed", "sets", "replications_asked", "chunk_size"):
            if key not in data:
                raise ResultsError(f"{p}: {key}: missing from the manifest")
        return data

    def write_manifest(self, data: dict[str, Any]) -> None:
        atomic_write_text(self.path / MANIFEST, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")

    # -- parts ---------------------------------------------------------------------
    def part_path(self, start: int, count: int, kind: str = "chunk") -> Path:
        return self.path / PARTS / f"{kind}-{start:08d}-{count:06d}.parquet"

    def write_part(self, start: int, count: int, table: pa.Table, ts: pa.Table | None) -> None:
        if ts is not None:  # the series first: the chunk file marks the chunk as done
            write_table_atomic(self.part_path(start, count, "ts"), ts)
        write_table_atomic(self.part_path(start, count), table)

    def done_chunks(self) -> dict[int, int]:
        """{start: count} of chunks whose part files are present and readable."""
        out: dict[int, int] = {}
        parts = self.path / PARTS
        if not parts.exists():
            return out
        for p in sorted(parts.iterdir()):
            m = _PART.match(p.name)
            if not m:
                continue
            start, count = int(m.group(1)), int(m.group(2))
            try:
                pq.read_metadata(p)
            except Exception:  # a damaged part is recomputed, not trusted
                p.unlink(missing_ok=True)
                continue
            out[start] = count
        return out

    # -- consolidation -------------------------------------------------------------
    def consolidate_parts(self, done: dict[int, int], n_reps: int, with_ts: bool, schema: pa.Schema) -> None:
        """Merge the parts covering replications [0, n_reps), in order, into the final files."""
        chunks = sorted((s, c) for s, c in done.items() if s < n_reps)
        self._merge([self.part_path(s, c) for s, c in chunks], REPLICATIONS, schema)
        if with_ts:
            self._merge([self.part_path(s, c, "ts") for s, c in chunks], TIMESERIES, None)

    def _merge(self, parts: list[Path], name: str, schema: pa.Schema | None) -> None:
        out = self.path / name
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        writer = None
        try:
            buffer: list[pa.Table] = []
            buffered = 0
            for part in parts:
                t = pq.read_table(part)
                if schema is not None:
                    t = t.select(schema.names).cast(schema)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, t.schema, compression="zstd")
                buffer.append(t)
                buffered += t.num_rows
                while buffered >= ROW_GROUP:  # fixed row groups: bytes independent of chunking
                    merged = pa.concat_tables(buffer).combine_chunks()
                    writer.write_table(merged.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                    rest = merged.slice(ROW_GROUP)
                    buffer, buffered = [rest], rest.num_rows
            if writer is None:
                raise ResultsError(f"{self.path}: no results to consolidate")
            if buffered:
                writer.write_table(pa.concat_tables(buffer).combine_chunks(), row_group_size=ROW_GROUP)
            writer.close()
            writer = None
            os.chmod(tmp, _MODE)
            os.replace(tmp, out)
        finally:
            if writer is not None:
                writer.close()
            Path(tmp).unlink(missing_ok=True)

    def remove_parts(self) -> None:
        parts = self.path / PARTS
        if parts.exists():
            for p in parts.iterdir():
                p.unlink()
            parts.rmdir()

    # -- reading -------------------------------------------------------------------
    def replications_file(self) -> Path:
        p = self.path / REPLICATIONS
        if not p.exists():
            raise ResultsError(f"{p}: missing (the run did not finish; resume it with "
                               f"'scenario-sim run --resume {self.path}')")
        try:
            pq.read_metadata(p)
        except Exception as exc:
            raise ResultsError(f"{p}: corrupt Parquet file ({type(exc).__name__}: {exc})") from None
        return p

    def iter_batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        try:
            pf = pq.ParquetFile(self.replications_file())
            yield from pf.iter_batches(batch_size=ROW_GROUP, columns=columns)
        except ResultsError:
            raise
        except Exception as exc:
            raise ResultsError(f"{self.path / REPLICATIONS}: unreadable ({type(exc).__name__}: {exc})") from None


def summarise(folder: RunFolder, sets: list[str], outcomes: list[str]) -> list[dict[str, Any]]:
    """Per set and outcome: mean, sd, 95% t-interval, n (one streaming pass)."""
    acc = {(s, o): Welford() for s in sets for o in outcomes}
    for batch in folder.iter_batches(["set", "error", *outcomes]):
        names = np.asarray(batch.column("set").to_pylist())
        ok = np.asarray([e is None for e in batch.column("error").to_pylist()], dtype=bool)
        for s in sets:
            mask = (names == s) & ok
            if not mask.any():
                continue
            for o in outcomes:
                col = batch.column(o).to_numpy(zero_copy_only=False)
                acc[(s, o)].push_many(np.asarray(col[mask], dtype=float))
    rows = []
    for s in sets:
        for o in outcomes:
            w = acc[(s, o)]
            lo, hi = t_interval(w.mean, w.sd, w.n)
            rows.append({"set": s, "outcome": o, "mean": w.mean if w.n else math.nan, "sd": w.sd,
                         "ci_low": lo, "ci_high": hi, "n": w.n})
    return rows


def write_summary(folder: RunFolder, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["set", "outcome", "mean", "sd", "ci_low", "ci_high", "n"],
                       lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(folder.path / SUMMARY, buf.getvalue())
