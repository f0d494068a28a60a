"""Real-ESRGAN's U-Net discriminator with spectral normalisation (Wang et al. 2021, Fig. 6).

A 3x3 stem, three stride-2 4x4 convolutions (width x2 each), three bilinear x2
upsamplings each followed by a 3x3 convolution (width /2) and, optionally, the
skip connection that adds the encoder feature of the same size, two more 3x3
convolutions and a 3x3 head to one channel: a realness logit per pixel,
(B, 1, H, W). Every convolution but the stem and the head is spectrally
normalised; LeakyReLU 0.2 throughout. The adversarial losses average over all
logits, so a per-pixel D plugs into any task that calls ``D(x)``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["UNetDiscriminatorSN"]


def _sn_conv(cin: int, cout: int, k: int, stride: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2 if stride == 1 else 1, bias=False))


class UNetDiscriminatorSN(nn.Module):
    """(B, C, H, W) -> (B, 1, H, W) per-pixel logits; any side works (upsampling matches the skip's size)."""

    def __init__(self, in_channels: int, num_feat: int = 64, skip_connection: bool = True) -> None:
        super().__init__()
        f = num_feat
        self.skip_connection = skip_connection
        self.stem = nn.Conv2d(in_channels, f, 3, 1, 1)
        self.down = nn.ModuleList([_sn_conv(f, 2 * f, 4, 2), _sn_conv(2 * f, 4 * f, 4, 2), _sn_conv(4 * f, 8 * f, 4, 2)])
        self.up = nn.ModuleList([_sn_conv(8 * f, 4 * f, 3, 1), _sn_conv(4 * f, 2 * f, 3, 1), _sn_conv(2 * f, f, 3, 1)])
        self.extra = nn.ModuleList([_sn_conv(f, f, 3, 1), _sn_conv(f, f, 3, 1)])
        self.head = nn.Conv2d(f, 1, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        feats = [F.leaky_relu(self.stem(x), 0.2)]  # (B, f, H, W)
        for conv in self.down:  # (B, 2f, H/2, W/2), (B, 4f, H/4, W/4), (B, 8f, H/8, W/8)
            feats.append(F.leaky_relu(conv(feats[-1]), 0.2))
        h = feats[-1]
        for conv, skip in zip(self.up, reversed(feats[:-1]), strict=True):  # back up to (B, f, H, W)
            # to the skip's size rather than x2, so sides that are not multiples of 8 work too
            h = F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            h = F.leaky_relu(conv(h), 0.2)
            if self.skip_connection:
                h = h + skip
        for conv in self.extra:
            h = F.leaky_relu(conv(h), 0.2)
        return self.head(h)  # (B, 1, H, W)
