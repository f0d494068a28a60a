"""Super-resolution networks: MSRResNet, ESRGAN's RRDBNet, the bicubic baseline, the VGG-style discriminator.

Layer names follow BasicSR (``conv_first``, ``body.N.conv1``, ``upconv1``,
``conv_hr``, ``conv_last``; ``body.N.rdb1.conv1``), so BasicSR release weights
load with ``init: {generator: {from: FILE, key: params_ema}}`` when the
architecture matches. Images are in [-1, 1]; generators map (B, C, h, w) LR to
(B, C, h*s, w*s) SR and are not clamped (the task clamps for evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import ConfigError
from ganzoo_sr.degradation import bicubic_up

__all__ = ["RRDB", "Bicubic", "MSRResNet", "RRDBNet", "ResidualBlockNoBN", "ResidualDenseBlock", "VGGStyleDiscriminator", "init_scaled"]


def init_scaled(modules: Sequence[nn.Module], scale: float = 0.1) -> None:
    """Kaiming-normal init multiplied by ``scale``, zero bias (BasicSR's ``default_init_weights``).

    A small residual branch at the start keeps deep no-BN residual stacks stable.
    """
    for module in modules:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                m.weight.data.mul_(scale)
                if m.bias is not None:
                    m.bias.data.zero_()


class ResidualBlockNoBN(nn.Module):
    """conv-ReLU-conv with an identity skip; batch norm is left out (EDSR: it hurts SR)."""

    def __init__(self, num_feat: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        init_scaled([self], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x))) * self.res_scale  # (B, F, h, w)


class MSRResNet(nn.Module):
    """Modified SRResNet (BasicSR's MSRResNet): no BN, pixel-shuffle upsampling, bilinear skip.

    Args:
        channels: Image channels in and out.
        scale: 2, 3 (one pixel shuffle by the scale) or 4 (two by 2).
        num_feat: Feature channels.
        num_block: Residual blocks.
    """

    def __init__(self, channels: int = 3, scale: int = 4, num_feat: int = 64, num_block: int = 16) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ConfigError(f"MSRResNet supports scales 2, 3 and 4, got {scale}")
        self.scale = scale
        self.conv_first = nn.Conv2d(channels, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[ResidualBlockNoBN(num_feat) for _ in range(num_block)])
        if scale == 4:
            self.upconv1 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
            self.upconv2 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(2)
        else:
            self.upconv1 = nn.Conv2d(num_feat, num_feat * scale * scale, 3, 1, 1)
            self.pixel_shuffle = nn.PixelShuffle(scale)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, channels, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.1, inplace=True)
        init_scaled([self.conv_first, self.upconv1, self.conv_hr, self.conv_last] + ([self.upconv2] if scale == 4 else []), 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.lrelu(self.conv_first(x))  # (B, F, h, w)
        out = self.body(feat)  # (B, F, h, w)
        if self.scale == 4:
            out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))  # (B, 4F, h, w) -> (B, F, 2h, 2w)
            out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))  # (B, F, 4h, 4w)
        else:
            out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))  # (B, s*s*F, h, w) -> (B, F, sh, sw)
        out = self.conv_last(self.lrelu(self.conv_hr(out)))  # (B, C, sh, sw)
        # The network learns a residual over bilinear upsampling, as BasicSR's MSRResNet.
        base = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)  # (B, C, sh, sw)
        return out + base


class ResidualDenseBlock(nn.Module):
    """Five densely connected convs; the output is scaled by ``res_scale`` and added to the input (ESRGAN)."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32, res_scale: float = 0.2) -> None:
        super().__init__()
        self.res_scale = res_scale
        g = num_grow_ch
        self.conv1 = nn.Conv2d(num_feat, g, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + g, g, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * g, g, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * g, g, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * g, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        init_scaled([self], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))  # (B, G, h, w)
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))  # (B, G, h, w)
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))  # (B, F, h, w)
        return x5 * self.res_scale + x


