"""``scenario-sim frontier``: bundles, the Pareto frontier, budgets and interactions (issue 12.2)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from scenario_sim.analysis import frontier as fr
from scenario_sim.errors import ScenarioError, UserError
from scenario_sim.lang import load_scenario
from scenario_sim.lang.bundles import bundle_scenario, check_items
from tests.helpers import ROOT, write
from tests.test_costs import costed_doc

REFERENCE = ROOT / "scenarios" / "reference.yaml"


def test_every_subset_is_a_bundle_of_its_items_patches_and_costs() -> None:
    loaded = load_scenario(REFERENCE)
    items = ["readiness_on_contact", "civil_defense_on_contact", "stronger_sanctions"]
    bundled, members = bundle_scenario(loaded, items)
    assert len(members) == 2 ** 3 and len(fr.subsets(list("abcdefg"))) == 128
    assert members["baseline"] == [] and members["readiness_on_contact"] == ["readiness_on_contact"]
    name = "readiness_on_contact__stronger_sanctions"
    s = bundled.effective(name)
    assert s.air_defense.readiness.after_contact.enabled
    assert all(lv.enabled for lv in s.sanctions.levers)
    assert not s.consequences.civil_defense.after_contact.enabled
    assert [c.set for c in s.costs] == ["readiness_on_contact", "stronger_sanctions"]
    # the bundle of all three is exactly the three patches, whatever else the scenario has
    full = bundled.effective(fr.bundle_name(items)).model_dump(exclude={"recommendations", "costs"})
    by_hand = loaded.baseline.model_copy(deep=True)
    assert full != by_hand.model_dump(exclude={"recommendations", "costs"})
    assert full["consequences"]["civil_defense"]["after_contact"]["enabled"] is True


def test_conflicting_items_are_a_located_error(tmp_path: Path) -> None:
    d = costed_doc()
    d["recommendations"].append({"name": "gentle_alerts",
                                 "changes": {"consequences.civil_defense.after_contact.enabled": True,
                                             "consequences.civil_defense.harm_factor_when_active": 0.9}})
    d["recommendations"].append({"name": "strong_alerts",
                                 "changes": {"consequences.civil_defense.harm_factor_when_active": 0.2}})
    p = write(tmp_path, "c.yaml", yaml.safe_dump(d, sort_keys=False))
    loaded = load_scenario(p)
    bundle_scenario(loaded, ["alerts", "gentle_alerts"])  # the same edit (enabled: true) twice is no conflict
    with pytest.raises(ScenarioError) as exc:
        bundle_scenario(loaded, ["gentle_alerts", "strong_alerts"])
    (line,) = exc.value.lines()
    assert line.startswith(f"{p}:") and "harm_factor_when_active" in line and "gentle_alerts" in line


def test_items_are_checked_with_did_you_mean() -> None:
    loaded = load_scenario(REFERENCE)
    with pytest.raises(UserError, match="did you mean 'stronger_sanctions'"):
        check_items(loaded, ["readiness_on_contact", "stronger_sanction"], 10)
    with pytest.raises(UserError, match="more than once"):
        check_items(loaded, ["combined", "combined"], 10)
    with pytest.raises(UserError, match="at least two"):
        check_items(loaded, ["combined"], 10)
    with pytest.raises(UserError, match="at most 2"):
        check_items(loaded, loaded.set_names[1:4], 2)


def test_pareto_on_a_hand_table() -> None:
    cost = np.array([0, 10, 10, 20, 30, 30, 5])
    harm = np.array([100, 80, 90, 80, 50, 50, 100])
    # 0: cheapest; 1 beats 2 (same cost, less harm) and 3 (cheaper, same harm); 4 and 5 tie
    # (neither strictly better); 6 is dominated by 0 (cheaper, same harm)
    assert fr.pareto(cost, harm).tolist() == [True, True, False, False, True, True, False]


def test_best_under_each_budget() -> None:
    b = pd.DataFrame({"bundle": ["baseline", "a", "b", "a__b"], "items": ["(none)", "a", "b", "a + b"],
                      "cost": [0.0, 10.0, 25.0, 35.0], "harm": [100.0, 90.0, 70.0, 65.0],
                      "diff": [0.0, -10, -30, -35], "ci_low": [0.0] * 4, "ci_high": [0.0] * 4})
    best = fr.best_under(b, [0.0, 9.0, 24.0, 30.0, 100.0])
    assert best["bundle"].tolist() == ["baseline", "baseline", "a", "b", "a__b"]
    # round budgets (1-2-5 ladder) up to the first at or above the dearest bundle, not $49.07m steps
    assert fr.default_budgets(b["cost"]) == [0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
    assert fr.default_budgets(pd.Series([0.0, 392.6e6]))[-4:] == [50e6, 100e6, 200e6, 500e6]
    assert fr.default_budgets(pd.Series([0.0, 1e9]))[-1] == 1e9


def test_each_budget_names_the_cheapest_bundle_it_cannot_tell_from_the_best() -> None:
    """Issue 12 (follow-up) 1: readiness + smokescreen -24.2 [-51.9, 3.5] chosen over readiness
    alone -16.7 by the mean: the pair cannot be told apart, so the cheaper one is named."""
    rng = np.random.default_rng(3)
    n = 20
    base = rng.normal(100, 10, n)
    a = base - 16.7 + rng.normal(0, 3, n)
    ab = a - 7.5 + rng.normal(0, 40, n)          # better on the mean, but noisy against a
    c = base - 30 + rng.normal(0, 0.5, n)        # clearly better than a, dearer than a
    x = pd.DataFrame({"baseline": base, "a": a, "a__b": ab, "c": c})
    cost = {"baseline": 0.0, "a": 10.0, "a__b": 32.28, "c": 40.0}
    rows = []
    for k in x.columns:
        d = x[k] - base
        lo, hi = stats.t.interval(0.95, n - 1, d.mean(), d.std(ddof=1) / np.sqrt(n)) if k != "baseline" else (0, 0)
        rows.append({"bundle": k, "items": k.replace("__", " + "), "cost": cost[k], "harm": x[k].mean(),
                     "diff": d.mean(), "ci_low": lo, "ci_high": hi})
    b = pd.DataFrame(rows)
    best = fr.best_under(b, [35.0, 100.0], x).set_index("budget_usd")
    r = best.loc[35.0]
    assert r["bundle"] == "a__b" and r["cheapest_equivalent"] == "a" and r["equivalent_items"] == "a"
    dd = x["a"] - x["a__b"]
    lo, hi = stats.t.interval(0.95, n - 1, dd.mean(), dd.std(ddof=1) / np.sqrt(n))
    assert (r["equivalent_vs_best"], r["equivalent_low"], r["equivalent_high"]) == pytest.approx((dd.mean(), lo, hi))
    assert lo < 0 < hi
    # under 100, c is best; a is told apart from it, the noisy a__b is not (the cheapest such)
    assert best.loc[100.0, "bundle"] == "c" and best.loc[100.0, "cheapest_equivalent"] == "a__b"
    assert stats.ttest_1samp(x["a"] - x["c"], 0).pvalue < 0.05
    assert stats.ttest_1samp(x["a__b"] - x["c"], 0).pvalue > 0.05
    # with the noisy bundle gone, c is its own cheapest equivalent
    alone = fr.best_under(b[b["bundle"] != "a__b"], [100.0], x).iloc[0]
    assert alone["bundle"] == "c" and alone["cheapest_equivalent"] == "c"
    assert bool(best.loc[35.0, "ci_includes_zero"]) == bool(r["ci_low"] <= 0 <= r["ci_high"])


def test_interaction_statistic_against_a_hand_computation() -> None:
    rng = np.random.default_rng(5)
    n = 40
    base = rng.normal(100, 10, n)
    a = base - 10 + rng.normal(0, 1, n)
    b = base - 20 + rng.normal(0, 1, n)
    ab = base - 24 + rng.normal(0, 1, n)     # less than additive: -24 against -30
    c = base - 5 + rng.normal(0, 1, n)
    ac = a - 5 + rng.normal(0, 1, n) * 0.01  # additive
    bc = b - 5 + rng.normal(0, 1, n) * 0.01
    x = pd.DataFrame({"baseline": base, "a": a, "b": b, "c": c, "a__b": ab, "a__c": ac, "b__c": bc})
    t = fr.interactions(x, ["a", "b", "c"]).set_index(["a", "b"])
    i = (ab - base) - (a - base) - (b - base)
    half = stats.t.ppf(1 - 0.05 / 3 / 2, n - 1) * i.std(ddof=1) / np.sqrt(n)
    r = t.loc[("a", "b")]
    assert r["interaction"] == pytest.approx(i.mean())
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((i.mean() - half, i.mean() + half))
    p = stats.ttest_1samp(i, 0).pvalue
    ps = t["p_value"].to_numpy()
    assert r["p_value"] == pytest.approx(p)
    order = np.argsort(ps)
    holm = np.maximum.accumulate(np.minimum(1, (3 - np.arange(3)) * ps[order]))
    assert t["p_value_holm"].to_numpy()[order] == pytest.approx(holm)
    assert bool(r["significant"]) and r["kind"] == "less than additive"
    assert t.loc[("a", "c"), "kind"] == "additive within noise" or not t.loc[("a", "c"), "significant"]


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from scenario_sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.mark.parametrize(("args", "message"), [
    (["--items", "readiness_on_contact,stronger_sanction"], "did you mean 'stronger_sanctions'"),
    (["--items", "readiness_on_contact,stronger_sanctions", "--budget", "lots"], "--budget: expected amounts"),
    (["--items", "readiness_on_contact,stronger_sanctions", "--budget", "-5"], "--budget: expected a finite"),
    (["--items", ","], "--items: names no recommendation set"),
    (["--items", ""], "name the sets to bundle, e.g. --items a,b,c (--items is required)"),
    (["--items", "readiness_on_contact,stronger_sanctions", "--budget", "1e9,,2e9"], "amount 2 is empty"),
    (["--items", "readiness_on_contact,stronger_sanctions", "--budget", ","], "amount 1 is empty"),
])
def test_bad_options_stop_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               args: list[str], message: str) -> None:
    code, _, err = _cli(["frontier", "reference", *args, "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert "leave --items out" not in err  # --items is required: that advice would be false
    assert not (tmp_path / "r").exists()


def test_a_scenario_without_costs_has_no_frontier(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = costed_doc()
    for r in d["recommendations"]:
        r.pop("cost", None)
    p = write(tmp_path, "nocost.yaml", yaml.safe_dump(d, sort_keys=False))
    code, _, err = _cli(["frontier", str(p), "--items", "alerts,ready", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "no recommendation set declares a cost" in err


def test_frontier_run_writes_a_self_describing_folder_and_reports(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    doc = costed_doc()
    doc.setdefault("outputs", {})["objectives"] = {"weights": {"civilian_harm": 1.0, "cost_usd": 1e-3}}
    p = write(tmp_path, "c.yaml", yaml.safe_dump(doc, sort_keys=False))
    code, out, err = _cli(["frontier", str(p), "--items", "alerts,ready,free", "-n", "6", "-j", "1", "-q",
                           "--out", str(tmp_path / "r"), "--budget", "0,5000"], capsys)
    assert code == 0, err
    (run,) = (tmp_path / "r").glob("minimal/*/frontier.json")
    folder = run.parent
    rec: dict[str, Any] = json.loads(run.read_text())
    assert rec["items"] == ["alerts", "ready", "free"] and len(rec["bundles"]) == 8
    for name in ("frontier.csv", "budgets.csv", "interactions.csv", "frontier.png", "replications.parquet"):
        assert (folder / name).exists(), name
    table = pd.read_csv(folder / "frontier.csv")
    assert len(table) == 8 and table["on_frontier"].any()
    assert pd.read_csv(folder / "budgets.csv")["budget_usd"].tolist() == [0, 5000]
    assert "Pareto frontier" in out and "Best bundle under each budget" in out
    assert "cheapest equivalent" in out and "Bonferroni-adjusted over the 7 bundles" in out
    budgets = pd.read_csv(folder / "budgets.csv")
    assert {"ci_includes_zero", "cheapest_equivalent", "equivalent_vs_best"} <= set(budgets.columns)
    # one display name everywhere (issue 12 follow-up 2): the cost tables say "a + b" as the frontier does
    code, out, err = _cli(["compare", str(folder)], capsys)
    assert code == 0, err
    costs_part = out[out.index("Objective ("):]
    assert "alerts + ready + free" in costs_part and "alerts__ready" not in costs_part
    assert fr.CRITERIA_NOTE in out
    # the folder is an ordinary run: report works and shows the frontier
    code, out, err = _cli(["report", str(folder)], capsys)
    assert code == 0, err
    html = (folder / "report.html").read_text()
    assert "Bundle frontier: 8 bundles of 3 sets" in html and "Costs and cost-effectiveness" in html
    assert "cheapest equivalent" in html and "Bonferroni-adjusted over the 7 bundles" in html
    section = html[html.index("Costs and cost-effectiveness"):html.index("Bundle frontier")]
    assert "alerts + ready + free" in section and "alerts__ready" not in section
    assert "different criteria, so they can name different bundles" in html
    # issue 12 leftover: the ranking, the brief and every table a planner reads name bundles by their
    # labels; the machine formats and files keep the ids (the appendix shows both)
    appendix = html.index("Appendix: what was run")
    assert "__" not in html[:appendix] and "alerts + ready + free (alerts__ready__free)" in html[appendix:]
    code, out, err = _cli(["compare", str(folder)], capsys)
    ranking = out[:out.index("Cost-effectiveness")]
    assert code == 0 and "alerts + ready + free" in ranking and "__" not in ranking, ranking
    for args in (["--against", "alerts__free"], ["--pairwise"], ["--format", "markdown"]):
        code, out, err = _cli(["compare", str(folder), *args], capsys)
        assert code == 0 and "__" not in out and "alerts + free" in out, (args, out)
    # --format markdown: every table is a Markdown table, the cost and objective tables included
    code, out, err = _cli(["compare", str(folder), "--format", "markdown"], capsys)
    assert code == 0 and "\n\n**Cost-effectiveness against the baseline" in out
    assert "| set | added cost [95% CI] |" in out and "| set | objective | vs baseline [95% CI] |" in out
    assert not [ln for ln in out.splitlines() if ln.startswith("set  ")], out  # no fixed-width header left
    code, out, err = _cli(["compare", str(folder), "--format", "csv"], capsys)
    assert code == 0 and "alerts__ready__free" in out and " + " not in out
    assert "alerts__ready__free" in pd.read_csv(folder / "comparison.csv")["set"].tolist()
    code, out, err = _cli(["report", str(folder), "--format", "md", "--out", "-"], capsys)
    brief = out[:out.index("Run folder:")]
    assert code == 0 and "__" not in brief and "alerts + " in brief, brief
    # long bundle labels are keyed by letters on the plots' axes (a 64-bundle frontier's report
    # was 5.9 MB with full labels), the key under each plot; tables keep the full labels
    assert "Bundles are named by their items" not in html
    def png_width(path: Path) -> int:
        return int.from_bytes(path.read_bytes()[16:20], "big")  # the IHDR chunk's width

    wide = png_width(folder / "plots" / "forest.png")
    monkeypatch.setattr(fr, "PLOT_LABEL_CHARS", 10)
    code, out, err = _cli(["report", str(folder)], capsys)
    html = (folder / "report.html").read_text()
    assert code == 0 and "Bundles are named by their items: A = alerts, B = ready, C = free." in html
    assert "alerts + ready + free" in html  # the tables
    assert png_width(folder / "plots" / "forest.png") < wide


def test_bundle_ids_are_relabelled_only_as_whole_names() -> None:
    names = {"a__b": "a + b", "a__b__c": "a + b + c"}
    assert fr.relabel("a__b leads; a__b__c (bundle of 3), a__bc and xa__b stay", names) == (
        "a + b leads; a + b + c (bundle of 3), a__bc and xa__b stay")
    assert fr.relabel("results/a__b.csv", {}) == "results/a__b.csv"


def test_frontier_tables_use_one_number_rule_per_column() -> None:
    """The frontier's printed tables give every number of a column the same decimals and no
    scientific notation (the rule of docs/statistics.md), not each number on its own."""
    import pandas as pd

    from scenario_sim.frontier_cli import _column, _interval

    rows = pd.DataFrame({"harm": [1394.3, 1383.1], "diff": [-0.743, -12.4], "ci_low": [-1.375, -18.6],
                         "ci_high": [-0.112, -6.198]})
    rule = _column(rows, ("harm", "diff"))
    cells = [_interval(r, f=rule) for r in rows.to_dict("records")] + [rule(x) for x in rows["harm"]]
    decimals = {len(n.split(".")[1]) if "." in n else 0 for c in cells for n in re.findall(r"\d[\d,]*(?:\.\d+)?", c)}
    assert decimals == {2}, cells
    tiny = pd.DataFrame({"interaction": [0.43], "ci_low": [0.00176], "ci_high": [0.857]})
    assert "e-" not in _interval(tiny.iloc[0].to_dict(), "interaction", f=_column(tiny, ("interaction",)))


def test_a_holm_named_pair_whose_simultaneous_interval_includes_zero_is_marked_and_explained() -> None:
    """Issue 12 leftover: Holm steps down (0.05/3, 0.05/2, 0.05) while the simultaneous intervals
    stay at 0.05/3, so the third pair below (raw p = 0.03) is named with an interval that includes
    zero. The table says so (†, raw and Holm p) instead of reading as a contradiction."""
    from scenario_sim.frontier_cli import interaction_rows

    rng = np.random.default_rng(11)
    n = 40
    z = rng.normal(0, 1, n)
    z = (z - z.mean()) / z.std(ddof=1)
    base = rng.normal(100, 10, n)
    a, b, c = base - 10, base - 20, base - 5
    # interactions: a+b and b+c clearly non-zero, a+c at a raw p of exactly 0.03
    shift = stats.t.ppf(1 - 0.03 / 2, n - 1) / np.sqrt(n)
    x = pd.DataFrame({"baseline": base, "a": a, "b": b, "c": c, "a__b": base - 24 + 0.1 * z,
                      "a__c": base - 15 + z + shift, "b__c": base - 22 + 0.1 * z})
    t = fr.interactions(x, ["a", "b", "c"])
    f = fr.Frontier(["a", "b", "c"], "civilian_harm", "casualties", pd.DataFrame(), pd.DataFrame(), t, n)
    rows = {r["pair"]: r for r in interaction_rows(f)}
    ac = t.set_index(["a", "b"]).loc[("a", "c")]
    assert ac["p_value"] == pytest.approx(0.03) and ac["p_value_holm"] == pytest.approx(0.03)
    assert bool(ac["significant"]) and bool(ac["ci_includes_zero"]) and ac["ci_low"] < 0 < ac["ci_high"]
    assert set(rows) == {"a + b", "a + c", "b + c"}
    assert rows["a + c"]["kind"].endswith(fr.HOLM_MARK) and "≈0" in rows["a + c"]["interaction [simultaneous 95% CI]"]
    assert (rows["a + c"]["p"], rows["a + c"]["p (Holm)"]) == ("0.03", "0.03")
    assert not rows["a + b"]["kind"].endswith(fr.HOLM_MARK) and rows["a + b"]["p"] == "<0.0001"
    note = f.interaction_note()
    assert fr.HOLM_MARK in note and "0.05/3, the next at 0.05/2" in note and "each at 98.33%" in note


# --------------------------------------------------------------------------- frontier --resume


def _costed(tmp_path: Path, horizon: int | None = None) -> Path:
    d = costed_doc()
    if horizon is not None:
        d["horizon_days"] = horizon
    return write(tmp_path, "c.yaml", yaml.safe_dump(d, sort_keys=False))


FRONTIER_FILES = ("replications.parquet", "frontier.csv", "budgets.csv", "interactions.csv", "frontier.json")


def _files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FRONTIER_FILES}


class _InterruptAfter:
    """Stands in for the CLI's progress bar and presses Ctrl-C after ``chunks`` work units."""

    def __init__(self, chunks: int) -> None:
        self.calls, self.chunks = 0, chunks

    def __enter__(self) -> _InterruptAfter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, done: int, total: int) -> None:
        self.calls += 1
        if self.calls > self.chunks:
            raise KeyboardInterrupt


