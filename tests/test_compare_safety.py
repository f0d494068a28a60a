"""A run directory is locked while it trains; compare never deletes, forwards signals, and gathers robustly."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ganzoo.api import train
from ganzoo.cli import cli
from ganzoo.compare import execute
from ganzoo.compare.execute import plan_runs, run_sweep
from ganzoo.compare.gather import gather_run
from ganzoo.compare.sweep import SweepRun, expand_sweep, load_sweep
from ganzoo.errors import RunDirError
from ganzoo.rundir import RunDir, SweepDir
from ganzoo.runlock import LockHolder, RunLock, lock_holder
from ganzoo.spec.model import validate_spec

from .conftest import TINY_SPEC

BASE: dict[str, Any] = copy.deepcopy(TINY_SPEC)
BASE["train"].update(steps=2, log_every=1, sample_every=0, checkpoint_every=1, tensorboard=False)
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _cli(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _sweep(tmp: Path, seeds: list[int], base: dict[str, Any] = BASE) -> Path:
    (tmp / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    path = tmp / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "safe", "base": "base.yaml", "seeds": seeds, "variants": {"v": {}}}, sort_keys=False))
    return path


def _runs(sweep_file: Path, registries: Any) -> list[SweepRun]:
    return expand_sweep(load_sweep(sweep_file), registries, sweep_file.parent)


def _finish(r: SweepRun, out: Path, registries: Any) -> RunDir:
    """Train one run of a sweep in this process, where compare would put it."""
    paths = SweepDir(out).run(r.variant, r.seed)
    train(r.spec, paths.root, registries=registries)
    return paths


def _hold_in_subprocess(run_dir: Path) -> subprocess.Popen[str]:
    """Another process holding ``run_dir``'s lock; returns once it holds it."""
    code = "import sys, time; from ganzoo.runlock import RunLock; RunLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, registries: Any) -> Path:
    """One finished tiny run (trained in this process)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    return train(validate_spec(copy.deepcopy(BASE), registries), out, registries=registries)


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


# ------------------------------------------------------------------ the lock


def test_lock_names_its_holder_and_dies_with_the_process(tmp_path, finished):
    run = _copy(finished, tmp_path / "run")
    assert lock_holder(run) is None  # the lock file a finished run leaves is not a lock
    holder = _hold_in_subprocess(run)
    try:
        seen = lock_holder(run)
        assert seen is not None and seen.pid == holder.pid and seen.host and seen.command == f"python -c {run}"
        for args in (["train", "--resume", run], ["train", tmp_path / "spec.yaml", "--out", run]):
            (tmp_path / "spec.yaml").write_text(yaml.safe_dump(BASE))
            result = _cli(*args)
            assert result.exit_code == 2, result.output  # a RunDirError: one line, no traceback
            assert f"error: {run} is being trained by another process: pid {holder.pid} on " in result.output
            assert "Traceback" not in result.output
    finally:
        holder.kill()
        holder.wait()
    assert lock_holder(run) is None  # SIGKILL released it: no stale lock


def test_second_trainer_in_process_is_refused(tmp_path, registries, finished):
    run = _copy(finished, tmp_path / "run")
    spec = validate_spec(copy.deepcopy(BASE), registries)
    with RunLock(run):
        with pytest.raises(RunDirError, match=f"pid {os.getpid()} on .* since "):
            train(spec, registries=registries, resume=run)
        with pytest.raises(RunDirError, match=f"pid {os.getpid()}"):
            RunLock(run).acquire()
    fresh = tmp_path / "fresh"
    train(spec, fresh, registries=registries)  # a trainer takes and releases the lock itself
    assert RunDir(fresh).lock.is_file() and lock_holder(fresh) is None


def test_holder_text_round_trips_and_tolerates_garbage():
    me = LockHolder.current()
    assert LockHolder.parse(me.to_text()) == me and me.pid == os.getpid()
    assert LockHolder.parse("") == LockHolder(None, "?", "?", "?")
    assert "an unknown process" in LockHolder.parse("\x00garbage").describe()


# ------------------------------------------------------------------ compare never deletes


def test_finished_run_without_spec_is_moved_aside_with_user_files_and_retrained(tmp_path, registries):
    """Issue 11, item 3: compare used to rmtree such a directory, user files included."""
    sweep_file = _sweep(tmp_path, [0])
    out = tmp_path / "out"
    (r,) = _runs(sweep_file, registries)
    paths = _finish(r, out, registries)
    paths.spec.unlink()
    (paths.root / "my-notes.txt").write_text("keep me")

    result = _cli("compare", sweep_file, "--out", out, "--threads", "1")
    assert result.exit_code == 0, result.output
    moved = list(SweepDir(out).set_aside.iterdir())
    assert len(moved) == 1 and moved[0].name.startswith(f"{r.key}.")
    assert (moved[0] / "my-notes.txt").read_text() == "keep me"  # nothing of the user's was deleted
    assert RunDir(moved[0]).meta.is_file()
    assert f"{r.key}: it has no {paths.spec.name}; moved it aside to {moved[0]} and training it afresh" in result.output
    assert gather_run(paths.root).status == "completed" and not (paths.root / "my-notes.txt").exists()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda p: p.meta.write_text("{not json"), "run.json is not valid JSON"),
        (lambda p: p.meta.write_text("[1, 2]"), "run.json holds a list, not a JSON object"),
        (lambda p: p.spec.write_text("name: x\n"), "spec.yaml has no sha256 header"),
        (lambda p: p.spec.write_bytes(b"\xff\xfe\x00"), "spec.yaml cannot be read"),
        (lambda p: p.metrics.write_text('{"step": 1}\n[3]\n'), "metrics.jsonl line 2 holds a list"),
        (lambda p: p.eval.write_text('{"metrics": {"fd": 3}}'), "eval.json has a malformed entry for 'fd'"),
    ],
)
def test_unusable_runs_are_planned_for_setting_aside(tmp_path, registries, damage, reason):
    sweep_file = _sweep(tmp_path, [0])
    out = tmp_path / "out"
    (r,) = _runs(sweep_file, registries)
    paths = _finish(r, out, registries)
    assert plan_runs([r], out)[r.key].action == "done"
    damage(paths)
    planned = plan_runs([r], out)[r.key]
    assert planned.action == "redo" and reason in planned.reason
    moved = execute.set_aside(out, r)
    assert not paths.root.exists() and moved.parent == SweepDir(out).set_aside and RunDir(moved).log.is_file()
    assert plan_runs([r], out)[r.key].action == "train"


def test_a_run_without_checkpoint_is_set_aside_not_deleted(tmp_path, registries):
    sweep_file = _sweep(tmp_path, [0])
    out = tmp_path / "out"
    (r,) = _runs(sweep_file, registries)
    paths = _finish(r, out, registries)
    RunDir(paths.root).meta.write_text(json.dumps({"status": "interrupted", "step": 1}))
    for _, ckpt in paths.list_checkpoints():
        ckpt.unlink()
    assert plan_runs([r], out)[r.key] == execute.Planned("redo", "it has no checkpoint to resume from")


def test_compare_skips_a_locked_run_and_says_who_holds_it(tmp_path, registries):
    sweep_file = _sweep(tmp_path, [0, 1])
    out = tmp_path / "out"
    runs = _runs(sweep_file, registries)
    _finish(runs[0], out, registries)
    live = SweepDir(out).run(runs[1].variant, runs[1].seed)
    live.root.mkdir(parents=True)
    (live.root / "partial").write_text("a live run's files")
    with RunLock(live.root):
        result = _cli("compare", sweep_file, "--out", out, "--threads", "1")
    assert result.exit_code == 1  # the comparison is written, but incomplete
    assert f"{runs[1].key}: being trained by another process, pid {os.getpid()} on " in result.output
    assert "skipped" in result.output and "run(s) to train" not in result.output
    assert (live.root / "partial").is_file() and not SweepDir(out).set_aside.exists()
    assert not SweepDir(out).log_file(runs[1].variant, runs[1].seed).exists()  # nothing was launched
    assert SweepDir(out).results_md.is_file()


# ------------------------------------------------------------------ signals


def test_forwarded_signal_reaches_a_child_started_meanwhile_exactly_once(tmp_path, registries, monkeypatch):
    """The handler only notes the signal; the loop delivers it, so no child gets it twice (which skips its checkpoint)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")
    sweep_file = _sweep(tmp_path, [0, 1])
    out = tmp_path / "out"
    runs = _runs(sweep_file, registries)
    got = tmp_path / "got"
    child = (
        "import signal, sys, time\n"
        "hit = []\n"
        "signal.signal(signal.SIGINT, lambda *a: (hit.append(1), open(sys.argv[1], 'a').write('INT\\n')))\n"
        "open(sys.argv[2], 'w').close()\n"
        "while not hit: time.sleep(0.01)\n"
        "time.sleep(0.5)\n"
        "sys.exit(130)\n"
    )

    def fake_start(r: SweepRun, action: str, out: Path, threads: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
        ready = tmp_path / f"ready-{r.key}"
        proc = subprocess.Popen([sys.executable, "-c", child, str(got), str(ready)])
        while not ready.exists():
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)  # arrives before run_sweep has recorded this child
        return proc

    monkeypatch.setattr(execute, "_start", fake_start)
    lines: list[str] = []
    outcome = run_sweep(runs, out, jobs=1, threads=1, echo=lines.append)
    assert outcome.signal == signal.SIGINT
    assert outcome.codes == {runs[0].key: 130}  # the second run never started
    assert got.read_text() == "INT\n"
    assert f"{runs[0].key}: stopped by SIGINT; it resumes from its checkpoint next time" in lines[-1]


