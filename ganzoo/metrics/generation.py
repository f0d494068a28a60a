"""Distribution metrics on extracted features: FID, KID, IS, precision/recall.

Everything here is pure tensor math on features or logits that a feature
extractor has already produced; computation is float64 throughout because these
metrics subtract large, nearly equal quantities.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor

from ganzoo.metrics.stats import StreamingMoments

__all__ = [
    "SmallSampleWarning",
    "frechet_distance",
    "frechet_distance_from_features",
    "frechet_distance_from_moments",
    "kernel_inception_distance",
    "kid_subset_indices",
    "polynomial_mmd2_unbiased",
    "inception_score",
    "precision_recall",
]

ArrayLike = Tensor | np.ndarray


class SmallSampleWarning(UserWarning):
    """Too few samples for a trustworthy estimate (e.g. FID with N <= D)."""


def _f64(x: ArrayLike, name: str) -> Tensor:
    if not isinstance(x, (Tensor, np.ndarray)):
        raise ValueError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    t = torch.as_tensor(x).detach().to(torch.float64)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return t


def _features(x: ArrayLike, name: str, min_n: int = 1) -> Tensor:
    t = _f64(x, name)
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(t.shape)}")
    if t.shape[0] < min_n:
        raise ValueError(f"{name} needs at least {min_n} samples, got {t.shape[0]}")
    return t


def _warn_small(n: int, dim: int, name: str) -> None:
    if n <= dim:
        warnings.warn(
            f"{name} has N={n} samples for D={dim} features: the covariance is rank-deficient and "
            "FID is strongly biased upward (bias ~ 1/N); use N >> D (50k is standard for D=2048)",
            SmallSampleWarning,
            stacklevel=3,
        )


def _sqrt_psd(w: Tensor) -> Tensor:
    # Covariances are PSD in exact arithmetic; rounding makes tiny negative
    # eigenvalues, which are noise, so they are clamped rather than propagated.
    return w.clamp_min(0.0).sqrt()


def _trace_sqrt_product(s1: Tensor, s2: Tensor, method: str = "auto") -> Tensor:
    """``tr((S1 S2)^{1/2})`` from the eigenvalues of a symmetric matrix similar to ``S1 S2``.

    ``"cholesky"``: ``S1 = L L^T`` gives ``S1 S2 ~ L^T S2 L`` (similar matrices).
    ``"eigh"``: ``S1 = V diag(w) V^T`` gives ``S1 S2 ~ D V^T S2 V D`` with
    ``D = diag(sqrt(max(w, 0)))``, i.e. ``sqrt(S1) S2 sqrt(S1)`` rotated by V.
    ``"auto"`` tries Cholesky (several times cheaper than a full ``eigh``) and
    falls back to ``eigh`` when ``S1`` is not numerically positive definite
    (e.g. fewer samples than dimensions).
    """
    inner: Tensor | None = None
    if method in ("auto", "cholesky"):
        chol, info = torch.linalg.cholesky_ex(s1)
        if int(info.item()) == 0:
            inner = chol.T @ (s2 @ chol)
        elif method == "cholesky":
            raise ValueError("cov1 is not positive definite; use method='eigh'")
    if inner is None:
        w, v = torch.linalg.eigh(s1)
        root_w = _sqrt_psd(w)
        inner = root_w[:, None] * (v.T @ s2 @ v) * root_w[None, :]
    # Symmetrise: rounding leaves ~1e-16 asymmetry and eigvalsh reads one triangle.
    inner = 0.5 * (inner + inner.T)
    return _sqrt_psd(torch.linalg.eigvalsh(inner)).sum()


def frechet_distance(mu1: ArrayLike, cov1: ArrayLike, mu2: ArrayLike, cov2: ArrayLike) -> float:
    """Fréchet distance between Gaussians ``N(mu1, cov1)`` and ``N(mu2, cov2)``.

    ``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2})`` in float64. The trace
    term is the sum of square roots of the (clamped non-negative) eigenvalues of
    a *symmetric* PSD matrix similar to ``S1 S2``: ``L^T S2 L`` with ``S1 = L L^T``
    when ``S1`` is positive definite, else ``sqrt(S1) S2 sqrt(S1)`` with
    ``sqrt(S1)`` from ``eigh`` (negative eigenvalues clamped to 0). This avoids
    ``scipy.linalg.sqrtm`` of the non-symmetric product (a complex Schur
    decomposition), which is several times slower, returns spurious imaginary
    parts, and can fail on singular products.

    Args:
        mu1: Mean ``(D,)``.
        cov1: Covariance ``(D, D)`` (symmetric PSD).
        mu2: Mean ``(D,)``.
        cov2: Covariance ``(D, D)``.

    Returns:
        The distance as a float, clamped at 0 (rounding can push identical
        statistics to about -1e-12).

    Raises:
        ValueError: On shape mismatches or non-finite input.
    """
    m1, m2 = _f64(mu1, "mu1"), _f64(mu2, "mu2")
    s1, s2 = _f64(cov1, "cov1"), _f64(cov2, "cov2")
    if m1.ndim != 1 or m1.shape != m2.shape:
        raise ValueError(f"mu1 and mu2 must be vectors of equal length, got {tuple(m1.shape)}, {tuple(m2.shape)}")
    d = m1.shape[0]
    if s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"cov1 and cov2 must have shape ({d}, {d}), got {tuple(s1.shape)}, {tuple(s2.shape)}")
    s2 = s2.to(s1.device)
    # Symmetrise: the factorisations read one triangle only, so an asymmetric
    # input would be silently interpreted differently from its transpose.
    s1 = 0.5 * (s1 + s1.T)
    s2 = 0.5 * (s2 + s2.T)
    diff = m1.to(s1.device) - m2.to(s1.device)
    fd = diff @ diff + torch.trace(s1) + torch.trace(s2) - 2.0 * _trace_sqrt_product(s1, s2)
    return max(float(fd.item()), 0.0)


def frechet_distance_from_moments(stats1: StreamingMoments, stats2: StreamingMoments) -> float:
    """Fréchet distance between two :class:`StreamingMoments` accumulators.

    Emits :class:`SmallSampleWarning` if either has ``n <= dim``.
    """
    for name, s in (("stats1", stats1), ("stats2", stats2)):
        _warn_small(s.n, s.dim or 0, name)
    return frechet_distance(stats1.mean, stats1.cov, stats2.mean, stats2.cov)


def frechet_distance_from_features(feats1: ArrayLike, feats2: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    Means and unbiased (``N - 1``) covariances, as pytorch-fid computes them.

    Args:
        feats1: ``(N1, D)`` features.
        feats2: ``(N2, D)`` features.

    Warns:
        SmallSampleWarning: If ``N <= D`` for either set.
    """
    f1, f2 = _features(feats1, "feats1", 2), _features(feats2, "feats2", 2)
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature dimensions differ: {f1.shape[1]} vs {f2.shape[1]}")
    for name, f in (("feats1", f1), ("feats2", f2)):
        _warn_small(f.shape[0], f.shape[1], name)
    return frechet_distance(f1.mean(0), torch.cov(f1.T), f2.mean(0), torch.cov(f2.T))


