"""The benchmark scripts still start, and the shared peak-memory child measures a real run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT
from tests.test_docs import subprocess_env

BENCH = ROOT / "benchmarks"


@pytest.mark.parametrize("script", ["bench_explore.py", "bench_experiment.py"])
def test_memory_benchmarks_import_their_shared_helper(script: str) -> None:
    r = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True,
                       env=subprocess_env(), check=False, cwd=BENCH.parent)
    assert r.returncode == 0 and "memory" in r.stdout, r.stderr


def test_peak_memory_child_reports_one_json_line_of_a_real_run() -> None:
    r = subprocess.run([sys.executable, str(BENCH / "peak_memory.py"), "run", "2", "1",
                        str(ROOT / "scenarios" / "reference.yaml")], capture_output=True, text=True,
                       env=subprocess_env(), check=False)
    assert r.returncode == 0, r.stderr
    (line,) = r.stdout.strip().splitlines()
    o = json.loads(line)
    assert o["size"] == 2 and o["seconds"] > 0 and o["parent_peak_mb"] > 50
    assert o["folder_bytes"] > 1000  # manifest, scenario and replications of a finished run
    bad = subprocess.run([sys.executable, str(BENCH / "peak_memory.py"), "walk", "2"], capture_output=True,
                         text=True, env=subprocess_env(), check=False)
    assert bad.returncode != 0 and "usage:" in bad.stderr


@pytest.mark.slow
def test_explore_ratio_benchmark_times_both_commands_and_splits_the_ratio() -> None:
    """`bench_explore.py ratio` runs explore and run on the same set-replications and prints the
    CPU ratio, the model-only split (sampled inputs vs central values) and the overhead beyond it."""
    r = subprocess.run([sys.executable, str(BENCH / "bench_explore.py"), "ratio", "--cases", "1", "--reps", "2",
                        "--rounds", "1"], capture_output=True, text=True, env=subprocess_env(), check=False,
                       cwd=BENCH)
    assert r.returncode == 0, r.stderr
    assert "1 cases x 9 sets x 2 replications = 18 set-replications against run -n 2 (18)" in r.stdout, r.stdout
    total = float(r.stdout.split("explore / run by CPU: ")[1].split()[0])
    inputs = float(r.stdout.split("the inputs cost ")[1].split("x")[0])
    overhead = float(r.stdout.split("beyond its inputs: ")[1].split("x")[0])
    assert total > 0 and inputs > 0 and abs(overhead - total / inputs) < 0.002, r.stdout
    bad = subprocess.run([sys.executable, str(BENCH / "bench_explore.py"), "ratio", "--cases", "0"],
                         capture_output=True, text=True, env=subprocess_env(), check=False, cwd=BENCH)
    assert bad.returncode != 0 and "at least 1" in bad.stderr


def test_instruction_count_benchmark_refuses_bad_input_in_one_line_before_any_run() -> None:
    """bench_instructions.py checks its options before the first minute-long valgrind child:
    each bad one is a single line on stderr and exit status 2."""
    for args, msg in ((["--reps", "0"], "--reps: must be at least 1"), (["--reps", "ten"], "not a whole number"),
                      (["--scenario", "no/such.yaml"], "--scenario no/such.yaml: no such file"),
                      (["--rev", "no-such-revision-xyz"], "--rev no-such-revision-xyz: not a revision")):
        r = subprocess.run([sys.executable, str(BENCH / "bench_instructions.py"), *args], capture_output=True,
                           text=True, env=subprocess_env(), check=False, cwd=BENCH.parent, timeout=120)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def _harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH / "bench_harness.py"), *args], capture_output=True, text=True,
                          env=subprocess_env(), check=False, cwd=BENCH.parent, timeout=600)


def test_harness_benchmark_refuses_bad_options_in_one_line() -> None:
    for args, msg in ((["--reps", "0"], "--reps: must be at least 1"), (["--rounds", "two"], "not a whole number"),
                      (["--anchors", "pool,emma"], "--anchors: expected some of pool, ema, ema3, pool3, ours3, model")):
        r = _harness(*args)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_harness_benchmark_times_ours_against_the_pool_and_skips_ema3_without_a_python_for_it() -> None:
    """A real (tiny) round: both arms run, the ratio is printed; the EMA Workbench 3 arms are skipped
    in one line when the Python given for them does not run (no venv is made)."""
    r = _harness("--reps", "4", "--rounds", "1", "--anchors", "pool,ema3,ours3,model", "--ema3-python",
                 "/no/such/python")
    assert r.returncode == 0, r.stderr
    assert "--ema3-python /no/such/python: does not run: ema3, ours3 skipped\n" in r.stdout, r.stdout
    assert "reference baseline, 4 replications, 2 processes, 1 rounds" in r.stdout, r.stdout
    ratio = r.stdout.split("ours / pool: wall ")[1]
    assert float(ratio.split("x")[0]) > 0 and "ema3" not in r.stdout.split("(medians)")[1], r.stdout
    assert "model / pool: wall " in r.stdout and "model / ours: wall " in r.stdout, r.stdout


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="needs an interpreter older than EMA Workbench 3 supports")
def test_harness_benchmark_refuses_a_python_older_than_ema3_needs() -> None:
    r = _harness("--reps", "2", "--rounds", "1", "--anchors", "ema3", "--ema3-python", sys.executable)
    v = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert r.returncode == 0, r.stderr
    assert f"is Python {v}; EMA Workbench 3 needs >= 3.12: ema3 skipped" in r.stdout, r.stdout


def test_explore_callgrind_benchmark_checks_its_options_and_its_model_arms_run() -> None:
    """`bench_explore.py callgrind` refuses a bad size before any valgrind child, and every arm of
    its model child (the differences it turns into the split) runs on a 1 x 1 design."""
    bad = subprocess.run([sys.executable, str(BENCH / "bench_explore.py"), "callgrind", "--reps", "0"],
                         capture_output=True, text=True, env=subprocess_env(), check=False, cwd=BENCH)
    assert bad.returncode != 0 and "at least 1" in bad.stderr
    for arm in ("start", "zero", "cases", "central", "run"):
        r = subprocess.run([sys.executable, str(BENCH / "bench_explore.py"), "_model", arm, "1", "1"],
                           capture_output=True, text=True, env=subprocess_env(), check=False, cwd=BENCH)
        assert r.returncode == 0, (arm, r.stderr)
