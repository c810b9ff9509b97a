"""Mutation fuzzing of the shipped scenarios (issue 14): no traceback, no internal error,
every error located, every mutant that validates runs ``-n 2`` within budget.

The mutants come from :func:`scenario_sim.testing.mutants` (seeded, every operator in
turn); they are checked in a child process under ``resource.setrlimit`` (address space and
CPU), with a per-mutant alarm, so a regression fails the test instead of taking the machine
down.  CI runs a fixed budget of 150; ``benchmarks/fuzz_scenarios.py`` runs thousands.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

from scenario_sim.testing import OPERATORS, Mutant, check_mutant, mutants
from tests.hostile import run_python_limited

ROOT = Path(__file__).resolve().parent.parent
CI_MUTANTS = 150
CI_SEED = 2026
FUZZ_MEMORY_BYTES = 3 * 1024**3


def test_mutants_are_reproducible_and_cover_every_operator() -> None:
    a, b = mutants(CI_MUTANTS, CI_SEED), mutants(CI_MUTANTS, CI_SEED)
    assert [m.files for m in a] == [m.files for m in b]
    assert mutants(8, CI_SEED + 1)[0].files != a[0].files or mutants(8, CI_SEED + 1)[1].files != a[1].files
    firsts = collections.Counter(m.operator.split("+")[0] for m in a)
    assert set(firsts) == set(OPERATORS)
    assert min(firsts.values()) >= CI_MUTANTS // len(OPERATORS) - 1
    assert any("+" in m.operator for m in a)  # pairs of mutations too
    shipped = {m.main for m in a}
    assert shipped == {"minimal.yaml", "reference.yaml"}


def test_the_checker_catches_unlocated_errors_and_hangs(tmp_path: Path) -> None:
    """The classification can fail: an error without a line, and a run over its time."""
    missing = Mutant("by_hand", "main.yaml", {"other.yaml": b"name: x\n"})
    r = check_mutant(missing, tmp_path / "a")
    assert r.outcome == "unlocated" and "no such file" in r.detail
    ref = (ROOT / "scenarios" / "reference.yaml").read_bytes()
    frag = (ROOT / "scenarios" / "calibration" / "fragment.yaml").read_bytes()
    slow = Mutant("by_hand", "reference.yaml", {"reference.yaml": ref, "calibration/fragment.yaml": frag})
    r = check_mutant(slow, tmp_path / "b", run_timeout_s=0.05)
    assert r.outcome == "hang", r


def test_fuzzed_scenarios_fail_cleanly_or_run_within_budget(tmp_path: Path) -> None:
    code = (f"from scenario_sim.testing import fuzz_main\n"
            f"fuzz_main({CI_MUTANTS}, {CI_SEED}, {str(tmp_path)!r}, timeout_s=20, run_timeout_s=60)\n")
    r = run_python_limited(code, timeout_s=600, memory_bytes=FUZZ_MEMORY_BYTES, cpu_s=540)
    records = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert r.code == 0 and len(records) == CI_MUTANTS, (r.code, r.stderr[-2000:])
    counts = collections.Counter(x["outcome"] for x in records)
    bad = [x for x in records if x["outcome"] not in ("validated", "located")]
    assert not bad, bad[:5]
    # Both paths are exercised: the fuzzer is neither all-valid nor all-broken.
    assert counts["validated"] >= 5 and counts["located"] >= CI_MUTANTS // 2, counts
