"""StyleGAN2 generator and discriminator (Karras et al. 2020), unconditional.

Only hook implementations live here; the networks (and torch) are imported when
they are built, so listing components stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import ModelEntry, hookimpl
from ganzoo_stylegan.params import StyleGAN2DiscriminatorParams, StyleGAN2GeneratorParams

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo import DataInfo
    from ganzoo_stylegan.nets import StyleGAN2Discriminator, StyleGAN2Generator

__all__ = ["ganzoo_models", "build_generator", "build_discriminator"]


def build_generator(params: StyleGAN2GeneratorParams, info: DataInfo) -> StyleGAN2Generator:
    """Build a StyleGAN2 generator for ``info.channels`` x ``info.size`` images (a power of two, 8 to 1024 px)."""
    from ganzoo_stylegan.nets import StyleGAN2Generator

    return StyleGAN2Generator(
        info,
        z_dim=params.z_dim,
        w_dim=params.w_dim,
        mapping_layers=params.mapping_layers,
        mapping_lr_multiplier=params.mapping_lr_multiplier,
        channel_base=params.channel_base,
        channel_max=params.channel_max,
        style_mixing_prob=params.style_mixing_prob,
        w_avg_beta=params.w_avg_beta,
        noise=params.noise,
        conv_clamp=params.conv_clamp,
    )


def build_discriminator(params: StyleGAN2DiscriminatorParams, info: DataInfo) -> StyleGAN2Discriminator:
    """Build a StyleGAN2 residual discriminator for ``info.channels`` x ``info.size`` images."""
    from ganzoo_stylegan.nets import StyleGAN2Discriminator

    return StyleGAN2Discriminator(
        info,
        channel_base=params.channel_base,
        channel_max=params.channel_max,
        mbstd_group_size=params.mbstd_group_size,
        mbstd_channels=params.mbstd_channels,
        conv_clamp=params.conv_clamp,
    )


@hookimpl
def ganzoo_models() -> list[ModelEntry]:
    """Register the StyleGAN2 pair (unconditional; the conditional task refuses them: ``num_classes`` is 0)."""
    return [
        ModelEntry(
            name="stylegan2",
            role="generator",
            build=build_generator,
            params=StyleGAN2GeneratorParams,
            description=(
                "StyleGAN2 generator (Karras et al. 2020): mapping network, modulated/demodulated convs, noise inputs, "
                "skip toRGBs, style mixing, truncation (8-1024 px)"
            ),
        ),
        ModelEntry(
            name="stylegan2",
            role="discriminator",
            build=build_discriminator,
            params=StyleGAN2DiscriminatorParams,
            description="StyleGAN2 residual discriminator: equalised-LR residual down-blocks, minibatch stddev, conv + 2 FC epilogue",
        ),
    ]
