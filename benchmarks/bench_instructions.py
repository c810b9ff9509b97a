"""Instructions per replication under callgrind: a speed measure that load does not move.

On a shared machine CPU time moves with the load (BENCHMARKS.md, session 9); the count of
instructions a replication executes does not.  For this tree's engine and each ``--rev``
(``git archive REV scenario_sim``), the same child runs twice under
``valgrind --tool=callgrind``: once simulating ``--reps`` replications of the scenario's
baseline after 3 warm-up ones, once simulating none; the difference divided by ``--reps``
is the count of one replication (imports, compilation and warm-up cancel).  String hashing
is fixed (``PYTHONHASHSEED=0``): with a random hash seed the count moves by ~0.5%.  After the
warm-up the objects alive are frozen out of the garbage collector (``gc.freeze``): otherwise
whether a full collection over the imports' objects (millions of instructions) falls inside
the counted replications or not moves a count of a few replications by several percent.
Each child takes about a minute (valgrind runs Python ~50x slower); the children of one
engine run one after the other, engines one after the other.

With ``--phase1 F1,F2,..`` it counts phase 1 of a replication (``World.build`` +
``run_events``) and, beside it, the same scheduling replayed in a bare SimPy loop
(``benchmarks/phase1.py``), on the scenario with its stochastic contacts' rate times each
factor: one child prepares the replications (setup and recorded schedules), then runs them
inside ``functools.reduce``, and only what runs inside it is counted
(``--toggle-collect=functools_reduce``), so the count is phase 1 alone (with the garbage
collector off while counting: see the child).  A line through the factors
gives the fixed and the per-event instructions.

Usage: python benchmarks/bench_instructions.py [--reps 30] [--scenario PATH] [--rev REV ...]
       python benchmarks/bench_instructions.py --phase1 1,4,16 [--reps 200]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from _options import fail, positive  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import gc
import sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[6])
from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate
loaded = load_scenario(sys.argv[2])
n, part = int(sys.argv[3]), sys.argv[4]
if part == "replication":
    model = compile_scenario(loaded.baseline)
    seed = loaded.baseline.seed
    for r in range(3):
        simulate(model, seed, 1000 + r)
    gc.collect()
    gc.freeze()  # the imports' objects out of later collections: a full collection over them would be noise
    for r in range(n):
        simulate(model, seed, r)
else:  # phase 1, or the replayed scheduling: n replications prepared, then run (only that is counted)
    import phase1
    from scenario_sim.model.simulation import World, setup_replication
    model = compile_scenario(phase1.scaled(loaded.baseline, float(sys.argv[5])))
    seed = loaded.baseline.seed
    for r in range(3):
        w = World.create(model, seed, 1000 + r)
        w.run_events()
        phase1.replay(phase1.record_schedule(model, seed, 1000 + r))
    reps = int(sys.argv[7])
    scheds = [phase1.record_schedule(model, seed, r) for r in range(reps)]
    ready = [setup_replication(model, seed, r) for r in range(reps)]
    print(sum(s.events for s in scheds))
    gc.collect()
    gc.freeze()
    # No collection while counting: whether the collector runs inside the counted phase
    # (World and Environment objects are reference cycles) moved its count by ~40% between
    # runs of different lengths.  The collector's cost is left out, of phase 1 and of the
    # replayed loop alike.
    gc.disable()
    import functools

    def phase(_, ms):
        w = World.build(*ms)
        w.run_events()

    # Only what runs inside functools.reduce is counted (callgrind --toggle-collect): two runs
    # of the same child differ by ~5M instructions outside it (imports), more than 40 phases.
    if part == "phase1":
        functools.reduce(phase, ready[:n], None)
    elif part == "build":  # the components alone
        functools.reduce(lambda _, ms: World.build(*ms), ready[:n], None)
    elif part == "deliver":  # the delivery calendar alone (its streams opened), on worlds built before
        worlds = [World.build(*ms) for ms in ready[:n]]
        functools.reduce(lambda _, w: w.air_defense.deliver(), worlds, None)
    else:
        functools.reduce(lambda _, s: phase1.replay(s), scheds[:n], None)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (not argparse's usage block)
        print(f"bench_instructions.py: {message}", file=sys.stderr)
        sys.exit(2)


_fail = fail


def _factors(text: str) -> list[float]:
    try:
        out = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not out or min(out) <= 0:
        raise argparse.ArgumentTypeError(f"factors must be positive (got {text!r})")
    return out


def _print_phase1(engines: list[tuple[str, Path]], scenario: Path, reps: int, factors: list[float]) -> None:
    import statistics

    print("command: python " + " ".join(shlex.quote(a) for a in sys.argv))
    print(f"scenario: {scenario}  replications counted: {reps}  (callgrind, PYTHONHASHSEED=0)")
    replayed: list[tuple[float, float]] = []
    for f in factors:  # the replayed scheduling is the same whatever the engine: counted with this tree's
        rp, events = per_phase1(ROOT, scenario, reps, "replay", f)
        replayed.append((events, rp))
    for name, src in engines:
        print(f"engine: {name}")
        print("  rate factor   events   phase 1 (instructions)   replayed scheduling   phase 1 / replayed")
        rows = []
        for f, (_events, rp) in zip(factors, replayed, strict=True):
            p1, ev = per_phase1(src, scenario, reps, "phase1", f)
            rows.append((ev, p1, rp))
            print(f"  {f:11g} {ev:8.2f} {p1 / 1e3:18.1f}k {rp / 1e3:20.1f}k {p1 / rp:20.2f}", flush=True)
        build, _ = per_phase1(src, scenario, reps, "build", factors[0])
        deliver, _ = per_phase1(src, scenario, reps, "deliver", factors[0])
        print(f"  of phase 1 at rate factor {factors[0]:g}: World.build {build / 1e3:.1f}k, AirDefense.deliver "
              f"(2 streams opened, lead times, calendar) {deliver / 1e3:.1f}k, the rest (processes, the "
              f"contacts' stream, SimPy run) {(rows[0][1] - build - deliver) / 1e3:.1f}k", flush=True)
        if len(rows) >= 2:
            xs = [r[0] for r in rows]
            b1, a1 = statistics.linear_regression(xs, [r[1] for r in rows])
            b2, a2 = statistics.linear_regression(xs, [r[2] for r in rows])
            print(f"  phase 1:  {a1 / 1e3:.1f}k fixed + {b1:.0f} an event;  replayed: {a2 / 1e3:.1f}k fixed + "
                  f"{b2:.0f} an event (least squares)")
            print(f"  per event (slope) phase 1 / replayed: {b1 / b2:.2f}x;  fixed, phase 1 - replayed: "
                  f"{(a1 - a2) / 1e3:.1f}k")


_positive = positive


def _collected(src: Path, scenario: Path, reps: int, out_dir: Path, part: str = "replication",
               rate_factor: float = 1.0, prepared: int = 0) -> tuple[int, int]:
    """(instructions collected, events stepped by the prepared replications: 0 for ``replication``)."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": ""}
    region = [] if part == "replication" else ["--collect-atstart=no", "--toggle-collect=functools_reduce"]
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/callgrind.%p", *region,
                        sys.executable, "-c", _CHILD, str(src), str(scenario), str(reps), part, str(rate_factor),
                        str(Path(__file__).resolve().parent), str(prepared)],
                       capture_output=True, text=True, env=env, check=False)
    found = re.findall(r"Collected : (\d+)", r.stderr)
    if r.returncode != 0 or not found:
        _fail(f"the child under valgrind failed ({src}): {r.stderr.strip().splitlines()[-1:]}")
    return int(found[-1]), int(r.stdout.strip() or 0)


