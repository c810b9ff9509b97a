"""Time and peak memory of ``scenario-sim calibrate`` on a large records file.

The file is built from the shipped excerpt (``data/attacks_excerpt.csv``, real rows with
every quirk the loader handles): row ``i`` is excerpt row ``i mod 45`` moved ``i // 45`` days
later, so a million rows span about 60 years of nightly reports with regional duplicates.
Each case runs ``python -m scenario_sim calibrate`` in a fresh process, so the peak resident
memory (``ru_maxrss`` of the child) is the whole command's, plots included.

Also timed: the 45-row excerpt with one year typo (2025 -> 2205), which used to stretch the
daily series over 180 years.

Usage: python benchmarks/bench_calibrate.py [--rows 1000000] [--pythonpath DIR]

``--pythonpath`` runs another checkout of the package (e.g. an older commit unpacked with
``git archive``) on the same files, for a before/after ratio in one run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXCERPT = ROOT / "data" / "attacks_excerpt.csv"


def build(path: Path, n_rows: int) -> None:
    with EXCERPT.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    i_s, i_e = header.index("time_start"), header.index("time_end")
    base = dt.date(1995, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(n_rows):
            row = list(rows[i % len(rows)])
            day = (base + dt.timedelta(days=i // len(rows))).isoformat()
            for j in (i_s, i_e):
                row[j] = day + row[j].strip()[10:]
            w.writerow(row)


def run(args: list[str], pythonpath: str) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak MiB, exit code) of one calibrate command in a fresh process."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = ru0.ru_maxrss
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "scenario_sim", "calibrate", *args, "--out", out],
                           env={**os.environ, "PYTHONPATH": pythonpath}, capture_output=True, text=True, cwd=out,
                           check=False)
        dt_s = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    if ru.ru_maxrss <= before:
        print("  (peak memory not above an earlier child's; run cases in separate invocations to compare)")
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    return dt_s, cpu, ru.ru_maxrss / 1024, r.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pythonpath", default=str(ROOT), help="checkout whose scenario_sim to run")
    ap.add_argument("--case", choices=["large", "typo", "both"], default="both")
    a = ap.parse_args()
    tmp = Path(tempfile.gettempdir())
    if a.case in ("large", "both"):
        big = tmp / f"bench_calibrate_{a.rows}.csv"
        if not big.exists():
            t0 = time.perf_counter()
            build(big, a.rows)
            print(f"built {big} ({big.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        s, cpu, mib, code = run([str(big)], a.pythonpath)
        print(f"{a.rows:,} rows: {s:.1f} s wall, {cpu:.1f} s CPU, peak {mib:.0f} MiB, exit {code}")
    if a.case in ("typo", "both"):
        lines = EXCERPT.read_text(encoding="utf-8").splitlines(keepends=True)
        i = next(j for j, ln in enumerate(lines) if ln.startswith("2025-02-12 20:00"))
        lines[i] = "2205" + lines[i][4:]
        typo = tmp / "bench_calibrate_typo.csv"
        typo.write_text("".join(lines), encoding="utf-8")
        s, cpu, mib, code = run([str(typo)], a.pythonpath)
        print(f"45 rows with a 2205 typo: {s:.1f} s wall, {cpu:.1f} s CPU, peak {mib:.0f} MiB, exit {code}")


if __name__ == "__main__":
    main()
