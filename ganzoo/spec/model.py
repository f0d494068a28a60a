"""Run specs: YAML -> validated pydantic model, built from the installed components.

The component slots are discriminated unions on ``type`` with one member per
registered component, so plugin parameters are validated up front and appear in
the JSON Schema. Errors come back as :class:`SpecError`, path-qualified.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)

from ganzoo.plugin.entries import Entry, LossEntry, ModelEntry, Params
from ganzoo.plugin.registry import Registries
from ganzoo.spec.errors import Explain, SpecError, SpecIssue, issues_from, locate
from ganzoo.spec.limits import MAX_SEED, MAX_STEPS, oversized_ints
from ganzoo.spec.overrides import apply_overrides, parse_overrides, set_values
from ganzoo.spec.sections import InitSpecs, OptimSpecs, TrainSpec
from ganzoo.spec.yamlio import SpecYAMLError, line_map, load_yaml

__all__ = [
    "SpecError", "SpecIssue", "RunSpec", "spec_model", "load_spec", "validate_spec", "apply_overrides", "parse_overrides", "set_values",
    "spec_hash", "json_schema",
]


class Component(BaseModel):
    """Base of every component slot: ``{type: name, params: {...}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # a loss weight of .inf validated before
    type: str


class WeightedComponent(Component):
    """A loss term with a weight."""

    weight: float = Field(1.0, ge=0, description="Multiplier of this term in the total loss.")


class ComponentSpec(Protocol):
    """A validated component slot, as type checkers see it: ``type`` and its params model."""

    type: str
    params: Params


class WeightedSpec(ComponentSpec, Protocol):
    """A loss slot: a component with its weight."""

    weight: float


class LossesSection(Protocol):
    """``losses``: the validated loss slots."""

    adversarial: WeightedSpec | None
    regularizers: list[WeightedSpec]
    reconstruction: list[WeightedSpec]


class EvalSection(Protocol):
    """``eval``: cadence, data, metrics and the best-checkpoint rule."""

    every: int
    data: ComponentSpec | None
    metrics: list[ComponentSpec]
    best: str | None
    best_mode: Literal["min", "max"]


class RunSpecBase(BaseModel):
    """Fields every run spec has, whatever plugins are installed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("run", min_length=1, pattern=r"^[A-Za-z0-9._-]+$", description="Run name; used for the run directory.")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="Seeds python, numpy and torch, and the data order.")
    optim: OptimSpecs = Field(default_factory=OptimSpecs, description="Adam and learning-rate schedule per network.")
    init: InitSpecs = Field(default_factory=InitSpecs, description="Starting weights per network (default: random).")
    train: TrainSpec = Field(default_factory=TrainSpec, description="Budget, hardware and cadence.")

    # Filled in by spec_model() with unions of the installed components; declared here
    # for type checkers only (pydantic must not see them, or they would become fields).
    if TYPE_CHECKING:
        task: ComponentSpec
        data: ComponentSpec
        generator: ComponentSpec
        discriminator: ComponentSpec | None
        losses: LossesSection
        eval: EvalSection

    def component_params(self, slot: str) -> Params:
        """The validated params model of a slot such as ``"generator"``."""
        return getattr(self, slot).params


RunSpec = RunSpecBase  # the public name; a concrete class comes from spec_model()


def _member(entry: Entry, base: type[Component], prefix: str) -> type[Component]:
    required = any(f.is_required() for f in entry.params.model_fields.values())
    params_field: Any = (entry.params, ...) if required else (entry.params, Field(default_factory=entry.params))
    return create_model(
        f"{prefix}_{entry.name}".replace("-", "_"),
        __base__=base,
        __doc__=entry.description or None,
        type=(Literal[entry.name], Field(description=entry.description)),
        params=params_field,
    )


class _NoneInstalled(Component):
    @model_validator(mode="before")
    @classmethod
    def _fail(cls, data: Any) -> Any:
        raise ValueError("no component of this kind is installed (no plugin provides one: is the ganzoo distribution installed, "
                         "e.g. `pip install -e .`? `ganzoo plugins` lists what loaded)")


def _union(entries: Sequence[Entry], base: type[Component], prefix: str) -> Any:
    members = [_member(e, base, prefix) for e in sorted(entries, key=lambda e: e.name)]
    if not members:
        return _NoneInstalled
    if len(members) == 1:
        return members[0]
    # Union over a tuple built at run time: the `X | Y` spelling cannot take a variable number of members.
    return Annotated[Union[tuple(members)], Field(discriminator="type")]  # noqa: UP007


def _task_before(data: Any) -> Any:
    # ``task: unconditional`` is shorthand for ``task: {type: unconditional}``.
    if isinstance(data, dict) and isinstance(data.get("task"), str):
        data = {**data, "task": {"type": data["task"]}}
    return data


_SPEC_CACHE: dict[str, type[RunSpecBase]] = {}


def _list_of(item: Any) -> Any:
    """``list[item]`` for a type built at run time (a union of the installed components)."""
    return list.__class_getitem__(item)


def spec_model(reg: Registries) -> type[RunSpecBase]:
    """Build (or fetch from cache) the ``RunSpec`` model for these registries."""
    key = reg.fingerprint()
    if key in _SPEC_CACHE:
        return _SPEC_CACHE[key]
    models = list(reg["model"])
    losses = [e for e in reg["loss"] if isinstance(e, LossEntry)]
    gens = [m for m in models if isinstance(m, ModelEntry) and m.role == "generator"]
    discs = [m for m in models if isinstance(m, ModelEntry) and m.role == "discriminator"]
    Task = _union(list(reg["task"]), Component, "Task")
    Data = _union(list(reg["dataset"]), Component, "Data")
    Gen = _union(gens, Component, "Generator")
    Disc = _union(discs, Component, "Discriminator")
    Adv = _union([x for x in losses if x.loss_kind == "adversarial"], WeightedComponent, "Adversarial")
    Reg = _union([x for x in losses if x.loss_kind == "regularizer"], WeightedComponent, "Regularizer")
    Rec = _union([x for x in losses if x.loss_kind == "reconstruction"], WeightedComponent, "Reconstruction")
    Metric = _union(list(reg["metric"]), Component, "Metric")

    Losses = create_model(
        "LossesSpec",
        __base__=Params,
        adversarial=(Adv | None, Field(None, description="Adversarial objective.")),
        regularizers=(_list_of(Reg), Field(default_factory=list, description="Penalties with their own phases (GP, R1).")),
        reconstruction=(_list_of(Rec), Field(default_factory=list, description="Pixel or perceptual losses against a target.")),
    )
    Eval = create_model(
        "EvalSpec",
        __base__=Params,
        every=(int, Field(0, ge=0, le=MAX_STEPS, description="Evaluate every N steps (0: only at the end, if metrics are set).")),
        data=(Data | None, Field(None, description="Dataset to evaluate on, e.g. a held-out split; default: the training data.")),
        metrics=(_list_of(Metric), Field(default_factory=list, description="Metrics to compute.")),
        best=(str | None, Field(None, description="Metric name that selects the best checkpoint.")),
        best_mode=(Literal["min", "max"], Field("min", description="Whether lower or higher is better.")),
    )
    model = create_model(
        "RunSpec",
        __base__=RunSpecBase,
        task=(Task, Field(description="Training recipe.")),
        data=(Data, Field(description="Training dataset.")),
        generator=(Gen, Field(description="Generator network.")),
        discriminator=(Disc | None, Field(None, description="Discriminator network (if the task uses one).")),
        losses=(Losses, Field(default_factory=Losses, description="Loss terms.")),
        eval=(Eval, Field(default_factory=Eval, description="Periodic evaluation.")),
    )
    model.model_config["json_schema_extra"] = {"title": "ganzoo run spec"}
    _SPEC_CACHE[key] = model
    return model


def json_schema(reg: Registries) -> dict[str, Any]:
    """The JSON Schema of run specs for every installed component."""
    schema = spec_model(reg).model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


# ---------------------------------------------------------------- validation


def _check_task(spec: RunSpecBase, reg: Registries) -> list[SpecIssue]:
    """Cross-field checks: what the task requires, and model/task compatibility."""
    issues: list[SpecIssue] = []
    task_name = spec.task.type
    task = reg["task"].get(task_name)
    for req in getattr(task, "requires", ()):
        node: Any = spec
        for part in req.split("."):
            node = getattr(node, part, None)
        if node is None or node == []:
            issues.append(SpecIssue(req, f"required by task {task_name!r}"))
    has_d, has_adv = spec.discriminator is not None, spec.losses.adversarial is not None
    if has_d and not has_adv:
        issues.append(SpecIssue("discriminator", "a discriminator trains only with an adversarial loss: set losses.adversarial "
                                                 "(e.g. {type: non-saturating}) or remove the discriminator"))
    if has_adv and not has_d:
        issues.append(SpecIssue("losses.adversarial", "an adversarial loss needs a discriminator: add one (ganzoo list models) "
                                                      "or remove losses.adversarial"))
    for slot, role in (("generator", "generator"), ("discriminator", "discriminator")):
        comp = getattr(spec, slot)
        if comp is None:
            continue
        entry = reg["model"].get(comp.type, role)
        if isinstance(entry, ModelEntry) and entry.tasks and task_name not in entry.tasks:
            issues.append(SpecIssue(f"{slot}.type", f"model {comp.type!r} is written for tasks {list(entry.tasks)}, not {task_name!r}"))
    return issues


def _why_missing(reg: Registries) -> Explain:
    """Explain an unknown type at a spec path from the registries: a name conflict, or a plugin that failed to load."""

    def explain(name: str, path: list[str | int]) -> str:
        head = [p for p in path if isinstance(p, str)]
        slot = head[0] if head else ""
        if slot in ("generator", "discriminator"):
            return reg["model"].why_missing(name, slot)
        kind = {"task": "task", "data": "dataset", "losses": "loss"}.get(slot)
        if slot == "eval" and len(head) > 1:
            kind = {"data": "dataset", "metrics": "metric"}.get(head[1])
        return reg[kind].why_missing(name) if kind else ""

    return explain


def validate_spec(data: Any, reg: Registries, *, source: str | None = None, text: str | None = None, check_inputs: bool = True,
                  origins: dict[str, str] | None = None) -> RunSpecBase:
    """Validate plain data against the registries' ``RunSpec``; raise :class:`SpecError`.

    ``check_inputs=False`` tells params validators not to require input files
    and folders to exist (see :func:`ganzoo.checks_inputs`). ``origins`` maps
    dotted keys that did not come from ``text`` to where they came from (e.g.
    ``--set train.steps=5``): problems under them name it instead of a line.
    """
    where = {tuple(k.split(".")): v for k, v in (origins or {}).items()}
    lines = line_map(text) if text else {}
    if not isinstance(data, dict):
        raise SpecError([SpecIssue("", f"a spec must be a mapping at the top level, got {type(data).__name__}")], source)
    data = _task_before(data)
    model = spec_model(reg)
    try:
        spec = model.model_validate(data, context={"check_inputs": check_inputs})
    except ValidationError as exc:
        raise SpecError(issues_from(exc, model, data, lines, _why_missing(reg), origins=where), source) from None
    # torch takes 64-bit integers; a larger one in a plugin's params would overflow mid-run.
    issues = [SpecIssue(".".join(map(str, path)), f"{value} is out of range (integers must be within ±(2^63 - 1))")
              for path, value in oversized_ints(spec_to_data(spec))]
    issues += _check_task(spec, reg)
    if issues:
        for i, issue in enumerate(issues):
            line, origin = locate(tuple(issue.path.split(".")), lines, where)
            issues[i] = SpecIssue(issue.path, issue.message + origin, line)
        raise SpecError(issues, source)
    return spec


def parse_spec_text(text: str, source: str | None = None) -> Any:
    """Parse YAML spec text; YAML errors become :class:`SpecError` with the line."""
    try:
        return load_yaml(text)
    except SpecYAMLError as exc:  # well-formed, but refused (duplicate key, alias bomb)
        raise SpecError([SpecIssue(exc.path, str(exc.problem), exc.problem_mark.line + 1 if exc.problem_mark else None)], source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecIssue("", f"malformed YAML: {problem}", mark.line + 1 if mark else None)], source) from None
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. an out-of-range date the YAML resolver builds
        raise SpecError([SpecIssue("", f"malformed YAML: {exc}")], source) from None


def read_spec_data(path: str | Path) -> tuple[Any, str]:
    """Read a YAML spec file into plain data; YAML and I/O errors become :class:`SpecError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecIssue("", f"cannot read spec file: {exc}")], str(p)) from None
    return parse_spec_text(text, str(p)), text


def load_spec(path: str | Path, reg: Registries, overrides: list[str] | None = None) -> RunSpecBase:
    """Read, override and validate a spec file."""
    data, text = read_spec_data(path)
    if overrides:
        if not isinstance(data, dict):
            raise SpecError([SpecIssue("", "a spec must be a mapping at the top level")], str(path))
        data = apply_overrides(data, overrides)
    origins = {key.strip(): f"--set {item}" for item in overrides or [] for key in [item.partition("=")[0]]}
    return validate_spec(data, reg, source=str(path), text=text, origins=origins)


def spec_to_data(spec: BaseModel) -> dict[str, Any]:
    """The fully resolved spec as plain JSON-compatible data."""
    return spec.model_dump(mode="json", by_alias=True)


def spec_hash(spec: BaseModel) -> str:
    """SHA-256 of the canonical JSON of the resolved spec."""
    blob = json.dumps(spec_to_data(spec), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists are leaves."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: data}


def spec_diff(old: BaseModel, new: BaseModel) -> dict[str, tuple[Any, Any]]:
    """Leaf paths whose values differ between two specs."""
    a, b = flatten(spec_to_data(old)), flatten(spec_to_data(new))
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
