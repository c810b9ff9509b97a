"""Reading and writing one run folder (see the package docstring for the layout)."""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scenario_sim.errors import ResultsError
from scenario_sim.runs.manifest import Manifest, OutcomeInfo, SetInfo, parse, to_json

MANIFEST = "manifest.json"
SCENARIO = "scenario.yaml"
OUTCOMES = "outcomes.json"
SETS = "sets.json"
SET_SCENARIOS = "sets"
REPLICATIONS = "replications.parquet"
TIMESERIES = "timeseries.parquet"
SUMMARY = "summary.csv"
COMPARISON = "comparison.csv"
REPORT = "report.html"
PLOTS = "plots"
PARTS = "parts"
FRONTIER = "frontier.json"
"""Written before any replication by ``scenario-sim frontier``: such a folder is finished by
``frontier --resume`` (which also writes the frontier's tables), not by ``run --resume``."""
ROW_GROUP = 8192


def resume_command(path: Path) -> str:
    """The command that finishes the run folder ``path``, quoted for a POSIX shell."""
    verb = "frontier" if (Path(path) / FRONTIER).exists() else "run"
    return f"scenario-sim {verb} --resume {shlex.quote(str(path))}"
_COMPACT_EVERY = 64  # parts buffered before they are merged into one table (see RunFolder._merge)
_PART = re.compile(r"^chunk-(\d{8})-(\d{6})\.parquet$")
_READ_ONLY_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


_MODE = 0o666 & ~_umask()  # mkstemp creates 0600 files; results are meant to be shared


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
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
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_table_atomic(path: Path, table: pa.Table, compression: str = "zstd") -> None:
    """Write a Parquet table atomically (zstd unless told otherwise, fixed row groups, page checksums)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression=compression, row_group_size=ROW_GROUP, write_page_checksum=True)
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_read_only_error(exc: OSError) -> bool:
    """Whether ``exc`` means "this place cannot be written" (permissions, read-only file system)."""
    return exc.errno in _READ_ONLY_ERRNOS


def writable(path: Path) -> bool:
    """Whether new files can be written in the folder ``path``.

    A folder with every write bit off counts as read-only even for root, who could write
    through the bits: whoever ran ``chmod -R a-w`` meant the results to stay as they are.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(path, os.W_OK)


