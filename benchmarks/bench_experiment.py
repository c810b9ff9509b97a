"""Experiment-engine benchmarks: parallel efficiency, Dask vs process pool, memory, CRN.

Each sub-benchmark prints its figures and the ratio that BENCHMARKS.md records.  Ratios are
measured within one run (these machines are noisy; absolute seconds vary).

    python benchmarks/bench_experiment.py scaling  [--reps 300]
    python benchmarks/bench_experiment.py dask     [--reps 300]
    python benchmarks/bench_experiment.py memory   [--small 1000 --large 20000]
    python benchmarks/bench_experiment.py crn      [--reps 400] [--seeds 11,101,202 --baseline REV]
    python benchmarks/bench_experiment.py interrupt [--trials 3]   Ctrl-C to prompt; kill -9 to no orphans
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from peak_memory import measure

from scenario_sim.bundled import resolve
from scenario_sim.experiment import make_executor, run_experiment
from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate

REF = resolve(None)


def _timed_run(reps: int, jobs: int, executor: str = "process", sets: list[str] | None = None) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = run_experiment(REF, replications=reps, executor=make_executor(executor, jobs), out=tmp, sets=sets)
        dt = time.perf_counter() - t0
        return dt, reps * len(r.manifest.sets)


def scaling(reps: int) -> None:
    t1, n = _timed_run(reps, 1)
    t2, _ = _timed_run(reps, 2)
    r1, r2 = n / t1, n / t2
    print(f"reference, all sets, {reps} replications ({n} set-replications), wall time including start-up")
    print(f"  jobs 1: {t1:.1f} s = {r1:.0f} set-replications/s")
    print(f"  jobs 2: {t2:.1f} s = {r2:.0f} set-replications/s")
    print(f"  speed-up {t1 / t2:.2f}x, parallel efficiency {r2 / (2 * r1):.0%} (goal >= 85%)")


def dask(reps: int) -> None:
    tp, _ = _timed_run(reps, 2, "process")
    td, _ = _timed_run(reps, 2, "dask")
    print(f"reference, all sets, {reps} replications, 2 workers, wall time including cluster start-up")
    print(f"  process pool: {tp:.1f} s   dask local cluster: {td:.1f} s")
    print(f"  dask / pool = {td / tp:.2f} (goal <= 1.15)")


def memory(small: int, large: int) -> None:
    out = []
    for reps in (small, large):
        out.append(measure("run", reps, 2, REF))
    print("reference, baseline + one set, jobs 2; peak resident memory (ru_maxrss) of the parent and of the "
          "largest worker")
    for o in out:
        print(f"  {o['size']:>6} replications: parent {o['parent_peak_mb']:.0f} MB, "
              f"worker {o['worker_peak_mb']:.0f} MB, {o['seconds']:.0f} s, "
              f"results folder {o['folder_bytes'] / 1e6:.1f} MB")
    a, b = out
    print(f"  parent peak ratio {large}/{small}: {b['parent_peak_mb'] / a['parent_peak_mb']:.2f}; worker: "
          f"{b['worker_peak_mb'] / a['worker_peak_mb']:.2f} (goal: within 1.20)")


def crn(reps: int) -> None:
    loaded = load_scenario(REF)
    seed = loaded.baseline.seed
    base = compile_scenario(loaded.baseline)
    key = loaded.baseline.outputs.key
    rows = []
    for name in loaded.set_names[1:]:
        m = compile_scenario(loaded.effective(name))
        b = pd.DataFrame([simulate(base, seed, r).outcomes for r in range(reps)])[key]
        s_crn = pd.DataFrame([simulate(m, seed, r).outcomes for r in range(reps)])[key]
        s_ind = pd.DataFrame([simulate(m, seed + 1, r).outcomes for r in range(reps)])[key]  # independent streams
        v_crn = (s_crn - b).var()
        v_ind = (s_ind - b).var()
        rows.append((v_crn / v_ind).rename(name))
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 160)
    print(f"variance of paired differences, CRN / independent streams ({reps} replications per set):")
    print(table.map(lambda x: f"{x:.4f}" if np.isfinite(x) else "n/a (0/0)").to_string())
    finite = table.to_numpy()[np.isfinite(table.to_numpy())]
    print(f"  median {np.median(finite):.4f}, worst {finite.max():.4f} (goal <= 0.1)")


_CRN_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import pandas as pd
from scenario_sim.lang import load_scenario
from scenario_sim.model import compile_scenario, simulate

path, reps, seeds = sys.argv[2], int(sys.argv[3]), [int(x) for x in sys.argv[4].split(",")]
loaded = load_scenario(path)
key = loaded.baseline.outputs.key
models = {n: compile_scenario(loaded.baseline if n == loaded.set_names[0] else loaded.effective(n))
          for n in loaded.set_names}
out = {}
for seed in seeds:
    frame = {(n, sd): pd.DataFrame([simulate(m, sd, r).outcomes for r in range(reps)])[key]
             for n, m in models.items() for sd in ((seed, seed + 1) if n != loaded.set_names[0] else (seed,))}
    b = frame[(loaded.set_names[0], seed)]
    ratios = [((frame[(n, seed)] - b).var() / (frame[(n, seed + 1)] - b).var()).to_numpy()
              for n in loaded.set_names[1:]]
    r = np.concatenate(ratios)
    out[seed] = float(np.median(r[np.isfinite(r)]))
print(json.dumps(out))
"""


