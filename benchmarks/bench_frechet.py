"""Benchmark ganzoo's eigen-form Fréchet distance against pytorch-fid's scipy sqrtm route.

Run from the repository root:

    python benchmarks/bench_frechet.py            # D=2048, N=10000, 3 repeats

Prints the machine, median wall times, the speed-up, both FD values and their
relative difference, and the StreamingMoments update throughput.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import scipy
import scipy.linalg
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganzoo.metrics import StreamingMoments, frechet_distance  # noqa: E402
from ganzoo.metrics.generation import _trace_sqrt_product  # noqa: E402


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, falling back to platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> str:
    return "\n".join(
        [
            f"date:     {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
            f"cpu:      {cpu_model()} ({os.cpu_count()} logical CPUs visible)",
            f"platform: {platform.platform()}",
            f"python:   {platform.python_version()}",
            f"torch:    {torch.__version__} (threads: {torch.get_num_threads()}, BLAS: "
            f"{'MKL' if torch.backends.mkl.is_available() else 'other'})",
            f"numpy:    {np.__version__} (BLAS threads: {blas_threads()})",
            f"scipy:    {scipy.__version__}",
        ]
    )


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown"
    return ", ".join(f"{i['internal_api']}={i['num_threads']}" for i in threadpool_info())


def realistic_features(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Inception-like pool features: non-negative, correlated, decaying spectrum."""
    rng = np.random.default_rng(seed)
    # A mixing matrix with a power-law spectrum gives covariances whose
    # eigenvalues span several orders of magnitude, like real Inception stats.
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scales = 0.6 * (1.0 + np.arange(d) / 8.0) ** -0.8
    z = rng.normal(size=(n, d)) * scales
    return np.maximum(z @ q.T + 0.3 + shift, 0.0)


def fd_scipy_sqrtm(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm of the product)."""
    diff = mu1 - mu2
    takes_disp = "disp" in inspect.signature(scipy.linalg.sqrtm).parameters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # `disp` is deprecated in scipy >= 1.16
        if takes_disp:
            covmean, _ = scipy.linalg.sqrtm(sigma1.dot(sigma2), disp=False)
        else:  # scipy >= 1.18 removed `disp`
            covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
        covmean = covmean[0] if isinstance(covmean, tuple) else covmean
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def time_it(fn: Callable[[], float], repeats: int) -> tuple[float, float]:
    """Median wall time over ``repeats`` runs and the (last) returned value."""
    times, value = [], float("nan")
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def bench_frechet(d: int, n: int, repeats: int) -> None:
    print(f"## Fréchet distance: D={d}, covariances of N={n} random Inception-like features, {repeats} repeats")
    f1, f2 = realistic_features(n, d, seed=0), realistic_features(n, d, seed=1, shift=0.02)
    mu1, s1 = f1.mean(0), np.cov(f1, rowvar=False)
    mu2, s2 = f2.mean(0), np.cov(f2, rowvar=False)
    del f1, f2
    t_mu1, t_s1, t_mu2, t_s2 = (torch.from_numpy(a) for a in (mu1, s1, mu2, s2))

    def eigh_route() -> float:
        # The fallback path (S1 singular) forced on, for reference.
        diff = t_mu1 - t_mu2
        tr = _trace_sqrt_product(t_s1, t_s2, "eigh")
        return float(diff @ diff + t_s1.trace() + t_s2.trace() - 2 * tr)

    frechet_distance(t_mu1, t_s1, t_mu2, t_s2)  # warm-up: thread pools and LAPACK workspaces
    # Each method's repeats run back to back so that the two BLAS libraries'
    # thread pools (MKL/OpenMP for torch, OpenBLAS for scipy) never interleave.
    t_ours, v_ours = time_it(lambda: frechet_distance(t_mu1, t_s1, t_mu2, t_s2), repeats)
    t_eigh, v_eigh = time_it(eigh_route, repeats)
    t_ref, v_ref = time_it(lambda: fd_scipy_sqrtm(mu1, s1, mu2, s2), repeats)
    rel = lambda v: abs(v - v_ref) / abs(v_ref)  # noqa: E731
    print(f"ganzoo frechet_distance (Cholesky path): median {t_ours:8.3f} s   FD = {v_ours:.10f}")
    print(f"ganzoo eigh fallback path:               median {t_eigh:8.3f} s   FD = {v_eigh:.10f}")
    print(f"pytorch-fid scipy sqrtm:                 median {t_ref:8.3f} s   FD = {v_ref:.10f}")
    print(f"speed-up vs sqrtm: {t_ref / t_ours:.1f}x (Cholesky path), {t_ref / t_eigh:.1f}x (eigh path)")
    print(f"relative difference vs sqrtm: {rel(v_ours):.2e} (Cholesky path), {rel(v_eigh):.2e} (eigh path)")


def bench_moments(d: int, batch: int, batches: int) -> None:
    print(f"## StreamingMoments.update: D={d}, batches of {batch} float32 features")
    feats = torch.randn(batch, d)
    acc = StreamingMoments(d)
    acc.update(feats)  # warm-up
    t0 = time.perf_counter()
    for _ in range(batches):
        acc.update(feats)
    dt = time.perf_counter() - t0
    print(f"{batches * batch / dt:,.0f} samples/s ({dt / batches * 1e3:.1f} ms per batch)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=2048, help="feature dimension D")
    parser.add_argument("--samples", type=int, default=10000, help="samples per feature set")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method")
    parser.add_argument("--moment-batch", type=int, default=500, help="batch size for the moments benchmark")
    parser.add_argument("--moment-batches", type=int, default=20, help="number of batches for the moments benchmark")
    parser.add_argument("--threads", type=int, default=None, help="limit torch and BLAS threads (default: as-is)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        try:  # threadpoolctl (a scikit-learn dependency) also caps numpy/scipy's OpenBLAS
            from threadpoolctl import threadpool_limits

            threadpool_limits(args.threads)
        except ImportError:
            print("threadpoolctl not installed: only torch's thread count is limited")
    print(machine_info())
    print(f"command:  python {' '.join(sys.argv)}")
    bench_frechet(args.dim, args.samples, args.repeats)
    bench_moments(args.dim, args.moment_batch, args.moment_batches)


if __name__ == "__main__":
    main()
