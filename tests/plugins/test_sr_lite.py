"""``edsr-lite`` (the CPU-budget SR network) and the ``photos`` choice of ``sr-photos``."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from ganzoo_sr.data import SRPhotos, load_photo
from ganzoo_sr.degradation import bicubic_up
from ganzoo_sr.lite import ChannelAttention, EDSRLite
from ganzoo_sr.params import TRAIN_PHOTOS, SRPhotosParams


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("channels", [1, 3])
def test_upscales_by_its_scale(scale: int, channels: int) -> None:
    net = EDSRLite(channels, scale, num_feat=8, num_block=2)
    assert net(torch.rand(2, channels, 6, 5) * 2 - 1).shape == (2, channels, 6 * scale, 5 * scale)


def test_fresh_network_starts_at_bicubic() -> None:
    torch.manual_seed(0)
    net = EDSRLite(3, 4, num_feat=16, num_block=2)
    lr = torch.rand(2, 3, 12, 12) * 2 - 1
    hr = torch.rand(2, 3, 48, 48) * 2 - 1
    assert torch.equal(net(lr), bicubic_up(lr, 4))  # the sub-pixel conv starts at zero
    (net(lr) - hr).abs().mean().backward()
    # ... and is what learns first: its gradient is non-zero although its output is
    assert net.conv_up.weight.grad is not None and float(net.conv_up.weight.grad.abs().sum()) > 0


def test_every_convolution_runs_at_the_lr_size() -> None:
    net = EDSRLite(3, 4, num_feat=8, num_block=3, attention=True)
    seen: list[tuple[int, int]] = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
            m.register_forward_hook(lambda mod, inp, out: seen.append(tuple(inp[0].shape[-2:])))
    net(torch.zeros(1, 3, 7, 9))
    assert len(seen) == 2 + 2 * 3 + 1  # first, two per block, body conv, sub-pixel conv
    assert set(seen) == {(7, 9)}


def test_channel_attention_gates_each_channel_by_its_global_mean() -> None:
    torch.manual_seed(0)
    ca = ChannelAttention(16, reduction=4)
    x = torch.randn(2, 16, 5, 5)
    y = ca(x)
    ratio = y / x
    # one gate per (sample, channel), constant over space, strictly inside (0, 1)
    assert torch.allclose(ratio, ratio[..., :1, :1].expand_as(ratio), atol=1e-5)
    assert bool(((ratio > 0) & (ratio < 1)).all())
    assert sum(p.numel() for p in EDSRLite(3, 4, 16, 2, attention=True).parameters()) > sum(
        p.numel() for p in EDSRLite(3, 4, 16, 2).parameters())


def test_photos_default_and_extra_photos() -> None:
    assert SRPhotosParams().photos == TRAIN_PHOTOS
    china = load_photo("china")
    assert china.shape == (3, 427, 640) and float(china.min()) >= -1 and float(china.max()) <= 1
    data = SRPhotos("train", 64, samples=4, photos=("china", "flower"))
    assert len(data.photos) == 2
    assert data[0]["image"].shape == (3, 64, 64)


@pytest.mark.parametrize(("photos", "message"), [
    (["astronaut", "coffee"], "held-out"),
    (["cat"], "held-out"),
    (["lena"], "unknown"),
    (["china", "china"], "twice"),
])
def test_photos_refuses_held_out_unknown_and_repeated_names(photos: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SRPhotosParams(photos=photos)


def test_self_ensemble_is_the_mean_over_the_eight_symmetries() -> None:
    from ganzoo_sr.params import SRTaskParams
    from ganzoo_sr.task import SuperResolution

    torch.manual_seed(0)
    net = EDSRLite(3, 2, num_feat=8, num_block=1)
    for p in net.parameters():  # make the residual non-zero, so the symmetries matter
        torch.nn.init.normal_(p, std=0.05)
    lr = torch.rand(2, 3, 5, 7) * 2 - 1  # not square: the transposed passes must come back to (10, 14)
    plain = SuperResolution(SRTaskParams(scale=2))
    ens = SuperResolution(SRTaskParams(scale=2, self_ensemble=True))
    with torch.no_grad():
        expected = torch.stack([
            net(lr), net(lr.flip(-1)).flip(-1), net(lr.flip(-2)).flip(-2), net(lr.flip(-1, -2)).flip(-1, -2),
            net(lr.transpose(-1, -2)).transpose(-1, -2), net(lr.flip(-1).transpose(-1, -2)).transpose(-1, -2).flip(-1),
            net(lr.flip(-2).transpose(-1, -2)).transpose(-1, -2).flip(-2),
            net(lr.flip(-1, -2).transpose(-1, -2)).transpose(-1, -2).flip(-1, -2),
        ]).mean(0)
        got = ens.infer(net, lr)
        assert got.shape == (2, 3, 10, 14)
        assert torch.allclose(got, expected, atol=1e-6)
        assert not torch.allclose(got, plain.infer(net, lr), atol=1e-4)
        # a network that commutes with the symmetries (bicubic) is unchanged by the ensemble
        assert torch.allclose(ens.infer(EDSRLite(3, 2, 8, 1), lr), bicubic_up(lr, 2), atol=1e-6)
        # upscale uses it too, whole and in tiles (a pad of 8 covers this 1-block network's receptive field)
        assert torch.allclose(ens.upscale(net, lr), got.clamp(-1, 1), atol=1e-6)
        assert torch.allclose(ens.upscale(net, lr, tile=4, tile_pad=8), got.clamp(-1, 1), atol=1e-6)
    assert ens.eval_protocol()["self_ensemble"] is True and "self_ensemble" not in plain.eval_protocol()


def test_zoom_shrinks_a_larger_region_and_leaves_plain_crops_alone() -> None:
    import torch.nn.functional as F

    plain = SRPhotos("train", 32, samples=4, photos=("china",)).for_evaluation()
    same = SRPhotos("train", 32, samples=4, photos=("china",), zoom=(1.0, 1.0)).for_evaluation()
    assert all(torch.equal(plain[i]["image"], same[i]["image"]) for i in range(4))  # (1, 1) draws nothing more
    half = SRPhotos("train", 32, samples=4, photos=("china",), zoom=(0.5, 0.5)).for_evaluation()
    crop = half[1]["image"]
    # crop 1 is seeded by its index: redraw the same 64-pixel region and shrink it by hand
    gen = torch.Generator().manual_seed(1)
    photo = load_photo("china")
    top = int(torch.randint(photo.shape[1] - 64 + 1, (), generator=gen))
    left = int(torch.randint(photo.shape[2] - 64 + 1, (), generator=gen))
    region = photo[:, top : top + 64, left : left + 64]
    expected = F.interpolate(region[None], size=(32, 32), mode="bicubic", antialias=True, align_corners=False)[0].clamp(-1, 1)
    assert crop.shape == (3, 32, 32) and torch.allclose(crop, expected)
    with pytest.raises(ValidationError, match="zoom"):
        SRPhotosParams(zoom=(0.5, 1.5))


def test_dihedral_gives_each_crop_one_symmetry_of_the_plain_crop() -> None:
    plain = SRPhotos("train", 32, samples=64, photos=("china",)).for_evaluation()
    sym = SRPhotos("train", 32, samples=64, photos=("china",), dihedral=True).for_evaluation()
    seen = set()
    for i in range(64):
        base, got = plain[i]["image"], sym[i]["image"]  # same seed, so the same region before the symmetry
        matches = [(k, f) for k in range(4) for f in (0, 1)
                   if torch.equal(got, (lambda r: r.flip(2) if f else r)(torch.rot90(base, k, dims=(1, 2))))]
        assert matches, f"crop {i} is not a symmetry of its plain crop"
        seen.add(matches[0])
    assert len(seen) == 8  # all eight symmetries occur
    assert SRPhotosParams().dihedral is False  # off by default: existing specs keep their crops


def test_motorcycle_is_a_colour_training_photo_and_never_held_out() -> None:
    photo = load_photo("motorcycle")
    assert photo.shape == (3, 500, 741) and float((photo[0] - photo[2]).abs().mean()) > 0.01  # colour, not grey
    assert SRPhotosParams(photos=("motorcycle",)).photos == ("motorcycle",)
    from ganzoo_sr.params import HELDOUT_PHOTOS

    assert "motorcycle" not in HELDOUT_PHOTOS


def test_the_heldout_split_ignores_training_params_so_its_data_key_is_shared() -> None:
    from pydantic import BaseModel

    from ganzoo.evaluation import data_key

    class ComponentSpec(BaseModel):  # the shape of a spec's data slot, which data_key hashes
        type: str
        params: SRPhotosParams

    mine = SRPhotosParams(split="heldout", size=96, photos=("china", "motorcycle"), dihedral=True, zoom=(0.5, 1.0), samples=7)
    assert mine == SRPhotosParams(split="heldout", size=96)
    key = data_key(ComponentSpec(type="sr-photos", params=mine))
    assert key == data_key(ComponentSpec(type="sr-photos", params=SRPhotosParams(split="heldout", size=96)))
    assert SRPhotosParams(photos=("china",)).photos == ("china",)  # the train split keeps them
