"""The timm-backbone discriminator plugin (plugins/ganzoo_timm)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from ganzoo import DataInfo
from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import Registries, collect, load_registries
from ganzoo.spec.model import SpecError, validate_spec
from ganzoo.engine.run import Run

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


@pytest.fixture
def reg(monkeypatch: pytest.MonkeyPatch) -> Registries:
    """Installed registries, plus ganzoo_timm until its entry point is installed."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    base = load_registries()
    if "timm" in base["model"].names("discriminator"):
        return base
    import ganzoo_timm

    return collect(get_plugin_manager(extra=[("ganzoo_timm", ganzoo_timm)]))


def _build(reg: Registries, params: dict[str, Any] | None, channels: int = 1, size: int = 32) -> torch.nn.Module:
    return reg.build("model", "timm", params, DataInfo(channels=channels, size=size), role="discriminator")


def test_plugin_import_does_not_load_torch() -> None:
    code = "import sys, ganzoo_timm; ganzoo_timm.ganzoo_models(); assert 'torch' not in sys.modules and 'timm' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), *(p for p in sys.path if p)])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


@pytest.mark.parametrize("channels", [1, 3])
def test_builds_at_32px(reg: Registries, channels: int) -> None:
    torch.manual_seed(0)
    D = _build(reg, None, channels)
    x = torch.randn(4, channels, 32, 32, requires_grad=True)
    out = D(x)
    assert out.shape == (4,)
    out.sum().backward()
    assert x.grad is not None and D.head.weight.grad is not None
    assert D(x, torch.zeros(4, dtype=torch.long)).shape == (4,)  # labels are accepted and ignored


def test_two_step_training_run(reg: Registries, tiny_spec: dict[str, Any], tmp_path: Path) -> None:
    tiny_spec["discriminator"] = {"type": "timm", "params": {"spectral_norm": True}}
    tiny_spec["data"]["params"]["size"] = 32
    tiny_spec["train"].update(steps=2, batch_size=4, sample_every=0, checkpoint_every=2, tensorboard=False)
    run = Run(validate_spec(tiny_spec, reg), reg, tmp_path)
    before = {k: v.clone() for k, v in run.nets["discriminator"].state_dict().items()}
    run.fit()
    after = run.nets["discriminator"].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert (tmp_path / "checkpoints" / "step_00000002.pt").is_file()


def test_bad_model_and_size(reg: Registries) -> None:
    with pytest.raises(ValueError, match=r"unknown timm model 'resnet10x'.*Did you mean"):
        _build(reg, {"model": "resnet10x"})
    with pytest.raises(ValueError, match=r"'vit_tiny_patch16_224' does not accept 1x32x32 images"):
        _build(reg, {"model": "vit_tiny_patch16_224"})


def test_missing_weights_file(reg: Registries, tmp_path: Path) -> None:
    path = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match=f"weights file {path} does not exist"):
        _build(reg, {"weights": str(path)})


def test_sha256_is_checked(reg: Registries, tmp_path: Path) -> None:
    path = tmp_path / "d.pt"
    torch.save(_build(reg, None).state_dict(), path)
    with pytest.raises(ValueError, match=f"{path} has sha256 .* expected {'0' * 64}"):
        _build(reg, {"weights": str(path), "sha256": "0" * 64})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _build(reg, {"weights": str(path), "sha256": digest.upper()})  # case-insensitive
    with pytest.raises(SpecError, match="sha256"):
        validate_spec({"task": "unconditional", "data": {"type": "digits"}, "generator": {"type": "dcgan"},
                       "discriminator": {"type": "timm", "params": {"sha256": "xyz"}}}, reg)


def test_loads_same_architecture_state_dicts(reg: Registries, tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = _build(reg, None).eval()
    x = torch.randn(2, 1, 32, 32)
    whole, backbone = tmp_path / "whole.pt", tmp_path / "backbone.pt"
    torch.save(src.state_dict(), whole)
    torch.save({"state_dict": src.backbone.state_dict()}, backbone)  # a wrapped timm backbone checkpoint
    torch.manual_seed(1)
    D = _build(reg, {"weights": str(whole)}).eval()
    torch.testing.assert_close(D(x), src(x))
    B = _build(reg, {"weights": str(backbone)}).eval()
    torch.testing.assert_close(B.backbone(x), src.backbone(x))
    sn = _build(reg, {"spectral_norm": True})
    torch.save(sn.state_dict(), tmp_path / "sn.pt")
    _build(reg, {"spectral_norm": True, "weights": str(tmp_path / "sn.pt")})  # parametrised keys load too


def test_rgb_backbone_weights_adapt_to_grayscale(reg: Registries, tmp_path: Path) -> None:
    path = tmp_path / "rgb.pt"
    torch.save(_build(reg, None, channels=3).backbone.state_dict(), path)
    D = _build(reg, {"weights": str(path)}, channels=1)
    assert D(torch.randn(2, 1, 32, 32)).shape == (2,)


def test_unusable_weights(reg: Registries, tmp_path: Path) -> None:
    other = tmp_path / "other.pt"
    torch.save(_build(reg, {"model": "resnet18"}).state_dict(), other)
    with pytest.raises(ValueError, match=f"{other} does not fit timm model 'resnet10t'"):
        _build(reg, {"weights": str(other)})
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=f"cannot load timm discriminator weights file {junk}"):
        _build(reg, {"weights": str(junk)})


def test_pretrained_weights_get_imagenet_normalisation(reg: Registries, tmp_path: Path) -> None:
    path = tmp_path / "rgb.pt"
    torch.save(_build(reg, None, channels=3).backbone.state_dict(), path)
    auto = _build(reg, {"weights": str(path)}, channels=3).eval()
    plain = _build(reg, {"weights": str(path), "normalize": "none"}, channels=3).eval()
    assert auto.normalize and not plain.normalize and not _build(reg, None, channels=3).normalize  # random init: none by default
    plain.head.load_state_dict(auto.head.state_dict())
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    mean = torch.tensor(auto.backbone.pretrained_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(auto.backbone.pretrained_cfg["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(auto(x), plain(((x + 1) / 2 - mean) / std), atol=1e-5)
    gray = _build(reg, {"weights": str(path)}, channels=1)  # RGB weights on grayscale data: averaged stats
    assert gray.mean.shape == (1, 1, 1, 1) and torch.allclose(gray.mean.flatten(), mean.mean().view(1))
