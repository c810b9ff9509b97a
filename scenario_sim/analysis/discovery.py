"""Scenario discovery: in which region of the uncertain inputs does something happen?

Two questions, each turned into a yes/no label per point (case in a world):

* **"When does set A fail the threshold?"** — the point mean of A misses the outcome's bound in
  ``outputs.thresholds`` (or one given here).
* **"When does set A beat set B?"** — on the *paired* difference: the mean over the point's
  replications of ``A_r - B_r`` (same streams, so the case's luck cancels) is better than
  ``margin`` in the outcome's direction.

**PRIM** (Friedman and Fisher 1999) peels the input space down to a box where the label is
common.  For the box it reports **coverage** (the share of all labelled points inside it),
**density** (the share of points inside it that are labelled) and **mass** (the share of points
inside it), the **restricted inputs** with their limits and quasi-p-values (the chance that a
restriction this strong would arise by chance), and the whole **peeling trajectory**.  The box
reported is the one with the highest coverage among those whose density reaches ``density``
(default 0.8); when none does, the densest.  The implementation is EMA Workbench's
``ema_workbench.analysis.prim`` (BSD licence, maintained with the workbench; see the README's
dependency table for why not the stand-alone ``prim`` package).

**CART** (scikit-learn's decision tree, depth 3, leaves of at least 5% of the points) is a
second view: each leaf where the label is the majority is a box, with its own coverage and
density.  Trees split greedily and axis by axis; where PRIM and CART agree on the inputs that
matter the finding is robust to the method.  A leaf's rule is printed with the splits on one
input merged and the one-hot columns of a categorical input turned back into the categories they
test (:func:`rule_text`: ``world != smokescreen``, not ``world=smokescreen <= 0.5``).

The world, when the run has several, is a categorical input like any other.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scenario_sim.analysis.ensemble import (
    EnsembleRun,
    Threshold,
    better_sign,
    paired_point_stats,
    point_inputs,
    point_means,
)
from scenario_sim.errors import UserError

DENSITY = 0.8
PEEL_ALPHA = 0.05
MASS_MIN = 0.05
TREE_DEPTH = 3


class NothingToDiscover(UserError):
    """The label is the same at every point: there is no region to find.

    A valid question whose answer is "always" or "never", not bad input: ``scenario-sim
    discover`` prints the sentence and exits 0.  It stays an exception in the Python API, so a
    caller cannot mistake it for a :class:`Discovery`; its fields say what was asked and found.
    It subclasses :class:`UserError` only so that a caller who does not catch it still gets the
    one-line message rather than a traceback.
    """

    def __init__(self, question: str, outcome: str, points: int, positives: int) -> None:
        self.question, self.outcome, self.points, self.positives = question, outcome, points, positives
        always = positives == points
        super().__init__(f"{question} {'Always' if always else 'Never'}, in all {points} cases: "
                         "there is no region to find")


@dataclass
class Discovery:
    """The result of one discovery question (see the module docstring)."""

    question: str
    outcome: str
    unit: str
    points: int
    positives: int
    trajectory: pd.DataFrame  # id, coverage, density, mass, res_dim
    box_id: int
    coverage: float
    density: float
    mass: float
    limits: pd.DataFrame  # input, low, high, categories, restricted_low, restricted_high, qp_value, full_low, full_high
    cart: pd.DataFrame  # leaf, rule, coverage, density, mass, n
    cart_text: str
    inputs: list[str] = field(default_factory=list)

    @property
    def restricted(self) -> list[str]:
        """The inputs the chosen box restricts."""
        return [str(i) for i in self.limits["input"]]

    def describe(self) -> str:
        """One sentence a planner can read."""
        if self.limits.empty:
            return (f"{self.question}: no box restricts any input (PRIM found no region; "
                    f"{self.positives} of {self.points} cases are labelled).")
        parts = [_limit_text(r) for r in self.limits.to_dict("records")]
        return (f"{self.question}: mostly when {' and '.join(parts)} (coverage {self.coverage:.0%}, "
                f"density {self.density:.0%}, {self.mass:.0%} of the cases; "
                f"{self.positives} of {self.points} cases labelled).")


def _limit_text(r: Mapping[Any, Any]) -> str:
    if r["categories"]:
        return f"{r['input']} in {{{r['categories']}}}"
    lo = r["low"] if r["restricted_low"] else None
    hi = r["high"] if r["restricted_high"] else None
    if lo is not None and hi is not None:
        return f"{lo:.4g} ≤ {r['input']} ≤ {hi:.4g}"
    if lo is not None:
        return f"{r['input']} ≥ {lo:.4g}"
    return f"{r['input']} ≤ {hi:.4g}"


def label(run: EnsembleRun, set_name: str, outcome: str, versus: str | None = None,
          threshold: Threshold | None = None, margin: float = 0.0) -> tuple[pd.Series, str]:
    """The yes/no label per point for the question, and the question in words."""
    meta = run.outcome(outcome)
    run.check_sets([set_name] + ([versus] if versus else []))
    if versus is not None:
        if versus == set_name:
            raise UserError(f"--versus: compare {set_name!r} with another set")
        sign = better_sign(meta)
        d = paired_point_stats(run, outcome, set_name, versus)["diff"]
        word = "fewer" if meta.direction == "lower" else "more"
        extra = f" by more than {margin:g} {meta.unit}" if margin else ""
        return (sign * d > margin).rename("label"), f"When does {set_name} beat {versus} ({word} {outcome}{extra})?"
    th = threshold or run.thresholds.get(outcome)
    if th is None:
        raise UserError(f"no threshold for {outcome!r}: add outputs.thresholds.{outcome} to the scenario, "
                        "or pass --threshold (or compare two sets with --versus)")
    means, _ = point_means(run, outcome, [set_name])
    fails = ~th.met(means[set_name].to_numpy())
    return (pd.Series(fails, index=means.index, name="label"),
            f"When does {set_name} fail {th.describe(meta.unit)}?")


def _prim(x: pd.DataFrame, y: np.ndarray, density: float, peel_alpha: float,  # type: ignore[type-arg]
          mass_min: float) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    with warnings.catch_warnings():  # the workbench warns about optional extras it does not need here
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

        p = prim.Prim(x, y, threshold=density, peel_alpha=peel_alpha, mass_min=mass_min)
        box = p.find_box()
        traj = box.peeling_trajectory[["id", "coverage", "density", "mass", "res_dim"]].copy()
        ok = traj[traj["density"] >= density - 1e-12]
        pick = (ok.sort_values(["coverage", "density", "id"], ascending=[False, False, True]) if not ok.empty
                else traj.sort_values(["density", "coverage", "id"], ascending=[False, False, True]))
        i = int(pick["id"].iloc[0])
        # box.qp[i]: {restricted input: [qp of the lower limit, qp of the upper limit], -1 = none}.
        # (inspect(style="data") would give the same, but it fails on categorical inputs with pandas 3)
        qp = {str(k): [float(v) for v in vals if v is not None and v >= 0] for k, vals in box.qp[i].items()}
        return traj.reset_index(drop=True), i, _limits(qp, box.box_lims[i], box.prim.box_init)


def _limits(qp: dict[str, list[float]], box: pd.DataFrame, init: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name in sorted(qp, key=lambda n: min(qp[n], default=1.0)):
        lo: Any = box.loc[0, name]
        hi: Any = box.loc[1, name]
        q = max(qp[name]) if qp[name] else math.nan
        if isinstance(lo, set):
            rows.append({"input": name, "low": math.nan, "high": math.nan,
                         "categories": ", ".join(sorted(str(v) for v in lo)), "restricted_low": False,
                         "restricted_high": False, "qp_value": q, "full_low": math.nan, "full_high": math.nan})
            continue
        rows.append({"input": name, "low": float(lo), "high": float(hi), "categories": "",
                     "restricted_low": bool(lo > float(init.loc[0, name])),  # type: ignore[arg-type]
                     "restricted_high": bool(hi < float(init.loc[1, name])),  # type: ignore[arg-type]
                     "qp_value": q, "full_low": float(init.loc[0, name]),  # type: ignore[arg-type]
                     "full_high": float(init.loc[1, name])})  # type: ignore[arg-type]
    cols = ["input", "low", "high", "categories", "restricted_low", "restricted_high", "qp_value",
            "full_low", "full_high"]
    return pd.DataFrame(rows, columns=cols)


# One split on a path from the root: (column of the one-hot design, True for the "> threshold" side, threshold).
_Split = tuple[str, bool, float]


def rule_text(splits: list[_Split], categorical: Mapping[str, tuple[str, list[str]]]) -> str:
    """A path of tree splits as a rule a planner reads: the splits on one numeric input merged
    into ``low < x ≤ high``, and one-hot splits (``world=smokescreen ≤ 0.5``) turned back into the
    category they test (``world != smokescreen``, ``world = restraint``, ``world in {a, b}``).

    ``categorical`` maps a one-hot column to (input, every category of that input)."""
    low: dict[str, float] = {}
    high: dict[str, float] = {}
    allowed: dict[str, set[str]] = {}
    every: dict[str, list[str]] = {}
    order: list[str] = []
    for col, above, thr in splits:
        if col in categorical:
            name, values = categorical[col]
            value = col[len(name) + 1:]
            every[name] = values
            keep = allowed.setdefault(name, set(values))
            allowed[name] = keep & {value} if above else keep - {value}
        else:
            name = col
            if above:
                low[name] = max(low.get(name, thr), thr)
            else:
                high[name] = min(high.get(name, thr), thr)
        if name not in order:
            order.append(name)
    parts = [_category_text(n, every[n], allowed[n]) if n in allowed else _range_text(n, low.get(n), high.get(n))
             for n in order]
    return " and ".join(parts) or "(all cases)"


def _category_text(name: str, every: list[str], allowed: set[str]) -> str:
    keep = [v for v in every if v in allowed]
    gone = [v for v in every if v not in allowed]
    if len(keep) == 1:
        return f"{name} = {keep[0]}"
    if len(gone) == 1:
        return f"{name} != {gone[0]}"
    return f"{name} in {{{', '.join(keep)}}}"


def _range_text(name: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:.4g} < {name} ≤ {high:.4g}"
    if low is not None:
        return f"{name} > {low:.4g}"
    return f"{name} ≤ {high:.4g}"


def _one_hot(x: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, tuple[str, list[str]]]]:
    """The design matrix for the tree (categorical inputs one-hot, ``input=value``) and the
    map from each one-hot column back to its input and categories."""
    xx = pd.get_dummies(x, prefix_sep="=", dtype=float)
    cats: dict[str, tuple[str, list[str]]] = {}
    for name in x.columns:
        if not pd.api.types.is_numeric_dtype(x[name]):
            values = [str(v) for v in (x[name].cat.categories if isinstance(x[name].dtype, pd.CategoricalDtype)
                                       else sorted(x[name].unique()))]
            cats.update({f"{name}={v}": (str(name), values) for v in values})
    return xx, cats


def _cart(x: pd.DataFrame, y: np.ndarray, depth: int, mass_min: float,  # type: ignore[type-arg]
          seed: int) -> tuple[pd.DataFrame, str]:
    from sklearn.tree import DecisionTreeClassifier, export_text

    xx, cats = _one_hot(x)
    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=max(1, math.ceil(mass_min * len(xx))),
                                  random_state=seed).fit(xx.to_numpy(), y)
    t = tree.tree_
    names = list(xx.columns)
    leaf_of = tree.apply(xx.to_numpy())
    rows: list[dict[str, Any]] = []

    def walk(node: int, path: list[_Split]) -> None:
        if t.children_left[node] == -1:
            inside = leaf_of == node
            pos = int(y[inside].sum())
            if pos * 2 > int(inside.sum()):
                rows.append({"leaf": node, "rule": rule_text(path, cats),
                             "coverage": pos / max(1, int(y.sum())), "density": pos / int(inside.sum()),
                             "mass": float(inside.mean()), "n": int(inside.sum())})
            return
        f, thr = names[int(t.feature[node])], float(t.threshold[node])
        walk(int(t.children_left[node]), [*path, (f, False, thr)])
        walk(int(t.children_right[node]), [*path, (f, True, thr)])

    walk(0, [])
    cols = ["leaf", "rule", "coverage", "density", "mass", "n"]
    table = pd.DataFrame(rows, columns=cols).sort_values("coverage", ascending=False).reset_index(drop=True)
    return table, export_text(tree, feature_names=names, decimals=4)


def discover(run: EnsembleRun, set_name: str, outcome: str | None = None, versus: str | None = None,
             threshold: Threshold | None = None, margin: float = 0.0, density: float = DENSITY,
             peel_alpha: float = PEEL_ALPHA, mass_min: float = MASS_MIN, tree_depth: int = TREE_DEPTH) -> Discovery:
    """PRIM and CART for "when does ``set_name`` fail?" or, with ``versus``, "when does it beat ``versus``?"."""
    name = outcome or run.primary
    meta = run.outcome(name)
    lab, question = label(run, set_name, name, versus, threshold, margin)
    y = lab.to_numpy(dtype=bool)
    if y.all() or not y.any():
        raise NothingToDiscover(question, name, len(y), int(y.sum()))
    x = point_inputs(run, lab.index, with_world=True)
    traj, i, limits = _prim(x, y, density, peel_alpha, mass_min)
    row = traj[traj["id"] == i].iloc[0]
    cart, text = _cart(x, y, tree_depth, mass_min, run.seed)
    return Discovery(question, name, meta.unit, len(y), int(y.sum()), traj, i, float(row["coverage"]),
                     float(row["density"]), float(row["mass"]), limits, cart, text, list(x.columns))
