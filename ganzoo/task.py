"""Tasks: training recipes that plugins register.

A task owns the *what* of a training step (which losses, in which phases, on
which batch keys); the core owns the *how* (precision, gradient scaling,
clipping, the non-finite guard, EMA, DDP). A task calls
:meth:`StepContext.optimize` once per phase, in the manner of stylegan3's
``accumulate_gradients(phase)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import nn
from typing_extensions import get_protocol_members

from ganzoo.context import LossFn, RunContext, StepContext
from ganzoo.losses import LossSet

if TYPE_CHECKING:  # pragma: no cover
    from ganzoo.data import DataInfo, ImageDataset
    from ganzoo.spec.model import RunSpecBase

__all__ = [
    "LatentGenerator", "LossFn", "LossSet", "MappedGenerator", "RunContext", "StepContext", "Task", "TruncatableGenerator", "conforms",
]


class Task(ABC):
    """Base class of a training recipe: subclass it and implement ``train_step`` and ``sample``.

    ``configure`` runs first (in a run and in :func:`ganzoo.load_generator`),
    ``setup`` follows in training only, then ``train_step`` once per step;
    ``sample`` and ``preview`` make images, ``eval_pair`` and
    ``eval_protocol`` serve evaluation.

    Attributes:
        slots: Networks the task trains, in ``generator``/``discriminator`` slots.
        samples_real_data: True for tasks whose samples transform real images
            (inpainting): outside a run, :func:`ganzoo.load_generator` then hands
            them the run's data via :meth:`attach_data`.
        info: The data the networks are built for; set by :meth:`configure`.

    Optional:
        eval_pair: ``eval_pair(generator, batch) -> {"pred", "target"[, "mask"]}``,
            tensors (B, C, H, W) in [-1, 1] (a mask (B, 1, H, W), 1 = hole), for a
            task whose outputs pair with targets (super-resolution, inpainting):
            the reconstruction metrics (PSNR, SSIM, LPIPS) score those pairs.
            Without it they refuse the task.
    """

    slots: tuple[str, ...] = ("generator", "discriminator")
    samples_real_data: bool = False
    info: DataInfo | None = None

    def __init__(self, params: Any) -> None:
        self.params = params

    def configure(self, spec: RunSpecBase, info: DataInfo) -> None:
        """Called first, with the run's spec and its data description: in a run and when a trained generator is loaded.

        Read what the task needs to know about its networks here, from the spec's
        validated params (``spec.component_params("generator")``), never from
        attributes of a built module. Raise :class:`ganzoo.ConfigError` when
        the components do not fit together. The default keeps ``info``.
        """
        self.info = info

    def setup(self, run: RunContext) -> None:
        """Called once the run has built its networks and losses (before resume), in training only."""
        return  # optional: most tasks need nothing here

    def attach_data(self, data: Callable[[], ImageDataset]) -> None:
        """Outside a run, where to find real images to sample from (only when ``samples_real_data``).

        Args:
            data: Builds the run's evaluation dataset (``eval.data``, else
                ``data``) in its augmentation-free view. It is a callable, not a
                dataset, so that loading a generator for other uses (filling a
                given image) never reads, or fails on, data it does not need.
        """
        return  # optional: only tasks with samples_real_data use it

    @abstractmethod
    def train_step(self, ctx: StepContext) -> None:
        """One generator update, with whatever discriminator updates precede it."""

    @abstractmethod
    def sample(self, generator: nn.Module, n: int, *, seed: int, device: torch.device, **kwargs: Any) -> torch.Tensor:
        """Generate ``n`` images (B, C, H, W) in [-1, 1], reproducibly for a given ``seed``."""

    def eval_protocol(self) -> dict[str, Any]:
        """What, besides the data and the metric, decides the images a metric scores.

        It is stored in every score's protocol record under ``task``, so two
        scores made under different settings are never ranked together: the
        inpainting holes, the super-resolution scale, a sampling truncation. Leave
        out settings at their defaults where that keeps older records comparable.
        The default is ``{}``.
        """
        return {}

    def preview(self, run: RunContext, n: int) -> torch.Tensor:
        """Images for the periodic sample grid; by default fixed-seed samples of the eval generator."""
        return self.sample(run.eval_generator, n, seed=run.spec.seed + 1_000_003, device=run.device)


@runtime_checkable
class LatentGenerator(Protocol):
    """A generator that noise-to-image tasks train and sample: the ``unconditional`` and ``conditional`` GAN tasks.

    :func:`ganzoo.testing.smoke_model` checks every generator against it
    (with labels for networks written for the ``conditional`` task).

    Attributes:
        latent_dim: Size of z: the task draws latents (B, latent_dim).

    Optional:
        num_classes: ``int``, required by the ``conditional`` task, which calls
            ``forward(z, y)`` with class labels ``y`` (B,) in [0, num_classes) and
            checks it against the data's ``info.num_classes``.
    """

    latent_dim: int

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, latent_dim) to images (B, C, H, W) in [-1, 1] (end with ``tanh``)."""
        ...


