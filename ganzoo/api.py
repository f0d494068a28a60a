"""The Python API: build components, load specs and runs, train and sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo.data import DataInfo, for_evaluation
from ganzoo.errors import ConfigError, ResumeError
from ganzoo.plugin.entries import Entry
from ganzoo.plugin.registry import Registries, load_registries
from ganzoo.rundir import RunDir, RunDirError, read_meta
from ganzoo.spec.model import RunSpecBase, SpecError, SpecIssue, read_spec_data, spec_diff, validate_spec
from ganzoo.spec.model import load_spec as _load_spec
from ganzoo.spec.sections import RESUME_MUTABLE
from ganzoo.task import conforms

__all__ = [
    "create", "list_components", "load_spec", "load_run_spec", "resume_spec", "load_generator", "LoadedGenerator", "loaded_for",
    "train",
]


def create(
    kind: str, name: str, params: dict[str, Any] | None = None, *args: Any, role: str | None = None, registries: Registries | None = None
) -> Any:
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
    path = RunDir(Path(run_dir)).spec
    if not path.is_file():
        raise RunDirError(f"{run_dir} is not a ganzoo run directory (no {path.name})")
    data, text = read_spec_data(path)  # a corrupt spec.yaml is a SpecError naming the file, as for any spec
    return validate_spec(data, reg, source=str(path), text=text, check_inputs=check_inputs)


def resume_spec(
    run_dir: str | Path, reg: Registries, overrides: list[str], *, spec_path: str | Path | None = None, allow_changes: bool = False
) -> RunSpecBase:
    """The spec to resume ``run_dir`` with.

    It is the run's saved spec (or ``spec_path``) with ``overrides``; any
    difference from the saved spec beyond budget and cadence is refused,
    listing the differences, unless ``allow_changes``. The saved spec must be
    the file the run wrote, as ``run.json`` records it; a hand-edited one is
    refused unless ``allow_changes`` (:func:`ganzoo.runstate.check_spec_record`).
    """
    from ganzoo.runstate import check_spec_record, no_spec_message
    from ganzoo.spec.model import apply_overrides, spec_to_data

    if not RunDir(Path(run_dir)).spec.is_file():
        raise RunDirError(no_spec_message(run_dir))
    if not allow_changes:
        check_spec_record(run_dir)
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


def _generator_weights(paths: RunDir, checkpoint: str | Path | None, load_file: Any) -> tuple[Path, dict[str, torch.Tensor], int]:
    """(source, state dict, step) of the generator: the export, or a checkpoint's EMA (else raw) weights."""
    from safetensors import safe_open

    from ganzoo.checkpoint import load_checkpoint, load_latest

    if checkpoint is None:
        if not paths.generator.is_file():
            raise RunDirError(f"{paths.generator} does not exist; the run has not finished "
                              "(use --checkpoint latest to sample its newest checkpoint, or resume it)")
        try:
            with safe_open(str(paths.generator), framework="pt") as fh:
                step = int((fh.metadata() or {}).get("step", -1))
            return paths.generator, load_file(str(paths.generator)), step
        except Exception as exc:  # noqa: BLE001 - a corrupt or truncated file
            raise RunDirError(f"cannot load {paths.generator}: {str(exc).splitlines()[0]}") from None
    if checkpoint == "latest":
        found = load_latest(paths.checkpoints)
        if found is None:
            raise RunDirError(f"{paths.root} has no readable checkpoint")
        source, state = found
    else:
        source = paths.best_checkpoint if checkpoint == "best" else Path(checkpoint)
        if not source.is_file():
            why = " (the run has no eval.best metric)" if checkpoint == "best" else ""
            raise RunDirError(f"checkpoint {source} does not exist{why}")
        state = load_checkpoint(source)
    try:
        weights = state["ema"]["shadow"] if "ema" in state else state["nets"]["generator"]
    except (KeyError, TypeError):
        raise RunDirError(f"{source} holds no generator weights") from None
    return source, weights, int(state["step"])


class LoadedGenerator:
    """A trained generator with the task that knows how to sample it.

    Attributes:
        module: The network (EMA weights when the run used EMA), in eval mode.
        spec: The run's resolved spec.
        info: The data description the network was built for.
        step: The training step the weights are from (-1 if unknown).
        source: The file the weights were read from.
    """

    def __init__(self, module: nn.Module, task: Any, spec: RunSpecBase, info: DataInfo, device: torch.device, *,
                 step: int = -1, source: Path | None = None) -> None:
        self.module, self.task, self.spec, self.info, self.device = module, task, spec, info, device
        self.step, self.source = step, source

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, **kwargs: Any) -> torch.Tensor:
        """``n`` images (N, C, H, W) in [-1, 1]; the same seed gives the same images."""
        return self.task.sample(self.module, n, seed=seed, device=self.device, **kwargs)


