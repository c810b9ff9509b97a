"""The experiment harness against plain process pools and EMA Workbench driving the same model.

Anchors (each a child process driving ``simulate`` on the reference baseline, outcomes
returned to the parent, nothing written):

* ``pool``: ``multiprocessing.Pool(jobs)`` mapping ``simulate`` over the replications in
  chunks of 50 (the model compiled once per worker): the leanest harness there is, the
  floor any harness is measured against;
* ``ema``: EMA Workbench's ``MultiprocessingEvaluator(n_processes=jobs)`` running one
  experiment per replication, in this interpreter (on Python 3.11 that is the 2.5.x the test
  extra installs; skipped if ``ema_workbench`` is not importable);
* ``ema3``: the same with **EMA Workbench 3**, the issue's anchor.  It needs Python >= 3.12,
  so it runs in a virtual environment of its own, made on first use and cached outside git
  (``--ema3-venv``, default ``benchmarks/.cache/ema3-py3.X``): ``ema-workbench>=3,<4`` and
  this checkout's dependencies (``setup.cfg``'s ``install_requires``) with numpy, SciPy,
  SimPy, pydantic, PyYAML, pyarrow and pandas pinned to this interpreter's versions where the
  index has them, so that the model's own speed is not what differs; the checkout itself
  is put on ``PYTHONPATH`` (the venv never holds a stale copy).  The base interpreter is
  ``--ema3-python PATH``, else the first Python >= 3.12 among ``python3.12 .. python3.14``
  on ``PATH`` and pyenv's versions.  If none is found, or the venv cannot be made, the arm
  is skipped with one line saying why;
* ``model``: no harness at all: the parent loads and compiles the model once and forks
  ``jobs`` processes, each simulating every ``jobs``-th replication and returning nothing.
  It is the model's work on as many cores, plus one interpreter's imports: what any harness
  must spend at least (on a shared machine, running in parallel itself costs CPU time: a
  serial loop would not be a fair floor), so ``model / pool`` is the floor of ``ours / pool``;
* ``pool3`` and ``ours3``: the bare Pool and our run in that same Python >= 3.12 venv, so
  that ``ours3 / ema3`` compares the harnesses in one interpreter (``ours / ema3`` mixes in
  the interpreter's own speed, which ``pool3 / pool`` measures).

Ours: ``python -m scenario_sim run --sets baseline -n N --jobs J`` end to end, writing its
results folder and printing its ranking.  Every arm runs as a child process, all of them
alternately, ``--rounds`` times (every second round in the reverse order, so that a drift
in the load falls on both sides); the figures are wall time and CPU time (user + system of
the child and its descendants: "core time"), medians over the rounds, the ratio ours /
anchor of the medians and, in brackets, the median of each round's own ratio.  On a shared
machine the CPU ratio is the steadier one.

Usage: python benchmarks/bench_harness.py [--reps 2000] [--jobs 2] [--rounds 3]
       [--anchors pool,ema,ema3,pool3,ours3,model] [--ema3-python PATH] [--ema3-venv DIR]
"""

from __future__ import annotations

import argparse
import configparser
import glob
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from _options import fail, positive  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / ".cache"

ANCHOR = r"""
import sys
from multiprocessing import Pool

from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate

_model = None


def init(path):
    global _model
    loaded = load_scenario(path)
    _model = (compile_scenario(loaded.baseline), loaded.baseline.seed)


def run(chunk):
    model, seed = _model
    return [simulate(model, seed, r).outcomes for r in chunk]


if __name__ == "__main__":
    path, reps, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    chunks = [range(k, min(k + 50, reps)) for k in range(0, reps, 50)]
    with Pool(jobs, initializer=init, initargs=(path,)) as pool:
        rows = [row for part in pool.imap(run, chunks) for row in part]
    assert len(rows) == reps
"""


MODEL_ONLY = r"""
import multiprocessing
import sys

from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate


def share(model, seed, k, jobs, reps):
    for r in range(k, reps, jobs):
        simulate(model, seed, r)


if __name__ == "__main__":
    path, reps, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    loaded = load_scenario(path)
    model, seed = compile_scenario(loaded.baseline), loaded.baseline.seed
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=share, args=(model, seed, k, jobs, reps)) for k in range(jobs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
"""


