"""``scenario-sim backtest``: does the scenario reproduce the records of a window it is run on?

The Python entry point is::

    from scenario_sim.backtest import BacktestOptions, backtest, write_backtest
    result = backtest("scenarios/reference.yaml", "missile_attacks_daily.csv",
                      BacktestOptions(since=date(2025, 1, 1), until=date(2025, 6, 30), replications=500))
    result.summary["coverage"]          # {class: {"inside": k, "months": m}}
    folder = write_backtest(result, "results")   # results/backtest-<stamp>-<id>/

Steps: read the records (calibrate's reader and row rules), check the windows against
their span, build the window scenario (:mod:`scenario_sim.backtest.build`; with a time
split, from calibrate's fragment of the training window), simulate replications with a
night recorder, and score the test nights (:mod:`scenario_sim.backtest.scores`).  The
targets of issue 11 decide ``ok`` and the verdict:

* coverage: in sample (a plain backtest) at least 5/6 of the months per class inside the
  90% band; out of sample (a time split) at least 4/6;
* out of sample, no more than 1/3 of the PIT values in the outer deciles;
* the simulated leak fraction inside the recorded 95% interval in every wave-size bin with
  at least ``min_leak_nights`` recorded nights.

The monthly targets are stated for six months (5/6, 4/6), so they are judged only on a
window with at least ``TARGET_MONTHS`` calendar months of which at least half the nights are
scored; a month with fewer scored nights than it has days is *partial* and marked so.  A
shorter window gets ``status: "not judged"`` ("too short to judge the monthly targets") and
``ok: false``: a nine-day window says nothing about a six-month target.  Recorded
destroyed/defeated shares over the window outside the simulated 90% band, and counts of
large nights outside their band, are *concerns*: named in the verdict, and any concern makes
``ok`` false (``status: "concerns"``) even when the monthly targets are met.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenario_sim import __version__
from scenario_sim.backtest import scores
from scenario_sim.backtest.build import window_scenario
from scenario_sim.backtest.calwindow import calibration_window
from scenario_sim.backtest.nights import Nights, observed_nights, stack
from scenario_sim.backtest.simulate import simulate_nights
from scenario_sim.backtest.summary import FORMAT, FORMAT_VERSION
from scenario_sim.backtest.windows import Windows, resolve_windows
from scenario_sim.calibrate.command import CalibrationOptions, calibrate_records, fragment_document, usable_rows
from scenario_sim.calibrate.contacts import read_contacts
from scenario_sim.calibrate.records import RecordSet, read_records
from scenario_sim.errors import DataError, UserError
from scenario_sim.experiment.executors import Executor
from scenario_sim.experiment.store import scenario_yaml
from scenario_sim.lang.loader import dump_scenario, load_scenario
from scenario_sim.lang.schema import Scenario
from scenario_sim.text import number_or_na

Row = dict[str, Any]
IN_SAMPLE_SHARE = 5 / 6
OUT_OF_SAMPLE_SHARE = 4 / 6
PIT_OUTER_MAX = 1 / 3
TARGET_MONTHS = 6
"""The monthly coverage targets are stated for six months; a shorter window is not judged."""


@dataclass(frozen=True)
class BacktestOptions:
    """Every choice of a backtest; recorded in config.json."""

    since: dt.date | None = None
    until: dt.date | None = None
    train: str | None = None
    test: str | None = None
    set_name: str = "baseline"
    replications: int = 500
    seed: int | None = None
    contacts: str | None = None
    leak_bins: tuple[int, ...] = (1, 100, 200, 300, 400, 500)
    min_leak_nights: int = 20
    thresholds: tuple[int, ...] = (300, 500)
    quantiles: tuple[float, ...] = (0.5, 0.9, 0.99)
    calibration: CalibrationOptions = field(default_factory=CalibrationOptions)
    self_check: bool = False
    """Also score the model against its own replications (:mod:`scenario_sim.backtest.selfcheck`)."""

    def __post_init__(self) -> None:
        if self.replications < 2:
            raise UserError(f"-n: a backtest needs at least 2 replications for a band (got {self.replications})")
        b = self.leak_bins
        if not b or b[0] < 1 or any(y <= x for x, y in itertools.pairwise(b)):
            raise UserError(f"--leak-bins: expected increasing whole numbers from 1 up (got {','.join(map(str, b))})")
        if not self.thresholds or min(self.thresholds) < 1:
            raise UserError("--night-thresholds: expected whole numbers >= 1")
        if self.contacts and not self.train:
            raise UserError("--contacts: used only by a time split (--train/--test), for the training calibration's "
                            "event study; a plain backtest takes the scenario's contacts")
        if self.min_leak_nights < 2:
            raise UserError(f"--min-leak-nights: expected at least 2 (got {self.min_leak_nights})")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["since"] = str(self.since) if self.since else None
        d["until"] = str(self.until) if self.until else None
        d["calibration"] = self.calibration.to_json()
        return d


@dataclass
class Backtest:
    """A scored backtest: ``summary`` (backtest.json), the score tables, and what was run."""

    summary: dict[str, Any]
    tables: dict[str, list[Row]]
    pit: dict[str, Any]
    scenario: Scenario
    config: dict[str, Any]
    simulated: Nights | None = None
    """The scored window's simulated nights (R, D, C); not written to the folder."""


