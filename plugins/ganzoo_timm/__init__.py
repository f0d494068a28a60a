"""A discriminator on any timm backbone (``timm`` model, discriminator role).

Only hook implementations live here; timm and torch are imported when the
network is built, so listing components stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import ModelEntry, hookimpl
from ganzoo_timm.params import TimmDiscriminatorParams

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo import DataInfo
    from ganzoo_timm.nets import TimmDiscriminator

__all__ = ["ganzoo_models", "build_discriminator"]


def build_discriminator(params: TimmDiscriminatorParams, info: DataInfo) -> TimmDiscriminator:
    """Build a timm-backbone discriminator for ``info.channels`` x ``info.size`` images."""
    from ganzoo_timm.nets import TimmDiscriminator

    return TimmDiscriminator(
        info,
        model=params.model,
        weights=params.weights,
        sha256=params.sha256,
        spectral_norm=params.spectral_norm,
        normalize=params.normalize,
    )


@hookimpl
def ganzoo_models() -> list[ModelEntry]:
    """Register the timm discriminator."""
    return [
        ModelEntry(
            name="timm",
            role="discriminator",
            build=build_discriminator,
            params=TimmDiscriminatorParams,
            description="Any timm architecture as the discriminator backbone (num_classes=0) plus a linear logit head; local weights only",
        ),
    ]
