"""Inpainting networks: gated conv (DeepFill v2), partial conv U-Net (PConv), context encoder, SN-PatchGAN.

Every generator is called ``G(masked, mask)``: ``masked`` (B, C, H, W) is the
image with holes set to 0, ``mask`` (B, 1, H, W) is 1 in the hole. It returns
its raw prediction (B, C, H, W) in [-1, 1]; the task composites it with the
known pixels. The fully convolutional generators take any size (they pad to a
multiple of their stride internally, the padding counting as hole).

With ``start="fill"`` a generator adds its network output, as a correction, to a
classical fill of the holes (``ganzoo_inpaint.fill.classical_fill``: pyramid or biharmonic, of the masked
input); its output layer is zero-initialised, so a fresh network returns the fill.
The network's input and layers are the published ones (gated-conv's ``start="refine"`` gives it
the fill in the holes instead of zeros).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import DataError
from ganzoo_inpaint.attention import ContextualAttention
from ganzoo_inpaint.fill import FILLS, classical_fill

__all__ = ["ContextEncoder", "GatedConv2d", "GatedConvGenerator", "PartialConv2d", "PartialConvUNet", "PatchDiscriminator"]


def _check_start(start: str, fill: str, allowed: tuple[str, ...] = ("none", "fill")) -> None:
    if start not in allowed:
        raise ValueError(f"start must be one of {list(allowed)}, got {start!r}")
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {list(FILLS)}, got {fill!r}")


def _scale_output_(layer: nn.Module, scale: float = 0.0) -> None:
    """Scale a conv's weight by ``scale`` and zero its bias in place (no random numbers drawn); 0: its output is 0.

    A zero output layer makes a fresh ``start: fill`` network return the fill exactly,
    but no gradient reaches the layers below it until it has grown; a small
    ``scale`` trains every layer from the first step, at the price of a fresh
    network being the fill plus a small correction.
    """
    with torch.no_grad():
        for name, p in layer.named_parameters(recurse=False):
            p.mul_(scale if name == "weight" else 0.0)


def _pad_to_multiple(masked: torch.Tensor, mask: torch.Tensor, multiple: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad bottom/right so both sides divide by ``multiple``; the padding is marked as hole."""
    h, w = masked.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return masked, mask
    return F.pad(masked, (0, pw, 0, ph)), F.pad(mask, (0, pw, 0, ph), value=1.0)


# ---------------------------------------------------------------- gated convolution (DeepFill v2)


