"""The FID Inception-v3: TensorFlow's 2015-12-05 graph, ported to PyTorch.

FID, KID and IS numbers are only comparable to published ones when they are
computed with this exact network, *including* its quirks: the TF graph averages
pools without counting the zero padding, the last block max-pools where the
paper average-pools, images are resized with TF1's (misaligned) bilinear kernel
and normalised as ``(x - 128) / 128``. Module and parameter names follow
torchvision's ``Inception3`` so the published weights load with ``strict=True``.

Weights: ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid) and
``weights-inception-2015-12-05-6726825d.pth`` (torch-fidelity) are the same bytes
(both have SHA-256 ``6726825d0af5...``); either file name is accepted.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.weights import WeightsError, WeightSpec, load_state_dict, resolve_weights, sha256_file

__all__ = ["INCEPTION_WEIGHTS", "INPUT_SIZE", "FIDInceptionV3", "inception_state_dict", "load_inception", "tf1_bilinear_resize"]

INPUT_SIZE = 299

INCEPTION_WEIGHTS = WeightSpec(
    name="pt_inception-2015-12-05",
    filename="pt_inception-2015-12-05-6726825d.pth",
    # Published with the release and recorded by several independent projects;
    # its first 8 digits are the torch.hub prefix in the file name.
    sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    description="TF inception-2015-12-05 graph ported to PyTorch (pytorch-fid / torch-fidelity FID weights)",
    aliases=("weights-inception-2015-12-05-6726825d.pth",),
)

OFFLINE_HINT = "use the fd-domain metric (Fréchet distance in a classifier ganzoo trains on the labelled data), which needs no download"


def tf1_bilinear_resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize as TensorFlow 1.x ``resize_bilinear(align_corners=False)`` does it.

    TF1 maps output pixel ``i`` to input coordinate ``i * in / out`` (no half-pixel
    offset) and clamps the upper neighbour at the border, unlike
    ``F.interpolate(..., align_corners=False)``. The arithmetic is done in the
    input's float dtype in the same order as torch-fidelity, so results agree
    bit for bit on the CPU.

    Args:
        x: Float tensor ``(B, C, H, W)``.
        size: Output ``(height, width)``.

    Returns:
        The resized ``(B, C, size[0], size[1])`` tensor.
    """
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"expected a float (B, C, H, W) tensor, got {tuple(x.shape)} {x.dtype}")
    (in_h, in_w), (out_h, out_w) = x.shape[-2:], size

    def axis(n_in: int, n_out: int) -> tuple[Tensor, Tensor, Tensor]:
        # The scale is rounded to float32 before multiplying, as in the TF kernel.
        pos = torch.arange(n_out, dtype=x.dtype, device=x.device) * torch.tensor(n_in / n_out, dtype=torch.float32)
        lo = pos.long()  # pos >= 0, so truncation is floor
        hi = (lo + 1).clamp_max(n_in - 1)
        return lo, hi, pos - lo.to(pos.dtype)

    y0, y1, dy = axis(in_h, out_h)
    x0, x1, dx = axis(in_w, out_w)
    dx = dx.view(1, 1, 1, out_w)

    def lerp_x(rows: Tensor) -> Tensor:  # (B, C, out_h, W) -> (B, C, out_h, out_w)
        left, right = rows.index_select(3, x0), rows.index_select(3, x1)
        return left + (right - left) * dx

    top, bottom = lerp_x(x.index_select(2, y0)), lerp_x(x.index_select(2, y1))
    return top + (bottom - top) * dy.view(1, 1, out_h, 1)  # (B, C, out_h, out_w)


class BasicConv2d(nn.Module):
    """Bias-free convolution, batch norm (eps 1e-3, as in the TF graph), ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1, padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: Tensor) -> Tensor:
    # TF's SAME-padded average pool divides by the number of real pixels only.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b5, b3, bp], 1)  # (B, 224 + pool_features, 35, 35)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)  # (B, 768, 17, 17)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions."""

    def __init__(self, cin: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b7, bd, bp], 1)  # (B, 768, 17, 17)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)  # (B, 1280, 8, 8)


