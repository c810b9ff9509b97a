"""Naming run folders on the command line, and listing them.

Wherever a command expects a run folder it also accepts ``latest`` (or ``@latest``), so the
README's examples can be pasted as they are:

* ``latest`` alone is the newest run under ``results/`` (the default results root), whatever
  its scenario;
* ``DIR/latest`` is the newest run in ``DIR``: ``results/reference/latest`` is the newest run
  of the reference scenario, ``results/latest`` the newest of any scenario there;
* a command that reads one kind of folder (``compare`` a plain run, ``robust`` an explore
  run) passes ``kind`` and gets the newest folder of that kind.

"Newest" is by the start time in the folder's name (``[explore-]<YYYYmmdd-HHMMSS>-<id>``), then by
the time its manifest was last written, so two runs started in the same second are told
apart by which was written last.  Status does not matter: after an interrupted run,
``--resume results/reference/latest`` finishes it.

This module reads manifests as plain JSON and tolerates missing keys, so that a listing of
a results root never fails because one folder in it is damaged or of another version; such a
folder is listed with status ``unreadable``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scenario_sim.errors import ResultsError
from scenario_sim.text import counted

LATEST = ("latest", "@latest")
DEFAULT_ROOT = Path("results")
MANIFEST = "manifest.json"
_STAMP = re.compile(r"^(?:[a-z]+-)?(\d{8})-(\d{6})-")  # explore runs: explore-<stamp>-<id>


def is_latest(arg: str) -> bool:
    """True when ``arg`` names a run by ``latest`` / ``@latest`` (alone or as its last part)."""
    return Path(arg).name in LATEST


def run_folders(root: Path) -> list[Path]:
    """Run folders directly in ``root`` or one level below (``root/<scenario>/<run>``), oldest first."""
    if not root.is_dir():
        return []
    found = {p.parent for pattern in (f"*/{MANIFEST}", f"*/*/{MANIFEST}") for p in root.glob(pattern)}
    return sorted(found, key=_age_key)


def _age_key(folder: Path) -> tuple[str, float, str]:
    m = _STAMP.match(folder.name)
    stamp = m.group(1) + m.group(2) if m else ""
    try:
        written = (folder / MANIFEST).stat().st_mtime
    except OSError:
        written = 0.0
    return (stamp, written, folder.name)


def folder_kind(folder: Path) -> str:
    """``explore`` for a folder of ``scenario-sim explore`` (named ``explore-<stamp>-<id>``), else ``run``."""
    return "explore" if folder.name.startswith("explore-") else "run"


_MAKER = {"run": "scenario-sim run", "explore": "scenario-sim explore"}


def resolve_run(arg: str, kind: str | None = None) -> Path:
    """The run folder ``arg`` names: a path as it is, or the newest run for a ``latest`` reference.

    With ``kind`` (``run`` or ``explore``), ``latest`` is the newest folder of that kind, so
    ``compare latest`` after an explore still finds the newest run, and ``robust latest`` the
    newest explore.
    """
    if not is_latest(arg):
        return Path(arg)
    parent = Path(arg).parent
    root = DEFAULT_ROOT if str(parent) in ("", ".") else parent
    runs = run_folders(root)
    where = f"{root}/" if root.exists() else f"{root}/ (no such folder)"
    if not runs:
        raise ResultsError(f"{arg}: no run folder under {where}; start one with: {_MAKER[kind or 'run']}")
    if kind is None:
        return runs[-1]
    wanted = [r for r in runs if folder_kind(r) == kind]
    if not wanted:
        raise ResultsError(f"{arg}: no folder of {_MAKER[kind]} under {where} (the newest there, {runs[-1].name}, "
                           f"is from {_MAKER[folder_kind(runs[-1])]}); start one with: {_MAKER[kind]}")
    return wanted[-1]


# --------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class RunInfo:
    """One line of ``scenario-sim runs``."""

    folder: Path
    started: str
    scenario: str
    sets: int
    replications: str
    status: str
    size_bytes: int


def _read(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _get(d: dict[str, Any], *keys: str) -> Any:
    cur: Any = d
    for k in keys:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(k)
    return cur


def _size(folder: Path) -> int:
    total = 0
    for p in folder.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            continue
    return total


def run_info(folder: Path) -> RunInfo:
    """What ``runs`` shows about one folder (never raises for a damaged manifest)."""
    m = _read(folder)
    size = _size(folder)
    if m is None:
        return RunInfo(folder, "?", folder.parent.name, 0, "?", "unreadable", size)
    started = str(_get(m, "timings", "started") or _get(m, "started") or "?").replace("T", " ")[:16]
    scen = _get(m, "scenario", "name") if isinstance(m.get("scenario"), dict) else m.get("scenario")
    sets = m.get("sets") or []
    reps = _explore_replications(m) if m.get("kind") == "explore" else _run_replications(m)
    return RunInfo(folder, started, str(scen or folder.parent.name), len(sets), reps,
                   str(m.get("status", "?")), size)


def _run_replications(m: dict[str, Any]) -> str:
    done, target = m.get("replications_done"), m.get("replications_target")
    return f"{done}" if done == target else f"{done}/{target}"


def _explore_replications(m: dict[str, Any]) -> str:
    """An explore run's design, ``cases x worlds x replications`` per set, and how many of its
    work units are done while it is not complete."""
    cases, worlds = _get(m, "explore", "cases"), _get(m, "explore", "worlds")
    n_worlds = len(worlds) if isinstance(worlds, list) else "?"
    text = (f"{counted(cases if cases is not None else '?', 'case')} x {counted(n_worlds, 'world')} x "
            f"{m.get('replications_target', '?')}")
    done, count = _get(m, "units", "done"), _get(m, "units", "count")
    if not str(m.get("status", "")).startswith("complete") and count:
        text += f" ({done or 0}/{count} units)"
    return text


def human_size(n: int) -> str:
    """Bytes as a short human size (``1.2 MB``)."""
    if n < 1024:
        return f"{n} B"
    exp = min(int(math.log(n, 1024)), 4)
    return f"{n / 1024 ** exp:.1f} {'BKMGT'[exp]}B"


def render_runs(root: Path) -> str:
    """The ``scenario-sim runs`` listing of ``root``, newest first, as aligned text."""
    infos = [run_info(f) for f in reversed(run_folders(root))]
    if not infos:
        return f"no runs under {root}/"
    header = ("started", "scenario", "sets", "replications", "status", "size", "folder")
    rows = [(i.started, i.scenario, str(i.sets), i.replications, i.status, human_size(i.size_bytes), str(i.folder))
            for i in infos]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header) - 1)]
    right = {2, 3, 5}
    lines = []
    for r in [header, *rows]:
        cells = [r[c].rjust(w) if c in right else r[c].ljust(w) for c, w in enumerate(widths)]
        lines.append("  ".join([*cells, r[-1]]))
    return "\n".join(lines)
