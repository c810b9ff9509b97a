"""Experiments: reproducibility across executors, resume, failures, CRN, adaptive precision, CLI errors."""

from __future__ import annotations

import errno
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from scenario_sim.cli import main
from scenario_sim.errors import UserError
from scenario_sim.experiment import (
    DaskCluster,
    InProcess,
    LocalPool,
    RunFailed,
    RunInterrupted,
    plan_experiment,
    resume_experiment,
    run_experiment,
)
from scenario_sim.experiment.store import REPLICATIONS
from scenario_sim.experiment.worker import ChunkResult, Payload, run_chunk
from tests.fault_executors import CrashingPool, FaultyInProcess
from tests.helpers import minimal_doc

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "scenarios" / "reference.yaml"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The minimal scenario with three sets, one of which changes nothing."""
    d = minimal_doc()
    d["name"] = "small"
    d["horizon_days"] = 60
    d["replications"] = 24
    d["seed"] = 7
    d["recommendations"] = [
        {"name": "better_guns", "changes": {"air_defense.systems.guns.pk.drone": 0.7}},
        {"name": "no_change", "changes": {"air_defense.systems.guns.pk.drone": 0.5}},
        {"name": "perfect", "changes": {"air_defense.systems.guns.pk.drone": 1.0,
                                        "air_defense.systems.guns.capacity_per_wave": 100000}},
    ]
    p = tmp_path_factory.mktemp("scen") / "small.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def _bytes(run_dir: Path) -> bytes:
    return (run_dir / REPLICATIONS).read_bytes()


def test_results_identical_across_jobs_chunks_and_executors(small: Path, tmp_path: Path) -> None:
    a = run_experiment(small, jobs=1, out=tmp_path / "a", chunk_size=5)
    b = run_experiment(small, jobs=2, out=tmp_path / "b", chunk_size=3)
    c = run_experiment(small, executor=LocalPool(2), out=tmp_path / "c", chunk_size=24)
    assert a.manifest.executor["kind"] == "inprocess" and c.manifest.executor == {"kind": "process", "jobs": 2}
    assert _bytes(a.run_dir) == _bytes(b.run_dir) == _bytes(c.run_dir)
    assert (a.run_dir / "summary.csv").read_bytes() == (b.run_dir / "summary.csv").read_bytes()
    df = a.replications()
    assert len(df) == 24 * 4 and df["error"].isna().all()
    assert list(df.columns[:3]) == ["set", "replication", "error"]


def test_consolidation_of_parts_held_in_memory_or_read_back_gives_the_same_bytes(
        small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent keeps this session's parts (up to a bound of rows) for the consolidation instead of
    reading them back: all held, some held (the bound reached mid-run) and none held are one file."""
    from scenario_sim.experiment import engine
    from scenario_sim.runs import RunFolder

    real = RunFolder._merge
    held: list[int] = []

    def counting(self: RunFolder, parts: list[Path], name: str, schema: object, kept: object = None) -> None:
        held.append(len(kept) if isinstance(kept, dict) else 0)
        real(self, parts, name, schema, kept)  # type: ignore[arg-type]

    monkeypatch.setattr(RunFolder, "_merge", counting)
    out = []
    for bound in (0, 4 * 4 * 2, engine._KEEP_ROWS):  # none; the first two chunks of 4 replications x 4 sets; all
        monkeypatch.setattr(engine, "_KEEP_ROWS", bound)
        out.append(_bytes(run_experiment(small, jobs=1, out=tmp_path / str(bound), chunk_size=4).run_dir))
    assert held == [0, 2, 6]
    assert out[0] == out[1] == out[2]


_START_METHOD = """
import sys, threading
from scenario_sim.experiment import make_executor, run_experiment

if __name__ == "__main__":
    ex = make_executor("process", 2)  # what the command line builds: start_method auto
    if sys.argv[3] == "thread":  # a second Python thread (a progress bar, a notebook kernel)
        stop = threading.Event()
        threading.Thread(target=stop.wait, daemon=True).start()
    run = run_experiment(sys.argv[1], executor=ex, out=sys.argv[2], chunk_size=5)
    print(ex.started_with, run.run_dir)
"""


