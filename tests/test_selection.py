"""``run --select-best``: the KN procedure on synthetic normal systems, and on a real run.

The statistical checks drive :func:`scenario_sim.experiment.selection.select` with a
synthetic simulator whose means are known, so "correct selection" is known too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from scenario_sim.experiment import run_experiment
from scenario_sim.experiment.selection import KNConfig, check_config, kn_select, select
from tests.helpers import minimal_doc


class Normal:
    """k normal systems on common random numbers: X_i = mu_i + sd (sqrt(rho) Z + sqrt(1-rho) E_i)."""

    def __init__(self, mu: list[float], rho: float, seed: int, cap: int, sd: float = 1.0):
        rng = np.random.default_rng(seed)
        common = rng.standard_normal((cap, 1))
        own = rng.standard_normal((cap, len(mu)))
        self.x = np.asarray(mu) + sd * (math.sqrt(rho) * common + math.sqrt(1 - rho) * own)
        self.calls: list[int] = []

    def values(self, n: int) -> np.ndarray:
        self.calls.append(n)
        return self.x[:n]


def _binomial_floor(p: float, n: int) -> float:
    """Nominal PCS minus three binomial standard errors: a correct procedure falls below it
    with probability ~0.1%."""
    return p - 3 * math.sqrt(p * (1 - p) / n)


@pytest.mark.slow
@pytest.mark.parametrize(("higher", "rho"), [(False, 0.0), (False, 0.6), (True, 0.3)])
def test_empirical_pcs_on_the_slippage_configuration(higher: bool, rho: float) -> None:
    """Best system exactly delta better than the k-1 others (the least favourable configuration
    KN is designed for): over 400 macro-replications it is selected with at least the nominal PCS."""
    k, delta, pcs, macro = 5, 0.5, 0.95, 400
    cfg = KNConfig(delta, pcs, 10, 100_000, higher)
    best = 2  # not the first column: the procedure must not favour a position
    correct = 0
    for seed in range(macro):
        mu = [0.0] * k
        mu[best] = delta if higher else -delta
        sel = select(Normal(mu, rho, seed, 4000), cfg)
        assert sel.verdict.done and not sel.capped
        correct += sel.verdict.survivors == [best]
    assert correct / macro >= _binomial_floor(pcs, macro), correct / macro
    assert correct / macro < 1.0  # not a procedure that simply runs until certain


def test_wrong_direction_would_fail_the_pcs_check() -> None:
    """The check above can fail: asking for the larger mean when the smaller is best selects a worse set."""
    mu = [0.0, 0.0, -0.5, 0.0]
    wrong = sum(select(Normal(mu, 0.0, s, 4000), KNConfig(0.5, 0.95, 10, 100_000, True)).verdict.survivors == [2]
                for s in range(50))
    assert wrong == 0


def test_all_sets_equal_stop_with_a_group() -> None:
    # identical systems under CRN: exactly equal outputs, every region closed at once
    x = np.repeat(np.random.default_rng(1).normal(size=(12, 1)), 4, axis=1)
    v = kn_select(x, KNConfig(0.1, 0.95, 10, 100, False))
    assert v.done and v.survivors == [0, 1, 2, 3] and v.stage == 10 and not v.eliminated
    # equal means with noise: at the cap nothing is settled, and the verdict says so
    sel = select(Normal([0.0, 0.0, 0.0], 0.0, 3, 400), KNConfig(0.05, 0.95, 10, 60, False))
    assert sel.capped and not sel.verdict.done and len(sel.verdict.survivors) >= 2
    assert sel.replications_run == 60 and sel.verdict.bound > 60


def test_common_random_numbers_shrink_the_replications_used() -> None:
    mu = [0.0, 0.3, 0.5, 0.5]
    cfg = KNConfig(0.2, 0.95, 10, 100_000, True)
    used = {rho: np.mean([sum(select(Normal(mu, rho, s, 20_000), cfg).verdict.replications_used)
                          for s in range(40)]) for rho in (0.0, 0.9)}
    assert used[0.9] < 0.3 * used[0.0], used


def test_batches_give_the_one_at_a_time_decision() -> None:
    """Replaying over a batch is the same procedure: same survivor, same eliminations, same stage."""
    for seed in range(20):
        src = Normal([0.0, 0.2, 0.4, 0.45, 0.1], 0.5, seed, 20_000)
        one = select(src, KNConfig(0.1, 0.9, 8, 100_000, True), step=1)
        big = select(src, KNConfig(0.1, 0.9, 8, 100_000, True), step=40)
        assert big.verdict.survivors == one.verdict.survivors
        assert big.verdict.eliminated == one.verdict.eliminated and big.verdict.stage == one.verdict.stage
        assert one.verdict.stage <= one.replications_run and big.verdict.stage <= big.replications_run
        assert len(src.calls) > 2


def test_kn_constants_match_the_paper() -> None:
    # eta = ((2 alpha / (k-1))^(-2/(n0-1)) - 1) / 2, h^2 = 2 eta (n0 - 1)
    cfg = KNConfig(1.0, 0.95, 10, 100, False)
    eta, h2 = cfg.constants(5)
    assert eta == pytest.approx(0.5 * ((2 * 0.05 / 4) ** (-2 / 9) - 1))
    assert h2 == pytest.approx(2 * eta * 9)


@pytest.mark.parametrize(("args", "message"), [
    ((0.0, 0.95, 10, 100, 5), "--delta: must be a positive number"),
    ((math.nan, 0.95, 10, 100, 5), "--delta"),
    ((1.0, 0.2, 10, 100, 5), "--pcs: must be above 1/k = 1/5"),
    ((1.0, 1.0, 10, 100, 5), "--pcs"),
    ((1.0, 0.95, 1, 100, 5), "at least 2"),
    ((1.0, 0.95, 10, 5, 5), "--max-replications: must be >= --replications (10)"),
    ((1.0, 0.95, 10, 100, 1), "at least one recommendation set"),
])
def test_bad_parameters_are_named(args: tuple[float, float, int, int, int], message: str) -> None:
    problem = check_config(*args)
    assert problem is not None and message in problem


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = minimal_doc()
    d.update(name="sel", horizon_days=40, replications=6, seed=5)
    d["recommendations"] = [
        {"name": "same", "description": "changes nothing", "changes": {"air_defense.systems.guns.pk.drone": 0.5}},
        {"name": "perfect", "description": "perfect interceptors",
         "changes": {"air_defense.systems.guns.pk.drone": 1.0, "air_defense.systems.guns.capacity_per_wave": 10**6}},
        {"name": "slightly_better", "changes": {"air_defense.systems.guns.pk.drone": 0.6}},
    ]
    d["outputs"] = {"primary": "leaked.total", "key": ["civilian_harm"]}
    p = tmp_path_factory.mktemp("sel") / "sel.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def test_a_real_run_selects_and_records_the_procedure(scenario: Path, tmp_path: Path) -> None:
    run = run_experiment(scenario, jobs=1, out=tmp_path, select_best=True, delta=1.0, pcs=0.9)
    raw = json.loads((run.run_dir / "manifest.json").read_text())["select_best"]
    assert raw["status"] == "selected" and raw["selected"] == "perfect"
    assert raw["procedure"].startswith("KN") and raw["delta"] == 1.0 and raw["pcs"] == 0.9 and raw["n0"] == 6
    assert raw["unit"] and raw["direction"] == "lower" and raw["outcome"] == "leaked.total"
    assert [e["set"] for e in raw["eliminated"]] and all(e["by"] for e in raw["eliminated"])
    assert set(raw["replications_used"]) == {"baseline", "same", "perfect", "slightly_better"}
    assert max(raw["replications_used"].values()) == raw["decided_at"] <= run.manifest.replications_done
    assert run.manifest.replications_done % 6 == 0 or run.manifest.replications_done == raw["max_replications"]
    # the decision is the procedure's on the stored data: replaying it on the folder agrees
    frame = run.replications().pivot(index="replication", columns="set", values="leaked.total")
    v = kn_select(frame[run.manifest.sets].to_numpy()[: raw["decided_at"]], KNConfig(1.0, 0.9, 6, 120, False))
    assert v.done and [run.manifest.sets[i] for i in v.survivors] == ["perfect"]


def test_cli_select_best_prints_the_verdict(scenario: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", str(scenario), "--select-best", "--delta", "1", "-j", "1", "-q", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    assert "select-best: selected perfect after" in out and "eliminated, in order:" in out
    assert "replications used:" in out and "Kim and Nelson 2001" in out


@pytest.mark.parametrize(("extra", "message"), [
    (["--select-best", "--delta", "0"], "--delta: must be a positive number"),
    (["--select-best"], "--select-best: give --delta"),
    (["--select-best", "--delta", "1", "--pcs", "0.1"], "--pcs: must be above 1/k = 1/4"),
    (["--delta", "1"], "--delta: only used with --select-best"),
    (["--select-best", "--delta", "1", "-n", "1"], "at least 2"),
    (["--select-best", "--delta", "1", "--precision", "0.1"], "leave out --precision"),
    (["--select-best", "--delta", "1", "--max-replications", "3"], "--max-replications: must be >="),
])
def test_cli_rejects_bad_selection_options_before_running(scenario: Path, tmp_path: Path, extra: list[str],
                                                          message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", str(scenario), "-q", "--out", str(tmp_path / "res"), *extra])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "res").exists()