def test_sigterm_to_compare_stops_its_child_after_a_checkpoint_and_a_rerun_resumes(tmp_path, registries):
    base = copy.deepcopy(BASE)
    base["train"].update(steps=60, checkpoint_every=10)
    sweep_file = _sweep(tmp_path, [0], base)
    out = tmp_path / "out"
    (r,) = _runs(sweep_file, registries)
    paths = SweepDir(out).run(r.variant, r.seed)
    proc = subprocess.Popen([sys.executable, "-m", "ganzoo", "compare", str(sweep_file), "--out", str(out), "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 60
    while time.time() < deadline and (not paths.metrics.is_file() or paths.metrics.read_text().count("\n") < 3):
        time.sleep(0.02)
    child = lock_holder(paths.root)
    assert child is not None and child.pid is not None and "train" in child.command
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM: 1 run(s) stopped after saving a checkpoint" in err and "Traceback" not in err
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)  # no orphan: compare waited for its child
    assert lock_holder(paths.root) is None
    assert paths.list_checkpoints() and gather_run(paths.root).status == "interrupted"

    result = _cli("compare", sweep_file, "--out", out, "--threads", "1")
    assert result.exit_code == 0, result.output
    assert f"{r.key}: done" in result.output
    assert "resumed from" in paths.log.read_text()
    steps = [json.loads(x)["step"] for x in paths.metrics.read_text().splitlines()]
    assert steps == list(range(1, 61))  # each step once: resumed, not retrained alongside


# ------------------------------------------------------------------ robust gathering


@pytest.mark.parametrize(("content", "why"), [("{garbage", "is not valid JSON"), ("[1, 2, 3]", "holds a list, not a JSON object")])
def test_one_corrupt_run_json_does_not_stop_the_comparison(tmp_path, finished, content, why):
    runs = [_copy(finished, tmp_path / f"v-s{i}") for i in range(3)]
    bad = RunDir(runs[1]).meta
    bad.write_text(content)
    result = _cli("compare", *runs, "--out", tmp_path / "cmp")
    assert result.exit_code == 1  # written, but one run is unreadable
    warning = next(line for line in result.output.splitlines() if line.startswith("warning: "))
    assert warning.startswith(f"warning: {bad} {why}") and "left out" in warning and warning.endswith(f"or delete {runs[1]}")
    assert "| **v** | 2/3 |" in result.output  # the other two are compared
    rows = json.loads(SweepDir(tmp_path / "cmp").results_json.read_text())["variants"][0]["runs"]
    assert sorted(x["status"] for x in rows) == ["completed", "completed", "unreadable"]
    assert any(str(bad) in n for n in json.loads(SweepDir(tmp_path / "cmp").results_json.read_text())["notes"])


def test_gather_reads_a_locked_run_as_running(tmp_path, finished):
    run = _copy(finished, tmp_path / "run")
    RunDir(run).meta.write_text('{"status": "runn')  # a file mid-write by its live trainer
    with RunLock(run):
        rec = gather_run(run)
    assert rec.status == "running" and f"pid {os.getpid()}" in rec.error
    assert gather_run(run).status == "unreadable"
