"""Parameter models of the DCGAN networks (pydantic only: cheap to import)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ganzoo import Params

__all__ = ["GeneratorParams", "DiscriminatorParams", "ConditionalGeneratorParams", "ProjectionParams"]


class _WidthParams(Params):
    width: int = Field(64, gt=0, description="Channels of the widest-resolution hidden layer; doubles towards the 4x4 layer.")
    max_width: int = Field(512, gt=0, description="Cap on the channels of any hidden layer.")

    @model_validator(mode="after")
    def _check_widths(self) -> _WidthParams:
        if self.max_width < self.width:
            raise ValueError(f"max_width ({self.max_width}) must be at least width ({self.width})")
        return self


class GeneratorParams(_WidthParams):
    """DCGAN generator: a 4x4 projection of z, then stride-2 transposed convolutions."""

    latent_dim: int = Field(100, gt=0, description="Dimension of the latent vector z.")
    batch_norm: bool = Field(True, description="BatchNorm after every hidden layer (as in the paper); false suits DDP on the CPU.")


class DiscriminatorParams(_WidthParams):
    """DCGAN discriminator: stride-2 convolutions down to 4x4, then one 4x4 convolution to a logit."""

    batch_norm: bool = Field(True, description="BatchNorm after every convolution block except the first.")
    spectral_norm: bool = Field(False, description="Spectral normalisation on every convolution (Miyato et al., 2018).")


class ConditionalGeneratorParams(GeneratorParams):
    """Conditional DCGAN generator: z concatenated with a learned class embedding, then the DCGAN stack."""

    embed_dim: int = Field(32, gt=0, description="Size of the learned class embedding concatenated to z.")


class ProjectionParams(_WidthParams):
    """Projection discriminator (Miyato & Koyama, 2018) on a DCGAN conv trunk."""

    batch_norm: bool = Field(False, description="BatchNorm after every convolution block except the first.")
    spectral_norm: bool = Field(True, description="Spectral normalisation on every convolution, the linear head and the class embedding.")
