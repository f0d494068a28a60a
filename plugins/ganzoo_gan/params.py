"""Parameter models of the generation tasks (pydantic only: cheap to import)."""

from __future__ import annotations

from pydantic import Field, field_validator

from ganzoo import Params

__all__ = ["AUGMENT_POLICIES", "parse_policy", "GanTaskParams", "UnconditionalParams", "ConditionalParams"]

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

    @field_validator("augment")
    @classmethod
    def _check_augment(cls, value: str) -> str:
        return ",".join(parse_policy(value))  # canonical form, so equal policies hash equally


class UnconditionalParams(GanTaskParams):
    """Parameters of the unconditional task."""


class ConditionalParams(GanTaskParams):
    """Parameters of the class-conditional task."""
