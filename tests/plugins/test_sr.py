"""Super-resolution plugin: networks, degradation, task phases, metrics path, perceptual loss, CLI, two-stage init."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ganzoo_sr.data import SRPhotos
from ganzoo_sr.degradation import bicubic_down, bicubic_up, quantize
from ganzoo_sr.nets import (
    RRDB,
    Bicubic,
    MSRResNet,
    ResidualDenseBlock,
    RRDBNet,
    VGGStyleDiscriminator,
)
from ganzoo_sr.params import HELDOUT_PHOTOS, TRAIN_PHOTOS, SRTaskParams
from ganzoo_sr.task import SuperResolution

from ganzoo.evaluation import EvalContext, evaluate
from ganzoo.plugin.registry import Registries
from ganzoo.spec.model import SpecError, load_spec, validate_spec
from ganzoo.engine.run import Run
from ganzoo.weights import WeightsError

REPO = Path(__file__).resolve().parents[2]

SR_SPEC: dict[str, Any] = {
    "name": "sr-tiny",
    "task": {"type": "super-resolution", "params": {"scale": 4}},
    "seed": 0,
    "data": {"type": "digits", "params": {"size": 16, "limit": 32}},
    "generator": {"type": "srresnet", "params": {"scale": 4, "num_feat": 8, "num_block": 1}},
    "losses": {"reconstruction": [{"type": "l1"}]},
    "train": {"steps": 2, "batch_size": 4, "device": "cpu", "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
              "sample_grid": 9, "tensorboard": False, "progress": False},
}
GAN_PARTS: dict[str, Any] = {
    "discriminator": {"type": "vgg-style", "params": {"num_feat": 4}},
    "losses": {
        "reconstruction": [{"type": "l1", "weight": 1e-2},
                           {"type": "perceptual", "params": {"weights": "random", "layer_weights": {"conv2_2": 1.0}}}],
        "adversarial": {"type": "relativistic-average", "weight": 5e-3},
    },
}
PSNR_Y4 = {"type": "psnr", "params": {"y_channel": True, "crop_border": 4}}


def sr_spec(**sections: Any) -> dict[str, Any]:
    spec = copy.deepcopy(SR_SPEC)
    spec.update(copy.deepcopy(sections))
    return spec


def train(spec: dict[str, Any], reg: Registries, out: Path) -> Run:
    run = Run(validate_spec(spec, reg), reg, out)
    run.fit()
    return run


# ---------------------------------------------------------------- networks


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("make", [lambda c, s: MSRResNet(c, s, 8, 1), lambda c, s: RRDBNet(c, s, 8, 1, 4), lambda c, s: Bicubic(s)],
                         ids=["srresnet", "rrdb", "bicubic"])
def test_generators_upscale_by_their_scale(make: Any, scale: int) -> None:
    for channels in (1, 3):
        out = make(channels, scale)(torch.rand(2, channels, 6, 7) * 2 - 1)
        assert out.shape == (2, channels, 6 * scale, 7 * scale)


def test_pixel_shuffle_layout_and_bilinear_skip() -> None:
    net = MSRResNet(3, 2, 8, 1)
    x = torch.arange(2 * 12 * 3 * 3, dtype=torch.float32).view(2, 12, 3, 3)
    y = net.pixel_shuffle(x)  # (2, 3, 6, 6): out[c, 2h + i, 2w + j] = in[4c + 2i + j, h, w]
    for c, i, j in [(0, 0, 0), (1, 0, 1), (2, 1, 0), (2, 1, 1)]:
        assert torch.equal(y[:, c, i::2, j::2], x[:, 4 * c + 2 * i + j])
    # With the residual branch silenced, the network is exactly its bilinear skip.
    torch.nn.init.zeros_(net.conv_last.weight)
    torch.nn.init.zeros_(net.conv_last.bias)
    lr = torch.rand(1, 3, 5, 5)
    assert torch.allclose(net(lr), F.interpolate(lr, scale_factor=2, mode="bilinear", align_corners=False))


def test_rrdb_residual_scaling() -> None:
    x = torch.randn(1, 4, 3, 3)
    rdb = ResidualDenseBlock(4, 2, 0.2)
    torch.nn.init.zeros_(rdb.conv5.weight)
    torch.nn.init.ones_(rdb.conv5.bias)
    assert torch.allclose(rdb(x), x + 0.2)  # x5 * 0.2 + x
    block = RRDB(4, 2, 0.2)
    for r in (block.rdb1, block.rdb2, block.rdb3):
        torch.nn.init.zeros_(r.conv5.weight)
        torch.nn.init.ones_(r.conv5.bias)
    assert torch.allclose(block(x), 0.2 * (x + 0.6) + x, atol=1e-6)  # three RDBs add 0.6, then the outer 0.2 scaling


def test_vgg_style_discriminator_sizes() -> None:
    for size, stages in [(32, 3), (96, 4), (128, 5)]:
        d = VGGStyleDiscriminator(3, 4, size)
        assert d(torch.randn(2, 3, size, size)).shape == (2,)
        assert sum(isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2) for m in d.modules()) == stages
    with pytest.raises(ValueError, match="built for 32x32"):
        VGGStyleDiscriminator(3, 4, 32)(torch.randn(1, 3, 64, 64))


# ---------------------------------------------------------------- degradation and pairs


def _cubic(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return (1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1) + (-0.5 * a**3 + 2.5 * a**2 - 4 * a + 2) * ((a > 1) & (a <= 2))


def _matlab_resize_1d(img: np.ndarray, scale: float, axis: int) -> np.ndarray:
    """MATLAB imresize (bicubic, antialiased) along one axis: BasicSR's NumPy port, symmetric padding."""
    n = img.shape[axis]
    width = 4 / scale if scale < 1 else 4
    u = np.arange(1, math.ceil(n * scale) + 1) / scale + 0.5 * (1 - 1 / scale)
    idx = np.floor(u - width / 2)[:, None] + np.arange(math.ceil(width) + 2)[None]
    w = scale * _cubic((u[:, None] - idx) * scale) if scale < 1 else _cubic(u[:, None] - idx)
    w /= w.sum(1, keepdims=True)
    idx = idx - 1
    idx = np.where(idx < 0, -idx - 1, idx)
    idx = np.where(idx >= n, 2 * n - idx - 1, idx).astype(int)
    moved = np.moveaxis(img, axis, 0)
    return np.moveaxis((moved[idx] * w[..., None]).sum(1), 0, axis)


