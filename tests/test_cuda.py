"""CUDA paths (skipped without a GPU; run by benchmarks/gpu_check.sh on a GPU machine)."""

from __future__ import annotations

import pytest
import torch

from ganzoo.spec import validate_spec
from ganzoo.train import Run

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize(
    "extra",
    [{"precision": "fp16"}, {"precision": "bf16"}, {"channels_last": True}, {"compile": True, "precision": "bf16", "channels_last": True}],
    ids=["fp16", "bf16", "channels_last", "compile-bf16-cl"],
)
def test_cuda_training_paths(registries, tiny_spec, tmp_path, extra):
    tiny_spec["train"].update(steps=3, device="cuda", sample_every=0, **extra)
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path)
    run.fit()
    assert run.device.type == "cuda" and run.step == 3
    if extra.get("precision") == "fp16":
        assert run.scalers["generator"].is_enabled()


def test_cuda_resume_is_exact(registries, tiny_spec, tmp_path):
    """On CUDA, resume restores the CUDA RNG too (bit-identity is only promised on the CPU)."""
    tiny_spec["train"].update(steps=2, device="cuda", sample_every=0)
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path)
    run.fit()
    state = run.state_dict()
    assert "cuda" in state["rng"]
