"""The command line: options checked before a run, run management, output that fits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scenario_sim.cli import main
from tests.helpers import minimal_doc
from tests.test_docs import sandbox, subprocess_env

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The minimal scenario with two sets and a short horizon (runs in well under a second)."""
    d = minimal_doc()
    d["name"] = "small"
    d["horizon_days"] = 30
    d["replications"] = 6
    d["seed"] = 3
    d["recommendations"] = [
        {"name": "better_guns", "changes": {"air_defense.systems.guns.pk.drone": 0.7}},
        {"name": "perfect", "changes": {"air_defense.systems.guns.pk.drone": 1.0,
                                        "air_defense.systems.guns.capacity_per_wave": 100000}},
    ]
    p = tmp_path_factory.mktemp("scen") / "small.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def one_line_error(code: int, err: str, message: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err, err


# --------------------------------------------------------------------------- 13.1 spawn guard


UNGUARDED = """\
from scenario_sim.experiment import run_experiment

run = run_experiment("scenarios/minimal.yaml", replications=2, jobs=2, out="results")
"""


def test_unguarded_script_gets_one_sentence_from_each_worker_and_no_stray_folders(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    (box / "unguarded.py").write_text(UNGUARDED)
    r = subprocess.run([sys.executable, "unguarded.py"], cwd=box, env=subprocess_env(), capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode != 0
    sentence = "run_experiment() was called while a worker process was starting; put the call under"
    worker_lines = [ln for ln in r.stderr.splitlines() if sentence in ln]
    assert worker_lines, r.stderr
    # The workers stop at once, before creating anything: only the parent's (resumable) folder exists.
    assert len(list(box.glob("results/*/*/manifest.json"))) == 1
    assert 'if __name__ == "__main__":' in r.stderr.splitlines()[-1]


# --------------------------------------------------------------------------- 13.4 --sets ""


@pytest.mark.parametrize("value", ["", ",", " , "])
def test_empty_sets_is_an_error_not_all_sets(small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             value: str) -> None:
    code, _, err = cli(["run", str(small), "--sets", value, "--out", str(tmp_path), "-q", "-j", "1"], capsys)
    one_line_error(code, err, "--sets: names no recommendation set")
    assert not any(tmp_path.iterdir())
