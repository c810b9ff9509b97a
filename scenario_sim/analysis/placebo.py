"""Each contact rule's benefit split into "from firing at all" and "from firing on contacts".

A run made with ``run --placebo`` has, for every set *S* that switches on a rule that fires on
contacts, a twin ``S_placebo``: the same set with those rules fired on as many random
non-contact days (:mod:`scenario_sim.model.placebo`).  Under common random numbers, per
replication *r* and outcome *X*:

* total effect        ``X(S) - X(baseline)``;
* from firing at all  ``X(S_placebo) - X(baseline)``;
* from firing on contacts ``X(S) - X(S_placebo)`` (the two add up to the total).

Each mean has a paired Student-t interval; the ``4 m`` intervals of ``m`` pairs (three effects
and the share) are Bonferroni-adjusted together.  ``share_from_contacts`` is the on-contacts
part over the total, ``mean(on) / mean(total)`` (NaN when the total is zero), with a
delta-method interval over the paired replications (docs/statistics.md): its standard error is
``sqrt(var(on) - 2 s cov(on, total) + s^2 var(total)) / (|mean(total)| sqrt(n))``.  A share is
only meaningful when the total is told apart from zero; ``share_reliable`` says so.

*Burden.*  The reader checks that the placebo fired as often as the rule on the burden that
rule raises (:data:`RULE_BURDEN`): raised-readiness nights for the readiness rules (after a
contact, and early warning, whose firings each raise readiness for its window), alert nights
for civil defence.  ``burden`` names them per row; every burden's set and placebo means are
columns.  The twins are found from the run folder's ``sets.json`` alone
(a set that includes exactly one set and only marks rules ``placebo: true``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from scenario_sim import runs
from scenario_sim.analysis.pairwise import paired_values
from scenario_sim.stats import t_interval

PLACEBO_CSV = "placebo.csv"
BURDENS = ("burden.alert_nights", "burden.raised_readiness_nights")
RULE_BURDEN = {"air_defense.readiness.after_contact": "burden.raised_readiness_nights",
               "air_defense.readiness.early_warning": "burden.raised_readiness_nights",
               "consequences.civil_defense.after_contact": "burden.alert_nights"}
"""The burden each contact rule raises (the placebo must raise as much of it)."""


def placebo_pairs(data: Any) -> dict[str, tuple[str, list[str]]]:
    """``{twin: (set, [rules])}`` for the placebo twins of a run (empty for a run without)."""
    out: dict[str, tuple[str, list[str]]] = {}
    for name in data.sets:
        info = data.set_info.get(name)
        if info is None or len(info.include) != 1 or info.include[0] not in data.sets or info.scale:
            continue
        keys = list(info.changes)
        if keys and all(k.endswith(".placebo") and info.changes[k] is True for k in keys):
            out[name] = (info.include[0], [k[: -len(".placebo")] for k in keys])
    return out


def _interval(d: Any, level: float) -> tuple[float, float, float]:
    m = float(d.mean())
    sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
    lo, hi = t_interval(m, sd, int(d.size), level)
    return m, lo, hi


def share_interval(on: Any, total: Any, level: float) -> tuple[float, float, float]:
    """``mean(on) / mean(total)`` with a delta-method t interval over paired replications."""
    n = int(total.size)
    tm = float(total.mean()) if n else math.nan
    if n == 0 or tm == 0:
        return math.nan, math.nan, math.nan
    r = float(on.mean()) / tm
    if n < 2:
        return r, math.nan, math.nan
    cov = np.cov(on, total, ddof=1)
    var = max(float(cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]), 0.0)
    lo, hi = t_interval(r, math.sqrt(var) / abs(tm), n, level)
    return r, lo, hi


def placebo_table(data: Any, outcome: str, level: float = 0.95) -> pd.DataFrame:
    """One row per (set, placebo twin): the three effects on ``outcome`` with intervals."""
    pairs = placebo_pairs(data)
    adj = 1 - (1 - level) / max(1, 4 * len(pairs))
    x = paired_values(data, outcome)
    names = {o.name for o in data.outcomes}
    burdens = {b: paired_values(data, b) for b in BURDENS if b in names}
    rows = []
    for twin, (s, rules) in pairs.items():
        base, rule, plc = (x[n].to_numpy() for n in (runs.BASELINE, s, twin))
        row: dict[str, Any] = {"set": s, "placebo": twin, "rules": ", ".join(rules), "outcome": outcome,
                               "n": int(base.size), "level": level}
        for key, d in (("total", rule - base), ("at_all", plc - base), ("on_contacts", rule - plc)):
            m, lo, hi = _interval(d, adj)
            row.update({key: m, f"{key}_low": lo, f"{key}_high": hi})
        share, slo, shi = share_interval(rule - plc, rule - base, adj)
        row.update(share_from_contacts=share, share_low=slo, share_high=shi,
                   share_reliable=bool(row["total_low"] > 0 or row["total_high"] < 0))
        row["burden"] = ", ".join(dict.fromkeys(RULE_BURDEN[r] for r in rules if r in RULE_BURDEN))
        for b, t in burdens.items():
            row[f"{b}.set"] = float(t[s].mean())
            row[f"{b}.placebo"] = float(t[twin].mean())
        rows.append(row)
    return pd.DataFrame(rows)
