"""Real-ESRGAN's blur kernels, one per sample, drawn in torch from a ``torch.Generator``.

Definitions (Wang et al. 2021, "Real-ESRGAN", Sec. 3.1; BasicSR's ``degradations``):
with the pixel offset ``c = (x, y)`` from the kernel centre and the covariance
``S = R(theta) diag(sigma_x^2, sigma_y^2) R(theta)^T``, ``q = c^T S^-1 c``:

* Gaussian (``iso``: sigma_y = sigma_x, theta = 0; ``aniso``): ``exp(-q / 2)``;
* generalised Gaussian: ``exp(-q^beta / 2)`` (beta = 1 is the Gaussian; this is the
  paper's parametrisation, where ``q`` is already a squared distance);
* plateau: ``1 / (1 + q^beta)``;
* sinc (circular low-pass of cutoff ``w`` radians): ``w J1(w r) / (2 pi r)``, and
  ``w^2 / (4 pi)`` at ``r = 0``, its limit.

Every kernel is normalised to sum 1 over its odd ``k x k`` support and zero-padded
to a common ``size x size`` so a batch of kernels of different sizes is one tensor.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "KERNEL_KINDS",
    "anisotropic_gaussian",
    "apply_kernels",
    "generalized_gaussian",
    "plateau",
    "random_kernels",
    "sinc",
]

KERNEL_KINDS: tuple[str, ...] = (
    "iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso",
)
_GEN = (2, 3)  # indices of the generalised Gaussians in KERNEL_KINDS
_PLATEAU = (4, 5)
_ANISO = (1, 3, 5)


def _grid(size: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """(size, size) x and y offsets from the centre (x along columns)."""
    ax = torch.arange(size, device=device, dtype=torch.float64) - (size - 1) / 2
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    return xx, yy


def _support(ksize: Tensor, size: int) -> Tensor:
    """(B, size, size) mask of each sample's centred odd ``ksize`` square."""
    xx, yy = _grid(size, ksize.device)
    half = (ksize.to(torch.float64) - 1).view(-1, 1, 1) / 2
    return (xx.abs() <= half) & (yy.abs() <= half)


def _quadratic(sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, size: int) -> Tensor:
    """(B, size, size) ``q = c^T S^-1 c`` with ``S = R diag(sx^2, sy^2) R^T``: rotate the offsets by -theta."""
    xx, yy = _grid(size, sigma_x.device)
    cos, sin = theta.cos().view(-1, 1, 1), theta.sin().view(-1, 1, 1)
    u = cos * xx + sin * yy  # the offset in the kernel's own axes: R^T c
    v = -sin * xx + cos * yy
    return (u / sigma_x.view(-1, 1, 1)) ** 2 + (v / sigma_y.view(-1, 1, 1)) ** 2


def _normalise(k: Tensor, support: Tensor) -> Tensor:
    k = torch.where(support, k, torch.zeros_like(k))
    return k / k.sum(dim=(-2, -1), keepdim=True)


def anisotropic_gaussian(sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, ksize: Tensor, size: int = 21) -> Tensor:
    """(B, size, size) normalised Gaussians; each sample's own sigmas, angle and odd support ``ksize`` (B,)."""
    return _normalise(torch.exp(-0.5 * _quadratic(sigma_x, sigma_y, theta, size)), _support(ksize, size))


def generalized_gaussian(sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, beta: Tensor, ksize: Tensor, size: int = 21) -> Tensor:
    """(B, size, size) normalised generalised Gaussians ``exp(-q^beta / 2)``."""
    q = _quadratic(sigma_x, sigma_y, theta, size)
    return _normalise(torch.exp(-0.5 * q.pow(beta.view(-1, 1, 1))), _support(ksize, size))


def plateau(sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, beta: Tensor, ksize: Tensor, size: int = 21) -> Tensor:
    """(B, size, size) normalised plateau kernels ``1 / (1 + q^beta)``."""
    q = _quadratic(sigma_x, sigma_y, theta, size)
    return _normalise(1.0 / (1.0 + q.pow(beta.view(-1, 1, 1))), _support(ksize, size))


def sinc(cutoff: Tensor, ksize: Tensor, size: int = 21) -> Tensor:
    """(B, size, size) normalised circular low-pass kernels of ``cutoff`` radians (pi: none)."""
    xx, yy = _grid(size, cutoff.device)
    r = torch.sqrt(xx**2 + yy**2)  # (size, size)
    w = cutoff.to(torch.float64).view(-1, 1, 1)
    safe_r = torch.where(r > 0, r, torch.ones_like(r))  # J1(w r) / r is finite at 0; avoid the 0/0
    k = torch.where(r > 0, w * torch.special.bessel_j1(w * safe_r) / (2 * math.pi * safe_r), w**2 / (4 * math.pi))
    return _normalise(k, _support(ksize, size))


