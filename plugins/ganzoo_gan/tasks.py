"""The unconditional GAN recipe: D phase, lazy D regularisers, G phase."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganzoo import StepContext, Task


def _latent(generator: nn.Module) -> int:
    latent = getattr(generator, "latent_dim", None)
    if not isinstance(latent, int):
        raise TypeError(f"{type(generator).__name__} must expose an int attribute latent_dim for the unconditional task")
    return latent


class Unconditional(Task):
    """Noise ``z ~ N(0, I)`` -> image. Batches need the key ``image``.

    Each step runs ``d_steps`` discriminator updates (each on a fresh batch),
    the discriminator regularisers that are due, then one generator update
    whose fake batch is generated anew (the D phase's graph is never reused).
    """

    def train_step(self, ctx: StepContext) -> None:
        G, D = ctx.nets["generator"], ctx.nets["discriminator"]
        adv = ctx.losses.adversarial
        assert adv is not None  # the spec requires it
        w = ctx.losses.adversarial_weight
        latent = _latent(getattr(G, "module", G))
        real = ctx.next_batch()["image"]  # (B, C, H, W)
        for i in range(ctx.d_steps):
            if i > 0:
                real = ctx.next_batch()["image"]
            z = torch.randn(real.shape[0], latent, device=ctx.device)  # (B, Z)

            def d_phase(real: torch.Tensor = real, z: torch.Tensor = z) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
                with torch.no_grad():
                    fake = G(z)  # (B, C, H, W)
                real_logits, fake_logits = D(real), D(fake)  # (B,)
                loss = w * adv.d_loss(real_logits, fake_logits)
                return loss, {"D(x)": real_logits.detach().mean(), "D(G(z))": fake_logits.detach().mean()}

            ctx.optimize("discriminator", d_phase, phase="D")
            for name, reg, weight in ctx.losses.regularizers:
                if reg.phase == "D" and ctx.d_updates % reg.interval == 0:

                    def reg_phase(real: torch.Tensor = real, z: torch.Tensor = z, reg: Any = reg, weight: float = weight) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
                        with torch.no_grad():
                            fake = G(z)
                        penalty = reg(D, real, fake)
                        return weight * reg.interval * penalty, {name: penalty.detach()}

                    ctx.optimize("discriminator", reg_phase, phase="D_reg")

        z = torch.randn(real.shape[0], latent, device=ctx.device)

        def g_phase() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            fake = G(z)  # a fresh graph through G
            fake_logits = D(fake)
            real_logits = D(real).detach() if getattr(adv, "needs_real_logits", False) else None
            loss = w * adv.g_loss(fake_logits, real_logits)
            return loss, {}

        ctx.optimize("generator", g_phase, phase="G")

    def sample(self, generator: nn.Module, n: int, *, seed: int, device: torch.device, **kwargs: Any) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, _latent(generator), generator=g) * self.params.truncation  # (N, Z), drawn on CPU for any device
        out = []
        for chunk in z.split(256):
            out.append(generator(chunk.to(device)).float().cpu())  # (b, C, H, W)
        return torch.cat(out)
