"""Structure figures of the package: lines, functions above complexity 20, import edges,
scenario loads per ``run --report``.

    PYTHONPATH=. python benchmarks/structure.py            # all figures
    PYTHONPATH=. python benchmarks/structure.py --static   # without the run (no simulation)
    STRUCTURE_ROOT=/other/checkout PYTHONPATH=/other/checkout python benchmarks/structure.py

Lines are physical lines of ``scenario_sim/**/*.py``.  Complexity is radon's (which counts
boolean operators).  An import edge is a distinct pair (A, B), A != B, of subpackages
(directories under ``scenario_sim/``) where a module of A imports a module of B, at any
depth in the file (imports inside functions count: they are dependencies too).  Scenario
loads are the calls to ``load_scenario`` during one ``scenario-sim run --report`` of a small
scenario, counted by wrapping the function wherever the package imported it.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("STRUCTURE_ROOT", Path(__file__).resolve().parent.parent))
PKG = ROOT / "scenario_sim"


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the ``scenario_sim`` modules a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    here = _module_of(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from pkg import module`
    return {m for m in out if m == "scenario_sim" or m.startswith("scenario_sim.")}


def subpackage(module: str) -> str | None:
    """``scenario_sim.lang.patch`` -> ``lang``; top-level modules and the package -> None."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    if (PKG / parts[1]).is_dir():
        return parts[1]
    return None


def import_graph() -> dict[str, set[str]]:
    """{module: scenario_sim modules it imports} for every file of the package."""
    return {_module_of(p): _imports(p) for p in sorted(PKG.rglob("*.py"))}


def subpackage_edges() -> set[tuple[str, str]]:
    edges: set[tuple[str, str]] = set()
    for mod, deps in import_graph().items():
        a = subpackage(mod)
        for d in deps:
            b = subpackage(d)
            if a and b and a != b:
                edges.add((a, b))
    return edges


def lines() -> int:
    return sum(len(p.read_text().splitlines()) for p in PKG.rglob("*.py"))


def over_20() -> list[str]:
    from radon.complexity import cc_visit

    out = []
    for p in sorted(PKG.rglob("*.py")):
        for b in cc_visit(p.read_text()):
            if b.complexity > 20:
                out.append(f"{p.relative_to(ROOT).as_posix()}:{b.name} ({b.complexity})")
    return out


def scenario_loads_per_run_report() -> int:
    """Calls of load_scenario during ``run --report`` of a small scenario (2 sets, 4 replications)."""
    import contextlib
    import importlib
    import io

    import scenario_sim.lang.loader
    from scenario_sim.cli import main as cli_main

    original = scenario_sim.lang.loader.load_scenario
    calls = [0]

    def counting(*a: Any, **k: Any) -> Any:
        calls[0] += 1
        return original(*a, **k)

    # import every module the command may use, then wrap the name wherever it is bound
    for name in ("scenario_sim.commands", "scenario_sim.experiment.engine", "scenario_sim.analysis.compare",
                 "scenario_sim.report.html"):
        importlib.import_module(name)
    bound = [m for m in list(sys.modules.values())
             if getattr(m, "__name__", "").startswith("scenario_sim") and getattr(m, "load_scenario", None) is original]
    for mod in bound:
        mod.load_scenario = counting  # type: ignore[attr-defined]
    args = ["run", str(ROOT / "scenarios" / "minimal.yaml"), "-n", "4", "-j", "1", "-q", "--report"]
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
            cli_main([*args, "--out", tmp])
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        for mod in bound:
            mod.load_scenario = original  # type: ignore[attr-defined]
    return calls[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--static", action="store_true", help="skip the run (scenario loads)")
    args = ap.parse_args()
    edges = sorted(subpackage_edges())
    print(f"lines of code in scenario_sim: {lines()}")
    big = over_20()
    print(f"functions above complexity 20: {len(big)}")
    for b in big:
        print(f"  {b}")
    print(f"import edges between subpackages: {len(edges)}")
    for a, b in edges:
        print(f"  {a} -> {b}")
    if not args.static:
        print(f"scenario loads per run --report: {scenario_loads_per_run_report()}")


if __name__ == "__main__":
    main()
