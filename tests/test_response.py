"""Contact responses: surge, pause or nothing; recorded answers; CRN of the new streams."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from scenario_sim.errors import ScenarioError
from scenario_sim.lang import load_text_scenario
from scenario_sim.lang.loader import validate_document
from scenario_sim.model import simulate
from tests.helpers import minimal_doc


def _doc(horizon: int = 40, contacts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    d = minimal_doc()
    d["horizon_days"] = horizon
    d["contacts"] = {"scheduled": contacts if contacts is not None else [{"date": 5}]}
    d["attacker"]["arsenal"]["drone"] = {"initial_stock": 10**6, "production_per_day": 0}
    d["attacker"]["waves"]["classes"]["drone"] = {"probability": 1.0, "size": 20}
    d["recommendations"] = []
    return d


def test_a_pause_of_scope_waves_stops_waves_for_its_duration() -> None:
    d = _doc()
    d["attacker"]["pause"] = {"probability": 1, "lag_days": 1, "duration_days": 10}
    r = simulate(validate_document(d, "x"), 3, 0, trace=True)
    assert r.waves is not None
    # contact at 5.5; pause [6.5, 16.5): the nights 6.9 .. 15.9 launch nothing
    quiet = [w.time for w in r.waves if not any(w.launched)]
    assert quiet == pytest.approx([6.9 + k for k in range(10)])
    assert r.outcomes["surges"] == 0
    assert r.draws["pause_probability"] == 1.0


def test_a_wave_factor_halves_waves_and_applies_to_surges() -> None:
    d = _doc(contacts=[{"date": 5}, {"date": 8, "response": {"kind": "surge"}}])
    d["attacker"]["surge"] = {"enabled": True, "probability": 0, "lag_days": 1, "size_multiplier": 3}
    d["attacker"]["pause"] = {"probability": 1, "duration_days": 10, "wave_factor": 0.5}
    r = simulate(validate_document(d, "x"), 3, 0, trace=True)
    assert r.waves is not None
    sizes = {round(w.time, 1): (w.surge, w.launched[0]) for w in r.waves}
    assert [sizes[t][1] for t in (4.9, 5.9, 14.9, 15.9)] == [20, 10, 10, 20]
    surge = [w for w in r.waves if w.surge]
    assert len(surge) == 1 and surge[0].time == pytest.approx(9.9) and surge[0].launched == [30]  # 60 halved


def test_an_energy_pause_spares_energy_and_re_aims_at_the_rest() -> None:
    d = _doc(horizon=60)
    d["attacker"]["targets"] = {"energy": 1, "civilian": 1, "military": 0}
    d["consequences"]["hit_probability"] = {"drone": 1.0}
    d["air_defense"]["systems"][0]["pk"] = {"drone": 0.0}
    d["consequences"]["energy"] = {"loss_per_hit": 0.001, "repair_per_day": 1.0, "floor": 0.0, "threshold": 0.999}
    base = simulate(validate_document(d, "x"), 5, 0, timeseries=True)
    d["contacts"]["scheduled"] = [{"date": 10, "response": {"kind": "pause", "pause_days": 30, "scope": "energy"}}]
    r = simulate(validate_document(d, "x"), 5, 0, timeseries=True)
    assert r.timeseries is not None and base.timeseries is not None
    e = r.timeseries["energy"]
    # end-of-day capacity before repair is 1 exactly on days without energy hits
    assert (e[10:40] == 1.0).all() and (e[:10] < 1.0).all() and (e[40:] < 1.0).all()
    assert r.outcomes["launched.total"] == base.outcomes["launched.total"]
    assert r.outcomes["hits.total"] == base.outcomes["hits.total"]  # re-aimed, not withheld
    assert r.outcomes["civilian_harm"] > base.outcomes["civilian_harm"]


def test_the_two_recorded_2025_calls_are_expressible() -> None:
    """18 March 2025: an agreed 30-day pause on energy strikes; 3 July 2025: a record night."""
    d = minimal_doc()
    d["horizon_days"] = 365
    d["attacker"]["surge"] = {"enabled": True, "probability": 0, "lag_days": 0, "size_multiplier": 4}
    d["consequences"]["hit_probability"] = {"drone": 1.0}
    d["air_defense"]["systems"][0]["pk"] = {"drone": 0.0}
    d["consequences"]["energy"] = {"loss_per_hit": 0.001, "repair_per_day": 1.0, "floor": 0.0, "threshold": 0.9}
    d["contacts"] = {"scheduled": [
        {"date": "2025-03-18", "response": {"kind": "pause", "pause_days": 30, "scope": "energy"}},
        {"date": "2025-07-03", "response": {"kind": "surge"}}]}
    d["recommendations"] = []
    r = simulate(validate_document(d, "x"), 11, 0, trace=True, timeseries=True)
    assert r.waves is not None and r.timeseries is not None
    e = r.timeseries["energy"]
    assert (e[76:106] == 1.0).all()  # day 76 = 18 March: no energy hits for 30 days
    surge = [w for w in r.waves if w.surge]
    assert len(surge) == 1 and int(surge[0].time) == 183  # 3 July, the same night
    assert r.outcomes["largest_wave"] == sum(surge[0].launched)


def test_pause_and_surge_share_the_contact_uniform() -> None:
    """Surges are decided exactly as without pauses; pauses take the next slice of U."""
    d = _doc(horizon=200, contacts=[{"date": k} for k in range(5, 190, 3)])
    d["attacker"]["surge"] = {"enabled": True, "probability": 0.3, "lag_days": 1, "size_multiplier": 2}
    no_pause = simulate(validate_document(d, "x"), 9, 4, trace=True)
    d2 = copy.deepcopy(d)
    d2["attacker"]["pause"] = {"probability": 0.4, "duration_days": 0.5, "scope": "military"}
    with_pause = simulate(validate_document(d2, "x"), 9, 4, trace=True)
    assert no_pause.outcomes["surges"] == with_pause.outcomes["surges"]
    assert [w.time for w in no_pause.waves or [] if w.surge] == [w.time for w in with_pause.waves or [] if w.surge]


@pytest.mark.parametrize("extra", [
    {"probability": 0.7},  # 0.5 + 0.7 > 1
])
def test_surge_and_pause_probabilities_may_not_exceed_one(extra: dict[str, Any]) -> None:
    d = _doc()
    d["attacker"]["surge"] = {"enabled": True, "probability": 0.5, "lag_days": 1, "size_multiplier": 2}
    d["attacker"]["pause"] = {"duration_days": 3, **extra}
    with pytest.raises(ScenarioError, match="must not exceed 1 together"):
        validate_document(d, "x")


def test_a_recorded_pause_without_a_length_is_a_located_error() -> None:
    text = (
        "name: t\nstart_date: 2025-01-01\nhorizon_days: 10\nmunitions: [{name: d, unit_cost_usd: 1}]\n"
        "contacts:\n  scheduled:\n    - {date: 3, response: {kind: pause}}\n"
        "attacker:\n  arsenal: {d: {initial_stock: 10, production_per_day: 1}}\n"
        "  waves: {classes: {d: {probability: 1, size: 1}}}\n"
        "  surge: {probability: 0, lag_days: 0, size_multiplier: 1}\n"
        "  targets: {energy: 1, civilian: 1, military: 1}\n"
        "air_defense: {readiness: {baseline: 1}, systems: [{name: g, engages: [d], pk: {d: 0.5}, "
        "capacity_per_wave: 5}]}\n"
        "consequences: {hit_probability: {d: 1}, harm_per_civilian_hit: 1, energy: {loss_per_hit: 0.1, "
        "repair_per_day: 0.1, floor: 0, threshold: 0.5}, civil_defense: {harm_factor_when_active: 1}}\n"
    )
    with pytest.raises(ScenarioError) as exc:
        load_text_scenario(text, "t.yaml")
    assert exc.value.lines() == ["t.yaml:7:27: contacts.scheduled[0].response: a recorded pause needs pause_days "
                                 "(or an attacker.pause section to take its duration from)"]


def test_no_pause_section_draws_no_pause_probability() -> None:
    r = simulate(validate_document(_doc(), "x"), 1, 0)
    assert np.isnan(r.draws["pause_probability"]) and r.draws["surge_probability"] == 0.0
