"""Parameter models of the generation tasks (pydantic only: cheap to import)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from ganzoo import Params

__all__ = ["AUGMENT_POLICIES", "parse_policy", "AdaParams", "GanTaskParams", "UnconditionalParams", "ConditionalParams"]

AUGMENT_POLICIES: tuple[str, ...] = ("color", "translation", "cutout")
"""DiffAugment policy names; :mod:`ganzoo_gan.diffaugment` implements each."""


def parse_policy(text: str) -> tuple[str, ...]:
    """Split a comma-separated DiffAugment policy into validated names.

    Args:
        text: For example ``"color,translation,cutout"``; empty means no augmentation.

    Returns:
        The names in order, without blanks.

    Raises:
        ValueError: An unknown or repeated name.
    """
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in AUGMENT_POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {', '.join(map(repr, unknown))}; known policies: {', '.join(AUGMENT_POLICIES)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"DiffAugment policy {', '.join(map(repr, repeated))} is listed more than once")
    return names


class AdaParams(Params):
    """Adaptive discriminator augmentation (StyleGAN2-ADA): how the augmentation probability p is steered."""

    target: float = Field(0.6, gt=0.0, lt=1.0, description="Target of the overfitting heuristic r_t = E[sign(D(x_real))] (paper: 0.6).")
    interval: int = Field(4, ge=1, description="D updates between adjustments of p (paper: 4).")
    kimg: float = Field(
        500.0,
        gt=0.0,
        description=(
            "Thousands of real images over which p can rise from 0 to 1 (paper: 500). "
            "A CPU run sees far fewer images: lower it (e.g. 10) for p to move within a short run."
        ),
    )
    p_init: float = Field(0.0, ge=0.0, le=1.0, description="Augmentation probability at the start.")


class GanTaskParams(Params):
    """Parameters shared by the adversarial generation tasks."""

    truncation: float = Field(1.0, gt=0.0, description="Scale of sampled noise at sampling time (1 = none).")
    augment: str = Field(
        "",
        description=(
            "DiffAugment policy (Zhao et al. 2020), comma-separated from color, translation, cutout; "
            "applied to real and fake images wherever D sees them. Empty: none."
        ),
    )
    ada: AdaParams | None = Field(
        None,
        description=(
            "Adaptive discriminator augmentation (Karras et al. 2020): x-flip, 90-degree rotation, integer translation, "
            "isotropic scaling and (RGB) brightness/contrast/saturation, each per sample with a probability p steered "
            "by D's real logits. null: off. Not with augment."
        ),
    )

    @field_validator("augment")
    @classmethod
    def _check_augment(cls, value: str) -> str:
        return ",".join(parse_policy(value))  # canonical form, so equal policies hash equally

    @model_validator(mode="after")
    def _one_augmentation(self) -> GanTaskParams:
        if self.ada is not None and self.augment:
            raise ValueError("augment (DiffAugment) and ada (adaptive augmentation) cannot both be set; choose one")
        return self


class UnconditionalParams(GanTaskParams):
    """Parameters of the unconditional task."""


class ConditionalParams(GanTaskParams):
    """Parameters of the class-conditional task."""
