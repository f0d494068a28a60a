"""The FID Inception against torch-fidelity and pytorch-fid, with one shared random state dict.

No weights can be downloaded here, so the reference networks are built from a
random state dict saved to disk; equal outputs for equal weights show that the
architecture (including the TF quirks) and the preprocessing are the same.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from ganzoo.weights import ENV_CACHE, ENV_WEIGHTS, WeightsError, sha256_file
from ganzoo_metrics import inception as inc
from ganzoo_metrics.inception import FIDInceptionV3, inception_state_dict, load_inception, tf1_bilinear_resize

torch_fidelity = pytest.importorskip("torch_fidelity")
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3  # noqa: E402
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x  # noqa: E402


def _close(ours: torch.Tensor, ref: torch.Tensor, rel: float = 1e-4) -> None:
    scale = ref.abs().max().item()
    assert scale > 1e-2, "features collapsed: the comparison would be vacuous"
    assert (ours - ref).abs().max().item() <= rel * scale


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random state dict whose BatchNorm statistics keep activations O(1) through all 94 layers."""
    torch.set_num_threads(1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = FIDInceptionV3()
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.normal_(0.0, 0.2)
                m.momentum = None  # running stats = the calibration batch's statistics
                m.reset_running_stats()
        net.fc.bias.data.normal_(0.0, 1.0)  # must not leak into logits_unbiased
        net.train()
        with torch.no_grad():
            net.pool3(torch.rand(4, 3, 128, 128) * 2 - 1)
    path = tmp_path_factory.mktemp("inception") / "random-inception.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def images() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randint(0, 256, (2, 3, 64, 64), generator=g, dtype=torch.uint8),
            torch.randint(0, 256, (1, 3, 299, 299), generator=g, dtype=torch.uint8)]


def _ours(path: Path) -> FIDInceptionV3:
    net = FIDInceptionV3()
    net.load_state_dict(torch.load(path, weights_only=True), strict=True)
    return net


@pytest.mark.parametrize("size", [(299, 299), (17, 23), (40, 31)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_resize_matches_torch_fidelity(size: tuple[int, int], dtype: torch.dtype) -> None:
    x = torch.rand(2, 3, 37, 52, generator=torch.Generator().manual_seed(0), dtype=dtype) * 255
    ref = interpolate_bilinear_2d_like_tensorflow1x(x, size=size, align_corners=False)
    torch.testing.assert_close(tf1_bilinear_resize(x, size), ref, atol=1e-5, rtol=0)
    same = torch.rand(1, 3, 299, 299, dtype=dtype)
    assert torch.equal(tf1_bilinear_resize(same, (299, 299)), same)


def test_features_match_torch_fidelity(weights_file: Path, images: list[torch.Tensor]) -> None:
    ref = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(weights_file))
    ours = _ours(weights_file)
    for batch in images:
        with torch.no_grad():
            r_pool, r_logits = ref(batch)
            out = ours(batch)
        assert out["2048"].shape == (len(batch), 2048) and out["logits_unbiased"].shape == (len(batch), 1008)
        _close(out["2048"], r_pool)
        _close(out["logits_unbiased"], r_logits)


def test_pytorch_fid_names_and_pool3(weights_file: Path, images: list[torch.Tensor], monkeypatch: pytest.MonkeyPatch) -> None:
    pytorch_fid = pytest.importorskip("pytorch_fid.inception")
    state = torch.load(weights_file, weights_only=True)
    # pytorch-fid loads the file with strict=True into torchvision's Inception3 + FID blocks.
    monkeypatch.setattr(pytorch_fid, "load_state_dict_from_url", lambda *a, **k: dict(state))
    ref = pytorch_fid.InceptionV3([3], resize_input=False, normalize_input=False).eval()
    ours = _ours(weights_file)
    x = ours.preprocess(images[0])  # pytorch-fid resizes differently; compare the network itself
    with torch.no_grad():
        _close(ours.pool3(x), ref(x)[0].flatten(1))
    # Its wrapper's own state dict (blocks.N.M.*) maps back onto our names.
    mapped = inception_state_dict(ref.state_dict())
    assert set(mapped) == {k for k in state if not k.startswith("fc.")}
    assert all(torch.equal(mapped[k], state[k]) for k in mapped)


def test_key_mapping_variants(weights_file: Path) -> None:
    state = torch.load(weights_file, weights_only=True)
    legacy = {f"module.{k}": v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    legacy["module.AuxLogits.fc.weight"] = torch.zeros(1)
    FIDInceptionV3().load_state_dict(inception_state_dict(legacy), strict=True)


def test_load_via_policy_under_either_name(weights_file: Path, images: list[torch.Tensor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = sha256_file(weights_file)
    monkeypatch.setattr(inc, "INCEPTION_WEIGHTS", dataclasses.replace(inc.INCEPTION_WEIGHTS, sha256=digest))
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    # torch-fidelity's file name, found through $GANZOO_WEIGHTS
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "weights-inception-2015-12-05-6726825d.pth").symlink_to(weights_file)
    monkeypatch.setenv(ENV_WEIGHTS, str(tmp_path / "w"))
    net, sha = load_inception()
    assert sha == digest
    torch.testing.assert_close(net(images[0])["2048"], _ours(weights_file)(images[0])["2048"], rtol=0, atol=0)


def test_missing_weights_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_WEIGHTS, str(tmp_path))
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsError) as info:
        load_inception()
    msg = str(info.value)
    assert inc.INCEPTION_WEIGHTS.sha256 in msg and inc.INCEPTION_WEIGHTS.url in msg and "fd-domain" in msg


def test_rejects_non_uint8() -> None:
    with pytest.raises(ValueError, match="uint8"):
        FIDInceptionV3.preprocess(torch.rand(1, 3, 32, 32))
