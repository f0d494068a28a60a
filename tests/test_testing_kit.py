"""ganzoo.testing, the plugin authors' helpers: used on the example plugin as an author would, and shown to
catch real defects (lax params, undocumented fields, crashing networks, misspelt hooks) with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from ganzoo import (
    DatasetEntry,
    LossEntry,
    ModelEntry,
    NoParams,
    Params,
    SpecError,
    TensorImageDataset,
    hookimpl,
)
from ganzoo.testing import (
    PluginCheckError,
    check_entry,
    check_params_model,
    check_plugin_loads,
    components_of,
    each_component,
    entry_id,
    registries_with,
    smoke_component,
    smoke_loss,
    smoke_model,
    train_tiny,
)
from tests import example_plugin

pytest_plugins = ["pytester", "ganzoo.testing"]

EXAMPLE_IDS = ["discriminator:toy-disc", "generator:toy-gen", "loss:toy-softplus", "dataset:toy-blobs"]


@pytest.fixture(scope="session")
def ganzoo_plugins() -> list[Any]:
    """What an author's conftest does when the package is not installed."""
    return [example_plugin]


# ---------------------------------------------------------------- the example plugin, as its author tests it


def test_example_plugin_loads(ganzoo_registries) -> None:
    assert check_plugin_loads(ganzoo_registries, example_plugin) == "tests.example_plugin"
    assert [entry_id(e) for e in components_of(ganzoo_registries, example_plugin)] == EXAMPLE_IDS
    assert [entry_id(e) for e in components_of(ganzoo_registries, "tests.example_plugin", kinds=["loss"])] == ["loss:toy-softplus"]
    assert ganzoo_registries["model"].get("dcgan", "generator")  # the built-ins are there to pair with


@each_component(example_plugin)
def test_example_component(ganzoo_component, ganzoo_registries, tmp_path: Path) -> None:
    check_entry(ganzoo_component)
    run_dir = smoke_component(ganzoo_registries, ganzoo_component, tmp_path)
    assert (run_dir is None) == (ganzoo_component.kind == "dataset")  # networks and the loss trained 2 steps


def test_spec_with_the_plugin_trains_two_steps(ganzoo_train_tiny, ganzoo_tiny_spec) -> None:
    spec = {
        "data": {"type": "toy-blobs", "params": {"channels": 3}},
        "generator": {"type": "toy-gen", "params": {"width": 8}},
        "discriminator": {"type": "toy-disc"},
        "losses": {"adversarial": {"type": "toy-softplus"}},
        "train": {"batch_size": 4},
    }
    run_dir = ganzoo_train_tiny(spec, overrides=["losses.adversarial.params.margin=0.5"])
    saved = (run_dir / "spec.yaml").read_text()
    assert "toy-gen" in saved and "margin: 0.5" in saved and "batch_size: 4" in saved
    assert '"channels": 3' in (run_dir / "run.json").read_text()
    assert ganzoo_tiny_spec["generator"]["type"] == "dcgan"  # the fixture hands out a copy


def test_train_tiny_reports_an_invalid_spec(ganzoo_registries, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"generator.params.widht \(type=toy-gen\): unknown key. Did you mean 'width'"):
        train_tiny({"generator": {"type": "toy-gen", "params": {"widht": 8}}}, tmp_path, reg=ganzoo_registries)


def test_registries_are_fresh_and_builtins_optional() -> None:
    a, b = registries_with(example_plugin), registries_with(example_plugin)
    assert a.pm is not b.pm and a["model"].entries is not b["model"].entries
    alone = registries_with(("example", example_plugin), installed=False)
    assert [e.plugin for e in alone.all_entries()] == ["example"] * 4 and not alone.report.failed
    assert alone["model"].names() == ["toy-disc", "toy-gen"]


