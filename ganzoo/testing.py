"""Opt-in pytest helpers for plugin authors: load checks, params checks, smoke tests, tiny runs.

``import ganzoo`` never imports this module; ``pytest_plugins = ["ganzoo.testing"]`` in a conftest.py adds
the ``ganzoo_*`` fixtures. Every check raises :class:`PluginCheckError` (an ``AssertionError``) listing all
it found. Core never imports a plugin: the built-ins a smoke run pairs yours with (``dcgan``, ``digits``)
are looked up by name. See "Testing your plugin" in docs/plugins.md. PYTEST_DONT_REWRITE (the checks word
their own messages, and a test module importing this before pytest_plugins does would get a warning).
"""

from __future__ import annotations

import copy
import difflib
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    import pytest
except ImportError as exc:  # pragma: no cover - exercised in a subprocess
    raise ImportError("ganzoo.testing is a pytest helper and needs pytest: pip install pytest") from exc

from pydantic import BaseModel

from ganzoo.errors import PluginCodeError
from ganzoo.plugin.entries import Entry, LossEntry, ModelEntry
from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import Registries, collect

__all__ = ["TINY_SPEC", "PluginCheckError", "check_entry", "check_params_model", "check_plugin_loads", "check_run_dir",
           "components_of", "each_component", "entry_id", "registries_with", "smoke_component", "smoke_dataset", "smoke_loss",
           "smoke_model", "train_tiny"]

# 2 steps of milliseconds each on a CPU; every name is a built-in component.
TINY_SPEC: dict[str, Any] = {
    "name": "tiny", "task": "unconditional", "seed": 0,
    "data": {"type": "digits", "params": {"size": 16, "limit": 64}},
    "generator": {"type": "dcgan", "params": {"latent_dim": 8, "width": 8}},
    "discriminator": {"type": "dcgan", "params": {"width": 8}},
    "losses": {"adversarial": {"type": "non-saturating"}},
    "train": {"steps": 2, "batch_size": 8, "device": "cpu", "log_every": 1, "sample_every": 0, "checkpoint_every": 0,
              "sample_grid": 4, "tensorboard": False, "progress": False},
}


class PluginCheckError(AssertionError):
    """A plugin or component breaks a ganzoo contract; the message lists every problem."""


def _fail(where: str, problems: list[str]) -> None:
    if problems:
        raise PluginCheckError(f"{where}:\n  - " + "\n  - ".join(problems))


def _call(where: str, what: str, fn: Callable[[], Any]) -> Any:
    """``fn()``; an exception becomes a PluginCheckError naming the component and the step (original chained)."""
    try:
        return fn()
    except PluginCheckError:
        raise
    except PluginCodeError as exc:  # a run names the step and phase; the plugin's own exception is what to show
        cause = exc.__cause__ or exc
        context = ", ".join([f"step {exc.step}"] + [f"phase {exc.phase}"] * bool(exc.phase) + [f"at {exc.location}"] * bool(exc.location))
        raise PluginCheckError(f"{where}: {what} failed: {type(cause).__name__}: {cause} ({context})") from cause
    except Exception as exc:
        raise PluginCheckError(f"{where}: {what} failed: {type(exc).__name__}: {exc}") from exc


def _shape(x: Any) -> str:
    return str(tuple(x.shape)) if hasattr(x, "shape") else type(x).__name__


def registries_with(*plugins: Any, installed: bool = True) -> Registries:
    """Fresh registries (a new plugin manager, no global state) with ``plugins`` registered.

    ``plugins`` are modules, objects or ``(name, obj)`` pairs. ``installed`` also discovers the installed
    plugins, as ``ganzoo list`` does; one both installed and passed is kept once, under its entry-point name.
    """
    pairs = [p if isinstance(p, tuple) else (_name(p), p) for p in plugins]
    return collect(get_plugin_manager(entry_points=installed, extra=pairs))  # an installed copy is kept, the extra skipped


def _name(plugin: Any, reg: Registries | None = None) -> str:
    if isinstance(plugin, str):
        return plugin
    return (reg and reg.pm.get_name(plugin)) or getattr(plugin, "__name__", None) or type(plugin).__name__


