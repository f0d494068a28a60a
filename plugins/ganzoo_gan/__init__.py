"""Built-in image-generation tasks: ``unconditional`` and class-``conditional`` recipes.

The checkpoint hooks carry the ADA controller's state (p and its pending statistics), so a resumed run stays bit-identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


# ---------------------------------------------------------------- checkpoint state

_STATE_KEY = "ganzoo_gan"


def _ada(run: Any) -> Any:
    """The run's ADA controller, or None (another task, or ADA off)."""
    from ganzoo_gan.ada import AdaController

    ada = getattr(getattr(run, "task", None), "ada", None)
    return ada if isinstance(ada, AdaController) else None


@hookimpl
def ganzoo_on_checkpoint_save(run: Any, state: dict[str, Any]) -> None:
    ada = _ada(run)
    if ada is not None:
        state["plugins"][_STATE_KEY] = {"ada": ada.state_dict()}


@hookimpl
def ganzoo_on_checkpoint_load(run: Any, state: dict[str, Any]) -> None:
    ada = _ada(run)
    if ada is None:
        return
    saved = state.get("plugins", {}).get(_STATE_KEY, {}).get("ada")
    if saved is not None:
        ada.load_state_dict(saved)
    else:  # a checkpoint from before ada was set (--allow-spec-change)
        run.log_info(f"checkpoint has no ADA state; p starts at {ada.p}")
