"""Class-conditional DCGAN networks for the ``conditional`` task.

Generator: ``[z, embed(y)]`` -> the DCGAN generator stack. Discriminator: the
projection discriminator of Miyato & Koyama (2018) on the DCGAN conv trunk:
``phi = sum_hw trunk(x)``, ``logit = psi(phi) + <embed(y), phi>``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganzoo import DataInfo, check_labels, require_classes
from ganzoo_dcgan.nets import apply_spectral_norm, discriminator_blocks, generator_layers, hidden_widths, init_dcgan_weights

__all__ = ["ConditionalGenerator", "ProjectionDiscriminator"]


class ConditionalGenerator(nn.Module):
    """DCGAN generator conditioned by a learned class embedding concatenated to z.

    Args:
        info: Output channels, size (power of two in [16, 128]) and classes (>= 2).
        latent_dim: Dimension of z.
        embed_dim: Dimension of the class embedding.
        width: Channels of the last hidden layer.
        max_width: Cap on hidden channels.

    Attributes:
        latent_dim: Dimension of z, for samplers.
        num_classes: Number of classes, for samplers.
    """

    def __init__(
        self, info: DataInfo, *, latent_dim: int = 100, embed_dim: int = 32, width: int = 64, max_width: int = 512, batch_norm: bool = True
    ) -> None:
        super().__init__()
        self.num_classes = require_classes(info, "cdcgan")
        self.latent_dim = latent_dim
        widths = hidden_widths(info.size, width, max_width)
        self.embed = nn.Embedding(self.num_classes, embed_dim)  # N(0, 1) init: the same scale as z
        self.net = nn.Sequential(*generator_layers(latent_dim + embed_dim, widths, info.channels, batch_norm))
        init_dcgan_weights(self)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        """Map latents and class labels to images.

        Args:
            z: (B, latent_dim) or (B, latent_dim, 1, 1) latent vectors.
            y: (B,) int64 class labels in [0, num_classes).

        Returns:
            (B, C, H, W) images in [-1, 1].
        """
        if z.ndim == 4 and z.shape[2:] == (1, 1):
            z = z.flatten(1)  # (B, Z)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected z of shape (B, {self.latent_dim}) or (B, {self.latent_dim}, 1, 1), got {tuple(z.shape)}")
        check_labels(y, z.shape[0], self.num_classes)
        h = torch.cat([z, self.embed(y).to(z.dtype)], dim=1)  # (B, Z + E)
        return self.net(h[:, :, None, None])  # (B, Z + E, 1, 1) -> (B, C, H, W)


class ProjectionDiscriminator(nn.Module):
    """Projection discriminator (Miyato & Koyama, 2018) on a DCGAN conv trunk, returning raw logits.

    Args:
        info: Input channels, size (power of two in [16, 128]) and classes (>= 2).
        width: Channels of the first block, doubling per block.
        max_width: Cap on hidden channels.
        batch_norm: BatchNorm after every block except the first.
        spectral_norm: Spectral normalisation on the convolutions, ``psi`` and the class embedding.

    Attributes:
        num_classes: Number of classes.
    """

    def __init__(
        self, info: DataInfo, *, width: int = 64, max_width: int = 512, batch_norm: bool = False, spectral_norm: bool = True
    ) -> None:
        super().__init__()
        self.num_classes = require_classes(info, "projection")
        widths = hidden_widths(info.size, width, max_width)[::-1]  # size/2 -> 4x4
        self.trunk = nn.Sequential(*discriminator_blocks(info.channels, widths, batch_norm))
        features = widths[-1]
        self.psi = nn.Linear(features, 1)
        self.embed = nn.Embedding(self.num_classes, features)
        init_dcgan_weights(self.trunk)
        # Xavier for the head and embedding, as in the paper's code; N(0, 1) embeddings would swamp psi at start.
        nn.init.xavier_uniform_(self.psi.weight)
        nn.init.zeros_(self.psi.bias)
        nn.init.xavier_uniform_(self.embed.weight)
        if spectral_norm:  # after init: the parametrisation captures the current weight as its original
            apply_spectral_norm(self, (nn.Conv2d, nn.Linear, nn.Embedding))

    def features(self, x: Tensor) -> Tensor:
        """phi(x): (B, C, H, W) -> (B, F), the trunk's activations summed over space."""
        return self.trunk(x).sum(dim=(2, 3))  # (B, F, 4, 4) -> (B, F)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Score images under class labels.

        Args:
            x: (B, C, H, W) images in [-1, 1].
            y: (B,) int64 class labels in [0, num_classes).

        Returns:
            (B,) logits; higher means "real, of class y".
        """
        check_labels(y, x.shape[0], self.num_classes)
        phi = self.features(x)  # (B, F)
        projection = (self.embed(y).to(phi.dtype) * phi).sum(dim=1)  # (B,)
        return self.psi(phi).squeeze(1) + projection  # (B,)
