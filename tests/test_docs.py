"""The documentation keeps up with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _make_tables() -> str:
    spec = importlib.util.spec_from_file_location("make_field_tables", ROOT / "docs" / "make_field_tables.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return str(mod.tables())


def test_scenario_language_doc_tables_are_current() -> None:
    doc = (ROOT / "docs" / "scenario-language.md").read_text()
    assert _make_tables() in doc, "run: python docs/make_field_tables.py and paste into docs/scenario-language.md"


def test_model_doc_names_every_stream_and_outcome_family() -> None:
    doc = (ROOT / "docs" / "model.md").read_text()
    for stream in ("contacts.stochastic", "attacker.surge.<contact id>", "attacker.waves.<class>.participation",
                   "air_defense.early_warning.<contact id>", "air_defense.<system>.resupply",
                   "air_defense.<system>.<class>", "consequences.hits.<class>", "consequences.harm"):
        assert stream in doc, stream
    for outcome in ("launched", "leaked", "civilian_harm", "energy.mean", "energy.days_below",
                    "stock_exhausted_days", "interceptor_spend_usd", "cost_exchange_ratio", "production"):
        assert outcome in doc, outcome
