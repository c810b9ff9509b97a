"""Backtest scores behind the model changes of issue 11.3 (docs/model.md §11).

Written before `scenario-sim backtest` existed, to score each model change on the records
directly; it uses the project's own calibrate and model code, and the same protocol as
issue 11: in sample (the shipped calibration, 2025-H1), and two time splits (calibrate on the
training half-year with `calibrate`, simulate from its start, score the test half-year).

    python benchmarks/model_scores.py RECORDS.csv [-n 200] [--only in,s1,s2]

Per class and month: the observed launches against the simulated 5-95% band (coverage) and
the share of months with a PIT in the outer deciles; Shahed leak fraction by night size
against the observed 95% interval (bootstrap over nights); monthly missile interception; the
share of nights with both cruise and ballistic missiles.  Resupply due dates are set to day
15 of each simulated window (the reference's are 2025 dates).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import itertools
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from scenario_sim.calibrate.classify import load_mapping
from scenario_sim.calibrate.command import CalibrationOptions, _usable, calibrate_records, write_outputs
from scenario_sim.calibrate.records import read_records
from scenario_sim.lang.loader import read_document, validate_document
from scenario_sim.model import compile_scenario, simulate
from scenario_sim.model.compiled import CompiledScenario

ROOT = Path(__file__).resolve().parent.parent
BINS = [0, 100, 200, 300, 100_000]
D = dt.date
SPLITS = {"s1": ((D(2024, 1, 1), D(2024, 6, 30)), (D(2024, 7, 1), D(2024, 12, 31))),
          "s2": ((D(2024, 7, 1), D(2024, 12, 31)), (D(2025, 1, 1), D(2025, 6, 30)))}


def rows_of(records: str) -> pd.DataFrame:
    rs = read_records(records)
    return _usable(rs, load_mapping(), CalibrationOptions(), Counter(), Counter())


def build(path: Path, start: dt.date, end: dt.date) -> CompiledScenario:
    doc = copy.deepcopy(read_document(path))
    doc["start_date"] = start
    doc["horizon_days"] = (end - start).days + 1
    for s in doc["air_defense"]["systems"]:
        r = (s.get("interceptors") or {}).get("resupply")
        if r:
            r["first"] = 15
    return compile_scenario(validate_document(doc, str(path)))


def simulate_nights(m: CompiledScenario, n: int, seed: int = 7) -> dict[str, np.ndarray[Any, Any]]:
    """Per replication and day: launched per class, Shahed leakers, missiles intercepted."""
    h, classes = m.horizon, m.classes
    out = {f"launched.{c}": np.zeros((n, h)) for c in classes}
    out |= {f"intercepted.{c}": np.zeros((n, h)) for c in classes}
    out["leaked.shahed"] = np.zeros((n, h))
    for r in range(n):
        for w in simulate(m, seed, r, trace=True).waves or []:
            d = int(w.time)
            for i, c in enumerate(classes):
                out[f"launched.{c}"][r, d] += w.launched[i]
                out[f"intercepted.{c}"][r, d] += w.intercepted[i]
                if c == "shahed":
                    out["leaked.shahed"][r, d] += w.leaked[i]
    return out


def coverage(obs: pd.DataFrame, sim: dict[str, Any], days: pd.DatetimeIndex, inwin: Any, c: str) -> str:
    months = days.to_period("M")
    inside, pits, cells = 0, [], []
    for mo in sorted(set(months[inwin])):
        sel = inwin & (months == mo)
        v = sim[f"launched.{c}"][:, sel].sum(axis=1)
        o = float(obs.loc[obs.index.to_period("M") == mo, c].sum()) if c in obs else 0.0
        lo, hi = np.percentile(v, [5, 95])
        inside += lo <= o <= hi
        pits.append((np.mean(v < o) + np.mean(v <= o)) / 2)
        cells.append(f"{mo}:{o:.0f}[{lo:.0f},{hi:.0f}]{'' if lo <= o <= hi else '*'}")
    outer = np.mean([p < 0.1 or p > 0.9 for p in pits])
    return f"  {c}: {inside}/{len(pits)} months inside; outer-decile PIT {outer:.2f}; " + " ".join(cells)


def leak_bins(rows: pd.DataFrame, sim: dict[str, Any], inwin: Any, a: str, b: str) -> list[str]:
    s = rows[(rows.cls == "shahed") & (rows.date >= a) & (rows.date <= b)]
    s = s.assign(nrg=s.not_reach_goal.fillna(0), known=s.destroyed.notna())
    g = s.groupby("date").agg(L=("launched", "sum"), D=("destroyed", "sum"), N=("nrg", "sum"), ok=("known", "all"))
    g = g[g.ok]
    g["leak"] = g.L - np.minimum(g.D + g.N, g.L)
    L, K = sim["launched.shahed"][:, inwin].ravel(), sim["leaked.shahed"][:, inwin].ravel()
    rng = np.random.default_rng(1)
    out = []
    for lo, hi in itertools.pairwise(BINS):
        o = g[(lo <= g.L) & (hi > g.L)]
        sm = (lo <= L) & (hi > L) & (L > 0)
        simf = K[sm].sum() / max(L[sm].sum(), 1)
        if len(o):
            idx = rng.integers(0, len(o), (2000, len(o)))
            ci = np.percentile(o.leak.to_numpy()[idx].sum(1) / o.L.to_numpy()[idx].sum(1), [2.5, 97.5])
            ok = "inside" if ci[0] <= simf <= ci[1] else "OUTSIDE"
            out.append(f"  Shahed leak {lo}-{hi}: {len(o)} nights, observed {o.leak.sum() / o.L.sum():.3f} "
                       f"[{ci[0]:.3f}, {ci[1]:.3f}], model {simf:.3f} ({ok})")
    return out


def score(m: CompiledScenario, rows: pd.DataFrame, n: int, a: str, b: str, label: str) -> None:
    days = pd.date_range(m.scenario.start_date, periods=m.horizon)
    inwin = (days >= pd.Timestamp(a)) & (days <= pd.Timestamp(b))
    r = rows[(rows.date >= a) & (rows.date <= b)]
    obs = r.pivot_table(index="date", columns="cls", values="launched", aggfunc="sum").reindex(
        pd.date_range(a, b)).fillna(0)
    sim = simulate_nights(m, n)
    print(f"== {label}: test {a}..{b}, {n} replications")
    for c in m.classes:
        print(coverage(obs, sim, days, inwin, c))
    print("\n".join(leak_bins(rows, sim, inwin, a, b)))
    months = days.to_period("M")
    for c in ("cruise", "ballistic"):
        x = r[(r.cls == c) & r.destroyed.notna()].assign(m=lambda d: d.date.dt.to_period("M"))
        g = x.groupby("m").agg(L=("launched", "sum"), D=("destroyed", "sum"))
        cells = []
        for mo in sorted(set(months[inwin])):
            sel = inwin & (months == mo)
            mod = sim[f"intercepted.{c}"][:, sel].sum() / max(sim[f"launched.{c}"][:, sel].sum(), 1)
            ob = g.D[mo] / g.L[mo] if mo in g.index else float("nan")
            cells.append(f"{mo} {ob:.2f}/{mod:.2f}")
        print(f"  {c} destroyed, observed/model: " + "; ".join(cells))
    on = obs > 0
    both = np.mean((sim["launched.cruise"][:, inwin] > 0) & (sim["launched.ballistic"][:, inwin] > 0))
    print(f"  nights with cruise and ballistic: observed {np.mean(on.cruise & on.ballistic):.3f}, model {both:.3f} "
          f"(independent: {on.cruise.mean() * on.ballistic.mean():.3f})")


def split(scenario: Path, records: str, rows: pd.DataFrame, key: str, n: int) -> None:
    train, test = SPLITS[key]
    tmp = Path(tempfile.mkdtemp())
    contacts = ROOT / "data" / "leader_contacts_2024-11_2025-06.csv"
    cal = calibrate_records(records, contacts, CalibrationOptions(since=train[0], until=train[1],
                                                                  n_placebo=500, n_boot=500))
    write_outputs(cal, tmp / "calibration")
    fp = tmp / "calibration" / "fragment.yaml"
    frag = yaml.safe_load(fp.read_text())
    frag["attacker"].setdefault("surge", {"probability": 0.0})  # no contacts in the training window
    fp.write_text(yaml.safe_dump(frag, sort_keys=False))
    (tmp / scenario.name).write_text(scenario.read_text())
    m = build(tmp / scenario.name, train[0], test[1])
    score(m, rows, n, str(test[0]), str(test[1]), f"train {train[0]}..{train[1]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records")
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "reference.yaml"))
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--only", default="in,s1,s2")
    a = ap.parse_args()
    rows = rows_of(a.records)
    scenario = Path(a.scenario)
    for key in a.only.split(","):
        if key == "in":
            m = build(scenario, D(2025, 1, 1), D(2025, 6, 29))
            score(m, rows, a.n, "2025-01-01", "2025-06-29", "in sample (shipped calibration)")
        else:
            split(scenario, a.records, rows, key, a.n)


if __name__ == "__main__":
    main()
