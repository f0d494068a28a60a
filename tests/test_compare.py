"""``ganzoo compare``: sweeps, resumable execution, aggregation, protocol checks, the report."""

from __future__ import annotations

import copy
import csv
import json
import math
import statistics
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.compare.execute import plan
from ganzoo.compare.gather import CompareError, RunRecord, canonical_spec, gather_run, group_variants
from ganzoo.compare.report import compare_records, markdown
from ganzoo.compare.html import svg_plot
from ganzoo.spec.model import SpecError
from ganzoo.compare.sweep import expand_sweep, load_sweep

from .conftest import TINY_SPEC

BASE: dict[str, Any] = copy.deepcopy(TINY_SPEC)
BASE["train"].update(steps=4, log_every=2, sample_every=2, checkpoint_every=2)
BASE["eval"] = {"metrics": [{"type": "fd-domain", "params": {"n": 64}}]}

SWEEP: dict[str, Any] = {
    "name": "tiny",
    "base": "base.yaml",
    "seeds": [0, 1],
    "variants": {
        "vanilla": {"description": "the base spec"},
        "hinge": {"set": {"losses.adversarial.type": "hinge"}},
        "broken": {"set": {"init.generator.from": "does-not-exist"}, "description": "fails before training"},
    },
}


def _write(tmp: Path, sweep: dict[str, Any], base: dict[str, Any] = BASE) -> Path:
    (tmp / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    path = tmp / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def _compare(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """One real sweep: 3 variants x 2 seeds, 2 jobs; one variant fails at start."""
    tmp = tmp_path_factory.mktemp("sweep")
    result = _compare("compare", _write(tmp, SWEEP), "--out", tmp / "out", "--jobs", "2", "--threads", "1")
    return tmp, result


# ------------------------------------------------------------------ end to end


def test_sweep_trains_reports_and_survives_a_broken_variant(swept):
    tmp, result = swept
    out = tmp / "out"
    assert result.exit_code == 1  # one variant failed; the others finished and the report was still written
    rows = list(csv.DictReader((out / "results.csv").open()))
    status = {(r["variant"], r["seed"]): r["status"] for r in rows}
    assert status == {("vanilla", "0"): "completed", ("vanilla", "1"): "completed", ("hinge", "0"): "completed",
                      ("hinge", "1"): "completed", ("broken", "0"): "missing", ("broken", "1"): "missing"}
    assert "init.generator.from" in (out / "logs" / "broken-s0.log").read_text()

    # mean ± sample std over seeds, from the runs' own eval.json
    data = json.loads((out / "results.json").read_text())
    by_variant = {v["variant"]: v for v in data["variants"]}
    for name in ("vanilla", "hinge"):
        vals = [json.loads((out / "runs" / f"{name}-s{s}" / "eval.json").read_text())["metrics"]["fd_domain_n64"]["value"] for s in (0, 1)]
        stat = by_variant[name]["stats"]["fd_domain_n64"]
        assert stat["n"] == 2 and stat["mean"] == pytest.approx(statistics.fmean(vals)) and stat["std"] == pytest.approx(statistics.stdev(vals))
    diff = by_variant["hinge"]["spec_diff"]  # resolved specs: the loss's params differ along with its type
    assert diff["losses.adversarial.type"] == {"baseline": "non-saturating", "variant": "hinge"}
    assert all(k.startswith("losses.adversarial.") for k in diff)
    assert by_variant["broken"]["stats"] == {}
    assert data["primary"] == "fd_domain_n64" and data["baseline"] == "vanilla"
    assert any("not finished" in n and "broken-s0" in n for n in data["notes"])
    run = by_variant["vanilla"]["runs"][0]
    assert run["step"] == 4 and run["img_per_s"] > 0 and run["peak_mem_mb"] > 0 and run["parameters"]["generator"] > 0

    md = (out / "results.md").read_text()
    assert "| **vanilla** | 2/2 |" in md and "| broken | 0/2 |" in md and "Ranked by fd_domain_n64 (lower is better)" in md
    assert md in result.output


def test_report_is_self_contained(swept):
    tmp, _ = swept
    page = (tmp / "out" / "report.html").read_text()
    assert page.count("<svg") >= 3  # the metric, G/loss, D/loss ...
    assert page.count("data:image/png;base64,") == 2  # one grid per finished variant
    assert "losses.adversarial.type" in page and "fails before training" in page
    for needle in ("<script", "src='http", 'src="http', "<link"):
        assert needle not in page


def test_second_call_reuses_finished_runs(swept):
    tmp, _ = swept
    out = tmp / "out"
    stamp = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/generator.safetensors")}
    result = _compare("compare", tmp / "sweep.yaml", "--out", out, "--jobs", "2", "--threads", "1")
    assert result.exit_code == 1  # still broken
    assert "vanilla-s0: finished earlier, reused" in result.output
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/generator.safetensors")} == stamp


def test_gather_only_and_plain_run_directories(swept):
    tmp, _ = swept
    out = tmp / "out"
    result = _compare("compare", out / "runs" / "vanilla-s0", out / "runs" / "vanilla-s1", out / "runs" / "hinge-s0", "--out", tmp / "plain")
    assert result.exit_code == 0, result.output
    assert "| **vanilla** | 2/2 |" in result.output and "| hinge | 1/1 |" in result.output
    regather = _compare("compare", out, "--no-train")  # a compare output directory: its sweep's names and baseline
    assert regather.exit_code == 0  # gathering succeeded; the missing runs are listed, not an error
    assert "| **vanilla** | 2/2 |" in regather.output and "| broken | 0/2 |" in regather.output


def test_changed_variant_never_overwrites_a_finished_run(swept, registries):
    tmp, _ = swept
    changed = copy.deepcopy(SWEEP)
    changed["set"] = {"train.steps": 5}
    path = _write(tmp / "out", changed)  # sweep file next to the outputs; base.yaml alongside
    runs = expand_sweep(load_sweep(path), registries, path.parent)
    with pytest.raises(CompareError, match=r"different spec .*\(train\.steps changed\)") as info:
        plan(runs, tmp / "out")
    assert "only evaluation settings differ" not in str(info.value)


def test_an_eval_only_change_is_named_with_the_way_to_keep_the_weights(swept, registries):
    """A sweep whose metric changed after training: the error names the metric's key and how to re-score."""
    tmp, _ = swept
    changed = copy.deepcopy(SWEEP)
    changed["set"] = {"eval.metrics": [{"type": "fd-domain", "params": {"n": 32}}]}
    (tmp / "eval-changed").mkdir(exist_ok=True)
    path = _write(tmp / "eval-changed", changed)
    runs = expand_sweep(load_sweep(path), registries, path.parent)
    with pytest.raises(CompareError, match=r"\(eval\.metrics\.0\.params\.n changed\).*only evaluation settings differ.*ganzoo eval"):
        plan(runs, tmp / "out")


def test_unfinished_run_is_resumed(swept, registries, tmp_path):
    tmp, _ = swept
    out = tmp / "out"
    meta_path = out / "runs" / "hinge-s1" / "run.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "status": "interrupted"}))
    runs = expand_sweep(load_sweep(tmp / "sweep.yaml"), registries, tmp)
    assert plan(runs, out)["hinge-s1"] == "resume"
    result = _compare("compare", tmp / "sweep.yaml", "--out", out, "--threads", "1")
    assert "hinge-s1: done" in result.output
    assert "resumed from step_00000004.pt" in (out / "runs" / "hinge-s1" / "log.txt").read_text()
    assert gather_run(out / "runs" / "hinge-s1").status == "completed"


# ------------------------------------------------------------------ sweep files


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s.update(extra=1), "extra: Extra inputs are not permitted"),
        (lambda s: s.update(seeds=[1, 1]), "seeds: Value error, seeds must be distinct"),
        (lambda s: s["variants"].update({"a b": {}}), "variant names may use"),
        (lambda s: s.update(baseline="nope"), "baseline: 'nope' is not a variant"),
        (lambda s: s["variants"]["hinge"].update(sett={}), "variants.hinge.sett: Extra inputs"),
    ],
)
def test_bad_sweep_files_are_path_qualified(tmp_path, mutate, expected):
    sweep = copy.deepcopy(SWEEP)
    mutate(sweep)
    with pytest.raises(SpecError) as err:
        load_sweep(_write(tmp_path, sweep))
    assert expected in str(err.value)


