"""The exact biharmonic fill (sparse LU), its baseline option and the ``fill-unet`` generator (issue 13)."""

from __future__ import annotations

import pytest
import torch

from ganzoo.data import DataInfo
from ganzoo.plugin.registry import load_registries
from ganzoo_inpaint.fill import biharmonic_exact, biharmonic_fill, classical_fill
from ganzoo_inpaint.params import FillUNetParams
from ganzoo_inpaint.unet import FillUNet


def _batch(b: int = 3, c: int = 3, h: int = 16, w: int = 16, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, c, h, w, generator=g) * 2 - 1
    mask = (torch.rand(b, 1, h, w, generator=g) > 0.7).float()
    return image, mask


# ---------------------------------------------------------------- the exact fill


@pytest.mark.parametrize(("h", "w"), [(16, 16), (13, 21), (1, 9), (9, 1)])
def test_the_exact_fill_is_the_converged_cg_fill(h, w):
    image, mask = _batch(b=2, h=h, w=w)
    image, mask = image.double(), mask.double()
    exact = biharmonic_exact(image * (1 - mask), mask)
    torch.testing.assert_close(exact, biharmonic_fill(image * (1 - mask), mask, iters=3000), rtol=0, atol=1e-6)
    known = (mask < 0.5).expand_as(image)
    assert torch.equal(exact[known], image[known])  # known pixels exactly
    garbage = torch.where(mask > 0.5, torch.full_like(image, 9.0), image)
    assert torch.equal(biharmonic_exact(garbage, mask), exact)  # hole content is ignored


def test_the_exact_fill_reconstructs_a_quadratic_and_is_per_sample():
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 24), torch.linspace(-1, 1, 20), indexing="ij")
    quad = (0.5 * xs**2 + 0.3 * xs * ys - 0.2 * ys).expand(2, 3, 24, 20).clone()
    mask = torch.zeros(2, 1, 24, 20)
    mask[0, :, 6:14, 5:13] = 1
    mask[1, :, 10:20, 3:9] = 1
    out = biharmonic_exact(quad, mask)
    assert (out - quad).abs().max() < 1e-5  # a constant Laplacian away from the border: exactly biharmonic
    single = torch.cat([biharmonic_exact(quad[i : i + 1], mask[i : i + 1]) for i in range(2)])
    assert torch.equal(out, single)
    assert out.dtype == quad.dtype


def test_the_exact_fill_handles_no_holes_no_known_pixels_and_half_precision():
    image, mask = _batch(b=2)
    assert torch.equal(biharmonic_exact(image, torch.zeros_like(mask)), image)
    assert not biharmonic_exact(image, torch.ones_like(mask)).any()  # the constant 0, as pyramid_fill
    half = biharmonic_exact(image.half(), mask)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), biharmonic_exact(image.half().float(), mask), rtol=0, atol=1e-3)
    torch.testing.assert_close(classical_fill(image, mask, "biharmonic-exact", iters=0), biharmonic_exact(image, mask))


def test_the_sparse_lu_baseline_and_its_validation():
    image, mask = _batch(b=2)
    masked = image * (1 - mask)
    reg = load_registries()
    info = DataInfo(channels=3, size=16)
    base = reg.build("model", "biharmonic", {"solver": "sparse-lu"}, info, role="generator")
    torch.testing.assert_close(base(masked, mask), biharmonic_exact(masked, mask).clamp(-1, 1), rtol=0, atol=0)
    assert not list(base.parameters())
    skimage = reg.build("model", "biharmonic", {}, info, role="generator")
    hole = mask.expand_as(image) > 0.5
    gap = (skimage(masked, mask) - base(masked, mask))[hole].abs().mean()
    assert gap < 0.2  # the same equation; only the border rule differs
    with pytest.raises(ValueError, match="solver"):
        reg.build("model", "biharmonic", {"solver": "cg"}, info, role="generator")


# ---------------------------------------------------------------- fill-unet


