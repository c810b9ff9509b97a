"""The scenario language: shipped files, round trips, patches, and precise errors."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from scenario_sim.cli import main
from scenario_sim.errors import ScenarioError
from scenario_sim.lang import dump_scenario, json_schema, load_scenario
from scenario_sim.lang.loader import read_document
from scenario_sim.lang.yamlsource import plain
from tests.helpers import minimal_doc, write

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
LOCATED = re.compile(r"^\S+?:\d+:\d+: .+")


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), out, err


# --------------------------------------------------------------------------- shipped files


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["validate", str(path)], capsys)
    assert code == 0, err
    assert ": ok (" in out


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_json_schema_accepts_shipped_scenario(path: Path) -> None:
    doc = json.loads(json.dumps(plain(read_document(path)), default=str))
    jsonschema.Draft202012Validator(json_schema()).validate(doc)


def test_json_schema_rejects_what_the_loader_rejects(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(minimal_doc(), default=str))
    doc["air_defense"]["systems"][0]["capacity_per_wav"] = 3
    errors = list(jsonschema.Draft202012Validator(json_schema()).iter_errors(doc))
    assert any("capacity_per_wav" in e.message for e in errors)


def test_reference_has_a_set_per_recommendation_and_a_bundle(reference: Any) -> None:
    names = reference.set_names
    assert names[0] == "baseline"
    assert len(names) == 1 + 7 + 1
    combined = reference.baseline.recommendation("combined")
    assert sorted(combined.include) == sorted(names[1:-1])


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_load_dump_load_gives_the_same_scenario(path: Path, tmp_path: Path) -> None:
    loaded = load_scenario(path)
    for name in loaded.set_names:
        s = loaded.effective(name)
        text = yaml.safe_dump(dump_scenario(s), sort_keys=False)
        again = load_scenario(write(tmp_path, f"{name}.yaml", text)).baseline
        assert again == s


def _leaves(x: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a document to dotted paths, naming list items by their 'name'."""
    out: dict[str, Any] = {}
    if isinstance(x, dict):
        for k, v in x.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(x, list) and x and all(isinstance(i, dict) and "name" in i for i in x):
        for item in x:
            out.update(_leaves(item, f"{prefix}.{item['name']}"))
    else:
        out[prefix] = x
    return out


def _set_paths(loaded: Any, name: str) -> set[str]:
    rec = loaded.baseline.recommendation(name)
    paths = set(rec.changes) | set(rec.scale)
    for inc in rec.include:
        paths |= _set_paths(loaded, inc)
    return paths


def test_show_set_applies_exactly_the_sets_changes(reference: Any, capsys: pytest.CaptureFixture[str]) -> None:
    base = _leaves(dump_scenario(reference.baseline))
    for name in reference.set_names[1:]:
        code, out, err = run_cli(["show", str(ROOT / "scenarios/reference.yaml"), "--set", name], capsys)
        assert code == 0, err
        shown = _leaves(yaml.safe_load(out))
        changed = {k for k in base.keys() | shown.keys() if base.get(k) != shown.get(k)}
        changed.discard("recommendations")
        changed = {c for c in changed if not c.startswith(("recommendations", "costs"))}
        # the set's cost is in force in its effective scenario (and nothing else's)
        assert [c.set for c in reference.effective(name).costs] == [
            s for s in [*reference.baseline.recommendation(name).include, name]
            if reference.baseline.recommendation(s).cost is not None]
        wanted = _set_paths(reference, name)
        assert changed, name
        for c in changed:  # nothing changed that the set did not ask for...
            assert any(c == w or c.startswith(w + ".") for w in wanted), (name, c)
        for w in wanted:   # ...and everything it asked for changed
            assert any(c == w or c.startswith(w + ".") for c in changed), (name, w)


# --------------------------------------------------------------------------- precise errors


def _errors(tmp_path: Path, doc_or_text: Any, capsys: pytest.CaptureFixture[str]) -> list[str]:
    text = doc_or_text if isinstance(doc_or_text, str) else yaml.safe_dump(doc_or_text, sort_keys=False)
    p = write(tmp_path, "x.yaml", text)
    code, _, err = run_cli(["validate", str(p)], capsys)
    assert code == 2
    assert "Traceback" not in err
    return err.strip().splitlines()


def _minimal_with(tmp_path: Path, capsys: Any, old: str, new: str) -> tuple[list[str], int]:
    """Errors for minimal.yaml with one edit, and the line the edit is on."""
    text = (ROOT / "scenarios/minimal.yaml").read_text()
    assert old in text
    text = text.replace(old, new)
    line_no = next(i for i, t in enumerate(text.splitlines(), 1) if new in t)
    return _errors(tmp_path, text, capsys), line_no


def test_out_of_range_probability_names_file_line_field(tmp_path: Path, capsys: Any) -> None:
    lines, line_no = _minimal_with(tmp_path, capsys, "pk: {drone: 0.5}", "pk: {drone: 1.4}")
    assert lines == [f"{tmp_path}/x.yaml:{line_no}:19: air_defense.systems[guns].pk.drone: "
                     "must be between 0 and 1 (got 1.4)"]


