"""No run is ever lost (issue 11 A): what ``--resume`` refuses, ``--restart``, pruning, atomic writes,
the recorded spec, directories left by failed starts, and a fuzz test of damaged run directories."""

from __future__ import annotations

import copy
import errno
import json
import os
import random
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from ganzoo import hookimpl
from ganzoo.api import load_generator, load_run_spec, resume_spec, train
from ganzoo.checkpoint import find_readable, list_checkpoints, load_checkpoint, prune, save_checkpoint
from ganzoo.engine.resume import plan_resume
from ganzoo.errors import CheckpointError, GanzooError, RunDirError
from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import Registries, collect
from ganzoo.rundir import RunDir, read_meta, update_meta
from ganzoo.runstate import SPEC_RECORD, failed_start, file_sha256
from ganzoo.spec.model import validate_spec
from tests.conftest import TINY_SPEC
from tests.helpers import train_dir, train_records


def _spec(**train_fields: Any) -> dict[str, Any]:
    spec = copy.deepcopy(TINY_SPEC)
    spec["train"].update(steps=4, checkpoint_every=1, keep_checkpoints=3, sample_every=0, tensorboard=False, log_every=1)
    spec["train"].update(train_fields)
    return spec


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, registries: Registries) -> Path:
    """A tiny finished run: 4 steps, a checkpoint every step, the last 3 kept (steps 2, 3, 4)."""
    torch.set_num_threads(1)
    return train_dir(registries, _spec(), tmp_path_factory.mktemp("finished") / "run")