def test_an_installed_plugin_passed_again_is_kept_once() -> None:
    # An author's tests pass their module whether or not `pip install -e .` registered it already.
    dcgan = registries_with().pm.get_plugin("ganzoo_dcgan")
    reg = registries_with(dcgan)
    assert not reg.report.failed and check_plugin_loads(reg, dcgan) == "ganzoo_dcgan"
    assert [entry_id(e) for e in components_of(reg, dcgan)] == ["discriminator:dcgan", "generator:dcgan"]


def test_import_stays_light_and_pytest_is_required() -> None:
    code = textwrap.dedent("""
        import sys
        import ganzoo
        assert not {"ganzoo.testing", "pytest", "torch"} & set(sys.modules), "import ganzoo pulled in test machinery"
        sys.modules["pytest"] = None  # as if pytest were not installed
        try:
            import ganzoo.testing
        except ImportError as exc:
            assert "pip install pytest" in str(exc), exc
        else:
            raise AssertionError("no ImportError without pytest")
        del sys.modules["pytest"]
        import ganzoo.testing
        assert "torch" not in sys.modules, "ganzoo.testing imports torch eagerly"
        assert not [m for m in sys.modules if m.startswith("ganzoo_")], "core imported a plugin"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


# ---------------------------------------------------------------- defects the helpers must catch


class LaxParams(BaseModel):  # a plain pydantic model: extra keys are ignored
    n: int = 1


class AllowsExtra(Params):
    model_config = ConfigDict(extra="allow", frozen=True)
    n: int = Field(1, description="A count.")


class HalfDocumented(Params):
    width: int = Field(8, gt=0, description="Channels.")
    depth: int = Field(2, gt=0)


class BadDefault(Params):
    width: int = Field(0, gt=0, description="Channels; the default breaks its own constraint.")


@pytest.mark.parametrize(
    ("model", "messages"),
    [
        pytest.param(LaxParams, ["accepts unknown keys", "field 'n' has no description"], id="plain-pydantic"),
        pytest.param(AllowsExtra, ["accepts unknown keys"], id="extra-allow"),
        pytest.param(HalfDocumented, ["field 'depth' has no description"], id="undocumented-field"),
        pytest.param(BadDefault, ["defaults do not validate", "greater than 0"], id="invalid-default"),
    ],
)
def test_params_defects_are_caught(model: type[BaseModel], messages: list[str]) -> None:
    with pytest.raises(PluginCheckError) as ei:
        check_params_model(model)
    assert all(m in str(ei.value) for m in messages), str(ei.value)
    assert "width" not in str(ei.value) or model is BadDefault  # documented fields are not blamed


def test_entry_conventions_are_checked() -> None:
    entry = ModelEntry(name="Toy_Gen", role="generator", build=lambda p, i: None, params=HalfDocumented, description="")
    with pytest.raises(PluginCheckError, match=r"(?s)generator:Toy_Gen.*lowercase-with-dashes.*one-line description"):
        check_entry(entry)
    check_params_model(NoParams)  # the base classes themselves pass


class Plugin:
    """A third-party plugin as an object, registering the given records."""

    def __init__(self, *entries: Any) -> None:
        self.entries = entries

    @hookimpl
    def ganzoo_models(self) -> list[ModelEntry]:
        return [e for e in self.entries if isinstance(e, ModelEntry)]

    @hookimpl
    def ganzoo_losses(self) -> list[LossEntry]:
        return [e for e in self.entries if isinstance(e, LossEntry)]

    @hookimpl
    def ganzoo_datasets(self) -> list[DatasetEntry]:
        return [e for e in self.entries if isinstance(e, DatasetEntry)]


class Crashy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom: mat1 and mat2 shapes cannot be multiplied")


class Untanhed(nn.Module):
    latent_dim = 4

    def __init__(self, c: int, s: int) -> None:
        super().__init__()
        self.c, self.s, self.lin = c, s, nn.Linear(4, c * s * s)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return 10 * self.lin(z).view(-1, self.c, self.s, self.s)


class Detached(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, 1, 3)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(1, 2, 3))


class VectorLoss:
    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.softplus(-real) + torch.nn.functional.softplus(fake)  # forgot .mean()

    def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
        return torch.nn.functional.softplus(-fake).mean()


class AlwaysFlips(TensorImageDataset):
    """Augments in __getitem__ but keeps the default for_evaluation(): metrics would score random flips."""

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        img = self.images[index]
        return {"image": img.flip(-1) if bool(torch.rand(()) < 0.5) else img}


def _model(name: str, role: str, build: Any) -> ModelEntry:
    return ModelEntry(name=name, role=role, build=build, description=f"defective {role}")  # type: ignore[arg-type]


def _case(entry: ModelEntry | LossEntry, message: str) -> Any:
    return pytest.param(entry, message, id=entry_id(entry))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        _case(_model("crashy", "discriminator", lambda p, i: Crashy()), "discriminator:crashy: forward failed: RuntimeError: boom"),
        _case(_model("no-latent", "generator", lambda p, i: nn.Linear(4, 4)), "positive int attribute latent_dim (got None)"),
        _case(_model("untanhed", "generator", lambda p, i: Untanhed(i.channels, i.size)), "images must lie in [-1, 1]"),
        _case(_model("half-size", "generator", lambda p, i: Untanhed(i.channels, i.size // 2)), "expected images (2, 1, 32, 32)"),
        _case(_model("detached", "discriminator", lambda p, i: Detached(i.channels)), "does not depend on the weights"),
        _case(_model("not-a-module", "discriminator", lambda p, i: object()), "not a torch.nn.Module"),
        _case(LossEntry(name="vector", loss_kind="adversarial", build=lambda p: VectorLoss(), description="d"), "d_loss must return a scalar"),
        _case(LossEntry(name="no-phase", loss_kind="regularizer", build=lambda p: VectorLoss(), description="r"), 'phase "D" or "G"'),
        _case(DatasetEntry(name="always-flips", build=lambda p: AlwaysFlips(torch.linspace(-1, 1, 4 * 64).view(4, 1, 8, 8)),
                           description="d"), "for_evaluation() must return a view without random augmentation"),
    ],
)
def test_component_defects_are_caught(entry: Any, message: str, tmp_path: Path) -> None:
    plugin = Plugin(entry)
    reg = registries_with(plugin)
    check_plugin_loads(reg, plugin)  # it loads fine: the defect shows only when the component runs
    (component,) = components_of(reg, plugin)
    with pytest.raises(PluginCheckError) as ei:
        smoke_component(reg, component, tmp_path)
    assert message in str(ei.value), str(ei.value)
    assert not list(tmp_path.iterdir())  # caught before any training


def test_crash_keeps_the_original_traceback() -> None:
    plugin = Plugin(_model("crashy", "discriminator", lambda p, i: Crashy()))
    with pytest.raises(PluginCheckError) as ei:
        smoke_model(registries_with(plugin), "crashy", "discriminator")
    assert isinstance(ei.value.__cause__, RuntimeError)


def test_training_failure_names_the_component(tmp_path: Path) -> None:
    class Sticky(VectorLoss):  # passes the unit checks, fails inside the training loop
        def g_loss(self, fake: torch.Tensor, real: torch.Tensor | None = None) -> torch.Tensor:
            if fake.shape[0] == 4:
                return fake.sum() * 0
            raise ValueError("g_loss saw a real batch")

        def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
            return (real - fake).mean()

    plugin = Plugin(LossEntry(name="sticky", loss_kind="adversarial", build=lambda p: Sticky(), description="s"))
    reg = registries_with(plugin)
    smoke_loss(reg, "sticky")
    with pytest.raises(PluginCheckError, match="loss:sticky: 2 training steps in the tiny spec failed: ValueError: g_loss saw"):
        smoke_component(reg, components_of(reg, plugin)[0], tmp_path)


class NeedsN(Params):
    n: int = Field(..., gt=0, description="Images; no default, like a dataset's root directory.")


def test_component_with_required_params_is_skipped_unless_given_them() -> None:
    entry = DatasetEntry(name="zeros", build=lambda p: TensorImageDataset(torch.zeros(p.n, 1, 8, 8)), params=NeedsN, description="z")
    plugin = Plugin(entry)
    reg = registries_with(plugin)
    with pytest.raises(pytest.skip.Exception, match="dataset:zeros: its params have required fields"):
        smoke_component(reg, entry)
    smoke_component(reg, entry, params={"n": 2})
    with pytest.raises(PluginCheckError, match=r"(?s)dataset:zeros: build failed: ValidationError.*greater than 0"):
        smoke_component(reg, entry, params={"n": 0})


class MisspeltHook:
    @hookimpl
    def ganzoo_model(self) -> list[ModelEntry]:  # ganzoo_models
        return []


class UnmarkedHook:
    def ganzoo_models(self) -> list[ModelEntry]:  # no @hookimpl: pluggy would ignore it silently
        return [_model("never-seen", "generator", lambda p, i: None)]


def test_misspelt_hookimpl_is_caught() -> None:
    plugin = MisspeltHook()
    reg = registries_with(plugin)
    with pytest.raises(PluginCheckError) as ei:
        check_plugin_loads(reg, plugin)
    msg = str(ei.value)
    assert "plugin 'MisspeltHook'" in msg and "unknown hook 'ganzoo_model'" in msg and "did you mean 'ganzoo_models'?" in msg
    with pytest.raises(PluginCheckError, match="registers no components"):
        each_component(plugin)  # a collection error, not an empty (silently skipped) parametrisation


def test_unmarked_hook_is_caught() -> None:
    plugin = UnmarkedHook()
    with pytest.raises(PluginCheckError, match=r"ganzoo_models is not decorated with @ganzoo.hookimpl"):
        check_plugin_loads(registries_with(plugin), plugin)


def test_unregistered_plugin_is_reported() -> None:
    with pytest.raises(PluginCheckError, match="is not registered: install its package"):
        check_plugin_loads(registries_with(), example_plugin)


# ---------------------------------------------------------------- end to end: an author's test suite, run by pytest


CONFTEST = """
    import pytest
    from tests import example_plugin

    pytest_plugins = ["ganzoo.testing"]

    @pytest.fixture(scope="session")
    def ganzoo_plugins():
        return [example_plugin]
"""

AUTHOR_TESTS = """
    from ganzoo import ModelEntry, hookimpl
    from ganzoo.testing import check_entry, check_plugin_loads, each_component, registries_with, smoke_component
    from tests import example_plugin

    def test_plugin_loads(ganzoo_registries):
        check_plugin_loads(ganzoo_registries, example_plugin)

    @each_component(example_plugin)
    def test_component(ganzoo_component, ganzoo_registries, tmp_path):
        check_entry(ganzoo_component)
        smoke_component(ganzoo_registries, ganzoo_component, tmp_path)

    def test_spec_trains(ganzoo_train_tiny):
        assert (ganzoo_train_tiny({"generator": {"type": "toy-gen"}}) / "generator.safetensors").is_file()

    class Typo:
        @hookimpl
        def ganzoo_model(self):
            return []

    def test_broken_plugin_fails():
        plugin = Typo()
        check_plugin_loads(registries_with(plugin), plugin)
"""


def test_author_suite_runs_under_pytest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(textwrap.dedent(CONFTEST))
    pytester.makepyfile(test_my_plugin=textwrap.dedent(AUTHOR_TESTS))
    result = pytester.runpytest_inprocess("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=6, failed=1)
    result.stdout.fnmatch_lines([f"*test_component?{i}? PASSED*" for i in EXAMPLE_IDS] + [
        "*test_broken_plugin_fails FAILED*",
        "*PluginCheckError: plugin 'Typo':*",
        "*unknown hook 'ganzoo_model'*did you mean 'ganzoo_models'?*",
    ])
