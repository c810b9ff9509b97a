"""The run folder as a format: typed records, versions, damaged folders, and readers that need
nothing but the folder (a copied folder, a read-only folder, a set whose every replication failed)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from scenario_sim import runs
from scenario_sim.cli import main
from scenario_sim.errors import ResultsError
from scenario_sim.experiment import run_experiment
from tests.helpers import minimal_doc

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "scenario_sim"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def _scenario(tmp: Path, name: str = "fmt", **extra: Any) -> Path:
    d = minimal_doc()
    d.update(name=name, horizon_days=30, replications=6, seed=5)
    d["recommendations"] = [
        {"name": "better_guns", "description": "guns up to 0.7", "changes": {"air_defense.systems.guns.pk.drone": 0.7}},
        {"name": "bundle", "description": "guns and more capacity", "include": ["better_guns"],
         "scale": {"air_defense.systems.guns.capacity_per_wave": 2}},
        *extra.pop("more_sets", []),
    ]
    d["outputs"] = {"primary": "civilian_harm", "key": ["leaked.total", "energy.mean"]}
    d.update(extra)
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("fmt")
    return run_experiment(_scenario(tmp), jobs=1, out=tmp / "res", rank_by="leaked.total").run_dir


# --------------------------------------------------------------------------- the records


def test_folder_describes_itself(run_dir: Path) -> None:
    folder = runs.RunFolder.open(run_dir)
    m = folder.manifest()
    assert m.format == runs.FORMAT and m.format_version == runs.FORMAT_VERSION
    assert m.primary == "civilian_harm" and m.key == ["leaked.total", "energy.mean"]
    assert m.rank_by == "leaked.total" and m.ranking_outcome == "leaked.total"
    assert m.scenario.start_date == "2025-01-01" and m.scenario.horizon_days == 30
    outcomes = {o.name: o for o in folder.outcomes()}
    harm = outcomes["civilian_harm"]
    assert (harm.unit, harm.direction, harm.key) == ("casualties", "lower", True)
    assert outcomes["waves"].direction == "none" and not outcomes["waves"].key
    import pyarrow.parquet as pq

    columns = pq.read_schema(run_dir / runs.REPLICATIONS).names
    # the catalogue is the columns, in order, then the per-replication draws (as in explore runs)
    assert columns == ["set", "replication", "error", *outcomes, "draw.surge_probability", "draw.pause_probability"]
    sets = {s.name: s for s in folder.sets()}
    assert sets["bundle"].include == ["better_guns"] and sets["bundle"].scale == {
        "air_defense.systems.guns.capacity_per_wave": 2}
    assert sets["better_guns"].description == "guns up to 0.7"
    effective = yaml.safe_load((run_dir / runs.SET_SCENARIOS / "bundle.yaml").read_text())
    guns = effective["air_defense"]["systems"][0]
    assert guns["pk"]["drone"] == 0.7 and guns["capacity_per_wave"] == 100  # include applied, then the scale


def test_rank_by_is_checked_before_the_run(tmp_path: Path) -> None:
    from scenario_sim.errors import UserError

    with pytest.raises(UserError, match="--rank-by: unknown outcome 'leaked' "):
        run_experiment(_scenario(tmp_path), jobs=1, out=tmp_path / "res", rank_by="leaked")
    with pytest.raises(UserError, match="no better direction"):
        run_experiment(_scenario(tmp_path), jobs=1, out=tmp_path / "res", rank_by="waves")
    assert not (tmp_path / "res").exists()


def test_compare_and_report_rank_by_the_runs_choice(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["compare", str(run_dir)], capsys)
    assert code == 0 and "ranked by leaked.total" in out
    code, out, _ = _cli(["compare", str(run_dir), "--rank-by", "civilian_harm"], capsys)
    assert code == 0 and "ranked by civilian_harm" in out


def _damage(run_dir: Path, tmp: Path, name: str, content: bytes) -> Path:
    copy = tmp / name
    shutil.copytree(run_dir, copy)
    (copy / runs.MANIFEST).write_bytes(content)
    return copy


def _manifest(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / runs.MANIFEST).read_text()))


def _edited(run_dir: Path, edit: Any) -> bytes:
    m = _manifest(run_dir)
    edit(m)
    return json.dumps(m).encode()


@pytest.mark.parametrize("label, make, message", [
    ("random bytes", lambda d: bytes(range(256)) * 4, "corrupt manifest (not UTF-8 text at byte 128)"),
    ("not json", lambda d: b"{ not json", "manifest.json:1:3: corrupt manifest"),
    ("a list", lambda d: b"[1, 2]", "(top level): expected a mapping"),
    ("missing key", lambda d: _edited(d, lambda m: m.pop("seed")), "manifest.json: seed: missing"),
    ("mistyped key", lambda d: _edited(d, lambda m: m.update(seed="7")),
     "manifest.json: seed: expected an integer (got str)"),
    ("nested key", lambda d: _edited(d, lambda m: m["scenario"].pop("effective_sha256")),
     "manifest.json: scenario.effective_sha256: missing"),
    ("list item", lambda d: _edited(d, lambda m: m["failures"].update(first=[{"set": "x", "replication": "0",
                                                                              "error": "e"}])),
     "manifest.json: failures.first[0].replication: expected an integer"),
    ("older version", lambda d: _edited(d, lambda m: m.update(format="scenario-sim-run/1")),
     "format_version: the folder has version 1 (written by an older scenario-sim)"),
    ("newer version", lambda d: _edited(d, lambda m: m.update(format_version=99)),
     "format_version: the folder has version 99 (written by a newer scenario-sim); this version reads 2"),
    ("foreign", lambda d: _edited(d, lambda m: m.update(format="something-else")), "format: expected"),
])
def test_broken_manifest_is_one_located_line(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             label: str, make: Any, message: str) -> None:
    damaged = _damage(run_dir, tmp_path, "damaged", make(run_dir))
    for cmd in (["compare"], ["report"], ["run", "--resume"]):
        code, _, err = _cli([*cmd, str(damaged)], capsys)
        assert code == 2, (label, cmd, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "internal error" not in err, err
        assert message in err and str(damaged / runs.MANIFEST) in err, (label, err)


def test_broken_catalogue_is_one_line(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "cat"
    shutil.copytree(run_dir, copy)
    (copy / runs.OUTCOMES).write_text('[{"name": "x", "unit": "u", "direction": "sideways", "description": ""}]')
    code, _, err = _cli(["compare", str(copy)], capsys)
    assert code == 2 and "outcomes.json: [0].direction:" in err and len(err.strip().splitlines()) == 1
    (copy / runs.OUTCOMES).unlink()
    code, _, err = _cli(["compare", str(copy)], capsys)
    assert code == 2 and "outcomes.json: missing (the outcome catalogue" in err


# --------------------------------------------------------------------------- readers need only the folder


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Absolute ``scenario_sim`` modules a file imports (relative imports resolved): anywhere in
    the file, or only those run when the module is imported (``top_level_only``)."""
    rel = path.relative_to(ROOT).with_suffix("").parts
    package = rel[:-1]  # for __init__.py too: its package is the folder, and rel ends in "__init__"
    tree = ast.parse(path.read_text())
    nodes = ast.walk(tree) if not top_level_only else _module_level(tree.body)
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            mod = ".".join(p for p in (base, node.module or "") if p)
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return {m for m in out if m.startswith("scenario_sim")}