@pytest.fixture
def run(finished: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`finished`."""
    return Path(shutil.copytree(finished, tmp_path / "run"))


def _steps(run_dir: Path) -> list[int]:
    return [r["step"] for r in train_records(run_dir)]


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file's bytes, dot files (the lock, temporaries) left out."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(run_dir).parts)}


# --- item 1: no readable checkpoint ------------------------------------------------------------


def test_resume_without_a_readable_checkpoint_refuses_and_changes_nothing(run: Path, cli_run: Any) -> None:
    ckpts = list_checkpoints(RunDir(run).checkpoints)
    for _, path in ckpts:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated, as by a full disk
    before = _snapshot(run)
    res = cli_run("train", "--resume", run, "--set", "train.steps=6")
    assert res.exit_code == 2, res.output
    assert "none of its checkpoints is readable" in res.output and "--restart" in res.output
    assert all(p.name in res.output for _, p in ckpts)  # each file named, with why
    assert "starting from step 0" not in res.output and "Traceback" not in res.output
    assert _snapshot(run) == before  # the finished generator, metrics and checkpoints are untouched

    res = cli_run("train", "--resume", run, "--set", "train.steps=6", "--restart")
    assert res.exit_code == 0, res.output
    assert "--restart" in RunDir(run).log.read_text()
    assert _steps(run) == [1, 2, 3, 4, 5, 6]  # the old records went with the old training
    assert [s for s, _ in list_checkpoints(RunDir(run).checkpoints)] == [4, 5, 6]
    assert load_checkpoint(RunDir(run).checkpoint(6))["step"] == 6


def test_a_finished_run_without_checkpoints_is_not_retrained_without_restart(run: Path, cli_run: Any) -> None:
    shutil.rmtree(RunDir(run).checkpoints)
    generator = RunDir(run).generator.read_bytes()
    res = cli_run("train", "--resume", run, "--set", "train.steps=6")
    assert res.exit_code == 2 and "has finished (generator.safetensors exists)" in res.output and "--restart" in res.output
    assert RunDir(run).generator.read_bytes() == generator
    assert cli_run("train", "--restart", "--out", run.parent / "x", run.parent / "none.yaml").exit_code == 2  # --restart needs --resume


# --- item 2: a corrupt newer checkpoint, pruning ------------------------------------------------


def test_a_corrupt_newer_checkpoint_is_set_aside_and_never_prunes_good_ones(run: Path, cli_run: Any) -> None:
    paths = RunDir(run)
    paths.checkpoint(99).write_bytes(paths.checkpoint(4).read_bytes()[:500])
    res = cli_run("train", "--resume", run, "--set", "train.steps=6", "--set", "train.keep_checkpoints=1")
    assert res.exit_code == 0, res.output
    assert "set aside unreadable checkpoint step_00000099.pt as step_00000099.pt.corrupt" in res.output
    assert "UserWarning" not in res.output and "warnings.warn" not in res.output  # one line, no Python warning
    assert [s for s, _ in paths.list_checkpoints()] == [6]
    assert paths.set_aside_checkpoint(paths.checkpoint(99)).is_file()
    assert _steps(run) == [1, 2, 3, 4, 5, 6]
    res = cli_run("train", "--resume", run, "--set", "train.steps=7")
    assert res.exit_code == 0 and "resumed from step_00000006.pt at step 6" in res.output


def test_prune_counts_from_the_newest_readable_checkpoint(tmp_path: Path) -> None:
    for step in (1, 2, 3):
        save_checkpoint({"step": step, "w": torch.ones(2)}, tmp_path, step, keep=5)
    (tmp_path / RunDir.checkpoint_name(9)).write_bytes(b"not a checkpoint")
    prune(tmp_path, 1)  # loads newest first to find the anchor: step 3, not the corrupt step 9
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3, 9]
    save_checkpoint({"step": 4, "w": torch.ones(2)}, tmp_path, 4, keep=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3, 4, 9]  # the newer corrupt one neither counts nor pushes out
    found, unreadable = find_readable(tmp_path)
    assert found is not None and found[1]["step"] == 4 and [p.name for p, _ in unreadable] == [RunDir.checkpoint_name(9)]
    (tmp_path / RunDir.checkpoint_name(3)).unlink()
    (tmp_path / RunDir.checkpoint_name(4)).write_bytes(b"")
    prune(tmp_path, 1)  # nothing readable: nothing deleted
    assert [s for s, _ in list_checkpoints(tmp_path)] == [4, 9]


def test_damaged_bytes_inside_a_checkpoint_are_detected(run: Path) -> None:
    path = RunDir(run).checkpoint(4)
    with zipfile.ZipFile(path) as archive:
        info = max(archive.infolist(), key=lambda i: i.compress_size)  # the largest tensor record
    blob = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    blob[start + info.compress_size // 2] ^= 0xFF  # one flipped byte in a weight: torch.load alone would not notice
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(path)
    plan = plan_resume(run)
    assert plan.checkpoint == RunDir(run).checkpoint(3) and [p for p, _ in plan.unreadable] == [path]


# --- item 4: spec.yaml and run.json are written atomically, spec.yaml only when it changes -------


def test_a_failed_spec_write_leaves_spec_yaml_intact(run: Path, registries: Registries, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = RunDir(run)
    before = paths.spec.read_bytes()
    spec = resume_spec(run, registries, ["train.steps=6"])  # a budget change: spec.yaml is rewritten
    real_replace = os.replace

    def file_too_large(src: Any, dst: Any) -> None:
        if Path(dst) == paths.spec:
            raise OSError(errno.EFBIG, "File too large")  # as under `prlimit --fsize=1024`
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", file_too_large)
    with pytest.raises(RunDirError, match=r"spec\.yaml \(the file would exceed the file-size limit\).*previous file is intact"):
        train(spec, registries=registries, resume=run)
    monkeypatch.undo()
    assert paths.spec.read_bytes() == before
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    assert load_run_spec(run, registries).train.steps == 4
    assert load_generator(run, registries=registries).sample(1).shape[0] == 1  # `sample` still works
    train(resume_spec(run, registries, ["train.steps=6"]), registries=registries, resume=run)  # and so does --resume
    assert read_meta(run)["step"] == 6


def test_spec_yaml_is_rewritten_only_when_it_changes_and_the_record_follows(run: Path, registries: Registries) -> None:
    paths = RunDir(run)
    inode, before = paths.spec.stat().st_ino, paths.spec.read_bytes()
    update_meta(run, command=["ganzoo", "train", "first"])
    train(resume_spec(run, registries, []), registries=registries, resume=run)
    assert paths.spec.stat().st_ino == inode and paths.spec.read_bytes() == before  # untouched
    train(resume_spec(run, registries, ["train.steps=5"]), registries=registries, resume=run)
    assert paths.spec.read_bytes() != before and "steps: 5" in paths.spec.read_text()
    assert read_meta(run)[SPEC_RECORD] == file_sha256(paths.spec)  # so the next resume accepts it
    assert read_meta(run)["command"] == ["ganzoo", "train", "first"]  # run.json keeps the start's command line
    assert resume_spec(run, registries, []).train.steps == 5


def test_atomic_writes_keep_permissions_and_report_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ganzoo.fileio import atomic_write_json, atomic_write_text

    path = tmp_path / "x.json"
    atomic_write_json(path, {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would make it, not mkstemp's 0600
    path.chmod(0o640)
    atomic_write_text(path, "{}")
    assert path.stat().st_mode & 0o777 == 0o640 and path.read_text() == "{}"

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunDirError, match=r"disk is full.*previous file is intact"):
        atomic_write_json(path, {"b": 2})
    assert path.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["x.json"]


# --- item 6: killed before the first checkpoint ---------------------------------------------------


def test_a_run_killed_before_its_first_checkpoint_restarts_without_logging_steps_twice(run: Path, cli_run: Any) -> None:
    paths = RunDir(run)
    shutil.rmtree(paths.checkpoints)
    paths.generator.unlink()
    update_meta(run, status="running")  # what a SIGKILL leaves: run.json never updated
    assert _steps(run) == [1, 2, 3, 4]
    res = cli_run("train", "--resume", run)
    assert res.exit_code == 0, res.output
    assert "has no checkpoint yet" in res.output and "starting from step 0" in res.output
    assert _steps(run) == [1, 2, 3, 4]  # not [1, 2, 3, 4, 1, 2, 3, 4]


# --- item 12: the spec recorded at the start --------------------------------------------------------


def test_a_hand_edited_spec_yaml_is_refused(run: Path, cli_run: Any) -> None:
    paths = RunDir(run)
    edited = paths.spec.read_text().replace("\nseed: 0\n", "\nseed: 5\n")
    paths.spec.write_text(edited)
    res = cli_run("train", "--resume", run, "--set", "train.steps=5")
    assert res.exit_code == 2
    assert str(paths.spec) in res.output and "--allow-spec-change" in res.output
    assert paths.spec.read_text() == edited  # its hash header is not rewritten
    assert read_meta(run)["status"] == "completed"
    res = cli_run("train", "--resume", run, "--set", "train.steps=5", "--allow-spec-change")
    assert res.exit_code == 0, res.output
    assert "seed: 5" in paths.spec.read_text() and read_meta(run)[SPEC_RECORD] == file_sha256(paths.spec)
    assert cli_run("train", "--resume", run, "--set", "train.steps=6").exit_code == 0  # the record follows the accepted file


# --- item 14: a start that failed ----------------------------------------------------------------------


def test_a_start_without_its_init_file_leaves_a_reusable_directory(cli_run: Any, write_spec: Any, tmp_path: Path) -> None:
    spec = _spec(steps=2)
    out = tmp_path / "run"
    bad = {**spec, "init": {"generator": {"from": str(tmp_path / "missing")}}}
    res = cli_run("train", write_spec(bad, "bad.yaml"), "--out", out)
    assert res.exit_code == 1 and "init.generator.from" in res.output
    assert out.is_dir() and failed_start(out)
    res = cli_run("train", "--resume", out)
    assert res.exit_code == 2 and "failed before its first step" in res.output and f"--out {out}" in res.output
    res = cli_run("train", write_spec(spec), "--out", out)
    assert res.exit_code == 0, res.output
    assert "starting afresh in it" in res.output and _steps(out) == [1, 2]


def test_a_start_that_failed_while_building_leaves_a_reusable_directory(
    cli_run: Any, write_spec: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seed torch refused used to fail here, in the Run's constructor, before run.json existed."""
    def overflow(seed: int) -> None:
        raise ValueError("Overflow when unpacking long long")

    monkeypatch.setattr("ganzoo.engine.run.seed_everything", overflow)
    spec, out = write_spec(_spec(steps=2)), tmp_path / "run"
    with pytest.raises(ValueError, match="Overflow"):
        cli_run("train", spec, "--out", out)
    monkeypatch.undo()
    assert not RunDir(out).is_run() and failed_start(out)
    assert cli_run("train", "--resume", out).exit_code == 2
    assert cli_run("train", spec, "--out", out).exit_code == 0 and _steps(out) == [1, 2]


class _FailAtStart:
    @hookimpl
    def ganzoo_on_train_start(self, run):  # type: ignore[no-untyped-def]
        raise RuntimeError("failed before the first step")


def test_a_run_that_failed_at_step_0_is_accepted_by_both_a_fresh_start_and_resume(
    registries: Registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run.json and spec.yaml are written, then the first batch fails (a 2^62 seed used to overflow here)."""
    def overflow(self: Any) -> None:
        raise RuntimeError("Overflow when unpacking long")

    monkeypatch.setattr("ganzoo.engine.run.Run._loader", overflow)
    out = tmp_path / "run"
    with pytest.raises((RuntimeError, GanzooError), match="Overflow"):  # plain, or named by plugin isolation
        train(validate_spec(_spec(steps=2), registries), out, registries=registries)
    monkeypatch.undo()
    assert read_meta(out)["status"] == "failed" and failed_start(out)
    again = Path(shutil.copytree(out, tmp_path / "again"))
    train(validate_spec(_spec(steps=2), registries), out, registries=registries)  # a plain re-run with the same --out
    assert _steps(out) == [1, 2] and read_meta(out)["status"] == "completed"
    train(resume_spec(again, registries, []), registries=registries, resume=again)  # or --resume
    assert _steps(again) == [1, 2] and read_meta(again)["status"] == "completed"


def test_a_plugin_failing_at_train_start_marks_the_run_failed(registries: Registries, tmp_path: Path) -> None:
    failing = collect(get_plugin_manager(extra=[("fail", _FailAtStart())]))
    out = tmp_path / "run"
    with pytest.raises((RuntimeError, GanzooError), match="before the first step"):
        train(validate_spec(_spec(steps=2), failing), out, registries=failing)
    assert read_meta(out)["status"] == "failed" and failed_start(out)  # not "running" forever


def test_a_directory_with_a_run_is_never_reused(run: Path, registries: Registries) -> None:
    assert not failed_start(run)
    before = _snapshot(run)
    with pytest.raises(RunDirError, match="not empty"):
        train(validate_spec(_spec(), registries), run, registries=registries)
    assert _snapshot(run) == before


# --- fuzz ----------------------------------------------------------------------------------------------

_DAMAGES = ("delete", "zero", "half", "random", "flip")


def _damage(path: Path, how: str, rng: random.Random) -> None:
    data = path.read_bytes()
    if how == "delete":
        path.unlink()
    elif how == "zero":
        path.write_bytes(b"")
    elif how == "half":
        path.write_bytes(data[: len(data) // 2])
    elif how == "random":
        path.write_bytes(rng.randbytes(max(len(data), 1)))
    else:  # a few bytes overwritten somewhere: may or may not leave the file usable
        blob = bytearray(data)
        at = rng.randrange(len(blob))
        for i in range(at, min(at + rng.randint(1, 8), len(blob))):
            blob[i] = (blob[i] + rng.randint(1, 255)) % 256
        path.write_bytes(bytes(blob))


def _expected(damaged: dict[str, str], checkpoints: list[str]) -> str:
    """``refuse``, ``accept`` or ``either`` (a few overwritten bytes may leave a file usable)."""
    if "spec.yaml" in damaged:
        return "refuse"  # any change to it is caught by the record in run.json
    if damaged.get("run.json") in {"delete", "zero", "half", "random"}:
        return "refuse"  # the record is lost
    usable = [c for c in checkpoints if c not in damaged]
    maybe = [c for c in checkpoints if damaged.get(c) == "flip"]
    if not usable and not maybe:
        return "refuse"  # no checkpoint can be read, and the run finished
    return "accept" if usable and "run.json" not in damaged else "either"


def test_fuzz_damaged_run_directories_resume_or_refuse(finished: Path, registries: Registries, tmp_path: Path) -> None:
    """200 seeded cases of a finished run with some of its files deleted, emptied, cut in half, replaced by
    random bytes or with a few bytes overwritten (the checkpoints, spec.yaml, run.json, metrics.jsonl).

    Every case makes the decision ``ganzoo train --resume RUN --set train.steps=6`` makes before touching
    anything (``resume_spec`` then ``plan_resume``); every fifth case that is accepted then trains in-process
    through ``ganzoo.api.train``, as the CLI does. Each case must match what its damage implies: refused
    with a GanzooError and a message, leaving every file (the finished generator included) byte-identical;
    or accepted, continuing from a checkpoint that loads and holds the step its name says, and (when trained)
    ending at step 6 with a readable checkpoint and a metrics.jsonl without duplicate steps.
    """
    paths = RunDir(finished)
    checkpoints = [str(p.relative_to(finished)) for _, p in paths.list_checkpoints()]
    targets = [*checkpoints, "spec.yaml", "run.json", "metrics.jsonl"]
    counts = {"refuse": 0, "accept": 0, "trained": 0}
    for case in range(200):
        rng = random.Random(case)
        run_dir = tmp_path / f"case{case}"
        shutil.copytree(finished, run_dir, ignore=shutil.ignore_patterns(".*"))
        chosen = [t for t in targets if rng.random() < 0.3] or [rng.choice(targets)]
        damaged = {t: rng.choice(_DAMAGES) for t in chosen}
        for target, how in damaged.items():
            _damage(run_dir / target, how, rng)
        before = _snapshot(run_dir)
        expected = _expected(damaged, checkpoints)
        try:
            spec = resume_spec(run_dir, registries, ["train.steps=6"])
            plan = plan_resume(run_dir)
            trains = counts["accept"] % 5 == 0
            if trains:
                train(spec, registries=registries, resume=run_dir)
        except GanzooError as exc:
            assert expected != "accept", (case, damaged, str(exc))
            assert str(exc).strip(), (case, damaged)
            assert _snapshot(run_dir) == before, (case, damaged)  # a refused resume changes nothing
            counts["refuse"] += 1
            continue
        assert expected != "refuse", (case, damaged)
        counts["accept"] += 1
        assert plan.checkpoint is not None  # every damaged case here still has a checkpoint or refuses
        assert plan.state is not None and plan.state["step"] == RunDir.step_of(plan.checkpoint), (case, damaged)
        if trains:
            counts["trained"] += 1
            last_step, last = RunDir(run_dir).list_checkpoints()[-1]
            assert last_step == 6 and load_checkpoint(last)["step"] == 6, (case, damaged)
            steps = _steps(run_dir)
            assert steps == sorted(set(steps)) and steps[-1] == 6, (case, damaged, steps)
            assert json.loads(RunDir(run_dir).meta.read_text())["status"] == "completed"
        shutil.rmtree(run_dir)
    assert counts["refuse"] >= 40 and counts["accept"] >= 40 and counts["trained"] >= 10, counts


def test_a_full_disk_while_logging_is_one_message_and_keeps_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log line that cannot be written (ENOSPC) stops the run with a RunDirError naming the file, not an OSError traceback."""
    import errno

    from click.testing import CliRunner

    from ganzoo.cli import cli
    from ganzoo.engine import logging as run_logging
    from tests.conftest import TINY_SPEC

    real_scalars = run_logging.RunLogger.scalars

    def scalars(self: Any, step: int, values: dict[str, float], *, kind: str = "train") -> None:
        if step >= 3:
            self._jsonl = _Full()
        real_scalars(self, step, values, kind=kind)

    class _Full:
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            pass

    monkeypatch.setattr(run_logging.RunLogger, "scalars", scalars)
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({**TINY_SPEC, "train": {**TINY_SPEC["train"], "steps": 4, "checkpoint_every": 2, "tensorboard": False}}))
    result = CliRunner().invoke(cli, ["train", str(spec), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "could not write" in result.output and "metrics.jsonl" in result.output and "the disk is full" in result.output
    assert "Traceback" not in result.output
    assert RunDir(tmp_path / "run").list_checkpoints()[-1][0] == 2  # the checkpoint before the failure is intact
