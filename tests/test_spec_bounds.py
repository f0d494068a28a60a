"""Bounded spec input: alias bombs, duplicate keys, range checks, and where each message points."""

from __future__ import annotations

import copy
import itertools
import pickle
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ganzoo.compare.sweep import load_sweep
from ganzoo.engine.logging import format_duration, step_summary
from ganzoo.engine.warmstart import InitError, load_init_weights
from ganzoo.plugin.registry import Registries
from ganzoo.rundir import RunDir
from ganzoo.spec.model import SpecError, load_spec, parse_spec_text, validate_spec
from ganzoo.spec.sections import InitSource
from ganzoo.spec.yamlio import MAX_NODES, line_map, load_yaml

EXIT_SPEC = 2


def _bomb(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs" shape: each level lists the previous one ``width`` times (width ** levels values)."""
    names = [chr(ord("a") + i) for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['1'] * width)}]"]
    lines += [f"{n}: &{n} [{', '.join([f'*{p}'] * width)}]" for p, n in itertools.pairwise(names)]
    return "\n".join(lines) + "\n"


def _spec_with(tiny_spec: dict[str, Any], extra: str) -> str:
    return yaml.safe_dump(tiny_spec, sort_keys=False) + extra


# ------------------------------------------------------------------ alias bombs


def test_alias_bomb_is_refused_quickly_by_load_spec(tmp_path: Path, registries: Registries) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    assert len(path.read_bytes()) < 400
    start = time.perf_counter()
    with pytest.raises(SpecError) as ei:
        load_spec(path, registries)
    assert time.perf_counter() - start < 1.0  # milliseconds in practice; unbounded it took 53 s and 2.2 GB
    assert ei.value.source == str(path)
    (issue,) = ei.value.issues
    assert issue.line is not None and 2 <= issue.line <= 9
    assert f"more than {MAX_NODES} values" in issue.message and "aliases" in issue.message


def test_alias_bomb_is_refused_by_validate_spec_and_line_map(tiny_spec: dict[str, Any], registries: Registries) -> None:
    text = _spec_with(tiny_spec, _bomb().replace("a:", "zz:", 1))
    start = time.perf_counter()
    with pytest.raises(SpecError):
        parse_spec_text(text, "bomb.yaml")
    assert line_map(text) == {}  # the line map refuses it too, rather than walking 9^9 paths
    assert time.perf_counter() - start < 1.0


def test_alias_bomb_is_refused_by_ganzoo_validate(tmp_path: Path, cli_run: Any) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    start = time.perf_counter()
    res = cli_run("validate", path)
    assert time.perf_counter() - start < 1.0
    assert res.exit_code == EXIT_SPEC
    assert f"invalid spec {path}" in res.stderr and "line " in res.stderr and "aliases" in res.stderr
    assert "Traceback" not in res.output


def test_alias_bomb_in_a_sweep_set_is_refused(tmp_path: Path) -> None:
    bomb = "\n".join("  " + line for line in _bomb().splitlines())
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"name: s\nbase: spec.yaml\nbomb:\n{bomb}\nset: {{train.steps: *i}}\nvariants: {{a: {{}}}}\n")
    start = time.perf_counter()
    with pytest.raises(SpecError) as ei:
        load_sweep(sweep)
    assert time.perf_counter() - start < 1.0
    assert ei.value.source == str(sweep) and "aliases" in ei.value.issues[0].message


def test_modest_aliases_still_work_and_line_map_walks_each_node_once() -> None:
    text = _bomb(levels=5, width=9)  # 9^5 = 59049 values expanded: under the limit
    data = load_yaml(text)
    assert len(data["e"]) == 9 and data["e"][0] is data["d"]  # shared, not copied
    start = time.perf_counter()
    lines = line_map(text)
    assert time.perf_counter() - start < 0.5
    assert lines[("e",)] == 5 and lines[("a",)] == 1
    assert load_yaml("base: &b {x: 1}\nother: {<<: *b, y: 2}\n") == {"base": {"x": 1}, "other": {"x": 1, "y": 2}}


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(SpecError) as ei:
        parse_spec_text("a: &a\n  b: *a\n", "rec.yaml")
    (issue,) = ei.value.issues
    assert issue.path == "a.b" and issue.line == 2 and "recursive" in issue.message


