"""Built-in loss components: adversarial objectives, D regularisers, G path length, pixel and perceptual losses.

Loss modules are imported inside the build functions so ``ganzoo list`` stays cheap.
The checkpoint hooks carry the state of this plugin's stateful regularisers
(path length's running mean), so a resumed run stays bit-identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ganzoo import LossEntry, hookimpl
from ganzoo_losses.params import (
    CharbonnierParams,
    GradientPenaltyParams,
    HingeParams,
    LeastSquaresParams,
    MinimaxParams,
    NonSaturatingParams,
    PathLengthParams,
    PerceptualParams,
    PixelParams,
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


def _path_length(params: PathLengthParams) -> object:
    from ganzoo_losses.regularizers import PathLength

    return PathLength(pl_weight=params.pl_weight, decay=params.decay, interval=params.interval)


def _l1(params: PixelParams) -> object:
    from ganzoo_losses.pixel import L1

    return L1()


def _mse(params: PixelParams) -> object:
    from ganzoo_losses.pixel import MSE

    return MSE()


def _charbonnier(params: CharbonnierParams) -> object:
    from ganzoo_losses.pixel import Charbonnier

    return Charbonnier(eps=params.eps)


def _perceptual(params: PerceptualParams) -> object:
    from ganzoo_losses.perceptual import Perceptual, load_vgg19, random_vgg19

    layers = list(params.layer_weights)
    if params.weights == "random":
        net = random_vgg19(layers, seed=params.seed, use_input_norm=params.use_input_norm)
    else:
        net, _ = load_vgg19(layers, path=params.path, use_input_norm=params.use_input_norm)
    return Perceptual(net, params.layer_weights, params.criterion)


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
        LossEntry(
            name="path-length",
            loss_kind="regularizer",
            build=_path_length,
            params=PathLengthParams,
            description="StyleGAN2 path length penalty on G: (||J^T y|| - a)^2 w.r.t. w (mapped G) or z; lazy every 4 G steps.",
        ),
        LossEntry(
            name="l1",
            loss_kind="reconstruction",
            build=_l1,
            params=PixelParams,
            description="Mean absolute pixel error; with a mask, averaged over the masked pixels only.",
        ),
        LossEntry(
            name="mse",
            loss_kind="reconstruction",
            build=_mse,
            params=PixelParams,
            description="Mean squared pixel error (PSNR-oriented); with a mask, averaged over the masked pixels only.",
        ),
        LossEntry(
            name="charbonnier",
            loss_kind="reconstruction",
            build=_charbonnier,
            params=CharbonnierParams,
            description="Charbonnier sqrt(d^2 + eps^2), a smooth L1; with a mask, averaged over the masked pixels only.",
        ),
        LossEntry(
            name="perceptual",
            loss_kind="reconstruction",
            build=_perceptual,
            params=PerceptualParams,
            description="VGG19 feature loss (ESRGAN: conv5_4 before activation, L1, ImageNet norm); whole images, masks ignored.",
        ),
    ]


# ---------------------------------------------------------------- checkpoint state

_STATE_KEY = "ganzoo_losses"


def _stateful(run: Any) -> dict[str, Any]:
    """This plugin's stateful regularisers of ``run``, keyed ``"<index>.<type>"`` (stable for a given spec)."""
    from ganzoo_losses.regularizers import PathLength

    return {f"{i}.{name}": reg for i, (name, reg, _) in enumerate(run.losses.regularizers) if isinstance(reg, PathLength)}


@hookimpl
def ganzoo_on_checkpoint_save(run: Any, state: dict[str, Any]) -> None:
    regs = _stateful(run)
    if regs:
        state["plugins"][_STATE_KEY] = {"regularizers": {key: reg.state_dict() for key, reg in regs.items()}}


@hookimpl
def ganzoo_on_checkpoint_load(run: Any, state: dict[str, Any]) -> None:
    saved = state.get("plugins", {}).get(_STATE_KEY, {}).get("regularizers", {})
    for key, reg in _stateful(run).items():
        if key in saved:
            reg.load_state_dict(saved[key])
        else:  # a checkpoint from before the regulariser was added (--allow-spec-change)
            run.log_info(f"checkpoint has no state for regulariser {key}; it starts afresh")
