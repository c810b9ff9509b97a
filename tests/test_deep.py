"""Deep-uncertainty analyses (issue 10): robustness, discovery, sensitivity, value of information,
EMA export, on synthetic explore run folders written to the table contract of
``scenario_sim.analysis.ensemble`` (and, at the end, on a real small explore run)."""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scenario_sim.analysis.ensemble import load_ensemble
from scenario_sim.analysis.robust import robustness, satisficing
from scenario_sim.analysis.voi import value_of_information

ROOT = Path(__file__).resolve().parent.parent

HARM = {"name": "harm", "unit": "casualties", "direction": "lower", "description": "harm"}
ENERGY = {"name": "energy", "unit": "fraction", "direction": "higher", "description": "energy"}


def write_explore(folder: Path, cases: pd.DataFrame, reps: pd.DataFrame, sets: list[str],
                  outcomes: list[dict[str, Any]], thresholds: dict[str, Any] | None = None,
                  explore: dict[str, Any] | None = None, seed: int = 1) -> Path:
    """An explore run folder exactly as the contract in ensemble.py describes it."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"format": "scenario-sim-run/1", "kind": "explore", "seed": seed, "sets": sets,
                "replications_asked": int(reps["replication"].max()) + 1, "chunk_size": 1,
                "scenario": {"name": "synthetic"}, "outcomes": outcomes,
                "outputs": {"primary": outcomes[0]["name"], "key": [o["name"] for o in outcomes],
                            "thresholds": thresholds or {}},
                "explore": explore or {"sampler": "lhs"}}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    pq.write_table(pa.Table.from_pandas(cases, preserve_index=False), folder / "cases.parquet")
    reps = reps.copy()
    if "world" not in reps:
        reps["world"] = ""
    if "error" not in reps:
        reps["error"] = None
    reps["error"] = reps["error"].astype(object)
    pq.write_table(pa.Table.from_pandas(reps, preserve_index=False), folder / "replications.parquet")
    return folder


def reps_from_means(means: dict[tuple[int, str], dict[str, float]], spread: float = 1.0,
                    outcome: str = "harm", only: str | None = None) -> pd.DataFrame:
    """Two replications per (case, world) and set at mean ± spread, so the means are exact
    (the spread on set ``only`` alone, when given: then it survives the pairing)."""
    rows = []
    for (case, world), by_set in means.items():
        for s, m in by_set.items():
            sp = spread if only in (None, s) else 0.0
            for r, dev in enumerate((-sp, sp)):
                rows.append({"set": s, "case": case, "world": world, "replication": r, "error": None,
                             outcome: m + dev})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- hand computations

# Lower is better.  A is best on average but terrible in case 1; B is never far from the best.
HAND = {(0, ""): {"baseline": 10.0, "A": 4.0, "B": 8.0},
        (1, ""): {"baseline": 10.0, "A": 16.0, "B": 9.0},
        (2, ""): {"baseline": 10.0, "A": 4.0, "B": 8.0}}


@pytest.fixture
def hand_run(tmp_path: Path) -> Path:
    cases = pd.DataFrame({"case": [0, 1, 2], "x1": [0.1, 0.9, 0.2], "x2": [0.0, 0.0, 1.0]})
    reps = reps_from_means(HAND)
    # a failed replication with an absurd value must be left out of every mean
    bad = pd.DataFrame([{"set": "A", "case": 0, "world": "", "replication": 2, "error": "boom", "harm": 1e6}])
    return write_explore(tmp_path / "hand", cases, pd.concat([reps, bad], ignore_index=True),
                         ["baseline", "A", "B"], [HARM], thresholds={"harm": 9})


def test_regret_and_rules_match_a_hand_computation(hand_run: Path) -> None:
    rb = robustness(load_ensemble(hand_run), "harm", n_boot=200)
    t = rb.table.set_index("set")
    # regret = mean - best mean in the case: baseline (6, 1, 6), A (0, 7, 0), B (4, 0, 4)
    assert rb.regret["A"].tolist() == [0.0, 7.0, 0.0]
    assert t.loc["baseline", "mean_regret"] == pytest.approx(13 / 3)
    assert t.loc["A", "mean_regret"] == pytest.approx(7 / 3)
    assert t.loc["B", "mean_regret"] == pytest.approx(8 / 3)
    assert t["max_regret"].tolist() == [6.0, 7.0, 4.0]
    assert t["p90_regret"].tolist() == [6.0, 7.0, 4.0]  # 3 equal weights: the 90th percentile is the largest
    assert t.loc["A", "expected"] == pytest.approx(8.0)
    assert t.loc["B", "expected"] == pytest.approx(25 / 3)
    assert t["worst_case"].tolist() == [10.0, 16.0, 9.0]
    assert rb.choices == {"expected": "A", "worst_case": "B", "mean_regret": "A", "p90_regret": "B",
                          "max_regret": "B", "satisficing": "B"}
    assert rb.robust_differs["max_regret"] and not rb.robust_differs.get("mean_regret", False)
    # bootstrap intervals bracket the estimate (max regret's upper end is the sample maximum)
    for s in t.index:
        assert t.loc[s, "mean_regret_low"] <= t.loc[s, "mean_regret"] <= t.loc[s, "mean_regret_high"]
        assert t.loc[s, "max_regret_high"] == t.loc[s, "max_regret"]


def test_tied_rules_are_ties_not_different_choices(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """B is the expected-value choice; A and B meet the threshold in the same two cases and have
    the same worst case, and A comes first in run order: a tie, not a robust choice that differs."""
    from scenario_sim.report.ensemble import choice_sentence

    means = {(0, ""): {"baseline": 10.0, "A": 8.0, "B": 5.0}, (1, ""): {"baseline": 10.0, "A": 8.0, "B": 7.0},
             (2, ""): {"baseline": 13.0, "A": 12.0, "B": 12.0}}
    cases = pd.DataFrame({"case": [0, 1, 2], "x1": [0.1, 0.5, 0.9]})
    run = write_explore(tmp_path / "tie", cases, reps_from_means(means), ["baseline", "A", "B"], [HARM],
                        thresholds={"harm": 9})
    rb = robustness(load_ensemble(run), "harm", n_boot=50)
    assert rb.choices["expected"] == "B" and rb.choices["max_regret"] == "B"
    assert rb.best["satisficing"] == ["A", "B"] and rb.best["worst_case"] == ["A", "B"]
    assert rb.robust_differs == {"max_regret": False, "p90_regret": False, "satisficing": False,
                                 "worst_case": False}
    assert rb.robust_ties["satisficing"] and rb.robust_ties["worst_case"] and not rb.robust_ties["max_regret"]
    text = choice_sentence(rb)
    assert "differs" not in text and "A, B (tied)" in text and "a tie, not a different choice" in text
    # the terminal table fits the terminal, leaving out the least important columns
    monkeypatch.setenv("COLUMNS", "60")
    code, out, err = _cli("robust", str(run))
    assert code == 0, err
    assert max(len(ln.rstrip()) for ln in out.splitlines()) <= 60, out
    flat = " ".join(out.split())
    assert "Not shown at this width:" in flat and "set" in out and "expected" in out


def test_satisficing_matches_a_hand_computation(hand_run: Path) -> None:
    # harm <= 9: baseline never, A in cases 0 and 2, B always
    sat = satisficing(load_ensemble(hand_run)).set_index("set")
    assert sat["harm"].tolist() == pytest.approx([0.0, 2 / 3, 1.0])
    assert sat["all"].tolist() == pytest.approx([0.0, 2 / 3, 1.0])


def test_evpi_matches_a_hand_computation(hand_run: Path) -> None:
    v = value_of_information(load_ensemble(hand_run), "harm").set_index("information")
    # EV choice A (8); knowing the case: mean of per-case minima (4 + 9 + 4) / 3 = 17/3 -> EVPI 7/3
    assert v.loc["all", "value"] == pytest.approx(8 - 17 / 3)
    assert v.loc["all", "choice"] == "A"
    # x1 tells the cases apart: worth all of it.  x2 groups {0, 1} (best B, 17) and {2} (best A, 4):
    # (17 + 4) / 3 = 7 -> EVPPI 1
    assert v.loc["x1", "value"] == pytest.approx(7 / 3)
    assert v.loc["x2", "value"] == pytest.approx(1.0)
    assert v.loc["x2", "choice"] == "A, B"


def test_world_weights_enter_ev_and_evpi(tmp_path: Path) -> None:
    means = {}
    for case in (0, 1):
        means[(case, "calm")] = {"baseline": 10.0, "A": 6.0}
        means[(case, "surge")] = {"baseline": 10.0, "A": 14.0}
    cases = pd.DataFrame({"case": [0, 1], "x": [0.2, 0.8]})
    run = write_explore(tmp_path / "w", cases, reps_from_means(means), ["baseline", "A"], [HARM],
                        explore={"sampler": "lhs", "worlds": [{"name": "calm", "weight": 3},
                                                              {"name": "surge", "weight": 1}]})
    data = load_ensemble(run)
    rb = robustness(data, n_boot=0)
    assert rb.table.set_index("set").loc["A", "expected"] == pytest.approx(0.75 * 6 + 0.25 * 14)
    v = value_of_information(data).set_index("information")
    # knowing the world: A when calm (6), baseline when surging (10): 7 instead of 8
    assert v.loc["all", "value"] == pytest.approx(1.0)
    assert v.loc["world", "value"] == pytest.approx(1.0)
    assert v.loc["x", "value"] == pytest.approx(0.0)


def test_a_value_of_information_of_zero_reads_0_with_its_reason(tmp_path: Path) -> None:
    from scenario_sim.report.ensemble import robustness_text, voi_cells

    means = {(case, ""): {"baseline": 10.0, "A": 6.0} for case in (0, 1)}  # A best in every case
    cases = pd.DataFrame({"case": [0, 1], "x": [0.2, 0.8]})
    data = load_ensemble(write_explore(tmp_path / "z", cases, reps_from_means(means), ["baseline", "A"], [HARM]))
    voi = value_of_information(data)
    assert set(voi_cells(voi)["value"]) == {"0"}  # not "0.00000000"
    assert "All 0: knowing them would never change the choice." in " ".join(
        robustness_text(robustness(data, n_boot=0), voi, "table").split())


def test_bad_thresholds_and_unknown_names_are_one_line_errors(hand_run: Path) -> None:
    from scenario_sim.analysis.ensemble import parse_thresholds
    from scenario_sim.errors import UserError

    data = load_ensemble(hand_run)
    with pytest.raises(UserError, match=r"unknown outcome 'harn'.*did you mean 'harm'"):
        robustness(data, "harn")
    with pytest.raises(UserError, match="unknown set 'C'"):
        robustness(data, sets=["baseline", "C"])
    with pytest.raises(UserError, match=r"thresholds\.harm: expected a number"):
        parse_thresholds({"harm": "low"}, data.outcomes, "x.yaml")


def test_analysis_never_imports_lang_or_model() -> None:
    """The deep-uncertainty modules read run folders only (see ensemble.py)."""
    mods = ["ensemble", "robust", "voi", "discovery", "sensitivity", "ema"]
    for m in mods:
        f = ROOT / "scenario_sim" / "analysis" / f"{m}.py"
        if not f.exists():
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                assert not n.startswith(("scenario_sim.lang", "scenario_sim.model")), f"{f.name} imports {n}"


# --------------------------------------------------------------------------- scenario discovery


def planted_run(tmp_path: Path, n_cases: int = 400) -> Path:
    """Set A fails harm ≤ 10 exactly when u1 > 0.6 and u2 > 0.3; B is better than A exactly when u3 > 0.5."""
    from scipy.stats import qmc

    u = qmc.LatinHypercube(d=4, seed=7).random(n_cases)
    cases = pd.DataFrame(u, columns=["u1", "u2", "u3", "u4"])
    cases.insert(0, "case", range(n_cases))
    means = {}
    for c, (u1, u2, u3, _) in enumerate(u):
        fail = u1 > 0.6 and u2 > 0.3
        means[(c, "")] = {"baseline": 10.0 + u3, "A": 12.0 if fail else 8.0,
                          "B": (12.0 if fail else 8.0) + (-1.0 if u3 > 0.5 else 1.0)}
    return write_explore(tmp_path / "planted", cases, reps_from_means(means, spread=3.0),
                         ["baseline", "A", "B"], [HARM], thresholds={"harm": 10})


def test_prim_recovers_a_planted_box(tmp_path: Path) -> None:
    from scenario_sim.analysis.discovery import discover

    d = discover(load_ensemble(planted_run(tmp_path)), "A", "harm")
    assert d.coverage >= 0.9 and d.density >= 0.9, (d.coverage, d.density)
    lim = d.limits.set_index("input")
    assert sorted(lim.index) == ["u1", "u2"]
    assert lim.loc["u1", "low"] == pytest.approx(0.6, abs=0.05) and lim.loc["u1", "restricted_low"]
    assert lim.loc["u2", "low"] == pytest.approx(0.3, abs=0.05) and lim.loc["u2", "restricted_low"]
    assert not lim["restricted_high"].any()
    assert d.trajectory["coverage"].iloc[0] == 1.0 and len(d.trajectory) > 3
    assert "u1 ≥ 0.5" in d.describe() or "u1 ≥ 0.6" in d.describe()
    # the limits table: one number rule per input (three significant digits of its range), no 1.2e-03
    from scenario_sim.report.ensemble import limits_cells

    cells = limits_cells(d)
    assert d.limits["full_low"].min() < 0.01 and not cells["full range"].str.contains("e-").any(), cells
    assert all(len({len(x.split(".")[1]) for x in (row["box"] + " – " + row["full range"]).split(" – ")}) == 1
               for row in cells.to_dict("records")), cells
    # CART finds the same two inputs
    best = d.cart.iloc[0]
    assert best["coverage"] >= 0.9 and best["density"] >= 0.9 and "u1 >" in best["rule"] and "u2 >" in best["rule"]


def test_discovery_on_the_paired_difference(tmp_path: Path) -> None:
    from scenario_sim.analysis.discovery import discover

    # B beats A (lower harm) exactly when u3 > 0.5; the baseline's own variation plays no part
    d = discover(load_ensemble(planted_run(tmp_path)), "B", "harm", versus="A")
    assert d.question.startswith("When does B beat A")
    assert list(d.limits["input"]) == ["u3"]
    assert d.limits["low"].iloc[0] == pytest.approx(0.5, abs=0.03)
    assert d.coverage >= 0.95 and d.density >= 0.95


def test_cart_rules_name_categories_not_one_hot_columns(tmp_path: Path) -> None:
    """A fails exactly in world `calm` when u1 > 0.5: the CART rule reads `world = calm and u1 > …`,
    never `world=calm > 0.5`; and splits are merged into one condition per input."""
    from scipy.stats import qmc

    from scenario_sim.analysis.discovery import discover, rule_text

    u = qmc.LatinHypercube(d=2, seed=3).random(200)
    cases = pd.DataFrame(u, columns=["u1", "u2"])
    cases.insert(0, "case", range(len(u)))
    worlds = ["calm", "surgy", "pause"]
    means = {(c, w): {"baseline": 10.0, "A": 12.0 if (w == "calm" and u1 > 0.5) else 8.0}
             for c, (u1, _) in enumerate(u) for w in worlds}
    run = write_explore(tmp_path / "cat", cases, reps_from_means(means), ["baseline", "A"], [HARM],
                        thresholds={"harm": 10})
    d = discover(load_ensemble(run), "A", "harm")
    best = d.cart.iloc[0]
    assert best["coverage"] >= 0.9 and best["density"] >= 0.9
    assert "world = calm" in best["rule"], best["rule"]
    assert float(best["rule"].split("u1 > ")[1].split()[0]) == pytest.approx(0.5, abs=0.02), best["rule"]
    assert not any("=" in r.replace("world = ", "").replace("≤", "").replace("!=", "") for r in d.cart["rule"])

    cats = {f"world={w}": ("world", ["a", "b", "c", "d"]) for w in "abcd"}
    assert rule_text([("world=b", False, 0.5)], cats) == "world != b"
    assert rule_text([("world=b", False, 0.5), ("x", True, 1.0), ("x", False, 3.0), ("world=d", False, 0.5),
                      ("x", True, 2.0)], cats) == "world in {a, c} and 2 < x ≤ 3"
    assert rule_text([("world=c", True, 0.5), ("x", False, 3.0), ("x", False, 1.5)], cats) == "world = c and x ≤ 1.5"
    assert rule_text([], cats) == "(all cases)"


def test_discovery_says_when_there_is_nothing_to_find(hand_run: Path) -> None:
    from scenario_sim.analysis.discovery import NothingToDiscover, discover

    with pytest.raises(NothingToDiscover, match="Never, in all 3 cases") as caught:
        discover(load_ensemble(hand_run), "B", "harm")
    assert (caught.value.points, caught.value.positives, caught.value.outcome) == (3, 0, "harm")


def test_cli_discover_answers_always_and_never_with_exit_0(hand_run: Path) -> None:
    """A valid question whose answer is the same in every case is an answer, not bad input."""
    # B's harm (8, 9, 8) meets harm <= 9 everywhere: it never fails; and it beats the baseline (10) always
    for args, answer in [(("--set", "B", "--outcome", "harm"), "Never, in all 3 cases"),
                         (("--set", "B", "--threshold", "9"), "Never, in all 3 cases"),
                         (("--set", "B", "--versus", "baseline"), "Always, in all 3 cases")]:
        code, out, err = _cli("discover", str(hand_run), *args)
        assert code == 0, (args, err)
        assert f"{answer}: there is no region to find" in out and not err.strip(), (args, out, err)
    code, out, err = _cli("discover", str(hand_run), "--set", "B", "--versus", "baseline", "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert (got["cases"], got["labelled"], got["box"], got["limits"]) == (3, 3, None, [])
    assert "Always, in all 3 cases" in got["note"]


# --------------------------------------------------------------------------- sensitivity


def ishigami_run(tmp_path: Path, n: int = 1024, spread: float = 0.5, noise_sd: float = 0.0,
                 replications: int = 2) -> Path:
    """Set A's paired difference from the baseline is the Ishigami function (a = 7, b = 0.1) of a
    Saltelli design; each case has two replications at f ± spread (exact mean, known noise)."""
    from SALib.sample import sobol as sobol_sample

    bounds = [[-math.pi, math.pi]] * 3
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": bounds}
    x = sobol_sample.sample(problem, n, calc_second_order=False, seed=3)
    f = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    cases = pd.DataFrame(x, columns=problem["names"])
    cases.insert(0, "case", range(len(x)))
    f = f + np.random.default_rng(5).normal(0.0, noise_sd, size=len(f))  # noise that reaches the case means
    means = {(c, ""): {"baseline": 100.0, "A": 100.0 + float(v)} for c, v in enumerate(f)}
    inputs = [{"name": nm, "low": -math.pi, "high": math.pi} for nm in problem["names"]]
    reps = reps_from_means(means, spread=spread, outcome="energy", only="A")
    reps = reps[reps["replication"] < replications]
    return write_explore(tmp_path / "ishigami", cases, reps, ["baseline", "A"], [ENERGY],
                         explore={"sampler": "sobol", "inputs": inputs, "sobol": {"N": n, "second_order": False}})


def test_sobol_on_ishigami_matches_published_indices(tmp_path: Path) -> None:
    from scenario_sim.analysis.sensitivity import sensitivity

    res = sensitivity(load_ensemble(ishigami_run(tmp_path)), "energy")
    assert res.method == "sobol"
    t = res.indices.set_index("input")
    # Ishigami and Homma (1990); Saltelli et al. (2008) table: S1 .314 .442 0, ST .558 .442 .244
    assert t["S1"].tolist() == pytest.approx([0.314, 0.442, 0.0], abs=0.05)
    assert t["ST"].tolist() == pytest.approx([0.558, 0.442, 0.244], abs=0.05)
    assert (t["ST_low"] < t["ST"]).all() and (t["ST_high"] > t["ST"]).all()
    # noise: two replications at f ± 0.5 have variance 0.5, so the case mean's noise is 0.25;
    # V(f) = a²/8 + bπ⁴/5 + b²π⁸/18 + 1/2 = 13.84
    nz = res.noise.iloc[0]
    assert nz["noise_variance"] == pytest.approx(0.25)
    assert nz["noise_share"] == pytest.approx(0.25 / 13.84, rel=0.05)
    assert nz["smallest_index"] == pytest.approx(t["ST"].min(), abs=0.03)  # on the noise-free scale
    assert nz["resolved"] and nz["replications_needed"] == 1


def test_noise_statement_asks_for_more_replications_when_noise_swamps_an_index(tmp_path: Path) -> None:
    from scenario_sim.analysis.sensitivity import sensitivity

    # two replications at f + e ± 2 sqrt(2) with e ~ N(0, 8): within-case variance 16, so the case
    # mean's noise is 8 (and the drawn e gives it that variance) against V(f) ≈ 13.8:
    # η' ≈ 0.58, smallest (noise-free) index ≈ 0.24 -> about 2 · 0.58 / 0.24 ≈ 5 replications
    res = sensitivity(load_ensemble(ishigami_run(tmp_path, n=512, spread=2 * math.sqrt(2),
                                                   noise_sd=2 * math.sqrt(2))), "energy")
    nz = res.noise.iloc[0]
    assert nz["noise_variance"] == pytest.approx(8.0)
    assert nz["noise_share"] == pytest.approx(8 / (13.84 + 8), rel=0.15)
    assert not nz["resolved"]
    assert 3 <= nz["replications_needed"] <= 8


def test_noise_with_one_replication_per_case_is_unknown_not_zero(tmp_path: Path) -> None:
    """One replication per case has no within-case variance: the statement must not say 'enough'."""
    from scenario_sim.analysis.sensitivity import sensitivity
    from scenario_sim.report.ensemble import noise_sentences

    res = sensitivity(load_ensemble(ishigami_run(tmp_path, n=256, replications=1)), "energy")
    nz = res.noise.iloc[0]
    assert nz["replications"] == 1 and math.isnan(nz["noise_share"]) and not nz["resolved"]
    (sentence,) = noise_sentences(res)
    assert "cannot be estimated" in sentence and "enough" not in sentence


def test_sobol_refuses_cases_that_are_not_a_saltelli_design(hand_run: Path) -> None:
    from scenario_sim.analysis.sensitivity import check_saltelli, sensitivity
    from scenario_sim.errors import UserError

    with pytest.raises(UserError, match="sobol needs a run sampled with --sampler sobol"):
        sensitivity(load_ensemble(hand_run), method="sobol")
    with pytest.raises(UserError, match="not a Saltelli design"):
        check_saltelli(np.arange(12.0).reshape(4, 3), None)


# --------------------------------------------------------------------------- EMA Workbench


def test_ema_workbench_reads_the_export(tmp_path: Path) -> None:
    """The archive round-trips through ema_workbench.util.load_results itself."""
    import warnings

    from scenario_sim.analysis.ema import export_ema

    means = {}
    for case in (0, 1, 2):
        means[(case, "calm")] = {"baseline": 10.0 + case, "A": 6.0 - case}
        means[(case, "surge")] = {"baseline": 12.0 + case, "A": 14.5}
    cases = pd.DataFrame({"case": [0, 1, 2], "growth": [0.1, 0.25, 0.4], "pk": [0.7, 0.8, 0.9]})
    reps = reps_from_means(means)
    reps.loc[(reps["case"] == 2) & (reps["set"] == "A") & (reps["world"] == "calm"), "error"] = "boom"
    run = write_explore(tmp_path / "ema", cases, reps, ["baseline", "A"], [HARM],
                        explore={"sampler": "lhs", "worlds": [{"name": "calm"}, {"name": "surge"}]})
    path = export_ema(run)
    assert path == run / "ema_results.tar.gz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.util import load_results

        experiments, outcomes = load_results(str(path))
    assert len(experiments) == 3 * 2 * 2
    assert sorted(experiments["policy"].cat.categories) == ["A", "baseline"]
    first = experiments.iloc[0]
    assert (first["case"], first["world"], first["policy"], first["growth"]) == (0, "calm", "baseline", 0.1)
    got = pd.Series(outcomes["harm"], index=pd.MultiIndex.from_frame(experiments[["case", "world", "policy"]]))
    assert got[(1, "calm", "A")] == 5.0 and got[(2, "surge", "baseline")] == 14.0
    assert math.isnan(got[(2, "calm", "A")])  # every replication failed there
    assert experiments["replications"].tolist().count(0) == 1
    # the bytes depend on the run only
    first_bytes = path.read_bytes()
    assert export_ema(run, tmp_path / "again.tar.gz").read_bytes() == first_bytes


# --------------------------------------------------------------------------- CLI and report


def _cli(*args: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "scenario_sim", *args], capture_output=True, text=True, cwd=ROOT,
                       check=False, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    return r.returncode, r.stdout, r.stderr


def test_cli_discover_sensitivity_robust_export(tmp_path: Path) -> None:
    run = str(planted_run(tmp_path))
    code, out, err = _cli("discover", run, "--set", "A", "--outcome", "harm")
    assert code == 0, err
    assert "When does A fail harm ≤ 10 casualties?" in out and "u1" in out and "coverage" in out
    code, out, err = _cli("discover", run, "--set", "B", "--versus", "A", "--format", "json")
    assert code == 0, err
    assert [r["input"] for r in json.loads(out)["limits"]] == ["u3"]
    code, out, err = _cli("robust", run, "--format", "table")
    assert code == 0, err
    assert "max regret" in out and "Value of information" in out
    code, out, err = _cli("sensitivity", run)
    assert code == 0, err
    assert "RBD-FAST" in out and "replication noise" in out
    code, out, err = _cli("export", run, "--format", "ema", "--out", str(tmp_path / "x.tar.gz"))
    assert code == 0 and out.strip() == str(tmp_path / "x.tar.gz"), err


def test_cli_mistakes_are_one_line_and_exit_2(tmp_path: Path, hand_run: Path) -> None:
    for args, msg in [(("discover", str(hand_run), "--set", "Z"), "unknown set 'Z'"),
                      (("discover", str(hand_run), "--set", "A", "--outcome", "harn"), "did you mean 'harm'"),
                      (("sensitivity", str(tmp_path / "nope")), "no such run folder"),
                      (("robust", str(hand_run), "--outcome", "harm", "--sets", "baseline,Q"), "unknown set 'Q'")]:
        code, _, err = _cli(*args)
        assert code == 2, (args, err)
        assert msg in err and len(err.strip().splitlines()) == 1, err


def test_report_of_an_explore_run(tmp_path: Path) -> None:
    from scenario_sim.report.html import write_report

    means = {}
    for case in range(40):
        g = case / 40
        means[(case, "calm")] = {"baseline": 10.0, "A": 8.0 - g, "B": 9.0}
        means[(case, "surge")] = {"baseline": 10.0, "A": 12.0 - 4 * g, "B": 9.5}
    cases = pd.DataFrame({"case": range(40), "growth": [c / 40 for c in range(40)],
                          "pk": [(c * 7 % 40) / 40 for c in range(40)]})
    run = write_explore(tmp_path / "rep", cases, reps_from_means(means), ["baseline", "A", "B"], [HARM],
                        thresholds={"harm": 9.2},
                        explore={"sampler": "lhs", "worlds": [{"name": "calm"}, {"name": "surge"}]})
    page = write_report(run).read_text()
    assert "Robustness across cases and worlds" in page and "Value of information" in page
    assert "These depend on the world: A (only in calm)" in page
    assert "B" in page and "every world (calm, surge)" in page
    assert "When does A beat baseline" in page and (run / "plots" / "prim_A_harm.png").exists()
    assert (run / "plots" / "sensitivity_harm.png").exists()


def test_morris_on_a_known_function(tmp_path: Path) -> None:
    """Benefit = 3·x1 + 0·x2 on [0, 1]²: every elementary effect of x1 is 3, of x2 is 0."""

    from scenario_sim.analysis.sensitivity import sensitivity

    res = sensitivity(_morris_run(tmp_path, 30, 2, lambda x1, x2: 3 * x1), "energy")
    t = res.indices.set_index("input")
    assert res.method == "morris"
    assert t.loc["x1", "mu_star"] == pytest.approx(3.0) and t.loc["x1", "mu"] == pytest.approx(3.0)
    assert t.loc["x2", "mu_star"] == pytest.approx(0.0, abs=1e-9) and t.loc["x1", "sigma"] == pytest.approx(0, abs=1e-9)
    assert res.noise.iloc[0]["resolved"]  # CRN: the ± spread cancels in the paired difference


def test_morris_mu_star_interval_never_goes_below_zero(tmp_path: Path) -> None:
    """x2's elementary effects are 60 in one trajectory of four and 2.3 in the others: SALib's
    normal-approximation half-width (23.6) exceeds mu* (16.8). mu* >= 0, so the interval is clipped at 0
    (SALib's half-width kept in mu_star_conf) and the table says so."""

    from scenario_sim.analysis.sensitivity import sensitivity
    from scenario_sim.report.ensemble import sensitivity_text

    res = sensitivity(_morris_run(tmp_path, 4, 5, lambda x1, x2: 3 * x1 + 40 * x2**8), "energy")
    t = res.indices.set_index("input")
    assert t.loc["x2", "mu_star"] - t.loc["x2", "mu_star_conf"] < 0  # SALib's interval would go negative
    assert t.loc["x2", "mu_star_low"] == 0.0 and t.loc["x2", "mu_star_clipped"]
    assert (res.indices["mu_star_low"] >= 0).all() and not t.loc["x1", "mu_star_clipped"]
    assert t.loc["x2", "mu_star_high"] == pytest.approx(t.loc["x2", "mu_star"] + t.loc["x2", "mu_star_conf"])
    text = sensitivity_text(res, "markdown")
    assert "[-" not in text and "clipped at 0" in text and "normal approximation" in text


def test_outputs_thresholds_are_validated_with_locations(tmp_path: Path) -> None:
    from scenario_sim.errors import ScenarioError
    from scenario_sim.lang import load_scenario

    f = tmp_path / "t.yaml"
    f.write_text("extends: minimal\nname: t\noutputs:\n  thresholds:\n    civilain_harm: 3\n"
                 "    launched.total: 4\n    energy.mean: 0.8\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    lines = exc.value.lines()
    assert f"{f}:5:20: outputs.thresholds.civilain_harm: unknown outcome 'civilain_harm'" in lines[0]
    assert "did you mean 'civilian_harm'" in lines[0]
    assert lines[1] == (f"{f}:6:21: outputs.thresholds.launched.total: "
                        "this outcome has no better direction, so no threshold")
    assert len(lines) == 2
    f.write_text("extends: minimal\nname: t\noutputs:\n  thresholds:\n    energy.mean: 0.8\n")
    assert load_scenario(f).baseline.outputs.thresholds == {"energy.mean": 0.8}


# --------------------------------------------------------------------------- a real explore run


def _small_explore(tmp_path: Path, sampler: str, cases: int) -> Path:
    """A short explore run of the minimal scenario with two uncertain inputs and two worlds."""
    import yaml

    from scenario_sim.experiment.ensemble import explore
    from scenario_sim.experiment.executors import InProcess
    from tests.helpers import minimal_doc

    d = minimal_doc()
    d.update(name="small", horizon_days=40)
    d["contacts"] = {"scheduled": [{"date": 3}, {"date": 12}], "stochastic": {"rate_per_day": 0.1, "start": 15}}
    d["attacker"]["surge"] = {"enabled": True, "probability": {"dist": "uniform", "low": 0, "high": 0.6},
                              "lag_days": 1, "size_multiplier": 3}
    d["outputs"] = {"primary": "civilian_harm", "key": ["civilian_harm", "leaked.total"],
                    "thresholds": {"civilian_harm": 100}}
    d["worlds"] = [{"name": "surgy", "weight": 2}, {"name": "calm", "changes": {"attacker.surge.enabled": False}}]
    d["uncertainties"] = [
        {"name": "pk", "path": "air_defense.systems.guns.pk.drone",
         "range": {"dist": "uniform", "low": 0.3, "high": 0.9}, "description": "d", "source": "s"},
        {"name": "stock", "path": "attacker.arsenal.drone.initial_stock",
         "range": {"dist": "loguniform", "low": 0.5, "high": 2}, "scale": True, "description": "d", "source": "s"}]
    scen = tmp_path / f"small_{sampler}.yaml"
    scen.write_text(yaml.safe_dump(d, sort_keys=False))
    return explore(scen, InProcess(), out=tmp_path / "results", cases=cases, sampler=sampler, replications=3,
                   seed=11).run_dir


def test_every_analysis_on_a_real_explore_run(tmp_path: Path) -> None:
    from scenario_sim.analysis.discovery import NothingToDiscover, discover
    from scenario_sim.analysis.ema import ema_tables
    from scenario_sim.analysis.sensitivity import sensitivity
    from scenario_sim.report.html import write_report

    run_dir = _small_explore(tmp_path, "sobol", 8)
    run = load_ensemble(run_dir)
    assert run.inputs == ["pk", "stock"] and run.worlds == ["calm", "surgy"]
    assert run.world_weights == pytest.approx({"calm": 1 / 3, "surgy": 2 / 3})
    assert run.thresholds["civilian_harm"].at_most and run.thresholds["civilian_harm"].bound == 100
    assert len(run.cases) == 8 * (2 + 2)

    # regret from the analysis equals regret recomputed here straight from the Parquet file
    rb = robustness(run, "civilian_harm", n_boot=100)
    raw = pd.read_parquet(run_dir / "replications.parquet")
    raw = raw[raw["error"].isna()]
    m = raw.groupby(["case", "world", "set"])["civilian_harm"].mean().unstack("set")[run.sets]
    regret = m.sub(m.min(axis=1), axis=0)
    w = np.where(m.index.get_level_values("world") == "surgy", 2 / 3, 1 / 3) / len(run.cases)
    for s in run.sets:
        assert rb.table.set_index("set").loc[s, "mean_regret"] == pytest.approx(float(w @ regret[s]))
        assert rb.table.set_index("set").loc[s, "max_regret"] == pytest.approx(float(regret[s].max()))

    res = sensitivity(run, "civilian_harm")
    assert res.method == "sobol" and set(res.indices["world"]) == {"calm", "surgy", "all"}
    assert set(res.indices["input"]) == {"pk", "stock"} and (res.noise["replications"] == 3).all()
    voi = value_of_information(run).set_index("information")
    assert voi.loc["all", "value"] >= max(voi.loc["pk", "value"], voi.loc["world", "value"]) - 1e-9
    try:
        d = discover(run, run.sets[1], versus=run.baseline)
        assert 0 < d.coverage <= 1 and 0 < d.density <= 1
    except NothingToDiscover:
        pass
    experiments, outcomes = ema_tables(run)
    assert len(experiments) == len(run.cases) * 2 * len(run.sets)
    assert outcomes["civilian_harm"] == pytest.approx(
        m.stack().reindex(pd.MultiIndex.from_frame(experiments[["case", "world", "policy"]].astype(
            {"policy": str, "world": str}))).to_numpy())
    page = write_report(run_dir).read_text()
    assert "Robustness across cases and worlds" in page and "Which inputs drive each set" in page


def test_cli_on_a_real_morris_explore_run(tmp_path: Path) -> None:
    run_dir = _small_explore(tmp_path, "morris", 4)
    code, out, err = _cli("sensitivity", str(run_dir), "--format", "json")
    assert code == 0, err
    got = json.loads(out)
    assert got["method"] == "morris" and {r["input"] for r in got["indices"]} == {"pk", "stock"}


def _morris_run(tmp_path: Path, trajectories: int, seed: int, benefit: Callable[[float, float], float]) -> Any:
    """A synthetic Morris explore run on [0, 1]^2: set A's energy is the baseline's 50 plus ``benefit``."""
    from SALib.sample import morris as morris_sample

    problem = {"num_vars": 2, "names": ["x1", "x2"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    x = morris_sample.sample(problem, trajectories, num_levels=4, seed=seed)
    cases = pd.DataFrame(x, columns=["x1", "x2"])
    cases.insert(0, "case", range(len(x)))
    means = {(c, ""): {"baseline": 50.0, "A": 50.0 + benefit(float(v[0]), float(v[1]))} for c, v in enumerate(x)}
    run = write_explore(tmp_path / "morris", cases, reps_from_means(means, outcome="energy"), ["baseline", "A"],
                        [ENERGY], explore={"sampler": "morris", "morris": {"num_levels": 4},
                                           "inputs": [{"name": "x1", "low": 0, "high": 1},
                                                      {"name": "x2", "low": 0, "high": 1}]})
    return load_ensemble(run)


@pytest.mark.parametrize("name", ["replications.parquet", "cases.parquet"])
def test_a_truncated_parquet_in_an_explore_folder_is_one_line_and_exit_2(hand_run: Path, name: str) -> None:
    """A damaged file is named with exit 2 by robust and report, never an 'internal error'."""
    f = hand_run / name
    f.write_bytes(f.read_bytes()[:100])
    for args in (("robust", str(hand_run), "--outcome", "harm"), ("report", str(hand_run))):
        code, _, err = _cli(*args)
        assert code == 2, (args, err)
        assert name in err and "internal error" not in err and len(err.strip().splitlines()) == 1, err
