"""DDP through torchrun on the CPU (gloo): trajectory vs one process, resume in one process, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from ganzoo.api import resume_spec
from ganzoo.checkpoint import list_checkpoints, load_checkpoint
from ganzoo.engine.run import Run
from ganzoo.spec.model import validate_spec

pytestmark = pytest.mark.skipif(shutil.which("torchrun") is None or not torch.distributed.is_available(), reason="needs torchrun")


def _spec(tiny_spec: dict, tmp_path: Path) -> Path:
    # No batch norm anywhere: per-replica statistics would legitimately differ from one process.
    tiny_spec["generator"]["params"]["batch_norm"] = False
    tiny_spec["discriminator"]["params"]["batch_norm"] = False
    tiny_spec["train"].update(steps=6, log_every=1, checkpoint_every=3, sample_every=0, tensorboard=False)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(tiny_spec))
    return path


def _torchrun(args: list[str], nproc: int, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = ["torchrun", "--nproc_per_node", str(nproc), "--master_port", str(29500 + os.getpid() % 1000), "-m", "ganzoo", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


def _losses(run_dir: Path) -> list[dict[str, float]]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_two_processes_match_one_on_the_same_global_batch(tiny_spec, registries, tmp_path):
    spec = _spec(tiny_spec, tmp_path)
    proc = _torchrun(["train", str(spec), "--out", str(tmp_path / "ddp")], 2, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    single = Run(validate_spec(yaml.safe_load(spec.read_text()), registries), registries, tmp_path / "one")
    single.fit()

    ddp_dirs = [p for p in tmp_path.iterdir() if p.is_dir() and (p / "run.json").exists()]
    assert sorted(p.name for p in ddp_dirs) == ["ddp", "one"]  # one run directory for the DDP job
    a = load_checkpoint(list_checkpoints(tmp_path / "ddp" / "checkpoints")[-1][1])
    b = load_checkpoint(list_checkpoints(tmp_path / "one" / "checkpoints")[-1][1])
    assert a["step"] == b["step"] == 6 and a["world_size"] == 2
    for k, v in b["nets"]["generator"].items():
        torch.testing.assert_close(a["nets"]["generator"][k], v, rtol=1e-4, atol=1e-5)
    # G's loss is computed on rank 0's half of the batch, so compare D(G(z)) trajectories loosely
    # and the weights (which depend on the whole global batch) tightly above.
    ddp_g = [r["G/loss"] for r in _losses(tmp_path / "ddp")]
    one_g = [r["G/loss"] for r in _losses(tmp_path / "one")]
    assert len(ddp_g) == len(one_g) == 6
    assert max(abs(x - y) for x, y in zip(ddp_g, one_g)) < 0.05


def test_ddp_checkpoint_resumes_in_one_process(tiny_spec, registries, tmp_path):
    spec = _spec(tiny_spec, tmp_path)
    out = tmp_path / "ddp"
    proc = _torchrun(["train", str(spec), "--out", str(out), "--set", "train.steps=3"], 2, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = Run(resume_spec(out, registries, ["train.steps=6"]), registries, out)
    assert run.resume() and run.step == 3
    assert run.samples_seen == 3 * 8  # per-rank 4 x 3 steps x 2 ranks, now on one rank
    run.fit()
    assert load_checkpoint(list_checkpoints(out / "checkpoints")[-1][1])["step"] == 6


def test_sync_batchnorm_refused_on_cpu(tiny_spec, tmp_path):
    spec = _spec(tiny_spec, tmp_path)
    proc = _torchrun(["train", str(spec), "--out", str(tmp_path / "r"), "--set", "train.sync_batchnorm=true"], 2, tmp_path)
    assert proc.returncode != 0
    assert "sync_batchnorm needs CUDA" in proc.stderr and "Traceback" not in proc.stderr.split("sync_batchnorm needs CUDA")[0][-200:]


def test_cli_torchrun_digits_registry_spec(tmp_path):
    """The issue's command: torchrun --nproc_per_node=2 -m ganzoo train registry/dcgan-digits.yaml --set train.steps=20."""
    repo = Path(__file__).resolve().parents[1]
    proc = _torchrun(["train", str(repo / "registry" / "dcgan-digits.yaml"), "--set", "train.steps=20", "--set", "train.sample_every=0",
                      "--set", "train.device=cpu", "--out", str(tmp_path / "digits")], 2, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [s for s, _ in list_checkpoints(tmp_path / "digits" / "checkpoints")] == [20]
    assert (tmp_path / "digits" / "generator.safetensors").is_file()
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1


def test_gradient_penalty_and_ema_under_ddp(tiny_spec, tmp_path):
    spec = _spec(tiny_spec, tmp_path)
    proc = _torchrun(["train", str(spec), "--out", str(tmp_path / "gp"), "--set", "losses.adversarial.type=wasserstein",
                      "--set", "losses.regularizers=[{type: gradient-penalty, weight: 10}, {type: r1, weight: 1, params: {interval: 2}}]",
                      "--set", "train.ema=0.9", "--set", "train.d_steps=2", "--set", "train.steps=3"], 2, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = _losses(tmp_path / "gp")
    assert any("D/gradient-penalty" in r for r in records) and any("D_reg/r1" in r for r in records)
    state = load_checkpoint(list_checkpoints(tmp_path / "gp" / "checkpoints")[-1][1])
    assert state["d_updates"] == 6 and "ema" in state


_TASK_SPECS = {
    # Holes come from ctx.randint (global draws sliced per rank), so both ranks together see a single process's holes.
    "inpainting": {
        "task": {"type": "inpainting", "params": {"mask": {"type": "free-form"}, "hole_weight": 6.0}},
        "data": {"type": "faces", "params": {"size": 16, "hflip": False}},  # a flip draws per item, per rank
        "generator": {"type": "gated-conv", "params": {"width": 4, "dilations": [2], "two_stage": True}},
        "discriminator": {"type": "patch", "params": {"width": 4, "depth": 2}},
        "losses": {"adversarial": {"type": "hinge"}, "reconstruction": [{"type": "l1"}]},
    },
    # LR is made from HR by the task; the flip/rotation flags come from ctx.randint.
    "super-resolution": {
        "task": {"type": "super-resolution", "params": {"scale": 2}},
        "data": {"type": "digits", "params": {"size": 16, "limit": 64}},
        "generator": {"type": "srresnet", "params": {"scale": 2, "num_feat": 4, "num_block": 1}},
        "losses": {"reconstruction": [{"type": "l1"}]},
    },
}


@pytest.mark.parametrize("task", sorted(_TASK_SPECS))
def test_sr_and_inpainting_under_ddp_match_one_process(task, registries, tmp_path):
    """The plugin tasks keep the DDP promise too: 2 processes x 4 images = 1 process x 8 images."""
    spec = {"name": task, "seed": 0, **_TASK_SPECS[task],
            "train": {"steps": 3, "batch_size": 8, "device": "cpu", "log_every": 1, "sample_every": 0, "checkpoint_every": 3,
                      "tensorboard": False, "progress": False}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    proc = _torchrun(["train", str(path), "--out", str(tmp_path / "ddp")], 2, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    Run(validate_spec(spec, registries), registries, tmp_path / "one").fit()
    a = load_checkpoint(list_checkpoints(tmp_path / "ddp" / "checkpoints")[-1][1])
    b = load_checkpoint(list_checkpoints(tmp_path / "one" / "checkpoints")[-1][1])
    assert a["step"] == b["step"] == 3 and a["world_size"] == 2
    for net in b["nets"]:
        for k, v in b["nets"][net].items():
            torch.testing.assert_close(a["nets"][net][k], v, rtol=1e-4, atol=1e-5, msg=lambda m, k=k, net=net: f"{net}.{k}: {m}")


def test_more_cuda_ranks_than_devices_is_a_clear_error(monkeypatch):
    """torchrun --nproc_per_node 2 on a one-GPU machine names the fix instead of torch's 'invalid device ordinal'."""
    from ganzoo.engine.device import DeviceError
    from ganzoo.engine.distributed import init_from_env

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DeviceError, match="local rank 1 but this machine has 1 CUDA device.*--nproc_per_node 1"):
        init_from_env("auto")


def _sync_buffers_worker(rank: int, init_file: str, out: str) -> None:
    from torch import nn

    from ganzoo.engine.distributed import DistInfo, sync_buffers

    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    bn = nn.BatchNorm2d(3)
    bn.running_mean.fill_(float(rank + 1))  # ranks disagree, as per-replica statistics do
    sync_buffers([bn], DistInfo(rank=rank, world_size=2))
    torch.save({"mean": bn.running_mean, "count": bn.num_batches_tracked}, f"{out}.{rank}")
    torch.distributed.destroy_process_group()


def test_sync_buffers_gives_every_rank_rank_0s_buffers(tmp_path):
    """What DDP's broadcast_buffers did at every forward, done once per step (DDP wraps with it off)."""
    import torch.multiprocessing as mp

    mp.spawn(_sync_buffers_worker, args=(str(tmp_path / "init"), str(tmp_path / "bufs")), nprocs=2)
    for rank in (0, 1):
        state = torch.load(tmp_path / f"bufs.{rank}")
        assert torch.equal(state["mean"], torch.ones(3)) and int(state["count"]) == 0
