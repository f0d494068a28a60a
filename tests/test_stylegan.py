"""Tests of the StyleGAN2 plugin (ganzoo_stylegan) and of `ganzoo sample --truncation`."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ganzoo_stylegan
from ganzoo import ConfigError, DataInfo, LatentGenerator, MappedGenerator, TruncatableGenerator, conforms, get_plugin_manager
from ganzoo_stylegan import build_discriminator, build_generator
from ganzoo_stylegan.nets import (
    EqualConv2d,
    EqualLinear,
    MinibatchStd,
    ModulatedConv2d,
    StyleGAN2Generator,
    downsample2d,
    upsample2d,
)
from ganzoo_stylegan.params import StyleGAN2DiscriminatorParams, StyleGAN2GeneratorParams

SMALL_G = {"z_dim": 16, "w_dim": 16, "mapping_layers": 2, "channel_base": 128, "channel_max": 16}
SMALL_D = {"channel_base": 128, "channel_max": 16}


def _small_g(size: int = 16, channels: int = 1, **kw: Any) -> StyleGAN2Generator:
    torch.manual_seed(0)
    return build_generator(StyleGAN2GeneratorParams(**{**SMALL_G, **kw}), DataInfo(channels=channels, size=size))


def test_hook_registers_the_pair_and_import_is_light() -> None:
    pm = get_plugin_manager(entry_points=False, extra=[("stylegan", ganzoo_stylegan)])
    assert not pm.ganzoo_report.failed
    (entries,) = pm.hook.ganzoo_models()
    assert {(e.name, e.role, e.params) for e in entries} == {
        ("stylegan2", "generator", StyleGAN2GeneratorParams),
        ("stylegan2", "discriminator", StyleGAN2DiscriminatorParams),
    }
    code = "import sys, ganzoo_stylegan; ganzoo_stylegan.ganzoo_models(); assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_defaults_are_the_papers_config_f() -> None:
    g, d = StyleGAN2GeneratorParams(), StyleGAN2DiscriminatorParams()
    assert (g.z_dim, g.w_dim, g.mapping_layers, g.mapping_lr_multiplier) == (512, 512, 8, 0.01)
    assert (g.channel_base, g.channel_max, g.style_mixing_prob, g.w_avg_beta, g.noise) == (32768, 512, 0.9, 0.995, True)
    assert (d.channel_base, d.channel_max, d.mbstd_group_size, d.mbstd_channels) == (32768, 512, 4, 1)


@pytest.mark.parametrize("size", [32, 64])
def test_shapes_and_block_counts_at_each_resolution(size: int) -> None:
    info = DataInfo(channels=3, size=size)
    torch.manual_seed(0)
    g = build_generator(StyleGAN2GeneratorParams(**SMALL_G), info)
    d = build_discriminator(StyleGAN2DiscriminatorParams(**SMALL_D), info)
    log2 = int(math.log2(size))
    assert [b.resolution for b in g.synthesis.blocks] == [2**i for i in range(2, log2 + 1)]  # 4, 8, ..., size
    assert g.num_ws == 2 * log2 - 2  # 1 conv at 4x4, 2 per later block, + the last toRGB's w
    assert len(d.blocks) == log2 - 2  # residual down-blocks from size to 4x4
    assert conforms(g, LatentGenerator) and conforms(g, TruncatableGenerator) and g.latent_dim == 16
    img = g(torch.randn(4, 16))
    assert img.shape == (4, 3, size, size) and img.abs().max() <= 1
    assert d(img).shape == (4,)
    assert d.blocks(img).shape == (4, 16, 4, 4)
    # channels follow min(channel_base / res, channel_max)
    assert [b.conv1.conv.weight.shape[0] for b in g.synthesis.blocks][-1] == min(128 // size, 16)


@pytest.mark.parametrize("role", ["generator", "discriminator"])
def test_the_plugin_kit_smoke_passes(role: str) -> None:
    from ganzoo.plugin.registry import load_registries
    from ganzoo.testing import smoke_model

    net = smoke_model(load_registries(), "stylegan2", role, params={"channel_base": 256, "channel_max": 32})
    assert isinstance(net, StyleGAN2Generator if role == "generator" else torch.nn.Module)


@pytest.mark.parametrize("size", [4, 48, 2048])
def test_unsupported_resolutions_are_config_errors(size: int) -> None:
    with pytest.raises(ConfigError, match="powers of two"):
        build_generator(StyleGAN2GeneratorParams(**SMALL_G), DataInfo(channels=1, size=size))
    with pytest.raises(ConfigError, match="powers of two"):
        build_discriminator(StyleGAN2DiscriminatorParams(**SMALL_D), DataInfo(channels=1, size=size))


def test_d_refuses_labels() -> None:
    d = build_discriminator(StyleGAN2DiscriminatorParams(**SMALL_D), DataInfo(channels=1, size=8))
    with pytest.raises(ConfigError, match="unconditional"):
        d(torch.randn(2, 1, 8, 8), torch.tensor([0, 1]))


def test_equalised_learning_rate_scaling() -> None:
    torch.manual_seed(0)
    lin = EqualLinear(400, 300, lr_multiplier=0.01, bias_init=0.5)
    assert lin.weight_gain == pytest.approx(0.01 / math.sqrt(400))
    torch.testing.assert_close(lin.effective_weight(), lin.weight * 0.01 / 20)
    assert lin.weight.std().item() == pytest.approx(100.0, rel=0.02)  # stored N(0, 1) / lr_mul
    assert lin.effective_weight().std().item() == pytest.approx(1 / 20, rel=0.02)  # N(0, 1/fan_in) in effect
    x = torch.randn(5, 400)
    torch.testing.assert_close(lin(x), F.linear(x, lin.weight * 0.01 / 20, torch.full((300,), 0.5)))
    conv = EqualConv2d(8, 6, 3, lrelu=False)
    assert conv.weight.std().item() == pytest.approx(1.0, rel=0.1)
    x = torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight / math.sqrt(8 * 9), conv.bias, padding=1))
    g = _small_g()
    assert all(layer.weight_gain == pytest.approx(0.01 / 4) for layer in g.mapping.layers)  # 16 inputs, lr 0.01
    # the stored weight's gradient is the effective weight's times the gain (what equalises Adam's steps)
    x = torch.randn(5, 400)
    eff = lin.effective_weight().detach().requires_grad_(True)
    F.linear(x, eff).square().sum().backward()
    lin.zero_grad()
    F.linear(x, lin.effective_weight()).square().sum().backward()
    torch.testing.assert_close(lin.weight.grad, eff.grad * 0.01 / 20)


def test_demodulation_normalises_each_output_channel() -> None:
    torch.manual_seed(0)
    conv = ModulatedConv2d(6, 5, 3, w_dim=7)
    styles = torch.randn(4, 6) * 3
    w = conv.modulated_weight(styles)  # (B, O, I, k, k)
    norms = w.square().sum(dim=(2, 3, 4)).sqrt()  # (B, O)
    torch.testing.assert_close(norms, torch.ones(4, 5), rtol=1e-4, atol=1e-4)
    raw = conv.weight.unsqueeze(0) * conv.weight_gain * styles[:, None, :, None, None]
    assert not torch.allclose(raw.square().sum(dim=(2, 3, 4)).sqrt(), torch.ones(4, 5), atol=0.05)
    to_rgb = ModulatedConv2d(6, 3, 1, w_dim=7, demodulate=False)  # toRGB: modulated only
    torch.testing.assert_close(to_rgb.modulated_weight(styles), to_rgb.weight * to_rgb.weight_gain * styles[:, None, :, None, None])
    # the fused (grouped, per-sample weight) and unfused forms agree, with and without upsampling
    for up in (False, True):
        conv = ModulatedConv2d(6, 5, 3, w_dim=7, up=up)
        x, wlat = torch.randn(3, 6, 8, 8), torch.randn(3, 7)
        torch.testing.assert_close(conv(x, wlat, fused=True), conv(x, wlat, fused=False), rtol=1e-4, atol=1e-5)
        ref = torch.stack([F.conv2d((upsample2d(x) if up else x)[i : i + 1], conv.modulated_weight(conv.affine(wlat))[i], padding=1)[0]
                           for i in range(3)])
        torch.testing.assert_close(conv(x, wlat, fused=True), ref, rtol=1e-4, atol=1e-5)


def test_fir_resampling_keeps_constants_and_halves_or_doubles() -> None:
    x = torch.full((1, 2, 8, 8), 3.0)
    up, down = upsample2d(x), downsample2d(x)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4)
    torch.testing.assert_close(up[..., 1:-1, 1:-1], torch.full((1, 2, 14, 14), 3.0))  # interior (border is zero-padded)
    torch.testing.assert_close(down[..., 1:-1, 1:-1], torch.full((1, 2, 2, 2), 3.0))
    ramp = torch.arange(8.0).expand(1, 1, 8, 8)
    torch.testing.assert_close(upsample2d(ramp)[0, 0, 4, 2:14], torch.arange(0.75, 6.5, 0.5))  # bilinear inside


def test_style_mixing_only_when_enabled_and_training() -> None:
    g = _small_g()
    z = torch.randn(4, 16)

    def out(train: bool, prob: float) -> torch.Tensor:
        g.train(train)
        g.style_mixing_prob = prob
        torch.manual_seed(1)  # the same crossover draws each time
        with torch.no_grad():
            return g(z, noise_mode="const")

    base = out(True, 0.0)
    assert not torch.allclose(out(True, 1.0), base)  # training with mixing: later layers use a second z's styles
    torch.testing.assert_close(out(False, 1.0), out(False, 0.0))  # eval: never mixed
    torch.testing.assert_close(out(False, 0.0), base, rtol=1e-4, atol=1e-5)  # psi 1, const noise: train and eval agree without mixing
    # the mixed ws keep the first z's styles before the crossover and the other z's after it
    g.train()
    g.style_mixing_prob = 1.0
    ws = g.mapping(z, update_w_avg=False, mix=False)
    torch.manual_seed(2)
    mixed = g.mapping.mix_styles(z, ws)
    same = (mixed == ws).all(dim=2).all(dim=0)  # (num_ws,)
    cutoff = int(same.long().argmin())
    assert 1 <= cutoff < g.num_ws and bool(same[:cutoff].all()) and not bool(same[cutoff:].any())
    assert torch.equal(mixed[:, cutoff:], mixed[:, cutoff : cutoff + 1].expand(-1, g.num_ws - cutoff, -1))


def test_truncation_psi_zero_gives_w_avg_and_one_is_identity() -> None:
    g = _small_g()
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g.mapping(torch.randn(8, 16))  # training forwards track w_avg
    assert g.mapping.w_avg.abs().sum() > 0
    g.eval()
    z = torch.randn(5, 16)
    ws0 = g.mapping(z, truncation_psi=0.0)
    torch.testing.assert_close(ws0, g.mapping.w_avg.expand(5, g.num_ws, -1))
    torch.testing.assert_close(g.mapping(z, truncation_psi=1.0), g.mapping(z))
    half = g.mapping(z, truncation_psi=0.5)
    torch.testing.assert_close(half, (g.mapping(z) + ws0) / 2)
    with torch.no_grad():
        imgs = g(z, truncation_psi=0.0)
        torch.testing.assert_close(imgs, imgs[:1].expand_as(imgs))  # every z: the average image
        g.truncation_psi = 0.0  # what `ganzoo sample --truncation` sets
        torch.testing.assert_close(g(z), imgs)
        g.truncation_psi = 1.0
        assert not torch.allclose(g(z), imgs)


def test_w_avg_tracks_the_batch_mean_with_beta() -> None:
    g = _small_g(w_avg_beta=0.9)
    g.train()
    z = torch.randn(6, 16)
    with torch.no_grad():
        w = g.mapping.layers(z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt())
        g.mapping(z)
    torch.testing.assert_close(g.mapping.w_avg, 0.1 * w.mean(0))
    g.eval()
    before = g.mapping.w_avg.clone()
    g.mapping(torch.randn(6, 16))
    assert torch.equal(g.mapping.w_avg, before)  # not in eval mode


def test_noise_modes() -> None:
    g = _small_g()
    for layer in g.modules():
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(1.0)  # init 0 would hide the noise
    g.eval()
    z = torch.randn(3, 16)
    with torch.no_grad():
        const1, const2 = g(z), g(z, noise_mode="const")  # eval default: const
        torch.testing.assert_close(const1, const2)
        assert not torch.allclose(g(z, noise_mode="random"), g(z, noise_mode="random"))
        assert not torch.allclose(g(z, noise_mode="none"), const1)
        torch.testing.assert_close(g(z, noise_mode="none"), g(z, noise_mode="none"))
    quiet = _small_g(noise=False)
    assert not any(hasattr(m, "noise_strength") for m in quiet.modules())


def test_minibatch_stddev_adds_a_channel_per_group() -> None:
    torch.manual_seed(0)
    layer = MinibatchStd(group_size=4, num_channels=1)
    x = torch.randn(8, 6, 3, 3)
    out = layer(x)
    assert out.shape == (8, 7, 3, 3)
    torch.testing.assert_close(out[:, :6], x)
    # samples i and i + 2, i + 4, i + 6 form a group (the paper's reshape); the value is the mean over
    # features and pixels of the (biased) std over the group
    for i in range(8):
        members = x[i % 2 :: 2]  # (4, 6, 3, 3)
        expected = (members.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        torch.testing.assert_close(out[i, 6], torch.full((3, 3), float(expected)))
    assert not torch.allclose(out[0, 6], out[1, 6])
    assert [layer.group(n) for n in (1, 2, 3, 4, 6, 8)] == [1, 2, 3, 4, 3, 4]  # the largest divisor <= 4
    two = MinibatchStd(group_size=4, num_channels=2)(x)  # two feature groups of 3 channels each
    torch.testing.assert_close(two[0, 7], torch.full((3, 3), float((x[0::2, 3:].var(0, unbiased=False) + 1e-8).sqrt().mean())))


def test_conforms_sees_submodules_that_static_lookup_misses() -> None:
    """Python >= 3.12's isinstance on a Protocol uses getattr_static, blind to nn.Module children; conforms is not."""
    import inspect

    g = _small_g()
    with pytest.raises(AttributeError):
        inspect.getattr_static(g, "mapping")  # kept in g._modules: why isinstance(g, MappedGenerator) is False on 3.12
    assert conforms(g, MappedGenerator)
    assert not conforms(torch.nn.Linear(2, 2), MappedGenerator)
    with pytest.raises(TypeError):
        conforms(g, torch.nn.Module)  # not a Protocol