def kid_subset_indices(n1: int, n2: int, *, subsets: int, subset_size: int, seed: int) -> list[tuple[Tensor, Tensor]]:
    """Index pairs of the KID subsets, reproducible from ``seed``.

    Each subset draws ``subset_size`` distinct rows (``randperm`` prefix) from each
    set with one CPU ``torch.Generator``, alternating set 1 then set 2.
    ``subset_size`` is clipped to ``min(n1, n2)``.
    """
    size = min(subset_size, n1, n2)
    gen = torch.Generator().manual_seed(seed)
    return [
        (torch.randperm(n1, generator=gen)[:size], torch.randperm(n2, generator=gen)[:size]) for _ in range(subsets)
    ]


def polynomial_mmd2_unbiased(
    x: Tensor, y: Tensor, *, degree: int = 3, gamma: float | None = None, coef0: float = 1.0
) -> float:
    """Unbiased MMD^2 with kernel ``k(a, b) = (gamma a.b + coef0)^degree``.

    ``gamma`` defaults to ``1 / D``. Diagonals of the within-set kernel matrices
    are excluded (U-statistic), as in Bińkowski et al. 2018 and torch-fidelity.
    """
    m = x.shape[0]
    g = 1.0 / x.shape[1] if gamma is None else gamma
    k_xx = (x @ x.T * g + coef0) ** degree
    k_yy = (y @ y.T * g + coef0) ** degree
    k_xy = (x @ y.T * g + coef0) ** degree
    sum_xx = k_xx.sum() - k_xx.diagonal().sum()
    sum_yy = k_yy.sum() - k_yy.diagonal().sum()
    return float(((sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m)).item())


