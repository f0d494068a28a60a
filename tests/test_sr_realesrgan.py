"""Real-ESRGAN: blur kernels against their definitions, batched JPEG, the second-order pipeline, the U-Net D, runs."""

from __future__ import annotations

import copy
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ganzoo_sr.degradation import bicubic_down
from ganzoo_sr.jpeg import jpeg, quality_tables
from ganzoo_sr.kernels import (
    anisotropic_gaussian,
    apply_kernels,
    generalized_gaussian,
    plateau,
    random_kernels,
    sinc,
)
from ganzoo_sr.realesrgan import add_noise, degrade
from ganzoo_sr.realesrgan_params import NoiseResizeJpegParams, RealESRGANParams
from ganzoo_sr.unet_d import UNetDiscriminatorSN
from PIL import Image
from scipy import special

from ganzoo.api import resume_spec
from ganzoo.engine.run import Run
from ganzoo.plugin.registry import Registries
from ganzoo.spec.model import SpecError, validate_spec

K = 21


def T(values: list[float]) -> torch.Tensor:
    """float64 parameters, so the kernels can be compared with NumPy to 1e-12."""
    return torch.tensor(values, dtype=torch.float64)


def _offsets(size: int = K) -> tuple[np.ndarray, np.ndarray]:
    ax = np.arange(size) - (size - 1) / 2
    yy, xx = np.meshgrid(ax, ax, indexing="ij")
    return xx, yy


def _inside(k: int, size: int = K) -> np.ndarray:
    xx, yy = _offsets(size)
    return (np.abs(xx) <= (k - 1) / 2) & (np.abs(yy) <= (k - 1) / 2)


def _normalised(k: np.ndarray, support: np.ndarray) -> np.ndarray:
    k = np.where(support, k, 0.0)
    return k / k.sum()


def _quad(sx: float, sy: float, theta: float) -> np.ndarray:
    """c^T S^-1 c with S = R diag(sx^2, sy^2) R^T built and inverted explicitly."""
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    inv = np.linalg.inv(rot @ np.diag([sx**2, sy**2]) @ rot.T)
    xx, yy = _offsets()
    c = np.stack([xx, yy], -1)  # (K, K, 2), x along columns
    return np.einsum("...i,ij,...j->...", c, inv, c)


# ---------------------------------------------------------------- kernels


def test_isotropic_gaussian_is_the_normalised_analytic_gaussian() -> None:
    xx, yy = _offsets()
    for sigma, k in [(0.7, 7), (2.5, 15), (3.0, 21)]:
        want = _normalised(np.exp(-(xx**2 + yy**2) / (2 * sigma**2)), _inside(k))
        got = anisotropic_gaussian(T([sigma]), T([sigma]), T([0.0]), T([k]))[0].numpy()
        np.testing.assert_allclose(got, want, atol=1e-12)
        assert got.sum() == pytest.approx(1.0) and not got[~_inside(k)].any()


def test_anisotropic_gaussian_has_the_rotated_covariance() -> None:
    sx, sy, theta = 2.0, 0.8, 0.6
    got = anisotropic_gaussian(T([sx]), T([sy]), T([theta]), T([21]))[0].numpy()
    np.testing.assert_allclose(got, _normalised(np.exp(-0.5 * _quad(sx, sy, theta)), _inside(21)), atol=1e-12)
    # its second moments are the covariance (the 21-px support truncates a 2-px sigma negligibly)
    xx, yy = _offsets()
    cov = np.array([[(got * xx * xx).sum(), (got * xx * yy).sum()], [(got * xx * yy).sum(), (got * yy * yy).sum()]])
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    np.testing.assert_allclose(cov, rot @ np.diag([sx**2, sy**2]) @ rot.T, atol=2e-3)


