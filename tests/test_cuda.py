"""CUDA paths (skipped without a GPU; run by benchmarks/gpu_check.sh on a GPU machine)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganzoo.spec.model import validate_spec
from ganzoo.engine.run import Run

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize(
    "extra",
    [{"precision": "fp16"}, {"precision": "bf16"}, {"channels_last": True}, {"compile": True},
     {"compile": True, "precision": "bf16", "channels_last": True}],
    ids=["fp16", "bf16", "channels_last", "compile", "compile-bf16-cl"],
)
def test_cuda_training_paths(registries, tiny_spec, tmp_path, extra):
    tiny_spec["train"].update(steps=3, device="cuda", sample_every=0, **extra)
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path)
    run.fit()
    assert run.device.type == "cuda" and run.step == 3
    if extra.get("precision") == "fp16":
        assert run.scalers["generator"].is_enabled()
    # compile on CUDA chooses conv layouts itself (explicit channels_last trips pytorch/pytorch#171622)
    assert run.channels_last == (extra.get("channels_last", False) and not extra.get("compile", False))


def test_cuda_resume_is_exact(registries, tiny_spec, tmp_path):
    """On CUDA, resume restores the CUDA RNG too (bit-identity is only promised on the CPU)."""
    tiny_spec["train"].update(steps=2, device="cuda", sample_every=0)
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path)
    run.fit()
    state = run.state_dict()
    assert "cuda" in state["rng"]


_REGISTRY = sorted((Path(__file__).parents[1] / "registry").glob("*.yaml"))
_TWO_STAGE_ATTENTION = ["generator.params.two_stage=true", "generator.params.attention=true"]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize(
    ("spec_file", "extra"),
    [(p, []) for p in _REGISTRY if p.stem != "bicubic-x4"] + [(p, _TWO_STAGE_ATTENTION) for p in _REGISTRY if p.stem == "deepfill-faces"],
    ids=lambda v: v.stem if hasattr(v, "stem") else ("attention" if v else "as-committed"),
)
def test_every_registry_spec_trains_under_autocast_on_cuda(registries, tmp_path, spec_file, extra, precision):
    """Each zoo variant (SR, inpainting with contextual attention, GANs) takes 2 finite AMP steps on CUDA."""
    import json
    import math

    from ganzoo.spec.model import load_spec
    from ganzoo.spec.yamlio import load_yaml

    data = load_yaml(spec_file.read_text())
    # fp16's GradScaler starts at 2**16 and skips the updates whose gradients overflow while it halves the
    # scale: a GAN's first few steps may all be skipped, so fp16 runs long enough to see updates.
    steps = 8 if precision == "fp16" else 2
    overrides = [f"train.steps={steps}", "train.batch_size=2", "train.sample_every=0", "train.checkpoint_every=0", "train.log_every=1",
                 "train.tensorboard=false", "eval.metrics=[]", "train.device=cuda", f"train.precision={precision}", "init={}", *extra]
    for i, term in enumerate(data.get("losses", {}).get("reconstruction", [])):
        if term.get("type") == "perceptual":
            overrides.append(f"losses.reconstruction.{i}.params.weights=random")
    run = Run(load_spec(spec_file, registries, overrides), registries, tmp_path)
    run.fit()
    assert run.step == steps
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [v for rec in logged for k, v in rec.items() if k.endswith("/loss")]
    assert all(math.isfinite(v) for v in losses), losses
    assert losses or not any(run.trains(n) for n in run.nets), f"no update in {steps} steps ({run.nonfinite_skipped} skipped)"  # a baseline logs none
