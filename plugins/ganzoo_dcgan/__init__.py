"""DCGAN generator and discriminator (Radford et al., 2016).

Only hook implementations live here; the networks (and torch) are imported when
they are built, so listing components stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import ModelEntry, hookimpl
from ganzoo_dcgan.params import DiscriminatorParams, GeneratorParams

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo import DataInfo
    from ganzoo_dcgan.nets import Discriminator, Generator

__all__ = ["ganzoo_models", "build_generator", "build_discriminator"]


def build_generator(params: GeneratorParams, info: DataInfo) -> Generator:
    """Build a DCGAN generator for ``info.channels`` x ``info.size`` images."""
    from ganzoo_dcgan.nets import Generator

    return Generator(info, latent_dim=params.latent_dim, width=params.width, max_width=params.max_width, batch_norm=params.batch_norm)


def build_discriminator(params: DiscriminatorParams, info: DataInfo) -> Discriminator:
    """Build a DCGAN discriminator for ``info.channels`` x ``info.size`` images."""
    from ganzoo_dcgan.nets import Discriminator

    return Discriminator(
        info, width=params.width, max_width=params.max_width, batch_norm=params.batch_norm, spectral_norm=params.spectral_norm
    )


@hookimpl
def ganzoo_models() -> list[ModelEntry]:
    """Register the DCGAN generator and discriminator."""
    return [
        ModelEntry(
            name="dcgan",
            role="generator",
            build=build_generator,
            params=GeneratorParams,
            description="DCGAN generator: strided transposed convs with BatchNorm and ReLU, Tanh output (16-128 px)",
        ),
        ModelEntry(
            name="dcgan",
            role="discriminator",
            build=build_discriminator,
            params=DiscriminatorParams,
            description="DCGAN discriminator: strided convs with LeakyReLU(0.2), optional BN / spectral norm, logit output",
        ),
    ]
