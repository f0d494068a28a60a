"""Parameter models of the ResNet SN-GAN networks (pydantic only: cheap to import)."""

from __future__ import annotations

from pydantic import Field

from ganzoo import Params

__all__ = [
    "ResNetGeneratorParams",
    "ResNetDiscriminatorParams",
    "ConditionalResNetGeneratorParams",
    "ResNetProjectionParams",
]


class ResNetGeneratorParams(Params):
    """SN-GAN ResNet generator: z -> 4x4, residual up-blocks (3 for 32 px, 4 for 64 px), BN, ReLU, conv, tanh."""

    latent_dim: int = Field(128, gt=0, le=4096, description="Dimension of the latent vector z (128 in the paper).")
    width: int = Field(128, gt=0, le=2048, description="Channels of every residual block (128 at 32 px; 16-32 suits a CPU).")


class ResNetDiscriminatorParams(Params):
    """SN-GAN ResNet discriminator: optimised first block, residual down-blocks, ReLU, global sum pooling, linear head."""

    width: int = Field(128, gt=0, le=2048, description="Channels of every residual block (128 at 32 px; 16-32 suits a CPU).")


class ConditionalResNetGeneratorParams(ResNetGeneratorParams):
    """SN-GAN ResNet generator with class-conditional batch norm (per-class gain and bias) in its residual blocks."""


class ResNetProjectionParams(ResNetDiscriminatorParams):
    """SN-GAN ResNet discriminator with a projection head (Miyato & Koyama, 2018): linear(h) + <embed(y), h>."""
