"""Sweep files: a base spec, its variants as dotted overrides, and seeds.

```yaml
name: digits-objectives
base: ../registry/dcgan-digits.yaml      # relative to this file
seeds: [0, 1, 2]
set: {train.steps: 300}                  # applied to every variant
variants:
  vanilla: {}
  hinge-sn: {set: {losses.adversarial.type: hinge, discriminator.params.spectral_norm: true}}
  lsgan: {spec: ../registry/lsgan.yaml}  # another spec file instead of the base
launcher: {type: slurm, params: {partition: gpu, gpus_per_node: 1, time_min: 240}}   # optional; default: local
```

Every (variant, seed) expands to one fully validated run spec before anything
trains, so a typo in the fifth variant fails in a second, not after four runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError, field_validator

from ganzoo.plugin.entries import Params
from ganzoo.plugin.registry import Registries
from ganzoo.rundir import SweepDir
from ganzoo.spec.model import RunSpecBase, SpecError, SpecIssue, read_spec_data, set_values, validate_spec

if TYPE_CHECKING:
    from ganzoo.compare.launcher import Launcher

__all__ = ["VariantSpec", "LauncherSpec", "SweepSpec", "SweepRun", "load_sweep", "expand_sweep", "build_launcher"]

_NAME = r"^[A-Za-z0-9._-]+$"


class VariantSpec(Params):
    """One variant: overrides of the base spec, or another spec file."""

    spec: str | None = Field(None, description="A spec file (relative to the sweep file) or registry name to use instead of the base.")
    set: dict[str, Any] = Field(default_factory=dict, description="Dotted overrides, e.g. {losses.adversarial.type: hinge}.")
    description: str = Field("", description="One line for the report.")


class LauncherSpec(Params):
    """How the sweep's runs are executed: a registered launcher (``ganzoo list launchers``) and its params."""

    type: str = Field("local", min_length=1, description="Launcher name: local (processes on this machine), slurm (submitit), ...")
    params: dict[str, Any] = Field(default_factory=dict, description="The launcher's params (see `ganzoo show NAME`).")


class SweepSpec(Params):
    """A comparison: variants of a base spec, each trained with every seed."""

    name: str = Field(pattern=_NAME, description="Sweep name; the default output directory is runs/compare-NAME.")
    base: str = Field(min_length=1, description="The base spec file (relative to the sweep file), or a registry spec's name.")
    seeds: list[int] = Field([0], min_length=1, description="Seeds; each variant trains once per seed (mean ± std over them).")
    set: dict[str, Any] = Field(default_factory=dict, description="Dotted overrides applied to every variant first.")
    variants: dict[str, VariantSpec] = Field(min_length=1, description="Variant name -> its overrides.")
    baseline: str | None = Field(None, description="Variant the report compares the others with (default: the first).")
    launcher: LauncherSpec | None = Field(None, description="How the runs are executed (default: local processes).")

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v) or any(s < 0 for s in v):
            raise ValueError("seeds must be distinct and non-negative")
        return v

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, v: dict[str, VariantSpec]) -> dict[str, VariantSpec]:
        import re

        bad = [k for k in v if not re.match(_NAME, k)]
        if bad:
            raise ValueError(f"variant names may use letters, digits, '.', '_' and '-' only: {bad}")
        return v

    def baseline_name(self) -> str:
        return self.baseline or next(iter(self.variants))


