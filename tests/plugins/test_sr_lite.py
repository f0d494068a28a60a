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
