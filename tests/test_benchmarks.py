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
