"""Evaluation: metric components over an EvalContext, periodic eval, best checkpoint, `ganzoo eval`."""

from __future__ import annotations

import json

import pytest
import torch

from ganzoo import hookimpl
from ganzoo.data import DataInfo, TensorImageDataset, for_evaluation
from ganzoo.evaluation import EvalContext, NoPairsError, evaluate
from ganzoo.images import to_uint8
from ganzoo.metrics import psnr, ssim
from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import collect
from ganzoo.spec.model import validate_spec
from ganzoo.task import Task
from ganzoo.engine.run import Run


class ReplayTask(Task):
    """'Generates' dataset images (optionally noised): a known distance to the data."""

    def __init__(self, dataset: TensorImageDataset, noise: float) -> None:
        super().__init__(None)
        self.dataset, self.noise = dataset, noise

    def train_step(self, ctx):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def sample(self, generator, n, *, seed, device, **kwargs):  # type: ignore[no-untyped-def]
        g = torch.Generator().manual_seed(seed)
        idx = torch.arange(seed, seed + n) % len(self.dataset)
        x = self.dataset.images[idx]
        return (x + self.noise * torch.randn(x.shape, generator=g)).clamp(-1, 1)

    def eval_pair(self, generator, batch):  # type: ignore[no-untyped-def]
        g = torch.Generator().manual_seed(0)
        target = batch["image"]
        return {"pred": (target + self.noise * torch.randn(target.shape, generator=g)).clamp(-1, 1), "target": target}


def _ctx(registries, noise: float, n: int = 120) -> EvalContext:
    ds = registries.build("dataset", "digits", {"size": 16, "limit": n})
    return EvalContext(ReplayTask(ds, noise), torch.nn.Identity(), ds, f"digits16-{n}", torch.device("cpu"))


@pytest.mark.filterwarnings("ignore::ganzoo.metrics.SmallSampleWarning")
def test_fd_domain_orders_by_distance(registries):
    metric = registries.build("metric", "fd-domain", {"n": 120, "epochs": 2})
    same = evaluate(_ctx(registries, 0.0), [metric]).values["fd_domain_n120"]
    noisy = evaluate(_ctx(registries, 0.3), [metric]).values["fd_domain_n120"]
    noisier = evaluate(_ctx(registries, 1.0), [metric]).values["fd_domain_n120"]
    assert same == pytest.approx(0.0, abs=1e-6)  # identical image sets
    assert 1e-3 < noisy < noisier
    proto = evaluate(_ctx(registries, 0.5), [metric]).protocols["fd_domain_n120"]
    assert proto["comparable_with_published_fid"] is False and len(proto["extractor_sha256"]) == 64
    assert proto["n_real"] == 120 and proto["n_fake"] == 120


def test_fd_domain_needs_labels(registries):
    metric = registries.build("metric", "fd-domain", {"n": 8})
    ds = TensorImageDataset(torch.zeros(8, 1, 16, 16))
    ctx = EvalContext(ReplayTask(ds, 0.0), torch.nn.Identity(), ds, "x", torch.device("cpu"))
    with pytest.raises(ValueError, match="labelled dataset"):
        evaluate(ctx, [metric])


@pytest.mark.parametrize("y_channel, crop", [(False, 0), (True, 2)])
def test_reconstruction_components_wrap_functional(registries, y_channel, crop):
    ds = TensorImageDataset(torch.rand(10, 3, 16, 16) * 2 - 1)
    ctx = EvalContext(ReplayTask(ds, 0.1), torch.nn.Identity(), ds, "rgb", torch.device("cpu"), batch_size=4)
    params = {"y_channel": y_channel, "crop_border": crop}
    comps = [registries.build("metric", k, params) for k in ("psnr", "ssim", "l1")]
    res = evaluate(ctx, comps)
    pairs = list(ctx.pairs())
    pred, target = torch.cat([p["pred"] for p in pairs]), torch.cat([p["target"] for p in pairs])
    ch = "y" if y_channel else "rgb"
    assert res.values[f"psnr_{ch}_crop{crop}"] == pytest.approx(psnr(pred, target, crop_border=crop, y_channel=y_channel), rel=1e-9)
    assert res.values[f"ssim_{ch}_crop{crop}"] == pytest.approx(ssim(pred, target, crop_border=crop, y_channel=y_channel), rel=1e-9)
    assert res.protocols[f"psnr_{ch}_crop{crop}"]["n"] == 10


