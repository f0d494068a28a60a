"""The adversarial generation recipes: D phase, lazy D regularisers, G phase, lazy G regularisers.

:class:`AdversarialTask` holds the recipe once; :class:`Unconditional` and
:class:`Conditional` only say how (and whether) class labels condition the
networks. DiffAugment, when set, is applied wherever D sees an image.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from ganzoo import StepContext, Task, unwrap_model
from ganzoo.losses import Regularizer, add_penalties, call_regularizer
from ganzoo_gan.diffaugment import diff_augment

__all__ = ["AdversarialTask", "Unconditional", "Conditional", "class_labels"]

Labels = Tensor | None
RegItem = tuple[str, Regularizer, float]  # (name, regulariser, weight) as in LossSet


def _int_attr(generator: nn.Module, name: str, task: str) -> int:
    value = getattr(unwrap_model(generator), name, None)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{type(unwrap_model(generator)).__name__} must expose an int attribute {name} for the {task} task")
    return value


def _latent(generator: nn.Module, task: str = "unconditional") -> int:
    return _int_attr(generator, "latent_dim", task)


class AdversarialTask(Task):
    """Noise (and, in subclasses, labels) -> image; batches need the key ``image``.

    Each step runs ``d_steps`` discriminator updates (each on a fresh batch;
    D regularisers with ``interval: 1`` are added to that update's loss, lazy
    ones get their own ``D_reg`` update every ``interval`` D updates), then one
    generator update whose fake batch is generated anew (the D phase's graph is
    never reused). G regularisers mirror that: ``interval: 1`` ones are added to
    the G loss, lazy ones get a ``G_reg`` update, scaled by ``interval``, on
    steps ``interval``, ``2 * interval``, ... (on the G phase's latents, with a
    fresh G forward). Subclasses override :meth:`real_labels`,
    :meth:`fake_labels`, :meth:`generate` and :meth:`score`.

    Regularisers are called as :class:`ganzoo.losses.Regularizer` says: D ones
    with ``(discriminator, real, fake)``, G ones with ``(generator, z, fake)``,
    and with ``grad_scale=ctx.grad_scale(network)`` when they accept it.
    """

    name = "adversarial"

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self.policy: tuple[str, ...] = tuple(n for n in params.augment.split(",") if n)  # validated by the params

    # ---------------------------------------------------------------- conditioning hooks

    def real_labels(self, batch: dict[str, Tensor]) -> Labels:
        """Conditioning of a real batch (None: unconditional)."""
        return None

    def fake_labels(self, n: int, ctx: StepContext) -> Labels:
        """Conditioning drawn for ``n`` fakes (None: unconditional)."""
        return None

    def generate(self, G: nn.Module, z: Tensor, y: Labels) -> Tensor:
        """(B, C, H, W) images from latents (B, Z) and labels."""
        return G(z)  # type: ignore[no-any-return]

    def score(self, D: nn.Module, x: Tensor, y: Labels) -> Tensor:
        """(B,) logits of images under labels."""
        return D(x)  # type: ignore[no-any-return]

    # ---------------------------------------------------------------- the recipe

    def augment(self, x: Tensor) -> Tensor:
        """The DiffAugment policy; the identity when none is set."""
        return diff_augment(x, self.policy) if self.policy else x

    def _disc_fn(self, D: nn.Module, y: Labels) -> Callable[[Tensor], Tensor] | nn.Module:
        # Regularisers see D exactly as the adversarial loss does: augmented and conditioned.
        if y is None and not self.policy:
            return D
        return lambda x: self.score(D, self.augment(x), y)

    def _gen_fn(self, G: nn.Module, y: Labels) -> Callable[[Tensor], Tensor] | nn.Module:
        # G regularisers see latents -> images with the conditioning bound (never augmented: they concern G).
        if y is None:
            return G
        return lambda z: self.generate(G, z, y)

    @staticmethod
    def _split(regs: list[RegItem]) -> tuple[list[RegItem], list[RegItem], list[RegItem], list[RegItem]]:
        """(D every step, D lazy, G every step, G lazy)."""
        for name, reg, _ in regs:
            if getattr(reg, "phase", None) not in ("D", "G"):
                raise ValueError(f"regulariser {name!r} has phase {getattr(reg, 'phase', None)!r}; expected 'D' or 'G'")
            if not isinstance(reg.interval, int) or reg.interval < 1:
                raise ValueError(f"regulariser {name!r} has interval {reg.interval!r}; expected an int >= 1")
        out = [[r for r in regs if r[1].phase == p and (r[1].interval == 1) == every] for p in ("D", "G") for every in (True, False)]
        return out[0], out[1], out[2], out[3]

    def train_step(self, ctx: StepContext) -> None:
        G, D = ctx.nets["generator"], ctx.nets["discriminator"]
        adv = ctx.losses.adversarial
        assert adv is not None  # the spec requires it
        w = ctx.losses.adversarial_weight
        latent = _latent(G, self.name)
        batch = ctx.next_batch()
        # interval 1: part of the main loss, as in WGAN-GP; lazy: their own phase, as in StyleGAN2.
        every_step, lazy, g_every_step, g_lazy = self._split(ctx.losses.regularizers)
        for i in range(ctx.d_steps):
            if i > 0:
                batch = ctx.next_batch()
            real, y_real = batch["image"], self.real_labels(batch)  # (B, C, H, W), (B,) | None
            z = ctx.randn(real.shape[0], latent)  # (B, Z): this rank's slice of the global noise
            y_fake = self.fake_labels(real.shape[0], ctx)

            def d_phase(real: Tensor = real, y_real: Labels = y_real, z: Tensor = z, y_fake: Labels = y_fake) -> tuple[Tensor, dict[str, Tensor]]:
                with torch.no_grad():
                    fake = self.generate(G, z, y_fake)  # (B, C, H, W)
                real_logits = self.score(D, self.augment(real), y_real)  # (B,)
                fake_logits = self.score(D, self.augment(fake), y_fake)  # (B,)
                loss = w * adv.d_loss(real_logits, fake_logits)
                terms = {"D(x)": real_logits.detach().mean(), "D(G(z))": fake_logits.detach().mean()}
                if every_step:
                    # Penalties compare real and fake under one conditioning: fakes take the real labels.
                    fake_r = fake if y_fake is None else self.generate(G, z, y_real).detach()
                    loss = add_penalties(loss, terms, every_step, self._disc_fn(D, y_real), real, fake_r,
                                         grad_scale=ctx.grad_scale("discriminator"))
                return loss, terms

            ctx.optimize("discriminator", d_phase, phase="D")
            for name, reg, weight in lazy:
                if ctx.d_updates % reg.interval == 0:

                    def reg_phase(
                        real: Tensor = real, y: Labels = y_real, z: Tensor = z, reg: Any = reg, weight: float = weight, name: str = name
                    ) -> tuple[Tensor, dict[str, Tensor]]:
                        # Fakes take the real labels, so one conditioned D fits real, fake and their mixes.
                        with torch.no_grad():
                            fake = self.generate(G, z, y)
                        penalty = call_regularizer(reg, self._disc_fn(D, y), real, fake, grad_scale=ctx.grad_scale("discriminator"))
                        return weight * reg.interval * penalty, {name: penalty.detach()}

                    ctx.optimize("discriminator", reg_phase, phase="D_reg")

        real, y_real = batch["image"], self.real_labels(batch)
        z = ctx.randn(real.shape[0], latent)
        y_fake = self.fake_labels(real.shape[0], ctx)

        def g_phase() -> tuple[Tensor, dict[str, Tensor]]:
            # A G penalty may differentiate fake w.r.t. z (path length): make z a leaf that requires grad.
            z_g = z.detach().requires_grad_(True) if g_every_step else z  # (B, Z)
            fake = self.generate(G, z_g, y_fake)  # (B, C, H, W): a fresh graph through G
            fake_logits = self.score(D, self.augment(fake), y_fake)
            real_logits = None
            if getattr(adv, "needs_real_logits", False):
                real_logits = self.score(D, self.augment(real), y_real).detach()
            loss = w * adv.g_loss(fake_logits, real_logits)
            terms: dict[str, Tensor] = {}
            if g_every_step:
                loss = add_penalties(loss, terms, g_every_step, self._gen_fn(G, y_fake), z_g, fake, grad_scale=ctx.grad_scale("generator"))
            return loss, terms

        ctx.optimize("generator", g_phase, phase="G")
        for name, reg, weight in g_lazy:
            if (ctx.step + 1) % reg.interval == 0:  # ctx.step + 1: this step's number, so steps k, 2k, ...

                def g_reg_phase(reg: Any = reg, weight: float = weight, name: str = name) -> tuple[Tensor, dict[str, Tensor]]:
                    # The G phase's latents, through the just-updated G: no extra noise drawn.
                    z_g = z.detach().requires_grad_(True)  # (B, Z)
                    fake = self.generate(G, z_g, y_fake)  # (B, C, H, W)
                    penalty = call_regularizer(reg, self._gen_fn(G, y_fake), z_g, fake, grad_scale=ctx.grad_scale("generator"))
                    return weight * reg.interval * penalty, {name: penalty.detach()}

                ctx.optimize("generator", g_reg_phase, phase="G_reg")

    # ---------------------------------------------------------------- sampling

    def eval_protocol(self) -> dict[str, Any]:
        """A sampling truncation other than 1 changes what FID scores (left out at 1, the default)."""
        return {"truncation": self.params.truncation} if self.params.truncation != 1.0 else {}

    def _latents(self, generator: nn.Module, n: int, seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, _latent(generator, self.name), generator=g) * self.params.truncation  # (N, Z), on CPU for any device

    @staticmethod
    def _generate_chunked(fn: Callable[[Tensor, Labels], Tensor], z: Tensor, y: Labels, device: torch.device) -> Tensor:
        out = []
        ys: Sequence[Labels] = y.split(256) if y is not None else [None] * len(z.split(256))
        for zc, yc in zip(z.split(256), ys):
            out.append(fn(zc.to(device), None if yc is None else yc.to(device)).float().cpu())  # (b, C, H, W)
        return torch.cat(out)


class Unconditional(AdversarialTask):
    """Noise ``z ~ N(0, I)`` -> image. Batches need the key ``image``."""

    name = "unconditional"

    def sample(self, generator: nn.Module, n: int, *, seed: int, device: torch.device, **kwargs: Any) -> Tensor:
        z = self._latents(generator, n, seed)
        return self._generate_chunked(lambda zc, _: generator(zc), z, None, device)


def class_labels(labels: int | Sequence[int] | Tensor | None, n: int, num_classes: int) -> Tensor:
    """Resolve a ``labels`` argument to an (n,) int64 CPU tensor.

    Args:
        labels: None (cycle 0..K-1, so every class appears), one class for all
            samples, or one class per sample.
        n: Number of samples.
        num_classes: K.

    Raises:
        ValueError: A class outside 0..K-1, or a label count other than ``n``.
        TypeError: Labels that are not integers.
    """
    if labels is None:
        return torch.arange(n) % num_classes
    if isinstance(labels, (bool, str, bytes)):
        raise TypeError(f"labels must be None, an int or a sequence of ints, got {type(labels).__name__}")
    if isinstance(labels, int):
        y = torch.full((n,), labels, dtype=torch.int64)
    else:
        try:
            y = torch.as_tensor(labels).cpu()
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"labels must be None, an int or a sequence of ints: {exc}") from None
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise TypeError(f"labels must be integers, got dtype {y.dtype}")
    if y.ndim == 0:
        y = y.expand(n)
    if y.shape != (n,):
        raise ValueError(f"expected {n} labels, got shape {tuple(y.shape)}")
    bad = y[(y < 0) | (y >= num_classes)]
    if len(bad):
        raise ValueError(f"class {int(bad[0])} is out of range: valid classes are 0..{num_classes - 1}")
    return y.to(torch.int64)


class Conditional(AdversarialTask):
    """``(z, y)`` -> image of class ``y``. Batches need ``image`` and ``label``.

    The generator is called ``G(z, y)`` and must expose int ``latent_dim`` and
    ``num_classes``; the discriminator is called ``D(x, y)``. Fake labels are
    drawn uniformly from the data's classes.
    """

    name = "conditional"

    def setup(self, run: Any) -> None:
        info = run.info
        if info.num_classes < 2:
            data = getattr(getattr(run.spec, "data", None), "type", "?")
            raise ValueError(
                f"the conditional task needs a labelled dataset (samples with a 'label', at least 2 classes); "
                f"data.type {data!r} gives num_classes={info.num_classes}. Use a labelled dataset such as 'digits'."
            )
        gen = run.nets["generator"]
        if _int_attr(gen, "num_classes", self.name) != info.num_classes:
            raise ValueError(f"the generator was built for {unwrap_model(gen).num_classes} classes, the data has {info.num_classes}")

    def real_labels(self, batch: dict[str, Tensor]) -> Tensor:
        if "label" not in batch:
            raise KeyError("the conditional task needs batches with a 'label' (a labelled dataset)")
        return batch["label"]  # (B,)

    def fake_labels(self, n: int, ctx: StepContext) -> Tensor:
        return ctx.randint(ctx.info.num_classes, n)  # (B,), uniform over classes, sliced from a global draw

    def generate(self, G: nn.Module, z: Tensor, y: Labels) -> Tensor:
        return G(z, y)  # type: ignore[no-any-return]

    def score(self, D: nn.Module, x: Tensor, y: Labels) -> Tensor:
        return D(x, y)  # type: ignore[no-any-return]

    def sample(
        self,
        generator: nn.Module,
        n: int,
        *,
        seed: int,
        device: torch.device,
        labels: int | Sequence[int] | Tensor | None = None,
        **kwargs: Any,
    ) -> Tensor:
        """``n`` images of the given classes; the same seed gives the same latents whatever the labels.

        Args:
            labels: None (classes 0..K-1 in turn), one class, or one class per sample.
        """
        y = class_labels(labels, n, _int_attr(generator, "num_classes", self.name))
        z = self._latents(generator, n, seed)
        return self._generate_chunked(lambda zc, yc: generator(zc, yc), z, y, device)

    def preview(self, run: Any, n: int) -> Tensor:
        """A class-ordered grid: classes in contiguous, near-equal runs (one per row when ``n`` is K x columns)."""
        k = run.info.num_classes
        labels = torch.arange(n) * k // n  # (n,) non-decreasing, each class once n >= K
        return self.sample(run.eval_generator, n, seed=run.spec.seed + 1_000_003, device=run.device, labels=labels)
