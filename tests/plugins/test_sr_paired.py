"""The ``sr-paired`` dataset: HR and LR folders matched by stem, size checks, aligned crops, training on the LR files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo import DataError
from ganzoo.data import for_evaluation
from ganzoo.plugin.registry import Registries
from ganzoo.testing import smoke_component, smoke_dataset
from ganzoo_sr.degradation import bicubic_down
from ganzoo_sr.paired import SRPaired
from ganzoo_sr.params import SRPairedParams
from tests.plugins.test_sr import sr_spec, train


def _pattern(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth-ish random RGB uint8 image (H, W, 3)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3)).astype(np.uint8)


def _downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """The plugin's own bicubic degradation of an (H, W, 3) uint8 image (H, W multiples of scale)."""
    x = torch.from_numpy(hr).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    lr = bicubic_down(x, scale)[0]  # (3, H/s, W/s)
    return ((lr + 1.0) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def make_pair_folders(tmp: Path, *, n: int = 3, size: tuple[int, int] = (32, 32), scale: int = 4, suffix: str = "",
                      lr_fill: int | None = None) -> tuple[Path, Path]:
    """``hr/000i.png`` and ``lr/000i<suffix>.png`` made by bicubic downscaling (or filled with ``lr_fill``)."""
    hr_dir, lr_dir = tmp / "hr", tmp / "lr"
    hr_dir.mkdir(parents=True)
    lr_dir.mkdir(parents=True)
    for i in range(n):
        hr = _pattern(*size, seed=i)
        Image.fromarray(hr).save(hr_dir / f"{i:04d}.png")
        lr = _downscale(hr, scale) if lr_fill is None else np.full((size[0] // scale, size[1] // scale, 3), lr_fill, np.uint8)
        Image.fromarray(lr).save(lr_dir / f"{i:04d}{suffix}.png")
    return hr_dir, lr_dir


def build(hr: Path, lr: Path, **kw: Any) -> SRPaired:
    return SRPaired(SRPairedParams(hr=hr, lr=lr, **kw))


@pytest.mark.parametrize("suffix,param", [("", ""), ("x4", ""), ("x4", "x4"), ("_lr", "_lr")])
def test_matched_by_stem_and_suffix(tmp_path: Path, suffix: str, param: str) -> None:
    hr, lr = make_pair_folders(tmp_path, suffix=suffix)
    ds = build(hr, lr, scale=4, lr_suffix=param)
    assert [(a.name, b.name) for a, b in ds.pairs] == [(f"{i:04d}.png", f"{i:04d}{suffix}.png") for i in range(3)]
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and item["lr"].shape == (3, 8, 8)
    assert item["image"].min() >= -1 and item["image"].max() <= 1
    expected = torch.from_numpy(_pattern(32, 32, 0)).permute(2, 0, 1).float() / 255 * 2 - 1
    assert torch.allclose(item["image"], expected, atol=1e-6)
    assert ds.info.size == 32 and ds.info.channels == 3 and len(ds) == 3


def test_missing_partners_are_data_errors_naming_files(tmp_path: Path) -> None:
    hr, lr = make_pair_folders(tmp_path)
    (lr / "0001.png").rename(lr / "0009.png")
    with pytest.raises(DataError, match=r"HR file\(s\).*0001\.png.*LR file\(s\).*0009\.png"):
        build(hr, lr)


def test_wrong_lr_size_names_the_pair_and_sizes(tmp_path: Path) -> None:
    hr, lr = make_pair_folders(tmp_path)
    Image.fromarray(np.zeros((9, 8, 3), np.uint8)).save(lr / "0002.png")
    with pytest.raises(DataError, match=r"0002\.png / 0002\.png: LR is 8x9 but HR 32x32.*needs 8x8"):
        build(hr, lr)


def test_hr_is_mod_cropped_before_the_size_check(tmp_path: Path) -> None:
    hr, lr = make_pair_folders(tmp_path, n=1, size=(32, 32))
    Image.fromarray(_pattern(34, 35, 0)).save(hr / "0000.png")  # mod-cropped to 32x32 at x4
    item = build(hr, lr)[0]
    assert item["image"].shape == (3, 32, 32) and item["lr"].shape == (3, 8, 8)


def test_whole_images_of_different_sizes_recommend_crop(tmp_path: Path) -> None:
    hr, lr = make_pair_folders(tmp_path, n=1, size=(32, 32))
    big = _pattern(48, 40, 7)
    Image.fromarray(big).save(hr / "0001.png")
    Image.fromarray(_downscale(big, 4)).save(lr / "0001.png")
    with pytest.raises(DataError, match="set crop"):
        build(hr, lr)
    assert build(hr, lr, crop=16)[1]["image"].shape == (3, 16, 16)


def test_crop_must_be_a_multiple_of_the_scale(tmp_path: Path) -> None:
    hr, lr = make_pair_folders(tmp_path, n=1)
    with pytest.raises(ValueError, match="multiple of scale"):
        SRPairedParams(hr=hr, lr=lr, scale=4, crop=18)


def test_paired_crops_align(tmp_path: Path) -> None:
    hr, lr = make_pair_folders(tmp_path, n=2, size=(64, 48))
    ds = build(hr, lr, crop=16, samples=20)
    torch.manual_seed(0)
    for i in range(len(ds)):
        item = ds[i]
        full = ds.pairs[i % 2]
        assert item["image"].shape == (3, 16, 16) and item["lr"].shape == (3, 4, 4)
        # locate the HR crop in the whole image: it starts on the LR grid (a multiple of 4)
        hr_full = torch.from_numpy(np.array(Image.open(full[0]))).permute(2, 0, 1).float() / 127.5 - 1
        lr_full = torch.from_numpy(np.array(Image.open(full[1]))).permute(2, 0, 1).float() / 127.5 - 1
        found = [(t, x) for t in range(64 - 15) for x in range(48 - 15)
                 if torch.allclose(hr_full[:, t : t + 16, x : x + 16], item["image"], atol=1e-5)]
        assert found and all(t % 4 == 0 and x % 4 == 0 for t, x in found)
        t, x = found[0]
        assert torch.allclose(lr_full[:, t // 4 : t // 4 + 4, x // 4 : x // 4 + 4], item["lr"], atol=1e-5)


def test_lr_crop_is_the_downscaled_hr_crop_in_the_interior(tmp_path: Path) -> None:
    """LR made by bicubic downscaling of HR: the LR crop matches the HR crop's own downscale away from the crop border."""
    hr, lr = make_pair_folders(tmp_path, n=1, size=(96, 96))
    ds = build(hr, lr, crop=48)
    torch.manual_seed(3)
    item = ds[0]
    down = bicubic_down(item["image"][None], 4)[0]  # (3, 12, 12)
    assert torch.allclose(down[:, 2:-2, 2:-2], item["lr"][:, 2:-2, 2:-2], atol=1.5 / 127.5)


def test_evaluation_view_is_deterministic_and_draws_nothing(tmp_path: Path) -> None:
    hr, lr = make_pair_folders(tmp_path, n=2, size=(64, 64))
    ds = build(hr, lr, crop=16, samples=8)
    view = for_evaluation(ds)
    state = torch.get_rng_state()
    first = [view[i] for i in range(8)]
    second = [view[i] for i in range(8)]
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a["image"], b["image"]) and torch.equal(a["lr"], b["lr"]) for a, b in zip(first, second, strict=True))
    assert len({tuple(it["image"].flatten()[:4].tolist()) for it in first}) > 2  # crops differ between indices
    assert build(hr, lr).for_evaluation() is not None


def test_grey_channels(tmp_path: Path) -> None:
    hr, lr = make_pair_folders(tmp_path, n=1)
    item = build(hr, lr, channels=1)[0]
    assert item["image"].shape == (1, 32, 32) and item["lr"].shape == (1, 8, 8)


def test_plugin_kit_smoke(registries: Registries, tmp_path: Path) -> None:
    hr, lr = make_pair_folders(tmp_path, size=(40, 40))
    params = {"hr": str(hr), "lr": str(lr), "crop": 16, "samples": 4}
    ds = smoke_dataset(registries, "sr-paired", params=params)
    assert ds.info.size == 16
    entry = next(e for e in registries["dataset"] if e.name == "sr-paired")
    smoke_component(registries, entry, tmp_path / "kit", params=params)


def _last_loss(out: Path) -> float:
    logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if '"G/l1"' in line]
    return float(logs[-1]["G/l1"])


def test_training_uses_the_lr_files(registries: Registries, tmp_path: Path) -> None:
    """A 2-step PSNR run on sr-paired: an LR folder of constant grey trains on other inputs (and loss) than bicubic LR."""
    losses = {}
    for name, fill in [("bicubic", None), ("const", 128)]:
        hr, lr = make_pair_folders(tmp_path / name, n=2, size=(32, 32), lr_fill=fill)
        spec = sr_spec(data={"type": "sr-paired", "params": {"hr": str(hr), "lr": str(lr), "scale": 4, "crop": 16, "samples": 8}})
        spec["task"]["params"]["augment"] = False
        run = train(spec, registries, tmp_path / name / "run")
        assert run.step == 2
        losses[name] = _last_loss(tmp_path / name / "run")
    assert losses["bicubic"] != pytest.approx(losses["const"], rel=1e-3)
