"""Plots for the report (matplotlib, Agg): readable in greyscale, units on every axis."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

GREYS = ["#000000", "#555555", "#999999", "#bbbbbb"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">"]
plt.rcParams.update({"font.size": 9, "axes.grid": True, "grid.color": "#dddddd", "axes.axisbelow": True,
                     "figure.dpi": 110, "savefig.bbox": "tight"})


def _width(labels: list[str], plot_in: float, least_in: float) -> float:
    """A figure width (inches) that leaves ``plot_in`` for the axes after the longest y label:
    bundle labels ("a + b + c + d") are long, and a fixed width left tight_layout no room."""
    chars = max((len(str(x)) for x in labels), default=0)
    return max(least_in, plot_in + 0.075 * chars + 0.6)  # ~0.07 in a character at 9 pt


def png(fig: Any) -> bytes:
    """``fig`` as PNG bytes (the figure is closed): embedded in the report, and written to
    ``plots/`` when the report goes to a folder."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def save(fig: Any, path: Path) -> bytes:
    """Write ``fig`` to ``path`` as PNG and return the bytes."""
    data = png(fig)
    path.write_bytes(data)
    return data


def forest(table: pd.DataFrame, outcomes: list[str], order: list[str]) -> Any:
    """Paired differences from the baseline with their intervals, one panel per outcome."""
    n = len(outcomes)
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * _width(order, 3.8, 7.5 / 1.3),
                                                  0.35 * len(order) * rows + 1.2 * rows), squeeze=False)
    for ax, o in zip(axes.flat, outcomes, strict=False):
        sub = table[(table["outcome"] == o) & (table["set"] != "baseline")].set_index("set").reindex(order).dropna(
            subset=["diff"])
        y = np.arange(len(sub))[::-1]
        unit = sub["unit"].iloc[0] if len(sub) else ""
        scale = 1e6 if unit == "USD" else 1.0  # money in millions: no bare 1e8 axis offsets
        if scale != 1.0:
            unit = "million USD"
        err = np.vstack([sub["diff"] - sub["ci_low"], sub["ci_high"] - sub["diff"]]) / scale
        ax.errorbar(sub["diff"] / scale, y, xerr=err, fmt="o", color="black", ecolor="#555555", capsize=3, ms=4)
        ax.axvline(0, color="black", lw=0.8, ls="--")
        ax.set_yticks(y, list(sub.index))
        better = sub["direction"].iloc[0] if len(sub) else ""
        ax.set_xlabel(f"difference from baseline ({unit}); {better} is better")
        ax.set_title(o, loc="left", fontsize=9, fontweight="bold")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def distributions(frame: pd.DataFrame, outcome: str, unit: str, order: list[str]) -> Any:
    """Box plots of an outcome per set over replications."""
    ok = frame[frame["error"].isna()]
    data = [ok.loc[ok["set"] == s, outcome].to_numpy() for s in order]
    fig, ax = plt.subplots(figsize=(_width(order, 5.5, 7.5), 0.32 * len(order) + 1.2))
    ax.boxplot(data, orientation="horizontal", tick_labels=order, widths=0.6, showfliers=True,
               flierprops={"marker": ".", "markersize": 2, "markerfacecolor": "#555555", "markeredgecolor": "none"},
               medianprops={"color": "black", "lw": 1.5}, boxprops={"color": "black"},
               whiskerprops={"color": "#555555"}, capprops={"color": "#555555"})
    ax.invert_yaxis()
    ax.set_xlabel(f"{outcome} ({unit}) per replication")
    ax.set_title(f"Distribution of {outcome} by set", loc="left", fontsize=9, fontweight="bold")
    fig.tight_layout()
    return fig


def fan(ts: pd.DataFrame, series: str, ylabel: str, sets: list[str]) -> Any:
    """Median and 90% band over replications of a daily series, for a few sets."""
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    styles = ["-", "--", ":", "-."]
    for i, s in enumerate(sets):
        sub = ts[ts["set"] == s]
        if sub.empty or series not in sub:
            continue
        g = sub.groupby("day")[series]
        q = g.quantile(np.array([0.05, 0.5, 0.95])).unstack()
        ax.fill_between(q.index, q[0.05], q[0.95], color=GREYS[min(i + 1, 3)], alpha=0.35, lw=0)
        ax.plot(q.index, q[0.5], color=GREYS[min(i, 3)], ls=styles[i % 4], lw=1.4, label=f"{s} (median, 90% band)")
    ax.set_xlabel("day of the scenario")
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_title(ylabel, loc="left", fontsize=9, fontweight="bold")
    fig.tight_layout()
    return fig


def crn_efficiency(table: pd.DataFrame, outcomes: list[str], order: list[str]) -> Any:
    """Variance of paired differences relative to independent sampling, per set (log scale)."""
    sets = [s for s in order if s != "baseline"]
    fig, ax = plt.subplots(figsize=(_width(sets, 5.5, 7.5), 0.32 * len(order) + 1.4))
    y = np.arange(len(sets))[::-1]
    for k, o in enumerate(outcomes):
        sub = table[table["outcome"] == o].set_index("set").reindex(sets)
        ratio = sub["crn_variance_ratio"].to_numpy(dtype=float)
        ratio = np.where(ratio > 0, ratio, np.nan)
        ax.plot(ratio, y, ls="none", marker=MARKERS[k % len(MARKERS)], color=GREYS[k % 3], label=o, ms=5)
    ax.axvline(1.0, color="black", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, sets)
    ax.set_xlabel("var(paired difference) / (var(set) + var(baseline))  [ratio, log scale; 1 = no gain]")
    ax.legend(fontsize=7, frameon=False, loc="best")
    ax.set_title("Efficiency gained from common random numbers", loc="left", fontsize=9, fontweight="bold")
    fig.tight_layout()
    return fig
