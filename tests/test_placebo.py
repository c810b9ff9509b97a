"""``run --placebo``: contact rules fired on random non-contact days, on CRN (issue 12.4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from scenario_sim.lang import load_scenario
from scenario_sim.lang.bundles import placebo_scenario
from scenario_sim.model.clock import CONTACT_TIME, WAVE_TIME
from scenario_sim.model.compiled import compile_scenario
from scenario_sim.model.placebo import non_contact_days, placebo_days
from scenario_sim.model.simulation import World
from tests.helpers import ROOT, write

REFERENCE = ROOT / "scenarios" / "reference.yaml"
RULE_SETS = ["readiness_on_contact", "logistics_monitoring", "civil_defense_on_contact"]


@pytest.fixture(scope="module")
def twinned() -> tuple[Any, dict[str, tuple[str, list[str]]]]:
    return placebo_scenario(load_scenario(REFERENCE), [*RULE_SETS, "stronger_sanctions", "combined"])


def _world(loaded: Any, name: str, rep: int) -> World:
    w = World.create(compile_scenario(loaded.effective(name)), 7, rep)
    w.run_events()
    w.resolve(False, False)
    return w


def test_twins_of_the_sets_with_contact_rules(twinned: Any) -> None:
    _, twins = twinned
    assert set(twins) == {f"{s}_placebo" for s in [*RULE_SETS, "combined"]}  # sanctions fire on nothing
    assert twins["combined_placebo"][1] == ["air_defense.readiness.after_contact",
                                            "air_defense.readiness.early_warning",
                                            "consequences.civil_defense.after_contact"]


def test_placebo_days_avoid_contacts_and_match_the_count(twinned: Any) -> None:
    loaded, _ = twinned
    for rep in range(8):
        w = _world(loaded, "civil_defense_on_contact_placebo", rep)
        contact_days = {int(c.time) for c in w.bus.log}
        starts = [a - CONTACT_TIME for a, _ in w.civil_defense.windows]
        assert len(starts) == len(w.bus.log) > 0
        days = [round(s) for s in starts]
        assert not contact_days & set(days) and len(set(days)) == len(days)
        r = _world(loaded, "readiness_on_contact_placebo", rep)
        assert len(r.air_defense.raises) == len(r.bus.log)
        assert not {round(a - CONTACT_TIME) for a, _, _ in r.air_defense.raises} & contact_days


def test_early_warning_placebo_fires_as_often_as_the_rule(twinned: Any) -> None:
    loaded, _ = twinned
    fired = 0
    for rep in range(12):
        real = _world(loaded, "logistics_monitoring", rep)
        plc = _world(loaded, "logistics_monitoring_placebo", rep)
        assert len(plc.air_defense.raises) == plc.air_defense.placebo_detected == len(real.air_defense.raises)
        contact_days = {int(c.time) for c in plc.bus.log}
        nights = {round(b - 0.05 - WAVE_TIME) for _, b, _ in plc.air_defense.raises}
        assert not nights & contact_days
        fired += len(real.air_defense.raises)
    assert fired > 0


def test_placebo_days_helpers() -> None:
    free = non_contact_days(10, [0.5, 3.5, 3.7, 12.0])
    assert free.tolist() == [1, 2, 4, 5, 6, 7, 8, 9]
    d = placebo_days(np.random.default_rng(1), 5, free)
    assert len(set(d.tolist())) == 5 and set(d.tolist()) <= set(free.tolist())
    assert placebo_days(np.random.default_rng(1), 50, free).tolist() == free.tolist()


def _noop_doc() -> dict[str, Any]:
    """The reference with the rules' actions made harmless: readiness raised to its own baseline
    level and civil defence that cuts no harm, so only the draws could differ."""
    doc = yaml.safe_load(REFERENCE.read_text())
    doc["extends"] = str(ROOT / "scenarios" / "calibration" / "fragment.yaml")
    doc["air_defense"]["readiness"]["after_contact"]["level"] = doc["air_defense"]["readiness"]["baseline"]
    doc["air_defense"]["readiness"]["early_warning"]["level"] = doc["air_defense"]["readiness"]["baseline"]
    doc["consequences"]["civil_defense"]["harm_factor_when_active"] = 1.0
    return dict(doc)


def _states(w: World) -> dict[str, Any]:
    return {n: repr(w.streams.rng(n).bit_generator.state) for n in w.streams.names}


def test_a_placebo_moves_no_other_stream(tmp_path: Path) -> None:
    p = write(tmp_path, "noop.yaml", yaml.safe_dump(_noop_doc(), sort_keys=False))
    loaded, _ = placebo_scenario(load_scenario(p), ["combined"])
    for rep in range(4):
        base = _world(loaded, "baseline", rep)
        plc = _world(loaded, "combined_placebo", rep)
        real = _world(loaded, "combined", rep)
        extra = {n for n in plc.streams.names if n.startswith("placebo.")}
        assert extra == {"placebo.air_defense.readiness.after_contact", "placebo.air_defense.readiness.early_warning",
                         "placebo.consequences.civil_defense.after_contact"}
        mine = {k: v for k, v in _states(plc).items() if k not in extra}
        theirs = _states(real)
        assert mine == {k: theirs[k] for k in mine}  # every other stream drew exactly as the rule's run
        assert not any(n.startswith("placebo.") for n in [*real.streams.names, *base.streams.names])
    # with a set that is only the harmless rules, every outcome but the burdens equals the baseline's
    only = placebo_scenario(load_scenario(p), ["civil_defense_on_contact"])[0]
    for rep in range(4):
        b = _world(only, "baseline", rep).resolve(False, False).outcomes
        o = _world(only, "civil_defense_on_contact_placebo", rep).resolve(False, False).outcomes
        diff = {k for k in b if b[k] != o[k]}
        assert diff <= {"burden.alert_nights", "cost_usd"}, diff


def test_run_placebo_splits_each_rules_benefit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "reference", "-n", "8", "-j", "1", "-q", "--placebo", "--out", str(tmp_path),
              "--sets", "civil_defense_on_contact,readiness_on_contact,stronger_sanctions", "--report"])
    out = capsys.readouterr()
    assert exc.value.code == 0, out.err
    assert "Placebo control of the contact rules" in out.out
    (folder,) = [p.parent for p in tmp_path.glob("reference/*/placebo.csv")]
    t = pd.read_csv(folder / "placebo.csv")
    assert t["set"].tolist() == ["civil_defense_on_contact", "readiness_on_contact"]
    f = pd.read_parquet(folder / "replications.parquet").pivot(index="replication", columns="set",
                                                                values="civilian_harm")
    r = t.iloc[0]
    assert r["total"] == pytest.approx((f["civil_defense_on_contact"] - f["baseline"]).mean())
    assert r["at_all"] == pytest.approx((f["civil_defense_on_contact_placebo"] - f["baseline"]).mean())
    assert r["on_contacts"] == pytest.approx(r["total"] - r["at_all"])
    assert "Contact rules against chance" in (folder / "report.html").read_text()
    # issue 12 (follow-up) 3: each rule's own burden, so the reader sees the placebo fired as often
    burdens = pd.read_parquet(folder / "replications.parquet").groupby("set")[
        ["burden.alert_nights", "burden.raised_readiness_nights"]].mean()
    ready = t.set_index("set").loc["readiness_on_contact"]
    assert ready["burden"] == "burden.raised_readiness_nights"
    assert ready["burden.raised_readiness_nights.set"] == pytest.approx(
        burdens.loc["readiness_on_contact", "burden.raised_readiness_nights"])
    assert ready["burden.raised_readiness_nights.set"] > 0
    assert t.set_index("set").loc["civil_defense_on_contact", "burden"] == "burden.alert_nights"
    assert "raised-readiness nights" in out.out and "0.000 / 0.000" not in out.out
    # the share from contacts has an interval (delta method) or is marked as resting on a total ≈0
    assert t["share_low"].notna().all() and (t["share_low"] <= t["share_from_contacts"]).all()
    # twins are controls: no P(best), no cost-effectiveness row, never the best under the objective
    comp = pd.read_csv(folder / "comparison.csv")
    twins = comp[comp["set"].str.endswith("_placebo")]
    assert len(twins) and twins["p_best"].isna().all()
    prim = comp[(comp["outcome"] == "civilian_harm") & ~comp["set"].str.endswith("_placebo")]
    assert prim["p_best"].sum() == pytest.approx(1.0)
    ce = pd.read_csv(folder / "costs.csv")
    assert not ce["set"].str.endswith("_placebo").any()
    obj = pd.read_csv(folder / "objectives.csv")
    assert not obj[obj["best"]]["set"].str.endswith("_placebo").any()
    assert obj[obj["set"].str.endswith("_placebo")]["control"].all()


def test_share_from_contacts_interval_is_the_delta_method() -> None:
    from scipy import stats

    from scenario_sim.analysis.placebo import share_interval

    rng = np.random.default_rng(2)
    total = rng.normal(-10, 3, 50)
    on = 0.4 * total + rng.normal(0, 1, 50)
    r, lo, hi = share_interval(on, total, 0.95)
    s = on.mean() / total.mean()
    c = np.cov(on, total)
    se = np.sqrt(c[0, 0] - 2 * s * c[0, 1] + s * s * c[1, 1]) / abs(total.mean()) / np.sqrt(50)
    half = stats.t.ppf(0.975, 49) * se
    assert (r, lo, hi) == pytest.approx((s, s - half, s + half))
    assert lo < 0.4 < hi


@pytest.mark.parametrize(("args", "message"), [
    (["--sets", "stronger_sanctions"], "--placebo: no set of this run switches on a rule"),
    (["--resume", "latest"], "--resume: takes its scenario"),
])
def test_bad_placebo_requests_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  args: list[str], message: str) -> None:
    from scenario_sim.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", *([] if "--resume" in args else ["reference"]), "--placebo", "-q", "--out", str(tmp_path),
              *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and message in err[0], err
    assert not list(tmp_path.glob("reference/*"))
