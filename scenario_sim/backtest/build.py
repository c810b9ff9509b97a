"""The scenario a backtest simulates: the user's scenario moved onto the records' window.

*Anchoring.*  A scenario describes the world from its ``start_date``: ``production_per_day``
and wave sizes are the level on day 0 and grow from there, ``initial_stock`` values are the
stocks on day 0.  A backtest sets ``start_date`` to the first simulated night and
``horizon_days`` to the window, and reads all of those as the state on that night.  The
scenario's calendar moves with it: every date in it (resupply ``first``, sanction
``start``, the start of stochastic contacts) is shifted by the same number of days as the
start date, so a delivery due two weeks after the scenario's start is due two weeks after
the window's start.  Scheduled contacts are the exception: they are dated real events, so
they keep their dates, and only those inside the window are kept.

*Time split.*  With a training fragment (calibrate's :func:`fragment_document` of the
training window), the fragment is merged over the scenario's own document, so the
scenario's structure (classes, layers, doctrines, stocks, assumptions) stays and every
number calibrate writes is the training window's.  Calibrated levels are the training
window's start, so the simulation starts there and runs to the end of the test window;
only the test nights are scored.  Numbers the fragment does not set stay as the scenario
has them.

Recommendation sets are applied after the merge (``--set``), as a run would; the result
drops ``recommendations``, ``uncertainties`` and ``worlds``, which a backtest does not use.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from scenario_sim.errors import UserError
from scenario_sim.lang.loader import _load, dump_scenario, read_document, validate_document
from scenario_sim.lang.patch import deep_merge
from scenario_sim.lang.schema import Scenario
from scenario_sim.text import did_you_mean


def _shift(node: Any, days: int) -> Any:
    """Every date in ``node`` moved by ``days`` (a new structure)."""
    if isinstance(node, dict):
        return {k: _shift(v, days) for k, v in node.items()}
    if isinstance(node, list):
        return [_shift(v, days) for v in node]
    if isinstance(node, dt.date):
        return node + dt.timedelta(days=days)
    return node


def _restrict(fragment: dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    """The fragment without classes or layers the scenario does not have."""
    classes = set(scenario.class_names)
    systems = set(scenario.system_names)
    out = dict(fragment)
    att = dict(out.get("attacker", {}))
    if "arsenal" in att:
        att["arsenal"] = {c: v for c, v in att["arsenal"].items() if c in classes}
    if "waves" in att:
        waves = dict(att["waves"])
        waves["classes"] = {c: v for c, v in waves.get("classes", {}).items() if c in classes}
        att["waves"] = waves
    if att:
        out["attacker"] = att
    if "air_defense" in out:
        kept = [dict(s, pk={c: p for c, p in s["pk"].items() if c in classes})
                for s in out["air_defense"]["systems"] if s["name"] in systems]
        out["air_defense"] = {"systems": kept}
    return out


def window_scenario(path: str | Path, set_name: str, start: dt.date, end: dt.date,
                    fragment: dict[str, Any] | None = None) -> Scenario:
    """Scenario ``path`` under ``set_name``, moved onto nights ``start .. end`` (see the notes).

    Raises :class:`~scenario_sim.errors.ScenarioError` (located) for a bad file or set, and
    :class:`~scenario_sim.errors.UserError` (``--set: ...``) for a set the file does not define.
    """
    doc = read_document(path)
    if fragment is not None:
        first = _load(doc, str(path), validate_sets=False).baseline
        doc = deep_merge(doc, _restrict(fragment, first))
    loaded = _load(doc, str(path), validate_sets=False)
    known = loaded.set_names
    if set_name not in known:  # the option is wrong, not the file: say so as run does for --sets
        raise UserError(f"--set: unknown recommendation set {set_name!r}{did_you_mean(set_name, known)} "
                        f"(known: {', '.join(known)})")
    scen = loaded.effective(set_name)
    data = dump_scenario(scen)
    offset = (start - scen.start_date).days
    scheduled = []
    for c in data.get("contacts", {}).get("scheduled", []):
        when = c["date"] if isinstance(c["date"], dt.date) else scen.start_date + dt.timedelta(days=c["date"])
        if start <= when <= end:
            scheduled.append({**c, "date": when})
    rest = {k: v for k, v in data.items() if k not in ("start_date", "contacts", "recommendations", "uncertainties",
                                                         "worlds")}
    out = _shift(rest, offset)
    contacts = _shift({k: v for k, v in data.get("contacts", {}).items() if k != "scheduled"}, offset)
    out.update(start_date=start, horizon_days=(end - start).days + 1, contacts={**contacts, "scheduled": scheduled})
    return validate_document(out, f"{path} (backtest {start}..{end})")
