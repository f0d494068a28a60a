"""ResNet SN-GAN networks (Miyato et al., 2018), after the paper's CIFAR-10 / STL-10 layout.

Generator: z -> linear to (width, 4, 4) -> residual up-blocks (BN, ReLU, nearest x2,
3x3 conv, BN, ReLU, 3x3 conv; shortcut: nearest x2 then 1x1 conv), one block per
doubling (3 for 32 px, 4 for 64 px) -> BN, ReLU, 3x3 conv to the image channels, tanh.

Discriminator: an optimised first block (conv, ReLU, conv, avg-pool; shortcut
avg-pool then 1x1 conv) -> residual down-blocks (ReLU, conv, ReLU, conv, avg-pool;
shortcut 1x1 conv then avg-pool) down to 8x8 -> two residual blocks at 8x8 with
identity shortcuts -> ReLU -> global SUM pooling -> linear logit. Every conv and
linear (and the projection embedding) is spectrally normalised.

The conditional generator swaps the blocks' batch norms for class-conditional ones
(per-class gain and bias); the projection discriminator adds <embed(y), h> to the logit.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganzoo import ConfigError, DataInfo, check_labels, require_classes

__all__ = [
    "SIZES",
    "check_size",
    "ConditionalBatchNorm2d",
    "GeneratorBlock",
    "OptimizedDiscriminatorBlock",
    "DiscriminatorBlock",
    "ResNetGenerator",
    "ConditionalResNetGenerator",
    "ResNetDiscriminator",
    "ResNetProjectionDiscriminator",
]

SIZES = (32, 64)
BOTTOM = 4  # the generator's first feature map is BOTTOM x BOTTOM


def check_size(size: int, model: str) -> int:
    """Return the number of 2x resolution steps between 4x4 and ``size`` (3 for 32 px, 4 for 64 px).

    Raises:
        ConfigError: ``size`` is not one of :data:`SIZES` (a ``ValueError``).
    """
    if size not in SIZES:
        raise ConfigError(f"{model} supports image sizes {' and '.join(map(str, SIZES))} px, got {size}")
    return int(math.log2(size // BOTTOM))


def _flat_latent(z: Tensor, latent_dim: int) -> Tensor:
    if z.ndim == 4 and z.shape[2:] == (1, 1):
        z = z.flatten(1)  # (B, Z, 1, 1) -> (B, Z)
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"expected z of shape (B, {latent_dim}) or (B, {latent_dim}, 1, 1), got {tuple(z.shape)}")
    return z


def _conv(c_in: int, c_out: int, kernel: int, gain: float = 1.0) -> nn.Conv2d:
    """A same-padding conv with Xavier-uniform weights (gain sqrt(2) in the residual paths, as in the paper's code)."""
    conv = nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)  # type: ignore[arg-type]
    return conv


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine, followed by a per-class gain and bias: ``bn(x) * gain[y] + bias[y]``.

    Gains start at 1 and biases at 0, so at initialisation it is a plain batch norm.
    """

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """(B, C, H, W), (B,) class labels -> (B, C, H, W)."""
        h = self.bn(x)
        gain = self.gain(y).to(h.dtype)[:, :, None, None]  # (B, C, 1, 1)
        bias = self.bias(y).to(h.dtype)[:, :, None, None]
        return h * gain + bias


class GeneratorBlock(nn.Module):
    """Residual up-block: BN, ReLU, nearest x2, conv3x3, BN, ReLU, conv3x3; shortcut nearest x2, conv1x1.

    Args:
        c_in: Input channels.
        c_out: Output channels.
        num_classes: 0 for plain batch norm, else class-conditional batch norm over that many classes.
    """

    def __init__(self, c_in: int, c_out: int, num_classes: int = 0) -> None:
        super().__init__()
        self.bn1: nn.Module = ConditionalBatchNorm2d(c_in, num_classes) if num_classes else nn.BatchNorm2d(c_in)
        self.bn2: nn.Module = ConditionalBatchNorm2d(c_out, num_classes) if num_classes else nn.BatchNorm2d(c_out)
        self.conv1 = _conv(c_in, c_out, 3, math.sqrt(2))
        self.conv2 = _conv(c_out, c_out, 3, math.sqrt(2))
        self.shortcut = _conv(c_in, c_out, 1)

    def _norm(self, bn: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
        return bn(x, y) if isinstance(bn, ConditionalBatchNorm2d) else bn(x)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """(B, c_in, S, S) -> (B, c_out, 2S, 2S); ``y`` (B,) labels for conditional batch norm."""
        h = F.relu(self._norm(self.bn1, x, y))
        h = self.conv1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.conv2(F.relu(self._norm(self.bn2, h, y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class OptimizedDiscriminatorBlock(nn.Module):
    """The discriminator's first block: conv3x3, ReLU, conv3x3, avg-pool; shortcut avg-pool, conv1x1 (no leading ReLU)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = _conv(c_in, c_out, 3, math.sqrt(2))
        self.conv2 = _conv(c_out, c_out, 3, math.sqrt(2))
        self.shortcut = _conv(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(B, c_in, S, S) -> (B, c_out, S/2, S/2)."""
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class DiscriminatorBlock(nn.Module):
    """Residual block: ReLU, conv3x3, ReLU, conv3x3, [avg-pool]; shortcut conv1x1, [avg-pool] (identity when it changes nothing)."""

    def __init__(self, c_in: int, c_out: int, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        self.conv1 = _conv(c_in, c_out, 3, math.sqrt(2))
        self.conv2 = _conv(c_out, c_out, 3, math.sqrt(2))
        self.shortcut = _conv(c_in, c_out, 1) if downsample or c_in != c_out else None

    def forward(self, x: Tensor) -> Tensor:
        """(B, c_in, S, S) -> (B, c_out, S/2, S/2) when downsampling, else (B, c_out, S, S)."""
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        s = self.shortcut(x) if self.shortcut is not None else x
        if self.downsample:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


def _apply_spectral_norm(module: nn.Module) -> None:
    """Spectrally normalise every conv, linear and embedding (after initialisation: it captures the current weight)."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            spectral_norm(m)


class ResNetGenerator(nn.Module):
    """SN-GAN ResNet generator.

    Args:
        info: Output channels and size (32 or 64).
        latent_dim: Dimension of z.
        width: Channels of every residual block.
        num_classes: 0, or the classes of conditional batch norm (use :class:`ConditionalResNetGenerator`).

    Attributes:
        latent_dim: Dimension of z, for samplers.
    """

    def __init__(self, info: DataInfo, *, latent_dim: int = 128, width: int = 128, num_classes: int = 0) -> None:
        super().__init__()
        n_blocks = check_size(info.size, "resnet-sngan-cond" if num_classes else "resnet-sngan")
        self.latent_dim = latent_dim
        self.width = width
        self.linear = nn.Linear(latent_dim, width * BOTTOM * BOTTOM)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.blocks = nn.ModuleList(GeneratorBlock(width, width, num_classes) for _ in range(n_blocks))
        self.bn = nn.BatchNorm2d(width)
        self.to_image = _conv(width, info.channels, 3)

    def _generate(self, z: Tensor, y: Tensor | None) -> Tensor:
        h = self.linear(z).view(z.shape[0], self.width, BOTTOM, BOTTOM)  # (B, W, 4, 4)
        for block in self.blocks:
            h = block(h, y)  # doubles the side
        return torch.tanh(self.to_image(F.relu(self.bn(h))))  # (B, C, S, S)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Map latents to images.

        Args:
            z: (B, latent_dim) or (B, latent_dim, 1, 1) latent vectors.
            y: Class labels; ignored (the unconditional model accepts them for a uniform call).

        Returns:
            (B, C, H, W) images in [-1, 1].
        """
        return self._generate(_flat_latent(z, self.latent_dim), None)


class ConditionalResNetGenerator(ResNetGenerator):
    """SN-GAN ResNet generator with class-conditional batch norm in its residual blocks.

    Args:
        info: Output channels, size (32 or 64) and classes (>= 2).
        latent_dim: Dimension of z.
        width: Channels of every residual block.

    Attributes:
        latent_dim: Dimension of z, for samplers.
        num_classes: Number of classes, for samplers.
    """

    def __init__(self, info: DataInfo, *, latent_dim: int = 128, width: int = 128) -> None:
        num_classes = require_classes(info, "resnet-sngan-cond")
        super().__init__(info, latent_dim=latent_dim, width=width, num_classes=num_classes)
        self.num_classes = num_classes

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Map latents and class labels to images.

        Args:
            z: (B, latent_dim) or (B, latent_dim, 1, 1) latent vectors.
            y: (B,) int64 class labels in [0, num_classes); required.

        Returns:
            (B, C, H, W) images in [-1, 1].
        """
        z = _flat_latent(z, self.latent_dim)
        if y is None:
            raise ValueError("resnet-sngan-cond is class-conditional: call it as G(z, y)")
        check_labels(y, z.shape[0], self.num_classes)
        return self._generate(z, y)


class ResNetDiscriminator(nn.Module):
    """SN-GAN ResNet discriminator returning raw logits; every conv and linear is spectrally normalised.

    Args:
        info: Input channels and size (32 or 64).
        width: Channels of every residual block.
        num_classes: 0, or the classes of a projection head (use :class:`ResNetProjectionDiscriminator`).
    """

    def __init__(self, info: DataInfo, *, width: int = 128, num_classes: int = 0) -> None:
        super().__init__()
        n_steps = check_size(info.size, "resnet-projection" if num_classes else "resnet-sngan")
        blocks: list[nn.Module] = [OptimizedDiscriminatorBlock(info.channels, width)]  # S -> S/2
        blocks += [DiscriminatorBlock(width, width, downsample=True) for _ in range(n_steps - 2)]  # -> 8x8
        blocks += [DiscriminatorBlock(width, width, downsample=False) for _ in range(2)]  # 8x8, as in the CIFAR model
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(width, 1)
        nn.init.xavier_uniform_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.embed: nn.Embedding | None = None
        if num_classes:
            self.embed = nn.Embedding(num_classes, width)
            nn.init.xavier_uniform_(self.embed.weight)
        _apply_spectral_norm(self)  # after init: the parametrisation captures the current weights

    def features(self, x: Tensor) -> Tensor:
        """h(x): (B, C, S, S) -> (B, width), the ReLU'd trunk summed (not averaged) over space."""
        return F.relu(self.blocks(x)).sum(dim=(2, 3))  # (B, W, 8, 8) -> (B, W)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Score images.

        Args:
            x: (B, C, H, W) images in [-1, 1].
            y: Class labels; ignored (the unconditional model accepts them for a uniform call).

        Returns:
            (B,) logits; higher means "real".
        """
        return self.linear(self.features(x)).squeeze(1)  # (B,)


class ResNetProjectionDiscriminator(ResNetDiscriminator):
    """Projection discriminator (Miyato & Koyama, 2018) on the SN-GAN ResNet trunk: ``linear(h) + <embed(y), h>``.

    The class embedding is spectrally normalised too, as in the paper's code.

    Args:
        info: Input channels, size (32 or 64) and classes (>= 2).
        width: Channels of every residual block.

    Attributes:
        num_classes: Number of classes.
    """

    embed: nn.Embedding

    def __init__(self, info: DataInfo, *, width: int = 128) -> None:
        num_classes = require_classes(info, "resnet-projection")
        super().__init__(info, width=width, num_classes=num_classes)
        self.num_classes = num_classes

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Score images under class labels.

        Args:
            x: (B, C, H, W) images in [-1, 1].
            y: (B,) int64 class labels in [0, num_classes); required.

        Returns:
            (B,) logits; higher means "real, of class y".
        """
        if y is None:
            raise ValueError("resnet-projection is class-conditional: call it as D(x, y)")
        check_labels(y, x.shape[0], self.num_classes)
        h = self.features(x)  # (B, W)
        projection = (self.embed(y).to(h.dtype) * h).sum(dim=1)  # (B,)
        return self.linear(h).squeeze(1) + projection