class GatedConv2d(nn.Module):
    """``act(features) * sigmoid(gate)`` (Yu et al. 2019): a learned soft mask per pixel and channel.

    One convolution produces both halves, as in DeepFill v2's code.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1, activation: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, kernel, stride, dilation * (kernel - 1) // 2, dilation)
        self.act: nn.Module = nn.ELU() if activation else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)  # (B, cout, H', W') each
        return self.act(features) * torch.sigmoid(gate)  # (B, cout, H', W')


def _gated_encoder(cin: int, width: int) -> list[nn.Module]:
    """5x5 stem and two stride-2 levels: (B, cin, H, W) -> (B, 4 * width, H / 4, W / 4)."""
    w1, w2, w4 = width, 2 * width, 4 * width
    return [
        GatedConv2d(cin, w1, 5),
        GatedConv2d(w1, w2, 3, stride=2),
        GatedConv2d(w2, w2, 3),
        GatedConv2d(w2, w4, 3, stride=2),
        GatedConv2d(w4, w4, 3),
        GatedConv2d(w4, w4, 3),
    ]


def _gated_decoder(cin: int, cout: int, width: int) -> list[nn.Module]:
    """Two gated convs, then two nearest-upsampling levels: (B, cin, H / 4, W / 4) -> (B, cout, H, W) in [-1, 1]."""
    w1, w2, w4 = width, 2 * width, 4 * width
    return [
        GatedConv2d(cin, w4, 3),
        GatedConv2d(w4, w4, 3),
        nn.Upsample(scale_factor=2, mode="nearest"),
        GatedConv2d(w4, w2, 3),
        GatedConv2d(w2, w2, 3),
        nn.Upsample(scale_factor=2, mode="nearest"),
        GatedConv2d(w2, w1, 3),
        GatedConv2d(w1, max(1, w1 // 2), 3),
        nn.Conv2d(max(1, w1 // 2), cout, 3, padding=1),  # no gate on the output layer, as DeepFill v2
        nn.Tanh(),
    ]


class _GatedStage(nn.Sequential):
    """Encoder (two stride-2 gated convs), dilated gated bottleneck, nearest-upsampling decoder."""

    def __init__(self, cin: int, cout: int, width: int, dilations: tuple[int, ...]) -> None:
        w4 = 4 * width
        layers = _gated_encoder(cin, width)
        layers += [GatedConv2d(w4, w4, 3, dilation=d) for d in dilations]  # context from far away, at no resolution cost
        layers += _gated_decoder(w4, cout, width)
        super().__init__(*layers)  # flat, so checkpoints keep the layer indices they always had


class _AttentionRefinement(nn.Module):
    """DeepFill's refinement network: a dilated-conv branch and a contextual-attention branch, concatenated and decoded.

    Both branches encode the coarse composite to 1/4 resolution; the attention
    branch rebuilds its features from the known region's (``ContextualAttention``)
    and refines them with two gated convs, as DeepFill v2's ``pmconv9``/``pmconv10``.
    """

    def __init__(self, cin: int, cout: int, width: int, dilations: tuple[int, ...], rate: int) -> None:
        super().__init__()
        w4 = 4 * width
        self.dilated = nn.Sequential(*_gated_encoder(cin, width), *(GatedConv2d(w4, w4, 3, dilation=d) for d in dilations))
        self.context = nn.Sequential(*_gated_encoder(cin, width))
        self.attention = ContextualAttention(rate=rate)
        self.after_attention = nn.Sequential(GatedConv2d(w4, w4, 3), GatedConv2d(w4, w4, 3))
        self.decoder = nn.Sequential(*_gated_decoder(2 * w4, cout, width))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (B, cin, H, W), ``mask`` (B, 1, H, W), 1 = hole, sides multiples of 4 * rate -> (B, cout, H, W)."""
        hallucinated = self.dilated(x)  # (B, 4w, H/4, W/4)
        hole = F.max_pool2d(mask, 4)  # (B, 1, H/4, W/4): a feature location with any hole pixel under it is hole
        attended = self.after_attention(self.attention(self.context(x), hole))  # (B, 4w, H/4, W/4)
        return self.decoder(torch.cat([hallucinated, attended], dim=1))  # (B, cout, H, W)


class GatedConvGenerator(nn.Module):
    """DeepFill v2's generator: gated convs, optional coarse-to-fine refinement with contextual attention.

    Input is [masked image, mask] (C + 1 channels). With ``two_stage`` the coarse
    result is composited with the known pixels and refined by a second network
    (coarse-to-fine); ``forward`` returns the refined output, or both stages with
    ``stages=True``, which the inpainting task uses to put its reconstruction
    losses on the coarse output too, as DeepFill v2 does (``num_stages`` says
    how many there are).
    With ``attention`` the refinement network has DeepFill's second encoder
    branch, whose features are rebuilt by contextual attention.

    Args:
        channels: Image channels (1 or 3).
        width: First-layer channels.
        dilations: Bottleneck dilation rates.
        two_stage: Add the refinement network.
        attention: Add the contextual-attention branch to the refinement network (needs ``two_stage``).
        attention_rate: Contextual attention matches patches on features pooled by this factor (1 or 2).
        start: ``"none"`` (published), ``"fill"``: every stage returns ``the fill + its correction``, or
            ``"refine"``: as ``"fill"``, and the coarse stage's input holds the fill in the holes instead of zeros.
        fill_iters: Jacobi (pyramid) or CG (biharmonic) iterations of the fill.
        fill: The classical fill: ``"pyramid"`` or ``"biharmonic"`` (``ganzoo_inpaint.fill.classical_fill``).
        start_scale: With a fill start, the output layer's initial weights times this (0: exactly the fill).
    """

    def __init__(
        self,
        channels: int,
        width: int = 16,
        dilations: tuple[int, ...] = (2, 4, 8),
        two_stage: bool = False,
        attention: bool = False,
        attention_rate: int = 1,
        start: str = "none",
        fill_iters: int = 40,
        fill: str = "pyramid",
        start_scale: float = 0.0,
    ) -> None:
        super().__init__()
        _check_start(start, fill, ("none", "fill", "refine"))
        if attention and not two_stage:
            raise ValueError("contextual attention is a branch of the refinement network: it needs two_stage=True")
        self.coarse = _GatedStage(channels + 1, channels, width, dilations)
        self.refine: nn.Module | None = None
        self.multiple = 4  # two stride-2 layers
        if attention:
            self.refine = _AttentionRefinement(channels + 1, channels, width, dilations, attention_rate)
            self.multiple = 4 * attention_rate  # attention pools the 1/4-resolution features by its rate
        elif two_stage:
            self.refine = _GatedStage(channels + 1, channels, width, dilations)
        self.num_stages = 1 if self.refine is None else 2
        self.start, self.fill_iters, self.fill = start, fill_iters, fill
        if start != "none":  # scaled after every layer is built: the random draws are those of start="none"
            _scale_output_(self.coarse[-2], start_scale)
            if isinstance(self.refine, _AttentionRefinement):
                _scale_output_(self.refine.decoder[-2], start_scale)
            elif self.refine is not None:
                _scale_output_(self.refine[-2], start_scale)

    def forward(self, masked: torch.Tensor, mask: torch.Tensor, *, stages: bool = False) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The filled image (B, C, H, W); with ``stages=True`` a tuple of every stage's output, coarse first."""
        h, w = masked.shape[-2:]
        x, m = _pad_to_multiple(masked, mask, self.multiple)  # (B, C, H', W'), (B, 1, H', W')
        base = None
        if self.start != "none":
            base = _pad_to_multiple(classical_fill(masked, mask, self.fill, self.fill_iters), mask, self.multiple)[0]  # (B, C, H', W')
        if base is not None and self.start == "refine":  # the network sees the fill it corrects
            x = torch.where(m > 0.5, base, x)  # (B, C, H', W')
        coarse = self.coarse(torch.cat([x, m], dim=1))  # (B, C, H', W')
        if base is not None:
            coarse = base + coarse  # the fill plus the stage's correction
        outs = [coarse]
        if self.refine is not None:
            x = torch.cat([torch.where(m > 0.5, coarse, x), m], dim=1)  # coarse guess in the hole, known pixels elsewhere
            refined = self.refine(x, m) if isinstance(self.refine, _AttentionRefinement) else self.refine(x)  # (B, C, H', W')
            outs.append(refined if base is None else base + refined)
        outs = [o[..., :h, :w] for o in outs]  # (B, C, H, W) each
        return tuple(outs) if stages else outs[-1]


