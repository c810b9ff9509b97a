"""``scenario-sim calibrate``: scenario parameters and the contact event study from public records.

The Python entry point is::

    cal = calibrate_records("data/attacks_excerpt.csv", "data/leader_contacts.csv",
                            CalibrationOptions(since=date(2025, 2, 8), until=date(2025, 2, 16)))
    cal["observed"]["shahed"]["destroyed_rate"]     # everything calibration.json holds
    write_fragment(cal, "fragment.yaml")            # the scenario fragment for ``extends``
    write_outputs(cal, "calibration/")              # calibration.json, fragment.yaml, plots

``records`` may be a path or a :class:`RecordSet` already read, so a caller that calibrates
several windows of one file (a time-split backtest) reads it once.  Every number a scenario
takes from the records is written into the fragment, so a scenario that extends it never
retypes one: wave probabilities and sizes, production and its growth, the surge
probability range, the unscheduled-contact rate, and the electronic-warfare and gun-layer
kill probabilities for drones (see :func:`layer_kill_probabilities`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
import yaml

from scenario_sim import __version__
from scenario_sim.calibrate.classify import Mapping, load_mapping
from scenario_sim.calibrate.contacts import ContactRow, read_contacts
from scenario_sim.calibrate.estimate import (
    co_occurrence,
    daily_series,
    fit_density,
    fit_participation_loadings,
    fit_truncated_negbin,
    growth,
    growth_regimes,
    hits_per_leaker,
    periods,
    rates,
    wilson,
)
from scenario_sim.calibrate.eventstudy import EventStudyOptions, event_study
from scenario_sim.calibrate.records import RecordSet, read_records
from scenario_sim.calibrate.regime import REGIME_LAWS, law_spec
from scenario_sim.errors import DataError, UserError
from scenario_sim.experiment.store import atomic_write_text
from scenario_sim.text import number_or_na

ATTRIBUTION = ("Ukrainian Air Force daily reports, compiled by Petro Ivaniuk, Kaggle dataset "
               "'Massive Missile Attacks on Ukraine'")


class _Date(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    name = "DATE"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"expected YYYY-MM-DD (got {value!r})", param, ctx)


@dataclass(frozen=True)
class CalibrationOptions:
    """Every choice ``calibrate`` makes; recorded in calibration.json's provenance.

    ``defeated`` says what counts as defeated in the headline ``interception_rate``:
    ``destroyed``, or ``destroyed+not_reach_goal`` (drones lost to electronic warfare were
    reported separately for part of the record).  Both rates are always in the output.
    ``ew_layer`` and ``gun_layer`` name the scenario's electronic-warfare and gun layers whose
    kill probabilities against ``drone_classes`` the fragment sets (None: leave them out).
    """

    since: dt.date | None = None
    until: dt.date | None = None
    period: str = "quarter"
    sources: str = "national"
    national_channels: tuple[str, ...] = ("kpszsu",)
    dating: str = "launch"
    mapping: str | Path | None = None
    window: int = 3
    pre_window: int = 28
    event_classes: tuple[str, ...] | None = None
    status: str = "confirmed"
    n_placebo: int = 10000
    n_boot: int = 10000
    seed: int = 0
    surge_multiplier: float = 2.5
    defeated: str = "destroyed"
    min_dispersion: float = 0.2
    max_dispersion: float = 1000.0
    max_interval_ratio: float = 100.0
    ew_layer: str | None = "electronic_warfare"
    gun_layer: str | None = "mobile_fire_groups"
    drone_classes: tuple[str, ...] = ("shahed",)
    regime_law: str = "auto"

    def __post_init__(self) -> None:
        choices = {"period": ("month", "quarter", "half"), "sources": ("national", "all"),
                   "dating": ("launch", "report"), "status": ("confirmed", "all"),
                   "defeated": ("destroyed", "destroyed+not_reach_goal"), "regime_law": ("auto", *REGIME_LAWS)}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise UserError(f"{key}: expected one of {', '.join(allowed)} (got {getattr(self, key)!r})")
        if self.since and self.until and self.until < self.since:
            raise UserError(f"--until ({self.until}) is before --since ({self.since})")
        if not self.national_channels or not all(c.strip() for c in self.national_channels):
            raise UserError("--national-channels: expected a comma-separated list of channel names")
        if not 0 < self.min_dispersion < self.max_dispersion:
            raise UserError("--min-dispersion: expected 0 < min-dispersion < max-dispersion")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("since", "until"):
            d[k] = str(d[k]) if d[k] else None
        d["mapping"] = str(self.mapping) if self.mapping else "shipped classes.yaml"
        d["national_channels"] = list(self.national_channels)
        d["event_classes"] = list(self.event_classes) if self.event_classes else None
        d["drone_classes"] = list(self.drone_classes)
        return d


@dataclass
class Calibration:
    """What ``calibrate`` computed: ``data`` (JSON-ready, as written to calibration.json),
    the daily launches per class over the window, and the contact dates."""

    data: dict[str, Any]
    daily: pd.DataFrame
    contacts: list[pd.Timestamp] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def warnings(self) -> list[str]:
        return list(self.data.get("warnings", []))


# --------------------------------------------------------------------------- rows


def _usable(rs: RecordSet, mp: Mapping, o: CalibrationOptions, unusable: Counter[str],
            unknown: Counter[str]) -> pd.DataFrame:
    """Rows of a single kept class from the chosen sources, with their date (no date filter yet)."""
    df = rs.frame
    if o.sources == "national":
        wanted = {c.strip().lower() for c in o.national_channels}
        national = df["channel"].astype(object).isin(wanted).to_numpy()
        n_other = int((~national).sum())
        if n_other:
            unusable[f"regional or other source (kept only {', '.join(o.national_channels)}; "
                     "--sources all keeps it)"] += n_other
        df = df[national]
    models = df["model"].astype(object)
    classes: dict[str, str | None] = {}
    for name, n in models.value_counts(sort=False).items():
        cls, problem = mp.classify(str(name))
        if problem == "unknown":
            unknown[str(name)] += int(n)
            unusable["unknown model name (listed under unknown_models)"] += int(n)
        elif problem:
            unusable[f"combines classes ({problem[6:]})"] += int(n)
        elif cls in mp.exclude:
            unusable[f"class '{cls}' excluded"] += int(n)
        else:
            classes[str(name)] = cls
            continue
        classes[str(name)] = None
    cls_col = models.map(classes)
    keep = cls_col.notna().to_numpy()
    when = (df["start"] if o.dating == "launch" else df["end"]).astype("datetime64[ns]").dt.floor("D")
    return pd.DataFrame({"row": df["row"].to_numpy()[keep], "date": when[keep].to_numpy(),
                         "cls": cls_col[keep].to_numpy(),
                         # wide types for sums (the record set stores narrow ones)
                         "launched": df["launched"].to_numpy(dtype=np.int64)[keep],
                         "destroyed": df["destroyed"].to_numpy(dtype=np.float64)[keep],
                         "not_reach_goal": df["not_reach_goal"].to_numpy(dtype=np.float64)[keep],
                         "hits": df["num_hit_location"].to_numpy(dtype=np.float64)[keep]})


def usable_rows(rs: RecordSet, options: CalibrationOptions | None = None) -> pd.DataFrame:
    """The rows calibrate uses (chosen sources, kept classes, dated as ``options`` say), all dates:
    columns ``row`` (the data row in the file), ``date``, ``cls``, ``launched``, ``destroyed``,
    ``not_reach_goal`` (``scenario-sim backtest`` scores exactly these)."""
    return _usable(rs, load_mapping((options or CalibrationOptions()).mapping), options or CalibrationOptions(),
                   Counter(), Counter())


def _window(rows: pd.DataFrame, o: CalibrationOptions) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The estimation window: --since/--until, kept inside the span of the records.

    Days before the first record or after the last one are not days without launches, so
    the window never extends past the records.
    """
    first, last = rows["date"].min(), rows["date"].max()
    start = max(first, pd.Timestamp(o.since)) if o.since else first
    end = min(last, pd.Timestamp(o.until)) if o.until else last
    return start, end


