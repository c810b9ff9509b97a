"""Backtest plots (greyscale, as the report's): monthly bands, PIT histogram, leak fraction by bin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from scenario_sim.report.plots import GREYS, save

Row = dict[str, Any]


def coverage(rows: list[Row], path: Path) -> bytes:
    """Observed monthly launches against the simulated 5-95% band, one panel per class."""
    classes = list(dict.fromkeys(r["class"] for r in rows))
    fig, axes = plt.subplots(len(classes), 1, figsize=(8, 1.9 * len(classes) + 0.5), squeeze=False)
    for ax, c in zip(axes[:, 0], classes, strict=True):
        rs = [r for r in rows if r["class"] == c]
        x = np.arange(len(rs))
        ax.fill_between(x, [r["sim_q05"] for r in rs], [r["sim_q95"] for r in rs], color=GREYS[3], alpha=0.7,
                        step="mid", label="simulated 5-95%")
        ax.plot(x, [r["sim_median"] for r in rs], color=GREYS[1], lw=1, ls="--", label="simulated median")
        ax.plot(x, [r["observed"] for r in rs], "o", color="black", label="recorded")
        ax.set_xticks(x, [r["month"] for r in rs], fontsize=7)
        ax.set_ylabel(f"{c}\n(launches/month)", fontsize=8)
        ax.legend(fontsize=6, frameon=False, loc="upper left")
    axes[0, 0].set_title("Monthly launches: records against the simulated band", loc="left", fontsize=9,
                         fontweight="bold")
    fig.tight_layout()
    return save(fig, path)


def pit(hist: dict[str, Any], path: Path) -> bytes:
    """The PIT histogram (a calibrated model gives a flat one)."""
    fig, ax = plt.subplots(figsize=(5, 2.8))
    counts = hist["counts"]
    edges = np.linspace(0, 1, len(counts) + 1)
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=GREYS[2], edgecolor="black", lw=0.5)
    if hist["n"]:
        ax.axhline(hist["n"] / len(counts), color="black", ls=":", lw=0.8, label="flat (calibrated)")
        ax.legend(fontsize=7, frameon=False)
    ax.set_xlabel("randomised PIT of monthly launches (all classes)")
    ax.set_ylabel("class-months")
    ax.set_title("PIT histogram", loc="left", fontsize=9, fontweight="bold")
    fig.tight_layout()
    return save(fig, path)


def leak_bins(rows: list[Row], path: Path) -> bytes:
    """Leak fraction by wave-size bin: recorded (95% interval) and simulated."""
    classes = list(dict.fromkeys(r["class"] for r in rows)) or ["(none)"]
    fig, axes = plt.subplots(1, len(classes), figsize=(3.3 * len(classes) + 0.5, 3), squeeze=False)
    for ax, c in zip(axes[0], classes, strict=True):
        rs = [r for r in rows if r["class"] == c]
        x = np.arange(len(rs))
        obs = np.array([r["observed"] for r in rs], dtype=float)
        lo = np.array([r["observed_lo"] for r in rs], dtype=float)
        hi = np.array([r["observed_hi"] for r in rs], dtype=float)
        ax.errorbar(x, obs, yerr=[np.nan_to_num(obs - lo), np.nan_to_num(hi - obs)], fmt="o", color="black",
                    capsize=3, label="recorded, 95%")
        ax.plot(x, [r["sim"] for r in rs], "s", mfc="white", color=GREYS[1], label="simulated")
        ax.set_xticks(x, [f"{r['bin']}\n(n={r['nights_observed']})" for r in rs], fontsize=6)
        ax.set_title(c, fontsize=8)
        ax.set_ylim(bottom=0)
    axes[0, 0].set_ylabel("leak fraction (leaked / launched)")
    axes[0, 0].legend(fontsize=6, frameon=False)
    fig.suptitle("Leak fraction by nightly wave size", x=0.01, ha="left", fontsize=9, fontweight="bold")
    fig.tight_layout()
    return save(fig, path)
