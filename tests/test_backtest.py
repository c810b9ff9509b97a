"""Backtests: scores against hand computations, windows, the window scenario, the CLI end to end."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scoringrules

from scenario_sim.backtest import scores
from scenario_sim.backtest.build import window_scenario
from scenario_sim.backtest.nights import NightRecorder
from scenario_sim.backtest.windows import parse_months, resolve_windows
from scenario_sim.cli import main
from scenario_sim.errors import UserError
from scenario_sim.model.simulation import simulate

ROOT = Path(__file__).resolve().parent.parent
EXCERPT = ROOT / "data" / "attacks_excerpt.csv"
REFERENCE = ROOT / "scenarios" / "reference.yaml"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def _strict_json(path: Path) -> dict[str, object]:
    def no_constants(name: str) -> None:
        raise AssertionError(f"{path}: bare {name} in JSON")

    data = json.loads(path.read_text(), parse_constant=no_constants)
    assert isinstance(data, dict)
    return data


# --------------------------------------------------------------------------- scores by hand


def test_randomised_pit_by_hand() -> None:
    ens = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    # y = 3: F(y-) = 2/5, F(y) = 3/5; u = 0.5 gives the middle, u = 0 and 1 the ends
    for u, want in ((0.5, 0.5), (0.0, 0.4), (1.0, 0.6)):
        assert scores.randomised_pit(np.array([3.0]), ens, np.array([u]))[0] == pytest.approx(want)
    # outside the ensemble: 0 below it, 1 above it, whatever u
    assert scores.randomised_pit(np.array([0.0, 9.0]), np.repeat(ens, 2, axis=1), np.array([0.7, 0.2])).tolist() == [
        0.0, 1.0]


def test_crps_is_scoringrules_and_the_ensemble_formula() -> None:
    ens = np.array([1.0, 2.0, 3.0])
    # E|X - y| - E|X - X'| / 2 = 2/3 - (8/9)/2 = 2/9 for y = 2
    got = scores.crps(np.array([2.0]), ens[:, None])[0]
    assert got == pytest.approx(2 / 9)
    assert got == pytest.approx(float(scoringrules.crps_ensemble(2.0, ens)))
    assert scores.crps(np.array([10.0]), ens[:, None])[0] == pytest.approx(8 - 4 / 9)


def test_coverage_table_band_inside_and_labels() -> None:
    sim = np.arange(1, 101, dtype=float).reshape(100, 1, 1).repeat(2, axis=1)   # R=100, M=2, C=1
    obs = np.array([[5.0], [50.0]])
    rows = scores.coverage_table(obs, sim, ["2025-01", "2025-02"], ["shahed"], np.full((2, 1), 0.5))
    lo, hi = np.quantile(np.arange(1, 101), [0.05, 0.95])
    assert [r["month"] for r in rows] == ["2025-01", "2025-02"]
    assert rows[0]["sim_q05"] == pytest.approx(lo) and rows[0]["sim_q95"] == pytest.approx(hi)
    assert [r["inside"] for r in rows] == [False, True]       # 5 < 5.95
    assert rows[1]["pit"] == pytest.approx(0.495)            # 49/100 below, 50/100 at or below


def test_pit_histogram_outer_deciles() -> None:
    h = scores.pit_histogram([0.05, 0.5, 0.95, 0.35, 0.99, float("nan")])
    assert h["n"] == 5 and h["outer_deciles"] == 3 and h["outer_share"] == pytest.approx(0.6)
    assert h["counts"] == [1, 0, 0, 1, 0, 1, 0, 0, 0, 2]


def test_ratio_interval_by_hand() -> None:
    # r = 36/300 = 0.12; residuals -2, 0, 2: var = 8 / (3*2) / 100^2; t(0.975, 2) = 4.3027
    r, lo, hi = scores.ratio_interval(np.array([10, 12, 14]), np.array([100, 100, 100]))
    half = 4.302652729911275 * math.sqrt(8 / 6) / 100
    assert (r, lo, hi) == pytest.approx((0.12, 0.12 - half, 0.12 + half))
    assert math.isnan(scores.ratio_interval(np.array([1]), np.array([10]))[1])


def test_leak_bins_bin_nights_and_check_the_interval() -> None:
    known = np.array([[50.0], [60.0], [150.0], [0.0]])           # 2 nights in 1-99, 1 in 100+
    leaked = np.array([[5.0], [6.0], [30.0], [0.0]])
    sim_l = np.array([[[50.0], [150.0], [160.0], [0.0]]])          # R=1
    sim_k = np.array([[[5.0], [15.0], [48.0], [0.0]]])
    rows = scores.leak_bin_table(known, leaked, sim_l, sim_k, ["shahed"], [1, 100], min_nights=2)
    low, high = rows
    assert (low["bin"], low["nights_observed"], low["observed"]) == ("1-99", 2, pytest.approx(0.1))
    assert low["observed_lo"] == low["observed_hi"] == pytest.approx(0.1)   # both nights exactly 10%
    assert low["sim"] == pytest.approx(0.1) and low["inside"] and low["applies"]
    assert (high["bin"], high["nights_observed"], high["applies"]) == ("100+", 1, False)
    assert high["sim"] == pytest.approx(63 / 310) and high["sim_nights_per_replication"] == 2


def test_cooccurrence_by_hand() -> None:
    obs = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0], [0, 1, 0]], dtype=float)   # a, b, c
    sim = np.stack([obs, obs])
    rows = {(r["class"], r["statistic"]): r for r in scores.cooccurrence_table(obs, sim, ["a", "b", "c"])}
    assert rows[("a", "P(a | b)")]["observed"] == pytest.approx(2 / 3)
    assert rows[("a", "P(a | no b)")]["observed"] == 0.0
    assert rows[("b", "P(b | a)")]["observed"] == 1.0
    assert rows[("b", "P(b | no a)")]["observed"] == pytest.approx(0.5)
    assert rows[("a", "P(a | other)")]["observed"] == pytest.approx(2 / 3)   # other = b or c
    assert math.isnan(rows[("a", "P(a | c)")]["observed"])                  # c never attacks
    assert rows[("a", "P(a | b)")]["inside"] and rows[("a", "P(a | b)")]["sim_median"] == pytest.approx(2 / 3)


def test_wave_size_table_counts_thresholds() -> None:
    obs = np.array([[0.0], [100.0], [300.0], [500.0]])
    sim = np.stack([obs, obs * 0 + 10])
    rows = {r["statistic"]: r for r in scores.wave_size_table(obs, sim, ["shahed"], [0.5], [300, 500])}
    assert rows["nights_with_launches"]["observed"] == 3
    assert rows["q50"]["observed"] == 300
    assert rows["nights_ge_300"]["observed"] == 2 and rows["nights_ge_500"]["observed"] == 1
    # replications give 2 and 0 such nights: band 0.1-1.9, so the observed 2 is outside it
    assert rows["nights_ge_300"]["sim_q05"] == pytest.approx(0.1) and not rows["nights_ge_300"]["inside"]


# --------------------------------------------------------------------------- windows


FIRST, LAST = dt.date(2022, 9, 28), dt.date(2025, 6, 29)


def test_month_windows() -> None:
    assert parse_months("--train", "2024-01..2024-06") == (dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    w = resolve_windows(FIRST, LAST, train="2024-07..2024-12", test="2025-01..2025-06")
    assert w.simulate == (dt.date(2024, 7, 1), LAST) and w.test == (dt.date(2025, 1, 1), LAST)
    assert w.clipped and "2025-06-29" in w.clipped


@pytest.mark.parametrize("kw, message", [
    ({"train": "2024-1..2024-06", "test": "2024-07..2024-12"}, "--train: expected months as YYYY-MM..YYYY-MM"),
    ({"train": "2024-01..2024-13", "test": "2025-01..2025-02"}, "--train: month 2024-13 does not exist"),
    ({"train": "2024-06..2024-01", "test": "2025-01..2025-02"}, "--train: the window ends before it starts"),
    ({"train": "2024-01..2024-06", "test": "2024-06..2024-12"}, "must start after the training window"),
    ({"train": "2024-01..2024-06"}, "--train and --test go together"),
    ({"train": "2022-01..2022-06", "test": "2024-07..2024-12"}, "--train: the window starts on 2022-01-01, before"),
    ({"train": "2024-01..2024-06", "test": "2025-06..2025-08"}, "--test: the window ends on 2025-08-31, after"),
    ({"since": dt.date(2025, 7, 5)}, "after the last usable record"),
    ({"since": dt.date(2025, 3, 1), "until": dt.date(2025, 2, 1)}, "is before --since"),
])
def test_bad_windows_are_one_line_errors(kw: dict[str, object], message: str) -> None:
    with pytest.raises(UserError) as exc:
        resolve_windows(FIRST, LAST, **kw)  # type: ignore[arg-type]
    assert message in str(exc.value) and "\n" not in str(exc.value)


# --------------------------------------------------------------------------- window scenario and recorder


def test_window_scenario_moves_the_calendar_but_not_known_contacts() -> None:
    s = window_scenario(REFERENCE, "baseline", dt.date(2024, 7, 1), dt.date(2025, 3, 31))
    assert s.start_date == dt.date(2024, 7, 1) and s.horizon_days == 274
    patriot = next(x for x in s.air_defense.systems if x.name == "patriot")
    assert patriot.interceptors is not None and patriot.interceptors.resupply is not None
    assert patriot.interceptors.resupply.first == dt.date(2025, 1, 20) - dt.timedelta(days=184)
    assert [c.date for c in s.contacts.scheduled] == [dt.date(2025, 2, 12), dt.date(2025, 3, 18)]
    assert s.recommendations == [] and s.uncertainties == []


def test_window_scenario_takes_the_fragment_numbers() -> None:
    frag = {"attacker": {"arsenal": {"shahed": {"production_per_day": 12.5},
                                     "unknown_class": {"production_per_day": 1}},
                         "waves": {"classes": {"cruise": {"probability": 0.05}}}},
            "air_defense": {"systems": [{"name": "electronic_warfare", "pk": {"shahed": 0.2}},
                                        {"name": "not_a_layer", "pk": {"shahed": 0.9}}]}}
    s = window_scenario(REFERENCE, "baseline", dt.date(2025, 1, 1), dt.date(2025, 1, 31), frag)
    assert s.attacker.arsenal["shahed"].production_per_day == 12.5
    ew = next(x for x in s.air_defense.systems if x.name == "electronic_warfare")
    assert ew.pk["shahed"] == 0.2
    assert "not_a_layer" not in s.system_names


def test_recorder_reads_without_changing_draws() -> None:
    s = window_scenario(REFERENCE, "baseline", dt.date(2025, 1, 1), dt.date(2025, 2, 28))
    plain = simulate(s, 7, 3)
    rec = NightRecorder(s.horizon_days, "electronic_warfare")
    seen = simulate(s, 7, 3, recorder=rec)
    assert seen.outcomes == plain.outcomes
    for j, c in enumerate(s.class_names):
        assert rec.counts["launched"][:, j].sum() == plain.outcomes[f"launched.{c}"]
        leaked = rec.counts["launched"][:, j] - rec.counts["destroyed"][:, j] - rec.counts["not_reach_goal"][:, j]
        assert leaked.sum() == plain.outcomes[f"leaked.{c}"]
    assert rec.counts["not_reach_goal"][:, s.class_names.index("cruise")].sum() == 0   # EW engages drones only


def test_nights_do_not_depend_on_the_executor() -> None:
    from scenario_sim.backtest.simulate import simulate_nights
    from scenario_sim.experiment.executors import InProcess, LocalPool

    s = window_scenario(REFERENCE, "baseline", dt.date(2025, 1, 1), dt.date(2025, 1, 20))
    one = simulate_nights(s, 5, 11, "electronic_warfare", InProcess())
    two = simulate_nights(s, 5, 11, "electronic_warfare", LocalPool(2))
    assert len(one) == len(two) == 5
    for a, b in zip(one, two, strict=True):
        for k in a:
            assert np.array_equal(a[k], b[k]), k
    assert not np.array_equal(one[0]["launched"], one[1]["launched"])   # replications differ


# --------------------------------------------------------------------------- the command


def test_backtest_cli_on_the_excerpt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(["backtest", "reference", "--records", str(EXCERPT), "--since", "2025-02-08",
                           "--until", "2025-02-16", "-n", "4", "-j", "1", "-q", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert out.startswith("In sample (reference, set baseline, on 2025-02-08..2025-02-16, 4 replications)")
    (folder,) = tmp_path.glob("backtest-*")
    summary = _strict_json(folder / "backtest.json")
    # nine days are not six months: the monthly targets are not judged, the month is marked partial
    assert "Too short to judge the monthly targets: 1 month(s), 1 partial" in out
    assert "2025-02 partial, 9 of 28 nights" in out and "All applicable targets met" not in out
    assert "not judged" not in out and out.lower().count("too short") == 1  # said once, at the end
    assert summary["ok"] is False and summary["status"] == "not judged"
    assert summary["calibration_window"] == ["2025-01-01", "2025-06-29"] and summary["kind"] == "in sample"
    assert {"format", "format_version", "scenario", "set", "train", "test", "replications", "verdict",
            "coverage", "ok"} <= set(summary)
    assert summary["format"] == "scenario-sim-backtest" and summary["format_version"] == 1
    assert summary["train"] is None and summary["test"] == ["2025-02-08", "2025-02-16"]
    assert summary["coverage"] == {c: {"inside": summary["coverage"][c]["inside"], "months": 1}  # type: ignore[index]
                                   for c in ("shahed", "cruise", "ballistic")}
    assert (folder / "verdict.txt").read_text().strip() == summary["verdict"]
    for name in ("coverage.csv", "rates.csv", "wave_sizes.csv", "leak_bins.csv", "cooccurrence.csv",
                 "coverage.png", "pit.png", "leak_bins.png", "config.json", "scenario.yaml"):
        assert name in summary["files"], name  # type: ignore[operator]
    _strict_json(folder / "config.json")
    # observed February shahed launches: the excerpt's national rows (test_calibrate checks them by hand)
    import pandas as pd

    cov = pd.read_csv(folder / "coverage.csv")
    assert cov.loc[cov["class"] == "shahed", "observed"].item() == 1114


def test_verdict_names_concerns_and_judges_six_months() -> None:
    from scenario_sim.backtest.core import month_nights, targets_of, verdict

    months = month_nights(dt.date(2025, 1, 1), dt.date(2025, 6, 29))
    assert [m["partial"] for m in months] == [False] * 5 + [True] and months[-1]["nights"] == 29
    cov = [{"class": "shahed", "month": m["month"], "inside": True} for m in months]
    rates = [{"class": "shahed", "month": "all", "rate": "defeated", "observed": 0.97, "n_observed": 50,
              "sim_q05": 0.86, "sim_median": 0.89, "sim_q95": 0.91, "inside": False}]
    tables: dict[str, list[dict[str, object]]] = {"coverage": cov, "rates": rates, "wave_sizes": [],
                                                  "leak_bins": []}
    pit = {"n": 6, "outer_share": 0.0, "outer_deciles": 0}
    t = targets_of(tables, pit, False, ["shahed"], months)  # type: ignore[arg-type]
    assert t["judged"] and t["status"] == "concerns" and t["ok"] is False
    summary = {"train": None, "test": ["2025-01-01", "2025-06-29"], "scenario": "s", "set": "baseline",
               "replications": 2, "pit": pit, "targets": t, "min_leak_nights": 20, "in_sample": False,
               "calibration_window": ["2024-01-01", "2024-06-30"]}
    text = verdict(summary, tables)  # type: ignore[arg-type]
    assert text.startswith("Plain backtest (the scenario was calibrated on 2024-01-01..2024-06-30)")
    assert "Concerns: shahed defeated share recorded 0.97, outside the simulated 90% band 0.86-0.91" in text
    assert "2025-06 partial, 29 of 30 nights" in text and "All applicable targets met, but with concerns." in text
    rates[0]["inside"] = True
    assert targets_of(tables, pit, False, ["shahed"], months)["ok"] is True  # type: ignore[arg-type]
    # five months are too few for a target stated for six
    assert not targets_of(tables, pit, False, ["shahed"], months[:5])["judged"]  # type: ignore[arg-type]


def test_plain_backtest_outside_the_calibration_window_is_not_in_sample(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default window is the records' whole usable span; the excerpt's older rows lie before the
    reference's calibration window (2025-H1), so it is a plain backtest, and the gap warning is printed
    once (inside the verdict)."""
    code, out, err = _cli(["backtest", "reference", "--records", str(EXCERPT), "-n", "2", "-j", "1", "-q",
                           "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert out.startswith("Plain backtest (the scenario was calibrated on 2025-01-01..2025-06-29) (reference")
    assert (out + err).count("consecutive nights without any record") == 1
    (folder,) = tmp_path.glob("backtest-*")
    assert _strict_json(folder / "backtest.json")["kind"] == "plain"


def test_time_split_on_the_excerpt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The excerpt holds nine contiguous days of February 2025 (and a few older rows): a training
    month without records is refused by calibrate's own check, in one line, before any simulation."""
    code, _, err = _cli(["backtest", "reference", "--records", str(EXCERPT), "--train", "2025-01..2025-01",
                         "--test", "2025-02..2025-02", "-n", "2", "-q", "--out", str(tmp_path)], capsys)
    assert code == 2 and err.count("\n") == 1 and "no usable rows between --since 2025-01-01" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args, message", [
    (["--train", "2024-01..2024-06"], "--train and --test go together"),
    (["--train", "x", "--test", "2025-01..2025-02"], "--train: expected months"),
    (["--since", "2020-01-01"], "before the first usable record"),
    (["--set", "no_such_set"], "no_such_set"),
    (["--leak-bins", "100,50"], "--leak-bins: expected increasing"),
    (["--leak-bins", "a,b"], "--leak-bins: expected comma-separated whole numbers"),
    (["-n", "1"], "-n"),
    (["--contacts", str(ROOT / "data" / "leader_contacts_2024-11_2025-06.csv")],
     "--contacts: used only by a time split"),
    (["--train", "2025-01..2025-01", "--test", "2025-02..2025-02", "--contacts", "/no/such.csv"], "no such file"),
])
def test_backtest_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                     message: str) -> None:
    code, _, err = _cli(["backtest", "reference", "--records", str(EXCERPT), "-q", "--out", str(tmp_path), *args],
                        capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not list(tmp_path.glob("backtest-*"))


def test_backtest_unknown_set_is_an_option_error_not_a_file_error(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["backtest", "reference", "--records", str(EXCERPT), "-q", "--out", str(tmp_path),
                         "--set", "combind"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--set: unknown recommendation set 'combind' (did you mean 'combined'?)" in err
    assert "reference.yaml" not in err, err
    assert not list(tmp_path.glob("backtest-*"))


def test_backtest_bad_records_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    text = EXCERPT.read_text().splitlines()
    bad.write_text("\n".join([text[0], text[1].replace(",147.0,", ",many,"), *text[2:]]) + "\n")
    code, _, err = _cli(["backtest", "reference", "--records", str(bad), "-q", "--out", str(tmp_path)], capsys)
    assert code == 2 and f"{bad}:2" in err and "launched" in err


def test_destroyed_more_than_launched_is_a_located_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    text = EXCERPT.read_text().splitlines()
    assert ",147.0,83.0,59.0," in text[1]
    bad.write_text("\n".join([text[0], text[1], text[2].replace(",3.0,0.0,3.0,", ",3.0,5.0,0.0,"), *text[3:]])
                   + "\n")
    for cmd in (["backtest", "reference", "--records", str(bad), "-q", "--out", str(tmp_path)],
                ["calibrate", str(bad), "--out", str(tmp_path / "cal")]):
        code, _, err = _cli(cmd, capsys)
        assert code == 2 and err == f"{bad}:3: destroyed: more than launched (destroyed 5, launched 3)\n", err
    assert not list(tmp_path.glob("backtest-*"))


def test_destroyed_plus_not_reach_goal_over_launched_is_clamped_with_a_warning(tmp_path: Path) -> None:
    """One real row (2024-12-27, Shahed: 16 launched, 15 destroyed, 11 not_reach_goal) double counts; it is
    clamped (not_reach_goal = launched - destroyed) and named, not an error that blocks the real records."""
    from scenario_sim.calibrate.records import read_records

    odd = tmp_path / "odd.csv"
    text = EXCERPT.read_text().splitlines()
    odd.write_text("\n".join([text[0], text[1].replace(",147.0,83.0,59.0,", ",147.0,100.0,59.0,"), *text[2:]])
                   + "\n")
    rs = read_records(odd)
    assert rs.report.warnings == []  # warned by the window that reads the row (test below), not by the reader
    (w,) = rs.clamp_warnings()
    assert w.startswith(f"{odd}:2: not_reach_goal: destroyed + not_reach_goal is more than launched")
    assert "1 row(s)" in w
    row = rs.frame[rs.frame["row"] == 0].iloc[0]
    assert (row["launched"], row["destroyed"], row["not_reach_goal"]) == (147, 100, 47)
    assert read_records(EXCERPT).report.warnings == [] and read_records(EXCERPT).clamp_warnings() == []
    assert rs.clamp_warnings([1, 2, 3]) == [] and rs.clamp_warnings([0]) == [w]


def _odd_excerpt(tmp_path: Path) -> Path:
    """The excerpt with its 2025-02-16 Shahed row double counting (destroyed + not_reach_goal > launched)."""
    odd = tmp_path / "odd.csv"
    text = EXCERPT.read_text().splitlines()
    assert text[1].startswith("2025-02-16 21:00")
    odd.write_text("\n".join([text[0], text[1].replace(",147.0,83.0,59.0,", ",147.0,100.0,59.0,"), *text[2:]])
                   + "\n")
    return odd


@pytest.mark.parametrize("until, warned", [("2025-02-15", False), ("2025-02-16", True)])
def test_the_clamp_warning_only_where_the_window_reads_the_row(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               until: str, warned: bool) -> None:
    """Issue 11 leftover: the one clamped row of the full records (2024-12-27) was named in every
    verdict; now only in a backtest or calibration whose window holds it."""
    odd = _odd_excerpt(tmp_path)
    code, out, err = _cli(["backtest", "reference", "--records", str(odd), "--since", "2025-02-08", "--until", until,
                           "-n", "2", "-j", "1", "-q", "--out", str(tmp_path / "b")], capsys)
    assert code == 0, err
    assert ("not_reach_goal clamped" in out + err) is warned
    (folder,) = (tmp_path / "b").glob("backtest-*")
    assert any("clamped" in w for w in _strict_json(folder / "backtest.json")["warnings"]) is warned  # type: ignore[union-attr]
    code, _, err = _cli(["calibrate", str(odd), "--since", "2025-02-08", "--until", until, "--out",
                         str(tmp_path / "cal")], capsys)
    assert code == 0, err
    assert (f"{odd}:2: not_reach_goal: destroyed + not_reach_goal is more than launched" in err) is warned


def test_rows_read_by_a_time_split_are_the_training_and_the_scored_windows() -> None:
    import pandas as pd

    from scenario_sim.backtest.core import _rows_read
    from scenario_sim.backtest.windows import Windows

    rows = pd.DataFrame({"row": [10, 11, 12, 13], "date": pd.to_datetime(["2024-06-30", "2024-12-27", "2025-01-02",
                                                                         "2025-07-01"])})
    d = dt.date
    split = Windows((d(2024, 7, 1), d(2025, 6, 30)), (d(2025, 1, 1), d(2025, 6, 30)), (d(2024, 7, 1), d(2024, 12, 31)))
    assert _rows_read(rows, split).tolist() == [11, 12]  # the training window is read too (calibrate)
    plain = Windows((d(2025, 1, 1), d(2025, 6, 30)), (d(2025, 1, 1), d(2025, 6, 30)), None)
    assert _rows_read(rows, plain).tolist() == [12]


def test_a_gap_is_measured_whole_even_where_the_window_cuts_it() -> None:
    """Issue 11 leftover: a window that starts inside a long gap saw only its last 7 nights, which
    looked like a quiet week and got no warning; the run is now measured between the records on
    either side of it, inside the window or not."""
    from scenario_sim.backtest.core import MAX_GAP_NIGHTS, _gaps, night_gaps

    d = dt.date
    feb = [d(2025, 2, k) for k in range(8, 17)]
    recorded = [d(2025, 1, 1), d(2025, 1, 20), *feb]
    assert night_gaps(recorded, d(2025, 2, 1), d(2025, 2, 16)) == [(d(2025, 1, 21), d(2025, 2, 7), 7)]
    (w,) = _gaps(recorded, d(2025, 2, 1), d(2025, 2, 16))
    assert w.startswith("the records have 18 consecutive nights without any record from 2025-01-21 to 2025-02-07, "
                        "7 of them in the scored window 2025-02-01..2025-02-16")
    # the same at the end: the window ends inside a gap that the next record closes
    (w,) = _gaps([*feb, d(2025, 3, 10)], d(2025, 2, 8), d(2025, 2, 20))
    assert "21 consecutive nights" in w and "4 of them in the scored window" in w
    # wholly inside: runs of 8, 7 and 12 nights; the 7 (the threshold itself) is not counted
    inside = [d(2025, 3, 1), d(2025, 3, 10), d(2025, 3, 18), d(2025, 3, 31)]
    (w,) = _gaps(inside, d(2025, 3, 1), d(2025, 3, 31))
    assert w.startswith("the records have 12 consecutive nights without any record in the scored window (the "
                        "longest of 2 such runs)")
    week = [d(2025, 3, 1), d(2025, 3, 1 + MAX_GAP_NIGHTS + 1), d(2025, 3, 31)]
    assert _gaps(week[:2], d(2025, 3, 1), week[1]) == []
    # a window without a single record lies inside one run
    assert night_gaps([d(2025, 1, 1), d(2025, 3, 1)], d(2025, 2, 1), d(2025, 2, 10)) == [
        (d(2025, 1, 2), d(2025, 2, 28), 10)]


def test_a_backtest_window_starting_inside_a_gap_is_warned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The excerpt's usable February 2025 records start on the 8th, after a gap since 2023-05-16 (its 2024
    rows are not national reports of a scored class): a window from 2025-02-01 holds 7 nights of that gap
    and says so."""
    code, out, err = _cli(["backtest", "reference", "--records", str(EXCERPT), "--since", "2025-02-01", "--until",
                           "2025-02-16", "-n", "2", "-j", "1", "-q", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert ("633 consecutive nights without any record from 2023-05-17 to 2025-02-07, 7 of them in the scored "
            "window 2025-02-01..2025-02-16") in out, out


# --------------------------------------------------------------------------- calibrate leftovers


def test_calibration_json_is_strict_and_warns_on_thin_classes(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["calibrate", str(EXCERPT), "--since", "2025-02-08", "--until", "2025-02-16",
                         "--out", str(tmp_path / "cal")], capsys)
    assert code == 0, err
    data = _strict_json(tmp_path / "cal" / "calibration.json")
    reasons = data["null_reasons"]
    assert isinstance(reasons, dict)
    assert reasons["observed.cruise.destroyed_rate"] == "no record in the window reports destroyed"
    assert reasons["waves.cruise.negbin_positive_days.mean"].startswith("fewer than 3 days with launches (1)")
    assert data["observed"]["cruise"]["destroyed_rate"] is None  # type: ignore[index]
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    cruise = [w for w in warnings if w.startswith("warning: cruise:")]
    assert len(cruise) == 1 and "only 1 day(s) with launches" in cruise[0] and "no interception rate" in cruise[0]
    assert any(w.startswith("warning: ballistic:") and "only 2 day(s)" in w for w in warnings)


# --------------------------------------------------------------------------- the report


def test_report_with_and_without_a_backtest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.report.validation import backtest_status, find_backtest
    from scenario_sim.runrefs import resolve_run

    root = tmp_path / "results"
    code, _, err = _cli(["run", "reference", "-n", "2", "-j", "1", "--sets", "combined", "--out", str(root),
                         "--quiet"], capsys)
    assert code == 0, err
    run = resolve_run(str(root / "latest"))
    assert find_backtest(run, None) is None
    code, out, err = _cli(["report", str(run), "--out", "-"], capsys)
    assert code == 0 and "Validation against the records" not in out

    code, _, err = _cli(["backtest", "reference", "--records", str(EXCERPT), "--since", "2025-02-08", "--until",
                         "2025-02-16", "-n", "3", "-j", "1", "-q", "--out", str(root)], capsys)
    assert code == 0, err
    (bt,) = root.glob("backtest-*")
    # nine days cannot judge six-month targets: not attached automatically, only when given
    assert find_backtest(run, None) is None
    assert backtest_status(bt).startswith(f"Backtest {bt.name} of reference (baseline), in sample, tested on "
                                          "2025-02-08..2025-02-16 with 3 replications: too short to judge")
    code, out, err = _cli(["report", str(run), "--out", "-"], capsys)
    assert code == 0 and "Validation against the records" not in out
    code, out, err = _cli(["report", str(run), "--format", "md", "--out", "-", "--backtest", str(bt)], capsys)
    record = out[out.index("**Against the record.**"):].split("\n")[0]
    # the brief's status line names the backtest; its verdict gives the months and why it is not judged, once
    assert code == 0 and record.count("months inside the 90% band") == 0 and record.lower().count("too short") == 1
    code, out, err = _cli(["report", str(run), "--out", "-", "--backtest", str(bt)], capsys)
    assert code == 0 and f"Given with --backtest {bt}" in out
    assert out.count('src="data:image/png;base64,') >= 3 + 3   # the run's plots and the backtest's three
    assert "<td class=num>1114</td>" in out                    # February's Shahed launches, written out in full
    # the facts up front: window (partial month marked), kind, replications, folder
    assert "<tr><th>Window scored</th><td>2025-02-08..2025-02-16; partial months: 2025-02 (9 of 28 nights)" in out
    assert "<tr><th>Kind</th><td>in sample</td>" in out and "<tr><th>Replications</th><td>3</td>" in out
    assert f"<tr><th>Folder</th><td>{bt}</td>" in out and "different scenario content" not in out
    # not applicable, not "no": a Spearman of too few nights, a leak bin below --min-leak-nights
    assert "<td class=num>spearman(cruise, ballistic)</td><td class=num>n/a</td>" in out
    import re

    leak = re.search(r"<tr><td class=num>ballistic</td><td class=num>1-99</td><td class=num>2</td>(.*?)</tr>", out)
    assert leak and re.fullmatch(r"<td class=num>0</td><td class=num>n/a</td><td class=num>n/a</td>"
                                 r"<td class=num>[0-9.]+</td><td class=num>n/a</td><td class=num>no</td>",
                                 leak.group(1)), leak
    # a backtest whose targets are judged is attached automatically, and a different scenario is named
    summary = json.loads((bt / "backtest.json").read_text())
    summary["targets"]["judged"] = True
    summary["scenario_sha256"] = "0" * 64
    (bt / "backtest.json").write_text(json.dumps(summary))
    assert find_backtest(run, None) == bt
    code, out, err = _cli(["report", str(run), "--out", "-"], capsys)
    assert code == 0 and "Chosen automatically" in out
    assert "The backtest was made with different scenario content (sha256 000000000000) than this run" in out
    # a backtest folder on its own: the validation report, written into the folder
    code, out, err = _cli(["report", str(bt)], capsys)
    assert code == 0 and out.strip() == str(bt / "report.html")
    assert "scenario-sim validation: reference" in (bt / "report.html").read_text()
    # a folder that is not a backtest
    code, _, err = _cli(["report", str(run), "--out", "-", "--backtest", str(tmp_path)], capsys)
    assert code == 2 and "not a backtest folder" in err and err.count("\n") == 1


def test_damaged_backtest_folders_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """backtest.json lists the sha256 of every file: a missing or altered one is named, exit 2, for the
    backtest's own report and for a run's report given it; a folder that lost backtest.json says so."""
    import shutil

    root = tmp_path / "results"
    code, _, err = _cli(["backtest", "reference", "--records", str(EXCERPT), "--since", "2025-02-08", "--until",
                         "2025-02-16", "-n", "2", "-j", "1", "-q", "--out", str(root)], capsys)
    assert code == 0, err
    (bt,) = root.glob("backtest-*")
    code, _, err = _cli(["run", "reference", "-n", "2", "-j", "1", "--sets", "combined", "--out", str(root),
                         "--quiet"], capsys)
    assert code == 0, err
    from scenario_sim.runrefs import resolve_run

    run = resolve_run(str(root / "latest"))

    def damaged(name: str, how: str) -> Path:
        d = tmp_path / f"{name}-{how}"
        shutil.copytree(bt, d)
        (d / name).unlink() if how == "missing" else (d / name).write_bytes(b"changed")
        return d

    for name, how, message in (("coverage.csv", "missing", "coverage.csv: missing, listed in backtest.json"),
                               ("rates.csv", "missing", "rates.csv: missing, listed in backtest.json"),
                               ("pit.png", "missing", "pit.png: missing, listed in backtest.json"),
                               ("config.json", "missing", "config.json: missing, listed in backtest.json"),
                               ("leak_bins.csv", "altered", "leak_bins.csv: altered since the backtest wrote it")):
        d = damaged(name, how)
        code, _, err = _cli(["report", str(d)], capsys)
        assert code == 2 and err.startswith(f"{d}/{message}") and err.count("\n") == 1, err
        code, _, err = _cli(["report", str(run), "--out", "-", "--backtest", str(d)], capsys)
        assert code == 2 and err.startswith(f"{d}/{message}") and err.count("\n") == 1, err
    d = damaged("backtest.json", "missing")
    code, _, err = _cli(["report", str(d)], capsys)
    assert code == 2 and "looks like a backtest folder" in err and "backtest.json is missing" in err, err
    assert "manifest.json" not in err and err.count("\n") == 1


def test_validation_doc_matches_the_stored_backtests() -> None:
    """docs/validation.md's tables are generated from docs/validation/*.json (the full records are
    not shipped); regenerate with: python docs/make_validation.py --write."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_validation", ROOT / "docs" / "make_validation.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.block() in (ROOT / "docs" / "validation.md").read_text(), "run: python docs/make_validation.py --write"
    for name, _, _ in mod.CASES:
        data = json.loads((ROOT / "docs" / "validation" / f"{name}.json").read_text())
        assert data["summary"]["format"] == "scenario-sim-backtest" and data["summary"]["replications"] == 500
        assert data["command"] in (ROOT / "docs" / "validation.md").read_text()


def _synthetic_records(path: Path) -> None:
    """Shahed every night from 2024-01-01 to 2024-04-30: 50 a night in January-February, 200 in
    March-April, 90% destroyed; a cruise strike every tenth night."""
    import csv

    header = ["time_start", "time_end", "model", "launch_place", "target", "target_main", "launched", "destroyed",
              "not_reach_goal", "still_attacking", "border_crossing", "is_shahed", "num_hit_location",
              "num_fall_fragment_location", "carrier", "turbojet", "turbojet_destroyed", "affected region",
              "destroyed_details", "launched_details", "launch_place_details", "source"]
    day = dt.date(2024, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        i = 0
        while day <= dt.date(2024, 4, 30):
            n = 50 if day.month <= 2 else 200
            rows = [("Shahed-136/131", n, int(0.9 * n))] + ([("X-101/X-555", 10, 7)] if i % 10 == 0 else [])
            for model, launched, destroyed in rows:
                cells = {"time_start": f"{day} 20:00", "time_end": f"{day + dt.timedelta(days=1)} 08:00",
                         "model": model, "launched": f"{launched}.0", "destroyed": f"{destroyed}.0",
                         "source": "kpszsu/posts/x"}
                w.writerow([cells.get(h, "") for h in header])
            day += dt.timedelta(days=1)
            i += 1


def test_time_split_calibrates_on_the_training_months(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.calibrate.command import CalibrationOptions, calibrate_records, fragment_document

    csv_path = tmp_path / "synthetic.csv"
    _synthetic_records(csv_path)
    code, out, err = _cli(["backtest", "reference", "--records", str(csv_path), "--train", "2024-01..2024-02",
                           "--test", "2024-03..2024-04", "-n", "20", "-j", "1", "-q", "--out", str(tmp_path)], capsys)
    assert code == 0, err
    assert out.startswith("Out of sample (reference, set baseline, trained on 2024-01-01..2024-02-29, tested on "
                          "2024-03-01..2024-04-30, 20 replications)")
    assert "Warning: the records have no usable row of class(es) ballistic: simulated, not scored" in out
    assert "not scored" not in err                           # printed once: in the verdict
    (folder,) = tmp_path.glob("backtest-*")
    summary = _strict_json(folder / "backtest.json")
    assert summary["train"] == ["2024-01-01", "2024-02-29"] and summary["simulated"] == ["2024-01-01", "2024-04-30"]
    assert summary["coverage"] == {"shahed": {"inside": 0, "months": 2},   # the level quadrupled after training
                                   "cruise": summary["coverage"]["cruise"]}  # type: ignore[index]
    # the fragment is calibrate's own for the training months
    want = fragment_document(calibrate_records(csv_path, None, CalibrationOptions(since=dt.date(2024, 1, 1),
                                                                                   until=dt.date(2024, 2, 29))))
    config = _strict_json(folder / "config.json")
    assert config["fragment"] == json.loads(json.dumps(want))
    import yaml

    simulated = yaml.safe_load((folder / "scenario.yaml").read_text())
    assert simulated["attacker"]["arsenal"]["shahed"]["production_per_day"] == \
        want["attacker"]["arsenal"]["shahed"]["production_per_day"]
    assert simulated["attacker"]["arsenal"]["shahed"]["initial_stock"] == 3000   # the scenario's own assumption
    import pandas as pd

    cov = pd.read_csv(folder / "coverage.csv")
    assert cov.loc[cov["class"] == "shahed", "observed"].tolist() == [200 * 31, 200 * 30]
    assert (cov.loc[cov["class"] == "shahed", "sim_q95"] < 200 * 30).all()


def test_unwritable_out_fails_before_simulating(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _cli(["backtest", "reference", "--records", str(EXCERPT), "-q", "--out", str(blocker / "r")],
                        capsys)
    assert code == 2 and err.startswith(f"--out {blocker / 'r'}: cannot create") and err.count("\n") == 1


# --------------------------------------------------------------------------- self-check (power of the targets)


def _self_check_of(level: np.ndarray, seed: int = 1) -> dict[str, object]:
    """Self-check of a synthetic out-of-sample half-year (2024-07..12): three classes, Poisson
    nights around ``level`` (R, C) launches a night, a constant level within a replication."""
    from scenario_sim.backtest.core import BacktestOptions, month_nights, targets_of
    from scenario_sim.backtest.nights import Nights
    from scenario_sim.backtest.selfcheck import self_check

    rng = np.random.default_rng(seed)
    start, D = dt.date(2024, 7, 1), 184
    launched = rng.poisson(np.repeat(level[:, None, :], D, axis=1)).astype(float)
    sim = Nights(start, ["shahed", "cruise", "ballistic"],
                 {"launched": launched, "known": launched, "destroyed": np.floor(0.9 * launched),
                  "not_reach_goal": np.zeros_like(launched)})
    months = month_nights(start, dt.date(2024, 12, 31))
    # the recorded result to place among the pseudo-observations: 3/6, 6/6, 6/6 and 7/18 outer PITs
    rec = targets_of({"coverage": [{"class": c, "inside": k < n} for c, n in (("shahed", 3), ("cruise", 6),
                                                                                ("ballistic", 6)) for k in range(6)],
                      "leak_bins": [], "rates": [], "wave_sizes": []},
                     {"n": 18, "outer_share": 7 / 18}, True, sim.classes, months)
    return self_check(sim, {"targets": rec, "pit": {"outer_deciles": 7}}, BacktestOptions(), seed)


def test_self_check_independent_months_pass_as_the_binomial_says() -> None:
    """Months independent (a fixed level, Poisson nights): each month is inside the 90% band with
    chance ~0.9 and each PIT uniform, so 'at least 4/6 inside' passes with chance 0.984 per class
    and 'at most 6/18 outer PITs' with 0.949 (binomial); a scorer that let a pseudo-observation
    into its own ensemble, or mixed up months, would not give these."""
    from scipy import stats

    R = 400
    sc = _self_check_of(np.tile([1000.0, 30.0, 8.0], (R, 1)))
    se = lambda p: 4 * math.sqrt(p * (1 - p) / R)  # noqa: E731
    p_month = 1 - stats.binom.cdf(3, 6, 0.9)
    for c in ("shahed", "cruise", "ballistic"):
        assert abs(sc["coverage"][c]["met"] - p_month) < se(p_month) + 0.01, (c, sc["coverage"][c])  # type: ignore
    p_pit = stats.binom.cdf(6, 18, 0.2)
    assert abs(sc["pit_ok"] - p_pit) < se(p_pit) + 0.01, sc["pit_ok"]  # type: ignore[operator]
    assert sc["pseudo_observations"] == R and sc["ensemble"] == R - 1 and sum(sc["pit_outer_counts"]) == R  # type: ignore
    # placed among the pseudo-observations: 3/6 or fewer Shahed months inside is rare here
    assert sc["recorded"]["coverage_at_most"]["shahed"] < 0.05  # type: ignore[index]
    assert sc["recorded"]["coverage_at_most"]["cruise"] == 1.0  # type: ignore[index]


def test_self_check_correlated_months_fail_together() -> None:
    """A level drawn once per replication (lognormal, sd 0.6: like a growth shock) moves a
    half-year's months together: then 'at least 4/6 inside' passes with the chance of one
    month, ~0.9, not the independent months' 0.984, and the PIT values come in runs of six."""
    R = 400
    rng = np.random.default_rng(7)
    sc = _self_check_of(np.exp(rng.normal(np.log([1000.0, 30.0, 300.0]), 0.6, (R, 3))))
    for c in ("shahed", "ballistic"):
        counts = sc["coverage"][c]["months_inside_counts"]  # type: ignore[index]
        assert counts[0] + counts[6] > 0.95 * R, counts        # all months in, or all out
        assert 0.85 < sc["coverage"][c]["met"] < 0.95          # type: ignore[index]
    outer = np.asarray(sc["pit_outer_counts"])
    assert outer[[0, 6, 12, 18]].sum() > 0.85 * R                 # whole classes in the outer deciles or not


def test_backtest_self_check_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(["backtest", "reference", "--records", str(EXCERPT), "--since", "2025-02-08",
                           "--until", "2025-02-16", "-n", "6", "-j", "1", "-q", "--self-check", "--out",
                           str(tmp_path)], capsys)
    assert code == 0, err
    assert "Self-check (6 replications each scored as the record against the other 5" in out
    (folder,) = tmp_path.glob("backtest-*")
    sc = _strict_json(folder / "backtest.json")["self_check"]
    assert sc["pseudo_observations"] == 6 and sc["out_of_sample"] is False and sc["pit_ok"] is None  # type: ignore
    assert sum(sc["coverage"]["shahed"]["months_inside_counts"]) == 6  # type: ignore[index]
    assert all(0 <= v["checked"] <= 6 for v in sc["leak_by_bin"].values())  # type: ignore[union-attr]
