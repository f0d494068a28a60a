"""Launchers: the plugin kind, param validation, the slurm dry run, and submitit's real local executor end to end."""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pydantic import Field

from ganzoo import LauncherEntry, Params, hookimpl
from ganzoo.cli import cli
from ganzoo.compare.launcher import JobRecord, Launcher, LaunchOutcome, LaunchRun, read_jobs, write_jobs
from ganzoo.compare.sweep import build_launcher, load_sweep
from ganzoo.rundir import RunDir, SweepDir
from ganzoo.runlock import lock_holder

from .conftest import TINY_SPEC

# the slurm launcher's extra (in .[test]); the tests of the kind itself need no submitit
needs_submitit = pytest.mark.skipif(importlib.util.find_spec("submitit") is None, reason="needs submitit (pip install 'ganzoo[slurm]')")

BASE: dict[str, Any] = copy.deepcopy(TINY_SPEC)
BASE["train"].update(steps=4, log_every=2, sample_every=0, checkpoint_every=2)


def _write(tmp: Path, sweep: dict[str, Any]) -> Path:
    (tmp / "base.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    path = tmp / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def _sweep(**launcher: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": "tiny", "base": "base.yaml", "seeds": [0],
                           "variants": {"a": {}, "b": {"set": {"losses.adversarial.type": "hinge"}}}}
    if launcher:
        out["launcher"] = launcher
    return out


