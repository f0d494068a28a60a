"""LPIPS perceptual distance (Zhang et al. 2018, v0.1) with AlexNet, VGG16 or SqueezeNet 1.1 trunks.

``d(x, y) = sum_l mean_hw || w_l * (f_l(x) / |f_l(x)| - f_l(y) / |f_l(y)|) ||^2``:
ImageNet features at five depths (seven for SqueezeNet), unit-normalised along
channels, squared differences weighted by learned 1x1 heads (no bias), averaged
over space and summed over layers. Module names mirror ``lpips.LPIPS`` so its
state dicts load with ``strict=True``; the trunks mirror torchvision's
``features`` layers.

Weights come from two files under the weights policy: the torchvision trunk
(``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth`` /
``squeezenet1_1-b8a52dc0.pth``) and the v0.1 linear heads, which the ``lpips``
wheel ships (``lpips/weights/v0.1/{alex,vgg,squeeze}.pth``).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from ganzoo.weights import WeightsError, WeightSpec, load_state_dict, resolve_weights, sha256_file

__all__ = ["HEAD_WEIGHTS", "LPIPS", "TRUNK_WEIGHTS", "build_lpips", "trunk_state_dict"]

Net = Literal["alex", "vgg", "squeeze"]

TRUNK_WEIGHTS: dict[str, WeightSpec] = {
    "alex": WeightSpec(
        name="torchvision-alexnet",
        filename="alexnet-owt-7be5be79.pth",
        sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        description="torchvision AlexNet ImageNet weights (IMAGENET1K_V1), the LPIPS-alex trunk",
    ),
    "vgg": WeightSpec(
        name="torchvision-vgg16",
        filename="vgg16-397923af.pth",
        sha256="397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
        description="torchvision VGG16 ImageNet weights (IMAGENET1K_V1), the LPIPS-vgg trunk",
    ),
    # Only the 8-digit prefix torchvision puts in the file name is known here (as
    # for the perceptual loss's VGG19): the full digest could not be obtained offline.
    "squeeze": WeightSpec(
        name="torchvision-squeezenet1_1",
        filename="squeezenet1_1-b8a52dc0.pth",
        sha256="b8a52dc0",
        url="https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
        description="torchvision SqueezeNet 1.1 ImageNet weights (IMAGENET1K_V1), the LPIPS-squeeze trunk",
    ),
}

# SHA-256 computed from the files inside the lpips 0.1.4 wheel.
HEAD_WEIGHTS: dict[str, WeightSpec] = {
    "alex": WeightSpec(
        name="lpips-v0.1-alex",
        filename="lpips-v0.1-alex.pth",
        sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
        url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth (or `pip install lpips`)",
        description="LPIPS v0.1 linear heads for the AlexNet trunk",
        aliases=("alex.pth",),
    ),
    "vgg": WeightSpec(
        name="lpips-v0.1-vgg",
        filename="lpips-v0.1-vgg.pth",
        sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
        url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth (or `pip install lpips`)",
        description="LPIPS v0.1 linear heads for the VGG16 trunk",
        aliases=("vgg.pth",),
    ),
    "squeeze": WeightSpec(
        name="lpips-v0.1-squeeze",
        filename="lpips-v0.1-squeeze.pth",
        sha256="4a5350f23600cb79923ce65bb07cbf57dca461329894153e05a1346bd531cf76",
        url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/squeeze.pth (or `pip install lpips`)",
        description="LPIPS v0.1 linear heads for the SqueezeNet 1.1 trunk",
        aliases=("squeeze.pth",),
    ),
}

OFFLINE_HINT = "use a reconstruction metric (psnr, ssim, ms-ssim, l1), which needs no download"

# torchvision ``features`` layouts: None is a max pool (3x3/2 in AlexNet, 2x2/2 in
# VGG), (cout, kernel, stride, padding) a convolution followed by ReLU.
_ALEX: list[tuple[int, int, int, int] | None] = [
    (64, 11, 4, 2), None, (192, 5, 1, 2), None, (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1), None,
]
_VGG16: list[tuple[int, int, int, int] | None] = [
    (c, 3, 1, 1) if c else None for c in (64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0)
]
# SqueezeNet 1.1 after its 3x3/2 stem (64 channels): None is a 3x3/2 ceil-mode max
# pool, (squeeze, expand) a Fire module with 2 * expand output channels.
_SQUEEZE11: list[tuple[int, int] | None] = [
    None, (16, 64), (16, 64), None, (32, 128), (32, 128), None, (48, 192), (48, 192), (64, 256), (64, 256),
]
# Where lpips cuts ``features`` into its slices: after relu1..relu5 (AlexNet, VGG), or
# after the stem's ReLU and fire3, fire5, fire6, fire7, fire8, fire9 (SqueezeNet).
_SLICES = {"alex": (0, 2, 5, 8, 10, 12), "vgg": (0, 4, 9, 16, 23, 30), "squeeze": (0, 2, 5, 8, 10, 11, 12, 13)}
_CHANNELS = {
    "alex": (64, 192, 384, 256, 256),
    "vgg": (64, 128, 256, 512, 512),
    "squeeze": (64, 128, 256, 384, 384, 512, 512),
}
_HEAD_KEY = re.compile(r"^lins?\.?(\d+)\.(model\.1\.weight)$")


class _Fire(nn.Module):
    """SqueezeNet's Fire module: a 1x1 squeeze, then 1x1 and 3x3 expands side by side (torchvision's names)."""

    def __init__(self, cin: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, expand, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        s = torch.relu(self.squeeze(x))  # (B, squeeze, H, W)
        return torch.cat([torch.relu(self.expand1x1(s)), torch.relu(self.expand3x3(s))], dim=1)  # (B, 2 * expand, H, W)


def _squeeze_features() -> list[nn.Module]:
    """torchvision's ``squeezenet1_1().features`` layers."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, stride=2), nn.ReLU(inplace=True)]
    cin = 64
    for item in _SQUEEZE11:
        if item is None:
            layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
        else:
            layers.append(_Fire(cin, *item))
            cin = 2 * item[1]
    return layers


