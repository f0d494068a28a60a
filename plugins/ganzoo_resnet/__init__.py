"""ResNet SN-GAN generator and discriminator (Miyato et al., 2018), unconditional and class-conditional.

Only hook implementations live here; the networks (and torch) are imported when
they are built, so listing components stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import ModelEntry, hookimpl
from ganzoo_resnet.params import (
    ConditionalResNetGeneratorParams,
    ResNetDiscriminatorParams,
    ResNetGeneratorParams,
    ResNetProjectionParams,
)

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo import DataInfo
    from ganzoo_resnet.nets import (
        ConditionalResNetGenerator,
        ResNetDiscriminator,
        ResNetGenerator,
        ResNetProjectionDiscriminator,
    )

__all__ = [
    "ganzoo_models",
    "build_generator",
    "build_discriminator",
    "build_conditional_generator",
    "build_projection_discriminator",
]


def build_generator(params: ResNetGeneratorParams, info: DataInfo) -> ResNetGenerator:
    """Build a ResNet SN-GAN generator for ``info.channels`` x ``info.size`` images (32 or 64 px)."""
    from ganzoo_resnet.nets import ResNetGenerator

    return ResNetGenerator(info, latent_dim=params.latent_dim, width=params.width)


def build_discriminator(params: ResNetDiscriminatorParams, info: DataInfo) -> ResNetDiscriminator:
    """Build a ResNet SN-GAN discriminator for ``info.channels`` x ``info.size`` images (32 or 64 px)."""
    from ganzoo_resnet.nets import ResNetDiscriminator

    return ResNetDiscriminator(info, width=params.width)


def build_conditional_generator(params: ConditionalResNetGeneratorParams, info: DataInfo) -> ConditionalResNetGenerator:
    """Build a conditional-BN ResNet generator for ``info`` (``num_classes`` >= 2)."""
    from ganzoo_resnet.nets import ConditionalResNetGenerator

    return ConditionalResNetGenerator(info, latent_dim=params.latent_dim, width=params.width)


def build_projection_discriminator(params: ResNetProjectionParams, info: DataInfo) -> ResNetProjectionDiscriminator:
    """Build a ResNet projection discriminator for ``info`` (``num_classes`` >= 2)."""
    from ganzoo_resnet.nets import ResNetProjectionDiscriminator

    return ResNetProjectionDiscriminator(info, width=params.width)


@hookimpl
def ganzoo_models() -> list[ModelEntry]:
    """Register the ResNet SN-GAN pair and its class-conditional pair."""
    return [
        ModelEntry(
            name="resnet-sngan",
            role="generator",
            build=build_generator,
            params=ResNetGeneratorParams,
            description="SN-GAN ResNet generator (Miyato et al. 2018): residual up-blocks with BN, nearest upsampling, tanh (32/64 px)",
        ),
        ModelEntry(
            name="resnet-sngan",
            role="discriminator",
            build=build_discriminator,
            params=ResNetDiscriminatorParams,
            description="SN-GAN ResNet discriminator: spectrally normalised residual down-blocks, global sum pooling, linear logit",
        ),
        ModelEntry(
            name="resnet-sngan-cond",
            role="generator",
            build=build_conditional_generator,
            params=ConditionalResNetGeneratorParams,
            tasks=("conditional",),
            description="Conditional SN-GAN ResNet generator: G(z, y) with class-conditional batch norm in every residual block",
        ),
        ModelEntry(
            name="resnet-projection",
            role="discriminator",
            build=build_projection_discriminator,
            params=ResNetProjectionParams,
            tasks=("conditional",),
            description="Projection discriminator (Miyato & Koyama 2018) on the SN-GAN ResNet trunk: linear(h) + <embed(y), h>",
        ),
    ]
