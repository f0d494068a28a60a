"""Issue 13: the torch pyramid fill, the ``pyramid`` baseline and generators that ``start: fill``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from ganzoo.data import DataInfo
from ganzoo.plugin.registry import load_registries
from ganzoo_inpaint.baselines import Pyramid
from ganzoo_inpaint.fill import biharmonic_fill, biharmonic_smooth, classical_fill, harmonic_smooth, push_pull, pyramid_fill
from ganzoo_inpaint.nets import ContextEncoder, GatedConvGenerator, PartialConvUNet
from ganzoo_inpaint.params import GatedConvParams, PartialConvParams


def _batch(b: int = 3, c: int = 3, h: int = 16, w: int = 16, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, c, h, w, generator=g) * 2 - 1
    mask = (torch.rand(b, 1, h, w, generator=g) > 0.7).float()
    return image, mask


def test_known_pixels_are_returned_exactly_and_hole_content_is_ignored():
    image, mask = _batch()
    out = pyramid_fill(image, mask)
    known = (mask < 0.5).expand_as(image)
    assert torch.equal(out[known], image[known])
    garbage = torch.where(mask > 0.5, torch.full_like(image, 7.0), image)
    assert torch.equal(pyramid_fill(garbage, mask), out)
    assert out.abs().max() <= 1.0  # convex combinations of known pixels


def test_a_linear_ramp_is_reconstructed_by_the_harmonic_smoothing():
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 24, dtype=torch.float64), torch.linspace(-1, 1, 20, dtype=torch.float64), indexing="ij")
    ramp = (0.6 * xs - 0.3 * ys).expand(2, 3, 24, 20).clone()  # harmonic: its own Jacobi fixed point
    mask = torch.zeros(2, 1, 24, 20, dtype=torch.float64)
    mask[0, :, 6:14, 5:13] = 1
    mask[1, :, 10:20, 3:9] = 1
    err_pp = (push_pull(ramp, mask) - ramp).abs().max()
    err = (pyramid_fill(ramp, mask, iters=2000) - ramp).abs().max()
    assert err < 1e-6 < err_pp
    assert (pyramid_fill(ramp, mask, iters=40) - ramp).abs().max() < err_pp  # smoothing only helps
    torch.testing.assert_close(harmonic_smooth(ramp, mask, iters=50), ramp, rtol=0, atol=1e-12)  # fixed up to rounding


def test_batched_equals_per_sample():
    image, mask = _batch(b=4)
    batched = pyramid_fill(image, mask)
    single = torch.cat([pyramid_fill(image[i : i + 1], mask[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("h", "w"), [(1, 1), (7, 13), (33, 17), (31, 2), (1, 9)])
def test_odd_sizes(h, w):
    image, mask = _batch(b=2, h=h, w=w, seed=3)
    mask[0, 0, 0, 0] = 0  # one known pixel at least
    mask[1, 0, -1, -1] = 1  # one hole at least
    out = pyramid_fill(image, mask)
    assert out.shape == image.shape and torch.isfinite(out).all()
    assert torch.equal(out[(mask < 0.5).expand_as(image)], image[(mask < 0.5).expand_as(image)])


def test_no_hole_returns_the_image_and_a_full_hole_is_filled_with_zero():
    image, _ = _batch(b=2)
    assert pyramid_fill(image, torch.zeros(2, 1, 16, 16)) is image
    mask = torch.zeros(2, 1, 16, 16)
    mask[1] = 1  # sample 1 has no known pixel
    out = pyramid_fill(image, mask)
    assert torch.equal(out[0], image[0]) and torch.equal(out[1], torch.zeros_like(out[1]))


def test_no_grad_gradients_and_dtypes():
    image, mask = _batch(b=2)
    with torch.no_grad():
        ref = pyramid_fill(image, mask)
    x = image.clone().requires_grad_(True)
    out = pyramid_fill(x, mask)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert torch.equal(x.grad[(mask > 0.5).expand_as(x)], torch.zeros_like(x.grad[(mask > 0.5).expand_as(x)]))  # holes ignored
    for dtype in (torch.float64, torch.bfloat16):
        y = pyramid_fill(image.to(dtype), mask.to(dtype))
        assert y.dtype == dtype
        torch.testing.assert_close(y.float(), ref, rtol=0, atol=1e-2 if dtype == torch.bfloat16 else 1e-6)


# ---------------------------------------------------------------- generators

_NETS: dict[str, Callable[..., torch.nn.Module]] = {
    "gated": lambda **kw: GatedConvGenerator(3, 4, (2,), True, False, **kw),
    "gated-attention": lambda **kw: GatedConvGenerator(3, 4, (2,), True, True, **kw),
    "pconv": lambda **kw: PartialConvUNet(3, 4, 2, True, **kw),
    "context-encoder": lambda **kw: ContextEncoder(3, 16, 4, 4, **kw),
}

# sum and absolute sum of each published generator's output for torch.manual_seed(0) on _batch(2), recorded
# with the code before `start` existed (plugins/ganzoo_inpaint/nets.py at the parent commit)
_BEFORE = {"gated": (-65.55219178111292, 87.53429109579884), "pconv": (31.217431960452814, 268.9395607676706),
           "context-encoder": (-98.83472594912746, 116.52919466557796)}


def _out(name: str, **kw: Any) -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    net = _NETS[name](**kw).eval()
    image, mask = _batch(b=2)
    with torch.no_grad():
        return net, net(image * (1 - mask), mask)


@pytest.mark.parametrize("name", sorted(_BEFORE))
def test_start_none_is_the_published_network_unchanged(name):
    net, out = _out(name)
    net_none, out_none = _out(name, start="none")
    assert torch.equal(out, out_none) and list(net.state_dict()) == list(net_none.state_dict())
    total, absolute = _BEFORE[name]
    assert out.double().sum().item() == pytest.approx(total, abs=1e-3)
    assert out.double().abs().sum().item() == pytest.approx(absolute, abs=1e-3)


@pytest.mark.parametrize("name", sorted(_NETS))
def test_a_fresh_start_fill_generator_returns_the_fill(name):
    net_none, _ = _out(name)
    net, out = _out(name, start="fill", fill_iters=25)
    image, mask = _batch(b=2)
    torch.testing.assert_close(out, pyramid_fill(image * (1 - mask), mask, 25), rtol=0, atol=1e-6)
    if isinstance(net, GatedConvGenerator):
        with torch.no_grad():
            stages = net(image * (1 - mask), mask, stages=True)
        for stage in stages:
            torch.testing.assert_close(stage, out, rtol=0, atol=1e-6)
    # same parameters (names and random draws) as start: none, but for the zeroed output layer
    sd, sd_none = net.state_dict(), net_none.state_dict()
    assert list(sd) == list(sd_none)
    differ = [k for k in sd if not torch.equal(sd[k], sd_none[k])]
    assert differ and all(not sd[k].any() for k in differ)


def test_start_fill_trains_away_from_the_fill():
    torch.manual_seed(0)
    net = PartialConvUNet(3, 4, 2, True, start="fill")
    image, mask = _batch(b=2)
    loss = (net(image * (1 - mask), mask) - image).abs().mean()
    loss.backward()
    assert net.dec[0].pconv.conv.weight.grad is not None and net.dec[0].pconv.conv.weight.grad.abs().sum() > 0


def test_params_and_registry():
    assert GatedConvParams().start == "none" and PartialConvParams().fill_iters == 40
    with pytest.raises(ValueError):
        PartialConvParams(start="fil")  # type: ignore[arg-type]
    reg = load_registries()
    info = DataInfo(channels=3, size=16)
    pconv = reg.build("model", "partial-conv", {"width": 4, "depth": 2, "start": "fill", "fill_iters": 7}, info, role="generator")
    assert pconv.start == "fill" and pconv.fill_iters == 7
    baseline = reg.build("model", "pyramid", {"iters": 7}, info, role="generator")
    assert isinstance(baseline, Pyramid) and not list(baseline.parameters())
    image, mask = _batch(b=2)
    torch.testing.assert_close(baseline(image, mask), pyramid_fill(image, mask, 7), rtol=0, atol=0)


def test_start_refine_returns_the_fill_fresh_and_feeds_it_to_the_network():
    image, mask = _batch(b=2)
    masked = image * (1 - mask)
    fill = pyramid_fill(masked, mask, 25)
    torch.manual_seed(0)
    net = GatedConvGenerator(3, 4, (2,), True, start="refine", fill_iters=25).eval()
    with torch.no_grad():
        torch.testing.assert_close(net(masked, mask), fill, rtol=0, atol=1e-6)  # zeroed output layers: exactly the fill
    seen: list[torch.Tensor] = []
    hook = net.coarse.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    with torch.no_grad():
        net(masked, mask)
    hook.remove()
    x = seen[0][:, :3]  # (B, C, H, W): the coarse stage's image channels
    hole = mask.expand_as(x) > 0.5
    assert torch.equal(x[hole], fill[hole]) and torch.equal(x[~hole], masked[~hole])  # the fill in the holes, known pixels as given
    # start: fill keeps the published input (zeros in the holes)
    torch.manual_seed(0)
    plain = GatedConvGenerator(3, 4, (2,), True, start="fill", fill_iters=25).eval()
    seen.clear()
    hook = plain.coarse.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    with torch.no_grad():
        plain(masked, mask)
    hook.remove()
    assert not seen[0][:, :3][hole].any()
    with pytest.raises(ValueError):
        PartialConvParams(start="refine")  # type: ignore[arg-type]  # PConv's first layer ignores the holes anyway
    assert GatedConvParams(start="refine").start == "refine"


def test_a_quadratic_is_reconstructed_by_the_biharmonic_cg():
    # x^2 + xy has a constant discrete Laplacian, so it solves the biharmonic equation away from the border
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 24, dtype=torch.float64), torch.linspace(-1, 1, 20, dtype=torch.float64), indexing="ij")
    quad = (0.5 * xs**2 + 0.3 * xs * ys - 0.2 * ys).expand(2, 3, 24, 20).clone()
    mask = torch.zeros(2, 1, 24, 20, dtype=torch.float64)
    mask[0, :, 6:14, 5:13] = 1
    mask[1, :, 10:20, 3:9] = 1
    start = pyramid_fill(quad, mask, 40)
    err_start = (start - quad).abs().max()
    err = (biharmonic_smooth(start, mask, iters=300) - quad).abs().max()
    assert err < 1e-6 < err_start  # the harmonic fill bends a quadratic; the biharmonic one is exact
    known = (mask < 0.5).expand_as(quad)
    assert torch.equal(biharmonic_fill(quad, mask)[known], quad[known])


def test_the_biharmonic_cg_approaches_scikit_image():
    from skimage.restoration import inpaint_biharmonic

    g = torch.Generator().manual_seed(0)
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 6, generator=g, dtype=torch.float64), size=(32, 32), mode="bicubic")
    mask = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    mask[..., 8:20, 10:24] = 1
    ref = torch.from_numpy(inpaint_biharmonic(smooth[0].permute(1, 2, 0).numpy(), mask[0, 0].numpy() > 0.5, channel_axis=-1))
    ref = ref.permute(2, 0, 1)[None]  # (1, 3, 32, 32)
    hole = mask.expand_as(smooth) > 0.5
    err_pyramid = (pyramid_fill(smooth, mask) - ref)[hole].abs().mean()
    err = (biharmonic_fill(smooth, mask, iters=200) - ref)[hole].abs().mean()
    assert err < 0.02 * err_pyramid  # the same equation, up to the border rule


def test_the_biharmonic_fill_is_per_sample_and_handles_no_holes_and_no_known_pixels():
    image, mask = _batch(b=4)
    batched = biharmonic_fill(image, mask, 20)
    single = torch.cat([biharmonic_fill(image[i : i + 1], mask[i : i + 1], 20) for i in range(4)])
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-5)
    assert torch.equal(biharmonic_fill(image, torch.zeros_like(mask)), image)
    assert not biharmonic_fill(image, torch.ones_like(mask)).any()  # no known pixel: the constant 0, as pyramid_fill
    with pytest.raises(ValueError, match="fill must be one of"):
        classical_fill(image, mask, "telea")


def test_start_fill_biharmonic_and_the_baseline_option():
    image, mask = _batch(b=2)
    masked = image * (1 - mask)
    torch.manual_seed(0)
    net = PartialConvUNet(3, 4, 2, True, start="fill", fill_iters=30, fill="biharmonic").eval()
    with torch.no_grad():
        torch.testing.assert_close(net(masked, mask), biharmonic_fill(masked, mask, 30), rtol=0, atol=1e-6)
    reg = load_registries()
    info = DataInfo(channels=3, size=16)
    base = reg.build("model", "pyramid", {"iters": 40, "biharmonic_iters": 30}, info, role="generator")
    torch.testing.assert_close(base(masked, mask), biharmonic_fill(masked, mask, 30).clamp(-1, 1), rtol=0, atol=1e-6)
    gated = reg.build("model", "gated-conv", {"width": 4, "dilations": [2], "start": "refine", "fill": "biharmonic"}, info,
                      role="generator")
    assert gated.fill == "biharmonic" and gated.start == "refine"


@pytest.mark.parametrize("name", ["gated", "pconv", "context-encoder"])
def test_start_scale_trains_every_layer_from_the_first_step(name):
    image, mask = _batch(b=2)
    masked = image * (1 - mask)
    fill = pyramid_fill(masked, mask, 40)
    grads = {}
    for scale in (0.0, 0.1):
        torch.manual_seed(0)
        net = _NETS[name](start="fill", start_scale=scale)
        out = net(masked, mask)
        gap = (out - fill).abs().max().item()
        assert (gap < 1e-6) if scale == 0 else (0 < gap < 0.5)  # 0: exactly the fill; 0.1: a small correction of it
        (out - image).abs().mean().backward()
        first = next(p for p in net.parameters() if p.dim() == 4)  # the first conv's weight
        grads[scale] = 0.0 if first.grad is None else first.grad.abs().sum().item()
    assert grads[0.0] == 0 and grads[0.1] > 0  # a zero output layer blocks the gradient to the layers below it
