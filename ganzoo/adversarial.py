"""The adversarial training recipe, written once for every task that trains a discriminator.

A task says *what* the discriminator compares (:class:`CriticInputs`) and what
the generator minimises; :class:`AdversarialRecipe` runs the phases:

* ``D`` (``d_steps`` times, each on a fresh sample): the adversarial D loss on
  real vs generated images, plus every regulariser with ``interval: 1`` of
  phase ``"D"`` (WGAN-GP's form: one update);
* ``D_reg`` after the D updates whose count is a multiple of a lazy D
  regulariser's ``interval``: ``weight * interval * penalty`` in an update of
  its own (StyleGAN2's lazy regularisation);
* ``G``: the task's objective, to which :meth:`AdversarialRecipe.adversarial_term`
  adds the weighted adversarial G loss (with the real logits when the loss
  ``needs_real_logits``) and, for tasks with latents, every ``interval: 1``
  generator regulariser;
* ``G_reg`` on steps ``interval``, ``2 * interval``, ... for lazy generator
  regularisers (path length), on the G phase's latents through the updated G
  (on ``Latents.fresh()`` for a penalty on ws, as StyleGAN2's Gpl phase).

A generator regulariser gets ``(generator, z, fake)``; one that declares
``uses_ws = True`` (path length) gets ``(synthesis, ws, fake)`` instead when
the task's :class:`Latents` carry a mapping/synthesis split (a
:class:`ganzoo.MappedGenerator`): ``ws = mapping(z)`` (B, num_ws, W) is then
an intermediate of the graph, not a leaf, so the penalty also trains the
mapping network, as in StyleGAN2.

Every update goes through :meth:`ganzoo.StepContext.optimize`, so precision,
clipping, the non-finite guard, EMA and DDP apply to all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor

from ganzoo.context import StepContext
from ganzoo.errors import ConfigError
from ganzoo.losses import AdversarialLoss, LossSet, Regularizer

__all__ = ["AdversarialRecipe", "CriticInputs", "Latents"]

Network = Callable[[Tensor], Tensor]
RegItem = tuple[str, Regularizer, float]
Sample = TypeVar("Sample")


@dataclass(frozen=True)
class CriticInputs:
    """What one discriminator update compares.

    Attributes:
        real: Real images (B, C, H, W).
        fake: Makes the generated batch (B, C, H, W); called under ``no_grad``.
        critic: Images -> logits, as the objective sees D (augmented,
            conditioned, masked); regularisers see the same function.
        critic_fake: The critic for the generated batch when its conditioning
            differs (fake class labels); default ``critic``.
        penalty_fake: Generated images under the real batch's conditioning, for
            penalties that mix real and fake (GP interpolates); called under
            ``no_grad``. Default: the batch ``fake`` made.
    """

    real: Tensor
    fake: Callable[[], Tensor]
    critic: Network
    critic_fake: Network | None = None
    penalty_fake: Callable[[], Tensor] | None = None


@dataclass(frozen=True)
class Latents:
    """A generator's input for tasks that sample noise (what G regularisers differentiate).

    Attributes:
        z: Latents (B, Z) of this step's G phase.
        generate: Latents -> images, with any conditioning bound.
        mapping: z -> intermediate latents ws (B, num_ws, W), conditioning
            bound, as training maps them (style mixing included, no
            truncation); set together with ``synthesis`` for a
            :class:`ganzoo.MappedGenerator`, so that ``synthesis(mapping(z))``
            is ``generate(z)``. None: the generator has no such split.
        synthesis: ws -> images, conditioning bound.
        fresh: Draws new latents like ``z`` (B, Z) from the task's noise. A
            lazy penalty on ws (``G_reg``) maps a fresh draw, as StyleGAN2's
            Gpl phase does; None: it maps ``z``. Penalties on z keep ``z``.

    Raises:
        ValueError: Only one of ``mapping`` and ``synthesis`` is given.
    """

    z: Tensor
    generate: Network
    mapping: Network | None = None
    synthesis: Network | None = None
    fresh: Callable[[], Tensor] | None = None

    def __post_init__(self) -> None:
        if (self.mapping is None) != (self.synthesis is None):
            raise ValueError("Latents needs both mapping and synthesis, or neither")


def _uses_ws(reg: Regularizer, latents: Latents) -> bool:
    """Whether ``reg`` is to get (synthesis, ws, fake): it asks for ws and the generator has a mapping."""
    return latents.mapping is not None and bool(getattr(reg, "uses_ws", False))


def _split(regularizers: list[RegItem]) -> dict[tuple[str, bool], list[RegItem]]:
    """Regularisers by (phase, lazy), each checked against the protocol."""
    out: dict[tuple[str, bool], list[RegItem]] = {(p, lazy): [] for p in ("D", "G") for lazy in (False, True)}
    for name, reg, weight in regularizers:
        phase, interval = getattr(reg, "phase", None), getattr(reg, "interval", None)
        if phase not in ("D", "G"):
            raise ConfigError(f"regulariser {name!r} has phase {phase!r}; expected 'D' or 'G'")
        if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
            raise ConfigError(f"regulariser {name!r} has interval {interval!r}; expected an int >= 1")
        out[(phase, interval > 1)].append((name, reg, weight))
    return out


def _add_penalties(loss: Tensor, terms: dict[str, Tensor], regs: list[RegItem], network: Network, first: Tensor, second: Tensor,
                   grad_scale: float) -> Tensor:
    for name, reg, weight in regs:
        penalty = reg(network, first, second, grad_scale=grad_scale)
        loss = loss + weight * penalty
        terms[name] = penalty.detach()
    return loss


class AdversarialRecipe:
    """The D, D_reg, G and G_reg phases of a task, built from the run's losses.

    Args:
        losses: The run's loss components (``ctx.losses`` or ``run.losses``).
        latents: Whether the task's generator takes latents; generator
            regularisers (path length) need them and are refused otherwise.
        weight_d_loss: Multiply the D loss by the adversarial weight too. True
            when the adversarial loss is the whole objective (unconditional
            GANs); False when the weight balances it against reconstruction
            losses in G only (ESRGAN's lambda, Pathak's 0.001), so that D's own
            loss stays whole.
        task: The task's name, for messages.

    Raises:
        ConfigError: A regulariser with a bad phase or interval, or a generator
            regulariser for a task without latents.
    """

    def __init__(self, losses: LossSet, *, latents: bool = False, weight_d_loss: bool = False, task: str = "this task") -> None:
        self.adversarial: AdversarialLoss | None = losses.adversarial
        self.weight = losses.adversarial_weight
        self.weight_d_loss = weight_d_loss
        groups = _split(losses.regularizers)
        self.d_every, self.d_lazy = groups[("D", False)], groups[("D", True)]
        self.g_every, self.g_lazy = groups[("G", False)], groups[("G", True)]
        if not latents and (self.g_every or self.g_lazy):
            names = [name for name, _, _ in self.g_every + self.g_lazy]
            raise ConfigError(
                f"generator regularisers {names} act on latents; {task} has none (only discriminator regularisers such as r1 apply)"
            )
        if self.adversarial is None and (self.d_every or self.d_lazy):
            names = [name for name, _, _ in self.d_every + self.d_lazy]
            raise ConfigError(f"discriminator regularisers {names} need losses.adversarial and a discriminator")

    @property
    def trains_discriminator(self) -> bool:
        """Whether there is an adversarial loss (and so, by validation, a discriminator)."""
        return self.adversarial is not None

    # ---------------------------------------------------------------- D

    def discriminator_phase(self, ctx: StepContext, draw: Callable[[], Sample], inputs: Callable[[Sample], CriticInputs]) -> Sample:
        """``d_steps`` D updates, each on a fresh ``draw()``, with their lazy D_reg updates.

        Args:
            ctx: The step context.
            draw: Fetches and prepares one sample (a batch, a training pair):
                called once per D update, or once in all without an adversarial loss.
            inputs: What D compares on a sample.

        Returns:
            The last sample drawn: the one the G phase trains on.
        """
        sample = draw()
        if self.adversarial is None:
            return sample
        for i in range(ctx.d_steps):
            if i > 0:
                sample = draw()
            self._d_update(ctx, inputs(sample))
        return sample

    def _d_update(self, ctx: StepContext, c: CriticInputs) -> None:
        adv, grad_scale = self.adversarial, ctx.grad_scale("discriminator")
        assert adv is not None
        critic_fake = c.critic_fake or c.critic

        def d_loss() -> tuple[Tensor, dict[str, Tensor]]:
            with torch.no_grad():
                fake = c.fake()  # (B, C, H, W)
            real_logits, fake_logits = c.critic(c.real), critic_fake(fake)  # (B, ...) each
            loss = adv.d_loss(real_logits, fake_logits) * (self.weight if self.weight_d_loss else 1.0)
            terms = {"D(x)": real_logits.detach().mean(), "D(G(z))": fake_logits.detach().mean()}
            if self.d_every:
                if c.penalty_fake is not None:
                    with torch.no_grad():
                        fake = c.penalty_fake()
                loss = _add_penalties(loss, terms, self.d_every, c.critic, c.real, fake, grad_scale)
            return loss, terms

        ctx.optimize("discriminator", d_loss, phase="D")
        for name, reg, weight in self.d_lazy:
            if ctx.d_updates % reg.interval:
                continue

            def d_reg(reg: Regularizer = reg, weight: float = weight, name: str = name) -> tuple[Tensor, dict[str, Tensor]]:
                with torch.no_grad():
                    fake = (c.penalty_fake or c.fake)()
                penalty = reg(c.critic, c.real, fake, grad_scale=grad_scale)
                return weight * reg.interval * penalty, {name: penalty.detach()}

            ctx.optimize("discriminator", d_reg, phase="D_reg")

    # ---------------------------------------------------------------- G

    def adversarial_term(self, terms: dict[str, Tensor], fake_logits: Tensor, real_logits: Callable[[], Tensor]) -> Tensor:
        """The weighted adversarial G loss, logged unweighted as ``adversarial``; 0 without an adversarial loss.

        Args:
            terms: The phase's logged terms.
            fake_logits: D's logits of the generated images, with the graph back to G.
            real_logits: Scores the real batch; called (and detached) only for
                losses that ``needs_real_logits``.
        """
        adv = self.adversarial
        if adv is None:
            return fake_logits.new_zeros((), dtype=torch.float32)
        real = real_logits().detach() if getattr(adv, "needs_real_logits", False) else None
        value = adv.g_loss(fake_logits, real)
        terms["adversarial"] = value.detach()
        return self.weight * value

    def generator_phase(self, ctx: StepContext, objective: Callable[[dict[str, Tensor]], Tensor]) -> None:
        """One ``G`` update on ``objective(terms)``, for tasks without latents."""

        def g_loss() -> tuple[Tensor, dict[str, Tensor]]:
            terms: dict[str, Tensor] = {}
            return objective(terms), terms

        ctx.optimize("generator", g_loss, phase="G")

    def latent_generator_phase(self, ctx: StepContext, latents: Latents, objective: Callable[[Tensor, dict[str, Tensor]], Tensor]) -> None:
        """One ``G`` update on ``objective(fake, terms)`` plus the G penalties, then the due lazy ``G_reg`` updates.

        ``fake = latents.generate(z)`` is made by the recipe, with ``z`` a leaf
        that requires grad when a penalty differentiates through it (path
        length), so the penalty reuses the objective's graph. When a penalty
        takes ws, the fake is ``synthesis(mapping(z))`` instead, one graph
        serving penalties on z and on ws alike.
        """
        grad_scale = ctx.grad_scale("generator")

        def g_loss() -> tuple[Tensor, dict[str, Tensor]]:
            on_ws = [_uses_ws(reg, latents) for _, reg, _ in self.g_every]
            z = latents.z.detach().requires_grad_(True) if not all(on_ws) else latents.z  # (B, Z)
            ws: Tensor | None = None
            if any(on_ws):
                assert latents.mapping is not None and latents.synthesis is not None
                ws = latents.mapping(z)  # (B, num_ws, W): in the graph from z, not a leaf
                fake = latents.synthesis(ws)  # (B, C, H, W)
            else:
                fake = latents.generate(z)  # (B, C, H, W): a fresh graph through G
            terms: dict[str, Tensor] = {}
            loss = objective(fake, terms)
            for (name, reg, weight), reg_on_ws in zip(self.g_every, on_ws, strict=True):
                if reg_on_ws:
                    assert latents.synthesis is not None and ws is not None
                    penalty = reg(latents.synthesis, ws, fake, grad_scale=grad_scale)
                else:
                    penalty = reg(latents.generate, z, fake, grad_scale=grad_scale)
                loss = loss + weight * penalty
                terms[name] = penalty.detach()
            return loss, terms

        ctx.optimize("generator", g_loss, phase="G")
        for name, reg, weight in self.g_lazy:
            if (ctx.step + 1) % reg.interval:  # ctx.step + 1 is this step's number: steps k, 2k, ...
                continue

            def g_reg(reg: Regularizer = reg, weight: float = weight, name: str = name) -> tuple[Tensor, dict[str, Tensor]]:
                if _uses_ws(reg, latents):
                    assert latents.mapping is not None and latents.synthesis is not None
                    # Fresh latents mapped by the just-updated G (style mixing as in training, no truncation): the
                    # ws StyleGAN2's Gpl phase synthesises from and differentiates.
                    z = latents.fresh() if latents.fresh is not None else latents.z.detach()  # (B, Z)
                    ws = latents.mapping(z)  # (B, num_ws, W)
                    penalty = reg(latents.synthesis, ws, latents.synthesis(ws), grad_scale=grad_scale)
                else:
                    z = latents.z.detach().requires_grad_(True)  # (B, Z): the G phase's latents, no new noise
                    fake = latents.generate(z)  # (B, C, H, W) through the just-updated G
                    penalty = reg(latents.generate, z, fake, grad_scale=grad_scale)
                return weight * reg.interval * penalty, {name: penalty.detach()}

            ctx.optimize("generator", g_reg, phase="G_reg")
