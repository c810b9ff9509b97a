"""Calibration plots: daily launches with contacts marked; the event-study profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from scenario_sim.report.plots import GREYS, save


def launches(daily: pd.DataFrame, contacts: list[pd.Timestamp], path: Path) -> None:
    contacts = [c for c in contacts if daily.index[0] <= c <= daily.index[-1]]
    fig, axes = plt.subplots(len(daily.columns), 1, figsize=(9, 1.9 * len(daily.columns) + 0.4), sharex=True,
                             squeeze=False)
    for ax, cls in zip(axes[:, 0], daily.columns, strict=True):
        # One filled step polygon, not one bar per day: a long record would cost minutes.
        ax.fill_between(daily.index, daily[cls].to_numpy(), step="post", color="#555555", lw=0)
        weekly = daily[cls].rolling(7, center=True, min_periods=1).mean()
        ax.plot(daily.index, weekly, color="black", lw=1.0, label="7-day mean")
        for c in contacts:
            ax.axvline(c, color="black", ls="--", lw=0.8)
        ax.set_ylabel(f"{cls}\n(munitions/day)")
        ax.legend(loc="upper left", fontsize=7, frameon=False)
    axes[0, 0].set_title("Daily launches by class (dashed lines: leader contacts)", loc="left", fontsize=9,
                         fontweight="bold")
    axes[-1, 0].set_xlabel("launch date")
    fig.tight_layout()
    save(fig, path)


def profile(es: dict[str, Any], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    prof = es.get("profile", [])
    band = es.get("placebo_band_5_95", [])
    x = list(range(len(prof)))
    if band:
        ax.fill_between(x, [b[0] for b in band], [b[1] for b in band], color=GREYS[3], alpha=0.6,
                        label="placebo dates, 5-95%")
    ax.plot(x, prof, marker="o", color="black", label="after contacts")
    ax.axhline(1.0, color="black", ls=":", lw=0.8)
    ax.axvspan(-0.3, es.get("window_days", 3) + 0.3, color="#eeeeee", zorder=0, label="event window")
    ax.set_xlabel("days after the contact")
    ax.set_ylabel(f"launches / mean of the {es.get('pre_window_days', 28)} days before (ratio)")
    ax.set_title("Event study: launches after leader contacts", loc="left", fontsize=9, fontweight="bold")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    save(fig, path)