def per_replication(src: Path, scenario: Path, reps: int) -> float:
    """Instructions of one replication of ``scenario`` with the scenario_sim in ``src``."""
    with tempfile.TemporaryDirectory() as tmp:
        without, _ = _collected(src, scenario, 0, Path(tmp))
        with_reps, _ = _collected(src, scenario, reps, Path(tmp))
    return (with_reps - without) / reps


def per_phase1(src: Path, scenario: Path, reps: int, part: str, rate_factor: float) -> tuple[float, float]:
    """(instructions of phase 1 of one replication, or of its scheduling replayed (``part``
    ``phase1`` or ``replay``), mean events of a replication), on ``scenario`` with its
    stochastic contacts' rate times ``rate_factor``.  The child prepares ``reps`` replications
    (streams and per-replication draws; the schedules recorded), then runs them inside
    ``functools.reduce``, the only code callgrind counts (``--toggle-collect``)."""
    with tempfile.TemporaryDirectory() as tmp:
        counted, events = _collected(src, scenario, reps, Path(tmp), part, rate_factor, reps)
    return counted / reps, events / reps


def main() -> None:
    ap = _Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=_positive, default=30, help="replications counted per engine (default 30)")
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "reference.yaml",
                    help="scenario file (default: this tree's reference); every engine runs this file")
    ap.add_argument("--rev", nargs="*", default=[], metavar="REV", help="git revisions to count as well")
    ap.add_argument("--phase1", type=_factors, default=None, metavar="F1,F2,...",
                    help="count phase 1 (World.build + run_events) and the model's scheduling replayed in a bare "
                         "SimPy loop (benchmarks/phase1.py) instead of whole replications, with the stochastic "
                         "contacts' rate times each factor, and fit fixed + per-event instructions")
    args = ap.parse_args()
    # Everything is checked before the first (minute-long) child starts.
    if not args.scenario.is_file():
        _fail(f"--scenario {args.scenario}: no such file")
    for rev in args.rev:
        ok = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                            capture_output=True, check=False).returncode == 0
        if not ok:
            _fail(f"--rev {rev}: not a revision of this repository")
    if shutil.which("valgrind") is None:
        _fail("valgrind not found (apt-get install valgrind)")
    scenario = args.scenario.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        engines = [("this tree", ROOT)]
        for rev in args.rev:
            d = Path(tmp) / rev
            d.mkdir()
            subprocess.run(f"git -C {ROOT} archive {rev} scenario_sim | tar -x -C {d}", shell=True, check=True)
            engines.append((rev, d))
        if args.phase1:
            _print_phase1(engines, scenario, args.reps, args.phase1)
            return
        counts = {name: per_replication(src, scenario, args.reps) for name, src in engines}
    print("command: python " + " ".join(shlex.quote(a) for a in sys.argv))
    print(f"scenario: {scenario}  replications counted: {args.reps}  (callgrind, PYTHONHASHSEED=0)")
    mine = counts["this tree"]
    for name, n in counts.items():
        rel = "" if name == "this tree" else f"  (this tree: {100 * (mine / n - 1):+.1f}%)"
        print(f"  {name:>12}: {n / 1e6:.3f}M instructions a replication{rel}")


if __name__ == "__main__":
    main()
