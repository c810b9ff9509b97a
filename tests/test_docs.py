"""The documentation keeps up with the code."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _make_tables() -> str:
    spec = importlib.util.spec_from_file_location("make_field_tables", ROOT / "docs" / "make_field_tables.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return str(mod.tables())


def test_scenario_language_doc_tables_are_current() -> None:
    doc = (ROOT / "docs" / "scenario-language.md").read_text()
    assert _make_tables() in doc, "run: python docs/make_field_tables.py and paste into docs/scenario-language.md"


def test_model_doc_names_every_stream_and_outcome_family() -> None:
    doc = (ROOT / "docs" / "model.md").read_text()
    for stream in ("contacts.stochastic", "attacker.surge.<source>.trigger", "attacker.waves.<class>.participation",
                   "air_defense.early_warning.<source>", "air_defense.<system>.resupply",
                   "air_defense.<system>.<class>", "consequences.hits.<class>", "consequences.harm"):
        assert stream in doc, stream
    for outcome in ("launched", "leaked", "civilian_harm", "energy.mean", "energy.days_below",
                    "stock_exhausted_days", "interceptor_spend_usd", "cost_exchange_ratio", "production"):
        assert outcome in doc, outcome


# --------------------------------------------------------------------------- documented examples run
#
# Every ```python block of README.md and docs/*.md runs as a saved script in a fresh
# interpreter (not exec: a process pool started with 'spawn' re-imports the script, which is
# exactly what a user's saved copy goes through).  It runs in a scratch folder that links the
# repository's scenarios/ so that relative paths in the examples resolve and nothing is
# written into the checkout; replication counts are made small.

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def sandbox(tmp: Path) -> Path:
    """A scratch working folder in which the documented relative paths exist."""
    for name in ("scenarios", "data", "tests"):
        if (ROOT / name).exists():
            (tmp / name).symlink_to(ROOT / name)
    return tmp


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("SCENARIO_SIM_DEBUG", None)
    return env


def python_blocks() -> list[tuple[str, int, str]]:
    """(file, line, code) of every ```python block in the README and docs."""
    out = []
    for doc in DOCS:
        text = doc.read_text()
        for m in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
            out.append((doc.relative_to(ROOT).as_posix(), text.count("\n", 0, m.start()) + 1, m.group(1)))
    return out


def test_readme_has_python_examples() -> None:
    assert len([b for b in python_blocks() if b[0] == "README.md"]) >= 2


@pytest.mark.parametrize("where, line, code", python_blocks(), ids=lambda v: str(v) if isinstance(v, int) else None)
def test_documented_python_block_runs_as_a_script(tmp_path: Path, where: str, line: int, code: str) -> None:
    box = sandbox(tmp_path)
    script = box / "example.py"
    script.write_text(re.sub(r"replications=\d+", "replications=4", code))
    r = subprocess.run([sys.executable, str(script)], cwd=box, env=subprocess_env(), capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == 0, f"{where}:{line}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    for manifest in box.glob("results/*/*/manifest.json"):
        status = json.loads(manifest.read_text())["status"]
        assert status == "complete", f"{where}:{line}: {manifest.parent} is {status}"