def _read(records: str | Path | RecordSet, o: BacktestOptions) -> tuple[RecordSet, Any]:
    rs = records if isinstance(records, RecordSet) else read_records(records)
    rows = usable_rows(rs, o.calibration)
    if rows.empty:
        raise DataError(f"{rs.path}: no usable rows (national reports of a known class with a launch count)")
    return rs, rows


def _fragment(rs: RecordSet, win: Windows, o: BacktestOptions) -> dict[str, Any] | None:
    """The training window's fragment, through calibrate's own code (None for a plain backtest)."""
    if win.train is None:
        return None
    copt = CalibrationOptions(**{**asdict(o.calibration), "since": win.train[0], "until": win.train[1]})
    contacts = read_contacts(o.contacts) if o.contacts else None
    cal = calibrate_records(rs, contacts, copt)
    return fragment_document(cal)


def _classes(scen: Scenario, rows: Any) -> list[str]:
    present = set(rows["cls"].unique())
    classes = [c for c in scen.class_names if c in present]
    if not classes:
        raise UserError(f"{scen.name}: none of the scenario's munition classes ({', '.join(scen.class_names)}) is in "
                        f"the records (classes there: {', '.join(sorted(present))})")
    return classes


def _subset(n: Nights, idx: list[int], classes: list[str]) -> Nights:
    return Nights(n.start, classes, {k: v[..., idx] for k, v in n.counts.items()})