def crn_engines(reps: int, seeds: list[int], baseline: str) -> None:
    """The CRN median ratio at several seeds, for this engine and the one at ``baseline``, in one run.

    Both engines run the baseline revision's reference scenario (the old engine cannot read
    later scenario files), each in a child process, side by side.  The ratios are exact
    functions of the seeds (no timing), so the two children may run at once.
    """
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        old, new = Path(tmp) / "old", Path(tmp) / "new"
        old.mkdir()
        new.mkdir()
        subprocess.run(f"git -C {root} archive {baseline} scenario_sim scenarios | tar -x -C {old}", shell=True,
                       check=True)
        subprocess.run(f"cp -r {root / 'scenario_sim'} {new}/", shell=True, check=True)
        scen = str(old / "scenarios" / "reference.yaml")
        arg = ",".join(map(str, seeds))
        procs = {name: subprocess.Popen([sys.executable, "-c", _CRN_CHILD, str(d), scen, str(reps), arg],
                                        stdout=subprocess.PIPE, text=True) for name, d in (("new", new), ("old", old))}
        res = {name: json.loads(p.communicate()[0]) for name, p in procs.items()}
    print(f"CRN / independent variance ratio, median over sets x key outcomes, {reps} replications, "
          f"reference of {baseline}:")
    print(f"  {'seed':>6} {'this engine':>12} {'engine ' + baseline:>14}")
    for sd in seeds:
        print(f"  {sd:>6} {res['new'][str(sd)]:12.4f} {res['old'][str(sd)]:14.4f}")
    med = {k: float(np.median(list(v.values()))) for k, v in res.items()}
    print(f"  median over seeds: this engine {med['new']:.4f}, engine {baseline} {med['old']:.4f} (goal <= 0.014)")


def _descendants(pid: int) -> set[int]:
    out: set[int] = set()
    frontier = [pid]
    while frontier:
        for task in Path(f"/proc/{frontier.pop()}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()}
            except OSError:
                continue
            frontier.extend(kids - out)
            out |= kids
    return out


def _alive(pids: set[int]) -> set[int]:
    live = set()
    for p in pids:
        try:
            if Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                live.add(p)
        except OSError:
            pass
    return live


def _started_run(out: str, chunk: int) -> tuple[subprocess.Popen[bytes], set[int]]:
    cmd = [sys.executable, "-m", "scenario_sim", "run", str(REF), "-n", "4000", "--chunk-size", str(chunk),
           "--jobs", "2", "--out", out, "-q", "--format", "csv"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while not list(Path(out).rglob("chunk-*")):  # workers up and a chunk done
        time.sleep(0.05)
    time.sleep(1.0)
    return proc, _alive(_descendants(proc.pid))


def _until_gone(pids: set[int], limit: float = 300.0) -> float:
    t = time.perf_counter()
    while _alive(pids) and time.perf_counter() - t < limit:
        time.sleep(0.05)
    return time.perf_counter() - t


def interrupt(trials: int) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) until the process has exited and
    its workers are gone; SIGKILL of the main process alone until the orphaned workers are gone."""
    print("reference, -n 4000 --chunk-size 50 --jobs 2 (a chunk is a few seconds of work), after the first chunk")
    for t in range(trials):
        with tempfile.TemporaryDirectory() as out:
            proc, kids = _started_run(out, 50)
            t0 = time.perf_counter()
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait()
            prompt = time.perf_counter() - t0
            gone = prompt + _until_gone(kids)
            print(f"  Ctrl-C trial {t + 1}: exit {proc.returncode} after {prompt:.2f} s; "
                  f"workers gone after {gone:.2f} s")
        with tempfile.TemporaryDirectory() as out:
            proc, kids = _started_run(out, 50)
            t0 = time.perf_counter()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            gone = _until_gone(kids)
            print(f"  kill -9 of the main process, trial {t + 1}: {len(kids)} children gone after {gone:.2f} s")
            for p in _alive(kids):
                os.kill(p, signal.SIGKILL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("which", choices=["scaling", "dask", "memory", "crn", "interrupt", "all"])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=20000)
    ap.add_argument("--seeds", default="", help="crn: comma-separated seeds (with --baseline: both engines)")
    ap.add_argument("--baseline", default="0d3551e", help="crn --seeds: the older engine's git revision")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    if a.which in ("scaling", "all"):
        scaling(a.reps)
    if a.which in ("dask", "all"):
        dask(a.reps)
    if a.which in ("crn", "all"):
        if a.seeds:
            crn_engines(a.reps, [int(x) for x in a.seeds.split(",")], a.baseline)
        else:
            crn(min(a.reps, 400))
    if a.which in ("memory", "all"):
        memory(a.small, a.large)
    if a.which in ("interrupt", "all"):
        interrupt(a.trials)


if __name__ == "__main__":
    main()
