"""Super-resolution on real files: benchmark-folder evaluation, ``ganzoo upscale`` on folders, ``ganzoo.upscale`` (issue 14)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ganzoo_sr.degradation import bicubic_down
from PIL import Image

import ganzoo
from ganzoo.engine.run import Run
from ganzoo.errors import EXIT_FAILURE, EXIT_INPUT, ConfigError, DataError
from ganzoo.plugin.registry import Registries
from ganzoo.spec.model import validate_spec

SCALE = 2
METRICS = [{"type": "psnr", "params": {"y_channel": True, "crop_border": SCALE}},
           {"type": "ssim", "params": {"y_channel": True, "crop_border": SCALE}}]
SPEC: dict[str, Any] = {
    "name": "sr-io",
    "task": {"type": "super-resolution", "params": {"scale": SCALE}},
    "seed": 0,
    "data": {"type": "sr-photos", "params": {"size": 24, "samples": 8}},
    "generator": {"type": "srresnet", "params": {"scale": SCALE, "num_feat": 4, "num_block": 1}},
    "losses": {"reconstruction": [{"type": "l1"}]},
    "eval": {"metrics": METRICS},
    "train": {"steps": 1, "batch_size": 4, "device": "cpu", "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
              "sample_grid": 9, "tensorboard": False, "progress": False},
}
RNG = np.random.default_rng(14)


def _train(spec: dict[str, Any], reg: Registries, out: Path) -> Path:
    Run(validate_spec(spec, reg), reg, out).fit()
    return out


@pytest.fixture(scope="module")
def sr_run(registries: Registries, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny x2 SRResNet (4 features, 1 block: an LR receptive-field radius under the default pad of 16), one step trained."""
    return _train(copy.deepcopy(SPEC), registries, tmp_path_factory.mktemp("sr") / "run")


@pytest.fixture(scope="module")
def cli() -> Any:
    from click.testing import CliRunner

    from ganzoo.cli import cli as group
    from ganzoo.plugin.manager import get_plugin_manager

    get_plugin_manager().hook.ganzoo_register_commands(cli=group)

    def invoke(*args: Any) -> Any:
        result = CliRunner().invoke(group, [str(a) for a in args], catch_exceptions=False)
        assert "Traceback" not in result.output
        return result

    return invoke


def _save(path: Path, pixels: np.ndarray, **params: Any) -> Path:
    Image.fromarray(pixels).save(path, **params)
    return path


def _benchmark(folder: Path) -> dict[str, np.ndarray]:
    """Three HR images of different sizes (one with odd sides, so mod-crop matters) and one grey."""
    folder.mkdir()
    images = {"baby": (RNG.random((30, 41, 3)) * 255).astype(np.uint8), "bird": (RNG.random((24, 24, 3)) * 255).astype(np.uint8),
              "zebra": (RNG.random((27, 33)) * 255).astype(np.uint8)}
    for name, pixels in images.items():
        _save(folder / f"{name}.png", pixels)
    return images


def _y(rgb: np.ndarray) -> np.ndarray:
    """BT.601 Y on the 0..255 scale of (H, W, 3) uint8, as BasicSR's bgr2ycbcr(y_only=True)."""
    return 16.0 + rgb.astype(np.float64) @ np.array([65.481, 128.553, 24.966]) / 255.0


