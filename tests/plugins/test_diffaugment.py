"""DiffAugment (ganzoo_gan.diffaugment) and its use by the adversarial tasks."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import ganzoo_gan.tasks
from ganzoo import DataInfo
from ganzoo.spec.model import SpecError, validate_spec
from ganzoo.engine.run import Run
from ganzoo_gan.diffaugment import brightness, contrast, cutout, diff_augment, saturation, translation
from ganzoo_gan.params import AUGMENT_POLICIES, UnconditionalParams

ALL = "color,translation,cutout"


def _images(b: int = 6, c: int = 3, s: int = 16) -> torch.Tensor:
    return torch.rand(b, c, s, s, generator=torch.Generator().manual_seed(1)) * 1.6 - 0.8  # (B, C, S, S), no exact zeros


@pytest.mark.parametrize("policy", [*AUGMENT_POLICIES, ALL])
def test_policy_changes_keeps_shape_and_is_differentiable(policy: str) -> None:
    x = _images().requires_grad_(True)
    torch.manual_seed(0)
    y = diff_augment(x, policy)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert not torch.equal(y, x)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("policy", [*AUGMENT_POLICIES, ALL])
def test_global_rng_reproducible_and_per_sample(policy: str) -> None:
    x = _images(1).expand(8, -1, -1, -1)  # one image, eight times
    torch.manual_seed(3)
    a = diff_augment(x, policy)
    torch.manual_seed(3)
    b = diff_augment(x, policy)
    assert torch.equal(a, b)  # the global RNG drives it: reseeding (or restoring a checkpoint) repeats it
    assert len({tuple(img.flatten().tolist()) for img in a}) > 1  # each sample draws its own parameters


def test_color_transforms() -> None:
    x = _images()
    torch.manual_seed(0)
    d = brightness(x) - x
    assert torch.allclose(d, d[:, :1, :1, :1].expand_as(d)) and d.abs().max() <= 0.5  # one offset per sample
    s = saturation(x)
    torch.testing.assert_close(s.mean(dim=1), x.mean(dim=1))  # the channel mean is kept
    c = contrast(x)
    torch.testing.assert_close(c.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)))  # the image mean is kept


def _shift(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    out = torch.zeros_like(img)
    h, w = img.shape[-2:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = img[:, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    return out


def test_translation_is_a_zero_padded_shift_of_at_most_one_eighth() -> None:
    x = _images(16)
    torch.manual_seed(0)
    y = translation(x)
    shifts = set()
    for img, out in zip(x, y):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(out, _shift(img, dy, dx))]
        assert found, "not a shift of at most 16/8 = 2 pixels"
        shifts.add(found[0])
    assert len(shifts) > 1


def test_cutout_zeroes_one_square_of_half_the_side() -> None:
    x = torch.ones(32, 1, 16, 16)
    torch.manual_seed(0)
    holes = cutout(x)[:, 0] == 0  # (B, H, W)
    for hole in holes:
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 4 <= len(rows) <= 8 and 4 <= len(cols) <= 8  # 8x8, clipped at the borders to at least 4x4
        assert hole.sum() == len(rows) * len(cols)  # one axis-aligned rectangle
        assert hole[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()


def test_gradient_reaches_the_generator_through_augmentation(registries: Any) -> None:
    info = DataInfo(channels=1, size=16)
    G = registries.build("model", "dcgan", {"latent_dim": 8, "width": 8}, info, role="generator")
    D = registries.build("model", "dcgan", {"width": 8}, info, role="discriminator")
    torch.manual_seed(0)
    D(diff_augment(G(torch.randn(4, 8)), ALL)).sum().backward()
    grads = [p.grad for p in G.parameters()]
    assert all(g is not None for g in grads) and all(g.abs().sum() > 0 for g in grads)


def test_params_validate_policy(registries: Any, tiny_spec: dict[str, Any]) -> None:
    assert UnconditionalParams(augment=" color , cutout").augment == "color,cutout"  # canonical form
    assert UnconditionalParams().augment == ""
    for task in ("unconditional", "conditional"):
        tiny_spec["task"] = {"type": task, "params": {"augment": "color,flip"}}
        with pytest.raises(SpecError) as ei:
            validate_spec(tiny_spec, registries)
        text = str(ei.value)
        assert "task.params.augment" in text and "'flip'" in text and "color, translation, cutout" in text
    tiny_spec["task"] = {"type": "unconditional", "params": {"augment": "color,color"}}
    with pytest.raises(SpecError, match="more than once"):
        validate_spec(tiny_spec, registries)


def _record_augment(monkeypatch: pytest.MonkeyPatch, run: Run) -> list[tuple[str, str, tuple[str, ...], bool]]:
    """Record (phase, real|fake, policy, grad) for every call of the task's augmentation."""
    calls: list[tuple[str, str, tuple[str, ...], bool]] = []
    reals: list[torch.Tensor] = []
    current = {"phase": ""}
    real_augment, real_next, real_optimize = ganzoo_gan.tasks.diff_augment, run.next_batch, run.optimize

    def next_batch() -> dict[str, torch.Tensor]:
        batch = real_next()
        reals.append(batch["image"])
        return batch

    def optimize(network: str, loss_fn: Any, *, phase: str) -> bool:
        current["phase"] = phase
        return real_optimize(network, loss_fn, phase=phase)

    def augment(x: torch.Tensor, policy: Any) -> torch.Tensor:
        kind = "real" if any(x is r for r in reals) else "fake"
        out = real_augment(x, policy)
        calls.append((current["phase"], kind, tuple(policy), out.requires_grad))
        return out

    monkeypatch.setattr(ganzoo_gan.tasks, "diff_augment", augment)
    monkeypatch.setattr(run, "next_batch", next_batch)
    monkeypatch.setattr(run, "optimize", optimize)
    return calls


@pytest.mark.parametrize("needs_real", [False, True])
def test_task_augments_real_and_fake_in_d_and_fake_in_g(
    registries: Any, tiny_spec: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch, needs_real: bool
) -> None:
    tiny_spec["task"] = {"type": "unconditional", "params": {"augment": ALL}}
    tiny_spec["train"].update(steps=2, sample_every=0, checkpoint_every=0, tensorboard=False)
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path)
    if needs_real:  # as a relativistic loss would declare; non-saturating ignores the real logits it then gets
        monkeypatch.setattr(run.losses.adversarial, "needs_real_logits", True, raising=False)
    calls = _record_augment(monkeypatch, run)
    run.fit()
    policy = ("color", "translation", "cutout")
    # D: real and fake (generated under no_grad); G: the fake, with the graph back to G (and the real batch if needed).
    one_step = [("D", "real", policy, False), ("D", "fake", policy, False), ("G", "fake", policy, True)]
    if needs_real:
        one_step.append(("G", "real", policy, False))
    assert calls == one_step * 2


def test_no_policy_no_augmentation(registries: Any, tiny_spec: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_spec["train"].update(steps=1, sample_every=0, checkpoint_every=0, tensorboard=False)
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path)
    calls = _record_augment(monkeypatch, run)
    run.fit()
    assert calls == []
