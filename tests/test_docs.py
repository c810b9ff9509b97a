"""The documentation keeps up with the code."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _make_tables() -> str:
    spec = importlib.util.spec_from_file_location("make_field_tables", ROOT / "docs" / "make_field_tables.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return str(mod.tables())


def test_scenario_language_doc_tables_are_current() -> None:
    doc = (ROOT / "docs" / "scenario-language.md").read_text()
    assert _make_tables() in doc, "run: python docs/make_field_tables.py and paste into docs/scenario-language.md"


def test_model_doc_names_every_stream_and_outcome_family() -> None:
    doc = (ROOT / "docs" / "model.md").read_text()
    for stream in ("contacts.stochastic", "attacker.surge.<source>.trigger", "attacker.waves.<class>.participation",
                   "air_defense.early_warning.<source>", "air_defense.<system>.resupply",
                   "air_defense.<system>.<class>", "consequences.hits.<class>", "consequences.harm"):
        assert stream in doc, stream
    for outcome in ("launched", "leaked", "civilian_harm", "energy.mean", "energy.days_below",
                    "stock_exhausted_days", "interceptor_spend_usd", "cost_exchange_ratio", "production"):
        assert outcome in doc, outcome


# --------------------------------------------------------------------------- documented examples run
#
# Every ```python block of README.md and docs/*.md runs as a saved script in a fresh
# interpreter (not exec: a process pool started with 'spawn' re-imports the script, which is
# exactly what a user's saved copy goes through).  It runs in a scratch folder that links the
# repository's scenarios/ so that relative paths in the examples resolve and nothing is
# written into the checkout; replication counts are made small.

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def sandbox(tmp: Path) -> Path:
    """A scratch working folder in which the documented relative paths exist."""
    for name in ("scenarios", "data", "tests"):
        if (ROOT / name).exists():
            (tmp / name).symlink_to(ROOT / name)
    return tmp


RECORDS_NAME = "missile_attacks_daily_2022-09_2025-06.csv"
"""The full attack records the docs' calibrate and backtest commands name (not shipped)."""


def full_records() -> Path | None:
    """The full records, when at hand: ``$SCENARIO_SIM_RECORDS`` (which must then be a file), else
    ``../shared/data/`` beside the repository; None otherwise (their commands are skipped)."""
    env = os.environ.get("SCENARIO_SIM_RECORDS")
    if env:
        assert Path(env).is_file(), f"SCENARIO_SIM_RECORDS={env}: no such file"
        return Path(env).resolve()
    beside = ROOT.parent / "shared" / "data" / RECORDS_NAME
    return beside.resolve() if beside.is_file() else None


def missing_data_reason(where: str, line: int, missing: list[str]) -> str:
    """Why a documented command is skipped, and how to run it: the full records are enabled by
    ``$SCENARIO_SIM_RECORDS``, so the message names that variable when they are among the missing."""
    reason = f"{where}:{line}: waits for the example data ({', '.join(missing)}) to ship in data/"
    if RECORDS_NAME in missing:
        reason += f"; set SCENARIO_SIM_RECORDS=/path/to/{RECORDS_NAME} to run it"
    return reason


def test_the_missing_records_skip_names_the_variable_that_enables_it() -> None:
    assert "SCENARIO_SIM_RECORDS=/path/to/" + RECORDS_NAME in missing_data_reason("README.md", 3, [RECORDS_NAME])
    assert "SCENARIO_SIM_RECORDS" not in missing_data_reason("README.md", 3, ["other.csv"])


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("SCENARIO_SIM_DEBUG", None)
    return env


def python_blocks() -> list[tuple[str, int, str]]:
    """(file, line, code) of every ```python block in the README and docs."""
    out = []
    for doc in DOCS:
        text = doc.read_text()
        for m in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
            out.append((doc.relative_to(ROOT).as_posix(), text.count("\n", 0, m.start()) + 1, m.group(1)))
    return out


def test_readme_has_python_examples() -> None:
    assert len([b for b in python_blocks() if b[0] == "README.md"]) >= 2


@pytest.mark.parametrize("where, line, code", python_blocks(), ids=lambda v: str(v) if isinstance(v, int) else None)
def test_documented_python_block_runs_as_a_script(tmp_path: Path, where: str, line: int, code: str) -> None:
    box = sandbox(tmp_path)
    script = box / "example.py"
    script.write_text(re.sub(r"replications=\d+", "replications=4", code))
    r = subprocess.run([sys.executable, str(script)], cwd=box, env=subprocess_env(), capture_output=True,
                       text=True, timeout=300, check=False)
    assert r.returncode == 0, f"{where}:{line}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    for manifest in box.glob("results/*/*/manifest.json"):
        status = json.loads(manifest.read_text())["status"]
        assert status == "complete", f"{where}:{line}: {manifest.parent} is {status}"


