"""Model invariants (hypothesis), limits, analytic checks and process stories."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st

from scenario_sim.lang.loader import validate_document
from scenario_sim.model import compile_scenario, simulate
from scenario_sim.model.contacts import Contact, ContactBus, scheduled_contacts, stochastic_contacts
from scenario_sim.model.doctrine import Doctrine, Salvo, ShootLookShoot, kill_probability
from scenario_sim.model.limits import ModelLimitError
from scenario_sim.model.outcomes import OUTCOMES
from scenario_sim.model.rng import Streams, stable_hash
from scenario_sim.outcomes import catalogue
from scenario_sim.testing import scenario_documents, scenarios
from tests.helpers import minimal_doc, one_layer

seeds = st.integers(0, 2**32 - 1)


# --------------------------------------------------------------------------- invariants


@given(scenarios(), seeds, st.integers(0, 1000))
def test_conservation_bounds_and_non_negativity(s: Any, seed: int, rep: int) -> None:
    r = simulate(s, seed, rep, trace=True, timeseries=True)
    o = r.outcomes
    assert r.waves is not None and r.timeseries is not None
    for w in r.waves:  # conservation per wave and class
        for n, k, lk, h in zip(w.launched, w.intercepted, w.leaked, w.hits, strict=True):
            assert n == k + lk and 0 <= k <= n and 0 <= h <= lk
        assert sum(sum(v) for v in w.killed_by_layer.values()) == sum(w.intercepted)
    for c in [*s.class_names, "total"]:  # and in total
        assert o[f"launched.{c}"] == o[f"intercepted.{c}"] + o[f"leaked.{c}"]
        assert 0 <= o[f"hits.{c}"] <= o[f"leaked.{c}"]
    for c in s.class_names:
        stock = r.timeseries[f"attacker_stock.{c}"]
        assert (stock >= -1e-9).all()
        assert o[f"launched.{c}"] <= s.attacker.arsenal[c].initial_stock + o[f"production.{c}"] + 1e-9
    for sysspec in s.air_defense.systems:
        if sysspec.interceptors is not None:
            assert (r.timeseries[f"interceptors.{sysspec.name}"] >= 0).all()
            delivered = _delivered(s, sysspec.name, seed, rep)
            assert o[f"shots.{sysspec.name}"] <= sysspec.interceptors.initial_stock + delivered
    e = s.consequences.energy
    assert e.floor - 1e-12 <= o["energy.min"] <= o["energy.mean"] + 1e-12 <= 1.0 + 2e-12
    assert ((r.timeseries["energy"] >= e.floor - 1e-12) & (r.timeseries["energy"] <= 1 + 1e-12)).all()
    for k in ("civilian_harm", "interceptor_spend_usd", "attacker_spend_usd", "surges", "waves"):
        assert o[k] >= 0
    assert 0 <= o["leak_fraction"] <= 1


def _delivered(s: Any, system: str, seed: int, rep: int) -> float:
    from scenario_sim.model.simulation import World

    w = World.create(compile_scenario(s), seed, rep)
    w.run_events()
    return float(sum(q for _, q in w.air_defense.deliveries[system]))


@given(scenarios(), seeds)
def test_same_seed_same_outcomes(s: Any, seed: int) -> None:
    assert simulate(s, seed, 3).outcomes == simulate(s, seed, 3).outcomes


@given(scenario_documents(), seeds, st.data())
def test_air_defense_change_leaves_every_launch_identical(doc: dict[str, Any], seed: int, data: Any) -> None:
    other = copy.deepcopy(doc)
    for sysd in other["air_defense"]["systems"]:
        sysd["pk"] = {c: data.draw(st.floats(0, 1)) for c in sysd["engages"]}
        sysd["capacity_per_wave"] = data.draw(st.integers(0, 300))
    other["air_defense"]["readiness"]["baseline"] = data.draw(st.floats(0, 1))
    other["air_defense"]["readiness"]["after_contact"]["enabled"] = data.draw(st.booleans())
    other["air_defense"]["readiness"]["early_warning"]["enabled"] = data.draw(st.booleans())
    a = simulate(validate_document(doc, "a"), seed, 0, trace=True)
    b = simulate(validate_document(other, "b"), seed, 0, trace=True)
    assert a.waves is not None and b.waves is not None
    assert [(w.time, w.launched) for w in a.waves] == [(w.time, w.launched) for w in b.waves]


@given(scenario_documents(), seeds, st.data())
def test_production_change_keeps_later_waves_aligned(doc: dict[str, Any], seed: int, data: Any) -> None:
    """CRN alignment: a set that only cuts production changes which waves are capped by
    stock, but a wave launching the same munitions as in the baseline meets the same draws."""
    other = copy.deepcopy(doc)
    for a in other["attacker"]["arsenal"].values():
        a["production_per_day"] *= data.draw(st.floats(0, 1))
    a = simulate(validate_document(doc, "a"), seed, 0, trace=True)
    b = simulate(validate_document(other, "b"), seed, 0, trace=True)
    assert a.waves is not None and b.waves is not None
    assert [w.time for w in a.waves] == [w.time for w in b.waves]
    # Same launches and readiness in a wave give the same kills and hits, unless interceptor
    # stocks (drawn down differently by earlier waves) are involved.
    unlimited = all(s.get("interceptors") is None for s in doc["air_defense"]["systems"])
    for wa, wb in zip(a.waves, b.waves, strict=True):
        if unlimited and wa.launched == wb.launched and wa.readiness == wb.readiness:
            assert wa.killed_by_layer == wb.killed_by_layer
            assert wa.hits == wb.hits


# Pinned values: a change here would silently change every published result.
_PINNED_HASHES = {
    "attacker.waves.shahed.size": 17111939840989579075,
    "attacker.surge": 9103087492799780757,
    "air_defense.patriot.ballistic": 15165318465384932866,
    "consequences.harm": 14044552144259482286,
}


def test_stream_hash_is_pinned_and_stable_across_processes() -> None:
    for name, value in _PINNED_HASHES.items():
        assert stable_hash(name) == value, name
    import subprocess
    import sys

    code = ("from scenario_sim.model.rng import stable_hash; "
            f"print([stable_hash(n) for n in {sorted(_PINNED_HASHES)!r}])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == f"{[_PINNED_HASHES[n] for n in sorted(_PINNED_HASHES)]}\n"


def test_streams_are_independent_of_creation_order() -> None:
    a, b = Streams(7, 3), Streams(7, 3)
    a.rng("x")
    xa = a.rng("y").random(5)
    xb = b.rng("y").random(5)
    assert np.array_equal(xa, xb)
    assert not np.array_equal(Streams(7, 4).rng("y").random(5), xa)



def test_stream_seed_from_a_prefix_hasher_and_raw_bits_streams_match_the_plain_ones() -> None:
    from scenario_sim.model.rng import StreamSeed

    streams = Streams(7, 3)
    for name in ("x", "air_defense.patriot.cruise", "é"):
        assert np.array_equal(StreamSeed(7, 3, name, streams._prefix).words, StreamSeed(7, 3, name).words)
    # a stream read first as raw bits (no Generator made) and then through rng() continues
    # exactly where one generator used both ways would
    a, b = Streams(7, 3), Streams(7, 3)
    ga = a.rng("z")
    first = ga.bit_generator.random_raw(5).view(np.uint32)[:9]
    assert np.array_equal(b.bits32("z", 8), first)
    assert np.array_equal(b.rng("z").random(4), ga.random(4))
    assert b.names == ["z"]
    assert not np.array_equal(Streams(7, 3).bits32("w", 8), first)


def _deliveries_by_simpy(world: Any) -> dict[str, list[tuple[float, int]]]:
    """The resupply process the calendar replaced: a SimPy timeout per delivery."""
    env = simpy.Environment()
    model = world.model
    streams = Streams(world.streams.seed, world.streams.replication)
    logs: dict[str, list[tuple[float, int]]] = {cs.spec.name: [] for cs in model.systems}

    def resupply(cs: Any) -> Any:
        due = np.asarray(cs.deliveries_due)
        lead = cs.spec.interceptors.resupply.lead_time_days.sample(
            streams.rng(f"air_defense.{cs.spec.name}.resupply"), due.shape[0])
        for t in np.sort(due + lead).tolist():
            if t >= model.horizon:
                return
            if t > env.now:
                yield env.timeout(t - env.now)
            logs[cs.spec.name].append((env.now, cs.delivery_quantity))

    for cs in model.systems:
        if cs.limited and cs.deliveries_due:
            env.process(resupply(cs))
    env.run(until=model.horizon)
    return logs


@pytest.mark.parametrize("lead", [{"dist": "uniform", "low": 0.0, "high": 40.0}, 3.3, 0.0])
def test_deliveries_are_the_times_a_simpy_process_logs(lead: Any) -> None:
    from scenario_sim.model.simulation import World

    resupply = {"first": 0, "interval_days": 7.1, "quantity": 3, "lead_time_days": lead}
    model = compile_scenario(one_layer(0.5, stock=10, horizon=60, interceptors={"initial_stock": 10,
                                                                                 "resupply": resupply}))
    assert model.systems[0].deliveries_due
    for rep in range(20):
        w = World.create(model, 5, rep)
        w.run_events()
        want = _deliveries_by_simpy(w)
        assert w.air_defense.deliveries == want
        assert want[model.systems[0].spec.name]  # deliveries inside the horizon were compared


# --------------------------------------------------------------------------- limits


@given(st.integers(1, 200), seeds)
def test_pk_zero_leaks_everything(size: int, seed: int) -> None:
    o = simulate(one_layer(0.0, size=size), seed, 0).outcomes
    assert o["leaked.total"] == o["launched.total"] > 0


@given(st.integers(1, 200), seeds, st.sampled_from(["salvo", "shoot_look_shoot"]))
def test_pk_one_unlimited_leaks_nothing(size: int, seed: int, mode: str) -> None:
    s = one_layer(1.0, size=size, doctrine={"mode": mode, "shots_per_target": 2})
    o = simulate(s, seed, 0).outcomes
    assert o["leaked.total"] == 0 and o["intercepted.total"] == o["launched.total"]


@given(st.integers(0, 100), st.integers(1, 300), seeds)
def test_capacity_bounds_leakers_per_wave(cap: int, size: int, seed: int) -> None:
    r = simulate(one_layer(1.0, capacity=cap, size=size), seed, 0, trace=True)
    assert r.waves
    for w in r.waves:
        assert w.leaked[0] >= w.launched[0] - cap
        assert w.leaked[0] == max(0, w.launched[0] - cap)  # pk = 1: exactly the overflow leaks


@given(st.integers(0, 300), st.integers(1, 3), seeds)
def test_stock_bounds_shots(stock: int, shots: int, seed: int) -> None:
    s = one_layer(0.5, stock=stock, size=40, doctrine={"shots_per_target": shots, "reduced_shots_per_target": 1})
    o = simulate(s, seed, 0).outcomes
    assert o["shots.guns"] <= stock
    assert o["intercepted.total"] <= o["shots.guns"]


def test_more_interceptors_never_means_more_leakers() -> None:
    base = minimal_doc()
    base["air_defense"]["systems"][0]["interceptors"] = {"initial_stock": 100}
    for seed in range(20):
        leaked = []
        for stock in (0, 50, 100, 200, 400):
            d = copy.deepcopy(base)
            d["air_defense"]["systems"][0]["interceptors"]["initial_stock"] = stock
            leaked.append(simulate(validate_document(d, "x"), seed, 0).outcomes["leaked.total"])
        assert leaked == sorted(leaked, reverse=True), leaked


# --------------------------------------------------------------------------- analytic checks


def _tolerance(p: float, n: int, z: float = 4.0) -> float:
    """z standard errors of a proportion from n Bernoulli trials."""
    return z * math.sqrt(p * (1 - p) / n) + 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("pk", [0.1, 0.5, 0.85])
def test_one_layer_leak_fraction_is_one_minus_pk(pk: float) -> None:
    s = compile_scenario(one_layer(pk, size={"dist": "poisson", "mean": 40}))
    L = K = 0.0
    for rep in range(200):
        o = simulate(s, 11, rep).outcomes
        L += o["launched.total"]
        K += o["leaked.total"]
    assert abs(K / L - (1 - pk)) < _tolerance(1 - pk, int(L))


@pytest.mark.slow
def test_two_independent_layers_multiply() -> None:
    d = minimal_doc()
    d["attacker"]["arsenal"]["drone"]["initial_stock"] = 10**7
    d["attacker"]["waves"]["classes"]["drone"] = {"probability": 1.0, "size": {"dist": "negbin", "mean": 60,
                                                                            "dispersion": 2}}
    d["air_defense"]["systems"] = [
        {"name": "a", "engages": ["drone"], "pk": {"drone": 0.3}, "capacity_per_wave": 10**6},
        {"name": "b", "engages": ["drone"], "pk": {"drone": 0.6}, "capacity_per_wave": 10**6,
         "doctrine": {"mode": "shoot_look_shoot", "shots_per_target": 1}},
    ]
    d["recommendations"] = []
    s = compile_scenario(validate_document(d, "x"))
    L = K = 0.0
    for rep in range(200):
        o = simulate(s, 5, rep).outcomes
        L += o["launched.total"]
        K += o["leaked.total"]
    expected = 0.7 * 0.4
    assert abs(K / L - expected) < _tolerance(expected, int(L))


@pytest.mark.slow
def test_shoot_look_shoot_uses_expected_shots() -> None:
    pk, n_rep = 0.6, 100
    s = compile_scenario(one_layer(pk, size=30, doctrine={"mode": "shoot_look_shoot", "shots_per_target": 2}))
    shots = launched = killed = 0.0
    for rep in range(n_rep):
        o = simulate(s, 2, rep).outcomes
        shots += o["shots.guns"]
        launched += o["launched.total"]
        killed += o["intercepted.total"]
    assert abs(shots / launched - (1 + (1 - pk))) < 0.02          # E[min(G, 2)] = 1 + (1 - pk)
    assert abs(killed / launched - (1 - (1 - pk) ** 2)) < _tolerance(0.84, int(launched))


@pytest.mark.slow
def test_mean_waves_matches_the_wave_process() -> None:
    d = minimal_doc()
    d["munitions"].append({"name": "missile", "unit_cost_usd": 1})
    d["attacker"]["arsenal"] = {"drone": {"initial_stock": 10**7, "production_per_day": 0},
                                "missile": {"initial_stock": 10**7, "production_per_day": 0}}
    d["attacker"]["waves"]["classes"] = {"drone": {"probability": 0.3, "size": 5},
                                         "missile": {"probability": 0.2, "size": 3}}
    d["consequences"]["hit_probability"]["missile"] = 0.5
    d["horizon_days"] = 200
    d["recommendations"] = []
    s = compile_scenario(validate_document(d, "x"))
    n = 200
    waves = [simulate(s, 3, rep).outcomes["waves"] for rep in range(n)]
    p = 1 - 0.7 * 0.8
    mean, sd = 200 * p, math.sqrt(200 * p * (1 - p))
    assert abs(np.mean(waves) - mean) < 4 * sd / math.sqrt(n)
    d["attacker"]["waves"].update({"schedule": "poisson", "waves_per_day": 1.5})
    s = compile_scenario(validate_document(d, "x"))
    waves = [simulate(s, 3, rep).outcomes["waves"] for rep in range(n)]
    lam = 200 * 1.5 * p  # thinned Poisson: each opportunity is a wave with probability p
    assert abs(np.mean(waves) - lam) < 4 * math.sqrt(lam) / math.sqrt(n)


@pytest.mark.slow
@pytest.mark.parametrize("prob", [0.2, 0.7])
def test_mean_surges_is_probability_times_contacts(prob: float) -> None:
    d = minimal_doc()
    d["horizon_days"] = 100
    d["contacts"] = {"scheduled": [{"date": day} for day in (5, 20, 40, 60, 80)]}
    d["attacker"]["surge"] = {"enabled": True, "probability": prob, "lag_days": {"dist": "uniform", "low": 0,
                                                                                 "high": 3},
                              "size_multiplier": 2}
    d["recommendations"] = []
    s = compile_scenario(validate_document(d, "x"))
    n = 400
    surges = [simulate(s, 9, rep).outcomes["surges"] for rep in range(n)]
    assert abs(np.mean(surges) - 5 * prob) < 4 * math.sqrt(5 * prob * (1 - prob)) / math.sqrt(n)


# --------------------------------------------------------------------------- stories


def test_scheduled_contacts_reach_every_listener_in_order(env: simpy.Environment) -> None:
    bus = ContactBus()
    heard: list[tuple[str, float]] = []
    bus.subscribe(lambda c: heard.append(("attacker", env.now)))
    bus.subscribe(lambda c: heard.append(("defender", env.now)))
    contacts = [Contact(2.5, "call", "confirmed", "scheduled"), Contact(7.5, "meeting", "confirmed", "scheduled")]
    env.process(scheduled_contacts(env, bus, contacts))
    env.run()
    assert heard == [("attacker", 2.5), ("defender", 2.5), ("attacker", 7.5), ("defender", 7.5)]


def test_exponential_uniform_pairs_are_numpys_own_calls_bit_for_bit() -> None:
    """``rng.exponential_uniform_pairs`` decodes blocks of raw words; every pair must be what
    ``rng.exponential(scale), rng.random()`` give one after the other on the same stream, for
    model streams (SFC64), several scales and block sizes, through the ziggurat's slow path
    (counted: it must be taken) and for other bit generators (numpy's own calls)."""
    from scenario_sim.model.rng import _exponential_fast_path, exponential_uniform_pairs

    tables = _exponential_fast_path()
    assert tables is not None  # numpy 2.x: the fast path is read and checked
    we, below = tables
    class Counting(np.random.Generator):  # counts numpy's own exponential calls: the slow path
        slow = 0

        def exponential(self, *args: Any, **kwargs: Any) -> Any:
            Counting.slow += 1
            return super().exponential(*args, **kwargs)

    assert len(we) == len(below) == 256
    for seed, scale, block in ((1, 1 / 0.02778, 12), (2, 1.0, 1), (3, 1e-3, 2), (4, 50.0, 7), (5, 0.37, 1024)):
        a = Counting(Streams(seed, 0).rng("contacts.stochastic").bit_generator)
        b = Streams(seed, 0).rng("contacts.stochastic")
        pairs = exponential_uniform_pairs(a, scale, block)
        for _ in range(4000):
            assert next(pairs) == (b.exponential(scale), b.random())
    assert 100 < Counting.slow < 800  # the slow path was taken (~1.5% of 20,000 exponentials)
    for gen in (np.random.default_rng(7), np.random.Generator(np.random.MT19937(7))):
        twin = np.random.Generator(type(gen.bit_generator)(7)) if not isinstance(gen.bit_generator, np.random.PCG64) \
            else np.random.default_rng(7)
        pairs = exponential_uniform_pairs(gen, 2.0)
        assert all(next(pairs) == (twin.exponential(2.0), twin.random()) for _ in range(500))


def test_stochastic_contacts_are_those_of_scalar_draws(env: simpy.Environment) -> None:
    """The contact process draws its gaps and keep/drop uniforms in decoded blocks: the contacts
    (times, keys) are those of ``gap, keep = rng.exponential(1 / rate), rng.random()`` per
    candidate, the session-11 process, for model streams."""
    def scalar(env: simpy.Environment, bus: ContactBus, rate: float, factor: Any, horizon: float,
               rng: np.random.Generator, start: float) -> Any:
        yield env.timeout(start)
        candidate = 0
        while True:
            gap, keep = rng.exponential(1.0 / rate), rng.random()
            if env.now + gap >= horizon:
                return
            yield env.timeout(gap)
            if keep < factor[int(env.now)]:
                bus.broadcast(Contact(env.now, "call", "confirmed", "stochastic", candidate))
            candidate += 1

    factor = np.r_[np.ones(150), np.full(100, 0.3), np.ones(150)].tolist()
    for seed, rate in ((1, 0.02778), (2, 0.5), (3, 3.0), (4, 40.0)):
        logs = []
        for proc in (stochastic_contacts, scalar):
            e = simpy.Environment()
            bus = ContactBus()
            rng = Streams(seed, 3).rng("contacts.stochastic")
            if proc is scalar:
                e.process(scalar(e, bus, rate, factor, 400.0, rng, 10.0))
            else:
                e.process(stochastic_contacts(e, bus, rate, "call", factor, 400.0, rng, 10.0))
            e.run(until=400)
            logs.append(bus.log)
        assert logs[0] == logs[1] and len(logs[0]) > 0


def test_travel_ban_thins_stochastic_contacts(env: simpy.Environment) -> None:
    rng = np.random.default_rng(1)
    bus = ContactBus()
    env.process(stochastic_contacts(env, bus, 2.0, "call", np.r_[np.ones(50), np.zeros(50)], 100.0, rng, 10.0))
    env.run()
    times = [c.time for c in bus.log]
    assert times and all(10.0 <= t < 50.0 for t in times)
    assert 40 < len(times) < 130  # about 2/day over 40 days


def test_a_contact_triggers_a_surge_after_its_lag() -> None:
    d = minimal_doc()
    d["horizon_days"] = 20
    d["contacts"] = {"scheduled": [{"date": 4}]}
    d["attacker"]["waves"]["classes"]["drone"]["probability"] = 0.0
    d["attacker"]["surge"] = {"enabled": True, "probability": 1, "lag_days": 2, "size_multiplier": 3,
                              "stockpile_days": 1, "stockpile_wave_factor": 0.5}
    d["attacker"]["waves"]["classes"]["drone"]["size"] = 10
    d["recommendations"] = []
    r = simulate(validate_document(d, "x"), 1, 0, trace=True)
    assert r.waves is not None
    launched = [(w.time, w.surge, w.launched) for w in r.waves if any(w.launched)]
    assert launched == [(6.9, True, [30])]
    assert len(r.waves) == 20 + 1  # every nightly opportunity is recorded, plus the surge
    assert r.contacts == [4.5]


def test_readiness_rule_raises_capacity_for_its_window() -> None:
    d = minimal_doc()
    d["horizon_days"] = 10
    d["contacts"] = {"scheduled": [{"date": 3}]}
    d["air_defense"]["readiness"] = {"baseline": 0.5, "after_contact": {"enabled": True, "duration_days": 2,
                                                                       "level": 1.0}}
    d["recommendations"] = []
    r = simulate(validate_document(d, "x"), 1, 0, trace=True, timeseries=True)
    assert r.timeseries is not None
    assert r.timeseries["readiness"].tolist() == [0.5, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5]


def test_early_warning_detects_planned_surges() -> None:
    d = minimal_doc()
    d["horizon_days"] = 30
    d["contacts"] = {"scheduled": [{"date": 5}]}
    d["attacker"]["surge"] = {"enabled": True, "probability": 1, "lag_days": 3, "size_multiplier": 2}
    d["air_defense"]["readiness"] = {"baseline": 0.5, "early_warning": {"enabled": True, "detection_probability": 1,
                                                                       "lead_days": 1, "level": 0.9}}
    d["recommendations"] = []
    r = simulate(validate_document(d, "x"), 1, 0, trace=True)
    assert r.waves is not None
    surge = [w for w in r.waves if w.surge]
    assert len(surge) == 1 and surge[0].time == 8.9 and surge[0].readiness == 0.9
    assert all(w.readiness == 0.5 for w in r.waves if w.time < 7.9)
    assert all(w.readiness == 0.9 for w in r.waves if 7.9 <= w.time <= 8.9)


def test_sanctions_cut_production_with_ramp_and_decay() -> None:
    d = minimal_doc()
    d["horizon_days"] = 100
    d["sanctions"] = {"levers": [{"name": "x", "kind": "export_controls", "enabled": True, "start": 10,
                                  "ramp_days": 20, "production_effect": {"drone": 0.5},
                                  "evasion_half_life_days": 30}]}
    d["recommendations"] = []
    m = compile_scenario(validate_document(d, "x"))
    prod = m.production[:, 0]
    assert prod[5] == 20
    assert prod[20] == pytest.approx(20 * (1 - 0.5 * (10.5 / 20) * 0.5 ** (10.5 / 30)))
    assert prod[99] > prod[40] > prod[30]  # evasion erodes the effect after the ramp


def test_civil_defense_cuts_harm_by_its_factor() -> None:
    d = minimal_doc()
    d["consequences"]["civil_defense"] = {"harm_factor_when_active": 0.25, "always_active": True}
    d["recommendations"] = []
    on = simulate(validate_document(d, "x"), 4, 0).outcomes["civilian_harm"]
    d["consequences"]["civil_defense"]["always_active"] = False
    off = simulate(validate_document(d, "x"), 4, 0).outcomes["civilian_harm"]
    assert off > 0 and on == pytest.approx(0.25 * off)


def test_reference_replication_returns_every_outcome(reference: Any) -> None:
    m = compile_scenario(reference.baseline)
    o = simulate(m, reference.baseline.seed, 0).outcomes
    assert list(o) == [x.name for x in m.outcomes]
    assert all(math.isfinite(v) for v in o.values())


def test_outcome_table_in_docs_is_generated_from_the_definitions() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "make_outcome_table.py"
    spec = importlib.util.spec_from_file_location("make_outcome_table", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.DOC.read_text()
    assert mod.render(text) == text, "docs/model.md outcome table drifted: run python docs/make_outcome_table.py"
    for d in OUTCOMES:  # and the table really lists every definition
        assert f"`{d.name}" in text, d.name


@given(scenarios(), seeds)
def test_every_outcome_comes_from_one_definition(s: Any, seed: int) -> None:
    m = compile_scenario(s)
    o = simulate(m, seed, 0).outcomes
    assert list(o) == [x.name for x in m.outcomes] == [x.name for x in catalogue(
        s.class_names, s.system_names, s.stocked_system_names)]
    for d in OUTCOMES:
        n = len(d.expand(s.class_names, s.system_names, s.stocked_system_names))
        assert n >= (0 if d.members else 1)
        if d.total is not None:  # a total is the sum of its members
            members = [v for k, v in o.items() if k.startswith(f"{d.name}.") and k != f"{d.name}.total"]
            assert o[f"{d.name}.total"] == pytest.approx(sum(members))


@given(st.floats(0.001, 0.999), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_shoot_look_shoot_shots_are_the_geometric_count(pk: float, shots: int, seed: int) -> None:
    """A target uses min(shots, G) shots, G = 1 + floor(log(1 - V) / log(1 - pk)) the shot that
    kills it, and is destroyed iff G <= shots (the same V decides both)."""
    v = np.random.default_rng(seed).random(2000)
    stops = ShootLookShoot().early_stops(pk, shots)
    away = np.ones(v.shape[0], dtype=bool)  # away from every threshold, where rounding may decide
    for q in [*stops, kill_probability(pk, shots)]:
        away &= np.abs(v - q) > 1e-9
    v = v[away]
    used = shots - sum((v < q).astype(int) for q in stops)
    g = 1 + np.floor(np.log1p(-v) / math.log1p(-pk))
    assert (used == np.minimum(g, shots)).all()
    assert ((g <= shots) == (v < kill_probability(pk, shots))).all()
    assert Salvo().early_stops(pk, shots) == []


def test_doctrine_reduces_shots_below_its_stock() -> None:
    d = Doctrine(Salvo(), 3, 1, 50.0)
    assert d.shots_per_target(math.inf) == 3 and d.shots_per_target(50.0) == 3 and d.shots_per_target(49.9) == 1
    assert d.reduces and not Doctrine(Salvo(), 2, 2, 10.0).reduces


# --------------------------------------------------------------------------- hostile values

_HOSTILE = r'''
import json, sys
from scenario_sim.bundled import resolve
from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate
from scenario_sim.model.limits import ModelLimitError

base = load_scenario(resolve(None)).baseline


def edit(obj, path, value):  # model_copy: no validation, so the model itself is what is tested
    head, *rest = path
    return obj.model_copy(update={head: value if not rest else edit(getattr(obj, head), rest, value)})


def resupply(interval):
    systems = list(base.air_defense.systems)
    i = next(k for k, s in enumerate(systems) if s.interceptors and s.interceptors.resupply)
    inter = systems[i].interceptors
    systems[i] = edit(systems[i], ["interceptors", "resupply", "interval_days"], interval)
    return edit(base, ["air_defense", "systems"], systems)


poisson = edit(base, ["attacker", "waves", "schedule"], "poisson")
cases = {
    "rate 1e7": edit(base, ["contacts", "stochastic", "rate_per_day"], 1e7),
    "rate inf": edit(base, ["contacts", "stochastic", "rate_per_day"], float("inf")),
    "waves_per_day 1e300": edit(poisson, ["attacker", "waves", "waves_per_day"], 1e300),
    "waves_per_day inf": edit(poisson, ["attacker", "waves", "waves_per_day"], float("inf")),
    "interval 1e-9": resupply(1e-9),
    # growth compounding for ever (the reference levels off with a half-life; without it, wave sizes explode)
    "horizon 2920": edit(edit(base, ["horizon_days"], 2920), ["attacker", "growth", "half_life_days"], None),
    "horizon 3650": edit(edit(base, ["horizon_days"], 3650), ["attacker", "growth", "half_life_days"], None),
    "levelling off, 2920": edit(base, ["horizon_days"], 2920),
}
out = {}
for name, s in cases.items():
    try:
        simulate(compile_scenario(s), 1, 0)
        out[name] = "ran"
    except ModelLimitError as e:
        out[name] = str(e)
print(json.dumps(out))
'''


def _limited(cpu_s: int, mem_bytes: int) -> Any:
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    return apply


def test_extreme_values_stop_with_a_limit_error_not_a_hang() -> None:
    """Rates of 1e7 or inf, 1e300 waves a day, a delivery every 1e-9 days and horizons whose
    compounding wave sizes reach billions of munitions: each is refused with one sentence
    naming the field.  Run under CPU and memory limits, so a regression fails here instead
    of taking the machine down."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-c", _HOSTILE], capture_output=True, text=True, cwd=root, timeout=120,
                       preexec_fn=_limited(60, 2 * 1024**3), check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    rate, waves, shahed = "contacts.stochastic.rate_per_day", "attacker.waves.waves_per_day", "classes.shahed"
    expect = {"rate 1e7": rate, "rate inf": rate, "waves_per_day 1e300": waves, "waves_per_day inf": waves,
              "interval 1e-9": "resupply.interval_days", "horizon 2920": shahed, "horizon 3650": shahed}
    for name, field in expect.items():
        assert field in out[name] and "limit" in out[name], (name, out[name])
        assert "\n" not in out[name]
    assert out["levelling off, 2920"] == "ran"  # growth that levels off stays within the limits


def test_processes_stop_at_the_limits_for_unlucky_tails() -> None:
    """The compile-time check uses expected counts; the processes enforce the same limits."""
    env = simpy.Environment()
    env.process(stochastic_contacts(env, ContactBus(), 50.0, "call", np.ones(100), 100.0,
                                    np.random.default_rng(1), 0.0, limit=1000))
    with pytest.raises(ModelLimitError, match="contact candidates"):
        env.run()


def test_rows_by_source_is_the_string_array_comparison() -> None:
    """``rows_by_source`` gives, source by source in order of first appearance, the rows that
    ``np.flatnonzero(np.array(sources) == source)`` gives (what the model used to build)."""
    from scenario_sim.model.contacts import rows_by_source

    rng = np.random.default_rng(3)
    for n in (0, 1, 7, 40):
        sources = [["scheduled", "stochastic", "other"][k] for k in rng.integers(0, 3, n)]
        got = rows_by_source(sources)
        assert list(got) == list(dict.fromkeys(sources))
        for source, rows in got.items():
            assert rows.dtype == np.int64
            assert np.array_equal(rows, np.flatnonzero(np.array(sources) == source))