def test_ms_ssim_component(registries):
    ds = TensorImageDataset(torch.rand(2, 3, 176, 176) * 2 - 1)
    ctx = EvalContext(ReplayTask(ds, 0.05), torch.nn.Identity(), ds, "big", torch.device("cpu"))
    value = evaluate(ctx, [registries.build("metric", "ms-ssim", {})]).values["msssim_rgb_crop0"]
    assert 0.0 < value < 1.0


def test_reconstruction_needs_pairs(registries, tiny_spec, tmp_path):
    run = Run(validate_spec(tiny_spec, registries), registries, tmp_path)
    ctx = EvalContext(run.task, run.eval_generator, run.dataset, "k", run.device)
    with pytest.raises(NoPairsError, match="super-resolution or inpainting"):
        evaluate(ctx, [registries.build("metric", "psnr", {})])


def test_periodic_eval_best_checkpoint_and_hook(tiny_spec, tmp_path):
    seen: list[tuple[int, dict[str, float]]] = []

    class Watcher:
        @hookimpl
        def ganzoo_on_eval(self, run, step, metrics):  # type: ignore[no-untyped-def]
            seen.append((step, metrics))

    reg = collect(get_plugin_manager(extra=[("watch", Watcher())]))
    tiny_spec["eval"] = {"every": 2, "metrics": [{"type": "fd-domain", "params": {"n": 32, "epochs": 1}}], "best": "fd_domain_n32"}
    run = Run(validate_spec(tiny_spec, reg), reg, tmp_path)
    run.fit()
    assert [s for s, _ in seen] == [2, 4]
    assert (tmp_path / "checkpoints" / "best.pt").is_file()
    evals = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"eval"' in x]
    assert [e["step"] for e in evals] == [2, 4] and all("fd_domain_n32" in e for e in evals)
    saved = json.loads((tmp_path / "eval.json").read_text())["metrics"]["fd_domain_n32"]
    assert saved["step"] == 4 and saved["protocol"]["extractor"] == "domain-classifier"
    assert run.best["metric"] == "fd_domain_n32" and run.best["value"] == min(m["fd_domain_n32"] for _, m in seen)


def test_eval_does_not_perturb_training(tiny_spec, registries, tmp_path):
    """Evaluation restores every RNG: a run with eval ends identical to one without."""
    tiny_spec["train"]["checkpoint_every"] = 0
    plain = Run(validate_spec(tiny_spec, registries), registries, tmp_path / "a")
    plain.fit()
    tiny_spec["eval"] = {"every": 1, "metrics": [{"type": "fd-domain", "params": {"n": 16, "epochs": 1}}]}
    evald = Run(validate_spec(tiny_spec, registries), registries, tmp_path / "b")
    evald.fit()
    for k, v in plain.nets["generator"].state_dict().items():
        assert torch.equal(v, evald.nets["generator"].state_dict()[k]), k


def test_cli_eval_writes_eval_json(tiny_spec, write_spec, tmp_path, cli_run):
    out = tmp_path / "run"
    assert cli_run("train", write_spec(tiny_spec), "--out", out).exit_code == 0
    res = cli_run("eval", out, "--metrics", "fd-domain", "--n", "24", "--device", "cpu")
    assert res.exit_code == 0, res.output
    data = json.loads((out / "eval.json").read_text())["metrics"]
    assert data["fd_domain_n24"]["step"] == 4 and data["fd_domain_n24"]["value"] > 0
    res = cli_run("eval", out)
    assert res.exit_code == 2 and "no eval.metrics" in res.output
    res = cli_run("eval", out, "--metrics", "psnr")
    assert res.exit_code == 1 and "prediction/target pairs" in res.output


def test_datainfo_roundtrip():
    assert DataInfo(1, 16, 10) == DataInfo(**{"channels": 1, "size": 16, "num_classes": 10})


def test_eval_data_is_a_held_out_set_and_part_of_the_protocol(registries, tiny_spec, tmp_path):
    from ganzoo.evaluation import data_key

    tiny_spec["train"].update(steps=2, sample_every=0, checkpoint_every=0)
    tiny_spec["eval"] = {"data": {"type": "digits", "params": {"size": 16, "limit": 48}}, "metrics": [{"type": "fd-domain", "params": {"n": 48}}]}
    spec = validate_spec(tiny_spec, registries)
    run = Run(spec, registries, tmp_path)
    run.fit()
    assert len(run._eval_dataset) == 48 and len(run.dataset) == 64  # evaluated on the eval data, trained on the training data
    proto = json.loads((tmp_path / "eval.json").read_text())["metrics"]["fd_domain_n48"]["protocol"]
    assert proto["data"] == data_key(spec.eval.data) != data_key(spec.data)