def _direct_psnr(run: Path, hr_u8: np.ndarray, lr_u8: np.ndarray | None) -> float:
    """PSNR-Y, crop = scale, of the run on one image, computed here from the files' pixels."""
    gen = ganzoo.load_generator(run)
    rgb = np.repeat(hr_u8[..., None], 3, axis=2) if hr_u8.ndim == 2 else hr_u8
    h, w = rgb.shape[0] // SCALE * SCALE, rgb.shape[1] // SCALE * SCALE
    hr = torch.from_numpy(rgb[:h, :w].astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]  # (1, 3, H, W) mod-cropped
    lr = bicubic_down(hr, SCALE) if lr_u8 is None else torch.from_numpy(lr_u8.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    sr = gen.module(lr).clamp(-1, 1)
    sr_u8 = ((sr[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).detach().numpy().astype(np.uint8)
    a, b = (_y(x)[SCALE:-SCALE, SCALE:-SCALE] for x in (sr_u8, rgb[:h, :w]))
    return float(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))


# ---------------------------------------------------------------- benchmark folders


def test_benchmark_folder_reports_each_image_and_the_mean(cli: Any, sr_run: Path, tmp_path: Path) -> None:
    images = _benchmark(tmp_path / "Set3")
    res = cli("sr-eval", sr_run, "--data", tmp_path / "Set3", "--json", tmp_path / "set3.json")
    assert res.exit_code == 0, res.output
    blob = json.loads((tmp_path / "set3.json").read_text())
    rows = blob["per_image"]
    assert [r["image"] for r in rows] == ["baby.png", "bird.png", "zebra.png"]
    key = f"psnr_y_crop{SCALE}"
    for row, (name, pixels) in zip(rows, images.items(), strict=True):
        assert row[key] == pytest.approx(_direct_psnr(sr_run, pixels, None), abs=1e-9), name
        assert f"{row[key]:.4f}" in res.output  # the table
    for k in (key, f"ssim_y_crop{SCALE}"):
        assert blob["metrics"][k]["value"] == pytest.approx(np.mean([r[k] for r in rows]), abs=1e-12)
        assert blob["metrics"][k]["protocol"]["n"] == 3 and blob["data"]["type"] == "sr-benchmark"
    assert blob["data"]["params"]["scale"] == SCALE  # the run's scale, not the dataset's default 4


def test_lr_folder_variant_uses_the_given_lr(cli: Any, sr_run: Path, tmp_path: Path) -> None:
    images = _benchmark(tmp_path / "hr")
    (tmp_path / "lr").mkdir()
    given = {}
    for name, pixels in images.items():  # any LR will do as long as its size fits: here, noise
        h, w = pixels.shape[0] // SCALE, pixels.shape[1] // SCALE
        given[name] = (RNG.random((h, w, 3)) * 255).astype(np.uint8)
        _save(tmp_path / "lr" / f"{name}x{SCALE}.png", given[name])  # DIV2K's naming, as sr-paired matches it
    res = cli("sr-eval", sr_run, "--data", tmp_path / "hr", "--lr-folder", tmp_path / "lr", "--json", tmp_path / "out.json")
    assert res.exit_code == 0, res.output
    rows = json.loads((tmp_path / "out.json").read_text())["per_image"]
    for row, name in zip(rows, images, strict=True):
        assert row[f"psnr_y_crop{SCALE}"] == pytest.approx(_direct_psnr(sr_run, images[name], given[name]), abs=1e-9)


def test_benchmark_as_eval_data_in_a_spec(registries: Registries, cli: Any, tmp_path: Path) -> None:
    """Whole images of different sizes through the in-training evaluation (batches of 64 by default)."""
    _benchmark(tmp_path / "Set3")
    spec = copy.deepcopy(SPEC)
    spec["eval"]["data"] = {"type": "sr-benchmark", "params": {"hr": str(tmp_path / "Set3"), "scale": SCALE}}
    run = _train(spec, registries, tmp_path / "run")
    in_training = json.loads((run / "eval.json").read_text())["metrics"]
    res = cli("sr-eval", run, "--data", "sr-benchmark", "--data-set", f"hr={tmp_path / 'Set3'}", "--json", tmp_path / "e.json")
    assert res.exit_code == 0, res.output
    per_image = json.loads((tmp_path / "e.json").read_text())["metrics"]
    for key, value in per_image.items():
        assert in_training[key]["value"] == pytest.approx(value["value"], abs=1e-9)  # the mean of per-image values
        assert in_training[key]["protocol"]["data"] == value["protocol"]["data"]  # the same data key either way


def test_eval_data_at_another_scale_is_refused(registries: Registries, tmp_path: Path) -> None:
    """A x2 run scored on LR made at x4 would compare its SR with the HR's top-left quarter; the task refuses the pair."""
    _benchmark(tmp_path / "Set3")
    spec = copy.deepcopy(SPEC)
    spec["eval"]["data"] = {"type": "sr-benchmark", "params": {"hr": str(tmp_path / "Set3"), "scale": 4}}
    with pytest.raises(ConfigError, match="does not fit image .* at scale 2 .is the dataset's scale the task's"):
        _train(spec, registries, tmp_path / "run")


def test_bad_benchmark_inputs_are_one_line_errors(cli: Any, sr_run: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = cli("sr-eval", sr_run, "--data", tmp_path / "empty")
    assert res.exit_code == EXIT_FAILURE and "no image files" in res.output and len(res.output.strip().splitlines()) == 1
    _benchmark(tmp_path / "hr")
    (tmp_path / "lr").mkdir()
    for name in ("baby", "bird", "zebra"):
        _save(tmp_path / "lr" / f"{name}.png", np.zeros((5, 5, 3), np.uint8))
    res = cli("sr-eval", sr_run, "--data", tmp_path / "hr", "--lr-folder", tmp_path / "lr")
    assert res.exit_code == EXIT_FAILURE and "baby.png / baby.png: LR is 5x5" in res.output
    assert len(res.output.strip().splitlines()) == 1
    res = cli("sr-eval", sr_run, "--lr-folder", tmp_path / "lr")
    assert res.exit_code == EXIT_INPUT and "--lr-folder goes with --data" in res.output
    res = cli("sr-eval", sr_run, "--data", tmp_path / "hr", "--data-set", "scale=4")
    assert res.exit_code == EXIT_INPUT and "scale 4 but the run upscales x2" in res.output
    res = cli("sr-eval", sr_run, "--data", tmp_path / "missing")
    assert res.exit_code == EXIT_INPUT and "neither a folder nor a dataset type" in res.output
    res = cli("sr-eval", sr_run, "--data", "sr-benchmark", "--data-set", f"hr={tmp_path / 'missing'}", "--data-set", "bogus=1")
    assert res.exit_code == EXIT_INPUT and len(res.output.strip().splitlines()) == 1
    assert res.output.startswith("error: data sr-benchmark: hr: Value error, hr folder") and "bogus: Extra inputs" in res.output
    assert "'digits'" not in res.output  # this type's params only, not every installed dataset's
    res = cli("upscale", sr_run, tmp_path / "empty", "--out", tmp_path / "up")
    assert res.exit_code == EXIT_FAILURE and "holds no image files" in res.output and not (tmp_path / "up").exists()


# ---------------------------------------------------------------- upscale on folders


def test_folder_of_mixed_modes_gives_one_output_each_in_its_mode(cli: Any, sr_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _save(folder / "rgb.png", (RNG.random((10, 13, 3)) * 255).astype(np.uint8))
    _save(folder / "grey.png", (RNG.random((9, 7)) * 255).astype(np.uint8))
    _save(folder / "rgba.png", (RNG.random((8, 11, 4)) * 255).astype(np.uint8))
    _save(folder / "photo.jpg", (RNG.random((12, 10, 3)) * 255).astype(np.uint8), quality=90)
    _save(folder / ".hidden.png", np.zeros((4, 4, 3), np.uint8))
    (folder / "notes.txt").write_text("not an image")
    res = cli("upscale", sr_run, folder, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outputs == ["grey_x2.png", "photo_x2.png", "rgb_x2.png", "rgba_x2.png"]
    for name in ("rgb", "grey", "rgba", "photo"):
        src = next(folder.glob(f"{name}.*"))
        with Image.open(src) as a, Image.open(tmp_path / "out" / f"{name}_x2.png") as b:
            assert b.mode == a.mode and b.size == (a.size[0] * SCALE, a.size[1] * SCALE), name

    res = cli("upscale", sr_run, folder, "--out", tmp_path / "auto", "--ext", "auto", "--quality", "80")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "auto").iterdir()) == ["grey_x2.png", "photo_x2.jpg", "rgb_x2.png", "rgba_x2.png"]
    with Image.open(tmp_path / "auto" / "photo_x2.jpg") as img:
        assert img.format == "JPEG" and img.mode == "RGB"

    res = cli("upscale", sr_run, folder, "--out", tmp_path / "jpg", "--ext", "jpg")
    assert res.exit_code == EXIT_INPUT and "JPEG has no alpha" in res.output and "rgba.png" in res.output
    assert not (tmp_path / "jpg").exists()  # refused before any write

    (folder / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")  # sorted last: still refused before any write
    res = cli("upscale", sr_run, folder, "--out", tmp_path / "none")
    assert res.exit_code == EXIT_FAILURE and "zz-broken.png" in res.output and "nothing was written" in res.output
    assert not (tmp_path / "none").exists()


def test_large_input_is_tiled_automatically_and_equals_the_untiled_result(cli: Any, sr_run: Path, tmp_path: Path) -> None:
    from ganzoo.upscaling import AUTO_TILE, AUTO_TILE_PIXELS

    pixels = (RNG.random((800, 1000, 3)) * 255).astype(np.uint8)  # 1000x800: over the 512x512 LR pixels
    assert 800 * 1000 > AUTO_TILE_PIXELS
    _save(tmp_path / "big.png", pixels)
    res = cli("upscale", sr_run, tmp_path / "big.png", "--out", tmp_path / "up")
    assert res.exit_code == 0, res.output
    assert f"upscaling in {AUTO_TILE}-pixel tiles" in res.output
    tiled = np.asarray(Image.open(tmp_path / "up" / "big_x2.png")).astype(np.int16)
    whole = ganzoo.upscale(sr_run, pixels, tile=None).astype(np.int16)  # one pass over the whole image
    assert tiled.shape == whole.shape == (1600, 2000, 3)
    assert np.abs(tiled - whole).max() <= 1  # within 1/255


# ---------------------------------------------------------------- Python API


def test_python_api_takes_each_kind_and_returns_the_same(sr_run: Path, tmp_path: Path) -> None:
    gen = ganzoo.load_generator(sr_run)
    rgb = (RNG.random((6, 9, 3)) * 255).astype(np.uint8)
    ref = ganzoo.upscale(gen, rgb)  # numpy HWC uint8 in, numpy out
    assert ref.dtype == np.uint8 and ref.shape == (12, 18, 3)
    x = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    chw = ganzoo.upscale(gen, x)  # (C, H, W) in [0, 1]
    bchw = ganzoo.upscale(gen, torch.stack([x, x.flip(-1)]))  # (B, C, H, W)
    assert chw.shape == (3, 12, 18) and bchw.shape == (2, 3, 12, 18) and 0 <= float(chw.min()) <= float(chw.max()) <= 1
    assert np.abs(np.round(chw.permute(1, 2, 0).numpy() * 255) - ref).max() <= 1
    assert torch.allclose(bchw[0], chw, atol=1e-6)
    pil = ganzoo.upscale(gen, Image.fromarray(rgb))
    assert isinstance(pil, Image.Image) and pil.mode == "RGB" and np.array_equal(np.asarray(pil), ref)
    from_path = ganzoo.upscale(sr_run, _save(tmp_path / "x.png", rgb))  # a run directory and a path
    assert isinstance(from_path, Image.Image) and np.array_equal(np.asarray(from_path), ref)

    grey = (RNG.random((5, 7)) * 255).astype(np.uint8)
    notes: list[str] = []
    out = ganzoo.upscale(gen, grey, note=notes.append)
    assert out.shape == (10, 14) and out.dtype == np.uint8 and "grey in, grey out" in notes[0]  # grey stays grey
    assert ganzoo.upscale(gen, Image.fromarray(grey), note=notes.append).mode == "L"
    rgba = (RNG.random((5, 7, 4)) * 255).astype(np.uint8)
    out = ganzoo.upscale(gen, rgba)
    assert out.shape == (10, 14, 4) and np.abs(out[..., :3].astype(int) - ganzoo.upscale(gen, rgba[..., :3])).max() == 0
    assert ganzoo.upscale(gen, Image.fromarray(rgba)).mode == "RGBA"
    with pytest.raises(DataError, match="cannot upscale a list"):
        ganzoo.upscale(gen, [1, 2])
    with pytest.raises(DataError, match="shape"):
        ganzoo.upscale(gen, torch.zeros(5, 8, 8))


def test_python_api_refuses_a_run_that_does_not_upscale(registries: Registries, tiny_spec: dict[str, Any], tmp_path: Path) -> None:
    run = _train(tiny_spec, registries, tmp_path / "gan")
    with pytest.raises(ConfigError, match="'unconditional', which does not upscale"):
        ganzoo.upscale(run, np.zeros((4, 4, 3), np.uint8))


def test_auto_tile_rule_and_notes(sr_run: Path) -> None:
    from ganzoo_sr import memory

    from ganzoo.upscaling import AUTO_TILE, AUTO_TILE_PIXELS, UpscaleNote, auto_tile

    assert auto_tile((512, 512)) is None and auto_tile((513, 512)) == AUTO_TILE and AUTO_TILE_PIXELS == 512 * 512
    assert (memory.AUTO_TILE, memory.AUTO_TILE_PIXELS) == (AUTO_TILE, AUTO_TILE_PIXELS)  # the command and the API agree
    plan = memory.plan_upscale("x", (800, 1000), scale=4, channels=3, bpp=1536.0, tile=None, tile_pad=8,
                               host_budget=20e9, device_budget=20e9, shared=False)
    assert plan.tile == AUTO_TILE  # though the whole pass (19.7 GB) would fit the budget
    plan = memory.plan_upscale("x", (800, 1000), scale=4, channels=3, bpp=1536.0, tile=None, tile_pad=8,
                               host_budget=20e9, device_budget=1e9, shared=False)
    assert plan.tile is not None and plan.tile < AUTO_TILE and "available" in str(plan.note)  # memory asks for smaller ones
    grey = np.zeros((4, 4), np.uint8)
    with pytest.warns(UpscaleNote, match="the run is RGB; grey in, grey out"):
        ganzoo.upscale(sr_run, grey)
    notes: list[str] = []
    ganzoo.upscale(sr_run, grey, note=notes.append)
    assert len(notes) == 1
    with pytest.raises(ConfigError, match="tile must be"):
        ganzoo.upscale(sr_run, grey, tile=-3, note=notes.append)
