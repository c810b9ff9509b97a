"""Shared fixtures: the bundled scenarios, a SimPy ``env``, and a scratch folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import simpy
from hypothesis import HealthCheck, settings

from scenario_sim.lang import LoadedScenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def reference() -> LoadedScenario:
    return load_scenario(SCENARIOS / "reference.yaml")


@pytest.fixture(scope="session")
def minimal() -> LoadedScenario:
    return load_scenario(SCENARIOS / "minimal.yaml")


@pytest.fixture
def env() -> simpy.Environment:
    return simpy.Environment()