ANCHOR_EMA = r"""
import sys

from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate

_model = {}


def replication(replication=0, path=""):
    if path not in _model:  # once per worker process
        loaded = load_scenario(path)
        _model[path] = (compile_scenario(loaded.baseline), loaded.baseline.seed)
    model, seed = _model[path]
    return simulate(model, seed, int(replication)).outcomes


if __name__ == "__main__":
    import ema_workbench
    from ema_workbench import Constant, IntegerParameter, Model, MultiprocessingEvaluator, ScalarOutcome

    # EMA Workbench 3 calls a point in the input space a Sample (2.x: a Scenario)
    Point = getattr(ema_workbench, "Sample", None) or ema_workbench.Scenario
    path, reps, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    want = sys.argv[4] if len(sys.argv) > 4 else ""
    if want and not ema_workbench.__version__.startswith(want):
        raise SystemExit(f"ema_workbench {ema_workbench.__version__} is not {want}.x")
    loaded = load_scenario(path)
    model = Model("reference", function=replication)
    model.uncertainties = [IntegerParameter("replication", 0, reps - 1)]
    model.constants = [Constant("path", path)]
    model.outcomes = [ScalarOutcome(o.name) for o in compile_scenario(loaded.baseline).outcomes]
    with MultiprocessingEvaluator(model, n_processes=jobs) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=[Point(f"r{r}", replication=r)
                                                                         for r in range(reps)])
    assert len(experiments) == reps and sorted(experiments["replication"]) == list(range(reps))
"""

ARMS = ("pool", "ema", "ema3", "pool3", "ours3", "model")
LABELS = {"pool": "anchor: multiprocessing.Pool over simulate",
          "ema": "anchor: EMA Workbench MultiprocessingEvaluator",
          "ema3": "anchor: EMA Workbench 3 MultiprocessingEvaluator",
          "pool3": "multiprocessing.Pool, EMA 3's interpreter",
          "ours3": "scenario-sim run, EMA 3's interpreter",
          "model": "no harness: forked processes, simulate only",
          "ours": "scenario-sim run --sets baseline"}
