"""Bad input through the real console script: one `error:` line, the right exit status, never a traceback.

Each case is a reproduction from the reliability issue, run as a user runs it
(`python -m ganzoo ...` in a fresh process, with plugin commands and the error
policy of `ganzoo.cli.main`). The in-process tests next to each feature check
the details; these check the promise end to end.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ganzoo.rundir import RunDir
from tests.conftest import TINY_SPEC
from tests.helpers import train_dir

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" for p, k in zip("abcdefgh", "bcdefghi", strict=True)
)


def _ganzoo(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    return subprocess.run([sys.executable, "-m", "ganzoo", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def _one_message(proc: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith(("error:", "invalid spec"))]
    assert errors, proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr[-2000:])


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganzoo.plugin.registry import load_registries

    spec = copy.deepcopy(TINY_SPEC)
    spec["train"].update(steps=2, checkpoint_every=1, sample_every=0, tensorboard=False)
    return train_dir(load_registries(), spec, tmp_path_factory.mktemp("cli") / "run")


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(TINY_SPEC, sort_keys=False))
    return path


def test_resume_without_a_readable_checkpoint_refuses(finished: Path, tmp_path: Path) -> None:
    run = shutil.copytree(finished, tmp_path / "run")
    export = RunDir(run).generator.read_bytes()
    for _, ckpt in RunDir(run).list_checkpoints():
        ckpt.write_bytes(ckpt.read_bytes()[:100])  # every checkpoint truncated
    proc = _ganzoo("train", "--resume", run, "--set", "train.steps=4", cwd=tmp_path)
    _one_message(proc, 2, "step_00000002.pt")
    assert RunDir(run).generator.read_bytes() == export  # the finished run's output is untouched


def test_a_hand_edited_spec_is_refused_on_resume(finished: Path, tmp_path: Path) -> None:
    run = shutil.copytree(finished, tmp_path / "run")
    spec = RunDir(run).spec
    spec.write_text(spec.read_text().replace("width: 8", "width: 9", 1))
    _one_message(_ganzoo("train", "--resume", run, "--set", "train.steps=4", cwd=tmp_path), 2, "spec.yaml")


def test_a_corrupt_run_spec_is_named(finished: Path, tmp_path: Path) -> None:
    run = shutil.copytree(finished, tmp_path / "run")
    RunDir(run).spec.write_text("name: [unclosed\n")
    _one_message(_ganzoo("sample", run, "--n", "4", "--out", tmp_path / "g.png", cwd=tmp_path), 2, "spec.yaml")


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(BOMB)
    assert len(BOMB) < 400
    start = time.perf_counter()
    proc = _ganzoo("validate", tmp_path / "bomb.yaml", cwd=tmp_path)
    _one_message(proc, 2, "bomb.yaml")
    assert time.perf_counter() - start < 60  # the process start dominates; the check itself takes milliseconds


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("optim.generator.lr=.inf", "optim.generator.lr"),
        ("seed=9223372036854775808", "seed"),
        ("train.steps=1e50", "train.steps"),
        ("train.batch_size=1000000000", "train.batch_size"),
        ("train.nosuch=1", "from --set"),
    ],
)
def test_out_of_range_and_unknown_overrides(spec_file: Path, tmp_path: Path, override: str, fragment: str) -> None:
    _one_message(_ganzoo("validate", spec_file, "--set", override, cwd=tmp_path), 2, fragment)


def test_duplicate_keys_are_an_error(tmp_path: Path) -> None:
    text = yaml.safe_dump(TINY_SPEC, sort_keys=False) + "train: {steps: 9}\n"
    (tmp_path / "dup.yaml").write_text(text)
    _one_message(_ganzoo("validate", tmp_path / "dup.yaml", cwd=tmp_path), 2, "train")


def test_compare_names_a_run_json_that_is_a_list(finished: Path, tmp_path: Path) -> None:
    good = shutil.copytree(finished, tmp_path / "good")
    bad = shutil.copytree(finished, tmp_path / "bad")
    RunDir(bad).meta.write_text(json.dumps([1, 2, 3]))
    proc = _ganzoo("compare", good, bad, "--out", tmp_path / "cmp", cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert str(RunDir(bad).meta) in proc.stderr and (tmp_path / "cmp").is_dir()
