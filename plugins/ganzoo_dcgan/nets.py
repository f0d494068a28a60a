"""DCGAN networks (Radford, Metz & Chintala, 2016), as in the PyTorch DCGAN example.

Generator: z -> 4x4 (transposed conv, BN, ReLU) -> stride-2 up blocks (BN, ReLU),
halving channels -> transposed conv to image channels, Tanh. Discriminator: the
mirror image with LeakyReLU(0.2), no BN on its first block, and a final valid 4x4
convolution to one logit (no sigmoid: losses work on logits).
"""

from __future__ import annotations

import itertools

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ganzoo import ConfigError, DataInfo

__all__ = [
    "Generator",
    "Discriminator",
    "init_dcgan_weights",
    "hidden_widths",
    "check_size",
    "generator_layers",
    "discriminator_blocks",
    "apply_spectral_norm",
]

MIN_SIZE, MAX_SIZE = 16, 128


def check_size(size: int) -> int:
    """Return the number of hidden layers for an image side, validating the side.

    Args:
        size: Image side; a power of two in [16, 128].

    Returns:
        ``log2(size) - 2``: the hidden layers between 4x4 and ``size`` (exclusive).

    Raises:
        ConfigError: The side is not supported (a ``ValueError``).
    """
    if not (MIN_SIZE <= size <= MAX_SIZE and size & (size - 1) == 0):
        raise ConfigError(f"DCGAN needs an image size that is a power of two in [{MIN_SIZE}, {MAX_SIZE}], got {size}")
    return size.bit_length() - 3


def hidden_widths(size: int, width: int, max_width: int) -> list[int]:
    """Channels of the hidden layers from 4x4 up to ``size / 2``: ``width`` at the last, doubling towards 4x4.

    Example: size 64, width 64 -> [512, 256, 128, 64].
    """
    n = check_size(size)
    return [min(width * 2 ** (n - 1 - i), max_width) for i in range(n)]


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BN weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def generator_layers(in_dim: int, widths: list[int], channels: int, batch_norm: bool = True) -> list[nn.Module]:
    """The DCGAN generator stack: (B, in_dim, 1, 1) -> 4x4 -> ... -> (B, channels, S, S) in [-1, 1].

    Args:
        in_dim: Channels of the 1x1 input (the latent size, plus any conditioning).
        widths: Hidden channels from 4x4 upwards (:func:`hidden_widths`).
        channels: Image channels.
        batch_norm: BatchNorm after every hidden layer (the paper's choice). Without
            it the layers carry biases; DDP runs then need no SyncBatchNorm.
    """

    def block(c_in: int, c_out: int, stride: int, padding: int) -> list[nn.Module]:
        # Convolutions followed by BN carry no bias: BN's shift makes it redundant.
        conv = nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=not batch_norm)
        return [conv, nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)] if batch_norm else [conv, nn.ReLU(inplace=True)]

    layers: list[nn.Module] = block(in_dim, widths[0], 1, 0)  # 1x1 -> 4x4
    for c_in, c_out in itertools.pairwise(widths):
        layers += block(c_in, c_out, 2, 1)
    layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
    return layers


def discriminator_blocks(channels: int, widths: list[int], batch_norm: bool) -> list[nn.Module]:
    """The DCGAN discriminator trunk: (B, channels, S, S) -> (B, widths[-1], 4, 4), stride-2 conv blocks.

    Args:
        channels: Image channels.
        widths: Channels per block from size/2 down to 4x4 (``hidden_widths(...)[::-1]``).
        batch_norm: BatchNorm after every block except the first.
    """
    layers: list[nn.Module] = []
    c_in = channels
    for i, c_out in enumerate(widths):
        norm = batch_norm and i > 0  # the paper leaves the input layer unnormalised
        layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not norm))
        if norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.LeakyReLU(0.2, inplace=True))
        c_in = c_out
    return layers


def apply_spectral_norm(module: nn.Module, types: tuple[type[nn.Module], ...] = (nn.Conv2d,)) -> None:
    """Wrap every submodule of ``types`` in spectral normalisation (call after initialising weights)."""
    for m in list(module.modules()):
        if isinstance(m, types):
            _spectral_norm(m)


class Generator(nn.Module):
    """DCGAN generator.

    Args:
        info: Output channels and size (power of two in [16, 128]).
        latent_dim: Dimension of z.
        width: Channels of the last hidden layer.
        max_width: Cap on hidden channels.
        batch_norm: BatchNorm after every hidden layer.

    Attributes:
        latent_dim: Dimension of z, for samplers.
    """

    def __init__(self, info: DataInfo, *, latent_dim: int = 100, width: int = 64, max_width: int = 512, batch_norm: bool = True) -> None:
        super().__init__()
        widths = hidden_widths(info.size, width, max_width)
        self.latent_dim = latent_dim
        self.net = nn.Sequential(*generator_layers(latent_dim, widths, info.channels, batch_norm))
        init_dcgan_weights(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Map latents to images.

        Args:
            z: (B, latent_dim) or (B, latent_dim, 1, 1) latent vectors.
            y: Class labels; ignored (the unconditional model accepts them for a uniform call).

        Returns:
            (B, C, H, W) images in [-1, 1].
        """
        if z.ndim == 2:
            z = z[:, :, None, None]  # (B, Z, 1, 1)
        if z.ndim != 4 or z.shape[1:] != (self.latent_dim, 1, 1):
            raise ValueError(f"expected z of shape (B, {self.latent_dim}) or (B, {self.latent_dim}, 1, 1), got {tuple(z.shape)}")
        return self.net(z)  # (B, C, H, W)


class Discriminator(nn.Module):
    """DCGAN discriminator returning raw logits.

    Args:
        info: Input channels and size (power of two in [16, 128]).
        width: Channels of the first block, doubling per block.
        max_width: Cap on hidden channels.
        batch_norm: BatchNorm after every block except the first.
        spectral_norm: Spectral normalisation on every convolution.
    """

    def __init__(
        self, info: DataInfo, *, width: int = 64, max_width: int = 512, batch_norm: bool = True, spectral_norm: bool = False
    ) -> None:
        super().__init__()
        widths = hidden_widths(info.size, width, max_width)[::-1]  # size/2 -> 4x4: [64, 128, 256, 512]
        layers = discriminator_blocks(info.channels, widths, batch_norm)
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 0))  # 4x4 -> 1x1 logit
        self.net = nn.Sequential(*layers)
        # Initialise before wrapping: the parametrisation captures the current weight as its original.
        init_dcgan_weights(self)
        if spectral_norm:
            apply_spectral_norm(self.net)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Score images.

        Args:
            x: (B, C, H, W) images in [-1, 1].
            y: Class labels; ignored (the unconditional model accepts them for a uniform call).

        Returns:
            (B,) logits; higher means "real".
        """
        return self.net(x).flatten()  # (B, 1, 1, 1) -> (B,)