def kernel_inception_distance(
    feats1: ArrayLike,
    feats2: ArrayLike,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance (Bińkowski et al. 2018).

    Unbiased MMD^2 with the cubic polynomial kernel ``(x.y / D + 1)^3``, averaged
    over ``subsets`` random subsets (see :func:`kid_subset_indices`).

    Returns:
        ``(mean, std)`` over subsets; std is the population std (``ddof=0``) as
        in torch-fidelity.

    Raises:
        ValueError: On bad shapes, ``subsets < 1`` or a subset size below 2.
    """
    f1, f2 = _features(feats1, "feats1", 2), _features(feats2, "feats2", 2)
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature dimensions differ: {f1.shape[1]} vs {f2.shape[1]}")
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"need subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    f2 = f2.to(f1.device)
    idx = kid_subset_indices(f1.shape[0], f2.shape[0], subsets=subsets, subset_size=subset_size, seed=seed)
    values = []
    for i1, i2 in idx:
        x, y = f1[i1.to(f1.device)], f2[i2.to(f1.device)]
        values.append(polynomial_mmd2_unbiased(x, y, degree=degree, gamma=gamma, coef0=coef0))
    mmds = torch.tensor(values, dtype=torch.float64)
    return float(mmds.mean()), float(mmds.std(correction=0))


def inception_score(logits: ArrayLike, *, splits: int = 10) -> tuple[float, float]:
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))`` from classifier logits.

    Logits are turned into log-probabilities with ``log_softmax`` in float64 (stable
    for confident predictions). The N samples are cut into ``splits`` contiguous
    chunks ``[i N // splits, (i + 1) N // splits)`` exactly as torch-fidelity does
    (shuffle beforehand if the order is not random); ``p(y)`` is the chunk mean.

    Returns:
        ``(mean, std)`` of the per-split scores (population std, ``ddof=0``).

    Raises:
        ValueError: If ``logits`` is not ``(N, C)`` or ``splits`` is not in [1, N].
    """
    z = _features(logits, "logits", 1)
    n = z.shape[0]
    if not 1 <= splits <= n:
        raise ValueError(f"splits must be in [1, N={n}], got {splits}")
    log_p = torch.log_softmax(z, dim=1)
    p = log_p.exp()
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        log_q = torch.log(p[lo:hi].mean(dim=0, keepdim=True))
        # Zero-probability classes contribute 0 * (-inf - log q); xlogy-style
        # masking keeps that term at 0 instead of NaN.
        kl = torch.where(p[lo:hi] > 0, p[lo:hi] * (log_p[lo:hi] - log_q), 0.0).sum(dim=1).mean()
        scores.append(kl.exp())
    s = torch.stack(scores)
    return float(s.mean()), float(s.std(correction=0))


def _sq_dists(a: Tensor, b: Tensor) -> Tensor:
    # Expansion |a|^2 + |b|^2 - 2 a.b turns the distance matrix into one GEMM;
    # in float64 its cancellation error (~1e-16 relative) is far below the gaps
    # between neighbour distances.
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return d.clamp_min(0.0)


def _knn_radii2(feats: Tensor, k: int, batch_size: int) -> Tensor:
    """Squared distance of each row to its k-th nearest other row."""
    out = []
    for start in range(0, feats.shape[0], batch_size):
        d = _sq_dists(feats[start : start + batch_size], feats)
        # k + 1 smallest includes the point itself (distance 0), as in NVlabs' code.
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out)


def _coverage(queries: Tensor, refs: Tensor, radii2: Tensor, batch_size: int) -> float:
    """Fraction of ``queries`` inside at least one ball ``(refs[j], radii[j])``."""
    inside = 0
    for start in range(0, queries.shape[0], batch_size):
        d = _sq_dists(queries[start : start + batch_size], refs)
        inside += int((d <= radii2[None, :]).any(dim=1).sum())
    return inside / queries.shape[0]


def precision_recall(
    real_feats: ArrayLike, fake_feats: ArrayLike, *, k: int = 3, batch_size: int = 1024
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    Each real point gets a ball whose radius is the distance to its k-th nearest
    real neighbour (itself excluded); precision is the fraction of fake points in
    at least one real ball. Recall swaps the roles (fake balls from fake k-NN,
    fraction of real points covered). Distances are computed ``batch_size`` rows
    at a time, so peak memory is ``batch_size * max(N_real, N_fake)`` floats.

    Returns:
        ``(precision, recall)`` in [0, 1].

    Raises:
        ValueError: On bad shapes, ``k < 1`` or fewer than ``k + 1`` points per set.
    """
    if k < 1 or batch_size < 1:
        raise ValueError(f"k and batch_size must be >= 1, got k={k}, batch_size={batch_size}")
    real = _features(real_feats, "real_feats", k + 1)
    fake = _features(fake_feats, "fake_feats", k + 1).to(real.device)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} vs {fake.shape[1]}")
    precision = _coverage(fake, real, _knn_radii2(real, k, batch_size), batch_size)
    recall = _coverage(real, fake, _knn_radii2(fake, k, batch_size), batch_size)
    return precision, recall
