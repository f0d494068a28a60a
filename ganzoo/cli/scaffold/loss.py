"""``--kind loss``: an adversarial objective (the ``ganzoo.AdversarialLoss`` protocol)."""

from __future__ import annotations

from ganzoo.cli.scaffold.kind import Kind

LOSSES = '''\
"""The loss's parameter model and builder. torch and the loss are imported only when it is built."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganzoo import LossEntry, Params
from pydantic import Field

if TYPE_CHECKING:
    from $package.objectives import SmoothedNonSaturating


class LossParams(Params):
    """Parameters of the $component adversarial loss."""

    smoothing: float = Field(0.1, ge=0, lt=0.5, description="One-sided label smoothing: reals count as 1 - smoothing.")


def build_loss(params: LossParams) -> SmoothedNonSaturating:
    """The loss object; ganzoo calls its d_loss and g_loss in the D and G phases."""
    from $package.objectives import SmoothedNonSaturating

    return SmoothedNonSaturating(params.smoothing)


# loss_kind says which slot a spec may put it in: losses.adversarial (or regularizer / reconstruction).
LOSSES = [
    LossEntry(
        name="$component",
        loss_kind="adversarial",
        build=build_loss,
        params=LossParams,
        description="Non-saturating GAN loss with one-sided label smoothing.",
    ),
]
'''

OBJECTIVES = '''\
"""The adversarial objective. It works on raw logits (B,) or (B, ...), never on probabilities."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class SmoothedNonSaturating:
    """Non-saturating GAN loss with one-sided label smoothing (Salimans et al., 2016).

    The ganzoo.AdversarialLoss protocol: ``d_loss``, ``g_loss`` and ``needs_real_logits``.
    """

    # False: g_loss gets real_logits=None, and the G phase does not score a real batch. A relativistic
    # loss (G compares fakes with reals) sets True and receives D's (detached) logits of a real batch.
    needs_real_logits = False

    def __init__(self, smoothing: float) -> None:
        self.smoothing = smoothing

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """-log D(x) towards the smoothed label, -log(1 - D(G(z))): a scalar."""
        real_target = torch.full_like(real_logits, 1.0 - self.smoothing)
        return F.binary_cross_entropy_with_logits(real_logits, real_target) + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        """-log D(G(z)) (the non-saturating form): a scalar."""
        return F.softplus(-fake_logits).mean()
'''

KIND = Kind(
    name="loss",
    hook="ganzoo_losses",
    entry="LossEntry",
    module=("losses", "LOSSES"),
    files={"src/$package/losses.py": LOSSES, "src/$package/objectives.py": OBJECTIVES},
    summary="an adversarial loss",
    spec={"losses.adversarial": "{type: $component, params: {smoothing: 0.1}}"},
    tiny={"losses": '{"adversarial": {"type": "$component"}}'},
    readme="- `src/$package/losses.py`: the loss's params and builder; `objectives.py`: the loss (`d_loss`, `g_loss`,\n"
           "  `needs_real_logits`; see the protocol reference in ganzoo's docs/plugins.md for regularisers and\n"
           "  reconstruction losses).",
)
