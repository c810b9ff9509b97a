"""The brief-first report: the brief's facts, report --rank-by, --format md, explore and backtest sources."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from scenario_sim.analysis.compare import compare, load_run, ranking
from scenario_sim.experiment import run_experiment
from scenario_sim.report.brief import bundle_interactions, make_brief
from scenario_sim.report.html import build_report
from tests.helpers import minimal_doc
from tests.test_deep import reps_from_means, write_explore


def _scenario(tmp: Path) -> Path:
    d = minimal_doc()
    d.update(name="brf", horizon_days=60, replications=20, seed=11)
    d["outputs"] = {"primary": "leaked.total", "key": ["civilian_harm", "energy.mean"]}
    d["recommendations"] = [
        {"name": "better_guns", "description": "pk up", "changes": {"air_defense.systems.guns.pk.drone": 0.7}},
        {"name": "more_guns", "description": "pk up more", "changes": {"air_defense.systems.guns.pk.drone": 0.8}},
        {"name": "both", "description": "both patches", "include": ["better_guns", "more_guns"],
         "changes": {"consequences.civil_defense.harm_factor_when_active": 0.4}},
    ]
    p = tmp / "brf.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("brief")
    return run_experiment(_scenario(tmp), jobs=1, out=tmp / "res").run_dir


def _brief(run_dir: Path, rank_by: str = "leaked.total", **kw: Path) -> dict[str, str]:
    data = load_run(run_dir)
    table = compare(data)
    b = make_brief(data, table, ranking(table, rank_by), rank_by, **kw)
    return dict(b.items)


def test_brief_names_the_leader_its_effect_and_side_effects(run_dir: Path) -> None:
    items = _brief(run_dir)
    table = compare(run_dir)
    lead = ranking(table, "leaked.total").iloc[0]
    assert items["Recommended"].startswith(f"{lead['set']}, the best mean on leaked.total")
    assert "not a selection with a guarantee" in items["Recommended"]
    assert f"{lead['diff']:.1f}"[:4] in items["Effect"] or f"{lead['diff']:,.0f}" in items["Effect"]
    assert "Side effects" in items and "Contested assumptions" in items and "Against the record" in items
    assert "No explore run of this scenario was found" in items["Contested assumptions"]
    assert "No backtest" in items["Against the record"]


def test_bundle_interaction_matches_a_hand_computation(run_dir: Path) -> None:
    data = load_run(run_dir)
    [b] = bundle_interactions(data, "leaked.total")
    w = data.frame.pivot(index="replication", columns="set", values="leaked.total")
    gap = (w["both"] - w["baseline"]) - (w["better_guns"] - w["baseline"]) - (w["more_guns"] - w["baseline"])
    assert b["set"] == "both" and b["parts"] == ["better_guns", "more_guns"]
    assert b["gap"] == pytest.approx(gap.mean()) and b["sum"] == pytest.approx(
        (w["better_guns"] + w["more_guns"] - 2 * w["baseline"]).mean())
    assert b["low"] < b["gap"] < b["high"]
    # two pk patches on the same guns overlap: the bundle gains less than the sum (fewer leakers saved)
    assert b["low"] > 0
    assert "smaller than additive" in _brief(run_dir)["Bundles"]


def test_brief_uses_an_explore_run_beside_the_run(run_dir: Path) -> None:
    import shutil

    cases = pd.DataFrame({"case": [0, 1, 2], "x1": [0.1, 0.5, 0.9]})
    means = {(c, ""): {"baseline": 10.0, "better_guns": 8.0, "more_guns": 7.0 + 4 * (c == 2), "both": 9.0}
             for c in range(3)}
    reps = reps_from_means(means, outcome="leaked.total")
    leaked = {"name": "leaked.total", "unit": "munitions", "direction": "lower", "description": "leakers"}
    folder = write_explore(run_dir.parent / "explore-20990101-000000-abcdef", cases, reps,
                           ["baseline", "better_guns", "more_guns", "both"], [leaked])
    try:
        items = _brief(run_dir)
        assert items["Contested assumptions"].startswith("From the explore run explore-20990101-000000-abcdef")
        assert "least maximum regret (minimax regret)" in items["Contested assumptions"]
        md = build_report(run_dir).html
        assert "From the explore run" in md
        # a newer explore of fewer sets (a smoke test) does not replace it unless given
        smoke = write_explore(run_dir.parent / "explore-20990102-000000-abcdef", cases,
                              reps[reps["set"].isin(["baseline", "better_guns"])], ["baseline", "better_guns"],
                              [leaked])
        text = _brief(run_dir)["Contested assumptions"]
        assert text.startswith("From the explore run explore-20990101-000000-abcdef") and "chosen automatically" in text
        given = _brief(run_dir, explore=smoke)["Contested assumptions"]
        assert "given with --explore" in given and "It ran 2 of this run's" in given and "(not " in given, given
        # alone, the smoke test (neither all sets nor the recommended one) is named, not summarised
        shutil.rmtree(folder)
        alone = _brief(run_dir)["Contested assumptions"]
        assert alone.startswith("The only explore run beside this run, explore-20990102-000000-abcdef, ran 2 of"), alone
        assert "not summarised" in alone and "--explore DIR" in alone and "regret" not in alone, alone
        shutil.rmtree(smoke)
        folder.mkdir()
    finally:
        shutil.rmtree(folder)


def test_brief_reads_a_backtest_by_the_contract(run_dir: Path) -> None:
    bt = run_dir.parent.parent / "backtest-20990101-000000-abcdef"
    bt.mkdir()
    import hashlib

    (bt / "verdict.txt").write_text("Launches fall inside the 90% band in 3 of 4 months.\n")
    # the contract: every listed file matches its sha256; a backtest is attached automatically only
    # when its monthly targets could be judged (six months or more)
    (bt / "backtest.json").write_text(json.dumps({
        "format": "scenario-sim-backtest", "format_version": 1, "scenario": "brf", "set": "baseline",
        "train": None, "test": ["2025-02-01", "2025-03-01"], "replications": 10,
        "verdict": "Launches fall inside the 90% band in 3 of 4 months.", "coverage": {}, "ok": False,
        "targets": {"judged": True},
        "files": {"verdict.txt": hashlib.sha256((bt / "verdict.txt").read_bytes()).hexdigest()}}))
    try:
        text = _brief(run_dir)["Against the record"]
        assert "not every applicable target met" in text and "2025-02-01" in text and "3 of 4 months" in text
        assert "Backtest backtest-20990101-000000-abcdef of brf" in text
        assert "Chosen automatically" in text  # a Markdown brief alone must say how it was found
        given = _brief(run_dir, backtest=bt)["Against the record"]
        assert f"Given with --backtest {bt}" in given and "Chosen automatically" not in given
        # a backtest too short to judge is not attached, and the brief says it is there
        summary = json.loads((bt / "backtest.json").read_text())
        (bt / "backtest.json").write_text(json.dumps({**summary, "targets": {"judged": False}}))
        short = _brief(run_dir)["Against the record"]
        assert short.startswith(f"The backtest {bt.name} of this scenario is too short to judge"), short
        assert f"report --backtest {bt}" in short
    finally:
        import shutil

        shutil.rmtree(bt)


def test_report_leads_with_the_brief_and_the_caveat(run_dir: Path) -> None:
    text = build_report(run_dir).html
    pos = {h: text.index(h) for h in ("The decision in brief", "Not a forecast", "Ranking by leaked.total",
                                      "Failures and warnings", "Appendix: what was run")}
    assert pos["The decision in brief"] < pos["Not a forecast"] < pos["Ranking by leaked.total"]
    assert pos["Failures and warnings"] < pos["Appendix: what was run"]
    assert text.count("Not a forecast") == 1


def test_report_rank_by(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["report", str(run_dir), "--rank-by", "energy.mean", "--out", str(tmp_path / "r")])
    assert exc.value.code == 0
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Ranking by energy.mean" in html and "the best mean on energy.mean" in html
    assert "replaced" not in capsys.readouterr().err  # a new folder: nothing replaced
    with pytest.raises(SystemExit) as exc:  # again into the same folder: the earlier report is gone, and it says so
        main(["report", str(run_dir), "--out", str(tmp_path / "r")])
    assert exc.value.code == 0
    assert f"note: replaced the earlier {tmp_path / 'r' / 'report.html'}" in capsys.readouterr().err
    for bad, message in (("energy.maen", "did you mean 'energy.mean'"), ("waves", "no better direction")):
        with pytest.raises(SystemExit) as exc:
            main(["report", str(run_dir), "--rank-by", bad, "--out", str(tmp_path / "bad")])
        err = capsys.readouterr().err.strip()
        assert exc.value.code == 2 and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "bad").exists()


def test_report_format_md(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["report", str(run_dir), "--format", "md", "--out", "-"])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    assert out.startswith("# brf: the decision in brief\n") and "> Not a forecast." in out
    assert re.search(r"^\*\*Recommended\.\*\* ", out, re.M) and "**Side effects.**" in out
    assert "<" not in out.replace("<run>", "")  # Markdown, not HTML
    with pytest.raises(SystemExit) as exc:
        main(["report", str(run_dir), "--format", "md", "--out", str(tmp_path)])
    assert exc.value.code == 0 and (tmp_path / "brief.md").read_text() == out.rstrip("\n") + "\n"
    with pytest.raises(SystemExit) as exc:
        main(["report", str(run_dir), "--format", "pdf"])
    assert exc.value.code == 2


def test_report_explore_option_is_checked(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["report", str(run_dir), "--explore", str(run_dir), "--out", "-"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "--explore:" in err and "not an explore run" in err


def test_select_best_run_is_reported_with_its_guarantee(tmp_path: Path) -> None:
    run = run_experiment(_scenario(tmp_path), jobs=1, out=tmp_path / "res", select_best=True, delta=0.5)
    kn = run.manifest.select_best
    assert kn is not None and kn.status in ("selected", "group", "capped")
    text = build_report(run.run_dir).html
    assert "Selection of the best set (--select-best)" in text and "Kim and Nelson 2001" in text
    items = _brief(run.run_dir)
    if kn.status == "selected":
        assert items["Recommended"].startswith(f"{kn.selected}, selected by the KN procedure with probability")
    else:
        assert items["Recommended"].startswith("No single set: the KN procedure could not split")
    assert not math.isnan(np.float64(kn.delta))


def test_cost_and_burdens_are_read_when_present() -> None:
    """The costs lane's outcomes (cost_usd, burden.<name>) reach the brief; absent, nothing is said."""
    from scenario_sim.report.brief import _burdens, _cost

    table = pd.DataFrame([
        {"set": "a", "outcome": "cost_usd", "unit": "USD", "mean": 3e6, "diff": 2e6, "ci_low": 1.5e6,
         "ci_high": 2.5e6},
        {"set": "a", "outcome": "burden.alert_nights", "unit": "nights", "mean": 60.0, "diff": 44.0,
         "ci_low": 40.0, "ci_high": 48.0},
        {"set": "b", "outcome": "civilian_harm", "unit": "casualties", "mean": 1.0, "diff": -1.0,
         "ci_low": -2.0, "ci_high": 0.0},
    ])
    cost = _cost(table, "a", "365-day horizon from 2025-01-01")
    assert cost == ("$3.00m over the 365-day horizon from 2025-01-01 (the scenario's cost assumptions); "
                    "$2.00m [$1.50m, $2.50m] against the baseline.")
    assert _burdens(table, "a") == "burden.alert_nights 44.0 [40.0, 48.0] nights"
    assert _cost(table, "b", "horizon") is None and _burdens(table, "b") is None
    # a fixed cost over a baseline that costs nothing is stated once, not as "$x; $x [$x, $x]"
    fixed = pd.DataFrame([{"set": "s", "outcome": "cost_usd", "unit": "USD", "mean": 2e8, "diff": 2e8,
                           "ci_low": 2e8, "ci_high": 2e8}])
    assert _cost(fixed, "s", "horizon") == ("$200.00m over the horizon (the scenario's cost assumptions); "
                                            "the baseline costs nothing.")


