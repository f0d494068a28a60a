"""``fill-unet``: a plain conv U-Net that predicts a correction to a classical fill of the holes.

The recipe of docs/inpainting.md ("Beating the classical fills"): the network
sees the fill (not zeros) in the holes, and the mask; its output is added to
the fill, so what it must learn is only what the classical fill gets wrong.
LeakyReLU, no normalisation, nearest-neighbour upsampling and skip connections
by concatenation; a few dilated convs at the coarsest level widen its view of
large holes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo_inpaint.fill import classical_fill
from ganzoo_inpaint.nets import _check_start, _scale_output_

__all__ = ["FillUNet"]


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation), nn.LeakyReLU(0.2))


class FillUNet(nn.Module):
    """``G(masked, mask) = fill + U-Net(fill, mask)``.

    Args:
        channels: Image channels.
        width: Channels at full resolution; level ``i`` has ``width * min(2**i, 4)``.
        depth: Stride-2 levels; inputs are padded to a multiple of ``2**depth`` (padding counts as hole).
        dilations: Dilation rates of extra convs at the coarsest level.
        fill: The classical fill (``ganzoo_inpaint.fill.classical_fill``).
        fill_iters: Its iterations (pyramid: Jacobi, biharmonic: CG; unused by biharmonic-exact).
        start_scale: The output layer's initial weights times this (0: a fresh network returns exactly the fill).
    """

    def __init__(self, channels: int, width: int = 16, depth: int = 3, dilations: tuple[int, ...] = (2, 4),
                 fill: str = "biharmonic-exact", fill_iters: int = 50, start_scale: float = 0.1) -> None:
        super().__init__()
        _check_start("fill", fill)
        chans = [width * min(2**i, 4) for i in range(depth + 1)]
        self.inc = nn.Sequential(_conv(channels + 1, width), _conv(width, width))
        self.down = nn.ModuleList(
            nn.Sequential(_conv(chans[i], chans[i + 1], stride=2), _conv(chans[i + 1], chans[i + 1])) for i in range(depth)
        )
        self.middle = nn.Sequential(*(_conv(chans[-1], chans[-1], dilation=d) for d in dilations))
        self.up = nn.ModuleList(
            nn.Sequential(_conv(chans[i + 1] + chans[i], chans[i]), _conv(chans[i], chans[i])) for i in reversed(range(depth))
        )
        self.out = nn.Conv2d(width, channels, 3, padding=1)
        _scale_output_(self.out, start_scale)  # small, not zero: a zero output layer passes no gradient down
        self.fill, self.fill_iters, self.multiple = fill, fill_iters, 2**depth

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``masked`` (B, C, H, W) with holes 0, ``mask`` (B, 1, H, W), 1 = hole -> (B, C, H, W)."""
        h, w = masked.shape[-2:]
        with torch.no_grad():
            base = classical_fill(masked.float(), mask.float(), self.fill, self.fill_iters).to(masked.dtype)  # (B, C, H, W)
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        x = F.pad(torch.cat([base, mask], 1), (0, pw, 0, ph), mode="replicate")  # (B, C + 1, H', W')
        skips = [self.inc(x)]  # (B, width, H', W')
        for down in self.down:
            skips.append(down(skips[-1]))  # (B, chans[i + 1], H' / 2**(i + 1), ...)
        y = self.middle(skips.pop())  # (B, chans[depth], H' / 2**depth, W' / 2**depth)
        for up in self.up:
            skip = skips.pop()
            y = up(torch.cat([F.interpolate(y, size=skip.shape[-2:], mode="nearest"), skip], 1))  # (B, chans[i], ...)
        return base + self.out(y)[..., :h, :w]  # (B, C, H, W): the fill plus its correction
