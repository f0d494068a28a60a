"""``--kind model``: a generator and a discriminator for any power-of-two image size."""

from __future__ import annotations

from ganzoo.cli.scaffold.kind import Kind

MODELS = '''\
"""The networks' parameter models and builders. torch and the networks are imported only when one is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import ModelEntry, Params
from pydantic import Field

if TYPE_CHECKING:
    from ganzoo import DataInfo
    from torch import nn


class GeneratorParams(Params):
    """Parameters of the $component generator."""

    latent_dim: int = Field(64, gt=0, le=4096, description="Dimension of the latent vector z.")
    width: int = Field(32, gt=0, le=1024, description="Channels of the last hidden layer (doubling towards the input).")


class DiscriminatorParams(Params):
    """Parameters of the $component discriminator."""

    width: int = Field(32, gt=0, le=1024, description="Channels of the first layer (doubling with depth).")


def build_generator(params: GeneratorParams, info: DataInfo) -> nn.Module:
    """The generator for ``info.channels`` x ``info.size`` images."""
    from $package.nets import Generator

    return Generator(info.channels, info.size, latent_dim=params.latent_dim, width=params.width)


def build_discriminator(params: DiscriminatorParams, info: DataInfo) -> nn.Module:
    """The discriminator for ``info.channels`` x ``info.size`` images."""
    from $package.nets import Discriminator

    return Discriminator(info.channels, info.size, width=params.width)


# One name for both roles: a spec says `generator: {type: NAME}` and `discriminator: {type: NAME}`.
MODELS = [
    ModelEntry(
        name="$component",
        role="generator",
        build=build_generator,
        params=GeneratorParams,
        description="Noise -> 4x4 features -> upsampling convolutions -> tanh.",
    ),
    ModelEntry(
        name="$component",
        role="discriminator",
        build=build_discriminator,
        params=DiscriminatorParams,
        description="Strided convolutions -> one logit.",
    ),
]
'''

NETS = '''\
"""The networks. Images are float in [-1, 1], shaped (B, C, H, W)."""

from __future__ import annotations

import torch
from ganzoo import ConfigError
from torch import nn


def _depth(size: int) -> int:
    if size < 8 or size & (size - 1):
        # A ConfigError is printed as one line by the CLI: the spec must change, nothing is broken.
        raise ConfigError(f"the $component networks need a power-of-two image size >= 8, got {size}")
    return size.bit_length() - 3  # 4x4 -> size: one upsampling per doubling


class Generator(nn.Module):
    """z (B, Z) -> images (B, C, S, S) in [-1, 1]."""

    def __init__(self, channels: int, size: int, *, latent_dim: int, width: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim  # the GAN tasks draw z (B, latent_dim): see ganzoo.LatentGenerator
        n = _depth(size)
        ch = [width * 2 ** (n - i) for i in range(n + 1)]  # widest at 4x4
        self.stem = nn.Linear(latent_dim, ch[0] * 16)
        self.ch0 = ch[0]
        blocks: list[nn.Module] = []
        for i in range(n):
            blocks += [nn.Upsample(scale_factor=2), nn.Conv2d(ch[i], ch[i + 1], 3, padding=1),
                       nn.BatchNorm2d(ch[i + 1]), nn.ReLU()]
        self.blocks = nn.Sequential(*blocks)
        self.to_image = nn.Conv2d(ch[-1], channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.stem(z).view(-1, self.ch0, 4, 4)  # (B, ch0, 4, 4)
        h = self.blocks(h)  # (B, width, S, S)
        return torch.tanh(self.to_image(h))  # (B, C, S, S)


class Discriminator(nn.Module):
    """Images (B, C, S, S) -> logits (B,). No sigmoid: the losses work on logits."""

    def __init__(self, channels: int, size: int, *, width: int) -> None:
        super().__init__()
        n = _depth(size)
        layers: list[nn.Module] = []
        c_in = channels
        for i in range(n):
            c_out = width * 2**i
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, width * 2^(n-1), 4, 4)
        return self.head(h.flatten(1)).squeeze(1)  # (B,)
'''

KIND = Kind(
    name="model",
    hook="ganzoo_models",
    entry="ModelEntry",
    module=("models", "MODELS"),
    files={"src/$package/models.py": MODELS, "src/$package/nets.py": NETS},
    summary="a generator and a discriminator",
    spec={"generator": "{type: $component, params: {latent_dim: 64, width: 32}}",
          "discriminator": "{type: $component, params: {width: 32}}"},
    tiny={"generator": '{"type": "$component", "params": {"latent_dim": 8, "width": 8}}',
          "discriminator": '{"type": "$component", "params": {"width": 8}}'},
    readme="- `src/$package/models.py`: the networks' params (unknown keys are errors; describe every field) and builders;\n"
           "  `nets.py`: the networks (images in [-1, 1]; discriminators return logits).",
)
