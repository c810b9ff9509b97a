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

Usage: python benchmarks/bench_instructions.py [--reps 30] [--scenario PATH] [--rev REV ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import gc
import sys
sys.path.insert(0, sys.argv[1])
from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate
loaded = load_scenario(sys.argv[2])
model = compile_scenario(loaded.baseline)
seed = loaded.baseline.seed
for r in range(3):
    simulate(model, seed, 1000 + r)
gc.collect()
gc.freeze()  # the imports' objects out of later collections: a full collection over them would be noise
for r in range(int(sys.argv[3])):
    simulate(model, seed, r)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (not argparse's usage block)
        print(f"bench_instructions.py: {message}", file=sys.stderr)
        sys.exit(2)


def _fail(message: str) -> NoReturn:
    print(f"bench_instructions.py: {message}", file=sys.stderr)
    sys.exit(2)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {n})")
    return n


def _collected(src: Path, scenario: Path, reps: int, out_dir: Path) -> int:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": ""}
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/callgrind.%p",
                        sys.executable, "-c", _CHILD, str(src), str(scenario), str(reps)],
                       capture_output=True, text=True, env=env, check=False)
    found = re.findall(r"Collected : (\d+)", r.stderr)
    if r.returncode != 0 or not found:
        _fail(f"the child under valgrind failed ({src}): {r.stderr.strip().splitlines()[-1:]}")
    return int(found[-1])


def per_replication(src: Path, scenario: Path, reps: int) -> float:
    """Instructions of one replication of ``scenario`` with the scenario_sim in ``src``."""
    with tempfile.TemporaryDirectory() as tmp:
        without = _collected(src, scenario, 0, Path(tmp))
        with_reps = _collected(src, scenario, reps, Path(tmp))
    return (with_reps - without) / reps


def main() -> None:
    ap = _Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=_positive, default=30, help="replications counted per engine (default 30)")
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "reference.yaml",
                    help="scenario file (default: this tree's reference); every engine runs this file")
    ap.add_argument("--rev", nargs="*", default=[], metavar="REV", help="git revisions to count as well")
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
        counts = {name: per_replication(src, scenario, args.reps) for name, src in engines}
    print(f"scenario: {scenario}  replications counted: {args.reps}  (callgrind, PYTHONHASHSEED=0)")
    mine = counts["this tree"]
    for name, n in counts.items():
        rel = "" if name == "this tree" else f"  (this tree: {100 * (mine / n - 1):+.1f}%)"
        print(f"  {name:>12}: {n / 1e6:.3f}M instructions a replication{rel}")


if __name__ == "__main__":
    main()
