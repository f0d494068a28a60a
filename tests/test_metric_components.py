"""Inception/timm metric components over an EvalContext (random weights: protocol says so), and the weights error."""

from __future__ import annotations

import pytest
import torch

from ganzoo.evaluation import EvalContext, evaluate
from ganzoo.metrics import frechet_distance_from_features
from tests.test_evaluation import ReplayTask


def _ctx(registries, noise: float, n: int = 6) -> EvalContext:
    ds = registries.build("dataset", "digits", {"size": 16, "limit": n})
    return EvalContext(ReplayTask(ds, noise), torch.nn.Identity(), ds, f"digits16-{n}-{noise}", torch.device("cpu"), batch_size=3)


def test_inception_metrics_share_features_and_record_protocol(registries):
    common = {"n": 6, "allow_random": True}
    metrics = [
        registries.build("metric", "fid", common),
        registries.build("metric", "kid", {**common, "subsets": 3, "subset_size": 4}),
        registries.build("metric", "is", {**common, "splits": 2}),
        registries.build("metric", "pr", common),
    ]
    ctx = _ctx(registries, 0.0)
    res = evaluate(ctx, metrics)
    assert set(res.values) == {"fid_n6", "kid_n6", "kid_n6_std", "is_n6", "is_n6_std", "pr_n6_precision", "pr_n6_recall"}
    assert res.values["fid_n6"] == pytest.approx(0.0, abs=1e-6)  # the same images on both sides
    assert res.values["pr_n6_precision"] == 1.0 and res.values["pr_n6_recall"] == 1.0
    assert res.values["is_n6"] >= 1.0
    proto = res.protocols["fid_n6"]
    assert proto["weights"] == "random-init" and proto["extractor"] == "inception-v3-fid" and "TF1" in proto["resize"]
    fakes = [k for k in ctx.extras if isinstance(k, tuple) and k[0] == "fake"]
    assert len(fakes) == 1  # one pass of the generator's samples for all four metrics


def test_fid_matches_features_and_orders(registries):
    fid = registries.build("metric", "fid", {"n": 6, "allow_random": True})
    ctx = _ctx(registries, 0.5)
    value = evaluate(ctx, [fid]).values["fid_n6"]
    feats = ctx.extras[next(k for k in ctx.extras if isinstance(k, tuple) and k[0] == "fake")]["2048"]
    from ganzoo_metrics.extractors import InceptionFeatures

    ext = InceptionFeatures(allow_random=True)
    real = torch.cat([ext.features(b)["2048"] for b in ctx.real_batches(6)])
    assert value == pytest.approx(frechet_distance_from_features(real, feats), rel=1e-9)
    assert value > 0


def test_timm_fd_with_random_backbone(registries):
    metric = registries.build("metric", "fd-timm", {"model": "test_resnet", "allow_random": True, "n": 6, "image_size": 32})
    res = evaluate(_ctx(registries, 0.3), [metric])
    assert res.values["fd_test_resnet_n6"] >= 0 and res.protocols["fd_test_resnet_n6"]["weights"] == "random-init"


def test_missing_weights_one_clear_message_no_download(tiny_spec, write_spec, tmp_path, cli_run, monkeypatch):
    import urllib.request

    def no_network(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv("GANZOO_WEIGHTS", raising=False)
    out = tmp_path / "run"
    tiny_spec["train"]["steps"] = 1
    assert cli_run("train", write_spec(tiny_spec), "--out", out).exit_code == 0
    res = cli_run("eval", out, "--metrics", "fid", "--n", "8", "--device", "cpu")
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    for fragment in ("pt_inception-2015-12-05-6726825d.pth", "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
                     "Searched, in order", "never downloads", "fd-domain"):
        assert fragment in res.output
