"""Inpainting on real inputs: any image size, anti-aliased masks, folders, the Python API (ganzoo.inpaint)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFilter

import ganzoo
from ganzoo.engine.run import Run
from ganzoo.spec.model import validate_spec
from tests.helpers import TINY_INPAINT_SPEC

SPEC: dict[str, Any] = {**TINY_INPAINT_SPEC, "name": "inp-io"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganzoo.plugin.registry import load_registries

    reg = load_registries()
    path = tmp_path_factory.mktemp("inpaint-io") / "run"
    Run(validate_spec(copy.deepcopy(SPEC), reg), reg, path).fit()
    return path


@pytest.fixture(scope="module")
def gen(run_dir: Path) -> Any:
    return ganzoo.load_generator(run_dir)


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colour 'photo' with texture: gradients plus noise, uint8 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([yy, xx, (yy + xx) / 2], -1) * 200 + 20
    return np.clip(base + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)


def _hand_drawn(h: int, w: int, width: int = 20) -> np.ndarray:
    """A hand-drawn-looking anti-aliased stroke mask (uint8, white = hole): PIL lines drawn at 4x and downsampled, then blurred."""
    big = Image.new("L", (w * 4, h * 4), 0)
    draw = ImageDraw.Draw(big)
    pts = [(0.1, 0.2), (0.35, 0.6), (0.5, 0.35), (0.8, 0.7), (0.9, 0.3)]
    draw.line([(x * w * 4, y * h * 4) for x, y in pts], fill=255, width=width * 4, joint="curve")
    small = big.resize((w, h), Image.Resampling.LANCZOS).filter(ImageFilter.GaussianBlur(1))
    return np.asarray(small)


# ---------------------------------------------------------------- the must-show: a 1000x750 photo, a hand-drawn mask


def test_cli_fills_a_1000x750_photo_with_an_antialiased_mask(run_dir, tmp_path):
    from ganzoo_inpaint.cli import inpaint

    photo = _photo(750, 1000)
    mask = _hand_drawn(750, 1000)
    assert len(np.unique(mask)) > 20  # really anti-aliased: many grey levels along the edges
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    res = CliRunner().invoke(inpaint, [str(run_dir), str(tmp_path / "photo.png"), "--mask", str(tmp_path / "mask.png"),
                                       "--out", str(tmp_path / "out.png")])
    assert res.exit_code == 0, res.output
    assert "thresholded at mid-grey" in res.output  # the one-line note (stderr)
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == photo.shape and out.dtype == np.uint8
    hole = mask >= 128
    assert np.array_equal(out[~hole], photo[~hole])  # every unmasked pixel unchanged, bit for bit
    assert not np.array_equal(out[hole], photo[hole])  # the holes were filled


@pytest.mark.parametrize("h, w", [(17, 23), (5, 40), (33, 16)])
def test_any_size_pads_and_crops_back(gen, h, w):
    rng = np.random.default_rng(h * w)
    img = (rng.random((h, w)) * 255).astype(np.uint8)
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4 : h // 4 + max(1, h // 3), w // 4 : w // 2] = 255
    out = ganzoo.inpaint(gen, img, mask)
    assert out.shape == img.shape and out.dtype == img.dtype
    assert np.array_equal(out[mask == 0], img[mask == 0])


def test_large_images_are_filled_on_a_downscaled_copy(gen):
    from ganzoo.inpainting_api import DEFAULT_MAX_SIDE as CORE_DEFAULT
    from ganzoo_inpaint.resize import DEFAULT_MAX_SIDE

    assert DEFAULT_MAX_SIDE == CORE_DEFAULT
    img = torch.rand(1, 1, 60, 90) * 2 - 1
    mask = torch.zeros(1, 1, 60, 90)
    mask[..., 20:40, 30:60] = 1
    calls: list[tuple[int, ...]] = []
    real = gen.task.inpaint

    def spy(g: Any, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(x.shape[-2:]))
        return real(g, x, m)

    gen.task.inpaint = spy
    try:
        small = gen.task.inpaint_any_size(gen.module, img, mask, max_side=32)
        full = gen.task.inpaint_any_size(gen.module, img, mask, max_side=0)
    finally:
        del gen.task.inpaint
    assert calls == [(24, 32), (60, 92)]  # 90 -> 32 (long side), padded to the multiple 4; full size padded 90 -> 92
    for out in (small, full):
        assert out.shape == img.shape and torch.equal(out[mask == 0], img[mask == 0])


# ---------------------------------------------------------------- masks users have


@pytest.mark.parametrize("case", ["photo", "noise", "mostly-grey", "coloured"])
def test_non_masks_are_refused(gen, case):
    from ganzoo.inpainting_api import MaskFileError

    img = _photo(40, 40)
    rng = np.random.default_rng(1)
    if case == "photo":
        mask: np.ndarray = _photo(40, 40, seed=3).mean(-1).astype(np.uint8)
    elif case == "noise":
        mask = (rng.random((40, 40)) * 255).astype(np.uint8)
    elif case == "mostly-grey":
        mask = np.full((40, 40), 128, np.uint8)
        mask[:5] = 0
    else:
        mask = np.zeros((40, 40, 3), np.uint8)
        mask[10:20, 10:20] = (255, 0, 0)
    with pytest.raises(MaskFileError, match="hole") as err:  # every message names the convention
        ganzoo.inpaint(gen, img, mask)
    assert err.value.exit_code == 2


def test_sparse_grey_noise_away_from_edges_is_refused(gen):
    from ganzoo.inpainting_api import MaskFileError

    mask = np.zeros((40, 40), np.uint8)
    mask[15:25, 15:25] = 255
    mask[::7, ::7] = 100  # grey specks everywhere, none along the hole's edge: not anti-aliasing
    with pytest.raises(MaskFileError, match="away from the hole"):
        ganzoo.inpaint(gen, _photo(40, 40), mask)


def test_a_mask_on_another_scale_is_refused_not_read_as_no_hole(gen):
    from ganzoo.inpainting_api import MaskFileError

    mask = np.zeros((40, 40), np.uint16)
    mask[10:20, 10:20] = 255  # an 8-bit mask saved as 16-bit: 255 of 65535 is nearly black
    with pytest.raises(MaskFileError, match="no hole"):
        ganzoo.inpaint(gen, _photo(40, 40), mask)


def test_cli_refuses_a_mostly_grey_mask_with_the_convention(run_dir, tmp_path):
    from ganzoo_inpaint.cli import inpaint

    Image.fromarray(_photo(32, 32)).save(tmp_path / "p.png")
    Image.fromarray(_photo(32, 32, seed=5)).convert("L").save(tmp_path / "m.png")  # a photo as mask
    res = CliRunner().invoke(inpaint, [str(run_dir), str(tmp_path / "p.png"), "--mask", str(tmp_path / "m.png")])
    assert res.exit_code == 2 and "mostly grey" in res.output and "hole" in res.output
    assert not (tmp_path / "p-inpainted.png").exists()


# ---------------------------------------------------------------- folders


def test_cli_folder_mode_matches_masks_by_name(run_dir, tmp_path):
    from ganzoo_inpaint.cli import inpaint

    (tmp_path / "img").mkdir()
    (tmp_path / "mask").mkdir()
    photos = {"a": _photo(60, 80, 1), "b": _photo(70, 50, 2)}
    for stem, photo in photos.items():
        Image.fromarray(photo).save(tmp_path / "img" / f"{stem}.png")
        Image.fromarray(_hand_drawn(*photo.shape[:2], width=8)).save(tmp_path / "mask" / f"{stem}.png")
    Image.fromarray(_hand_drawn(10, 10, width=2)).save(tmp_path / "mask" / "orphan.png")
    res = CliRunner().invoke(inpaint, [str(run_dir), str(tmp_path / "img"), "--mask", str(tmp_path / "mask"),
                                       "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "orphan.png" in res.output  # a mask without image: a note
    for stem, photo in photos.items():
        out = np.asarray(Image.open(tmp_path / "out" / f"{stem}.png"))
        known = np.asarray(Image.open(tmp_path / "mask" / f"{stem}.png")) < 128
        assert out.shape == photo.shape and np.array_equal(out[known], photo[known])


def test_cli_folder_mode_refuses_an_image_without_mask(run_dir, tmp_path):
    from ganzoo_inpaint.cli import inpaint

    (tmp_path / "img").mkdir()
    (tmp_path / "mask").mkdir()
    Image.fromarray(_photo(16, 16)).save(tmp_path / "img" / "lonely.png")
    res = CliRunner().invoke(inpaint, [str(run_dir), str(tmp_path / "img"), "--mask", str(tmp_path / "mask"),
                                       "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "lonely.png" in res.output and "no mask" in res.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ---------------------------------------------------------------- the Python API


def _mask_kinds(hole: np.ndarray, tmp_path: Path) -> dict[str, Any]:
    u8 = hole.astype(np.uint8) * 255
    Image.fromarray(u8).save(tmp_path / "m.png")
    return {"path": tmp_path / "m.png", "pil": Image.fromarray(u8), "numpy": u8, "tensor": torch.from_numpy(hole.astype(np.float32))}


@pytest.mark.parametrize("mask_kind", ["path", "pil", "numpy", "tensor"])
@pytest.mark.parametrize("image_kind", ["path", "pil", "numpy", "tensor"])
def test_python_api_takes_and_returns_each_kind(run_dir, gen, tmp_path, image_kind, mask_kind):
    photo = _photo(24, 36)
    hole = np.zeros((24, 36), bool)
    hole[6:14, 10:25] = True
    Image.fromarray(photo).save(tmp_path / "p.png")
    image: Any = {"path": str(tmp_path / "p.png"), "pil": Image.fromarray(photo), "numpy": photo,
                  "tensor": torch.from_numpy(photo).permute(2, 0, 1).float() / 127.5 - 1}[image_kind]
    notes: list[str] = []
    out = ganzoo.inpaint(run_dir if image_kind == "path" else gen, image, _mask_kinds(hole, tmp_path)[mask_kind], note=notes.append)
    assert any("grey" in n for n in notes)  # an RGB photo with a grey run: said once
    if image_kind in ("path", "pil"):
        assert isinstance(out, Image.Image) and out.mode == "RGB"
        arr = np.asarray(out)
    elif image_kind == "numpy":
        assert isinstance(out, np.ndarray) and out.dtype == np.uint8
        arr = out
    else:
        assert isinstance(out, torch.Tensor) and out.shape == image.shape and out.dtype == image.dtype
        assert torch.equal(out[:, torch.from_numpy(~hole)], image[:, torch.from_numpy(~hole)])  # bit-exact in float
        return
    assert arr.shape == photo.shape and np.array_equal(arr[~hole], photo[~hole]) and not np.array_equal(arr[hole], photo[hole])


def test_python_api_refuses_a_run_of_another_task(tmp_path):
    from ganzoo.inpainting_api import inpaint as api_inpaint

    class NotInpainting:
        task = object()
        module = None
        spec = type("S", (), {"task": type("T", (), {"type": "unconditional"})()})()

    with pytest.raises(ganzoo.ConfigError, match="'unconditional'"):
        api_inpaint(NotInpainting(), np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8))


def test_the_inpainting_task_satisfies_the_core_protocol(gen):
    from ganzoo.inpainting_api import Inpainter

    assert ganzoo.conforms(gen.task, Inpainter)
    assert ganzoo.inpaint is __import__("ganzoo.inpainting_api", fromlist=["inpaint"]).inpaint


def test_a_fixed_size_network_gets_a_resized_copy():
    """The context encoder takes only its training size: the image is resized to it and the prediction back."""
    from ganzoo_inpaint.nets import ContextEncoder
    from ganzoo_inpaint.params import InpaintingParams
    from ganzoo_inpaint.task import Inpainting

    net = ContextEncoder(1, 16, width=4).eval()
    task = Inpainting(InpaintingParams())
    img = torch.rand(1, 1, 21, 35) * 2 - 1
    mask = torch.zeros(1, 1, 21, 35)
    mask[..., 5:12, 10:20] = 1
    out = task.inpaint_any_size(net, img, mask, max_side=512)
    assert out.shape == img.shape and torch.equal(out[mask == 0], img[mask == 0]) and not torch.equal(out, img)
