"""User image files through `ganzoo upscale` and `ganzoo inpaint`: limits, modes, names, lossless output.

Every case runs the real command (the `ganzoo` group with the plugin commands
registered) on tiny images; huge images are tiny files whose header claims a
huge size, so nothing big is ever decoded.
"""

from __future__ import annotations

import copy
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganzoo.engine.run import Run
from ganzoo.images import DEFAULT_MAX_PIXELS, ImageReadError, load_image
from ganzoo.spec.model import validate_spec
from tests.helpers import TINY_INPAINT_SPEC

SR_SPEC: dict[str, Any] = {
    "name": "sr-tiny",
    "task": {"type": "super-resolution", "params": {"scale": 4}},
    "seed": 0,
    "data": {"type": "sr-photos", "params": {"size": 32, "samples": 8}},
    "generator": {"type": "srresnet", "params": {"scale": 4, "num_feat": 8, "num_block": 1}},
    "losses": {"reconstruction": [{"type": "l1"}]},
    "train": {"steps": 1, "batch_size": 4, "device": "cpu", "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
              "sample_grid": 9, "tensorboard": False, "progress": False},
}
INPAINT_SPEC: dict[str, Any] = {**TINY_INPAINT_SPEC, "name": "inp"}
RNG = np.random.default_rng(0)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cli() -> Any:
    """``ganzoo``'s group with the plugin commands, as ``ganzoo.cli.main`` builds it; returns an invoker."""
    from click.testing import CliRunner

    from ganzoo.cli import cli as group
    from ganzoo.plugin.manager import get_plugin_manager

    get_plugin_manager().hook.ganzoo_register_commands(cli=group)
    assert {"upscale", "inpaint"} <= set(group.commands)

    def invoke(*args: Any, env: dict[str, str] | None = None) -> Any:
        result = CliRunner().invoke(group, [str(a) for a in args], catch_exceptions=False, env=env)
        assert "Traceback" not in result.output
        return result

    return invoke


def _train(spec: dict[str, Any], out: Path) -> Path:
    from ganzoo.plugin.registry import load_registries

    reg = load_registries()
    Run(validate_spec(spec, reg), reg, out).fit()
    return out


@pytest.fixture(scope="module")
def sr_rgb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(copy.deepcopy(SR_SPEC), tmp_path_factory.mktemp("sr") / "rgb")


@pytest.fixture(scope="module")
def inpaint_grey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(copy.deepcopy(INPAINT_SPEC), tmp_path_factory.mktemp("inp") / "grey")