# ------------------------------------------------------------------ duplicate keys


def test_duplicate_top_level_key_names_both_lines(tiny_spec: dict[str, Any], write_spec: Any, registries: Registries) -> None:
    text = _spec_with(tiny_spec, "train: {steps: 7}\n")
    first = text.splitlines().index("train:") + 1
    path = write_spec(text)
    with pytest.raises(SpecError) as ei:
        load_spec(path, registries)
    (issue,) = ei.value.issues
    last = len(text.splitlines())
    assert issue.path == "train" and issue.line == last
    assert f"first at line {first}, again at line {last}" in issue.message


def test_duplicate_nested_key_is_an_error() -> None:
    with pytest.raises(SpecError) as ei:
        parse_spec_text("losses:\n  regularizers:\n    - {type: r1, weight: 1, weight: 2}\n", "dup.yaml")
    (issue,) = ei.value.issues
    assert issue.path == "losses.regularizers.0.weight" and issue.line == 3 and "duplicate key 'weight'" in issue.message


def test_same_key_in_different_mappings_is_fine() -> None:
    assert load_yaml("a: {x: 1}\nb: {x: 2}\nc: [{x: 1}, {x: 2}]\n")["c"] == [{"x": 1}, {"x": 2}]


# ------------------------------------------------------------------ ranges


@pytest.mark.parametrize(
    ("override", "path", "phrase"),
    [
        ("seed=9223372036854775808", "seed", "less than or equal to 4294967295"),
        ("seed=4294967296", "seed", "less than or equal to 4294967295"),
        ("seed=-1", "seed", "greater than or equal to 0"),
        ("train.steps=1e50", "train.steps", "too large for an integer"),
        ("train.steps=9223372036854775808", "train.steps", "less than or equal to 1000000000000"),
        ("train.batch_size=1e9", "train.batch_size", "less than or equal to 1048576"),
        ("train.log_every=10000000000000", "train.log_every", "less than or equal to 1000000000000"),
        ("train.checkpoint_every=1e13", "train.checkpoint_every", "less than or equal to 1000000000000"),
        ("train.num_workers=100000", "train.num_workers", "less than or equal to 1024"),
        ("train.d_steps=10000000", "train.d_steps", "less than or equal to 1000000"),
        ("eval.every=1e15", "eval.every", "less than or equal to 1000000000000"),
        ("optim.generator.schedule={type: multistep, milestones: [10, 1e13]}", "optim.generator.schedule.milestones.1",
         "less than or equal to 1000000000000"),
        ("generator.params.latent_dim=9223372036854775808", "generator.params.latent_dim", "out of range"),
    ],
)
def test_out_of_range_ints_through_set(
    tiny_spec: dict[str, Any], write_spec: Any, registries: Registries, override: str, path: str, phrase: str
) -> None:
    with pytest.raises(SpecError) as ei:
        load_spec(write_spec(tiny_spec), registries, [override])
    (issue,) = ei.value.issues
    assert issue.path.split(" (type=")[0] == path
    assert phrase in issue.message and f"(from --set {override})" in issue.message and issue.line is None


@pytest.mark.parametrize(
    "override",
    [
        "optim.generator.lr=.inf", "optim.discriminator.eps=.inf", "optim.generator.eps=.nan",
        "optim.generator.weight_decay=.inf", "optim.generator.betas=[.nan, 0.9]", "train.grad_clip=.inf",
        "train.max_seconds=.inf", "train.ema=.nan", "losses.adversarial.weight=.inf",
        "losses.regularizers=[{type: r1, weight: .inf}]", "losses.regularizers=[{type: path-length, params: {pl_weight: .nan}}]",
        "optim.generator.schedule={type: multistep, milestones: [10], gamma: .nan}", "task.params.truncation=.inf",
    ],
)
def test_non_finite_floats_are_refused(tiny_spec: dict[str, Any], write_spec: Any, registries: Registries, override: str) -> None:
    spec = copy.deepcopy(tiny_spec)
    spec["task"] = {"type": "unconditional"}
    with pytest.raises(SpecError) as ei:
        load_spec(write_spec(spec), registries, [override])
    assert any("finite number" in i.message for i in ei.value.issues), ei.value