def month_nights(start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """Per calendar month of ``start .. end``: scored nights, days in the month, partial or not."""
    out: list[dict[str, Any]] = []
    d = start
    while d <= end:
        days = calendar.monthrange(d.year, d.month)[1]
        last = min(end, dt.date(d.year, d.month, days))
        n = (last - d).days + 1
        out.append({"month": f"{d.year}-{d.month:02d}", "nights": n, "days": days, "partial": n < days})
        d = last + dt.timedelta(days=1)
    return out


def _concerns(tables: dict[str, list[Row]]) -> list[str]:
    """Window-level shares and large-night counts outside the simulated 90% band."""
    out = [f"{r['class']} {r['rate']} share recorded {_fmt(r['observed'])}, outside the simulated 90% band "
           f"{_fmt(r['sim_q05'])}-{_fmt(r['sim_q95'])}"
           for r in tables["rates"] if r["month"] == "all" and r["n_observed"] > 0 and not r["inside"]]
    out += [f"{r['class']} nights with {r['statistic'][10:]}+ launches recorded {r['observed']:.0f}, outside the "
            f"simulated 90% band {r['sim_q05']:.0f}-{r['sim_q95']:.0f}"
            for r in tables["wave_sizes"] if r["statistic"].startswith("nights_ge_") and not r["inside"]]
    return out


def targets_of(tables: dict[str, list[Row]], pit: dict[str, Any], out_of_sample: bool, classes: list[str],
            months: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue-11 targets (coverage per class, PIT, leak bins), the concerns and the status, from
    the score tables (``coverage`` and ``leak_bins``; ``rates`` and ``wave_sizes`` for the concerns)."""
    share = OUT_OF_SAMPLE_SHARE if out_of_sample else IN_SAMPLE_SHARE
    cov: dict[str, dict[str, int]] = {}
    for c in classes:
        rs = [r for r in tables["coverage"] if r["class"] == c]
        cov[c] = {"inside": sum(r["inside"] for r in rs), "months": len(rs)}
    need = {c: math.ceil(share * v["months"] - 1e-9) for c, v in cov.items()}
    cov_ok = all(cov[c]["inside"] >= need[c] for c in classes)
    leak = [r for r in tables["leak_bins"] if r["applies"]]
    leak_ok = all(r["inside"] for r in leak)
    pit_ok = (not out_of_sample) or (pit["n"] > 0 and pit["outer_share"] <= PIT_OUTER_MAX)
    judged_months = sum(2 * m["nights"] >= m["days"] for m in months)
    judged = judged_months >= TARGET_MONTHS
    concerns = _concerns(tables)
    met = cov_ok and leak_ok and pit_ok
    status = ("not judged" if not judged else "not met" if not met else "concerns" if concerns else "met")
    return {"coverage": cov, "coverage_needed": need, "coverage_ok": cov_ok, "leak_bins_checked": len(leak),
            "leak_bins_inside": sum(r["inside"] for r in leak), "leak_ok": leak_ok, "pit_ok": pit_ok,
            "pit_checked": out_of_sample, "months": months, "target_months": TARGET_MONTHS,
            "judged": judged, "concerns": concerns, "status": status, "ok": status == "met"}


MAX_GAP_NIGHTS = 7
"""A run of more nights than this without any record, overlapping the scored window, gets a
warning (the full records have at most 5 in a row from mid-2023 on)."""


def night_gaps(recorded: Iterable[dt.date], start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date, int]]:
    """Every run of nights without a record that overlaps ``start .. end``, measured whole:
    ``(first night, last night, nights of it inside the window)``, longest first.

    ``recorded`` are the nights that have a record anywhere in the file.  A run is bounded by
    the records on either side of it, not by the window: a window that starts (or ends) inside a
    long gap sees only part of it, and that part alone can look like a quiet week."""
    days = sorted({d for d in recorded})
    before = [d for d in days if d < start]
    inside = [d for d in days if start <= d <= end]
    after = [d for d in days if d > end]
    one = dt.timedelta(days=1)
    # the recorded nights that bound runs overlapping the window (None: the records' own edge)
    bounds: list[dt.date | None] = [before[-1] if before else None, *inside, after[0] if after else None]
    runs = []
    for a, b in itertools.pairwise(bounds):
        lo = a + one if a is not None else start
        hi = b - one if b is not None else end
        if hi < lo:
            continue
        n_in = (min(hi, end) - max(lo, start)).days + 1
        if n_in > 0:
            runs.append((lo, hi, n_in))
    return sorted(runs, key=lambda r: ((r[1] - r[0]).days, r[2]), reverse=True)


def _gaps(recorded: Iterable[dt.date], start: dt.date, end: dt.date) -> list[str]:
    """A warning when a long run of nights with no record at all overlaps the scored window: its
    nights in the window count as nights without launches, which a gap in the records is not."""
    long = [r for r in night_gaps(recorded, start, end) if (r[1] - r[0]).days + 1 > MAX_GAP_NIGHTS]
    if not long:
        return []
    lo, hi, n_in = long[0]
    total = (hi - lo).days + 1
    where = ("in the scored window" if n_in == total else
             f"from {lo} to {hi}, {n_in} of them in the scored window {start}..{end}")
    others = f" (the longest of {len(long)} such runs)" if len(long) > 1 else ""
    return [f"the records have {total} consecutive nights without any record {where}{others}; in the window "
            "they count as nights without launches (is the file an excerpt?)"]


def _rows_read(rows: pd.DataFrame, win: Windows) -> pd.Series:  # type: ignore[type-arg]
    """The file rows a backtest reads: the training window's (calibrate) and the scored window's."""
    keep = np.zeros(len(rows), dtype=bool)
    for lo, hi in [w for w in (win.train, win.test) if w is not None]:
        keep |= ((rows["date"] >= pd.Timestamp(lo)) & (rows["date"] <= pd.Timestamp(hi))).to_numpy()
    return rows["row"][keep]


def _fmt(x: float, nd: int = 3) -> str:
    return number_or_na(x, f".{nd}g")


def _verdict_targets(summary: dict[str, Any]) -> list[str]:
    t = summary["targets"]
    where = (f"trained on {summary['train'][0]}..{summary['train'][1]}, tested on " if summary["train"] else "on ")
    cov = ", ".join(f"{c} {v['inside']}/{v['months']}" for c, v in t["coverage"].items())
    need = "4/6" if summary["train"] else "5/6"
    months = t["months"]
    part = [f"{m['month']} partial, {m['nights']} of {m['days']} nights" for m in months if m["partial"]]
    p = summary["pit"]
    judged = t["judged"]
    pit_note = (f"target at most 1/3: {'met' if t['pit_ok'] else 'NOT met'}" if t["pit_checked"] and judged
                else "a U shape means bands too narrow")
    # A window too short to judge says so once, at the verdict's end (_verdict_end).
    notes = ([f"target at least {need} of the months per class: {'met' if t['coverage_ok'] else 'NOT met'}"]
             if judged else []) + part
    cov_note = f" ({'; '.join(notes)})" if notes else ""
    return [f"{_kind(summary)} ({summary['scenario']}, set {summary['set']}, {where}{summary['test'][0]}.."
            f"{summary['test'][1]}, {summary['replications']} replications):",
            f"monthly launches inside the simulated 90% band: {cov}{cov_note}.",
            f"PIT: {p['outer_deciles']} of {p['n']} class-months in the outer deciles "
            f"({_fmt(100 * p['outer_share'])}%; {pit_note})."]


def _verdict_leak(summary: dict[str, Any], tables: dict[str, list[Row]]) -> str:
    leak = [r for r in tables["leak_bins"] if r["applies"]]
    if not leak:
        return (f"No wave-size bin has {summary['min_leak_nights']} recorded nights: the leak target is not "
                "checked.")
    out = [f"{r['class']} {r['bin']} simulated {_fmt(r['sim'])} vs recorded {_fmt(r['observed_lo'])}-"
           f"{_fmt(r['observed_hi'])}" for r in leak if not r["inside"]]
    return (f"Leak fraction inside the recorded 95% interval in {summary['targets']['leak_bins_inside']} of "
            f"{len(leak)} wave-size bins with at least {summary['min_leak_nights']} nights"
            + (f" (outside: {'; '.join(out)})." if out else "."))


def _verdict_levels(tables: dict[str, list[Row]]) -> list[str]:
    parts = []
    rates = [r for r in tables["rates"] if r["month"] == "all" and r["rate"] == "defeated"]
    if rates:
        parts.append("Defeated share over the window, recorded vs simulated median: " + ", ".join(
            f"{r['class']} {_fmt(r['observed'], 2)} vs {_fmt(r['sim_median'], 2)}" for r in rates) + ".")
    big = [r for r in tables["wave_sizes"] if r["statistic"].startswith("nights_ge_") and r["observed"] > 0]
    if big:
        parts.append("Large nights: " + ", ".join(
            f"{r['class']} {r['statistic'][10:]}+ recorded {r['observed']:.0f}, simulated "
            f"{r['sim_q05']:.0f}-{r['sim_q95']:.0f}" for r in big) + ".")
    return parts


def _kind(summary: dict[str, Any]) -> str:
    """"Out of sample", "In sample" (inside the scenario's calibration window) or "Plain backtest"."""
    if summary["train"]:
        return "Out of sample"
    cal = summary.get("calibration_window")
    if summary.get("in_sample"):
        return "In sample"
    if cal:
        return f"Plain backtest (the scenario was calibrated on {cal[0]}..{cal[1]})"
    return "Plain backtest (the scenario's calibration window is not recorded)"


def _verdict_end(t: dict[str, Any]) -> list[str]:
    months = t["months"]
    if not t["judged"]:
        n_part = sum(m["partial"] for m in months)
        what = f"{len(months)} month(s)" + (f", {n_part} partial" if n_part else "")
        end = [f"Too short to judge the monthly targets: {what} (the targets are stated for "
               f"{t['target_months']} months)."]
    elif t["status"] == "not met":
        end = ["Not every applicable target is met."]
    else:
        end = ["All applicable targets met" + (", but with concerns." if t["concerns"] else ".")]
    if t["concerns"]:
        end.append("Concerns: " + "; ".join(t["concerns"]) + ".")
    return end


def verdict(summary: dict[str, Any], tables: dict[str, list[Row]]) -> str:
    """The one-paragraph verdict (plain text), from the summary and the tables."""
    parts = [*_verdict_targets(summary), _verdict_leak(summary, tables), *_verdict_levels(tables)]
    parts += _verdict_end(summary["targets"])
    if summary.get("self_check"):
        from scenario_sim.backtest.selfcheck import verdict_sentence

        parts.append(verdict_sentence(summary["self_check"]))
    parts += [f"Warning: {w}." for w in summary.get("warnings", [])]
    return " ".join(parts)


def monthly_scores(om: np.ndarray[Any, Any], sm: np.ndarray[Any, Any], labels: list[str], classes: list[str],
                   seed: int) -> tuple[list[Row], dict[str, Any]]:
    """The coverage table and the PIT histogram of recorded monthly launches ``om`` (M, C)
    against simulated ones ``sm`` (R, M, C); ``seed`` fixes the PIT's uniforms."""
    u = np.asarray(np.random.default_rng(seed).random(om.shape))
    cov = scores.coverage_table(om, sm, labels, classes, u)
    return cov, scores.pit_histogram([r["pit"] for r in cov])


def leak_bins(obs: Nights, sim: Nights, o: BacktestOptions) -> list[Row]:
    """The leak fraction by wave-size bin of recorded nights ``obs`` against simulated ``sim``."""
    return scores.leak_bin_table(obs.counts["known"], obs.leaked, sim.counts["launched"], sim.leaked, obs.classes,
                                 o.leak_bins, o.min_leak_nights)


def score_nights(obs: Nights, sim: Nights, o: BacktestOptions, seed: int,
                 ) -> tuple[dict[str, list[Row]], dict[str, Any]]:
    """Every score table of recorded nights ``obs`` (D, C) against simulated ``sim`` (R, D, C),
    and the PIT histogram; ``seed`` fixes the PIT's uniforms.  Use it to score model variants
    on the same nights without writing folders."""
    month, labels = obs.month_index()
    M = len(labels)
    classes = obs.classes
    cov, pit = monthly_scores(scores.monthly(obs.counts["launched"], month, M),
                              scores.monthly(sim.counts["launched"], month, M), labels, classes, seed)

    def by_month(n: Nights) -> dict[str, Any]:
        return {"known": scores.monthly(n.counts["known"], month, M),
                "destroyed": scores.monthly(n.counts["destroyed"], month, M),
                "defeated": scores.monthly(n.defeated, month, M)}

    tables = {
        "coverage": cov,
        "rates": scores.rate_table(by_month(obs), by_month(sim), labels, classes),
        "wave_sizes": scores.wave_size_table(obs.counts["launched"], sim.counts["launched"], classes, o.quantiles,
                                             o.thresholds),
        "leak_bins": leak_bins(obs, sim, o),
        "cooccurrence": scores.cooccurrence_table(obs.counts["launched"], sim.counts["launched"], classes),
    }
    return tables, pit


def backtest(scenario: str | Path, records: str | Path | RecordSet, options: BacktestOptions | None = None,
             executor: Executor | None = None, progress: Callable[[int, int], None] | None = None) -> Backtest:
    """Run and score a backtest of ``scenario`` against ``records`` (see the module notes)."""
    o = options or BacktestOptions()
    t0 = time.perf_counter()
    rs, rows = _read(records, o)
    first, last = rows["date"].min().date(), rows["date"].max().date()
    win = resolve_windows(first, last, o.since, o.until, o.train, o.test)
    window_scenario(scenario, o.set_name, *win.simulate)  # scenario and set problems before calibrating
    fragment = _fragment(rs, win, o)
    scen = window_scenario(scenario, o.set_name, *win.simulate, fragment)
    classes = _classes(scen, rows)
    unscored = [c for c in scen.class_names if c not in classes]
    seed = scen.seed if o.seed is None else o.seed
    t_sim = time.perf_counter()
    parts = simulate_nights(scen, o.replications, seed, o.calibration.ew_layer, executor, progress)
    t_sim = time.perf_counter() - t_sim
    idx = [scen.class_names.index(c) for c in classes]
    days = (win.test[1] - win.test[0]).days + 1
    sim = _subset(stack(parts, win.simulate[0], scen.class_names), idx, classes).window(win.test[0], days)
    obs = observed_nights(rows, classes, *win.test)
    tables, pit = score_nights(obs, sim, o, seed)
    out_of_sample = win.train is not None
    targets = targets_of(tables, pit, out_of_sample, classes, month_nights(*win.test))
    scored = rows[rows["cls"].isin(classes) & (rows["launched"] > 0)]
    warnings = (list(rs.report.warnings) + rs.clamp_warnings(_rows_read(rows, win))
                + _gaps(scored["date"].dt.date, *win.test) + ([win.clipped] if win.clipped else []))
    if unscored:
        warnings.append(f"the records have no usable row of class(es) {', '.join(unscored)}: simulated, not scored")
    cal = calibration_window(scenario)
    base = load_scenario(scenario, validate_sets=False).baseline
    scenario_sha = hashlib.sha256(scenario_yaml(dump_scenario(base)).encode()).hexdigest()
    in_sample = (win.train is None and cal is not None and cal[0] <= win.test[0] and win.test[1] <= cal[1])
    summary: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "tool": f"scenario-sim {__version__}",
        "scenario": scen.name, "scenario_file": str(scenario), "set": o.set_name,
        "scenario_sha256": scenario_sha,
        "train": [str(d) for d in win.train] if win.train else None, "test": [str(d) for d in win.test],
        "calibration_window": [str(d) for d in cal] if cal else None, "in_sample": in_sample,
        "kind": "out of sample" if win.train else "in sample" if in_sample else "plain",
        "simulated": [str(d) for d in win.simulate], "replications": o.replications, "seed": seed,
        "records_file": Path(rs.path).name, "records_sha256": rs.sha256, "classes": classes,
        "ew_layer": o.calibration.ew_layer, "min_leak_nights": o.min_leak_nights, "clipped": win.clipped,
        "warnings": warnings, "coverage": targets["coverage"], "pit": pit, "targets": targets,
        "status": targets["status"], "ok": targets["ok"],
        "seconds": {"simulation": round(t_sim, 2), "total": round(time.perf_counter() - t0, 2)},
        "created": dt.datetime.now().isoformat(timespec="seconds"),
    }
    if o.self_check:
        from scenario_sim.backtest.selfcheck import self_check

        summary["self_check"] = self_check(sim, summary, o, seed)
    summary["verdict"] = verdict(summary, tables)
    config = {"scenario": str(scenario), "records": str(rs.path), "options": o.to_json(),
              "fragment": fragment}
    return Backtest(summary, tables, pit, scen, config, sim)