def test_lr_made_on_the_fly_is_the_documented_degradation() -> None:
    task = SuperResolution(SRTaskParams(scale=4))
    hr = torch.rand(2, 3, 50, 45) * 2 - 1
    lr, target = task.pair({"image": hr})
    assert target.shape == (2, 3, 48, 44) and torch.equal(target, hr[..., :48, :44])  # mod crop keeps the top-left
    direct = F.interpolate(target, scale_factor=0.25, mode="bicubic", antialias=True, align_corners=False)
    assert torch.equal(lr, quantize(direct))
    assert torch.equal(lr, torch.round((lr + 1) * 127.5) / 127.5 - 1)  # 8-bit levels
    # The kernel is MATLAB imresize's: equal away from the border (before rounding).
    img = target[0, 0].double().numpy()
    ref = _matlab_resize_1d(_matlab_resize_1d(img, 0.25, 0), 0.25, 1)
    ours = bicubic_down(target[:1, :1].double(), 4, quantized=False)[0, 0].numpy()
    assert np.abs(ref - ours)[2:-2, 2:-2].max() < 1e-9
    up = bicubic_up(torch.from_numpy(ref)[None, None], 4)[0, 0].numpy()
    ref_up = np.clip(_matlab_resize_1d(_matlab_resize_1d(ref, 4.0, 0), 4.0, 1), -1, 1)
    assert np.abs(up - ref_up)[8:-8, 8:-8].max() < 1e-9


def test_paired_batches_use_their_lr() -> None:
    task = SuperResolution(SRTaskParams(scale=2))
    hr, lr = torch.zeros(2, 3, 8, 8), torch.rand(2, 3, 4, 4)
    got_lr, got_hr = task.pair({"image": hr, "lr": lr})
    assert got_lr is lr and torch.equal(got_hr, hr)
    out = task.eval_pair(Bicubic(2), {"image": hr, "lr": lr})
    assert torch.equal(out["pred"], bicubic_up(lr, 2)) and torch.equal(out["target"], hr)
    with pytest.raises(ValueError, match="does not fit"):
        task.pair({"image": hr, "lr": torch.rand(2, 3, 5, 5)})


