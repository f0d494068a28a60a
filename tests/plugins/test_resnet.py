"""Tests of the ResNet SN-GAN plugin (ganzoo_resnet)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ganzoo_resnet
from ganzoo import ConfigError, DataInfo, get_plugin_manager
from ganzoo_resnet import build_conditional_generator, build_discriminator, build_generator, build_projection_discriminator
from ganzoo_resnet.nets import ConditionalBatchNorm2d, ResNetDiscriminator
from ganzoo_resnet.params import (
    ConditionalResNetGeneratorParams,
    ResNetDiscriminatorParams,
    ResNetGeneratorParams,
    ResNetProjectionParams,
)

REPO = Path(__file__).resolve().parents[2]


def test_hook_registers_both_pairs() -> None:
    pm = get_plugin_manager(entry_points=False, extra=[("resnet", ganzoo_resnet)])
    assert not pm.ganzoo_report.failed
    (entries,) = pm.hook.ganzoo_models()
    assert {(e.name, e.role, e.params, tuple(e.tasks)) for e in entries} == {
        ("resnet-sngan", "generator", ResNetGeneratorParams, ()),
        ("resnet-sngan", "discriminator", ResNetDiscriminatorParams, ()),
        ("resnet-sngan-cond", "generator", ConditionalResNetGeneratorParams, ("conditional",)),
        ("resnet-projection", "discriminator", ResNetProjectionParams, ("conditional",)),
    }
    assert all(e.description for e in entries)


def test_plugin_import_does_not_load_torch() -> None:
    code = "import sys, ganzoo_resnet; ganzoo_resnet.ganzoo_models(); assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_params_fields_are_documented_and_bounded() -> None:
    for model in (ResNetGeneratorParams, ResNetDiscriminatorParams, ConditionalResNetGeneratorParams, ResNetProjectionParams):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"
            assert any(hasattr(m, "gt") or hasattr(m, "ge") for m in field.metadata), f"{model.__name__}.{name}"
            assert any(hasattr(m, "lt") or hasattr(m, "le") for m in field.metadata), f"{model.__name__}.{name}"
    assert ResNetGeneratorParams().width == ResNetDiscriminatorParams().width == 128


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_unconditional_shapes(size: int, channels: int) -> None:
    torch.manual_seed(0)
    info = DataInfo(channels=channels, size=size)
    g = build_generator(ResNetGeneratorParams(latent_dim=16, width=8), info)
    d = build_discriminator(ResNetDiscriminatorParams(width=8), info)
    assert g.latent_dim == 16 and isinstance(g.latent_dim, int)
    assert len(g.blocks) == {32: 3, 64: 4}[size]  # one up-block per doubling from 4x4
    x = g(torch.randn(3, 16))
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (3,)
    assert d.blocks(x).shape == (3, 8, 8, 8)  # down to 8x8 before the sum pooling
    g.eval()
    z = torch.randn(2, 16)
    torch.testing.assert_close(g(z[:, :, None, None]), g(z))
    torch.testing.assert_close(g(z, torch.tensor([1, 2])), g(z))  # labels are ignored


@pytest.mark.parametrize("size", [32, 64])
def test_conditional_shapes(size: int) -> None:
    torch.manual_seed(0)
    info = DataInfo(channels=3, size=size, num_classes=10)
    g = build_conditional_generator(ConditionalResNetGeneratorParams(latent_dim=16, width=8), info)
    d = build_projection_discriminator(ResNetProjectionParams(width=8), info)
    assert g.num_classes == d.num_classes == 10 and g.latent_dim == 16
    y = torch.tensor([0, 3, 9])
    x = g(torch.randn(3, 16), y)
    assert x.shape == (3, 3, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert d(x, y).shape == (3,)
    with pytest.raises(ValueError, match="G\\(z, y\\)"):
        g(torch.randn(3, 16))
    with pytest.raises(ValueError, match="labels"):
        d(x, torch.tensor([0.5, 1.0, 2.0]))


def test_conditional_models_need_classes() -> None:
    info = DataInfo(channels=1, size=32, num_classes=0)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_conditional_generator(ConditionalResNetGeneratorParams(), info)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_projection_discriminator(ResNetProjectionParams(), info)


@pytest.mark.parametrize("size", [16, 48, 128])
def test_unsupported_size_is_a_config_error(size: int) -> None:
    info = DataInfo(channels=3, size=size, num_classes=10)
    builders = [
        lambda: build_generator(ResNetGeneratorParams(width=4), info),
        lambda: build_discriminator(ResNetDiscriminatorParams(width=4), info),
        lambda: build_conditional_generator(ConditionalResNetGeneratorParams(width=4), info),
        lambda: build_projection_discriminator(ResNetProjectionParams(width=4), info),
    ]
    for build in builders:
        with pytest.raises(ConfigError, match="32 and 64"):
            build()


def _weighted(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("size", [32, 64])
def test_every_discriminator_layer_is_spectrally_normalised(conditional: bool, size: int) -> None:
    info = DataInfo(channels=3, size=size, num_classes=10)
    d = (
        build_projection_discriminator(ResNetProjectionParams(width=8), info)
        if conditional
        else build_discriminator(ResNetDiscriminatorParams(width=8), info)
    )
    layers = _weighted(d)
    assert len(layers) >= 9
    for m in layers:
        assert nn.utils.parametrize.is_parametrized(m, "weight"), m
        assert type(m.parametrizations.weight[0]).__name__ == "_SpectralNorm"
    # no normalisation layers in D, as in SN-GAN
    assert not [m for m in d.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def test_generator_has_no_spectral_norm_and_uses_batch_norm() -> None:
    g = build_generator(ResNetGeneratorParams(width=8), DataInfo(3, 32))
    assert not any(nn.utils.parametrize.is_parametrized(m) for m in _weighted(g))
    assert len([m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]) == 2 * 3 + 1  # two per block, one final


def test_discriminator_sums_over_space() -> None:
    torch.manual_seed(0)
    d = build_discriminator(ResNetDiscriminatorParams(width=8), DataInfo(3, 32))
    seen: dict[str, torch.Tensor] = {}
    d.blocks.register_forward_hook(lambda _m, _i, out: seen.__setitem__("trunk", out))
    d.linear.register_forward_pre_hook(lambda _m, args: seen.__setitem__("head_in", args[0]))
    x = torch.randn(2, 3, 32, 32)
    logits = d(x)
    torch.testing.assert_close(seen["head_in"], F.relu(seen["trunk"]).sum(dim=(2, 3)))
    # a sum, not a mean: the head input of an 8x8 map is 64x its spatial mean
    torch.testing.assert_close(seen["head_in"], 64 * F.relu(seen["trunk"]).mean(dim=(2, 3)))
    assert logits.shape == (2,)


def test_discriminator_head_input_scales_with_the_map_size() -> None:
    """For a constant feature map, the pooled features (and so a bias-free logit) grow with the map's area."""
    d = ResNetDiscriminator(DataInfo(3, 32), width=4)
    feats = {}
    for side in (8, 16):
        d.blocks = nn.Sequential(nn.Identity())  # replace the trunk: the input *is* the feature map
        feats[side] = d.features(torch.ones(1, 4, side, side))
    torch.testing.assert_close(feats[16], 4 * feats[8])


