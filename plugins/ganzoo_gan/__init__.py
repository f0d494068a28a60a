"""Built-in image-generation tasks (the ``unconditional`` recipe)."""

from __future__ import annotations

from typing import Iterable

from ganzoo import TaskEntry, hookimpl

from ganzoo_gan.params import UnconditionalParams


def _unconditional(params: UnconditionalParams) -> object:
    from ganzoo_gan.tasks import Unconditional

    return Unconditional(params)


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
    ]
