"""Inpainting data: random crops of image folders, the held-out photo split, mask folders, bucketed evaluation masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo_data.crops import HELDOUT_PHOTOS, TRAIN_PHOTOS, build_inpaint_photos, load_photo
from ganzoo_data.folder import build_image_folder
from ganzoo_data.params import ImageFolderParams, InpaintPhotosParams


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
