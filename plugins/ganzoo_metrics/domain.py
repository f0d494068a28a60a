"""A small classifier trained on the run's own labelled data, for an offline Fréchet distance.

Published FID needs Inception weights that cannot be downloaded everywhere.
This classifier is trained by ganzoo itself, deterministically, on the labelled
dataset of the run, and cached under a hash of everything that determines it.
Distances in its feature space are honest about what they are: comparable with
each other under one protocol, never with published FID.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo import ConfigError, DataError, DataInfo, ImageDataset

ARCH_VERSION = "domain-cnn-v1"  # bump when the network or its training changes


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
        raise DataError("the dataset reports classes but yields no 'label'")
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
    """Hash of everything that determines the trained classifier, the code that trains it included."""
    blob = json.dumps({"arch": ARCH_VERSION, "ganzoo": ganzoo.__version__, "data": data_key, "shape": [channels, size],
                       "classes": num_classes, "epochs": epochs, "seed": seed, "torch": torch.__version__.split("+")[0]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _load(path: Path, info: DataInfo) -> TrainedClassifier | None:
    """The cached classifier at ``path``; None if absent. A damaged file is moved aside (never silently replaced)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        state = load_file(str(path))
        if hashlib.sha256(_weights_bytes(state)).hexdigest() != meta.get("sha256"):
            raise ValueError("its weights do not match the hash it records")
        net = DomainClassifier(info.channels, info.num_classes)
        net.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - any damage: keep the file for inspection, train anew
        aside = path.with_name(f"{path.name}.damaged-{os.getpid()}")
        with contextlib.suppress(OSError):
            os.replace(path, aside)
        warnings.warn(f"cached classifier {path} is unreadable ({type(exc).__name__}: {exc}); moved to {aside.name}, training a new one",
                      stacklevel=3)
        return None
    net.eval()
    return TrainedClassifier(net, meta["sha256"], float(meta["accuracy"]), path)


def _weights_bytes(state: dict[str, torch.Tensor]) -> bytes:
    """The canonical bytes of a state dict (safetensors without metadata): what the recorded hash covers."""
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in sorted(state.items())})


def _publish(path: Path, blob: bytes) -> bool:
    """Write ``blob`` to ``path`` only if nothing is there yet; False if another process got there first.

    A hard link from a complete temp file is atomic and never replaces an
    existing file, so concurrent writers cannot corrupt or overwrite each other.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An advisory lock, so concurrent processes train a classifier once and the others wait for it."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): _publish still keeps the cache consistent, work may be duplicated
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def get_classifier(dataset: ImageDataset, data_key: str, cache: Path, *, epochs: int = 8, seed: int = 0) -> TrainedClassifier:
    """Load the cached classifier for this data, or train and cache it.

    The cache may be shared by any number of processes and installs: an entry
    is one file, written once (training differs slightly across thread counts,
    so the first classifier written for a key is the one everybody scores
    with), and a process that finds another training the same key waits for it.
    """
    from safetensors.torch import save

    info = dataset.info
    key = classifier_key(data_key, info.channels, info.size, info.num_classes, epochs, seed)
    path = cache / f"{key}.safetensors"
    found = _load(path, info)
    if found is not None:
        return found
    with _exclusive(cache / f".{key}.lock"):
        found = _load(path, info)  # trained by another process while this one waited
        if found is not None:
            return found
        images, labels = _labelled(dataset)
        net, acc = _train(images, labels, info.num_classes, epochs=epochs, seed=seed)
        state = net.state_dict()
        digest = hashlib.sha256(_weights_bytes(state)).hexdigest()
        meta = {"sha256": digest, "accuracy": repr(acc), "arch": ARCH_VERSION, "ganzoo": ganzoo.__version__, "epochs": str(epochs),
                "seed": str(seed), "data": data_key}
        if _publish(path, save({k: v.contiguous() for k, v in sorted(state.items())}, metadata=meta)):
            return TrainedClassifier(net, digest, acc, path)
    found = _load(path, info)  # lost the race to a process without the lock: use its classifier
    if found is None:
        raise RuntimeError(f"classifier cache {path} vanished while in use")
    return found
