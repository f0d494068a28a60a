"""Parameter model of the timm discriminator (pydantic only: cheap to import)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from ganzoo import Params

__all__ = ["TimmDiscriminatorParams"]


class TimmDiscriminatorParams(Params):
    """A timm architecture as the discriminator backbone, with a linear head to one logit."""

    model: str = Field(
        "resnet10t",
        min_length=1,
        description="timm architecture name (see timm.list_models()); it must accept the data's image size.",
    )
    weights: Path | None = Field(
        None,
        description=(
            "Local weights file (a timm backbone state dict, or a state dict of this discriminator); "
            "nothing is downloaded. None: random initialisation."
        ),
    )
    sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="Expected SHA-256 of the weights file; checked before loading when set.",
    )
    spectral_norm: bool = Field(False, description="Spectral normalisation on every convolution and linear layer (after loading weights).")
    normalize: Literal["auto", "imagenet", "none"] = Field(
        "auto",
        description="Input normalisation: 'imagenet' maps [-1, 1] images to the backbone's pretrained mean/std, "
        "'none' feeds them as they are; 'auto' is 'imagenet' when weights holds backbone (e.g. ImageNet) weights, else 'none'.",
    )