def test_every_variant_is_validated_before_anything_trains(tmp_path, registries):
    sweep = copy.deepcopy(SWEEP)
    sweep["variants"]["wide"] = {"set": {"generator.params.width": -1}}
    sweep["variants"]["other"] = {"spec": "missing.yaml"}
    with pytest.raises(SpecError) as err:
        expand_sweep(load_sweep(_write(tmp_path, sweep)), registries, tmp_path)
    text = str(err.value)
    assert "variants.wide: generator.params.width (type=dcgan): Input should be greater than 0" in text
    assert "variants.other.spec" in text and "missing.yaml does not exist" in text
    result = _compare("compare", tmp_path / "sweep.yaml", "--out", tmp_path / "out")
    assert result.exit_code == 2 and not (tmp_path / "out" / "runs").exists()


# ------------------------------------------------------------------ aggregation


def _rec(variant: str, seed: int, value: float, proto: dict[str, Any] | None = None, status: str = "completed") -> RunRecord:
    protocol = {"metric": "fd", "higher_is_better": False, "n": 100, **(proto or {})}
    return RunRecord(f"{variant}-s{seed}", variant, seed, Path(f"/runs/{variant}-s{seed}"), status,
                     spec={"name": variant, "seed": seed, "train": {"steps": 10}}, metrics={"fd": {"value": value, "protocol": protocol}})


