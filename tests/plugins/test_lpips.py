"""ganzoo's LPIPS against the ``lpips`` package with the same (random-trunk) state dict."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pytest
import torch

from ganzoo.weights import ENV_CACHE, ENV_WEIGHTS, WeightsError, sha256_file
from ganzoo_metrics import lpips as glp
from ganzoo_metrics.lpips import LPIPS, build_lpips, trunk_state_dict

lpips = pytest.importorskip("lpips")


def _reference(net: str) -> torch.nn.Module:
    # pnet_rand=True: torchvision trunk with random init (no download); the v0.1 heads come from the wheel.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's "pretrained=" deprecation
        return lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)


def _pairs(size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(3, 3, size, size, generator=g) * 2 - 1, torch.rand(3, 3, size, size, generator=g) * 2 - 1


@pytest.mark.parametrize(("net", "size"), [("alex", 64), ("vgg", 32)])
def test_matches_lpips_package(net: str, size: int) -> None:
    torch.manual_seed(0)
    ref = _reference(net)
    ours = LPIPS(net)  # type: ignore[arg-type]
    ours.load_state_dict(ref.state_dict(), strict=True)
    x, y = _pairs(size)
    with torch.no_grad():
        expected = ref(x, y).flatten()
        got = ours(x, y)
    assert got.shape == (3,) and (expected > 0).all()
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert torch.equal(ours(x, x), torch.zeros(3))


def test_uint8_and_gray_conveniences() -> None:
    torch.manual_seed(0)
    ours = LPIPS("alex")
    g = torch.Generator().manual_seed(3)
    a = torch.randint(0, 256, (2, 1, 48, 48), generator=g, dtype=torch.uint8)
    b = torch.randint(0, 256, (2, 1, 48, 48), generator=g, dtype=torch.uint8)
    as_float = ours(a.float() / 127.5 - 1, b.float() / 127.5 - 1)
    torch.testing.assert_close(ours.forward_uint8(a, b), as_float)
    torch.testing.assert_close(as_float, ours(a.expand(-1, 3, -1, -1).float() / 127.5 - 1, b.expand(-1, 3, -1, -1).float() / 127.5 - 1))
    with pytest.raises(ValueError, match="uint8"):
        ours.forward_uint8(a.float(), b)


def test_packaged_heads_hash_is_recorded() -> None:
    # The SHA-256 in HEAD_WEIGHTS was computed from the lpips wheel's own files.
    for net in ("alex", "vgg"):
        (path,) = [p for p in glp._packaged_heads(net) if p.is_file()]  # type: ignore[arg-type]
        assert sha256_file(path) == glp.HEAD_WEIGHTS[net].sha256


def test_build_from_torchvision_layout_under_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    ref = _reference("alex")
    # A torchvision-style trunk file (features.i.* plus a classifier), small enough for a test.
    tv_state = {k.replace("net.", "", 1): v for k, v in ref.state_dict().items() if k.startswith("net.")}
    tv_state = {f"features.{k.split('.', 2)[1]}.{k.split('.', 2)[2]}": v for k, v in tv_state.items()}
    tv_state["classifier.1.weight"] = torch.zeros(2, 2)
    trunk = tmp_path / "w" / "alexnet-owt-7be5be79.pth"
    trunk.parent.mkdir()
    torch.save(tv_state, trunk)
    monkeypatch.setitem(glp.TRUNK_WEIGHTS, "alex", dataclasses.replace(glp.TRUNK_WEIGHTS["alex"], sha256=sha256_file(trunk)))
    monkeypatch.setenv(ENV_WEIGHTS, str(trunk.parent))
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    model, hashes = build_lpips("alex")  # heads: none in the dirs, so the lpips wheel's copy
    assert hashes == {"trunk": sha256_file(trunk), "heads": glp.HEAD_WEIGHTS["alex"].sha256}
    x, y = _pairs(64, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(model(x, y), ref(x, y).flatten(), atol=1e-5, rtol=0)
    assert set(trunk_state_dict(tv_state, "alex")) == {k for k in ref.state_dict() if k.startswith("net.")}


def test_missing_trunk_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_WEIGHTS, str(tmp_path))
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsError) as info:
        build_lpips("vgg")
    msg = str(info.value)
    assert "vgg16-397923af.pth" in msg and glp.TRUNK_WEIGHTS["vgg"].url in msg and "psnr" in msg
