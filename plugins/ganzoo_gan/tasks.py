"""The adversarial generation recipes: D phase, lazy D regularisers, G phase, lazy G regularisers.

:class:`AdversarialTask` holds the recipe once; :class:`Unconditional` and
:class:`Conditional` only say how (and whether) class labels condition the
networks. DiffAugment or adaptive augmentation (ADA), when set, is applied
wherever D sees an image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ganzoo import (
    AdversarialRecipe,
    ConfigError,
    CriticInputs,
    Latents,
    MappedGenerator,
    RunContext,
    StepContext,
    Task,
    conforms,
    unwrap_model,
)
from ganzoo_gan.ada import AdaController, ada_augment
from ganzoo_gan.diffaugment import diff_augment

__all__ = ["AdversarialTask", "Unconditional", "Conditional", "class_labels"]

Labels = Tensor | None
Network = Callable[[Tensor], Tensor]


def _int_attr(generator: nn.Module, name: str, task: str) -> int:
    value = getattr(unwrap_model(generator), name, None)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{type(unwrap_model(generator)).__name__} must expose an int attribute {name} for the {task} task")
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
    fresh G forward). For a :class:`ganzoo.MappedGenerator` (StyleGAN2) path
    length is taken w.r.t. its ws (:meth:`style_path`), the lazy pass on a fresh
    draw of latents, as in StyleGAN2. Subclasses override :meth:`real_labels`,
    :meth:`fake_labels`, :meth:`generate`, :meth:`score` and :meth:`map_latents`.

    The phases themselves are :class:`ganzoo.AdversarialRecipe`'s; this class
    only says what D compares and how labels condition the networks.
    """

    name = "adversarial"

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self.policy: tuple[str, ...] = tuple(n for n in params.augment.split(",") if n)  # validated by the params
        ada = getattr(params, "ada", None)
        self.ada: AdaController | None = (
            None if ada is None else AdaController(target=ada.target, interval=ada.interval, kimg=ada.kimg, p_init=ada.p_init)
        )

    # ---------------------------------------------------------------- conditioning hooks

    def real_labels(self, batch: dict[str, Tensor]) -> Labels:
        """Conditioning of a real batch (None: unconditional)."""
        return None

    def fake_labels(self, n: int, ctx: StepContext) -> Labels:
        """Conditioning drawn for ``n`` fakes (None: unconditional)."""
        return None

    def generate(self, G: nn.Module, z: Tensor, y: Labels) -> Tensor:
        """(B, C, H, W) images from latents (B, Z) and labels."""
        return G(z)

    def score(self, D: nn.Module, x: Tensor, y: Labels) -> Tensor:
        """(B,) logits of images under labels."""
        return D(x)

    def map_latents(self, G: MappedGenerator, z: Tensor, y: Labels) -> Tensor:
        """Intermediate latents ws (B, num_ws, W) of a :class:`ganzoo.MappedGenerator` from latents (B, Z) and labels."""
        return G.mapping(z)

    def style_path(self, G: nn.Module, y: Labels) -> tuple[Network, Network] | None:
        """``(mapping, synthesis)`` with labels bound, for path length w.r.t. w; None unless G is a MappedGenerator.

        Under DDP it is None too: the halves called directly would bypass DDP's
        gradient synchronisation (it hooks ``forward`` only), so path length
        stays on z there.
        """
        net = unwrap_model(G)
        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        if distributed or not conforms(net, MappedGenerator):
            return None
        mapped = cast(MappedGenerator, net)
        return (lambda z: self.map_latents(mapped, z, y)), mapped.synthesis

    # ---------------------------------------------------------------- the recipe

    def augment(self, x: Tensor) -> Tensor:
        """The DiffAugment policy or ADA at the current p; the identity when neither is set."""
        if self.ada is not None:
            return ada_augment(x, self.ada.p)
        return diff_augment(x, self.policy) if self.policy else x

    def critic(self, D: nn.Module, y: Labels) -> Callable[[Tensor], Tensor]:
        """D as the objective and the regularisers see it: augmented and conditioned."""
        return lambda x: self.score(D, self.augment(x), y)

    def setup(self, run: RunContext) -> None:
        self.recipe = AdversarialRecipe(run.losses, latents=True, weight_d_loss=True, task=f"the {self.name} task")

    def _draw(self, ctx: StepContext) -> tuple[Tensor, Labels]:
        batch = ctx.next_batch()
        return batch["image"], self.real_labels(batch)  # (B, C, H, W), (B,) | None

    def train_step(self, ctx: StepContext) -> None:
        G, D = ctx.nets["generator"], ctx.nets["discriminator"]
        latent = _latent(G, self.name)

        def critic_inputs(sample: tuple[Tensor, Labels]) -> CriticInputs:
            real, y_real = sample
            z = ctx.randn(real.shape[0], latent)  # (B, Z): this rank's share of the global noise
            y_fake = self.fake_labels(real.shape[0], ctx)
            critic = self.critic(D, y_real)
            if self.ada is not None:
                # p changes only here: before the D update that follows every ``interval``-th one.
                self.ada.maybe_update()
                critic = self.ada.recording(critic, real)  # records sign(D(real)) of the D loss; penalties see it too
            return CriticInputs(
                real=real,
                fake=lambda: self.generate(G, z, y_fake),
                critic=critic,
                critic_fake=self.critic(D, y_fake),
                # Penalties compare real and fake under one conditioning: the fakes take the real labels.
                penalty_fake=None if y_fake is None else lambda: self.generate(G, z, y_real),
            )

        real, y_real = self.recipe.discriminator_phase(ctx, lambda: self._draw(ctx), critic_inputs)
        z = ctx.randn(real.shape[0], latent)  # (B, Z): fresh latents for the G phase
        y_fake = self.fake_labels(real.shape[0], ctx)

        def generate(z: Tensor) -> Tensor:
            return self.generate(G, z, y_fake)

        halves = self.style_path(G, y_fake)
        if halves is None:
            latents = Latents(z=z, generate=generate)
        else:  # path length on w; its lazy pass maps new latents (with the G phase's labels), as StyleGAN2's Gpl phase
            latents = Latents(z=z, generate=generate, mapping=halves[0], synthesis=halves[1],
                              fresh=lambda: ctx.randn(real.shape[0], latent))

        def objective(fake: Tensor, terms: dict[str, Tensor]) -> Tensor:
            if self.ada is not None:
                terms["ada_p"] = torch.tensor(self.ada.p, device=fake.device)  # logged as G/ada_p: the p this G update saw
            return self.recipe.adversarial_term(terms, self.critic(D, y_fake)(fake), lambda: self.critic(D, y_real)(real))

        self.recipe.latent_generator_phase(ctx, latents, objective)

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
        for zc, yc in zip(z.split(256), ys, strict=True):
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

    def setup(self, run: RunContext) -> None:
        info = run.info
        if info.num_classes < 2:
            data = getattr(getattr(run.spec, "data", None), "type", "?")
            raise ConfigError(
                f"the conditional task needs a labelled dataset (samples with a 'label', at least 2 classes); "
                f"data.type {data!r} gives num_classes={info.num_classes}. Use a labelled dataset such as 'digits'."
            )
        gen = run.nets["generator"]
        if _int_attr(gen, "num_classes", self.name) != info.num_classes:
            raise ConfigError(f"the generator was built for {unwrap_model(gen).num_classes} classes, the data has {info.num_classes}")
        super().setup(run)

    def real_labels(self, batch: dict[str, Tensor]) -> Tensor:
        if "label" not in batch:
            raise ConfigError("the conditional task needs batches with a 'label' (a labelled dataset)")
        return batch["label"]  # (B,)

    def fake_labels(self, n: int, ctx: StepContext) -> Tensor:
        return ctx.randint(ctx.info.num_classes, n)  # (B,), uniform over classes, sliced from a global draw

    def generate(self, G: nn.Module, z: Tensor, y: Labels) -> Tensor:
        return G(z, y)

    def map_latents(self, G: Any, z: Tensor, y: Labels) -> Tensor:
        # The conditional form of the protocol's mapping, (z, y): MappedGenerator types only the unconditional (z).
        return G.mapping(z, y)

    def score(self, D: nn.Module, x: Tensor, y: Labels) -> Tensor:
        return D(x, y)

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