def test_the_command_lines_pool_forks_only_a_single_threaded_process_and_the_bytes_match(
        small: Path, tmp_path: Path) -> None:
    """make_executor (the command line) forks its workers when the process runs one Python thread,
    and spawns them otherwise; a library LocalPool spawns. The bytes are the same every way."""
    script = tmp_path / "start.py"
    script.write_text(_START_METHOD)
    dirs = {}
    for mode in ("alone", "thread"):
        r = subprocess.run([sys.executable, str(script), str(small), str(tmp_path / mode), mode], capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300, check=False)
        assert r.returncode == 0, r.stderr
        method, run_dir = r.stdout.split()
        assert method == {"alone": "fork", "thread": "spawn"}[mode], r.stdout
        dirs[mode] = Path(run_dir)
    pool = LocalPool(2)
    c = run_experiment(small, executor=pool, out=tmp_path / "lib", chunk_size=7)
    assert pool.started_with == "spawn"
    assert _bytes(dirs["alone"]) == _bytes(dirs["thread"]) == _bytes(c.run_dir)
    assert (dirs["alone"] / "summary.csv").read_bytes() == (c.run_dir / "summary.csv").read_bytes()
    with pytest.raises(UserError, match="start_method: expected one of spawn, fork, auto"):
        LocalPool(2, start_method="forkserver")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_keep_the_run_folder_lock(tmp_path: Path) -> None:
    """A forked worker closes its copy of the lock's descriptor at once: if the parent is killed, the
    folder is free again however long the worker lives (the parent's lock itself stays held)."""
    from scenario_sim.experiment.lock import FolderLock

    with FolderLock(tmp_path) as lock:
        fd = lock._fd
        assert fd is not None
        pid = os.fork()
        if pid == 0:  # the child: the descriptor must be gone
            try:
                os.fstat(fd)
            except OSError:
                os._exit(0)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the forked child kept the lock's descriptor"
        os.fstat(fd)  # still open (and locked) in the parent
        from scenario_sim.experiment.lock import RunLocked

        with pytest.raises(RunLocked):
            FolderLock(tmp_path).acquire()


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_bytes(small: Path, tmp_path: Path) -> None:
    a = run_experiment(small, jobs=1, out=tmp_path / "a")
    d = run_experiment(small, executor=DaskCluster(2), out=tmp_path / "d", chunk_size=4)
    assert _bytes(a.run_dir) == _bytes(d.run_dir)
    assert d.manifest.executor["kind"] == "dask"


def test_interrupted_then_resumed_equals_uninterrupted(small: Path, tmp_path: Path) -> None:
    full = run_experiment(small, jobs=1, out=tmp_path / "full", chunk_size=4)
    calls = {"n": 0}

    def interrupt_after_two_chunks(done: int, total: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted, match="--resume"):
        run_experiment(small, jobs=1, out=tmp_path / "part", chunk_size=4, progress=interrupt_after_two_chunks)
    run_dir = next((tmp_path / "part" / "small").iterdir())
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["status"] == "interrupted"
    assert len(list((run_dir / "parts").glob("chunk-*.parquet"))) == 2
    resumed = resume_experiment(run_dir, jobs=2)
    assert resumed.manifest.status == "complete" and resumed.manifest.resumed
    assert _bytes(resumed.run_dir) == _bytes(full.run_dir)
    with pytest.raises(UserError, match="already complete"):
        resume_experiment(run_dir)


def test_lost_worker_fails_cleanly_and_resumes_to_the_same_bytes(small: Path, tmp_path: Path) -> None:
    full = run_experiment(small, jobs=1, out=tmp_path / "full")
    with pytest.raises(RunFailed, match="--resume"):
        run_experiment(small, executor=CrashingPool(2, reps=[13]), chunk_size=4, out=tmp_path / "lost")
    run_dir = next((tmp_path / "lost" / "small").iterdir())
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["status"] == "failed" and "BrokenProcessPool" in m["error"]
    resumed = resume_experiment(run_dir, jobs=2)
    assert _bytes(resumed.run_dir) == _bytes(full.run_dir)


