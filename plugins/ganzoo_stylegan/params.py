"""Parameter models of the StyleGAN2 networks (pydantic only: cheap to import).

Defaults are the paper's config F (Karras et al. 2020, "Analyzing and Improving
the Image Quality of StyleGAN"): 512-d z and w, an 8-layer mapping network with
learning-rate multiplier 0.01, channels ``min(32768 / resolution, 512)``, noise
inputs, a skip generator and a residual discriminator with a minibatch standard
deviation layer (group 4, 1 feature). The resolution is the data's image size
(a power of two, 8 to 1024 px). For a CPU, lower ``channel_base``,
``channel_max`` and ``mapping_layers`` (the registry's stylegan2-digits does).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ganzoo import Params

__all__ = ["StyleGAN2GeneratorParams", "StyleGAN2DiscriminatorParams"]


class StyleGAN2GeneratorParams(Params):
    """StyleGAN2 generator: mapping z -> w, then a skip synthesis network of modulated/demodulated convolutions from a 4x4 constant."""

    architecture: Literal["skip"] = Field(
        "skip",
        description="Synthesis architecture; only the paper's 'skip' (summed toRGB outputs) is built.",
    )
    z_dim: int = Field(512, ge=1, le=4096, description="Size of the input latent z (512 in the paper).")
    w_dim: int = Field(512, ge=1, le=4096, description="Size of the intermediate latent w (512 in the paper).")
    mapping_layers: int = Field(
        8, ge=1, le=16,
        description="Fully connected layers of the mapping network (8 in the paper; 2 in its CIFAR config).",
    )
    mapping_lr_multiplier: float = Field(
        0.01, gt=0.0, le=1.0,
        description="Learning-rate multiplier of the mapping network's equalised weights and biases (0.01 in the paper)."
    )
    channel_base: int = Field(
        32768, ge=16, le=1 << 20,
        description="Channels at a resolution are min(channel_base / resolution, channel_max).",
    )
    channel_max: int = Field(512, ge=1, le=2048, description="Most channels of any block (512 in the paper).")
    style_mixing_prob: float = Field(
        0.9, ge=0.0, le=1.0,
        description="Probability that a training batch mixes the styles of two latents after a random layer (0.9 in the paper; 0: off)."
    )
    w_avg_beta: float = Field(
        0.995, ge=0.0, lt=1.0, description="Decay of the running average of w that truncation pulls towards (0.995 in the paper)."
    )
    noise: bool = Field(True, description="Per-pixel noise inputs with a learned strength in every synthesis layer (on in the paper).")
    conv_clamp: float | None = Field(
        None, gt=0.0, le=65504.0,
        description="Clamp every synthesis activation to +-conv_clamp (the paper uses 256 with fp16); null: no clamp."
    )


class StyleGAN2DiscriminatorParams(Params):
    """StyleGAN2 residual discriminator: fromRGB, residual down-blocks to 4x4, minibatch stddev, conv, two fully connected layers."""

    architecture: Literal["resnet"] = Field("resnet", description="Discriminator architecture; only the paper's 'resnet' is built.")
    channel_base: int = Field(
        32768, ge=16, le=1 << 20,
        description="Channels at a resolution are min(channel_base / resolution, channel_max).",
    )
    channel_max: int = Field(512, ge=1, le=2048, description="Most channels of any block (512 in the paper).")
    mbstd_group_size: int = Field(
        4, ge=1, le=64,
        description="Samples per minibatch-stddev group (4 in the paper); a batch it does not divide uses its largest divisor below."
    )
    mbstd_channels: int = Field(1, ge=1, le=16, description="Feature maps the minibatch stddev layer appends (1 in the paper).")
    conv_clamp: float | None = Field(
        None, gt=0.0, le=65504.0, description="Clamp every activation to +-conv_clamp (the paper uses 256 with fp16); null: no clamp."
    )