def _features(net: Net) -> list[nn.Module]:
    """torchvision's ``alexnet()`` / ``vgg16()`` / ``squeezenet1_1()`` ``features`` layers, without the classifier."""
    if net == "squeeze":
        return _squeeze_features()
    layers: list[nn.Module] = []
    cin = 3
    for item in _ALEX if net == "alex" else _VGG16:
        if item is None:
            layers.append(nn.MaxPool2d(3, 2) if net == "alex" else nn.MaxPool2d(2, 2))
        else:
            cout, k, stride, pad = item
            layers += [nn.Conv2d(cin, cout, k, stride=stride, padding=pad), nn.ReLU(inplace=True)]
            cin = cout
    return layers


class _Trunk(nn.Module):
    """The first layers of the ImageNet network, split into lpips' slices (five; seven for SqueezeNet)."""

    def __init__(self, net: Net) -> None:
        super().__init__()
        layers, cuts = _features(net), _SLICES[net]
        self.n_slices = len(cuts) - 1
        for i in range(self.n_slices):
            block = nn.Sequential()
            for j in range(cuts[i], cuts[i + 1]):
                block.add_module(str(j), layers[j])  # keep torchvision's indices in the names
            self.add_module(f"slice{i + 1}", block)

    def forward(self, x: Tensor) -> list[Tensor]:
        outs = []
        for i in range(self.n_slices):
            x = getattr(self, f"slice{i + 1}")(x)
            outs.append(x)  # (B, C_l, H_l, W_l) after relu_l
        return outs


class _ScalingLayer(nn.Module):
    """Maps [-1, 1] images to roughly ImageNet-normalised ones (lpips' constants)."""

    shift: Tensor
    scale: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.shift) / self.scale


