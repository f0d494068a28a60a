"""Streaming first and second moments of feature vectors.

Reference statistics for FID are computed over tens of thousands of images that
never fit in memory at once, so the mean and covariance are accumulated batch by
batch and merged with the pairwise update of Chan, Golub & LeVeque (1979). All
accumulation happens in float64: summing 50k outer products in float32 loses
several digits, which shows up directly in the FID value.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["StreamingMoments"]

_STATE_VERSION = 1


class StreamingMoments:
    """Float64 streaming mean and covariance of ``(N, D)`` feature batches.

    The state is ``(n, mean, m2)`` where ``m2`` is the sum of outer products of
    deviations from the running mean; batches are folded in with Chan et al.'s
    parallel algorithm, which is exact (up to rounding) for any batch split.

    Example:
        >>> acc = StreamingMoments()
        >>> for feats in loader:  # doctest: +SKIP
        ...     acc.update(feats)
        >>> mu, sigma = acc.mean, acc.cov  # doctest: +SKIP

    Args:
        dim: Feature dimension ``D``. If omitted it is taken from the first batch.
        device: Device on which the accumulators live (default: CPU).
    """

    def __init__(self, dim: int | None = None, *, device: torch.device | str | None = None) -> None:
        if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim < 1):
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        self._device = torch.device(device) if device is not None else torch.device("cpu")
        self._n = 0
        self._dim = dim
        self._mean: Tensor | None = None
        self._m2: Tensor | None = None
        if dim is not None:
            self._reset(dim)

    def _reset(self, dim: int) -> None:
        self._dim = dim
        self._mean = torch.zeros(dim, dtype=torch.float64, device=self._device)
        self._m2 = torch.zeros(dim, dim, dtype=torch.float64, device=self._device)

    @property
    def n(self) -> int:
        """Number of feature vectors seen so far."""
        return self._n

    @property
    def dim(self) -> int | None:
        """Feature dimension ``D`` (``None`` until the first batch)."""
        return self._dim

    @property
    def mean(self) -> Tensor:
        """Float64 mean vector of shape ``(D,)``.

        Raises:
            ValueError: If no samples have been seen.
        """
        if self._n == 0 or self._mean is None:
            raise ValueError("StreamingMoments.mean is undefined: no samples seen yet")
        return self._mean.clone()

    @property
    def cov(self) -> Tensor:
        """Unbiased float64 covariance ``m2 / (n - 1)`` of shape ``(D, D)``.

        The ``N - 1`` normalisation matches ``numpy.cov`` (its default), which is
        what pytorch-fid and torch-fidelity use for FID reference statistics.

        Raises:
            ValueError: If fewer than two samples have been seen.
        """
        if self._n < 2 or self._m2 is None:
            raise ValueError(f"StreamingMoments.cov needs at least 2 samples, have {self._n}")
        return self._m2 / (self._n - 1)

    def _fold(self, n_b: int, mean_b: Tensor, m2_b: Tensor) -> None:
        """Merge a block with statistics ``(n_b, mean_b, m2_b)`` into this one."""
        assert self._mean is not None and self._m2 is not None
        n_a = self._n
        n = n_a + n_b
        delta = mean_b - self._mean
        # Chan et al.: the cross term n_a n_b / n * delta delta^T accounts for the
        # two blocks having different means, so m2 stays a sum of deviations from
        # the *joint* mean without ever revisiting old samples.
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + torch.outer(delta, delta) * (n_a * n_b / n)
        self._n = n

    def update(self, feats: Tensor) -> StreamingMoments:
        """Fold a batch of feature vectors into the running statistics.

        Args:
            feats: Floating tensor of shape ``(N, D)``; cast to float64.

        Returns:
            ``self``, so calls can be chained.

        Raises:
            ValueError: On a wrong rank, a dimension mismatch or non-finite values.
        """
        if not isinstance(feats, Tensor):
            raise ValueError(f"feats must be a torch.Tensor, got {type(feats).__name__}")
        if feats.ndim != 2:
            raise ValueError(f"feats must have shape (N, D), got {tuple(feats.shape)}")
        if self._dim is None:
            self._reset(feats.shape[1])
        if feats.shape[1] != self._dim:
            raise ValueError(f"feature dimension mismatch: expected D={self._dim}, got {feats.shape[1]}")
        if feats.shape[0] == 0:
            return self
        x = feats.detach().to(device=self._device, dtype=torch.float64)
        if not torch.isfinite(x).all():
            raise ValueError("feats contains NaN or Inf")
        mean_b = x.mean(dim=0)
        # Centre the batch on its own mean before the Gram product: the naive
        # sum(x x^T) - n mu mu^T formula cancels catastrophically for large means.
        xc = x - mean_b
        self._fold(x.shape[0], mean_b, xc.T @ xc)
        return self

    def merge(self, other: StreamingMoments) -> StreamingMoments:
        """Merge another accumulator (e.g. from another process) into this one.

        Args:
            other: Accumulator over a disjoint set of samples; left unchanged.

        Returns:
            ``self``.

        Raises:
            ValueError: If the feature dimensions differ.
        """
        if not isinstance(other, StreamingMoments):
            raise ValueError(f"can only merge a StreamingMoments, got {type(other).__name__}")
        if other._n == 0:
            return self
        assert other._dim is not None and other._mean is not None and other._m2 is not None  # set by its first update
        if self._dim is None:
            self._reset(other._dim)
        if other._dim != self._dim:
            raise ValueError(f"feature dimension mismatch: {self._dim} vs {other._dim}")
        self._fold(other._n, other._mean.to(self._device), other._m2.to(self._device))
        return self

    def state_dict(self) -> dict[str, int | Tensor]:
        """Return the state as plain ints and CPU tensors.

        The dict loads with ``torch.load(..., weights_only=True)``, so cached
        reference statistics never need pickle.
        """
        dim = self._dim if self._dim is not None else 0
        mean = self._mean if self._mean is not None else torch.zeros(0, dtype=torch.float64)
        m2 = self._m2 if self._m2 is not None else torch.zeros(0, 0, dtype=torch.float64)
        return {"version": _STATE_VERSION, "n": self._n, "dim": dim, "mean": mean.cpu(), "m2": m2.cpu()}

    @classmethod
    def from_state_dict(
        cls, state: dict[str, int | Tensor], *, device: torch.device | str | None = None
    ) -> StreamingMoments:
        """Rebuild an accumulator from :meth:`state_dict` output.

        Args:
            state: Dict with keys ``version``, ``n``, ``dim``, ``mean``, ``m2``.
            device: Device for the accumulators (default: CPU).

        Raises:
            ValueError: If keys are missing or shapes are inconsistent.
        """
        missing = {"version", "n", "dim", "mean", "m2"} - set(state)
        if missing:
            raise ValueError(f"StreamingMoments state is missing keys {sorted(missing)}")
        if state["version"] != _STATE_VERSION:
            raise ValueError(f"unsupported StreamingMoments state version {state['version']!r}")
        n, dim, mean, m2 = int(state["n"]), int(state["dim"]), state["mean"], state["m2"]
        if not isinstance(mean, Tensor) or not isinstance(m2, Tensor):
            raise ValueError("StreamingMoments state 'mean' and 'm2' must be tensors")
        bad_shape = dim > 0 and (mean.shape != (dim,) or m2.shape != (dim, dim))
        if n < 0 or dim < 0 or (n > 0 and dim == 0) or bad_shape:
            raise ValueError(f"inconsistent StreamingMoments state: n={n}, dim={dim}, mean {tuple(mean.shape)}")
        acc = cls(dim if dim > 0 else None, device=device)
        if dim > 0:
            acc._mean = mean.to(acc._device, torch.float64).clone()
            acc._m2 = m2.to(acc._device, torch.float64).clone()
        acc._n = n
        return acc

    def __repr__(self) -> str:
        return f"StreamingMoments(n={self._n}, dim={self._dim})"
