"""Built-in loss components: adversarial objectives (more arrive with the objectives zoo)."""

from __future__ import annotations

from typing import Iterable

from ganzoo import LossEntry, hookimpl

from ganzoo_losses.params import NonSaturatingParams


def _non_saturating(params: NonSaturatingParams) -> object:
    from ganzoo_losses.adversarial import NonSaturating

    return NonSaturating(label_smoothing=params.label_smoothing)


@hookimpl
def ganzoo_losses() -> Iterable[LossEntry]:
    return [
        LossEntry(
            name="non-saturating",
            loss_kind="adversarial",
            build=_non_saturating,
            params=NonSaturatingParams,
            description="Goodfellow et al. non-saturating GAN loss on logits (softplus form).",
        ),
    ]
