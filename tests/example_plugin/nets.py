"""The example plugin's networks, loss and data (imported only when built)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import TensorImageDataset


class ToyGenerator(nn.Module):
    """z (B, Z) -> images (B, C, S, S) in [-1, 1] through a two-layer MLP."""

    def __init__(self, channels: int, size: int, *, latent_dim: int, width: int) -> None:
        super().__init__()
        self.latent_dim, self.channels, self.size = latent_dim, channels, size
        self.net = nn.Sequential(nn.Linear(latent_dim, width), nn.ReLU(), nn.Linear(width, channels * size * size))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(z.flatten(1))).view(-1, self.channels, self.size, self.size)


class ToyDiscriminator(nn.Module):
    """Images (B, C, H, W) -> logits (B,)."""

    def __init__(self, channels: int, *, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, width, 3, stride=2, padding=1)
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv(x), 0.2).mean(dim=(2, 3))  # (B, width)
        return self.head(h).squeeze(1)


class ToySoftplus:
    """Non-saturating GAN loss on logits; D wants real logits above ``margin``."""

    def __init__(self, margin: float = 0.0) -> None:
        self.margin = margin

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(self.margin - real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()


def blobs(n: int, size: int, channels: int, seed: int) -> TensorImageDataset:
    """``n`` images of one Gaussian blob each, scaled to [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    centre = torch.rand(n, 2, 1, 1, generator=g) * size  # (N, 2, 1, 1)
    sigma = 1 + torch.rand(n, 1, 1, generator=g) * size / 6  # (N, 1, 1)
    ys, xs = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    d2 = (ys - centre[:, 0]) ** 2 + (xs - centre[:, 1]) ** 2  # (N, S, S)
    img = torch.exp(-d2 / (2 * sigma**2)) * 2 - 1  # (N, S, S) in [-1, 1]
    return TensorImageDataset(img[:, None].expand(n, channels, size, size).contiguous())
