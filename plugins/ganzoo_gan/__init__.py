"""Built-in image-generation tasks: ``unconditional`` and class-``conditional`` recipes."""

from __future__ import annotations

from collections.abc import Iterable

from ganzoo import TaskEntry, hookimpl
from ganzoo_gan.params import ConditionalParams, UnconditionalParams


def _unconditional(params: UnconditionalParams) -> object:
    from ganzoo_gan.tasks import Unconditional

    return Unconditional(params)


def _conditional(params: ConditionalParams) -> object:
    from ganzoo_gan.tasks import Conditional

    return Conditional(params)


@hookimpl
def ganzoo_tasks() -> Iterable[TaskEntry]:
    return [
        TaskEntry(
            name="unconditional",
            build=_unconditional,
            params=UnconditionalParams,
            requires=("discriminator", "losses.adversarial"),
            description="Unconditional image generation: noise in, images out; D/D-reg/G phases.",
        ),
        TaskEntry(
            name="conditional",
            build=_conditional,
            params=ConditionalParams,
            requires=("discriminator", "losses.adversarial"),
            description="Class-conditional generation: G(z, y), D(x, y) on labelled data; D/D-reg/G phases.",
        ),
    ]
