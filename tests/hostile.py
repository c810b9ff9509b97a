"""Running hostile input in a child process under hard resource limits.

A regression in input hardening (a FIFO that blocks, ``/dev/zero`` read to the end, a
scenario that allocates without bound) must fail a test, not take the machine down, so
these runs happen in a subprocess with ``resource.setrlimit`` on address space and CPU
time, and a wall-clock timeout on top.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MEMORY_LIMIT_BYTES = 2 * 1024**3
"""Address space of the child (numpy, scipy and pyarrow alone map about 1 GB)."""

CPU_LIMIT_S = 60


@dataclass
class Outcome:
    code: int | None       # None: killed by the wall-clock timeout
    stdout: str
    stderr: str


def limits(memory_bytes: int = MEMORY_LIMIT_BYTES, cpu_s: int = CPU_LIMIT_S) -> None:
    """Apply the limits (used as ``preexec_fn`` in the child)."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))


def run_limited(args: list[str], timeout_s: float = 90.0, cwd: Path | None = None,
                memory_bytes: int = MEMORY_LIMIT_BYTES, cpu_s: int = CPU_LIMIT_S) -> Outcome:
    """``python -m scenario_sim ARGS`` under the limits; a timeout is an outcome, not an error."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SCENARIO_SIM_DEBUG", None)
    try:
        r = subprocess.run([sys.executable, "-m", "scenario_sim", *args], capture_output=True, text=True,
                           timeout=timeout_s, cwd=cwd or ROOT, env=env, check=False,
                           preexec_fn=lambda: limits(memory_bytes, cpu_s))
    except subprocess.TimeoutExpired as exc:
        def text(b: bytes | str | None) -> str:
            return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
        return Outcome(None, text(exc.stdout), text(exc.stderr))
    return Outcome(r.returncode, r.stdout, r.stderr)


def run_python_limited(code: str, timeout_s: float = 120.0, memory_bytes: int = MEMORY_LIMIT_BYTES,
                       cpu_s: int = CPU_LIMIT_S) -> Outcome:
    """``python -c CODE`` with the package on the path, under the limits."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SCENARIO_SIM_DEBUG", None)
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s,
                           cwd=ROOT, env=env, check=False, preexec_fn=lambda: limits(memory_bytes, cpu_s))
    except subprocess.TimeoutExpired:
        return Outcome(None, "", "timeout")
    return Outcome(r.returncode, r.stdout, r.stderr)