@runtime_checkable
class TruncatableGenerator(Protocol):
    """A :class:`LatentGenerator` whose samples can be truncated towards its average latent (StyleGAN's psi).

    ``ganzoo sample --truncation PSI`` sets ``truncation_psi`` on such a
    generator before sampling, and refuses any other generator. The generator
    applies it in its intermediate latent space: ``w = w_avg + psi * (w - w_avg)``
    (psi = 1: none; psi = 0: every sample is the average image). This differs
    from the GAN tasks' ``truncation`` param, which scales z.

    Attributes:
        latent_dim: Size of z, as for :class:`LatentGenerator`.
        truncation_psi: The psi ``forward`` applies (1.0 by default).
    """

    latent_dim: int
    truncation_psi: float

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, latent_dim) to images (B, C, H, W) in [-1, 1], truncated by ``truncation_psi``."""
        ...


@runtime_checkable
class MappedGenerator(Protocol):
    """A :class:`LatentGenerator` split into a mapping network z -> ws and a synthesis network ws -> image (StyleGAN).

    ``forward(z)`` must equal ``synthesis(mapping(z))``: the GAN tasks then
    hand generator regularisers that declare ``uses_ws`` (path length) the
    intermediate latents ``ws`` and ``synthesis`` instead of z and the whole
    generator, so StyleGAN2's path length is taken with respect to w, as in the
    paper. ``mapping`` must do in training what ``forward`` does there (style
    mixing included), so the penalty sees the ws training sees; truncation is
    ``forward``'s alone and never applies to ``mapping(z)`` called bare. Under
    DDP the tasks keep to z (a submodule called directly bypasses DDP's
    gradient synchronisation). Test for it with :func:`ganzoo.conforms`:
    from Python 3.12 ``isinstance`` misses ``mapping`` and ``synthesis`` kept
    as submodules.

    Attributes:
        latent_dim: Size of z, as for :class:`LatentGenerator`.

    Optional:
        num_classes: ``int``: the ``conditional`` task calls ``mapping(z, y)``
            with class labels ``y`` (B,), as it calls ``forward(z, y)``.
    """

    latent_dim: int

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, latent_dim) to the intermediate latents ws (B, num_ws, w_dim), one w per synthesis input, untruncated."""
        ...

    def synthesis(self, ws: torch.Tensor) -> torch.Tensor:
        """Intermediate latents ws (B, num_ws, w_dim) to images (B, C, H, W) in [-1, 1], as ``forward`` makes them."""
        ...

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, latent_dim) to images (B, C, H, W) in [-1, 1]: ``synthesis(mapping(z))``."""
        ...


def conforms(obj: object, protocol: type) -> bool:
    """``isinstance(obj, protocol)`` for ganzoo's Protocols, alike on every Python.

    From Python 3.12 ``isinstance`` against a runtime-checkable Protocol looks
    members up with ``inspect.getattr_static``, which does not see what
    ``nn.Module`` keeps in ``_modules``, ``_parameters`` and ``_buffers``: a
    StyleGAN generator whose ``mapping`` is a submodule is a
    :class:`MappedGenerator` on 3.11 and not on 3.12. This looks each member up
    as attribute access does.

    Args:
        obj: The object to check (a network, a task).
        protocol: A Protocol class, such as :class:`MappedGenerator`.

    Raises:
        TypeError: ``protocol`` is not a Protocol.
    """
    return all(hasattr(obj, name) for name in get_protocol_members(protocol))
