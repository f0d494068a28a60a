"""The Python API: build components, load specs and runs, train and sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.data import DataInfo, for_evaluation
from ganzoo.plugin.entries import Entry
from ganzoo.plugin.registry import Registries, load_registries
from ganzoo.rundir import RunDir, RunDirError, read_meta
from ganzoo.spec.model import RunSpecBase, SpecError, SpecIssue, load_spec as _load_spec, spec_diff, validate_spec
from ganzoo.spec.sections import RESUME_MUTABLE
from ganzoo.spec.yamlio import load_yaml

__all__ = ["create", "list_components", "load_spec", "load_run_spec", "resume_spec", "load_generator", "LoadedGenerator", "train"]


def create(kind: str, name: str, params: dict[str, Any] | None = None, *args: Any, role: str | None = None, registries: Registries | None = None) -> Any:
    """Build a registered component, timm-style: ``create("model", "dcgan", {"width": 32}, info, role="generator")``."""
    reg = registries or load_registries()
    return reg.build(kind, name, params, *args, role=role)


def list_components(kind: str | None = None, pattern: str = "*", registries: Registries | None = None) -> list[Entry]:
    """Registered entries, optionally of one kind and matching a glob ``pattern``."""
    import fnmatch

    reg = registries or load_registries()
    entries = reg[kind] if kind else reg.all_entries()
    return [e for e in entries if fnmatch.fnmatch(e.name, pattern)]


def component_catalog(registries: Registries | None = None) -> dict[str, Any]:
    """Every registered component with its plugin, description and parameter schema (``registry/components.json``)."""
    reg = registries or load_registries()
    items = []
    for e in sorted(reg.all_entries(), key=lambda e: (e.kind, e.name, getattr(e, "role", ""))):
        item: dict[str, Any] = {"kind": e.kind, "name": e.name, "plugin": e.plugin, "description": e.description}
        for attr in ("role", "loss_kind", "tasks", "requires"):
            value = getattr(e, attr, None)
            if value:
                item[attr] = list(value) if isinstance(value, tuple) else value
        item["params"] = e.params.model_json_schema(mode="validation").get("properties", {})
        items.append(item)
    return {"components": items}


def load_spec(path: str | Path, overrides: list[str] | None = None, registries: Registries | None = None) -> RunSpecBase:
    """Load and validate a YAML spec (raises :class:`ganzoo.SpecError`)."""
    return _load_spec(path, registries or load_registries(), overrides)


def load_run_spec(run_dir: str | Path, reg: Registries, *, check_inputs: bool = True) -> RunSpecBase:
    """The resolved spec saved in a run directory (``check_inputs``: see :func:`ganzoo.checks_inputs`)."""
    path = RunDir(run_dir).spec
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a ganzoo run directory (no {path.name})")
    text = path.read_text()
    return validate_spec(load_yaml(text), reg, source=str(path), text=text, check_inputs=check_inputs)


def resume_spec(run_dir: str | Path, reg: Registries, overrides: list[str], *, spec_path: str | Path | None = None, allow_changes: bool = False) -> RunSpecBase:
    """The spec to resume ``run_dir`` with.

    It is the run's saved spec (or ``spec_path``) with ``overrides``; any
    difference from the saved spec beyond budget and cadence is refused,
    listing the differences, unless ``allow_changes``.
    """
    from ganzoo.spec.model import apply_overrides, spec_to_data

    saved = load_run_spec(run_dir, reg)
    if spec_path is not None:
        new = _load_spec(spec_path, reg, overrides)
    elif overrides:
        new = validate_spec(apply_overrides(spec_to_data(saved), overrides), reg, source="--set")
    else:
        return saved
    changed = {k: v for k, v in spec_diff(saved, new).items() if not any(k == m or k.startswith(m + ".") for m in RESUME_MUTABLE)}
    if changed and not allow_changes:
        issues = [SpecIssue(k, f"differs from the run's saved spec ({old!r} -> {val!r})") for k, (old, val) in changed.items()]
        issues.append(SpecIssue("", f"with --resume only {', '.join(RESUME_MUTABLE)} may change; pass --allow-spec-change to override"))
        raise SpecError(issues, f"--resume {run_dir}")
    return new


class LoadedGenerator:
    """A trained generator with the task that knows how to sample it.

    Attributes:
        module: The network (EMA weights when the run used EMA), in eval mode.
        spec: The run's resolved spec.
        info: The data description the network was built for.
    """

    def __init__(self, module: nn.Module, task: Any, spec: RunSpecBase, info: DataInfo, device: torch.device) -> None:
        self.module, self.task, self.spec, self.info, self.device = module, task, spec, info, device

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, **kwargs: Any) -> torch.Tensor:
        """``n`` images (N, C, H, W) in [-1, 1]; the same seed gives the same images."""
        return self.task.sample(self.module, n, seed=seed, device=self.device, **kwargs)


def load_generator(run_dir: str | Path, *, device: str = "cpu", registries: Registries | None = None) -> LoadedGenerator:
    """Rebuild a run's generator from ``spec.yaml``, ``run.json`` and ``generator.safetensors``."""
    from safetensors.torch import load_file

    from ganzoo.engine.device import select_device
    from ganzoo.engine.build import build_networks

    reg = registries or load_registries()
    run_dir = Path(run_dir)
    spec = load_run_spec(run_dir, reg, check_inputs=False)  # the trained network needs no training data
    info = DataInfo(**read_meta(run_dir)["data_info"])
    weights = RunDir(run_dir).generator
    if not weights.is_file():
        raise RunDirError(f"{weights} does not exist; the run has not finished (train it to the end or resume it)")
    dev = select_device(device)
    gen = build_networks(spec, reg, info, ("generator",))["generator"]
    try:
        gen.load_state_dict(load_file(str(weights)))
    except Exception as exc:  # noqa: BLE001 - corrupt file or architecture mismatch
        raise RunDirError(f"cannot load {weights}: {str(exc).splitlines()[0]}") from None
    task = reg.build("task", spec.task.type, spec.task.params)  # type: ignore[attr-defined]
    task.configure(spec, info)
    if getattr(task, "samples_real_data", False):
        data_spec = spec.eval.data or spec.data  # type: ignore[attr-defined]
        task.attach_data(lambda: for_evaluation(reg.build("dataset", data_spec.type, data_spec.params)))
    return LoadedGenerator(gen.to(dev).eval(), task, spec, info, dev)


def train(spec: RunSpecBase, out: str | Path | None = None, *, registries: Registries | None = None, resume: str | Path | None = None) -> Path:
    """Train a validated spec; returns the run directory.

    Under ``torchrun`` every rank calls this; rank 0 creates the run directory
    and does all file I/O, and the process group is joined and left here.
    """
    from ganzoo.engine.distributed import broadcast_object, init_from_env, shutdown
    from ganzoo.rundir import new_run_dir
    from ganzoo.engine.run import Run

    reg = registries or load_registries()
    dist = init_from_env(spec.train.device)
    try:
        if resume is not None:
            run_dir = Path(resume)
        else:
            made: tuple[str, str] = ("", "")
            if dist.is_main:
                try:
                    made = (str(new_run_dir(out, spec.name)), "")
                except RunDirError as exc:
                    made = ("", str(exc))
            path, error = broadcast_object(made, dist)
            if error:
                raise RunDirError(error)
            run_dir = Path(path)
        run = Run(spec, reg, run_dir, dist=dist, resuming=resume is not None)
        if resume is not None and not run.resume():
            run.log_info("no readable checkpoint found; starting from step 0")
        run.fit()
        return run_dir
    finally:
        shutdown(dist)