class RRDB(nn.Module):
    """Residual in residual dense block: three dense blocks, then a residual scaled by ``res_scale``."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32, res_scale: float = 0.2) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch, res_scale)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch, res_scale)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch, res_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rdb3(self.rdb2(self.rdb1(x)))  # (B, F, h, w)
        return out * self.res_scale + x


class RRDBNet(nn.Module):
    """ESRGAN's generator (Wang et al. 2018, BasicSR's RRDBNet).

    Upsampling is nearest-neighbour then conv + LeakyReLU, once per factor of 2
    (x4: twice); x3 is one nearest x3 step, an extension of the paper's x4 network.

    Args:
        channels: Image channels in and out.
        scale: 2, 3 or 4.
        num_feat: Feature channels.
        num_block: RRDB blocks.
        num_grow_ch: Growth channels of the dense blocks.
        res_scale: Residual scaling (0.2 in the paper).
    """

    def __init__(
        self, channels: int = 3, scale: int = 4, num_feat: int = 64, num_block: int = 23, num_grow_ch: int = 32, res_scale: float = 0.2
    ) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ConfigError(f"RRDBNet supports scales 2, 3 and 4, got {scale}")
        self.scale = scale
        self.factors = [2, 2] if scale == 4 else [scale]
        self.conv_first = nn.Conv2d(channels, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch, res_scale) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        if scale == 4:
            self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, channels, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)  # (B, F, h, w)
        feat = feat + self.conv_body(self.body(feat))  # (B, F, h, w): long skip over the trunk
        for i, factor in enumerate(self.factors):
            conv = self.conv_up1 if i == 0 else self.conv_up2
            feat = self.lrelu(conv(F.interpolate(feat, scale_factor=factor, mode="nearest")))  # (B, F, h*f, w*f)
        return self.conv_last(self.lrelu(self.conv_hr(feat)))  # (B, C, sh, sw)


class Bicubic(nn.Module):
    """Parameter-free bicubic upsampling (MATLAB's kernel), the baseline every SR model must beat.

    It has no tensors at all: the core builds no optimiser for it and the task's
    G update is skipped, so a "training" run of it is just its evaluation.
    """

    def __init__(self, scale: int = 4) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bicubic_up(x, self.scale)  # (B, C, h, w) -> (B, C, sh, sw)


def _stages(size: int) -> int:
    """Stride-2 stages of the VGG-style D: halve while even and >= 8, at most 5 (128 -> 4, 96 -> 6, 32 -> 4)."""
    n = 0
    while size % 2 == 0 and size >= 8 and n < 5:
        size //= 2
        n += 1
    return n


class VGGStyleDiscriminator(nn.Module):
    """SRGAN/ESRGAN discriminator: (conv3x3, conv4x4/2) stages with BN and LeakyReLU, then a dense head.

    BasicSR's VGGStyleDiscriminator fixes the input at 128 or 256 px; here the
    number of stages follows ``input_size`` (halving while even and >= 8, at
    most 5), so 128 gives BasicSR's layout, 96 gives SRGAN's four stride-2
    stages, 32 gives three. The dense head needs exactly that size.

    Args:
        channels: Image channels.
        num_feat: Channels of the first stage; doubled per stage up to 8 x num_feat.
        input_size: HR side the head is built for.
    """

    def __init__(self, channels: int = 3, num_feat: int = 64, input_size: int = 128) -> None:
        super().__init__()
        n = _stages(input_size)
        if n < 2:
            raise ConfigError(
                f"the VGG-style discriminator needs an input side that halves at least twice (e.g. 32, 96, 128), got {input_size}"
            )
        self.input_size = input_size
        layers: list[nn.Module] = []
        cin = channels
        for k in range(n):
            c = num_feat * min(2**k, 8)
            first = nn.Conv2d(cin, c, 3, 1, 1, bias=k == 0)
            layers += [first] if k == 0 else [first, nn.BatchNorm2d(c, affine=True)]
            layers += [nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(c, c, 4, 2, 1, bias=False)]
            layers += [nn.BatchNorm2d(c, affine=True), nn.LeakyReLU(0.2, inplace=True)]
            cin = c
        self.features = nn.Sequential(*layers)
        side = input_size >> n
        self.linear1 = nn.Linear(cin * side * side, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ConfigError(
                f"the VGG-style discriminator was built for {self.input_size}x{self.input_size} inputs, got {tuple(x.shape[-2:])}; "
                "set its input_size (or the task's crop) to the HR training size"
            )
        feat = self.features(x)  # (B, 8F, s, s)
        return self.linear2(self.lrelu(self.linear1(feat.flatten(1)))).squeeze(1)  # (B,)
