"""Contextual attention (DeepFill): copying known patches, masking, edge cases, batching, the generator option."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from ganzoo_inpaint.attention import ContextualAttention
from ganzoo_inpaint.params import GatedConvParams

from ganzoo.data import DataInfo
from ganzoo.spec.model import SpecError, validate_spec
from tests.plugins.test_inpaint import GAN, SPEC, _run

ATTENTION = {"type": "gated-conv", "params": {"width": 4, "dilations": [2], "two_stage": True, "attention": True}}


def _upsample(t: torch.Tensor, rate: int) -> torch.Tensor:
    return t.repeat_interleave(rate, dim=-2).repeat_interleave(rate, dim=-1)


def _copied_map(rate: int, channels: int = 4) -> tuple[torch.Tensor, torch.Tensor, int]:
    """An 18x18 (x rate) map whose 9x9 top-left block A is 3x the bottom-right block B, with a 3x3 hole in A's centre.

    Each hole location's 3x3 neighbourhood, and the neighbours that fusing adds, lie inside A, so its patch has
    cosine similarity 1 with exactly one fully known patch: the one ``shift`` pixels down and right, in B. (The
    factor 3 makes A's own known patches win if the similarity were a plain dot product.)
    """
    g = torch.Generator().manual_seed(0)
    coarse = torch.randn(1, channels, 18, 18, generator=g)
    coarse[..., :9, :9] = 3 * coarse[..., 9:, 9:]
    hole = torch.zeros(1, 1, 18, 18)
    hole[..., 3:6, 3:6] = 1.0
    # Nearest upsampling: average pooling by `rate` gives the coarse map back, so matching sees the same copy.
    return _upsample(coarse, rate), _upsample(hole, rate), 9 * rate


@pytest.mark.parametrize("rate", [1, 2])
@pytest.mark.parametrize("fuse_k", [1, 3])
def test_hole_copies_the_one_matching_known_patch(rate, fuse_k):
    x, mask, shift = _copied_map(rate)
    out = ContextualAttention(rate=rate, fuse_k=fuse_k, softmax_scale=100.0)(x, mask)  # (1, 4, H, W)
    lo, hi = 3 * rate, 6 * rate  # the hole at full resolution
    want = x[..., lo + shift : hi + shift, lo + shift : hi + shift]
    assert out.shape == x.shape
    assert torch.allclose(out[..., lo:hi, lo:hi], want, atol=1e-4), (out[..., lo:hi, lo:hi] - want).abs().max()
    # The weights say the same at the matching resolution: one-hot on the patch `shift / rate` down and right.
    weights, _ = ContextualAttention(rate=rate, fuse_k=fuse_k, softmax_scale=100.0).attention_weights(x, mask)
    q = 4 * 18 + 4  # the hole's centre, row-major on the 18x18 grid
    assert weights[0, q].argmax().item() == q + 9 * 18 + 9 and weights[0, q].max().item() > 0.999


@pytest.mark.parametrize("rate", [1, 2])
def test_patches_touching_the_hole_get_no_weight(rate):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 16, 16, generator=g)
    mask = torch.zeros(2, 1, 16, 16)
    mask[0, :, 4:9, 5:11] = 1.0
    mask[1, :, 10:16, 0:7] = 1.0
    x = torch.where(mask > 0, torch.full_like(x, 1e3), x)  # a value no known pixel has, in the background too
    attn = ContextualAttention(rate=rate)
    weights, valid = attn.attention_weights(x, mask)  # (2, L, L), (2, L)
    assert valid.any(dim=1).all() and not valid.all(dim=1).any()  # both samples have patches of each kind
    assert torch.equal(weights * (~valid)[:, None, :], torch.zeros_like(weights))
    assert torch.allclose(weights.sum(-1), torch.ones(2, weights.shape[1]))
    out = attn(x, mask)
    # Every output pixel averages known pixels (and border zeros): the hole's value never comes back.
    assert out.abs().max() <= x[mask.expand_as(x) == 0].abs().max() + 1e-4


def _mask(kind: str, size: int) -> torch.Tensor:
    m = torch.zeros(1, 1, size, size)  # "none": no hole at all
    if kind == "all":
        m[:] = 1.0
    elif kind == "one-known-pixel":  # known pixels, but no fully known 3x3 patch at any rate
        m[:] = 1.0
        m[..., 0, 0] = 0.0
    elif kind == "hole":
        m[..., 2 : size // 2, 3 : size - 2] = 1.0
    return m


@pytest.mark.parametrize("kinds", [["all"], ["none"], ["one-known-pixel"], ["all", "hole", "none"], ["hole", "one-known-pixel", "hole"]])
@pytest.mark.parametrize("rate, fuse_k", [(1, 3), (2, 3), (2, 1)])
def test_no_nan_for_empty_or_full_holes_and_gradients_flow(kinds, rate, fuse_k):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(len(kinds), 5, 16, 16, generator=g, requires_grad=True)
    mask = torch.cat([_mask(k, 16) for k in kinds])
    out = ContextualAttention(rate=rate, fuse_k=fuse_k)(x, mask)
    assert out.shape == x.shape and torch.isfinite(out).all()
    (out**2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for i, kind in enumerate(kinds):
        if kind in ("all", "one-known-pixel"):  # nothing to attend: zeros (documented), and no gradient
            assert torch.equal(out[i], torch.zeros_like(out[i])) and torch.equal(x.grad[i], torch.zeros_like(x.grad[i]))
        else:
            assert out[i].abs().sum() > 0 and x.grad[i].abs().sum() > 0


@pytest.mark.parametrize("rate", [1, 2])
def test_batched_equals_one_sample_at_a_time(rate):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 6, 16, 24, generator=g)
    mask = torch.zeros(4, 1, 16, 24)
    mask[0, :, 3:9, 4:14] = 1.0
    mask[1] = 1.0
    mask[3, :, 8:16, 12:24] = 1.0  # sample 2 has no hole
    attn = ContextualAttention(rate=rate)
    together = attn(x, mask)
    alone = torch.cat([attn(x[i : i + 1], mask[i : i + 1]) for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-5, rtol=1e-5)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="divisible"):
        ContextualAttention(rate=2)(torch.zeros(1, 2, 7, 8), torch.zeros(1, 1, 7, 8))
    with pytest.raises(ValueError, match="mask must be"):
        ContextualAttention(rate=1)(torch.zeros(2, 2, 8, 8), torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="rate"):
        ContextualAttention(rate=3)


# ---------------------------------------------------------------- the gated-conv generator


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("rate", [1, 2])
def test_generator_with_attention_builds_and_runs(registries, size, channels, rate):
    params = {**ATTENTION["params"], "attention_rate": rate}
    gen = registries.build("model", "gated-conv", params, DataInfo(channels=channels, size=size), role="generator")
    assert any("attention" in name for name, _ in gen.named_modules())
    g = torch.Generator().manual_seed(4)
    image = torch.rand(2, channels, size, size, generator=g) * 2 - 1
    mask = torch.zeros(2, 1, size, size)
    mask[0, :, size // 4 : size // 2, size // 4 : 3 * size // 4] = 1.0
    mask[1, :, size // 2 :, : size // 3] = 1.0
    out = gen(image * (1 - mask), mask)
    assert out.shape == (2, channels, size, size) and out.abs().max() <= 1.0 and torch.isfinite(out).all()


def test_attention_without_refinement_is_refused(registries):
    spec: dict[str, Any] = copy.deepcopy(SPEC)
    spec["generator"] = {"type": "gated-conv", "params": {"width": 4, "attention": True}}
    with pytest.raises(SpecError) as ei:
        validate_spec(spec, registries)
    errors = {i.path: i.message for i in ei.value.issues}
    assert "attention: true needs two_stage: true" in errors["generator.params (type=gated-conv)"]
    spec["generator"]["params"].update(two_stage=True, attention_rate=3)
    with pytest.raises(SpecError) as ei:
        validate_spec(spec, registries)
    assert "generator.params.attention_rate (type=gated-conv)" in {i.path for i in ei.value.issues}
    assert GatedConvParams().attention is False  # off by default: existing specs and checkpoints are unchanged


def test_two_training_steps_with_attention(registries, tmp_path):
    data = {"type": "faces", "params": {"size": 32, "hflip": False}}  # 8x8 features: room for known 3x3 patches
    run = _run(registries, tmp_path, **{**GAN, "generator": ATTENTION, "data": data})
    gen = run.nets["generator"]
    before = copy.deepcopy(gen.state_dict())
    run.fit()
    assert run.step == 2 and run.d_updates == 2
    changed = {k.split(".")[1] for k, v in gen.state_dict().items() if k.startswith("refine.") and not torch.equal(before[k], v)}
    assert {"dilated", "context", "after_attention", "decoder"} <= changed  # the attention branch learns too
