"""``edsr-lite``: a PSNR-oriented x2/x3/x4 network sized for CPU budgets.

Every convolution runs at the LR resolution: a head conv, EDSR's no-BN residual
blocks (optionally with RCAN's channel attention), a feature-level global skip,
then one sub-pixel convolution (ESPCN) straight to ``C * s * s`` channels and a
pixel shuffle. The network predicts a residual over the MATLAB-kernel bicubic
upsampling, so a freshly initialised one (whose last conv starts at zero)
scores exactly what bicubic scores, and training only adds to it.

Why: MSRResNet runs two of its convolutions at 2x and 4x the LR side (its
``upconv2``, ``conv_hr`` and ``conv_last``), which at x4 cost as much as its
whole residual body. Moving all of them to the LR grid buys about four times
the LR-resolution width or depth for the same CPU time (measured in
docs/super-resolution.md, "A CPU recipe").
"""

from __future__ import annotations

import torch
from torch import nn

from ganzoo import ConfigError
from ganzoo_sr.degradation import bicubic_up
from ganzoo_sr.nets import init_scaled

__all__ = ["ChannelAttention", "EDSRLite", "LiteBlock"]


class ChannelAttention(nn.Module):
    """RCAN's channel attention: global average pool, a bottleneck MLP (1x1 convs), a sigmoid gate per channel."""

    def __init__(self, num_feat: int, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(1, num_feat // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(num_feat, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, num_feat, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)  # (B, F, h, w) * (B, F, 1, 1)


class LiteBlock(nn.Module):
    """conv-ReLU-conv (+ channel attention) with an identity skip, no batch norm (EDSR/RCAN)."""

    def __init__(self, num_feat: int, attention: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.attention = ChannelAttention(num_feat) if attention else nn.Identity()
        init_scaled([self.conv1, self.conv2], 0.1)  # small residual branches keep the no-BN stack stable from step 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attention(self.conv2(torch.relu(self.conv1(x))))  # (B, F, h, w)


class EDSRLite(nn.Module):
    """Residual blocks at LR, one sub-pixel conv, plus bicubic upsampling of the input (see the module docstring).

    Args:
        channels: Image channels in and out.
        scale: 2, 3 or 4.
        num_feat: Feature channels.
        num_block: Residual blocks.
        attention: RCAN's channel attention in every block.
    """

    def __init__(self, channels: int = 3, scale: int = 4, num_feat: int = 64, num_block: int = 8, attention: bool = False) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ConfigError(f"edsr-lite supports scales 2, 3 and 4, got {scale}")
        self.scale = scale
        self.conv_first = nn.Conv2d(channels, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[LiteBlock(num_feat, attention) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up = nn.Conv2d(num_feat, channels * scale * scale, 3, 1, 1, bias=True)
        self.pixel_shuffle = nn.PixelShuffle(scale)
        init_scaled([self.conv_first, self.conv_body], 1.0)
        # A zero sub-pixel conv makes step 0 exactly bicubic; its gradient (features x error) is non-zero, so it learns first.
        nn.init.zeros_(self.conv_up.weight)
        if self.conv_up.bias is not None:  # always, with bias=True; the check is for the type checker
            nn.init.zeros_(self.conv_up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)  # (B, F, h, w)
        feat = feat + self.conv_body(self.body(feat))  # (B, F, h, w)
        residual = self.pixel_shuffle(self.conv_up(feat))  # (B, C*s*s, h, w) -> (B, C, sh, sw)
        return residual + bicubic_up(x, self.scale)  # (B, C, sh, sw)
