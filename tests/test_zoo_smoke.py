"""Every registered component gets a 2-step CPU smoke test (parametrised over the registry, timm-style)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from ganzoo.data import DataInfo
from ganzoo.plugin.entries import ModelEntry
from ganzoo.plugin.registry import load_registries
from ganzoo.spec.model import validate_spec
from ganzoo.engine.run import Run

_REG = load_registries()
MODELS = [e for e in _REG["model"] if isinstance(e, ModelEntry) and e.role in ("generator", "discriminator")]
TASKS = list(_REG["task"])
ADVERSARIAL = [e for e in _REG["loss"] if getattr(e, "loss_kind", "") == "adversarial"]


def _task_of(entry: ModelEntry) -> str:
    """The task a model is smoke-trained with: unconditional unless it is written for other tasks only."""
    return "unconditional" if not entry.tasks or "unconditional" in entry.tasks else entry.tasks[0]


def _partner(role: str, task: str = "unconditional") -> str:
    """A model for the other role: one written for ``task`` if any, else dcgan, else the first that fits."""
    other = "discriminator" if role == "generator" else "generator"
    fits = [e for e in _REG["model"] if getattr(e, "role", None) == other and (not e.tasks or task in e.tasks)]
    dedicated = sorted(e.name for e in fits if task in e.tasks)
    names = sorted(e.name for e in fits)
    return dedicated[0] if dedicated else "dcgan" if "dcgan" in names else names[0]


GAN_TASKS = ("unconditional", "conditional")
SPECS = sorted((Path(__file__).parents[1] / "registry").glob("*.yaml"))


def _template(task: str, adversarial: bool = False) -> dict:
    """The smallest-batch registry spec of ``task``: a known-good setting of its other slots and losses."""
    from ganzoo.spec.yamlio import load_yaml

    specs = [load_yaml(p.read_text()) for p in SPECS]
    mine = [s for s in specs if (s.get("task") if isinstance(s.get("task"), str) else s.get("task", {}).get("type")) == task]
    if adversarial:  # a discriminator is smoke-trained only where a spec trains one
        mine = [s for s in mine if s.get("losses", {}).get("adversarial")]
    assert mine, f"no registry spec uses task {task!r}"
    return min(mine, key=lambda s: s.get("train", {}).get("batch_size", 64))


def _smoke_spec(entry: ModelEntry, tiny_spec: dict) -> dict:
    task = _task_of(entry)
    other = "discriminator" if entry.role == "generator" else "generator"
    if task in GAN_TASKS:
        spec = tiny_spec
        spec[other] = {"type": _partner(entry.role, task), "params": tiny_spec[other]["params"]}
    else:  # SR, inpainting, ...: the task's registry spec, on tiny data
        spec = {k: v for k, v in _template(task, entry.role == "discriminator").items() if k not in ("init", "eval")}
        spec["data"], spec["train"] = tiny_spec["data"], tiny_spec["train"]
    spec["task"] = spec["task"] if task not in GAN_TASKS else task
    spec[entry.role] = {"type": entry.name}  # the component's own defaults
    spec["data"]["params"]["size"] = 32
    if isinstance(spec["task"], dict):  # a template's training tiles (inpainting's train_crops) are sized for its own data
        spec["task"].get("params", {}).pop("train_crops", None)
    spec["train"].update(steps=2, batch_size=4, sample_every=0, checkpoint_every=0, tensorboard=False)
    return spec


@pytest.mark.parametrize("entry", MODELS, ids=lambda e: f"{e.role}:{e.name}")
def test_model_trains_two_steps(entry, tiny_spec, tmp_path):
    run = Run(validate_spec(_smoke_spec(entry, tiny_spec), _REG), _REG, tmp_path)
    before = {k: v.clone() for k, v in run.nets[entry.role].state_dict().items()}
    run.fit()
    after = run.nets[entry.role].state_dict()
    if any(v.is_floating_point() for v in before.values()):  # a parameter-free baseline (bicubic) has nothing to train
        assert any(not torch.equal(before[k], after[k]) for k in before), "the network's weights did not change"
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())


@pytest.mark.parametrize("entry", MODELS, ids=lambda e: f"{e.role}:{e.name}")
def test_model_builds_for_rgb_and_gray(entry):
    for channels in (1, 3):
        info = DataInfo(channels=channels, size=32, num_classes=10)
        net = _REG.build("model", entry.name, None, info, role=entry.role)
        assert isinstance(net, torch.nn.Module)
        if _task_of(entry) not in GAN_TASKS:
            continue  # their inputs are the task's (low-resolution images, masked images): covered by the training test
        labels = (torch.tensor([0, 1]),) if _task_of(entry) == "conditional" else ()  # G(z, y) and D(x, y)
        if entry.role == "generator":
            z = torch.randn(2, net.latent_dim)
            assert net(z, *labels).shape == (2, channels, 32, 32)
        else:
            assert net(torch.randn(2, channels, 32, 32), *labels).shape[0] == 2


@pytest.mark.parametrize("entry", ADVERSARIAL, ids=lambda e: e.name)
def test_adversarial_loss_trains_two_steps(entry, tiny_spec, tmp_path):
    tiny_spec["losses"]["adversarial"] = {"type": entry.name}
    tiny_spec["train"].update(steps=2, sample_every=0, checkpoint_every=0, tensorboard=False)
    run = Run(validate_spec(tiny_spec, _REG), _REG, tmp_path)
    run.fit()
    assert run.step == 2


@pytest.mark.parametrize("entry", TASKS, ids=lambda e: e.name)
def test_every_task_has_a_registry_spec(entry):
    from pathlib import Path

    from ganzoo.spec.yamlio import load_yaml

    specs = [load_yaml(p.read_text()) for p in (Path(__file__).parents[1] / "registry").glob("*.yaml")]
    assert any((s.get("task") if isinstance(s.get("task"), str) else s["task"]["type"]) == entry.name for s in specs)



@pytest.mark.parametrize("spec_file", SPECS, ids=lambda p: p.stem)
def test_registry_spec_trains_two_steps(spec_file, tmp_path):
    """Every variant in registry/ validates and trains 2 steps as committed (batch 2: the SR specs are paper-size; no eval)."""
    from ganzoo.spec.model import load_spec

    from ganzoo.spec.yamlio import load_yaml

    # init={}: a two-stage spec's first stage has not been trained here. Pretrained feature
    # networks (VGG19 of the perceptual loss) cannot be downloaded: those losses get an
    # explicitly random VGG19 of the same architecture, which only this test asks for.
    data = load_yaml(spec_file.read_text())
    overrides = ["train.steps=2", "train.batch_size=2", "train.sample_every=0", "train.checkpoint_every=0",
                 "train.tensorboard=false", "eval.metrics=[]", "train.device=cpu", "init={}"]
    for i, term in enumerate(data.get("losses", {}).get("reconstruction", [])):
        if term.get("type") == "perceptual":
            overrides.append(f"losses.reconstruction.{i}.params.weights=random")
    spec = load_spec(spec_file, _REG, overrides)
    run = Run(spec, _REG, tmp_path)
    run.fit()
    assert run.step == 2 and run.d_updates == (2 * spec.train.d_steps if "discriminator" in run.nets else 0)


# Every other registered component goes through the plugin kit's own smoke test, as a third-party one would
# (models and adversarial losses train above). Params for components whose defaults need something absent here:


def _image_folder(tmp_path: Path) -> dict:
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((20, 24, 3), 40 * i, np.uint8)).save(folder / f"{i}.png")
    return {"root": str(folder), "size": 16}


def _sr_paired(tmp_path: Path) -> dict:
    from PIL import Image

    hr, lr = tmp_path / "hr", tmp_path / "lr"
    hr.mkdir()
    lr.mkdir()
    for i in range(2):
        Image.fromarray(np.full((40, 40, 3), 40 * i, np.uint8)).save(hr / f"{i}.png")
        Image.fromarray(np.full((10, 10, 3), 40 * i, np.uint8)).save(lr / f"{i}x4.png")
    return {"hr": str(hr), "lr": str(lr), "scale": 4, "crop": 16}


def _sr_benchmark(tmp_path: Path) -> dict:
    from PIL import Image

    hr = tmp_path / "hr"
    hr.mkdir()
    for i in range(2):  # one size, as the kit's check wants (info.size); benchmark folders may mix sizes
        Image.fromarray(np.full((40, 40, 3), 40 * i, np.uint8)).save(hr / f"{i}.png")
    return {"hr": str(hr), "scale": 4}


def _local_mnist(tmp_path: Path) -> dict:
    from tests.plugins.test_data import _write_idx

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in [("train", 4), ("t10k", 2)]:
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", np.random.default_rng(0).integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n))
    return {"name": "mnist", "root": str(tmp_path), "download": False, "size": 16}  # nothing can be downloaded here


_SMOKE_PARAMS: dict[str, Callable[[Path], dict]] = {
    "loss:perceptual": lambda _: {"weights": "random"},  # no ImageNet VGG19 here: a same-architecture random one
    "dataset:image-folder": _image_folder,
    "dataset:sr-paired": _sr_paired,
    "dataset:sr-benchmark": _sr_benchmark,
    "dataset:torchvision": _local_mnist,
    "metric:fd-timm": lambda _: {"model": "resnet18", "allow_random": True},
}
OTHERS = [e for kind in ("loss", "dataset", "metric") for e in _REG[kind] if getattr(e, "loss_kind", "") != "adversarial"]


@pytest.mark.parametrize("entry", OTHERS, ids=lambda e: f"{e.kind}:{e.name}")
def test_component_passes_the_plugin_kit_smoke(entry, tmp_path):
    from ganzoo.testing import entry_id, smoke_component

    make = _SMOKE_PARAMS.get(entry_id(entry))
    smoke_component(_REG, entry, tmp_path, params=make(tmp_path) if make else None)


RECONSTRUCTION = [e for e in _REG["loss"] if getattr(e, "loss_kind", "") == "reconstruction"]


@pytest.mark.parametrize("entry", RECONSTRUCTION, ids=lambda e: e.name)
def test_reconstruction_loss_trains_two_steps(entry, tiny_spec, tmp_path):
    """The GAN recipes have no target, so reconstruction losses train in a tiny super-resolution run."""
    make = _SMOKE_PARAMS.get(f"loss:{entry.name}")
    params = make(tmp_path) if make else {}
    spec = {"name": "recon", "task": {"type": "super-resolution", "params": {"scale": 2}}, "data": tiny_spec["data"],
            "generator": {"type": "srresnet", "params": {"scale": 2, "num_feat": 4, "num_block": 1}},
            "losses": {"reconstruction": [{"type": entry.name, "params": params}]}, "train": {**tiny_spec["train"], "steps": 2}}
    run = Run(validate_spec(spec, _REG), _REG, tmp_path)
    run.fit()
    rec = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"G/loss"' in line]
    assert run.step == 2 and len(rec) == 2 and all(math.isfinite(r["G/loss"]) for r in rec)