def test_rank_mean_std_and_baseline_ratio():
    recs = [_rec("a", 0, 4.0), _rec("a", 1, 6.0), _rec("b", 0, 1.0), _rec("b", 1, 3.0), _rec("c", 0, 9.0, status="failed")]
    cmp = compare_records(recs, baseline="a")
    assert [r.variant for r in cmp.rows] == ["b", "a", "c"]  # lower is better; no score sorts last
    assert cmp.row("a").stats["fd"] == (5.0, pytest.approx(math.sqrt(2)), 2)
    text = markdown(cmp)
    assert "| b | 2/2 | 2 ± 1.4 | 0.40x |" in text and "| c | 0/1 | — |" in text


def test_higher_is_better_ranks_descending():
    recs = [_rec("a", 0, 1.0, {"higher_is_better": True}), _rec("b", 0, 2.0, {"higher_is_better": True})]
    assert [r.variant for r in compare_records(recs).rows] == ["b", "a"]


def test_different_protocols_are_shown_but_never_ranked():
    recs = [_rec("a", 0, 1.0, {"n": 100}), _rec("b", 0, 2.0, {"n": 50000})]
    cmp = compare_records(recs)
    assert cmp.primary is None and not cmp.columns[0].comparable
    assert "protocols differ in n" in cmp.columns[0].note and "fd (not comparable)" in markdown(cmp)
    with pytest.raises(ValueError, match="cannot rank by fd: protocols differ in n"):
        compare_records(recs, rank_by="fd")
    with pytest.raises(ValueError, match="no metric 'kid'"):
        compare_records(recs, rank_by="kid")


def test_runs_differing_only_in_seed_group_into_one_variant():
    a0, a1, b = _rec("x", 0, 1.0), _rec("x", 1, 2.0), _rec("x", 0, 3.0)
    b.spec = {**b.spec, "train": {"steps": 20}}
    a0.run_dir, a1.run_dir, b.run_dir = Path("/r/dcgan-s0"), Path("/r/dcgan-s1"), Path("/r/other")
    assert [r.variant for r in group_variants([a0, a1, b])] == ["dcgan", "dcgan", "x"]
    c = _rec("x", 2, 3.0)
    c.spec, c.run_dir = {**c.spec, "train": {"steps": 30}}, Path("/r/third")
    assert group_variants([a0, b, c])[2].variant == "x#2"


def test_specs_equal_up_to_defaults_are_one_variant(registries, tiny_spec):
    """A run recorded before a parameter existed (or with it spelt out at its default) groups with one recorded after."""
    old, new = _rec("x", 0, 1.0), _rec("x", 1, 2.0)
    old.spec = copy.deepcopy(tiny_spec)
    new.spec = copy.deepcopy(tiny_spec)
    new.spec["data"]["params"]["split"] = "all"  # the default, written out as a newer resolved spec would
    old.run_dir, new.run_dir = Path("/r/a-s0"), Path("/r/a-s1")
    assert [r.variant for r in group_variants([old, new])] == ["a", "a#2"]  # as recorded: they differ
    assert [r.variant for r in group_variants([old, new], lambda s: canonical_spec(s, registries))] == ["a", "a"]
    assert canonical_spec({"not": "a spec"}, registries) == {"not": "a spec"}  # unreadable specs compare as written


def test_svg_plot_is_valid_svg():
    assert svg_plot({}, {}, "empty") == ""
    svg = svg_plot({"a <s0>": [(10, 1.0), (20, float("nan")), (30, 0.5)], "b": [(10, 2.0)]}, {"a <s0>": "#f00"}, "G/loss")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and len(root.findall("{http://www.w3.org/2000/svg}polyline")) == 2


@pytest.mark.parametrize("sweep_file", sorted((Path(__file__).parents[1] / "registry" / "sweeps").glob("*.yaml")), ids=lambda p: p.stem)
def test_registry_sweeps_expand(sweep_file, registries):
    sweep = load_sweep(sweep_file)
    runs = expand_sweep(sweep, registries, sweep_file.parent)
    assert len(runs) == len(sweep.variants) * len(sweep.seeds)
    assert len({r.key for r in runs}) == len(runs)


def test_set_option_overrides_every_variant(tmp_path):
    sweep = copy.deepcopy(SWEEP)
    del sweep["variants"]["broken"]
    sweep["seeds"] = [0]
    result = _compare("compare", _write(tmp_path, sweep), "--out", tmp_path / "out", "--set", "train.steps=2", "--set", "eval.metrics=[]")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "out" / "results.csv").open()))
    assert [r["step"] for r in rows] == ["2", "2"]
    assert "no metric" not in result.output
