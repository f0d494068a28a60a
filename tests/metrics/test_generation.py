"""FID / KID / IS / precision-recall against independent numpy and scipy oracles."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import scipy.linalg
import torch

from ganzoo.metrics import (
    SmallSampleWarning,
    StreamingMoments,
    frechet_distance,
    frechet_distance_from_features,
    frechet_distance_from_moments,
    inception_score,
    kernel_inception_distance,
    kid_subset_indices,
    precision_recall,
)
from ganzoo.metrics.generation import _trace_sqrt_product


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, 2 * d)) / np.sqrt(2 * d)
    return a @ a.T + 0.05 * np.eye(d)


def fd_scipy(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """pytorch-fid's formula with scipy.linalg.sqrtm of the product."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_matches_scipy_sqrtm(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = 64
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d) * 0.3
    s1, s2 = random_spd(rng, d), random_spd(rng, d)
    expected = fd_scipy(mu1, s1, mu2, s2)
    got = frechet_distance(torch.from_numpy(mu1), torch.from_numpy(s1), torch.from_numpy(mu2), torch.from_numpy(s2))
    assert abs(got - expected) <= 1e-6 * abs(expected)
    # numpy input works too and gives the same float.
    assert frechet_distance(mu1, s1, mu2, s2) == got
    # Both factorisations of the trace term (Cholesky fast path, eigh fallback) agree with sqrtm.
    expected_tr = np.trace(np.real(scipy.linalg.sqrtm(s1 @ s2)))
    for method in ("cholesky", "eigh"):
        tr = _trace_sqrt_product(torch.from_numpy(s1), torch.from_numpy(s2), method).item()
        assert abs(tr - expected_tr) <= 1e-9 * expected_tr


def test_frechet_diagonal_analytic() -> None:
    rng = np.random.default_rng(5)
    d = 64
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.01, 4.0, size=d), rng.uniform(0.01, 4.0, size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert abs(got - expected) <= 1e-6 * expected


def test_frechet_identical_and_singular() -> None:
    rng = np.random.default_rng(6)
    mu, s = rng.normal(size=32), random_spd(rng, 32)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)
    # Rank-deficient covariances (N < D) stay finite and match sqrtm's value.
    x, y = rng.normal(size=(10, 32)), rng.normal(size=(12, 32)) + 0.5
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    got = frechet_distance(x.mean(0), s1, y.mean(0), s2)
    assert np.isfinite(got)
    with pytest.raises(ValueError, match="not positive definite"):
        _trace_sqrt_product(torch.from_numpy(s1), torch.from_numpy(s2), "cholesky")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sqrtm warns about the singular product
        expected = fd_scipy(x.mean(0), s1, y.mean(0), s2)
    assert got == pytest.approx(expected, rel=1e-5)


def test_frechet_from_features_and_small_sample_warning() -> None:
    rng = np.random.default_rng(7)
    f1, f2 = rng.normal(size=(300, 8)), rng.normal(size=(250, 8)) * 1.3 + 0.2
    expected = fd_scipy(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallSampleWarning)  # N >> D: no warning
        got = frechet_distance_from_features(torch.from_numpy(f1).float(), f2)
        m1, m2 = StreamingMoments().update(torch.from_numpy(f1)), StreamingMoments().update(torch.from_numpy(f2))
        from_moments = frechet_distance_from_moments(m1, m2)
    assert got == pytest.approx(expected, rel=1e-5)  # f1 went through float32
    assert from_moments == pytest.approx(expected, rel=1e-9)
    with pytest.warns(SmallSampleWarning, match="N=8 samples for D=8"):
        frechet_distance_from_features(rng.normal(size=(8, 8)), rng.normal(size=(100, 8)))
    with pytest.warns(SmallSampleWarning):
        frechet_distance_from_moments(StreamingMoments().update(torch.randn(5, 8)), m2)


def test_frechet_validation() -> None:
    with pytest.raises(ValueError, match="mu1 and mu2"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="cov1 and cov2"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full(3, np.nan), np.eye(3), np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="feature dimensions"):
        frechet_distance_from_features(np.zeros((5, 3)), np.zeros((5, 4)))


def mmd2_numpy(x: np.ndarray, y: np.ndarray) -> float:
    """Naive O(n^2) unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, explicit double loops over pairs."""
    m, d = len(x), x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / m**2


def test_kid_matches_naive_numpy() -> None:
    rng = np.random.default_rng(8)
    f1, f2 = rng.normal(size=(70, 6)), rng.normal(size=(55, 6)) * 1.2 + 0.3
    mean, std = kernel_inception_distance(f1, f2, subsets=4, subset_size=40, seed=3)
    idx = kid_subset_indices(70, 55, subsets=4, subset_size=40, seed=3)
    assert all(len(i1) == len(i2) == 40 and len(set(i1.tolist())) == 40 for i1, i2 in idx)
    mmds = np.array([mmd2_numpy(f1[i1.numpy()], f2[i2.numpy()]) for i1, i2 in idx])
    assert abs(mean - mmds.mean()) <= 1e-8 * abs(mmds.mean())
    assert abs(std - mmds.std()) <= 1e-8 * abs(mmds.std())
    # One subset of everything (subset_size clipped to min(n1, n2)): deterministic value.
    full_mean, full_std = kernel_inception_distance(f1[:30], f2[:30], subsets=1, subset_size=1000)
    expected = mmd2_numpy(f1[:30], f2[:30])
    assert abs(full_mean - expected) <= 1e-8 * abs(expected) and full_std == 0.0
    # Same seed -> same value; another seed draws other subsets.
    assert kernel_inception_distance(f1, f2, subsets=4, subset_size=40, seed=3) == (mean, std)
    assert kernel_inception_distance(f1, f2, subsets=4, subset_size=40, seed=4) != (mean, std)


