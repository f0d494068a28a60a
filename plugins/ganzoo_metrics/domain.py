"""A small classifier trained on the run's own labelled data, for an offline Fréchet distance.

Published FID needs Inception weights that cannot be downloaded everywhere.
This classifier is trained by ganzoo itself, deterministically, on the labelled
dataset of the run, and cached under a hash of everything that determines it.
Distances in its feature space are honest about what they are: comparable with
each other under one protocol, never with published FID.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import ConfigError, ImageDataset
from ganzoo.checkpoint import atomic_write

ARCH_VERSION = "domain-cnn-v1"


class DomainClassifier(nn.Module):
    """Three conv blocks and global pooling: 128-d features, then a linear head.

    Args:
        channels: Input channels.
        num_classes: Output classes.
        width: Channels of the first block (doubling per block).
    """

    def __init__(self, channels: int, num_classes: int, width: int = 32) -> None:
        super().__init__()
        w = width

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2))

        self.features = nn.Sequential(block(channels, w), block(w, 2 * w), block(2 * w, 4 * w))
        self.head = nn.Linear(4 * w, num_classes)
        self.feature_dim = 4 * w

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1] -> (B, feature_dim)."""
        return self.features(x).mean(dim=(2, 3))  # (B, 4w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))  # (B, num_classes)


@dataclass(frozen=True)
class TrainedClassifier:
    """A cached classifier with what identifies it."""

    net: DomainClassifier
    sha256: str
    accuracy: float
    path: Path


def _labelled(dataset: ImageDataset) -> tuple[torch.Tensor, torch.Tensor]:
    if dataset.info.num_classes < 2:
        raise ConfigError(
            "the domain-classifier metric needs a labelled dataset (e.g. digits); this one has no labels. "
            "Use fid or kid with Inception weights instead (see docs/weights.md)"
        )
    items = [dataset[i] for i in range(len(dataset))]
    if "label" not in items[0]:
        raise ValueError("the dataset reports classes but yields no 'label'")
    return torch.stack([it["image"] for it in items]), torch.stack([it["label"] for it in items]).long()


def _train(images: torch.Tensor, labels: torch.Tensor, num_classes: int, *, epochs: int, seed: int) -> tuple[DomainClassifier, float]:
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(images), generator=g)
    n_val = max(1, len(images) // 10)
    val, train = perm[:n_val], perm[n_val:]
    with torch.random.fork_rng(devices=[]):  # training must not move the caller's RNG
        torch.manual_seed(seed)
        net = DomainClassifier(images.shape[1], num_classes)
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        net.train()
        for _ in range(epochs):
            order = train[torch.randperm(len(train), generator=g)]
            for chunk in order.split(64):
                x = images[chunk]
                # Small random shifts make features robust to the jitter generators produce.
                dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
                x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
                loss = F.cross_entropy(net(x), labels[chunk])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    net.eval()
    with torch.no_grad():
        acc = (net(images[val]).argmax(1) == labels[val]).float().mean().item()
    return net, acc


def classifier_key(data_key: str, channels: int, size: int, num_classes: int, epochs: int, seed: int) -> str:
    """Hash of everything that determines the trained classifier."""
    blob = json.dumps({"arch": ARCH_VERSION, "data": data_key, "shape": [channels, size], "classes": num_classes,
                       "epochs": epochs, "seed": seed, "torch": torch.__version__.split("+")[0]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def get_classifier(dataset: ImageDataset, data_key: str, cache: Path, *, epochs: int = 8, seed: int = 0) -> TrainedClassifier:
    """Load the cached classifier for this data, or train and cache it."""
    from safetensors.torch import load_file, save

    info = dataset.info
    key = classifier_key(data_key, info.channels, info.size, info.num_classes, epochs, seed)
    path = cache / f"{key}.safetensors"
    meta_path = cache / f"{key}.json"
    if path.is_file() and meta_path.is_file():
        net = DomainClassifier(info.channels, info.num_classes)
        try:
            net.load_state_dict(load_file(str(path)))
            cached = json.loads(meta_path.read_text())
            net.eval()
            return TrainedClassifier(net, cached["sha256"], cached["accuracy"], path)
        except Exception:  # noqa: BLE001 - a damaged cache entry is rebuilt
            pass
    images, labels = _labelled(dataset)
    net, acc = _train(images, labels, info.num_classes, epochs=epochs, seed=seed)
    blob = save({k: v.contiguous() for k, v in net.state_dict().items()})
    digest = hashlib.sha256(blob).hexdigest()
    atomic_write(path, lambda fh: fh.write(blob))
    meta: dict[str, Any] = {"sha256": digest, "accuracy": acc, "arch": ARCH_VERSION, "epochs": epochs, "seed": seed, "data": data_key}
    atomic_write(meta_path, lambda fh: fh.write(json.dumps(meta, indent=2).encode()))
    return TrainedClassifier(net, digest, acc, path)