def components_of(reg: Registries, plugin: Any, kinds: Iterable[str] | None = None) -> list[Entry]:
    """The entries ``plugin`` (its name, or the module or object itself) registered, optionally of some kinds."""
    name, wanted = _name(plugin, reg), set(kinds or reg.by_kind)
    return [e for e in reg.all_entries() if e.plugin == name and e.kind in wanted]


def entry_id(entry: Entry) -> str:
    """A test id: ``generator:my-gen``, ``loss:my-loss``, ``dataset:my-data``."""
    return f"{entry.role}:{entry.name}" if isinstance(entry, ModelEntry) else f"{entry.kind}:{entry.name}"


def each_component(plugin: Any, *, kinds: Iterable[str] | None = None, installed: bool = True) -> Any:
    """``@pytest.mark.parametrize`` over ``plugin``'s components as ``ganzoo_component``; none is a collection error."""
    reg = registries_with(plugin, installed=installed)
    entries = components_of(reg, plugin, kinds)
    failed = [f"{f.name} failed at {f.stage}: {f.error}" for f in reg.report.failed]
    _fail(f"plugin {_name(plugin, reg)!r}", [f"registers no components; {failed or 'see check_plugin_loads'}"] * (not entries))
    return pytest.mark.parametrize("ganzoo_component", entries, ids=entry_id)


