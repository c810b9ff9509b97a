"""Validation time of the scenario language as files grow (issue 14).

Times ``load_scenario`` (read, ``extends``, baseline and every set validated) for

* the reference scenario plus K independent sets (K = 100, 200, 400): linear in K means the
  time per set stays flat;
* a chain of K sets, each including the one before (K = 300, 600, 900);
* a diamond of ``extends`` across 5 files, each level listing the next twice;

and the cost of one replication at the edge of the work budget (``lang/budget.py``): the
reference with wave sizes scaled to 90% of the draw budget, and a ten-year poisson
schedule at 10 waves and 2 contacts a day with surges (88% of the event budget), each in a fresh
process (time and peak RSS of that process).

Usage: python benchmarks/bench_lang.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scenario_sim.lang import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def _timed(path: Path) -> float:
    t = time.perf_counter()
    load_scenario(path)
    return time.perf_counter() - t


def sets_file(folder: Path, k: int, chain: bool) -> Path:
    recs = "".join(
        f"  - name: s{i}\n" + (f"    include: [s{i - 1}]\n" if chain and i else "")
        + f"    changes:\n      air_defense.readiness.baseline: {0.5 + (i % 40) / 100}\n" for i in range(k))
    p = folder / f"{'chain' if chain else 'sets'}{k}.yaml"
    p.write_text(f"extends: reference\nname: bench\nrecommendations:\n{recs}")
    return p


def diamond(folder: Path) -> Path:
    (folder / "e.yaml").write_text((ROOT / "scenarios" / "minimal.yaml").read_text())
    (folder / "d.yaml").write_text("extends: [e.yaml, e.yaml]\ndescription: d\n")
    (folder / "c.yaml").write_text("extends: [d.yaml, d.yaml]\n")
    (folder / "b.yaml").write_text("extends: [c.yaml, c.yaml]\n")
    (folder / "a.yaml").write_text("extends: [b.yaml, b.yaml, c.yaml, d.yaml]\nname: a\n")
    return folder / "a.yaml"


def edge_scenarios(folder: Path) -> dict[str, Path]:
    from scenario_sim.lang.budget import MAX_DRAWS_PER_REPLICATION, work

    base = load_scenario(ROOT / "scenarios" / "reference.yaml").baseline
    k = 0.9 * MAX_DRAWS_PER_REPLICATION / work(base)["total_draws"]
    draws = folder / "edge_draws.yaml"
    draws.write_text("extends: reference\nname: edge\nattacker:\n  arsenal:\n" +
                     "".join(f"    {c}: {{initial_stock: 1.0e+9}}\n" for c in base.class_names) +
                     "  waves:\n    classes:\n" + "".join(
                         f"      {c}: {{size: {{dist: negbin, mean: {cw.size.mean() * k:.6g}, dispersion: 2}}}}\n"
                         for c, cw in base.attacker.waves.classes.items()))
    events = folder / "edge_events.yaml"
    events.write_text("extends: minimal\nname: edge\nhorizon_days: 3650\n"
                      "contacts: {stochastic: {rate_per_day: 2}}\n"
                      "attacker:\n  arsenal: {drone: {initial_stock: 1.0e+9}}\n"
                      "  waves: {schedule: poisson, waves_per_day: 10}\n"
                      "  surge: {enabled: true, probability: 0.5}\n")
    return {"90% of the draw budget": draws, "88% of the event budget": events}


def one_replication(path: Path) -> str:
    code = ("import resource, time\nfrom scenario_sim.lang import load_scenario\n"
            "from scenario_sim.lang.budget import work\nfrom scenario_sim.model import simulate\n"
            f"s = load_scenario({str(path)!r}).baseline\nw = work(s)\nt = time.perf_counter()\n"
            "o = simulate(s, 1, 0).outcomes\ndt = time.perf_counter() - t\n"
            "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
            "ev = w['opportunities'] + w['contacts'] + w['deliveries']\n"
            "print(f\"{dt:.1f} s, peak RSS {rss:.0f} MB; expected draws {w['total_draws']:.3g}, \"\n"
            "      f\"events {ev:.3g}; launched {o['launched.total']:.3g}\")\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    return r.stdout.strip()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = _timed(ROOT / "scenarios" / "reference.yaml")
        print(f"reference (8 sets): {base:.2f} s")
        for chain, ks in ((False, (100, 200, 400)), (True, (300, 600, 900))):
            for k in ks:
                t = _timed(sets_file(folder, k, chain))
                print(f"{'chain of' if chain else 'independent'} {k} sets: {t:.2f} s ({1000 * t / k:.1f} ms per set)")
        print(f"diamond of extends across 5 files: {_timed(diamond(folder)):.3f} s")
        for what, path in edge_scenarios(folder).items():
            print(f"one replication at {what}: {one_replication(path)}")


if __name__ == "__main__":
    main()