def test_an_interrupted_frontier_is_resumed_to_the_bytes_of_an_uninterrupted_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import scenario_sim.commands as commands

    p = _costed(tmp_path)
    args = ["frontier", str(p), "--items", "alerts,ready,free", "-n", "6", "-j", "1", "-q", "--budget", "0,5000"]
    code, full_out, err = _cli([*args, "--out", str(tmp_path / "full")], capsys)
    assert code == 0, err
    (full,) = (tmp_path / "full" / "minimal").iterdir()
    stub = _InterruptAfter(2)
    monkeypatch.setattr(commands, "_Progress", lambda enabled, label: stub)
    code, _, err = _cli([*args, "--chunk-size", "2", "--out", str(tmp_path / "part")], capsys)
    (part,) = (tmp_path / "part" / "minimal").iterdir()
    assert code == 130 and f"scenario-sim frontier --resume {part}" in err, err
    assert (part / "frontier.json").exists() and not (part / "frontier.csv").exists()
    assert not (part / "replications.parquet").exists() and len(list((part / "parts").glob("chunk-*"))) == 2
    # run --resume would finish the replications but not the frontier: it points at frontier --resume
    code, _, err = _cli(["run", "--resume", str(part)], capsys)
    assert code == 2 and f"finish it with scenario-sim frontier --resume {part}" in err
    monkeypatch.undo()
    code, out, err = _cli(["frontier", "--resume", str(part), "-j", "2", "-q"], capsys)
    assert code == 0, err
    assert _files(part) == _files(full)
    assert out.replace(str(part), "RUN") == full_out.replace(str(full), "RUN")
    manifest = json.loads((part / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"]
    # a complete frontier: says so, shows the frontier again, exit 0
    code, out, err = _cli(["frontier", "--resume", str(part), "-q"], capsys)
    assert code == 0 and "already complete" in err and "Pareto frontier" in out
    assert _files(part) == _files(full)


def test_frontier_resume_checks_its_folder_and_options_first(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.experiment import run_experiment

    p = _costed(tmp_path)
    plain = run_experiment(p, replications=2, jobs=1, out=tmp_path / "plain").run_dir
    before = sorted(x.name for x in plain.iterdir())
    code, _, err = _cli(["frontier", "--resume", str(plain)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "not a frontier run folder" in err and "scenario-sim run --resume" in err
    for extra, named in ((["--items", "alerts,ready"], "--items"), (["-n", "4"], "-n"), (["--seed", "3"], "--seed"),
                         (["--budget", "5"], "--budget"), ([str(p)], "SCENARIO"),
                         (["--chunk-size", "2"], "--chunk-size")):
        code, _, err = _cli(["frontier", "--resume", str(plain), *extra], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and f"(not {named})" in err, err
    code, _, err = _cli(["frontier", "--resume", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert sorted(x.name for x in plain.iterdir()) == before  # nothing written into a folder it refused


@pytest.mark.slow
def test_a_frontier_killed_with_sigkill_is_resumed_to_the_same_bytes(tmp_path: Path) -> None:
    """kill -9 of the whole process group mid-run (no clean shutdown, no manifest update), then
    `frontier --resume`: the folder equals an uninterrupted run's."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.test_docs import subprocess_env

    p = _costed(tmp_path, horizon=365)
    base = [sys.executable, "-m", "scenario_sim", "frontier", str(p), "--items", "alerts,ready,free", "-n", "16",
            "--seed", "4", "-q"]
    proc = subprocess.Popen([*base, "--chunk-size", "1", "-j", "2", "--out", str(tmp_path / "k")],
                            env=subprocess_env(), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list((tmp_path / "k").glob("minimal/*/parts/chunk-*.parquet"))) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the frontier finished before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    (run_dir,) = (tmp_path / "k" / "minimal").iterdir()
    assert not (run_dir / "replications.parquet").exists() and (run_dir / "frontier.json").exists()
    r = subprocess.run([sys.executable, "-m", "scenario_sim", "frontier", "--resume", str(run_dir), "-j", "2", "-q"],
                       env=subprocess_env(), capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*base, "-j", "1", "--out", str(tmp_path / "f")], env=subprocess_env(), capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stderr
    (fresh,) = (tmp_path / "f" / "minimal").iterdir()
    assert _files(run_dir) == _files(fresh)
