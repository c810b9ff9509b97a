"""scenario-sim explore: designs, common random numbers within a case, byte-identical folders."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from scenario_sim.analysis.ensemble import load_ensemble
from scenario_sim.experiment.ensemble import case_seed, explore, plan_explore, resume_explore, sample_design
from scenario_sim.experiment.executors import DaskCluster, InProcess, LocalPool
from tests.helpers import minimal_doc
from tests.test_lang import run_cli

ROOT = Path(__file__).resolve().parent.parent


def _scenario(tmp: Path, name: str = "small.yaml", pk_high: float = 0.9, horizon: int = 40) -> Path:
    d = minimal_doc()
    d["name"] = "small"
    d["horizon_days"] = horizon
    d["contacts"] = {"scheduled": [{"date": 3}, {"date": 12}],
                     "stochastic": {"rate_per_day": 0.1, "start": 15}}
    d["attacker"]["surge"] = {"enabled": True, "probability": {"dist": "uniform", "low": 0, "high": 0.6},
                              "lag_days": 1, "size_multiplier": 3}
    d["outputs"] = {"primary": "civilian_harm", "key": ["civilian_harm", "leaked.total"],
                    "thresholds": {"civilian_harm": 100}}
    d["worlds"] = [{"name": "surgy", "weight": 2},
                   {"name": "calm", "changes": {"attacker.surge.enabled": False}}]
    d["uncertainties"] = [
        {"name": "pk", "path": "air_defense.systems.guns.pk.drone",
         "range": {"dist": "uniform", "low": 0.3, "high": pk_high}, "description": "d", "source": "s"},
        {"name": "stock", "path": "attacker.arsenal.drone.initial_stock",
         "range": {"dist": "loguniform", "low": 0.5, "high": 2}, "scale": True, "description": "d", "source": "s"},
        {"name": "surge_high", "path": "attacker.surge.probability.high",
         "range": {"dist": "triangular", "low": 0.1, "mode": 0.3, "high": 0.9}, "description": "d", "source": "s"},
    ]
    p = tmp / name
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def _bytes(run_dir: Path) -> str:
    return hashlib.sha256((run_dir / "replications.parquet").read_bytes()).hexdigest()


def _explore(scen: Path, out: Path, executor: Any = None, **kw: Any) -> Path:
    opts: dict[str, Any] = {"cases": 6, "replications": 3, "seed": 7}
    opts.update(kw)
    return explore(scen, executor or InProcess(), out=out, **opts).run_dir


def test_folder_follows_the_table_contract(tmp_path: Path) -> None:
    run = _explore(_scenario(tmp_path), tmp_path / "r")
    cases = pd.read_parquet(run / "cases.parquet")
    assert list(cases.columns) == ["case", "pk", "stock", "surge_high"] and cases["case"].tolist() == list(range(6))
    reps = pd.read_parquet(run / "replications.parquet")
    assert list(reps.columns[:5]) == ["set", "case", "world", "replication", "error"]
    assert {"draw.surge_probability", "draw.pause_probability"} <= set(reps.columns)
    assert len(reps) == 6 * 2 * 2 * 3 and reps["error"].isna().all()
    ens = load_ensemble(run)  # the analyses' reader accepts it
    assert ens.sets == ["baseline", "better_guns"] and ens.inputs == ["pk", "stock", "surge_high"]
    assert ens.world_weights == pytest.approx({"surgy": 2 / 3, "calm": 1 / 3})
    assert ens.thresholds["civilian_harm"].bound == 100
    # stocks are whole numbers; a scale input records its factor
    assert ((cases["stock"] >= 0.5) & (cases["stock"] <= 2)).all()


def test_common_random_numbers_within_a_case_and_not_across(tmp_path: Path) -> None:
    run = _explore(_scenario(tmp_path), tmp_path / "r")
    r = pd.read_parquet(run / "replications.parquet")
    surgy = r[r["world"] == "surgy"]
    p = surgy.pivot_table(index=["case", "replication"], columns="set", values="draw.surge_probability")
    assert (p["baseline"] == p["better_guns"]).all()  # every set of a case shares its streams
    # launches do not depend on the guns: identical for both sets in every point
    lt = r.pivot_table(index=["case", "world", "replication"], columns="set", values="launched.total")
    assert (lt["baseline"] == lt["better_guns"]).all()
    # different cases draw differently (the case number enters the seed)
    first = p["baseline"].unstack("replication")
    assert first.nunique().min() == len(first)
    assert case_seed(7, 0) != case_seed(7, 1) and case_seed(7, 0) == case_seed(7, 0)


def test_changing_one_range_changes_only_that_column(tmp_path: Path) -> None:
    a = plan_explore(_scenario(tmp_path, "a.yaml"), cases=20, seed=3, out=tmp_path)
    b = plan_explore(_scenario(tmp_path, "b.yaml", pk_high=0.5), cases=20, seed=3, out=tmp_path)
    assert not np.allclose(a.values[:, 0], b.values[:, 0])
    assert np.array_equal(a.values[:, 1:], b.values[:, 1:])
    assert np.array_equal(a.design.unit, b.design.unit)


@pytest.mark.parametrize("sampler,rows", [("lhs", 8), ("sobol", 8 * 5), ("morris", 8 * 4), ("grid", 8)])
def test_samplers_give_their_designs(sampler: str, rows: int) -> None:
    d = sample_design(sampler, 8, 3, 11)
    assert d.unit.shape == (rows, 3) and ((d.unit >= 0) & (d.unit <= 1)).all()
    assert np.array_equal(d.unit, sample_design(sampler, 8, 3, 11).unit)


def test_sobol_design_is_what_salibs_analysis_checks(tmp_path: Path) -> None:
    from scenario_sim.analysis.sensitivity import check_saltelli

    run = _explore(_scenario(tmp_path), tmp_path / "r", cases=4, sampler="sobol", replications=1,
                   worlds=["calm"])
    cases = pd.read_parquet(run / "cases.parquet")
    assert len(cases) == 4 * (3 + 2)
    assert check_saltelli(cases[["pk", "stock", "surge_high"]].to_numpy(), False) == (4, False)
    ens = load_ensemble(run)
    assert ens.sampler["sobol"] == {"N": 4, "second_order": False}


def test_bytes_do_not_depend_on_jobs_chunks_or_executor(tmp_path: Path) -> None:
    scen = _scenario(tmp_path)
    ref = _bytes(_explore(scen, tmp_path / "a"))
    assert _bytes(_explore(scen, tmp_path / "b", chunk_size=1)) == ref
    assert _bytes(_explore(scen, tmp_path / "c", LocalPool(2), chunk_size=2)) == ref


@pytest.mark.slow
def test_bytes_are_the_same_on_dask(tmp_path: Path) -> None:
    scen = _scenario(tmp_path)
    assert _bytes(_explore(scen, tmp_path / "d", DaskCluster(2))) == _bytes(_explore(scen, tmp_path / "a"))


def test_resume_after_kill_9_gives_the_same_bytes(tmp_path: Path) -> None:
    scen = _scenario(tmp_path, horizon=200)
    args = [sys.executable, "-m", "scenario_sim", "explore", str(scen), "--cases", "12", "-n", "4", "--seed", "5",
            "--jobs", "2", "--chunk-size", "2", "--out", str(tmp_path / "k"), "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    parts: list[Path] = []
    while time.time() < deadline and proc.poll() is None:
        parts = list((tmp_path / "k").glob("small/*/parts/chunk-*.parquet"))
        if len(parts) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    run_dir = next((tmp_path / "k" / "small").iterdir())
    assert not (run_dir / "replications.parquet").exists()
    resumed = resume_explore(run_dir, LocalPool(2)).run_dir
    fresh = _explore(scen, tmp_path / "f", cases=12, replications=4, seed=5)
    assert _bytes(resumed) == _bytes(fresh)


def test_bad_inputs_to_explore_are_one_located_line(tmp_path: Path, capsys: Any) -> None:
    scen = _scenario(tmp_path)
    text = scen.read_text().replace("path: air_defense.systems.guns.pk.drone",
                                    "path: air_defense.systems.gunz.pk.drone")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    code, _, err = run_cli(["explore", str(bad), "--out", str(tmp_path / "x")], capsys)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "gunz" in t)
    assert code == 2 and err.strip() == (f"{bad}:{line}:9: uncertainties[pk].path: no item named 'gunz' in "
                                         "air_defense.systems (did you mean 'guns'?)")
    for opts, message in ((["--worlds", "stormy"], "--worlds: unknown world 'stormy'"),
                          (["--sampler", "sobol", "--cases", "6"], "needs a power of 2"),
                          (["--inputs", "pkk"], "--inputs: unknown input 'pkk' (did you mean 'pk'?)")):
        code, _, err = run_cli(["explore", str(scen), "--out", str(tmp_path / "x"), *opts], capsys)
        assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_explore_command_end_to_end(tmp_path: Path, capsys: Any) -> None:
    code, out, _ = run_cli(["explore", str(_scenario(tmp_path)), "--cases", "3", "-n", "2", "--jobs", "1",
                            "--out", str(tmp_path / "r"), "-q"], capsys)
    assert code == 0 and "3 cases x 2 worlds x 2 sets x 2 replications, lhs" in out
    run_dir = Path(out.split("results: ")[1].split()[0])
    code, out, _ = run_cli(["robust", str(run_dir)], capsys)
    assert code == 0 and "regret" in out.lower()
    # `runs` shows an explore run's design, not `None/2` replications
    code, out, _ = run_cli(["runs", str(tmp_path / "r")], capsys)
    assert code == 0 and "3 cases x 2 worlds x 2" in out and "None" not in out, out
    # resuming a complete explore is not an error: it says so and shows the summary
    before = (run_dir / "replications.parquet").read_bytes()
    code, out, err = run_cli(["explore", "--resume", str(tmp_path / "r" / "latest"), "-q"], capsys)
    assert code == 0 and "already complete" in err and f"results: {run_dir}" in out, (out, err)
    assert (run_dir / "replications.parquet").read_bytes() == before
    # ... but a complete one that lost its results says that, not "already complete"
    moved = run_dir / "replications.parquet.moved"
    (run_dir / "replications.parquet").rename(moved)
    code, out, err = run_cli(["explore", "--resume", str(run_dir), "-q"], capsys)
    assert code == 2 and "replications.parquet: missing" in err and "run the experiment again" in err, err
    assert "already complete" not in err and len(err.strip().splitlines()) == 1, err
    moved.rename(run_dir / "replications.parquet")
    # commands of plain runs say what the folder is, not "written by an older scenario-sim"
    for args in (["compare", str(run_dir)], ["run", "--resume", str(run_dir)]):
        code, _, err = run_cli(args, capsys)
        assert code == 2 and "an explore run" in err and "older" not in err, (args, err)
    # report --out writes there, not into the run folder; --out - prints it
    code, out, _ = run_cli(["report", str(run_dir), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0 and (tmp_path / "rep" / "report.html").exists() and not (run_dir / "report.html").exists()
    assert (tmp_path / "rep" / "plots").is_dir()
    code, out, _ = run_cli(["report", str(run_dir), "--out", "-"], capsys)
    assert code == 0 and out.startswith("<!DOCTYPE html>") and not (run_dir / "report.html").exists()