def test_mapping_then_synthesis_is_forward() -> None:
    """The MappedGenerator contract: forward(z) == synthesis(mapping(z)), in eval and in training (mixing off, const noise)."""
    g = _small_g()
    assert conforms(g, MappedGenerator)
    z = torch.randn(3, 16)
    with torch.no_grad():
        g.eval()
        torch.testing.assert_close(g.synthesis(g.mapping(z)), g(z), rtol=0, atol=0)  # eval: const noise by default
        g.train()
        g.style_mixing_prob = 0.0
        torch.testing.assert_close(g.synthesis(g.mapping(z), "const"), g(z, noise_mode="const"), rtol=0, atol=0)
        g.style_mixing_prob = 1.0
        torch.manual_seed(4)
        mixed = g(z, noise_mode="const")
        torch.manual_seed(4)
        torch.testing.assert_close(g.synthesis(g.mapping(z), "const"), mixed, rtol=0, atol=0)  # the same draws: mixing is the mapping's


def test_truncation_stays_out_of_the_mapping_and_mixing_stays_in_it() -> None:
    """Path length maps z bare: G's truncation_psi must not reach it, training's style mixing must."""
    g = _small_g()
    z = torch.randn(4, 16)
    with torch.no_grad():
        g.train()
        for _ in range(3):
            g.mapping(torch.randn(8, 16))  # a w_avg away from 0, so truncation would show
        g.eval()
        g.truncation_psi = 0.5  # what `ganzoo sample --truncation` sets
        torch.testing.assert_close(g.mapping(z), g.mapping(z, truncation_psi=1.0), rtol=0, atol=0)
        assert not torch.allclose(g.mapping(z, truncation_psi=0.5), g.mapping(z))
        g.train()
        g.style_mixing_prob = 1.0
        ws = g.mapping(z, update_w_avg=False)  # (B, num_ws, W): a second z's styles from the crossover on
        assert not torch.equal(ws[:, :1].expand_as(ws), ws)
        torch.testing.assert_close(g.mapping(z, update_w_avg=False, mix=False)[:, 0], ws[:, 0], rtol=0, atol=0)


