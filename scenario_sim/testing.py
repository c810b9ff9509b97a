"""Hypothesis strategies for writing your own invariant tests against the model.

``scenario_documents()`` draws valid scenario documents (plain dicts, as a YAML file would
hold) that vary every mechanism: one to three munition classes, one to three air-defence
layers with or without inventories and with either doctrine, coverage, readiness rules,
surges, scheduled and stochastic contacts, sanction levers and civil defence.  Horizons are
short so hypothesis can run many examples.  ``scenarios()`` validates them into
:class:`~scenario_sim.lang.schema.Scenario` objects::

    from hypothesis import given
    from scenario_sim.testing import scenarios
    from scenario_sim.model import simulate

    @given(scenarios(), st.integers(0, 2**32 - 1))
    def test_leakers_never_exceed_launches(s, seed):
        o = simulate(s, seed, 0).outcomes
        assert o["leaked.total"] <= o["launched.total"]

Requires the ``hypothesis`` package (installed with the ``test`` extra).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from scenario_sim.lang.loader import validate_document
from scenario_sim.lang.schema import Scenario

CLASS_NAMES = ["drone", "cruise", "ballistic"]

probabilities = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def distributions(draw: st.DrawFn, low: float = 0.0, high: float = 50.0, counts: bool = False,
                  bounded: bool = False) -> Any:
    """A distribution spec: support inside [low, high] if ``bounded``, else non-negative with
    values around that range (``counts``: count distributions allowed)."""
    kinds = ["fixed", "uniform", "triangular", "empirical"]
    if not bounded:
        kinds += ["poisson", "negbin"] if counts else ["lognormal"]
    kind = draw(st.sampled_from(kinds))
    a = draw(st.floats(low, high, allow_nan=False))
    b = draw(st.floats(low, high, allow_nan=False))
    lo, hi = min(a, b), max(a, b)
    if kind == "fixed":
        return a
    if kind == "uniform":
        return {"dist": "uniform", "low": lo, "high": hi}
    if kind == "triangular":
        return {"dist": "triangular", "low": lo, "mode": (lo + hi) / 2, "high": hi}
    if kind == "empirical":
        return {"dist": "empirical", "values": [lo, hi], "probs": [0.5, 0.5]}
    if kind == "poisson":
        return {"dist": "poisson", "mean": a}
    if kind == "negbin":
        return {"dist": "negbin", "mean": a, "dispersion": draw(st.floats(0.1, 10.0))}
    return {"dist": "lognormal", "mean": max(a, 0.1), "sd": b}


@st.composite
def scenario_documents(draw: st.DrawFn, max_horizon_days: int = 60) -> dict[str, Any]:
    """A valid scenario document exercising every mechanism of the model."""
    n_classes = draw(st.integers(1, 3))
    classes = CLASS_NAMES[:n_classes]
    horizon = draw(st.integers(1, max_horizon_days))
    day = st.integers(0, horizon - 1)
    systems = []
    for i in range(draw(st.integers(1, 3))):
        engages = draw(st.lists(st.sampled_from(classes), min_size=1, max_size=n_classes, unique=True))
        sysd: dict[str, Any] = {
            "name": f"layer{i}",
            "engages": engages,
            "pk": {c: draw(probabilities) for c in engages},
            "capacity_per_wave": draw(st.integers(0, 200)),
            "doctrine": {
                "mode": draw(st.sampled_from(["salvo", "shoot_look_shoot"])),
                "shots_per_target": (hi := draw(st.integers(1, 3))),
                "reduced_shots_per_target": draw(st.integers(1, hi)),
                "reduce_below_stock": draw(st.floats(0, 100)),
            },
            "cost_per_shot_usd": draw(st.floats(0, 1e6)),
        }
        if draw(st.booleans()):
            sysd["coverage"] = {c: draw(probabilities) for c in engages}
        if draw(st.booleans()):
            inter: dict[str, Any] = {"initial_stock": draw(st.integers(0, 500))}
            if draw(st.booleans()):
                inter["resupply"] = {"first": draw(day), "interval_days": draw(st.floats(1, 30)),
                                     "quantity": draw(st.integers(0, 100)),
                                     "lead_time_days": draw(distributions(0, 10))}
            sysd["interceptors"] = inter
        systems.append(sysd)
    levers = []
    for i, kind in enumerate(draw(st.lists(st.sampled_from(
            ["asset_freeze", "travel_ban", "financial_access", "export_controls"]), max_size=3))):
        levers.append({"name": f"lever{i}", "kind": kind, "enabled": draw(st.booleans()), "start": draw(day),
                       "ramp_days": draw(st.floats(0, 60)),
                       "production_effect": {c: draw(probabilities) for c in classes},
                       "evasion_half_life_days": draw(st.one_of(st.none(), st.floats(1, 400))),
                       "contact_rate_effect": draw(probabilities)})
    doc: dict[str, Any] = {
        "name": "generated",
        "start_date": "2025-01-01",
        "horizon_days": horizon,
        "munitions": [{"name": c, "unit_cost_usd": draw(st.floats(0, 1e6))} for c in classes],
        "contacts": {
            "scheduled": [{"date": d, "kind": draw(st.sampled_from(["call", "meeting"])),
                           "status": draw(st.sampled_from(["confirmed", "denied"]))}
                          for d in draw(st.lists(day, max_size=4))],
            "broadcast_denied": draw(st.booleans()),
        },
        "attacker": {
            "arsenal": {c: {"initial_stock": draw(st.floats(0, 2000)), "production_per_day": draw(st.floats(0, 100)),
                            "production_growth_per_month": draw(st.floats(-0.5, 0.5)),
                            "reserve_stock": draw(st.floats(0, 100))} for c in classes},
            "waves": {
                "schedule": draw(st.sampled_from(["nightly", "poisson"])),
                "waves_per_day": draw(st.floats(0.1, 3)),
                "size_growth_per_month": draw(st.floats(-0.5, 0.5)),
                "classes": {c: {"probability": draw(probabilities), "size": draw(distributions(0, 150, counts=True))}
                            for c in classes},
            },
            "surge": {
                "enabled": draw(st.booleans()),
                "probability": draw(distributions(0, 1, bounded=True)),
                "lag_days": draw(distributions(0, 5)),
                "size_multiplier": draw(distributions(0, 5)),
                "stockpile_days": draw(st.floats(0, 5)),
                "stockpile_wave_factor": draw(probabilities),
            },
            "targets": {"energy": draw(st.floats(0.01, 1)), "civilian": draw(st.floats(0, 1)),
                        "military": draw(st.floats(0, 1))},
        },
        "air_defense": {
            "readiness": {
                "baseline": draw(probabilities),
                "after_contact": {"enabled": draw(st.booleans()), "duration_days": draw(st.floats(0, 5)),
                                  "level": draw(probabilities)},
                "early_warning": {"enabled": draw(st.booleans()), "detection_probability": draw(probabilities),
                                  "lead_days": draw(st.floats(0, 3)), "level": draw(probabilities)},
            },
            "systems": systems,
        },
        "sanctions": {"levers": levers},
        "consequences": {
            "hit_probability": {c: draw(probabilities) for c in classes},
            "harm_per_civilian_hit": draw(distributions(0, 10)),
            "energy": {"loss_per_hit": draw(st.floats(0, 0.1)), "protection": draw(probabilities),
                       "repair_per_day": draw(st.floats(0, 0.1)), "floor": (fl := draw(st.floats(0, 0.9))),
                       "threshold": draw(probabilities), "initial": draw(st.floats(fl, 1.0))},
            "civil_defense": {"harm_factor_when_active": draw(probabilities), "always_active": draw(st.booleans()),
                              "after_contact": {"enabled": draw(st.booleans()),
                                                "duration_days": draw(st.floats(0, 5))}},
        },
    }
    if draw(st.booleans()):
        doc["contacts"]["stochastic"] = {"rate_per_day": draw(st.floats(0, 0.5)), "start": draw(day)}
    return doc


def scenarios(max_horizon_days: int = 60) -> st.SearchStrategy[Scenario]:
    """Valid :class:`Scenario` objects (see :func:`scenario_documents`)."""
    return scenario_documents(max_horizon_days).map(lambda d: validate_document(d, "<generated>"))