def check_plugin_loads(reg: Registries, plugin: Any) -> str:
    """Assert ``plugin`` loaded without failures, ``check_pending`` passes and its hooks are marked; return its name."""
    name = _name(plugin, reg)
    specs = sorted(n for n in dir(reg.pm.hook) if n.startswith("ganzoo_") and getattr(reg.pm.hook, n).spec is not None)
    problems = []
    for f in reg.report.failures_of(name):  # each failure once, by entry-point or module name
        m = re.search(r"unknown hook '(\w+)'", f.error)  # pluggy's check_pending: a misspelt hook name
        close = difflib.get_close_matches(m.group(1), specs, n=1) if m and "did you mean" not in f.error else []
        problems.append(f"failed at {f.stage}: {f.error}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    obj = reg.pm.get_plugin(name)
    if obj is None and not problems:
        problems.append("is not registered: install its package (pip install -e .) or pass it to registries_with()")
    try:
        reg.pm.check_pending()
    except Exception as exc:  # noqa: BLE001 - the message is the point
        problems.append(f"check_pending: {exc}")
    if obj is not None:
        # pluggy ignores a hook function without the marker: the plugin would silently register nothing.
        unmarked = [n for n in specs if callable(getattr(obj, n, None)) and reg.pm.parse_hookimpl_opts(obj, n) is None]
        problems += [f"{n} is not decorated with @ganzoo.hookimpl, so ganzoo never calls it" for n in unmarked]
    _fail(f"plugin {name!r}", problems)
    return name


def check_params_model(entry_or_model: Entry | type[BaseModel]) -> None:
    """Assert a params model rejects unknown keys, describes every field and has valid, JSON-safe defaults."""
    if isinstance(entry_or_model, Entry):
        model, where = entry_or_model.params, f"{entry_id(entry_or_model)} params"
    else:
        model, where = entry_or_model, f"params model {entry_or_model.__qualname__}"
    problems = [f"field {n!r} has no description; use Field(..., description=...)"
                for n, f in model.model_fields.items() if not (f.description or "").strip()]
    if model.model_config.get("extra") != "forbid":
        problems.insert(0, "accepts unknown keys, so a misspelt key in a spec is silently ignored; subclass ganzoo.Params")
    try:
        model.model_json_schema()
    except Exception as exc:  # noqa: BLE001 - any failure is a finding to report
        problems.append(f"has no JSON Schema, so `ganzoo schema` fails: {type(exc).__name__}: {exc}")
    if not any(f.is_required() for f in model.model_fields.values()):
        try:
            # pydantic does not validate defaults; spec.yaml stores the JSON dump and is validated again on load.
            model.model_validate(model().model_dump(mode="json"))
        except Exception as exc:  # noqa: BLE001 - any failure is a finding to report
            problems.append(f"its defaults do not validate after a JSON round trip: {str(exc).strip()}")
    _fail(where, problems)


def check_entry(entry: Entry) -> None:
    """Assert a registry record follows the conventions (name, one-line description), then check its params."""
    problems = [f"name {entry.name!r} is not lowercase-with-dashes"] * (not re.match(r"^[a-z0-9]+(-[a-z0-9]+)*$", entry.name))
    if not entry.description.strip() or "\n" in entry.description:
        problems.append("needs a one-line description (shown by `ganzoo list`)")
    _fail(entry_id(entry), problems)
    check_params_model(entry)


def _entry(reg: Registries, kind: str, entry: Entry | str, role: str | None = None) -> Entry:
    name, role = (entry.name, getattr(entry, "role", None)) if isinstance(entry, Entry) else (entry, role)
    try:
        return reg[kind].get(name, role)
    except KeyError as exc:
        raise PluginCheckError(f"{exc}; register its plugin with registries_with() or the ganzoo_plugins fixture") from None


def _build(reg: Registries, entry: Entry, params: Any, *args: Any) -> Any:
    return _call(entry_id(entry), "build", lambda: reg.build(entry.kind, entry.name, params, *args, role=getattr(entry, "role", None)))


def _task_of(entry: ModelEntry) -> str | None:
    """The built-in recipe to smoke-train a network with; None for networks written for other tasks only."""
    if not entry.tasks or "unconditional" in entry.tasks:
        return "unconditional"
    return next((t for t in entry.tasks if t == "conditional"), None)


def smoke_model(reg: Registries, entry: Entry | str, role: str | None = None, *, params: Mapping[str, Any] | None = None,
                size: int = 32, batch: int = 2) -> Any:
    """Build a network for 1 and 3 channels, run forward and backward and check the GAN contract; return it.

    Generators expose a positive int ``latent_dim`` and map (B, Z) noise to finite (B, C, S, S) images in [-1, 1];
    discriminators give finite logits (B, ...). Networks for other tasks, and feature extractors, are only built.
    """
    import torch

    from ganzoo.data import DataInfo
    e = _entry(reg, "model", entry, role)
    assert isinstance(e, ModelEntry)
    where, task, net = entry_id(e), _task_of(e), None
    for ch in (1, 3):
        net = _build(reg, e, params, DataInfo(channels=ch, size=size, num_classes=10))
        _fail(where, [f"build returned {type(net).__name__}, not a torch.nn.Module"] * (not isinstance(net, torch.nn.Module)))
        if task is None or e.role == "feature-extractor":  # no known input contract: building is the check
            continue
        gen, labels = e.role == "generator", (torch.arange(batch) % 10,) if task == "conditional" else ()
        latent: Any = getattr(net, "latent_dim", None)
        if gen and (not isinstance(latent, int) or isinstance(latent, bool) or latent <= 0):
            _fail(where, [f"a generator must expose a positive int attribute latent_dim (got {latent!r})"])
        x = torch.randn(batch, latent) if gen else torch.rand(batch, ch, size, size) * 2 - 1  # z (B, Z) or images (B, C, S, S)
        out = _call(where, "forward", lambda: net(x, *labels))  # noqa: B023 - _call runs it at once, in this iteration
        want = (batch, ch, size, size) if gen else (batch,)
        shape_ok = isinstance(out, torch.Tensor) and (tuple(out.shape) == want if gen else out.ndim > 0 and out.shape[0] == batch)
        problems = [] if shape_ok else [f"forward gave {_shape(out)}, expected {'images' if gen else 'logits'} {want}"]
        if shape_ok and gen and torch.isfinite(out).all() and out.abs().max() > 1 + 1e-4:
            problems.append(f"images must lie in [-1, 1], got [{out.min():.3g}, {out.max():.3g}]; end with tanh")
        if not problems and not torch.isfinite(out).all():
            problems.append("forward gave non-finite values")
        elif not problems and not out.requires_grad:
            problems.append("the output does not depend on the weights (detached, or computed under no_grad): it cannot train")
        elif not problems:
            _call(where, "backward", lambda: out.float().sum().backward())  # noqa: B023 - _call runs it at once
            if not all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None):
                problems.append("backward gave non-finite gradients")
        _fail(where, problems)
    return net