def test_generalized_gaussian_and_plateau_follow_their_formulas() -> None:
    sx, sy, theta, ks = 1.7, 1.1, -1.2, T([13])
    gauss = anisotropic_gaussian(T([sx]), T([sy]), T([theta]), ks)
    # the paper's parametrisation: q is a squared distance, so beta = 1 is the Gaussian
    torch.testing.assert_close(generalized_gaussian(T([sx]), T([sy]), T([theta]), T([1.0]), ks), gauss)
    q = _quad(sx, sy, theta)
    for beta in (0.5, 2.0, 4.0):
        got = generalized_gaussian(T([sx]), T([sy]), T([theta]), T([beta]), ks)[0].numpy()
        np.testing.assert_allclose(got, _normalised(np.exp(-0.5 * q**beta), _inside(13)), atol=1e-12)
    for beta in (1.0, 1.5, 2.0):
        got = plateau(T([sx]), T([sy]), T([theta]), T([beta]), ks)[0].numpy()
        np.testing.assert_allclose(got, _normalised(1.0 / (1.0 + q**beta), _inside(13)), atol=1e-12)
    # beta > 1 flattens the top and thins the tail (relative to the centre value)
    iso = anisotropic_gaussian(T([sx]), T([sx]), T([0.0]), ks)[0]
    flat = generalized_gaussian(T([sx]), T([sx]), T([0.0]), T([2.0]), ks)[0]
    c = K // 2
    assert flat[c, c + 1] / flat[c, c] > iso[c, c + 1] / iso[c, c] and flat[c, c + 4] / flat[c, c] < iso[c, c + 4] / iso[c, c]


def test_sinc_is_the_circular_lowpass_bessel_formula() -> None:
    xx, yy = _offsets()
    r = np.sqrt(xx**2 + yy**2)
    for cutoff, k in [(math.pi / 3, 9), (math.pi / 5, 21), (2.5, 15)]:
        with np.errstate(invalid="ignore", divide="ignore"):
            want = cutoff * special.j1(cutoff * r) / (2 * math.pi * r)
        want[K // 2, K // 2] = cutoff**2 / (4 * math.pi)  # the limit at r = 0
        got = sinc(T([cutoff]), T([k]))[0].numpy()
        np.testing.assert_allclose(got, _normalised(want, _inside(k)), atol=1e-7)  # torch's J1: ~5e-7 relative
        assert got.sum() == pytest.approx(1.0) and (got < 0).any()  # a ringing kernel: negative lobes


def test_random_kernels_are_per_sample_odd_sized_and_seeded() -> None:
    args: dict[str, Any] = {"kind_prob": (0.45, 0.25, 0.12, 0.03, 0.12, 0.03), "sigma": (0.2, 3.0), "betag": (0.5, 4.0),
                            "betap": (1.0, 2.0), "sinc_prob": 0.1}
    a = random_kernels(64, torch.Generator().manual_seed(1), **args)
    b = random_kernels(64, torch.Generator().manual_seed(1), **args)
    assert torch.equal(a, b) and not torch.equal(a, random_kernels(64, torch.Generator().manual_seed(2), **args))
    torch.testing.assert_close(a.sum((1, 2)), torch.ones(64))
    wide = random_kernels(64, torch.Generator().manual_seed(1), **{**args, "sigma": (3.0, 3.0)})  # no underflow to 0
    sides = {int((k.abs() > 0).any(0).sum()) for k in wide}  # the support's width per kernel
    assert sides <= {7, 9, 11, 13, 15, 17, 19, 21} and len(sides) > 3
    assert len({tuple(k.flatten().tolist()) for k in a}) == 64  # each image its own kernel


def test_apply_kernels_blurs_each_image_with_its_own_kernel() -> None:
    x = torch.rand(3, 3, 24, 20)
    k = anisotropic_gaussian(T([0.5, 1.5, 2.5]), T([1.0, 0.6, 2.5]), T([0.3, -1.0, 0.0]), T([7, 11, 21])).float()
    out = apply_kernels(x, k)
    for i in range(3):
        xp = F.pad(x[i : i + 1], (10, 10, 10, 10), mode="reflect")
        ref = F.conv2d(xp, k[i].flip(-2, -1).expand(3, 1, K, K), groups=3)
        torch.testing.assert_close(out[i : i + 1], ref)


# ---------------------------------------------------------------- JPEG


def _photo(size: int = 128) -> torch.Tensor:
    from skimage import data

    return torch.from_numpy(data.astronaut()[100 : 100 + size, 150 : 150 + size]).permute(2, 0, 1)[None].float() / 255


def _blockiness(x: torch.Tensor) -> float:
    """Mean |step| across 8-px block boundaries over the mean |step| elsewhere (1: no block grid)."""
    d = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(0, 1, 2))  # (W-1,) horizontal steps per column gap
    at_edge = torch.arange(d.numel()) % 8 == 7
    return float(d[at_edge].mean() / d[~at_edge].mean())