def _uniform(g: torch.Generator, n: int, lo: float, hi: float, device: torch.device) -> Tensor:
    return torch.rand(n, generator=g, device=device, dtype=torch.float64) * (hi - lo) + lo


def random_kernels(
    n: int,
    g: torch.Generator,
    *,
    kind_prob: tuple[float, ...],
    sigma: tuple[float, float],
    betag: tuple[float, float],
    betap: tuple[float, float],
    sinc_prob: float,
    ksizes: tuple[int, int] = (7, 21),
    device: torch.device | str = "cpu",
) -> Tensor:
    """``n`` random kernels (n, K, K) as Real-ESRGAN's first/second-order blur, K = ``ksizes[1]``.

    Per sample: an odd size uniform in ``ksizes``; with ``sinc_prob`` a sinc of cutoff
    U(pi/3, pi) (U(pi/5, pi) from size 13 up), else a kind drawn by ``kind_prob``
    (over :data:`KERNEL_KINDS`) with sigmas U(``sigma``), angle U(-pi, pi) for the
    anisotropic kinds, and beta U(lo, 1) or U(1, hi) with even odds.
    Every draw comes from ``g``, in a fixed order, so a seed fixes the kernels.
    """
    device = torch.device(device)
    lo, hi = ksizes
    odd = torch.arange(lo, hi + 1, 2, device=device)
    ksize = odd[torch.randint(len(odd), (n,), generator=g, device=device)]
    kind = torch.multinomial(torch.tensor(kind_prob, dtype=torch.float64, device=device), n, replacement=True, generator=g)
    sx = _uniform(g, n, *sigma, device)
    sy_draw = _uniform(g, n, *sigma, device)
    theta_draw = _uniform(g, n, -math.pi, math.pi, device)
    aniso = torch.isin(kind, torch.tensor(_ANISO, device=device))
    sy, theta = torch.where(aniso, sy_draw, sx), torch.where(aniso, theta_draw, torch.zeros_like(theta_draw))
    low_half = torch.rand(n, generator=g, device=device) < 0.5
    bg = torch.where(low_half, _uniform(g, n, betag[0], 1.0, device), _uniform(g, n, 1.0, betag[1], device))
    bp = torch.where(low_half, _uniform(g, n, betap[0], 1.0, device), _uniform(g, n, 1.0, betap[1], device))
    is_sinc = torch.rand(n, generator=g, device=device) < sinc_prob
    cutoff_lo = torch.where(ksize < 13, math.pi / 3, math.pi / 5).to(torch.float64)
    cutoff = cutoff_lo + torch.rand(n, generator=g, device=device, dtype=torch.float64) * (math.pi - cutoff_lo)

    gauss = anisotropic_gaussian(sx, sy, theta, ksize, hi)
    gen = generalized_gaussian(sx, sy, theta, bg, ksize, hi)
    plat = plateau(sx, sy, theta, bp, ksize, hi)
    view = (-1, 1, 1)
    k = torch.where(torch.isin(kind, torch.tensor(_GEN, device=device)).view(view), gen, gauss)
    k = torch.where(torch.isin(kind, torch.tensor(_PLATEAU, device=device)).view(view), plat, k)
    k = torch.where(is_sinc.view(view), sinc(cutoff, ksize, hi), k)
    return k.float()  # (n, K, K)


def apply_kernels(x: Tensor, kernels: Tensor) -> Tensor:
    """Blur each image of (B, C, H, W) ``x`` with its own (B, K, K) kernel (grouped conv, reflected borders)."""
    b, c, h, w = x.shape
    k = kernels.shape[-1]
    pad = k // 2
    # Reflection needs pad < side; tiny images fall back to replicated borders.
    mode = "reflect" if pad < h and pad < w else "replicate"
    xp = F.pad(x.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode=mode)  # (1, B*C, H+2p, W+2p)
    weight = kernels.to(x.dtype).repeat_interleave(c, dim=0).unsqueeze(1)  # (B*C, 1, K, K), one per channel
    # conv2d is a correlation; flip so this is the convolution of the definition (the same for symmetric kernels).
    out = F.conv2d(xp, weight.flip(-2, -1), groups=b * c)  # (1, B*C, H, W)
    return out.view(b, c, h, w)
