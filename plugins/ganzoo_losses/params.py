"""Parameter models of the built-in losses (pydantic only: cheap to import)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ganzoo import Params

__all__ = [
    "NonSaturatingParams",
    "MinimaxParams",
    "HingeParams",
    "LeastSquaresParams",
    "WassersteinParams",
    "RelativisticAverageParams",
    "GradientPenaltyParams",
    "R1Params",
    "PathLengthParams",
    "PixelParams",
    "CharbonnierParams",
    "PerceptualParams",
]


class NonSaturatingParams(Params):
    """Parameters of the non-saturating loss."""

    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description="One-sided label smoothing: real targets become 1 - s.")


class MinimaxParams(NonSaturatingParams):
    """Parameters of the minimax (saturating) loss; its D objective is the non-saturating one."""


class HingeParams(Params):
    """Parameters of the hinge loss (none)."""


class LeastSquaresParams(Params):
    """LSGAN targets (Mao et al. 2017): D pushes fakes to ``a`` and reals to ``b``; G pushes fakes to ``c``.

    The default 0-1-1 coding is the paper's; ``a=-1, b=1, c=0`` is its Pearson chi^2 variant.
    """

    a: float = Field(0.0, ge=-10.0, le=10.0, description="D's target for fake logits.")
    b: float = Field(1.0, ge=-10.0, le=10.0, description="D's target for real logits.")
    c: float = Field(1.0, ge=-10.0, le=10.0, description="G's target for fake logits.")

    @model_validator(mode="after")
    def _distinct_targets(self) -> LeastSquaresParams:
        if self.a == self.b:
            raise ValueError(f"a and b must differ (both {self.a}): D could not tell reals from fakes")
        return self


class WassersteinParams(Params):
    """Parameters of the Wasserstein loss (none; pair it with the gradient-penalty regulariser)."""


class RelativisticAverageParams(Params):
    """Parameters of the relativistic average loss (none)."""


class GradientPenaltyParams(Params):
    """WGAN-GP penalty (Gulrajani et al. 2017). Set the spec's ``weight`` to the paper's lambda (10)."""

    target: float = Field(1.0, gt=0.0, le=100.0, description="Gradient norm the penalty pulls towards (1 for 1-Lipschitz).")
    interval: int = Field(1, ge=1, le=10_000, description="Apply every k discriminator updates (scaled by k); 1 as in the paper.")


class R1Params(Params):
    """R1 penalty on reals (Mescheder et al. 2018). Set the spec's ``weight`` to gamma."""

    interval: int = Field(
        1, ge=1, le=10_000, description="Lazy regularisation: apply every k discriminator updates, scaled by k (StyleGAN2 uses 16)."
    )


class PathLengthParams(Params):
    """StyleGAN2 path length regularisation of G (Karras et al. 2020): w.r.t. w for mapped generators, else w.r.t. z.

    The penalty includes ``pl_weight``, so leave the spec's ``weight`` at 1.
    """

    pl_weight: float = Field(
        2.0, ge=0.0, le=1_000.0, description="Coefficient of the penalty (StyleGAN2's pl_weight = 2); the spec's weight multiplies it."
    )
    decay: float = Field(
        0.01, gt=0.0, le=1.0, description="Weight of each new batch's mean path length in its running mean a (StyleGAN2's pl_decay)."
    )
    interval: int = Field(
        4,
        ge=1,
        le=10_000,
        description="Lazy regularisation: apply every k generator steps, scaled by k (StyleGAN2 uses 4); 1 adds it to the G loss.",
    )


class PixelParams(Params):
    """Parameters of the L1 and MSE pixel losses (none: scale them with the spec's ``weight``)."""


class CharbonnierParams(Params):
    """Parameters of the Charbonnier loss."""

    eps: float = Field(1e-3, gt=0.0, le=1.0, description="Smoothing width on the [-1, 1] image scale (BasicSR uses 1e-12 on [0, 1]).")


def _vgg19_layer_names() -> tuple[str, ...]:
    """conv1_1, relu1_1, ..., pool5: torchvision vgg19().features in order (4 convs in blocks 3-5)."""
    names: list[str] = []
    for block, convs in enumerate((2, 2, 4, 4, 4), start=1):
        for c in range(1, convs + 1):
            names += [f"conv{block}_{c}", f"relu{block}_{c}"]
        names.append(f"pool{block}")
    return tuple(names)


class PerceptualParams(Params):
    """VGG19 perceptual loss (ESRGAN/BasicSR): features before activation, L1, ImageNet input normalisation."""

    layer_weights: dict[str, float] = Field(
        default_factory=lambda: {"conv5_4": 1.0}, min_length=1,
        description="Weight per VGG19 layer (conv1_1 ... conv5_4, relu*, pool*); ESRGAN/SRGAN in BasicSR: {conv5_4: 1}.",
    )
    criterion: Literal["l1", "mse"] = Field("l1", description="Distance between feature maps (ESRGAN: l1).")
    use_input_norm: bool = Field(True, description="Normalise [0, 1] inputs with the ImageNet mean and std, as the weights expect.")
    weights: Literal["imagenet", "random"] = Field(
        "imagenet",
        description="imagenet: torchvision's vgg19-dcbb9e9d.pth, found locally and SHA-checked (never downloaded). "
        "random: TESTS ONLY, a seeded random VGG19 of the same architecture; not a perceptual loss.",
    )
    path: Path | None = Field(None, description="Explicit VGG19 weight file (or a directory holding it); default: the weights search path.")
    seed: int = Field(0, ge=0, description="Seed of the random VGG19 (weights: random only).")

    @field_validator("layer_weights")
    @classmethod
    def _known_layers(cls, v: dict[str, float]) -> dict[str, float]:
        known = _vgg19_layer_names()
        bad = [k for k in v if k not in known]
        if bad:
            raise ValueError(f"unknown VGG19 layer(s) {bad}; known: {', '.join(known)}")
        if any(w < 0 for w in v.values()):
            raise ValueError("layer weights must be >= 0")
        return v
