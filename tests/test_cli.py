"""The command line: options checked before a run, run management, output that fits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
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


# --------------------------------------------------------------------------- 13.7 checked before the run


@pytest.mark.parametrize("extra, message", [
    (["--rank-by", "civilan_harm"], "--rank-by: unknown outcome 'civilan_harm' (did you mean 'civilian_harm'?)"),
    (["--rank-by", "waves"], "--rank-by: outcome 'waves' has no better direction"),
    (["--precision", "0.05", "--metric", "leaked"], "--metric: unknown outcome 'leaked'"),
    (["--precision", "0.05", "--metric", "civilan_harm"], "--metric: unknown outcome 'civilan_harm'"),
    (["--metric", "civilian_harm"], "--precision and --metric go together"),
    (["--sets", "beter_guns"], "--sets: unknown recommendation set 'beter_guns' (did you mean 'better_guns'?)"),
    (["--sets", "perfect", "--rank-by", "energy.means"], "--rank-by: unknown outcome 'energy.means'"),
])
def test_options_are_checked_before_anything_runs_or_is_created(small: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str],
                                                                extra: list[str], message: str) -> None:
    out = tmp_path / "results"
    code, _, err = cli(["run", str(small), "--out", str(out), "-q", "-j", "1", *extra], capsys)
    one_line_error(code, err, message)
    assert not out.exists(), "a results folder was left behind"


def test_a_misspelt_rank_by_fails_before_the_engine_is_imported(small: Path, tmp_path: Path) -> None:
    """The check comes before the heavy layers: a fresh interpreter never imports the engine."""
    code = ("import sys\nfrom scenario_sim.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print(e.code, 'scenario_sim.experiment.engine' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code, "run", str(small), "--rank-by", "civilan_harm", "--out",
                        str(tmp_path / "r")], env=subprocess_env(), capture_output=True, text=True, check=False)
    assert r.stdout.split() == ["2", "False"], r.stdout + r.stderr
    assert not (tmp_path / "r").exists()


def test_out_that_is_a_file_or_not_writable_is_refused_up_front(small: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    code, _, err = cli(["run", str(small), "--out", str(f / "sub"), "-q", "-j", "1"], capsys)
    one_line_error(code, err, "is not a folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("permissions do not apply to this user (root)")
        code, _, err = cli(["run", str(small), "--out", str(locked / "res"), "-q", "-j", "1"], capsys)
        one_line_error(code, err, "is not writable")
    finally:
        locked.chmod(0o755)


# --------------------------------------------------------------------------- 13.9 run management


@pytest.fixture(scope="module")
def two_runs(small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results root holding two complete runs of ``small`` and one interrupted run."""
    from scenario_sim.experiment import RunInterrupted, run_experiment

    root = tmp_path_factory.mktemp("res")
    run_experiment(small, jobs=1, out=root)
    run_experiment(small, jobs=1, out=root, sets=["perfect"], replications=4)

    def stop(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        run_experiment(small, jobs=1, out=root, chunk_size=2, progress=stop)
    return root


def test_latest_resolves_to_the_newest_run(two_runs: Path) -> None:
    from scenario_sim.runrefs import resolve_run, run_folders

    runs = run_folders(two_runs)
    assert len(runs) == 3
    statuses = [json.loads((r / "manifest.json").read_text())["status"] for r in runs]
    assert statuses == ["complete", "complete", "interrupted"]
    for ref in ("latest", "@latest"):
        assert resolve_run(str(two_runs / ref)) == runs[-1]
        assert resolve_run(str(two_runs / "small" / ref)) == runs[-1]
    assert resolve_run(str(runs[0])) == runs[0]


def test_resume_of_a_complete_run_says_so_and_reprints_the_ranking(
        two_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing to resume is not an error (issue 14's exit 2 stays for real errors): exit 0."""
    from scenario_sim.runrefs import run_folders

    complete = run_folders(two_runs)[0]
    before = (complete / "replications.parquet").read_bytes()
    code, out, err = cli(["run", "--resume", str(complete), "-q"], capsys)
    assert code == 0, err
    assert "already complete (status complete); nothing to resume" in err and len(err.strip().splitlines()) == 1
    assert "ranked by" in out and f"results: {complete}" in out
    assert (complete / "replications.parquet").read_bytes() == before
    code, out, _ = cli(["run", "--resume", str(complete), "--format", "csv"], capsys)
    assert code == 0 and out.startswith("rank,set,")
    # a complete folder that lost a file is that one line, not "already complete" and then the error
    import shutil

    broken = two_runs.parent / "broken"
    shutil.copytree(complete, broken)
    (broken / "replications.parquet").unlink()
    code, out, err = cli(["run", "--resume", str(broken), "-q"], capsys)
    assert code == 2 and "already complete" not in err and len(err.strip().splitlines()) == 1, err
    assert "replications.parquet: missing" in err
    # a real error is still exit 2: a folder that is not a run
    code, _, err = cli(["run", "--resume", str(two_runs / "nowhere")], capsys)
    assert code == 2


def test_runs_shows_an_unfinished_explore_as_its_design_and_units(tmp_path: Path) -> None:
    from scenario_sim.runrefs import run_info

    folder = tmp_path / "explore-20261201-110000-bbbbbb"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({
        "kind": "explore", "explore": {"cases": 5, "worlds": [{"name": "a"}, {"name": "b"}]},
        "replications_target": 3, "status": "interrupted", "units": {"done": 4, "count": 10}, "sets": ["baseline"]}))
    assert run_info(folder).replications == "5 cases x 2 worlds x 3 (4/10 units)"


def test_runs_counts_one_world_and_one_case_in_the_singular(tmp_path: Path) -> None:
    from scenario_sim.runrefs import run_info

    folder = tmp_path / "explore-20261201-110000-cccccc"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({
        "kind": "explore", "explore": {"cases": 1, "worlds": [{"name": "a"}]},
        "replications_target": 3, "status": "complete", "sets": ["baseline"]}))
    assert run_info(folder).replications == "1 case x 1 world x 3"


def test_latest_under_an_empty_root_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["compare", str(tmp_path / "latest")], capsys)
    one_line_error(code, err, "no run folder under")


