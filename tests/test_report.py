"""Comparison statistics, the ranked table, and the HTML report (in a real browser)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from scenario_sim.analysis.compare import RunData, compare, ranking
from scenario_sim.experiment import run_experiment
from scenario_sim.report.html import write_report
from scenario_sim.runs import Manifest, OutcomeInfo, ScenarioRef
from tests.helpers import minimal_doc

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def _fake(values: dict[str, list[float]], direction: str = "lower") -> RunData:
    sets = list(values)
    n = len(values[sets[0]])
    frame = pd.DataFrame({
        "set": [s for s in sets for _ in range(n)],
        "replication": [r for _ in sets for r in range(n)],
        "error": [None] * (n * len(sets)),
        "x": [v for s in sets for v in values[s]],
    })
    ref = ScenarioRef("fake", "fake.yaml", None, "")
    m = Manifest(scenario=ref, seed=1, seed_source="test", replications_asked=n, replications_target=n,
                 batch_size=n, chunk_size=n, sets=sets, primary="x")
    return RunData(Path("."), m, sets, [OutcomeInfo("x", "units", direction, "test", True)], frame)  # type: ignore[arg-type]


def test_paired_interval_equals_a_hand_computation() -> None:
    base = [10.0, 12.0, 9.0, 14.0, 11.0, 13.0]
    a = [8.0, 11.0, 9.5, 11.0, 10.0, 12.5]
    b = [10.5, 12.0, 9.0, 15.0, 11.5, 13.0]
    t = compare(_fake({"baseline": base, "a": a, "b": b}))
    row = t[t["set"] == "a"].iloc[0]
    d = np.array(a) - np.array(base)
    n = len(d)
    level = 1 - 0.05 / 2  # Bonferroni over two sets
    h = stats.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / math.sqrt(n)
    assert row["diff"] == pytest.approx(d.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - h, d.mean() + h))
    assert row["relative_change"] == pytest.approx(d.mean() / np.mean(base))
    assert row["p_beat_baseline"] == pytest.approx(np.mean(d < 0))  # lower is better
    # P(best): per replication, the lowest value among all three sets (ties split)
    x = np.array([base, a, b]).T
    best = (x == x.min(axis=1, keepdims=True))
    assert row["p_best"] == pytest.approx((best / best.sum(axis=1, keepdims=True)).mean(axis=0)[1])
    p_a = 2 * stats.t.sf(abs(d.mean()) / (d.std(ddof=1) / math.sqrt(n)), n - 1)
    db = np.array(b) - np.array(base)
    p_b = 2 * stats.t.sf(abs(db.mean()) / (db.std(ddof=1) / math.sqrt(n)), n - 1)
    holm_a = min(1, 2 * min(p_a, p_b)) if p_a <= p_b else max(min(1, 2 * p_b), p_a)
    assert row["p_value_holm"] == pytest.approx(holm_a)
    assert "Bonferroni" in row["adjustment"]


def _one_bootstrap(d: np.ndarray, level: float, seed: int, n_boot: int) -> tuple[float, float]:  # type: ignore[type-arg]
    """The percentile bootstrap of one array, written out: what compare's shared draws must equal."""
    if np.all(d == d[0]):
        return float(d[0]), float(d[0])
    idx = np.random.default_rng(seed).integers(0, d.size, size=(n_boot, d.size))
    lo, hi = np.quantile(d[idx].mean(axis=1), [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def test_bootstrap_intervals_shared_per_set_equal_one_bootstrap_per_outcome() -> None:
    """compare draws each set's resampling indices once for all its bootstrapped outcomes; every
    interval must be exactly the one-array bootstrap of that paired difference (same seed), also
    for an outcome whose pairs are fewer (a missing value) and one that does not differ at all."""
    rng = np.random.default_rng(3)
    n = 40
    sets = ["baseline", "a", "b"]
    vals = {o: {s: rng.gamma(2.0, 3.0, n) for s in sets} for o in ("x", "y", "z")}
    vals["y"]["b"][5] = np.nan  # one pair fewer for y
    vals["z"]["a"] = vals["z"]["baseline"].copy()  # no difference at all on z
    frame = pd.DataFrame({"set": [s for s in sets for _ in range(n)],
                          "replication": [r for _ in sets for r in range(n)], "error": [None] * (n * len(sets)),
                          **{o: np.concatenate([vals[o][s] for s in sets]) for o in vals}})
    ref = ScenarioRef("fake", "fake.yaml", None, "")
    m = Manifest(scenario=ref, seed=11, seed_source="test", replications_asked=n, replications_target=n,
                 batch_size=n, chunk_size=n, sets=sets, primary="x", key=["y", "z"])
    outcomes = [OutcomeInfo(o, "units", "lower", "test", True) for o in vals]
    t = compare(RunData(Path("."), m, sets, outcomes, frame), n_boot=300)  # type: ignore[arg-type]
    level = 1 - 0.05 / 2
    for j, s in enumerate(sets[1:], start=1):
        for o in vals:
            keep = ~np.isnan(vals[o]["b"]) if o == "y" else np.ones(n, dtype=bool)
            d = (vals[o][s] - vals[o]["baseline"])[keep]
            row = t[(t["set"] == s) & (t["outcome"] == o)].iloc[0]
            assert (row["boot_low"], row["boot_high"]) == _one_bootstrap(d, level, 11 + 7919 * j, 300), (s, o)
    assert t[t["set"] == "baseline"]["boot_low"].isna().all()


def test_higher_is_better_direction_flips_beating() -> None:
    t = compare(_fake({"baseline": [1.0, 2.0, 3.0], "up": [2.0, 3.0, 4.0]}, direction="higher"))
    up = t[t["set"] == "up"].iloc[0]
    assert up["p_beat_baseline"] == 1.0 and up["p_best"] == 1.0
    assert ranking(t, "x")["set"].tolist() == ["up", "baseline"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = minimal_doc()
    d.update(name="cmp", horizon_days=60, replications=30, seed=3)
    d["contacts"] = {"scheduled": [{"date": 10}, {"date": 30}]}
    d["recommendations"] = [
        {"name": "same", "description": "changes nothing", "changes": {"air_defense.systems.guns.pk.drone": 0.5}},
        {"name": "perfect", "description": "perfect interceptors",
         "changes": {"air_defense.systems.guns.pk.drone": 1.0, "air_defense.systems.guns.capacity_per_wave": 10**6}},
        {"name": "slightly_better", "changes": {"air_defense.systems.guns.pk.drone": 0.55}},
    ]
    d["outputs"] = {"primary": "leaked.total", "key": ["civilian_harm", "energy.mean"]}
    tmp = tmp_path_factory.mktemp("cmp")
    p = tmp / "cmp.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return run_experiment(p, jobs=1, out=tmp / "res", timeseries=True).run_dir


def test_identical_set_has_exactly_zero_difference(run_dir: Path) -> None:
    t = compare(run_dir)
    same = t[t["set"] == "same"]
    assert len(same) > 10
    assert (same["diff"] == 0).all() and (same["ci_low"] == 0).all() and (same["ci_high"] == 0).all()
    assert (same["diff_sd"] == 0).all()
    rated = same[same["direction"] != "none"]
    assert (rated["p_beat_baseline"] == 0).all()


def test_better_by_construction_ranks_first_with_interval_excluding_zero(run_dir: Path) -> None:
    t = compare(run_dir)
    r = ranking(t, "leaked.total")
    assert r.iloc[0]["set"] == "perfect" and r.iloc[0]["mean"] == 0
    assert r.iloc[0]["ci_high"] < 0 and not r.iloc[0]["ci_includes_zero"]
    assert r.iloc[0]["p_best"] == 1.0 and r.iloc[0]["p_beat_baseline"] == 1.0
    harm = t[(t["set"] == "perfect") & (t["outcome"] == "civilian_harm")].iloc[0]
    assert not math.isnan(harm["boot_low"]) and harm["boot_high"] <= 0  # bootstrap for the skewed outcome


def test_compare_formats(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scenario_sim.cli import main

    for fmt, check in (("csv", "rank,set,"), ("json", '"set": "perfect"'), ("markdown", "| rank | set |"),
                       ("table", "perfect")):
        with pytest.raises(SystemExit) as exc:
            main(["compare", str(run_dir), "--format", fmt])
        out = capsys.readouterr().out
        assert exc.value.code == 0 and check in out, fmt
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(run_dir), "--rank-by", "waves"])
    assert exc.value.code == 2 and "no better direction" in capsys.readouterr().err
    assert (run_dir / "comparison.csv").exists()


def test_report_is_self_contained(run_dir: Path) -> None:
    p = write_report(run_dir)
    text = p.read_text()
    headings = ("The decision in brief", "Ranking by leaked.total", "Paired differences", "Distributions",
                "Over time", "Efficiency from common random numbers", "Failures and warnings",
                "Appendix: what was run")
    at = [text.index(h) for h in headings]
    assert at == sorted(at)  # the brief first, the metadata last
    assert not re.search(r"""(src|href)=["']?https?:""", text)
    assert not re.search(r"<script[^>]*\bsrc=", text)  # inline scripts only: nothing fetched
    assert len(re.findall(r"<script", text)) == 2  # the picker's data and its code
    imgs = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', text)
    assert len(imgs) >= 5
    # the picker offers every set but the baseline, in ranking order, the leader chosen
    opts = re.findall(r'<option value="([^"]+)"( selected)?>', text)
    assert [o for o, _ in opts] == [s for s in ranking(compare(run_dir), "leaked.total")["set"] if s != "baseline"]
    assert opts[0][1] == " selected"
    data = json.loads(re.search(r'<script type="application/json" id="fan-data">(.*?)</script>', text, re.S)
                      .group(1).replace("<\\/", "</"))
    assert [s["id"] for s in data["series"]] == ["energy", "launches", "leakers"]
    ts = pd.read_parquet(run_dir / "timeseries.parquet", filters=[("set", "==", "perfect")])
    q = ts.groupby("day")["energy"].quantile(0.5)
    assert data["series"][0]["sets"]["perfect"]["mid"] == pytest.approx(q.to_numpy(), rel=1e-3)
    plots = sorted(x.name for x in (run_dir / "plots").glob("*.png"))
    assert "forest.png" in plots and "fan-energy.png" in plots and "crn-efficiency.png" in plots


CHECK = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
const origError = console.error; console.error = (...a) => { window.__errors.push(a.join(' ')); origError(...a); };
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length;
  document.body.setAttribute('data-images', imgs.length);
  document.body.setAttribute('data-bad-images', bad);
  // the time-chart picker: every set in turn must redraw every chart for it
  const pick = document.getElementById('fan-pick');
  let picked = 0, drawn = 0;
  if (pick) {
    for (const opt of Array.from(pick.options)) {
      pick.value = opt.value;
      pick.dispatchEvent(new Event('change'));
      picked++;
      const charts = Array.from(document.querySelectorAll('svg.fan'));
      const ok = charts.every(svg => svg.getAttribute('data-set') === opt.value
        && svg.querySelector('polyline[data-set="' + opt.value + '"]') !== null
        && svg.querySelector('polyline[data-set="baseline"]') !== null
        && svg.querySelectorAll('polygon').length === 2);
      if (ok && document.getElementById('fan-chosen').textContent === opt.text) drawn++;
    }
    pick.value = pick.options[0].value;
    pick.dispatchEvent(new Event('change'));
  }
  document.body.setAttribute('data-options', pick ? pick.options.length : 0);
  document.body.setAttribute('data-picked', picked);
  document.body.setAttribute('data-drawn', drawn);
  document.body.setAttribute('data-errors', window.__errors.length);
});
</script>"""


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.browser
def test_report_renders_in_headless_chromium(run_dir: Path) -> None:
    exe = _chromium()
    if exe is None:
        pytest.skip("Chromium not found: install Debian's package with 'apt-get install -y chromium' "
                    "(.ci/run does this) to run the browser test")
    report = write_report(run_dir)
    probe = run_dir / "report-probe.html"
    probe.write_text(report.read_text().replace("<head>", "<head>" + CHECK, 1))
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={run_dir / '.chromium'}", "--virtual-time-budget=10000"]
    r = subprocess.run([*flags, "--enable-logging=stderr", "--v=0", "--dump-dom", probe.as_uri()],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    body = re.search(r"<body[^>]*>", r.stdout)
    assert body, r.stdout[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="(\d+)"', body.group(0)))
    assert int(attrs["images"]) >= 5, attrs
    assert attrs["bad-images"] == "0" and attrs["errors"] == "0", attrs
    assert int(attrs["options"]) == 3 and attrs["picked"] == attrs["options"] == attrs["drawn"], attrs
    console = [ln for ln in r.stderr.splitlines() if "CONSOLE" in ln and "report-probe" in ln]
    assert not console, console
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    s = subprocess.run([*flags, "--window-size=1200,2600", f"--screenshot={shot}", report.as_uri()],
                       capture_output=True, text=True, timeout=120, check=False)
    assert s.returncode == 0 and shot.exists() and shot.stat().st_size > 10_000, s.stderr[-2000:]


def test_one_number_rule_per_column() -> None:
    """Every number of a ranking column has the same decimals: enough for two significant
    digits of the narrowest interval (docs/statistics.md, "How numbers are shown")."""
    from scenario_sim.report.table import column_format, render

    f = column_format([-455.3, -6.474, 2012.8], [58.5, 4.35])
    assert (f(-455.3), f(-6.474), f(2012.8)) == ("-455.3", "-6.5", "2,012.8")
    assert f(-0.01) == "0.0"  # a value that rounds to zero has no sign
    assert column_format([0.31], [900.0], decimals=(2, 3))(-0.0312) == "-0.03"  # shares keep 2 decimals
    g = column_format([0.2493, 0.00604], [0.023, 0.0013])
    assert (g(0.00604), g(0.2493), g(0.0)) == ("0.0060", "0.2493", "0.0000")  # no 6.04e-03 beside 0.249
    assert column_format([0.5], [0.0]).decimals == 3  # no interval: three significant digits
    usd = column_format([9.2884e8, 1.05e9], [1.25e8], "USD")
    assert (usd(9.2884e8), usd(-8.0e8)) == ("$0.93bn", "-$0.80bn")

    ranked = pd.DataFrame({
        "rank": [1, 2, 3], "set": ["a", "b", "baseline"], "mean": [1557.5, 2006.03, 2012.8],
        "diff": [-455.3, -6.474, math.nan], "ci_low": [-513.8, -10.8, math.nan],
        "ci_high": [-396.8, -2.1, math.nan], "unit": "casualties", "relative_change": [-0.2, -0.003, math.nan],
        "ci_includes_zero": [False, False, False], "p_better": [1.0, 0.6, math.nan], "p_tied": [0.0, 0.3, math.nan],
        "p_worse": [0.0, 0.1, math.nan], "p_best": [1.0, 0.0, 0.0]})
    md = render(ranked, "markdown", "t", "n")
    cells = [ln.split("|")[3:5] for ln in md.splitlines() if ln.startswith("| ") and "rank" not in ln]
    numbers = re.findall(r"-?\d[\d,]*(?:\.\d+)?", " ".join(c for row in cells for c in row))
    assert numbers and {len(x.split(".")[1]) if "." in x else 0 for x in numbers} == {1}, numbers


def test_cost_tables_have_one_number_rule_per_column() -> None:
    """Benefit per $1M: no 8.11e-03 beside 1.511 (the same decimals in the column); the added
    cost is scaled cell by cell ($12.17m beside $3.94bn)."""
    from scenario_sim.report.costs import cost_rows

    nan = math.nan
    ce = pd.DataFrame({
        "set": ["a", "b", "c"], "benefit": ["casualties averted per $1M"] * 3,
        "per_musd": [1.511, 0.0101, nan], "per_musd_low": [1.126, 0.00811, nan], "per_musd_high": [1.895, 0.012, nan],
        "method": ["delta", "fixed", "no added cost"], "cost_diff": [12.17e6, 3.942e9, 0.0],
        "cost_diff_low": [11.5e6, nan, nan], "cost_diff_high": [12.85e6, nan, nan],
        "cost_stochastic": [True, False, False]})
    rows = {r["set"]: r for r in cost_rows(ce)}
    per = [rows[s]["casualties averted per $1M"] for s in ("a", "b")]
    assert per == ["1.5110 [1.1260, 1.8950]", "0.0101 [0.0081, 0.0120]"], per
    assert rows["c"]["casualties averted per $1M"] == "no added cost"
    assert rows["a"]["added cost [95% CI]"] == "$12.17m [$11.50m, $12.85m]"
    assert rows["b"]["added cost [95% CI]"] == "$3.94bn (fixed)"


def test_html_ranking_uses_one_number_rule_per_column(run_dir: Path) -> None:
    """The report's ranking table shows the mean and difference columns with the same decimals
    in every row (the terminal's rule), not each row formatted on its own."""
    text = write_report(run_dir).read_text()
    start = text.index("Ranking by leaked.total")
    table = text[start:text.index("</table>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S) for r in rows]
    numbers = [n for c in cells for n in re.findall(r"-?\d[\d,]*(?:\.\d+)?", c[2] + " " + c[3])]
    decimals = {len(n.split(".")[1]) if "." in n else 0 for n in numbers}
    assert len(numbers) >= 4 and len(decimals) == 1, numbers