@pytest.mark.slow
def test_killed_process_is_resumed_by_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "res"
    cmd = [sys.executable, "-m", "scenario_sim", "run", str(REFERENCE), "-n", "60", "--chunk-size", "2",
           "--jobs", "2", "--out", str(out), "-q", "--format", "csv"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    run_dir = None
    while time.time() < deadline:
        dirs = list((out / "reference").glob("*")) if (out / "reference").exists() else []
        if dirs and len(list((dirs[0] / "parts").glob("chunk-*"))) >= 3:
            run_dir = dirs[0]
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: no clean shutdown at all
    proc.wait()
    assert run_dir is not None, "the run never wrote a part"
    assert not (run_dir / REPLICATIONS).exists()
    r = subprocess.run([sys.executable, "-m", "scenario_sim", "run", "--resume", str(run_dir), "-q",
                        "--format", "csv"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    ref = run_experiment(REFERENCE, replications=60, out=tmp_path / "ref", chunk_size=60, jobs=2)
    assert _bytes(run_dir) == _bytes(ref.run_dir)


def test_a_failing_replication_is_recorded_and_the_rest_go_on(small: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    r = run_experiment(small, executor=FaultyInProcess({"better_guns": [3, 17]}), out=tmp_path)
    assert r.failures == 2 and r.manifest.status == "complete_with_failures"
    df = r.replications()
    bad = df[df["error"].notna()]
    assert sorted(zip(bad["set"], bad["replication"], strict=True)) == [("better_guns", 3), ("better_guns", 17)]
    assert bad["error"].str.contains("injected fault").all()
    assert df[df["error"].isna()]["leaked.total"].notna().all()
    summary = r.summary()
    assert summary.query("set == 'better_guns' and outcome == 'leaked.total'")["n"].item() == 22
    assert summary.query("set == 'baseline' and outcome == 'leaked.total'")["n"].item() == 24


def test_common_random_numbers_shrink_the_variance_of_differences(tmp_path: Path) -> None:
    r = run_experiment(REFERENCE, replications=40, sets=["readiness_on_contact", "civil_defense_on_contact"],
                       out=tmp_path, jobs=2)
    df = r.replications()
    wide = df.pivot(index="replication", columns="set", values="civilian_harm")
    # The ratio estimates var(difference under CRN) / var(difference with independent
    # streams).  For civil defence it cannot be near 0: the harm the rule averts varies with
    # the contacts, which is the effect itself, not noise.  Its true value is ~0.05
    # (median of 16 seeds x 40 replications: 0.045 with the one-event-per-wave engine,
    # 0.049 with the current one; each had 56% of seeds below 0.05), so a bound of 0.05
    # made this test a coin flip on the draws.  0.2 still demands a fivefold reduction.
    for s, bound in (("readiness_on_contact", 0.05), ("civil_defense_on_contact", 0.2)):
        d = wide[s] - wide["baseline"]
        ratio = d.var() / (wide[s].var() + wide["baseline"].var())
        assert ratio < bound, (s, ratio)


def test_launches_identical_across_sets_that_change_only_air_defence(tmp_path: Path) -> None:
    r = run_experiment(REFERENCE, replications=10, sets=["readiness_on_contact", "accelerated_deliveries"],
                       out=tmp_path, jobs=1)
    wide = r.replications().pivot(index="replication", columns="set", values="launched.total")
    assert (wide["readiness_on_contact"] == wide["baseline"]).all()
    assert (wide["accelerated_deliveries"] == wide["baseline"]).all()


def test_adaptive_precision_adds_batches_until_met(small: Path, tmp_path: Path) -> None:
    r = run_experiment(small, replications=8, precision=0.02, metric="leaked.total", out=tmp_path, jobs=1,
                       max_replications=200)
    a = r.manifest.adaptive
    assert a is not None
    n = r.manifest.replications_done
    assert n % 8 == 0 and 8 < n <= 200
    assert a.history[-1]["met"] and a.stop_reason and a.stop_reason.startswith("precision met")
    # the message says the target is relative to the baseline mean, with its value (not "within 0.02")
    bm = abs(a.history[-1]["baseline_mean"])
    assert (f"half-width of at most 0.02 x |baseline mean| = 0.02 x {bm:.4g} = {0.02 * bm:.4g} "
            in a.stop_reason), a.stop_reason
    assert "relative half-width" in a.stop_reason and "target 2%" in a.stop_reason
    assert not any(h["met"] for h in a.history[:-1])
    df = r.replications()
    assert df["replication"].max() == n - 1
    wide = df.pivot(index="replication", columns="set", values="leaked.total")
    for s in ("better_guns", "perfect"):
        d = wide[s] - wide["baseline"]
        from scipy import stats

        half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)
        assert half / wide["baseline"].mean() <= 0.02
    capped = run_experiment(small, replications=4, precision=1e-6, metric="leaked.total", out=tmp_path / "cap",
                            jobs=1, max_replications=12)
    assert capped.manifest.replications_done == 12
    assert capped.manifest.adaptive and str(capped.manifest.adaptive.stop_reason).startswith("maximum of 12")


def test_folder_has_everything(small: Path, tmp_path: Path) -> None:
    r = run_experiment(small, jobs=1, out=tmp_path, timeseries=True, seed=99)
    names = sorted(p.name for p in r.run_dir.iterdir())
    assert names == ["manifest.json", "outcomes.json", "replications.parquet", "scenario.yaml", "sets", "sets.json",
                     "summary.csv", "timeseries.parquet"]
    m = r.manifest
    assert m.seed == 99 and m.seed_source == "command line"
    assert m.replications_asked == m.replications_done == 24
    assert m.scenario.sha256 and m.versions["numpy"] and m.timings["wall_seconds"] > 0
    ts = r.timeseries()
    assert set(ts["set"]) == set(m.sets) and len(ts) == 24 * 4 * 60
    s = pd.read_csv(r.run_dir / "summary.csv")
    assert list(s.columns) == ["set", "outcome", "mean", "sd", "ci_low", "ci_high", "n"]
    assert r.run_dir.parent.name == "small" and r.run_dir.parent.parent == tmp_path


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.mark.parametrize("args, message", [
    (["run", "{small}", "--sets", "beter_guns"],
     "unknown recommendation set 'beter_guns' (did you mean 'better_guns'?)"),
    (["run", "{small}", "--jobz", "2"], "No such option '--jobz'"),
    (["run", "{small}", "--jobs", "0"], "--jobs"),
    (["run", "{small}", "--out", "{file}/sub"], "cannot create the results folder"),
    (["run", "--resume", "{tmp}"], "not a run folder (manifest.json is missing)"),
    (["run", "--resume", "{tmp}/nope"], "no such run folder"),
    (["run", "{small}", "--metric", "civilian_harm"], "--precision and --metric go together"),
    (["run", "{small}", "--precision", "0.05", "--metric", "leaked"], "unknown outcome 'leaked'"),
    (["run", "{tmp}/missing.yaml"], "no such file"),
    (["compare", "{tmp}"], "not a run folder"),
])
def test_cli_errors_are_one_line_exit_2(small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        args: list[str], message: str) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    args = [a.format(small=small, tmp=tmp_path, file=f) for a in args]
    code, _, err = _cli(args, capsys)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err and "Traceback" not in err


def test_corrupt_run_folder_is_one_line(small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = run_experiment(small, jobs=1, out=tmp_path)
    (r.run_dir / REPLICATIONS).write_bytes(b"PAR1 this is not parquet")
    code, _, err = _cli(["compare", str(r.run_dir)], capsys)
    assert code == 2 and "corrupt Parquet file" in err and len(err.strip().splitlines()) == 1
    (r.run_dir / "manifest.json").write_text("{ not json")
    code, _, err = _cli(["compare", str(r.run_dir)], capsys)
    assert code == 2 and "corrupt manifest" in err


def test_cli_run_prints_ranking_and_exits_1_on_failures(small: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["run", str(small), "--out", str(tmp_path), "-q", "--jobs", "1"], capsys)
    assert code == 0
    assert "ranked by civilian_harm" in out and "results:" in out
    lines = [ln for ln in out.splitlines() if "│" in ln]
    assert "perfect" in lines[0]
    code, out, _ = _cli(["run", str(small), "--out", str(tmp_path), "-q", "--jobs", "1", "--format", "json"], capsys)
    rows = json.loads(out)
    assert rows[0]["set"] == "perfect" and rows[0]["rank"] == 1


def test_library_api_accepts_a_loaded_scenario(small: Path, tmp_path: Path) -> None:
    from scenario_sim.lang import load_scenario

    r = run_experiment(load_scenario(small), replications=3, jobs=1, out=tmp_path)
    assert isinstance(r.replications(), pd.DataFrame)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dask_with_bad_scheduler_is_a_clean_error(small: Path, tmp_path: Path) -> None:
    """The real Dask client tries the address; nothing is left behind, and a resumed folder keeps its status."""
    bad = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(UserError, match=f"--scheduler {bad}: cannot connect to the Dask scheduler"):
        run_experiment(small, executor=DaskCluster(2, bad, connect_timeout_seconds=1), out=tmp_path / "new")
    assert not (tmp_path / "new").exists() or not any((tmp_path / "new").rglob("manifest.json"))

    def stop(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        run_experiment(small, jobs=1, chunk_size=4, out=tmp_path / "old", progress=stop)
    run_dir = next((tmp_path / "old" / "small").iterdir())
    with pytest.raises(UserError, match="cannot connect to the Dask scheduler"):
        resume_experiment(run_dir, DaskCluster(2, bad, connect_timeout_seconds=1))
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"


def test_scheduler_without_dask_is_a_cli_error(small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["run", str(small), "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path)], capsys)
    assert code == 2 and "--scheduler: only used with --executor dask" in err
    assert not list(tmp_path.iterdir())


class _Recording:
    """A user's own executor: the protocol only (name, jobs, start, run, shutdown)."""

    name = "recording"
    jobs = 3

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.payload: Payload | None = None

    def start(self, payload: Payload) -> None:
        self.calls.append("start")
        self.payload = payload

    def run(self, chunks: list[tuple[int, int]]) -> Iterator[ChunkResult]:
        self.calls.append(f"run {len(chunks)}")
        for s, c in reversed(chunks):  # completion order must not matter
            yield run_chunk(s, c, self.payload)

    def shutdown(self, cancel: bool = False) -> None:
        self.calls.append(f"shutdown cancel={cancel}")


def test_run_experiment_takes_a_user_executor_object(small: Path, tmp_path: Path) -> None:
    ref = run_experiment(small, executor=InProcess(), out=tmp_path / "ref")
    mine = _Recording()
    r = run_experiment(small, executor=mine, out=tmp_path / "mine", chunk_size=5)
    assert mine.calls == ["start", "run 5", "shutdown cancel=False"]
    assert r.manifest.executor == {"kind": "recording", "jobs": 3}
    assert _bytes(r.run_dir) == _bytes(ref.run_dir)
    with pytest.raises(UserError, match="expected an executor object"):
        run_experiment(small, executor="dask", out=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="lacks the Executor protocol"):
        run_experiment(small, executor=object(), out=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="jobs: give the number of workers to the executor"):
        run_experiment(small, executor=InProcess(), jobs=2, out=tmp_path)


def test_public_api_has_no_fault_injection() -> None:
    import inspect

    for fn in (run_experiment, resume_experiment, plan_experiment):
        params = set(inspect.signature(fn).parameters)
        assert not params & {"fault_injection", "crash_on"}, fn
    assert not {"fault_injection", "crash_on"} & set(Payload.__dataclass_fields__)


def test_plan_checks_options_without_writing(small: Path, tmp_path: Path) -> None:
    plan = plan_experiment(small, sets=["perfect"], out=tmp_path / "later" / "deeper")
    assert plan.sets == ["baseline", "perfect"] and "leaked.total" in plan.outcome_names
    assert not (tmp_path / "later").exists()
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(UserError, match="cannot create the results folder"):
        plan_experiment(small, out=f / "sub")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if not os.access(ro, os.W_OK):  # root can write anywhere
            with pytest.raises(UserError, match="not writable"):
                plan_experiment(small, out=ro / "results")
    finally:
        ro.chmod(0o755)
    with pytest.raises(UserError, match="unknown recommendation set"):
        plan_experiment(small, sets=["nope"], out=tmp_path)


def test_timings_cover_every_session_of_a_resumed_run(small: Path, tmp_path: Path) -> None:
    calls = {"n": 0}

    def interrupt_after_two_chunks(done: int, total: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        run_experiment(small, jobs=1, out=tmp_path, chunk_size=4, progress=interrupt_after_two_chunks)
    run_dir = next((tmp_path / "small").iterdir())
    first = json.loads((run_dir / "manifest.json").read_text())["timings"]
    assert len(first["segments"]) == 1 and first["segments"][0]["seconds"] > 0
    assert first["wall_seconds"] == first["segments"][0]["seconds"]
    r = resume_experiment(run_dir, InProcess())
    tm = r.manifest.timings
    assert [s["executor"]["kind"] for s in tm["segments"]] == ["inprocess", "inprocess"]
    assert tm["segments"][0]["seconds"] == first["segments"][0]["seconds"]
    assert tm["wall_seconds"] == pytest.approx(sum(s["seconds"] for s in tm["segments"]), abs=1e-3)
    assert tm["wall_seconds"] > tm["last_session_seconds"] == tm["segments"][1]["seconds"]
    assert tm["replications_per_second"] == pytest.approx(24 * 4 / tm["wall_seconds"], abs=0.1)


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (Linux /proc)."""
    out: set[int] = set()
    frontier = [pid]
    while frontier:
        p = frontier.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in out:
                    out.add(k)
                    frontier.append(k)
    return out


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(p)
    return alive


def _gone_within(pids: set[int], seconds: float) -> bool:
    """Poll: the resource tracker exits a moment after the last process holding its pipe."""
    deadline = time.time() + seconds
    while _alive(pids) and time.time() < deadline:
        time.sleep(0.1)
    return not _alive(pids)


def _start_long_run(out: Path) -> tuple[subprocess.Popen[bytes], set[int]]:
    """A CLI run whose chunks each take far longer than the test waits, with its workers busy."""
    cmd = [sys.executable, "-m", "scenario_sim", "run", str(REFERENCE), "-n", "4000", "--chunk-size", "2000",
           "--jobs", "2", "--out", str(out), "-q", "--format", "csv"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 90
    kids: set[int] = set()
    # two workers (the command forks them; spawned ones come with the resource tracker too)
    while time.time() < deadline and len(kids) < 2:
        time.sleep(0.2)
        kids = _alive(_children(proc.pid))
    assert len(kids) >= 2, f"workers did not start: {kids}"
    time.sleep(2)  # let the workers compile and start their first chunk
    return proc, kids


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_ctrl_c_returns_promptly_and_leaves_no_workers(tmp_path: Path) -> None:
    proc, kids = _start_long_run(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    try:
        _, err = proc.communicate(timeout=30)  # a chunk of 2000 replications takes minutes
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Resume with" in err.decode() and "Traceback" not in err.decode()
    assert _gone_within(kids, 10), _alive(kids)
    run_dir = next((tmp_path / "reference").iterdir())
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"




@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_exit_when_the_main_process_is_killed(small: Path, tmp_path: Path) -> None:
    """kill -9 of the main process while its pool workers are busy in long chunks: they must not run on."""
    script = tmp_path / "busy.py"
    script.write_text(_BUSY_POOL)
    proc = subprocess.Popen([sys.executable, str(script), str(small)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    kids: set[int] = set()
    try:
        assert proc.stdout is not None
        workers = set(json.loads(proc.stdout.readline()))  # both initialised, each in a chunk of minutes
        kids = _alive(_children(proc.pid))
        assert workers <= kids and len(kids) >= 3, (workers, kids)  # and the resource tracker
        time.sleep(1)
        os.kill(proc.pid, signal.SIGKILL)  # the main process alone: its pool is never shut down
        proc.wait(timeout=10)
        assert _gone_within(kids, 10), f"orphans still alive: {_alive(kids)}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in _alive(kids):
            os.kill(p, signal.SIGKILL)


_BUSY_POOL = """
import json, os, sys, time
from scenario_sim.experiment import LocalPool, plan_experiment
from scenario_sim.experiment.engine import _payload


def ready(_):
    time.sleep(0.5)  # holds this worker, so the other takes the next task
    return os.getpid()

if __name__ == "__main__":
    plan = plan_experiment(sys.argv[1], out="unused")
    pool = LocalPool(2)
    pool.start(_payload(plan.loaded, plan.sets, plan.seed, plan.outcome_names, False))
    pids = set(pool._pool.map(ready, range(2)))
    print(json.dumps(sorted(pids)), flush=True)
    for _ in pool.run([(0, 10**6), (10**6, 10**6)]):
        pass
"""


def _interrupted_run(small: Path, out: Path, chunks: int = 2) -> Path:
    calls = {"n": 0}

    def stop(done: int, total: int) -> None:
        calls["n"] += 1
        if calls["n"] == chunks + 1:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        run_experiment(small, jobs=1, out=out, chunk_size=4, progress=stop)
    return next((out / "small").iterdir())


_HOLD = """
import sys, time
from pathlib import Path
from scenario_sim.experiment.lock import FolderLock
with FolderLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(120)
"""


def test_a_second_writer_gets_one_line_naming_the_holder(small: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    full = run_experiment(small, jobs=1, out=tmp_path / "full")
    run_dir = _interrupted_run(small, tmp_path / "part")
    before = (run_dir / "manifest.json").read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        code, _, err = _cli(["run", "--resume", str(run_dir), "-q", "--jobs", "1"], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"in use by pid {holder.pid} on {socket.gethostname()} since " in err
        assert (run_dir / "manifest.json").read_bytes() == before  # the loser wrote nothing
    finally:
        holder.kill()  # a killed holder releases the lock: flock dies with its process
        holder.wait()
    r = resume_experiment(run_dir, InProcess())
    assert r.manifest.status == "complete" and _bytes(run_dir) == _bytes(full.run_dir)
    assert not (run_dir / ".lock.json").exists()


def test_concurrent_resumes_one_wins_and_the_data_stays_complete(small: Path, tmp_path: Path) -> None:
    """Two real resumes at once: exactly one finishes, the other is refused; never 'failed' over complete data."""
    full = run_experiment(small, jobs=1, out=tmp_path / "full")
    run_dir = _interrupted_run(small, tmp_path / "part", chunks=1)
    cmd = [sys.executable, "-m", "scenario_sim", "run", "--resume", str(run_dir), "-q", "--jobs", "1",
           "--format", "csv"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes[0] == 0, results
    assert codes[1] in (0, 2), results  # 2: refused (in use, or already complete), one line
    for c, err in results:
        if c == 2:
            # "in use by another process": the holder has the flock but has not yet written (or has just
            # removed) .lock.json, which only names it
            assert ("in use by " in err or "already complete" in err) and len(err.strip().splitlines()) == 1
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["status"] == "complete" and _bytes(run_dir) == _bytes(full.run_dir)


def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_writing_the_manifest_is_one_line_and_resumable(small: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.experiment import store

    full = run_experiment(small, jobs=1, out=tmp_path / "full")
    real = store.RunFolder.write_manifest
    writes = {"n": 0}

    def fills_up(self: store.RunFolder, data: dict[str, object]) -> None:
        writes["n"] += 1
        if writes["n"] >= 4:  # creation, running, end of the batch: then the disk is full
            _enospc()
        real(self, data)

    monkeypatch.setattr(store.RunFolder, "write_manifest", fills_up)
    code, _, err = _cli(["run", str(small), "--out", str(tmp_path / "r"), "-q", "--jobs", "1"], capsys)
    monkeypatch.undo()
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "disk full (No space left on device)" in err and "Free some space, then resume with:" in err
    assert "internal error" not in err
    run_dir = next((tmp_path / "r" / "small").iterdir())
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "running"  # the last write that fit
    resume = shlex.split(err.split("resume with: ")[1])
    code, _, err = _cli([*resume[1:], "-q", "--jobs", "1"], capsys)
    assert code == 0, err
    assert _bytes(run_dir) == _bytes(full.run_dir)


def test_disk_full_during_consolidation_is_one_line_and_resumable(small: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.experiment import store

    full = run_experiment(small, jobs=1, out=tmp_path / "full")
    real = store.RunFolder._merge

    def half_then_full(self: store.RunFolder, parts: list[Path], name: str, schema: object, *held: object) -> None:
        real(self, parts[: len(parts) // 2], name, schema, *held)  # some of the bytes reach the disk...
        _enospc()  # ...then it is full

    monkeypatch.setattr(store.RunFolder, "_merge", half_then_full)
    with pytest.raises(RunFailed, match=r"disk full .*Free some space, then resume with") as exc:
        run_experiment(small, jobs=1, out=tmp_path / "r", chunk_size=4)
    monkeypatch.undo()
    assert "\n" not in str(exc.value)
    run_dir = next((tmp_path / "r" / "small").iterdir())
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "failed"
    assert len(list((run_dir / "parts").glob("chunk-*"))) == 6  # every chunk kept
    resume_experiment(run_dir, InProcess())
    assert _bytes(run_dir) == _bytes(full.run_dir)


def test_disk_full_creating_the_folder_leaves_nothing(small: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from scenario_sim.runs import folder

    monkeypatch.setattr(folder, "atomic_write_bytes", _enospc)  # every file of the folder is written through it
    with pytest.raises(UserError, match="cannot write the run folder") as exc:
        run_experiment(small, jobs=1, out=tmp_path)
    assert "resume" not in str(exc.value).lower()
    assert not list((tmp_path / "small").iterdir())


def test_resume_advice_only_where_a_resume_can_succeed(small: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from scenario_sim.experiment import engine

    # A path with a space: the advice must be copy-pasteable into a shell.
    spaced = tmp_path / "my results"

    def stop(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted) as exc:
        run_experiment(small, jobs=1, out=spaced, chunk_size=4, progress=stop)
    run_dir = next((spaced / "small").iterdir())
    cmd = shlex.split(str(exc.value).split("Resume with: ")[1])
    assert cmd[:3] == ["scenario-sim", "run", "--resume"] and Path(cmd[3]) == run_dir

    # A deterministic error (a bug) is not cured by resuming: no advice to resume.
    def bug(self: object, target: int) -> bool:
        raise KeyError("outcome")

    monkeypatch.setattr(engine._Run, "_precision_met", bug)
    with pytest.raises(RunFailed) as failed:
        run_experiment(small, replications=4, precision=0.1, metric="leaked.total", jobs=1, out=tmp_path / "b")
    assert "Resume with" not in str(failed.value) and "a resume would repeat this error" in str(failed.value)


def test_adaptive_stops_when_a_set_always_fails(small: Path, tmp_path: Path) -> None:
    every = list(range(200))
    r = run_experiment(small, replications=4, precision=0.01, metric="leaked.total", out=tmp_path,
                       executor=FaultyInProcess({"perfect": every}), max_replications=40)
    a = r.manifest.adaptive
    assert a is not None
    assert r.manifest.replications_done == 4 and a.history[-1]["unjudged"] == ["perfect"]
    assert "no successful paired replications of perfect" in str(a.stop_reason)
    assert r.failures == 4


def _damage_data_page(path: Path) -> None:
    """Flip bytes inside the first data page, leaving the footer (and so the metadata) intact."""
    import pyarrow.parquet as pq

    col = pq.ParquetFile(path).metadata.row_group(0).column(3)  # the first outcome column
    start = col.data_page_offset
    raw = bytearray(path.read_bytes())
    mid = start + (col.total_compressed_size // 2)
    for i in range(mid, mid + 8):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    pq.read_metadata(path)  # the footer still reads: the old check trusted this part


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "written-just-before-a-kill"])
def test_resume_redoes_a_part_with_damaged_data_and_intact_footer(small: Path, tmp_path: Path,
                                                                   recorded: bool) -> None:
    full = run_experiment(small, jobs=1, out=tmp_path / "full", chunk_size=4)
    run_dir = _interrupted_run(small, tmp_path / "part", chunks=3)
    mpath = run_dir / "manifest.json"
    m = json.loads(mpath.read_text())
    assert sorted(m["parts"]) == [f"chunk-{s:08d}-000004.parquet" for s in (0, 4, 8)]
    assert all(len(e["sha256"]) == 64 and e["rows"] == 16 for e in m["parts"].values())
    victim = run_dir / "parts" / "chunk-00000004-000004.parquet"
    _damage_data_page(victim)
    if not recorded:  # the manifest had not been refreshed since this part was written
        del m["parts"][victim.name]
        mpath.write_text(json.dumps(m))
    r = resume_experiment(run_dir, InProcess())
    assert [x["part"] for x in r.manifest.repairs] == [victim.name]
    assert r.manifest.repairs[0]["problem"] == ("checksum mismatch" if recorded else "unreadable (OSError)")
    assert _bytes(run_dir) == _bytes(full.run_dir)
    assert r.manifest.parts == {}


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded", "unrecorded"])
def test_resume_redoes_a_part_whose_rows_do_not_match_its_name(small: Path, tmp_path: Path, recorded: bool) -> None:
    import shutil

    full = run_experiment(small, jobs=1, out=tmp_path / "full", chunk_size=4)
    run_dir = _interrupted_run(small, tmp_path / "part", chunks=2)
    parts_dir = run_dir / "parts"
    wrong = parts_dir / "chunk-00000008-000004.parquet"  # holds replications 0..3, named 8..11
    shutil.copy(parts_dir / "chunk-00000000-000004.parquet", wrong)
    shutil.copy(parts_dir / "chunk-00000000-000004.parquet", parts_dir / "chunk-00000002-000004.parquet")
    mpath = run_dir / "manifest.json"
    m = json.loads(mpath.read_text())
    if recorded:  # an entry for that name, with the checksum of what should be there
        m["parts"][wrong.name] = {**m["parts"]["chunk-00000000-000004.parquet"], "start": 8, "sha256": "0" * 64}
    mpath.write_text(json.dumps(m))
    r = resume_experiment(run_dir, InProcess())
    problems = {x["part"]: x["problem"] for x in r.manifest.repairs}
    assert problems["chunk-00000002-000004.parquet"] == "not on the run's chunk grid"
    assert problems[wrong.name] == ("checksum mismatch" if recorded else
                                    "rows are not replications 8..11 of every set once (16 rows, replications 0..3)")
    df = r.replications()
    assert sorted(df["replication"].unique()) == list(range(24)) and len(df) == 24 * 4
    assert _bytes(run_dir) == _bytes(full.run_dir)


def test_missing_results_suggest_resume_only_when_it_can_succeed(small: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _interrupted_run(small, tmp_path / "part")
    code, _, err = _cli(["compare", str(run_dir)], capsys)
    assert code == 2 and "resume it with 'scenario-sim run --resume" in err
    from scenario_sim.experiment.store import RunFolder

    (run_dir / "scenario.yaml").unlink()
    with pytest.raises(UserError, match="cannot be resumed") as exc:
        RunFolder(run_dir).replications_file()
    assert "--resume" not in str(exc.value)
    done = run_experiment(small, jobs=1, out=tmp_path / "done")
    (done.run_dir / REPLICATIONS).unlink()
    code, _, err = _cli(["compare", str(done.run_dir)], capsys)
    assert code == 2 and "run the experiment again" in err and "--resume" not in err
    with pytest.raises(UserError, match="already complete"):  # the advice it no longer gives would fail so
        resume_experiment(done.run_dir)


def test_run_records_the_per_replication_draws_as_explore_does(tmp_path: Path) -> None:
    """The surge (and pause) probability drawn in each replication is a column of a run's
    replications.parquet, equal to the model's own draw, so results can be split by it."""
    from scenario_sim.lang import load_scenario
    from scenario_sim.model.compiled import compile_scenario
    from scenario_sim.model.simulation import simulate

    ref = ROOT / "scenarios" / "reference.yaml"
    run = run_experiment(ref, replications=3, seed=5, sets=["expose_smokescreen"], jobs=1, out=tmp_path)
    df = run.replications()
    assert list(df.columns[-2:]) == ["draw.surge_probability", "draw.pause_probability"]
    loaded = load_scenario(ref)
    for r in df.to_dict("records"):
        want = simulate(compile_scenario(loaded.effective(r["set"])), 5, r["replication"]).draws
        assert r["draw.surge_probability"] == want["surge_probability"]
        assert ((math.isnan(r["draw.pause_probability"]) and math.isnan(want["pause_probability"]))
                or r["draw.pause_probability"] == want["pause_probability"])
    assert df["draw.surge_probability"].between(0, 1).all() and df["draw.surge_probability"].nunique() > 1
