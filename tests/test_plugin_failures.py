"""Plugin failures name themselves: at load, in a spec, during a run, and in the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from ganzoo.cli.app import register_plugin_commands
from ganzoo.errors import PluginCodeError
from ganzoo.plugin.manager import get_plugin_manager
from ganzoo.plugin.registry import UnknownComponentError, collect
from tests.conftest import REPO
from tests.test_plugins import GOOD_PLUGIN, install_dist

BROKEN = "import nonexistent_module_for_ganzoo_tests\n"
TYPO = "from ganzoo import hookimpl\n@hookimpl\ndef ganzoo_model():\n    return []\n"
CRASHY = '''
from pydantic import Field
from torch import nn
from ganzoo import ModelEntry, Params, hookimpl


class P(Params):
    width: int = Field(8, gt=0, description="unused")


class CrashD(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(128, 1)

    def forward(self, x):
        return self.fc(x.flatten(1)).squeeze(1)  # CRASH LINE: 16 x 16 inputs give 256 features, not 128


def build(params, info):
    return CrashD()


@hookimpl
def ganzoo_models():
    return [ModelEntry(name="crash-d", role="discriminator", build=build, params=P, description="crashes")]
'''


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps table cells at 80 columns otherwise
    return root


def _spec_file(tmp_path: Path, spec: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_unknown_type_names_the_plugin_that_failed_to_load(site, tmp_path, tiny_spec, cli_run):
    install_dist(site, "my-gan", {"my_gan_broken": BROKEN}, {"my_gan": "my_gan_broken"})
    tiny_spec["generator"] = {"type": "broken-gan"}
    res = cli_run("validate", _spec_file(tmp_path, tiny_spec))
    assert res.exit_code == 2
    line = next(x for x in res.output.splitlines() if "generator.type" in x)
    why = ("unknown type 'broken-gan': plugin 'my_gan' failed to load "
           "(ModuleNotFoundError: No module named 'nonexistent_module_for_ganzoo_tests'); see 'ganzoo plugins'")
    assert why in line
    # the same explanation for a lookup by name (the API, `ganzoo show`)
    with pytest.raises(UnknownComponentError, match="plugin 'my_gan' failed to load"):
        collect(get_plugin_manager())["model"].get("broken-gan", "generator")


def test_misspelt_hook_gets_did_you_mean_once(site, cli_run):
    install_dist(site, "typo-dist", {"typo_hook_plugin": TYPO}, {"typo_hook": "typo_hook_plugin"})
    out = cli_run("plugins").output
    assert "unknown hook 'ganzoo_model' (did you mean 'ganzoo_models'?)" in out
    assert out.count("ganzoo_model'") == 1  # one row, the hook named once

    # The testing kit: the module installed and passed again is one failure, with one suggestion.
    import typo_hook_plugin

    from ganzoo.testing import PluginCheckError, check_plugin_loads, registries_with

    reg = registries_with(typo_hook_plugin)
    assert len(reg.report.failures_of("typo_hook")) == 1
    with pytest.raises(PluginCheckError) as ei:
        check_plugin_loads(reg, typo_hook_plugin)
    assert str(ei.value).count("did you mean 'ganzoo_models'?") == 1


def test_trace_prints_each_failure_once(site, monkeypatch, capsys):
    monkeypatch.setenv("GANZOO_TRACE_PLUGINS", "1")
    install_dist(site, "trace-once", {"trace_once_plugin": BROKEN}, {"trace_once": "trace_once_plugin"})
    get_plugin_manager()  # the CLI builds one manager to add commands,
    reg = collect(get_plugin_manager())  # and another for the command itself
    err = capsys.readouterr().err
    assert err.count("plugin 'trace_once' failed at import") == 1
    assert "Traceback (most recent call last)" in err and "nonexistent_module_for_ganzoo_tests" in err
    assert [f.name for f in reg.report.failed].count("trace_once") == 1


def test_name_conflict_disables_the_name_not_the_commands(site, tmp_path, tiny_spec, cli_run):
    install_dist(site, "ganzoo-dupfaces", {"dupfaces_plugin": GOOD_PLUGIN.replace("{name}", "faces")}, {"dupfaces": "dupfaces_plugin"})
    res = cli_run("validate", _spec_file(tmp_path, tiny_spec))  # digits: unrelated to the conflict
    assert res.exit_code == 0, res.output
    warning = "warning: dataset 'faces' is registered by plugins 'dupfaces' and 'ganzoo_data', so none of them is used"
    assert warning in res.stderr and "ok (task unconditional" in res.stdout
    res = cli_run("plugins")
    assert res.exit_code == 0 and warning in res.stderr
    assert "conflict: dataset 'faces' is registered by plugins 'dupfaces' and 'ganzoo_data'" in res.stdout
    tiny_spec["data"] = {"type": "faces"}
    res = cli_run("validate", _spec_file(tmp_path, tiny_spec, "faces.yaml"))
    assert res.exit_code == 2
    assert ("data.type: unknown type 'faces': dataset 'faces' is registered by plugins 'dupfaces' and 'ganzoo_data', "
            "so none of them is used; uninstall one, or disable it with GANZOO_DISABLE_PLUGINS=dupfaces") in res.output


def test_crashing_forward_names_step_phase_component_and_plugin(site, tmp_path, tiny_spec, cli_run):
    install_dist(site, "crashy", {"crashy_plugin": CRASHY}, {"crashy": "crashy_plugin"})
    tiny_spec["discriminator"] = {"type": "crash-d"}
    tiny_spec["train"].update(steps=1, sample_every=0, checkpoint_every=0, tensorboard=False)
    spec = _spec_file(tmp_path, tiny_spec)
    res = cli_run("train", spec, "--out", tmp_path / "run")
    assert res.exit_code == 1
    errors = [x for x in res.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr
    line = CRASHY.splitlines().index(next(x for x in CRASHY.splitlines() if "CRASH LINE" in x)) + 1
    log = tmp_path / "run" / "log.txt"
    assert errors[0] == (
        "error: step 1, phase D: the discriminator (crash-d, plugin crashy) raised RuntimeError: "
        f"mat1 and mat2 shapes cannot be multiplied (8x256 and 128x1) (at crashy_plugin.py:{line}; traceback in {log})")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "CRASH LINE" in text and "error: step 1, phase D" in text
    # --debug shows the original traceback, with the one-line report after it
    res = cli_run("--debug", "train", spec, "--out", tmp_path / "run2")
    assert res.exit_code == 1
    assert "CRASH LINE" in res.stderr and "The above exception was the direct cause" in res.stderr
    assert res.stderr.rstrip().splitlines()[-1].startswith("error: step 1, phase D: the discriminator")


def test_crashing_metric_names_the_eval_phase(registries, tiny_spec, tmp_path):
    from ganzoo import MetricEntry, hookimpl
    from ganzoo.api import train
    from ganzoo.spec.model import validate_spec

    class Boom:
        name, higher_is_better = "boom", False

        def protocol(self) -> dict[str, Any]:
            return {}

        def compute(self, ctx: Any) -> dict[str, float]:
            raise ZeroDivisionError("no images")

    class Plugin:
        @hookimpl
        def ganzoo_metrics(self) -> list[MetricEntry]:
            return [MetricEntry(name="boom", build=lambda params: Boom(), description="raises")]

    reg = collect(get_plugin_manager(extra=[("boomer", Plugin())]))
    tiny_spec["train"].update(steps=1, sample_every=0, checkpoint_every=0, tensorboard=False)
    tiny_spec["eval"] = {"metrics": [{"type": "boom"}]}
    with pytest.raises(PluginCodeError) as ei:
        train(validate_spec(tiny_spec, reg), tmp_path / "run", registries=reg)
    err = ei.value
    assert (err.step, err.phase, err.plugin, err.component) == (1, "eval", "boomer", "the metric (boom, plugin boomer)")
    assert str(err).startswith("step 1, phase eval: the metric (boom, plugin boomer) raised ZeroDivisionError: no images")
    assert isinstance(err.__cause__, ZeroDivisionError) and err.exit_code == 1


def test_raising_command_hook_loses_only_its_own_commands():
    from ganzoo import hookimpl

    class Broken:
        @hookimpl
        def ganzoo_register_commands(self, cli: click.Group) -> None:
            @cli.command(name="half-added")
            def half() -> None:
                """Added before the plugin raised: taken back."""

            raise RuntimeError("command hook bug")

    group = click.Group("g")
    problems = register_plugin_commands(group, get_plugin_manager(extra=[("cmdboom", Broken())]))
    assert problems == ["plugin 'cmdboom' failed to add its commands (RuntimeError: command hook bug); they are unavailable"]
    assert {"upscale", "sr-eval", "inpaint"} <= set(group.commands) and "half-added" not in group.commands


def test_sys_exit_at_import_and_raising_command_hook_leave_the_cli_working(tmp_path):
    site = tmp_path / "site"
    exiter = "import sys\nsys.exit(3)\n"
    cmdboom = ("from ganzoo import hookimpl\n@hookimpl\ndef ganzoo_register_commands(cli):\n"
               "    raise RuntimeError('command hook bug')\n")
    install_dist(site, "exiter-dist", {"exiter_plugin": exiter}, {"exiter": "exiter_plugin"})
    install_dist(site, "cmdboom-dist", {"cmdboom_plugin": cmdboom}, {"cmdboom": "cmdboom_plugin"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]), "COLUMNS": "400"}

    def ganzoo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ganzoo", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)

    res = ganzoo("--help")
    assert res.returncode == 0, res.stderr
    assert "train" in res.stdout and "upscale" in res.stdout and "inpaint" in res.stdout
    assert "warning: plugin 'cmdboom' failed to add its commands (RuntimeError: command hook bug)" in res.stderr
    res = ganzoo("plugins")
    assert res.returncode == 0, res.stderr
    row = next(x for x in res.stdout.splitlines() if "exiter" in x)
    assert "failed (import)" in row and "SystemExit: 3" in row