def test_a_fresh_fill_unet_returns_its_fill_and_any_size():
    image, mask = _batch(b=2, h=19, w=30)
    masked = image * (1 - mask)
    torch.manual_seed(0)
    exact = FillUNet(3, width=4, depth=2, start_scale=0.0).eval()
    with torch.no_grad():
        torch.testing.assert_close(exact(masked, mask), biharmonic_exact(masked, mask), rtol=0, atol=0)
        near = FillUNet(3, width=4, depth=2, fill="pyramid", fill_iters=10).eval()
        out = near(masked, mask)
    assert out.shape == image.shape  # padded to a multiple of 4 inside, cropped back
    gap = (out - classical_fill(masked, mask, "pyramid", 10)).abs().max().item()
    assert 0 < gap < 0.5  # start_scale 0.1: a small correction of the fill


def test_fill_unet_trains_every_layer_and_learns():
    image, mask = _batch(b=4)
    masked = image * (1 - mask)
    torch.manual_seed(0)
    net = FillUNet(3, width=4, depth=2, dilations=(2,), fill="biharmonic", fill_iters=20)
    loss = ((net(masked, mask) - image) ** 2 * mask).mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = loss.item()
    for _ in range(30):
        opt.zero_grad()
        loss = ((net(masked, mask) - image) ** 2 * mask).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 0.8 * first  # fits a fixed batch: the correction is trainable


def test_fill_unet_params_and_registry():
    p = FillUNetParams()
    assert (p.fill, p.start_scale, p.depth) == ("biharmonic-exact", 0.1, 3)
    for bad in ({"fill": "telea"}, {"dilations": [0]}, {"depth": 0}, {"start_scale": 2.0}):
        with pytest.raises(ValueError):
            FillUNetParams(**bad)
    with pytest.raises(ValueError, match="fill must be one of"):
        FillUNet(3, fill="telea")
    reg = load_registries()
    net = reg.build("model", "fill-unet", {"width": 4, "depth": 2, "fill": "pyramid"}, DataInfo(channels=1, size=16), role="generator")
    assert isinstance(net, FillUNet) and net.multiple == 4 and net.fill == "pyramid"


# ---------------------------------------------------------------- train_crops: multi-scale training tiles


def test_cut_tiles_keeps_each_images_grid_in_order():
    from ganzoo_inpaint.task import cut_tiles

    x = torch.arange(2 * 3 * 8 * 8.0).view(2, 3, 8, 8)
    tiles = cut_tiles(x, 4)  # (8, 3, 4, 4): image 0's four tiles row by row, then image 1's
    assert tiles.shape == (8, 3, 4, 4)
    assert torch.equal(tiles[1], x[0, :, 0:4, 4:8]) and torch.equal(tiles[6], x[1, :, 4:8, 0:4])
    assert torch.equal(cut_tiles(x, 8), x)


def test_train_crops_trains_on_tiles_and_is_validated(registries, tmp_path):
    import copy

    from ganzoo import ConfigError
    from ganzoo.engine.run import Run
    from ganzoo.spec.model import SpecError, validate_spec
    from tests.helpers import TINY_INPAINT_SPEC

    spec = copy.deepcopy(TINY_INPAINT_SPEC)
    spec["task"]["params"]["train_crops"] = [8, 16]
    spec["train"].update(steps=6, sample_every=0, checkpoint_every=0, tensorboard=False)
    run = Run(validate_spec(spec, registries), registries, tmp_path / "run")
    seen: list[tuple[int, ...]] = []
    run.nets["generator"].register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape)))
    run.fit()
    # batch 4 of 16 px: four 8 px tiles each, or as loaded; both sides are drawn in six steps (seed 0)
    assert (16, 1, 8, 8) in seen and (4, 1, 16, 16) in seen

    spec["task"]["params"]["train_crops"] = [32]
    with pytest.raises(ConfigError, match="train_crops: side 32 exceeds the data's size 16"):
        Run(validate_spec(spec, registries), registries, tmp_path / "big").fit()
    spec["task"]["params"]["train_crops"] = [4]
    with pytest.raises(SpecError, match="train_crops"):
        validate_spec(spec, registries)