def load_generator(
    run_dir: str | Path, *, device: str = "cpu", registries: Registries | None = None, checkpoint: str | Path | None = None
) -> LoadedGenerator:
    """Rebuild a run's generator from its spec, its data description and its weights.

    Args:
        run_dir: The run directory.
        device: ``cpu``, ``cuda``, ``mps`` or ``auto``.
        registries: The registries to build with (default: the installed plugins).
        checkpoint: Where the weights come from: None for the exported
            ``generator.safetensors`` of a finished run; ``"latest"`` for the
            newest readable checkpoint (an unfinished or interrupted run);
            ``"best"`` for the best checkpoint; or a checkpoint file's path.
            From a checkpoint, the EMA weights are used when the run kept an EMA,
            as in the export.

    Raises:
        RunDirError: The weights are missing or do not fit the spec.
    """
    from safetensors.torch import load_file

    from ganzoo.engine.build import build_networks
    from ganzoo.engine.device import select_device

    reg = registries or load_registries()
    run_dir = Path(run_dir)
    spec = load_run_spec(run_dir, reg, check_inputs=False)  # the trained network needs no training data
    info = DataInfo(**read_meta(run_dir)["data_info"])
    dev = select_device(device)
    gen = build_networks(spec, reg, info, ("generator",))["generator"]
    source, weights, step = _generator_weights(RunDir(run_dir), checkpoint, load_file)
    try:
        gen.load_state_dict(weights)
    except Exception as exc:  # noqa: BLE001 - architecture mismatch
        raise RunDirError(f"cannot load the generator from {source}: {str(exc).splitlines()[0]}") from None
    task = reg.build("task", spec.task.type, spec.task.params)
    task.configure(spec, info)
    if getattr(task, "samples_real_data", False):
        data_spec = spec.eval.data or spec.data
        task.attach_data(lambda: for_evaluation(reg.build("dataset", data_spec.type, data_spec.params)))
    return LoadedGenerator(gen.to(dev).eval(), task, spec, info, dev, step=step, source=source)


def loaded_for(run: str | Path | LoadedGenerator, protocol: type, does: str, *, device: str = "cpu",
               checkpoint: str | Path | None = None) -> Any:
    """``run`` loaded (or reused, when already loaded), checked to have a task that satisfies ``protocol``.

    Args:
        run: A run directory, or what :func:`load_generator` returned for one.
        protocol: A ``runtime_checkable`` Protocol the task must satisfy (e.g. :class:`ganzoo.upscaling.Upscaler`).
        does: What the caller needs of the task, for the error: ``"upscale (...); use a super-resolution run"``.
        device: Where to load a run directory.
        checkpoint: As for :func:`load_generator`.

    Raises:
        ConfigError: The run's task does not satisfy ``protocol``.
    """
    # a LoadedGenerator, or any object with its task, module and spec, is used as it is
    gen: Any = load_generator(run, device=device, checkpoint=checkpoint) if isinstance(run, (str, Path)) else run
    if not conforms(gen.task, protocol):
        raise ConfigError(f"the run was trained for task {gen.spec.task.type!r}, which does not {does}")
    return gen


def train(
    spec: RunSpecBase, out: str | Path | None = None, *, registries: Registries | None = None, resume: str | Path | None = None,
    restart: bool = False,
) -> Path:
    """Train a validated spec; returns the run directory.

    With ``resume`` the run continues from its newest readable checkpoint, or
    refuses when that would lose work (:func:`ganzoo.engine.resume.plan_resume`);
    ``restart`` trains that directory again from step 0 with ``spec``.

    Under ``torchrun`` every rank calls this; rank 0 creates the run directory
    and does all file I/O, and the process group is joined and left here.
    Rank 0 holds the run directory's lock (:mod:`ganzoo.runlock`) until it
    returns, so a second trainer of the same directory is refused.
    """
    from ganzoo.engine.distributed import broadcast_object, init_from_env, shutdown
    from ganzoo.engine.resume import ResumePlan, plan_resume, prepare_resume
    from ganzoo.engine.run import Run
    from ganzoo.rundir import new_run_dir
    from ganzoo.runlock import RunLock, check_unlocked
    from ganzoo.runstate import failed_start

    if restart and resume is None:
        raise ResumeError("restart applies to a resumed run directory (--restart needs --resume)")
    reg = registries or load_registries()
    dist = init_from_env(spec.train.device)
    lock: RunLock | None = None
    reused = False  # --out is a directory a failed start left behind
    try:
        made: tuple[str, str] = ("", "")
        if dist.is_main:
            try:
                if resume is None and out is not None:
                    check_unlocked(out)  # name the live trainer, rather than only "not empty"
                    reused = failed_start(out) and any(not p.name.startswith(".") for p in Path(out).iterdir())
                target = Path(resume) if resume is not None else new_run_dir(out, spec.name)
                lock = RunLock(target).acquire()
                made = (str(target), "")
            except RunDirError as exc:
                made = ("", str(exc))
        path, error = broadcast_object(made, dist)
        if error:
            raise RunDirError(error)
        run_dir = Path(path)
        plan: ResumePlan | None = None
        if resume is not None:
            plan = plan_resume(run_dir, restart=restart)  # refuses before anything in the directory changes
            if dist.is_main:
                prepare_resume(plan)
        run = Run(spec, reg, run_dir, dist=dist, resuming=resume is not None)
        if reused:
            run.log_info(f"{run_dir} held only what a start that failed before its first step left; starting afresh in it")
        if plan is not None:
            run.resume(plan)
        run.fit()
        return run_dir
    finally:
        if lock is not None:
            lock.release()
        shutdown(dist)
