"""Calibration: the records loader, estimates, the event study, and malformed input."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from scenario_sim.calibrate.command import calibrate_records, fragment
from scenario_sim.calibrate.estimate import fit_truncated_negbin, wilson
from scenario_sim.cli import main
from scenario_sim.lang import load_scenario

ROOT = Path(__file__).resolve().parent.parent
EXCERPT = ROOT / "tests" / "data" / "attacks_excerpt.csv"
HEADER = ["time_start", "time_end", "model", "launch_place", "target", "target_main", "launched", "destroyed",
          "not_reach_goal", "still_attacking", "border_crossing", "is_shahed", "num_hit_location",
          "num_fall_fragment_location", "carrier", "turbojet", "turbojet_destroyed", "affected region",
          "destroyed_details", "launched_details", "launch_place_details", "source"]


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


# --------------------------------------------------------------------------- the real excerpt


def _by_hand() -> dict[str, Any]:
    """Counts recomputed from the raw excerpt with nothing but the csv module."""
    shahed_l = shahed_d = shahed_n = 0
    ballistic_l = 0
    national = regional = 0
    daily: dict[str, float] = {}
    with EXCERPT.open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            day = r["time_start"].strip()[:10]
            if not ("2025-02-08" <= day <= "2025-02-16") or not r["launched"]:
                continue
            if not r["source"].startswith("kpszsu"):
                regional += 1
                continue
            national += 1
            m = r["model"]
            if "Shahed" in m:
                shahed_l += int(float(r["launched"]))
                shahed_d += int(float(r["destroyed"]))
                shahed_n += int(float(r["not_reach_goal"] or 0))
            elif m in ("Iskander-M", "Iskander-M/KN-23", "X-47 Kinzhal", "C-300", "C-400", "KN-23"):
                ballistic_l += int(float(r["launched"]))
            # long-range classes of the shipped mapping ("Unknown Missile" counts as cruise)
            if any(k in m for k in ("Shahed", "Iskander", "X-", "Kalibr", "C-300", "C-400", "KN-23",
                                    "Unknown Missile")) and " and " not in m:
                daily[day] = daily.get(day, 0.0) + float(r["launched"])
    return {"shahed": (shahed_l, shahed_d, shahed_n), "ballistic": ballistic_l, "regional": regional,
            "daily": daily}


def test_loader_counts_and_rates_match_a_hand_computation() -> None:
    hand = _by_hand()
    res = calibrate_records(EXCERPT, since=dt.date(2025, 2, 8), until=dt.date(2025, 2, 16))
    assert res["rows"]["read"] == 45
    sh = res["observed"]["shahed"]
    L, D, N = hand["shahed"]
    assert (sh["launched"], sh["destroyed"], sh["not_reach_goal"]) == (L, D, N)
    assert sh["destroyed_rate"] == pytest.approx(D / L)
    assert sh["destroyed_rate_ci"] == pytest.approx(list(wilson(D, L)))
    assert sh["defeated_rate"] == pytest.approx((D + N) / L)
    assert res["observed"]["ballistic"]["launched"] == hand["ballistic"]
    reasons = res["rows"]["unusable_by_reason"]
    assert sum(v for k, v in reasons.items() if k.startswith("regional")) >= hand["regional"]
    assert reasons["launched is empty"] == 2
    assert any(k.startswith("combines classes") for k in reasons)
    assert res["rows"]["used"] + sum(reasons.values()) == res["rows"]["read"]


def test_event_study_ratio_matches_a_hand_computation(tmp_path: Path) -> None:
    hand = _by_hand()["daily"]
    res = calibrate_records(EXCERPT, since=dt.date(2025, 2, 8), until=dt.date(2025, 2, 16),
                            contacts=_contacts_file(tmp_path), window=1, pre_window=3, n_placebo=200)
    es = res["event_study"]
    assert es["contacts_used"] == ["2025-02-12"]
    days = [f"2025-02-{d:02d}" for d in range(8, 17)]
    y = [hand.get(d, 0.0) for d in days]
    post = (y[4] + y[5]) / 2
    pre = (y[1] + y[2] + y[3]) / 3
    assert es["multiplier"] == pytest.approx(post / pre)
    assert es["profile"][0] == pytest.approx(y[4] / pre)


def _contacts_file(tmp: Path) -> Path:
    p = tmp / "contacts.csv"
    p.write_text("date,kind,status\n2025-02-12,call,confirmed\n2024-11-07,call,denied\n")
    return p


def test_unknown_model_names_are_listed(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    _write(p, [("2025-01-01 20:00", "Mystery-9", 5, 3), ("2025-01-02 20:00", "Shahed-136/131", 10, 8)])
    res = calibrate_records(p)
    assert res["unknown_models"] == {"Mystery-9": 1}
    assert res["rows"]["used"] == 1


# --------------------------------------------------------------------------- synthetic truth


def _write(path: Path, rows: list[tuple[str, str, int, int]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for start, model, launched, destroyed in rows:
            cells = {"time_start": start, "time_end": start[:10] + " 09:00", "model": model,
                     "launched": f"{launched}.0", "destroyed": f"{destroyed}.0", "source": "kpszsu/posts/x"}
            w.writerow([cells.get(h, "") for h in HEADER])


def _synthetic(tmp: Path, surge: float, seed: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    start = dt.date(2022, 1, 1)
    n_days, mean, k, share = 1100, 100.0, 3.0, 0.9
    contacts = [40 + 27 * i for i in range(38)]
    rows = []
    for d in range(n_days):
        x = rng.negative_binomial(k, k / (k + mean)) if rng.random() < share else 0
        if any(0 <= d - c <= 3 for c in contacts):
            x = round(x * surge)
        if x > 0:
            day = start + dt.timedelta(days=d)
            rows.append((f"{day} 20:00", "Shahed-136/131", int(x), int(rng.binomial(x, 0.8))))
    attacks = tmp / f"attacks-{surge}.csv"
    _write(attacks, rows)
    cf = tmp / "contacts.csv"
    cf.write_text("date,kind,status\n" + "".join(f"{start + dt.timedelta(days=c)},call,confirmed\n" for c in contacts))
    return attacks, cf


@pytest.mark.slow
def test_synthetic_surge_is_recovered(tmp_path: Path) -> None:
    attacks, contacts = _synthetic(tmp_path, surge=2.0, seed=11)
    es = calibrate_records(attacks, contacts, n_placebo=2000, seed=1)["event_study"]
    lo, hi = es["multiplier_ci"]
    assert lo <= 2.0 <= hi
    assert es["supported"] and es["p_value"] < 0.01


@pytest.mark.slow
def test_synthetic_without_surge_recovers_waves_and_finds_no_surge(tmp_path: Path) -> None:
    attacks, contacts = _synthetic(tmp_path, surge=1.0, seed=12)
    res = calibrate_records(attacks, contacts, n_placebo=2000, seed=1)
    w = res["waves"]["shahed"]
    fit = w["negbin_positive_days"]
    assert fit["mean_ci"][0] <= 100.0 <= fit["mean_ci"][1]
    assert fit["dispersion_ci"][0] <= 3.0 <= fit["dispersion_ci"][1]
    assert w["share_ci"][0] <= 0.9 * (1 - (3 / 103) ** 3) <= w["share_ci"][1]
    ob = res["observed"]["shahed"]
    assert ob["destroyed_rate_ci"][0] <= 0.8 <= ob["destroyed_rate_ci"][1]
    es = res["event_study"]
    assert not es["supported"] and es["p_value"] > 0.05
    assert "do NOT support" in es["verdict"]


def test_truncated_negbin_fit_recovers_parameters() -> None:
    rng = np.random.default_rng(5)
    x = rng.negative_binomial(2.0, 2.0 / (2.0 + 40.0), 4000)
    fit = fit_truncated_negbin(x[x > 0])
    assert fit["mean_ci"][0] <= 40 <= fit["mean_ci"][1]
    assert fit["dispersion_ci"][0] <= 2.0 <= fit["dispersion_ci"][1]


# --------------------------------------------------------------------------- fragment and CLI


def test_fragment_extends_into_a_valid_scenario(tmp_path: Path) -> None:
    attacks, contacts = _synthetic(tmp_path, surge=1.0, seed=3)
    res = calibrate_records(attacks, contacts, n_placebo=200)
    (tmp_path / "fragment.yaml").write_text(fragment(res, 2.5))
    d = yaml.safe_load((ROOT / "scenarios" / "minimal.yaml").read_text())
    d["munitions"][0]["name"] = "shahed"
    d["attacker"]["arsenal"] = {"shahed": {"initial_stock": 1000}}
    del d["attacker"]["waves"]
    d["attacker"]["surge"] = {"enabled": True, "lag_days": 1, "size_multiplier": 2}
    d["air_defense"]["systems"][0].update(engages=["shahed"], pk={"shahed": 0.5})
    d["consequences"]["hit_probability"] = {"shahed": 0.5}
    d["recommendations"] = []
    d["extends"] = "fragment.yaml"
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    s = load_scenario(tmp_path / "s.yaml").baseline
    assert s.attacker.waves.classes["shahed"].size.dist == "negbin"
    assert s.attacker.surge.probability.dist == "uniform"
    assert s.attacker.surge.probability.low == 0.0  # not supported: the range starts at zero


def test_shipped_reference_uses_the_shipped_calibration() -> None:
    import json

    cal = json.loads((ROOT / "scenarios" / "calibration" / "calibration.json").read_text())
    frag = yaml.safe_load((ROOT / "scenarios" / "calibration" / "fragment.yaml").read_text())
    s = load_scenario(ROOT / "scenarios" / "reference.yaml").baseline
    assert cal["provenance"]["date_span"] == ["2025-01-01", "2025-06-30"]
    for c, spec in frag["attacker"]["waves"]["classes"].items():
        assert s.attacker.waves.classes[c].probability == spec["probability"]
        assert s.attacker.arsenal[c].production_per_day == frag["attacker"]["arsenal"][c]["production_per_day"]
    assert s.attacker.surge.probability.high == frag["attacker"]["surge"]["probability"]["high"]


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cal"
    code, text, err = _cli(["calibrate", str(EXCERPT), "--contacts", str(_contacts_file(tmp_path)), "--window", "1",
                            "--pre-window", "3", "--placebo", "200", "--out", str(out)], capsys)
    assert code == 0, err
    assert "interception" in text and "contact event study" in text
    assert sorted(p.name for p in out.iterdir()) == ["calibration.json", "event_study.png", "fragment.yaml",
                                                     "launches.png"]


@pytest.mark.parametrize("content, message", [
    ("", "empty file"),
    ("time_start,model,launched\n2025-01-01,Shahed,3\n", ":1: missing column(s) time_end, destroyed, source"),
    (",".join(HEADER) + "\n2025-01-01,2025-01-02,Shahed-136/131,,,,abc,1,,,,,,,,,,,,,,kpszsu/x\n",
     ":2: launched: expected a whole number >= 0 (got 'abc')"),
    (",".join(HEADER) + "\n2025-01-01,2025-01-02,Shahed-136/131,,,,12.5,1,,,,,,,,,,,,,,kpszsu/x\n",
     ":2: launched: expected a whole number"),
    (",".join(HEADER) + "\n2025-13-45,2025-01-02,Shahed-136/131,,,,3,1,,,,,,,,,,,,,,kpszsu/x\n",
     ":2: time_start: not a valid date"),
    (",".join(HEADER) + "\nyesterday,2025-01-02,Shahed-136/131,,,,3,1,,,,,,,,,,,,,,kpszsu/x\n",
     ":2: time_start: expected a date"),
    (",".join(HEADER) + "\n", "no data rows"),
])
def test_malformed_csv_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                                          message: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(content)
    code, _, err = _cli(["calibrate", str(p), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err and str(p) in err, err


def test_bad_contacts_and_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = tmp_path / "c.csv"
    c.write_text("date,kind,status\n2025-02-30,call,confirmed\n")
    code, _, err = _cli(["calibrate", str(EXCERPT), "--contacts", str(c), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and f"{c}:2: date: expected YYYY-MM-DD" in err
    code, _, err = _cli(["calibrate", str(EXCERPT), "--since", "2025-02-31"], capsys)
    assert code == 2 and "expected YYYY-MM-DD" in err and len(err.strip().splitlines()) == 1




def test_defeated_option_chooses_the_headline_rate() -> None:
    a = calibrate_records(EXCERPT, since=dt.date(2025, 2, 8), until=dt.date(2025, 2, 16))
    b = calibrate_records(EXCERPT, since=dt.date(2025, 2, 8), until=dt.date(2025, 2, 16),
                          defeated="destroyed+not_reach_goal")
    sa, sb = a["observed"]["shahed"], b["observed"]["shahed"]
    assert sa["interception_rate"] == sa["destroyed_rate"] < sb["interception_rate"] == sb["defeated_rate"]
    assert b["provenance"]["options"]["defeated"] == "destroyed+not_reach_goal"