def test_upscale_in_tiles_matches_whole_image() -> None:
    task = SuperResolution(SRTaskParams(scale=4))
    net = MSRResNet(3, 4, 8, 1).eval()
    lr = torch.rand(1, 3, 20, 23) * 2 - 1
    whole = task.upscale(net, lr)
    tiled = task.upscale(net, lr, tile=8, tile_pad=6)  # receptive field: 5 LR pixels
    assert torch.allclose(whole, tiled, atol=1e-5)


def test_sr_photos_splits() -> None:
    assert not set(TRAIN_PHOTOS) & set(HELDOUT_PHOTOS)
    train_set, held = SRPhotos("train", 48, 10), SRPhotos("heldout", 96)
    assert len(train_set) == 10 and train_set[3]["image"].shape == (3, 48, 48)
    assert len(held) == 36 and torch.equal(held[5]["image"], SRPhotos("heldout", 96)[5]["image"])  # fixed tiles
    assert held.for_evaluation() is held


def test_training_crops_are_fixed_for_evaluation() -> None:
    """Evaluating on the training split scores the same crops every time, and draws nothing from the training RNG."""
    train_set = SRPhotos("train", 48, 10)
    view = train_set.for_evaluation()
    state = torch.get_rng_state()
    first = [view[i]["image"] for i in range(4)]
    assert all(torch.equal(a, view[i]["image"]) for i, a in enumerate(first))
    assert not torch.equal(first[0], view[len(view.photos)]["image"])  # photo 0 again, at another position
    assert torch.equal(torch.get_rng_state(), state)
    assert not train_set.fixed_crops and not torch.equal(train_set[0]["image"], train_set[0]["image"])  # training stays random


# ---------------------------------------------------------------- training, phases and spec checks


def test_psnr_task_trains_without_discriminator(registries: Registries, tmp_path: Path) -> None:
    run = train(sr_spec(), registries, tmp_path / "run")
    assert run.step == 2 and run.d_updates == 0 and set(run.nets) == {"generator"}
    assert (tmp_path / "run" / "samples" / "step_00000002.png").is_file()  # the (bicubic | SR | HR) preview
    logs = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert "G/l1" in logs[-1] and not any(k.startswith("D/") for k in logs[-1])


def test_gan_recipe_trains_with_relativistic_average(registries: Registries, tmp_path: Path) -> None:
    spec = sr_spec(**GAN_PARTS)
    run = Run(validate_spec(spec, registries), registries, tmp_path / "run")
    adv, seen = run.losses.adversarial, []
    original = adv.g_loss

    def spy(fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        seen.append(real_logits)
        return original(fake_logits, real_logits)

    adv.g_loss = spy  # type: ignore[method-assign]
    before = {k: v.clone() for k, v in run.nets["discriminator"].state_dict().items()}
    run.fit()
    assert run.step == 2 and run.d_updates == 2
    assert len(seen) == 2 and all(r is not None and r.shape == (4,) and not r.requires_grad for r in seen)
    assert any(not torch.equal(before[k], v) for k, v in run.nets["discriminator"].state_dict().items())
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"D/loss", "G/adversarial", "G/perceptual", "G/l1"} <= set(last)


def test_task_declares_and_checks_its_needs(registries: Registries, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="losses.reconstruction"):
        validate_spec(sr_spec(losses={}), registries)
    with pytest.raises(SpecError, match="discriminator: a discriminator trains only with an adversarial loss"):
        validate_spec(sr_spec(discriminator=GAN_PARTS["discriminator"]), registries)
    bad_scale = sr_spec(generator={"type": "srresnet", "params": {"scale": 2, "num_feat": 8, "num_block": 1}})
    with pytest.raises(ValueError, match="scale is 2 but task.params.scale is 4"):
        Run(validate_spec(bad_scale, registries), registries, tmp_path / "b")


# ---------------------------------------------------------------- metrics path and the bicubic baseline


def test_eval_pair_feeds_psnr_end_to_end(registries: Registries, tmp_path: Path) -> None:
    spec = sr_spec(data={"type": "sr-photos", "params": {"size": 32, "samples": 8}},
                   eval={"metrics": [PSNR_Y4, {"type": "ssim", "params": {"y_channel": True, "crop_border": 4}}]})
    train(spec, registries, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "eval.json").read_text())["metrics"]
    assert set(metrics) == {"psnr_y_crop4", "ssim_y_crop4"}
    assert 5 < metrics["psnr_y_crop4"]["value"] < 60 and metrics["psnr_y_crop4"]["protocol"]["n"] == 8