# ---------------------------------------------------------------- partial convolution (PConv)


class PartialConv2d(nn.Module):
    """Partial convolution with mask update (Liu et al. 2018, eq. 1-2).

    With ``M`` the validity of the inputs under the window (1 = known; channels
    included) and ``1`` the all-ones window:

    * ``x' = W^T (X * M) * sum(1) / sum(M) + b`` where ``sum(M) > 0``, else ``0``;
    * ``m' = 1`` where ``sum(M) > 0``, else ``0``.

    Zero padding counts as unknown, so borders are re-normalised too (NVIDIA's
    "partial convolution based padding").
    """

    window: torch.Tensor  # a buffer: the all-ones (1, 1, k, k) kernel

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, bias: bool = True) -> None:
        super().__init__()
        self.cin, self.kernel, self.stride, self.padding = cin, kernel, stride, kernel // 2
        self.conv = nn.Conv2d(cin, cout, kernel, stride, self.padding, bias=False)
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.register_buffer("window", torch.ones(1, 1, kernel, kernel), persistent=False)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, Cin, H, W) and ``valid`` (B, 1 | Cin, H, W), 1 = known -> (B, Cout, H', W'), (B, 1, H', W')."""
        with torch.no_grad():
            per_pixel = valid.sum(1, keepdim=True) * (self.cin if valid.shape[1] == 1 else 1)  # (B, 1, H, W): known channels
            window = self.window
            count = F.conv2d(per_pixel.to(window.dtype), window, stride=self.stride, padding=self.padding)  # (B, 1, H', W')
            new_valid = (count > 0).to(x.dtype)
            ratio = (self.cin * self.kernel**2) / count.clamp_min(1.0) * new_valid  # sum(1) / sum(M), 0 where nothing is known
        out = self.conv(x * valid) * ratio.to(x.dtype)  # (B, Cout, H', W')
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1) * new_valid
        return out, new_valid


class _PConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, bn: bool, act: nn.Module | None) -> None:
        super().__init__()
        self.pconv = PartialConv2d(cin, cout, kernel, stride, bias=not bn)
        self.bn = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.act = act if act is not None else nn.Identity()

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out, valid = self.pconv(x, valid)  # (B, Cout, H', W'), (B, 1, H', W')
        return self.act(self.bn(out)), valid


class PartialConvUNet(nn.Module):
    """PConv's U-Net: stride-2 partial-conv encoder (7x7, 5x5, 5x5, then 3x3; ReLU), nearest-upsampling
    decoder that concatenates the skip features *and their masks* (3x3; LeakyReLU 0.2); the last decoder
    layer sees the input image and mask. Batch norm everywhere but the first and last layers.

    Args:
        channels: Image channels.
        width: First encoder layer's channels (doubled per level, capped at 8x).
        depth: Encoder levels.
        batch_norm: Use batch norm as the paper.
        start: ``"none"`` (published) or ``"fill"``: return ``the fill + tanh(network)``.
        fill_iters: Jacobi (pyramid) or CG (biharmonic) iterations of the fill.
        fill: The classical fill: ``"pyramid"`` or ``"biharmonic"`` (``ganzoo_inpaint.fill.classical_fill``).
        start_scale: With a fill start, the output layer's initial weights times this (0: exactly the fill).
    """

    def __init__(
        self, channels: int, width: int = 16, depth: int = 4, batch_norm: bool = True, start: str = "none", fill_iters: int = 40,
        fill: str = "pyramid",
        start_scale: float = 0.0,
    ) -> None:
        super().__init__()
        _check_start(start, fill)
        self.multiple = 2**depth
        chans = [channels] + [width * min(2**i, 8) for i in range(depth)]  # level 0 is the image
        kernels = [7, 5, 5] + [3] * max(0, depth - 3)
        self.enc = nn.ModuleList(
            _PConvBlock(chans[i], chans[i + 1], kernels[i], 2, bn=batch_norm and i > 0, act=nn.ReLU()) for i in range(depth)
        )
        self.dec = nn.ModuleList(
            _PConvBlock(
                chans[i + 1] + chans[i],
                chans[i] if i > 0 else channels,
                3,
                1,
                bn=batch_norm and i > 0,
                act=nn.LeakyReLU(0.2) if i > 0 else None,
            )
            for i in range(depth)
        )  # dec[i] produces level i from level i + 1 and the skip at level i
        self.start, self.fill_iters, self.fill = start, fill_iters, fill
        if start == "fill":  # scaled after every layer is built: the random draws are those of start="none"
            last = self.dec[0]
            assert isinstance(last, _PConvBlock)
            _scale_output_(last.pconv.conv, start_scale)
            _scale_output_(last.pconv)  # its bias

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = masked.shape[-2:]
        x, m = _pad_to_multiple(masked, mask, self.multiple)
        valid = 1.0 - m  # PConv's masks mark known pixels
        feats, valids = [x], [valid]  # level 0: (B, C, H', W'), (B, 1, H', W')
        for block in self.enc:
            x, valid = block(x, valid)  # (B, c_i, H'/2^i, W'/2^i)
            feats.append(x)
            valids.append(valid)
        for i in reversed(range(len(self.dec))):
            up = F.interpolate(x, scale_factor=2, mode="nearest")  # (B, c_{i+1}, H_i, W_i)
            up_valid = F.interpolate(valid, scale_factor=2, mode="nearest")  # (B, 1, H_i, W_i)
            skip, skip_valid = feats[i], valids[i]
            x = torch.cat([up, skip], dim=1)  # (B, c_{i+1} + c_i, H_i, W_i)
            cat_valid = torch.cat([up_valid.expand(-1, up.shape[1], -1, -1), skip_valid.expand(-1, skip.shape[1], -1, -1)], dim=1)
            x, valid = self.dec[i](x, cat_valid)  # (B, c_i, H_i, W_i)
        out = torch.tanh(x)[..., :h, :w]  # (B, C, H, W)
        return out if self.start == "none" else classical_fill(masked, mask, self.fill, self.fill_iters) + out


# ---------------------------------------------------------------- context encoder (Pathak et al. 2016)


class ChannelwiseFC(nn.Module):
    """Pathak's channel-wise fully connected layer: each channel's map is mixed by its own dense layer
    (no cross-channel weights), then a 1x1 conv propagates across channels."""

    def __init__(self, channels: int, side: int) -> None:
        super().__init__()
        n = side * side
        self.weight = nn.Parameter(torch.randn(channels, n, n) / n**0.5)
        self.bias = nn.Parameter(torch.zeros(channels, n))
        self.mix = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = torch.einsum("bci,cij->bcj", x.reshape(b, c, h * w), self.weight) + self.bias  # (B, C, h*w)
        return self.mix(y.reshape(b, c, h, w))  # (B, C, h, w)


class ContextEncoder(nn.Module):
    """Encoder (4x4 stride-2 convs, BN, LeakyReLU 0.2) -> channel-wise FC -> decoder (4x4 up-convs, BN, ReLU, tanh).

    Pathak et al. predict only the centre region; this predicts the whole image
    and the task keeps the known pixels. Input is [masked image, mask]. The
    channel-wise FC layer fixes the input size to the one it was built for.

    Args:
        channels: Image channels.
        size: Input side the network is built for.
        width: First layer's channels.
        bottleneck: Side of the bottleneck map.
        start: ``"none"`` (published) or ``"fill"``: return ``the fill + tanh(network)``.
        fill_iters: Jacobi (pyramid) or CG (biharmonic) iterations of the fill.
        fill: The classical fill: ``"pyramid"`` or ``"biharmonic"`` (``ganzoo_inpaint.fill.classical_fill``).
        start_scale: With a fill start, the output layer's initial weights times this (0: exactly the fill).
    """

    def __init__(
        self, channels: int, size: int, width: int = 16, bottleneck: int = 4, start: str = "none", fill_iters: int = 40,
        fill: str = "pyramid",
        start_scale: float = 0.0,
    ) -> None:
        super().__init__()
        _check_start(start, fill)
        levels = 1
        while bottleneck * 2**levels < size:
            levels += 1
        self.size, self.levels = size, levels
        self.fixed_side = size  # the only input side it takes (ganzoo_inpaint.resize resizes to it)
        self.multiple = 2**levels
        chans = [width * min(2**i, 8) for i in range(levels)]
        enc: list[nn.Module] = [nn.Conv2d(channels + 1, chans[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for i in range(1, levels):
            enc += [nn.Conv2d(chans[i - 1], chans[i], 4, 2, 1, bias=False), nn.BatchNorm2d(chans[i]), nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(*enc)
        side = -(-size // self.multiple)  # padded side / 2^levels
        self.fc = ChannelwiseFC(chans[-1], side)
        dec: list[nn.Module] = []
        for i in reversed(range(1, levels)):
            dec += [nn.ConvTranspose2d(chans[i], chans[i - 1], 4, 2, 1, bias=False), nn.BatchNorm2d(chans[i - 1]), nn.ReLU()]
        dec += [nn.ConvTranspose2d(chans[0], channels, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)
        self.start, self.fill_iters, self.fill = start, fill_iters, fill
        if start == "fill":  # scaled after every layer is built: the random draws are those of start="none"
            _scale_output_(self.decoder[-2], start_scale)

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = masked.shape[-2:]
        if (h, w) != (self.size, self.size):
            raise DataError(f"context-encoder was built for {self.size}x{self.size} inputs (its channel-wise fully connected "
                             f"bottleneck has a fixed size), got {h}x{w}; resize the image")
        x, m = _pad_to_multiple(masked, mask, self.multiple)
        z = self.encoder(torch.cat([x, m], dim=1))  # (B, c, s, s)
        out = self.decoder(self.fc(z))[..., :h, :w]  # (B, C, H, W)
        return out if self.start == "none" else classical_fill(masked, mask, self.fill, self.fill_iters) + out


# ---------------------------------------------------------------- SN-PatchGAN (DeepFill v2)


class PatchDiscriminator(nn.Module):
    """SN-PatchGAN: 5x5 stride-2 convs with spectral norm and LeakyReLU 0.2; every element of the last
    feature map is a logit (DeepFill v2 applies the hinge loss to each).

    Attributes:
        takes_mask: Called ``D(image, mask)`` (mask as an extra channel) rather than ``D(image)``.
    """

    def __init__(self, channels: int, width: int = 16, depth: int = 4, mask_channel: bool = True, spectral_norm: bool = True) -> None:
        super().__init__()
        self.takes_mask = mask_channel
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        chans = [channels + int(mask_channel)] + [width * min(2**i, 4) for i in range(depth)]
        layers: list[nn.Module] = []
        for i in range(depth):
            layers.append(sn(nn.Conv2d(chans[i], chans[i + 1], 5, 2, 2)))
            if i < depth - 1:  # the last map is the logits
                layers.append(nn.LeakyReLU(0.2))
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.takes_mask:
            if mask is None:
                raise ValueError("this patch discriminator was built with mask_channel: true and needs D(image, mask)")
            image = torch.cat([image, mask.to(image.dtype)], dim=1)  # (B, C + 1, H, W)
        return self.net(image)  # (B, c, H / 2^depth, W / 2^depth) logits