def test_runs_lists_every_run_newest_first(two_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["runs", str(two_runs)], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["started", "scenario", "sets", "replications", "status", "size", "folder"]
    rows = [ln.split() for ln in lines[1:]]
    assert len(rows) == 3
    # started (date, time), scenario, sets, replications, status, size (value, unit), folder
    assert [r[5] for r in rows] == ["interrupted", "complete", "complete"]
    assert [r[3] for r in rows] == ["3", "2", "3"]  # sets, the baseline included
    assert rows[1][4] == "4" and rows[2][4] == "6" and rows[0][4].endswith("/6")  # done/target while unfinished
    assert all(r[2] == "small" for r in rows)
    assert all(r[7] in ("B", "KB", "MB") and float(r[6]) > 0 for r in rows)
    assert [Path(r[8]) for r in rows] == [*reversed(__import__("scenario_sim.runrefs").runrefs.run_folders(two_runs))]


def test_latest_works_for_compare_report_resume_and_show(small: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.experiment import RunInterrupted, run_experiment

    root = tmp_path / "results"
    run_experiment(small, jobs=1, out=root)
    latest = str(root / "small" / "latest")
    code, out, _ = cli(["compare", latest, "--format", "csv"], capsys)
    assert code == 0 and out.startswith("rank,set,")
    code, out, _ = cli(["show", latest, "--set", "perfect"], capsys)
    assert code == 0 and "capacity_per_wave: 100000" in out

    def stop(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        run_experiment(small, jobs=1, out=root, chunk_size=2, progress=stop)
    code, out, err = cli(["run", "--resume", latest, "-q", "-j", "1", "--format", "csv"], capsys)
    assert code == 0, err
    code, out, _ = cli(["report", str(root / "@latest")], capsys)
    assert code == 0 and Path(out.strip()).name == "report.html" and Path(out.strip()).exists()


def test_show_diff_prints_the_resolved_changes_of_a_set(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["show", "reference", "--diff", "combined"], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert "what combined changes against the baseline, resolved" in lines[0]
    body = dict(ln.split(": ", 1) for ln in lines[1:])
    # From included sets: a scale factor resolved to the value the model gets.
    assert body["air_defense.systems.patriot.interceptors.resupply.interval_days"] == "30 -> 15"
    assert body["air_defense.readiness.after_contact.enabled"] == "false -> true"
    # (the baseline's value comes from the shipped calibration; expose_smokescreen scales it by 0.7)
    frag = yaml.safe_load((Path(__file__).resolve().parent.parent / "scenarios" / "calibration" /
                           "fragment.yaml").read_text())
    high = frag["attacker"]["surge"]["probability"]["high"]
    assert body["attacker.surge.probability.high"] == f"{high:g} -> {high * 0.7:g}"
    assert not any(k.startswith(("recommendations", "name", "description")) for k in body)
    code, out, _ = cli(["show", "reference", "--diff", "baseline"], capsys)
    assert code == 0 and "nothing: this set runs exactly the baseline" in out
    code, _, err = cli(["show", "reference", "--diff", "combind"], capsys)
    one_line_error(code, err, "unknown recommendation set 'combind' (did you mean 'combined'?)")


# --------------------------------------------------------------------------- 13.13 --precision


def test_precision_alone_targets_the_primary_outcome(small: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(["run", str(small), "--precision", "0.001", "-n", "3", "--max-replications", "6",
                          "--out", str(tmp_path), "-q", "-j", "1"], capsys)
    assert code == 0, err
    from scenario_sim.runrefs import resolve_run

    m = json.loads((resolve_run(str(tmp_path / "latest")) / "manifest.json").read_text())
    assert m["adaptive"]["metric"] == "civilian_harm"  # the scenario's outputs.primary
    assert m["replications_done"] == 6 and "adaptive: maximum of 6" in out


# --------------------------------------------------------------------------- 13.12 output that fits


@pytest.fixture(scope="module")
def long_names_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose set names are as long as the reference's longest (so the table is wide)."""
    from scenario_sim.experiment import run_experiment

    d = minimal_doc()
    d.update(name="wide", horizon_days=30, replications=5, seed=1)
    d["recommendations"] = [
        {"name": "infrastructure_protection", "changes": {"air_defense.systems.guns.pk.drone": 0.7}},
        {"name": "civil_defense_on_contact", "changes": {"air_defense.systems.guns.pk.drone": 0.5}},
    ]
    p = tmp_path_factory.mktemp("wide") / "wide.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return run_experiment(p, jobs=1, out=tmp_path_factory.mktemp("wide-res")).run_dir


@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_terminal_table_fits_the_terminal_and_every_column_has_a_header(
        long_names_run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        width: int) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _ = cli(["compare", str(long_names_run)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert max(len(ln.rstrip()) for ln in lines) <= width, "\n".join(lines)
    header = next(ln for ln in lines if ln.startswith("┃"))
    cells = [c.strip() for c in header.strip("┃").split("┃")]
    assert all(cells), f"a column without a header: {header}"
    assert "set" in cells and "difference [95% CI]" in cells
    rows = [ln for ln in lines if ln.startswith("│")]
    assert len(rows) == 3 and all(len(r.split("│")) == len(cells) + 2 for r in rows)  # no row wrapped
    every = ["rank", "set", "mean", "difference [95% CI]", "change", "% b/t/w", "P(best)", "vs leader", "worse on"]
    assert cells == [c for c in every if c in cells]  # columns keep their order when some are dropped
    flat = " ".join(out.split())  # the footnote wraps at the width
    missing = [c for c in every if c not in cells]
    if missing:
        assert all(c in flat.split("Not shown at this width:")[1] for c in missing)
        assert "--format csv gives every statistic" in flat
    else:
        assert "Not shown" not in flat
    if width >= 140:
        assert not missing
    if width == 80:  # the long set names do not fit with every column, but the key ones stay
        assert missing and {"set", "mean", "difference [95% CI]", "% b/t/w"} <= set(cells)
    # The footer explains what is shown and mentions nothing that is not: a column left out at
    # this width is named among those not shown, never defined.
    assert "p-value" not in out and "P-value" not in out
    defined = {"% b/t/w": "% b/t/w: percent", "P(best)": "P(best): share", "vs leader": "≈ (vs leader):",
               "worse on": "worse on: number"}
    for col, text in defined.items():
        assert (text in flat) == (col in cells), (col, flat)


def test_markdown_table_has_a_header_for_every_column(long_names_run: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["compare", str(long_names_run), "--format", "markdown"], capsys)
    assert code == 0
    header = next(ln for ln in out.splitlines() if ln.startswith("| rank"))
    assert all(c.strip() for c in header.strip("|").split("|"))


# ------------------------------------------------------------ issue 12: ties, side effects, set against set


@pytest.fixture(scope="module")
def tradeoff_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sets with known relations: `same` changes nothing, `more_shots` lowers harm but spends
    more interceptors (a side effect on a key outcome), `twin` is `more_shots` written again."""
    from scenario_sim.experiment import run_experiment

    d = minimal_doc()
    d.update(name="tradeoff", horizon_days=40, replications=30, seed=11)
    d["air_defense"]["systems"][0]["cost_per_shot_usd"] = 1000
    d["outputs"] = {"primary": "civilian_harm", "key": ["civilian_harm", "interceptor_spend_usd", "leaked.total"]}
    shots = {"air_defense.systems.guns.doctrine.shots_per_target": 2,
             "air_defense.systems.guns.capacity_per_wave": 1000}
    d["recommendations"] = [
        {"name": "same", "changes": {"air_defense.systems.guns.pk.drone": 0.5}},
        {"name": "more_shots", "changes": shots},
        {"name": "twin", "changes": dict(shots)},
    ]
    p = tmp_path_factory.mktemp("tradeoff") / "tradeoff.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return run_experiment(p, jobs=1, out=tmp_path_factory.mktemp("tradeoff-res")).run_dir


def test_shares_split_better_tied_worse() -> None:
    import numpy as np

    from scenario_sim.analysis.pairwise import shares

    d = np.array([-2.0, -1.0, 0.0, 0.0, 3.0])
    assert shares(d, "lower", 10.0) == (0.4, 0.4, 0.2)
    assert shares(d, "higher", 10.0) == (0.2, 0.4, 0.4)
    assert all(np.isnan(shares(d, "none", 1.0)))


def test_comparison_shows_ties_and_flags_side_effects(tradeoff_run: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = cli(["compare", str(tradeoff_run)], capsys)
    assert code == 0
    t = pd.read_csv(tradeoff_run / "comparison.csv")
    harm = t[t["outcome"] == "civilian_harm"].set_index("set")
    assert harm.loc["same", ["p_better", "p_tied", "p_worse"]].tolist() == [0.0, 1.0, 0.0]
    assert (harm[["p_better", "p_tied", "p_worse"]].sum(axis=1).drop("baseline") - 1).abs().max() < 1e-12
    assert harm.loc["more_shots", "p_better"] > 0.5
    flagged = t[t["side_effect"]]
    assert set(zip(flagged["set"], flagged["outcome"], strict=True)) == {
        ("more_shots", "interceptor_spend_usd"), ("twin", "interceptor_spend_usd")}
    assert "Side effects" in out and "more_shots: interceptor_spend_usd" in " ".join(out.split())
    row = next(ln for ln in out.splitlines() if ln.startswith("│") and " more_shots " in ln)
    assert row.rstrip().rstrip("│").split("│")[-1].strip() == "1"  # worse on one key outcome
    # The twin cannot be told from the leader; `same` and the baseline can.
    rows = {ln.split("│")[2].strip(): ln for ln in out.splitlines() if ln.startswith("│")}
    leader = next(name for name, ln in rows.items() if "leader" in ln)
    assert leader in ("more_shots", "twin")
    other = "twin" if leader == "more_shots" else "more_shots"
    assert "≈" in rows[other].split("│")[-3] and "≈" not in rows["same"].split("│")[-3]


def test_compare_against_a_set_and_the_pairwise_matrix(tradeoff_run: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = cli(["compare", str(tradeoff_run), "--against", "more_shots", "--format", "csv"], capsys)
    assert code == 0
    vs = pd.read_csv(__import__("io").StringIO(out)).set_index("set")
    assert set(vs.index) == {"baseline", "same", "twin"}
    assert vs.loc["twin", "diff"] == 0 and vs.loc["twin", "p_tied"] == 1.0 and not vs.loc["twin", "distinguishable"]
    assert vs.loc["baseline", "diff"] > 0 and vs.loc["baseline", "distinguishable"]  # harm: higher is worse
    code, out, _ = cli(["compare", str(tradeoff_run), "--pairwise"], capsys)
    assert code == 0 and "row minus column" in out
    pw = pd.read_csv(tradeoff_run / "pairwise.csv")
    assert len(pw) == 4 * 3  # every ordered pair of the four sets
    ab = pw[(pw["set"] == "more_shots") & (pw["against"] == "baseline")].iloc[0]
    ba = pw[(pw["set"] == "baseline") & (pw["against"] == "more_shots")].iloc[0]
    assert ab["diff"] == -ba["diff"] and ab["p_value_holm"] == ba["p_value_holm"]
    assert ab["ci_low"] == -ba["ci_high"] and ab["p_better"] == ba["p_worse"]
    assert (pw["p_value_holm"] >= pw["p_value"]).all()
    code, _, err = cli(["compare", str(tradeoff_run), "--against", "mor_shots"], capsys)
    one_line_error(code, err, "--against: no set 'mor_shots' in this run (did you mean 'more_shots'?)")


def test_latest_is_the_newest_run_whether_plain_or_explore(tmp_path: Path) -> None:
    """`latest` orders plain (<stamp>-<id>) and explore (explore-<stamp>-<id>) folders by start time."""
    from scenario_sim.runrefs import resolve_run, run_folders

    root = tmp_path / "results" / "reference"
    for name in ("20261201-100000-aaaaaa", "explore-20261201-110000-bbbbbb", "20261201-090000-cccccc"):
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text("{}")
    assert resolve_run(str(root / "latest")).name == "explore-20261201-110000-bbbbbb"
    assert [p.name for p in run_folders(root)] == ["20261201-090000-cccccc", "20261201-100000-aaaaaa",
                                                  "explore-20261201-110000-bbbbbb"]


def test_latest_of_a_kind_skips_the_other_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """After an explore, `compare latest` still means the newest plain run, `robust latest` the
    newest explore (a newcomer's `compare latest` failed on the explore folder)."""
    from scenario_sim.errors import ResultsError
    from scenario_sim.runrefs import resolve_run

    root = tmp_path / "results"
    for name in ("20261201-100000-aaaaaa", "explore-20261201-110000-bbbbbb"):
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text("{}")
    assert resolve_run(str(root / "latest"), kind="run").name == "20261201-100000-aaaaaa"
    assert resolve_run(str(root / "latest"), kind="explore").name == "explore-20261201-110000-bbbbbb"
    (root / "20261201-100000-aaaaaa" / "manifest.json").unlink()
    with pytest.raises(ResultsError, match=r"no folder of scenario-sim run under .*the newest there, "
                                           r"explore-20261201-110000-bbbbbb, is from scenario-sim explore"):
        resolve_run(str(root / "latest"), kind="run")
    code, _, err = cli(["compare", str(root / "latest")], capsys)
    one_line_error(code, err, "no folder of scenario-sim run under")


@pytest.mark.parametrize("command", [["run"], ["explore"], ["show"], ["validate"]])
def test_a_misspelt_bundled_scenario_gets_a_did_you_mean(command: list[str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli([*command, "referense"], capsys)
    one_line_error(code, err, "referense: no such file, and no bundled scenario of that name "
                              "(did you mean 'reference'?) (bundled: minimal, reference)")
    code, _, err = cli([*command, "nothing_like_it"], capsys)
    one_line_error(code, err, "no bundled scenario of that name (bundled: minimal, reference)")
    assert "did you mean" not in err


def test_pairwise_p_values_are_scipys_one_sample_t_test() -> None:
    """The paired tests use scipy.special's Student t (no scipy.stats import in `run`); they agree
    with scipy.stats.ttest_1samp, including the degenerate cases."""
    import math

    import numpy as np
    from scipy import stats

    from scenario_sim.analysis.pairwise import _test

    rng = np.random.default_rng(3)
    for n in (2, 3, 10, 400):
        for shift in (0.0, 0.1, 1.0, 5.0):
            d = rng.normal(shift, 2.0, n)
            want = float(stats.ttest_1samp(d, 0.0).pvalue)
            assert _test(d, 0.95)[3] == pytest.approx(want, rel=1e-9, abs=1e-300)
    assert _test(np.zeros(5), 0.95)[3] == 1.0 and _test(np.ones(5), 0.95)[3] == 0.0
    assert math.isnan(_test(np.ones(1), 0.95)[3])


_RUN = ["run", "scenarios/minimal.yaml", "-n", "2"]
_EXPLORE = ["explore", "reference", "--cases", "2", "--replications", "2"]


@pytest.mark.parametrize("args,where", [
    # while the workers start (before any folder)
    (_RUN, "scenario_sim.experiment.executors.InProcess.start"),
    (_EXPLORE, "scenario_sim.experiment.executors.InProcess.start"),
    (["frontier", "reference", "--items", "readiness_on_contact,stronger_sanctions", "-n", "2"],
     "scenario_sim.experiment.executors.InProcess.start"),
    # after the folder exists but before the session's own handler is in place: the folder goes
    (_RUN, "scenario_sim.experiment.engine._Run.execute"),
    (_EXPLORE, "scenario_sim.experiment.ensemble._Explore.execute"),
], ids=["run-start", "explore-start", "frontier-start", "run-folder", "explore-folder"])
def test_ctrl_c_before_the_session_says_nothing_was_written_and_leaves_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        args: list[str], where: str) -> None:
    """Ctrl-C before a session can save anything: exit 130 and a line that says what happened (not
    click's blank line and "aborted"), and no file left behind (no stray folder for `latest`)."""
    import importlib

    module, cls, method = where.rsplit(".", 2)

    def interrupted(*a: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(getattr(importlib.import_module(module), cls), method, interrupted)
    monkeypatch.chdir(ROOT)
    out = tmp_path / "results"
    code, _, err = cli([*args, "-j", "1", "-q", "--out", str(out)], capsys)
    assert code == 130, err
    assert err == "interrupted before the run folder was created; nothing was written\n", repr(err)
    assert not out.exists() or not any(p for p in out.rglob("*") if p.is_file()), list(out.rglob("*"))


def test_ctrl_c_before_a_resume_starts_says_the_folder_is_unchanged() -> None:
    from scenario_sim.cli_options import InterruptedBeforeFolder

    exc = InterruptedBeforeFolder(resume=True)
    assert exc.exit_code == 130
    assert str(exc) == "interrupted before the resumed session started; the run folder is unchanged"


def test_ctrl_c_before_any_command_starts_names_what_was_not_written() -> None:
    from scenario_sim.cli import _interrupted_before_the_command as said

    assert said(["frontier", "reference"]) == "interrupted before the run folder was created; nothing was written"
    assert said(["explore", "--resume=latest"]).endswith("the run folder is unchanged")
    assert said(["validate", "x.yaml"]) == "scenario-sim: interrupted"


def test_ctrl_c_while_click_parses_the_options_says_nothing_was_written(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """click turns a Ctrl-C inside its own parsing into Abort; the line says what it means
    (before any command: nothing written; after an engine returned: the replications are kept)."""
    import scenario_sim.cli_options as opts

    def interrupted(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(click.IntRange, "convert", interrupted)
    monkeypatch.setattr(opts, "_RESULTS_WRITTEN", [False])
    code, _, err = cli(["run", "scenarios/minimal.yaml", "-n", "2"], capsys)
    # click's blank line first (it ends the terminal's ^C echo), then one line, not "aborted"
    assert (code, err) == (130, "\ninterrupted before the run folder was created; nothing was written\n")
    monkeypatch.setattr(opts, "_RESULTS_WRITTEN", [True])  # as after an engine returned in this process
    code, _, err = cli(["run", "scenarios/minimal.yaml", "-n", "2"], capsys)
    assert (code, err) == (130, "\nscenario-sim: interrupted after the replications were written; they are kept\n")


# --------------------------------------------------------------------------- the run's parent (issue 15)


def test_the_progress_bar_starts_at_its_first_update_and_on_start_runs_once_before_it() -> None:
    """No thread before the first update (a process pool forks only a single-threaded process);
    ``on_start`` (the ranking's imports) runs once, at that update, before the bar starts."""
    import threading

    from scenario_sim.commands import _Progress

    # threads by identity, not a count: a thread an earlier test started (the ranking's warm-up
    # imports of an in-process run) may end during this one on a loaded machine
    before = set(threading.enumerate())

    def new() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and t.is_alive()]

    calls: list[list[threading.Thread]] = []
    with _Progress(True, "running", on_start=lambda: calls.append(new())) as progress:
        assert new() == []
        progress(0, 10)
        progress(5, 10)
        assert calls == [[]]
        assert new() != []  # rich's refresh thread, now
    assert new() == []
    quiet: list[int] = []
    with _Progress(False, "running", on_start=lambda: quiet.append(1)) as progress:
        progress(0, 10)
        progress(10, 10)
    assert quiet == [1]


def test_the_ranking_imports_are_warmed_in_a_thread_and_a_missing_module_stops_them_quietly() -> None:
    code = ("import sys, threading\nfrom scenario_sim.commands import _warm_imports\n"
            "_warm_imports(('scenario_sim.report.costs', 'scenario_sim.no_such_module', 'scenario_sim.report.html'))\n"
            "for t in threading.enumerate():\n"
            "    if t.name == 'scenario-sim-warm-imports':\n        t.join()\n"
            "print('scenario_sim.report.costs' in sys.modules, 'scenario_sim.report.html' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.split() == ["True", "False"], r.stdout
