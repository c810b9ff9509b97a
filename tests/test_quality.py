"""The package stays ruff- and mypy-clean and within the complexity limit (the README's examples are run by
tests/test_docs.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    exe = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return exe


def test_ruff_clean() -> None:
    r = subprocess.run([_tool("ruff"), "check", "scenario_sim", "tests", "benchmarks", "docs"], cwd=ROOT,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_mypy_clean() -> None:
    r = subprocess.run([_tool("mypy"), "scenario_sim"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


# Functions that still exceed the limit while the restructuring (issue "the house") is under
# way. Each entry is removed when its function is split; the test fails if a listed function
# has already come under the limit, so the list can only shrink.  Target: empty.
_STILL_OVER_20: set[str] = set()
MAX_COMPLEXITY = 20


def test_no_function_above_cyclomatic_complexity_20() -> None:
    """Cyclomatic complexity as radon measures it (boolean operators count), at most 20."""
    from radon.complexity import cc_visit

    over: set[str] = set()
    for path in sorted((ROOT / "scenario_sim").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for block in cc_visit(path.read_text()):
            if block.complexity > MAX_COMPLEXITY:
                over.add(f"{rel}:{block.name}")
    new = over - _STILL_OVER_20
    fixed = _STILL_OVER_20 - over
    assert not new, f"functions above complexity {MAX_COMPLEXITY}: {sorted(new)}"
    assert not fixed, f"now within the limit, remove from _STILL_OVER_20: {sorted(fixed)}"