class InceptionE(nn.Module):
    """8x8 block with split 1x3/3x1 branches.

    Args:
        cin: Input channels.
        pool: ``"avg"`` (TF-style, padding excluded) for Mixed_7b; ``"max"`` for
            Mixed_7c, where the 2015 TF graph max-pools (a quirk FID depends on).
    """

    def __init__(self, cin: int, pool: str) -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        pooled = _tf_avg_pool(x) if self.pool == "avg" else F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        bp = self.branch_pool(pooled)
        return torch.cat([b1, b3, bd, bp], 1)  # (B, 2048, 8, 8)


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3 on uint8 images.

    ``forward`` takes uint8 ``(B, 3, H, W)`` images of any size, resizes them to
    299x299 with :func:`tf1_bilinear_resize`, and returns ``{"2048": pool3
    features (B, 2048), "logits_unbiased": (B, 1008)}``, the logits without the
    classifier bias that torch-fidelity's Inception Score uses.

    Build it with :func:`load_inception` to get verified weights; the bare
    constructor leaves it randomly initialised.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.fc = nn.Linear(2048, 1008)  # 1008 classes: the TF graph's label map, not ImageNet's 1000
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def preprocess(images: Tensor) -> Tensor:
        """uint8 ``(B, 3, H, W)`` -> float32 ``(B, 3, 299, 299)`` in [-1, 1), as the TF graph feeds it."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"FID Inception expects uint8 (B, 3, H, W) images, got {images.dtype} {tuple(images.shape)}")
        x = tf1_bilinear_resize(images.to(torch.float32), (INPUT_SIZE, INPUT_SIZE))
        return (x - 128) / 128

    def pool3(self, x: Tensor) -> Tensor:
        """Preprocessed ``(B, 3, H, W)`` -> pool3 features ``(B, 2048)``."""
        x = self.Conv2d_1a_3x3(x)  # (B, 32, 149, 149)
        x = self.Conv2d_2a_3x3(x)  # (B, 32, 147, 147)
        x = self.Conv2d_2b_3x3(x)  # (B, 64, 147, 147)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, 64, 73, 73)
        x = self.Conv2d_3b_1x1(x)  # (B, 80, 73, 73)
        x = self.Conv2d_4a_3x3(x)  # (B, 192, 71, 71)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, 192, 35, 35)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # (B, 288, 35, 35)
        x = self.Mixed_6a(x)  # (B, 768, 17, 17)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))  # (B, 768, 17, 17)
        x = self.Mixed_7a(x)  # (B, 1280, 8, 8)
        x = self.Mixed_7c(self.Mixed_7b(x))  # (B, 2048, 8, 8)
        return x.mean(dim=(2, 3))  # (B, 2048)

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        x = self.preprocess(images.to(self.fc.weight.device))  # (B, 3, 299, 299)
        feats = self.pool3(x)  # (B, 2048)
        logits = feats @ self.fc.weight.T  # (B, 1008), bias left out on purpose (IS convention)
        return {"2048": feats, "logits_unbiased": logits}


_PYTORCH_FID_BLOCKS = (
    ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"),
    ("Conv2d_3b_1x1", "Conv2d_4a_3x3"),
    ("Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"),
    ("Mixed_7a", "Mixed_7b", "Mixed_7c"),
)


def inception_state_dict(raw: dict[str, Tensor]) -> dict[str, Tensor]:
    """Map a state dict from any of the known Inception layouts onto :class:`FIDInceptionV3`'s names.

    Accepts the published files (torchvision ``Inception3`` names, shared by
    pytorch-fid and torch-fidelity), a ``DataParallel`` ``module.`` prefix, and the
    ``blocks.N.M.`` names of pytorch-fid's ``InceptionV3`` wrapper (which has no
    ``fc``: load such a dict with ``strict=False``, for pool3 only). Missing BatchNorm
    ``num_batches_tracked`` counters (unused at eval) are filled in.
    """
    out: dict[str, Tensor] = {}
    for key, value in raw.items():
        k = key.removeprefix("module.")
        if k.startswith("blocks."):
            _, block, index, rest = k.split(".", 3)
            k = f"{_PYTORCH_FID_BLOCKS[int(block)][int(index)]}.{rest}"
        if k.startswith("AuxLogits."):
            continue  # torchvision's auxiliary head is not part of the FID graph
        out[k] = value
    for key in [k for k in out if k.endswith(".bn.running_var")]:
        out.setdefault(key.replace("running_var", "num_batches_tracked"), torch.tensor(0, dtype=torch.long))
    return out


def load_inception(
    path: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    offline_hint: str = OFFLINE_HINT,
) -> tuple[FIDInceptionV3, str]:
    """Build the FID Inception with weights found and verified under the weights policy.

    Args:
        path: Explicit weight file (or directory); otherwise the standard locations.
        device: Where to put the network.
        offline_hint: Alternative named in the error when the file is missing.

    Returns:
        ``(network, sha256)`` with the network in eval mode and the file's full SHA-256.

    Raises:
        WeightsError: The file is missing, has the wrong hash or does not fit.
    """
    file = resolve_weights(INCEPTION_WEIGHTS, path, offline_hint=offline_hint)
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten; keep the caller's RNG intact
        net = FIDInceptionV3()
    state = inception_state_dict(load_state_dict(file))
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{file} does not fit the FID Inception: {str(exc).splitlines()[0]}") from None
    return net.to(device), sha256_file(file)
