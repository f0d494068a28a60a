"""A third-party adversarial task, written only against ganzoo's documented API.

``denoise`` trains an image-to-image generator to remove Gaussian noise, with a
discriminator judging clean vs denoised images and an L1 reconstruction loss.
It uses nothing but names exported by ``ganzoo`` (the protocols, the
recipe, the entry records), as a plugin author outside this repository would.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from pydantic import Field
from torch import Tensor, nn

from ganzoo import (
    AdversarialRecipe,
    ConfigError,
    CriticInputs,
    DataInfo,
    ModelEntry,
    Params,
    RunContext,
    RunSpec,
    StepContext,
    Task,
    TaskEntry,
    hookimpl,
)

__all__ = ["Denoise", "DenoiseParams", "TinyDenoiser"]


class DenoiseParams(Params):
    """Parameters of the ``denoise`` task."""

    sigma: float = Field(0.3, gt=0, le=2, description="Standard deviation of the noise added to the clean images.")


class DenoiserParams(Params):
    """Parameters of the ``tiny-denoiser`` generator."""

    width: int = Field(8, ge=1, le=64, description="Feature channels.")


class TinyDenoiser(nn.Module):
    """Noisy image -> clean image, as a residual correction."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, channels, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return (x + self.body(x)).clamp(-1, 1)  # (B, C, H, W)


class Denoise(Task):
    """Remove Gaussian noise; D phases from :class:`ganzoo.AdversarialRecipe`, G = L1 + adversarial."""

    def __init__(self, params: DenoiseParams) -> None:
        super().__init__(params)
        self.sigma = params.sigma

    def configure(self, spec: RunSpec, info: DataInfo) -> None:
        super().configure(spec, info)
        if spec.discriminator is None:  # type: ignore[attr-defined]  # RunSpec's slots are built from the registries
            raise ConfigError("denoise needs a discriminator")

    def setup(self, run: RunContext) -> None:
        self.recipe = AdversarialRecipe(run.losses, task="denoise")

    def _pair(self, ctx: StepContext) -> tuple[Tensor, Tensor]:
        clean = ctx.next_batch()["image"]  # (B, C, H, W)
        noise = ctx.randn(clean.shape[0], *clean.shape[1:])  # this rank's share of one global draw
        return clean + self.sigma * noise, clean

    def train_step(self, ctx: StepContext) -> None:
        G, D = ctx.nets["generator"], ctx.nets["discriminator"]
        noisy, clean = self.recipe.discriminator_phase(
            ctx, lambda: self._pair(ctx), lambda pair: CriticInputs(real=pair[1], fake=lambda: G(pair[0]), critic=D)
        )

        def objective(terms: dict[str, Tensor]) -> Tensor:
            out = G(noisy)  # (B, C, H, W)
            loss = out.new_zeros((), dtype=torch.float32)
            for name, rec, weight in ctx.losses.reconstruction:
                value = rec(out, clean)
                loss, terms[name] = loss + weight * value, value.detach()
            return loss + self.recipe.adversarial_term(terms, D(out), lambda: D(clean))

        self.recipe.generator_phase(ctx, objective)

    def sample(self, generator: nn.Module, n: int, *, seed: int, device: torch.device, **kwargs: Any) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        assert self.info is not None
        noisy = (torch.rand(n, self.info.channels, self.info.size, self.info.size, generator=g) * 2 - 1).to(device)
        with torch.no_grad():
            return generator(noisy).float().cpu()  # (n, C, H, W)


def _task(params: DenoiseParams) -> Denoise:
    return Denoise(params)


def _denoiser(params: DenoiserParams, info: DataInfo) -> nn.Module:
    return TinyDenoiser(info.channels, params.width)


@hookimpl
def ganzoo_tasks() -> Iterable[TaskEntry]:
    return [TaskEntry(name="denoise", build=_task, params=DenoiseParams, requires=("discriminator", "losses.adversarial"),
                      description="Remove Gaussian noise (a third-party adversarial task).")]


@hookimpl
def ganzoo_models() -> Iterable[ModelEntry]:
    return [ModelEntry(name="tiny-denoiser", role="generator", tasks=("denoise",), build=_denoiser, params=DenoiserParams,
                       description="Two convolutions predicting a residual.")]
