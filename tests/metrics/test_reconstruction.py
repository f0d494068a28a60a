"""PSNR / SSIM / MS-SSIM / L1 against skimage and independent numpy oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from scipy.signal import convolve2d
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ganzoo.metrics import l1, ms_ssim, psnr, ssim

TOL = 1e-6


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def random_pair(seed: int, b: int = 2, c: int = 3, h: int = 37, w: int = 45, smooth: bool = False):
    """Two uint8 batches (torch) whose second element is a noisy copy of the first."""
    rng = _rng(seed)
    x = rng.uniform(0, 255, size=(b, c, h, w))
    if smooth:
        x = gaussian_filter(x, sigma=(0, 0, 2.5, 2.5)) * 2.0 - 100.0
    y = x + rng.normal(0, 12.0, size=x.shape)
    to_u8 = lambda a: torch.from_numpy(np.clip(np.round(a), 0, 255).astype(np.uint8))  # noqa: E731
    return to_u8(x), to_u8(y)


def y_numpy(img: np.ndarray) -> np.ndarray:
    """BT.601 Y of a (3, H, W) uint8 RGB image, float64 on 0..255 (BasicSR formula)."""
    rgb = img.astype(np.float64) / 255.0
    return 16.0 + 65.481 * rgb[0] + 128.553 * rgb[1] + 24.966 * rgb[2]


def oracle_images(a: torch.Tensor, crop: int, y: bool) -> list[np.ndarray]:
    """Per-image numpy arrays (H, W, C) or (H, W) as fed to skimage."""
    out = []
    for img in a.numpy():
        arr = y_numpy(img)[None] if y else img.astype(np.float64)
        if crop:
            arr = arr[:, crop:-crop, crop:-crop]
        out.append(arr)
    return out


def sk_ssim(x: np.ndarray, y: np.ndarray) -> float:
    return structural_similarity(
        x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=0
    )


@pytest.mark.parametrize("smooth", [False, True])
@pytest.mark.parametrize("y_channel", [False, True])
@pytest.mark.parametrize("crop", [0, 4])
def test_psnr_ssim_l1_match_skimage(smooth: bool, y_channel: bool, crop: int) -> None:
    a, b = random_pair(seed=1 + crop + 2 * y_channel, smooth=smooth)
    xs, ys = oracle_images(a, crop, y_channel), oracle_images(b, crop, y_channel)
    exp_psnr = [peak_signal_noise_ratio(x, y, data_range=255) for x, y in zip(xs, ys)]
    exp_ssim = [sk_ssim(x, y) for x, y in zip(xs, ys)]
    exp_l1 = [np.abs(x - y).mean() / 255.0 for x, y in zip(xs, ys)]
    kw = dict(crop_border=crop, y_channel=y_channel)
    np.testing.assert_allclose(psnr(a, b, reduction="none", **kw).numpy(), exp_psnr, rtol=0, atol=TOL)
    np.testing.assert_allclose(ssim(a, b, reduction="none", **kw).numpy(), exp_ssim, rtol=0, atol=TOL)
    np.testing.assert_allclose(l1(a, b, reduction="none", **kw).numpy(), exp_l1, rtol=0, atol=TOL)
    assert psnr(a, b, **kw) == pytest.approx(np.mean(exp_psnr), abs=TOL)
    assert ssim(a, b, **kw) == pytest.approx(np.mean(exp_ssim), abs=TOL)
    # Smoothed images must exercise SSIM well away from 0 so the check is meaningful.
    if smooth:
        assert min(exp_ssim) > 0.3


def test_grey_images_match_skimage() -> None:
    a, b = random_pair(seed=7, c=1, smooth=True)
    for i in range(a.shape[0]):
        x, y = a[i, 0].numpy(), b[i, 0].numpy()
        exp = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
        assert ssim(a[i : i + 1], b[i : i + 1]) == pytest.approx(exp, abs=TOL)
        assert psnr(a[i : i + 1], b[i : i + 1]) == pytest.approx(peak_signal_noise_ratio(x, y, data_range=255), abs=TOL)


def test_y_channel_range_and_known_values() -> None:
    black = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)
    white = torch.full((1, 3, 16, 16), 255, dtype=torch.uint8)
    # Y(black) = 16, Y(white) = 235, so MSE = 219^2 and L1 = 219/255 exactly.
    assert psnr(black, white, y_channel=True) == pytest.approx(10 * math.log10(255**2 / 219**2), abs=1e-9)
    assert l1(black, white, y_channel=True) == pytest.approx(219 / 255, abs=1e-9)


def test_identical_images() -> None:
    a, _ = random_pair(seed=3, h=180, w=180, smooth=True)
    assert psnr(a, a) == math.inf
    assert l1(a, a) == 0.0
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert ms_ssim(a, a) == pytest.approx(1.0, abs=1e-12)


def ms_ssim_numpy(x: np.ndarray, y: np.ndarray) -> float:
    """Independent MS-SSIM of one (C, H, W) float64 pair: 2-D 'valid' convolution per channel."""
    weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    win = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for xc, yc in zip(x, y):
        prod = 1.0
        for s, wgt in enumerate(weights):
            f = lambda a: convolve2d(a, win, mode="valid")  # noqa: E731  (symmetric window: conv == corr)
            mx, my = f(xc), f(yc)
            vx, vy, cxy = f(xc * xc) - mx**2, f(yc * yc) - my**2, f(xc * yc) - mx * my
            cs = (2 * cxy + c2) / (vx + vy + c2)
            if s == len(weights) - 1:
                term = np.mean((2 * mx * my + c1) / (mx**2 + my**2 + c1) * cs)
            else:
                term = np.mean(cs)
                hh, ww = xc.shape[0] // 2 * 2, xc.shape[1] // 2 * 2
                pool = lambda a: a[:hh, :ww].reshape(hh // 2, 2, ww // 2, 2).mean(axis=(1, 3))  # noqa: E731
                xc, yc = pool(xc), pool(yc)
            prod *= max(term, 0.0) ** wgt
        vals.append(prod)
    return float(np.mean(vals))


def test_ms_ssim_matches_numpy_oracle_and_decreases_with_noise() -> None:
    rng = _rng(11)
    base = gaussian_filter(rng.uniform(0, 255, size=(1, 3, 181, 190)), sigma=(0, 0, 3, 3)) * 3 - 250
    clean = torch.from_numpy(np.clip(np.round(base), 0, 255).astype(np.uint8))
    previous = 1.0
    for sigma in (2.0, 8.0, 25.0, 60.0):
        noisy_np = np.clip(np.round(base + rng.normal(0, sigma, size=base.shape)), 0, 255)
        noisy = torch.from_numpy(noisy_np.astype(np.uint8))
        value = ms_ssim(clean, noisy)
        expected = ms_ssim_numpy(clean[0].numpy().astype(np.float64), noisy_np[0])
        assert value == pytest.approx(expected, abs=TOL)
        assert value < previous
        previous = value
    y_val = ms_ssim(clean, noisy, y_channel=True, crop_border=2)
    assert 0.0 < y_val < 1.0


@pytest.mark.parametrize("metric", [psnr, ssim, l1, ms_ssim])
def test_batch_size_invariance(metric) -> None:
    a, b = random_pair(seed=5, b=4, h=176, w=180, smooth=True)
    full = metric(a, b, reduction="none")
    assert full.dtype == torch.float64 and full.shape == (4,)
    singles = torch.stack([metric(a[i : i + 1], b[i : i + 1], reduction="none")[0] for i in range(4)])
    pair = metric(a[1:3], b[1:3], reduction="none")
    torch.testing.assert_close(full, singles, rtol=0, atol=1e-12)
    torch.testing.assert_close(full[1:3], pair, rtol=0, atol=1e-12)
    assert metric(a, b) == pytest.approx(full.mean().item(), abs=1e-12)


def test_hole_only_variants() -> None:
    a, b = random_pair(seed=9, h=40, w=48)
    ones = torch.ones(a.shape[0], 1, 40, 48)
    for metric in (psnr, ssim, l1):
        full = metric(a, b, reduction="none", crop_border=2)
        torch.testing.assert_close(metric(a, b, mask=ones, reduction="none", crop_border=2), full, rtol=0, atol=1e-12)

    # Change only the left half; a hole on the (unchanged) right half sees no error.
    b2 = a.clone()
    b2[..., :24] = b[..., :24]
    right = torch.zeros_like(ones)
    right[..., 24:] = 1.0
    assert psnr(a, b2, mask=right) == math.inf
    assert l1(a, b2, mask=right) == 0.0
    # Hole metrics over the changed half equal the full metrics of that half.
    left = 1.0 - right
    assert psnr(a, b2, mask=left) == pytest.approx(psnr(a[..., :24], b2[..., :24]), abs=1e-9)
    assert l1(a, b2, mask=left) == pytest.approx(l1(a[..., :24], b2[..., :24]), abs=1e-12)
    # Masked SSIM = weighted mean of the numpy SSIM map over the hole (valid region).
    x, y = a[0].numpy().astype(np.float64), b2[0].numpy().astype(np.float64)
    _, smap = structural_similarity(
        x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=0, full=True
    )
    m = left[0, 0, 5:-5, 5:-5].numpy()
    expected = (smap[:, 5:-5, 5:-5] * m).sum() / (m.sum() * 3)
    assert ssim(a[:1], b2[:1], mask=left[:1]) == pytest.approx(expected, abs=TOL)


def test_soft_mask_weights() -> None:
    a, b = random_pair(seed=2, b=1, h=20, w=20)
    mask = torch.from_numpy(_rng(0).uniform(0, 1, size=(1, 1, 20, 20)))
    d2 = (a.double() - b.double()) ** 2
    mse = (d2 * mask).sum() / (mask.sum() * 3)
    assert psnr(a, b, mask=mask) == pytest.approx(10 * math.log10(255**2 / mse.item()), abs=1e-9)


def test_validation_errors() -> None:
    a = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8"):
        psnr(a.float(), a.float())
    with pytest.raises(ValueError, match="same shape"):
        ssim(a, a[:, :, :30])
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        l1(a[0], a[0])
    with pytest.raises(ValueError, match="crop_border"):
        psnr(a, a, crop_border=16)
    with pytest.raises(ValueError, match="crop_border"):
        ssim(a, a, crop_border=11)  # leaves 10x10 < one SSIM window
    with pytest.raises(ValueError, match="crop_border"):
        psnr(a, a, crop_border=-1)
    with pytest.raises(ValueError, match="176"):
        ms_ssim(a, a)
    with pytest.raises(ValueError, match="y_channel"):
        psnr(a[:, :1], a[:, :1], y_channel=True)
    with pytest.raises(ValueError, match="mask must have shape"):
        psnr(a, a, mask=torch.ones(2, 3, 32, 32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        l1(a, a, mask=torch.full((2, 1, 32, 32), 2.0))
    with pytest.raises(ValueError, match="no hole pixels"):
        psnr(a, a, mask=torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="reduction"):
        psnr(a, a, reduction="sum")  # type: ignore[arg-type]
