"""Class-conditional DCGAN models (``cdcgan`` generator, ``projection`` discriminator): a plugin of their own.

They live in the DCGAN package to reuse its blocks, but register through their
own entry point (``ganzoo_cdcgan = "ganzoo_dcgan.conditional"``) so that the
``ganzoo_dcgan`` plugin keeps registering exactly the DCGAN pair. Only hook
implementations live here; torch is imported when a network is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import ModelEntry, hookimpl
from ganzoo_dcgan.params import ConditionalGeneratorParams, ProjectionParams

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo import DataInfo
    from ganzoo_dcgan.conditional_nets import ConditionalGenerator, ProjectionDiscriminator

__all__ = ["ganzoo_models", "build_conditional_generator", "build_projection_discriminator"]


def build_conditional_generator(params: ConditionalGeneratorParams, info: DataInfo) -> ConditionalGenerator:
    """Build a conditional DCGAN generator for ``info`` (``num_classes`` >= 2)."""
    from ganzoo_dcgan.conditional_nets import ConditionalGenerator

    return ConditionalGenerator(
        info,
        latent_dim=params.latent_dim,
        embed_dim=params.embed_dim,
        width=params.width,
        max_width=params.max_width,
        batch_norm=params.batch_norm,
    )


def build_projection_discriminator(params: ProjectionParams, info: DataInfo) -> ProjectionDiscriminator:
    """Build a projection discriminator for ``info`` (``num_classes`` >= 2)."""
    from ganzoo_dcgan.conditional_nets import ProjectionDiscriminator

    return ProjectionDiscriminator(
        info, width=params.width, max_width=params.max_width, batch_norm=params.batch_norm, spectral_norm=params.spectral_norm
    )


@hookimpl
def ganzoo_models() -> list[ModelEntry]:
    """Register the conditional DCGAN generator and the projection discriminator."""
    return [
        ModelEntry(
            name="cdcgan",
            role="generator",
            build=build_conditional_generator,
            params=ConditionalGeneratorParams,
            tasks=("conditional",),
            description="Conditional DCGAN generator: G(z, y) with a learned class embedding concatenated to z",
        ),
        ModelEntry(
            name="projection",
            role="discriminator",
            build=build_projection_discriminator,
            params=ProjectionParams,
            tasks=("conditional",),
            description="Projection discriminator (Miyato & Koyama 2018) on a DCGAN trunk: D(x, y) = psi(phi) + <embed(y), phi>",
        ),
    ]