def test_jpeg_matches_quality_and_is_8_bit() -> None:
    x = _photo()
    errs = [float((jpeg(x, T([q])) - x).abs().mean()) for q in (100, 90, 50, 10)]
    assert errs[0] < 1.5 / 255  # quality 100: all-ones tables, only chroma subsampling and rounding remain
    assert errs == sorted(errs) and errs[-1] > 4 * errs[0]
    y = jpeg(x, T([30]))
    assert torch.equal(y, torch.round(y * 255) / 255) and y.min() >= 0 and y.max() <= 1
    assert _blockiness(jpeg(x, T([10]))) > 1.3 > _blockiness(x)
    # close to a real encoder (PIL's libjpeg), whose error it reproduces
    buf = io.BytesIO()
    Image.fromarray((x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(buf, "JPEG", quality=50)
    pil = torch.from_numpy(np.array(Image.open(buf))).permute(2, 0, 1)[None].float() / 255
    assert float((jpeg(x, T([50])) - pil).abs().mean()) < 1.5 / 255
    assert float((pil - x).abs().mean()) == pytest.approx(errs[2], rel=0.25)


def test_jpeg_tables_batches_and_grey() -> None:
    luma, chroma = quality_tables(T([50.0, 100.0, 10.0]))
    assert luma[0, 0, 0] == 16 and chroma[0, 0, 0] == 17  # quality 50: Annex K as printed
    assert torch.equal(luma[1], torch.ones(8, 8)) and luma[2, 0, 0] == 80  # IJG: floor((16 * 500 + 50) / 100)
    x = torch.cat([_photo(40), _photo(40).flip(-1)])  # 40 px: padded to 48 inside, cropped back
    both = jpeg(x, T([20.0, 80.0]))
    assert both.shape == x.shape
    torch.testing.assert_close(both[:1], jpeg(x[:1], T([20.0])))
    torch.testing.assert_close(both[1:], jpeg(x[1:], T([80.0])))
    grey = x.mean(1, keepdim=True)
    assert jpeg(grey, T([30.0, 30.0])).shape == grey.shape


def test_differentiable_jpeg_has_gradients() -> None:
    x = _photo(32).requires_grad_(True)
    y = jpeg(x, T([40.0]), differentiable=True)
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    with torch.no_grad():  # the cubic rounding moves values by less than 1/8 of a level per rounding
        assert float((y - jpeg(x, T([40.0]))).abs().max()) < 4 / 255


# ---------------------------------------------------------------- the pipeline


def test_pipeline_is_deterministic_under_a_seed() -> None:
    p, x = RealESRGANParams(), torch.rand(6, 3, 64, 64)
    a = degrade(x, 4, p, torch.Generator().manual_seed(7))
    assert a.shape == (6, 3, 16, 16) and torch.equal(a, torch.round(a * 255) / 255)
    assert torch.equal(a, degrade(x, 4, p, torch.Generator().manual_seed(7)))
    assert not torch.equal(a, degrade(x, 4, p, torch.Generator().manual_seed(8)))
    assert degrade(torch.rand(2, 1, 32, 32), 4, p, torch.Generator().manual_seed(0)).shape == (2, 1, 8, 8)


def test_noise_kinds_and_grey_noise() -> None:
    x = torch.full((2, 3, 64, 64), 0.5)
    grey = NoiseResizeJpegParams(gaussian_noise_prob=1.0, gray_noise_prob=1.0, noise_range=(10.0, 10.0))
    n = add_noise(x, torch.Generator().manual_seed(0), grey) - x
    assert torch.equal(n[:, 0], n[:, 1]) and float(n.std()) == pytest.approx(10 / 255, rel=0.05)
    colour = NoiseResizeJpegParams(gaussian_noise_prob=1.0, gray_noise_prob=0.0, noise_range=(10.0, 10.0))
    assert not torch.equal(*(add_noise(x, torch.Generator().manual_seed(0), colour) - x)[:, :2].unbind(1))
    poisson = NoiseResizeJpegParams(gaussian_noise_prob=0.0, gray_noise_prob=0.0, poisson_scale_range=(1.0, 1.0))
    shot = add_noise(torch.linspace(0, 1, 64 * 64 * 3).view(1, 3, 64, 64), torch.Generator().manual_seed(0), poisson)
    assert float((shot - torch.linspace(0, 1, 64 * 64 * 3).view(1, 3, 64, 64)).std()) > 0.005


def test_params_keep_bicubic_the_default_and_check_ranges(registries: Registries) -> None:
    from ganzoo_sr.params import SRTaskParams

    assert SRTaskParams().degradation == "bicubic"
    deg = SRTaskParams(degradation={"type": "realesrgan"}).degradation  # type: ignore[arg-type]
    assert isinstance(deg, RealESRGANParams) and deg.stage2.resize_range == (0.3, 1.2) and deg.blur2.sigma == (0.2, 1.5)
    spec = copy.deepcopy(_SPEC)
    spec["task"]["params"]["degradation"] = {"type": "realesrgan", "stage1": {"jpeg_range": [95, 30]}}
    with pytest.raises(SpecError, match="jpeg_range"):
        validate_spec(spec, registries)


# ---------------------------------------------------------------- the U-Net D


def test_unet_discriminator_gives_per_pixel_logits_with_spectral_norm() -> None:
    d = UNetDiscriminatorSN(3, num_feat=8)
    assert d(torch.randn(2, 3, 32, 40)).shape == (2, 1, 32, 40)
    assert d(torch.randn(1, 3, 30, 27)).shape == (1, 1, 30, 27)  # sides that are not multiples of 8
    normed = [n for n, m in d.named_modules() if hasattr(m, "parametrizations")]
    assert len(normed) == 8 and "stem" not in normed and "head" not in normed
    no_skip = UNetDiscriminatorSN(3, num_feat=8, skip_connection=False)
    no_skip.load_state_dict(d.state_dict())
    x = torch.randn(1, 3, 16, 16)
    assert not torch.allclose(d.eval()(x), no_skip.eval()(x))


# ---------------------------------------------------------------- runs

_SPEC: dict[str, Any] = {
    "name": "realesrgan-tiny",
    "task": {"type": "super-resolution", "params": {"scale": 4, "degradation": {"type": "realesrgan"}}},
    "seed": 0,
    "data": {"type": "sr-photos", "params": {"size": 96, "samples": 64}},
    "generator": {"type": "srresnet", "params": {"scale": 4, "num_feat": 4, "num_block": 1}},
    "discriminator": {"type": "unet-sn", "params": {"num_feat": 4}},
    "losses": {"reconstruction": [{"type": "l1"}], "adversarial": {"type": "non-saturating", "weight": 0.1}},
    "train": {"steps": 2, "batch_size": 4, "device": "cpu", "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
              "tensorboard": False, "progress": False},
}


def _record(run: Run) -> list[tuple[torch.Tensor, int, torch.Tensor]]:
    """Wrap the run's task so every training degradation is kept as (HR, seed, LR)."""
    seen: list[tuple[torch.Tensor, int, torch.Tensor]] = []
    task, inner = run.task, run.task.degrade

    def degrade(hr: torch.Tensor, seed: int | None = None) -> torch.Tensor:
        lr = inner(hr, seed)
        if seed is not None:
            seen.append((hr.clone(), seed, lr.clone()))
        return lr

    task.degrade = degrade  # type: ignore[method-assign]  # an instance-level spy
    return seen


def _train(reg: Registries, out: Path, spec: dict[str, Any] | None = None) -> list[tuple[torch.Tensor, int, torch.Tensor]]:
    run = Run(validate_spec(spec or _SPEC, reg), reg, out)
    seen = _record(run)
    run.fit()
    return seen


def _save(lr: torch.Tensor, path: Path) -> None:
    grid = ((lr + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)  # (B, C, h, w)
    Image.fromarray(torch.cat(list(grid), -1).permute(1, 2, 0).numpy()).save(path)


def _hf(x: torch.Tensor) -> float:
    """Mean squared discrete Laplacian: high-frequency energy."""
    lap = 4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:]
    return float(lap.square().mean())


def test_two_step_run_lr_shows_the_degradations_and_repeats(registries: Registries, tmp_path: Path) -> None:
    a = _train(registries, tmp_path / "a")
    assert len(a) == 2  # one D step and one G step per training step, the G step reusing the D step's pair
    for i, (_, _, lr) in enumerate(a):
        _save(lr, tmp_path / f"lr_step{i + 1}.png")
    saved = np.array(Image.open(tmp_path / "lr_step1.png"))
    assert saved.shape == (24, 4 * 24, 3)
    b = _train(registries, tmp_path / "b")
    assert all(torch.equal(x[2], y[2]) and x[1] == y[1] for x, y in zip(a, b, strict=True))  # same seed: same LR
    _save(b[0][2], tmp_path / "lr_b_step1.png")
    assert np.array_equal(saved, np.array(Image.open(tmp_path / "lr_b_step1.png")))  # the saved files too
    assert a[0][1] != a[1][1] and not torch.equal(a[0][2], a[1][2])  # each step its own seed (another seed: see above)

    # The saved LR is the pipeline's output for the seed the run drew; switching one degradation off under that
    # seed (the same number of draws, zero-width ranges) shows what each one did to it.
    hr, seed, lr = a[0]
    assert torch.equal(lr, torch.round((lr + 1) * 127.5) / 127.5 - 1)  # 8-bit levels
    x01 = (hr + 1) / 2
    full = RealESRGANParams()

    def ablate(**change: Any) -> torch.Tensor:
        p = full.model_copy(update=change)
        return degrade(x01, 4, p, torch.Generator().manual_seed(seed)) * 2 - 1

    torch.testing.assert_close(ablate(), lr, rtol=0, atol=0)
    quiet = {"stage1": full.stage1.model_copy(update={"noise_range": (0.0, 0.0), "poisson_scale_range": (0.0, 0.0)}),
             "stage2": full.stage2.model_copy(update={"noise_range": (0.0, 0.0), "poisson_scale_range": (0.0, 0.0)})}
    no_noise = ablate(**quiet)
    assert float((lr - no_noise).std()) > 2 / 255  # noise: the difference is far above JPEG/rounding jitter
    # blur: without its noise the LR has less high-frequency energy than the bicubic LR of the same HR
    # (measured 0.10x here; 0.08x to 0.75x over run seeds 0 to 3)
    assert _hf(no_noise) < 0.5 * _hf(bicubic_down(hr, 4))
    jpeg_off = {k: getattr(full, k).model_copy(update={"jpeg_range": (100.0, 100.0)}) for k in ("stage1", "stage2")}
    assert float((ablate(**jpeg_off) - lr).abs().mean()) > 2 / 255  # JPEG changed the LR beyond rounding


def test_lr_shows_8x8_jpeg_blocks_when_the_last_jpeg_is_on_the_lr_grid(registries: Registries, tmp_path: Path) -> None:
    # Keep the second resize at the LR size and skip the final sinc: the second JPEG's blocks then sit on the
    # LR's 8-px grid (with the defaults they are resized off it half the time), where they can be measured.
    spec = copy.deepcopy(_SPEC)
    spec["task"]["params"]["degradation"] = {"type": "realesrgan", "final_sinc_prob": 0.0,
                                             "stage2": {"resize_prob": [0, 0, 1], "jpeg_range": [10, 30]}}
    spec["data"]["params"]["size"] = 128
    seen = _train(registries, tmp_path, spec)
    lr = torch.cat([s[2] for s in seen])
    hr = torch.cat([s[0] for s in seen])
    assert _blockiness(lr) > 1.15 and _blockiness(lr) > _blockiness(bicubic_down(hr, 4)) + 0.1


def test_resume_after_one_step_reproduces_step_two_lr(registries: Registries, tmp_path: Path) -> None:
    full = _train(registries, tmp_path / "full")
    spec = copy.deepcopy(_SPEC)
    spec["train"].update(steps=1, checkpoint_every=1)
    part = tmp_path / "part"
    _train(registries, part, spec)
    run = Run(resume_spec(part, registries, ["train.steps=2"]), registries, part)
    seen = _record(run)
    assert run.resume() and run.step == 1
    run.fit()
    assert len(seen) == 1 and seen[0][1] == full[1][1] and torch.equal(seen[0][2], full[1][2])


def test_eval_and_preview_use_the_fixed_degradation(registries: Registries, tmp_path: Path) -> None:
    run = Run(validate_spec(_SPEC, registries), registries, tmp_path)
    hr = torch.rand(2, 3, 32, 32) * 2 - 1
    lr1, _ = run.task.pair({"image": hr})  # type: ignore[attr-defined]
    lr2, _ = run.task.pair({"image": hr})  # type: ignore[attr-defined]
    assert torch.equal(lr1, lr2) and not torch.equal(lr1, bicubic_down(hr, 4))
    assert run.task.eval_protocol()["degradation"]["type"] == "realesrgan"


def test_degradation_ignores_bf16_autocast(registries: Registries, tmp_path: Path) -> None:
    run = Run(validate_spec(_SPEC, registries), registries, tmp_path)
    hr = torch.rand(2, 3, 32, 32) * 2 - 1
    plain = run.task.degrade(hr, 5)  # type: ignore[attr-defined]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(run.task.degrade(hr, 5), plain)  # type: ignore[attr-defined]


def test_usm_sharpen_is_unsharp_masking_with_a_soft_threshold() -> None:
    from scipy import ndimage

    from ganzoo_sr.realesrgan import usm_sharpen

    x = torch.rand(1, 1, 64, 64) * 0.2 + 0.4
    x[..., 20:40, 20:40] += 0.3  # a bright square: strong edges above the threshold
    got = usm_sharpen(x)[0, 0].double().numpy()
    img = x[0, 0].double().numpy()
    ax = np.arange(51) - 25.0
    g = np.exp(-(ax**2) / (2 * 8.0**2))
    k = np.outer(g, g) / np.outer(g, g).sum()
    blur = ndimage.correlate(img, k, mode="mirror")  # numpy's mirror is torch's reflect
    mask = ndimage.correlate((np.abs(img - blur) * 255 > 10).astype(float), k, mode="mirror")
    want = mask * np.clip(img + 0.5 * (img - blur), 0, 1) + (1 - mask) * img
    np.testing.assert_allclose(got, want, atol=1e-5)
    flat = torch.full((1, 3, 32, 32), 0.3)
    assert torch.allclose(usm_sharpen(flat), flat)  # nothing to sharpen
    assert float(got[30, 20]) > float(img[30, 20])  # the bright side of an edge overshoots


class _Ctx:
    """The two StepContext members _train_pair uses."""

    def randint(self, high: int, n: int) -> torch.Tensor:
        return torch.randint(high, (n,))


def test_reconstruction_target_is_sharpened_and_d_sees_plain_hr(registries: Registries, tmp_path: Path) -> None:
    run = Run(validate_spec(_SPEC, registries), registries, tmp_path)
    batch = {"image": torch.rand(2, 3, 32, 32) * 2 - 1}
    torch.manual_seed(0)
    lr, hr, target = run.task._train_pair(batch, _Ctx())  # type: ignore[attr-defined]
    assert lr.shape == (2, 3, 8, 8) and not torch.equal(target, hr)
    from ganzoo_sr.realesrgan import usm_sharpen

    torch.testing.assert_close(target, usm_sharpen((hr + 1) / 2) * 2 - 1)
    spec = copy.deepcopy(_SPEC)
    spec["task"]["params"]["degradation"]["usm_target"] = False
    plain = Run(validate_spec(spec, registries), registries, tmp_path / "plain")
    _, hr2, target2 = plain.task._train_pair(batch, _Ctx())  # type: ignore[attr-defined]
    assert target2 is hr2