def _module_level(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Statements executed on import: the body, into if/try blocks, not into functions or classes."""
    for node in body:
        yield node
        for child in ("body", "orelse", "finalbody", "handlers"):
            inner = getattr(node, child, None)
            if isinstance(inner, list) and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                yield from _module_level([n for n in inner if isinstance(n, ast.stmt | ast.excepthandler)])


def _module_files() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


def _in_layer(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def _loaded_by(layer: str, files: dict[str, Path]) -> set[str]:
    """Modules a layer depends on: everything its own files import (in functions too), and what
    importing those loads in turn (their module-level imports), with parent packages."""
    seen: set[str] = set()
    todo = [m for m in files if _in_layer(m, layer)]
    while todo:
        m = todo.pop()
        if m in seen or m not in files:
            continue
        seen.add(m)
        for dep in _imports(files[m], top_level_only=not _in_layer(m, layer)):
            parts = dep.split(".")  # importing scenario_sim.a.b runs scenario_sim/a/__init__ too
            todo.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return seen


READERS = ["scenario_sim.analysis", "scenario_sim.report", "scenario_sim.runs", "scenario_sim.stats",
           "scenario_sim.text"]


@pytest.mark.parametrize("layer", READERS)
def test_readers_import_neither_lang_nor_model(layer: str) -> None:
    files = _module_files()
    reached = _loaded_by(layer, files)
    assert any(_in_layer(m, layer) for m in reached)
    bad = sorted(m for m in reached if _in_layer(m, "scenario_sim.lang") or _in_layer(m, "scenario_sim.model")
                 or _in_layer(m, "scenario_sim.experiment"))
    assert not bad, f"{layer} depends on {bad}"


def test_importing_the_readers_loads_neither_lang_nor_model() -> None:
    import subprocess
    import sys

    code = ("import sys, scenario_sim.analysis, scenario_sim.analysis.compare, scenario_sim.report.html, "
            "scenario_sim.report.plots, scenario_sim.runs; "
            "print(sorted(m for m in sys.modules if m.startswith(('scenario_sim.lang', 'scenario_sim.model'))))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.stdout.strip() == "[]", r.stdout + r.stderr


def test_the_import_check_sees_what_the_experiment_needs() -> None:
    """The check can fail: the experiment (which writes the folder) does depend on lang and model,
    and an import inside a function counts for the layer's own files."""
    files = _module_files()
    reached = _loaded_by("scenario_sim.experiment", files)
    assert {"scenario_sim.lang.loader", "scenario_sim.model.compiled", "scenario_sim.runs.folder"} <= reached
    assert "scenario_sim.report.table" in _loaded_by("scenario_sim.commands", files)  # a function-level import


@pytest.fixture
def no_scenario_loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Any call of load_scenario (wherever the package bound the name) is recorded."""
    import sys

    import scenario_sim.commands
    import scenario_sim.lang.loader
    import scenario_sim.report.html

    original = scenario_sim.lang.loader.load_scenario
    calls: list[str] = []

    def counting(path: Any, *a: Any, **k: Any) -> Any:
        calls.append(str(path))
        return original(path, *a, **k)

    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("scenario_sim") and getattr(mod, "load_scenario", None) is original:
            monkeypatch.setattr(mod, "load_scenario", counting)
    yield calls


def test_one_scenario_load_per_run_with_report(tmp_path: Path, no_scenario_loads: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["run", str(_scenario(tmp_path)), "-n", "3", "-j", "1", "-q", "--report",
                         "--out", str(tmp_path / "res")], capsys)
    assert code == 0, err
    assert no_scenario_loads == [str(tmp_path / "fmt.yaml")]  # main had 4: run, compare, report, report's header


def test_report_of_a_copied_folder_whose_scenario_changed(tmp_path: Path, no_scenario_loads: list[str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    scen = _scenario(tmp_path)
    run = run_experiment(scen, jobs=1, out=tmp_path / "res").run_dir
    _, before, _ = _cli(["compare", str(run), "--format", "csv"], capsys)
    copy = tmp_path / "elsewhere" / "run"
    shutil.copytree(run, copy)
    for p in (copy / runs.COMPARISON, copy / runs.REPORT):
        p.unlink(missing_ok=True)
    # the scenario at the recorded path is now a different one (other sets, other outcomes) ...
    other = minimal_doc()
    other.update(name="fmt", recommendations=[{"name": "unrelated", "changes": {"horizon_days": 5}}])
    scen.write_text(yaml.safe_dump(other))
    shutil.rmtree(run)
    no_scenario_loads.clear()
    _, after, _ = _cli(["compare", str(copy), "--format", "csv"], capsys)
    assert after == before
    code, _, err = _cli(["report", str(copy)], capsys)
    assert code == 0, err
    html = (copy / runs.REPORT).read_text()
    assert "guns and more capacity" in html and "includes better_guns" in html and "unrelated" not in html
    # ... or gone
    scen.unlink()
    code, _, err = _cli(["report", str(copy)], capsys)
    assert code == 0, err
    assert no_scenario_loads == []


def test_a_run_folder_without_its_scenario_is_one_line_not_a_ranking_without_its_objective(
        run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """scenario.yaml holds the stated objective: without it compare would rank by the outcome alone,
    a silent change of meaning (a newcomer found it)."""
    copy = tmp_path / "noscen"
    shutil.copytree(run_dir, copy)
    (copy / runs.SCENARIO).unlink()
    code, out, err = _cli(["compare", str(copy)], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"{copy / runs.SCENARIO}: missing" in err


# --------------------------------------------------------------------------- read-only folders


@pytest.fixture
def read_only(run_dir: Path, tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "ro"
    shutil.copytree(run_dir, copy)
    for p in (copy / runs.COMPARISON, copy / runs.REPORT):
        p.unlink(missing_ok=True)
    shutil.rmtree(copy / runs.PLOTS, ignore_errors=True)
    paths = [copy, *copy.rglob("*")]
    for p in paths:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield copy
    for p in paths:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


def _listing(d: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(d)), p.stat().st_mtime_ns) for p in d.rglob("*"))


def test_read_only_folder_is_compared_and_reported(read_only: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    before = _listing(read_only)
    code, out, err = _cli(["compare", str(read_only)], capsys)
    assert code == 0 and "ranked by leaked.total" in out
    assert err.strip() == (f"note: {read_only} is read-only; comparison.csv not written "
                           "(give --out DIR to write it elsewhere)")
    code, out, err = _cli(["compare", str(read_only), "--out", str(tmp_path / "cmp")], capsys)
    assert code == 0 and err == "" and (tmp_path / "cmp" / runs.COMPARISON).exists()
    code, out, err = _cli(["report", str(read_only)], capsys)
    assert code == 0 and out.startswith("<!DOCTYPE html>") and "Ranking by leaked.total" in out
    assert len(err.strip().splitlines()) == 1 and "read-only; the report goes to standard output" in err
    code, out, err = _cli(["report", str(read_only), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0 and out.strip() == str(tmp_path / "rep" / runs.REPORT)
    assert (tmp_path / "rep" / runs.PLOTS / "forest.png").exists() and (tmp_path / "rep" / runs.COMPARISON).exists()
    code, out, err = _cli(["report", str(read_only), "--out", "-"], capsys)
    assert code == 0 and out.startswith("<!DOCTYPE html>") and err == ""
    assert _listing(read_only) == before  # nothing written into the read-only folder


def test_writable_honours_the_mode_bits_even_for_root(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    assert runs.writable(d)
    d.chmod(0o555)
    try:
        assert not runs.writable(d)
    finally:
        d.chmod(0o755)
    assert not runs.writable(tmp_path / "missing")


def test_write_report_into_a_read_only_folder_is_one_line(read_only: Path) -> None:
    from scenario_sim.report.html import write_report

    with pytest.raises(ResultsError, match="read-only run folder; give an output folder"):
        write_report(read_only)


# --------------------------------------------------------------------------- a set whose every replication fails


def test_every_replication_of_a_set_failing_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A set that fails in every replication is left out with one line, never ``KeyError: 'outcome'``.

    The failures are injected by the test executor; on main the same happened for real with a
    ``scale`` of a wave-size mean by 1e300 (numpy: "lam value too large"), until validation
    bounds catch such values.
    """
    from tests.fault_executors import FaultyInProcess

    scen = _scenario(tmp_path, more_sets=[{"name": "doomed", "changes": {"air_defense.systems.guns.pk.drone": 0.6}}])
    r = run_experiment(scen, executor=FaultyInProcess({"doomed": list(range(6))}), out=tmp_path / "res")
    run_dir = r.run_dir
    assert r.failures == 6
    from scenario_sim.commands import _print_ranking

    _print_ranking(run_dir, None, "table")  # what `run` prints after the run
    out, err = capsys.readouterr()
    assert "better_guns" in out and "doomed" not in out
    line = (f"{run_dir}: set 'doomed': all 6 replications failed (first: RuntimeError: injected fault in "
            "replication 0")
    assert err.startswith(line) and "'error' column of replications.parquet" in err, err
    assert "left out of the comparison" in err and len(err.strip().splitlines()) == 1
    m = runs.RunFolder.open(run_dir).manifest()
    assert m.failures.count == 6 and m.failures.by_set == {"doomed": 6}
    for cmd in (["compare", str(run_dir)], ["report", str(run_dir)]):
        code, out, err = _cli(cmd, capsys)
        assert code == 0, err
        assert len(err.strip().splitlines()) == 1 and err.startswith(line), err
    html = (run_dir / runs.REPORT).read_text()
    assert "set &#x27;doomed&#x27;: all 6 replications failed" in html


def test_every_replication_of_the_baseline_failing_is_one_line(run_dir: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    copy = tmp_path / "base-failed"
    shutil.copytree(run_dir, copy)
    t = pq.read_table(copy / runs.REPLICATIONS)
    is_base = pc.equal(t["set"], "baseline")
    err = pc.if_else(is_base, pa.scalar("RuntimeError: boom"), t["error"])
    t = t.set_column(t.schema.get_field_index("error"), "error", err)
    os.remove(copy / runs.REPLICATIONS)
    pq.write_table(t, copy / runs.REPLICATIONS)
    for cmd in ("compare", "report"):
        code, _, e = _cli([cmd, str(copy)], capsys)
        assert code == 2 and len(e.strip().splitlines()) == 1, e
        assert "set 'baseline': all 6 replications failed (first: RuntimeError: boom)" in e
        assert "nothing to compare against" in e


def test_merging_many_small_parts_in_batches_keeps_the_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The merge compacts its buffer every few parts (bounded memory for explore's many tiny
    parts); the rows and row-group cuts, hence the bytes, are those of an uncompacted merge."""
    import hashlib

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from scenario_sim.runs import folder as folder_mod

    rng = np.random.default_rng(7)
    n_parts, rows = 300, 3  # 900 rows: one row group cut (ROW_GROUP patched to 256) every ~85 parts
    tables = [pa.table({"set": pa.array(["a", "b", "c"]), "replication": pa.array(np.full(rows, k)),
                        "x": pa.array(rng.random(rows))}) for k in range(n_parts)]
    monkeypatch.setattr(folder_mod, "ROW_GROUP", 256)
    digests, merged = [], []
    for every in (10**9, 7):  # never compact, compact every 7 parts
        monkeypatch.setattr(folder_mod, "_COMPACT_EVERY", every)
        f = runs.RunFolder.create(tmp_path / str(every), "x", "stamp", "id")
        for k, t in enumerate(tables):
            f.write_part(k * rows, rows, t, None)
        f.consolidate_parts(f.done_chunks(), n_parts * rows, False, tables[0].schema)
        out = f.path / "replications.parquet"
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
        merged.append(pq.read_table(out))
        assert [pq.ParquetFile(out).metadata.row_group(i).num_rows for i in range(4)] == [256, 256, 256, 132]
    assert digests[0] == digests[1]
    assert merged[1].equals(pa.concat_tables(tables))