# --------------------------------------------------------------------------- the CLI tour runs
#
# Every `scenario-sim ...` command of README.md and docs/*.md, from fenced shell blocks and
# from inline code, is run in order in one scratch folder (so `latest` finds the runs made
# by the lines before it), with small replication counts, and must exit 0.  Two kinds are
# not run as they are: a template (a placeholder such as FILE, RUN_DIR, `[--option X]`, `…`)
# and, in running text, the bare name of a command ("produced by `scenario-sim calibrate`"),
# for which the command must exist (its --help must work).

PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]{2,}\b|…|\[--|<(?!run>)[a-z_ ]+>")
SMALL_N = 4


def _commands_in(text: str) -> list[tuple[int, str, str]]:
    """(line, kind, command): kind is "example", "template" or "name"."""
    found: list[tuple[int, str, str]] = []
    for m in re.finditer(r"^```(?:bash|sh|shell|console)\n(.*?)^```", text, re.S | re.M):
        first = text.count("\n", 0, m.start()) + 2
        for i, line in enumerate(m.group(1).splitlines()):
            cmd = re.split(r"\s+#\s", line.strip(), maxsplit=1)[0].strip()
            if cmd.startswith("scenario-sim "):
                found.append((first + i, _kind(cmd, inline=False), cmd))
    for m in re.finditer(r"(?<!`)`(scenario-sim [^`\n]+)`(?!`)", text):
        cmd = m.group(1).strip()
        found.append((text.count("\n", 0, m.start()) + 1, _kind(cmd, inline=True), cmd))
    return sorted(found)


def _kind(cmd: str, inline: bool) -> str:
    if PLACEHOLDER.search(cmd.replace("<run>", "latest")):
        return "template"
    return "name" if inline and len(cmd.split()) == 2 else "example"


def tour_commands(kind: str | None = None) -> list[tuple[str, int, str]]:
    """(file, line, command) of every documented scenario-sim command, first occurrence only."""
    seen: set[str] = set()
    out = []
    for doc in DOCS:
        for line, k, cmd in _commands_in(doc.read_text()):
            if cmd not in seen and (kind is None or k == kind):
                seen.add(cmd)
                out.append((doc.relative_to(ROOT).as_posix(), line, cmd))
    return out


def small(cmd: str) -> str:
    """The command with `<run>` as `latest` and few replications (a run keeps its other options).

    A `--precision` example keeps its `-n`: what it shows is how many replications it adds.
    """
    cmd = cmd.replace("<run>", "latest")
    words = cmd.split()
    if words[1] == "run" and "--resume" not in words and "--precision" not in words:
        if "-n" in words:
            words[words.index("-n") + 1] = str(SMALL_N)
        else:
            words.insert(2, f"-n {SMALL_N}")
    if words[1] in ("backtest", "frontier") and "--resume" not in words:  # frontier: 2^k bundles, few replications
        if "-n" in words:
            words[words.index("-n") + 1] = str(SMALL_N)
        else:
            words[2:2] = ["-n", str(SMALL_N)]
    if words[1] == "explore" and "--resume" not in words:
        # An explore design multiplies cases, worlds, sets and replications: keep each small
        # (a Sobol or Morris design still has its full structure, just a small base size).
        for flag, value in (("--cases", "2"), ("-n", "1")):
            if flag in words:
                words[words.index(flag) + 1] = value
            else:
                words[2:2] = [flag, value]
        if "--sets" not in words:
            words[2:2] = ["--sets", "readiness_on_contact"]
    return " ".join(words)


def test_the_tour_is_documented() -> None:
    readme = [c for f, _, c in tour_commands("example") if f == "README.md"]
    assert len(readme) >= 10, readme
    assert any("--precision" in c for c in readme) and any("latest" in c for c in readme)


@pytest.mark.parametrize("where, line, cmd", tour_commands("name"),
                         ids=lambda v: str(v) if isinstance(v, int) else None)
def test_commands_named_in_the_docs_exist(where: str, line: int, cmd: str) -> None:
    from click.testing import CliRunner

    from scenario_sim.cli import _register_optional_commands, cli

    _register_optional_commands()
    name = cmd.split()[1]
    if cli.get_command(None, name) is None:  # type: ignore[arg-type]
        pytest.skip(f"{where}:{line}: `{cmd}` is documented but not a command yet")
    r = CliRunner().invoke(cli, [name, "--help"])
    assert r.exit_code == 0, f"{where}:{line}: {cmd} --help: {r.output}"


def recipes() -> dict[str, str]:
    """Files the docs ask the reader to save: a ```yaml block after ``<!-- recipe: NAME -->``."""
    out = {}
    for doc in DOCS:
        for m in re.finditer(r"<!-- recipe: (\S+) -->\n```ya?ml\n(.*?)^```", doc.read_text(), re.S | re.M):
            out[m.group(1)] = m.group(2)
    return out


@pytest.fixture(scope="module")
def tour_box(tmp_path_factory: pytest.TempPathFactory) -> Path:
    box = sandbox(tmp_path_factory.mktemp("tour"))
    for name, text in recipes().items():
        (box / name).write_text(text)
    return box


def _interrupted_run(box: Path, command: str = "run") -> None:
    """An interrupted run (or frontier) of the reference, for the tour's `--resume` line to finish."""
    if command == "frontier":  # Ctrl-C after the first chunk, through the command itself
        code = ("import sys\nimport scenario_sim.commands as c\nfrom scenario_sim.cli import main\n"
                "class Stop:\n    def __init__(self, *a): pass\n    def __enter__(self): return self\n"
                "    def __exit__(self, *a): pass\n    def __call__(self, done, total):\n"
                "        if done:\n            raise KeyboardInterrupt\n"
                "c._Progress = Stop\ntry:\n    main(['frontier', 'scenarios/reference.yaml', '--items', "
                "'readiness_on_contact,stronger_sanctions', '-n', '4', '--chunk-size', '1', '-j', '1', '-q'])\n"
                "except SystemExit as e:\n    assert e.code == 130, e.code\n")
    else:
        code = ("from scenario_sim.experiment import RunInterrupted, run_experiment\n"
                "def stop(done, total):\n    if done:\n        raise KeyboardInterrupt\n"
                "try:\n    run_experiment('scenarios/reference.yaml', replications=4, chunk_size=1, jobs=1,"
                " out='results', progress=stop)\nexcept RunInterrupted:\n    pass\n")
    subprocess.run([sys.executable, "-c", code], cwd=box, env=subprocess_env(), check=True, timeout=300,
                   capture_output=True)


@pytest.mark.slow
@pytest.mark.parametrize("where, line, cmd", tour_commands("example"),
                         ids=lambda v: str(v) if isinstance(v, int) else None)
def test_documented_command_runs(tour_box: Path, where: str, line: int, cmd: str) -> None:
    run = small(cmd)
    if "--resume" in run:
        _interrupted_run(tour_box, run.split()[1])
    if run.split()[1] in ("calibrate", "backtest"):
        files = [w for w in run.split() if w.endswith(".csv")]
        full = full_records()
        for f in files:  # the full records are not shipped: run their commands when they are at hand
            if f == RECORDS_NAME and full is not None and not (tour_box / f).exists():
                (tour_box / f).symlink_to(full)
        missing = [f for f in files if not (tour_box / f).exists()]
        if missing:
            pytest.skip(missing_data_reason(where, line, missing))
    shell = run.replace("scenario-sim", f'"{sys.executable}" -m scenario_sim', 1)
    r = subprocess.run(shell, shell=True, cwd=tour_box, env=subprocess_env(), capture_output=True, text=True,
                       timeout=600, check=False)
    assert r.returncode == 0, f"{where}:{line}: {run}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    if "--precision" in run:
        from scenario_sim.runrefs import resolve_run

        m = json.loads((resolve_run(str(tour_box / "results" / "latest")) / "manifest.json").read_text())
        assert m["replications_done"] > m["replications_asked"], f"{where}:{line}: {run} added no replications"
        _precision_quotes_hold(m, run)


def _precision_quotes_hold(manifest: dict[str, object], run: str) -> None:
    """The README quotes the reference's --precision run (how many replications it took, and its
    closing message): both must be what the run gives, or they go stale when the model changes."""
    text = (ROOT / "README.md").read_text()
    command = run.split("#")[0].strip()
    lines = [t for t in text.splitlines() if t.startswith(command) and re.search(r"here \d+ -> \d+", t)]
    if not lines:
        return
    said = re.search(r"here (\d+) -> (\d+)", lines[0])
    assert said is not None and int(said.group(2)) == manifest["replications_done"], (
        lines[0], manifest["replications_done"])
    readme = " ".join(text.split())
    quote = re.search(r"said `(precision met after [^`]*)`", readme)
    assert quote is not None, "README: the --precision run's closing message is no longer quoted"
    adaptive = manifest["adaptive"]
    assert isinstance(adaptive, dict)
    reason = str(adaptive["stop_reason"])
    for piece in quote.group(1).split(" ... "):
        assert piece in reason, f"README quotes {piece!r}; the run said {reason!r}"