def test_path_length_on_ws_differentiates_through_mapping_and_synthesis() -> None:
    from ganzoo_losses.regularizers import PathLength

    g = _small_g()
    g.train()
    ws = g.mapping(torch.randn(4, 16))  # (B, num_ws, W), in the graph from z as the task passes it
    reg = PathLength(interval=1)
    penalty = reg(g.synthesis, ws, g.synthesis(ws))
    assert ws.shape == (4, g.num_ws, 16) and torch.isfinite(penalty) and float(reg.pl_mean) > 0
    penalty.backward()
    assert g.mapping.layers[0].weight.grad is not None and g.mapping.layers[0].weight.grad.abs().sum() > 0
    assert g.synthesis.blocks[-1].conv1.conv.weight.grad.abs().sum() > 0


def test_a_run_hands_path_length_the_mapped_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the unconditional task: G (interval 1) and G_reg (interval 2) both measure w.r.t. ws, not z."""
    from ganzoo.engine.run import Run
    from ganzoo.plugin.registry import load_registries
    from ganzoo.spec.model import validate_spec
    from ganzoo_losses.regularizers import PathLength

    seen: list[tuple[tuple[int, ...], bool]] = []
    call = PathLength.__call__

    def spy(self: PathLength, generator: Any, latents: torch.Tensor, fake: torch.Tensor, **kw: Any) -> torch.Tensor:
        seen.append((tuple(latents.shape), latents.is_leaf))
        return call(self, generator, latents, fake, **kw)

    monkeypatch.setattr(PathLength, "__call__", spy)
    spec = _tiny_spec(2)
    spec["losses"]["regularizers"] = [{"type": "path-length", "params": {"interval": 1}},
                                      {"type": "path-length", "params": {"interval": 2}}]
    reg = load_registries()
    Run(validate_spec(spec, reg), reg, tmp_path).fit()
    num_ws = _small_g().num_ws
    assert seen == [((8, num_ws, 16), False)] * 3  # steps 1 and 2 in G, step 2 in G_reg; ws in the graph from z


# ------------------------------------------------------------------ tiny runs: training, resume, EMA, `ganzoo sample --truncation`


def _tiny_spec(steps: int) -> dict[str, Any]:
    from tests.conftest import TINY_SPEC

    return {
        **TINY_SPEC,
        "name": "tiny-stylegan2",
        "generator": {"type": "stylegan2", "params": SMALL_G},
        "discriminator": {"type": "stylegan2", "params": SMALL_D},
        "losses": {
            "adversarial": {"type": "non-saturating"},
            "regularizers": [{"type": "r1", "weight": 0.01, "params": {"interval": 2}},
                             {"type": "path-length", "params": {"interval": 2}}],
        },
        "train": {**TINY_SPEC["train"], "steps": steps, "checkpoint_every": 0, "sample_every": 0, "tensorboard": False, "ema": 0.9},
    }


def test_resume_is_bit_identical_with_mixing_noise_and_lazy_penalties(tmp_path: Path) -> None:
    """Style mixing, random noise and the penalties draw from the checkpointed RNGs, so 2 + 2 steps equal 4."""
    from ganzoo.api import resume_spec
    from ganzoo.checkpoint import list_checkpoints, load_checkpoint
    from ganzoo.engine.run import Run
    from ganzoo.plugin.registry import load_registries
    from ganzoo.spec.model import validate_spec

    reg = load_registries()
    Run(validate_spec(_tiny_spec(4), reg), reg, tmp_path / "full").fit()
    Run(validate_spec(_tiny_spec(2), reg), reg, tmp_path / "part").fit()
    run = Run(resume_spec(tmp_path / "part", reg, ["train.steps=4"]), reg, tmp_path / "part")
    assert run.resume() and run.step == 2
    run.fit()
    a, b = (load_checkpoint(list_checkpoints(tmp_path / d / "checkpoints")[-1][1]) for d in ("full", "part"))
    for net in ("generator", "discriminator"):
        assert a["nets"][net].keys() == b["nets"][net].keys()
        assert all(torch.equal(v, b["nets"][net][k]) for k, v in a["nets"][net].items()), net
    assert a["nets"]["generator"]["mapping.w_avg"].abs().sum() > 0
    pl = [c["plugins"]["ganzoo_losses"]["regularizers"]["1.path-length"]["pl_mean"] for c in (a, b)]
    assert pl[0] > 0 and torch.equal(pl[0], pl[1])  # path length's running mean is checkpointed state


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganzoo.engine.run import Run
    from ganzoo.plugin.registry import load_registries
    from ganzoo.spec.model import validate_spec

    torch.set_num_threads(1)
    reg = load_registries()
    spec = _tiny_spec(2)
    out = tmp_path_factory.mktemp("stylegan2")
    run = Run(validate_spec(spec, reg), reg, out)
    run.fit()
    assert run.step == 2
    lines = (out / "metrics.jsonl").read_text()
    assert '"G_reg/' in lines or "path-length" in lines  # the lazy path-length update ran (step 2)
    # w_avg is a buffer: tracked by G in training and copied (not averaged) into the EMA generator at each G update
    # (the lazy G_reg forward that follows moves G's own copy once more, so they need not be equal at the end)
    assert run.ema is not None and run.ema.shadow.mapping.w_avg.abs().sum() > 0
    return out


def _pngs(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))]


def test_sample_truncation(tiny_run: Path, tmp_path: Path, cli_run: Any) -> None:
    res = cli_run("sample", tiny_run, "--n", "4", "--truncation", "0.5", "--out", tmp_path / "half.png")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "half.png").stat().st_size > 0
    assert cli_run("sample", tiny_run, "--n", "3", "--truncation", "0", "--out", f"{tmp_path / 'zero'}/").exit_code == 0
    assert cli_run("sample", tiny_run, "--n", "3", "--out", f"{tmp_path / 'full'}/").exit_code == 0
    zero, full = _pngs(tmp_path / "zero"), _pngs(tmp_path / "full")
    assert len(zero) == len(full) == 3
    assert all(np.array_equal(zero[0], z) for z in zero)  # psi 0: the average image for every z
    assert not all(np.array_equal(full[0], f) for f in full)
    assert cli_run("sample", tiny_run, "--n", "3", "--truncation", "1", "--out", f"{tmp_path / 'one'}/").exit_code == 0
    assert all(np.array_equal(a, b) for a, b in zip(_pngs(tmp_path / "one"), full, strict=True))  # psi 1: no truncation
    bad = cli_run("sample", tiny_run, "--truncation", "nan", "--out", tmp_path / "x.png")
    assert bad.exit_code == 2 and "finite" in bad.output


def test_sample_truncation_is_refused_for_a_dcgan_run(tmp_path: Path, tiny_spec: dict[str, Any], write_spec: Any, cli_run: Any) -> None:
    tiny_spec["train"].update(steps=1, checkpoint_every=0, sample_every=0, tensorboard=False)
    out = tmp_path / "dcgan"
    assert cli_run("train", write_spec(tiny_spec), "--out", out).exit_code == 0
    res = cli_run("sample", out, "--truncation", "0.5", "--out", tmp_path / "g.png")
    assert res.exit_code == 2 and "'dcgan'" in res.output and "truncation" in res.output
    assert not (tmp_path / "g.png").exists()
