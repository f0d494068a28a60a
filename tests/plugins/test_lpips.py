"""ganzoo's LPIPS against the ``lpips`` package with the same (random-trunk) state dict."""

from __future__ import annotations

import copy
import dataclasses
import functools
import warnings
from pathlib import Path

import pytest
import torch

from ganzoo.data import TensorImageDataset
from ganzoo.evaluation import EvalContext, evaluate
from ganzoo.plugin.registry import Registries
from ganzoo.weights import ENV_CACHE, ENV_WEIGHTS, WeightsError, load_state_dict, sha256_file
from ganzoo_metrics import lpips as glp
from ganzoo_metrics.lpips import LPIPS, build_lpips, trunk_state_dict
from tests.test_evaluation import ReplayTask

lpips = pytest.importorskip("lpips")

NETS = ("alex", "vgg", "squeeze")


@functools.cache
def _reference(net: str) -> torch.nn.Module:
    """``lpips.LPIPS`` with a seeded random torchvision trunk (no download) and the wheel's v0.1 heads.

    Cached: VGG16's random init takes seconds. Callers must not modify it (deep-copy first).
    """
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore")  # torchvision's "pretrained=" deprecation
        torch.manual_seed(0)
        return lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)


def _pairs(size: int | tuple[int, int], seed: int = 0, batch: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = (size, size) if isinstance(size, int) else size
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, h, w, generator=g) * 2 - 1, torch.rand(batch, 3, h, w, generator=g) * 2 - 1


def _trunk_keys(net: str) -> set[str]:
    return {k for k in _reference(net).state_dict() if k.startswith("net.")}


def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every weights location into ``tmp_path``; returns the ``$GANZOO_WEIGHTS`` directory."""
    weights = tmp_path / "w"
    weights.mkdir()
    monkeypatch.setenv(ENV_WEIGHTS, str(weights))
    monkeypatch.setenv(ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return weights


def _save_torchvision_trunk(net: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The reference's trunk saved as a torchvision file (``features.i.*`` plus a classifier key), accepted by the policy."""
    state = {}
    for key, value in _reference(net).state_dict().items():
        if key.startswith("net."):
            _, _, index, rest = key.split(".", 3)  # net.sliceK.i.rest
            state[f"features.{index}.{rest}"] = value
    state["classifier.1.weight"] = torch.zeros(2, 2)
    spec = glp.TRUNK_WEIGHTS[net]
    path = directory / spec.filename
    torch.save(state, path)
    digest = sha256_file(path)
    # Keep the spec's kind: a full digest for alex/vgg, torchvision's 8-digit prefix for squeeze.
    monkeypatch.setitem(glp.TRUNK_WEIGHTS, net, dataclasses.replace(spec, sha256=digest if spec.full_hash else digest[:8]))
    return path


@pytest.mark.parametrize(
    ("net", "size"),
    [("alex", 64), ("alex", 32), ("vgg", 32), ("squeeze", 64), ("squeeze", 32), pytest.param("squeeze", (47, 33), id="squeeze-47x33")],
)
def test_matches_lpips_package(net: str, size: int | tuple[int, int]) -> None:
    ref = _reference(net)
    ours = LPIPS(net)  # type: ignore[arg-type]
    ours.load_state_dict(ref.state_dict(), strict=True)
    x, y = _pairs(size, batch=4)
    with torch.no_grad():
        expected = ref(x, y).flatten()
        got = ours(x, y)
    assert got.shape == (4,) and (expected > 0).all()
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    assert torch.equal(ours(x, x), torch.zeros(4))


@pytest.mark.parametrize("net", NETS)
def test_reference_holds_the_wheel_heads(net: str) -> None:
    # lpips loads its heads with strict=False; make sure the comparisons run against the real v0.1 heads.
    (path,) = [p for p in glp._packaged_heads(net) if p.is_file()]  # type: ignore[arg-type]
    heads = load_state_dict(path)
    assert len(heads) == len(glp._CHANNELS[net])
    ref = _reference(net).state_dict()
    assert all(torch.equal(ref[k], v) for k, v in heads.items())


@pytest.mark.parametrize("net", NETS)
def test_state_dicts_load_strictly_both_ways(net: str) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        ours = LPIPS(net)  # type: ignore[arg-type]
    ref = copy.deepcopy(_reference(net))
    ref.load_state_dict(ours.state_dict(), strict=True)
    LPIPS(net).load_state_dict(ref.state_dict(), strict=True)  # type: ignore[arg-type]
    x, y = _pairs(32, seed=2)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, y), ref(x, y).flatten(), atol=1e-6, rtol=0)


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