def _scalar(where: str, what: str, fn: Callable[[], Any]) -> list[str]:
    import torch
    value = _call(where, what, fn)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        return [f"{what} must return a scalar tensor, got {_shape(value)}"]
    if not torch.isfinite(value).all():
        return [f"{what} is not finite: {float(value)}"]
    if value.requires_grad:
        _call(where, f"{what} backward", lambda: value.sum().backward())
    return []


def smoke_loss(reg: Registries, entry: Entry | str, *, params: Mapping[str, Any] | None = None) -> Any:
    """Build a loss and call it on small random inputs; each call must give a finite, differentiable scalar."""
    import torch
    from torch import nn
    e = _entry(reg, "loss", entry)
    assert isinstance(e, LossEntry)
    where, loss = entry_id(e), _build(reg, e, params)
    a, b = torch.randn(4, requires_grad=True), torch.randn(4, requires_grad=True)  # real and fake logits (B,)
    if e.loss_kind == "adversarial":
        real = a if getattr(loss, "needs_real_logits", False) else None
        problems = _scalar(where, "d_loss", lambda: loss.d_loss(a, b)) + _scalar(where, "g_loss", lambda: loss.g_loss(b, real))
    elif e.loss_kind == "regularizer":
        phase, interval = getattr(loss, "phase", None), getattr(loss, "interval", None)
        if phase not in ("D", "G") or not isinstance(interval, int) or interval < 1:
            _fail(where, [f'a regularizer needs phase "D" or "G" and an int interval >= 1 (got {phase!r}, {interval!r})'])
        if phase == "D":  # (discriminator, real, fake): images (B, 1, 8, 8) -> logits (B,)
            net = nn.Sequential(nn.Flatten(), nn.Linear(64, 1), nn.Flatten(0))
            x, y = torch.rand(4, 1, 8, 8) * 2 - 1, torch.rand(4, 1, 8, 8) * 2 - 1
        else:  # (generator, z, fake = generator(z)) with z a leaf that requires grad
            net = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
            x = torch.randn(4, 4, requires_grad=True)
            y = net(x)
        problems = _scalar(where, "penalty", lambda: loss(net, x, y))
    else:
        x, y = (torch.rand(2, 3, 16, 16) * 2 - 1).requires_grad_(), torch.rand(2, 3, 16, 16) * 2 - 1
        problems = _scalar(where, "loss(pred, target)", lambda: loss(x, y))
    _fail(where, problems)
    return loss


def smoke_dataset(reg: Registries, entry: Entry | str, *, params: Mapping[str, Any] | None = None) -> Any:
    """Build a dataset; check its ``info``, its first items and that they collate. Returns the dataset."""
    import torch
    from torch.utils.data import default_collate

    from ganzoo.data import DataInfo
    e = _entry(reg, "dataset", entry)
    where, ds = entry_id(e), _build(reg, e, params)
    info: Any = getattr(ds, "info", None)
    n: int = _call(where, "len()", lambda: len(ds))
    bad = not isinstance(info, DataInfo) or n <= 0
    _fail(where, [f"needs len() > 0 (got {n}) and an info of type ganzoo.DataInfo (got {info!r})"] * bad)
    items, problems = _call(where, "reading items", lambda: [ds[i] for i in range(min(2, n))]), []
    shape = (info.channels, info.size, info.size)
    for item in items:
        img = item.get("image") if isinstance(item, dict) else None
        if not isinstance(img, torch.Tensor) or not img.is_floating_point() or tuple(img.shape) != shape:
            problems.append(f"items must be dicts with a float 'image' of shape {shape} (from info), got {_shape(img)}")
        elif not (torch.isfinite(img).all() and img.abs().max() <= 1 + 1e-4):
            problems.append("images must be finite and lie in [-1, 1]")
        elif info.num_classes and not (isinstance(item.get("label"), torch.Tensor) and item["label"].dtype == torch.int64):
            problems.append("info.num_classes > 0, so every item needs an int64 'label'")
    _fail(where, problems)
    _call(where, "collating a batch as the DataLoader does", lambda: default_collate(items))
    _check_evaluation_view(where, ds, min(2, n))
    return ds


