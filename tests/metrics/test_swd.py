"""Sliced Wasserstein distance (ProGAN): pyramid, patches, the 1-D distance, and the metric component."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganzoo.evaluation import EvalContext, evaluate
from ganzoo.metrics.swd import (
    laplacian_pyramid,
    patch_descriptors,
    pyr_down,
    pyr_up,
    pyramid_levels,
    sliced_wasserstein,
    sliced_wasserstein_distance,
)
from tests.test_evaluation import ReplayTask


def test_laplacian_pyramid_rebuilds_the_image_exactly() -> None:
    x = torch.rand(2, 3, 32, 32, dtype=torch.float64)
    pyr = laplacian_pyramid(x, 3)
    assert [p.shape[-1] for p in pyr] == [32, 16, 8]
    rebuilt = pyr[-1]
    for band in reversed(pyr[:-1]):
        rebuilt = band + pyr_up(rebuilt)
    assert torch.allclose(rebuilt, x, atol=1e-12)
    with pytest.raises(ValueError, match="divisible by 4"):
        laplacian_pyramid(torch.rand(1, 1, 18, 18), 3)


def test_pyr_down_and_up_match_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    a = np.random.default_rng(0).random((16, 16))
    t = torch.from_numpy(a)[None, None]
    assert np.abs(cv2.pyrDown(a) - pyr_down(t)[0, 0].numpy()).max() < 1e-12
    assert np.abs(cv2.pyrUp(a) - pyr_up(t)[0, 0].numpy()).max() < 1e-12


def test_patch_descriptors_are_the_drawn_neighbourhoods() -> None:
    x = torch.arange(2 * 3 * 10 * 12, dtype=torch.float64).reshape(2, 3, 10, 12)
    desc = patch_descriptors(x, 4, 5, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    ys, xs = torch.randint(0, 6, (2, 4), generator=g), torch.randint(0, 8, (2, 4), generator=g)
    assert desc.shape == (8, 3, 5, 5)
    for b in range(2):
        for p in range(4):
            y, xx = int(ys[b, p]), int(xs[b, p])
            assert torch.equal(desc[b * 4 + p], x[b, :, y:y + 5, xx:xx + 5])


def test_sliced_wasserstein_is_exact_in_one_dimension_and_size_free() -> None:
    from scipy.stats import wasserstein_distance

    rng = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 1, generator=rng), 2 + 0.5 * torch.randn(500, 1, generator=rng)
    g = torch.Generator().manual_seed(0)
    # With one dimension every unit direction is +-1: the exact 1-D W1.
    assert sliced_wasserstein(a, b, directions=8, generator=g) == pytest.approx(wasserstein_distance(a[:, 0], b[:, 0]), rel=1e-9)
    # A set repeated is the same distribution: unequal sizes are read at common quantiles.
    c, d = torch.randn(300, 5, generator=rng), torch.randn(300, 5, generator=rng) * 1.5
    one = sliced_wasserstein(c, d, generator=torch.Generator().manual_seed(1))
    twice = sliced_wasserstein(c, d.repeat(2, 1), generator=torch.Generator().manual_seed(1))
    assert twice == pytest.approx(one, rel=1e-9)
    assert sliced_wasserstein(c, c, generator=g) == 0.0
    with pytest.raises(ValueError, match="one D"):
        sliced_wasserstein(c, torch.randn(3, 4), generator=g)


def test_normalisation_by_the_real_set_sees_contrast_progans_does_not() -> None:
    rng = torch.Generator().manual_seed(0)
    smooth = pyr_up(pyr_up(torch.rand(64, 1, 8, 8, generator=rng, dtype=torch.float64)))

    def descs(x: torch.Tensor) -> list[torch.Tensor]:
        return [patch_descriptors(level, 32, 7, torch.Generator().manual_seed(1)) for level in laplacian_pyramid(x, 2)]

    washed_out = 0.3 * smooth + 0.5
    assert max(sliced_wasserstein_distance(descs(smooth), descs(washed_out), normalize="each")) < 1e-6  # ProGAN: invisible
    assert min(sliced_wasserstein_distance(descs(smooth), descs(washed_out))) > 100  # the default standardises by the reals
    noise = 0.2 * torch.randn(smooth.shape, generator=rng, dtype=torch.float64)
    for norm in ("real", "each"):
        noisy = sliced_wasserstein_distance(descs(smooth), descs(smooth + noise), normalize=norm)
        assert noisy[0] > 100 and noisy[0] > noisy[1]  # added noise lives in the fine band


def test_pyramid_levels_follow_progan() -> None:
    assert [pyramid_levels(s) for s in (16, 32, 64, 1024)] == [1, 2, 3, 7]
    with pytest.raises(ValueError, match="8 px"):
        pyramid_levels(8)


def test_swd_metric_orders_noise_and_records_protocol(registries) -> None:
    ds = registries.build("dataset", "digits", {"size": 32, "limit": 12})
    metric = registries.build("metric", "swd", {"n": 12, "patches_per_image": 16, "directions": 64})

    def score(noise: float) -> dict[str, float]:
        ctx = EvalContext(ReplayTask(ds, noise), torch.nn.Identity(), ds, "digits32-12", torch.device("cpu"), batch_size=5)
        return evaluate(ctx, [metric]).values

    clean, noisy = score(0.0), score(0.5)
    assert set(clean) == {"swd_n12", "swd_n12_32px", "swd_n12_16px"}
    assert clean["swd_n12"] == pytest.approx((clean["swd_n12_32px"] + clean["swd_n12_16px"]) / 2)
    assert noisy["swd_n12_32px"] > 2 * clean["swd_n12_32px"]
    assert score(0.0) == clean  # seeded: the same run scores the same
    proto = metric.protocol()
    assert proto["levels_px"] == [32, 16] and proto["n_real"] == 12 and proto["patches_per_image"] == 16
    assert proto["descriptor_norm"] == "per channel, by the real set"
