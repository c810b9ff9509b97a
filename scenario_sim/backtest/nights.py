"""Nights: launches, destroyed and lost-to-EW counts per night and class, recorded and simulated.

A *night* is a calendar day: records are dated by launch (``time_start``, calibrate's default)
and a simulated wave by the day its time falls in (waves fly at night, ``WAVE_TIME`` of the
day).  Both sides are tables of the same four counts, so every score compares like with like:

* ``launched``: every launch;
* ``known``: launches on records that report ``destroyed`` (simulated: every launch);
* ``destroyed``: shot down (simulated: killed by any layer but the electronic-warfare one);
* ``not_reach_goal``: lost to electronic warfare (simulated: killed by the EW layer).

Observed nights come from :func:`scenario_sim.calibrate.command.usable_rows`, so the rows a
backtest scores are exactly those calibrate would use (same sources, classes and dating).
Simulated nights come from :class:`NightRecorder`, a
:class:`~scenario_sim.model.simulation.WaveRecorder` injected into each replication: ``run``
never builds these tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scenario_sim.model.airdefense import LayerResult
from scenario_sim.model.compiled import CompiledScenario

Array = np.ndarray[Any, Any]
COUNTS = ("launched", "known", "destroyed", "not_reach_goal")


@dataclass
class Nights:
    """Per-night counts over ``days`` nights from ``start``: arrays (..., D, C) of COUNTS."""

    start: dt.date
    classes: list[str]
    counts: dict[str, Array]

    @property
    def days(self) -> int:
        return int(self.counts["launched"].shape[-2])

    @property
    def defeated(self) -> Array:
        """Destroyed plus lost to EW, never more than the known launches."""
        return np.asarray(np.minimum(self.counts["destroyed"] + self.counts["not_reach_goal"], self.counts["known"]))

    @property
    def leaked(self) -> Array:
        """Known launches that were not defeated."""
        return self.counts["known"] - self.defeated

    def window(self, start: dt.date, days: int) -> Nights:
        """The nights ``start .. start + days - 1`` (which must lie inside this table)."""
        i = (start - self.start).days
        return Nights(start, self.classes, {k: v[..., i:i + days, :] for k, v in self.counts.items()})

    def month_index(self) -> tuple[Array, list[str]]:
        """Per night, the index of its calendar month, and the month labels (YYYY-MM)."""
        dates = pd.date_range(self.start, periods=self.days, freq="D")
        labels = dates.strftime("%Y-%m")
        names = list(dict.fromkeys(labels))
        lookup = {n: i for i, n in enumerate(names)}
        return np.array([lookup[x] for x in labels]), names


def observed_nights(rows: pd.DataFrame, classes: list[str], start: dt.date, end: dt.date) -> Nights:
    """The recorded nights ``start .. end`` from calibrate's usable rows (date, cls, counts)."""
    idx = pd.date_range(start, end, freq="D")
    r = rows[(rows["date"] >= pd.Timestamp(start)) & (rows["date"] <= pd.Timestamp(end))]
    has = r["destroyed"].notna()
    frame = pd.DataFrame({"date": r["date"], "cls": r["cls"], "launched": r["launched"].astype(float),
                          "known": np.where(has, r["launched"], 0.0),
                          "destroyed": r["destroyed"].fillna(0.0),
                          "not_reach_goal": np.where(has, r["not_reach_goal"].fillna(0.0), 0.0)})
    counts = {}
    for k in COUNTS:
        wide = frame.pivot_table(index="date", columns="cls", values=k, aggfunc="sum") if len(frame) else None
        table = (wide.reindex(index=idx, columns=classes).fillna(0.0) if wide is not None
                 else pd.DataFrame(0.0, index=idx, columns=classes))
        counts[k] = table.to_numpy(dtype=float)
    return Nights(start, list(classes), counts)


@dataclass
class NightRecorder:
    """Collects per-night counts of one replication (a ``WaveRecorder``).

    ``ew_layer`` names the layer whose kills the records call ``not_reach_goal``; kills by
    every other layer are ``destroyed``.
    """

    days: int
    ew_layer: str | None
    counts: dict[str, Array] = field(default_factory=dict)

    def record(self, model: CompiledScenario, times: Array, launched: Array, leaked: Array,
               layers: list[LayerResult]) -> None:
        day = times.astype(np.int64)
        keep = day < self.days
        day = day[keep]
        C = launched.shape[1]
        ew = next((lr.killed for lr in layers if lr.name == self.ew_layer), None)

        def nightly(x: Array) -> Array:
            out = np.zeros((self.days, C), dtype=np.int32)
            for c in range(C):
                out[:, c] = np.bincount(day, weights=x[keep, c], minlength=self.days)[:self.days]
            return out

        self.counts["launched"] = nightly(launched)
        self.counts["known"] = self.counts["launched"]
        lost = nightly(ew) if ew is not None else np.zeros((self.days, C), dtype=np.int32)
        self.counts["not_reach_goal"] = lost
        self.counts["destroyed"] = self.counts["launched"] - nightly(leaked) - lost


def stack(parts: list[dict[str, Array]], start: dt.date, classes: list[str]) -> Nights:
    """Simulated nights of many replications, in replication order: arrays (R, D, C)."""
    return Nights(start, classes, {k: np.stack([p[k] for p in parts]).astype(float) for k in COUNTS})
