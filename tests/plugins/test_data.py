"""Tests of the bundled datasets plugin (ganzoo_data)."""

from __future__ import annotations

import logging
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pydantic import ValidationError

import ganzoo_data
from ganzoo import EmptyDatasetError, get_plugin_manager
from ganzoo_data.builtin import build_digits, build_faces, resize_square
from ganzoo_data.folder import ImageFolderDataset, ImageTooLargeError, LazyImageFolderDataset, build_image_folder
from ganzoo_data.params import DigitsParams, FacesParams, ImageFolderParams, TorchvisionParams
from ganzoo_data.tv import build_torchvision

# --- plugin surface ---------------------------------------------------------


def test_hook_registers_five_datasets() -> None:
    pm = get_plugin_manager(entry_points=False, extra=[("data", ganzoo_data)])
    assert not pm.ganzoo_report.failed
    (entries,) = pm.hook.ganzoo_datasets()
    assert [e.name for e in entries] == ["digits", "faces", "image-folder", "inpaint-photos", "torchvision"]
    assert all(e.kind == "dataset" and e.description for e in entries)


def test_plugin_import_does_not_load_torch() -> None:
    code = "import sys, ganzoo_data; ganzoo_data.ganzoo_datasets(); assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


# --- digits -----------------------------------------------------------------


def test_digits_default() -> None:
    ds = build_digits(DigitsParams())
    assert len(ds) == 1797
    assert ds.info.channels == 1 and ds.info.size == 32 and ds.info.num_classes == 10
    item = ds[0]
    assert item["image"].shape == (1, 32, 32) and item["image"].dtype == torch.float32
    assert item["label"].dtype == torch.int64 and item["label"].ndim == 0
    assert ds.images.min() >= -1.0 and ds.images.max() <= 1.0
    assert ds.images.min() == -1.0  # the background is exactly black
    assert set(ds.labels.tolist()) == set(range(10))


def test_digits_native_size_is_exact_scaling() -> None:
    from sklearn.datasets import load_digits

    ds = build_digits(DigitsParams(size=8))
    raw = torch.from_numpy(load_digits().images).float()
    torch.testing.assert_close(ds.images[:, 0], raw / 8.0 - 1.0)


def test_digits_classes_and_limit() -> None:
    ds = build_digits(DigitsParams(classes=[7, 3], size=16))
    assert set(ds.labels.tolist()) == {3, 7}
    assert ds.info.num_classes == 10  # labels keep their digit values
    assert 300 < len(ds) < 400
    small = build_digits(DigitsParams(classes=[7, 3], limit=20))
    assert len(small) == 20 and torch.equal(small.labels, ds.labels[:20])


@pytest.mark.parametrize("bad", [{"size": 4}, {"size": 256}, {"classes": [10]}, {"classes": []}, {"limit": 0}, {"colour": True}])
def test_digits_params_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        DigitsParams(**bad)


# --- faces ------------------------------------------------------------------


def test_faces_are_the_first_hundred() -> None:
    from skimage.data import lfw_subset

    raw = torch.from_numpy(lfw_subset()).float()  # (200, 25, 25) in [0, 1]
    ds = build_faces(FacesParams(size=25))  # native size: no resampling
    assert len(ds) == 100 and ds.info.channels == 1 and ds.info.num_classes == 0
    torch.testing.assert_close(ds.images[:, 0], raw[:100] * 2 - 1)
    assert "label" not in ds[0]


def test_faces_resized() -> None:
    from skimage.data import lfw_subset

    ds = build_faces(FacesParams())
    assert ds.images.shape == (100, 1, 32, 32) and ds.hflip
    assert ds.images.min() >= -1 and ds.images.max() <= 1
    expected = resize_square(torch.from_numpy(lfw_subset()[:100]).float()[:, None] * 2 - 1, 32)
    torch.testing.assert_close(ds.images, expected.clamp(-1, 1))


# --- image-folder -----------------------------------------------------------


def _save(path: Path, array: np.ndarray, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, fmt)


