"""Inpainting data: random crops of image folders, the held-out photo split, mask folders, bucketed evaluation masks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo import DataError
from ganzoo_data.crops import HELDOUT_PHOTOS, TRAIN_PHOTOS, build_inpaint_photos, load_photo
from ganzoo_data.folder import build_image_folder
from ganzoo_data.params import ImageFolderParams, InpaintPhotosParams
from tests.helpers import TINY_INPAINT_SPEC


def _folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    root.mkdir()
    for name, (h, w) in {"a": (40, 60), "b": (100, 80), "c": (20, 30)}.items():
        Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(root / f"{name}.png")
    return root


@pytest.mark.parametrize("preload", [True, False])
def test_image_folder_random_crops(tmp_path, preload):
    root = _folder(tmp_path)
    data = build_image_folder(ImageFolderParams(root=root, size=64, crop=24, samples=10, hflip=False, preload=preload))
    assert len(data) == 10 and data.info.size == 24 and [f.name for f in data.files] == ["a.png", "b.png", "c.png"]
    torch.manual_seed(0)
    first = [data[i]["image"] for i in range(10)]
    assert all(x.shape == (3, 24, 24) and x.min() >= -1 and x.max() <= 1 for x in first)
    torch.manual_seed(0)
    assert all(torch.equal(x, data[i]["image"]) for i, x in enumerate(first))  # reproducible under the run's seed
    torch.manual_seed(1)
    assert not all(torch.equal(x, data[i]["image"]) for i, x in enumerate(first))  # fresh crops otherwise
    # item i crops image i mod n: b (100x80) is downscaled so its shorter side is size 64; c (20x30) upscaled to crop 24
    b = np.asarray(Image.open(root / "b.png").resize((64, 80), Image.Resampling.BICUBIC)).astype(np.float32) / 127.5 - 1
    crop = data[1]["image"].permute(1, 2, 0).numpy()
    hits = [(y, x) for y in range(80 - 23) for x in range(64 - 23) if np.allclose(b[y : y + 24, x : x + 24], crop)]
    assert hits  # a window of image b at its fitted size
    view = data.for_evaluation()
    assert all(torch.equal(view[i]["image"], view[i]["image"]) for i in range(10))  # crop i is a function of i
    assert len({view[i]["image"].numpy().tobytes() for i in range(10)}) == 10


def test_image_folder_crop_flips(tmp_path):
    root = _folder(tmp_path)
    data = build_image_folder(ImageFolderParams(root=root, size=64, crop=16, samples=40, hflip=True))
    # Flips: two items drawn with the same RNG state differ from the unflipped view only by a mirror, at rate ~1/2.
    mirrors = 0
    plain = build_image_folder(ImageFolderParams(root=root, size=64, crop=16, samples=40, hflip=False))
    for i in range(40):
        torch.manual_seed(100 + i)
        a = data[i]["image"]
        torch.manual_seed(100 + i)
        b = plain[i]["image"]
        assert torch.equal(a, b) or torch.equal(a, b.flip(-1))
        mirrors += int(not torch.equal(a, b))
    assert 8 <= mirrors <= 32


@pytest.mark.parametrize("bad, message", [({"crop": 80}, "exceeds size"), ({"samples": 5}, "samples needs crop")])
def test_image_folder_crop_params_are_checked(tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        ImageFolderParams(root=tmp_path, size=64, **bad)


def test_inpaint_photos_heldout_is_never_trained_on():
    assert not set(TRAIN_PHOTOS) & set(HELDOUT_PHOTOS)
    train = build_inpaint_photos(InpaintPhotosParams(size=32, samples=26, faces=True))
    held = build_inpaint_photos(InpaintPhotosParams(split="heldout", size=32, faces=True))
    assert train.info.size == held.info.size == 32 and train.info.channels == 3
    # Every training crop is a window of a training photo or face, and no held-out tile occurs in any training image.
    tiles = {held[i]["image"].numpy().tobytes() for i in range(len(held))}
    view = train.for_evaluation()
    assert not tiles & {view[i]["image"].numpy().tobytes() for i in range(len(view))}
    cat = load_photo("chelsea")
    assert len(held) == (cat.shape[1] // 32) * (cat.shape[2] // 32) + (load_photo("coffee").shape[1] // 32) * (
        load_photo("coffee").shape[2] // 32) + 20
    # faces 0-79 train, 80-99 held out: slot 12 of each 13 items is a face
    assert torch.equal(view[12]["image"][0], view[12]["image"][1])  # grey faces: equal channels
    grey = build_inpaint_photos(InpaintPhotosParams(split="heldout", size=32, channels=1, faces=False))
    assert grey.info.channels == 1 and grey[0]["image"].shape == (1, 32, 32) and len(grey) == len(held) - 20


def test_inpaint_photos_has_no_all_split():  # train and heldout only: nothing may score on what it trained on
    with pytest.raises(ValueError):
        InpaintPhotosParams(split="all")


# ---------------------------------------------------------------- mask folders


def _mask_folder(root: Path, sizes: dict[str, tuple[int, int, int, int]], shape: tuple[int, int] = (64, 48)) -> Path:
    """Mask PNGs (white = hole) with one rectangle each, (top, left, height, width) on a (H, W) canvas."""
    root.mkdir(parents=True, exist_ok=True)
    for name, (t, left, h, w) in sizes.items():
        arr = np.zeros(shape, np.uint8)
        arr[t : t + h, left : left + w] = 255
        Image.fromarray(arr).save(root / f"{name}.png")
    return root


def test_folder_masks_are_resized_and_paired_at_random_by_seed(tmp_path):
    from ganzoo_inpaint.masks import MaskError, generate_mask
    from ganzoo_inpaint.params import FolderMaskParams

    root = _mask_folder(tmp_path / "m", {"a": (0, 0, 32, 24), "b": (32, 24, 16, 12), "c": (0, 0, 64, 48)})
    params = FolderMaskParams(root=root, hole_range=(0.01, 0.6))  # c (all hole) is left out
    picks = {generate_mask(params, 32, 24, seed).tobytes() for seed in range(20)}
    assert len(picks) == 2  # a and b, resized from 64x48 to 32x24
    a = generate_mask(params, 32, 24, 3)
    assert a.shape == (32, 24) and set(np.unique(a)) <= {0.0, 1.0} and np.array_equal(a, generate_mask(params, 32, 24, 3))
    assert a.mean() in (0.25, 1 / 16)
    inverted = FolderMaskParams(root=root, invert=True, hole_range=(0.7, 0.95))  # 1 - a = 75 % and 1 - b = 93.75 %
    assert generate_mask(inverted, 32, 24, 0).mean() >= 0.75
    with pytest.raises(MaskError, match="none of the 3 masks"):
        generate_mask(FolderMaskParams(root=root, hole_range=(0.3, 0.5)), 32, 24, 0)


def test_image_folder_pairs_masks_by_name_and_crops_them_together(tmp_path):
    root = _folder(tmp_path)
    masks = _mask_folder(tmp_path / "masks", {"a": (10, 10, 20, 30), "b": (0, 0, 50, 40), "c": (5, 5, 10, 10)}, shape=(100, 100))
    data = build_image_folder(ImageFolderParams(root=root, size=64, crop=20, masks=masks, hflip=True, preload=False))
    for i in range(3):
        item = data.for_evaluation()[i]
        assert item["image"].shape == (3, 20, 20) and item["mask"].shape == (1, 20, 20)
        assert set(item["mask"].unique().tolist()) <= {0.0, 1.0}
    # the mask travels with its image: the same crop window (and flip) of image and mask
    torch.manual_seed(7)
    a = data[0]
    torch.manual_seed(7)
    b = build_image_folder(ImageFolderParams(root=root, size=64, crop=20, masks=masks, hflip=True))[0]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
    (masks / "c.png").unlink()
    with pytest.raises(DataError, match=r"1 of 3 images have no mask .*c\.png"):
        build_image_folder(ImageFolderParams(root=root, size=64, crop=20, masks=masks))
    with pytest.raises(ValueError, match="masks needs crop"):
        ImageFolderParams(root=root, masks=masks)


# ---------------------------------------------------------------- evaluation buckets

SPEC: dict[str, Any] = {**TINY_INPAINT_SPEC, "name": "inp-buckets"}


def test_bucket_masks_land_in_their_bucket_and_are_fixed():
    from ganzoo_inpaint.buckets import bucket_masks, bucket_name
    from ganzoo_inpaint.params import BUCKETS

    assert [bucket_name(b) for b in BUCKETS] == ["b0-10", "b10-20", "b20-30", "b30-40", "b40-50", "b50-60"]
    for lo, hi in BUCKETS:
        masks = bucket_masks((lo, hi), 6, 32, 32, seed=0)
        frac = masks.mean(dim=(1, 2, 3))
        assert masks.shape == (6, 1, 32, 32) and bool(((frac > lo) & (frac <= hi + 1 / 1024)).all()), (lo, hi, frac)
        assert torch.equal(masks, bucket_masks((lo, hi), 6, 32, 32, seed=0))  # same seed, same masks
        assert not torch.equal(masks, bucket_masks((lo, hi), 6, 32, 32, seed=1))
        assert len({m.numpy().tobytes() for m in masks}) == 6


def test_bucket_masks_from_a_folder_are_binned_by_area(tmp_path):
    from ganzoo.errors import ConfigError
    from ganzoo_inpaint.buckets import bucket_masks

    root = _mask_folder(tmp_path / "m", {"small": (0, 0, 8, 12), "mid": (0, 0, 24, 24), "big": (0, 0, 32, 40)}, shape=(64, 48))
    small = bucket_masks((0.0, 0.1), 4, 64, 48, root=root)  # 96 / 3072 = 3 %
    assert torch.equal(small.mean(dim=(1, 2, 3)), torch.full((4,), 96 / 3072))
    assert bucket_masks((0.1, 0.2), 2, 64, 48, root=root).mean().item() == pytest.approx(576 / 3072)
    with pytest.raises(ConfigError, match=r"no mask .* 50%-60%"):
        bucket_masks((0.5, 0.6), 2, 64, 48, root=root)


def test_evaluation_reports_hole_scores_per_bucket(tmp_path):
    import copy

    from ganzoo.engine.run import Run
    from ganzoo.evaluation import EvalContext, evaluate
    from ganzoo.plugin.registry import load_registries
    from ganzoo.spec.model import validate_spec

    reg = load_registries()
    spec = copy.deepcopy(SPEC)
    spec["eval"] = {"metrics": [{"type": "inpaint-buckets", "params": {"stat": s, "n": 6}} for s in ("psnr", "l1")]}
    run = Run(validate_spec(spec, reg), reg, tmp_path / "run")
    run.fit()
    values = json.loads((tmp_path / "run" / "eval.json").read_text())["metrics"]
    names = [f"hole_{s}_b{10 * i}-{10 * i + 10}" for s in ("psnr", "l1") for i in range(6)]
    assert {*names, "hole_psnr_mean", "hole_l1_mean"} <= set(values)
    assert values["hole_psnr_mean"]["value"] == pytest.approx(np.mean([values[n]["value"] for n in names[:6]]))
    assert values["hole_psnr_b0-10"]["protocol"]["higher_is_better"] and not values["hole_l1_b0-10"]["protocol"]["higher_is_better"]
    assert values["hole_l1_b50-60"]["protocol"]["seed"] == 0 and values["hole_l1_b50-60"]["protocol"]["n"] == 6
    # the scores come from the fixed masks: a second evaluation (another batch size) gives the same numbers
    again = evaluate(EvalContext(run.task, run.eval_generator, run.dataset, "k", run.device, batch_size=4), run.metrics).values
    assert again["hole_l1_b30-40"] == pytest.approx(values["hole_l1_b30-40"]["value"], rel=1e-12)


def test_a_run_trains_and_scores_on_folder_masks(tmp_path):
    import copy

    from ganzoo.engine.run import Run
    from ganzoo.plugin.registry import load_registries
    from ganzoo.spec.model import SpecError, validate_spec

    root = _mask_folder(tmp_path / "m", {"a": (0, 0, 32, 24), "b": (32, 24, 16, 12)})
    reg = load_registries()
    spec = copy.deepcopy(SPEC)
    spec["task"]["params"]["mask"] = {"type": "folder", "root": str(root)}
    spec["eval"] = {"metrics": [{"type": "l1", "params": {"region": "hole", "n": 4}}]}
    run = Run(validate_spec(spec, reg), reg, tmp_path / "run")
    run.fit()
    masks = run.task.eval_masks(torch.stack([run.dataset[i]["image"] for i in range(8)]))
    assert {round(float(m.mean()), 4) for m in masks} <= {0.25, 0.0625}  # the folder's two masks, resized to 16 px
    proto = json.loads((tmp_path / "run" / "eval.json").read_text())["metrics"]["l1_rgb_crop0_hole"]["protocol"]
    assert proto["task"]["holes"]["type"] == "folder"
    spec["task"]["params"]["mask"]["root"] = str(tmp_path / "missing")
    with pytest.raises(SpecError, match="does not exist"):
        validate_spec(spec, reg)