def _run(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _until(what: str, check: Callable[[], Any], timeout: float = 120.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# ------------------------------------------------------------------ the kind and its params


def test_launchers_are_listed_and_shown():
    result = _run("list", "launchers")
    assert result.exit_code == 0
    names = {line.split()[1] for line in result.output.splitlines() if line.startswith("launcher")}
    assert {"local", "slurm"} <= names
    shown = _run("show", "slurm")
    assert shown.exit_code == 0 and "array_parallelism" in shown.output and "partition" in shown.output


@pytest.mark.parametrize("name", ["local", "slurm"])
def test_launcher_params_follow_the_params_contract(registries, name):
    from ganzoo.testing import check_params_model

    entry = registries["launchers"].get(name)
    assert entry.kind == "launcher" and entry.plugin == "ganzoo_launch"
    check_params_model(entry)  # unknown keys rejected, every field described, JSON-safe defaults


@pytest.mark.parametrize(
    ("section", "args", "expected"),
    [
        ({"type": "slurm", "params": {"gpus_per_node": -1}}, [], "launcher.params.gpus_per_node"),
        ({"type": "slurm", "params": {"executor": "pbs"}}, [], "launcher.params.executor"),
        ({"type": "slurm", "params": {"executor": "local", "nodes": 2}}, [], "launcher.params: Value error, submitit's local executor"),
        (None, ["--launcher", "slurm", "--launcher-set", "partiton=gpu"], "launcher.params.partiton: Extra inputs are not permitted"),
        (None, ["--launcher", "slurm", "--launcher-set", "time_min=0"], "launcher.params.time_min"),
        (None, ["--launcher", "local", "--launcher-set", "jobs=many"], "launcher.params.jobs"),
        (None, ["--launcher", "slrum"], "launcher.type: unknown launcher 'slrum'"),
        (None, ["--launcher", "slurm", "--jobs", "4"], "Invalid value for --jobs: applies to the local launcher"),
    ],
)
def test_a_bad_launcher_param_is_a_spec_error(tmp_path, section, args, expected):
    sweep = _sweep(**section) if section else _sweep()
    result = _run("compare", _write(tmp_path, sweep), "--out", tmp_path / "out", "--dry-run", *args)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert not (tmp_path / "out").exists()  # rejected before anything is written


def test_the_default_launcher_is_local_with_the_jobs_given(tmp_path):
    from ganzoo.plugin.registry import load_registries

    reg = load_registries()
    launcher = build_launcher(reg, None, sets={"jobs": 3})
    assert launcher.name == "local" and launcher.params.jobs == 3  # type: ignore[attr-defined]
    # a section of another launcher keeps its params to itself
    section = load_sweep(_write(tmp_path, _sweep(type="slurm", params={"partition": "gpu"}))).launcher
    assert build_launcher(reg, section).params.partition == "gpu"  # type: ignore[attr-defined]
    assert build_launcher(reg, section, name="local").name == "local"


def test_launcher_local_is_the_default(tmp_path):
    path = _write(tmp_path, _sweep())
    plain = _run("compare", path, "--out", tmp_path / "out", "--jobs", "2", "--dry-run")
    local = _run("compare", path, "--out", tmp_path / "out", "--jobs", "2", "--dry-run", "--launcher", "local")
    assert plain.exit_code == local.exit_code == 0 and plain.output == local.output
    assert plain.output.startswith("# ganzoo compare --dry-run: 2 run(s) on this machine, 2 at a time")


@needs_submitit
def test_slurm_dry_run_prints_one_array_with_the_resources(tmp_path):
    sweep = _write(tmp_path, _sweep(type="slurm", params={"partition": "gpu", "sbatch": {"constraint": "a100"}}))
    result = _run("compare", sweep, "--out", tmp_path / "out", "--dry-run", "--launcher-set", "gpus_per_node=2",
                  "--launcher-set", "nodes=2", "--launcher-set", "mem_gb=64", "--launcher-set", "account=lab",
                  "--launcher-set", "qos=high", "--launcher-set", "time_min=240", "--launcher-set", "array_parallelism=1")
    assert result.exit_code == 0, result.output
    sbatch = dict(re.findall(r"^#SBATCH --([\w-]+)(?:=(\S+))?$", result.output, re.M))
    assert sbatch["array"] == "0-1%1"  # one array of 2 jobs, one at a time
    assert (sbatch["partition"], sbatch["account"], sbatch["qos"], sbatch["constraint"]) == ("gpu", "lab", "high", "a100")
    assert (sbatch["nodes"], sbatch["gpus-per-node"], sbatch["ntasks-per-node"]) == ("2", "2", "2")  # one DDP rank per GPU
    assert (sbatch["time"], sbatch["mem"], sbatch["cpus-per-task"], sbatch["signal"]) == ("240", "64GB", "4", "USR2@120")
    assert result.output.count("#!/bin/bash") == 1
    assert "a-s0: " in result.output and "b-s0: " in result.output and "-m ganzoo train" in result.output
    assert not (tmp_path / "out").exists()  # nothing submitted, nothing written


def test_jobs_file_round_trips_and_merges(tmp_path):
    sweep = SweepDir(tmp_path)
    first = JobRecord("a-s0", "slurm", "12_0", "f", "o", "e")
    write_jobs(sweep, {"a-s0": first, "b-s0": JobRecord("b-s0", "slurm", "12_1", "f", "o", "e")})
    write_jobs(sweep, {"a-s0": JobRecord("a-s0", "slurm", "13_0", "f", "o", "e")})
    jobs = read_jobs(sweep)
    assert (jobs["a-s0"].job_id, jobs["b-s0"].job_id) == ("13_0", "12_1")


@needs_submitit
def test_a_live_job_of_another_launcher_is_not_trained_twice(tmp_path):
    """jobs.json says a slurm (local-executor) job for a-s0 is alive; a plain compare must skip that run."""
    sweep = _sweep()
    del sweep["variants"]["b"]
    path, out = _write(tmp_path, sweep), tmp_path / "out"
    live = JobRecord("a-s0", "slurm", str(os.getpid()), str(tmp_path), "job.out", "job.err", executor="local")  # this process: alive
    write_jobs(SweepDir(out), {"a-s0": live})
    dry = _run("compare", path, "--out", out, "--dry-run")
    assert dry.exit_code == 0 and dry.output.startswith("# ganzoo compare --dry-run: 0 run(s)") and "a-s0" not in dry.output
    result = _run("compare", path, "--out", out)
    assert result.exit_code == 1, result.output  # incomplete: the run is someone else's for now
    assert f"a-s0: queued or running, slurm job {os.getpid()} is running (stdout job.out, stderr job.err); skipped" in result.output
    assert not SweepDir(out).run("a", 0).root.exists() and not SweepDir(out).log_file("a", 0).exists()


def test_a_run_becomes_resumable_once_it_has_a_checkpoint(tmp_path, registries):
    from ganzoo.api import train
    from ganzoo.spec.model import validate_spec

    run = LaunchRun.of(SweepDir(tmp_path), "a", 0, "train")
    assert run.resumable().train_args() == ["train", str(run.spec_file), "--out", str(run.run_dir)]
    train(validate_spec(copy.deepcopy(BASE), registries), run.run_dir, registries=registries)
    assert run.resumable().train_args() == ["train", "--resume", str(run.run_dir)]


class _QueueParams(Params):
    queue: str = Field("default", min_length=1, description="The queue.")


class _Queue(Launcher):
    """A third-party launcher that only records what it was given, and says every job is still queued."""

    def __init__(self, params: _QueueParams) -> None:
        self.params = params
        self.given: list[LaunchRun] = []

    def launch(self, runs, sweep, *, wait, echo):
        self.given.extend(runs)
        return LaunchOutcome(jobs={r.key: JobRecord(r.key, self.name, f"{self.params.queue}-{i}", str(sweep.root), "o", "o")
                                   for i, r in enumerate(runs)})

    def job_state(self, job):
        return "pending"


class _QueuePlugin:
    @hookimpl
    def ganzoo_launchers(self):
        return [LauncherEntry(name="my-queue", build=_Queue, params=_QueueParams, description="Records the runs.")]


def test_a_third_party_launcher_gets_the_runs_and_its_queued_jobs_are_not_submitted_twice(tmp_path):
    from ganzoo.compare.execute import run_sweep
    from ganzoo.compare.sweep import expand_sweep
    from ganzoo.spec.model import SpecError
    from ganzoo.testing import registries_with

    reg = registries_with(("my_queue", _QueuePlugin()))
    sweep = load_sweep(_write(tmp_path, _sweep(type="my-queue", params={"queue": "fast"})))
    with pytest.raises(SpecError, match=r"launcher\.params\.queue"):
        build_launcher(reg, sweep.launcher, sets={"queue": ""})
    launcher = build_launcher(reg, sweep.launcher)
    assert isinstance(launcher, _Queue) and launcher.name == "my-queue"
    runs, out = expand_sweep(sweep, reg, tmp_path), tmp_path / "out"
    first = run_sweep(runs, out, launcher=launcher, wait=False, echo=lambda m: None)
    assert [r.key for r in launcher.given] == ["a-s0", "b-s0"] and {r.action for r in launcher.given} == {"train"}
    assert all(r.spec_file.is_file() for r in launcher.given)  # written before the launch: a job elsewhere reads it
    assert launcher.given[0].train_args() == ["train", str(launcher.given[0].spec_file), "--out", str(launcher.given[0].run_dir)]
    assert {k: j.job_id for k, j in read_jobs(SweepDir(out)).items()} == {"a-s0": "fast-0", "b-s0": "fast-1"} == \
        {k: j.job_id for k, j in first.jobs.items()}
    lines: list[str] = []
    again = run_sweep(runs, out, launcher=launcher, wait=False, echo=lines.append)
    assert len(launcher.given) == 2 and not again.jobs  # nothing submitted twice
    assert set(again.skipped) == {"a-s0", "b-s0"} and "my-queue job fast-0 is pending (log o)" in again.skipped["a-s0"]


# ------------------------------------------------------------------ submitit's local executor, end to end


def _starts(run: Path) -> list[int]:
    return [int(m) for m in re.findall(r"start step (\d+)", RunDir(run).log.read_text())] if RunDir(run).log.exists() else []


def _task_pid(trainer: int) -> int:
    """The submitit task process that started the trainer (its parent)."""
    return int(Path(f"/proc/{trainer}/stat").read_text().rpartition(")")[2].split()[1])


@needs_submitit
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes through /proc")
def test_submitit_sweep_is_requeued_on_preemption_and_resubmitted_after_a_kill(tmp_path):
    """Two variants through submitit's real LocalExecutor: a preemption notice (USR2) requeues a job,
    which resumes from its checkpoint; a killed job is reported and resubmitted by the next compare,
    which resumes it again; the finished variant is reused, never submitted twice."""
    sweep = _sweep(type="slurm", params={"executor": "local", "cpus_per_task": 1})
    sweep["variants"]["a"] = {"set": {"train.steps": 120, "train.checkpoint_every": 3, "train.log_every": 10}}
    path = _write(tmp_path, sweep)
    out = tmp_path / "out"
    first = _run("compare", path, "--out", out)
    assert first.exit_code == 0, first.output
    assert "submitted 2 job(s)" in first.output
    jobs = read_jobs(SweepDir(out))
    assert set(jobs) == {"a-s0", "b-s0"} and all(j.executor == "local" for j in jobs.values())
    run = SweepDir(out).run("a", 0).root

    # preemption: USR2 to the job's task, as SLURM sends it before the time limit; the job requeues itself
    _until("a's first checkpoint", lambda: RunDir(run).list_checkpoints() and lock_holder(run))
    trainer = lock_holder(run).pid
    os.kill(_task_pid(trainer), signal.SIGUSR2)
    starts = _until("the requeued job to resume", lambda: len(s := _starts(run)) >= 2 and s)
    assert starts[0] == 0 and starts[1] > 0  # resumed from the checkpoint the notice made it save

    # a kill (an OOM killer, a node failure): the job fails; the next compare resubmits only it
    def resumed_trainer() -> int | None:  # once it has saved a checkpoint of its own
        holder = lock_holder(run)
        newer = RunDir(run).list_checkpoints()[-1][0] > starts[1]
        return holder.pid if holder is not None and holder.pid != trainer and newer else None

    os.kill(_until("the resumed trainer", resumed_trainer), signal.SIGKILL)
    launcher = build_launcher(_registries(), load_sweep(path).launcher)
    _until("job a to fail", lambda: launcher.job_state(jobs["a-s0"]) == "failed")
    _until("job b to finish", lambda: launcher.job_state(jobs["b-s0"]) == "done")

    second = _run("compare", path, "--out", out, "--wait")
    assert second.exit_code == 0, second.output
    assert f"a-s0: slurm job {jobs['a-s0'].job_id} failed; see stdout {jobs['a-s0'].stdout}" in second.output
    assert "b-s0: finished earlier, reused" in second.output
    assert "a-s0: submitted as local job" in second.output and "(resume)" in second.output
    again = read_jobs(SweepDir(out))
    assert again["b-s0"] == jobs["b-s0"] and again["a-s0"].job_id != jobs["a-s0"].job_id
    rows = {r["variant"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert {v: r["status"] for v, r in rows.items()} == {"a": "completed", "b": "completed"}
    final = _starts(run)
    assert len(final) == 3 and final[0] < final[1] < final[2]  # three sessions, each continuing the last
    steps = [json.loads(line)["step"] for line in RunDir(run).metrics.read_text().splitlines() if line.strip()]
    assert steps[-1] == 120
    assert Path(again["a-s0"].stdout).is_file()


def _registries() -> Any:
    from ganzoo.plugin.registry import load_registries

    return load_registries()


@needs_submitit
@pytest.mark.slow
def test_a_job_with_several_tasks_trains_one_ddp_run(tmp_path):
    """gpus_per_node=2: two submitit tasks, one DDP rank each (gloo on the CPU), rendezvous from the job's environment."""
    import torch

    sweep = _sweep(type="slurm", params={"executor": "local", "cpus_per_task": 1, "gpus_per_node": 2})
    del sweep["variants"]["b"]
    out = tmp_path / "out"
    result = _run("compare", _write(tmp_path, sweep), "--out", out, "--wait")
    assert result.exit_code == 0, result.output
    run = RunDir(SweepDir(out).run("a", 0).root)
    state = torch.load(run.list_checkpoints()[-1][1], weights_only=True)
    assert (state["step"], state["world_size"]) == (4, 2)
