"""Pinned bytes: a small reference run gives exactly these results.

This is the guard for restructuring: a change that is meant to preserve behaviour must keep
these hashes.  A change that alters the random draws on purpose (a faster engine, a new
mechanism) updates them in the same commit, and says why in BENCHMARKS.md or the commit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from scenario_sim.experiment import run_experiment

ROOT = Path(__file__).resolve().parent.parent

# sha256 of replications.parquet for: scenarios/reference.yaml, 6 replications, seed 2024, all sets.
PINNED_REFERENCE = "03ea9062f36d1237d634a3b297958d2e2f7732255a3e9c8636226b444c63a24d"


def test_small_reference_run_bytes_are_pinned(tmp_path: Path) -> None:
    run = run_experiment(ROOT / "scenarios" / "reference.yaml", replications=6, seed=2024, jobs=1, out=tmp_path)
    digest = hashlib.sha256((run.run_dir / "replications.parquet").read_bytes()).hexdigest()
    assert digest == PINNED_REFERENCE