def _y(img: np.ndarray) -> np.ndarray:
    """BT.601 Y on the 0..255 scale of (H, W, 3) uint8, as BasicSR."""
    return 16.0 + img.astype(np.float64) @ np.array([65.481, 128.553, 24.966]) / 255.0


def test_bicubic_baseline_psnr_equals_direct_computation(registries: Registries) -> None:
    data = SRPhotos("heldout", 48)
    gen = registries.build("model", "bicubic", {"scale": 4}, data.info, role="generator")
    metric = registries.build("metric", "psnr", {"y_channel": True, "crop_border": 4})
    task = registries.build("task", "super-resolution", {"scale": 4})
    ctx = EvalContext(task, gen, data, "heldout-48", torch.device("cpu"), batch_size=16)
    via_eval = evaluate(ctx, [metric]).values["psnr_y_crop4"]
    direct = []
    for i in range(len(data)):
        hr = data[i]["image"][None]  # (1, 3, 48, 48)
        lr = quantize(F.interpolate(hr, scale_factor=0.25, mode="bicubic", antialias=True))
        sr = F.interpolate(lr, scale_factor=4.0, mode="bicubic", antialias=True).clamp(-1, 1)
        u8 = [((t[0].permute(1, 2, 0).float() + 1) * 127.5).round().clamp(0, 255).numpy().astype(np.uint8) for t in (sr, hr)]
        a, b = (_y(x)[4:-4, 4:-4] for x in u8)
        direct.append(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))
    assert via_eval == pytest.approx(float(np.mean(direct)), abs=1e-9)


# ---------------------------------------------------------------- perceptual loss


def test_perceptual_with_random_vgg19_matches_torchvision(registries: Registries) -> None:
    from torchvision.models.vgg import cfgs, make_layers

    loss = registries.build("loss", "perceptual", {"weights": "random", "layer_weights": {"conv3_4": 1.0}, "seed": 3})
    tv = make_layers(cfgs["E"]).requires_grad_(False)  # torchvision's vgg19().features, randomly initialised
    tv.load_state_dict({k.removeprefix("features."): v for k, v in loss.net.state_dict().items() if k.startswith("features.")}, strict=False)
    x, y = torch.rand(2, 3, 24, 24) * 2 - 1, torch.rand(2, 3, 24, 24) * 2 - 1
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    conv3_4 = 16  # torchvision index; conv3_4 before its ReLU
    fx, fy = (tv[: conv3_4 + 1](((t + 1) / 2 - mean) / std) for t in (x, y))
    assert torch.allclose(loss.net(x)["conv3_4"], fx, atol=1e-5)
    assert float(loss(x, y)) == pytest.approx(float(F.l1_loss(fx, fy)), rel=1e-5)
    grey = torch.rand(1, 1, 24, 24)
    assert float(loss(grey, grey)) == 0.0  # one channel is repeated to RGB