def test_parameter_free_generator_is_not_optimised(tiny_spec, tmp_path):
    """A baseline with no trainable tensors gets no optimiser; D still trains and the run completes."""
    from torch import nn

    from ganzoo import ModelEntry, NoParams

    class Frozen(nn.Module):
        latent_dim = 4

        def __init__(self, info: DataInfo) -> None:
            super().__init__()
            self.shape = (info.channels, info.size, info.size)

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return torch.tanh(z.sum(1)).view(-1, 1, 1, 1).expand(-1, *self.shape)  # (B, C, S, S)

    class Plugin:
        @hookimpl
        def ganzoo_models(self):
            return [ModelEntry(name="frozen", role="generator", build=lambda p, info: Frozen(info), params=NoParams, description="x")]

    reg = collect(get_plugin_manager(extra=[("frozen", Plugin())]))
    tiny_spec["generator"] = {"type": "frozen"}
    tiny_spec["train"].update(steps=2, sample_every=0, checkpoint_every=0)
    run = Run(validate_spec(tiny_spec, reg), reg, tmp_path)
    assert "generator" not in run.optimizers and "discriminator" in run.optimizers
    assert run.optimize("generator", lambda: 1 / 0, phase="G") is False  # the loss is not even computed
    run.fit()
    assert run.step == 2 and run.d_updates == 2


def test_data_key_ignores_parameters_at_their_default(registries, tiny_spec):
    from ganzoo.evaluation import data_key

    plain = validate_spec(tiny_spec, registries).data
    tiny_spec["data"]["params"]["split"] = "all"  # the default, written out (as a newer spec would resolve it)
    explicit = validate_spec(tiny_spec, registries).data
    tiny_spec["data"]["params"]["split"] = "heldout"
    other = validate_spec(tiny_spec, registries).data
    assert data_key(plain) == data_key(explicit) != data_key(other)


def test_evaluation_reads_the_dataset_without_augmentation():
    """A random flip in the training data must not reach the metrics: every evaluation scores the same images."""
    images = torch.linspace(-1, 1, 2 * 8 * 8).reshape(2, 1, 8, 8)  # no image equals its mirror
    flipping = TensorImageDataset(images, hflip=True)
    torch.manual_seed(0)
    assert any(not torch.equal(flipping[0]["image"], images[0]) for _ in range(20))  # the training view flips
    ctx = EvalContext(ReplayTask(flipping, 0.0), torch.nn.Identity(), flipping, "k", torch.device("cpu"))
    assert ctx.dataset is not flipping and ctx.dataset.images is flipping.images  # a view: no copy of the pixels
    state = torch.get_rng_state()
    for _ in range(3):
        (batch,) = list(ctx.real_batches())
        assert torch.equal(batch, to_uint8(images))
    assert torch.equal(torch.get_rng_state(), state)  # and it draws nothing from the training RNG
    assert flipping.hflip  # the training dataset keeps its augmentation
    plain = TensorImageDataset(images)
    assert for_evaluation(plain) is plain and for_evaluation(object) is object  # no augmentation, or duck-typed: as is


def test_task_settings_enter_every_protocol_record(registries):
    """What decides the scored images beyond the data (holes, SR scale, truncation) is part of the protocol."""

    class Truncated(ReplayTask):
        def eval_protocol(self):  # type: ignore[no-untyped-def]
            return {"truncation": 0.7}

    ds = registries.build("dataset", "digits", {"size": 16, "limit": 20})
    metric = registries.build("metric", "psnr", {"n": 4})
    plain = evaluate(EvalContext(ReplayTask(ds, 0.1), torch.nn.Identity(), ds, "k", torch.device("cpu")), [metric])
    truncated = evaluate(EvalContext(Truncated(ds, 0.1), torch.nn.Identity(), ds, "k", torch.device("cpu")), [metric])
    assert "task" not in plain.protocols["psnr_rgb_crop0"]
    assert truncated.protocols["psnr_rgb_crop0"]["task"] == {"truncation": 0.7}
    # The built-in tasks: defaults leave GAN records as they were; SR records its scale.
    assert registries.build("task", "unconditional", {}).eval_protocol() == {}
    assert registries.build("task", "unconditional", {"truncation": 0.5}).eval_protocol() == {"truncation": 0.5}
    assert registries.build("task", "super-resolution", {"scale": 2}).eval_protocol() == {"scale": 2, "degradation": "bicubic"}