def test_conditional_batch_norm_uses_the_class_gain_and_bias() -> None:
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, num_classes=3)
    torch.testing.assert_close(cbn.gain.weight, torch.ones(3, 4))  # starts as a plain BN
    torch.testing.assert_close(cbn.bias.weight, torch.zeros(3, 4))
    gains = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, -1.0, 0.5, 3.0], [0.0, 0.0, 0.0, 0.0]])
    biases = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 2.0, -3.0, 0.25], [7.0, 7.0, 7.0, 7.0]])
    with torch.no_grad():
        cbn.gain.weight.copy_(gains)
        cbn.bias.weight.copy_(biases)
    x = torch.randn(6, 4, 5, 5) * 3 + 1
    y = torch.tensor([1, 1, 2, 0, 1, 2])
    out = cbn(x, y)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    normed = (x - mean) / torch.sqrt(var + cbn.bn.eps)
    expected = normed * gains[y][:, :, None, None] + biases[y][:, :, None, None]
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
    assert torch.allclose(out[2], torch.full_like(out[2], 7.0))  # class 2: gain 0, bias 7


def test_conditional_generator_output_depends_on_the_class() -> None:
    torch.manual_seed(0)
    g = build_conditional_generator(ConditionalResNetGeneratorParams(latent_dim=8, width=8), DataInfo(1, 32, num_classes=10))
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                m.bias.weight.normal_()
    g.eval()
    z = torch.randn(1, 8).expand(2, 8)
    x = g(z, torch.tensor([1, 2]))
    assert not torch.allclose(x[0], x[1])


def test_projection_term_changes_the_logit_with_y() -> None:
    torch.manual_seed(0)
    d = build_projection_discriminator(ResNetProjectionParams(width=8), DataInfo(3, 32, num_classes=10))
    d.eval()
    x = torch.randn(1, 3, 32, 32).expand(3, 3, 32, 32)
    y = torch.tensor([0, 1, 2])
    with torch.no_grad():
        logits = d(x, y)
        h = d.features(x)
        expected = d.linear(h).squeeze(1) + (d.embed(y) * h).sum(dim=1)
    torch.testing.assert_close(logits, expected)
    assert len({round(v, 6) for v in logits.tolist()}) == 3  # the same image scores differently per class


@pytest.mark.parametrize("name", ["resnet-sngan-digits", "resnet-sngan-cond-digits"])
def test_registry_spec_trains_two_steps(name: str, registries, tmp_path: Path) -> None:
    from ganzoo.engine.run import Run
    from ganzoo.spec.model import load_spec

    overrides = ["train.steps=2", "train.batch_size=4", "train.sample_every=0", "train.checkpoint_every=0",
                 "train.tensorboard=false", "eval.metrics=[]", "train.device=cpu"]
    spec = load_spec(REPO / "registry" / f"{name}.yaml", registries, overrides)
    assert spec.train.d_steps == 2
    run = Run(spec, registries, tmp_path)
    before = {role: {k: v.clone() for k, v in net.state_dict().items()} for role, net in run.nets.items()}
    run.fit()
    assert run.step == 2 and run.d_updates == 4
    for role, net in run.nets.items():
        after = net.state_dict()
        assert any(not torch.equal(before[role][k], after[k]) for k in after), role
        assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())