# --------------------------------------------------------------------------- estimates


def _observed(df: pd.DataFrame, classes: list[str], defeated: str) -> dict[str, Any]:
    observed = {c: rates(df[df["cls"] == c]) for c in classes}
    key = "destroyed_rate" if defeated == "destroyed" else "defeated_rate"
    for ob in observed.values():
        ob["interception_rate"] = ob[key]
        ob["interception_rate_ci"] = ob[f"{key}_ci"]
        ob["interception_counts"] = defeated
    return observed


def _waves(daily: pd.DataFrame, classes: list[str], o: CalibrationOptions) -> dict[str, Any]:
    waves: dict[str, Any] = {}
    for c in classes:
        x = daily[c].to_numpy()
        k_days = int((x > 0).sum())
        fit = fit_truncated_negbin(x, (o.min_dispersion, o.max_dispersion), o.max_interval_ratio)
        waves[c] = {"days": int(x.size), "days_with_attack": k_days, "share_of_days": float((x > 0).mean()),
                    "share_ci": list(wilson(k_days, int(x.size))), "negbin_positive_days": fit,
                    "growth": growth(daily[c])}
    return waves


def _drone_nights(df: pd.DataFrame, c: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """Per night (with ``destroyed`` reported in every row): launched, not_reach_goal, destroyed."""
    rows = df[df["cls"] == c]
    g = rows.assign(nrg=rows["not_reach_goal"].fillna(0.0), known=rows["destroyed"].notna()).groupby("date").agg(
        n=("launched", "sum"), nrg=("nrg", "sum"), d=("destroyed", "sum"), known=("known", "all"))
    g = g[g["known"] & (g["n"] > 0)]
    n = g["n"].to_numpy(dtype=np.float64)
    nrg = np.minimum(g["nrg"].to_numpy(dtype=np.float64), n)
    return n, nrg, np.minimum(g["d"].to_numpy(dtype=np.float64), n - nrg)


def _layer(name: str, fits: dict[str, dict[str, Any]], rule: str) -> dict[str, Any]:
    """A layer's kill probability at the median night, and its wave-size dependence."""
    pk = {c: 1.0 - f["survival_at_reference"] for c, f in fits.items()}
    out: dict[str, Any] = {"layer": name, "pk": pk, "rule": rule, "density": fits}
    return out


def _combined(daily: pd.DataFrame, classes: list[str], waves: dict[str, Any], o: CalibrationOptions) -> dict[str, Any]:
    """Same-night dependence between classes: the co-occurrence table and the participation
    correlation of a one-factor probit, with each class's participation probability and
    zero-size mass as the wave fits give them (so the model's shares are unchanged)."""
    p, q = [], []
    for c in classes:
        w = waves[c]
        fit = w["negbin_positive_days"]
        used = fit.get("fallback", fit)
        q0 = float(used.get("p_zero", math.nan))
        if not math.isfinite(q0):
            m = float(fit.get("positive_day_mean", math.nan))
            q0 = math.exp(-m) if math.isfinite(m) else 0.0
        q.append(q0)
        p.append(min(1.0, w["share_of_days"] / (1 - q0)) if q0 < 1 else w["share_of_days"])
    x = (daily[classes].to_numpy() > 0)
    fit = fit_participation_loadings(x, np.array(p), np.array(q), o.seed)
    return {"nights": fit["nights"], "loading": dict(zip(classes, fit["loading"], strict=True)),
            "loading_ci": dict(zip(classes, fit["loading_ci"], strict=True)),
            "rule": "one-factor probit on launches > 0, sizes' zero mass included; ML, bootstrap over nights",
            "pairs": co_occurrence(daily[classes])}


def layer_kill_probabilities(observed: dict[str, Any], o: CalibrationOptions,
                             df: pd.DataFrame | None = None) -> dict[str, Any]:
    """Per-layer kill probabilities against drones that the records determine.

    The reports split defeated drones into *destroyed* (shot down) and *not_reach_goal*
    (lost to electronic warfare).  With an EW layer engaging every drone first and a gun
    layer the rest:

    * EW: survival = 1 - not_reach_goal / launched;
    * gun: survival = 1 - destroyed / (launched - not_reach_goal), of those EW did not stop.

    Pooled over the window these give the overall shares.  With the nightly rows (``df``),
    each layer's survival is fitted as a power of the night's size,
    ``s(n) = s0 * (n / n_ref)^b`` (:func:`~scenario_sim.calibrate.estimate.fit_density`), and
    the layer's pk is ``1 - s0`` at the median night: the records show the leak fraction
    does not rise with wave size (issue 11), so the layers are not saturated by numbers and
    their pk may depend on the wave's size.  The fragment writes ``b`` as the layer's
    ``density.survival_exponent``.
    """
    ew: dict[str, dict[str, Any]] = {}
    gun: dict[str, dict[str, Any]] = {}
    for c in o.drone_classes:
        ob = observed.get(c)
        if not ob or not ob["launched_with_destroyed"]:
            continue
        p_ew = ob["defeated_rate"] - ob["destroyed_rate"]
        pooled_gun = ob["destroyed_rate"] / (1 - p_ew) if p_ew < 1 else math.nan
        if df is not None:
            n, nrg, d = _drone_nights(df, c)
            ew[c] = fit_density(n, n - nrg, n, o.seed)
            if math.isfinite(pooled_gun):
                gun[c] = fit_density(n, n - nrg - d, n - nrg, o.seed)
        if c not in ew or "survival_at_reference" not in ew[c]:
            ew[c] = {"survival_at_reference": 1.0 - p_ew, "survival_exponent": 0.0}
        if math.isfinite(pooled_gun) and (c not in gun or "survival_at_reference" not in gun[c]):
            gun[c] = {"survival_at_reference": 1.0 - pooled_gun, "survival_exponent": 0.0}
    out: dict[str, Any] = {}
    if o.ew_layer and ew:
        out["electronic_warfare"] = _layer(o.ew_layer, ew, "1 - survival at the median night; survival = "
                                           "1 - not_reach_goal / launched, a power of the night's size")
    if o.gun_layer and gun:
        out["gun"] = _layer(o.gun_layer, gun, "1 - survival at the median night; survival = 1 - destroyed / "
                            "(launched - not_reach_goal), a power of the night's size")
    return out


def _fit_warnings(waves: dict[str, Any], observed: dict[str, Any] | None = None) -> list[str]:
    """One line per estimate the window cannot support: a degenerate fit (and its fallback),
    too few days with launches for any fit, too few months for a growth rate, no reported
    destroyed counts for a rate.  Those estimates are null in calibration.json (``null_reasons``)."""
    out = []
    for c, w in waves.items():
        fit = w["negbin_positive_days"]
        gaps = []
        if "degenerate" in fit:
            fb = fit["fallback"]
            out.append(f"{c}: wave-size fit is degenerate ({fit['degenerate']}); the fragment uses the fallback "
                       f"dispersion {fb['dispersion']:.3g}, mean {fb['mean']:.4g} ({fb['rule']})")
        elif not math.isfinite(fit["mean"]):
            gaps.append(f"only {fit['n_days']} day(s) with launches (3 needed): no wave-size fit or intervals, the "
                        "fragment uses a Poisson size with the mean of those days")
        if not math.isfinite(w["growth"].get("growth_per_month", math.nan)):
            gaps.append("fewer than 3 months with launches: no growth rate, the fragment leaves growth out")
        ob = (observed or {}).get(c)
        if ob is not None and not ob["launched_with_destroyed"]:
            gaps.append("no record reports destroyed: no interception rate")
        if gaps:
            out.append(f"{c}: too little data in the window ({'; '.join(gaps)}); printed as n/a, null in "
                       "calibration.json")
    return out


def _null_reason(path: str, parent: dict[str, Any]) -> str:
    """Why the value at ``path`` is not a number (calibration.json writes null and this)."""
    if "n_days" in parent and parent["n_days"] < 3:
        return f"fewer than 3 days with launches ({parent['n_days']}): nothing to fit"
    if "months" in parent and parent["months"] < 3:
        return f"fewer than 3 months with launches ({parent['months']}): no growth fit"
    if parent.get("launched_with_destroyed") == 0:
        return "no record in the window reports destroyed"
    if "p_value" in parent or "multiplier" in parent or path.startswith("event_study"):
        return "the event study could not be computed (no contact with full windows in the data)"
    return "not computable from the records in the window"


def strict(data: Any, path: str = "", reasons: dict[str, str] | None = None,
           parent: dict[str, Any] | None = None) -> Any:
    """``data`` with every non-finite float replaced by None; ``reasons`` collects why, by dotted path."""
    if isinstance(data, dict):
        return {k: strict(v, f"{path}.{k}" if path else str(k), reasons, data) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [strict(v, f"{path}[{i}]", reasons, parent) for i, v in enumerate(data)]
    if isinstance(data, float | np.floating) and not math.isfinite(float(data)):
        if reasons is not None:
            reasons[path] = _null_reason(path, parent or {})
        return None
    if isinstance(data, np.integer):
        return int(data)
    if isinstance(data, np.floating):
        return float(data)
    return data


def _contact_rate(chosen: list[ContactRow], start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    inside = [c for c in chosen if start <= pd.Timestamp(c.date) <= end]
    days = int((end - start).days) + 1
    kinds = Counter(c.kind for c in inside)
    return {"in_window": len(inside), "days": days, "rate_per_day": len(inside) / days,
            "kind": kinds.most_common(1)[0][0] if kinds else "call", "dates": [str(c.date) for c in inside]}


def _event_study(full: pd.DataFrame, classes: list[str], chosen: list[ContactRow], span: tuple[pd.Timestamp,
                 pd.Timestamp], o: CalibrationOptions) -> dict[str, Any]:
    ev_classes = list(o.event_classes or classes)
    bad = [c for c in ev_classes if c not in full.columns]
    if bad:
        raise UserError(f"--event-classes: unknown class(es) {', '.join(bad)} (have: {', '.join(classes)})")
    es = event_study(full[ev_classes].sum(axis=1), [pd.Timestamp(c.date) for c in chosen],
                     EventStudyOptions(o.window, o.pre_window, o.n_placebo, o.n_boot, o.seed), period=span)
    es["classes"] = ev_classes
    es["status_filter"] = o.status
    return es


def calibrate_records(records: str | Path | RecordSet, contacts: str | Path | list[ContactRow] | None = None,
                      options: CalibrationOptions | None = None) -> Calibration:
    """Everything ``calibrate`` computes from a records file (or a :class:`RecordSet`) and contacts."""
    o = options or CalibrationOptions()
    rs = records if isinstance(records, RecordSet) else read_records(records)
    mp = load_mapping(o.mapping)
    unusable: Counter[str] = Counter(rs.report.unusable)
    unknown: Counter[str] = Counter()
    rows = _usable(rs, mp, o, unusable, unknown)
    if rows.empty:
        why = ", ".join(f"{k}: {v}" for k, v in unusable.items())
        raise DataError(f"{rs.path}: no usable rows after filtering ({why})")
    start, end = _window(rows, o)
    inside = (rows["date"] >= start) & (rows["date"] <= end)
    if (~inside).sum():
        unusable["outside --since/--until"] += int((~inside).sum())
    df = rows[inside]
    if df.empty:
        raise DataError(f"{rs.path}: no usable rows between --since {o.since} and --until {o.until} (the records "
                        f"run from {rows['date'].min().date()} to {rows['date'].max().date()})")
    present = set(df["cls"].unique())
    classes = [c for c in mp.classes if c not in mp.exclude and c in present]
    # The full series (from the first record) gives the event study its pre-windows.
    full = daily_series(rows[rows["date"] <= end], classes, rows["date"].min(), end)
    daily = full.loc[start:end]
    observed = _observed(df, classes, o.defeated)
    waves = _waves(daily, classes, o)
    # a clamped row outside the window changes nothing in this calibration: no warning for it
    warnings = list(rs.report.warnings) + rs.clamp_warnings(df["row"]) + _fit_warnings(waves, observed)
    contact_rows = (contacts if isinstance(contacts, list) else read_contacts(contacts)) if contacts else []
    chosen = [c for c in contact_rows if o.status == "all" or c.status == o.status]
    result: dict[str, Any] = {
        "provenance": {
            "tool": f"scenario-sim {__version__}", "created": dt.datetime.now().isoformat(timespec="seconds"),
            "attacks_file": Path(rs.path).name, "attacks_sha256": rs.sha256,
            "contacts_file": Path(contacts).name if isinstance(contacts, str | Path) else None,
            "date_span": [str(start.date()), str(end.date())], "options": o.to_json(),
            "attribution": ATTRIBUTION,
        },
        "rows": {"read": rs.report.rows, "used": len(df), "unusable_by_reason": dict(unusable.most_common())},
        "unknown_models": dict(unknown.most_common()),
        "warnings": warnings,
        "classes": classes,
        "observed": observed,
        "layers": layer_kill_probabilities(observed, o, df),
        "periods": periods(df, classes, o.period),
        "waves": waves,
        "growth_total": growth(daily.sum(axis=1)),
        # every record up to the window's end (none after it): how growth changes between half-years
        "growth_regimes": growth_regimes(full.sum(axis=1), law=None if o.regime_law == "auto" else o.regime_law,
                                         seed=o.seed),
        "combined_strikes": _combined(daily, classes, waves, o),
        "hits": {c: hits_per_leaker(df[df["cls"] == c], o.seed) for c in classes},
    }
    if contacts:
        result["contacts"] = _contact_rate(chosen, start, end)
        result["event_study"] = _event_study(full, classes, chosen, (start, end), o)
    return Calibration(result, daily, [pd.Timestamp(c.date) for c in contact_rows])


# --------------------------------------------------------------------------- fragment


def _r(x: float, nd: int = 4) -> float:
    """Round to ``nd`` significant figures for a readable fragment."""
    return float(f"{x:.{nd}g}") if math.isfinite(x) else float(x)


def surge_probability_range(es: dict[str, Any], surge_multiplier: float) -> tuple[float, float, float]:
    """(low, high, placebo median) of the surge probability implied by the event study.

    A surge of probability ``p`` and size ``m`` (times an ordinary wave) raises mean launches
    over the ``k + 1`` days of the window by ``1 + p*m/(k+1)``.  Random dates already show a
    ratio above 1 when launches grow, so the multiplier is measured against the placebo
    median, not against 1.  Unless the test supports a surge, the range starts at 0: the
    scenario then carries the possibility that there is no pattern at all.
    """
    k1 = es["window_days"] + 1
    base = float(es.get("placebo_quantiles", {}).get("0.5", 1.0)) or 1.0
    lo_m, hi_m = es["multiplier_ci"]

    def p(mult: float) -> float:
        return float(min(1.0, max(0.0, (mult / base - 1) * k1 / surge_multiplier)))

    lo = p(lo_m) if es.get("supported") else 0.0
    return lo, max(lo, p(hi_m)), base


def _wave_class(w: dict[str, Any], mean_factor: float) -> dict[str, Any]:
    """Participation probability and size law of one class.

    With fewer than three days of launches no negative binomial can be fitted: the size is
    then Poisson with the mean of the days with launches, and the probability matches the
    share of days with launches, ``p = share / (1 - exp(-mean))``.
    """
    fit = w["negbin_positive_days"]
    used = fit.get("fallback", fit)
    if not math.isfinite(used["mean"]):
        mean = fit.get("positive_day_mean", math.nan)
        if not math.isfinite(mean):
            return {"probability": 0.0, "size": {"dist": "poisson", "mean": 1.0}}
        p = min(1.0, w["share_of_days"] / -math.expm1(-mean))
        return {"probability": _r(p), "size": {"dist": "poisson", "mean": _r(mean / mean_factor)}}
    p = min(1.0, w["share_of_days"] / (1 - used["p_zero"])) if used["p_zero"] < 1 else w["share_of_days"]
    return {"probability": _r(p), "size": {"dist": "negbin", "mean": _r(used["mean"] / mean_factor),
                                           "dispersion": _r(used["dispersion"])}}


def _fragment_layer(spec: dict[str, Any]) -> dict[str, Any]:
    """A layer's fragment entry: pk, and its wave-size dependence where the nights were fitted."""
    out: dict[str, Any] = {"name": spec["layer"], "pk": {c: _r(v) for c, v in spec["pk"].items()}}
    fits = {c: f for c, f in spec.get("density", {}).items() if "reference_wave_munitions" in f}
    if fits:
        f0 = next(iter(fits.values()))  # one reference night for the layer (the drone classes share the nights)
        out["density"] = {"reference_wave_munitions": _r(f0["reference_wave_munitions"]),
                          "min_wave_munitions": _r(f0["min_wave_munitions"]),
                          "max_wave_munitions": _r(f0["max_wave_munitions"]),
                          "survival_exponent": {c: _r(f["survival_exponent"]) for c, f in fits.items()}}
    return out


def fragment_document(cal: Calibration) -> dict[str, Any]:
    """The scenario fragment as a mapping: every calibrated parameter a scenario takes."""
    result = cal.data
    g_total = result["growth_total"].get("growth_per_month", 0.0)
    g_total = 0.0 if not math.isfinite(g_total) else g_total
    n_days = next(iter(result["waves"].values()))["days"]
    # Mean growth factor over the window: fitted sizes are window averages, the scenario's
    # sizes are the level at its start, growing from there.
    mean_factor = float(np.mean((1 + g_total) ** (np.arange(n_days) / 30.0)))
    arsenal: dict[str, Any] = {}
    wave_classes: dict[str, Any] = {}
    for c in result["classes"]:
        w = result["waves"][c]
        level = w["growth"].get("level_per_day", math.nan)
        gr = w["growth"].get("growth_per_month", math.nan)
        if not math.isfinite(level):
            level = float(result["observed"][c]["launched"]) / n_days
        arsenal[c] = {"production_per_day": _r(level)}
        if math.isfinite(gr):
            arsenal[c]["production_growth_per_month"] = _r(gr)
        wave_classes[c] = _wave_class(w, mean_factor)
        if math.isfinite(gr):  # each class's waves grow at its own rate (drones and missiles differ)
            wave_classes[c]["size_growth_per_month"] = _r(gr)
    doc: dict[str, Any] = {}
    if "contacts" in result:
        ct = result["contacts"]
        doc["contacts"] = {"stochastic": {"rate_per_day": _r(ct["rate_per_day"]), "kind": ct["kind"]}}
    doc["attacker"] = {"arsenal": arsenal, "waves": {"schedule": "nightly", "size_growth_per_month": _r(g_total),
                                                     "classes": wave_classes}}
    doc["attacker"]["waves"].update(_tempo_entry(result["growth_total"]))
    for c, load in result.get("combined_strikes", {}).get("loading", {}).items():
        if load > 0 and c in wave_classes:
            wave_classes[c]["participation_loading"] = _r(load)
    shock = _growth_range(result["growth_total"], centre=0.0)
    if shock:
        doc["attacker"]["growth"] = {"shock_per_month": shock}
    regime = _regime_shock(result.get("growth_regimes", {}))
    if regime:
        doc["attacker"].setdefault("growth", {}).update(regime_log_shock_per_month=regime, regime_after_days=n_days)
    es: dict[str, Any] = result.get("event_study") or {}
    if "multiplier_ci" in es and math.isfinite(es["multiplier_ci"][0]):
        lo, hi, _ = surge_probability_range(es, result["provenance"]["options"]["surge_multiplier"])
        doc["attacker"]["surge"] = {"probability": {"dist": "uniform", "low": _r(lo), "high": _r(hi)}}
    systems = [_fragment_layer(spec) for spec in result.get("layers", {}).values()]
    if systems:
        doc["air_defense"] = {"systems": systems}
    unc = _growth_uncertainties(result)
    if unc:
        doc["uncertainties"] = unc
    return doc


def _tempo_entry(g: dict[str, Any]) -> dict[str, Any]:
    sd = g.get("tempo_log_sd", math.nan)
    return {"tempo_log_sd": _r(sd)} if math.isfinite(sd) else {}


def _growth_range(g: dict[str, Any], centre: float | None) -> dict[str, Any] | None:
    """The growth estimate's 95% interval as a triangular law with the estimate as its mode,
    shifted so the estimate sits at ``centre`` (0: a shock added to the estimate; None: the
    rate itself)."""
    est = g.get("growth_per_month", math.nan)
    lo, hi = g.get("growth_ci", [math.nan, math.nan])
    if not all(math.isfinite(x) for x in (est, lo, hi)) or not lo <= est <= hi:
        return None
    shift = 0.0 if centre is None else est - centre
    return {"dist": "triangular", "low": _r(lo - shift), "mode": _r(est - shift), "high": _r(hi - shift)}


def _regime_shock(reg: dict[str, Any]) -> dict[str, Any] | None:
    """The between-half-year change of the log-growth rate (``growth_regimes``) as a law centred
    on 0 on ``±min(√6 sd, log 2)`` (log 2: the schema's growth limit, at most doubling a month),
    drawing with the triangular's sd there (calibrate/regime.py, ``law_spec``); the law is
    ``growth_regimes``' ``law`` (calibrate/regime.py chooses it), triangular in a result written
    before there was a choice.  None without two pairs."""
    sd = reg.get("between_log_sd", math.nan)
    if not (math.isfinite(sd) and sd > 0):
        return None
    return law_spec(str(reg.get("law", "triangular")), sd)


def _regime_line(reg: dict[str, Any]) -> str:
    """The summary's line on the change of growth between half-years (``growth_regimes``)."""
    if "between_log_sd" not in reg:
        return (f"growth between half-years: {reg.get('pairs', 0)} pair(s) of half-years in the records before the "
                "window's end, fewer than 2: no regime shock")
    sel = reg.get("law_selection", {})
    scores = sel.get("scores", {})
    told = ", ".join(f"{k} {v['log_score']:.3f}" for k, v in scores.items())
    why = f"mean log score leaving one pair out: {told}" if told else sel.get("chosen_by", "")
    if scores and sel.get("chosen_by") == "--regime-law":
        why = f"--regime-law; {why}"
    return (f"growth between half-years: sd {reg['between_log_sd']:.3f} in monthly log-growth beyond sampling "
            f"(rms change {reg['rms_change']:.3f}, sampling {reg['rms_sampling']:.3f}, {_pairs(reg)}); the "
            f"fragment draws it per replication from the window's end (regime_log_shock_per_month), law "
            f"{reg.get('law', 'triangular')}{_shock_scale(reg)} ({why})")


def _shock_scale(reg: dict[str, Any]) -> str:
    """The drawn shock's scale and bound (``growth_regimes.shock``), for the summary and the
    fragment's head; empty for a result written before it was stated."""
    sh = reg.get("shock")
    if not sh:
        return ""
    scale = "" if sh.get("scale_sd") is None else f"uncut sd {sh['scale_sd']:.4g}, "
    return f", {scale}cut to ±{sh['bound']:.4g}, draws' sd {sh['drawn_sd']:.4g}"


def _pairs(reg: dict[str, Any]) -> str:
    """How many pairs, and that they overlap: a reader must not take them for independent changes."""
    w, step = reg.get("window_months", 6), reg.get("step_months", 3)
    n = reg["pairs"]
    if step >= w:
        return f"{n} pairs"
    return (f"{n} pairs of consecutive {w}-month windows started every {step} months, so neighbouring pairs "
            "share months and are not independent")


def _growth_uncertainties(result: dict[str, Any]) -> list[dict[str, Any]]:
    """``uncertainties:`` entries for ``scenario-sim explore``: the drone classes' growth intervals,
    from the data (each class's waves grow at its own rate, so the interval is the class's)."""
    out = []
    drones = result["provenance"]["options"].get("drone_classes", [])
    for c in result["classes"]:
        r = _growth_range(result["waves"][c]["growth"], centre=None)
        if not (r and c in drones):
            continue
        source = f"[data: calibration.json, waves.{c}.growth.growth_ci: 95% interval, estimate as the mode]"
        out.append({"name": f"{c}_size_growth", "path": f"attacker.waves.classes.{c}.size_growth_per_month",
                    "range": dict(r), "description": f"Monthly growth of {c} wave sizes (the baseline's centre; each "
                                               "replication adds a shock).", "source": source})
        out.append({"name": f"{c}_production_growth", "path": f"attacker.arsenal.{c}.production_growth_per_month",
                    "range": r, "description": f"Monthly growth of {c} production.", "source": source})
    return out


def _fragment_head(result: dict[str, Any]) -> list[str]:
    p = result["provenance"]
    o = p["options"]
    head = [
        f"# Generated by {p['tool']} - do not edit by hand; re-run calibrate instead.",
        f"# Source: {p['attacks_file']} (sha256 {p['attacks_sha256'][:16]}...), {p['attribution']}.",
        f"# Window {p['date_span'][0]}..{p['date_span'][1]}, {o['sources']} reports, dated by "
        f"{o['dating']}; every estimate and its interval is in calibration.json beside this file.",
        "# Wave sizes: zero-truncated negative binomial fitted to days with launches, rescaled to the level at",
        "# the window's start; probability = share of days with launches / (1 - P(size = 0)).",
        "# Production: fitted daily launch level at the window's start and monthly growth (launches ~ production).",
    ]
    if "contacts" in result:
        ct = result["contacts"]
        head.append(f"# Unscheduled contacts: {ct['in_window']} {o['status']} contact(s) in the {ct['days']} days "
                    "of the window.")
    es = result.get("event_study") or {}
    if "multiplier_ci" in es and math.isfinite(es["multiplier_ci"][0]):
        base = float(es.get("placebo_quantiles", {}).get("0.5", 1.0)) or 1.0
        head += [
            f"# Surge probability p ~ uniform: the event-study multiplier over days 0-{es['window_days']} "
            f"(95% CI {es['multiplier_ci'][0]:.3g}-{es['multiplier_ci'][1]:.3g}) divided by the placebo median "
            f"({base:.3g}),",
            f"# read as 1 + p*m/{es['window_days'] + 1} with an assumed surge size m = {o['surge_multiplier']:g} "
            f"(--surge-multiplier); the lower bound is 0 unless the test supports a surge "
            f"(here: {'supported' if es['supported'] else 'not supported'}, p = {es['p_value']:.3f}).",
        ]
    g = result["growth_total"]
    if "tempo_log_sd" in g:
        head.append(f"# Tempo: monthly log rates scatter around the growth line with sd {g['residual_log_sd']:.3g}, "
                    f"independent days explain {g['independent_days_log_sd']:.3g}; the rest is tempo_log_sd.")
    if "growth_ci" in g:
        head.append("# Growth shock: the total's 95% growth interval around its estimate, drawn once per replication; "
                    "the same intervals feed uncertainties.")
    reg = result.get("growth_regimes", {})
    if "between_log_sd" in reg:
        head.append(f"# Regime shock: from the window's end, the log-growth rate changes by a draw of sd "
                    f"{reg['between_log_sd']:.3g}, the change between consecutive half-years in the records up to "
                    f"the window's end ({reg['pairs']} pairs, sampling variance removed); each class's waves grow "
                    "at its own rate.")
        head.append(f"# Regime law: {reg.get('law', 'triangular')}{_shock_scale(reg)}, "
                    f"{reg.get('law_selection', {}).get('chosen_by', 'as before the choice')} "
                    "(calibration.json, growth_regimes.law_selection and shock).")
    for spec in result.get("layers", {}).values():
        head.append(f"# Layer {spec['layer']}: pk = {spec['rule']}.")
    for w in result.get("warnings", []):
        head.append(f"# WARNING: {w}")
    head.append("# Observed interception (destroyed / launched; defeated adds not_reach_goal):")
    for c in result["classes"]:
        ob = result["observed"][c]
        head.append(f"#   {c}: destroyed {ob['destroyed_rate']:.3f} [{ob['destroyed_rate_ci'][0]:.3f}, "
                    f"{ob['destroyed_rate_ci'][1]:.3f}], defeated {ob['defeated_rate']:.3f} "
                    f"[{ob['defeated_rate_ci'][0]:.3f}, {ob['defeated_rate_ci'][1]:.3f}], "
                    f"n = {ob['launched_with_destroyed']}")
    return head


def fragment(cal: Calibration) -> str:
    """The fragment as YAML text with a header saying where every number comes from."""
    return "\n".join(_fragment_head(cal.data)) + "\n" + yaml.safe_dump(fragment_document(cal), sort_keys=False)


def write_fragment(cal: Calibration, path: str | Path) -> Path:
    """Write the scenario fragment (for a scenario's ``extends``) atomically."""
    p = Path(path)
    atomic_write_text(p, fragment(cal))
    return p


def calibration_json(cal: Calibration) -> str:
    """calibration.json: strict JSON.  A value the window cannot give (NaN in :class:`Calibration`)
    is written as null, and ``null_reasons`` says why for each one, by dotted path."""
    reasons: dict[str, str] = {}
    clean = strict(cal.data, reasons=reasons)
    if reasons:
        clean["null_reasons"] = reasons
    return json.dumps(clean, indent=2, allow_nan=False) + "\n"


def write_outputs(cal: Calibration, folder: str | Path) -> Path:
    """calibration.json, fragment.yaml, launches.png and (with contacts) event_study.png in ``folder``."""
    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    atomic_write_text(out / "calibration.json", calibration_json(cal))
    write_fragment(cal, out / "fragment.yaml")
    from scenario_sim.calibrate import plots

    plots.launches(cal.daily, cal.contacts, out / "launches.png")
    if cal.get("event_study", {}).get("profile"):
        plots.profile(cal["event_study"], out / "event_study.png")
    return out


# --------------------------------------------------------------------------- text summary


def _with_ci(x: Any, ci: Any, spec: str) -> str:
    """``x [lo, hi]``, or ``n/a`` alone when neither the value nor its interval exists."""
    lo, hi = ci
    cells = [number_or_na(v, spec) for v in (x, lo, hi)]
    return "n/a" if cells == ["n/a"] * 3 else f"{cells[0]} [{cells[1]}, {cells[2]}]"


def _rate(o: dict[str, Any], key: str) -> str:
    return _with_ci(o[key], o[f"{key}_ci"], ".3f")


def summary_text(result: dict[str, Any]) -> str:
    rows = result["rows"]
    lines = [f"rows: {rows['read']} read, {rows['used']} used"]
    lines += [f"  {n:6d}  {reason}" for reason, n in rows["unusable_by_reason"].items()]
    if result["unknown_models"]:
        lines.append("unknown model names: " + ", ".join(f"{k} ({v})" for k, v in result["unknown_models"].items()))
    span = result["provenance"]["date_span"]
    counted = result["provenance"]["options"]["defeated"]
    lines.append(f"\ninterception, {span[0]} to {span[1]} (95% Wilson intervals; the interception rate counts "
                 f"{counted} as defeated)")
    lines.append(f"  {'class':10s} {'launched':>9s} {'interception rate':>24s}   {'destroyed':>22s} "
                 f"{'destroyed+not_reach':>22s}")
    for c in result["classes"]:
        o = result["observed"][c]
        lines.append(f"  {c:10s} {o['launched']:9d} {_rate(o, 'interception_rate'):>24s}   "
                     f"{_rate(o, 'destroyed_rate'):>22s} {_rate(o, 'defeated_rate'):>22s}")
    lines.append("\nwave sizes (days with launches; negative binomial by maximum likelihood, 95% intervals)")
    for c in result["classes"]:
        w = result["waves"][c]
        f = w["negbin_positive_days"]
        g = w["growth"]
        growth = g.get("growth_per_month", math.nan)
        lines.append(f"  {c:10s} attack on {w['share_of_days']:.1%} of {w['days']} days; mean "
                     f"{_with_ci(f['mean'], f['mean_ci'], '.4g')}, dispersion "
                     f"{_with_ci(f['dispersion'], f['dispersion_ci'], '.3g')}; growth "
                     + (f"{growth:+.1%}/month" if math.isfinite(growth) else "n/a")
                     + (" (degenerate: the fragment uses the fallback, see the warning)" if "degenerate" in f else ""))
    lines.append(_regime_line(result.get("growth_regimes", {})))
    for spec in result.get("layers", {}).values():
        pks = ", ".join(f"{c} {v:.3f}" for c, v in spec["pk"].items())
        lines.append(f"layer {spec['layer']}: pk {pks} ({spec['rule']})")
    es = result.get("event_study")
    if es:
        lines.append("\ncontact event study: " + es["verdict"])
        if es.get("contacts_outside_data"):
            left = ", ".join(es["contacts_outside_data"])
            lines.append(f"  contacts outside the study period or without full windows (left out): {left}")
    return "\n".join(lines)


@click.command()
@click.argument("attacks_csv", metavar="ATTACKS_CSV")
@click.option("--contacts", "contacts_csv", metavar="CONTACTS_CSV", help="Leader contacts (date, kind, status).")
@click.option("--since", type=_Date(), help="First day (YYYY-MM-DD) to use.")
@click.option("--until", type=_Date(), help="Last day (YYYY-MM-DD) to use.")
@click.option("--period", type=click.Choice(["month", "quarter", "half"]), default="quarter", show_default=True,
              help="Period for the per-period interception table.")
@click.option("--out", default="calibration", show_default=True, type=click.Path(file_okay=False),
              help="Output folder.")
@click.option("--sources", type=click.Choice(["national", "all"]), default="national", show_default=True,
              help="national: Air Force national reports only (regional commands repeat part of them).")
@click.option("--national-channels", default="kpszsu", show_default=True, metavar="NAMES",
              help="Comma-separated channels counted as national reports (with --sources national).")
@click.option("--dating", type=click.Choice(["launch", "report"]), default="launch", show_default=True,
              help="Date a row by its launch (time_start) or its report (time_end).")
@click.option("--mapping", type=click.Path(dir_okay=False), help="YAML mapping of model names to classes.")
@click.option("--defeated", type=click.Choice(["destroyed", "destroyed+not_reach_goal"]), default="destroyed",
              show_default=True, help="What the interception rate counts as defeated.")
@click.option("--window", type=click.IntRange(0, 14), default=3, show_default=True, help="Event window: days 0..N.")
@click.option("--pre-window", type=click.IntRange(1, 365), default=28, show_default=True, help="Days before a contact.")
@click.option("--event-classes", help="Classes summed in the event study (default: all used classes).")
@click.option("--status", type=click.Choice(["confirmed", "all"]), default="confirmed", show_default=True)
@click.option("--placebo", type=click.IntRange(100, 1_000_000), default=10000, show_default=True,
              help="Placebo date sets.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed for resampling.")
@click.option("--surge-multiplier", type=click.FloatRange(min=0.01), default=2.5, show_default=True,
              help="Assumed surge wave size (x an ordinary wave) when turning the event study into a probability.")
@click.option("--min-dispersion", type=click.FloatRange(min=1e-6, max=100.0), default=0.2, show_default=True,
              help="Lower bound of a wave-size dispersion; a fit below it is reported and clamped.")
@click.option("--regime-law", type=click.Choice(["auto", *REGIME_LAWS]), default="auto", show_default=True,
              help="Law of the regime shock on growth; auto: chosen by leaving one half-year pair out.")
def calibrate(attacks_csv: str, contacts_csv: str | None, out: str, national_channels: str,
              event_classes: str | None, placebo: int, **kw: Any) -> None:
    """Estimate scenario parameters from Air Force attack records, and test whether leader
    contacts are followed by surges (event study against placebo dates).

    Writes calibration.json, fragment.yaml (for a scenario's `extends`), launches.png and
    event_study.png into --out.
    """
    ev = tuple(c.strip() for c in event_classes.split(",")) if event_classes else None
    channels = tuple(c.strip() for c in national_channels.split(","))
    options = CalibrationOptions(national_channels=channels, event_classes=ev, n_placebo=placebo, **kw)
    cal = calibrate_records(attacks_csv, contacts_csv, options)
    folder = write_outputs(cal, out)
    for w in cal.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(summary_text(cal.data))
    click.echo(f"\nwrote {folder / 'calibration.json'}, {folder / 'fragment.yaml'} and plots")