PINNED = ("numpy", "scipy", "simpy", "pydantic", "pydantic-core", "PyYAML", "pyarrow", "pandas")
"""The model's stack, pinned in the EMA 3 venv to this interpreter's versions when the index has them."""
VERSIONS = "import sys, numpy, simpy, pydantic; print(sys.version.split()[0], numpy.__version__, " \
           "simpy.__version__, pydantic.__version__)"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (not argparse's usage block)
        _fail(message)


_fail, _positive = fail, positive


def _version_of(python: str) -> tuple[int, int] | None:
    """(major, minor) of the interpreter at ``python``, or None if it does not run."""
    try:
        r = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                           text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    major, minor = r.stdout.split()
    return int(major), int(minor)


def find_python(given: str | None) -> tuple[str | None, str]:
    """A Python >= 3.12 for EMA Workbench 3: (path, "") or (None, why there is none)."""
    if given is not None:
        v = _version_of(given)
        if v is None:
            return None, f"--ema3-python {given}: does not run"
        if v < (3, 12):
            return None, f"--ema3-python {given}: is Python {v[0]}.{v[1]}; EMA Workbench 3 needs >= 3.12"
        return given, ""
    pyenv = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = [p for name in ("python3.12", "python3.13", "python3.14") if (p := shutil.which(name))]
    candidates += sorted(glob.glob(f"{pyenv}/versions/3.1[2-9]*/bin/python"))
    for p in candidates:
        v = _version_of(p)
        if v is not None and v >= (3, 12):
            return p, ""
    return None, "no Python >= 3.12 found (give one with --ema3-python PATH)"


def _requirements() -> list[str]:
    """This checkout's dependencies (setup.cfg), with EMA Workbench 3 instead of 2.x."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    reqs = [r.strip() for r in cfg["options"]["install_requires"].splitlines() if r.strip()]
    return [r for r in reqs if not r.lower().replace("_", "-").startswith("ema-workbench")] + ["ema-workbench>=3,<4"]


def _pins() -> list[str]:
    out = []
    for name in PINNED:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out


def ema3_venv(base: str, where: str | None) -> tuple[str | None, str]:
    """The EMA Workbench 3 venv's python, made (and cached) on first use: (path, note) or (None, why not)."""
    v = _version_of(base)
    assert v is not None
    venv = Path(where) if where else CACHE / f"ema3-py{v[0]}.{v[1]}"
    py = venv / "bin" / "python"
    reqs, pins = _requirements(), _pins()
    stamp = hashlib.sha256(json.dumps([str(Path(base).resolve()), reqs, pins]).encode()).hexdigest()
    if py.exists() and (venv / "stamp").exists() and (venv / "stamp").read_text() == stamp:
        return str(py), f"cached venv {venv}"
    shutil.rmtree(venv, ignore_errors=True)
    print(f"making the EMA Workbench 3 venv in {venv} from {base} (once; about a minute) ...", flush=True)
    log = venv.parent / f"{venv.name}.log"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        ok = subprocess.run([base, "-m", "venv", str(venv)], stdout=f, stderr=subprocess.STDOUT).returncode == 0
        note = f"made {venv}, the model's stack pinned to this interpreter's"
        if ok:
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as c:
                c.write("\n".join(pins) + "\n")
            pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", *reqs]
            ok = subprocess.run([*pip, "-c", c.name], stdout=f, stderr=subprocess.STDOUT).returncode == 0
            os.unlink(c.name)
            if not ok:  # a pinned version the index lacks for this Python: the newest instead, said so
                note = f"made {venv}, NOT pinned (see {log}): the model's stack may differ in version"
                ok = subprocess.run(pip, stdout=f, stderr=subprocess.STDOUT).returncode == 0
    if not ok:
        shutil.rmtree(venv, ignore_errors=True)
        return None, f"could not make the EMA Workbench 3 venv (see {log})"
    (venv / "stamp").write_text(stamp)
    return str(py), note


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child and its descendants)."""
    before = os.times()
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    if r.returncode != 0:  # progress bars go to stderr too: shown only when the command failed
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu


def _options() -> argparse.Namespace:
    ap = _Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=_positive, default=2000)
    ap.add_argument("--jobs", type=_positive, default=2)
    ap.add_argument("--rounds", type=_positive, default=3)
    ap.add_argument("--anchors", default="pool,ema,ema3,pool3,ours3,model", help=f"comma-separated: {', '.join(ARMS)}")
    ap.add_argument("--ema3-python", metavar="PATH", help="a Python >= 3.12 to make the EMA Workbench 3 venv with")
    ap.add_argument("--ema3-venv", metavar="DIR", help="where that venv is (made if missing; default: "
                                                        "benchmarks/.cache/ema3-py3.X)")
    args = ap.parse_args()
    args.chosen = list(dict.fromkeys(a for a in args.anchors.split(",") if a))
    unknown = [a for a in args.chosen if a not in ARMS]
    if unknown or not args.chosen:
        _fail(f"--anchors: expected some of {', '.join(ARMS)} (got {args.anchors!r})")
    return args


def _commands(chosen: list[str], args: argparse.Namespace, tmp: str,
              py3: str | None) -> dict[str, tuple[list[str], dict[str, str] | None]]:
    scenario = str(ROOT / "scenarios" / "reference.yaml")
    (Path(tmp) / "pool.py").write_text(ANCHOR)
    (Path(tmp) / "ema.py").write_text(ANCHOR_EMA)
    (Path(tmp) / "model.py").write_text(MODEL_ONLY)
    tail = [scenario, str(args.reps), str(args.jobs)]
    env3 = {**os.environ, "PYTHONPATH": str(ROOT)}

    def ours(python: str, k: str) -> list[str]:
        return [python, "-m", "scenario_sim", "run", scenario, "--sets", "baseline", "-n", str(args.reps),
                "--jobs", str(args.jobs), "--out", f"{tmp}/{k}", "--format", "csv"]

    cmds: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "pool": ([sys.executable, f"{tmp}/pool.py", *tail], None),
        "ema": ([sys.executable, f"{tmp}/ema.py", *tail], None),
        "model": ([sys.executable, f"{tmp}/model.py", *tail], None),
        "ours": (ours(sys.executable, "ours"), None)}
    if py3 is not None:
        cmds |= {"ema3": ([py3, f"{tmp}/ema.py", *tail, "3."], env3), "pool3": ([py3, f"{tmp}/pool.py", *tail], env3),
                 "ours3": (ours(py3, "ours3"), env3)}
    return {a: cmds[a] for a in [*chosen, "ours"]}


def _py3_arms(args: argparse.Namespace) -> str | None:
    """The EMA 3 venv's python (its arms stay chosen), or None with the arms removed and the reason said."""
    three = [a for a in args.chosen if a in ("ema3", "pool3", "ours3")]
    if not three:
        return None
    base, why = find_python(args.ema3_python)
    py3, note = ema3_venv(base, args.ema3_venv) if base is not None else (None, why)
    if py3 is None:
        print(f"{note}: {', '.join(three)} skipped")
        args.chosen = [a for a in args.chosen if a not in three]
        return None
    print(f"EMA Workbench 3 arms: {note}")
    return py3