@dataclass(frozen=True)
class SweepRun:
    """One (variant, seed) of a sweep, with its validated spec."""

    variant: str
    seed: int
    spec: RunSpecBase

    @property
    def key(self) -> str:
        """Run directory name inside the sweep's ``runs/`` (:meth:`ganzoo.rundir.SweepDir.run_name`)."""
        return SweepDir.run_name(self.variant, self.seed)


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file; errors are :class:`SpecError` with paths."""
    data, _ = read_spec_data(path)
    try:
        sweep = SweepSpec.model_validate(data)
    except ValidationError as exc:
        issues = [SpecIssue(".".join(str(x) for x in e["loc"]), e["msg"]) for e in exc.errors()]
        raise SpecError(issues, str(path)) from None
    if sweep.baseline is not None and sweep.baseline not in sweep.variants:
        raise SpecError([SpecIssue("baseline", f"{sweep.baseline!r} is not a variant ({', '.join(sweep.variants)})")], str(path))
    return sweep


def _spec_data(ref: str, root: Path, where: str) -> dict[str, Any]:
    from ganzoo.zoo import resolve_spec

    path = (root / ref).resolve() if not Path(ref).is_absolute() else Path(ref)
    if not path.is_file() and resolve_spec(ref) != Path(ref):  # a registry spec's name: `base: dcgan-digits`
        path = resolve_spec(ref)
    if not path.is_file():
        raise SpecError([SpecIssue(where, f"spec file {path} does not exist")], "sweep")
    data, _ = read_spec_data(path)
    if not isinstance(data, dict):
        raise SpecError([SpecIssue(where, f"{path} is not a mapping at the top level")], "sweep")
    return data


def expand_sweep(sweep: SweepSpec, reg: Registries, root: str | Path) -> list[SweepRun]:
    """Every (variant, seed) as a validated spec, in sweep order.

    Args:
        sweep: The validated sweep.
        reg: Registries to validate the run specs against.
        root: Directory that relative spec paths are resolved against (the sweep file's).

    Raises:
        SpecError: Any run spec is invalid; the issues of all variants are gathered,
            each path prefixed with ``variants.NAME``.
    """
    root = Path(root)
    base = _spec_data(sweep.base, root, "base")
    runs: list[SweepRun] = []
    issues: list[SpecIssue] = []
    for name, variant in sweep.variants.items():
        where = f"variants.{name}"
        try:
            data = _spec_data(variant.spec, root, f"{where}.spec") if variant.spec else base
            data = set_values(data, sweep.set, origin="set")
            data = set_values(data, variant.set, origin=f"{where}.set")
            for seed in sweep.seeds:
                per_seed = set_values(data, {"seed": seed, "name": f"{sweep.name}-{SweepDir.run_name(name, seed)}"}, origin=where)
                runs.append(SweepRun(name, seed, validate_spec(per_seed, reg, source=where)))
        except SpecError as exc:
            issues.extend(SpecIssue(f"{where}: {i.path}" if i.path else where, i.message) for i in exc.issues)
    if issues:
        raise SpecError(issues, "sweep")
    return runs


def build_launcher(
    reg: Registries,
    section: LauncherSpec | None,
    *,
    name: str | None = None,
    sets: dict[str, Any] | None = None,
    source: str = "sweep",
) -> Launcher:
    """The launcher a sweep's ``launcher:`` section, ``compare --launcher`` and ``--launcher-set`` name, params validated.

    Args:
        reg: Registries to look the launcher up in.
        section: The sweep file's ``launcher:`` section, if any.
        name: ``--launcher``; a name other than the section's drops the section's params.
        sets: ``--launcher-set`` values, dotted keys into the params.
        source: What the errors name (the sweep file).

    Raises:
        SpecError: An unknown launcher (``launcher.type``) or invalid params
            (``launcher.params.KEY``), all issues at once (exit status 2).
    """
    from ganzoo.plugin.registry import RegistryError

    section = section or LauncherSpec()
    kind = name or section.type
    params = dict(section.params) if kind == section.type else {}
    params = set_values(params, sets or {}, origin="--launcher-set")
    try:
        entry = reg["launcher"].get(kind)
    except RegistryError as exc:
        raise SpecError([SpecIssue("launcher.type", str(exc))], source) from None
    try:
        validated = entry.params.model_validate(params)
    except ValidationError as exc:
        issues = [SpecIssue(".".join(["launcher.params", *(str(x) for x in e["loc"])]), e["msg"]) for e in exc.errors()]
        raise SpecError(issues, source) from None
    launcher: Launcher = entry.build(validated)
    launcher.name = entry.name
    return launcher