def test_unknown_net_is_refused() -> None:
    with pytest.raises(ValueError, match="'alex', 'vgg', 'squeeze'"):
        LPIPS("resnet")  # type: ignore[arg-type]


@pytest.mark.parametrize("net", NETS)
def test_packaged_heads_hash_is_recorded(net: str) -> None:
    # The SHA-256 in HEAD_WEIGHTS was computed from the lpips wheel's own files.
    (path,) = [p for p in glp._packaged_heads(net) if p.is_file()]  # type: ignore[arg-type]
    spec = glp.HEAD_WEIGHTS[net]
    assert spec.full_hash and sha256_file(path) == spec.sha256 and spec.aliases == (f"{net}.pth",)


@pytest.mark.parametrize("net", NETS)
def test_torchvision_keys_map_onto_ours(net: str) -> None:
    from torchvision import models

    with torch.device("meta"):  # key names only: no memory, no init
        tv = {"alex": models.alexnet, "vgg": models.vgg16, "squeeze": models.squeezenet1_1}[net]()
    assert set(trunk_state_dict(tv.state_dict(), net)) == _trunk_keys(net)  # type: ignore[arg-type]


@pytest.mark.parametrize("net", NETS)
def test_build_from_torchvision_layout_under_policy(net: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trunk = _save_torchvision_trunk(net, _isolate(tmp_path, monkeypatch), monkeypatch)
    model, hashes = build_lpips(net)  # type: ignore[arg-type]  # heads: none in the dirs, so the lpips wheel's copy
    # The full digest is recorded even where only a prefix is checked.
    assert hashes == {"trunk": sha256_file(trunk), "heads": glp.HEAD_WEIGHTS[net].sha256}
    x, y = _pairs(64, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(model(x, y), _reference(net)(x, y).flatten(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("net", NETS)
def test_missing_trunk_error(net: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _isolate(tmp_path, monkeypatch)
    with pytest.raises(WeightsError) as info:
        build_lpips(net)  # type: ignore[arg-type]
    spec, msg = glp.TRUNK_WEIGHTS[net], str(info.value)
    assert spec.filename in msg and spec.url in msg and "psnr" in msg
    assert f"expected {'SHA-256' if spec.full_hash else 'SHA-256 prefix'} {spec.sha256}." in msg


def test_squeeze_trunk_is_checked_by_its_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = glp.TRUNK_WEIGHTS["squeeze"]
    assert not spec.full_hash and spec.sha256 == "b8a52dc0" and spec.filename == f"squeezenet1_1-{spec.sha256}.pth"
    impostor = _isolate(tmp_path, monkeypatch) / spec.filename
    torch.save({"features.0.weight": torch.zeros(1)}, impostor)  # right name, wrong bytes
    with pytest.raises(WeightsError) as info:
        build_lpips("squeeze")
    assert str(impostor) in str(info.value) and sha256_file(impostor) in str(info.value)


def test_metric_component_records_the_net(registries: Registries, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trunk = _save_torchvision_trunk("squeeze", _isolate(tmp_path, monkeypatch), monkeypatch)
    metric = registries.build("metric", "lpips", {"net": "squeeze", "trunk_weights": str(trunk)})
    assert metric.name == "lpips_squeeze"
    ds = TensorImageDataset(torch.rand(5, 3, 32, 32) * 2 - 1)
    ctx = EvalContext(ReplayTask(ds, 0.2), torch.nn.Identity(), ds, "rgb32", torch.device("cpu"), batch_size=2)
    res = evaluate(ctx, [metric])
    assert set(res.values) == {"lpips_squeeze"}
    proto = res.protocols["lpips_squeeze"]
    assert proto["extractor"] == "lpips-squeeze-v0.1" and proto["n"] == 5
    assert proto["weights"] == {"trunk": sha256_file(trunk), "heads": glp.HEAD_WEIGHTS["squeeze"].sha256}
    with torch.no_grad():
        expected = torch.cat([_reference("squeeze")(p["pred"] / 127.5 - 1, p["target"] / 127.5 - 1).flatten() for p in ctx.pairs()])
    assert res.values["lpips_squeeze"] == pytest.approx(float(expected.double().mean()), abs=1e-6)
