"""StyleGAN2 networks (Karras et al. 2020), written after the paper and its config F.

Generator: z -> normalised by its second moment -> mapping MLP (equalised-LR
layers with a learning-rate multiplier, leaky ReLU) -> w, broadcast to one w per
layer (``num_ws``), with a running average ``w_avg`` for truncation. Synthesis
starts from a learned 4x4 constant; each later block upsamples x2 and applies two
modulated/demodulated 3x3 convolutions with per-pixel noise of learned strength;
every block's 1x1 toRGB (modulated, not demodulated) is added to the upsampled
image of the blocks before ("skip" architecture). During training a batch mixes
two latents' styles after a random layer with ``style_mixing_prob``.

Discriminator ("resnet" architecture): a 1x1 fromRGB at full resolution, residual
blocks (3x3 conv, 3x3 conv + x2 down; shortcut x2 down + 1x1 conv; sum scaled by
1/sqrt(2)) down to 4x4, then a minibatch standard deviation layer, a 3x3 conv
and two fully connected layers to one logit.

Every weight is stored N(0, 1) and scaled at run time by 1/sqrt(fan_in) (times a
learning-rate multiplier): the equalised learning rate. Resampling uses the
paper's [1, 3, 3, 1] FIR filter, as separate depthwise filtering steps (upsample
before a conv, downsample after it) rather than the paper's fused strided
(transposed) convolutions: the same filters, a little more compute.

Deviations (see docs/generation.md): the generator ends with ``tanh`` (the zoo's
image contract is [-1, 1]; the paper's output is linear); unconditional only; the
mixed-precision layers of the paper's code are not reproduced (``conv_clamp`` is).
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo import ConfigError, DataInfo

__all__ = [
    "NoiseMode",
    "check_resolution",
    "channels_at",
    "upsample2d",
    "downsample2d",
    "EqualLinear",
    "EqualConv2d",
    "MappingNetwork",
    "ModulatedConv2d",
    "SynthesisLayer",
    "ToRGB",
    "SynthesisBlock",
    "SynthesisNetwork",
    "StyleGAN2Generator",
    "MinibatchStd",
    "DiscriminatorBlock",
    "StyleGAN2Discriminator",
]

NoiseMode = Literal["random", "const", "none"]
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)  # keeps the activations' magnitude through a leaky ReLU (He init's gain)
MIN_RES, MAX_RES = 8, 1024


def check_resolution(size: int, model: str) -> int:
    """``log2(size)`` for a power-of-two ``size`` in [8, 1024].

    Raises:
        ConfigError: Any other size.
    """
    if size < MIN_RES or size > MAX_RES or size & (size - 1):
        raise ConfigError(f"{model} builds powers of two from {MIN_RES} to {MAX_RES} px, got an image size of {size}")
    return int(math.log2(size))


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """Channels of the blocks at resolution ``res``: ``min(channel_base // res, channel_max)``.

    Raises:
        ConfigError: That is 0 (channel_base below the resolution).
    """
    c = min(channel_base // res, channel_max)
    if c < 1:
        raise ConfigError(f"channel_base {channel_base} gives no channels at {res} px; raise it to at least {res}")
    return c


def _fir(x: Tensor) -> Tensor:
    """The separable [1, 3, 3, 1] filter, normalised to sum 1, as a depthwise weight (C, 1, 4, 4) for ``x``."""
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], device=x.device, dtype=x.dtype)
    f2 = torch.outer(f, f)
    return (f2 / f2.sum()).expand(x.shape[1], 1, 4, 4)


def upsample2d(x: Tensor) -> Tensor:
    """x2 upsampling: zero insertion, then the [1, 3, 3, 1] filter with gain 4 (bilinear inside, zero-padded at the border)."""
    return F.conv_transpose2d(x, _fir(x) * 4.0, stride=2, padding=1, groups=x.shape[1])  # (B, C, 2H, 2W)


def downsample2d(x: Tensor) -> Tensor:
    """x2 downsampling: the [1, 3, 3, 1] filter, then every second pixel (the 2x2 block's centre)."""
    return F.conv2d(x, _fir(x), stride=2, padding=1, groups=x.shape[1])  # (B, C, H/2, W/2)


def _bias_act(x: Tensor, bias: Tensor | None, *, lrelu: bool, gain: float = 1.0, clamp: float | None = None) -> Tensor:
    """Add a per-channel bias, apply leaky ReLU (times sqrt(2)) or nothing, scale by ``gain``, clamp to +-clamp * gain."""
    if bias is not None:
        x = x + bias.reshape(1, -1, *([1] * (x.ndim - 2)))
    if lrelu:
        x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
    if gain != 1.0:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp * gain, clamp * gain)
    return x


class EqualLinear(nn.Module):
    """Fully connected layer with an equalised learning rate.

    The weight is stored N(0, 1) / lr_multiplier and used times
    ``lr_multiplier / sqrt(in_features)``; the bias is stored ``bias_init /
    lr_multiplier`` and used times ``lr_multiplier``. So at init the effective
    weight has std 1/sqrt(fan_in), and Adam's step on the effective weight is
    scaled by ``lr_multiplier / sqrt(fan_in)`` (the mapping network's 0.01).
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, lr_multiplier: float = 1.0,
                 bias_init: float = 0.0, lrelu: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_multiplier)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.lrelu = lrelu

    def effective_weight(self) -> Tensor:
        """The weight the layer applies (out, in): stored x lr_multiplier / sqrt(fan_in)."""
        return self.weight * self.weight_gain

    def forward(self, x: Tensor) -> Tensor:
        b = None if self.bias is None else self.bias * self.bias_gain
        return _bias_act(F.linear(x, self.effective_weight()), b, lrelu=self.lrelu)  # (B, out)


class EqualConv2d(nn.Module):
    """Same-padding conv with an equalised learning rate (weight N(0, 1) x 1/sqrt(in * k * k)), optionally then x2 down.

    Args:
        down: Downsample x2 with the FIR filter: blur, then a stride-2 conv
            (a 1x1 conv: filter and subsample first, the same map).
        lrelu: Leaky ReLU (times sqrt(2)) after the bias; else linear.
        conv_clamp: Clamp the output to +-conv_clamp.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, bias: bool = True, down: bool = False,
                 lrelu: bool = True, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.down, self.lrelu, self.conv_clamp, self.padding = down, lrelu, conv_clamp, kernel // 2

    def effective_weight(self) -> Tensor:
        """The weight the layer applies (out, in, k, k): stored x 1/sqrt(in * k * k)."""
        return self.weight * self.weight_gain

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        if not self.down:
            x = F.conv2d(x, self.effective_weight(), padding=self.padding)  # (B, C_out, H, W)
        elif self.padding == 0:  # 1x1: filter and subsample, then the conv on the smaller map
            x = F.conv2d(downsample2d(x), self.effective_weight())  # (B, C_out, H/2, W/2)
        else:  # as the paper: blur with the FIR filter (padded by 2), then a stride-2 conv without padding
            x = F.conv2d(x, _fir(x), padding=2, groups=x.shape[1])  # (B, C_in, H + 1, W + 1)
            x = F.conv2d(x, self.effective_weight(), stride=2)  # (B, C_out, H/2, W/2)
        return _bias_act(x, self.bias, lrelu=self.lrelu, gain=gain, clamp=self.conv_clamp)


class MappingNetwork(nn.Module):
    """z (B, z_dim) -> w broadcast to (B, num_ws, w_dim), tracking ``w_avg`` and mixing styles in training.

    Style mixing lives here, not in the generator's forward, so that the
    mapping alone gives the ws training synthesises from (what path length
    differentiates, as StyleGAN2's ``run_G`` mixes before its Gpl phase).

    Args:
        z_dim: Size of z.
        w_dim: Size of w.
        num_ws: How many copies of w the synthesis network consumes.
        num_layers: Fully connected layers (each leaky ReLU).
        lr_multiplier: Learning-rate multiplier of every layer (0.01 in the paper).
        w_avg_beta: Decay of ``w_avg``: ``w_avg <- lerp(mean_batch(w), w_avg, beta)``.
        style_mixing_prob: Probability that a training forward mixes two latents' styles.
    """

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, num_layers: int, lr_multiplier: float, w_avg_beta: float,
                 style_mixing_prob: float = 0.0) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.w_avg_beta = z_dim, w_dim, num_ws, w_avg_beta
        self.style_mixing_prob = style_mixing_prob
        dims = [z_dim] + [w_dim] * num_layers
        self.layers = nn.Sequential(
            *(EqualLinear(a, b, lr_multiplier=lr_multiplier, lrelu=True) for a, b in itertools.pairwise(dims))
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.w_avg: Tensor

    def forward(self, z: Tensor, *, truncation_psi: float = 1.0, update_w_avg: bool = True, mix: bool = True) -> Tensor:
        """Latents (B, z_dim) to ws (B, num_ws, w_dim).

        Args:
            truncation_psi: ``w = w_avg + psi * (w - w_avg)`` (1: none, the default).
            update_w_avg: Track ``w_avg`` (in training mode only).
            mix: Mix styles with ``style_mixing_prob`` (in training mode only).
        """
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()  # (B, Z): on the sphere of radius sqrt(Z)
        x = self.layers(x)  # (B, W)
        if update_w_avg and self.training:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        ws = x.unsqueeze(1).expand(-1, self.num_ws, -1)  # (B, num_ws, W)
        if truncation_psi != 1.0:
            ws = self.w_avg.lerp(ws, truncation_psi)  # w_avg + psi * (w - w_avg)
        if mix and self.training and self.style_mixing_prob > 0:
            ws = self.mix_styles(z, ws)
        return ws

    def mix_styles(self, z: Tensor, ws: Tensor) -> Tensor:
        """With probability ``style_mixing_prob``, ws from a second random z replace ``ws`` from a random layer on.

        One crossover layer for the batch, drawn in [1, num_ws) on the latents'
        device (the global RNG, so checkpoints capture it), as in the paper; the
        choice stays on the device (a mask, not a Python index).
        """
        cutoff = torch.randint(1, self.num_ws, (), device=ws.device)
        cutoff = torch.where(torch.rand((), device=ws.device) < self.style_mixing_prob, cutoff, torch.full_like(cutoff, self.num_ws))
        other = self(torch.randn_like(z), update_w_avg=False, mix=False)  # (B, num_ws, W)
        later = (torch.arange(self.num_ws, device=ws.device) >= cutoff)[None, :, None]  # (1, num_ws, 1)
        return torch.where(later, other, ws)


class ModulatedConv2d(nn.Module):
    """Conv whose weight is scaled per sample by a style from w, then (optionally) demodulated to unit norm.

    The style ``s = affine(w)`` (bias initialised to 1) scales the input
    channels: ``w'_{b,o,i} = weight_{o,i} * gain * s_{b,i}``; demodulation divides
    each output channel by ``sqrt(sum_{i,k} w'^2 + 1e-8)``. One grouped
    convolution applies every sample's own weight (the batch folded into groups).

    Args:
        up: Upsample the input x2 with the FIR filter first.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, w_dim: int, *, demodulate: bool = True, up: bool = False) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.demodulate, self.up, self.padding = demodulate, up, kernel // 2

    def modulated_weight(self, styles: Tensor) -> Tensor:
        """Per-sample weights (B, out, in, k, k) for styles (B, in)."""
        w = self.weight.unsqueeze(0) * (self.weight_gain * styles)[:, None, :, None, None]  # (B, O, I, k, k)
        if self.demodulate:
            w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).rsqrt()
        return w

    def forward(self, x: Tensor, w: Tensor, *, fused: bool | None = None) -> Tensor:
        """Modulated conv of ``x`` (B, I, H, W) under ``w`` (B, w_dim).

        Args:
            fused: One grouped conv with per-sample weights (True), or the
                equivalent scale-inputs / shared conv / scale-outputs form
                (False). Default: fused in eval mode, unfused in training, as
                in the paper's code (the unfused form back-propagates faster).
        """
        if self.up:
            x = upsample2d(x)  # (B, I, 2H, 2W)
        batch, c_in, height, width = x.shape
        styles = self.affine(w)  # (B, I)
        if fused if fused is not None else not self.training:
            weight = self.modulated_weight(styles)  # (B, O, I, k, k)
            out = F.conv2d(x.reshape(1, batch * c_in, height, width), weight.flatten(0, 1), padding=self.padding, groups=batch)
            return out.reshape(batch, -1, height, width)  # (B, O, H, W)
        weight = self.weight * self.weight_gain  # (O, I, k, k)
        out = F.conv2d(x * styles[:, :, None, None], weight, padding=self.padding)  # (B, O, H, W)
        if self.demodulate:  # the same per-(sample, output channel) factor the fused weight carries
            w2 = weight.square().sum(dim=(2, 3)).unsqueeze(0) * styles.square().unsqueeze(1)  # (B, O, I)
            out = out * (w2.sum(dim=2) + 1e-8).rsqrt()[:, :, None, None]
        return out


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv, per-pixel noise of learned strength (init 0), bias, leaky ReLU.

    ``noise_mode``: ``random`` draws N(0, 1) noise per sample from the global
    RNG; ``const`` uses a fixed buffer drawn at init (deterministic sampling);
    ``none`` adds nothing.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, *, up: bool = False,
                 use_noise: bool = True, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up)
        self.use_noise, self.conv_clamp, self.resolution = use_noise, conv_clamp, resolution
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_const: Tensor
            self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: NoiseMode = "random", gain: float = 1.0) -> Tensor:
        x = self.conv(x, w)  # (B, O, H, W)
        if self.use_noise and noise_mode != "none":
            if noise_mode == "random":
                noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype)  # (B, 1, H, W)
            else:
                noise = self.noise_const.to(x.dtype)  # (H, W), the same for every sample
            x = x + noise * self.noise_strength
        return _bias_act(x, self.bias, lrelu=True, gain=gain, clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """Modulated 1x1 conv to the image channels, without demodulation, plus bias (linear)."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, img_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(img_channels))
        self.conv_clamp = conv_clamp

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return _bias_act(self.conv(x, w), self.bias, lrelu=False, clamp=self.conv_clamp)  # (B, img_C, H, W)


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: (const | x2-up conv) -> conv -> toRGB added to the upsampled image.

    It consumes ``num_conv + 1`` ws: one per conv, and its toRGB shares its w
    with the next block's first conv, as in the paper.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int, *,
                 use_noise: bool, conv_clamp: float | None) -> None:
        super().__init__()
        self.first = in_channels == 0
        self.resolution = resolution
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, use_noise=use_noise, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, use_noise=use_noise, conv_clamp=conv_clamp)
        self.torgb = ToRGB(out_channels, img_channels, w_dim, conv_clamp)
        self.num_conv = 1 if self.first else 2

    def forward(self, x: Tensor | None, img: Tensor | None, ws: Tensor, noise_mode: NoiseMode) -> tuple[Tensor, Tensor]:
        """``ws`` (B, num_conv + 1, W); returns the features (B, C, R, R) and the image so far (B, img_C, R, R)."""
        if self.first:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)  # (B, C, 4, 4)
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            assert x is not None
            x = self.conv0(x, ws[:, 0], noise_mode)  # (B, C, R, R)
            x = self.conv1(x, ws[:, 1], noise_mode)
        y = self.torgb(x, ws[:, self.num_conv])  # (B, img_C, R, R)
        img = y if img is None else upsample2d(img) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws (B, num_ws, W) -> image (B, img_C, R, R) in [-1, 1]: one :class:`SynthesisBlock` per resolution 4, 8, ..., R.

    Attributes:
        noise_mode: Noise when :meth:`forward` gets none; None: ``random`` in
            training, ``const`` in eval mode (so sampling is reproducible).
    """

    def __init__(self, w_dim: int, resolution: int, img_channels: int, channel_base: int, channel_max: int, *,
                 use_noise: bool, conv_clamp: float | None) -> None:
        super().__init__()
        log2 = check_resolution(resolution, "stylegan2")
        self.resolutions = [2**i for i in range(2, log2 + 1)]
        blocks, c_in = [], 0
        for res in self.resolutions:
            c_out = channels_at(res, channel_base, channel_max)
            blocks.append(SynthesisBlock(c_in, c_out, w_dim, res, img_channels, use_noise=use_noise, conv_clamp=conv_clamp))
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.num_convs = [b.num_conv for b in blocks]
        self.num_ws = sum(self.num_convs) + 1  # the last toRGB's own w
        self.noise_mode: NoiseMode | None = None

    def forward(self, ws: Tensor, noise_mode: NoiseMode | None = None) -> Tensor:
        """ws (B, num_ws, W) to images (B, img_C, R, R) in [-1, 1].

        Args:
            noise_mode: ``random``, ``const`` or ``none``; default ``self.noise_mode``,
                else ``random`` in training and ``const`` in eval mode.
        """
        mode = noise_mode or self.noise_mode or ("random" if self.training else "const")
        x: Tensor | None = None
        img: Tensor | None = None
        i = 0
        for block, num_conv in zip(self.blocks, self.num_convs, strict=True):
            x, img = block(x, img, ws[:, i : i + num_conv + 1], mode)  # its convs' ws and its toRGB's
            i += num_conv
        assert img is not None
        return torch.tanh(img)  # (B, img_C, R, R): the zoo's [-1, 1] (the paper's output is linear)


def _flat_latent(z: Tensor, z_dim: int) -> Tensor:
    if z.ndim == 4 and z.shape[2:] == (1, 1):
        z = z.flatten(1)  # (B, Z, 1, 1) -> (B, Z)
    if z.ndim != 2 or z.shape[1] != z_dim:
        raise ValueError(f"expected z of shape (B, {z_dim}) or (B, {z_dim}, 1, 1), got {tuple(z.shape)}")
    return z


class StyleGAN2Generator(nn.Module):
    """The StyleGAN2 generator: a :class:`ganzoo.LatentGenerator`, :class:`ganzoo.TruncatableGenerator` and :class:`ganzoo.MappedGenerator`.

    ``forward(z)`` is ``synthesis(mapping(z, truncation_psi=psi))``: the
    mapping network (which also mixes styles in training) and the synthesis
    network (which ends with ``tanh``) are the protocol's two halves, so the
    GAN tasks take path length w.r.t. w.

    Attributes:
        latent_dim: ``z_dim`` (the task draws z of this size).
        num_classes: 0: unconditional.
        truncation_psi: The psi :meth:`forward` applies when called without one
            (1: none); ``ganzoo sample --truncation`` sets it.
        style_mixing_prob: Probability that a training forward mixes two latents (the mapping network's).
        noise_mode: Noise when :meth:`forward` gets none (the synthesis network's): ``random``
            in training and ``const`` in eval mode when None (so sampling is reproducible).
    """

    def __init__(self, info: DataInfo, *, z_dim: int, w_dim: int, mapping_layers: int, mapping_lr_multiplier: float,
                 channel_base: int, channel_max: int, style_mixing_prob: float, w_avg_beta: float, noise: bool,
                 conv_clamp: float | None) -> None:
        super().__init__()
        self.latent_dim = z_dim
        self.num_classes = 0
        self.truncation_psi = 1.0
        self.synthesis = SynthesisNetwork(w_dim, info.size, info.channels, channel_base, channel_max, use_noise=noise,
                                          conv_clamp=conv_clamp)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, mapping_layers, mapping_lr_multiplier, w_avg_beta,
                                      style_mixing_prob)

    @property
    def style_mixing_prob(self) -> float:
        """Probability that a training forward mixes two latents' styles (held by the mapping network)."""
        return self.mapping.style_mixing_prob

    @style_mixing_prob.setter
    def style_mixing_prob(self, value: float) -> None:
        self.mapping.style_mixing_prob = value

    @property
    def noise_mode(self) -> NoiseMode | None:
        """The default noise of a forward (held by the synthesis network)."""
        return self.synthesis.noise_mode

    @noise_mode.setter
    def noise_mode(self, value: NoiseMode | None) -> None:
        self.synthesis.noise_mode = value

    def forward(self, z: Tensor, *, truncation_psi: float | None = None, noise_mode: NoiseMode | None = None) -> Tensor:
        """Latents (B, z_dim) to images (B, C, R, R) in [-1, 1].

        Args:
            z: Latents (B, z_dim) (or (B, z_dim, 1, 1)).
            truncation_psi: ``w = w_avg + psi * (w - w_avg)``; default ``self.truncation_psi``.
            noise_mode: ``random``, ``const`` or ``none``; default ``self.noise_mode``, else
                ``random`` in training and ``const`` in eval mode.
        """
        z = _flat_latent(z, self.latent_dim)  # (B, Z)
        psi = self.truncation_psi if truncation_psi is None else truncation_psi
        ws = self.mapping(z, truncation_psi=psi)  # (B, num_ws, W), styles mixed in training
        return self.synthesis(ws, noise_mode)  # (B, C, R, R)


class MinibatchStd(nn.Module):
    """Appends ``num_channels`` maps: the std over a group of samples, averaged over features and pixels.

    Samples ``i, i + N/G, i + 2N/G, ...`` form a group (as in the paper's
    reshape); ``G`` is ``group_size``, or its largest divisor of the batch N when
    it does not divide N (the paper requires N to be a multiple).
    """

    def __init__(self, group_size: int, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def group(self, n: int) -> int:
        """The group size used for a batch of ``n``."""
        return next(g for g in range(min(self.group_size, n), 0, -1) if n % g == 0)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g, f = self.group(n), self.num_channels
        y = x.reshape(g, n // g, f, c // f, h, w)  # (G, N/G, F, C/F, H, W)
        y = y - y.mean(dim=0)  # deviation from the group mean
        y = (y.square().mean(dim=0) + 1e-8).sqrt()  # (N/G, F, C/F, H, W): std over the group
        y = y.mean(dim=(2, 3, 4))  # (N/G, F)
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)  # (N, F, H, W): each sample gets its group's value
        return torch.cat([x, y], dim=1)  # (N, C + F, H, W)


class DiscriminatorBlock(nn.Module):
    """Residual down-block: (fromRGB) -> 3x3 conv -> 3x3 conv + x2 down, plus a x2-down 1x1 shortcut, summed / sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int, img_channels: int, *, first: bool, conv_clamp: float | None) -> None:
        super().__init__()
        self.fromrgb = EqualConv2d(img_channels, in_channels, 1, conv_clamp=conv_clamp) if first else None
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, conv_clamp=conv_clamp)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=True, conv_clamp=conv_clamp)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, down=True, lrelu=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.fromrgb is not None:
            x = self.fromrgb(x)  # (B, C_in, R, R)
        gain = math.sqrt(0.5)  # keeps the sum of two unit-variance paths at unit variance
        y = self.skip(x, gain=gain)  # (B, C_out, R/2, R/2)
        x = self.conv1(self.conv0(x), gain=gain)  # (B, C_out, R/2, R/2)
        return y + x


class StyleGAN2Discriminator(nn.Module):
    """The StyleGAN2 residual discriminator: images (B, C, R, R) -> logits (B,)."""

    def __init__(self, info: DataInfo, *, channel_base: int, channel_max: int, mbstd_group_size: int, mbstd_channels: int,
                 conv_clamp: float | None) -> None:
        super().__init__()
        log2 = check_resolution(info.size, "stylegan2")
        resolutions = [2**i for i in range(log2, 2, -1)]  # R, R/2, ..., 8
        self.blocks = nn.Sequential(*(
            DiscriminatorBlock(channels_at(res, channel_base, channel_max), channels_at(res // 2, channel_base, channel_max),
                               info.channels, first=i == 0, conv_clamp=conv_clamp)
            for i, res in enumerate(resolutions)
        ))
        c4 = channels_at(4, channel_base, channel_max)
        if c4 % mbstd_channels:
            raise ConfigError(f"mbstd_channels {mbstd_channels} must divide the 4x4 channels ({c4})")
        self.mbstd = MinibatchStd(mbstd_group_size, mbstd_channels)
        self.conv = EqualConv2d(c4 + mbstd_channels, c4, 3, conv_clamp=conv_clamp)
        self.fc = EqualLinear(c4 * 16, c4, lrelu=True)
        self.out = EqualLinear(c4, 1)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Images (B, C, R, R) to logits (B,); class labels ``y`` are refused (unconditional)."""
        if y is not None:
            raise ConfigError("the stylegan2 discriminator is unconditional; use it with the unconditional task")
        x = self.blocks(x)  # (B, C4, 4, 4)
        x = self.conv(self.mbstd(x))  # (B, C4, 4, 4)
        return self.out(self.fc(x.flatten(1))).squeeze(1)  # (B,)