class RunFolder:
    """One run's folder: typed records in, typed records out, atomic writes."""

    def __init__(self, path: Path):
        self.path = path

    # -- creation and opening -------------------------------------------------------
    @classmethod
    def create(cls, root: Path, scenario_name: str, stamp: str, short_id: str) -> RunFolder:
        """Make ``root/<scenario_name>/<stamp>-<short_id>/`` (with ``parts/``); it must be new."""
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
        """Open an existing run folder; a missing, foreign or damaged one is a ResultsError."""
        p = Path(path)
        if not p.exists():
            raise ResultsError(f"{p}: no such run folder")
        if not p.is_dir():
            raise ResultsError(f"{p}: not a folder (expected a run folder with {MANIFEST})")
        if not (p / MANIFEST).exists():
            raise ResultsError(f"{p}: not a run folder ({MANIFEST} is missing)")
        folder = cls(p)
        if folder.is_explore:
            folder.raw_manifest()
        else:
            folder.manifest()  # validates
        return folder

    @property
    def writable(self) -> bool:
        """Whether analysis output (comparison, report) can be written into the folder."""
        return writable(self.path)

    # -- the records ---------------------------------------------------------------
    def _read(self, name: str, what: str) -> bytes:
        p = self.path / name
        try:
            return p.read_bytes()
        except FileNotFoundError:
            raise ResultsError(f"{p}: missing ({what}; the run folder is incomplete)") from None
        except OSError as exc:
            raise ResultsError(f"{p}: cannot read ({exc.strerror})") from None

    def manifest(self) -> Manifest:
        """The validated manifest (version checked first)."""
        m: Manifest = parse(self.path / MANIFEST, self._read(MANIFEST, "the manifest"), Manifest, "manifest",
                            check_version=True)
        return m

    def raw_manifest(self) -> dict[str, Any]:
        """The manifest as a plain mapping (for explore folders, whose manifest is not typed yet)."""
        raw: Any = parse(self.path / MANIFEST, self._read(MANIFEST, "the manifest"), dict[str, Any], "manifest")
        return dict(raw)

    @property
    def is_explore(self) -> bool:
        """An ``explore`` folder (``kind: explore`` in its manifest)."""
        try:
            return self.raw_manifest().get("kind") == "explore"
        except ResultsError:
            return False

    def write_manifest(self, m: Manifest | dict[str, Any]) -> None:
        """Write the manifest (a :class:`Manifest`, or an explore folder's plain mapping)."""
        text = to_json(m) if isinstance(m, Manifest) else json.dumps(m, indent=2, default=str) + "\n"
        atomic_write_text(self.path / MANIFEST, text)

    def outcomes(self) -> list[OutcomeInfo]:
        """The outcome catalogue: every outcome column of ``replications.parquet``, in order."""
        out: list[OutcomeInfo] = parse(self.path / OUTCOMES, self._read(OUTCOMES, "the outcome catalogue"),
                                       list[OutcomeInfo], "outcome catalogue")
        return out

    def write_outcomes(self, outcomes: list[OutcomeInfo]) -> None:
        atomic_write_text(self.path / OUTCOMES, to_json(outcomes))

    def sets(self) -> list[SetInfo]:
        """Every recommendation set of the run (the baseline not included), in run order."""
        out: list[SetInfo] = parse(self.path / SETS, self._read(SETS, "the recommendation sets"), list[SetInfo],
                                   "list of sets")
        return out

    def write_sets(self, sets: list[SetInfo], effective: dict[str, str]) -> None:
        """``sets.json`` and each set's effective scenario (YAML text) as ``sets/<name>.yaml``."""
        d = self.path / SET_SCENARIOS
        d.mkdir(exist_ok=True)
        for name, text in effective.items():
            atomic_write_text(d / f"{name}.yaml", text)
        atomic_write_text(self.path / SETS, to_json(sets))

    # -- parts ---------------------------------------------------------------------
    def part_path(self, start: int, count: int, kind: str = "chunk") -> Path:
        return self.path / PARTS / f"{kind}-{start:08d}-{count:06d}.parquet"

    def write_part(self, start: int, count: int, table: pa.Table, ts: pa.Table | None) -> None:
        """A finished chunk's part (and its daily series first: the chunk file marks the chunk as done).

        The chunk's outcomes are written uncompressed: a part lives only until the run is
        consolidated (where the final file is zstd), and per-replication outcomes hardly
        compress (a 50-row part of the reference: 30.4 kB plain, 26.1 kB zstd) while zstd's
        per-page cost doubles the time to write it and to read it back (CPU: 1.5-1.7 vs
        3.1-3.9 ms to write, 2.1 vs 3.8 ms to read).  Daily series compress well and keep zstd.
        The page checksums stay: a damaged part is found either way.
        """
        if ts is not None:
            write_table_atomic(self.part_path(start, count, "ts"), ts)
        write_table_atomic(self.part_path(start, count), table, compression="none")

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
    def consolidate_parts(self, done: dict[int, int], n_reps: int, with_ts: bool, schema: pa.Schema,
                          kept: dict[int, pa.Table] | None = None) -> None:
        """Merge the parts covering replications [0, n_reps), in order, into the final files.

        ``kept``: {start: table} of chunks the caller still holds, exactly as it wrote them
        with :meth:`write_part`; those are not read back from disk (the bytes written are the
        same either way).
        """
        chunks = sorted((s, c) for s, c in done.items() if s < n_reps)
        held = {self.part_path(s, c): kept[s] for s, c in chunks if kept and s in kept}
        self._merge([self.part_path(s, c) for s, c in chunks], REPLICATIONS, schema, held)
        if with_ts:
            self._merge([self.part_path(s, c, "ts") for s, c in chunks], TIMESERIES, None)

    def _merge(self, parts: list[Path], name: str, schema: pa.Schema | None,
               held: dict[Path, pa.Table] | None = None) -> None:
        out = self.path / name
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        writer = None
        try:
            buffer: list[pa.Table] = []
            buffered = 0
            for part in parts:
                t = held[part] if held and part in held else pq.read_table(part, page_checksum_verification=True)
                if schema is not None:
                    t = t.select(schema.names).cast(schema)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, t.schema, compression="zstd")
                buffer.append(t)
                buffered += t.num_rows
                if len(buffer) >= _COMPACT_EVERY:
                    # Many small parts (explore: one per case and world, a few rows each) would
                    # otherwise sit as thousands of tiny tables until a row group fills, and
                    # their per-table overhead, not their rows, set the peak memory.  The rows
                    # and row-group cuts are the same, so the bytes written are too.
                    buffer = [pa.concat_tables(buffer).combine_chunks()]
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

    # -- reading results -----------------------------------------------------------
    def replications_file(self) -> Path:
        """``replications.parquet``, checked to be present and a readable Parquet file."""
        p = self.path / REPLICATIONS
        if not p.exists():
            raise ResultsError(f"{p}: missing ({self._why_missing()})")
        try:
            pq.read_metadata(p)
        except Exception as exc:
            raise ResultsError(f"{p}: corrupt Parquet file ({type(exc).__name__}: {exc})") from None
        return p

    def _why_missing(self) -> str:
        """Why the results are not there, suggesting --resume only when it can succeed."""
        try:
            status = self.raw_manifest().get("status")
        except ResultsError:
            return "and the manifest is damaged: run the experiment again"
        if status in ("complete", "complete_with_failures"):
            return "the run finished but the file was removed since; run the experiment again"
        if not (self.path / SCENARIO).exists():
            return f"the run did not finish, and without {SCENARIO} it cannot be resumed"
        return f"the run did not finish (status {status}); resume it with '{resume_command(self.path)}'"

    def iter_batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Record batches of ``replications.parquet`` (one row group each), only ``columns``."""
        try:
            pf = pq.ParquetFile(self.replications_file())
            yield from pf.iter_batches(batch_size=ROW_GROUP, columns=columns)
        except ResultsError:
            raise
        except Exception as exc:
            raise ResultsError(f"{self.path / REPLICATIONS}: unreadable ({type(exc).__name__}: {exc})") from None
