"""Peak memory of one run, measured in a fresh process (the ``memory`` sub-benchmarks of
``bench_experiment.py`` and ``bench_explore.py`` share it).

A fresh interpreter per measurement, so one size's peak cannot inherit another's:
``ru_maxrss`` of the process itself is the parent's peak (the process that merges the parts),
and ``RUSAGE_CHILDREN`` the largest worker's.  Run on its own, it prints one JSON line:

    python benchmarks/peak_memory.py run 1000 2 scenarios/reference.yaml      # replications, jobs
    python benchmarks/peak_memory.py explore 100 2 scenarios/reference.yaml   # cases, jobs
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

KINDS = ("run", "explore")


def _one_run(kind: str, size: int, jobs: int, scenario: str, out: str) -> Path:
    """``run``: baseline + one set, ``size`` replications; ``explore``: one world, the combined
    set, ``size`` cases of one replication."""
    if kind == "run":
        from scenario_sim.experiment import run_experiment

        return run_experiment(scenario, replications=size, jobs=jobs, out=out, sets=["readiness_on_contact"]).run_dir
    from scenario_sim.experiment.ensemble import explore
    from scenario_sim.experiment.executors import LocalPool

    return explore(scenario, LocalPool(jobs), cases=size, replications=1, worlds=["smokescreen"], sets=["combined"],
                   out=out).run_dir


def child(kind: str, size: int, jobs: int, scenario: str) -> dict[str, Any]:
    """Run once in this process and return its seconds, peaks (MB) and folder size (bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        run_dir = _one_run(kind, size, jobs, scenario, tmp)
        seconds = time.perf_counter() - t
        size_bytes = sum(p.stat().st_size for p in run_dir.iterdir() if p.is_file())
    return {"size": size, "seconds": seconds,
            "parent_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "folder_bytes": size_bytes}


def measure(kind: str, size: int, jobs: int, scenario: str | Path) -> dict[str, Any]:
    """:func:`child` in a fresh interpreter (this file run as a script)."""
    r = subprocess.run([sys.executable, __file__, kind, str(size), str(jobs), str(scenario)], capture_output=True,
                       text=True, check=True)
    result: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> None:
    if len(argv) != 4 or argv[0] not in KINDS:
        raise SystemExit(f"usage: python {Path(__file__).name} {{{','.join(KINDS)}}} SIZE JOBS SCENARIO")
    print(json.dumps(child(argv[0], int(argv[1]), int(argv[2]), argv[3])))


if __name__ == "__main__":
    main(sys.argv[1:])
