"""The frontier plot: every bundle's mean cost against its paired difference in harm from the
baseline, the Pareto frontier joined, numbered and listed under the axes."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # as report.plots: no display needed
import matplotlib.pyplot as plt
import numpy as np


def frontier_figure(f: Any) -> Any:
    """Cost (million USD) against the paired difference in harm with 95% intervals (adjusted as in
    the frontier table); frontier bundles joined, numbered and named below the plot."""
    b = f.bundles
    on = b[b["on_frontier"]].sort_values("cost")
    fig, ax = plt.subplots(figsize=(9, 5.5 + 0.16 * len(on)))
    off = b[~b["on_frontier"]]
    x = off["cost"].to_numpy() / 1e6
    y = off["diff"].to_numpy()
    ax.errorbar(x, y, yerr=np.vstack([y - off["ci_low"].to_numpy(), off["ci_high"].to_numpy() - y]), fmt="o",
                ms=3, color="#999999", ecolor="#cccccc", lw=0.6, label="bundle off the frontier")
    xo, yo = on["cost"].to_numpy() / 1e6, on["diff"].to_numpy()
    ax.errorbar(xo, yo, yerr=np.vstack([yo - on["ci_low"].to_numpy(), on["ci_high"].to_numpy() - yo]), fmt="s-",
                ms=5, color="black", ecolor="#555555", capsize=3, lw=1.2, label="Pareto frontier")
    names = []
    for i, r in enumerate(on.to_dict("records"), start=1):
        ax.annotate(str(i), (r["cost"] / 1e6, r["diff"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        names.append(f"{i}: {'baseline' if r['k'] == 0 else r['items']}")
    ax.axhline(0, color="black", lw=0.8, ls="--")
    ax.set_xlabel("mean cost over the horizon (million USD)")
    ax.set_ylabel(f"{f.outcome}: difference from baseline ({f.unit}); lower is better")
    ax.set_title(f"{len(b)} bundles of {len(f.items)} sets, {f.n} replications each on common random numbers; "
                 "bars: 95% intervals of the paired difference", loc="left", fontsize=9)
    ax.legend(loc="upper right", fontsize=8)
    fig.text(0.01, -0.01, "Frontier: " + "\n".join(names), fontsize=7, va="top", ha="left", family="monospace")
    return fig
