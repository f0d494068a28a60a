"""RunDir and SweepDir name every file and folder of a run and of a sweep, once."""

from __future__ import annotations

import ast
import csv
import re
from pathlib import Path

import pytest

import ganzoo
from ganzoo.checkpoint import checkpoint_path, list_checkpoints
from ganzoo.rundir import META_FILE, SPEC_FILE, RunDir, SweepDir, read_meta, update_meta
from tests.helpers import train_dir

REPO = Path(__file__).resolve().parents[1]


def test_every_run_path_is_under_the_root_and_distinct(tmp_path):
    paths = RunDir(tmp_path)
    named = [*paths.named().values(), paths.checkpoint(500), paths.sample_grid(500)]
    assert all(p.is_relative_to(tmp_path) and p != tmp_path for p in named)
    assert len(set(named)) == len(named)
    # every public property is in named(), so nothing escapes the two checks above
    props = {n for n, v in vars(RunDir).items() if isinstance(v, property)}
    assert props == set(paths.named())
    assert RunDir(str(tmp_path)).root == tmp_path  # a str root works too
    assert ganzoo.RunDir is RunDir
    assert (paths.spec.name, paths.meta.name) == (SPEC_FILE, META_FILE)


def test_every_sweep_path_is_under_the_root_and_distinct(tmp_path):
    sweep = SweepDir(tmp_path)
    named = [*sweep.named().values(), sweep.run("a", 0).root, sweep.spec_file("a", 0), sweep.log_file("a", 0)]
    assert all(p.is_relative_to(tmp_path) and p != tmp_path for p in named)
    assert len(set(named)) == len(named)
    props = {n for n, v in vars(SweepDir).items() if isinstance(v, property)}
    assert props == set(sweep.named())
    assert sweep.run("a", 0).root.parent == sweep.runs
    assert SweepDir.default("x").root != SweepDir.default().root


def test_step_names_round_trip(tmp_path):
    paths = RunDir(tmp_path)
    for step in (0, 1, 500, 99_999_999, 123_456_789):
        assert RunDir.step_of(paths.checkpoint(step)) == step
        assert RunDir.step_of(paths.sample_grid(step)) == step
        assert paths.is_checkpoint(paths.checkpoint(step))
    assert paths.checkpoint(500).name == "step_00000500.pt"  # the on-disk format, unchanged
    assert RunDir.step_of("best.pt") is None and RunDir.step_of(".step_00000001.pt.abc.tmp") is None
    assert paths.is_checkpoint(paths.best_checkpoint)
    assert not paths.is_checkpoint(paths.generator) and not paths.is_checkpoint(tmp_path / "other" / "step_00000001.pt")
    assert checkpoint_path(paths.checkpoints, 7) == paths.checkpoint(7)


def test_list_checkpoints_skips_best_temp_and_foreign_files(tmp_path):
    paths = RunDir(tmp_path)
    assert paths.list_checkpoints() == [] and paths.list_sample_grids() == []
    paths.checkpoints.mkdir()
    names = ("step_00000010.pt", "step_00000002.pt", "best.pt", ".step_00000012.pt.x.tmp", "step_2.pt", "step_00000004.png", "notes.txt")
    for name in names:
        (paths.checkpoints / name).write_bytes(b"")
    assert [s for s, _ in paths.list_checkpoints()] == [2, 10]
    assert list_checkpoints(paths.checkpoints) == paths.list_checkpoints()


def test_metadata_functions_use_the_layout(tmp_path):
    paths = RunDir(tmp_path)
    assert not paths.is_run()
    update_meta(tmp_path, status="running")
    assert paths.is_run() and read_meta(tmp_path) == {"status": "running"}


