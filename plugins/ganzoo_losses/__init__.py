"""Built-in loss components: adversarial objectives and discriminator regularisers.

Loss modules are imported inside the build functions so ``ganzoo list`` stays cheap.
"""

from __future__ import annotations

from typing import Iterable

from ganzoo import LossEntry, hookimpl

from ganzoo_losses.params import (
    GradientPenaltyParams,
    HingeParams,
    LeastSquaresParams,
    MinimaxParams,
    NonSaturatingParams,
    R1Params,
    RelativisticAverageParams,
    WassersteinParams,
)


def _non_saturating(params: NonSaturatingParams) -> object:
    from ganzoo_losses.adversarial import NonSaturating

    return NonSaturating(label_smoothing=params.label_smoothing)


def _minimax(params: MinimaxParams) -> object:
    from ganzoo_losses.adversarial import Minimax

    return Minimax(label_smoothing=params.label_smoothing)


def _hinge(params: HingeParams) -> object:
    from ganzoo_losses.adversarial import Hinge

    return Hinge()


def _least_squares(params: LeastSquaresParams) -> object:
    from ganzoo_losses.adversarial import LeastSquares

    return LeastSquares(a=params.a, b=params.b, c=params.c)


def _wasserstein(params: WassersteinParams) -> object:
    from ganzoo_losses.adversarial import Wasserstein

    return Wasserstein()


def _relativistic_average(params: RelativisticAverageParams) -> object:
    from ganzoo_losses.adversarial import RelativisticAverage

    return RelativisticAverage()


def _gradient_penalty(params: GradientPenaltyParams) -> object:
    from ganzoo_losses.regularizers import GradientPenalty

    return GradientPenalty(target=params.target, interval=params.interval)


def _r1(params: R1Params) -> object:
    from ganzoo_losses.regularizers import R1

    return R1(interval=params.interval)


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
        LossEntry(
            name="minimax",
            loss_kind="adversarial",
            build=_minimax,
            params=MinimaxParams,
            description="Original saturating minimax GAN loss: G minimises log(1 - D(G(z))) (softplus form).",
        ),
        LossEntry(
            name="hinge",
            loss_kind="adversarial",
            build=_hinge,
            params=HingeParams,
            description="Hinge loss (SAGAN/BigGAN): D relu(1 - D(x)) + relu(1 + D(G(z))), G -D(G(z)).",
        ),
        LossEntry(
            name="least-squares",
            loss_kind="adversarial",
            build=_least_squares,
            params=LeastSquaresParams,
            description="LSGAN (Mao et al.): squared distance of logits to targets a, b, c.",
        ),
        LossEntry(
            name="wasserstein",
            loss_kind="adversarial",
            build=_wasserstein,
            params=WassersteinParams,
            description="WGAN critic loss D(G(z)) - D(x); use with the gradient-penalty regulariser (weight 10).",
        ),
        LossEntry(
            name="relativistic-average",
            loss_kind="adversarial",
            build=_relativistic_average,
            params=RelativisticAverageParams,
            description="Relativistic average GAN (RaGAN, as in ESRGAN), BCE-with-logits on relative logits.",
        ),
        LossEntry(
            name="gradient-penalty",
            loss_kind="regularizer",
            build=_gradient_penalty,
            params=GradientPenaltyParams,
            description="WGAN-GP penalty (||grad D(x_hat)|| - 1)^2 on real/fake interpolates; set weight: 10 (lambda).",
        ),
        LossEntry(
            name="r1",
            loss_kind="regularizer",
            build=_r1,
            params=R1Params,
            description="R1 penalty 0.5 ||grad D(x)||^2 on reals, optionally lazy (interval); weight is gamma.",
        ),
    ]