@pytest.fixture()
def messy_tree(tmp_path: Path) -> Path:
    """Three good images (RGB, L, RGBA; non-square; nested) and three bad files."""
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    _save(root / "a.png", rng.integers(0, 256, (30, 40, 3), dtype=np.uint8))
    _save(root / "sub" / "b.jpg", rng.integers(0, 256, (50, 20), dtype=np.uint8))
    _save(root / "sub" / "deeper" / "c.PNG", rng.integers(0, 256, (24, 24, 4), dtype=np.uint8), "PNG")
    (root / "corrupt.jpg").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    (root / "notes.png").write_text("not an image\n")
    _save(root / "full.jpg", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = (root / "full.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "full.jpg").unlink()
    (root / "readme.txt").write_text("ignored: not an image extension")
    _save(root / ".hidden" / "x.png", np.zeros((8, 8), dtype=np.uint8))  # hidden dirs are ignored
    return root


def test_folder_skips_and_counts_bad_files(messy_tree: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        ds = build_image_folder(ImageFolderParams(root=messy_tree, size=16))
    assert isinstance(ds, ImageFolderDataset)
    assert [p.relative_to(messy_tree).as_posix() for p in ds.files] == ["a.png", "sub/b.jpg", "sub/deeper/c.PNG"]
    assert sorted(Path(p).name for p, _ in ds.skipped) == ["corrupt.jpg", "notes.png", "truncated.jpg"]
    assert all(reason for _, reason in ds.skipped)
    assert "skipped 3 of 6" in caplog.text
    assert ds.images.shape == (3, 3, 16, 16) and ds.info.channels == 3 and ds.info.num_classes == 0
    assert ds.images.min() >= -1 and ds.images.max() <= 1
    assert set(ds[0]) == {"image"}


def test_folder_grayscale_and_top_level_only(messy_tree: Path) -> None:
    ds = build_image_folder(ImageFolderParams(root=messy_tree, size=12, channels=1, recursive=False))
    assert [p.name for p in ds.files] == ["a.png"] and ds.images.shape == (1, 1, 12, 12)


def test_folder_centre_crop(tmp_path: Path) -> None:
    img = np.zeros((20, 60), dtype=np.uint8)
    img[:, 15:45] = 255  # the centre square (and the filter support around it) is white, the sides black
    _save(tmp_path / "wide.png", img)
    ds = build_image_folder(ImageFolderParams(root=tmp_path, size=8, channels=1))
    assert ds.images.shape == (1, 1, 8, 8)
    assert ds.images.min() > 0.99  # shorter side -> 8, then the centre 8x8 is kept (not squashed)


def test_folder_on_error_names_the_file(messy_tree: Path) -> None:
    with pytest.raises(ValueError, match=r"corrupt\.jpg"):
        build_image_folder(ImageFolderParams(root=messy_tree, on_error="error"))


def test_folder_truncated_jpeg_is_an_error(messy_tree: Path) -> None:
    (messy_tree / "corrupt.jpg").unlink()
    with pytest.raises(ValueError, match=r"truncated\.jpg.*truncated"):
        build_image_folder(ImageFolderParams(root=messy_tree, on_error="error", extensions=(".jpg",), recursive=False))


def test_folder_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(EmptyDatasetError, match=str(tmp_path)) as err:
        build_image_folder(ImageFolderParams(root=tmp_path))
    assert ".png" in str(err.value)


def test_folder_all_unreadable(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_text("x")
    with pytest.raises(EmptyDatasetError, match=r"bad\.png"):
        build_image_folder(ImageFolderParams(root=tmp_path))


def test_folder_pixel_limit(messy_tree: Path) -> None:
    saved = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageTooLargeError, match=r"a\.png.*max_image_pixels=100\b"):
        build_image_folder(ImageFolderParams(root=messy_tree, max_image_pixels=100))
    assert Image.MAX_IMAGE_PIXELS == saved


def test_folder_limit_is_per_call_not_global(messy_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A tiny process-wide PIL limit must neither apply nor be overwritten.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    ds = build_image_folder(ImageFolderParams(root=messy_tree, size=8))
    assert len(ds) == 3 and Image.MAX_IMAGE_PIXELS == 10


def test_folder_lazy_matches_preloaded(messy_tree: Path) -> None:
    eager = build_image_folder(ImageFolderParams(root=messy_tree, size=16))
    lazy = build_image_folder(ImageFolderParams(root=messy_tree, size=16, preload=False))
    assert isinstance(lazy, LazyImageFolderDataset) and lazy.info == eager.info
    # Only headers are checked up front: the truncated JPEG gets through until decoded.
    assert [p.name for p in lazy.files] == ["a.png", "b.jpg", "c.PNG", "truncated.jpg"]
    assert sorted(Path(p).name for p, _ in lazy.skipped) == ["corrupt.jpg", "notes.png"]
    for i in range(3):
        torch.testing.assert_close(lazy[i]["image"], eager[i]["image"])
    with pytest.raises(ValueError, match=r"truncated\.jpg"):
        lazy[3]


def test_folder_params(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        ImageFolderParams(root=tmp_path / "missing")
    assert ImageFolderParams(root=tmp_path, extensions=("PNG", ".Jpg")).extensions == (".jpg", ".png")
    with pytest.raises(ValidationError):
        ImageFolderParams(root=tmp_path, channels=2)


# --- torchvision ------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "cifar10", "celeba"])
def test_torchvision_missing_files_message(tmp_path: Path, name: str) -> None:
    with pytest.raises(RuntimeError) as err:
        build_torchvision(TorchvisionParams(name=name, root=tmp_path, download=False))
    msg = str(err.value)
    assert name in msg and str(tmp_path) in msg and "download is false" in msg and "image-folder" in msg
    assert "\n" not in msg and err.value.__cause__ is None


def _write_idx(path: Path, array: np.ndarray) -> None:
    code = 0x08  # unsigned byte
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_torchvision_wraps_local_mnist(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in [("train", 5), ("t10k", 3)]:
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n))
    ds = build_torchvision(TorchvisionParams(name="mnist", root=tmp_path, split="test", size=32, download=False))
    assert len(ds) == 3 and ds.info.channels == 1 and ds.info.size == 32 and ds.info.num_classes == 10
    item = ds[2]
    assert item["image"].shape == (1, 32, 32) and item["image"].dtype == torch.float32
    assert -1 <= item["image"].min() and item["image"].max() <= 1
    assert item["label"].dtype == torch.int64 and int(item["label"]) == 2


@pytest.mark.parametrize(("name", "total", "extra"), [("digits", 1797, {}), ("faces", 100, {"hflip": False})])
def test_fixed_train_heldout_split(name, total, extra):
    from ganzoo.plugin.registry import load_registries

    reg = load_registries()
    ds = {s: reg.build("dataset", name, {"size": 8, "split": s, **extra}) for s in ("all", "train", "heldout")}
    assert len(ds["train"]) + len(ds["heldout"]) == len(ds["all"]) == total
    assert len(ds["heldout"]) == total - (total * 4) // 5
    # heldout is the tail of the full set, disjoint from train
    assert torch.equal(ds["all"][len(ds["train"])]["image"], ds["heldout"][0]["image"])
    assert torch.equal(ds["all"][len(ds["train"]) - 1]["image"], ds["train"][len(ds["train"]) - 1]["image"])