@pytest.mark.parametrize(("old", "new", "col", "field", "got"), [
    ("horizon_days: 30", "horizon_days: yes", 15, "horizon_days", "got true: YAML reads"),
    ("pk: {drone: 0.5}", "pk: {drone: on}", 19, "air_defense.systems[guns].pk.drone", "got true: YAML reads"),
    ("size: {dist: poisson, mean: 20}", "size: {dist: poisson, mean: '20'}", 61,
     "attacker.waves.classes.drone.size.mean", "got '20': a quoted number is text"),
    ("guns.pk.drone: 0.7", "guns.pk.drone: \"0.7\"", 42,
     "recommendations[better_guns] -> air_defense.systems[guns].pk.drone", "got '0.7': a quoted number is text"),
])
def test_a_boolean_or_quoted_number_for_a_number_is_an_error_not_a_value(
        tmp_path: Path, capsys: Any, old: str, new: str, col: int, field: str, got: str) -> None:
    """Pydantic's lax mode would read ``yes`` as 1 and ``'20'`` as 20: a silent change of meaning."""
    lines, line_no = _minimal_with(tmp_path, capsys, old, new)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path}/x.yaml:{line_no}:{col}: {field}: expected a number ({got}"), lines[0]


def test_booleans_and_texts_where_the_language_wants_them_still_pass(tmp_path: Path) -> None:
    """The check looks only where the validated scenario holds a number: real switches,
    names and descriptions (even one that reads as a number) are untouched."""
    text = (ROOT / "scenarios/minimal.yaml").read_text()
    text = text.replace("description: Kill probability of the guns up from 0.5 to 0.7.", "description: '0.7'")
    text = text.replace("size: {dist: poisson, mean: 20}", "size: {dist: poisson, mean: 2e1}")  # YAML 1.1: text
    loaded = load_scenario(write(tmp_path, "x.yaml", text))
    assert loaded.effective("better_guns").air_defense.systems[0].pk["drone"] == 0.7
    assert loaded.baseline.attacker.waves.classes["drone"].size.mean() == 20


def test_unknown_key_gets_did_you_mean(tmp_path: Path, capsys: Any) -> None:
    d = minimal_doc()
    d["air_defense"]["systems"][0]["capacity_per_wav"] = d["air_defense"]["systems"][0].pop("capacity_per_wave")
    lines = _errors(tmp_path, d, capsys)
    assert any("capacity_per_wav: unknown field (did you mean 'capacity_per_wave'?)" in ln for ln in lines)
    assert any("capacity_per_wave: required field is missing" in ln for ln in lines)
    assert all(LOCATED.match(ln) for ln in lines)


@pytest.mark.parametrize(("dist", "message"), [
    ("{dist: poisson, mean: 20, sd: 3.0}", "size.sd: sd does not apply to dist: poisson (its fields: mean)"),
    ("{dist: uniform, mean: 20, high: 30}", "size.mean: mean does not apply to dist: uniform (its fields: low, high)"),
    ("{dist: poisson, meen: 20}", "size.meen: unknown field (did you mean 'mean'?)"),
    ("{dist: poisson, mean: 20, sdd: 3}", "size.sdd: unknown field for dist: poisson (its fields: mean)"),
])
def test_a_field_of_another_distribution_is_named_not_suggested_back(tmp_path: Path, capsys: Any, dist: str,
                                                                     message: str) -> None:
    """A distribution's known keys are every dist's, so the closest can be the key itself."""
    lines, line_no = _minimal_with(tmp_path, capsys, "size: {dist: poisson, mean: 20}", f"size: {dist}")
    hits = [ln for ln in lines if message in ln]
    assert len(hits) == 1 and hits[0].startswith(f"{tmp_path}/x.yaml:{line_no}:"), lines
    if "meen" not in dist:  # never a key suggested back to itself
        assert not any("did you mean" in ln for ln in lines), lines


def test_all_problems_reported_at_once(tmp_path: Path, capsys: Any) -> None:
    d = minimal_doc()
    d["horizon_days"] = "thirty"
    d["consequences"]["hit_probability"]["drone"] = -1
    d["attacker"]["waves"]["classes"]["drone"]["size"] = {"dist": "poison", "mean": 3}
    lines = _errors(tmp_path, d, capsys)
    assert len(lines) == 3
    assert any("horizon_days: expected a whole number (got 'thirty')" in ln for ln in lines)
    assert any("unknown distribution 'poison'" in ln for ln in lines)


def test_bad_recommendation_path_points_at_its_line(tmp_path: Path, capsys: Any) -> None:
    lines, line_no = _minimal_with(tmp_path, capsys, "systems.guns.pk", "systems.gunz.pk")
    assert len(lines) == 1
    assert f":{line_no}:" in lines[0]
    assert "no item named 'gunz' in air_defense.systems (did you mean 'guns'?)" in lines[0]


def test_bad_value_in_recommendation_points_at_the_change(tmp_path: Path, capsys: Any) -> None:
    lines, line_no = _minimal_with(tmp_path, capsys, "guns.pk.drone: 0.7", "guns.pk.drone: 7")
    assert lines == [f"{tmp_path}/x.yaml:{line_no}:42: recommendations[better_guns] -> "
                     "air_defense.systems[guns].pk.drone: must be between 0 and 1 (got 7)"]


def test_unknown_class_reference_is_located(tmp_path: Path, capsys: Any) -> None:
    d = minimal_doc()
    d["air_defense"]["systems"][0]["engages"] = ["dron"]
    lines = _errors(tmp_path, d, capsys)
    assert any("air_defense.systems[guns].engages[0]: unknown munition class 'dron'" in ln for ln in lines)


@pytest.mark.parametrize("text, message", [
    ("name: a\nname: b\n", "name: duplicate key (first written at line 1)"),
    ("!!python/object/apply:os.system ['true']\n", "is not allowed"),
    ("- 1\n- 2\n", "a scenario must be a YAML mapping (got a list)"),
    ("", "a scenario must be a YAML mapping (got an empty file)"),
    ("a: [1, 2\n", "invalid YAML"),
    ("a: 1\n\tb: 2\n", "invalid YAML"),
    ("a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
     "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e]\n",
     "alias bomb"),
    ("start_date: 2025-01-01 10:00:00\n", "expected a date"),
])
def test_hostile_or_broken_yaml_is_one_located_line(tmp_path: Path, capsys: Any, text: str, message: str) -> None:
    lines = _errors(tmp_path, text, capsys)
    assert len(lines) == 1
    assert message in lines[0]
    assert LOCATED.match(lines[0])


def test_oversized_file_is_rejected(tmp_path: Path, capsys: Any) -> None:
    p = write(tmp_path, "big.yaml", "a: " + "x" * 1_100_000 + "\n")
    code, _, err = run_cli(["validate", str(p)], capsys)
    assert code == 2 and "larger than" in err


def test_missing_file_is_one_line(capsys: Any) -> None:
    code, _, err = run_cli(["validate", "/nonexistent/x.yaml"], capsys)
    assert code == 2 and err.strip() == "/nonexistent/x.yaml: no such file"


# --------------------------------------------------------------------------- extends


def test_extends_merges_named_lists_by_name_and_keeps_lines(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", (ROOT / "scenarios/minimal.yaml").read_text())
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nname: child\nair_defense:\n  systems:\n"
                  "    - name: guns\n      pk: {drone: 0.9}\n    - name: sam\n      engages: [drone]\n"
                  "      pk: {drone: 2}\n      capacity_per_wave: 5\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(child)
    assert str(exc.value) == f"{child}:9:19: air_defense.systems[sam].pk.drone: must be between 0 and 1 (got 2)"
    child.write_text(child.read_text().replace("drone: 2}", "drone: 0.2}"))
    s = load_scenario(child).baseline
    assert s.name == "child"
    assert [x.name for x in s.air_defense.systems] == ["guns", "sam"]
    assert s.air_defense.systems[0].pk == {"drone": 0.9}
    assert s.air_defense.systems[0].capacity_per_wave == 50  # kept from the base
    assert base.exists()


def test_extends_cycle_and_missing_base(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.yaml")
    write(tmp_path, "c.yaml", "extends: nope.yaml\n")
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "c.yaml")


# --------------------------------------------------------------------------- patches


def test_scale_and_include(tmp_path: Path) -> None:
    d = minimal_doc()
    d["recommendations"] = [
        {"name": "more", "scale": {"air_defense.systems.guns.capacity_per_wave": 1.5}},
        {"name": "both", "include": ["more"], "changes": {"air_defense.systems.guns.pk.drone": 0.9}},
        {"name": "optional", "changes": {"air_defense.readiness.after_contact.enabled": True}},
    ]
    loaded = load_scenario(write(tmp_path, "s.yaml", yaml.safe_dump(d)))
    assert loaded.effective("more").air_defense.systems[0].capacity_per_wave == 75
    both = loaded.effective("both").air_defense.systems[0]
    assert (both.capacity_per_wave, both.pk["drone"]) == (75, 0.9)
    assert loaded.effective("optional").air_defense.readiness.after_contact.enabled
    assert loaded.baseline.air_defense.systems[0].capacity_per_wave == 50


def test_a_set_included_twice_is_applied_once(tmp_path: Path) -> None:
    d = minimal_doc()
    d["recommendations"] = [
        {"name": "more", "scale": {"air_defense.systems.guns.capacity_per_wave": 2}},
        {"name": "a", "include": ["more"]},
        {"name": "b", "include": ["more"]},
        {"name": "both", "include": ["a", "b"]},
    ]
    loaded = load_scenario(write(tmp_path, "s.yaml", yaml.safe_dump(d)))
    assert loaded.effective("both").air_defense.systems[0].capacity_per_wave == 100


@pytest.mark.parametrize("rec, message", [
    ({"name": "x", "scale": {"air_defense.systems.guns.name": 2}}, "scale needs a number"),
    ({"name": "x", "changes": {"air_defense.sistems.guns.pk.drone": 1}}, "did you mean 'systems'"),
    ({"name": "x", "include": ["nope"]}, "unknown recommendation set 'nope'"),
    ({"name": "x", "include": ["x"]}, "forms a cycle"),
    ({"name": "x", "changes": {"recommendations.x.name": "y"}}, "cannot be changed"),
    ({"name": "x", "changes": {"air_defense..pk": 1}}, "malformed path"),
])
def test_bad_patches(tmp_path: Path, capsys: Any, rec: dict[str, Any], message: str) -> None:
    d = minimal_doc()
    d["recommendations"] = [rec]
    lines = _errors(tmp_path, d, capsys)
    assert any(message in ln for ln in lines), lines
    assert all(LOCATED.match(ln) for ln in lines), lines


# --------------------------------------------------------------------------- mutations


REQUIRED = [("name",), ("start_date",), ("horizon_days",), ("munitions",), ("attacker",),
            ("attacker", "waves"), ("air_defense", "readiness", "baseline"), ("consequences", "energy", "floor"),
            ("attacker", "surge", "lag_days"), ("consequences", "hit_probability")]
PROBABILITIES = [("air_defense", "readiness", "baseline"), ("consequences", "energy", "floor"),
                 ("consequences", "civil_defense", "harm_factor_when_active")]


def _paths(x: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out = [(prefix, x)]
    if isinstance(x, dict):
        for k, v in x.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _paths(v, (*prefix, i))
    return out


def _get(d: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        d = d[p]
    return d


mutations = st.one_of(
    st.tuples(st.just("wrong_type"), st.integers(0, 10**6)),
    st.tuples(st.just("unknown_key"), st.integers(0, 10**6)),
    st.tuples(st.just("missing"), st.sampled_from(range(len(REQUIRED)))),
    st.tuples(st.just("out_of_range"), st.sampled_from(range(len(PROBABILITIES)))),
    st.tuples(st.just("bad_path"), st.sampled_from(["air_defense.systems.nope.pk.drone", "attacker.wavez",
                                                    "consequences.energy.floor.x", "..", "munitions.drone.pk"])),
    st.tuples(st.just("broken_yaml"), st.integers(0, 10**6)),
)


@given(mutations)
def test_mutated_scenarios_always_give_located_errors(tmp_path_factory: Any, mutation: tuple[str, Any]) -> None:
    kind, arg = mutation
    d = minimal_doc()
    text = None
    if kind == "wrong_type":
        numeric = [p for p, v in _paths(d) if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and "recommendations" not in p]
        path = numeric[arg % len(numeric)]
        _get(d, path[:-1])[path[-1]] = "oops"
    elif kind == "unknown_key":
        maps = [p for p, v in _paths(d) if isinstance(v, dict)]
        _get(d, maps[arg % len(maps)])["zzz_unknown"] = 1
    elif kind == "missing":
        path = REQUIRED[arg]
        del _get(d, path[:-1])[path[-1]]
    elif kind == "out_of_range":
        path = PROBABILITIES[arg]
        _get(d, path[:-1])[path[-1]] = 1.5
    elif kind == "bad_path":
        d["recommendations"][0]["changes"] = {arg: 1}
    else:
        lines = yaml.safe_dump(d, sort_keys=False).splitlines()
        i = arg % len(lines)
        lines[i] = lines[i] + " : [ {"
        text = "\n".join(lines) + "\n"
    if text is None:
        text = yaml.safe_dump(d, sort_keys=False)
    p = tmp_path_factory.mktemp("m") / "x.yaml"
    p.write_text(text)
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(p)])
    assert exc.value.code == 2
    with pytest.raises(ScenarioError) as err:
        load_scenario(p)
    assert err.value.problems
    for problem in err.value.problems:
        assert problem.line is not None, str(problem)
        assert LOCATED.match(str(problem)), str(problem)


# --------------------------------------------------------------------------- CLI surface


def test_version_schema_and_bad_options(capsys: Any) -> None:
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and "scenario-sim, version" in out
    code, out, _ = run_cli(["schema"], capsys)
    assert code == 0 and json.loads(out)["title"] == "Scenario"
    code, _, err = run_cli(["validate", "--bogus"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "No such option" in err
    code, _, err = run_cli(["show", str(ROOT / "scenarios/minimal.yaml"), "--set", "beter_guns"], capsys)
    assert code == 2 and "unknown recommendation set 'beter_guns' (did you mean 'better_guns'?)" in err
    code, out, _ = run_cli(["show", "minimal"], capsys)
    assert code == 0 and "name: minimal" in out


def test_python_dash_m_works() -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "scenario_sim", "--help"], capture_output=True, text=True, check=False)
    assert r.returncode == 0 and "validate" in r.stdout


# --------------------------------------------------------------------------- issue 13: meaning and reach


EW_MAPPING = """\
extends: reference            # the bundled reference scenario, by name, from any folder
name: ew_mapping
recommendations:
  - name: ew_mapping
    changes:
      air_defense.readiness.early_warning: {enabled: true}
"""


def test_a_mapping_under_changes_merges_into_the_section(tmp_path: Path) -> None:
    """Issue 13.3: the mapping form switches early warning on and keeps detection_probability."""
    loaded = load_scenario(write(tmp_path, "ew.yaml", EW_MAPPING))
    by_map = loaded.effective("ew_mapping")
    dotted = loaded.effective("logistics_monitoring")
    ew = by_map.air_defense.readiness.early_warning
    assert ew.enabled and ew.detection_probability == 0.6
    assert by_map.model_dump(exclude={"costs"}) == dotted.model_dump(exclude={"costs"})  # the same patch
    assert loaded.baseline.air_defense.readiness.early_warning.detection_probability == 0.6


def test_a_distribution_under_changes_replaces_the_distribution(tmp_path: Path) -> None:
    text = EW_MAPPING.replace("air_defense.readiness.early_warning: {enabled: true}",
                              "attacker.surge.probability: {dist: fixed, value: 0.2}\n"
                              "      attacker.surge.lag_days: {values: [1, 2], probs: [0.5, 0.5]}")
    s = load_scenario(write(tmp_path, "d.yaml", text)).effective("ew_mapping")
    assert s.attacker.surge.probability.model_dump() == {"dist": "fixed", "value": 0.2}
    assert s.attacker.surge.lag_days.model_dump() == {"dist": "empirical", "values": [1, 2], "probs": [0.5, 0.5]}


def test_recipe_extend_the_reference_and_add_one_set(tmp_path: Path) -> None:
    """Issue 13.10: the recipe of docs/scenario-language.md, from a folder of its own."""
    doc = (ROOT / "docs" / "scenario-language.md").read_text()
    recipe = re.search(r"<!-- recipe: (\S+) -->\n```yaml\n(.*?)```", doc, re.S)
    assert recipe is not None
    folder = tmp_path / "elsewhere" / "deeper"
    folder.mkdir(parents=True)
    p = write(folder, recipe.group(1), recipe.group(2))
    loaded = load_scenario(p)
    reference = load_scenario(ROOT / "scenarios" / "reference.yaml")
    assert loaded.set_names == [*reference.set_names, "faster_patriot_deliveries"]
    patriot = next(x for x in loaded.effective("faster_patriot_deliveries").air_defense.systems if x.name == "patriot")
    assert patriot.interceptors and patriot.interceptors.resupply
    assert patriot.interceptors.resupply.interval_days == 10
    mine = loaded.baseline.model_dump()
    assert mine == reference.baseline.model_dump() | {"name": "my_study", "recommendations": mine["recommendations"]}


def test_unknown_bundled_name_and_non_yaml_extends_are_located(tmp_path: Path) -> None:
    p = write(tmp_path, "a.yaml", "name: a\nextends: refrence\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    assert exc.value.lines() == [f"{p}:2:10: extends: no bundled scenario named 'refrence' (did you mean "
                                 "'reference'?) (bundled: minimal, reference; a file needs .yaml)"]
    secret = write(tmp_path, "secret.txt", "SECRET_TOKEN: hunter2\n")
    (tmp_path / "sub").mkdir()
    q = write(tmp_path / "sub", "b.yaml", "extends: ../secret.txt\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(q)
    assert "hunter2" not in str(exc.value) and "SECRET" not in str(exc.value)
    assert exc.value.lines() == [f"{q}:1:10: extends: extends names a YAML file: the path must end in .yaml or .yml"]
    assert secret.exists()


def test_errors_of_sets_come_with_the_baselines(tmp_path: Path, capsys: Any) -> None:
    """Issue 13.8: a baseline error and a set error are reported together, each once."""
    d = minimal_doc()
    d["air_defense"]["systems"][0]["pk"]["drone"] = 3
    d["recommendations"] = [{"name": "typo", "changes": {"air_defense.systems.guns.capacity_per_wav": 70}},
                            {"name": "bad_value", "changes": {"consequences.energy.floor": 7}},
                            {"name": "fine", "changes": {"air_defense.readiness.baseline": 0.9}}]
    lines = _errors(tmp_path, d, capsys)
    assert len(lines) == 3, lines
    assert "air_defense.systems[guns].pk.drone: must be between 0 and 1 (got 3)" in lines[0]
    assert any("recommendations[typo].changes.air_defense.systems.guns.capacity_per_wav" in x for x in lines)
    assert any("recommendations[bad_value] -> consequences.energy.floor" in x for x in lines)
    assert all(LOCATED.match(x) for x in lines)


def test_a_set_named_baseline_is_rejected_with_its_line(tmp_path: Path, capsys: Any) -> None:
    d = minimal_doc()
    d["recommendations"].append({"name": "baseline", "changes": {"air_defense.readiness.baseline": 0.5}})
    lines = _errors(tmp_path, d, capsys)
    assert len(lines) == 1 and LOCATED.match(lines[0])
    assert "recommendations[baseline].name: 'baseline' is the implicit set" in lines[0]


# --------------------------------------------------------------------------- issue 14: hostile text


@pytest.mark.parametrize("text, where, message", [
    ("name: x\nnote: \x01\n", "2:7", "unacceptable character #x0001"),
    ("name: x\na: &x [1, *x]\n", "2:4", "recursive alias"),
    ("name: x\na: " + "[" * 1200 + "]" * 1200 + "\n", "2:", "nested more than 50 levels deep"),
    ("name: x\nseed: " + "9" * 5000 + "\n", "2:7", "too many digits"),
    ("name: x\nstart_date: 2025-02-30\n", "2:13", "is not a date we can use"),
])
def test_reader_and_composer_errors_are_one_located_line(tmp_path: Path, capsys: Any, text: str, where: str,
                                                         message: str) -> None:
    lines = _errors(tmp_path, text, capsys)
    assert len(lines) == 1, lines
    assert f"x.yaml:{where}" in lines[0] and message in lines[0] and LOCATED.match(lines[0])
    assert "position" not in lines[0] and "<unicode string>" not in lines[0]


def test_invalid_utf8_is_reported_at_line_and_column(tmp_path: Path, capsys: Any) -> None:
    p = tmp_path / "u.yaml"
    p.write_bytes(b"name: x\ndescription: d\xc3\xa9j\xc3\xa0 caf\xe9\n")
    code, _, err = run_cli(["validate", str(p)], capsys)
    assert code == 2
    assert err.strip() == f"{p}:2:22: not UTF-8 text (invalid continuation byte: byte 0xe9)"


def test_a_bom_is_accepted(tmp_path: Path, capsys: Any) -> None:
    p = tmp_path / "bom.yaml"
    p.write_bytes(b"\xef\xbb\xbf" + (ROOT / "scenarios" / "minimal.yaml").read_bytes())
    code, _, err = run_cli(["validate", str(p)], capsys)
    assert code == 0, err


@pytest.mark.parametrize("factor", [".nan", ".inf", "-.inf", "1e308"])
def test_scale_by_a_non_finite_or_overflowing_factor_is_located(tmp_path: Path, capsys: Any, factor: str) -> None:
    text = (ROOT / "scenarios" / "minimal.yaml").read_text() + (
        "  - name: huge\n    scale:\n      air_defense.systems.guns.capacity_per_wave: " + factor + "\n")
    lines = _errors(tmp_path, text, capsys)
    assert lines and all(LOCATED.match(x) for x in lines), lines
    assert any(":46:" in x and "capacity_per_wave" in x for x in lines), lines


# --------------------------------------------------------------------------- issue 14: hostile extends


def test_extends_reads_only_regular_yaml_files_under_limits(tmp_path: Path) -> None:
    """FIFOs, devices, folders and non-YAML files are refused without being read (and a
    regression cannot hang or exhaust the machine: the child runs under rlimits)."""
    import os

    from tests.hostile import run_limited

    os.mkfifo(tmp_path / "pipe.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "folder.yaml").mkdir()
    secret = write(tmp_path, "secret", "SECRET_TOKEN: hunter2\n")
    cases = {
        "fifo": "extends: pipe.yaml\n", "device": "extends: zero.yaml\n", "folder": "extends: folder.yaml\n",
        "dev_zero": "extends: /dev/zero\n", "secret": f"extends: {secret}\n",
        "shadow": "extends: ../../../../../../../../etc/shadow\n",
    }
    files = [str(write(tmp_path, f"case_{k}.yaml", v)) for k, v in cases.items()]
    r = run_limited(["validate", *files, str(tmp_path / "pipe.yaml"), "/dev/zero"], timeout_s=60)
    assert r.code == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == len(files) + 2, lines
    assert all(LOCATED.match(x) for x in lines[:len(files)]), lines
    for expected in ("is a FIFO (named pipe), expected a YAML file", "is a device, expected a YAML file",
                     "is a directory, expected a YAML file", "must end in .yaml or .yml"):
        assert any(expected in x for x in lines), (expected, lines)
    assert "hunter2" not in r.stderr and "root:" not in r.stderr and "Traceback" not in r.stderr
    assert lines[-2] == f"{tmp_path / 'pipe.yaml'}: is a FIFO (named pipe), expected a YAML file"
    assert lines[-1] == "/dev/zero: is a device, expected a YAML file"


def test_a_diamond_of_extends_reads_each_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scenario_sim.lang import loader

    write(tmp_path, "e.yaml", (ROOT / "scenarios" / "minimal.yaml").read_text())
    write(tmp_path, "d.yaml", "extends: [e.yaml, e.yaml, ./e.yaml]\ndescription: d\n")
    write(tmp_path, "b.yaml", "extends: [d.yaml, d.yaml]\nhorizon_days: 20\n")
    write(tmp_path, "c.yaml", "extends: [d.yaml]\nhorizon_days: 25\n")
    a = write(tmp_path, "a.yaml", "extends: [b.yaml, c.yaml, b.yaml]\nname: a\n")
    reads: list[str] = []
    real = loader.load_file_as

    def counting(path: Any, shown: str) -> Any:
        reads.append(Path(path).name)
        return real(path, shown)

    monkeypatch.setattr(loader, "load_file_as", counting)
    s = load_scenario(a).baseline
    assert sorted(reads) == ["a.yaml", "b.yaml", "c.yaml", "d.yaml", "e.yaml"]
    assert (s.name, s.horizon_days, s.description) == ("a", 25, "d")


def test_a_long_include_chain_and_many_sets_resolve_each_set_once(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation is linear in the number of sets: each set's own edits are applied once
    per set that reaches them through a first include, not once per path."""
    from scenario_sim.lang import loader

    n = 300
    recs = "".join(f"  - name: s{i}\n" + (f"    include: [s{i - 1}]\n" if i else "") +
                   "    scale:\n      air_defense.systems.guns.capacity_per_wave: 1.001\n" for i in range(n))
    text = (ROOT / "scenarios" / "minimal.yaml").read_text().split("recommendations:")[0] + "recommendations:\n" + recs
    applied: list[str] = []
    real = loader.apply_edit

    def counting(doc: Any, edit: Any, root: Any, forbidden: Any = ()) -> None:
        applied.append(edit.path)
        real(doc, edit, root, forbidden)

    monkeypatch.setattr(loader, "apply_edit", counting)
    loaded = load_scenario(write(tmp_path, "chain.yaml", text))
    assert len(applied) == n
    assert loaded.effective(f"s{n - 1}").air_defense.systems[0].capacity_per_wave == 50  # 50.05 rounds to 50


# --------------------------------------------------------------------------- issue 14: bounds and budget


MINIMAL = (ROOT / "scenarios" / "minimal.yaml").read_text()


def _edit(old: str, new: str, text: str = MINIMAL) -> str:
    assert old in text
    return text.replace(old, new, 1)


def _validate_lines(tmp_path: Path, text: str, capsys: Any, name: str = "m.yaml") -> list[str]:
    p = write(tmp_path, name, text)
    code, _, err = run_cli(["validate", str(p)], capsys)
    assert code == 2 and "Traceback" not in err
    return [x.replace(f"{tmp_path}/", "") for x in err.strip().splitlines()]


def test_documented_examples_of_bounds_are_what_validate_prints(tmp_path: Path, capsys: Any) -> None:
    doc = (ROOT / "docs" / "scenario-language.md").read_text()
    for tag, (old, new) in {"nan": ("harm_per_civilian_hit: 0.5", "harm_per_civilian_hit: .nan"),
                            "budget": ("size: {dist: poisson, mean: 20}", "size: {dist: poisson, mean: 1e8}")}.items():
        shown = re.search(rf"<!-- example: {tag} -->\n\s*```\n\s*(.*?)\n", doc)
        assert shown is not None, tag
        assert _validate_lines(tmp_path, _edit(old, new), capsys) == [shown.group(1)]


@pytest.mark.parametrize("old, new, field, message", [
    ("harm_per_civilian_hit: 0.5", "harm_per_civilian_hit: .nan", "consequences.harm_per_civilian_hit", "finite"),
    ("initial_stock: 1000", "initial_stock: .inf", "attacker.arsenal.drone.initial_stock", "finite"),
    ("production_per_day: 20", "production_per_day: -.inf", "attacker.arsenal.drone.production_per_day", "finite"),
    ("unit_cost_usd: 35000 ", "unit_cost_usd: .inf ", "munitions[drone].unit_cost_usd", "finite"),
    ("capacity_per_wave: 50", "capacity_per_wave: 50\n      cost_per_shot_usd: .inf",
     "air_defense.systems[guns].cost_per_shot_usd", "finite"),
    ("readiness: {baseline: 1.0}", "readiness: {baseline: .nan}", "air_defense.readiness.baseline", "finite"),
    ("probability: 0.8, size: {dist: poisson, mean: 20}", "probability: 0.8, size: {dist: poisson, mean: .inf}",
     "attacker.waves.classes.drone.size.mean", "finite"),
    ("readiness: {baseline: 1.0}", "readiness: {baseline: 1.0}\n  systems_x: 1", "air_defense.systems_x",
     "unknown field"),
])
def test_nan_and_inf_are_rejected_where_written(tmp_path: Path, capsys: Any, old: str, new: str, field: str,
                                                message: str) -> None:
    lines = _validate_lines(tmp_path, _edit(old, new), capsys)
    line_no = MINIMAL[:MINIMAL.index(old)].count("\n") + 1 + (1 if new.startswith(old) and "\n" in new else 0)
    assert len(lines) == 1 and lines[0].startswith(f"m.yaml:{line_no}:"), lines
    assert field in lines[0] and message in lines[0]


@pytest.mark.parametrize("edit, field, message", [
    ({"contacts": {"stochastic": {"rate_per_day": 1e7}}}, "contacts.stochastic.rate_per_day", "must be <= 10"),
    ({"contacts": {"stochastic": {"rate_per_day": float("inf")}}}, "contacts.stochastic.rate_per_day", "finite"),
    ({"attacker": {"waves": {"schedule": "poisson", "waves_per_day": 1e300}}}, "attacker.waves.waves_per_day",
     "must be <= 24"),
    ({"attacker": {"waves": {"waves_per_day": float("inf")}}}, "attacker.waves.waves_per_day", "finite"),
    ({"air_defense": {"systems": [{"name": "guns", "interceptors": {"initial_stock": 10, "resupply": {
        "first": 0, "interval_days": 1e-9, "quantity": 5}}}]}},
     "air_defense.systems[guns].interceptors.resupply.interval_days", "must be >= 1"),
    ({"horizon_days": 3651}, "horizon_days", "must be <= 3650"),
    ({"attacker": {"growth": {"regime_after_days": -1}}}, "attacker.growth.regime_after_days", "must be >= 0"),
    ({"attacker": {"growth": {"regime_log_shock_per_month": {"dist": "triangular", "low": 1, "mode": 0, "high": 2}}}},
     "attacker.growth.regime_log_shock_per_month", "mode"),
    ({"attacker": {"waves": {"size_growth_per_month": 3}}}, "attacker.waves.size_growth_per_month", "must be <= 1"),
    ({"attacker": {"waves": {"classes": {"drone": {"size": {"dist": "negbin", "mean": 20, "dispersion": 1e-300}}}}}},
     "attacker.waves.classes.drone.size.dispersion", "must be >= 0.01"),
    ({"attacker": {"waves": {"classes": {"drone": {"size": {"dist": "uniform", "low": 0, "high": 1e9}}}}}},
     "attacker.waves.classes.drone.size", "a wave could hold 1e+09 munitions"),
    ({"horizon_days": 3650, "attacker": {"waves": {"size_growth_per_month": 0.1}}},
     "attacker.waves.classes.drone.size", "per-munition draws, over the budget of 4e+07"),
    ({"horizon_days": 3650, "attacker": {"waves": {"schedule": "poisson", "waves_per_day": 24, "classes": {
        "drone": {"probability": 0.0}}}}, "contacts": {"stochastic": {"rate_per_day": 10}}},
     "attacker.waves.waves_per_day", "events (waves, contacts, deliveries), over the budget of 5e+04"),
])
def test_values_that_would_hang_or_exhaust_memory_are_located_errors(tmp_path: Path, edit: dict[str, Any],
                                                                     field: str, message: str) -> None:
    from scenario_sim.lang.patch import deep_merge

    doc = plain(deep_merge(minimal_doc(), edit))
    p = write(tmp_path, "m.yaml", yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    lines = exc.value.lines()
    assert any(field in x and message in x for x in lines), lines
    assert all(LOCATED.match(x) for x in lines), lines


def test_the_reference_over_eight_years_is_over_budget_and_without_growth_runs(tmp_path: Path) -> None:
    """The issue's 2920-day reference (7.9 GB, growth compounding for ever) is refused before
    the run; with growth levelling off (the reference's half-life) and no regime shock (whose
    upper end, +0.58 a month in log-growth from day 180, the budget must allow for) eight years
    are within budget, and with it they are not; ten years without wave growth are within
    budget too, and one replication of it stays under the rlimits."""
    from tests.hostile import run_limited

    ref = (ROOT / "scenarios" / "reference.yaml").read_text()
    ref = ref.replace("extends: calibration/fragment.yaml", f"extends: {ROOT / 'scenarios/calibration/fragment.yaml'}")
    eight = _edit("horizon_days: 365", "horizon_days: 2920", ref)
    with pytest.raises(ScenarioError, match="per-munition draws, over the budget"):
        load_scenario(write(tmp_path, "regime.yaml", eight))
    line = next(x for x in ref.splitlines() if x.strip().startswith("half_life_days:"))
    levelling = _edit(line, line + "\n    regime_log_shock_per_month: null", eight)
    assert load_scenario(write(tmp_path, "levelling.yaml", levelling)).baseline.horizon_days == 2920
    long = write(tmp_path, "long.yaml", _edit(line, "    half_life_days: null", levelling))  # constant growth
    with pytest.raises(ScenarioError, match="per-munition draws, over the budget"):
        load_scenario(long)
    classes = load_scenario(ROOT / "scenarios" / "reference.yaml").baseline.class_names
    flat = write(tmp_path, "flat.yaml", "extends: reference\nname: flat\nhorizon_days: 3650\n"
                 "attacker:\n  growth: {regime_log_shock_per_month: null}\n  waves:\n    size_growth_per_month: 0\n"
                 "    classes:\n" + "".join(f"      {c}: {{size_growth_per_month: 0}}\n" for c in classes))
    assert load_scenario(flat).baseline.horizon_days == 3650
    r = run_limited(["run", str(flat), "-n", "1", "--sets", "baseline", "--jobs", "1", "--out", str(tmp_path / "r")],
                    timeout_s=240)
    assert r.code == 0, r


def test_one_replication_at_the_edge_of_the_budget_fits_its_memory(tmp_path: Path) -> None:
    """A scenario at ~90% of the draw budget runs one replication under a 2 GB address-space limit."""
    from scenario_sim.lang.budget import MAX_DRAWS_PER_REPLICATION, work
    from tests.hostile import run_python_limited

    base = load_scenario(ROOT / "scenarios" / "reference.yaml").baseline
    k = 0.9 * MAX_DRAWS_PER_REPLICATION / work(base)["total_draws"]
    # the replication at the budget's edge: the growth shocks at the top of their ranges (the budget's bound)
    shock = base.attacker.growth.shock_per_month
    regime = base.attacker.growth.regime_log_shock_per_month
    top = f"  growth: {{shock_per_month: {shock.high}, regime_log_shock_per_month: {regime.high}}}\n" if (
        shock is not None and hasattr(shock, "high") and regime is not None and hasattr(regime, "high")) else ""
    edge = write(tmp_path, "edge.yaml", "extends: reference\nname: edge\nattacker:\n" + top + "  arsenal:\n" +
                 "".join(f"    {c}: {{initial_stock: 1.0e+9}}\n" for c in base.class_names) +
                 "  waves:\n    classes:\n" + "".join(
                     f"      {c}: {{size: {{dist: negbin, mean: {cw.size.mean() * k:.6g}, dispersion: 2}}}}\n"
                     for c, cw in base.attacker.waves.classes.items()))
    loaded = load_scenario(edge)
    assert 0.8 < work(loaded.baseline)["total_draws"] / MAX_DRAWS_PER_REPLICATION < 1.0
    r = run_python_limited(
        "import resource, sys\nfrom scenario_sim.lang import load_scenario\nfrom scenario_sim.model import simulate\n"
        f"o = simulate(load_scenario({str(edge)!r}).baseline, 1, 0).outcomes\n"
        "print(o['launched.total'], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n", timeout_s=240)
    assert r.code == 0, r
    launched, _ = r.stdout.split()
    assert float(launched) > 100 * 64_000  # about 140x the reference year's launches


def test_work_budget_bounds_each_class_with_its_own_growth() -> None:
    """A fast-growing small class does not charge its growth to a large flat one: each class's
    waves are bounded with its own rate (and the shocks at their upper ends)."""
    from scenario_sim.lang.budget import work
    from scenario_sim.lang.loader import validate_document
    from tests.helpers import minimal_doc

    d = minimal_doc()
    d["horizon_days"] = 360
    d["munitions"].append({"name": "missile", "unit_cost_usd": 1e6})
    d["attacker"]["arsenal"]["missile"] = {"initial_stock": 10, "production_per_day": 0}
    d["attacker"]["waves"]["classes"]["drone"]["size_growth_per_month"] = 0.0
    d["attacker"]["waves"]["classes"]["missile"] = {"probability": 0.1, "size": 2, "size_growth_per_month": 0.5}
    d["consequences"]["hit_probability"]["missile"] = 0.5
    d["recommendations"] = []
    wk = work(validate_document(d, "<test>"))
    assert wk["growth"]["drone"] == 1.0 and wk["growth"]["missile"] == pytest.approx(1.5 ** (359 / 30))
    d["attacker"]["growth"] = {"regime_log_shock_per_month": {"dist": "uniform", "low": -0.2, "high": 0.2},
                               "regime_after_days": 300}
    wk = work(validate_document(d, "<test>"))
    assert wk["growth"]["drone"] == pytest.approx(math.exp(0.2 * 59 / 30))


# --------------------------------------------------------------------------- fast tree helpers (explore's path)


def _reference_walk(raw: Any, done: Any, path: tuple[Any, ...]) -> Any:
    """The coercion walk as first written (nested generators): the rewrite must match it."""
    if isinstance(raw, dict):
        if isinstance(done, dict):
            for k, v in raw.items():
                if k in done:
                    yield from _reference_walk(v, done[k], (*path, k))
        return
    if isinstance(raw, list):
        if isinstance(done, (list, tuple)) and len(done) == len(raw):
            for i, (a, b) in enumerate(zip(raw, done, strict=True)):
                yield from _reference_walk(a, b, (*path, i))
        return
    if isinstance(done, dict) and done.get("dist") == "fixed":
        done = done.get("value")
    if not (isinstance(done, (int, float)) and not isinstance(done, bool)):
        return
    if isinstance(raw, bool):
        word = "true" if raw else "false"
        yield path, f"expected a number (got {word}: YAML reads yes/no/on/off/true/false as booleans)"
    elif isinstance(raw, str):
        yield path, f"expected a number (got {raw!r}: a quoted number is text; write it without quotes)"


_LEAVES = st.one_of(st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), st.none(),
                    st.sampled_from(["1", "x", "2.5", "fixed", ""]))
_KEYS = st.sampled_from(["a", "b", "dist", "value"])
_TREES = st.recursive(_LEAVES, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                      st.dictionaries(_KEYS, kids, max_size=4)), max_leaves=12)


@given(_TREES, _TREES)
def test_coercion_walk_matches_the_generator_walk(raw: Any, done: Any) -> None:
    """Same findings in the same order as the original walk, on random pairs of trees that
    share keys (so dicts overlap, lists sometimes match in length, fixed distributions occur)."""
    from scenario_sim.lang.coercion import _walk

    out: list[Any] = []
    _walk(raw, done, [], out)
    assert out == list(_reference_walk(raw, done, ()))


def test_coercion_walk_reports_the_shipped_documents_planted_slips() -> None:
    """On every shipped scenario with a boolean and a quoted number planted where numbers are,
    the walk reports both at their paths, and nothing on the file as shipped."""
    from scenario_sim.lang.coercion import coercions

    for path in SHIPPED:
        loaded = load_scenario(path)
        assert coercions(loaded.document, loaded.baseline) == []
        doc = plain(loaded.document)
        doc["horizon_days"] = True
        doc["seed"] = "7"
        found = coercions(doc, loaded.baseline)
        assert sorted(p for p, _ in found) == [("horizon_days",), ("seed",)], (path.name, found)
        assert found == list(_reference_walk(doc, loaded.baseline.model_dump(by_alias=True), ()))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_copy_tree_copies_every_container_and_keeps_marks(path: Path) -> None:
    """copy_tree gives equal, independent containers with equal (copied) marks, and shares the scalars."""
    from scenario_sim.lang.yamlsource import SourceList, SourceMap, copy_tree

    doc = load_scenario(path).document
    copy = copy_tree(doc)

    def same(a: Any, b: Any) -> None:
        assert type(a) is type(b)
        if isinstance(a, (dict, list)):
            assert a is not b and len(a) == len(b)
            if isinstance(a, (SourceMap, SourceList)):
                assert a.mark == b.mark and a.marks == b.marks and a.marks is not b.marks
            pairs = [(a[k], b[k]) for k in a] if isinstance(a, dict) else list(zip(a, b, strict=True))
            if isinstance(a, dict):
                assert list(a) == list(b)
            for x, y in pairs:
                same(x, y)
        else:
            assert a is b

    same(doc, copy)
    copy["name"] = "changed"
    copy.marks.clear()
    assert doc["name"] != "changed" and doc.marks