def test_largest_allowed_values_validate(tiny_spec: dict[str, Any], registries: Registries) -> None:
    tiny_spec["seed"] = 2**32 - 1
    tiny_spec["train"].update(steps=10**12, batch_size=2**20, checkpoint_every=10**12)
    spec = validate_spec(tiny_spec, registries)
    assert spec.seed == 2**32 - 1 and spec.train.steps == 10**12


# ------------------------------------------------------------------ where messages point


def test_set_of_a_key_not_in_the_file_names_the_override(tiny_spec: dict[str, Any], write_spec: Any, cli_run: Any) -> None:
    path = write_spec(tiny_spec)  # has no eval section
    res = cli_run("validate", path, "--set", "eval.every=-1", "--set", "train.stpes=3")
    assert res.exit_code == EXIT_SPEC
    assert "line 1:" not in res.stderr
    assert "eval.every: Input should be greater than or equal to 0 (from --set eval.every=-1)" in res.stderr
    assert "train.stpes: unknown key." in res.stderr and "(from --set train.stpes=3)" in res.stderr


def test_file_errors_keep_their_lines_next_to_overrides(tiny_spec: dict[str, Any], write_spec: Any, registries: Registries) -> None:
    tiny_spec["train"]["batch_size"] = 0
    text = yaml.safe_dump(tiny_spec, sort_keys=False)
    with pytest.raises(SpecError) as ei:
        load_spec(write_spec(text), registries, ["train.steps=0"])
    by_path = {i.path: i for i in ei.value.issues}
    assert by_path["train.batch_size"].line == text.splitlines().index("  batch_size: 0") + 1
    assert by_path["train.steps"].line is None and "(from --set train.steps=0)" in by_path["train.steps"].message


@pytest.mark.parametrize("content", ["name: x\ntrain: [\n", "train: {steps: 1}\ntrain: {steps: 2}\n"])
def test_corrupt_run_spec_yaml_is_a_spec_error_naming_the_file(tmp_path: Path, cli_run: Any, content: str) -> None:
    run = RunDir(tmp_path / "run")
    run.root.mkdir()
    run.spec.write_text(content)
    res = cli_run("sample", run.root, "--out", tmp_path / "s.png")
    assert res.exit_code == EXIT_SPEC
    assert f"invalid spec {run.spec}" in res.stderr and "line " in res.stderr
    assert "Traceback" not in res.output


# ------------------------------------------------------------------ init from a file that holds no weights


@pytest.mark.parametrize(
    ("content", "phrase"),
    [(b"not weights\n", "is not a weight file"), (b"cat\n", "is not a weight file"), (b"", "is not a weight file"),
     (pickle.dumps(object, protocol=2), "holds Python objects besides tensors")],
)
def test_init_from_a_non_torch_file_is_one_clean_message(tmp_path: Path, content: bytes, phrase: str) -> None:
    path = tmp_path / "weights.pt"
    path.write_bytes(content)
    with pytest.raises(InitError) as ei:
        load_init_weights(InitSource.model_validate({"from": str(path)}), "generator")
    msg = str(ei.value)
    assert msg.startswith(f"init.generator.from: {path} ") and phrase in msg
    assert "weights_only=False" not in msg and "\n" not in msg


# ------------------------------------------------------------------ ETA


def test_eta_never_wraps_at_a_day() -> None:
    assert format_duration(25 * 3600 + 4 * 60 + 5) == "1d 01:04:05"
    assert format_duration(400 * 86400 + 3 * 3600) == "400d 03:00:00"
    assert format_duration(3599.9) == "00:59:59"
    assert format_duration(float("inf")) == "?"
    # 10^12 steps at one per 10^6 s: no OverflowError, the days are spelled out.
    assert "ETA 11574074074" in step_summary(0, 10**12, {"steps_per_s": 1e-6})