def main() -> None:
    args = _options()
    if "ema" in args.chosen and subprocess.run([sys.executable, "-c", "import ema_workbench"],
                                               capture_output=True).returncode != 0:
        print("ema_workbench is not importable: the ema anchor is skipped")
        args.chosen.remove("ema")
    py3 = _py3_arms(args)
    times: dict[str, list[tuple[float, float]]]
    with tempfile.TemporaryDirectory() as tmp:
        cmds = _commands(args.chosen, args, tmp, py3)
        for a, (cmd, env) in cmds.items():  # what each arm runs on: the model's stack by version
            v = subprocess.run([cmd[0], "-c", VERSIONS], capture_output=True, text=True, env=env, cwd=ROOT)
            print(f"  {a:6s} Python, numpy, SimPy, pydantic: {v.stdout.strip() or v.stderr.strip()[-200:]}")
        times = {a: [] for a in cmds}
        for k in range(args.rounds):
            order = list(cmds) if k % 2 == 0 else list(cmds)[::-1]  # ABBA: a drift in the load cancels
            for a in order:
                cmd, env = cmds[a]
                if a.startswith("ours"):
                    shutil.rmtree(f"{tmp}/{a}", ignore_errors=True)  # each round a fresh folder, as the first
                times[a].append(timed(cmd, env))
            print(f"  round {k + 1}: " + ", ".join(f"{a} {v[-1][0]:.2f}/{v[-1][1]:.2f} s" for a, v in times.items())
                  + " (wall/CPU)", flush=True)
    med = statistics.median
    wall = {a: med(w for w, _ in v) for a, v in times.items()}
    cpu = {a: med(c for _, c in v) for a, v in times.items()}
    print(f"reference baseline, {args.reps} replications, {args.jobs} processes, {args.rounds} rounds (medians)")
    for a in times:
        print(f"  {LABELS[a]:50s} wall {wall[a]:6.2f} s, CPU {cpu[a]:6.2f} s")
    pairs = [("ours", a) for a in args.chosen if a not in ("ours3", "model")]
    pairs += [("ours3", a) for a in ("ema3", "pool3") if "ours3" in times and a in times]
    pairs += [("pool3", "pool")] if "pool3" in times and "pool" in times else []
    pairs += [("model", a) for a in ("pool", "ours") if "model" in times and a in times]
    notes = {"pool3": " (the interpreters' own speed)", "model": " (no harness: the floor of ours / that)"}
    print("  ratio: of the medians; [the median of the rounds' own ratios, each round's arms run side by side]")
    for x, a in pairs:
        goal = " (goal <= 0.9x)" if x.startswith("ours") else notes[x]
        rw = med(p[0] / q[0] for p, q in zip(times[x], times[a], strict=True))
        rc = med(p[1] / q[1] for p, q in zip(times[x], times[a], strict=True))
        print(f"  {x} / {a}: wall {wall[x] / wall[a]:.2f}x [{rw:.2f}x], CPU {cpu[x] / cpu[a]:.2f}x [{rc:.2f}x]{goal}")


if __name__ == "__main__":
    main()