@pytest.fixture(scope="module")
def inpaint_rgb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for i in range(4):
        Image.fromarray((RNG.random((16, 16, 3)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    spec = copy.deepcopy(INPAINT_SPEC)
    spec["data"] = {"type": "image-folder", "params": {"root": str(folder), "size": 16, "channels": 3}}
    return _train(spec, tmp_path_factory.mktemp("inp") / "rgb")


def _header_only_png(path: Path, width: int, height: int) -> Path:
    """A valid PNG signature and IHDR claiming ``width`` x ``height`` RGB, with no pixel data: never decodable."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path


def _mask(path: Path, size: tuple[int, int] = (16, 16)) -> tuple[Path, np.ndarray]:
    hole = np.zeros(size, np.uint8)
    hole[4:10, 5:12] = 255
    Image.fromarray(hole).save(path)
    return path, hole > 0


# ---------------------------------------------------------------- bounded input


@pytest.mark.parametrize("width, height, message", [
    (30_000, 30_000, "decompression bomb"),  # over twice Pillow's limit: its DecompressionBombError
    (9_500, 9_500, "decompression bomb"),    # the 90 Mpx: Pillow's warning, made an error
    (7_000, 7_000, "header says 7000x7000"),  # under Pillow's limit, over ours: refused before decoding
])
def test_huge_headers_are_refused_before_decoding(cli: Any, sr_rgb: Path, inpaint_grey: Path, tmp_path: Path, width: int, height: int,
                                                  message: str) -> None:
    bomb = _header_only_png(tmp_path / "bomb.png", width, height)
    res = cli("upscale", sr_rgb, bomb, "--out", tmp_path / "up")
    assert res.exit_code == 1 and message in res.output and str(bomb) in res.output and "nothing was written" in res.output
    assert not (tmp_path / "up").exists()
    face = tmp_path / "face.png"
    Image.fromarray(np.full((16, 16), 90, np.uint8)).save(face)
    mask, _ = _mask(tmp_path / "mask.png")
    for image, holes, what in [(bomb, mask, "image"), (face, bomb, "mask")]:
        res = cli("inpaint", inpaint_grey, image, "--mask", holes, "--out", tmp_path / "o.png")
        assert res.exit_code == 1 and f"cannot read {what} {bomb}" in res.output and message in res.output


def test_pixel_limit_is_settable_and_documented_default(cli: Any, sr_rgb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img = tmp_path / "small.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(img)
    res = cli("upscale", sr_rgb, img, "--out", tmp_path / "a", env={"GANZOO_MAX_IMAGE_PIXELS": "100"})
    assert res.exit_code == 1 and "256 pixels" in res.output and "over the pixel limit of 100 " in res.output
    res = cli("upscale", sr_rgb, img, "--out", tmp_path / "b", "--max-pixels", "256", env={"GANZOO_MAX_IMAGE_PIXELS": "100"})
    assert res.exit_code == 0, res.output  # the option wins over the environment
    res = cli("upscale", sr_rgb, img, "--out", tmp_path / "c", env={"GANZOO_MAX_IMAGE_PIXELS": "lots"})
    assert res.exit_code == 2 and "GANZOO_MAX_IMAGE_PIXELS='lots'" in res.output
    monkeypatch.delenv("GANZOO_MAX_IMAGE_PIXELS", raising=False)
    assert DEFAULT_MAX_PIXELS == 40_000_000
    with pytest.raises(ImageReadError, match="pixel limit of 40,000,000 "):
        load_image(_header_only_png(tmp_path / "big.png", 8_000, 5_001))


def test_a_limit_above_pillows_governs_and_pillows_is_restored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A --max-pixels above Pillow's bomb limit lets a header past Pillow's check (Pillow's limit scaled down here)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # Pillow would call 40x40 = 1,600 pixels a bomb (over 2 x 500)
    header = _header_only_png(tmp_path / "h.png", 40, 40)
    with pytest.raises(ImageReadError, match="decompression bomb"):
        load_image(header, limit=400)
    with pytest.raises(ImageReadError, match="truncated or corrupt") as info:  # past both checks: decoding finds no data
        load_image(header, limit=2_000)
    assert "bomb" not in str(info.value) and Image.MAX_IMAGE_PIXELS == 500  # Pillow's global, restored


def test_truncated_and_corrupt_files_name_the_file(cli: Any, inpaint_grey: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray((RNG.random((16, 16)) * 255).astype(np.uint8)).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:-40])
    mask, _ = _mask(tmp_path / "mask.png")
    res = cli("inpaint", inpaint_grey, cut, "--mask", mask)
    assert res.exit_code == 1 and f"cannot read image {cut}" in res.output
    res = cli("inpaint", inpaint_grey, good, "--mask", cut)
    assert res.exit_code == 1 and f"cannot read mask {cut}" in res.output


# ---------------------------------------------------------------- upscale: where outputs go, memory


def test_out_under_a_file_is_refused_before_loading_the_run(cli: Any, sr_rgb: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import ganzoo.api

    def no_compute(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the run was loaded before --out was checked")

    monkeypatch.setattr(ganzoo.api, "load_generator", no_compute)
    img = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    (tmp_path / "file").write_text("not a directory")
    res = cli("upscale", sr_rgb, img, "--out", tmp_path / "file" / "sub")
    assert res.exit_code == 2 and f"{tmp_path / 'file'}, which is a file" in res.output


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes to read-only directories anyway")
def test_out_in_a_read_only_directory_is_refused(cli: Any, sr_rgb: Path, tmp_path: Path) -> None:
    img = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        res = cli("upscale", sr_rgb, img, "--out", locked / "up")
        assert res.exit_code == 2 and "not writable" in res.output and str(locked) in res.output
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize("error", [MemoryError, lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 17.30 GiB")])
def test_out_of_memory_is_one_message_suggesting_tile(cli: Any, sr_rgb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      error: Any) -> None:
    from ganzoo_sr.task import SuperResolution

    def oom(*_a: Any, **_k: Any) -> None:
        raise error()

    monkeypatch.setattr(SuperResolution, "upscale", oom)
    img = tmp_path / "x.png"
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(img)
    res = cli("upscale", sr_rgb, img, "--out", tmp_path / "up")
    assert res.exit_code == 1 and "out of memory upscaling" in res.output and "--tile 15" in res.output
    assert not (tmp_path / "up").exists()


def test_memory_estimate_tiles_automatically_or_refuses(cli: Any, sr_rgb: Path, tmp_path: Path) -> None:
    from ganzoo import load_generator
    from ganzoo_sr.memory import HOST_BYTES_PER_SAMPLE, bytes_per_output_pixel

    gen = load_generator(sr_rgb)
    bpp = bytes_per_output_pixel(gen.module, 3, gen.device)
    assert bpp == 8 * 4 * 3 * 2  # three 8-feature float maps per output pixel, times the safety factor 2
    img = tmp_path / "x.png"
    Image.fromarray((RNG.random((64, 64, 3)) * 255).astype(np.uint8)).save(img)
    host = 256 * 256 * 3 * HOST_BYTES_PER_SAMPLE  # 1.97 MB of output buffers; the whole pass needs 12.6 MB more
    res = cli("upscale", sr_rgb, img, "--out", tmp_path / "whole")
    assert res.exit_code == 0 and "upscaling in tiles" not in res.output
    res = cli("upscale", sr_rgb, img, "--out", tmp_path / "tiled", "--max-memory", (host + 6e6) / 1e9)
    assert res.exit_code == 0 and "upscaling in tiles (--tile 12)" in res.output  # floor(sqrt(6e6 / 192) / 4) - 2 * 16 (the pad)
    whole, tiled = (np.asarray(Image.open(tmp_path / d / "x_x4.png"), np.int16) for d in ("whole", "tiled"))
    assert np.abs(whole - tiled).max() <= 1  # the pad covers this network's receptive field
    res = cli("upscale", sr_rgb, img, "--out", tmp_path / "none", "--max-memory", (host + 1e6) / 1e9)
    assert res.exit_code == 1 and "even --tile 8 needs" in res.output
    res = cli("upscale", sr_rgb, img, "--out", tmp_path / "none", "--max-memory", host / 2e9)
    assert res.exit_code == 1 and "tiling cannot reduce it" in res.output and not (tmp_path / "none").exists()


def test_names_never_collide_nor_overwrite(cli: Any, sr_rgb: Path, tmp_path: Path) -> None:
    pixels = (RNG.random((6, 7, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    Image.fromarray(255 - pixels).save(tmp_path / "rgb.jpg", quality=100)
    (tmp_path / "b").mkdir()
    Image.fromarray(pixels[::-1]).save(tmp_path / "b" / "rgb.jpg")
    out = tmp_path / "up"
    res = cli("upscale", sr_rgb, tmp_path / "rgb.png", tmp_path / "rgb.jpg", tmp_path / "b" / "rgb.jpg", "--out", out)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == ["rgb-1_x4.png", "rgb.jpg_x4.png", "rgb_x4.png"]
    outs = [np.asarray(Image.open(out / n)) for n in ("rgb_x4.png", "rgb.jpg_x4.png", "rgb-1_x4.png")]
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[0], outs[2])
    before = (out / "rgb_x4.png").read_bytes()
    res = cli("upscale", sr_rgb, tmp_path / "rgb.jpg", "--out", out)
    assert res.exit_code == 2 and "rgb_x4.png already exists" in res.output and "--overwrite" in res.output
    assert (out / "rgb_x4.png").read_bytes() == before
    res = cli("upscale", sr_rgb, tmp_path / "rgb.jpg", "--out", out, "--overwrite")
    assert res.exit_code == 0 and (out / "rgb_x4.png").read_bytes() != before


# ---------------------------------------------------------------- upscale: modes


def _reference(run: Path, grey01: np.ndarray) -> np.ndarray:
    """The RGB run on a grey [0, 1] image as the command documents it: grey repeated, SR, channel mean; [0, 1]."""
    from ganzoo import load_generator

    gen = load_generator(run)
    x = torch.from_numpy(grey01.astype(np.float32))[None, None].mul(2).sub(1).expand(1, 3, *grey01.shape).contiguous()
    sr = gen.task.upscale(gen.module, x, device=gen.device).mean(1)[0]
    return ((sr + 1) / 2).clamp(0, 1).numpy()


def test_16_bit_png_keeps_its_values(cli: Any, sr_rgb: Path, tmp_path: Path) -> None:
    data = (RNG.random((8, 9)) * 40000 + 20000).astype(np.uint16)  # mid-grey: a /255 reading would be all white
    Image.fromarray(data).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    res = cli("upscale", sr_rgb, tmp_path / "deep.png", "--out", tmp_path / "up")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "up" / "deep_x4.png") as img:
        assert img.mode == "I;16" and img.size == (36, 32)  # grey stays grey, 16 bits stay 16 bits
        out = np.asarray(img).astype(np.int64)
    ref = np.round(_reference(sr_rgb, data / 65535.0) * 65535)
    assert np.abs(out - ref).max() <= 1 and 0.3 < out.mean() / 65535 < 0.7


def test_float_tiff_is_read_as_0_to_1_and_clipped_with_a_note(cli: Any, sr_rgb: Path, tmp_path: Path) -> None:
    data = np.linspace(-0.25, 1.25, 80, dtype=np.float32).reshape(8, 10)
    Image.fromarray(data).save(tmp_path / "f.tif")
    res = cli("upscale", sr_rgb, tmp_path / "f.tif", "--out", tmp_path / "up")
    assert res.exit_code == 0 and "samples outside it" in res.output and "clipped" in res.output
    out = np.asarray(Image.open(tmp_path / "up" / "f_x4.png")).astype(np.int64)
    ref = np.round(_reference(sr_rgb, np.clip(data, 0, 1)) * 65535)
    assert np.abs(out - ref).max() <= 1 and out.max() > 30000  # not the black of a uint8 cast


@pytest.mark.parametrize("mode, out_mode", [("P", "RGB"), ("PT", "RGBA"), ("CMYK", "RGB"), ("1", "L"), ("LA", "LA")])
def test_palette_cmyk_1bit_and_alpha_modes(cli: Any, sr_rgb: Path, tmp_path: Path, mode: str, out_mode: str) -> None:
    rgb = Image.fromarray((RNG.random((6, 8, 3)) * 255).astype(np.uint8))
    path = tmp_path / ("x.tif" if mode == "CMYK" else "x.png")
    if mode == "P":
        rgb.convert("P").save(path)
    elif mode == "PT":
        pal = rgb.convert("P")
        pal.info["transparency"] = int(np.asarray(pal)[0, 0])
        pal.save(path, transparency=int(np.asarray(pal)[0, 0]))
    elif mode == "CMYK":
        rgb.convert("CMYK").save(path)
    elif mode == "1":
        rgb.convert("1").save(path)
    else:
        rgb.convert("LA").save(path)
    res = cli("upscale", sr_rgb, path, "--out", tmp_path / "up")
    assert res.exit_code == 0, res.output
    with Image.open(tmp_path / "up" / "x_x4.png") as img:
        assert img.mode == out_mode and img.size == (32, 24)
    if mode == "CMYK":
        assert "CMYK converted to RGB" in res.output
    if mode.startswith("P"):
        assert "palette image expanded" in res.output


def test_rgba_alpha_is_upscaled_bicubically_beside_the_colour(cli: Any, sr_rgb: Path, tmp_path: Path) -> None:
    from ganzoo import load_generator

    rgba = (RNG.random((6, 8, 4)) * 255).astype(np.uint8)
    rgba[..., 3] = 0
    rgba[:, 4:, 3] = 255  # half transparent, half opaque
    Image.fromarray(rgba).save(tmp_path / "a.png")
    res = cli("upscale", sr_rgb, tmp_path / "a.png", "--out", tmp_path / "up")
    assert res.exit_code == 0, res.output
    out = np.asarray(Image.open(tmp_path / "up" / "a_x4.png"))
    assert out.shape == (24, 32, 4)
    alpha = torch.from_numpy(rgba[..., 3].astype(np.float32) / 255)[None, None]
    ref_alpha = np.round(F.interpolate(alpha, scale_factor=4, mode="bicubic", align_corners=False)[0, 0].clamp(0, 1).numpy() * 255)
    assert np.array_equal(out[..., 3], ref_alpha.astype(np.uint8))
    gen = load_generator(sr_rgb)  # the colour is the network's, on the colour channels alone
    x = torch.from_numpy(rgba[..., :3].astype(np.float32) / 255).permute(2, 0, 1)[None] * 2 - 1
    ref = np.round(((gen.task.upscale(gen.module, x, device=gen.device)[0] + 1) / 2).permute(1, 2, 0).numpy() * 255)
    assert np.abs(out[..., :3].astype(int) - ref).max() <= 1


def test_unrepresentable_modes_are_refused_by_name(cli: Any, sr_rgb: Path, tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 70000], [5, 9]], np.int32)).save(tmp_path / "i32.tif")
    Image.fromarray(np.array([[0.0, np.nan], [1.0, 0.5]], np.float32)).save(tmp_path / "nan.tif")
    res = cli("upscale", sr_rgb, tmp_path / "i32.tif", tmp_path / "nan.tif", "--out", tmp_path / "up")
    assert res.exit_code == 1 and "32-bit integer image with values 0..70000" in res.output and "NaN" in res.output


# ---------------------------------------------------------------- inpaint: modes, colour, lossless output


def _inpaint_case(tmp_path: Path, kind: str) -> tuple[Path, np.ndarray, str]:
    """(file, the samples the output's known pixels must equal, the output mode Pillow reads back)."""
    rgb = (RNG.random((16, 16, 3)) * 255).astype(np.uint8)
    path = tmp_path / f"{kind}.png"
    img = Image.fromarray(rgb)
    if kind == "L":
        img = img.convert("L")
    elif kind == "LA":
        img = img.convert("LA")
    elif kind == "RGBA":
        img = Image.fromarray(np.dstack([rgb, (RNG.random((16, 16)) * 255).astype(np.uint8)]))
    elif kind == "P":
        img = img.convert("P")
    elif kind == "PT":
        img = img.convert("P")
        img.info["transparency"] = 3
    elif kind == "1":
        img = img.convert("1")
    elif kind == "I;16":
        img = Image.fromarray((RNG.random((16, 16)) * 65535).astype(np.uint16))
    elif kind == "F":
        path = tmp_path / "F.tif"
        img = Image.fromarray(RNG.random((16, 16)).astype(np.float32) * 1.2)  # some samples over 1: kept as they are
    if kind == "PT":
        img.save(path, transparency=3)
    else:
        img.save(path)
    expect = {"P": "RGB", "PT": "RGBA", "1": "L"}.get(kind, kind)
    with Image.open(path) as src:
        known = np.asarray(src.convert(expect) if expect != src.mode else src)
    return path, known, expect


@pytest.mark.parametrize("run", ["inpaint_grey", "inpaint_rgb"])
@pytest.mark.parametrize("kind", ["L", "LA", "RGB", "RGBA", "P", "PT", "1", "I;16", "F"])
def test_inpaint_keeps_mode_and_every_known_pixel(cli: Any, request: pytest.FixtureRequest, tmp_path: Path, run: str, kind: str) -> None:
    path, known, expect = _inpaint_case(tmp_path, kind)
    mask, hole = _mask(tmp_path / "mask.png")
    out = tmp_path / ("out.tif" if kind == "F" else "out.png")
    res = cli("inpaint", request.getfixturevalue(run), path, "--mask", mask, "--out", out)
    assert res.exit_code == 0, res.output
    with Image.open(out) as img:
        assert img.mode == expect
        result = np.asarray(img)
    assert result.shape == known.shape and result.dtype == known.dtype
    assert np.array_equal(result[~hole], known[~hole])  # bit for bit, colour and alpha alike
    assert not np.array_equal(result[hole], known[hole])  # the holes were filled
    if result.ndim == 3 and result.shape[2] in (2, 4):
        assert np.array_equal(result[..., -1], known[..., -1])  # alpha untouched, in the holes too


def test_grey_run_on_a_colour_photo_fills_each_channel(cli: Any, inpaint_grey: Path, tmp_path: Path) -> None:
    from ganzoo import load_generator

    path, known, _ = _inpaint_case(tmp_path, "RGB")
    mask, hole = _mask(tmp_path / "mask.png")
    res = cli("inpaint", inpaint_grey, path, "--mask", mask, "--out", tmp_path / "out.png")
    assert res.exit_code == 0 and "R, G and B are filled one at a time" in res.output
    result = np.asarray(Image.open(tmp_path / "out.png"))
    gen = load_generator(inpaint_grey)
    m = torch.from_numpy(hole.astype(np.float32))[None, None]
    for c in range(3):  # the grey run on each channel alone, as the command does it
        x = torch.from_numpy(known[..., c].astype(np.float32) / 255)[None, None] * 2 - 1
        ref = np.round((gen.task.inpaint(gen.module, x, m)[0, 0].detach().clamp(-1, 1).numpy() + 1) / 2 * 255)
        assert np.array_equal(result[..., c][hole], ref[hole].astype(np.uint8))
    assert np.array_equal(result[~hole], known[~hole])


def test_lossy_output_needs_a_flag_and_says_what_changed(cli: Any, inpaint_rgb: Path, tmp_path: Path) -> None:
    path, known, _ = _inpaint_case(tmp_path, "RGB")
    mask, hole = _mask(tmp_path / "mask.png")
    res = cli("inpaint", inpaint_rgb, path, "--mask", mask, "--out", tmp_path / "x.jpg")
    assert res.exit_code == 2 and "lossy" in res.output and "--lossy" in res.output and not (tmp_path / "x.jpg").exists()
    res = cli("inpaint", inpaint_rgb, path, "--mask", mask, "--out", tmp_path / "x.jpg", "--lossy")
    assert res.exit_code == 0 and "known pixels now differ" in res.output
    moved = np.abs(np.asarray(Image.open(tmp_path / "x.jpg")).astype(int) - known)[~hole].max()
    assert f"by up to {moved} of 255 levels" in res.output
    res = cli("inpaint", inpaint_rgb, path, "--mask", mask, "--out", tmp_path / "x.gif")
    assert res.exit_code == 2 and "unknown image type" in res.output


def test_inpaint_output_is_checked_before_compute_and_never_overwritten(cli: Any, inpaint_grey: Path, tmp_path: Path) -> None:
    path, _, _ = _inpaint_case(tmp_path, "L")
    mask, _ = _mask(tmp_path / "mask.png")
    default = tmp_path / "L-inpainted.png"
    assert cli("inpaint", inpaint_grey, path, "--mask", mask).exit_code == 0 and default.is_file()
    first = default.read_bytes()
    default.write_bytes(b"mine")
    res = cli("inpaint", inpaint_grey, path, "--mask", mask)
    assert res.exit_code == 2 and "exists" in res.output and default.read_bytes() == b"mine"
    assert cli("inpaint", inpaint_grey, path, "--mask", mask, "--overwrite").exit_code == 0 and default.read_bytes() == first
    (tmp_path / "file").write_text("x")
    res = cli("inpaint", inpaint_grey, path, "--mask", mask, "--out", tmp_path / "file" / "o.png")
    assert res.exit_code == 2 and f"{tmp_path / 'file'}: it is a file" in res.output


def test_inpaint_refuses_what_it_cannot_write_back(cli: Any, inpaint_rgb: Path, tmp_path: Path) -> None:
    Image.fromarray((RNG.random((16, 16, 3)) * 255).astype(np.uint8)).convert("CMYK").save(tmp_path / "c.tif")
    mask, _ = _mask(tmp_path / "mask.png")
    res = cli("inpaint", inpaint_rgb, tmp_path / "c.tif", "--mask", mask)
    assert res.exit_code == 2 and "CMYK" in res.output and "convert it" in res.output
    f, _, _ = _inpaint_case(tmp_path, "F")
    res = cli("inpaint", inpaint_rgb, f, "--mask", mask, "--out", tmp_path / "f.png")
    assert res.exit_code == 2 and "float image" in res.output and ".tif" in res.output
