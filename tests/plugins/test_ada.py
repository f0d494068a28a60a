"""Adaptive discriminator augmentation (ganzoo_gan.ada) and its wiring into the adversarial tasks."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch

from ganzoo import DataInfo
from ganzoo.spec.model import SpecError, validate_spec
from ganzoo_gan.ada import AdaController, ada_adjust, ada_augment
from tests.helpers import assert_same_nets, last_checkpoint, split_and_resume, train_dir, train_records

ADA = {"target": 0.6, "interval": 1, "kimg": 0.1, "p_init": 0.5}  # step 8 * 1 / 100 = 0.08 per D update


def _images(b: int = 8, c: int = 3, s: int = 16) -> torch.Tensor:
    return torch.rand(b, c, s, s, generator=torch.Generator().manual_seed(1)) * 1.6 - 0.8  # (B, C, S, S)


def _feed(ctrl: AdaController, logits: list[float], n: int) -> None:
    for _ in range(n):
        ctrl.record(torch.tensor(logits), images=len(logits))


def test_adjust_rule() -> None:
    step = 32 * 4 / (500 * 1000)
    assert ada_adjust(0.2, 0.9, target=0.6, batch_size=32, interval=4, kimg=500) == pytest.approx(0.2 + step)
    assert ada_adjust(0.2, 0.1, target=0.6, batch_size=32, interval=4, kimg=500) == pytest.approx(0.2 - step)
    assert ada_adjust(0.2, 0.6, target=0.6, batch_size=32, interval=4, kimg=500) == 0.2
    assert ada_adjust(0.0, -1.0, target=0.6, batch_size=32, interval=4, kimg=500) == 0.0
    assert ada_adjust(0.999, 1.0, target=0.6, batch_size=32, interval=4, kimg=0.01) == 1.0


def test_controller_moves_p_every_interval() -> None:
    ctrl = AdaController(target=0.6, interval=4, kimg=1.0)
    step = 4 * 4 / 1000
    _feed(ctrl, [1.0, 2.0, 3.0, -1.0], 3)  # r_t = 0.5 so far, but only 3 of 4 updates
    assert not ctrl.maybe_update() and ctrl.p == 0.0
    _feed(ctrl, [1.0, 2.0, 3.0, 4.0], 1)  # r_t = (3 * 0.5 + 1) / 4 = 0.625 > 0.6: D overfits
    assert ctrl.maybe_update() and ctrl.p == pytest.approx(step)
    _feed(ctrl, [1.0, 2.0, 3.0, 4.0], 4)  # r_t = 1
    assert ctrl.maybe_update() and ctrl.p == pytest.approx(2 * step)
    _feed(ctrl, [-1.0, 2.0, -3.0, 4.0], 4)  # r_t = 0 < 0.6
    assert ctrl.maybe_update() and ctrl.p == pytest.approx(step)
    for _ in range(5):
        _feed(ctrl, [-1.0] * 4, 4)
        ctrl.maybe_update()
    assert ctrl.p == 0.0  # clamped
    fast = AdaController(interval=1, kimg=0.001, p_init=0.9)
    _feed(fast, [5.0] * 4, 1)
    assert fast.maybe_update() and fast.p == 1.0  # clamped
    state = fast.state_dict()
    again = AdaController()
    again.load_state_dict(state)
    assert again.state_dict() == state


@pytest.mark.parametrize("channels", [1, 3])
def test_p0_identity_p1_changes_every_sample(channels: int) -> None:
    x = _images(c=channels)
    assert ada_augment(x, 0.0) is x
    torch.manual_seed(0)
    y = ada_augment(x, 1.0)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert all(not torch.equal(a, b) for a, b in zip(x, y, strict=True))
    torch.manual_seed(0)
    assert torch.equal(ada_augment(x, 1.0), y)  # the global RNG drives it


def test_gradient_reaches_fakes_and_generator(registries: Any) -> None:
    info = DataInfo(channels=3, size=16)
    G = registries.build("model", "dcgan", {"latent_dim": 8, "width": 8}, info, role="generator")
    D = registries.build("model", "dcgan", {"width": 8}, info, role="discriminator")
    torch.manual_seed(0)
    fake = G(torch.randn(4, 8))
    fake.retain_grad()
    D(ada_augment(fake, 1.0)).sum().backward()
    assert fake.grad is not None and all(g.abs().sum() > 0 for g in fake.grad)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


def _ada_spec(tiny_spec: dict[str, Any], task: str = "unconditional") -> dict[str, Any]:
    tiny_spec["task"] = {"type": task, "params": {"ada": dict(ADA)}}
    return tiny_spec


def test_training_logs_p(registries: Any, tiny_spec: dict[str, Any], tmp_path: Any) -> None:
    run_dir = train_dir(registries, _ada_spec(tiny_spec), tmp_path / "run")
    ps = [r["G/ada_p"] for r in train_records(run_dir)]
    assert len(ps) == 4 and ps[0] == 0.5
    for a, b in itertools.pairwise(ps):
        assert abs(abs(b - a) - 0.08) < 1e-6 or b in (0.0, 1.0)  # one adjustment per D update (interval 1)
    assert last_checkpoint(run_dir)["plugins"]["ganzoo_gan"]["ada"]["p"] == pytest.approx(ps[-1], abs=1e-6)


def test_resume_is_bit_identical(registries: Any, tiny_spec: dict[str, Any], tmp_path: Any) -> None:
    spec = _ada_spec(tiny_spec)
    spec["task"]["params"]["ada"]["interval"] = 3  # an adjustment pending across the split
    full, resumed = split_and_resume(registries, spec, tmp_path)
    assert_same_nets(full, resumed)
    a, b = last_checkpoint(full)["plugins"]["ganzoo_gan"], last_checkpoint(resumed)["plugins"]["ganzoo_gan"]
    assert a == b and a["ada"]["updates"] == 1  # 4 D updates: one adjustment, one update pending


@pytest.mark.parametrize("task", ["unconditional", "conditional"])
def test_ada_and_diffaugment_is_a_spec_error(registries: Any, tiny_spec: dict[str, Any], task: str) -> None:
    spec = _ada_spec(tiny_spec, task)
    spec["task"]["params"]["augment"] = "color"
    with pytest.raises(SpecError, match="cannot both be set"):
        validate_spec(spec, registries)
    spec["task"]["params"] = {"ada": {"target": 1.5}}
    with pytest.raises(SpecError, match=r"ada\.target"):
        validate_spec(spec, registries)
