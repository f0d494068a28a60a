"""Adversarial objectives on raw logits.

``softplus(-x) = -log(sigmoid(x))`` and ``softplus(x) = -log(1 - sigmoid(x))``
are evaluated without forming the sigmoid, so large logits cannot overflow to
``log(0)`` the way ``Sigmoid`` + ``BCELoss`` does.

Logits may be (B,) or (B, ...) (a patch discriminator); every reduction is a
mean over all elements, so a patch D's logits count like a larger batch. Losses
run in float32 (or float64) whatever the autocast dtype of the logits.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

__all__ = ["NonSaturating", "Minimax", "Hinge", "LeastSquares", "Wasserstein", "RelativisticAverage"]


def _flat(logits: torch.Tensor) -> torch.Tensor:
    # float32 at least: bf16 logits would make the means and squares coarse; float64 stays float64.
    return logits.to(torch.promote_types(logits.dtype, torch.float32)).reshape(-1)  # (B * ...,)


class NonSaturating:
    """D: ``-log D(x) - log(1 - D(G(z)))``; G: ``-log D(G(z))`` (Goodfellow et al. 2014).

    Args:
        label_smoothing: One-sided smoothing of the real target (Salimans et al. 2016).
    """

    needs_real_logits: ClassVar[bool] = False

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = label_smoothing

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real_logits, fake_logits = _flat(real_logits), _flat(fake_logits)
        if self.label_smoothing:
            target = torch.full_like(real_logits, 1.0 - self.label_smoothing)
            real_term = F.binary_cross_entropy_with_logits(real_logits, target)
        else:
            real_term = F.softplus(-real_logits).mean()
        return real_term + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        return F.softplus(-_flat(fake_logits)).mean()


class Minimax(NonSaturating):
    """The original saturating game: D as :class:`NonSaturating`; G minimises ``log(1 - D(G(z)))``.

    G's gradient vanishes while D confidently rejects fakes, which is why the
    non-saturating form is the usual choice; this one is here for comparison.
    """

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        return -F.softplus(_flat(fake_logits)).mean()  # log(1 - sigmoid(f)) = -softplus(f)


class Hinge:
    """D: ``relu(1 - D(x)) + relu(1 + D(G(z)))``; G: ``-D(G(z))`` (Lim & Ye 2017; SAGAN, BigGAN)."""

    needs_real_logits: ClassVar[bool] = False

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.relu(1.0 - _flat(real_logits)).mean() + F.relu(1.0 + _flat(fake_logits)).mean()

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        return -_flat(fake_logits).mean()


class LeastSquares:
    """LSGAN (Mao et al. 2017): D: ``0.5((D(x) - b)^2 + (D(G(z)) - a)^2)``; G: ``0.5(D(G(z)) - c)^2``.

    Args:
        a: D's target for fakes.
        b: D's target for reals.
        c: G's target for fakes.
    """

    needs_real_logits: ClassVar[bool] = False

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> None:
        self.a, self.b, self.c = a, b, c

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real_term = (_flat(real_logits) - self.b).square().mean()
        fake_term = (_flat(fake_logits) - self.a).square().mean()
        return 0.5 * (real_term + fake_term)

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        return 0.5 * (_flat(fake_logits) - self.c).square().mean()


class Wasserstein:
    """WGAN critic: D: ``D(G(z)) - D(x)``; G: ``-D(G(z))`` (Arjovsky et al. 2017).

    Unbounded on its own: pair it with the ``gradient-penalty`` regulariser (WGAN-GP).
    """

    needs_real_logits: ClassVar[bool] = False

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return _flat(fake_logits).mean() - _flat(real_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        return -_flat(fake_logits).mean()


class RelativisticAverage:
    """RaGAN (Jolicoeur-Martineau 2018) in the ESRGAN form, BCE-with-logits on relative logits.

    With ``r = D(x) - mean D(G(z))`` and ``f = D(G(z)) - mean D(x)`` (means over
    the whole batch, patches included):
    D: ``(BCE(r, 1) + BCE(f, 0)) / 2``; G: ``(BCE(r, 0) + BCE(f, 1)) / 2``.
    G needs the real logits, so ``needs_real_logits`` tells the task to pass them.
    """

    needs_real_logits: ClassVar[bool] = True

    @staticmethod
    def _relative(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        real, fake = _flat(real_logits), _flat(fake_logits)
        return real - fake.mean(), fake - real.mean()  # (N,), (M,)

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        r, f = self._relative(real_logits, fake_logits)
        return 0.5 * (F.softplus(-r).mean() + F.softplus(f).mean())  # BCE(r, 1) + BCE(f, 0)

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        if real_logits is None:
            raise ValueError(
                "relativistic-average needs the real logits for the generator loss: call g_loss(fake_logits, real_logits) "
                "(tasks pass them when the loss has needs_real_logits = True)"
            )
        r, f = self._relative(real_logits, fake_logits)
        return 0.5 * (F.softplus(r).mean() + F.softplus(-f).mean())  # BCE(r, 0) + BCE(f, 1)
