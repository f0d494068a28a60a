"""The conditional task (ganzoo_gan) and the conditional DCGAN models (ganzoo_dcgan.conditional)."""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from ganzoo import ConfigError, DataInfo
from ganzoo.api import load_generator, train
from ganzoo.checkpoint import list_checkpoints, load_checkpoint
from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import Registries, collect, load_registries
from ganzoo.spec.model import SpecError, validate_spec
from ganzoo.engine.run import Run

from tests.helpers import assert_same_nets, split_and_resume
from ganzoo_gan.params import ConditionalParams
from ganzoo_gan.tasks import Conditional, class_labels

SPEC: dict[str, Any] = {
    "name": "cond",
    "task": {"type": "conditional", "params": {"augment": "color,translation,cutout"}},
    "seed": 0,
    "data": {"type": "digits", "params": {"size": 16, "limit": 40}},
    "generator": {"type": "cdcgan", "params": {"latent_dim": 8, "width": 8, "embed_dim": 4}},
    "discriminator": {"type": "projection", "params": {"width": 8}},
    "losses": {"adversarial": {"type": "non-saturating"}},
    "train": {
        "steps": 2, "batch_size": 8, "device": "cpu", "log_every": 1, "sample_every": 2, "checkpoint_every": 2,
        "sample_grid": 12, "progress": False, "tensorboard": False,
    },
}
INFO = DataInfo(channels=1, size=16, num_classes=10)


@pytest.fixture(scope="module")
def reg() -> Registries:
    """Installed registries, plus the conditional DCGAN plugin until its entry point is installed."""
    base = load_registries()
    if "cdcgan" in base["model"].names("generator"):
        return base
    import ganzoo_dcgan.conditional

    return collect(get_plugin_manager(extra=[("ganzoo_cdcgan", ganzoo_dcgan.conditional)]))


@pytest.fixture
def spec() -> dict[str, Any]:
    return copy.deepcopy(SPEC)