def _check_evaluation_view(where: str, ds: Any, n: int) -> None:
    """The view metrics read (``for_evaluation()``) must give the same item twice and draw nothing from torch's RNG."""
    import torch

    from ganzoo.data import for_evaluation

    view = _call(where, "for_evaluation()", lambda: for_evaluation(ds))
    state = torch.get_rng_state()
    first, second = ([view[i]["image"] for i in range(n)] for _ in range(2))
    drew = not torch.equal(torch.get_rng_state(), state)
    torch.set_rng_state(state)
    if drew or not all(torch.equal(a, b) for a, b in zip(first, second, strict=True)):
        how = "drew from the global torch RNG" if drew else "gave other images on a second read"
        _fail(where, [f"for_evaluation() must return a view without random augmentation, but reading it {how}; "
                      "override ImageDataset.for_evaluation() to switch augmentation off (see docs/plugins.md)"])


def _partner(reg: Registries, role: str, task: str) -> dict[str, Any]:
    """A known-good network for the other slot (dcgan when it fits), with tiny widths when it takes them."""
    other = "discriminator" if role == "generator" else "generator"
    fits = [e for e in reg["model"] if isinstance(e, ModelEntry) and e.role == other and (not e.tasks or task in e.tasks)]
    fits.sort(key=lambda e: (task not in e.tasks, e.name != "dcgan", e.name))  # written for the task first, then dcgan
    if not fits:
        _fail(f"{role} smoke run", [f"no {other} for task {task!r} is installed to train against; use registries_with(installed=True)"])
    tiny = TINY_SPEC[other]["params"]
    return {"type": fits[0].name, "params": dict(tiny) if set(tiny) <= set(fits[0].params.model_fields) else {}}


def smoke_component(reg: Registries, entry: Entry, tmp_path: Path | None = None, *, params: Mapping[str, Any] | None = None,
                    size: int = 32) -> Path | None:
    """Any component's smoke test: its forward checks, then (given ``tmp_path``) 2 training steps; returns the run dir.

    Networks train against a known-good partner at ``size`` px, adversarial losses and regularisers train the tiny
    DCGAN; other kinds are only built and exercised. A component with required params is skipped unless given them.
    """
    where, spec, comp, trains = entry_id(entry), copy.deepcopy(TINY_SPEC), {"type": entry.name, "params": dict(params or {})}, False
    if params is None and any(f.is_required() for f in entry.params.model_fields.values()):
        pytest.skip(f"{where}: its params have required fields; call smoke_component(..., params={{...}})")
    if isinstance(entry, ModelEntry):
        smoke_model(reg, entry, params=params, size=size)
        task = _task_of(entry)
        if task is not None and entry.role != "feature-extractor":
            trains = True
            other = "discriminator" if entry.role == "generator" else "generator"
            spec.update({"task": task, entry.role: comp, other: _partner(reg, entry.role, task)})
            spec["data"]["params"]["size"] = size
    elif isinstance(entry, LossEntry):
        smoke_loss(reg, entry, params=params)
        trains = entry.loss_kind != "reconstruction"  # the GAN recipes have no target to reconstruct
        spec["losses"].update({"adversarial": comp} if entry.loss_kind == "adversarial" else {"regularizers": [comp]})
    elif entry.kind == "dataset":
        smoke_dataset(reg, entry, params=params)
    else:  # metrics and tasks: building is what can be checked without data made for them
        _build(reg, entry, params)
    if not trains or tmp_path is None:
        return None
    return _call(where, "2 training steps in the tiny spec", lambda: train_tiny(spec, tmp_path, reg=reg))


