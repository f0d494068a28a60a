"""A third-party adversarial task written only against the documented protocols (tests/denoise_plugin)."""

from __future__ import annotations

import ast
import copy
import inspect
import math
import re
from pathlib import Path
from typing import Any

import pytest

import tests.denoise_plugin as denoise_plugin
from ganzoo import RunContext, SpecError, StepContext
from ganzoo.engine.run import Run
from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import Registries, collect
from ganzoo.spec.model import validate_spec
from tests.helpers import assert_same_nets, split_and_resume, train_records

REPO = Path(__file__).resolve().parents[1]

SPEC: dict[str, Any] = {
    "name": "denoise",
    "task": {"type": "denoise", "params": {"sigma": 0.5}},
    "seed": 3,
    "data": {"type": "digits", "params": {"size": 16, "limit": 64}},
    "generator": {"type": "tiny-denoiser", "params": {"width": 4}},
    "discriminator": {"type": "dcgan", "params": {"width": 8}},
    "losses": {
        "adversarial": {"type": "hinge", "weight": 0.1},
        # r1 every D update (in the D loss); the gradient penalty lazily, every 2nd D update (D_reg).
        "regularizers": [{"type": "r1", "weight": 1.0}, {"type": "gradient-penalty", "weight": 10.0, "params": {"interval": 2}}],
        "reconstruction": [{"type": "l1"}],
    },
    "train": {"steps": 2, "batch_size": 8, "device": "cpu", "d_steps": 3, "log_every": 1, "sample_every": 0,
              "checkpoint_every": 1, "sample_grid": 4, "progress": False, "tensorboard": False},
}


@pytest.fixture(scope="module")
def reg() -> Registries:
    return collect(get_plugin_manager(extra=[("denoise_plugin", denoise_plugin)]))


@pytest.fixture
def spec() -> dict[str, Any]:
    return copy.deepcopy(SPEC)


def test_plugin_imports_only_the_package_root() -> None:
    tree = ast.parse(inspect.getsource(denoise_plugin))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in modules if m.split(".")[0] == "ganzoo"} == {"ganzoo"}


def test_trains_with_every_phase_and_its_penalties(reg: Registries, spec: dict[str, Any], tmp_path: Path) -> None:
    run = Run(validate_spec(spec, reg), reg, tmp_path)
    run.fit()
    assert run.step == 2 and run.d_updates == 6  # d_steps D updates per step; D_reg updates are extra
    records = train_records(tmp_path)
    assert [r["step"] for r in records] == [1, 2]
    for r in records:
        # The every-step penalty is part of the D loss; the lazy one has its own phase, scaled by its interval.
        assert math.isfinite(r["D/r1"]) and r["D/r1"] > 0
        assert math.isfinite(r["D_reg/gradient-penalty"]) and math.isfinite(r["D_reg/loss"])
        assert not any(k.startswith("D/gradient") or k.startswith("D_reg/r1") for k in r)
        assert math.isfinite(r["G/l1"]) and math.isfinite(r["G/adversarial"])
        # A lazy update minimises weight * interval * penalty (10 * 2): the interval scaling is applied.
        assert r["D_reg/loss"] == pytest.approx(20.0 * r["D_reg/gradient-penalty"], rel=1e-5)


def test_resume_is_bit_identical(reg: Registries, spec: dict[str, Any], tmp_path: Path) -> None:
    full, part = split_and_resume(reg, spec, tmp_path, steps=4, split=2)
    assert_same_nets(full, part)


def test_slot_and_loss_consistency_is_a_spec_error(reg: Registries, spec: dict[str, Any]) -> None:
    no_d = copy.deepcopy(spec)
    del no_d["discriminator"]
    with pytest.raises(SpecError) as ei:
        validate_spec(no_d, reg)
    assert "discriminator: required by task 'denoise'" in str(ei.value)
    assert "losses.adversarial: an adversarial loss needs a discriminator" in str(ei.value)
    no_adv = copy.deepcopy(spec)
    del no_adv["losses"]["adversarial"]
    with pytest.raises(SpecError, match="discriminator: a discriminator trains only with an adversarial loss"):
        validate_spec(no_adv, reg)


def test_the_engine_provides_every_protocol_attribute(reg: Registries, spec: dict[str, Any], tmp_path: Path) -> None:
    run = Run(validate_spec(spec, reg), reg, tmp_path)
    assert isinstance(run, StepContext) and isinstance(run, RunContext)
    for proto in (StepContext, RunContext):
        for name in _members(proto):
            assert hasattr(run, name), f"{proto.__name__}.{name}"


def _members(proto: type) -> list[str]:
    names = set(getattr(proto, "__annotations__", {}))
    names |= {n for n, v in vars(proto).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))}
    return sorted(names)


def test_docs_describe_every_protocol_member() -> None:
    text = (REPO / "docs" / "plugins.md").read_text()
    for proto in (StepContext, RunContext):
        start = text.index(f"### `{proto.__name__}`")
        section = text[start : text.index("\n#", start + 1)]
        documented = set(re.findall(r"^\| `([a-z_]+)", section, re.M))
        assert set(_members(proto)) == documented, proto.__name__