def test_kid_validation() -> None:
    with pytest.raises(ValueError, match="subset_size"):
        kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 3)), subset_size=1)


def test_inception_score_limits() -> None:
    uniform = torch.zeros(100, 10)
    mean, std = inception_score(uniform, splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)
    classes = 7
    labels = torch.arange(140) % classes  # balanced within every contiguous split of 14
    one_hot = torch.full((140, classes), -1e4)
    one_hot[torch.arange(140), labels] = 1e4
    mean, std = inception_score(one_hot, splits=10)
    assert mean == pytest.approx(classes, abs=1e-6) and std == pytest.approx(0.0, abs=1e-6)


def test_inception_score_matches_numpy() -> None:
    rng = np.random.default_rng(9)
    logits = rng.normal(size=(103, 5)) * 3
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = []
    for i in range(4):
        chunk = p[i * 103 // 4 : (i + 1) * 103 // 4]
        kl = (chunk * (np.log(chunk) - np.log(chunk.mean(0, keepdims=True)))).sum(1).mean()
        scores.append(np.exp(kl))
    mean, std = inception_score(torch.from_numpy(logits).float(), splits=4)
    assert mean == pytest.approx(np.mean(scores), rel=1e-6) and std == pytest.approx(np.std(scores), rel=1e-5)
    with pytest.raises(ValueError, match="splits"):
        inception_score(logits, splits=200)


def pr_numpy(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Brute-force precision/recall with exact broadcast distances."""

    def dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    def radii(x: np.ndarray) -> np.ndarray:
        d = dist(x, x)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]

    precision = np.mean((dist(fake, real) <= radii(real)[None, :]).any(1))
    recall = np.mean((dist(real, fake) <= radii(fake)[None, :]).any(1))
    return float(precision), float(recall)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_matches_brute_force(k: int) -> None:
    rng = np.random.default_rng(10 + k)
    real = rng.normal(size=(120, 4))
    fake = rng.normal(size=(90, 4)) * 1.4 + 0.4
    expected = pr_numpy(real, fake, k)
    assert 0.0 < expected[0] < 1.0 and 0.0 < expected[1] < 1.0
    assert precision_recall(real, fake, k=k, batch_size=17) == pytest.approx(expected, abs=1e-12)
    assert precision_recall(torch.from_numpy(real), torch.from_numpy(fake), k=k) == pytest.approx(expected, abs=1e-12)


def test_precision_recall_limits() -> None:
    rng = np.random.default_rng(12)
    real = rng.normal(size=(60, 8))
    assert precision_recall(real, real.copy(), batch_size=7) == (1.0, 1.0)
    assert precision_recall(real, rng.normal(size=(50, 8)) + 100.0) == (0.0, 0.0)
    with pytest.raises(ValueError, match="at least 4 samples"):
        precision_recall(real[:3], real, k=3)


def test_against_reference_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cross-check with pytorch-fid and torch-fidelity (test extras), where installed."""
    import inspect

    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    if "disp" not in inspect.signature(scipy.linalg.sqrtm).parameters:
        # scipy 1.18 dropped sqrtm's `disp`, which pytorch-fid 0.3 still passes; give it back, same root
        original = scipy.linalg.sqrtm

        def sqrtm(a: np.ndarray, disp: bool = True) -> Any:
            root = original(a)
            return root if disp else (root, np.linalg.norm(root @ root - a, "fro") ** 2 / np.linalg.norm(a, "fro"))

        monkeypatch.setattr(fid_score.linalg, "sqrtm", sqrtm)
    metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
    metric_isc = pytest.importorskip("torch_fidelity.metric_isc")
    rng = np.random.default_rng(13)
    f1, f2 = rng.normal(size=(200, 16)), rng.normal(size=(150, 16)) * 0.8 + 0.1
    mu1, s1, mu2, s2 = f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # sqrtm's `disp` argument
        expected = fid_score.calculate_frechet_distance(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)

    # One subset of all rows: torch-fidelity's own subset draw is then just a
    # permutation, to which unbiased MMD^2 is invariant.
    ref = metric_kid.kid_features_to_metric(
        torch.from_numpy(f1[:150]), torch.from_numpy(f2), kid_subsets=1, kid_subset_size=150, verbose=False
    )
    ours = kernel_inception_distance(f1[:150], f2, subsets=1, subset_size=150)
    assert ours[0] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-8)

    logits = torch.from_numpy(rng.normal(size=(120, 10)) * 2)
    ref = metric_isc.isc_features_to_metric(logits, splits=7, shuffle=False)
    ours = inception_score(logits, splits=7)
    assert ours == pytest.approx((ref["inception_score_mean"], ref["inception_score_std"]), rel=1e-10)
