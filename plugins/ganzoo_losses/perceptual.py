"""Perceptual (VGG feature) loss as in ESRGAN/BasicSR: VGG19 features before activation, L1 criterion.

``loss = sum_k w_k * criterion(phi_k(x), phi_k(y))`` with ``phi_k`` torchvision
VGG19 ``features`` up to layer ``k`` (``conv5_4`` = before its ReLU, as ESRGAN
argues features before activation are denser), inputs mapped from [-1, 1] to
[0, 1] and normalised with the ImageNet mean and std (BasicSR's
``use_input_norm``). One-channel images are repeated to RGB.

Weights: torchvision's ImageNet VGG19 file, found and verified under the weights
policy (:mod:`ganzoo.weights`); nothing is downloaded. ``weights: random`` builds a
seeded random VGG19 of the identical architecture: for tests only, since
random features are not a perceptual measure.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.weights import (
    WeightsError,
    WeightSpec,
    load_state_dict,
    resolve_weights,
    sha256_file,
)

__all__ = ["VGG19_LAYERS", "VGG19_WEIGHTS", "Perceptual", "VGGFeatures", "vgg19_layers"]

# torchvision publishes the first 8 hex digits of the file's SHA-256 in its name
# (torch.hub's check_hash compares exactly that prefix); the weights policy accepts a prefix.
VGG19_WEIGHTS = WeightSpec(
    name="torchvision-vgg19",
    filename="vgg19-dcbb9e9d.pth",
    sha256="dcbb9e9d",
    url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    description="torchvision VGG19 ImageNet weights (IMAGENET1K_V1), the ESRGAN/SRGAN perceptual-loss network",
)

_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def vgg19_layers() -> list[str]:
    """Names of torchvision's ``vgg19().features`` layers in order: conv1_1, relu1_1, ..., pool5."""
    names, block, conv = [], 1, 1
    for item in _CFG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


VGG19_LAYERS: tuple[str, ...] = tuple(vgg19_layers())
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """torchvision's VGG19 ``features`` truncated after the deepest requested layer; frozen, eval mode.

    Module indices equal torchvision's, so ``features.N.*`` keys load as they are.
    """

    mean: Tensor
    std: Tensor

    def __init__(self, layers: list[str], use_input_norm: bool = True) -> None:
        super().__init__()
        unknown = [n for n in layers if n not in VGG19_LAYERS]
        if unknown:
            raise ValueError(f"unknown VGG19 layer(s) {unknown}; known: {', '.join(VGG19_LAYERS)}")
        self.layers = sorted(set(layers), key=VGG19_LAYERS.index)
        last = VGG19_LAYERS.index(self.layers[-1])
        modules: list[nn.Module] = []
        cin = 3
        for item in _CFG:
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(cin, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                cin = int(item)
        self.features = nn.Sequential(*modules[: last + 1])
        self.use_input_norm = use_input_norm
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Features of (B, C, H, W) images in [-1, 1] (C = 1 or 3) at the requested layers."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x + 1.0) / 2.0  # [0, 1], BasicSR's range
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        out: dict[str, Tensor] = {}
        for name, layer in zip(VGG19_LAYERS, self.features, strict=False):  # features stop at the deepest requested layer
            x = layer(x)  # (B, C_l, H_l, W_l)
            if name in self.layers:
                out[name] = x
        return out


def load_vgg19(layers: list[str], *, path: str | Path | None = None, use_input_norm: bool = True) -> tuple[VGGFeatures, str]:
    """VGG19 features with torchvision's ImageNet weights, verified; returns (network, file SHA-256).

    Raises:
        WeightsError: The file is missing (the message says where it was looked for and how
            to get it), has another hash, or does not fit.
    """
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten; keep the caller's RNG intact
        net = VGGFeatures(layers, use_input_norm)
    hint = "train PSNR-oriented (pixel losses only: l1, mse, charbonnier), which needs no weight file"
    file = resolve_weights(VGG19_WEIGHTS, path, offline_hint=hint)
    raw = load_state_dict(file)
    n = len(net.features)
    state = {k.removeprefix("module."): v for k, v in raw.items()}
    state = {k: v for k, v in state.items() if k.startswith("features.") and int(k.split(".")[1]) < n}
    state.update({"mean": net.mean, "std": net.std})
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"VGG19 weights {file} do not fit: {str(exc).splitlines()[0]}") from None
    return net, sha256_file(file)


def random_vgg19(layers: list[str], *, seed: int = 0, use_input_norm: bool = True) -> VGGFeatures:
    """A seeded random VGG19 of the identical architecture (tests only: not a perceptual measure).

    Convolutions get torchvision's VGG init (Kaiming normal, fan-out), which keeps
    activations at a usable scale through 16 layers; PyTorch's default init shrinks
    them to ~1e-7 by conv5_4.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = VGGFeatures(layers, use_input_norm)
        for m in net.features:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    return net


class Perceptual:
    """``sum_k w_k * criterion(VGG_k(pred), VGG_k(target))``; the target's features carry no gradient.

    The mask argument of the reconstruction protocol is ignored: VGG features mix
    every pixel of their receptive field, so the loss is always over whole images.

    Args:
        net: The feature network (moved to the inputs' device on first use).
        layer_weights: Weight per layer name.
        criterion: ``"l1"`` (ESRGAN) or ``"mse"``.
    """

    region_aware = False  # see ganzoo.losses.ReconstructionLoss

    def __init__(self, net: VGGFeatures, layer_weights: dict[str, float], criterion: str = "l1") -> None:
        self.net, self.layer_weights, self.criterion = net, dict(layer_weights), criterion
        self._fn = F.l1_loss if criterion == "l1" else F.mse_loss

    def __call__(self, pred: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
        if self.net.mean.device != pred.device:
            self.net.to(pred.device)
        fp = self.net(pred)
        with torch.no_grad():
            ft = self.net(target)
        total = pred.new_zeros((), dtype=torch.float32)
        for name, weight in self.layer_weights.items():
            total = total + weight * self._fn(fp[name].float(), ft[name].float())
        return total
