"""Tests of the DCGAN plugin (ganzoo_dcgan)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError
from torch import nn

import ganzoo_dcgan
from ganzoo import DataInfo, get_plugin_manager
from ganzoo_dcgan import build_discriminator, build_generator
from ganzoo_dcgan.nets import hidden_widths
from ganzoo_dcgan.params import DiscriminatorParams, GeneratorParams


def _convs(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def test_hook_registers_generator_and_discriminator() -> None:
    pm = get_plugin_manager(entry_points=False, extra=[("dcgan", ganzoo_dcgan)])
    assert not pm.ganzoo_report.failed
    (entries,) = pm.hook.ganzoo_models()
    assert {(e.name, e.role, e.params) for e in entries} == {
        ("dcgan", "generator", GeneratorParams),
        ("dcgan", "discriminator", DiscriminatorParams),
    }


def test_plugin_import_does_not_load_torch() -> None:
    code = "import sys, ganzoo_dcgan; ganzoo_dcgan.ganzoo_models(); assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_ranges(size: int, channels: int) -> None:
    torch.manual_seed(0)
    info = DataInfo(channels=channels, size=size)
    g = build_generator(GeneratorParams(latent_dim=16, width=8), info)
    d = build_discriminator(DiscriminatorParams(width=8), info)
    assert g.latent_dim == 16
    x = g(torch.randn(3, 16))
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (3,)
    # the 4-D latent form gives the same images
    g.eval()
    z = torch.randn(2, 16)
    torch.testing.assert_close(g(z[:, :, None, None]), g(z))
    torch.testing.assert_close(g(z, torch.tensor([1, 2])), g(z))  # labels are ignored


@pytest.mark.parametrize("size", [16, 128])
def test_extreme_sizes(size: int) -> None:
    info = DataInfo(channels=1, size=size)
    x = build_generator(GeneratorParams(latent_dim=4, width=2), info)(torch.randn(2, 4))
    assert x.shape == (2, 1, size, size)
    assert build_discriminator(DiscriminatorParams(width=2), info)(x).shape == (2,)


def test_logits_are_unbounded() -> None:
    d = build_discriminator(DiscriminatorParams(width=8, batch_norm=False), DataInfo(1, 32))
    with torch.no_grad():
        nn.init.constant_(d.net[-1].bias, 5.0)  # a sigmoid output could never exceed 1
    assert (d(torch.zeros(2, 1, 32, 32)) > 1).all()


@pytest.mark.parametrize("size", [8, 24, 48, 256])
def test_invalid_size(size: int) -> None:
    info = DataInfo(channels=3, size=size)
    with pytest.raises(ValueError, match="power of two"):
        build_generator(GeneratorParams(), info)
    with pytest.raises(ValueError, match="power of two"):
        build_discriminator(DiscriminatorParams(), info)


def test_bad_latent_shape() -> None:
    g = build_generator(GeneratorParams(latent_dim=8, width=4), DataInfo(1, 16))
    with pytest.raises(ValueError, match=r"\(B, 8\)"):
        g(torch.randn(2, 9))


def test_widths() -> None:
    assert hidden_widths(64, 64, 512) == [512, 256, 128, 64]
    assert hidden_widths(32, 64, 512) == [256, 128, 64]
    assert hidden_widths(128, 64, 256) == [256, 256, 256, 128, 64]


def test_parameter_counts_match_pytorch_example() -> None:
    # The PyTorch DCGAN example (nz=100, ngf=ndf=64, 3x64x64) has 3,576,704 and 2,765,568
    # parameters; we add biases only to the convolutions that no BatchNorm follows.
    info = DataInfo(channels=3, size=64)
    g = build_generator(GeneratorParams(), info)
    d = build_discriminator(DiscriminatorParams(), info)
    assert sum(p.numel() for p in g.parameters()) == 3_576_704 + 3
    assert sum(p.numel() for p in d.parameters()) == 2_765_568 + 64 + 1


def test_init_statistics() -> None:
    torch.manual_seed(0)
    info = DataInfo(channels=3, size=64)
    for net in (build_generator(GeneratorParams(), info), build_discriminator(DiscriminatorParams(), info)):
        w = torch.cat([m.weight.flatten() for m in _convs(net)])
        assert abs(w.mean().item()) < 1e-3 and w.std().item() == pytest.approx(0.02, rel=0.02)
        bn = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        gamma = torch.cat([m.weight for m in bn])
        assert gamma.mean().item() == pytest.approx(1.0, abs=0.01) and gamma.std().item() == pytest.approx(0.02, rel=0.2)
        assert all((m.bias == 0).all() for m in bn + _convs(net) if m.bias is not None)


def test_batch_norm_switch() -> None:
    d = build_discriminator(DiscriminatorParams(batch_norm=False, width=8), DataInfo(1, 32))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    assert all(m.bias is not None for m in _convs(d))
    d = build_discriminator(DiscriminatorParams(width=8), DataInfo(1, 32))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 2  # 3 blocks, the first unnormalised


def test_spectral_norm() -> None:
    torch.manual_seed(0)
    d = build_discriminator(DiscriminatorParams(spectral_norm=True, width=16), DataInfo(3, 32))
    convs = _convs(d)
    assert len(convs) == 4 and all(hasattr(m, "parametrizations") for m in convs)
    # the DCGAN init went to the unnormalised weight
    assert torch.cat([m.parametrizations.weight.original.flatten() for m in convs[:-1]]).std().item() == pytest.approx(0.02, rel=0.1)
    d.train()
    for _ in range(5):  # each training forward runs one power iteration
        d(torch.randn(4, 3, 32, 32))
    for m in convs:
        w = m.weight.detach().flatten(1)  # (out, in * k * k)
        assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=0.03)


def test_tiny_backward() -> None:
    torch.manual_seed(0)
    info = DataInfo(channels=3, size=32)
    g = build_generator(GeneratorParams(latent_dim=8, width=4), info)
    d = build_discriminator(DiscriminatorParams(width=4, spectral_norm=True), info)
    loss = F.softplus(-d(g(torch.randn(4, 8)))).mean()
    loss.backward()
    for net in (g, d):
        grads = [p.grad for p in net.parameters()]
        assert all(gr is not None and torch.isfinite(gr).all() for gr in grads)
        assert any(gr.abs().sum() > 0 for gr in grads)


@pytest.mark.parametrize(
    ("model", "bad"),
    [
        (GeneratorParams, {"latent_dim": 0}),
        (GeneratorParams, {"width": -1}),
        (GeneratorParams, {"width": 128, "max_width": 64}),
        (GeneratorParams, {"num_classes": 10}),
        (DiscriminatorParams, {"width": 0}),
        (DiscriminatorParams, {"sigmoid": True}),
    ],
)
def test_params_rejected(model: type, bad: dict) -> None:
    with pytest.raises(ValidationError):
        model(**bad)
