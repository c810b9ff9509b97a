"""``scenario-sim calibrate``: scenario parameters and the contact event study from public records."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
import yaml

from scenario_sim import __version__
from scenario_sim.calibrate.classify import load_mapping
from scenario_sim.calibrate.contacts import read_contacts
from scenario_sim.calibrate.estimate import daily_series, fit_truncated_negbin, growth, periods, rates
from scenario_sim.calibrate.eventstudy import event_study
from scenario_sim.calibrate.records import read_records
from scenario_sim.errors import DataError, UserError
from scenario_sim.experiment.store import atomic_write_text


class _Date(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click
    name = "DATE"

    def convert(self, value: Any, param: Any, ctx: Any) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"expected YYYY-MM-DD (got {value!r})", param, ctx)


def calibrate_records(attacks: str | Path, contacts: str | Path | None = None, since: dt.date | None = None,
                      until: dt.date | None = None, period: str = "quarter", sources: str = "national",
                      national_channels: tuple[str, ...] = ("kpszsu",), dating: str = "launch",
                      mapping: str | Path | None = None, window: int = 3, pre_window: int = 28,
                      event_classes: list[str] | None = None, status: str = "confirmed",
                      n_placebo: int = 10000, seed: int = 0, surge_multiplier: float = 2.5,
                      defeated: str = "destroyed") -> dict[str, Any]:
    """Everything ``calibrate`` computes, as one JSON-ready mapping.

    ``defeated`` says what counts as defeated in the headline ``interception_rate``:
    ``destroyed``, or ``destroyed+not_reach_goal`` (drones lost to electronic warfare were
    reported separately for part of the record).  Both rates are always in the output.
    """
    records, report = read_records(attacks)
    mp = load_mapping(mapping)
    unusable: Counter[str] = Counter(report.unusable)
    unknown: Counter[str] = Counter()
    rows = []
    for r in records:
        if sources == "national" and r.channel not in national_channels:
            kept = ", ".join(national_channels)
            unusable[f"regional or other source (kept only {kept}; --sources all keeps it)"] += 1
            continue
        cls, problem = mp.classify(r.model)
        if problem == "unknown":
            unknown[r.model] += 1
            unusable["unknown model name (listed under unknown_models)"] += 1
            continue
        if problem:
            unusable[f"combines classes ({problem[6:]})"] += 1
            continue
        assert cls is not None
        if cls in mp.exclude:
            unusable[f"class '{cls}' excluded"] += 1
            continue
        when = (r.start if dating == "launch" else r.end).date()
        if (since and when < since) or (until and when > until):
            unusable["outside --since/--until"] += 1
            continue
        rows.append({"date": pd.Timestamp(when), "cls": cls, "launched": r.launched, "destroyed": r.destroyed,
                     "not_reach_goal": r.not_reach_goal, "line": r.line})
    if not rows:
        why = ", ".join(f"{k}: {v}" for k, v in unusable.items())
        raise DataError(f"{attacks}: no usable rows after filtering ({why})")
    df = pd.DataFrame(rows)
    df["destroyed"] = df["destroyed"].astype("float")
    df["not_reach_goal"] = df["not_reach_goal"].astype("float")
    classes = [c for c in mp.classes if c not in mp.exclude and c in set(df["cls"])]
    start = pd.Timestamp(since) if since else df["date"].min()
    end = pd.Timestamp(until) if until else df["date"].max()
    daily = daily_series(df, classes, start, end)

    observed = {c: rates(df[df["cls"] == c]) for c in classes}
    key = "destroyed_rate" if defeated == "destroyed" else "defeated_rate"
    for o in observed.values():
        o["interception_rate"] = o[key]
        o["interception_rate_ci"] = o[f"{key}_ci"]
        o["interception_counts"] = defeated
    waves: dict[str, Any] = {}
    for c in classes:
        x = daily[c].to_numpy()
        share = float((x > 0).mean())
        fit = fit_truncated_negbin(x)
        g = growth(daily[c])
        k_days = int((x > 0).sum())
        from scenario_sim.calibrate.estimate import wilson

        waves[c] = {"days": int(x.size), "days_with_attack": k_days, "share_of_days": share,
                    "share_ci": list(wilson(k_days, int(x.size))), "negbin_positive_days": fit, "growth": g}
    total = daily.sum(axis=1)
    total_growth = growth(total)

    result: dict[str, Any] = {
        "provenance": {
            "tool": f"scenario-sim {__version__}", "created": dt.datetime.now().isoformat(timespec="seconds"),
            "attacks_file": str(attacks), "attacks_sha256": hashlib.sha256(Path(attacks).read_bytes()).hexdigest(),
            "contacts_file": str(contacts) if contacts else None,
            "contacts_sha256": hashlib.sha256(Path(contacts).read_bytes()).hexdigest() if contacts else None,
            "date_span": [str(start.date()), str(end.date())],
            "options": {"since": str(since) if since else None, "until": str(until) if until else None,
                        "period": period, "sources": sources, "national_channels": list(national_channels),
                        "dating": dating, "mapping": str(mapping) if mapping else "shipped classes.yaml",
                        "window": window, "pre_window": pre_window, "event_classes": event_classes or classes,
                        "status": status, "placebo_sets": n_placebo, "seed": seed, "defeated": defeated,
                        "surge_multiplier": surge_multiplier},
            "attribution": "Ukrainian Air Force daily reports, compiled by Petro Ivaniuk, Kaggle dataset "
                           "'Massive Missile Attacks on Ukraine'",
        },
        "rows": {"read": report.rows, "used": len(df), "unusable_by_reason": dict(unusable.most_common())},
        "unknown_models": dict(unknown.most_common()),
        "classes": classes,
        "observed": observed,
        "periods": periods(df, classes, period),
        "waves": waves,
        "growth_total": total_growth,
    }
    if contacts:
        cs = read_contacts(contacts)
        chosen = [c for c in cs if status == "all" or c.status == status]
        ev_classes = event_classes or classes
        bad = [c for c in ev_classes if c not in daily.columns]
        if bad:
            raise UserError(f"--event-classes: unknown class(es) {', '.join(bad)} (have: {', '.join(classes)})")
        series = daily[ev_classes].sum(axis=1)
        es = event_study(series, [pd.Timestamp(c.date) for c in chosen], window, pre_window, n_placebo,
                         10000, seed)
        es["classes"] = ev_classes
        es["status_filter"] = status
        result["event_study"] = es
    result["_daily"] = daily
    result["_contacts"] = [pd.Timestamp(c.date) for c in read_contacts(contacts)] if contacts else []
    return result


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


def fragment(result: dict[str, Any], surge_multiplier: float) -> str:
    """A scenario fragment (for ``extends``) with waves, sizes, production and surge uncertainty."""
    classes = result["classes"]
    tg = result["growth_total"]
    g_total = tg.get("growth_per_month", 0.0)
    g_total = 0.0 if not math.isfinite(g_total) else g_total
    n_days = next(iter(result["waves"].values()))["days"]
    # Mean growth factor over the window: fitted sizes are window averages, the scenario's
    # sizes are the level at its start, growing from there.
    mean_factor = float(np.mean((1 + g_total) ** (np.arange(n_days) / 30.0)))
    arsenal: dict[str, Any] = {}
    wave_classes: dict[str, Any] = {}
    for c in classes:
        w = result["waves"][c]
        fit = w["negbin_positive_days"]
        g = w["growth"]
        level = g.get("level_per_day", math.nan)
        gr = g.get("growth_per_month", math.nan)
        if not math.isfinite(level):
            level = float(result["observed"][c]["launched"]) / n_days
        arsenal[c] = {"production_per_day": _r(level)}
        if math.isfinite(gr):
            arsenal[c]["production_growth_per_month"] = _r(gr)
        if math.isfinite(fit["mean"]):
            p = min(1.0, w["share_of_days"] / (1 - fit["p_zero"])) if fit["p_zero"] < 1 else w["share_of_days"]
            wave_classes[c] = {"probability": _r(p), "size": {"dist": "negbin", "mean": _r(fit["mean"] / mean_factor),
                                                             "dispersion": _r(fit["dispersion"])}}
        else:
            wave_classes[c] = {"probability": _r(w["share_of_days"]),
                               "size": {"dist": "poisson", "mean": _r(max(1.0, level))}}
    doc: dict[str, Any] = {"attacker": {"arsenal": arsenal, "waves": {"schedule": "nightly",
                                                                      "size_growth_per_month": _r(g_total),
                                                                      "classes": wave_classes}}}
    es: dict[str, Any] = result.get("event_study") or {}
    base = math.nan
    if "multiplier_ci" in es and math.isfinite(es["multiplier_ci"][0]):
        lo, hi, base = surge_probability_range(es, surge_multiplier)
        doc["attacker"]["surge"] = {"probability": {"dist": "uniform", "low": _r(lo), "high": _r(hi)}}
    p = result["provenance"]
    head = [
        f"# Generated by {p['tool']} on {p['created']} - do not edit by hand; re-run calibrate instead.",
        f"# Source: {p['attacks_file']} (sha256 {p['attacks_sha256'][:16]}...), {p['attribution']}.",
        f"# Window {p['date_span'][0]}..{p['date_span'][1]}, {p['options']['sources']} reports, dated by "
        f"{p['options']['dating']}; every estimate and its interval is in calibration.json beside this file.",
        "# Wave sizes: zero-truncated negative binomial fitted to days with launches, rescaled to the level at",
        "# the window's start; probability = share of days with launches / (1 - P(size = 0)).",
        "# Production: fitted daily launch level at the window's start and monthly growth (launches ~ production).",
    ]
    if "surge" in doc["attacker"]:
        head += [
            f"# Surge probability p ~ uniform: the event-study multiplier over days 0-{es['window_days']} "
            f"(95% CI {es['multiplier_ci'][0]:.3g}-{es['multiplier_ci'][1]:.3g}) divided by the placebo median "
            f"({base:.3g}),",
            f"# read as 1 + p*m/{es['window_days'] + 1} with an assumed surge size m = {surge_multiplier:g} "
            f"(--surge-multiplier); the lower bound is 0 unless the test supports a surge "
            f"(here: {'supported' if es['supported'] else 'not supported'}, p = {es['p_value']:.3f}).",
        ]
    head.append("# Observed interception, for choosing kill probabilities (destroyed / launched; defeated adds "
                "not_reach_goal):")
    for c in classes:
        o = result["observed"][c]
        head.append(f"#   {c}: destroyed {o['destroyed_rate']:.3f} [{o['destroyed_rate_ci'][0]:.3f}, "
                    f"{o['destroyed_rate_ci'][1]:.3f}], defeated {o['defeated_rate']:.3f} "
                    f"[{o['defeated_rate_ci'][0]:.3f}, {o['defeated_rate_ci'][1]:.3f}], "
                    f"n = {o['launched_with_destroyed']}")
    return "\n".join(head) + "\n" + yaml.safe_dump(doc, sort_keys=False)


def summary_text(result: dict[str, Any]) -> str:
    lines = []
    rows = result["rows"]
    lines.append(f"rows: {rows['read']} read, {rows['used']} used")
    for reason, n in rows["unusable_by_reason"].items():
        lines.append(f"  {n:6d}  {reason}")
    if result["unknown_models"]:
        lines.append("unknown model names: " + ", ".join(f"{k} ({v})" for k, v in result["unknown_models"].items()))
    span = result["provenance"]["date_span"]
    counted = result["provenance"]["options"]["defeated"]
    lines.append(f"\ninterception, {span[0]} to {span[1]} (95% Wilson intervals; the interception rate counts "
                 f"{counted} as defeated)")
    lines.append(f"  {'class':10s} {'launched':>9s} {'interception rate':>24s}   {'destroyed':>22s} "
                 f"{'destroyed+not_reach':>22s}")
    def rate(o: dict[str, Any], key: str) -> str:
        lo, hi = o[f"{key}_ci"]
        return f"{o[key]:.3f} [{lo:.3f}, {hi:.3f}]"

    for c in result["classes"]:
        o = result["observed"][c]
        lines.append(f"  {c:10s} {o['launched']:9d} {rate(o, 'interception_rate'):>24s}   "
                     f"{rate(o, 'destroyed_rate'):>22s} {rate(o, 'defeated_rate'):>22s}")
    lines.append("\nwave sizes (days with launches; negative binomial by maximum likelihood, 95% intervals)")
    for c in result["classes"]:
        w = result["waves"][c]
        f = w["negbin_positive_days"]
        g = w["growth"]
        lines.append(f"  {c:10s} attack on {w['share_of_days']:.1%} of {w['days']} days; mean {f['mean']:.4g} "
                     f"[{f['mean_ci'][0]:.4g}, {f['mean_ci'][1]:.4g}], dispersion {f['dispersion']:.3g} "
                     f"[{f['dispersion_ci'][0]:.3g}, {f['dispersion_ci'][1]:.3g}]; growth "
                     f"{g.get('growth_per_month', math.nan):+.1%}/month")
    es = result.get("event_study")
    if es:
        lines.append("\ncontact event study: " + es["verdict"])
        if es.get("contacts_outside_data"):
            left = ", ".join(es["contacts_outside_data"])
            lines.append(f"  contacts without full windows in the data (left out): {left}")
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
def calibrate(attacks_csv: str, contacts_csv: str | None, since: dt.date | None, until: dt.date | None,
              period: str, out: str, sources: str, dating: str, mapping: str | None, window: int, pre_window: int,
              event_classes: str | None, status: str, placebo: int, seed: int, surge_multiplier: float,
              defeated: str) -> None:
    """Estimate scenario parameters from Air Force attack records, and test whether leader
    contacts are followed by surges (event study against placebo dates).

    Writes calibration.json, fragment.yaml (for a scenario's `extends`), launches.png and
    event_study.png into --out.
    """
    if since and until and until < since:
        raise UserError(f"--until ({until}) is before --since ({since})")
    ev = [c.strip() for c in event_classes.split(",")] if event_classes else None
    result = calibrate_records(attacks_csv, contacts_csv, since, until, period, sources, ("kpszsu",), dating,
                               mapping, window, pre_window, ev, status, placebo, seed, surge_multiplier, defeated)
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{folder}: cannot create the output folder ({exc.strerror})") from None
    daily = result.pop("_daily")
    contacts = result.pop("_contacts")
    atomic_write_text(folder / "calibration.json", json.dumps(result, indent=2, default=float) + "\n")
    atomic_write_text(folder / "fragment.yaml", fragment(result, surge_multiplier))
    from scenario_sim.calibrate import plots

    plots.launches(daily, contacts, folder / "launches.png")
    if "event_study" in result and result["event_study"].get("profile"):
        plots.profile(result["event_study"], folder / "event_study.png")
    click.echo(summary_text(result))
    click.echo(f"\nwrote {folder / 'calibration.json'}, {folder / 'fragment.yaml'} and plots")
