"""Calibration: the records loader, estimates, the event study, and malformed input."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from scenario_sim.calibrate.command import CalibrationOptions, calibrate_records, fragment
from scenario_sim.calibrate.estimate import fit_truncated_negbin, wilson
from scenario_sim.cli import main
from scenario_sim.lang import load_scenario
from scenario_sim.lang.loader import dump_scenario

ROOT = Path(__file__).resolve().parent.parent
EXCERPT = ROOT / "data" / "attacks_excerpt.csv"
CONTACTS = ROOT / "data" / "leader_contacts_2024-11_2025-06.csv"
FEB = CalibrationOptions(since=dt.date(2025, 2, 8), until=dt.date(2025, 2, 16))
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
    res = calibrate_records(EXCERPT, options=FEB)
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
    # nine days: cruise has no destroyed record and no size fit, no class a growth rate; the summary
    # says n/a where the numbers do not exist (the warnings say why), never "nan [nan, nan]"
    from scenario_sim.calibrate.command import summary_text

    text = summary_text(res)
    assert "nan" not in text.replace("n/a", ""), text
    assert "mean n/a, dispersion n/a; growth n/a" in text and "growth n/a" in text


def test_event_study_ratio_matches_a_hand_computation(tmp_path: Path) -> None:
    hand = _by_hand()["daily"]
    res = calibrate_records(EXCERPT, _contacts_file(tmp_path), replace(FEB, window=1, pre_window=3, n_placebo=200))
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
    es = calibrate_records(attacks, contacts, CalibrationOptions(n_placebo=2000, seed=1))["event_study"]
    lo, hi = es["multiplier_ci"]
    assert lo <= 2.0 <= hi
    assert es["supported"] and es["p_value"] < 0.01


@pytest.mark.slow
def test_synthetic_without_surge_recovers_waves_and_finds_no_surge(tmp_path: Path) -> None:
    attacks, contacts = _synthetic(tmp_path, surge=1.0, seed=12)
    res = calibrate_records(attacks, contacts, CalibrationOptions(n_placebo=2000, seed=1))
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
    res = calibrate_records(attacks, contacts, CalibrationOptions(n_placebo=200, ew_layer=None, gun_layer=None))
    (tmp_path / "fragment.yaml").write_text(fragment(res))
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
    cal = json.loads((ROOT / "scenarios" / "calibration" / "calibration.json").read_text())
    frag = yaml.safe_load((ROOT / "scenarios" / "calibration" / "fragment.yaml").read_text())
    s = load_scenario(ROOT / "scenarios" / "reference.yaml").baseline
    assert cal["provenance"]["date_span"] == ["2025-01-01", "2025-06-29"]  # the last launch in the records
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


@pytest.mark.parametrize(("row", "n"), [("2025-02-12,c", 2), ("2025-02-12,call,confirmed,x,y", 5)])
def test_a_contacts_row_with_too_few_or_many_fields_is_a_malformed_row(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, n: int) -> None:
    c = tmp_path / "kc.csv"
    c.write_text(f"date,kind,status\n2025-02-11,call,confirmed\n{row}\n")
    code, _, err = _cli(["calibrate", str(EXCERPT), "--contacts", str(c), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and f"{c}:3: malformed row: {n} field(s), the header has 3" in err, err
    assert len(err.strip().splitlines()) == 1, err




def test_defeated_option_chooses_the_headline_rate() -> None:
    a = calibrate_records(EXCERPT, options=FEB)
    b = calibrate_records(EXCERPT, options=replace(FEB, defeated="destroyed+not_reach_goal"))
    sa, sb = a["observed"]["shahed"], b["observed"]["shahed"]
    assert sa["interception_rate"] == sa["destroyed_rate"] < sb["interception_rate"] == sb["defeated_rate"]
    assert b["provenance"]["options"]["defeated"] == "destroyed+not_reach_goal"


# --------------------------------------------------------------------------- each calibrated number in one place


def _leaves(d: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted leaf paths of a fragment; named lists are keyed by name, as ``extends`` merges them."""
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_leaves(v, f"{prefix}{k}."))
    elif isinstance(d, list) and all(isinstance(x, dict) and "name" in x for x in d):
        for x in d:
            out.update(_leaves({k: v for k, v in x.items() if k != "name"}, f"{prefix}{x['name']}."))
    else:
        out[prefix[:-1]] = d
    return out


