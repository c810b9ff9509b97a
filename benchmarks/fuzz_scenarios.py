"""Mutation fuzzing of the shipped scenarios at scale (issue 14).

Makes N seeded mutants with :func:`scenario_sim.testing.mutants` (every operator in turn:
deleted and duplicated keys and lines, numbers turned into text, negatives, huge values, NaN
and inf, lists swapped with maps, bad indentation, tabs, BOM, invalid UTF-8, control
characters, truncation, unknown dotted paths and includes, ``extends`` cycles and missing
bases) and checks each through the CLI in a child process under ``resource.setrlimit``
(3 GB address space): a located exit-2 error, or validation followed by ``run -n 2``
within 60 s.  Prints the counts recorded in BENCHMARKS.md and exits 1 if any mutant ended
in a traceback, an internal error, an unlocated message, a failed run or a hang.

Usage: python benchmarks/fuzz_scenarios.py [--mutants 1000] [--seed 14] [--jobs 2]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_BYTES = 3 * 1024**3


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def _child(n: int, seed: int, offset: int, folder: str) -> subprocess.Popen[str]:
    # Each child checks mutants offset, offset + jobs, ... of the same seeded sequence.
    code = ("import dataclasses, json, sys\nfrom pathlib import Path\n"
            "from scenario_sim.testing import check_mutant, mutants\n"
            f"ms = mutants({n}, {seed})\n"
            f"for k in range({offset}, {n}, int(sys.argv[1])):\n"
            f"    r = check_mutant(ms[k], Path({folder!r}) / f'm{{k:05d}}', 20.0, 60.0)\n"
            "    print(json.dumps(dataclasses.asdict(r)), flush=True)\n")
    return subprocess.Popen([sys.executable, "-c", code, str(JOBS)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=_limits)


JOBS = 2


def main() -> int:
    global JOBS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutants", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    JOBS = a.jobs
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        procs = [_child(a.mutants, a.seed, j, tmp) for j in range(a.jobs)]
        records = []
        for p in procs:
            out, _ = p.communicate()
            records += [json.loads(x) for x in out.splitlines() if x.startswith("{")]
            if p.returncode:
                print(f"a fuzzing child exited with status {p.returncode}", file=sys.stderr)
    wall = time.perf_counter() - t0
    c = collections.Counter(r["outcome"] for r in records)
    validated = [r for r in records if r["outcome"] == "validated"]
    print(f"mutants {len(records)} (of {a.mutants}, seed {a.seed}); validated {c['validated']}; "
          f"located errors {c['located']}; unlocated {c['unlocated']}; internal errors {c['internal']}; "
          f"tracebacks {c['traceback']}; hangs {c['hang']}; failed runs {c['run_failed']}")
    print(f"wall {wall:.0f} s with {a.jobs} jobs; slowest mutant {max(r['seconds'] for r in records):.1f} s; "
          f"slowest validated run {max((r['seconds'] for r in validated), default=0):.1f} s; "
          f"largest peak-RSS growth {max(r['rss_growth_mb'] for r in records):.0f} MB")
    by_op = collections.Counter(r["operator"].split("+")[0] for r in records)
    print("per operator: " + ", ".join(f"{k} {v}" for k, v in sorted(by_op.items())))
    bad = [r for r in records if r["outcome"] not in ("validated", "located")]
    for r in bad[:20]:
        print(json.dumps(r))
    return 1 if bad or len(records) != a.mutants else 0


if __name__ == "__main__":
    sys.exit(main())