def test_missing_vgg_weights_is_one_clear_error(registries: Registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANZOO_WEIGHTS", str(tmp_path / "none"))
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(WeightsError) as info:
        registries.build("loss", "perceptual", {})
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message and "dcbb9e9d" in message and "never downloads" in message
    assert str(tmp_path / "none") in message and "Offline alternative" in message


# ---------------------------------------------------------------- CLI and two-stage recipes


@pytest.fixture(scope="module")
def sr_cli() -> Any:
    """``ganzoo``'s click group with plugin commands added, as ``ganzoo.cli.main`` does; returns an invoker."""
    from click.testing import CliRunner

    from ganzoo.cli import cli
    from ganzoo.plugin.manager import get_plugin_manager

    get_plugin_manager().hook.ganzoo_register_commands(cli=cli)
    assert {"upscale", "sr-eval"} <= set(cli.commands)
    return lambda *args: CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def psnr_run(registries: Registries, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny finished PSNR run on RGB photos (stage 1)."""
    out = tmp_path_factory.mktemp("stage1") / "run"
    spec = sr_spec(data={"type": "sr-photos", "params": {"size": 32, "samples": 8}}, eval={"metrics": [PSNR_Y4]})
    train(spec, registries, out)
    return out


def test_upscale_cli(psnr_run: Path, tmp_path: Path, sr_cli: Any) -> None:
    from PIL import Image

    Image.fromarray((np.random.default_rng(0).random((10, 13, 3)) * 255).astype(np.uint8)).save(tmp_path / "small.png")
    result = sr_cli("upscale", psnr_run, tmp_path / "small.png", "--out", tmp_path / "big", "--tile", "8")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "big" / "small_x4.png") as img:
        assert img.size == (52, 40) and img.mode == "RGB"

    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = sr_cli("upscale", psnr_run, tmp_path / "small.png", tmp_path / "broken.png", "--out", tmp_path / "none")
    assert result.exit_code == 1
    assert "cannot read image" in result.output and "broken.png" in result.output and "nothing was written" in result.output
    assert not (tmp_path / "none").exists()


def test_upscale_from_a_checkpoint_of_an_unfinished_run(psnr_run: Path, tmp_path: Path, sr_cli: Any) -> None:
    import shutil

    from PIL import Image

    from ganzoo import RunDir

    unfinished = tmp_path / "unfinished"
    shutil.copytree(psnr_run, unfinished)
    RunDir(unfinished).generator.unlink()  # as after Ctrl-C: checkpoints, no export
    Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(tmp_path / "in.png")
    result = sr_cli("upscale", unfinished, tmp_path / "in.png", "--out", tmp_path / "a")
    assert result.exit_code == 2 and "--checkpoint latest" in result.output
    result = sr_cli("upscale", unfinished, tmp_path / "in.png", "--out", tmp_path / "b", "--checkpoint", "latest")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "b" / "in_x4.png") as img:
        assert img.size == (32, 32)


def test_sr_eval_cli_on_heldout(psnr_run: Path, tmp_path: Path, sr_cli: Any) -> None:
    result = sr_cli("sr-eval", psnr_run, "--data-set", "split=heldout", "--data-set", "size=48", "--json", tmp_path / "h.json")
    assert result.exit_code == 0, result.output
    blob = json.loads((tmp_path / "h.json").read_text())
    assert blob["data"]["params"]["split"] == "heldout" and blob["metrics"]["psnr_y_crop4"]["protocol"]["n"] == 150  # 54 tiles of chelsea, 96 of coffee


def test_two_stage_init_from_psnr_run(psnr_run: Path, registries: Registries, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    spec = load_spec(REPO / "registry" / "esrgan-x4.yaml", registries, [
        f"init.generator.from={psnr_run}", "generator.type=srresnet", "generator.params={scale: 4, num_feat: 8, num_block: 1}",
        "data.params.size=32", "discriminator.params.num_feat=4", "losses.reconstruction.1.params.weights=random",
        "losses.reconstruction.1.params.layer_weights={conv2_2: 1.0}",
        "train.steps=2", "train.batch_size=4", "train.device=cpu", "train.sample_every=0", "train.checkpoint_every=0",
        "train.tensorboard=false", "train.progress=false", "eval.metrics=[]",
    ])
    run = Run(spec, registries, tmp_path / "gan")
    stage1 = load_file(str(psnr_run / "generator.safetensors"))
    assert all(torch.equal(v, stage1[k]) for k, v in run.nets["generator"].state_dict().items())
    run.fit()
    assert run.d_updates == 2
    assert json.loads((tmp_path / "gan" / "run.json").read_text())["init"]["generator"]


def test_plugin_contracts(registries: Registries) -> None:
    import ganzoo_sr

    from ganzoo.testing import check_entry, check_plugin_loads, components_of

    check_plugin_loads(registries, ganzoo_sr)
    entries = components_of(registries, ganzoo_sr)
    assert {e.name for e in entries} == {"super-resolution", "srresnet", "edsr-lite", "rrdb", "bicubic", "vgg-style", "unet-sn",
                                         "sr-photos", "sr-paired", "sr-benchmark"}
    for entry in [*entries, registries["loss"].get("perceptual")]:
        check_entry(entry)


def test_adversarial_weight_scales_only_the_g_term(registries: Registries, tmp_path: Path) -> None:
    spec = sr_spec(**GAN_PARTS)
    spec["losses"]["adversarial"]["weight"] = 1e-3
    spec["train"]["steps"] = 1
    run = Run(validate_spec(spec, registries), registries, tmp_path / "run")
    run.fit()
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    # Relativistic D loss is about log 2 at the start: unscaled by the 1e-3 weight.
    assert 0.3 < last["D/loss"] < 1.5
    assert last["G/loss"] == pytest.approx(1e-2 * last["G/l1"] + last["G/perceptual"] + 1e-3 * last["G/adversarial"], rel=1e-4)