@pytest.mark.parametrize("usd_weight", [None, 1e-9])
def test_brief_recommends_under_the_stated_objective(tmp_path: Path, usd_weight: float | None) -> None:
    """The reference states outputs.objectives (weights, a budget cap): the brief recommends the
    costs lane's best feasible set, not the ranking leader, and gives its cost-effectiveness; when
    no set beats the baseline under the objective (the reference's own $1m per casualty-equivalent
    can price every set out), it says to keep the baseline.  With money almost free (1e-9 per USD)
    some set must win."""
    from scenario_sim.analysis import costs

    root = Path(__file__).resolve().parent.parent
    scenario = root / "scenarios" / "reference.yaml"
    if usd_weight is not None:
        doc = yaml.safe_load(scenario.read_text())
        doc["extends"] = str(root / "scenarios" / "calibration" / "fragment.yaml")
        doc["outputs"]["objectives"]["weights"]["cost_usd"] = usd_weight
        scenario = tmp_path / "cheap_money.yaml"
        scenario.write_text(yaml.safe_dump(doc, sort_keys=False))
    run = run_experiment(scenario, replications=6, jobs=1, out=tmp_path / "res")
    data = load_run(run.run_dir)
    obj = costs.read_objectives(run.run_dir)
    assert obj is not None and obj.constraints
    best = costs.objective_table(data, obj, "civilian_harm")
    expected = str(best.loc[best["best"], "set"].iloc[0])
    items = _brief(run.run_dir, "civilian_harm")
    if usd_weight is not None:
        assert expected != "baseline"
    if expected == "baseline":
        assert items["Recommended"].startswith("Keep the baseline: no set does better under the stated objective")
        for key in ("Effect", "Cost", "Side effects"):  # the leader's figures are not the recommendation's
            assert key not in items or "not recommended" in items[key].split(":")[0]
    else:
        assert items["Recommended"].startswith(f"{expected}, the best under the stated objective (outputs.objectives:")
        assert "casualties averted per $1M" in items["Cost"] and items["Cost"].startswith(f"{expected}: $")
    assert "cost_usd within $2.00bn" in items["Recommended"]


def test_placebo_twins_are_controls_not_recommendations(tmp_path: Path) -> None:
    from scenario_sim.analysis.placebo import placebo_pairs
    from scenario_sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "reference", "-n", "4", "--placebo", "-j", "1", "-q", "--out", str(tmp_path)])
    assert exc.value.code == 0
    run_dir = next(p.parent for p in tmp_path.glob("*/*/manifest.json"))
    twins = placebo_pairs(load_run(run_dir))
    assert twins
    items = _brief(run_dir, "civilian_harm")
    assert not any(t in items["Recommended"].split(",")[0] for t in twins)
    assert all(t in items["Placebo controls"] for t in twins)
    assert not any(t in items.get("Bundles", "") for t in twins)  # a twin includes one set: not a bundle
    assert not any(t in items.get("Close alternatives", "") for t in twins)


def test_select_best_refuses_placebo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "reference", "--select-best", "--delta", "5", "--placebo", "-q", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "not with --placebo" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()
