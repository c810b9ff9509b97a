"""Hypothesis strategies for writing your own invariant tests against the model.

``scenario_documents()`` draws valid scenario documents (plain dicts, as a YAML file would
hold) that vary every mechanism: one to three munition classes, one to three air-defence
layers with or without inventories and with either doctrine, coverage, readiness rules,
surges, scheduled and stochastic contacts, sanction levers and civil defence.  Horizons are
short so hypothesis can run many examples.  ``scenarios()`` validates them into
:class:`~scenario_sim.lang.schema.Scenario` objects::

    from hypothesis import given
    from scenario_sim.testing import scenarios
    from scenario_sim.model import simulate

    @given(scenarios(), st.integers(0, 2**32 - 1))
    def test_leakers_never_exceed_launches(s, seed):
        o = simulate(s, seed, 0).outcomes
        assert o["leaked.total"] <= o["launched.total"]

Requires the ``hypothesis`` package (installed with the ``test`` extra).

``mutants(n, seed)`` makes seeded, damaged copies of the shipped scenarios (deleted and
duplicated keys and lines, numbers turned into text, negatives, huge values, NaN and inf,
lists swapped with maps, bad indentation, tabs, a BOM, invalid UTF-8, control characters,
truncation, unknown dotted paths and includes, ``extends`` cycles and missing bases), and
``check_mutant`` runs one through the CLI: it must be a located error (exit 2, every line
``file:line:col``) or validate and then run ``-n 2`` within a time and memory budget.
``tests/test_fuzz.py`` runs a fixed budget of them in CI; ``benchmarks/fuzz_scenarios.py``
runs thousands.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from scenario_sim.lang.loader import validate_document
from scenario_sim.lang.schema import Scenario

CLASS_NAMES = ["drone", "cruise", "ballistic"]

probabilities = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def distributions(draw: st.DrawFn, low: float = 0.0, high: float = 50.0, counts: bool = False,
                  bounded: bool = False) -> Any:
    """A distribution spec: support inside [low, high] if ``bounded``, else non-negative with
    values around that range (``counts``: count distributions allowed)."""
    kinds = ["fixed", "uniform", "triangular", "empirical", "normal", "student_t"]
    if not bounded:
        kinds += ["poisson", "negbin"] if counts else ["lognormal"]
    kind = draw(st.sampled_from(kinds))
    a = draw(st.floats(low, high, allow_nan=False))
    b = draw(st.floats(low, high, allow_nan=False))
    lo, hi = min(a, b), max(a, b)
    if kind == "fixed":
        return a
    if kind == "uniform":
        return {"dist": "uniform", "low": lo, "high": hi}
    if kind == "triangular":
        return {"dist": "triangular", "low": lo, "mode": (lo + hi) / 2, "high": hi}
    if kind == "empirical":
        return {"dist": "empirical", "values": [lo, hi], "probs": [0.5, 0.5]}
    if kind in ("normal", "student_t"):  # cut to [lo, hi], so bounded and non-negative
        law = {"dist": kind, "mean": (lo + hi) / 2, "sd": (hi - lo) / 4, "low": lo, "high": hi}
        return {**law, "df": draw(st.floats(2.5, 30.0))} if kind == "student_t" else law
    if kind == "poisson":
        return {"dist": "poisson", "mean": a}
    if kind == "negbin":
        return {"dist": "negbin", "mean": a, "dispersion": draw(st.floats(0.1, 10.0))}
    return {"dist": "lognormal", "mean": max(a, 0.1), "sd": b}


@st.composite
def scenario_documents(draw: st.DrawFn, max_horizon_days: int = 60) -> dict[str, Any]:
    """A valid scenario document exercising every mechanism of the model."""
    n_classes = draw(st.integers(1, 3))
    classes = CLASS_NAMES[:n_classes]
    horizon = draw(st.integers(1, max_horizon_days))
    day = st.integers(0, horizon - 1)
    systems = []
    for i in range(draw(st.integers(1, 3))):
        engages = draw(st.lists(st.sampled_from(classes), min_size=1, max_size=n_classes, unique=True))
        sysd: dict[str, Any] = {
            "name": f"layer{i}",
            "engages": engages,
            "pk": {c: draw(probabilities) for c in engages},
            "capacity_per_wave": draw(st.integers(0, 200)),
            "doctrine": {
                "mode": draw(st.sampled_from(["salvo", "shoot_look_shoot"])),
                "shots_per_target": (hi := draw(st.integers(1, 3))),
                "reduced_shots_per_target": draw(st.integers(1, hi)),
                "reduce_below_stock": draw(st.floats(0, 100)),
            },
            "cost_per_shot_usd": draw(st.floats(0, 1e6)),
        }
        if draw(st.booleans()):
            sysd["coverage"] = {c: draw(probabilities) for c in engages}
        if draw(st.booleans()):
            inter: dict[str, Any] = {"initial_stock": draw(st.integers(0, 500))}
            if draw(st.booleans()):
                inter["resupply"] = {"first": draw(day), "interval_days": draw(st.floats(1, 30)),
                                     "quantity": draw(st.integers(0, 100)),
                                     "lead_time_days": draw(distributions(0, 10))}
            sysd["interceptors"] = inter
        systems.append(sysd)
    levers = []
    for i, kind in enumerate(draw(st.lists(st.sampled_from(
            ["asset_freeze", "travel_ban", "financial_access", "export_controls"]), max_size=3))):
        levers.append({"name": f"lever{i}", "kind": kind, "enabled": draw(st.booleans()), "start": draw(day),
                       "ramp_days": draw(st.floats(0, 60)),
                       "production_effect": {c: draw(probabilities) for c in classes},
                       "evasion_half_life_days": draw(st.one_of(st.none(), st.floats(1, 400))),
                       "contact_rate_effect": draw(probabilities)})
    doc: dict[str, Any] = {
        "name": "generated",
        "start_date": "2025-01-01",
        "horizon_days": horizon,
        "munitions": [{"name": c, "unit_cost_usd": draw(st.floats(0, 1e6))} for c in classes],
        "contacts": {
            "scheduled": [{"date": d, "kind": draw(st.sampled_from(["call", "meeting"])),
                           "status": draw(st.sampled_from(["confirmed", "denied"]))}
                          for d in draw(st.lists(day, max_size=4))],
            "broadcast_denied": draw(st.booleans()),
        },
        "attacker": {
            "arsenal": {c: {"initial_stock": draw(st.floats(0, 2000)), "production_per_day": draw(st.floats(0, 100)),
                            "production_growth_per_month": draw(st.floats(-0.5, 0.5)),
                            "reserve_stock": draw(st.floats(0, 100))} for c in classes},
            "waves": {
                "schedule": draw(st.sampled_from(["nightly", "poisson"])),
                "waves_per_day": draw(st.floats(0.1, 3)),
                "size_growth_per_month": draw(st.floats(-0.5, 0.5)),
                "classes": {c: {"probability": draw(probabilities), "size": draw(distributions(0, 150, counts=True))}
                            for c in classes},
            },
            "surge": {
                "enabled": draw(st.booleans()),
                "probability": draw(distributions(0, 1, bounded=True)),
                "lag_days": draw(distributions(0, 5)),
                "size_multiplier": draw(distributions(0, 5)),
                "stockpile_days": draw(st.floats(0, 5)),
                "stockpile_wave_factor": draw(probabilities),
            },
            "targets": {"energy": draw(st.floats(0.01, 1)), "civilian": draw(st.floats(0, 1)),
                        "military": draw(st.floats(0, 1))},
        },
        "air_defense": {
            "readiness": {
                "baseline": draw(probabilities),
                "after_contact": {"enabled": draw(st.booleans()), "duration_days": draw(st.floats(0, 5)),
                                  "level": draw(probabilities)},
                "early_warning": {"enabled": draw(st.booleans()), "detection_probability": draw(probabilities),
                                  "lead_days": draw(st.floats(0, 3)), "level": draw(probabilities)},
            },
            "systems": systems,
        },
        "sanctions": {"levers": levers},
        "consequences": {
            "hit_probability": {c: draw(probabilities) for c in classes},
            "harm_per_civilian_hit": draw(distributions(0, 10)),
            "energy": {"loss_per_hit": draw(st.floats(0, 0.1)), "protection": draw(probabilities),
                       "repair_per_day": draw(st.floats(0, 0.1)), "floor": (fl := draw(st.floats(0, 0.9))),
                       "threshold": draw(probabilities), "initial": draw(st.floats(fl, 1.0))},
            "civil_defense": {"harm_factor_when_active": draw(probabilities), "always_active": draw(st.booleans()),
                              "after_contact": {"enabled": draw(st.booleans()),
                                                "duration_days": draw(st.floats(0, 5))}},
        },
    }
    if draw(st.booleans()):
        doc["contacts"]["stochastic"] = {"rate_per_day": draw(st.floats(0, 0.5)), "start": draw(day)}
    return doc


def scenarios(max_horizon_days: int = 60) -> st.SearchStrategy[Scenario]:
    """Valid :class:`Scenario` objects (see :func:`scenario_documents`)."""
    return scenario_documents(max_horizon_days).map(lambda d: validate_document(d, "<generated>"))


# --------------------------------------------------------------------------- mutation fuzzing


@dataclass
class Mutant:
    """A damaged copy of a shipped scenario: the files of a scenario folder, and which to load."""

    operator: str
    main: str                       # relative path of the file to validate
    files: dict[str, bytes]         # relative path -> content

    def write(self, folder: Path) -> Path:
        """Write the files under ``folder``; returns the path of the main file."""
        for rel, data in self.files.items():
            p = folder / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        return folder / self.main


def shipped_sources() -> list[tuple[str, dict[str, bytes]]]:
    """(main file, files) for each bundled scenario, with the files its ``extends`` needs."""
    from scenario_sim.bundled import bundled_dir

    root = bundled_dir()
    fragment = (root / "calibration" / "fragment.yaml").read_bytes()
    return [
        ("minimal.yaml", {"minimal.yaml": (root / "minimal.yaml").read_bytes()}),
        ("reference.yaml", {"reference.yaml": (root / "reference.yaml").read_bytes(),
                            "calibration/fragment.yaml": fragment}),
    ]


_NUMBER = re.compile(r"(?<=[:\[,{] )-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?=\s*(?:[,\]}#]|$))", re.M)
_KEY_LINE = re.compile(r"^( *)(?:- )?[a-z_][a-z0-9_.]*:", re.M)
_FLOW = re.compile(r"[\[{][^\[\]{}\n]*[\]}]")
_REPLACEMENTS = ["'7'", "-{x}", "1.0e+300", "9" * 5000, ".nan", ".inf", "-.inf", "0", "1e7", "{x}000000",
                 "-0.5", "[{x}]", "{{v: {x}}}", "true", "~", "2025-13-45"]


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _op_delete_line(rng: random.Random, t: str) -> str:
    ls = _lines(t)
    del ls[rng.randrange(len(ls))]
    return "".join(ls)


def _op_duplicate_line(rng: random.Random, t: str) -> str:
    ls = _lines(t)
    i = rng.randrange(len(ls))
    ls.insert(i, ls[i])
    return "".join(ls)


def _op_delete_key(rng: random.Random, t: str) -> str:
    keys = list(_KEY_LINE.finditer(t))
    m = rng.choice(keys)
    indent = len(m.group(1))
    ls = _lines(t)
    i = t.count("\n", 0, m.start())
    j = i + 1
    while j < len(ls) and (not ls[j].strip() or len(ls[j]) - len(ls[j].lstrip(" ")) > indent):
        j += 1
    return "".join(ls[:i] + ls[j:])


def _op_duplicate_key(rng: random.Random, t: str) -> str:
    keys = [m for m in _KEY_LINE.finditer(t) if not t[m.start():m.end()].lstrip().startswith("- ")]
    m = rng.choice(keys)
    ls = _lines(t)
    i = t.count("\n", 0, m.start())
    return "".join([*ls[:i + 1], ls[i], *ls[i + 1:]])


def _op_number(rng: random.Random, t: str) -> str:
    nums = list(_NUMBER.finditer(t))
    m = rng.choice(nums)
    new = rng.choice(_REPLACEMENTS).format(x=m.group(0).lstrip("-"))
    return t[:m.start()] + new + t[m.end():]


def _op_swap_list_map(rng: random.Random, t: str) -> str:
    flows = list(_FLOW.finditer(t))
    m = rng.choice(flows)
    inner = m.group(0)[1:-1]
    new = "{" + inner + "}" if m.group(0)[0] == "[" else "[" + inner + "]"
    return t[:m.start()] + new + t[m.end():]


def _op_indentation(rng: random.Random, t: str) -> str:
    ls = _lines(t)
    i = rng.randrange(len(ls))
    ls[i] = (" " * rng.choice([1, 2, 3])) + ls[i] if rng.random() < 0.5 else ls[i].lstrip(" ")
    return "".join(ls)


def _op_tab(rng: random.Random, t: str) -> str:
    ls = _lines(t)
    indented = [i for i, x in enumerate(ls) if x.startswith("  ")] or [0]
    i = rng.choice(indented)
    ls[i] = "\t" + ls[i].lstrip(" ")
    return "".join(ls)


def _op_truncate(rng: random.Random, t: str) -> str:
    return t[:rng.randrange(len(t))]


def _op_unknown_path(rng: random.Random, t: str) -> str:
    paths = re.findall(r"^ +([a-z_]+(?:\.[a-z_0-9]+)+):", t, re.M)
    if paths and rng.random() < 0.6:
        p = rng.choice(paths)
        parts = p.split(".")
        k = rng.randrange(len(parts))
        parts[k] = parts[k][:-1] or "x"
        return t.replace(p + ":", ".".join(parts) + ":", 1)
    return t.rstrip("\n") + "\n  - name: fuzz_path\n    changes:\n      air_defense.readiness.no_such_field: 1\n"


def _op_unknown_include(rng: random.Random, t: str) -> str:
    what = rng.choice(["no_such_set", "fuzz_include", "baseline"])
    return t.rstrip("\n") + f"\n  - name: fuzz_include\n    include: [{what}]\n"


def _op_control(rng: random.Random, t: str) -> str:
    i = rng.randrange(len(t))
    return t[:i] + rng.choice(["\x01", "\x07", "\x1b", "\x7f", "\x00"]) + t[i:]


_TEXT_OPS: dict[str, Any] = {
    "delete_line": _op_delete_line, "duplicate_line": _op_duplicate_line, "delete_key": _op_delete_key,
    "duplicate_key": _op_duplicate_key, "number": _op_number, "swap_list_map": _op_swap_list_map,
    "indentation": _op_indentation, "tab": _op_tab, "truncate": _op_truncate, "unknown_path": _op_unknown_path,
    "unknown_include": _op_unknown_include, "control_character": _op_control,
}
OPERATORS = [*_TEXT_OPS, "bom", "invalid_utf8", "extends_cycle", "extends_missing"]
"""Every mutation operator, applied round-robin by :func:`mutants`."""


def _mutate(op: str, rng: random.Random, main: str, files: dict[str, bytes]) -> Mutant:
    files = dict(files)
    # Text operators hit the main file mostly, the extended fragment sometimes.
    target = main if len(files) == 1 or rng.random() < 0.75 else next(f for f in files if f != main)
    data = files[target]
    if op in _TEXT_OPS:
        text = data.decode("utf-8", "surrogateescape")  # a second mutation may meet invalid UTF-8
        try:
            new = _TEXT_OPS[op](rng, text)
        except (IndexError, ValueError):  # nothing for this operator to act on (an empty file, say)
            new = text[: len(text) // 2]
        files[target] = new.encode("utf-8", "surrogateescape")
    elif op == "bom":
        files[target] = b"\xef\xbb\xbf" + data
    elif op == "invalid_utf8":
        i = rng.randrange(len(data) + 1)
        files[target] = data[:i] + rng.choice([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"]) + data[i:]
    elif op == "extends_cycle":
        other = "cycle.yaml"
        files[other] = f"extends: {main}\n".encode()
        text = files[main].decode("utf-8", "surrogateescape")
        if text.find("\nextends:") >= 0:
            text = re.sub(r"\nextends: (\S+)", rf"\nextends: [\1, {other}]", text, count=1)
        else:
            text = f"extends: {other if rng.random() < 0.7 else main}\n" + text
        files[main] = text.encode("utf-8", "surrogateescape")
    elif op == "extends_missing":
        target_name = rng.choice(["nope.yaml", "../nope.yml", "refrence", "calibration/missing.yaml", "/dev/zero"])
        files[main] = f"extends: {target_name}\n".encode() + files[main]
    return Mutant(op, main, files)


def mutants(n: int, seed: int = 0) -> list[Mutant]:
    """``n`` seeded mutants of the shipped scenarios, operators round-robin (reproducible).

    Every fourth mutant gets a second mutation on top, so damage also comes in pairs.
    """
    rng = random.Random(seed)
    sources = shipped_sources()
    out = []
    for k in range(n):
        main, files = sources[k % len(sources)]
        op = OPERATORS[(k // len(sources)) % len(OPERATORS)]
        m = _mutate(op, rng, main, files)
        if k % 4 == 3:
            second = rng.choice(OPERATORS)
            m = _mutate(second, rng, main, m.files)
            m.operator = f"{op}+{second}"
        out.append(m)
    return out


LOCATED_LINE = re.compile(r"^\S.*?:\d+:\d+: \S")
"""A located problem line: ``file:line:col: ...``."""


class _Hang(BaseException):
    """Raised by the alarm: derives from BaseException so no ``except Exception`` eats it."""


@dataclass
class FuzzResult:
    """What happened to one mutant."""

    operator: str
    outcome: str                    # validated | located | unlocated | internal | traceback | hang | run_failed
    seconds: float
    rss_growth_mb: float
    detail: str = ""


def _cli(args: list[str], timeout_s: float) -> tuple[int | None, str, float]:
    """Run the CLI in this process with an alarm; (exit code or None on timeout, stderr, seconds)."""
    import contextlib
    import io
    import signal
    import time

    from scenario_sim.cli import main

    err, out = io.StringIO(), io.StringIO()

    fired: list[bool] = []

    def alarm(signum: int, frame: Any) -> None:
        fired.append(True)  # a library may wrap the exception (pydantic's serializer does): the flag decides
        raise _Hang()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    t0 = time.perf_counter()
    code: int | None
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except _Hang:
        code = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return (None if fired else code), err.getvalue(), time.perf_counter() - t0


def check_mutant(m: Mutant, folder: Path, timeout_s: float = 20.0, run_timeout_s: float = 60.0,
                 rss_budget_mb: float = 1024.0) -> FuzzResult:
    """Validate a mutant through the CLI and, if it validates, run it with ``-n 2``.

    Every exit-2 line must be located (file:line:col); exit 1 or an "internal error" is a
    bug; a validated mutant must finish ``run -n 2`` within ``run_timeout_s`` and grow this
    process's peak RSS by less than ``rss_budget_mb``.  Call it in a child process under
    ``resource.setrlimit`` (see ``tests/test_fuzz.py``).
    """
    import resource

    folder.mkdir(parents=True, exist_ok=True)
    path = m.write(folder)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    code, err, secs = _cli(["validate", str(path)], timeout_s)

    def result(outcome: str, detail: str = "") -> FuzzResult:
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss0
        return FuzzResult(m.operator, outcome, secs, grown, detail[:500])

    if code is None:
        return result("hang", f"validate took over {timeout_s} s")
    if "Traceback" in err:
        return result("traceback", err)
    if "internal error" in err or code not in (0, 2):
        return result("internal", err)
    if code == 2:
        bad = [x for x in err.strip().splitlines() if not LOCATED_LINE.match(x)]
        return result("unlocated", "\n".join(bad)) if bad or not err.strip() else result("located")
    code, err, run_secs = _cli(["run", str(path), "-n", "2", "--executor", "inprocess", "--out",
                                str(folder / "results"), "--format", "csv"], run_timeout_s)
    secs += run_secs
    if code is None:
        return result("hang", f"run -n 2 took over {run_timeout_s} s")
    out = result("validated" if code == 0 else "run_failed", err if code else "")
    if out.rss_growth_mb > rss_budget_mb:
        out.outcome, out.detail = "run_failed", f"peak RSS grew by {out.rss_growth_mb:.0f} MB"
    return out


def fuzz_main(n: int, seed: int, folder: str, timeout_s: float = 20.0, run_timeout_s: float = 60.0) -> None:
    """Check ``n`` mutants and print one JSON record per mutant (for a resource-limited child)."""
    import dataclasses
    import json
    import sys

    for k, m in enumerate(mutants(n, seed)):
        r = check_mutant(m, Path(folder) / f"m{k:05d}", timeout_s, run_timeout_s)
        print(json.dumps(dataclasses.asdict(r)), flush=True)
        sys.stdout.flush()