@pytest.fixture(scope="module")
def trained(reg: Registries, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(validate_spec(copy.deepcopy(SPEC), reg), tmp_path_factory.mktemp("cond") / "run", registries=reg)


def test_two_step_run_writes_checkpoint_and_grid(trained: Path) -> None:
    state = load_checkpoint(list_checkpoints(trained / "checkpoints")[-1][1])
    assert state["step"] == 2 and state["d_updates"] == 2
    assert {"embed.weight"} <= set(state["nets"]["generator"]) and "psi.bias" in state["nets"]["discriminator"]
    assert (trained / "samples" / "step_00000002.png").is_file() and (trained / "generator.safetensors").is_file()


def test_sample_by_class(reg: Registries, trained: Path) -> None:
    gen = load_generator(trained, registries=reg)
    three = gen.sample(5, seed=0, labels=3)
    assert three.shape == (5, 1, 16, 16) and three.min() >= -1 and three.max() <= 1
    assert torch.equal(three, gen.sample(5, seed=0, labels=3))
    assert not torch.allclose(three, gen.sample(5, seed=0, labels=7))  # same z, other class
    mixed = gen.sample(3, seed=0, labels=torch.tensor([3, 7, 3]))
    torch.testing.assert_close(mixed[0], three[0])
    assert gen.sample(12, seed=0).shape == (12, 1, 16, 16)  # labels=None: classes in turn
    for bad in (10, -1, [1, 2, 10]):
        with pytest.raises(ValueError, match=r"valid classes are 0\.\.9"):
            gen.sample(3, seed=0, labels=bad)
    with pytest.raises(ValueError, match="expected 3 labels"):
        gen.sample(3, seed=0, labels=[1, 2])
    with pytest.raises(TypeError, match="integers"):
        gen.sample(2, seed=0, labels=torch.tensor([0.5, 1.0]))


def test_class_labels_and_preview_order(reg: Registries, spec: dict[str, Any], tmp_path: Path) -> None:
    assert class_labels(None, 12, 10).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert class_labels(torch.tensor(4), 3, 10).tolist() == [4, 4, 4]
    run = Run(validate_spec(spec, reg), reg, tmp_path)
    seen: dict[str, Any] = {}
    real_sample = run.task.sample

    def sample(*args: Any, **kwargs: Any) -> torch.Tensor:
        seen["labels"] = kwargs["labels"]
        return real_sample(*args, **kwargs)

    run.task.sample = sample  # type: ignore[method-assign]
    with torch.no_grad():
        grid = run.task.preview(run, 20)
    assert grid.shape == (20, 1, 16, 16)
    assert seen["labels"].tolist() == sorted(seen["labels"].tolist()) and set(seen["labels"].tolist()) == set(range(10))


def test_projection_discriminator(reg: Registries) -> None:
    torch.manual_seed(0)
    D = reg.build("model", "projection", {"width": 8}, INFO, role="discriminator")
    x = torch.randn(4, 1, 16, 16, requires_grad=True)
    a, b = D(x, torch.tensor([0, 1, 2, 3])), D(x, torch.tensor([5, 6, 7, 8]))
    assert a.shape == (4,) and not torch.allclose(a, b)
    a.sum().backward()
    assert x.grad is not None and D.embed.parametrizations.weight.original.grad is not None  # spectral norm by default
    plain = reg.build("model", "projection", {"width": 8, "spectral_norm": False, "batch_norm": True}, INFO, role="discriminator")
    assert plain(x, torch.zeros(4, dtype=torch.long)).shape == (4,)
    with pytest.raises(ValueError, match=r"labels of shape \(4,\)"):
        D(x, torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize("channels", [1, 3])
def test_conditional_generator(reg: Registries, channels: int) -> None:
    info = DataInfo(channels=channels, size=32, num_classes=10)
    G = reg.build("model", "cdcgan", {"latent_dim": 8, "width": 8, "embed_dim": 4}, info, role="generator").eval()
    assert G.latent_dim == 8 and G.num_classes == 10
    z = torch.randn(3, 8)
    x = G(z, torch.tensor([0, 1, 2]))
    assert x.shape == (3, channels, 32, 32) and x.min() >= -1 and x.max() <= 1
    torch.testing.assert_close(G(z[:, :, None, None], torch.tensor([0, 1, 2])), x)
    assert not torch.allclose(G(z, torch.tensor([3, 4, 5])), x)


@pytest.mark.parametrize("name,role", [("cdcgan", "generator"), ("projection", "discriminator")])
def test_conditional_models_need_classes(reg: Registries, name: str, role: str) -> None:
    with pytest.raises(ValueError, match="labelled data with at least 2 classes"):
        reg.build("model", name, None, DataInfo(channels=1, size=16), role=role)


def test_task_refuses_unlabelled_data(reg: Registries, spec: dict[str, Any], tmp_path: Path) -> None:
    spec["data"] = {"type": "faces", "params": {"size": 16}}
    with pytest.raises(ValueError, match="labelled"):
        Run(validate_spec(spec, reg), reg, tmp_path)  # the models refuse first; the task checks too:
    task = Conditional(ConditionalParams())
    run = SimpleNamespace(info=DataInfo(channels=1, size=16), spec=SimpleNamespace(data=SimpleNamespace(type="faces")), nets={})
    with pytest.raises(ValueError, match=r"conditional task needs a labelled dataset.*'faces'.*num_classes=0"):
        task.setup(run)


def test_task_refuses_unconditional_generator(reg: Registries, spec: dict[str, Any], tmp_path: Path) -> None:
    spec["generator"] = {"type": "dcgan", "params": {"latent_dim": 8, "width": 8}}
    with pytest.raises(ConfigError, match="num_classes"):
        Run(validate_spec(spec, reg), reg, tmp_path)


def test_unconditional_task_refuses_conditional_models(reg: Registries, spec: dict[str, Any]) -> None:
    spec["task"] = "unconditional"
    with pytest.raises(SpecError) as ei:
        validate_spec(spec, reg)
    text = str(ei.value)
    assert "generator.type: model 'cdcgan' is written for tasks ['conditional']" in text
    assert "discriminator.type: model 'projection' is written for tasks ['conditional']" in text


def test_conditional_resume_is_exact(reg: Registries, spec: dict[str, Any], tmp_path: Path) -> None:
    spec["train"]["sample_every"] = 0
    assert_same_nets(*split_and_resume(reg, spec, tmp_path))


def test_regularisers_get_the_real_labels(reg: Registries, spec: dict[str, Any], tmp_path: Path) -> None:
    spec["task"]["params"]["augment"] = ""
    spec["discriminator"]["params"]["spectral_norm"] = False  # deterministic D: no power iteration per call
    spec["train"].update(steps=1, sample_every=0, checkpoint_every=0)
    run = Run(validate_spec(spec, reg), reg, tmp_path)
    labels: list[torch.Tensor] = []
    next_batch = run.next_batch
    run.next_batch = lambda: (b := next_batch(), labels.append(b["label"]))[0]  # type: ignore[method-assign]
    seen: list[bool] = []

    class Probe:
        phase, interval = "D", 1

        def __call__(self, discriminator: Any, real: torch.Tensor, fake: torch.Tensor, *, grad_scale: float = 1.0) -> torch.Tensor:
            out = discriminator(real)  # (B,)
            torch.testing.assert_close(out, run.nets["discriminator"](real, labels[-1]))
            seen.append(fake.shape == real.shape)
            return out.square().mean()

    run.losses.regularizers = [("probe", Probe(), 1.0)]
    run.task.setup(run)  # the task reads its losses at setup
    run.fit()
    assert seen == [True]
