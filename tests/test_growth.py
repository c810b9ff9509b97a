"""Growth that is uncertain and levels off, and month-to-month tempo (issue 11.3).

``attacker.growth.shock_per_month`` (one draw per replication), ``attacker.growth.
half_life_days`` (growth levels off) and ``attacker.waves.tempo_log_sd`` (a factor per
period): what each does to launches, that each draws from its own stream, and that
calibrate estimates the tempo from the records' monthly scatter.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scenario_sim.calibrate.estimate import growth, growth_regimes
from scenario_sim.lang.loader import validate_document
from scenario_sim.model import compile_scenario, simulate
from scenario_sim.model.compiled import growth_factor
from scenario_sim.model.rng import Streams
from tests.helpers import minimal_doc


def _doc(**attacker: Any) -> dict[str, Any]:
    d = minimal_doc()
    d["horizon_days"] = 360
    d["attacker"]["arsenal"]["drone"] = {"initial_stock": 10**8, "production_per_day": 0}
    d["attacker"]["waves"]["classes"]["drone"] = {"probability": 1.0, "size": 100}
    d["attacker"]["waves"]["size_growth_per_month"] = 0.1
    for k, v in attacker.items():
        if k == "waves":
            d["attacker"]["waves"].update(v)
        else:
            d["attacker"][k] = v
    d["recommendations"] = []
    return d


def _daily(doc: dict[str, Any], reps: int, seed: int = 3) -> np.ndarray[Any, Any]:
    m = compile_scenario(validate_document(doc, "<test>"))
    return np.array([simulate(m, seed, r, timeseries=True).timeseries["launched.drone"]  # type: ignore[index]
                     for r in range(reps)])


def test_without_shock_or_tempo_the_compiled_scenario_is_shared() -> None:
    m = compile_scenario(validate_document(_doc(), "<test>"))
    assert m.for_replication(Streams(1, 0)) is m


def test_half_life_levels_growth_off_at_its_ceiling() -> None:
    days = np.array([0.0, 30.0, 3000.0, 30000.0])
    r = math.log1p(0.2)
    got = growth_factor(0.2, days, 90.0)
    ceiling = math.exp(r / 30 * 90 / math.log(2))
    assert got[0] == 1.0
    assert got[1] == pytest.approx(math.exp(r / 30 * 90 / math.log(2) * (1 - 2 ** (-30 / 90))))
    assert got[3] == pytest.approx(ceiling) and got[2] < ceiling
    # a very long half-life is constant growth
    assert growth_factor(0.2, days[:2], 1e6)[1] == pytest.approx(1.2, rel=1e-4)
    launches = _daily(_doc(growth={"half_life_days": 60}), 1)[0]
    r_size = math.log1p(0.1)
    assert launches[-1] == pytest.approx(100 * math.exp(r_size / 30 * 60 / math.log(2) * (1 - 2 ** (-359 / 60))), abs=1)


def test_growth_shock_is_one_draw_per_replication_from_its_own_stream() -> None:
    shock = {"dist": "uniform", "low": -0.1, "high": 0.1}
    daily = _daily(_doc(growth={"shock_per_month": shock}), 40)
    # Growth over the year, per replication: (1 + 0.1 + s)^(11.97) with s ~ U(-0.1, 0.1)
    implied = (daily[:, -1] / daily[:, 0]) ** (30 / 359) - 1.1
    assert implied.min() >= -0.1 - 0.002 and implied.max() <= 0.1 + 0.002
    assert implied.std() == pytest.approx(0.2 / math.sqrt(12), rel=0.3)
    # The shock's draw does not depend on the tempo (another stream), and vice versa.
    # launches = round(100 * growth * tempo): the shock's part is the same with or without tempo
    both = _daily(_doc(growth={"shock_per_month": shock}, waves={"tempo_log_sd": 0.3}), 40)
    tempo_only = _daily(_doc(waves={"tempo_log_sd": 0.3}), 40)
    none = _daily(_doc(), 1)[0]
    np.testing.assert_allclose(both / tempo_only, daily / none, rtol=0.03)


def test_tempo_factor_per_period_has_mean_one_and_the_given_log_sd() -> None:
    daily = _daily(_doc(waves={"tempo_log_sd": 0.4, "size_growth_per_month": 0.0}), 60)
    months = daily.reshape(60, 12, 30).sum(axis=2) / 3000.0  # per replication and month: tempo factor
    assert months.mean() == pytest.approx(1.0, abs=0.05)
    assert np.log(months).std() == pytest.approx(0.4, rel=0.1)
    # constant within a period
    assert (daily.reshape(60, 12, 30).std(axis=2) <= 0.5).all()


def test_calibrate_estimates_tempo_from_monthly_scatter() -> None:
    rng = np.random.default_rng(0)
    months = 60
    factors = np.exp(0.3 * rng.standard_normal(months) - 0.045)
    days = pd.date_range("2020-01-01", periods=months * 30, freq="D")
    level = 200 * np.repeat(factors, 30) * 1.02 ** (np.arange(months * 30) / 30)
    x = pd.Series(rng.poisson(level).astype(float), index=days)
    g = growth(x)
    assert g["growth_per_month"] == pytest.approx(0.02, abs=0.03)
    assert g["tempo_log_sd"] == pytest.approx(0.3, abs=0.08)
    flat = growth(pd.Series(rng.poisson(200, months * 30).astype(float), index=days))
    assert flat["tempo_log_sd"] < 0.05


def test_shipped_fragment_carries_the_growth_interval_and_tempo() -> None:
    import json
    from pathlib import Path

    import yaml
    root = Path(__file__).resolve().parent.parent / "scenarios" / "calibration"
    cal = json.loads((root / "calibration.json").read_text())
    frag = yaml.safe_load((root / "fragment.yaml").read_text())
    g = cal["growth_total"]
    lo, hi = g["growth_ci"]
    shock = frag["attacker"]["growth"]["shock_per_month"]
    assert shock["dist"] == "triangular" and shock["mode"] == 0.0
    assert shock["low"] == pytest.approx(lo - g["growth_per_month"], rel=1e-3)
    assert shock["high"] == pytest.approx(hi - g["growth_per_month"], rel=1e-3)
    assert frag["attacker"]["waves"]["tempo_log_sd"] == pytest.approx(g["tempo_log_sd"], rel=1e-3)
    assert g["tempo_log_sd"] ** 2 == pytest.approx(g["residual_log_sd"] ** 2 - g["independent_days_log_sd"] ** 2)
    unc = {u["name"]: u for u in frag["uncertainties"]}
    sh = cal["waves"]["shahed"]["growth"]
    assert unc["shahed_size_growth"]["range"]["low"] == pytest.approx(sh["growth_ci"][0], rel=1e-3)
    assert unc["shahed_size_growth"]["range"]["mode"] == pytest.approx(sh["growth_per_month"], rel=1e-3)
    assert unc["shahed_size_growth"]["path"] == "attacker.waves.classes.shahed.size_growth_per_month"
    assert unc["shahed_production_growth"]["range"]["high"] == pytest.approx(sh["growth_ci"][1], rel=1e-3)


def test_regime_shock_applies_only_from_its_day_and_draws_from_its_own_stream() -> None:
    """``regime_log_shock_per_month`` changes nothing before ``regime_after_days``; after it, the
    wave-size and production curves are multiplied by the growth factor of the drawn log-rate from
    that day on; the growth shock and tempo draws of the replication are the same with and without it."""
    law = {"shock_per_month": {"dist": "uniform", "low": -0.05, "high": 0.05}, "half_life_days": 180}

    def compiled(growth_law: dict[str, Any]) -> Any:
        doc = _doc(growth=growth_law, waves={"tempo_log_sd": 0.2})
        doc["attacker"]["arsenal"]["drone"]["production_per_day"] = 50
        return compile_scenario(validate_document(doc, "<test>"))

    plain = compiled(law)
    a = plain.for_replication(Streams(5, 2))
    b = compiled({**law, "regime_log_shock_per_month": 0.3, "regime_after_days": 100}).for_replication(Streams(5, 2))
    assert np.array_equal(a.size_growth[:101], b.size_growth[:101])
    assert np.array_equal(a.production[:101], b.production[:101])
    want = growth_factor(math.expm1(0.3), np.maximum(np.arange(360, dtype=float) - 100, 0), 180.0)
    assert np.allclose(b.size_growth[:, 0] / a.size_growth[:, 0], want)
    assert np.allclose(b.production[:, 0] / a.production[:, 0], want)
    assert want[-1] > 2.5  # the shock matters: about 3x by day 360
    # a drawn regime shock: replications differ after the day, never before it
    drawn = compiled({**law, "regime_log_shock_per_month": {"dist": "triangular", "low": -0.4, "mode": 0,
                                                            "high": 0.4}, "regime_after_days": 100})
    ratios = np.array([drawn.for_replication(Streams(5, r)).size_growth[:, 0] /
                       plain.for_replication(Streams(5, r)).size_growth[:, 0] for r in range(20)])
    assert np.allclose(ratios[:, :101], 1.0)
    assert np.ptp(np.log(ratios[:, -1])) > 0.5



@pytest.mark.parametrize("half_life", [None, 180.0, 45.0])
def test_regime_factor_precomputed_per_scenario_is_growth_factor_bit_for_bit(half_life: float | None) -> None:
    """``GrowthTerms.regime_factor`` (its days-since term computed once per compiled scenario)
    gives exactly the floats ``growth_factor`` computes from scratch, with and without a half-life."""
    from scenario_sim.model.compiled import GrowthTerms

    law: dict[str, Any] = {"regime_log_shock_per_month": 0.3, "regime_after_days": 100.5}
    if half_life is not None:
        law["half_life_days"] = half_life
    terms = GrowthTerms.of(validate_document(_doc(growth=law), "<test>"))
    after = np.maximum(np.arange(360, dtype=float) - 100.5, 0.0)
    for g in (math.expm1(0.3), math.expm1(-0.2), 0.0, math.expm1(math.log(0.01))):
        assert np.array_equal(terms.regime_factor(g), growth_factor(g, after, half_life))


def _regime_series(rates: list[float], months_each: int = 6, level: float = 2000.0, seed: int = 0) -> pd.Series:
    """Daily Poisson launches whose monthly log-growth rate is ``rates[k]`` in half-year k."""
    rng = np.random.default_rng(seed)
    per_day = np.concatenate([np.full(months_each * 30, r / 30.0) for r in rates])
    mu = level * np.exp(np.cumsum(per_day))
    days = pd.date_range("2022-01-01", periods=mu.size, freq="D")
    return pd.Series(rng.poisson(mu).astype(float), index=days)


def test_growth_regimes_measures_the_change_of_growth_between_half_years() -> None:
    steady = growth_regimes(_regime_series([0.1] * 6))
    assert steady["pairs"] >= 6 and steady["between_log_sd"] < 0.05
    # the rate switches between +0.3 and -0.1 every half-year: changes of 0.4 between aligned half-years,
    # less between windows that straddle a switch (about 0.28 over all pairs); twice the switch, twice that
    switching = growth_regimes(_regime_series([0.3, -0.1] * 3))
    assert 0.2 < switching["between_log_sd"] < 0.45
    assert switching["rms_change"] >= switching["between_log_sd"]
    wider = growth_regimes(_regime_series([0.5, -0.3] * 3))
    assert wider["between_log_sd"] / switching["between_log_sd"] == pytest.approx(2.0, rel=0.15)
    # only records up to the series' end are read: cutting the series removes the late windows
    cut = growth_regimes(_regime_series([0.3, -0.1] * 3).loc[:"2023-06-30"])
    assert max(cut["windows"]) <= "2023-01-01" and cut["pairs"] < switching["pairs"]
    assert growth_regimes(_regime_series([0.1, 0.1]))["pairs"] < 2
    assert "between_log_sd" not in growth_regimes(_regime_series([0.1, 0.1]))


def test_shipped_fragment_carries_the_regime_shock_and_per_class_growth() -> None:
    import json
    from pathlib import Path

    import yaml
    root = Path(__file__).resolve().parent.parent / "scenarios" / "calibration"
    cal = json.loads((root / "calibration.json").read_text())
    frag = yaml.safe_load((root / "fragment.yaml").read_text())
    reg = cal["growth_regimes"]
    shock = frag["attacker"]["growth"]["regime_log_shock_per_month"]
    from scenario_sim.calibrate.regime import law_spec

    # the law chosen on held-out pairs of the same records, with the measured sd, centred on 0
    sel = reg["law_selection"]
    assert reg["law"] == sel["best"] and sel["chosen_by"].startswith("highest mean log score")
    assert sel["scores"][reg["law"]]["log_score"] == max(v["log_score"] for v in sel["scores"].values())
    assert shock == law_spec(reg["law"], reg["between_log_sd"]) and shock["low"] == -shock["high"]
    assert reg["between_log_sd"] ** 2 == pytest.approx(reg["rms_change"] ** 2 - reg["rms_sampling"] ** 2)
    assert max(reg["windows"]) <= cal["provenance"]["date_span"][1] and "reasoning" in reg
    span = [pd.Timestamp(x) for x in cal["provenance"]["date_span"]]
    assert frag["attacker"]["growth"]["regime_after_days"] == (span[1] - span[0]).days + 1
    for c, cw in frag["attacker"]["waves"]["classes"].items():
        assert cw["size_growth_per_month"] == pytest.approx(cal["waves"][c]["growth"]["growth_per_month"], rel=1e-3)


def test_calibrate_writes_the_regime_shock_from_records_before_its_window_end_only(tmp_path: Any) -> None:
    """Through calibrate: the fragment's regime shock is the spread measured on the records up to
    ``--until`` (records after it change nothing), starts at the window's length, and the summary
    says so; with records of one half-year only there is no regime shock, and the summary says why."""
    import datetime as dt

    from scenario_sim.calibrate.command import CalibrationOptions, calibrate_records, fragment_document, summary_text
    from tests.test_calibrate import _write

    series = _regime_series([0.3, -0.1] * 3 + [0.5], level=20.0, seed=4)  # a wild last half-year after --until
    rows = [(f"{d.date()} 20:00", "Shahed-136/131", int(x), int(0.8 * x)) for d, x in series.items() if x > 0]
    csv_path = tmp_path / "attacks.csv"
    _write(csv_path, rows)
    until = dt.date(2024, 12, 31)
    opts = CalibrationOptions(since=dt.date(2024, 7, 1), until=until, n_boot=200)
    cal = calibrate_records(csv_path, options=opts)
    reg = cal.data["growth_regimes"]
    assert max(reg["windows"]) <= "2024-07-01" and reg["pairs"] >= 4
    assert reg["between_log_sd"] == pytest.approx(growth_regimes(series.loc[:str(until)])["between_log_sd"])
    law = fragment_document(cal)["attacker"]["growth"]
    # the law's bound is sqrt(6) sd, held at log 2 (the schema's growth limit, doubling a month): reached here
    assert math.sqrt(6) * reg["between_log_sd"] > math.log(2)
    assert law["regime_log_shock_per_month"]["high"] == pytest.approx(math.log(2), rel=1e-3)
    assert law["regime_after_days"] == 184
    assert "growth between half-years: sd" in summary_text(cal.data)
    assert "so neighbouring pairs share months and are not independent" in summary_text(cal.data)
    short = calibrate_records(csv_path, options=CalibrationOptions(since=dt.date(2022, 1, 1),
                                                                   until=dt.date(2022, 6, 30), n_boot=200))
    assert "regime_log_shock_per_month" not in fragment_document(short)["attacker"].get("growth", {})
    assert "fewer than 2: no regime shock" in summary_text(short.data)


# --------------------------------------------------------------------------- the regime shock's law


def test_normal_and_student_t_draw_their_sd_inside_their_cut_and_t_has_heavier_tails() -> None:
    """The two laws the regime shock may take besides the triangular: the uncut laws have the
    stated mean and sd, a cut law never draws outside its bounds (a draw outside is redrawn, so
    the law keeps its shape inside), and at one sd the t puts more of its spread in the tails."""
    from pydantic import TypeAdapter

    from scenario_sim.lang.distributions import Distribution

    ta: Any = TypeAdapter(Distribution)
    rng = np.random.default_rng(3)
    normal = ta.validate_python({"dist": "normal", "mean": 0.1, "sd": 0.25}).sample(rng, 200_000)
    t = ta.validate_python({"dist": "student_t", "mean": 0.1, "sd": 0.25, "df": 5}).sample(rng, 200_000)
    for x in (normal, t):
        assert x.mean() == pytest.approx(0.1, abs=0.003) and x.std() == pytest.approx(0.25, rel=0.03)
    assert np.mean(np.abs(t - 0.1) > 0.75) > 3 * np.mean(np.abs(normal - 0.1) > 0.75)  # beyond 3 sd
    cut = ta.validate_python({"dist": "student_t", "mean": 0, "sd": 0.25, "df": 5, "low": -0.3, "high": 0.5})
    x = cut.sample(np.random.default_rng(4), 100_000)
    assert x.min() >= -0.3 and x.max() <= 0.5 and cut.support() == (-0.3, 0.5)
    # inside the cut the shape is the uncut law's: the share below 0 among draws in [-0.3, 0]
    uncut = t - 0.1
    inside = uncut[(uncut >= -0.3) & (uncut <= 0.5)]
    assert np.mean(x < 0) == pytest.approx(np.mean(inside < 0), abs=0.01)
    same = ta.validate_python({"dist": "normal", "mean": 0, "sd": 0.3, "low": -0.4, "high": 0.4})
    assert np.array_equal(same.sample(np.random.default_rng(9), 50), same.sample(np.random.default_rng(9), 50))
    assert np.all(ta.validate_python({"dist": "normal", "mean": 2, "sd": 0}).sample(rng, 5) == 2)


@pytest.mark.parametrize(("law", "message"), [
    ({"dist": "normal", "mean": 0.9, "sd": 0.2, "low": -0.5, "high": 0.5}, "need low <= mean <= high"),
    ({"dist": "normal", "mean": 0, "sd": 0.5, "low": -0.1, "high": 0.1}, "high - low must be at least sd"),
    ({"dist": "student_t", "mean": 0, "sd": 0.2, "df": 2}, "must be > 2"),
    ({"dist": "student_t", "mean": 0, "sd": 0.2, "df": 5}, "at or below log 2"),  # uncut: may reach any growth
    ({"dist": "normal", "mean": 0, "sd": 0.2, "low": -0.5, "high": 1.0}, "at or below log 2"),
    ({"dist": "normal", "mean": 0, "sd": -0.2}, "must be >= 0"),
])
def test_a_bad_regime_law_is_a_located_one_line_error(tmp_path: Any, capsys: pytest.CaptureFixture[str],
                                                      law: dict[str, Any], message: str) -> None:
    """A regime law that breaks its rules, or that could draw more than doubling a month (the work
    budget assumes at most that), is ``file:line:col: field: message``, exit 2, before any run."""
    import yaml

    from scenario_sim.cli import main

    d = minimal_doc()
    d["attacker"]["growth"] = {"regime_log_shock_per_month": law, "regime_after_days": 30}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(path)])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"{path}:") and "regime_log_shock_per_month" in err and message in err, err


_LAWS = ("triangular", "normal", "student_t")


@settings(max_examples=25, deadline=None)
@given(sd=st.floats(0.005, 0.6), law=st.sampled_from(_LAWS), seed=st.integers(0, 2 ** 32 - 1))
def test_every_regime_law_draws_with_the_same_sd_on_the_same_support(sd: float, law: str, seed: int) -> None:
    """The candidates are matched on the sd of their draws (after the cut), not on the uncut
    law's: each law as the fragment writes it, drawn by the scenario language, has sample sd
    within sampling error (5 standard errors, from the draws' own kurtosis) of ``drawn_sd``,
    which is the measured sd itself unless the bound ``√6 sd`` is held at log 2; and every law's
    upper end is the triangular's (the work budget counts growth there)."""
    from pydantic import TypeAdapter

    from scenario_sim.calibrate.regime import bound, drawn_sd, law_spec
    from scenario_sim.lang.distributions import Distribution

    spec = law_spec(law, sd)
    dist: Any = TypeAdapter(Distribution).validate_python(spec)
    x = dist.sample(np.random.default_rng(seed), 40_000)
    target = drawn_sd(sd)
    assert target == pytest.approx(min(sd, math.log(2) / math.sqrt(6)), rel=1e-12)
    kurt = float(np.mean((x - x.mean()) ** 4) / x.var() ** 2)
    se = target * math.sqrt((kurt - 1) / (4 * x.size))  # the sample sd's standard error
    rounding = 1e-4 * target  # law_spec writes 4 significant digits
    assert abs(float(x.std()) - target) < 5 * se + rounding, (law, sd, x.std(), target, se)
    assert abs(float(x.mean())) < 5 * target / math.sqrt(x.size)
    assert spec["high"] == -spec["low"] == law_spec("triangular", sd)["high"] == pytest.approx(bound(sd), rel=1e-3)
    assert x.max() <= spec["high"] and x.min() >= spec["low"]


@pytest.mark.parametrize("sd", [0.05, 0.2379, 0.257, 0.4])
def test_regime_law_scale_is_the_one_whose_cut_law_has_the_drawn_sd(sd: float) -> None:
    """Analytic: the normal's scale solves the closed form of a cut normal's variance,
    ``σ²(1 − 2zφ(z) / (2Φ(z) − 1))`` with ``z = a/σ``, at the drawn sd; the Student-t's cut
    variance, integrated directly, is the drawn sd's square too; and matched so, the Student-t
    keeps the heaviest tails of the three (kurtosis Student-t > normal > triangular's 2.4), which
    it did not when the laws shared the uncut sd (its cut sd was then 0.85 of it)."""
    from scipy import integrate, stats

    from scenario_sim.calibrate.regime import STUDENT_T_DF, bound, drawn_sd, law_spec, nominal_sd

    a, target = bound(sd), drawn_sd(sd)
    sig = nominal_sd("normal", sd)
    z = a / sig
    var = sig ** 2 * (1 - 2 * z * stats.norm.pdf(z) / (2 * stats.norm.cdf(z) - 1))
    assert math.sqrt(var) == pytest.approx(target, rel=1e-9)
    assert law_spec("normal", sd)["sd"] == pytest.approx(sig, rel=5e-4) and sig > target
    df = STUDENT_T_DF
    t = stats.t(df, scale=nominal_sd("student_t", sd) * math.sqrt((df - 2) / df))

    def moment(k: int, base: Any) -> float:
        inside = integrate.quad(base.pdf, -a, a)[0]
        return integrate.quad(lambda x: x ** k * base.pdf(x), -a, a)[0] / inside

    assert math.sqrt(moment(2, t)) == pytest.approx(target, rel=1e-9)
    kurt = {"student_t": moment(4, t) / target ** 4, "normal": moment(4, stats.norm(scale=sig)) / target ** 4}
    assert kurt["student_t"] > kurt["normal"] > 2.4  # the triangular's kurtosis is 2.4 exactly
    # the session-11 laws (uncut sd = s) drew narrower than s once cut
    old = stats.t(df, scale=target * math.sqrt((df - 2) / df))
    assert math.sqrt(moment(2, old)) == pytest.approx(0.85 * target, abs=0.01 * target)


def test_choose_law_by_held_out_pairs() -> None:
    """Mostly small changes and one large one: the heavy-tailed law forecasts the held-out pairs
    best and is chosen; changes all of one size (no tails): it is not.  A forced law is used but
    the scores are still given; with fewer than 3 pairs nothing can be held out: the fallback."""
    from scenario_sim.calibrate.regime import FALLBACK, MIN_PAIRS, choose_law

    heavy = choose_law([0.02, -0.03, 0.01, 0.45, -0.02, 0.03], [0.03] * 6)
    s = heavy["scores"]
    assert heavy["law"] == "student_t" and s["student_t"]["log_score"] > max(s["normal"]["log_score"],
                                                                           s["triangular"]["log_score"])
    assert s["student_t"]["held_out"] == 6 and len(s["student_t"]["log_score_by_pair"]) == 6
    even = choose_law([0.3, -0.3, 0.3, -0.3, 0.3, -0.3], [0.02] * 6)
    assert even["law"] != "student_t" and even["chosen_by"].startswith("highest mean log score")
    forced = choose_law([0.02, -0.03, 0.01, 0.45, -0.02, 0.03], [0.03] * 6, forced="triangular")
    assert forced["law"] == "triangular" and forced["best"] == "student_t" and forced["chosen_by"] == "--regime-law"
    few = choose_law([0.5, -0.2], [0.1, 0.1])
    assert MIN_PAIRS == 3 and few["law"] == FALLBACK and "fallback" in few["chosen_by"] and "scores" not in few


def test_calibrate_writes_the_chosen_regime_law_and_regime_law_option(tmp_path: Any,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Through calibrate: growth_regimes records every pair's change, the scores and the law; the
    fragment draws that law with the measured sd, cut to +-log 2; --regime-law forces a law; a bad
    value is a one-line option error, exit 2."""
    import datetime as dt

    from scenario_sim.calibrate.command import CalibrationOptions, calibrate_records, fragment_document, summary_text
    from scenario_sim.calibrate.regime import law_spec
    from scenario_sim.cli import main
    from tests.test_calibrate import _write

    series = _regime_series([0.3, -0.1] * 3 + [0.5], level=20.0, seed=4)
    rows = [(f"{d.date()} 20:00", "Shahed-136/131", int(x), int(0.8 * x)) for d, x in series.items() if x > 0]
    csv_path = tmp_path / "attacks.csv"
    _write(csv_path, rows)
    opts = CalibrationOptions(since=dt.date(2024, 7, 1), until=dt.date(2024, 12, 31), n_boot=200)
    reg = calibrate_records(csv_path, options=opts).data["growth_regimes"]
    assert len(reg["changes"]) == reg["pairs"] and set(reg["law_selection"]["scores"]) == {
        "triangular", "normal", "student_t"}
    assert reg["law"] == reg["law_selection"]["best"]
    for law in ("triangular", "normal", "student_t"):
        cal = calibrate_records(csv_path, options=CalibrationOptions(**{**opts.__dict__, "regime_law": law}))
        drawn = fragment_document(cal)["attacker"]["growth"]["regime_log_shock_per_month"]
        assert drawn == law_spec(law, cal.data["growth_regimes"]["between_log_sd"]) and drawn["dist"] == law
        assert drawn["high"] == pytest.approx(math.log(2), rel=1e-3)
        shock = cal.data["growth_regimes"]["shock"]
        assert shock["law"] == law and shock["scale_sd"] == drawn.get("sd") and shock["bound"] == drawn["high"]
        scale = "" if law == "triangular" else f"uncut sd {drawn['sd']:.4g}, "
        assert (f"law {law}, {scale}cut to ±{drawn['high']:.4g}, draws' sd {shock['drawn_sd']:.4g} (--regime-law;"
                in summary_text(cal.data))
    assert law_spec("triangular", 0.2)["high"] == pytest.approx(math.sqrt(6) * 0.2, rel=1e-3)
    # every candidate lives on the triangular's support, so the work budget is the same whichever is chosen
    for sd in (0.1, 0.238, 0.5):
        supports = {(law_spec(law, sd)["low"], law_spec(law, sd)["high"]) for law in ("triangular", "normal",
                                                                                   "student_t")}
        ((low, high),) = supports
        assert low == -high and high == pytest.approx(min(math.sqrt(6) * sd, math.log(2)), rel=1e-3)
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", str(csv_path), "--regime-law", "cauchy", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and "--regime-law" in err, err
    assert not (tmp_path / "o").exists()