class _LinearHead(nn.Module):
    """A bias-free 1x1 convolution to one channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        # Slot 0 is lpips' training dropout (identity at eval); it keeps the
        # head's key at ``model.1.weight`` as in the published files.
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


def _unit_normalise(x: Tensor, eps: float = 1e-10) -> Tensor:
    # eps is added to the norm (not inside the sqrt), exactly as lpips does.
    return x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


class LPIPS(nn.Module):
    """LPIPS v0.1 distance. Randomly initialised; use :func:`build_lpips` for real weights.

    Args:
        net: ``"alex"`` (the usual choice for evaluation), ``"vgg"`` or ``"squeeze"``.
    """

    def __init__(self, net: Net = "alex") -> None:
        super().__init__()
        if net not in _SLICES:
            raise ValueError(f"net must be one of {', '.join(map(repr, _SLICES))}, got {net!r}")
        self.net_name = net
        self.scaling_layer = _ScalingLayer()
        self.net = _Trunk(net)
        for i, c in enumerate(_CHANNELS[net]):
            self.add_module(f"lin{i}", _LinearHead(c))
        # lpips registers the heads twice (lin0.. and lins.0..); mirror it for strict loading.
        self.lins = nn.ModuleList([getattr(self, f"lin{i}") for i in range(len(_CHANNELS[net]))])
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """Distance between images in [-1, 1], ``(B, 3, H, W)`` each (1 channel is repeated); returns ``(B,)``."""
        x, y = _rgb(x), _rgb(y)
        if x.shape != y.shape:
            raise ValueError(f"LPIPS inputs differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
        fx, fy = self.net(self.scaling_layer(x)), self.net(self.scaling_layer(y))
        total = x.new_zeros(x.shape[0])
        for head, a, b in zip(self.lins, fx, fy, strict=True):
            diff = (_unit_normalise(a) - _unit_normalise(b)).pow(2)  # (B, C_l, H_l, W_l)
            total = total + head(diff).mean(dim=(1, 2, 3))  # (B,)
        return total

    def forward_uint8(self, x: Tensor, y: Tensor) -> Tensor:
        """:meth:`forward` on uint8 images in [0, 255]."""
        for t in (x, y):
            if t.dtype != torch.uint8:
                raise ValueError(f"forward_uint8 expects uint8 images, got {t.dtype}")
        dtype = self.scaling_layer.scale.dtype
        return self(x.to(dtype) / 127.5 - 1, y.to(dtype) / 127.5 - 1)


def _rgb(x: Tensor) -> Tensor:
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"LPIPS expects (B, 3, H, W) or (B, 1, H, W) images, got {tuple(x.shape)}")
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def trunk_state_dict(raw: dict[str, Tensor], net: Net) -> dict[str, Tensor]:
    """Keys of a torchvision ``alexnet``/``vgg16``/``squeezenet1_1`` state dict (``features.i.*``) -> ``net.sliceK.i.*``.

    The classifier is dropped; an lpips-style dict (``net.sliceK.i.*``) passes through.
    """
    cuts = _SLICES[net]
    out: dict[str, Tensor] = {}
    for key, value in raw.items():
        key = key.removeprefix("module.")
        if key.startswith("net.slice"):
            out[key] = value
        elif key.startswith("features."):
            _, index, rest = key.split(".", 2)
            i = int(index)
            k = next((s for s in range(len(cuts) - 1) if cuts[s] <= i < cuts[s + 1]), None)
            if k is not None:
                out[f"net.slice{k + 1}.{i}.{rest}"] = value
    return out


def _packaged_heads(net: Net) -> list[Path]:
    """The heads file inside an installed ``lpips`` package, located without importing it."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(loc) / "weights" / "v0.1" / f"{net}.pth" for loc in spec.submodule_search_locations]


def build_lpips(
    net: Net = "alex",
    *,
    trunk_path: str | Path | None = None,
    heads_path: str | Path | None = None,
    device: str | torch.device = "cpu",
    offline_hint: str = OFFLINE_HINT,
) -> tuple[LPIPS, dict[str, str]]:
    """Build LPIPS with both weight files found and verified under the weights policy.

    Args:
        net: ``"alex"``, ``"vgg"`` or ``"squeeze"``.
        trunk_path: Explicit torchvision trunk file (otherwise the standard locations).
        heads_path: Explicit v0.1 heads file (otherwise the standard locations,
            then the copy inside an installed ``lpips`` package).
        device: Where to put the network.
        offline_hint: Alternative named in the error when a file is missing.

    Returns:
        ``(network, {"trunk": sha256, "heads": sha256})`` with the network in eval mode.

    Raises:
        WeightsError: A file is missing, has the wrong hash or does not fit.
    """
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten; keep the caller's RNG intact
        model = LPIPS(net)
    trunk = resolve_weights(TRUNK_WEIGHTS[net], trunk_path, offline_hint=offline_hint)
    heads = resolve_weights(HEAD_WEIGHTS[net], heads_path, offline_hint=offline_hint, extra_candidates=_packaged_heads(net))
    state = trunk_state_dict(load_state_dict(trunk), net)
    for key, value in load_state_dict(heads).items():
        m = _HEAD_KEY.match(key.removeprefix("module."))
        if m:  # lin0.model.1.weight or lins.0.model.1.weight: fill both names of the shared module
            state[f"lin{m[1]}.{m[2]}"] = state[f"lins.{m[1]}.{m[2]}"] = value
    state.update({f"scaling_layer.{k}": v for k, v in model.scaling_layer.state_dict().items()})
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"LPIPS-{net} weights ({trunk}, {heads}) do not fit: {str(exc).splitlines()[0]}") from None
    return model.to(device), {"trunk": sha256_file(trunk), "heads": sha256_file(heads)}
