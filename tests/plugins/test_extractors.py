"""Feature extractors: timm backbones under the weights policy, the Inception wrapper, gray -> RGB."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganzoo.weights import ENV_CACHE, ENV_WEIGHTS, WeightsError, sha256_file
from ganzoo_metrics.extractors import RANDOM_INIT, InceptionFeatures, TimmFeatures, to_rgb


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def _images(n: int = 2, c: int = 3, size: int = 40, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, c, size, size), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_timm_random_shape_determinism_and_protocol() -> None:
    rng = torch.random.get_rng_state()
    a = TimmFeatures("test_resnet", image_size=64, allow_random=True)
    assert torch.equal(torch.random.get_rng_state(), rng), "building an extractor must not move the global RNG"
    b = TimmFeatures("test_resnet", image_size=64, allow_random=True)
    x = _images()
    fa = a(x)
    assert fa.shape == (2, a.feature_dim) == (2, 96) and fa.dtype == torch.float64 and fa.device.type == "cpu"
    assert torch.equal(fa, a(x)) and torch.equal(fa, b(x))
    proto = a.protocol()
    assert proto["weights"] == RANDOM_INIT and proto["extractor"] == "timm:test_resnet" and "64x64" in proto["resize"]


def test_timm_feature_dim_with_conv_head() -> None:
    ext = TimmFeatures("mobilenetv3_small_050", image_size=32, allow_random=True)
    assert ext(_images(1, size=32)).shape == (1, ext.feature_dim) == (1, 1024)


def test_timm_requires_weights_unless_allow_random() -> None:
    with pytest.raises(WeightsError, match="allow_random"):
        TimmFeatures("test_resnet")
    with pytest.raises(ValueError, match="image_size"):
        TimmFeatures("test_vit", image_size=224, allow_random=True)  # fixed 160x160 input


def test_timm_local_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    donor = TimmFeatures("test_resnet", image_size=64, allow_random=True)
    state = {k: v + 0.01 for k, v in donor.model.state_dict().items()}  # differs from the random init
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 96), torch.zeros(1000)  # classifier: ignored
    path = tmp_path / "w" / "test_resnet.pth"
    path.parent.mkdir()
    torch.save(state, path)
    digest = sha256_file(path)

    ext = TimmFeatures("test_resnet", path, image_size=64)
    assert ext.protocol()["weights"] == digest and not ext.random_init
    assert not torch.equal(ext(_images()), donor(_images()))
    assert TimmFeatures("test_resnet", path, pretrained_sha256=digest, image_size=64).weights_sha256 == digest

    with pytest.raises(WeightsError, match=digest):  # wrong expected hash: the message has the actual one
        TimmFeatures("test_resnet", path, pretrained_sha256="0" * 64, image_size=64)
    monkeypatch.setenv(ENV_WEIGHTS, str(path.parent))  # a bare file name is looked up in the weights dirs
    assert TimmFeatures("test_resnet", "test_resnet.pth", image_size=64).weights_sha256 == digest
    with pytest.raises(WeightsError, match="not found"):
        TimmFeatures("test_resnet", "absent.pth", image_size=64)

    bad = tmp_path / "bad.pth"
    torch.save({"conv1.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(WeightsError, match="does not fit"):
        TimmFeatures("test_resnet", bad, image_size=64)


def test_gray_to_rgb() -> None:
    ext = TimmFeatures("test_resnet", image_size=32, allow_random=True)
    gray = _images(2, c=1, size=32)
    torch.testing.assert_close(ext(gray), ext(gray.expand(-1, 3, -1, -1).contiguous()), rtol=0, atol=0)
    assert to_rgb(gray).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="uint8"):
        ext(gray.float())
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        ext(_images(2, c=2))


def test_inception_features() -> None:
    with pytest.raises(WeightsError, match="pt_inception-2015-12-05-6726825d.pth"):
        InceptionFeatures()
    ext = InceptionFeatures(allow_random=True)
    assert ext.feature_dim == 2048 and ext.protocol()["weights"] == RANDOM_INIT and "TF1 bilinear" in ext.resize
    gray = _images(1, c=1, size=32)
    feats = ext(gray)
    assert feats.shape == (1, 2048) and feats.dtype == torch.float64
    both = ext.features(gray)
    assert both["logits_unbiased"].shape == (1, 1008)
    torch.testing.assert_close(both["2048"], feats, rtol=0, atol=0)
    with pytest.raises(ValueError, match="output"):
        InceptionFeatures(allow_random=True, output="pool")