def train_tiny(spec: Mapping[str, Any] | None, tmp_path: Path, *, overrides: Sequence[str] = (), steps: int = 2,
               reg: Registries | None = None, check: bool = True) -> Path:
    """Validate a spec, train it ``steps`` steps on the CPU in a new ``tmp_path/run-*`` and return that directory.

    ``spec``'s top-level sections replace those of :data:`TINY_SPEC` (``{"generator": {"type": "my-gen"}}``; ``train``
    is merged key by key; a full spec works too), then ``overrides`` (``key.sub=value``, as ``ganzoo train --set``)
    apply. ``reg`` defaults to the installed plugins; ``check`` runs :func:`check_run_dir`. Raises ``ganzoo.SpecError``.
    """
    from ganzoo.api import train
    from ganzoo.spec.model import apply_overrides, validate_spec
    reg = reg if reg is not None else registries_with()
    data = copy.deepcopy(TINY_SPEC)
    for key, value in (spec or {}).items():
        data[key] = {**data["train"], **value} if key == "train" and isinstance(value, Mapping) else copy.deepcopy(value)
    data = apply_overrides(data, list(overrides))
    data.setdefault("train", {}).update(steps=steps, device="cpu", progress=False)
    validated = validate_spec(data, reg, source="train_tiny")
    run_dir = train(validated, tempfile.mkdtemp(prefix="run-", dir=tmp_path), registries=reg)  # empty, so never a clash
    if check:
        check_run_dir(run_dir, steps=steps, reg=reg)
    return run_dir


def check_run_dir(run_dir: Path, *, steps: int | None = None, reg: Registries | None = None) -> None:
    """Assert a finished run has the usual artefacts and that its generator reloads from them and samples."""
    import torch

    from ganzoo.api import load_generator
    from ganzoo.rundir import RunDir

    run_dir = Path(run_dir)
    paths = RunDir(run_dir)
    missing = [p.name for p in (paths.spec, paths.meta, paths.log, paths.metrics, paths.generator) if not p.is_file()]
    if steps and not paths.checkpoint(steps).is_file():
        missing.append(str(paths.checkpoint(steps).relative_to(run_dir)))
    if not steps and not paths.list_checkpoints():
        missing.append(f"a step checkpoint in {paths.checkpoints.name}/")
    if not paths.list_sample_grids():
        missing.append(f"a sample grid in {paths.samples.name}/")
    _fail(f"run directory {run_dir}", [f"{m} is missing" for m in missing])
    gen = _call(str(run_dir), "load_generator", lambda: load_generator(run_dir, registries=reg))
    images = _call(str(run_dir), "sampling the reloaded generator", lambda: gen.sample(2, seed=0))
    shape = (2, gen.info.channels, gen.info.size, gen.info.size)
    if tuple(images.shape) != shape or not torch.isfinite(images).all():
        _fail(str(run_dir), [f"the reloaded generator sampled {_shape(images)}, expected finite {shape}"])


@pytest.fixture(scope="session")  # the fixtures: pytest_plugins = ["ganzoo.testing"] in a conftest.py
def ganzoo_plugins() -> list[Any]:
    """Plugins to register besides the installed ones; override it (session scope) to add yours."""
    return []


@pytest.fixture(scope="session")
def ganzoo_registries(ganzoo_plugins: list[Any]) -> Registries:
    """Registries of the installed plugins plus ``ganzoo_plugins``, built once per session."""
    return registries_with(*ganzoo_plugins)


@pytest.fixture
def ganzoo_tiny_spec() -> dict[str, Any]:
    """A fresh copy of :data:`TINY_SPEC` to edit."""
    return copy.deepcopy(TINY_SPEC)


@pytest.fixture
def ganzoo_train_tiny(ganzoo_registries: Registries, tmp_path: Path) -> Callable[..., Path]:
    """``ganzoo_train_tiny(spec=None, overrides=(), steps=2) -> run dir``: :func:`train_tiny` in ``tmp_path``."""

    def run(spec: Mapping[str, Any] | None = None, overrides: Sequence[str] = (), steps: int = 2) -> Path:
        return train_tiny(spec, tmp_path, overrides=overrides, steps=steps, reg=ganzoo_registries)
    return run