def _get(d: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(d, list):
            d = next((x for x in d if isinstance(x, dict) and x.get("name") == part), None)
        elif isinstance(d, dict):
            d = d.get(part)
        if d is None:
            return None
    return d


def test_fragment_holds_the_drone_layer_kill_probabilities() -> None:
    cal = json.loads((ROOT / "scenarios" / "calibration" / "calibration.json").read_text())
    frag = yaml.safe_load((ROOT / "scenarios" / "calibration" / "fragment.yaml").read_text())
    sh = cal["observed"]["shahed"]
    ew = sh["not_reach_goal"] / sh["launched_with_destroyed"]
    gun = sh["destroyed"] / (sh["launched_with_destroyed"] - sh["not_reach_goal"])
    assert ew == pytest.approx(sh["defeated_rate"] - sh["destroyed_rate"])
    systems = {s["name"]: s for s in frag["air_defense"]["systems"]}
    for key, layer, pooled in (("electronic_warfare", "electronic_warfare", ew), ("gun", "mobile_fire_groups", gun)):
        fit = cal["layers"][key]["density"]["shahed"]
        frag_layer = systems[layer]
        # pk at the median night, and the wave-size exponent, as fitted on the nights
        assert frag_layer["pk"]["shahed"] == pytest.approx(1 - fit["survival_at_reference"], rel=1e-3)
        assert frag_layer["density"]["survival_exponent"]["shahed"] == pytest.approx(fit["survival_exponent"], rel=1e-3)
        assert frag_layer["density"]["reference_wave_munitions"] == pytest.approx(fit["reference_wave_munitions"])
        lo, hi = fit["survival_exponent_ci"]
        assert lo <= fit["survival_exponent"] <= hi
        # the median night's pk is close to the pooled share (the records are not far from flat)
        assert abs(frag_layer["pk"]["shahed"] - pooled) < 0.03
    assert frag["contacts"]["stochastic"]["rate_per_day"] == pytest.approx(
        cal["contacts"]["in_window"] / cal["contacts"]["days"], rel=1e-3)


def test_reference_retypes_no_calibrated_number() -> None:
    """Every number of the fragment reaches the reference through ``extends`` alone."""
    frag = yaml.safe_load((ROOT / "scenarios" / "calibration" / "fragment.yaml").read_text())
    raw = yaml.safe_load((ROOT / "scenarios" / "reference.yaml").read_text())
    effective = dump_scenario(load_scenario(ROOT / "scenarios" / "reference.yaml").baseline)
    leaves = _leaves(frag)
    assert "air_defense.systems.electronic_warfare.pk.shahed" in leaves
    for path, value in leaves.items():
        assert _get(raw, path) is None, f"reference.yaml retypes {path}"
        got = _get(effective, path)
        assert got == value or got == pytest.approx(value), (path, got, value)


def test_reference_scheduled_contacts_are_the_files_confirmed_contacts() -> None:
    cal = json.loads((ROOT / "scenarios" / "calibration" / "calibration.json").read_text())
    s = load_scenario(ROOT / "scenarios" / "reference.yaml").baseline
    end = dt.date.fromisoformat(cal["provenance"]["date_span"][1])
    listed = [str(c.date) for c in s.contacts.scheduled if c.date <= end]
    assert listed == cal["contacts"]["dates"]
    with CONTACTS.open(encoding="utf-8") as f:
        confirmed = [r["date"] for r in csv.DictReader(f) if r["status"] == "confirmed" and r["date"] >= "2025-01-01"]
    assert listed == confirmed


def test_model_doc_numbers_are_generated_from_the_calibration() -> None:
    spec = importlib.util.spec_from_file_location("make_calibration_numbers",
                                                  ROOT / "docs" / "make_calibration_numbers.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    doc = (ROOT / "docs" / "model.md").read_text()
    assert mod.block() in doc, "run: python docs/make_calibration_numbers.py --write"
    # and the generator does read the calibration: a changed number changes the block
    cal = json.loads((ROOT / "scenarios" / "calibration" / "calibration.json").read_text())
    cal["layers"]["electronic_warfare"]["pk"]["shahed"] = 0.123
    assert "0.123" in mod.block(cal) and mod.block(cal) not in doc


def test_no_reference_to_files_outside_the_repository() -> None:
    files = [ROOT / "scenarios" / "reference.yaml", *sorted((ROOT / "scenarios" / "calibration").glob("*.yaml")),
             ROOT / "scenarios" / "calibration" / "calibration.json", *sorted((ROOT / "docs").glob("*.md")),
             ROOT / "README.md", ROOT / "data" / "README.md"]
    for f in files:
        text = f.read_text(encoding="utf-8")
        for bad in ("shared/data", "shared/seeds", "shared/docs", "docs/brief.md"):
            assert bad not in text, (f.name, bad)


def test_readme_calibrate_example_runs_as_written(tmp_path: Path) -> None:
    """The README's calibrate line, run from a copy of the repository root's data/ folder."""
    readme = (ROOT / "README.md").read_text()
    lines = [ln.split("#")[0].strip() for ln in readme.splitlines() if ln.startswith("scenario-sim calibrate ")]
    assert lines, "the README shows a calibrate example"
    shutil.copytree(ROOT / "data", tmp_path / "data")
    for line in lines:
        args = shlex.split(line)[1:]
        r = subprocess.run([sys.executable, "-m", "scenario_sim", *args], cwd=tmp_path, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
        assert r.returncode == 0, r.stderr
        out = Path(tmp_path / (args[args.index("--out") + 1] if "--out" in args else "calibration"))
        assert (out / "fragment.yaml").is_file() and (out / "calibration.json").is_file()


# --------------------------------------------------------------------------- damaged and extreme input


def _excerpt_lines() -> list[str]:
    return EXCERPT.read_text(encoding="utf-8").splitlines(keepends=True)


def test_short_row_is_reported_as_malformed_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _excerpt_lines()
    lines[7] = "2025-02-10 20:00,2025-02-11 09:00,Shahed-136/131,,Ukraine\n"
    p = tmp_path / "short.csv"
    p.write_text("".join(lines), encoding="utf-8")
    code, _, err = _cli(["calibrate", str(p), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert err.strip() == f"error: {p}:8: malformed row: 5 field(s), the header has 22" or \
        f"{p}:8: malformed row: 5 field(s), the header has 22" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("year", ["2205", "9999"])
def test_year_typo_is_reported_with_its_line_and_left_out(tmp_path: Path, year: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    lines = _excerpt_lines()
    i = next(j for j, ln in enumerate(lines) if ln.startswith("2025-02-12 20:00"))
    lines[i] = year + lines[i][4:]
    p = tmp_path / "typo.csv"
    p.write_text("".join(lines), encoding="utf-8")
    cal = calibrate_records(p)
    assert len(cal.daily) < 800  # the window stays on the records (2023-05..2025-06), not centuries
    assert any(f"{p}:{i + 1}:" in w for w in cal.warnings), cal.warnings
    assert cal["rows"]["used"] + sum(cal["rows"]["unusable_by_reason"].values()) == cal["rows"]["read"]
    code, _, err = _cli(["calibrate", str(p), "--out", str(tmp_path / "o")], capsys)
    assert code == 0
    warned = [ln for ln in err.splitlines() if ln.startswith("warning:") and "date" in ln]
    assert len(warned) == 1 and f":{i + 1}:" in warned[0]


def test_latin1_contacts_and_huge_counts_are_one_line_located_errors(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    c = tmp_path / "contacts.csv"
    c.write_bytes("date,kind,status,note\n2025-02-12,call,confirmed,Caf\u00e9 talk\n".encode("latin-1"))
    code, _, err = _cli(["calibrate", str(EXCERPT), "--contacts", str(c), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and f"{c}:2:" in err and "UTF-8" in err and len(err.strip().splitlines()) == 1, err
    lines = _excerpt_lines()
    cells = next(csv.reader([lines[3]]))
    cells[HEADER.index("launched")] = "1" * 21
    lines[3] = ",".join(f'"{x}"' if "," in x else x for x in cells) + "\n"
    p = tmp_path / "huge.csv"
    p.write_text("".join(lines), encoding="utf-8")
    code, _, err = _cli(["calibrate", str(p), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and f"{p}:4: launched: count" in err and len(err.strip().splitlines()) == 1, err


def test_invalid_utf8_records_is_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = EXCERPT.read_bytes().splitlines(keepends=True)
    i = next(j for j, ln in enumerate(raw) if j and b"Shahed" in ln)
    raw[i] = raw[i].replace(b"Shahed", b"Sh\xe4hed", 1)
    p = tmp_path / "latin.csv"
    p.write_bytes(b"".join(raw))
    code, _, err = _cli(["calibrate", str(p), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and f"{p}:{i + 1}:" in err and "UTF-8" in err and len(err.strip().splitlines()) == 1, err


# --------------------------------------------------------------------------- window, event study, degenerate fits


def test_days_before_the_first_record_are_not_zeros() -> None:
    cal = calibrate_records(EXCERPT, options=CalibrationOptions(since=dt.date(2020, 1, 1), until=dt.date(2030, 1, 1)))
    first = cal.daily.index[0]
    assert str(first.date()) == cal["provenance"]["date_span"][0] != "2020-01-01"
    assert cal.daily.iloc[0].sum() > 0 and cal.daily.iloc[-1].sum() > 0


def test_contact_near_since_keeps_its_pre_window_and_placebos_span_the_period(tmp_path: Path) -> None:
    attacks, contacts = _synthetic(tmp_path, surge=1.0, seed=4)
    since, until = dt.date(2022, 6, 1), dt.date(2023, 6, 30)
    cs = [dt.date(2022, 6, 10), dt.date(2022, 9, 1), dt.date(2023, 1, 15)]
    contacts.write_text("date,kind,status\n" + "".join(f"{d},call,confirmed\n" for d in cs))
    cal = calibrate_records(attacks, contacts, CalibrationOptions(since=since, until=until, n_placebo=300))
    es = cal["event_study"]
    assert es["contacts_used"] == [str(d) for d in cs]  # 2022-06-10 is 9 days after --since
    assert es["placebo_date_span"][0] == str(since)
    assert str(cal.daily.index[0].date()) == str(since)  # the estimates still start at --since


def test_untestable_event_study_says_so() -> None:
    from scenario_sim.calibrate.eventstudy import EventStudyOptions, event_study

    days = pd.date_range("2025-01-01", periods=60, freq="D")
    y = pd.Series(0.0, index=days)
    y.iloc[[30, 31]] = 50.0  # launches only right after the contact
    es = event_study(y, [days[30]], EventStudyOptions(window=1, pre_window=5, n_placebo=200, n_boot=200))
    assert math.isnan(es["p_value"]) and not es["supported"]
    assert es["verdict"].startswith("The test could NOT be run") and "do NOT support" not in es["verdict"]


def _bimodal(tmp: Path) -> Path:
    """Cruise-like nights: many of 1-5 missiles, a few combined strikes of 40-110."""
    rng = np.random.default_rng(2)
    start = dt.date(2024, 11, 1)
    rows = []
    for d in range(240):
        if rng.random() < 0.24:
            x = int(rng.integers(40, 110)) if rng.random() < 0.2 else int(rng.integers(1, 6))
            rows.append((f"{start + dt.timedelta(days=d)} 20:00", "Kalibr", x, x // 2))
        rows.append((f"{start + dt.timedelta(days=d)} 21:00", "Shahed-136/131", 100, 60))
    p = tmp / "bimodal.csv"
    _write(p, rows)
    return p


def test_degenerate_wave_fit_warns_and_falls_back_within_bounds(tmp_path: Path) -> None:
    cal = calibrate_records(_bimodal(tmp_path), options=CalibrationOptions(ew_layer=None, gun_layer=None))
    fit = cal["waves"]["cruise"]["negbin_positive_days"]
    assert "degenerate" in fit and fit["fallback"]["dispersion"] == pytest.approx(0.2)
    assert any(w.startswith("cruise: wave-size fit is degenerate") for w in cal.warnings)
    frag = yaml.safe_load(fragment(cal).split("\n", 1)[1])
    spec = frag["attacker"]["waves"]["classes"]["cruise"]
    assert spec["size"]["dispersion"] == pytest.approx(0.2)
    assert 0.24 < spec["probability"] < 0.9  # neither every night nor almost never
    # the fallback keeps the mean launches per night: p * mean = share * positive-day mean
    w = cal["waves"]["cruise"]
    assert spec["probability"] * spec["size"]["mean"] == pytest.approx(
        w["share_of_days"] * fit["positive_day_mean"], rel=0.02)
    text = (tmp_path / "cal.json")
    text.write_text(json.dumps(cal.data, default=float))
    assert "fallback" in json.loads(text.read_text())["waves"]["cruise"]["negbin_positive_days"]


def test_national_channels_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "a.csv"
    _write(p, [("2025-01-01 20:00", "Shahed-136/131", 10, 8), ("2025-01-02 20:00", "Shahed-136/131", 20, 10)])
    text = p.read_text().replace("kpszsu/posts/x", "airforce2/posts/y", 1)
    p.write_text(text)
    a = calibrate_records(p)
    assert a["observed"]["shahed"]["launched"] == 20
    b = calibrate_records(p, options=CalibrationOptions(national_channels=("kpszsu", "airforce2")))
    assert b["observed"]["shahed"]["launched"] == 30
    code, _, err = _cli(["calibrate", str(p), "--national-channels", "kpszsu,airforce2", "--out",
                           str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "o" / "calibration.json").read_text())["observed"]["shahed"]["launched"] == 30


def test_calibrate_then_simulate_round_trip(tmp_path: Path) -> None:
    """A fragment from the excerpt, simulated over the excerpt's nights, gives its launch counts."""
    from scenario_sim.lang.loader import read_document, validate_document
    from scenario_sim.model import compile_scenario, simulate

    cal = calibrate_records(EXCERPT, CONTACTS, replace(FEB, window=1, pre_window=3, n_placebo=200))
    frag = tmp_path / "fragment.yaml"
    frag.write_text(fragment(cal))
    doc = yaml.safe_load((ROOT / "scenarios" / "reference.yaml").read_text())
    doc["extends"] = str(frag)
    days = len(cal.daily)
    doc.update(start_date=str(cal.daily.index[0].date()), horizon_days=days)
    doc["attacker"]["surge"]["enabled"] = False  # the fitted waves already hold the observed nights
    for spec in doc["attacker"]["arsenal"].values():
        spec["initial_stock"] = 100_000
    for system in doc["air_defense"]["systems"]:
        if "interceptors" in system:
            system["interceptors"]["resupply"]["first"] = doc["start_date"]
    doc["recommendations"] = []
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    m = compile_scenario(validate_document(read_document(tmp_path / "s.yaml"), "s"))
    classes = cal["classes"]
    sims = np.array([[simulate(m, 7, r).outcomes[f"launched.{c}"] for c in classes] for r in range(400)])
    for j, c in enumerate(classes):
        observed = cal["observed"][c]["launched"]
        mean, sd = sims[:, j].mean(), sims[:, j].std(ddof=1)
        # the observed total is one draw of the same quantity: within 3 simulated sd of the simulated mean
        assert abs(mean - observed) <= 3 * sd + 1, (c, observed, mean, sd)
        assert abs(mean - observed) <= 0.5 * observed + 2, (c, observed, mean)


def test_bad_mapping_yaml_and_malformed_contacts_are_one_line(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    m = tmp_path / "map.yaml"
    m.write_text("classes:\n  shahed: [shahed\n  cruise: [kalibr]\n")
    code, _, err = _cli(["calibrate", str(EXCERPT), "--mapping", str(m), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and f"{m}:" in err and "invalid YAML" in err and len(err.strip().splitlines()) == 1, err
    c = tmp_path / "contacts.csv"
    c.write_text('date,kind,status\n2025-02-12,call,"confirmed\n')
    code, _, err = _cli(["calibrate", str(EXCERPT), "--contacts", str(c), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and str(c) in err and len(err.strip().splitlines()) == 1, err