def test_a_trained_run_has_exactly_the_files_rundir_names(tiny_spec, registries, tmp_path):
    tiny_spec["train"]["tensorboard"] = True
    tiny_spec["eval"] = {"every": 4, "metrics": [{"type": "fd-domain", "params": {"n": 16, "epochs": 1}}], "best": "fd_domain_n16"}
    run_dir = train_dir(registries, tiny_spec, tmp_path / "run")
    paths = RunDir(run_dir)
    assert paths.is_run()
    for name, path in paths.named().items():
        assert path.exists(), f"{name}: {path} was not written"
    assert [s for s, _ in paths.list_checkpoints()] == [2, 4]
    assert [s for s, _ in paths.list_sample_grids()] == [2, 4]
    expected = {*paths.named().values(), *(p for _, p in paths.list_checkpoints()), *(p for _, p in paths.list_sample_grids())}
    unnamed = [p for p in run_dir.rglob("*") if p not in expected and paths.tensorboard not in p.parents]
    assert not unnamed, f"files no RunDir member names: {unnamed}"


@pytest.mark.parametrize("variant", ["vanilla", "r1-ema", "hinge-sn", "v1.2", "a.b-c_d", "0", "42", "x-s1", "x-s", "-s3", "s-s-s", "."])
@pytest.mark.parametrize("seed", [0, 1, 10, 12345])
def test_sweep_run_names_round_trip(variant, seed):
    name = SweepDir.run_name(variant, seed)
    assert SweepDir.parse_run_name(name) == (variant, seed)
    assert SweepDir(Path("out")).run(variant, seed).root.name == name


@pytest.mark.parametrize("name", ["vanilla", "tiny", "00003-dcgan", "a-s", "a-sx", "s1", "a-s1x"])
def test_names_that_are_not_sweep_runs_do_not_parse(name):
    assert SweepDir.parse_run_name(name) is None


def test_the_committed_results_run_names_still_parse():
    csvs = sorted((REPO / "registry" / "results").glob("*.csv"))
    assert csvs
    for path in csvs:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows, path
        for row in rows:
            run = Path(row["run_dir"])
            assert SweepDir.parse_run_name(run.name) == (row["variant"], int(row["seed"])), (path.name, row["run_dir"])
            assert run.parent.name == SweepDir(run.parent.parent).runs.name


# --- the names are spelled in rundir.py only -------------------------------------------------

_LAYOUT = re.compile(r"generator\.safetensors|(^|/)checkpoints(/|$)|(^|/)best\.pt$")
_RUN_NAME = re.compile(r"-s\{")  # the sweep's VARIANT-sSEED built by hand


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _layout_literals(path: Path, root: Path = REPO) -> list[str]:
    text = path.read_text()
    tree = ast.parse(text, str(path))
    lines = text.splitlines()
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip and _LAYOUT.search(node.value):
            if "torch.hub" in lines[node.lineno - 1]:
                continue  # torch's own hub cache folder (weights.py), not a run's
            found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    found.extend(f"{path.relative_to(root)}:{i}: {line.strip()}" for i, line in enumerate(lines, 1) if _RUN_NAME.search(line))
    return found


def test_layout_names_are_spelled_only_in_rundir():
    files = [p for root in ("ganzoo", "plugins") for p in sorted((REPO / root).rglob("*.py")) if p != REPO / "ganzoo" / "rundir.py"]
    assert len(files) > 20
    bad = [hit for f in files for hit in _layout_literals(f)]
    assert not bad, "use ganzoo.RunDir / ganzoo.rundir.SweepDir instead of spelling a run-directory name:\n" + "\n".join(bad)


def test_the_literal_check_would_catch_a_literal(tmp_path):
    src = tmp_path / "m.py"
    lines = ['"""Writes generator.safetensors."""', 'A = run / "checkpoints" / "x"',
             'B = f"{run}/generator.safetensors"', 'C = f"{v}-s{seed}"']
    src.write_text("\n".join(lines) + "\n")
    hits = _layout_literals(src, tmp_path)
    assert len(hits) == 3 and all(":1:" not in h for h in hits)
