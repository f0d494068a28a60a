"""StreamingMoments against two-pass numpy mean / numpy.cov."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from ganzoo.metrics import StreamingMoments


def features(seed: int, n: int = 1003, d: int = 17) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Large common offset and correlated columns: the case where a naive
    # sum-of-squares formula would lose digits.
    mix = rng.normal(size=(d, d))
    return rng.normal(size=(n, d)) @ mix + 1e3


def feed(acc: StreamingMoments, x: np.ndarray, sizes: list[int], dtype: torch.dtype = torch.float64) -> None:
    start = 0
    for s in sizes:
        acc.update(torch.from_numpy(x[start : start + s]).to(dtype))
        start += s
    assert start == len(x)


def assert_matches_numpy(acc: StreamingMoments, x: np.ndarray) -> None:
    assert acc.n == len(x)
    np.testing.assert_allclose(acc.mean.numpy(), x.mean(axis=0), rtol=1e-10, atol=0)
    exp_cov = np.cov(x, rowvar=False)
    err = np.abs(acc.cov.numpy() - exp_cov).max() / np.abs(exp_cov).max()
    assert err <= 1e-10


def test_uneven_batches_match_numpy() -> None:
    x = features(0)
    acc = StreamingMoments()
    feed(acc, x, [1, 2, 500, 0, 37, 1, 462])
    assert_matches_numpy(acc, x)
    assert acc.mean.dtype == torch.float64 and acc.cov.dtype == torch.float64
    assert acc.cov.shape == (17, 17) and acc.dim == 17


def test_float32_input_is_accumulated_in_float64() -> None:
    x = features(1).astype(np.float32)
    acc = StreamingMoments(17)
    feed(acc, x, [100] * 10 + [3])
    assert_matches_numpy(acc, x.astype(np.float64))


def test_merge_equals_single_stream() -> None:
    x = features(2)
    one = StreamingMoments()
    feed(one, x, [300, 703])
    a, b = StreamingMoments(), StreamingMoments()
    feed(a, x[:411], [11, 400])
    feed(b, x[411:], [592])
    merged = a.merge(b)
    assert merged is a and a.n == one.n
    torch.testing.assert_close(a.mean, one.mean, rtol=1e-12, atol=0)
    torch.testing.assert_close(a.cov, one.cov, rtol=1e-10, atol=1e-10)
    assert_matches_numpy(a, x)
    # Merging into / from an empty accumulator is the identity.
    empty = StreamingMoments()
    empty.merge(one)
    torch.testing.assert_close(empty.cov, one.cov, rtol=0, atol=0)
    one.merge(StreamingMoments())
    assert one.n == len(x)


def test_state_dict_round_trip_weights_only() -> None:
    x = features(3, n=50, d=5)
    acc = StreamingMoments()
    feed(acc, x, [20, 30])
    buf = io.BytesIO()
    torch.save(acc.state_dict(), buf)
    buf.seek(0)
    restored = StreamingMoments.from_state_dict(torch.load(buf, weights_only=True))
    assert restored.n == acc.n and restored.dim == acc.dim
    torch.testing.assert_close(restored.mean, acc.mean, rtol=0, atol=0)
    torch.testing.assert_close(restored.cov, acc.cov, rtol=0, atol=0)
    # The restored accumulator keeps streaming correctly.
    more = features(4, n=30, d=5)
    restored.update(torch.from_numpy(more))
    assert_matches_numpy(restored, np.concatenate([x, more]))
    # An empty accumulator round-trips too.
    buf = io.BytesIO()
    torch.save(StreamingMoments().state_dict(), buf)
    buf.seek(0)
    assert StreamingMoments.from_state_dict(torch.load(buf, weights_only=True)).n == 0


def test_errors() -> None:
    acc = StreamingMoments(4)
    with pytest.raises(ValueError, match="no samples"):
        _ = acc.mean
    acc.update(torch.ones(1, 4))
    with pytest.raises(ValueError, match="at least 2"):
        _ = acc.cov
    with pytest.raises(ValueError, match="dimension mismatch"):
        acc.update(torch.ones(3, 5))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        acc.update(torch.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        acc.update(torch.full((2, 4), float("nan")))
    with pytest.raises(ValueError, match="missing keys"):
        StreamingMoments.from_state_dict({"n": 3})
