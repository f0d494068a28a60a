"""A tiny third-party-style plugin, written only against ganzoo's public API.

It is what ``ganzoo plugin new`` scaffolds, in miniature: a generator, a
discriminator, an adversarial loss and a dataset. ``tests/test_testing_kit.py``
registers it with ``ganzoo.testing.registries_with(example_plugin)``, as an
author would before installing the package. Only hook implementations and
pydantic params models live here; torch is imported inside the builders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from ganzoo import DatasetEntry, LossEntry, ModelEntry, Params, hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from ganzoo import DataInfo, ImageDataset

__all__ = ["ganzoo_datasets", "ganzoo_losses", "ganzoo_models"]


class ToyGeneratorParams(Params):
    """An MLP from noise to pixels."""

    latent_dim: int = Field(8, gt=0, le=1024, description="Dimension of the latent vector z.")
    width: int = Field(16, gt=0, le=4096, description="Hidden units of the MLP.")


class ToyDiscriminatorParams(Params):
    """One strided convolution, global average pooling, a linear logit."""

    width: int = Field(8, gt=0, le=1024, description="Channels of the convolution.")


class ToySoftplusParams(Params):
    """A non-saturating loss with a margin on the real logits."""

    margin: float = Field(0.0, ge=0.0, le=10.0, description="D is asked for real logits above this margin.")


class ToyBlobsParams(Params):
    """Random Gaussian blobs on a dark background."""

    n: int = Field(32, gt=0, le=4096, description="Number of images.")
    size: int = Field(16, ge=4, le=128, description="Image side in pixels.")
    channels: Literal[1, 3] = Field(1, description="Image channels.")
    seed: int = Field(0, ge=0, description="Seed of the blob positions and sizes.")


def build_generator(params: ToyGeneratorParams, info: DataInfo) -> nn.Module:
    """A toy generator for ``info.channels`` x ``info.size`` images."""
    from .nets import ToyGenerator

    return ToyGenerator(info.channels, info.size, latent_dim=params.latent_dim, width=params.width)


def build_discriminator(params: ToyDiscriminatorParams, info: DataInfo) -> nn.Module:
    """A toy discriminator for ``info.channels``-channel images of any size."""
    from .nets import ToyDiscriminator

    return ToyDiscriminator(info.channels, width=params.width)


def build_loss(params: ToySoftplusParams) -> object:
    """The toy adversarial loss."""
    from .nets import ToySoftplus

    return ToySoftplus(margin=params.margin)


def build_blobs(params: ToyBlobsParams) -> ImageDataset:
    """``params.n`` blob images, the same for the same seed."""
    from .nets import blobs

    return blobs(params.n, params.size, params.channels, params.seed)


@hookimpl
def ganzoo_models() -> list[ModelEntry]:
    """Register the toy generator and discriminator."""
    return [
        ModelEntry(name="toy-gen", role="generator", build=build_generator, params=ToyGeneratorParams,
                   tasks=("unconditional",), description="Toy MLP generator: z -> tanh pixels."),
        ModelEntry(name="toy-disc", role="discriminator", build=build_discriminator, params=ToyDiscriminatorParams,
                   tasks=("unconditional",), description="Toy discriminator: one strided conv, pooled, linear logit."),
    ]


@hookimpl
def ganzoo_losses() -> list[LossEntry]:
    """Register the toy adversarial loss."""
    return [LossEntry(name="toy-softplus", loss_kind="adversarial", build=build_loss, params=ToySoftplusParams,
                      description="Non-saturating softplus loss with a margin on the real logits.")]


@hookimpl
def ganzoo_datasets() -> list[DatasetEntry]:
    """Register the toy dataset."""
    return [DatasetEntry(name="toy-blobs", build=build_blobs, params=ToyBlobsParams,
                         description="Random Gaussian blobs, generated in memory (no download).")]
